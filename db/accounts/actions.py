"""Account actions: plain async functions on a session; failures are DomainErrors."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import (
    ColumnElement,
    Select,
    case,
    delete,
    exists,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db.accounts import passwordtokens, tokens
from db.accounts.codes import AccountErrorCode as Code
from db.accounts.codes import Gender, Role
from db.accounts.models import User
from db.accounts.passwords import check_password, hash_password, verify_password
from db.accounts.phones import MAX_PHONE_INPUT, login_phone, normalize_phone
from db.booking.actions import release_hold
from db.booking.models import SeatHold
from db.catalog.models import Favorite, WatchlistEntry
from db.errors import DomainError, Validator
from db.orders.models import Order
from db.reviews.models import Review
from db.urls import is_http_url

USERNAME_RE = re.compile(r"^[a-z0-9_.]{3,32}$")
USERNAME_RULE = "The username must be 3 to 32 characters of a-z, 0-9, '_' and '.'."
MAX_LOGIN_LENGTH = 320
PROFILE_FIELDS = frozenset(
    {
        "username",
        "email",
        "phone",
        "sms_opt_in",
        "full_name",
        "birth_date",
        "gender",
        "avatar_url",
        "bio",
    }
)
DEFAULT_PHONE_REGION = "US"
PHONE_RULE = (
    "Not a valid phone number: give it with its country code (+33 6 12 34 56 78) or as a "
    "national number of {region}."
)
PHONE_TAKEN = "This phone number is already registered."


def _normalize_email(raw: str, v: Validator, field: str = "email") -> str:
    try:
        return str(validate_email(raw.strip(), check_deliverability=False).normalized)
    except EmailNotValidError as exc:
        v.add(field, f"Not a valid e-mail address: {exc}")
        return raw


def _normalize_phone(raw: str | None, region: str, v: Validator) -> str | None:
    """The E.164 form of an optional phone: None (not given, empty or blank) clears it."""
    if raw is None or not raw.strip():
        return None
    phone = normalize_phone(raw, region)
    v.check(phone is not None, "phone", PHONE_RULE.format(region=region))
    return phone


def login_lookup(login: str, phone_region: str) -> Select[User]:
    """The account a sign-in login names: its username, e-mail or phone number (any format
    that normalises to the stored E.164). A username wins over an e-mail and an e-mail over a
    phone (an all-digit username can read as a phone number). The same single statement runs
    whether the login looks like a phone or not (no timing difference)."""
    # A login that is no phone number is compared as it is: stored phones are E.164, and
    # any string equal to one normalises to itself, so it can only match its own number.
    phone = login_phone(login, phone_region) or login[:MAX_PHONE_INPUT]
    match: ColumnElement[bool] = or_(
        User.username == login, User.email == login, User.phone == literal(phone)
    )
    rank = case((User.username == login, 0), (User.email == login, 1), else_=2)
    return select(User).where(match).order_by(rank).limit(1)


async def register(
    session: AsyncSession,
    *,
    username: str,
    email: str,
    password: str,
    full_name: str | None = None,
    role: str = "CUSTOMER",
    phone: str | None = None,
    phone_region: str = DEFAULT_PHONE_REGION,
) -> User:
    v = Validator()
    username = username.strip()
    v.check(bool(USERNAME_RE.match(username.lower())), "username", USERNAME_RULE)
    email = _normalize_email(email, v)
    normal_phone = _normalize_phone(phone, phone_region, v)
    check_password(password, v)
    if full_name is not None:
        v.check(len(full_name) <= 200, "fullName", "The full name is at most 200 characters.")
    v.raise_if_any()
    same = (User.username == username) | (User.email == email)
    if normal_phone is not None:
        same = same | (User.phone == normal_phone)
    taken = (await session.execute(select(User.username, User.email).where(same))).all()
    for row in taken:
        if row.username.lower() == username.lower():
            raise DomainError(Code.ALREADY_EXISTS, "This username is taken.", "username")
    for row in taken:
        if row.email.lower() == email.lower():
            raise DomainError(Code.ALREADY_EXISTS, "This e-mail is already registered.", "email")
    if taken:
        raise DomainError(Code.ALREADY_EXISTS, PHONE_TAKEN, "phone")
    user = User(
        username=username,
        email=email,
        phone=normal_phone,
        password_hash=hash_password(password),
        full_name=full_name,
        role=role,
    )
    session.add(user)
    await _flush_unique(session)
    return user


async def sign_up(
    session: AsyncSession,
    *,
    username: str,
    email: str,
    password: str,
    full_name: str | None,
    refresh_ttl_days: int,
    phone: str | None = None,
    phone_region: str = DEFAULT_PHONE_REGION,
) -> tuple[User, tokens.IssuedToken]:
    """Register and sign in: the new user and a refresh token of a new family."""
    user = await register(
        session,
        username=username,
        email=email,
        password=password,
        full_name=full_name,
        phone=phone,
        phone_region=phone_region,
    )
    token = await tokens.issue_refresh_token(session, user.id, ttl_days=refresh_ttl_days)
    return user, token


async def _flush_unique(session: AsyncSession) -> None:
    """Flush; a unique violation (two requests racing for one name, e-mail or phone number)
    is ALREADY_EXISTS."""
    try:
        await session.flush()
    except IntegrityError as exc:
        text = str(exc.orig)
        if "uq_users_username" in text:
            raise DomainError(Code.ALREADY_EXISTS, "This username is taken.", "username") from exc
        if "uq_users_email" in text:
            raise DomainError(
                Code.ALREADY_EXISTS, "This e-mail is already registered.", "email"
            ) from exc
        if "uq_users_phone" in text:
            raise DomainError(Code.ALREADY_EXISTS, PHONE_TAKEN, "phone") from exc
        raise


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password("not-a-real-password")


async def authenticate(
    session: AsyncSession,
    *,
    login: str,
    password: str,
    phone_region: str = DEFAULT_PHONE_REGION,
) -> User:
    """The user whose username, e-mail or phone number is `login` and whose password
    matches (`login_lookup`).

    Unknown login and wrong password give the same error (and cost the same hash check), so
    a client cannot probe which accounts exist. A bcrypt hash is upgraded to argon2id."""
    login = login.strip()
    user = None
    if 0 < len(login) <= MAX_LOGIN_LENGTH and len(password) <= 1024:
        user = await session.scalar(login_lookup(login, phone_region))
    if user is None:
        verify_password(password, _dummy_hash())
        raise _bad_credentials()
    valid, new_hash = verify_password(password, user.password_hash)
    if not valid:
        raise _bad_credentials()
    if not user.is_active:
        raise DomainError(Code.ACCOUNT_DISABLED, "This account is disabled.")
    if new_hash is not None:
        user.password_hash = new_hash
    user.last_login_at = datetime.now(UTC)
    await session.flush()
    await session.refresh(user)
    return user


def _bad_credentials() -> DomainError:
    return DomainError(Code.INVALID_CREDENTIALS, "The login or the password is wrong.")


async def login(
    session: AsyncSession,
    *,
    login: str,
    password: str,
    refresh_ttl_days: int,
    phone_region: str = DEFAULT_PHONE_REGION,
) -> tuple[User, tokens.IssuedToken]:
    """Sign in: the user and a refresh token of a new family."""
    user = await authenticate(session, login=login, password=password, phone_region=phone_region)
    token = await tokens.issue_refresh_token(session, user.id, ttl_days=refresh_ttl_days)
    return user, token


async def _get_user(session: AsyncSession, user_id: int, field: str | None = None) -> User:
    user = await session.get(User, user_id, with_for_update=True)
    if user is None:
        raise DomainError(Code.NOT_FOUND, "No such user.", field)
    return user


def _check_url(value: str, v: Validator, field: str) -> None:
    v.check(
        is_http_url(value) and len(value) <= 500,
        field,
        "Give an http(s) URL of at most 500 characters (spaces, quotes, angle brackets and"
        " other characters a URL does not hold percent-encoded).",
    )


def _check_sms_opt_in(values: dict[str, Any], user: User, v: Validator) -> None:
    """Text messages need a phone: opting in without one is refused, and a phone removed
    takes the opt-in with it (null opts out)."""
    phone = values.get("phone", user.phone)
    if "sms_opt_in" in values:
        values["sms_opt_in"] = bool(values["sms_opt_in"])
        v.check(
            phone is not None or not values["sms_opt_in"],
            "smsOptIn",
            "Give a phone number to receive text messages.",
        )
    elif phone is None:
        values["sms_opt_in"] = False


async def update_profile(
    session: AsyncSession,
    *,
    user_id: int,
    changes: Mapping[str, Any],
    phone_region: str = DEFAULT_PHONE_REGION,
) -> User:
    """Change the given profile fields (a None value clears an optional field; an empty
    phone clears it too, and with it the SMS opt-in)."""
    unknown = set(changes) - PROFILE_FIELDS
    if unknown:
        raise ValueError(f"not profile fields: {sorted(unknown)}")
    user = await _get_user(session, user_id)
    v = Validator()
    values = dict(changes)
    if "username" in values:
        username = (values["username"] or "").strip()
        v.check(bool(USERNAME_RE.match(username.lower())), "username", USERNAME_RULE)
        values["username"] = username
    if "email" in values:
        values["email"] = _normalize_email(values["email"] or "", v)
    if "phone" in values:
        values["phone"] = _normalize_phone(values["phone"], phone_region, v)
    _check_sms_opt_in(values, user, v)
    if values.get("full_name") is not None:
        values["full_name"] = values["full_name"].strip() or None
        v.check(len(values["full_name"] or "") <= 200, "fullName", "At most 200 characters.")
    if values.get("bio") is not None:
        v.check(len(values["bio"]) <= 2000, "bio", "At most 2000 characters.")
    if values.get("avatar_url") is not None:
        _check_url(values["avatar_url"], v, "avatarUrl")
    birth = values.get("birth_date")
    if birth is not None:
        v.check(
            isinstance(birth, date) and date(1900, 1, 1) <= birth <= datetime.now(UTC).date(),
            "birthDate",
            "The birth date must be between 1900-01-01 and today.",
        )
    if values.get("gender") is not None:
        v.check(values["gender"] in Gender.__members__, "gender", "Unknown gender.")
        values["gender"] = str(values["gender"])
    v.raise_if_any()
    taken_messages = {
        "username": "This username is taken.",
        "email": "This e-mail is already registered.",
        "phone": PHONE_TAKEN,
    }
    for key, message in taken_messages.items():
        if (
            key in values
            and values[key] is not None
            and str(values[key]).lower() != str(getattr(user, key)).lower()
        ):
            column = getattr(User, key)
            taken = await session.scalar(
                select(User.id).where(column == values[key], User.id != user.id)
            )
            if taken is not None:
                raise DomainError(Code.ALREADY_EXISTS, message, key)
    for key, value in values.items():
        setattr(user, key, value)
    await _flush_unique(session)
    await session.refresh(user)
    return user


async def change_password(
    session: AsyncSession,
    *,
    user_id: int,
    current_password: str,
    new_password: str,
    refresh_ttl_days: int,
) -> tuple[User, tokens.IssuedToken]:
    """Set a new password and end every other session: all refresh tokens are revoked and
    the caller gets a fresh one."""
    user = await _get_user(session, user_id)
    valid, _ = verify_password(current_password, user.password_hash)
    if not valid:
        raise DomainError(
            Code.INVALID_CREDENTIALS, "The current password is wrong.", "currentPassword"
        )
    v = Validator()
    check_password(new_password, v, "newPassword")
    v.check(
        new_password != current_password,
        "newPassword",
        "The new password must differ from the current one.",
    )
    v.raise_if_any()
    user.password_hash = hash_password(new_password)
    await passwordtokens.void_password_tokens(session, user.id)
    await tokens.revoke_all(session, user.id)
    token = await tokens.issue_refresh_token(session, user.id, ttl_days=refresh_ttl_days)
    await session.refresh(user)
    return user, token


async def set_user_role(session: AsyncSession, *, actor_id: int, user_id: int, role: str) -> User:
    """An admin changes a user's role; an admin cannot demote themself (no lock-out)."""
    if role not in Role.__members__:
        raise DomainError(Code.VALIDATION_ERROR, "Unknown role.", "role")
    user = await _get_user(session, user_id, "userId")
    if user.id == actor_id and role != Role.ADMIN:
        raise DomainError(
            Code.VALIDATION_ERROR, "You cannot remove your own administrator role.", "role"
        )
    user.role = role
    await session.flush()
    await session.refresh(user)
    return user


