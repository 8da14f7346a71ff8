"""Reads of the accounts domain: the viewer's row (every signed-in request), users by id
and the administrators' user list, and the sessions (refresh-token families) ended recently."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, bindparam, exists, func, or_, select, true

from db.accounts.models import RefreshToken, User
from db.search import contains_pattern
from db.session import Database, Record

# What a `User` object is built from (the public profile and the fields the user themself
# and staff see); other domains join these columns to their rows (review authors).
USER_COLUMNS = (
    User.id,
    User.username,
    User.full_name,
    User.avatar_url,
    User.bio,
    User.phone,
    User.role,
    User.created_at,
)
# The public profile: what anyone may see of a user (graph's User.from_row reads nothing
# else for a viewer who is neither the user nor staff).
PUBLIC_USER_COLUMNS = (User.id, User.full_name, User.avatar_url)


@cache
def _viewer_statement(with_session: bool) -> Select[Any]:
    """The whole row of an active user (`user_id`), and with `with_session` whether that
    session (`session_id`, a refresh-token family) was revoked: built once, run on the
    driver (`Database.fetch_static`), as every signed-in request runs it."""
    user_id = bindparam("user_id", type_=User.id.type)
    stmt = select(User.__table__).where(User.id == user_id, User.is_active.is_(True))
    if not with_session:
        return stmt
    family = bindparam("session_id", type_=RefreshToken.family_id.type)
    ended = exists().where(RefreshToken.family_id == family, RefreshToken.revoked_at.is_not(None))
    return stmt.add_columns(ended.label("session_ended"))


async def viewer_row(
    db: Database, user_id: int, *, check_session: uuid.UUID | None = None
) -> Record | None:
    """The whole users row of an active user, or None (`me` reuses it: one statement for
    both). With `check_session`, the row also says (`session_ended`) whether that session
    (refresh-token family) was revoked: used only while the process's revocation cache is
    not live, so a request never costs a second statement."""
    if check_session is None:
        rows = await db.fetch_static(_viewer_statement(False), {"user_id": user_id})
    else:
        params = {"user_id": user_id, "session_id": check_session}
        rows = await db.fetch_static(_viewer_statement(True), params)
    return rows[0] if rows else None


async def user_row(db: Database, user_id: int) -> Row[Any] | None:
    """The whole users row (active or not), or None."""
    return await db.fetch_one(select(User.__table__).where(User.id == user_id))


async def users_by_ids(db: Database, user_ids: Sequence[int]) -> Sequence[Row[Any]]:
    """`USER_COLUMNS` of these users (inactive ones included), in no particular order."""
    return await db.fetch(select(*USER_COLUMNS).where(User.id.in_(user_ids)))


def _users_where(search: str | None, role: str | None) -> ColumnElement[bool]:
    where: ColumnElement[bool] = true()
    if search:
        pattern = contains_pattern(search)
        # Names are matched as the movie search matches titles: case and accents aside
        # ("Zoe" finds "Zoë"); usernames and e-mail addresses by case only.
        folded = func.marquee_unaccent(func.lower(pattern))
        where = or_(
            User.username.ilike(pattern),
            User.email.ilike(pattern),
            func.marquee_unaccent(func.lower(User.full_name)).like(folded, escape="\\"),
        )
        # Phones are stored as E.164 digits: "06 12 34" or "+33 6 12" finds them by their
        # digits (at least four, so that a year or a short number does not match everyone).
        digits = "".join(c for c in search if c.isdigit())
        if len(digits) >= 4:
            where = where | User.phone.contains(digits.lstrip("0"), autoescape=True)
    if role is not None:
        where = where & (User.role == role)
    return where


async def count_users(db: Database, *, search: str | None, role: str | None) -> int:
    """How many users contain `search` in their username, e-mail or full name (accents aside),
    or its digits in their phone number, and have `role` (None: any)."""
    stmt = select(func.count()).select_from(User).where(_users_where(search, role))
    return int(await db.scalar(stmt))


async def users_page(
    db: Database, *, search: str | None, role: str | None, offset: int, limit: int
) -> Sequence[Row[Any]]:
    """`USER_COLUMNS` of a page of the users `count_users` counts, oldest first."""
    stmt = (
        select(*USER_COLUMNS)
        .where(_users_where(search, role))
        .order_by(User.id)
        .offset(offset)
        .limit(limit)
    )
    return await db.fetch(stmt)


async def sessions_ended_since(db: Database, seconds: float) -> list[str]:
    """Families (UUIDs as hex) revoked in the last `seconds` (an access-token lifetime): the
    only ones whose access tokens can still be unexpired."""
    stmt = (
        select(RefreshToken.family_id)
        .where(RefreshToken.revoked_at > func.now() - timedelta(seconds=seconds))
        .distinct()
    )
    return [row.family_id.hex for row in await db.fetch(stmt)]
