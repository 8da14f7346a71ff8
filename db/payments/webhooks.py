"""Webhook signatures: `Marquee-Signature: t=<unix seconds>,v1=<hex>` where the hex is
HMAC-SHA256 of `"{t}.{raw body}"` under the provider's webhook secret (docs/orders.md,
"Webhooks"). A receiver refuses a missing or malformed header, a signature that does not
match, and a timestamp more than `TOLERANCE_SECONDS` away from its own clock."""

from __future__ import annotations

import hashlib
import hmac

HEADER = "Marquee-Signature"
TOLERANCE_SECONDS = 300
# More than this many v1 entries in one header is not a real header.
_MAX_SIGNATURES = 8
_HEX = frozenset("0123456789abcdef")


class InvalidSignature(Exception):
    """The request is not a genuine, fresh webhook; the message says why (for the log)."""


def sign(body: bytes, secret: str, timestamp: int) -> str:
    """The header value for `body` sent at `timestamp`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(header: str | None, body: bytes, secret: str, now: float) -> int:
    """Check the header against `body`; returns its timestamp. Several `v1` entries are
    allowed (a provider rotating its secret signs with both)."""
    if not header:
        raise InvalidSignature("missing signature header")
    if len(header) > 1000:
        raise InvalidSignature("signature header too long")
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            raise InvalidSignature("malformed signature header")
        if key == "t":
            if not (value.isascii() and value.isdigit()) or len(value) > 12:
                raise InvalidSignature("malformed timestamp")
            timestamp = int(value)
        elif key == "v1":
            if len(value) != 64 or not all(c in _HEX for c in value):
                raise InvalidSignature("malformed signature")
            signatures.append(value)
    if timestamp is None or not signatures or len(signatures) > _MAX_SIGNATURES:
        raise InvalidSignature("malformed signature header")
    if abs(now - timestamp) > TOLERANCE_SECONDS:
        raise InvalidSignature("timestamp outside the tolerance")
    expected = sign(body, secret, timestamp).rpartition("v1=")[2]
    if not any(hmac.compare_digest(expected, s) for s in signatures):
        raise InvalidSignature("signature does not match")
    return timestamp
