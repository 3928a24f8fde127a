"""mail migration 0004 fills the name token and pair tables for the mailboxes a database already holds."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import create_engine, inspect, text

from egactl.server.app import components_of, load_parts
from egactl.server.schema import upgrade_to

NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.timezone.utc)


def test_existing_mailboxes_are_found_by_name_after_the_upgrade(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    comps = {c.name: c for c in components_of(load_parts())}
    with engine.begin() as conn:
        for name, comp in comps.items():
            upgrade_to(conn, comp, "0003" if name == "mail" else None)
        conn.execute(text("INSERT INTO core_institutions (code, name, kind, version, created_at, updated_at) "
                          "VALUES ('RITA', 'RITA', 'agency', 1, :t, :t)"), {"t": NOW})
        for id_, given, family, preferred, status in ((1, "Juma Hassan", "Mrisho", None, "active"),
                                                      (2, "Neema", "Ngʼwanza", "Nemy", "deleted"),
                                                      (3, None, None, None, "purged")):
            conn.execute(text(
                "INSERT INTO mail_mailboxes (id, institution, domain, address, employee_number, given_name, family_name, "
                "preferred_name, name_key, quota_mb, used_mb, status, status_changed_at, must_change_password, "
                "created_at, updated_at, version) VALUES (:id, 'RITA', 'rita.go.tz', :address, :number, :given, "
                ":family, :preferred, 'old key', 2048, 0, :status, :t, FALSE, :t, :t, 1)"),
                {"id": id_, "address": f"person{id_}@rita.go.tz", "number": f"11100000{id_}" if given else None,
                 "given": given, "family": family, "preferred": preferred, "status": status, "t": NOW})
    with engine.begin() as conn:
        upgrade_to(conn, comps["mail"])
    with engine.connect() as conn:
        tokens = conn.execute(text("SELECT mailbox_id, position, token FROM mail_name_tokens "
                                   "ORDER BY mailbox_id, position")).all()
    assert tokens == [(1, 0, "juma"), (1, 1, "hassan"), (1, 2, "mrisho"),
                      (2, 0, "nemy"), (2, 1, "neema"), (2, 2, "ngwanza")]
    with engine.connect() as conn:
        pairs = conn.execute(text("SELECT first, second FROM mail_name_pairs WHERE mailbox_id = 1 ORDER BY 1, 2")).all()
    assert pairs == [("hassan", "juma"), ("hassan", "mrisho"), ("juma", "hassan"), ("juma", "mrisho"),
                     ("mrisho", "hassan"), ("mrisho", "juma")]
    assert {"name_key", "name_key_rev"}.isdisjoint(c["name"] for c in inspect(engine).get_columns("mail_mailboxes"))
    engine.dispose()