async def set_user_active(
    session: AsyncSession, *, actor_id: int, user_id: int, is_active: bool
) -> User:
    """An admin (de)activates an account; deactivation ends every session of it."""
    user = await _get_user(session, user_id, "userId")
    if user.id == actor_id and not is_active:
        raise DomainError(
            Code.VALIDATION_ERROR, "You cannot deactivate your own account.", "isActive"
        )
    user.is_active = is_active
    if not is_active:
        await tokens.revoke_all(session, user.id)
    await session.flush()
    await session.refresh(user)
    return user


ADMIN_FIELDS = frozenset({"full_name", "email", "phone", "role", "is_active"})
DELETED_USERNAME = "deleted-{id}"
# RFC 2606 reserves ".invalid": such an address can never be delivered to or registered
# (the e-mail column is NOT NULL and unique, so a placeholder, not NULL).
DELETED_EMAIL = "deleted-{id}@deleted.invalid"


def is_anonymised(user: User) -> bool:
    return user.username == DELETED_USERNAME.format(id=user.id)


async def _check_not_last_admin(session: AsyncSession, user: User, field: str) -> None:
    """The last active administrator may not be removed (no lock-out)."""
    if user.role != Role.ADMIN or not user.is_active:
        return
    others = await session.scalar(
        select(func.count())
        .select_from(User)
        .where(User.role == Role.ADMIN, User.is_active, User.id != user.id)
    )
    if not others:
        raise DomainError(
            Code.VALIDATION_ERROR, "The last active administrator cannot be removed.", field
        )


