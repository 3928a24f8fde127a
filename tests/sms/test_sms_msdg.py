"""The msdg driver against an MSDG-like gateway served on loopback, which checks
the request exactly: form fields, the HMAC over the data string, recipients in
255… form, and the time format in East Africa Time — and answers as MSDG does:
its own codes in the body (48200 success, other 482xx failures), usually with
HTTP 200 either way; and, from the web server in front of it, HTML error pages,
empty 502s and plain text (tests/sms/msdg_gateway.py)."""

from __future__ import annotations

import json
import logging

import pytest
from sqlalchemy import select

from egactl_sms.server.models import Message
from tests.sms.msdg_gateway import ACCOUNT, INVALID_REQUEST, KEY, NGINX_500, SERVICE_ID, Gateway, Raw



@pytest.fixture
def gateway():
    gw = Gateway(KEY)
    yield gw
    gw.close()


@pytest.fixture
def backend_key():
    return KEY


@pytest.fixture
def backend_settings(gateway, backend_key):
    return {"sms.driver": "msdg", "sms.msdg_url": gateway.url, "sms.msdg_api_key": backend_key,
            "sms.msdg_account": ACCOUNT, "sms.msdg_service_id": SERVICE_ID, "sms.msdg_chunk": 2, "sms.rate": 0, "sms.in_flight": 1,
            "sms.max_attempts": 2}


@pytest.fixture
def send(cli):
    cli("sms", "senders", "request", "RITA", "-i", "RITA", role="operator")
    cli("sms", "senders", "approve", "RITA")

    def go(*numbers, text="Cheti chako cha kuzaliwa kiko tayari. Karibu RITA."):
        r = cli("sms", "send", "--to", ",".join(numbers), "-i", "RITA", text, role="operator")
        assert r.exit_code == 0, r.stderr

    return go


def stored(backend):
    with backend.read_sessions() as s:
        return s.scalars(select(Message).order_by(Message.id)).all()


def test_signed_form_post_in_chunks(backend, gateway, send):
    send("0754123456", "0754123457", "0655123458")
    backend.run_workers()
    assert [p["recipients"] for p in gateway.requests] == ["255754123456,255754123457", "255655123458"]
    first = gateway.requests[0]
    assert first["datetime"] == "2026-11-22 12:00:00"  # 09:00 UTC in East Africa Time
    assert (first["sender_id"], first["mobile_service_id"]) == ("RITA", SERVICE_ID)
    assert first["message"] == "Cheti chako cha kuzaliwa kiko tayari. Karibu RITA."
    assert [m.state for m in stored(backend)] == ["submitted"] * 3


@pytest.mark.parametrize("backend_key", ["not-the-key-msdg-issued"])
def test_wrong_signature_is_rejected_and_messages_fail_with_the_reason(backend, gateway, send, caplog):
    send("0754123456")
    with caplog.at_level(logging.WARNING):
        backend.run_workers()
    [m] = stored(backend)
    assert m.state == "failed"
    assert m.reason == "gateway refused the request: Invalid Request Hash (48201)"
    assert gateway.requests == []
    assert "not-the-key-msdg-issued" not in caplog.text


def test_gateway_refusal_in_a_200_answer_marks_failed(backend, gateway, send):
    gateway.reply = (200, {"error": True, "statusCode": 48207, "statusMessage": "Sender ID RITA is not allowed for service 106"})
    send("0754123456", "0754123457")
    backend.run_workers()
    assert {(m.state, m.reason) for m in stored(backend)} == {
        ("failed", "gateway refused the request: Sender ID RITA is not allowed for service 106 (48207)")}


UNKNOWN = "outcome unknown: the gateway's answer was not understood"


