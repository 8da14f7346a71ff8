"""Password hashing: argon2id, with bcrypt hashes still accepted and upgraded on login."""

from __future__ import annotations

from passlib.context import CryptContext

_context = CryptContext(schemes=["argon2", "bcrypt"], deprecated=["bcrypt"])


def hash_password(password: str) -> str:
    return str(_context.hash(password))


def verify_password(password: str, password_hash: str) -> tuple[bool, str | None]:
    """(valid, new hash to store or None)."""
    valid, new_hash = _context.verify_and_update(password, password_hash)
    return bool(valid), new_hash
