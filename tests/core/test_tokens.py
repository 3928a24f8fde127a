"""API tokens: `egactl auth tokens`, the last admin token, failed authentications."""

from __future__ import annotations

import logging
import threading

import httpx
import pytest
from sqlalchemy import select

from egactl.server.models import ApiToken
from egactl.server.security import active_admin_tokens


def _admins(backend) -> list[ApiToken]:
    with backend.read_sessions() as s:
        return list(s.scalars(select(ApiToken).where(ApiToken.role == "admin", ApiToken.revoked_at.is_(None))))


def test_create_shows_the_token_once_and_list_never(cli, backend):
    r = cli("auth", "tokens", "create", "--subject", "ops2@rita.go.tz", "--role", "operator", "-i", "rita")
    assert r.exit_code == 0, r.stderr
    token = r.stdout.strip()
    assert token.startswith("ega_") and "\n" not in token  # stdout holds the token alone
    assert "shown only now" in r.stderr
    assert cli("auth", "status", "-o", "json", token=token).json()["institutions"] == ["RITA"]
    listed = cli("auth", "tokens", "list", "--all", "-o", "json")
    assert listed.exit_code == 0
    mine = [t for t in listed.json() if t["subject"] == "ops2@rita.go.tz"]
    assert mine and mine[0]["prefix"] == token[:10] and token not in listed.stdout
    created = cli("auth", "tokens", "create", "--subject", "nagios@ega.go.tz", "--role", "helpdesk", "-o", "json").json()
    assert created["token"].startswith("ega_") and created["role"] == "helpdesk"


@pytest.mark.parametrize("args, code, words", [
    (("--subject", "x", "--role", "root"), 2, "--role must be one of"),
    (("--subject", "x", "--role", "operator"), 2, "--institution"),
    (("--subject", "x", "--role", "operator", "-i", "NOPE"), 2, "unknown institution NOPE"),
])
def test_create_refuses_bad_input_and_stores_nothing(cli, backend, args, code, words):
    with backend.read_sessions() as s:
        before = len(s.scalars(select(ApiToken)).all())
    r = cli("auth", "tokens", "create", *args)
    assert r.exit_code == code and words in r.stderr, (r.exit_code, r.stderr)
    with backend.read_sessions() as s:
        assert len(s.scalars(select(ApiToken)).all()) == before


def test_only_admins_manage_tokens(cli, backend):
    for role in ("operator", "helpdesk"):
        assert cli("auth", "tokens", "list", role=role).exit_code == 4
        assert cli("auth", "tokens", "create", "--subject", "x", "--role", "admin", role=role).exit_code == 4
        assert cli("auth", "tokens", "revoke", "1", "--yes", role=role).exit_code == 4
    assert len(_admins(backend)) == 1


def test_revoke_needs_yes_in_a_script_and_stops_the_token(cli, tokens):
    created = cli("auth", "tokens", "create", "--subject", "temp", "--role", "helpdesk", "-o", "json").json()
    r = cli("auth", "tokens", "revoke", str(created["id"]))
    assert r.exit_code == 2 and "--yes" in r.stderr
    assert cli("auth", "status", token=created["token"]).exit_code == 0
    assert cli("auth", "tokens", "revoke", str(created["id"]), "--dry-run").exit_code == 0
    assert cli("auth", "status", token=created["token"]).exit_code == 0
    r = cli("auth", "tokens", "revoke", str(created["id"]), "--yes", "-o", "json")
    assert r.exit_code == 0 and r.json()["revoked"] is True
    assert cli("auth", "status", token=created["token"]).exit_code == 4
    assert cli("auth", "tokens", "revoke", "99999", "--yes").exit_code == 3


def test_a_second_revocation_says_since_when_in_east_africa_time(cli, http, tokens, clock):
    """The 409 says when the token was revoked as egactl shows every time (EAT, to the minute): at 22:30 UTC
    it is 01:30 the next day in Dar es Salaam. Its revoked_at field is RFC 3339, for scripts."""
    clock.advance(hours=13, minutes=30)
    created = cli("auth", "tokens", "create", "--subject", "temp", "--role", "helpdesk", "-o", "json").json()
    assert cli("auth", "tokens", "revoke", str(created["id"]), "--yes").exit_code == 0
    clock.advance(hours=1)
    r = cli("auth", "tokens", "revoke", str(created["id"]), "--yes")
    assert r.exit_code == 5
    assert f"token {created['id']} is already revoked (since 2026-11-23 01:30 EAT)" in r.stderr
    problem = http.delete(f"/api/v1/tokens/{created['id']}", headers={"Authorization": f"Bearer {tokens['admin']}"})
    assert problem.status_code == 409
    assert problem.json()["detail"] == f"token {created['id']} is already revoked (since 2026-11-23 01:30 EAT)"
    assert problem.json()["revoked_at"] == "2026-11-22T22:30:00+00:00"


def test_the_last_admin_token_cannot_be_revoked(cli, backend, tokens):
    [only] = _admins(backend)
    r = cli("auth", "tokens", "revoke", str(only.id), "--yes")
    assert r.exit_code == 5, r.stderr
    assert "last working admin token" in r.stderr and "create another admin token first" in r.stderr
    assert len(_admins(backend)) == 1
    second = cli("auth", "tokens", "create", "--subject", "admin2@ega.go.tz", "--role", "admin", "-o", "json").json()
    assert cli("auth", "tokens", "revoke", str(only.id), "--yes").exit_code == 0
    r = cli("auth", "tokens", "revoke", str(second["id"]), "--yes", token=second["token"])
    assert r.exit_code == 5 and "last working admin token" in r.stderr
    assert [a.id for a in _admins(backend)] == [second["id"]]


