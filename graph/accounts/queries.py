"""Account queries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import strawberry

from db.accounts import queries
from graph.accounts.enums import Role
from graph.accounts.loaders import UserByIdLoader
from graph.accounts.me import Me
from graph.accounts.types import User
from graph.auth import IsAdmin
from graph.context import Info
from graph.errors import search_text
from graph.pagination import Connection, PageArgs, paginate
from graph.relay import register_node


async def _users_by_ids(info: Info, pks: list[int]) -> list[User | None]:
    return list(await info.context.loader(UserByIdLoader).load_many(pks))


register_node("User", _users_by_ids)


@strawberry.type
class Query:
    @strawberry.field(description="The signed-in user, or null for anonymous requests.")
    async def me(self, info: Info) -> Me | None:
        ctx = info.context
        viewer = await ctx.viewer()
        if viewer is None:
            return None
        row = ctx.viewer_row
        if row is None:  # the viewer was set by a mutation in this request: read it fresh
            row = await queries.user_row(ctx.db, viewer.id)
        return None if row is None else Me.from_row(row)

    @strawberry.field(
        description="All users, oldest first (administrators only).",
        permission_classes=[IsAdmin],
    )
    async def users(
        self,
        info: Info,
        search: Annotated[
            str | None,
            strawberry.argument(
                description="Part of the username, e-mail or full name (case and accents "
                "ignored; at most 200 characters), or at least four digits of the phone "
                "number (spaces and signs ignored)."
            ),
        ] = None,
        role: Annotated[Role | None, strawberry.argument(description="Only this role.")] = None,
        first: Annotated[int | None, strawberry.argument(description="Page size (≤ 100).")] = None,
        after: Annotated[str | None, strawberry.argument(description="Cursor.")] = None,
        last: Annotated[
            int | None, strawberry.argument(description="Page size from the end.")
        ] = None,
        before: Annotated[str | None, strawberry.argument(description="Cursor.")] = None,
    ) -> Connection[User]:
        args = PageArgs(first=first, after=after, last=last, before=before)
        search = search_text(search)
        db = info.context.db
        viewer = await info.context.viewer()
        role_name = None if role is None else role.value

        async def count() -> int:
            return await queries.count_users(db, search=search, role=role_name)

        async def fetch(offset: int, limit: int) -> Sequence[User]:
            rows = await queries.users_page(
                db, search=search, role=role_name, offset=offset, limit=limit
            )
            return [User.from_row(row, viewer) for row in rows]

        return await paginate(args, count, fetch)
