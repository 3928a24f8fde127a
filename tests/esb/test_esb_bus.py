"""egactl esb send through the emulator to a provider on a loopback server, and what the bus refuses."""

from __future__ import annotations

import json

import pytest

from tests.esb.esb_bus import bus, keypair, loopback, make_bus  # noqa: F401 (bus, loopback: fixtures)

QUERY = {"certificateNumber": "B-2024-000123", "note": "Zanzibar – ✓"}


@pytest.mark.parametrize("encrypt", [False, True], ids=["plain", "encrypted"])
@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize("curves", [("secp256k1", "prime256v1"), ("prime256v1", "secp256k1")],
                         ids=["tra-k1", "tra-p256"])
def test_a_request_goes_through_the_bus_to_the_provider_and_its_signed_answer_verifies(cli, tmp_path, loopback, curves,
                                                                                      fmt, encrypt):
    bus = make_bus(cli, tmp_path, loopback, consumer_curve=curves[0], provider_curve=curves[1])
    code = "RITA-BIRTH" if fmt == "json" else "RITA-BIRTH-XML"
    if fmt == "xml":
        bus.register_api(code, fmt="xml")
        body = bus.write("q.xml", "<query><certificateNumber>B-2024-000123</certificateNumber></query>")
    else:
        body = bus.write("q.json", json.dumps(QUERY, ensure_ascii=False))
    args = [code, "--body", body] + (["--xml"] if fmt == "xml" else []) + (["--encrypt"] if encrypt else [])
    r = bus.send(*args, "-o", "json")
    assert r.exit_code == 0, r.stderr
    out = r.json()
    assert (out["success"], out["signature"], out["message"], out["decrypted"]) == (True, "valid", "OK", encrypt)
    # the provider got the body in clear (the bus decrypted it), signed by the bus, with the bus's request id
    seen = bus.provider.seen[-1]
    assert seen["format"] == fmt and seen["values"]["requestId"] == out["request_id"]
    if fmt == "json":
        assert seen["body"] == QUERY
        assert out["body"] == {"echo": QUERY, "userId": None}
    else:
        assert seen["body"] == "<query><certificateNumber>B-2024-000123</certificateNumber></query>"
        assert out["body"] == "<echo><query><certificateNumber>B-2024-000123</certificateNumber></query></echo>"
    people = bus.send(*args)
    assert people.exit_code == 0, people.stderr
    assert "signature: valid" in people.stdout and "success: true (OK)" in people.stdout
    assert "time: " in people.stdout