def _race_last_two_admins(app, rounds: int = 8) -> None:
    """Two admins revoke each other's token at the same moment; one admin token must survive every round."""
    from egactl.sandbox import SyncASGITransport
    from egactl.server.security import issue_token

    be = app.state.backend
    with be.write_sessions() as s:
        survivor, row = issue_token(s, subject="root-0", role="admin", now=be.now())
        survivor_id = row.id
        s.commit()
    transport = SyncASGITransport(app)
    try:
        for n in range(rounds):
            with be.write_sessions() as s:
                other, row = issue_token(s, subject=f"root-{n + 1}", role="admin", now=be.now())
                other_id = row.id
                s.commit()
            barrier = threading.Barrier(2)
            statuses: dict[str, int] = {}

            def revoke(name: str, token: str, victim: int) -> None:
                # Not closed: closing an httpx client closes its transport, which the other thread still uses.
                client = httpx.Client(transport=transport, base_url="http://egactl")
                barrier.wait()
                r = client.delete(f"/api/v1/tokens/{victim}", headers={"Authorization": f"Bearer {token}"})
                statuses[name] = r.status_code

            threads = [threading.Thread(target=revoke, args=("a", survivor, other_id)),
                       threading.Thread(target=revoke, args=("b", other, survivor_id))]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=60)
            with be.read_sessions() as s:
                assert active_admin_tokens(s, be.now()) == 1, (n, statuses)
                left = s.scalar(select(ApiToken).where(ApiToken.role == "admin", ApiToken.revoked_at.is_(None)))
            assert sorted(statuses.values())[0] == 200 and sorted(statuses.values())[1] in (401, 409), statuses
            survivor, survivor_id = (survivor, survivor_id) if left.id == survivor_id else (other, other_id)
    finally:
        transport.close()


def test_concurrent_revocations_of_the_last_two_admin_tokens_sqlite(tmp_path):
    from egactl.server.app import create_app

    app = create_app(f"sqlite:///{tmp_path / 'race.db'}")
    try:
        _race_last_two_admins(app)
    finally:
        app.state.backend.engine.dispose()


def test_concurrent_revocations_of_the_last_two_admin_tokens_postgres(postgres_url):
    from egactl.server.app import create_app

    app = create_app(postgres_url)
    try:
        _race_last_two_admins(app)
    finally:
        app.state.backend.engine.dispose()


# -- failed authentications -------------------------------------------------------------


@pytest.fixture
def backend_settings():
    return {"auth.failures_per_minute": 3}


BAD = "ega_Zq9wrongwrongwrongwrongwrongwrongwrongwro"


def test_failed_authentications_are_logged_by_prefix_only(cli, caplog):
    with caplog.at_level(logging.WARNING, logger="egactl.server.auth"):
        r = cli("institutions", "list", token=BAD)
        cli("institutions", "list", token="hunter2-my-password")
    assert r.exit_code == 4
    lines = [rec.getMessage() for rec in caplog.records if rec.name == "egactl.server.auth"]
    assert len(lines) == 2, lines
    assert "token ega_Zq9wro;" in lines[0] and "client 127.0.0.1" in lines[0]
    assert "route GET /api/v1/institutions" in lines[0]
    assert "(not an egactl token)" in lines[1]
    assert BAD not in caplog.text and BAD[:11] not in caplog.text and "hunter2" not in caplog.text


def test_repeated_failures_get_429_with_retry_after_until_the_minute_passes(app, tokens, clock):
    from egactl.sandbox import SyncASGITransport

    transport = SyncASGITransport(app)
    try:
        with httpx.Client(transport=transport, base_url="http://egactl") as client:
            def get(token: str) -> httpx.Response:
                return client.get("/api/v1/tokens/self", headers={"Authorization": f"Bearer {token}"})

            assert [get(BAD).status_code for _ in range(3)] == [401, 401, 401]
            clock.advance(seconds=20)
            blocked = get(BAD)
            assert blocked.status_code == 429 and blocked.headers["Retry-After"] == "40"
            assert "too many failed authentications" in blocked.json()["detail"]
            # Blocked means blocked: a guess that happens to be right does not get through either.
            assert get(tokens["admin"]).status_code == 429
            clock.advance(seconds=41)
            assert get(tokens["admin"]).status_code == 200
    finally:
        transport.close()


def test_the_cli_reports_the_limit_as_busy(cli):
    for _ in range(3):
        assert cli("auth", "status", token=BAD).exit_code == 4
    r = cli("auth", "status")
    assert r.exit_code == 7 and "too many failed authentications" in r.stderr, (r.exit_code, r.stderr)


def test_the_failure_log_line_holds_no_number_and_cannot_be_forged(app, caplog):
    from egactl.sandbox import SyncASGITransport

    transport = SyncASGITransport(app)
    try:
        client = httpx.Client(transport=transport, base_url="http://egactl")
        with caplog.at_level(logging.WARNING, logger="egactl.server.auth"):
            r = client.delete("/api/v1/sms/optouts/RITA/+255754111222%0AWARNING%20forged",
                              headers={"Authorization": f"Bearer {BAD}"})
        assert r.status_code == 401
    finally:
        transport.close()
    [line] = [rec.getMessage() for rec in caplog.records if rec.name == "egactl.server.auth"]
    assert "\n" not in line and "754111222" not in line
    assert "route DELETE /api/v1/sms/optouts/RITA/+255754***222" in line
    from egactl.server.security import loggable

    assert loggable("GET /x\nWARNING forged line") == "GET /x?WARNING forged line"
