"""Temporary passwords: generated here, shown once, stored only as a slow hash.

scrypt (stdlib ``hashlib.scrypt``) rather than a fast hash: unlike API tokens,
passwords are low-entropy once the person changes them, and the stored format
(``scrypt$n$r$p$salt$hash``) carries its parameters so they can be raised later.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import string

# No look-alikes (0/O, 1/l/I): the password is read out over the phone.
ALPHABET = "".join(c for c in string.ascii_letters + string.digits if c not in "0O1lI")
LENGTH = 16
N, R, P = 2 ** 14, 8, 1


def generate() -> str:
    """A random password with at least one lower-case letter, upper-case letter and digit."""
    while True:
        pw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
        if any(c.islower() for c in pw) and any(c.isupper() for c in pw) and any(c.isdigit() for c in pw):
            return pw


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=N, r=R, p=P, dklen=32)
    return f"scrypt${N}${R}${P}${_b64(salt)}${_b64(digest)}"


def verify(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    expected = base64.b64decode(digest)
    got = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                         dklen=len(expected))
    return hmac.compare_digest(got, expected)