def test_push_and_nida_requests_reach_the_provider_with_their_own_fields(bus):
    body = bus.write("q.json", "{}")
    r = bus.send("RITA-BIRTH", "--push", "--body", body, "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert bus.provider.seen[-1]["values"]["pushCode"] == "RITA-BIRTH"
    r = bus.send("RITA-BIRTH", "--user-id", "19900101-12345-00001-23", "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert bus.provider.seen[-1]["values"]["apiCode"] == "RITA-BIRTH"
    assert r.json()["body"]["userId"] == "19900101-12345-00001-23"
    assert bus.send("RITA-BIRTH", "--push", "--user-id", "x").exit_code == 2


def _refused(r, code: int, *needles: str):
    assert r.exit_code == code, (r.exit_code, r.stdout, r.stderr)
    for needle in needles:
        assert needle in r.stderr, r.stderr


def test_an_unknown_code_or_a_caller_that_is_no_consumer_is_a_signed_refusal_exit_9(bus):
    r = bus.send("RITA-NOPE", "-o", "json")
    _refused(r, 9, "the bus answered success: false: Unknown API code RITA-NOPE")
    assert r.json()["signature"] == "valid" and r.json()["success"] is False  # signed by the bus, verified
    bus.register_api("RITA-PRIVATE", consumers=("NIDA",))
    _refused(bus.send("RITA-PRIVATE"), 9, "TRA is not a consumer of API RITA-PRIVATE")
    _refused(bus.send("RITA-BIRTH", "--xml"), 9, "API RITA-BIRTH speaks JSON; send a JSON envelope")


def test_a_request_signed_by_another_key_or_on_another_curve_is_refused_by_the_bus(bus, tmp_path):
    keypair(tmp_path, "other", "secp256k1")
    assert bus.cli("esb", "config", "set", "--private-key", str(tmp_path / "other.key")).exit_code == 0
    _refused(bus.send("RITA-BIRTH"), 9, "Invalid signature: the request is not signed by the key registered for "
                                        "client tra-idras")
    keypair(tmp_path, "p256", "prime256v1")  # TRA's registered key is secp256k1
    assert bus.cli("esb", "config", "set", "--private-key", str(tmp_path / "p256.key")).exit_code == 0
    _refused(bus.send("RITA-BIRTH"), 9, "Invalid signature")
    assert bus.provider.seen == []  # nothing refused ever reached the provider


def test_an_answer_checked_with_another_key_or_a_key_on_another_curve_is_exit_8(bus, tmp_path):
    for name, curve in (("impostor", "secp256k1"), ("p256-bus", "prime256v1")):
        keypair(tmp_path, name, curve)
        assert bus.cli("esb", "config", "set", "--esb-public-key", str(tmp_path / f"{name}.pub")).exit_code == 0
        r = bus.send("RITA-BIRTH", "-o", "json")
        _refused(r, 8, "the bus's answer: signature: INVALID")
        assert r.stdout == ""  # nothing of an unverified answer is shown


def test_one_byte_of_the_answers_esbBody_changed_on_the_way_is_exit_8(bus, app, loopback):
    """A man in the middle between egactl and the bus (a loopback proxy to the real emulator)
    changes one byte of the answer's esbBody: the signature no longer verifies."""
    import httpx

    from egactl.sandbox import SyncASGITransport

    transport = SyncASGITransport(app)
    upstream = httpx.Client(transport=transport, base_url="http://sandbox")

    def tamper(raw, headers):
        answer = upstream.post("/api/v1/esb/request", content=raw, headers={
            "Authorization": headers["Authorization"], "Content-Type": headers["Content-Type"]})
        text = answer.text
        assert '"echo":{}' in text
        return 200, text.replace('"echo":{}', '"echo":[]', 1).encode(), "application/json"

    try:
        proxy = loopback(tamper)
        assert bus.cli("esb", "config", "set", "--engine-url", proxy, "--esb-public-key",
                       bus.write("bus.pub", _bus_public(bus))).exit_code == 0
        r = bus.send("RITA-BIRTH")
        _refused(r, 8, "the bus's answer: signature: INVALID (not made over this data by the secp256k1 key given; "
                       "the data was altered or another key signed it)")
        assert "echo" not in r.stdout
    finally:
        upstream.close()
        transport.close()


def _bus_public(bus) -> str:
    r = bus.cli("api", "GET", "/api/v1/esb/key")
    return json.loads(r.stdout)["public_key"]


def test_an_expired_token_is_refused_and_a_fresh_one_works(bus, clock):
    assert bus.send("RITA-BIRTH").exit_code == 0  # the token is now cached (by this machine's clock)
    clock.advance(hours=2)  # the bus's clock: the token lasted an hour
    r = bus.send("RITA-BIRTH")
    _refused(r, 9, "Unauthorized: access token expired at 2026-11-22T10:00:00+00:00",
             "the cached bus token was dropped; run the command again to fetch a fresh one")
    assert bus.send("RITA-BIRTH").exit_code == 0


def test_a_request_replayed_with_an_old_token_is_refused(bus):
    import base64

    assert bus.send("RITA-BIRTH").exit_code == 0
    # the same client takes a new token elsewhere (another process): the cached one is now old
    basic = base64.b64encode(f"tra-idras:{bus.secret}".encode()).decode()
    import httpx

    from egactl.sandbox import SyncASGITransport

    transport = SyncASGITransport(bus.cli.transport.app)
    try:
        with httpx.Client(transport=transport, base_url="http://sandbox") as http:
            fresh = http.post("/api/v1/esb/oauth/token", data={"grant_type": "client_credentials"},
                              headers={"Authorization": f"Basic {basic}"})
        assert fresh.status_code == 200, fresh.text
    finally:
        transport.close()
    _refused(bus.send("RITA-BIRTH"), 9, "Unauthorized: access token was replaced by a newer one (a replayed request?)")
    assert bus.send("RITA-BIRTH").exit_code == 0  # with a fresh token


def test_bad_client_credentials_are_exit_4_and_the_secret_is_never_shown(bus, tmp_path):
    (tmp_path / "wrong.txt").write_text("not-the-secret\n")
    assert bus.cli("esb", "config", "set", "--client-secret-file", str(tmp_path / "wrong.txt")).exit_code == 0
    r = bus.send("RITA-BIRTH")
    _refused(r, 4, "the bus refused the client credentials of tra-idras: Bad client credentials")
    assert "not-the-secret" not in r.stdout + r.stderr


def test_secrets_are_never_in_the_output_debug_included_nor_in_the_audit_log(bus, backend):
    from sqlalchemy import select

    from egactl.server.models import AuditEntry

    body = bus.write("q.json", json.dumps({"certificateNumber": "B-2024-999999", "mother": "Mwanaisha Said"}))
    r = bus.cli("--debug", "esb", "send", "RITA-BIRTH", "--body", body)
    assert r.exit_code == 0, r.stderr
    t = bus.cli("--debug", "esb", "token", "show", "--refresh")
    assert t.exit_code == 0, t.stderr
    from egactl.plugin.cli import plugin_config

    token = json.loads(plugin_config.get_secret("esb", "sandbox", "token_cache").value)["token"]
    private = (bus.dir / "tra.key").read_text().strip()
    shown = r.stdout + r.stderr + t.stdout + t.stderr
    assert "Authorization: Basic [REDACTED]".lower() in shown.lower() and "Bearer [REDACTED]".lower() in shown.lower()
    for secret in (bus.secret, token, private):
        assert secret not in shown
    assert token[:8] + "…" in t.stdout
    with backend.read_sessions() as s:
        entries = list(s.scalars(select(AuditEntry).where(AuditEntry.resource_type.in_(("esb_exchange", "esb_client")))))
    stored = json.dumps([[e.actor, e.role, e.before, e.after, e.reason] for e in entries], ensure_ascii=False)
    for secret in (bus.secret, token, private, "Mwanaisha", "B-2024-999999"):
        assert secret not in stored
    exchange = [e for e in entries if e.resource_type == "esb_exchange"][-1]
    assert (exchange.actor, exchange.role, exchange.institution) == ("tra-idras", "esb-client", "TRA")
    assert exchange.after["outcome"] == "success" and exchange.after["provider"] == "RITA"
    assert exchange.after["request_body"].startswith("(hidden: ")


def test_every_exchange_refused_or_not_is_in_the_audit_log(bus, backend):
    from sqlalchemy import select

    from egactl.server.models import AuditEntry

    assert bus.send("RITA-NOPE").exit_code == 9
    assert bus.send("RITA-BIRTH").exit_code == 0
    with backend.read_sessions() as s:
        entries = [e.after for e in s.scalars(select(AuditEntry).where(AuditEntry.resource_type == "esb_exchange")
                                              .order_by(AuditEntry.id))]
    assert [(e["code"], e["outcome"]) for e in entries] == [("RITA-NOPE", "refused"), ("RITA-BIRTH", "success")]
    assert entries[0]["message"] == "Unknown API code RITA-NOPE"


def test_a_provider_that_is_down_or_answers_unsigned_is_a_signed_refusal(bus, loopback):
    bus.register_api("RITA-DOWN", endpoint="http://127.0.0.1:9/esb")
    _refused(bus.send("RITA-DOWN"), 9, "Provider RITA is unreachable")
    liar = loopback(lambda raw, headers: (200, b'{"data":{"success":true,"esbBody":{}},"signature":"MEUCIQ=="}',
                                          "application/json"))
    bus.register_api("RITA-LIAR", endpoint=liar + "/esb")
    _refused(bus.send("RITA-LIAR"), 9, "Provider RITA's answer failed verification")


def test_the_bus_on_postgresql_and_its_key_made_once_under_concurrent_first_use(postgres_url, tmp_path, loopback):
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    from egactl.sandbox import SyncASGITransport
    from tests.conftest import cli_on

    with cli_on(postgres_url) as (runner, be):
        transport = SyncASGITransport(runner.transport.app)
        try:
            with httpx.Client(transport=transport, base_url="http://sandbox",
                              headers={"Authorization": f"Bearer {runner.tokens['admin']}"}) as http:
                with ThreadPoolExecutor(8) as pool:
                    keys = list(pool.map(lambda _: http.get("/api/v1/esb/key").json()["public_key"], range(8)))
        finally:
            transport.close()
        assert len(set(keys)) == 1
        bus = make_bus(runner, tmp_path, loopback, consumer_curve="prime256v1", provider_curve="secp256k1")
        r = bus.send("RITA-BIRTH", "--encrypt", "--body", bus.write("q.json", json.dumps(QUERY)), "-o", "json")
        assert r.exit_code == 0, r.stderr
        assert r.json()["body"] == {"echo": QUERY, "userId": None}
        _refused(bus.send("RITA-NOPE"), 9, "Unknown API code RITA-NOPE")


def test_guessing_client_secrets_at_the_token_endpoint_is_held_back_as_egactl_tokens_are(bus, monkeypatch):
    # The frame counts an own-authentication route's 401 as a failed authentication of
    # the address, and refuses an address past the limit before the route runs.
    import base64

    import httpx

    from egactl.sandbox import SyncASGITransport

    monkeypatch.setenv("EGACTL_AUTH_FAILURES_PER_MINUTE", "3")

    def token_with(secret: str) -> httpx.Response:
        basic = base64.b64encode(f"tra-idras:{secret}".encode()).decode()
        return http.post("/api/v1/esb/oauth/token", data={"grant_type": "client_credentials"},
                         headers={"Authorization": f"Basic {basic}"})

    transport = SyncASGITransport(bus.cli.transport.app)
    try:
        with httpx.Client(transport=transport, base_url="http://sandbox") as http:
            assert [token_with(f"guess-{i}").status_code for i in range(3)] == [401, 401, 401]
            held = token_with(bus.secret)  # even the right secret: guessing cannot go on
            assert held.status_code == 429, held.text
            assert int(held.headers["Retry-After"]) >= 1
            assert "too many failed authentications" in held.json()["detail"]
            # the address is held back from egactl's own API alike: one record per address
            assert http.get("/api/v1/institutions", headers={"Authorization": "Bearer egactl_x"}).status_code == 429
    finally:
        transport.close()
    r = bus.send("RITA-BIRTH")
    assert r.exit_code != 0 and "too many failed authentications" in r.stderr
