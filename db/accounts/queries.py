"""Reads of the accounts domain used on every request: the viewer's row, and the sessions
(refresh-token families) ended recently."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import Select, exists, func, select

from db.accounts.models import RefreshToken, User


def viewer_row(user_id: int) -> Select[Any]:
    """The whole users row of an active user (`me` reuses it: one statement for both)."""
    return select(User.__table__).where(User.id == user_id, User.is_active.is_(True))


def viewer_row_and_session(user_id: int, session_id: uuid.UUID) -> Select[Any]:
    """`viewer_row` plus `session_ended`: whether the access token's session (family) was
    revoked. Used only while this process's revocation cache is not live (still starting, or
    its LISTEN connection is down), so a request never costs a second statement."""
    ended = exists().where(
        RefreshToken.family_id == session_id, RefreshToken.revoked_at.is_not(None)
    )
    return viewer_row(user_id).add_columns(ended.label("session_ended"))


def sessions_ended_since(seconds: float) -> Select[Any]:
    """Families revoked in the last `seconds` (an access-token lifetime): the only ones whose
    access tokens can still be unexpired."""
    return (
        select(RefreshToken.family_id)
        .where(RefreshToken.revoked_at > func.now() - timedelta(seconds=seconds))
        .distinct()
    )