async def update_user(
    session: AsyncSession,
    *,
    actor_id: int,
    user_id: int,
    changes: Mapping[str, Any],
    phone_region: str = DEFAULT_PHONE_REGION,
) -> User:
    """An admin changes a user's name, e-mail, phone, role or active flag, in one transaction.
    The role and active rules are those of `set_user_role`/`set_user_active` (an admin cannot
    demote or deactivate themself; deactivation ends every session)."""
    unknown = set(changes) - ADMIN_FIELDS
    if unknown:
        raise ValueError(f"not admin-editable fields: {sorted(unknown)}")
    user = await _get_user(session, user_id, "userId")
    if is_anonymised(user):
        raise DomainError(Code.NOT_FOUND, "No such user.", "userId")
    values = dict(changes)
    v = Validator()
    if "email" in values:
        v.check(values["email"] is not None, "email", "The e-mail cannot be cleared.")
    if "role" in values:
        v.check(values["role"] in Role.__members__, "role", "Unknown role.")
    if "is_active" in values:
        v.check(values["is_active"] is not None, "isActive", "Give true or false.")
    v.raise_if_any()
    profile: dict[str, Any] = {k: values[k] for k in ("full_name", "email", "phone") if k in values}
    if profile:
        user = await update_profile(
            session, user_id=user.id, changes=profile, phone_region=phone_region
        )
    if "role" in values and values["role"] != user.role:
        user = await set_user_role(session, actor_id=actor_id, user_id=user.id, role=values["role"])
    if "is_active" in values and values["is_active"] != user.is_active:
        user = await set_user_active(
            session, actor_id=actor_id, user_id=user.id, is_active=values["is_active"]
        )
    return user


