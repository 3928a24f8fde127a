"""A bulk job whose token stops being allowed part-way stops at once with exit 4.

Before, every later chunk was refused (401/403), its rows were written to the
results as "failed" and the job ended with exit 6 and a ``--resume`` hint that
could not succeed (the same token would be refused again), while the rows
themselves were fine.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import httpx
from sqlalchemy import select, update
from typer.testing import CliRunner

from egactl.cli import app
from egactl.context import Context
from egactl.server.models import ApiToken, Institution
from egactl.server.security import hash_token, issue_token

BULK_PATH = "/api/v1/institutions/bulk"


class RevokeOnSecondChunk(httpx.BaseTransport):
    """The real backend; the token is revoked as the second chunk goes out (as an
    administrator revoking it mid-job would)."""

    def __init__(self, inner, backend, token):
        self.inner, self.backend, self.token = inner, backend, token
        self.chunks = 0

    def handle_request(self, request):
        if request.method == "POST" and request.url.path == BULK_PATH:
            self.chunks += 1
            if self.chunks == 2:
                with self.backend.write_sessions() as s:
                    s.execute(update(ApiToken).where(ApiToken.token_hash == hash_token(self.token))
                              .values(revoked_at=self.backend.now()))
                    s.commit()
        return self.inner.handle_request(request)


def csv_file(tmp_path: Path, n: int) -> Path:
    path = tmp_path / "many.csv"
    rows = "".join(f"BULK-{i:04d},Bulk Institution {i},agency,Region {i % 26},\n" for i in range(n))
    path.write_text("code,name,kind,region,contact_email\n" + rows, "utf-8")
    return path


def invoke(transport, token, *args):
    ctx = Context(transport=transport, token=token, sleep=lambda s: None)
    return CliRunner().invoke(app, list(args), obj=ctx)


def stored(backend) -> set[str]:
    with backend.read_sessions() as s:
        return {c for c in s.scalars(select(Institution.code)) if c.startswith("BULK-")}


def test_token_revoked_mid_job_stops_with_exit_4_then_resumes(cli, backend, tokens, tmp_path):
    with backend.write_sessions() as s:
        doomed, _ = issue_token(s, subject="importer@ega.go.tz", role="admin", now=backend.now())
        s.commit()
    path = csv_file(tmp_path, 1000)  # 5 chunks of 200
    results = tmp_path / "results.csv"
    first = invoke(RevokeOnSecondChunk(cli.transport, backend, doomed), doomed,
                   "institutions", "import", str(path), "--results", str(results))
    assert first.exit_code == 4, (first.stdout, first.stderr)
    assert first.stderr.splitlines() == [
        "error: stopped: the token is not valid (unknown or revoked); use a token allowed to do this "
        "(`egactl auth login`), then run the same command with --resume to continue; nothing was lost"]
    rows = list(csv.DictReader(results.open(encoding="utf-8")))
    assert all(r["status"] != "failed" for r in rows), rows  # refused chunks are not the rows' fault
    assert len(stored(backend)) == len(rows) < 1000

    resumed = invoke(cli.transport, tokens["admin"], "institutions", "import", str(path), "--resume", "-o", "json")
    assert resumed.exit_code == 0, resumed.stderr
    assert json.loads(resumed.stdout)["failed"] == 0
    assert len(stored(backend)) == 1000


def test_role_not_allowed_stops_at_the_first_chunk(cli, tmp_path, backend):
    path = csv_file(tmp_path, 600)
    r = cli("institutions", "import", str(path), role="operator")
    assert r.exit_code == 4, (r.stdout, r.stderr)
    assert len(r.stderr.splitlines()) == 1 and r.stderr.startswith("error: stopped: ")
    assert "--resume" in r.stderr
    assert stored(backend) == set()
