"""GraphQL types of the pages domain."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from graph.pages.enums import PageErrorCode
from graph.relay import Node, to_global_id


@strawberry.type(
    description="A page of the cinema chain's own content (house rules, FAQ, policies), "
    "written in Markdown. Unpublished pages are seen only by staff."
)
class Page(Node):
    pk: strawberry.Private[int]
    slug: str = strawberry.field(
        description="Unique name in URLs: lowercase letters, digits and hyphens."
    )
    title: str = strawberry.field(description="The title (1 to 200 characters).")
    body: str = strawberry.field(description="The text, as written, in Markdown (CommonMark).")
    body_html: str = strawberry.field(
        description="The text rendered to HTML and sanitized (only formatting tags, links "
        "and images; no scripts, styles or event handlers): safe to insert as it is."
    )
    is_published: bool = strawberry.field(description="Whether everyone can see the page.")
    created_at: datetime = strawberry.field(description="When it was created.")
    updated_at: datetime = strawberry.field(description="When it was last changed.")

    @classmethod
    def from_row(cls, row: Any) -> Page:
        m = row._mapping
        return cls(
            id=strawberry.ID(to_global_id("Page", m["id"])),
            pk=m["id"],
            slug=m["slug"],
            title=m["title"],
            body=m["body"],
            body_html=m["body_html"],
            is_published=m["is_published"],
            created_at=m["created_at"],
            updated_at=m["updated_at"],
        )


@strawberry.type(description="An expected failure of a page mutation.")
class PageError:
    code: PageErrorCode = strawberry.field(description="Machine-readable code.")
    message: str = strawberry.field(description="Human-readable explanation.")
    field: str | None = strawberry.field(description="The input field at fault, if any.")


@strawberry.type(description="Result of createPage and updatePage.")
class PagePayload:
    page: Page | None = strawberry.field(description="The page, on success.")
    errors: list[PageError] = strawberry.field(description="Empty on success.")


@strawberry.type(description="Result of deletePage.")
class DeletePagePayload:
    page: Page | None = strawberry.field(
        description="The page as it was before it was deleted, on success."
    )
    deleted_page_id: strawberry.ID | None = strawberry.field(
        description="ID of the deleted page, on success."
    )
    errors: list[PageError] = strawberry.field(description="Empty on success.")
