"""Review mutations: thin shells around db.reviews.actions."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry

from db.errors import DomainError
from db.reviews import actions
from graph.auth import IsAuthenticated, IsStaff
from graph.context import Info
from graph.errors import forbidden, payload_errors
from graph.relay import decode_id, to_global_id
from graph.reviews.enums import ReviewErrorCode
from graph.reviews.inputs import (
    CreateReviewInput,
    DeleteReviewInput,
    ModerateReviewInput,
    UpdateReviewInput,
    VoteReviewInput,
)
from graph.reviews.loaders import ReviewByIdLoader
from graph.reviews.types import DeleteReviewPayload, Review, ReviewError, ReviewPayload

_UPDATABLE = ("rating", "title", "body", "is_spoiler", "is_anonymous")


def _errors(exc: DomainError) -> list[ReviewError]:
    # Ownership failures are authorization errors: top-level FORBIDDEN, not payload errors.
    if exc.code == ReviewErrorCode.FORBIDDEN:
        raise forbidden(exc.details[0].message) from exc
    return payload_errors(exc, ReviewError, ReviewErrorCode)


async def _load(info: Info, pk: int) -> Review | None:
    info.context.reset_loaders()
    return await info.context.loader(ReviewByIdLoader).load(pk)


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Review a movie.", permission_classes=[IsAuthenticated])
    async def create_review(
        self,
        info: Info,
        input: Annotated[
            CreateReviewInput,
            strawberry.argument(description="The movie, the rating and the text of the review."),
        ],
    ) -> ReviewPayload:
        viewer = await info.context.require_viewer()
        try:
            movie_pk = decode_id(input.movie_id, "Movie", "movieId")
            async with info.context.db.transaction() as session:
                review = await actions.create_review(
                    session,
                    user_id=viewer.id,
                    movie_id=movie_pk,
                    rating=input.rating,
                    title=input.title,
                    body=input.body,
                    is_spoiler=input.is_spoiler,
                    is_anonymous=input.is_anonymous,
                )
        except DomainError as exc:
            return ReviewPayload(review=None, errors=_errors(exc))
        return ReviewPayload(review=await _load(info, review.id), errors=[])

    @strawberry.mutation(
        description="Edit a review (author or staff).", permission_classes=[IsAuthenticated]
    )
    async def update_review(
        self,
        info: Info,
        input: Annotated[
            UpdateReviewInput,
            strawberry.argument(description="The review and the fields to change."),
        ],
    ) -> ReviewPayload:
        viewer = await info.context.require_viewer()
        changes: dict[str, Any] = {
            name: getattr(input, name)
            for name in _UPDATABLE
            if getattr(input, name) is not strawberry.UNSET
        }
        try:
            pk = decode_id(input.review_id, "Review", "reviewId")
            async with info.context.db.transaction() as session:
                await actions.update_review(
                    session,
                    review_id=pk,
                    viewer_id=viewer.id,
                    is_staff=viewer.is_staff,
                    changes=changes,
                )
        except DomainError as exc:
            return ReviewPayload(review=None, errors=_errors(exc))
        return ReviewPayload(review=await _load(info, pk), errors=[])

    @strawberry.mutation(
        description="Delete a review (author or staff).", permission_classes=[IsAuthenticated]
    )
    async def delete_review(
        self,
        info: Info,
        input: Annotated[
            DeleteReviewInput, strawberry.argument(description="The review to delete.")
        ],
    ) -> DeleteReviewPayload:
        viewer = await info.context.require_viewer()
        try:
            pk = decode_id(input.review_id, "Review", "reviewId")
            async with info.context.db.transaction() as session:
                await actions.delete_review(
                    session, review_id=pk, viewer_id=viewer.id, is_staff=viewer.is_staff
                )
        except DomainError as exc:
            return DeleteReviewPayload(deleted_review_id=None, errors=_errors(exc))
        info.context.reset_loaders()
        return DeleteReviewPayload(
            deleted_review_id=strawberry.ID(to_global_id("Review", pk)), errors=[]
        )

    @strawberry.mutation(
        description="Vote on another user's review (one vote each, changeable).",
        permission_classes=[IsAuthenticated],
    )
    async def vote_review(
        self,
        info: Info,
        input: Annotated[
            VoteReviewInput,
            strawberry.argument(description="The review and whether it was helpful."),
        ],
    ) -> ReviewPayload:
        viewer = await info.context.require_viewer()
        try:
            pk = decode_id(input.review_id, "Review", "reviewId")
            async with info.context.db.transaction() as session:
                await actions.vote_review(
                    session,
                    review_id=pk,
                    user_id=viewer.id,
                    is_staff=viewer.is_staff,
                    helpful=input.helpful,
                )
        except DomainError as exc:
            return ReviewPayload(review=None, errors=_errors(exc))
        return ReviewPayload(review=await _load(info, pk), errors=[])

    @strawberry.mutation(
        description="Publish or hide a review (staff). Hidden reviews are seen only by staff "
        "and their author, and do not count in a movie's rating.",
        permission_classes=[IsStaff],
    )
    async def moderate_review(
        self,
        info: Info,
        input: Annotated[
            ModerateReviewInput,
            strawberry.argument(description="The review, its new status and an optional reason."),
        ],
    ) -> ReviewPayload:
        try:
            pk = decode_id(input.review_id, "Review", "reviewId")
            async with info.context.db.transaction() as session:
                await actions.moderate_review(
                    session, review_id=pk, status=input.status, reason=input.reason
                )
        except DomainError as exc:
            return ReviewPayload(review=None, errors=_errors(exc))
        return ReviewPayload(review=await _load(info, pk), errors=[])
