"""Inputs of the reviews domain."""

from __future__ import annotations

import strawberry

from graph.reviews.enums import ReviewStatus


@strawberry.input(description="A review of a movie; one per user per movie.")
class CreateReviewInput:
    movie_id: strawberry.ID = strawberry.field(description="The movie.")
    rating: int = strawberry.field(description="Rating from 1 to 10.")
    title: str | None = strawberry.field(default=None, description="Up to 200 characters.")
    body: str | None = strawberry.field(
        default=None,
        description="The text, up to 10,000 characters; optional: omitted, null or blank "
        "gives a rating without text.",
    )
    is_spoiler: bool = strawberry.field(default=False, description="Reveals the plot.")
    is_anonymous: bool = strawberry.field(default=False, description="Hide the author's name.")


@strawberry.input(description="Changes to a review (author or staff); omitted fields stay.")
class UpdateReviewInput:
    review_id: strawberry.ID = strawberry.field(description="The review.")
    rating: int | None = strawberry.field(default=strawberry.UNSET, description="1 to 10.")
    title: str | None = strawberry.field(default=strawberry.UNSET, description="Headline.")
    body: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="The text (up to 10,000 characters); null or blank removes it, leaving "
        "the rating alone.",
    )
    is_spoiler: bool | None = strawberry.field(
        default=strawberry.UNSET, description="Reveals the plot."
    )
    is_anonymous: bool | None = strawberry.field(
        default=strawberry.UNSET, description="Hide the author's name."
    )


@strawberry.input(description="Delete a review (author or staff).")
class DeleteReviewInput:
    review_id: strawberry.ID = strawberry.field(description="The review.")


@strawberry.input(description="Vote on someone else's review; one vote per user, changeable.")
class VoteReviewInput:
    review_id: strawberry.ID = strawberry.field(description="The review.")
    helpful: bool | None = strawberry.field(
        description="true: helpful, false: not helpful, null: withdraw the vote."
    )


@strawberry.input(description="Publish or hide a review (staff).")
class ModerateReviewInput:
    review_id: strawberry.ID = strawberry.field(description="The review.")
    status: ReviewStatus = strawberry.field(description="PUBLISHED or HIDDEN.")
    reason: str | None = strawberry.field(default=None, description="Why (up to 500 chars).")
