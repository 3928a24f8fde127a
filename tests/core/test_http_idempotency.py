"""Idempotency-Key: a retry never does a thing twice.

The scenario that matters: the server committed, the response was lost on the
way back (a dropped connection), the client retried. The client must reuse its
key, and the server must answer the retry from its store — the replay — so
exactly one institution (one mailbox, one SMS…) exists. Also: a key reused with
another body is refused, and concurrent requests carrying one key have one
effect, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import func, select

from egactl.server.models import ApiToken, AuditEntry, IdempotencyRecord, Institution

UDSM = {"code": "UDSM", "name": "University of Dar es Salaam", "kind": "other", "region": "Dar es Salaam"}


class LoseFirstResponse(httpx.BaseTransport):
    """Forwards every request to the real backend; the first POST's response is lost.

    The server has fully handled (and committed) that POST; the client only sees
    the connection drop, as when a load balancer resets it.
    """

    def __init__(self, inner: httpx.BaseTransport, method: str = "POST"):
        self.inner = inner
        self.method = method
        self.requests: list[httpx.Request] = []
        self.responses: list[httpx.Response] = []
        self.dropped = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        self.requests.append(request)
        if request.method == self.method and not self.dropped:
            self.dropped += 1
            raise httpx.ReadError("[Errno 104] Connection reset by peer", request=request)
        self.responses.append(response)
        return response


def run_cli(transport, token, *args, delays=None):
    from typer.testing import CliRunner

    from egactl.cli import app
    from egactl.context import Context

    ctx = Context(transport=transport, token=token, sleep=(delays.append if delays is not None else lambda s: None))
    return CliRunner().invoke(app, list(args), obj=ctx)


def count(backend, model, *where):
    with backend.read_sessions() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


@pytest.fixture
def asgi(app):
    from egactl.sandbox import SyncASGITransport

    t = SyncASGITransport(app)
    yield t
    t.close()


def test_retry_after_lost_response_is_answered_by_the_replay(asgi, backend, tokens):
    lossy = LoseFirstResponse(asgi)
    delays: list[float] = []
    r = run_cli(lossy, tokens["admin"], "institutions", "create", "udsm", "--name", UDSM["name"], "--kind", "other",
                "--region", "Dar es Salaam", "-o", "json", delays=delays)
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["code"] == "UDSM"
    posts = [q for q in lossy.requests if q.method == "POST"]
    assert len(posts) == 2 and lossy.dropped == 1
    keys = {q.headers["Idempotency-Key"] for q in posts}
    assert len(keys) == 1 and keys != {""}
    assert posts[0].content == posts[1].content
    assert len(delays) == 1  # one backoff before the retry
    replay = lossy.responses[-1]
    assert replay.status_code == 201
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert replay.headers.get("ETag") == '"v1"' and replay.headers.get("Location") == "/api/v1/institutions/UDSM"
    assert count(backend, Institution, Institution.code == "UDSM") == 1
    assert count(backend, AuditEntry, AuditEntry.resource_id == "UDSM") == 1


def test_bulk_chunk_retried_after_lost_response_creates_nothing_twice(asgi, backend, tokens, tmp_path):
    csv = tmp_path / "new.csv"
    csv.write_text("code,name,kind\nUDSM,University of Dar es Salaam,other\nMUHAS,Muhimbili University,other\n")
    lossy = LoseFirstResponse(asgi)
    r = run_cli(lossy, tokens["admin"], "institutions", "import", str(csv), "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["statuses"] == {"created": 2}  # the replay says what the first attempt did
    assert lossy.responses[-1].headers.get("Idempotent-Replayed") == "true"
    assert count(backend, Institution, Institution.code.in_(["UDSM", "MUHAS"])) == 2
    assert count(backend, AuditEntry, AuditEntry.action == "create") == 2


def test_post_without_key_is_not_retried_after_a_lost_response(asgi, backend, tokens):
    """Without a key the client cannot know whether the server acted: it must not guess."""
    from egactl.api_client import ApiClient
    from egactl.errors import Unreachable

    lossy = LoseFirstResponse(asgi)
    api = ApiClient("http://backend", token=tokens["admin"], transport=lossy, sleep=lambda s: None)
    with pytest.raises(Unreachable):
        api.request("POST", "/api/v1/institutions", json_body=UDSM)
    assert len(lossy.requests) == 1
    assert count(backend, Institution, Institution.code == "UDSM") == 1  # it did happen, once


def test_same_key_other_body_is_422_and_changes_nothing(asgi, backend, tokens):
    client = httpx.Client(transport=asgi, base_url="http://backend")
    headers = {"Authorization": f"Bearer {tokens['admin']}", "Idempotency-Key": "k-1"}
    first = client.post("/api/v1/institutions", json=UDSM, headers=headers)
    assert first.status_code == 201
    other = client.post("/api/v1/institutions", json={**UDSM, "code": "MUHAS", "name": "Muhimbili"}, headers=headers)
    assert other.status_code == 422
    assert other.headers["content-type"].startswith("application/problem+json")
    assert "Idempotency-Key" in other.json()["detail"]
    again = client.post("/api/v1/institutions", json=UDSM, headers=headers)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.content == first.content
    assert count(backend, Institution, Institution.code == "MUHAS") == 0
    assert count(backend, Institution, Institution.code == "UDSM") == 1


def test_keys_belong_to_one_token(asgi, backend, tokens):
    """Another caller using the same key neither sees the stored response nor is refused for it."""
    from egactl.server.security import issue_token

    with backend.write_sessions() as s:
        other_admin, _ = issue_token(s, subject="other@ega.go.tz", role="admin", now=backend.now())
        s.commit()
    client = httpx.Client(transport=asgi, base_url="http://backend")
    a = client.post("/api/v1/institutions", json=UDSM,
                    headers={"Authorization": f"Bearer {tokens['admin']}", "Idempotency-Key": "shared"})
    b = client.post("/api/v1/institutions", json=UDSM,
                    headers={"Authorization": f"Bearer {other_admin}", "Idempotency-Key": "shared"})
    assert a.status_code == 201
    # Not the stored 201: the route itself answers that the institution exists exactly as asked.
    assert b.status_code == 200 and "Idempotent-Replayed" not in b.headers


def test_a_failed_request_is_not_stored(asgi, backend, tokens):
    """A 409 is not cached: once the conflict is gone, the same key goes through."""
    client = httpx.Client(transport=asgi, base_url="http://backend")
    headers = {"Authorization": f"Bearer {tokens['admin']}", "Idempotency-Key": "after-delete"}
    body = {"code": "UDOM", "name": "Chuo Kikuu cha Dodoma", "kind": "other"}
    assert client.post("/api/v1/institutions", json=body, headers=headers).status_code == 409
    assert client.delete("/api/v1/institutions/UDOM", headers={"Authorization": f"Bearer {tokens['admin']}"}).status_code == 200
    assert client.post("/api/v1/institutions", json=body, headers=headers).status_code == 201


def test_issued_token_secret_is_never_stored_for_replay(asgi, backend, tokens):
    """The server keeps only token hashes — the idempotency store must not become a second copy."""
    client = httpx.Client(transport=asgi, base_url="http://backend")
    headers = {"Authorization": f"Bearer {tokens['admin']}", "Idempotency-Key": "token-1"}
    body = {"subject": "ci@rita.go.tz", "role": "operator", "institutions": ["RITA"]}
    first = client.post("/api/v1/tokens", json=body, headers=headers)
    assert first.status_code == 201
    secret = first.json()["token"]
    with backend.read_sessions() as s:
        stored = [bytes(b) for b in s.scalars(select(IdempotencyRecord.body))]
        audit = json.dumps([e.after for e in s.scalars(select(AuditEntry))])
    assert all(secret.encode() not in b for b in stored)
    assert secret not in audit
    retry = client.post("/api/v1/tokens", json=body, headers=headers)
    assert retry.status_code == 409  # not a second token, and not the secret again
    assert "Idempotent-Replayed" in retry.headers
    assert str(first.json()["id"]) in retry.json()["detail"]
    assert count(backend, ApiToken, ApiToken.subject == "ci@rita.go.tz") == 1


# -- concurrency -------------------------------------------------------------------------


def concurrent_same_key(url: str, token: str, path: str, body: dict, n: int = 8) -> list[httpx.Response]:
    key = str(uuid.uuid4())
    barrier = threading.Barrier(n)

    def one(_):
        with httpx.Client(base_url=url, timeout=60) as c:
            barrier.wait()
            return c.post(path, json=body, headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key})

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


def check_one_effect(responses: list[httpx.Response], expected_status: int = 201) -> None:
    assert all(r.status_code == expected_status for r in responses), [(r.status_code, r.text) for r in responses]
    originals = [r for r in responses if "Idempotent-Replayed" not in r.headers]
    assert len(originals) == 1
    assert len({r.content for r in responses}) == 1  # every retry heard what the winner heard


def db_count(database_url: str, sql: str) -> int:
    from sqlalchemy import create_engine, text

    from egactl.server.db import normalise_url

    engine = create_engine(normalise_url(database_url))
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql)).scalar()
    finally:
        engine.dispose()


def test_concurrent_same_key_has_one_effect_sqlite(served):
    responses = concurrent_same_key(served.url, served.admin_token, "/api/v1/institutions", UDSM)
    check_one_effect(responses)
    assert db_count(served.database_url, "SELECT count(*) FROM core_institutions WHERE code = 'UDSM'") == 1
    assert db_count(served.database_url, "SELECT count(*) FROM core_audit WHERE resource_id = 'UDSM'") == 1
    # No unique constraint to lean on (a token): the key alone prevents the duplicate.
    body = {"subject": "ci@tra.go.tz", "role": "helpdesk"}
    tokens = concurrent_same_key(served.url, served.admin_token, "/api/v1/tokens", body)
    assert sum(r.status_code == 201 for r in tokens) == 1
    assert all(r.headers.get("Idempotent-Replayed") == "true" for r in tokens if r.status_code != 201)
    assert db_count(served.database_url, "SELECT count(*) FROM core_tokens WHERE subject = 'ci@tra.go.tz'") == 1


def test_concurrent_same_key_has_one_effect_postgres(tmp_path, postgres_url):
    from conftest import start_server

    server = start_server(tmp_path, postgres_url)
    try:
        responses = concurrent_same_key(server.url, server.admin_token, "/api/v1/institutions", UDSM)
        check_one_effect(responses)
        body = {"subject": "ci@tra.go.tz", "role": "helpdesk"}
        tokens = concurrent_same_key(server.url, server.admin_token, "/api/v1/tokens", body)
        assert sum(r.status_code == 201 for r in tokens) == 1
    finally:
        server.proc.terminate()
        server.proc.wait(timeout=10)
    assert db_count(postgres_url, "SELECT count(*) FROM core_institutions WHERE code = 'UDSM'") == 1
    assert db_count(postgres_url, "SELECT count(*) FROM core_audit WHERE resource_id = 'UDSM'") == 1
    assert db_count(postgres_url, "SELECT count(*) FROM core_tokens WHERE subject = 'ci@tra.go.tz'") == 1
