"""Remembered authentications (egactl/server/authcache.py) never outlive what they remember.

The backend remembers a token that authenticated for a moment, so that a busy
client's requests do not each look it up. A revoked or expired token must
still be refused on its very next request.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update

from egactl.server.models import ApiToken
from egactl.server.security import issue_token


def _issue(backend, **kw):
    with backend.write_sessions() as s:
        token, row = issue_token(s, subject="cached@ega.go.tz", role="admin", now=backend.now(), **kw)
        s.commit()
        return token, row.id


def test_a_revoked_token_is_refused_on_its_next_request(cli, backend):
    token, token_id = _issue(backend)
    assert cli("institutions", "list", "-o", "json", token=token).exit_code == 0  # now remembered
    r = cli("api", "DELETE", f"/api/v1/tokens/{token_id}")
    assert r.exit_code == 0, r.stderr
    r = cli("institutions", "list", "-o", "json", token=token)
    assert r.exit_code == 4
    assert "revoked" in r.stderr
    with backend.read_sessions() as s:
        assert s.scalar(select(ApiToken.revoked_at).where(ApiToken.id == token_id)) is not None


def test_a_token_revoked_in_the_database_is_refused_on_its_next_request(cli, backend):
    token, token_id = _issue(backend)
    assert cli("institutions", "list", "-o", "json", token=token).exit_code == 0
    with backend.write_sessions() as s:  # as another tool on this backend would
        s.get(ApiToken, token_id).revoked_at = backend.now()
        s.commit()
    r = cli("institutions", "list", "-o", "json", token=token)
    assert r.exit_code == 4
    assert "revoked" in r.stderr


def test_a_token_revoked_by_a_bulk_update_is_refused_on_its_next_request(cli, backend):
    token, token_id = _issue(backend)
    assert cli("institutions", "list", "-o", "json", token=token).exit_code == 0
    with backend.write_sessions() as s:  # an UPDATE statement: no row is loaded, no per-row event fires
        s.execute(update(ApiToken).where(ApiToken.id == token_id).values(revoked_at=backend.now()))
        s.commit()
    r = cli("institutions", "list", "-o", "json", token=token)
    assert r.exit_code == 4
    assert "revoked" in r.stderr


def test_a_remembered_token_still_expires_on_time(cli, backend, clock):
    token, _ = _issue(backend, expires_at=clock() + dt.timedelta(hours=1))
    assert cli("institutions", "list", "-o", "json", token=token).exit_code == 0
    clock.advance(hours=1, seconds=1)
    r = cli("institutions", "list", "-o", "json", token=token)
    assert r.exit_code == 4
    assert "expired" in r.stderr


def test_an_unknown_token_is_never_remembered_as_valid(cli, backend):
    r = cli("institutions", "list", token="ega_" + "x" * 43)
    assert r.exit_code == 4
    r = cli("institutions", "list", token="ega_" + "x" * 43)
    assert r.exit_code == 4
