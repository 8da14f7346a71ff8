"""Reads of the pages domain: by id, by slug, and the list. Unpublished pages are read
only when the caller says the viewer is staff (`include_unpublished`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Row, func, select, true

from db.pages.models import Page
from db.session import Database

PAGE_COLUMNS = (
    Page.id,
    Page.slug,
    Page.title,
    Page.body,
    Page.body_html,
    Page.is_published,
    Page.created_at,
    Page.updated_at,
)
# The list's order; the primary key makes it total (cursors are offsets).
PAGE_ORDER = (Page.title, Page.id)


def visible(include_unpublished: bool) -> ColumnElement[bool]:
    return true() if include_unpublished else Page.is_published.is_(True)


async def pages_by_ids(
    db: Database, ids: Sequence[int], include_unpublished: bool
) -> Sequence[Row[Any]]:
    """Pages by id, those visible, in no particular order."""
    return await db.fetch(
        select(*PAGE_COLUMNS).where(Page.id.in_(list(ids)), visible(include_unpublished))
    )


async def page_by_slug(db: Database, slug: str, include_unpublished: bool) -> Row[Any] | None:
    return await db.fetch_one(
        select(*PAGE_COLUMNS).where(Page.slug == slug, visible(include_unpublished))
    )


async def count_pages(db: Database, include_unpublished: bool) -> int:
    stmt = select(func.count()).select_from(Page).where(visible(include_unpublished))
    return int(await db.scalar(stmt))


async def list_pages(
    db: Database, include_unpublished: bool, offset: int, limit: int
) -> Sequence[Row[Any]]:
    """A window of the visible pages, by title."""
    return await db.fetch(
        select(*PAGE_COLUMNS)
        .where(visible(include_unpublished))
        .order_by(*PAGE_ORDER)
        .offset(offset)
        .limit(limit)
    )
