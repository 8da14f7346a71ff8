"""Password hashing: argon2id, with bcrypt hashes still accepted and upgraded on login."""

from __future__ import annotations

from passlib.context import CryptContext

from db.errors import Validator

_context = CryptContext(schemes=["argon2", "bcrypt"], deprecated=["bcrypt"])


def hash_password(password: str) -> str:
    return str(_context.hash(password))


# No stored password is longer than registration allows (128 characters); passlib refuses
# anything over 4 KiB with an exception. A longer one is simply wrong.
MAX_PASSWORD_BYTES = 1024


def verify_password(password: str, password_hash: str) -> tuple[bool, str | None]:
    """(valid, new hash to store or None). A password too long to be anyone's is wrong,
    after the same hash check as any other (no faster answer to learn from)."""
    if len(password.encode("utf-8", "surrogatepass")) > MAX_PASSWORD_BYTES:
        _context.verify(password[:128], password_hash)
        return False, None
    valid, new_hash = _context.verify_and_update(password, password_hash)
    return bool(valid), new_hash


def check_password(password: str, v: Validator, field: str = "password") -> None:
    """The rule for a new password (sign-up, change, set by link)."""
    v.check(8 <= len(password) <= 128, field, "The password must be 8 to 128 characters long.")
