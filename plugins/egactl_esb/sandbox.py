"""The sandbox's GovESB: two institutions exchanging one API code, out of the box.

TRA's system consumes ``RITA-BIRTH-VERIFY``, which RITA's system provides; the sandbox
seed (``server/seed.py``) registers both clients and the API, and the sandbox itself
plays RITA's system: ``POST /api/v1/esb/sandbox/provider`` (only in the sandbox;
``egactl serve`` answers 404) verifies the bus's signature and answers a birth
record, signed with RITA's key, as a provider behind the bus does. The API's
endpoint is on the sandbox's own address (``http://sandbox``, where the API client
sends the in-process backend's requests), so the emulator reaches it through the
backend itself, with nothing sent to any network.

``egactl esb`` on the sandbox profile uses TRA's client by default (``DEFAULTS``).
The keys and secrets below are for the sandbox only and are trusted nowhere else:
made once with ``cryptography`` (secp256k1 for TRA, prime256v1 for RITA, so both
curves are in play).

Pure data: imported by the backend's seed and provider route, and by the commands.
"""

from __future__ import annotations

API_BASE = "http://sandbox/api/v1/esb"
"""The emulator as the sandbox's API client addresses it."""

API_CODE = "RITA-BIRTH-VERIFY"
PROVIDER = "RITA"
CONSUMER = "TRA"
PROVIDER_PATH = "/sandbox/provider"
PROVIDER_URL = API_BASE + PROVIDER_PATH

CONSUMER_CLIENT_ID = "tra-idras-sandbox"
CONSUMER_SECRET = "sandbox-only-tra-secret"
CONSUMER_PRIVATE_KEY = ("MIGEAgEAMBAGByqGSM49AgEGBSuBBAAKBG0wawIBAQQg/3EXW1mh9JKOcI9gbrcuD7bJfk85NkbXU3NuKWQLMbWhRANCAATe"
                        "vrIoeNF5CBd9dU1+P4IEFFHzHyULxifGfTM7CH7S5TM42IupktYE0xlWyn5jWXc9KD4BpepY6nP6RV22iEEy")

PROVIDER_CLIENT_ID = "rita-crvs-sandbox"
PROVIDER_SECRET = "sandbox-only-rita-secret"
PROVIDER_PRIVATE_KEY = ("MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgZhRHQzWVros0PYO7xM8Jg89Sco0Cc/TCLMR6CFT7TYWhRANCAAT8"
                        "7cGstjfaLe6o5jp+9YHzE+wRU+yh8bclixy3TkdCRClyZC/0CAbD/jCT9Fa1qXlTFzoKea1zgOe0FZA6kcu1")

DEFAULTS = {"token_url": API_BASE + "/oauth/token", "engine_url": API_BASE, "client_id": CONSUMER_CLIENT_ID,
            "ping_code": API_CODE}
"""``egactl esb config`` on the sandbox profile, before anything is set."""

BIRTHS = {
    "B-2024-000123": {"certificateNumber": "B-2024-000123", "name": "Asha Juma", "dateOfBirth": "2024-03-14",
                      "placeOfBirth": "Dodoma", "registered": True},
}
"""The sandbox provider's records (made up)."""


def provider_answer(body: object) -> tuple[bool, object, str]:
    """What the sandbox's RITA system answers to a request body: (success, body, message)."""
    if isinstance(body, dict) and body.get("ping"):
        return True, {"pong": True}, "pong"
    number = body.get("certificateNumber") if isinstance(body, dict) else None
    if not isinstance(number, str):
        return False, None, 'send {"certificateNumber": "B-2024-000123"}'
    record = BIRTHS.get(number)
    if record is None:
        return True, {"certificateNumber": number, "registered": False}, "no such certificate"
    return True, record, "found"
