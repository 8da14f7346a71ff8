"""Page mutations (staff): thin shells around db.pages.actions."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry

from db.errors import DomainError
from db.pages import actions
from graph.auth import IsStaff
from graph.context import Info
from graph.errors import payload_errors
from graph.pages.enums import PageErrorCode
from graph.pages.inputs import CreatePageInput, DeletePageInput, UpdatePageInput
from graph.pages.types import DeletePagePayload, Page, PageError, PagePayload
from graph.relay import decode_id

_UPDATABLE = ("slug", "title", "body", "is_published")


def _errors(exc: DomainError) -> list[PageError]:
    return payload_errors(exc, PageError, PageErrorCode)


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Create a page (staff). Its Markdown is rendered and sanitized once, here.",
        permission_classes=[IsStaff],
    )
    async def create_page(
        self,
        info: Info,
        input: Annotated[
            CreatePageInput,
            strawberry.argument(description="The slug, title, Markdown text and visibility."),
        ],
    ) -> PagePayload:
        try:
            async with info.context.db.transaction() as session:
                row = await actions.create_page(
                    session,
                    slug=input.slug,
                    title=input.title,
                    body=input.body,
                    is_published=input.is_published,
                )
        except DomainError as exc:
            return PagePayload(page=None, errors=_errors(exc))
        info.context.reset_loaders()
        return PagePayload(page=Page.from_row(row), errors=[])

    @strawberry.mutation(
        description="Change a page (staff); omitted fields stay.", permission_classes=[IsStaff]
    )
    async def update_page(
        self,
        info: Info,
        input: Annotated[
            UpdatePageInput, strawberry.argument(description="The page and the fields to change.")
        ],
    ) -> PagePayload:
        changes: dict[str, Any] = {
            name: getattr(input, name)
            for name in _UPDATABLE
            if getattr(input, name) is not strawberry.UNSET
        }
        try:
            pk = decode_id(input.id, "Page", "id")
            async with info.context.db.transaction() as session:
                row = await actions.update_page(session, page_id=pk, changes=changes)
        except DomainError as exc:
            return PagePayload(page=None, errors=_errors(exc))
        info.context.reset_loaders()
        return PagePayload(page=Page.from_row(row), errors=[])

    @strawberry.mutation(description="Delete a page (staff).", permission_classes=[IsStaff])
    async def delete_page(
        self,
        info: Info,
        input: Annotated[DeletePageInput, strawberry.argument(description="The page to delete.")],
    ) -> DeletePagePayload:
        try:
            pk = decode_id(input.id, "Page", "id")
            async with info.context.db.transaction() as session:
                row = await actions.delete_page(session, page_id=pk)
        except DomainError as exc:
            return DeletePagePayload(page=None, deleted_page_id=None, errors=_errors(exc))
        info.context.reset_loaders()
        page = Page.from_row(row)
        return DeletePagePayload(page=page, deleted_page_id=page.id, errors=[])