async def _anonymise(session: AsyncSession, user: User) -> User:
    """Wipe the account's personal data in place (privacy law: erasure), keeping the row so
    that orders (accounting) and reviews (now anonymous) still point at it. Idempotent."""
    if not is_anonymised(user):
        user.username = DELETED_USERNAME.format(id=user.id)
        user.email = DELETED_EMAIL.format(id=user.id)
        # A random secret nobody knows: no password can match (the column is NOT NULL).
        user.password_hash = hash_password(secrets.token_urlsafe(32))
    user.phone = None
    user.sms_opt_in = False
    user.full_name = None
    user.avatar_url = None
    user.bio = None
    user.birth_date = None
    user.gender = None
    user.is_active = False
    await session.execute(update(Review).where(Review.user_id == user.id).values(is_anonymous=True))
    # What the account kept for itself goes: favorites and the watchlist, and seats held but
    # not checked out (freed and announced on the seat maps now, not when the hold expires).
    # A checked-out order awaiting payment stays (accounting) and expires as usual.
    await session.execute(delete(Favorite).where(Favorite.user_id == user.id))
    await session.execute(delete(WatchlistEntry).where(WatchlistEntry.user_id == user.id))
    unordered = select(SeatHold.id).where(
        SeatHold.user_id == user.id, ~exists().where(Order.hold_id == SeatHold.id)
    )
    for hold_id in (await session.scalars(unordered.order_by(SeatHold.id))).all():
        await release_hold(session, user_id=user.id, hold_id=hold_id)
    await passwordtokens.void_password_tokens(session, user.id)
    await tokens.revoke_all(session, user.id)
    await session.flush()
    await session.refresh(user)
    return user


