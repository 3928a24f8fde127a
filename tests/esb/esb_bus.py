"""Helpers and fixtures for the esb tests (imported by each test module; not a conftest, so that the
suite's one `conftest` module stays tests/conftest.py). The bus end to end: egactl (in-process CLI) → the emulator (the real backend) → a provider on a
loopback HTTP server (a real socket), which verifies the bus's signature and signs its answer,
as an institution's system behind GovESB does.

``bus`` registers two clients (TRA consumes, RITA provides) and configures the CLI's profile
for TRA's client: what an integrator does with ``esb clients create`` and ``esb config set``.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable

import pytest


@dataclass
class Provider:
    """An institution's system behind the bus, on 127.0.0.1: verifies, answers, signs."""

    key: Any
    bus_public: Callable[[], Any]
    url: str = ""
    seen: list[dict[str, Any]] = field(default_factory=list)
    answer: Callable[[Any], tuple[bool, Any, str]] | None = None

    def reply(self, raw: bytes) -> bytes:
        from egactl_esb import rules

        envelope = rules.parse_envelope(raw.decode("utf-8"))
        rules.verify(envelope.data_bytes, envelope.signature, self.bus_public())  # raises: a 500 the bus reports
        fields = rules.read_fields(envelope)
        self.seen.append({"format": envelope.format, "values": fields.values, "body": fields.body})
        if self.answer is not None:
            success, body, message = self.answer(fields.body)
        elif envelope.format == "xml":
            success, body, message = True, f"<echo>{fields.body}</echo>", "OK"
        else:
            success, body, message = True, {"echo": fields.body, "userId": fields.get("userId")}, "OK"
        data = rules.response_data(success, body, message, str(fields.get("requestId")), fmt=envelope.format)
        return rules.sign_data(data, self.key, root="esbresponse").encode("utf-8")


def serve(handle: Callable[[bytes, dict[str, str]], tuple[int, bytes, str]]) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                status, content, media = handle(body, dict(self.headers))
            except Exception as exc:  # noqa: BLE001 - a provider's failure is an HTTP 500, as a real one
                status, content, media = 500, str(exc).encode(), "text/plain"
            self.send_response(status)
            self.send_header("Content-Type", media)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture
def loopback():
    servers = []

    def start(handle):
        server, url = serve(handle)
        servers.append(server)
        return url

    yield start
    for s in servers:
        s.shutdown()
        s.server_close()


@dataclass
class Bus:
    cli: Any
    dir: Path
    provider: Provider
    secret: str
    keys: dict[str, Any]

    def write(self, name: str, text: str) -> str:
        path = self.dir / name
        path.write_text(text)
        return str(path)

    def send(self, *args: str, role: str = "admin"):
        return self.cli("esb", "send", *args, role=role)

    def register_api(self, code: str, *, fmt: str = "json", consumers=("TRA",), endpoint: str | None = None):
        args = ["esb", "apis", "create", code, "-i", "RITA", "--endpoint", endpoint or self.provider.url,
                "--format", fmt]
        for c in consumers:
            args += ["--consumer", c]
        r = self.cli(*args)
        assert r.exit_code == 0, r.stderr
        return r


def keypair(dir: Path, name: str, curve: str):
    from egactl_esb import rules

    key = rules.generate_key(curve)
    (dir / f"{name}.key").write_text(rules.export_private(key) + "\n")
    (dir / f"{name}.pub").write_text(rules.export_public(key) + "\n")
    return key


def bus_public_key(cli):
    from egactl_esb import rules

    r = cli("api", "GET", "/api/v1/esb/key")
    assert r.exit_code == 0, r.stderr
    return rules.import_public(json.loads(r.stdout)["public_key"])


def make_bus(cli, tmp_path, loopback, *, consumer_curve: str = "secp256k1", provider_curve: str = "prime256v1") -> Bus:
    keys = {"TRA": keypair(tmp_path, "tra", consumer_curve), "RITA": keypair(tmp_path, "rita", provider_curve)}
    cached: list[Any] = []

    def bus_public():
        if not cached:
            cached.append(bus_public_key(cli))
        return cached[0]

    provider = Provider(keys["RITA"], bus_public)
    provider.url = loopback(lambda raw, headers: (200, provider.reply(raw),
                                                  "application/xml" if raw.lstrip().startswith(b"<") else "application/json")) + "/esb"
    r = cli("esb", "clients", "create", "tra-idras", "-i", "TRA", "--public-key", str(tmp_path / "tra.pub"), "-o", "json")
    assert r.exit_code == 0, r.stderr
    secret = r.json()["client_secret"]
    r = cli("esb", "clients", "create", "rita-crvs", "-i", "RITA", "--public-key", str(tmp_path / "rita.pub"))
    assert r.exit_code == 0, r.stderr
    (tmp_path / "secret.txt").write_text(secret + "\n")
    r = cli("esb", "config", "set", "--client-id", "tra-idras", "--client-secret-file", str(tmp_path / "secret.txt"),
            "--private-key", str(tmp_path / "tra.key"))
    assert r.exit_code == 0, r.stderr
    bus = Bus(cli, tmp_path, provider, secret, keys)
    bus.register_api("RITA-BIRTH")
    return bus


@pytest.fixture
def bus(cli, tmp_path, loopback):
    return make_bus(cli, tmp_path, loopback)
