"""An MSDG-like gateway served on loopback, for the msdg driver's tests and the cluster's.

It checks the request exactly: form fields, the HMAC over the data string,
recipients in 255… form, and the time format in East Africa Time — and answers as
MSDG does: its own codes in the body (48200 success, other 482xx failures), usually
with HTTP 200 either way; or, as the web server in front of it would, HTML error
pages, empty 502s and plain text (``Raw``). It notes when each request arrived
(``arrivals``: (wall-clock time, recipients)) and can take its time to answer
(``delay`` seconds), as the real one does.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

ACCOUNT = "sms@rita.go.tz"
SERVICE_ID = "106"
KEY = "msdg-" + secrets.token_urlsafe(24)


def msdg_success(recipients: str) -> dict:
    return {"error": False, "statusCode": 48200, "statusMessage": "Success",
            "data": [{"recipient": r, "status": "queued"} for r in recipients.split(",")]}


INVALID_REQUEST = {"error": True, "statusCode": 48205, "statusMessage": "Invalid Request"}
INVALID_HASH = {"error": True, "statusCode": 48201, "statusMessage": "Invalid Request Hash"}
NGINX_500 = ("<html>\r\n<head><title>500 Internal Server Error</title></head>\r\n<body>\r\n<center><h1>500 Internal "
             "Server Error</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")


class Raw:
    """An answer given as it is (not JSON): (status, content type, body)."""

    def __init__(self, status: int, content_type: str | None, body: str):
        self.status, self.content_type, self.body = status, content_type, body


class Gateway:
    def __init__(self, key: str):
        self.key = key
        self.requests: list[dict] = []
        self.arrivals: list[tuple[float, int]] = []
        self.reply: tuple[int, dict] | Raw | None = None  # None: MSDG's success answer
        self.delay = 0.0
        self.busy = self.most_busy = 0  # requests being answered at once, and the most seen
        self._lock = threading.Lock()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                arrived = time.time()  # the gateway's own clock: what it counts its seconds by
                with gateway._lock:
                    gateway.busy += 1
                    gateway.most_busy = max(gateway.most_busy, gateway.busy)
                try:
                    body = self.rfile.read(int(self.headers["Content-Length"])).decode("utf-8")
                    answer = gateway.check(self.headers, body, arrived)
                    if gateway.delay:
                        time.sleep(gateway.delay)
                finally:
                    with gateway._lock:
                        gateway.busy -= 1
                if isinstance(answer, Raw):
                    status, ctype, raw = answer.status, answer.content_type, answer.body.encode()
                else:
                    status, ctype, raw = answer[0], "application/json", json.dumps(answer[1]).encode()
                self.send_response(status)
                if ctype:
                    self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/msdg/public/quick_sms"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def check(self, headers, body: str, arrived: float = 0.0) -> tuple[int, dict] | Raw:
        """MSDG refuses with HTTP 200 and its own codes in the body."""
        if headers.get("Content-Type") != "application/x-www-form-urlencoded":
            return 200, INVALID_REQUEST
        form = parse_qs(body, strict_parsing=True, keep_blank_values=True)
        if sorted(form) != ["data", "datetime"] or any(len(v) != 1 for v in form.values()):
            return 200, INVALID_REQUEST
        data, when = form["data"][0], form["datetime"][0]
        expected = base64.b64encode(hmac.new(self.key.encode(), data.encode(), hashlib.sha256).digest()).decode()
        if headers.get("X-Auth-Request-Hash") != expected:
            return 200, INVALID_HASH
        if headers.get("X-Auth-Request-Id") != ACCOUNT or headers.get("X-Auth-Request-Type") != "api":
            return 200, INVALID_REQUEST
        payload = json.loads(data)
        if sorted(payload) != ["datetime", "message", "mobile_service_id", "recipients", "sender_id"]:
            return 200, INVALID_REQUEST
        if not re.fullmatch(r"255\d{9}(,255\d{9})*", payload["recipients"]):
            return 200, INVALID_REQUEST
        if not re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", payload["datetime"]) or payload["datetime"] != when:
            return 200, INVALID_REQUEST
        with self._lock:  # the n-th arrival is the n-th request's
            self.requests.append(payload)
            self.arrivals.append((arrived, payload["recipients"].count(",") + 1))
        if self.reply is None:
            return 200, msdg_success(payload["recipients"])
        return self.reply

    def close(self):
        self.server.shutdown()
        self.server.server_close()
