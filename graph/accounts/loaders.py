"""Loaders of the accounts domain."""

from __future__ import annotations

from sqlalchemy import select

from db.accounts.models import User as UserRow
from graph.accounts.types import User
from graph.loaders import ContextLoader

USER_COLUMNS = (
    UserRow.id,
    UserRow.username,
    UserRow.full_name,
    UserRow.avatar_url,
    UserRow.bio,
    UserRow.role,
    UserRow.created_at,
)


class UserByIdLoader(ContextLoader[int, User | None]):
    """Users by id as the viewer may see them (User.from_row): the public profile, plus the
    private fields for the user themself and for staff. Inactive users included: their
    reviews stay."""

    async def batch_load_fn(self, keys: list[int]) -> list[User | None]:
        viewer = await self.context.viewer()
        rows = await self.context.db.fetch(select(*USER_COLUMNS).where(UserRow.id.in_(keys)))
        found = {row.id: User.from_row(row, viewer) for row in rows}
        return [found.get(k) for k in keys]
