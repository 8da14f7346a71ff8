"""Page queries: `page(slug)`, `pages`, and node registration. Anonymous users and
customers see published pages only; staff see all."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import strawberry

from db.pages import queries
from db.pages.codes import SLUG_MAX
from graph.context import Info
from graph.pages.loaders import PageByIdLoader
from graph.pages.types import Page
from graph.pagination import Connection, PageArgs, paginate
from graph.relay import register_node


async def _is_staff(info: Info) -> bool:
    viewer = await info.context.viewer()
    return bool(viewer and viewer.is_staff)


async def _pages_by_ids(info: Info, pks: list[int]) -> list[Page | None]:
    return list(await info.context.loader(PageByIdLoader).load_many(pks))


register_node("Page", _pages_by_ids)


@strawberry.type
class Query:
    @strawberry.field(
        description="A page by its slug; null when there is none or it is unpublished "
        "(staff see unpublished pages too)."
    )
    async def page(
        self,
        info: Info,
        slug: Annotated[str, strawberry.argument(description="The page's slug, like `faq`.")],
    ) -> Page | None:
        if not slug or len(slug) > SLUG_MAX:
            return None  # no page can have it
        row = await queries.page_by_slug(info.context.db, slug, await _is_staff(info))
        if row is None:
            return None
        page = Page.from_row(row)
        info.context.loader(PageByIdLoader).prime(page.pk, page)
        return page

    @strawberry.field(
        description="Pages by title: the published ones (staff see unpublished ones too)."
    )
    async def pages(
        self,
        info: Info,
        first: Annotated[int | None, strawberry.argument(description="Page size.")] = None,
        after: Annotated[str | None, strawberry.argument(description="Cursor.")] = None,
        last: Annotated[int | None, strawberry.argument(description="Page size.")] = None,
        before: Annotated[str | None, strawberry.argument(description="Cursor.")] = None,
    ) -> Connection[Page]:
        args = PageArgs(first, after, last, before)
        db = info.context.db
        staff = await _is_staff(info)

        async def count() -> int:
            return await queries.count_pages(db, staff)

        async def fetch(offset: int, limit: int) -> Sequence[Page]:
            items = [Page.from_row(r) for r in await queries.list_pages(db, staff, offset, limit)]
            loader = info.context.loader(PageByIdLoader)
            for page in items:
                loader.prime(page.pk, page)
            return items

        return await paginate(args, count, fetch)
