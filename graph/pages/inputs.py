"""Inputs of the pages domain."""

from __future__ import annotations

import strawberry


@strawberry.input(description="A new page (staff).")
class CreatePageInput:
    slug: str = strawberry.field(
        description="Unique; lowercase letters, digits and single hyphens, up to 100 "
        "characters (like `refund-policy`)."
    )
    title: str = strawberry.field(description="1 to 200 characters.")
    body: str = strawberry.field(description="Markdown (CommonMark), up to 100,000 characters.")
    is_published: bool = strawberry.field(
        default=False, description="Visible to everyone (otherwise only to staff)."
    )


@strawberry.input(description="Changes to a page (staff); omitted fields stay.")
class UpdatePageInput:
    id: strawberry.ID = strawberry.field(description="The page.")
    slug: str | None = strawberry.field(default=strawberry.UNSET, description="A new slug.")
    title: str | None = strawberry.field(default=strawberry.UNSET, description="A new title.")
    body: str | None = strawberry.field(default=strawberry.UNSET, description="New Markdown text.")
    is_published: bool | None = strawberry.field(
        default=strawberry.UNSET, description="Publish (true) or unpublish (false)."
    )


@strawberry.input(description="Delete a page (staff).")
class DeletePageInput:
    id: strawberry.ID = strawberry.field(description="The page.")
