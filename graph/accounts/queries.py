"""Account queries."""

from __future__ import annotations

import strawberry
from sqlalchemy import select

from db.accounts.models import User as UserRow
from graph.accounts.loaders import UserByIdLoader
from graph.accounts.types import Me, User
from graph.context import Info
from graph.relay import register_node


async def _users_by_ids(info: Info, pks: list[int]) -> list[User | None]:
    return list(await info.context.loader(UserByIdLoader).load_many(pks))


register_node("User", _users_by_ids)


@strawberry.type
class Query:
    @strawberry.field(description="The signed-in user, or null for anonymous requests.")
    async def me(self, info: Info) -> Me | None:
        viewer = await info.context.viewer()
        if viewer is None:
            return None
        row = await info.context.db.fetch_one(
            select(UserRow.__table__).where(UserRow.id == viewer.id)
        )
        return None if row is None else Me.from_row(row)
