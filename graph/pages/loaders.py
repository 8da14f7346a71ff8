"""Loaders of the pages domain."""

from __future__ import annotations

from db.pages import queries
from graph.loaders import ContextLoader
from graph.pages import types as page_types


class PageByIdLoader(ContextLoader[int, "page_types.Page | None"]):
    """Pages by id, as far as the viewer may see them: unpublished ones only for staff."""

    async def batch_load_fn(self, keys: list[int]) -> list[page_types.Page | None]:
        viewer = await self.context.viewer()
        is_staff = bool(viewer and viewer.is_staff)
        rows = await queries.pages_by_ids(self.context.db, keys, is_staff)
        from_row = page_types.Page.from_row
        found = {row.id: from_row(row) for row in rows}
        return [found.get(k) for k in keys]
