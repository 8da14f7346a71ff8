"""Account tables: users and hashed refresh tokens grouped in rotation families."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import CITEXT
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, Timestamps


class User(Timestamps, Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('CUSTOMER', 'MANAGER', 'ADMIN')", name="role"),
        CheckConstraint("loyalty_points >= 0", name="loyalty_points"),
        # E.164 (db/accounts/phones.py normalises every number before it is stored).
        CheckConstraint(r"phone ~ '^\+[1-9][0-9]{1,14}$'", name="phone_e164"),
        # One account per phone number; most accounts have none (migration 0015_phone).
        Index("uq_users_phone", "phone", unique=True, postgresql_where=text("phone IS NOT NULL")),
        # Text messages need a number to go to (migration 0019_sms).
        CheckConstraint("phone IS NOT NULL OR NOT sms_opt_in", name="sms_opt_in_phone"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    username: Mapped[str] = mapped_column(CITEXT, unique=True, nullable=False)
    email: Mapped[str] = mapped_column(CITEXT, unique=True, nullable=False)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    full_name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(16))
    # The customer agreed to booking confirmations and cancellation notices by SMS.
    sms_opt_in: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    birth_date: Mapped[date | None] = mapped_column(Date)
    gender: Mapped[str | None] = mapped_column(String(16))
    avatar_url: Mapped[str | None] = mapped_column(String(500))
    bio: Mapped[str | None] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(16), nullable=False, server_default="CUSTOMER")
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="true")
    loyalty_points: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    total_spent: Mapped[Decimal] = mapped_column(Numeric(12, 2), nullable=False, server_default="0")
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Access tokens issued before this instant are refused (logout allSessions, password change).
    sessions_valid_after: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RefreshToken(Base):
    """One issued refresh token. Rotation keeps the family id; re-use revokes the family."""

    __tablename__ = "refresh_tokens"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True, nullable=False
    )
    family_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True, nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    rotated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        # Each instance loads the sessions ended in the last access-token lifetime at start.
        Index(
            "ix_refresh_tokens_revoked_at",
            "revoked_at",
            postgresql_where=text("revoked_at IS NOT NULL"),
        ),
    )


class PasswordToken(Base):
    """A one-time link to set a password: SET for an account an administrator created
    (createUser), RESET for a forgotten password. Only the SHA-256 of the token is kept; the
    e-mail carries the token itself (db/accounts/passwordtokens.py, docs/accounts.md)."""

    __tablename__ = "password_tokens"
    __table_args__ = (CheckConstraint("purpose IN ('SET', 'RESET')", name="purpose"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True, nullable=False
    )
    purpose: Mapped[str] = mapped_column(String(8), nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    # Set when the token was used, or when a newer one, a sign-out everywhere or a password
    # change made it void: a token works once, and only the latest of an account works.
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RateLimit(Base):
    """Fixed-window attempt counters (login, registration), shared by every instance.

    UNLOGGED: counters are cheap to lose in a crash and must not cost WAL writes."""

    __tablename__ = "rate_limits"
    __table_args__ = {"prefixes": ["UNLOGGED"]}

    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    hits: Mapped[int] = mapped_column(Integer, nullable=False)


class LoginBackoff(Base):
    """Consecutive failed sign-ins per (account, client address) and when the next attempt
    may come (exponential backoff, db/accounts/ratelimit.py). UNLOGGED like rate_limits."""

    __tablename__ = "login_backoff"
    __table_args__ = {"prefixes": ["UNLOGGED"]}

    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, nullable=False)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