@pytest.mark.parametrize("reply, state, reason", [
    pytest.param(None, "submitted", None, id="success-48200"),
    pytest.param((200, INVALID_REQUEST), "failed", "gateway refused the request: Invalid Request (48205)",
                 id="invalid-request"),
    pytest.param((200, {"error": False, "statusCode": 48209, "statusMessage": "Insufficient SMS balance"}), "failed",
                 "gateway refused the request: Insufficient SMS balance (48209)", id="other-482xx-without-flag"),
    pytest.param(Raw(500, "text/html", NGINX_500), "failed",
                 f"{UNKNOWN} (HTTP 500 Internal Server Error, body '<html> <head><title>500 Internal Server Error",
                 id="html-500"),
    pytest.param(Raw(502, None, ""), "failed", f"{UNKNOWN} (HTTP 502 Bad Gateway, empty body)", id="empty-502"),
    pytest.param(Raw(200, "text/plain", "OK"), "failed", f"{UNKNOWN} (HTTP 200 OK, body 'OK')", id="plain-text"),
    pytest.param((200, {"statusCode": 200, "statusMessage": "Message Submitted Successfully"}), "failed",
                 f"{UNKNOWN} (HTTP 200 OK, body", id="http-like-code"),
    pytest.param(Raw(404, "text/html", "<h1>Not Found</h1>"), "failed",
                 "gateway refused the request with an answer egactl does not understand (HTTP 404 Not Found, "
                 "body '<h1>Not Found</h1>')", id="html-404"),
])
def test_each_answer_of_the_gateway_becomes_the_documented_state(backend, gateway, send, cli, reply, state, reason):
    gateway.reply = reply
    send("0754123456", "0754123457")
    backend.run_workers()
    messages = stored(backend)
    assert {m.state for m in messages} == {state}
    assert all(m.attempts == 1 for m in messages)  # never retried
    if reason is None:
        assert {m.reason for m in messages} == {None}
    else:
        assert all(m.reason.startswith(reason) for m in messages), messages[0].reason
    if state == "failed" and reason.startswith(UNKNOWN):
        assert messages[0].reason.endswith("it was not resent, to avoid a duplicate; check the gateway's records "
                                           "before sending it again")
    r = cli("sms", "report", str(messages[0].batch_id), "-o", "json")
    assert r.exit_code == 0 and r.json()["states"][state] == 2


def test_a_long_html_answer_is_cut_in_the_reason(backend, gateway, send):
    gateway.reply = Raw(500, "text/html", "<html>" + "x" * 5000 + "</html>")
    send("0754123456")
    backend.run_workers()
    [m] = stored(backend)
    assert m.state == "failed" and len(m.reason) < 500 and "x" * 200 not in m.reason and "…" in m.reason


def test_a_busy_gateway_is_retried(backend, clock, gateway, send):
    gateway.reply = Raw(503, "text/html", "<html><body>Service Unavailable</body></html>")
    send("0754123456")
    backend.run_workers()
    [m] = stored(backend)
    assert (m.state, m.attempts) == ("queued", 1) and m.reason.startswith("will retry: gateway answered HTTP 503")
    gateway.reply = None
    clock.advance(seconds=61)
    backend.run_workers()
    [m] = stored(backend)
    assert m.state == "submitted" and m.reason is None


def test_unreachable_gateway_is_retried_then_given_up(app, backend, clock, send, monkeypatch):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}/quick_sms"
    monkeypatch.setitem(backend.overrides, "sms.msdg_url", closed)
    send("0754123456")
    backend.run_workers()
    [m] = stored(backend)
    assert (m.state, m.attempts) == ("queued", 1) and m.reason.startswith("will retry: gateway unreachable")
    clock.advance(seconds=61)
    backend.run_workers()
    [m] = stored(backend)
    assert m.state == "failed" and m.reason.startswith("gave up after 2 attempts")


def test_the_api_key_is_kept_out_of_the_database_and_the_api(app, backend, gateway, send, tmp_path, cli):
    send("0754123456")
    backend.run_workers()
    backend.engine.dispose()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("backend.db*"))
    assert KEY.encode() not in raw
    r = cli("api", "GET", "/api/v1/sms/settings")
    assert r.exit_code == 0 and KEY not in r.stdout
    assert json.loads(r.stdout)["driver"] == "msdg" and json.loads(r.stdout)["driver_ready"] is True

    from egactl_sms.server.drivers import MsdgDriver

    d = MsdgDriver(url=gateway.url, api_key=KEY, account=ACCOUNT, service_id=SERVICE_ID)
    assert KEY not in repr(d)
    d.close()


def test_missing_configuration_pauses_delivery_and_says_why(backend, send, monkeypatch, caplog, cli):
    monkeypatch.setitem(backend.overrides, "sms.msdg_api_key", "")
    send("0754123456")
    with caplog.at_level(logging.WARNING):
        backend.run_workers()
    assert stored(backend)[0].state == "queued"
    assert "EGACTL_SMS_MSDG_API_KEY" in caplog.text
    settings = json.loads(cli("api", "GET", "/api/v1/sms/settings").stdout)
    assert settings["driver_ready"] is False and "EGACTL_SMS_MSDG_API_KEY" in settings["driver_problem"]
