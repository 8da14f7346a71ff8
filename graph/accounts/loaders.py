"""Loaders of the accounts domain."""

from __future__ import annotations

from db.accounts import queries
from graph.accounts import types as account_types
from graph.loaders import ContextLoader

# Kept importable from here for the reviews domain, which joins these columns (the columns
# are defined with the statements, in db/accounts/queries.py).
USER_COLUMNS = queries.USER_COLUMNS


class UserByIdLoader(ContextLoader[int, "account_types.User | None"]):
    """Users by id as the viewer may see them (User.from_row): the public profile, plus the
    private fields for the user themself and for staff. Inactive users included: their
    reviews stay."""

    async def batch_load_fn(self, keys: list[int]) -> list[account_types.User | None]:
        viewer = await self.context.viewer()
        rows = await queries.users_by_ids(self.context.db, keys)
        from_row = account_types.User.from_row
        found = {row.id: from_row(row, viewer) for row in rows}
        return [found.get(k) for k in keys]