async def delete_user(session: AsyncSession, *, actor_id: int, user_id: int) -> User:
    """An admin erases an account (anonymises it; see `_anonymise`). Not their own: that is
    `delete_own_account`, with the password."""
    user = await _get_user(session, user_id, "userId")
    if user.id == actor_id:
        raise DomainError(
            Code.VALIDATION_ERROR,
            "You cannot delete your own account here; use deleteMyAccount.",
            "userId",
        )
    await _check_not_last_admin(session, user, "userId")
    return await _anonymise(session, user)


async def delete_own_account(session: AsyncSession, *, user_id: int, password: str) -> User:
    """A user erases their own account, confirming with their password."""
    user = await _get_user(session, user_id)
    valid, _ = verify_password(password, user.password_hash)
    if not valid:
        raise DomainError(Code.INVALID_CREDENTIALS, "The password is wrong.", "password")
    await _check_not_last_admin(session, user, "password")
    return await _anonymise(session, user)


async def create_user(
    session: AsyncSession,
    *,
    username: str,
    email: str,
    full_name: str | None,
    phone: str | None,
    role: str,
    base_url: str,
    ttl: timedelta,
    phone_region: str = DEFAULT_PHONE_REGION,
) -> tuple[User, str]:
    """An administrator creates an account: it has no usable password until its owner sets
    one through the link e-mailed to them (written to the outbox in this transaction).
    Returns the user and the link's token."""
    if role not in Role.__members__:
        raise DomainError(Code.VALIDATION_ERROR, "Unknown role.", "role")
    user = await register(
        session,
        username=username,
        email=email,
        # Nobody knows it: the account cannot sign in before its password is set.
        password=secrets.token_urlsafe(32),
        full_name=full_name,
        role=role,
        phone=phone,
        phone_region=phone_region,
    )
    raw = await passwordtokens.send_password_link(
        session, user, purpose=passwordtokens.Purpose.SET, ttl=ttl, base_url=base_url
    )
    return user, raw


async def request_password_reset(
    session: AsyncSession,
    *,
    login: str,
    base_url: str,
    ttl: timedelta,
    phone_region: str = DEFAULT_PHONE_REGION,
) -> str | None:
    """Someone forgot the password of the account `login` names (username, e-mail or
    phone): a reset link goes to its e-mail. The caller answers alike whether or not there
    is such an account (no account discovery); the token is returned for tests only."""
    if not login or len(login) > MAX_LOGIN_LENGTH:
        return None
    user = await session.scalar(login_lookup(login.strip(), phone_region))
    if user is None or not user.is_active or is_anonymised(user):
        return None
    return await passwordtokens.send_password_link(
        session, user, purpose=passwordtokens.Purpose.RESET, ttl=ttl, base_url=base_url
    )


async def create_admin(session: AsyncSession, *, username: str, email: str, password: str) -> User:
    """The first admin (CLI). An existing user of that name is promoted instead."""
    existing = await session.scalar(
        select(User).where(func.lower(User.username) == username.lower())
    )
    if existing is not None:
        existing.role = "ADMIN"
        existing.password_hash = hash_password(password)
        return existing
    return await register(session, username=username, email=email, password=password, role="ADMIN")
