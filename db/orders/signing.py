"""Signed ticket payloads that a door scanner verifies offline (Ed25519), their public keys
in JWK form, and the keys kept in a development directory (the QR code of a payload: db/qr.py).

A payload is ASCII text (docs/orders.md, "Ticket signatures and QR codes"):

    MQT1.<ticket id>.<showtime id>.<seat id>.<key id>.<signature>

The ids are decimal without leading zeros (1 to 2**63-1), the key id is 1 to 32 characters
of [A-Za-z0-9_-], and the signature is the unpadded base64url of the 64-byte Ed25519
signature of the exact ASCII bytes before the last ".". Each part has one spelling only, so
a payload that verifies cannot be altered into another that verifies.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from db.files import create_once

VERSION = "MQT1"
MAX_ID = 2**63 - 1  # the ids are PostgreSQL bigint identities
# The longest well-formed payload is 5 + 3 * 20 + 33 + 86 = 184 characters; anything longer is
# refused before it is parsed.
MAX_PAYLOAD_LENGTH = 256
KEY_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,32}", re.ASCII)
SIGNATURE_LENGTH = 86  # base64url characters of 64 bytes, unpadded

_ID = r"([1-9][0-9]{0,18})"
_PAYLOAD = re.compile(
    rf"{VERSION}\.{_ID}\.{_ID}\.{_ID}\.([A-Za-z0-9_-]{{1,32}})\.([A-Za-z0-9_-]{{{SIGNATURE_LENGTH}}})",
    re.ASCII,
)
_KEY_FILE = re.compile(r"([0-9]{4,9})\.pem", re.ASCII)


class InvalidTicketPayload(Exception):
    """The text is not a ticket payload signed by one of our keys (the reason is for logs,
    not for the person at the door)."""


@dataclass(frozen=True, slots=True)
class TicketClaims:
    """What a verified payload says."""

    ticket_id: int
    showtime_id: int
    seat_id: int
    key_id: str


class PublicKeyJwk(TypedDict):
    """A verifying key as a JSON Web Key (RFC 8037), plus whether it signs new tickets."""

    kty: str
    crv: str
    x: str
    kid: str
    alg: str
    use: str
    current: bool


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    """Strict unpadded base64url: the alphabet only, and the one spelling of the bytes (the
    unused low bits of the last character must be zero)."""
    try:
        data = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64url") from exc
    if b64url(data) != text:
        raise ValueError("not the canonical base64url spelling")
    return data


# Keys ------------------------------------------------------------------------------------


def generate_signing_key() -> Ed25519PrivateKey:
    """A new random Ed25519 private key."""
    return Ed25519PrivateKey.generate()


def public_key_x(key: Ed25519PublicKey) -> str:
    """The raw 32-byte public key, base64url without padding (the JWK member `x`)."""
    return b64url(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))


def key_id_for(key: Ed25519PublicKey) -> str:
    """The default key id: the first 8 characters of the key's RFC 7638 JWK thumbprint
    (48 bits: a collision among a chain's handful of keys is not a concern)."""
    canonical = json.dumps(
        {"crv": "Ed25519", "kty": "OKP", "x": public_key_x(key)},
        separators=(",", ":"),
        sort_keys=True,
    )
    return b64url(hashlib.sha256(canonical.encode()).digest())[:8]


def private_key_seed(key: Ed25519PrivateKey) -> str:
    """The 32-byte private seed, base64url without padding (a MARQUEE_TICKET_SIGNING_KEY)."""
    return b64url(
        key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
    )


def private_key_pem(key: Ed25519PrivateKey) -> bytes:
    """The private key as unencrypted PKCS#8 PEM (what `openssl genpkey -algorithm ed25519`
    writes)."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_private_key(text: str) -> Ed25519PrivateKey:
    """An Ed25519 private key from PKCS#8 PEM or from the base64 (standard or url-safe,
    padded or not) of its 32-byte seed. The error message never repeats the key."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_private_key(text.encode(), password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise ValueError("not an unencrypted PEM private key") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("the PEM private key is not an Ed25519 key")
        return key
    normalized = text.replace("-", "+").replace("_", "/").rstrip("=")
    try:
        seed = base64.b64decode(normalized + "=" * (-len(normalized) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("neither PEM nor base64") from None
    if len(seed) != 32:
        raise ValueError("a base64 Ed25519 seed must be 32 bytes")
    return Ed25519PrivateKey.from_private_bytes(seed)


def load_public_key(x: str) -> Ed25519PublicKey:
    """An Ed25519 public key from its raw 32 bytes in base64url (a JWK `x`)."""
    try:
        raw = _b64url_decode(x)
    except ValueError:
        raise ValueError("a public key must be unpadded base64url") from None
    if len(raw) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def check_key_id(key_id: str) -> str:
    if not KEY_ID_PATTERN.fullmatch(key_id):
        raise ValueError("a key id is 1 to 32 characters of A-Z, a-z, 0-9, '_' and '-'")
    return key_id


# The signer --------------------------------------------------------------------------------


class TicketSigner:
    """Signs payloads with the current key; verifies them with the current key or any
    retired one (rotation keeps tickets already sold valid)."""

    def __init__(
        self,
        private_key: Ed25519PrivateKey,
        key_id: str | None = None,
        retired: Iterable[tuple[str, Ed25519PublicKey]] = (),
    ) -> None:
        public = private_key.public_key()
        self._private_key = private_key
        self.key_id = check_key_id(key_id or key_id_for(public))
        # Current key first, then the retired ones in the order given (newest first).
        self._keys: dict[str, Ed25519PublicKey] = {self.key_id: public}
        for kid, key in retired:
            known = self._keys.get(check_key_id(kid))
            if known is None:
                self._keys[kid] = key
            elif public_key_x(known) != public_key_x(key):
                raise ValueError(f"two different ticket keys have the key id {kid!r}")

    def sign(self, ticket_id: int, showtime_id: int, seat_id: int) -> str:
        """The payload of a ticket (deterministic: the same ticket gives the same text)."""
        for value in (ticket_id, showtime_id, seat_id):
            if type(value) is not int or not 1 <= value <= MAX_ID:
                raise ValueError(f"ids must be integers from 1 to 2**63-1, not {value!r}")
        message = f"{VERSION}.{ticket_id}.{showtime_id}.{seat_id}.{self.key_id}"
        signature = self._private_key.sign(message.encode("ascii"))
        return f"{message}.{b64url(signature)}"

    def verify(self, payload: str) -> TicketClaims:
        """The claims of a payload signed by one of our keys; `InvalidTicketPayload` for any
        other text (and for anything that is not a str)."""
        if not isinstance(payload, str) or len(payload) > MAX_PAYLOAD_LENGTH:
            raise InvalidTicketPayload("not a ticket payload (type or length)")
        match = _PAYLOAD.fullmatch(payload)
        if match is None:
            raise InvalidTicketPayload("not a ticket payload (shape)")
        ticket_id, showtime_id, seat_id = (int(match[i]) for i in (1, 2, 3))
        if max(ticket_id, showtime_id, seat_id) > MAX_ID:
            raise InvalidTicketPayload("an id is out of range")
        key = self._keys.get(match[4])
        if key is None:
            raise InvalidTicketPayload("unknown key id")
        try:
            signature = _b64url_decode(match[5])
            key.verify(signature, payload[: match.start(5) - 1].encode("ascii"))
        except (ValueError, InvalidSignature):
            raise InvalidTicketPayload("bad signature") from None
        return TicketClaims(ticket_id, showtime_id, seat_id, match[4])

    def public_keys(self) -> list[PublicKeyJwk]:
        """Every verifying key, the current one first, as JWKs with a `current` flag."""
        return [
            PublicKeyJwk(
                kty="OKP",
                crv="Ed25519",
                x=public_key_x(key),
                kid=kid,
                alg="EdDSA",
                use="sig",
                current=kid == self.key_id,
            )
            for kid, key in self._keys.items()
        ]


# The development key directory -------------------------------------------------------------
# Files NNNN.pem (PKCS#8, mode 0600), numbered from 0001; the highest number is the current key.
# A file appears complete or not at all: it is written under a temporary name and hard-linked
# to its final name, which fails if another process got there first.


def _key_files(directory: Path) -> list[tuple[int, Path]]:
    if not directory.is_dir():
        return []
    found = []
    for path in directory.iterdir():
        match = _KEY_FILE.fullmatch(path.name)
        if match:
            found.append((int(match[1]), path))
    return sorted(found)


def _install_key(directory: Path, number: int, key: Ed25519PrivateKey) -> bool:
    """Write the key as file `number`; False if that file exists already."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    return create_once(directory / f"{number:04d}.pem", private_key_pem(key))


def read_key_directory(directory: Path) -> list[Ed25519PrivateKey]:
    """The keys of a development key directory, oldest first (the last one is current); the
    first key is generated when there is none. Safe when several processes start at once."""
    files = _key_files(directory)
    if not files:
        _install_key(directory, 1, generate_signing_key())  # or another process did
        files = _key_files(directory)
    keys = []
    for _, path in files:
        try:
            keys.append(load_private_key(path.read_text()))
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None
    return keys


def add_key_to_directory(directory: Path) -> Ed25519PrivateKey:
    """Generate a key and make it the current one of the directory (the others stay)."""
    key = generate_signing_key()
    while True:
        files = _key_files(directory)
        if _install_key(directory, files[-1][0] + 1 if files else 1, key):
            return key
