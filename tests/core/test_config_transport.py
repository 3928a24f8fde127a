"""Connection settings really reach the HTTP client: CA bundle (TLS on by default) and timeouts.

A tiny HTTPS server in a thread, with a certificate from a throwaway CA (trustme),
answers like the API's list endpoint: the one thing a real `egactl serve` cannot
give is TLS with our own CA, or a deliberately slow answer.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from typer.testing import CliRunner


class Handler(BaseHTTPRequestHandler):
    delay = 0.0

    def do_GET(self):  # noqa: N802 (http.server's naming)
        time.sleep(self.delay)
        body = json.dumps({"items": [{"code": "RITA", "name": "RITA", "kind": "agency"}], "next_cursor": None}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # the refused handshakes are the point of one test


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(ctx)
    httpd = QuietServer(("127.0.0.1", 0), Handler)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    ca_file = tmp_path_factory.mktemp("ca") / "ega-test-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    yield f"https://127.0.0.1:{httpd.server_address[1]}", str(ca_file)
    httpd.shutdown()


def egactl(*args: str):
    from egactl.cli import app
    from egactl.context import Context

    return CliRunner().invoke(app, list(args), obj=Context(), catch_exceptions=False)


@pytest.fixture(autouse=True)
def token(monkeypatch):
    monkeypatch.setenv("EGACTL_TOKEN", "ega_test0123456789")
    monkeypatch.setenv("EGACTL_RETRIES", "1")


def test_tls_is_verified_by_default(tls_server, monkeypatch):
    url, _ = tls_server
    monkeypatch.setenv("EGACTL_API_URL", url)
    r = egactl("institutions", "list", "-o", "json")
    assert r.exit_code == 7
    assert "TLS certificate verification failed" in r.stderr


def test_ca_bundle_from_the_environment(tls_server, monkeypatch):
    url, ca = tls_server
    monkeypatch.setenv("EGACTL_API_URL", url)
    monkeypatch.setenv("EGACTL_CA_BUNDLE", ca)
    r = egactl("institutions", "list", "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert [i["code"] for i in json.loads(r.stdout)] == ["RITA"]


def test_ca_bundle_from_the_profile(tls_server):
    url, ca = tls_server
    assert egactl("config", "set", "api_url", url, "--profile", "prod").exit_code == 0
    assert egactl("config", "set", "ca_bundle", ca, "--profile", "prod").exit_code == 0
    assert egactl("config", "use", "prod").exit_code == 0
    r = egactl("institutions", "list", "-o", "json")
    assert r.exit_code == 0, r.stderr


def test_unreadable_ca_bundle_is_a_clear_error(tls_server, monkeypatch, tmp_path):
    url, _ = tls_server
    monkeypatch.setenv("EGACTL_API_URL", url)
    monkeypatch.setenv("EGACTL_CA_BUNDLE", str(tmp_path / "missing.pem"))
    r = egactl("institutions", "list")
    assert r.exit_code == 2
    assert r.stderr.startswith(f"error: cannot load CA bundle {tmp_path / 'missing.pem'}")
    assert len(r.stderr.splitlines()) == 1


def test_read_timeout_setting_applies(tls_server, monkeypatch):
    url, ca = tls_server
    monkeypatch.setenv("EGACTL_API_URL", url)
    monkeypatch.setenv("EGACTL_CA_BUNDLE", ca)
    monkeypatch.setenv("EGACTL_READ_TIMEOUT", "0.3")
    monkeypatch.setattr(Handler, "delay", 2.0)
    r = egactl("institutions", "list")
    assert r.exit_code == 7
    assert "timed out" in r.stderr
