"""esb check's ``tls`` row: the bus's certificate chain, read from real loopback HTTPS servers
(trustme certificates: valid, expiring in 20 and in 5 days, expired, from a CA the profile does
not trust) and judged as dr check judges a site's; a bus URL in plain HTTP is a WARNING.

Before: esb check had no such row. A bus certificate about to expire went unseen until
the day every token request failed its verification.
"""

from __future__ import annotations

import datetime as dt
import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import trustme


class _Silent(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def ca():
    return trustme.CA()


@pytest.fixture
def https():
    """Start loopback HTTPS servers with a given certificate; each gives its base URL."""
    servers = []

    def start(ca, **cert) -> str:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ca.issue_cert("127.0.0.1", "localhost", **cert).configure_cert(context)
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Silent)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"https://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def trusting(ca, tmp_path, monkeypatch):
    path = tmp_path / "bus-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    monkeypatch.setenv("EGACTL_CA_BUNDLE", str(path))
    return path


def tls_row(cli, token_url: str, engine_url: str) -> dict:
    assert cli("esb", "config", "set", "--token-url", token_url, "--engine-url", engine_url).exit_code == 0
    r = cli("esb", "check", "-o", "json")
    assert r.exit_code in (0, 1), r.stderr
    (row,) = [row for row in json.loads(r.stdout) if row["check"] == "tls"]
    return row


def test_a_valid_chain_is_ok_and_names_its_earliest_expiry(cli, ca, https, trusting):
    url = https(ca, not_after=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=90, hours=1))
    row = tls_row(cli, url + "/token", url + "/engine")
    assert row["state"] == "OK", row
    assert row["detail"].startswith("chain verifies for 127.0.0.1; earliest expiry in 90 days (")
    assert row["ms"] is not None


@pytest.mark.parametrize(("days", "state", "says"), [
    (20, "WARNING", "expires in 20 days"),
    (5, "CRITICAL", "expires in 5 days"),
], ids=["20-days", "5-days"])
def test_a_chain_near_its_end_warns_then_is_critical(cli, ca, https, trusting, days, state, says):
    url = https(ca, not_after=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=days, hours=1))
    row = tls_row(cli, url + "/token", url + "/engine")
    assert row["state"] == state, row
    assert row["detail"].startswith(f"127.0.0.1: a certificate in the chain {says} (")
    assert ("warning below 30 days" if state == "WARNING" else "critical below 7 days") in row["detail"]


def test_an_expired_chain_is_critical_and_says_since_when(cli, ca, https, trusting):
    now = dt.datetime.now(dt.timezone.utc)
    url = https(ca, not_before=now - dt.timedelta(days=60), not_after=now - dt.timedelta(days=3, hours=1))
    row = tls_row(cli, url + "/token", url + "/engine")
    assert row["state"] == "CRITICAL", row
    assert row["detail"].startswith("127.0.0.1: certificate expired 3 days ago (")


def test_an_issuer_not_trusted_is_critical_with_the_way_to_trust_it(cli, ca, https, monkeypatch):
    monkeypatch.delenv("EGACTL_CA_BUNDLE", raising=False)  # the system's store: it does not know the test CA
    url = https(ca)
    row = tls_row(cli, url + "/token", url + "/engine")
    assert row["state"] == "CRITICAL", row
    assert row["detail"].startswith("127.0.0.1: chain does not verify: ")
    assert row["detail"].endswith("(`egactl config set ca_bundle FILE`)")


def test_each_host_is_read_and_the_worst_decides(cli, ca, https, trusting):
    """The token URL and the engine on two hosts: both judged, the row takes the worse state;
    a URL in plain HTTP is a WARNING of its own."""
    good = https(ca, not_after=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=200))
    soon = https(ca, not_after=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=5, hours=1))
    row = tls_row(cli, good + "/token", soon.replace("127.0.0.1", "localhost") + "/engine")
    assert row["state"] == "CRITICAL", row
    first, second = row["detail"].split("; earliest expiry")[0], row["detail"]
    assert first == "chain verifies for 127.0.0.1"
    assert "localhost: a certificate in the chain expires in 5 days" in second
    plain = tls_row(cli, good + "/token", "http://127.0.0.1:9/engine")
    assert plain["state"] == "WARNING", plain
    assert ("127.0.0.1 is reached over plain HTTP: the client secret and the bus's tokens cross the network "
            "unencrypted") in plain["detail"]


def test_nagios_names_the_tls_finding(cli, ca, https, trusting):
    url = https(ca, not_after=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=20, hours=1))
    assert cli("esb", "config", "set", "--token-url", url + "/token", "--engine-url", url + "/engine").exit_code == 0
    r = cli("esb", "check", "--nagios")
    assert r.exit_code == 2, r.stdout  # the token row is CRITICAL: this server is not a bus
    assert "tls WARNING 127.0.0.1: a certificate in the chain expires in 20 days" in r.stdout
    assert "'tls'=" in r.stdout


def test_a_host_that_refuses_is_unknown_and_one_that_speaks_no_tls_is_critical(cli, trusting):
    """No chain to judge: a refused connection cannot tell (UNKNOWN); a server on an https URL
    that answers in plain HTTP is a broken bus endpoint (CRITICAL)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]  # nothing listens once the socket is closed
    plain = ThreadingHTTPServer(("127.0.0.1", 0), _Silent)
    threading.Thread(target=plain.serve_forever, daemon=True).start()
    try:
        row = tls_row(cli, f"https://127.0.0.1:{closed}/token", f"https://localhost:{plain.server_address[1]}/engine")
    finally:
        plain.shutdown()
        plain.server_close()
    assert row["state"] == "CRITICAL", row
    refused, broken = row["detail"].split("; ")
    assert refused == f"127.0.0.1:{closed} could not be reached (Connection refused)"
    assert broken.startswith(f"localhost:{plain.server_address[1]}: the TLS handshake failed (")



def test_a_profile_with_no_bus_url_has_no_certificate_to_read(cli):
    """Not "OK": nothing was read. (Before this case was told apart, a profile with no esb
    settings at all was said to reach the bus through egactl's API.)"""
    assert cli("config", "set", "api_url", "https://api.example.go.tz", "--profile", "prod").exit_code == 0
    r = cli("--profile", "prod", "esb", "check", "-o", "json")
    assert r.exit_code == 1, r.stderr  # the token row is CRITICAL: no token URL
    rows = {row["check"]: row for row in json.loads(r.stdout)}
    assert (rows["tls"]["state"], rows["tls"]["detail"]) == ("UNKNOWN", "no bus URL is set: nothing to read a "
                                                                        "certificate from")
    assert rows["token"]["state"] == "CRITICAL"
