"""Page actions: create, update, delete (staff only, checked by the API). Failures are
DomainErrors. The Markdown is rendered and sanitized here, once per write
(db/pages/render.py), and stored in `body_html`."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Row, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db.errors import DomainError, Validator
from db.pages.codes import BODY_MAX, SLUG_MAX, SLUG_PATTERN, TITLE_MAX
from db.pages.codes import PageErrorCode as Code
from db.pages.models import Page
from db.pages.queries import PAGE_COLUMNS
from db.pages.render import render_markdown

PAGE_FIELDS = frozenset({"slug", "title", "body", "is_published"})
# The input fields as clients name them, for errors.
INPUT_NAMES = {"slug": "slug", "title": "title", "body": "body", "is_published": "isPublished"}
SLUG_CONSTRAINT = "uq_pages_slug"
_SLUG = re.compile(SLUG_PATTERN)


def _validate(values: Mapping[str, Any]) -> dict[str, Any]:
    """The given fields, cleaned (slug and title trimmed); every failure at once."""
    v = Validator(Code.VALIDATION_ERROR)
    out: dict[str, Any] = {}
    for name, value in values.items():
        if value is None:
            v.add(INPUT_NAMES.get(name, name), "This field cannot be null.")
    if isinstance(slug := values.get("slug"), str):
        slug = slug.strip()
        v.check(
            0 < len(slug) <= SLUG_MAX and _SLUG.fullmatch(slug) is not None,
            "slug",
            f"The slug is 1 to {SLUG_MAX} lowercase letters, digits and single hyphens "
            "between them (like `refund-policy`).",
        )
        out["slug"] = slug
    if isinstance(title := values.get("title"), str):
        title = title.strip()
        v.check(1 <= len(title) <= TITLE_MAX, "title", f"The title is 1 to {TITLE_MAX} characters.")
        out["title"] = title
    if isinstance(body := values.get("body"), str):
        v.check(len(body) <= BODY_MAX, "body", f"The text is at most {BODY_MAX:,} characters.")
        out["body"] = body
    if isinstance(is_published := values.get("is_published"), bool):
        out["is_published"] = is_published
    v.raise_if_any()
    return out


async def _rendered(values: dict[str, Any]) -> dict[str, Any]:
    """`values` with `body_html` when the body is given. Rendered on a thread of its own,
    before the first statement (no connection is held meanwhile): markdown-it-py takes
    time quadratic in some inputs (1.5 s for 100,000 characters of `![`), and the event
    loop goes on answering other requests while it runs."""
    if "body" in values:
        values["body_html"] = await asyncio.to_thread(render_markdown, values["body"])
    return values


async def _slug_taken(session: AsyncSession, slug: str, other_than: int | None = None) -> None:
    stmt = select(Page.id).where(Page.slug == slug)
    if other_than is not None:
        stmt = stmt.where(Page.id != other_than)
    if await session.scalar(stmt) is not None:
        raise DomainError(Code.ALREADY_EXISTS, "Another page has this slug.", "slug")


async def _write(session: AsyncSession, stmt: Any) -> Row[Any] | None:
    """Run an INSERT/UPDATE ... RETURNING; a unique violation (two writers racing for one
    slug past the check) is ALREADY_EXISTS too."""
    try:
        async with session.begin_nested():
            return (await session.execute(stmt)).one_or_none()
    except IntegrityError as exc:
        if SLUG_CONSTRAINT in str(exc.orig):
            raise DomainError(Code.ALREADY_EXISTS, "Another page has this slug.", "slug") from exc
        raise


async def create_page(
    session: AsyncSession, *, slug: str, title: str, body: str, is_published: bool = False
) -> Row[Any]:
    """The new page's row (`PAGE_COLUMNS`)."""
    values = await _rendered(
        _validate({"slug": slug, "title": title, "body": body, "is_published": is_published})
    )
    await _slug_taken(session, values["slug"])
    row = await _write(session, insert(Page).values(**values).returning(*PAGE_COLUMNS))
    assert row is not None  # an INSERT returns its row
    return row


async def update_page(
    session: AsyncSession, *, page_id: int, changes: Mapping[str, Any]
) -> Row[Any]:
    """Change the given fields (omitted ones stay); the page's row after the change."""
    unknown = set(changes) - PAGE_FIELDS
    if unknown:
        raise ValueError(f"unknown page fields: {sorted(unknown)}")
    values = await _rendered(_validate(changes))
    found = await session.scalar(select(Page.id).where(Page.id == page_id).with_for_update())
    if found is None:
        raise DomainError(Code.NOT_FOUND, "No such page.", "id")
    if "slug" in values:
        await _slug_taken(session, values["slug"], other_than=page_id)
    stmt = (
        update(Page)
        .where(Page.id == page_id)
        .values(**values, updated_at=func.now())
        .returning(*PAGE_COLUMNS)
    )
    row = await _write(session, stmt)
    assert row is not None  # locked above
    return row


async def delete_page(session: AsyncSession, *, page_id: int) -> Row[Any]:
    """Delete a page; its row as it was."""
    stmt: Any = delete(Page).where(Page.id == page_id).returning(*PAGE_COLUMNS)
    row: Row[Any] | None = (await session.execute(stmt)).one_or_none()
    if row is None:
        raise DomainError(Code.NOT_FOUND, "No such page.", "id")
    return row
