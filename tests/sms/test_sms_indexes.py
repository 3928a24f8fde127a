"""`sms list` reads one index range per page, however many messages there are.

The national-size run of bench/scale.py found `sms list -i MNRT` walking 4M rows (no
index on the institution) and `--batch B --state failed` sorting (the batch/state index
did not hold the page order). Each filter is run through the real command, the SELECTs
it sends are explained by the database (egactl.plugin.testing.query_plans), and a walk
of the table or a sort fails the test: on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import pytest

from egactl.plugin.testing import query_plans

LOOKUPS = {
    "institution": (("sms", "list", "-i", "RITA"), "ix_sms_messages_institution_created_id"),
    "operator": (("sms", "list"), "ix_sms_messages_institution_created_id"),
    "batch": (("sms", "list", "--batch", "1"), "ix_sms_messages_batch_created_id"),
    "batch-state": (("sms", "list", "--batch", "1", "--state", "queued"), "ix_sms_messages_batch_state_created_id"),
    "to": (("sms", "list", "--to", "0754123456"), "ix_sms_messages_recipient_created_id"),
}


def send_some(cli):
    assert cli("sms", "senders", "request", "RITA", "-i", "RITA", "--purpose", "notices", role="operator").exit_code == 0
    assert cli("sms", "senders", "approve", "RITA").exit_code == 0
    r = cli("sms", "send", "-i", "RITA", "--from", "RITA", "--to", "0754123456,0754123457", "Habari", role="operator")
    assert r.exit_code == 0, r.stderr


def plans(engine, cli, lookup):
    args, _ = LOOKUPS[lookup]
    role = "operator" if lookup == "operator" else "admin"

    def run():
        r = cli(*args, role=role)
        assert r.exit_code == 0, r.stderr

    found = [p for p in query_plans(engine, "sms_messages", run) if "ORDER BY" in p or "sms_messages" in p]
    assert found
    return found


@pytest.mark.parametrize("lookup", LOOKUPS, ids=str)
def test_every_sms_list_filter_reads_one_index_range_on_sqlite(cli, backend, lookup):
    send_some(cli)
    for plan in plans(backend.engine, cli, lookup):
        if "sms_messages" not in plan:
            continue
        assert LOOKUPS[lookup][1] in plan, plan
        assert "TEMP B-TREE" not in plan, plan


@pytest.mark.parametrize("lookup", ["institution", "batch-state", "to"], ids=str)
def test_every_sms_list_filter_reads_one_index_range_on_postgresql(tmp_path, postgres_url, lookup):
    from tests.conftest import cli_on

    with cli_on(postgres_url, ("admin", "operator")) as (cli, be):
        send_some(cli)
        for plan in plans(be.engine, cli, lookup):
            if "sms_messages" not in plan:
                continue
            # PostgreSQL picks among the usable indexes by its statistics (a test table has
            # none worth the name): any index range in page order, never a sort or a scan.
            assert "Index Scan" in plan and "ix_sms_messages_" in plan, plan
            assert "Sort" not in plan and "Seq Scan" not in plan, plan


def test_an_operator_of_several_institutions_reads_each_ones_range_on_postgresql(postgres_url):
    # PostgreSQL 15 cannot merge the ranges of `institution IN (...)` in page order: it
    # walked the whole table's time index and filtered it (58 ms for two ministries at
    # national size). The page is now found one institution at a time.
    from sqlalchemy import event

    from egactl.server.security import issue_token
    from tests.conftest import cli_on

    with cli_on(postgres_url, ("admin",)) as (cli, be):
        for code in ("RITA", "TRA"):
            assert cli("sms", "senders", "request", code, "-i", code, "--purpose", "notices").exit_code == 0
            assert cli("sms", "senders", "approve", code).exit_code == 0
            for i in range(3):
                r = cli("sms", "send", "-i", code, "--from", code, "--to", f"075412345{i}", f"Habari {code} {i}")
                assert r.exit_code == 0, r.stderr
        with be.write_sessions() as s:
            token, _ = issue_token(s, subject="ops@two", role="operator", institutions=["RITA", "TRA"], now=be.now())
            s.commit()
        cli.tokens["both"] = token
        plans = query_plans(be.engine, "sms_messages", lambda: _ok(cli("sms", "list", "--limit", "4", role="both")))
        # each institution's own range of its index; the page's rows then read by their ids
        assert any("ix_sms_messages_institution_created_id" in p and "institution = 'RITA'::text" in p
                   and "institution = 'TRA'::text" in p for p in plans), plans
        for plan in plans:  # never a walk of the time index filtered by the institutions alone
            assert "institution)::text = ANY" not in plan or "id = ANY" in plan, plan
        sent: list[str] = []

        def remember(conn, cursor, statement, *rest):
            sent.append(statement)

        event.listen(be.engine, "before_cursor_execute", remember)
        try:
            first = _ok(cli("sms", "list", "--limit", "4", "-o", "json", role="both"))
            rest = _ok(cli("sms", "list", "--all", "--limit", "4", "-o", "json", role="both"))
        finally:
            event.remove(be.engine, "before_cursor_execute", remember)
        assert any("UNION ALL" in q for q in sent)
    import json

    texts = [m["text"] for m in json.loads(rest.stdout)]
    assert len(texts) == 6 and len(set(texts)) == 6  # every message once, across the pages
    assert [m["text"] for m in json.loads(first.stdout)] == texts[:4]  # newest first, as one list


def _ok(r):
    assert r.exit_code == 0, r.stderr
    return r
