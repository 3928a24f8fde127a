"""Idempotency records expire: a retry within ``idempotency.hours`` (24 by default) replays, one after
it is a new request, and the core's purge worker deletes expired records only, a bounded batch a tick."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import uuid

import httpx
import pytest
from sqlalchemy import func, select

from egactl.server.models import IdempotencyRecord, Institution


def create(http, token: str, key: str, code: str = "UDSM") -> httpx.Response:
    return http.post("/api/v1/institutions", json={"code": code, "name": "University of Dar es Salaam",
                                                    "kind": "other", "region": "Dar es Salaam"},
                     headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key})


def delete(http, token: str, code: str = "UDSM") -> None:
    r = http.delete(f"/api/v1/institutions/{code}", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code in (200, 204), r.text


def records(backend) -> list[tuple[str, dt.datetime]]:
    with backend.read_sessions() as s:
        return [(r.key, r.created_at) for r in s.scalars(select(IdempotencyRecord).order_by(IdempotencyRecord.id))]


def institutions(backend, code: str = "UDSM") -> int:
    with backend.read_sessions() as s:
        return s.scalar(select(func.count()).select_from(Institution).where(Institution.code == code))


def test_a_retry_within_the_window_replays(http, backend, tokens, clock):
    key = str(uuid.uuid4())
    first = create(http, tokens["admin"], key)
    assert first.status_code == 201, first.text
    delete(http, tokens["admin"])
    clock.advance(hours=23, minutes=59)
    again = create(http, tokens["admin"], key)
    # the stored answer, not a new institution: the one made is still deleted
    assert again.status_code == 201 and again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()
    assert institutions(backend) == 0


def test_after_the_window_the_request_runs_anew(http, backend, tokens, clock):
    key = str(uuid.uuid4())
    assert create(http, tokens["admin"], key).status_code == 201
    delete(http, tokens["admin"])
    clock.advance(hours=24)
    again = create(http, tokens["admin"], key)
    assert again.status_code == 201, again.text
    assert "Idempotent-Replayed" not in again.headers
    assert institutions(backend) == 1
    # the key now stands for the new request, from now on
    assert records(backend) == [(key, clock.now)]
    clock.advance(hours=1)
    replay = create(http, tokens["admin"], key)
    assert replay.headers.get("Idempotent-Replayed") == "true" and institutions(backend) == 1


def test_after_the_window_another_body_is_no_longer_a_reuse(http, tokens, clock):
    key = str(uuid.uuid4())
    assert create(http, tokens["admin"], key).status_code == 201
    assert create(http, tokens["admin"], key, code="OTHER").status_code == 422
    clock.advance(hours=25)
    assert create(http, tokens["admin"], key, code="OTHER").status_code == 201


@pytest.mark.parametrize("backend_settings", [{"idempotency.hours": 2}])
def test_the_window_is_configurable(http, backend, tokens, clock):
    key = str(uuid.uuid4())
    assert create(http, tokens["admin"], key).status_code == 201
    delete(http, tokens["admin"])
    clock.advance(hours=1, minutes=59)
    assert create(http, tokens["admin"], key).headers.get("Idempotent-Replayed") == "true"
    clock.advance(minutes=1)
    assert create(http, tokens["admin"], key).status_code == 201
    assert institutions(backend) == 1


def _purge_worker(backend):
    [worker] = [w for owner, w in backend.all_workers() if owner == "core" and w.name == "purge-idempotency"]
    return worker


def test_the_purge_deletes_only_expired_records(http, backend, tokens, clock):
    old = [str(uuid.uuid4()) for _ in range(3)]
    for i, key in enumerate(old):
        assert create(http, tokens["admin"], key, code=f"OLD{i}").status_code == 201
    clock.advance(hours=12)
    young = str(uuid.uuid4())
    assert create(http, tokens["admin"], young, code="YOUNG").status_code == 201
    clock.advance(hours=12)  # the first three are 24 h old now, the last 12 h
    worker = _purge_worker(backend)
    assert worker.tick(backend) == 3
    assert [k for k, _ in records(backend)] == [young]
    assert worker.tick(backend) == 0
    # what the purge kept still replays
    r = create(http, tokens["admin"], young, code="YOUNG")
    assert r.headers.get("Idempotent-Replayed") == "true"


@pytest.mark.parametrize("backend_settings", [{"idempotency.purge_batch": 2}])
def test_the_purge_is_bounded_per_tick_oldest_first(http, backend, tokens, clock):
    keys = []
    for i in range(5):
        keys.append(str(uuid.uuid4()))
        assert create(http, tokens["admin"], keys[-1], code=f"INST{i}").status_code == 201
        clock.advance(minutes=1)
    clock.advance(hours=24)
    worker = _purge_worker(backend)
    assert worker.tick(backend) == 2
    assert [k for k, _ in records(backend)] == keys[2:]
    assert worker.tick(backend) == 2
    assert worker.tick(backend) == 1
    assert records(backend) == []


def test_serve_runs_the_purge_worker(app, backend, monkeypatch):
    """`egactl serve` (run_workers) starts the core's purge beside the plugins' workers."""
    import threading

    from egactl.server.app import _start_workers

    names = [(owner, w.name) for owner, w in backend.all_workers()]
    assert ("core", "purge-idempotency") in names
    owners = [owner for owner, _ in names]
    assert owners == sorted(owners, key=lambda owner: owner != "core")  # the core's first, then each plugin's
    stop = threading.Event()
    threads = _start_workers(backend, stop)
    try:
        assert "egactl-worker-core-purge-idempotency" in {t.name for t in threads}
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=5)


@pytest.mark.parametrize("value", ["abc", "0", "-3", "nan"])
def test_a_bad_setting_stops_the_backend_with_one_line(tmp_path, value):
    import os

    from conftest import free_port

    url = f"sqlite:///{tmp_path / 'x.db'}"
    subprocess.run([sys.executable, "-m", "egactl", "serve", "migrate", "--database-url", url], check=True,
                   capture_output=True, timeout=120)
    env = {**os.environ, "EGACTL_IDEMPOTENCY_HOURS": value}
    r = subprocess.run([sys.executable, "-m", "egactl", "serve", "--port", str(free_port()), "--database-url", url],
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    assert f"EGACTL_IDEMPOTENCY_HOURS={value}: not a number of hours above 0" in r.stderr
    assert "Traceback" not in r.stderr
