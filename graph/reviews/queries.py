"""Review queries: `review(id)` and node registration."""

from __future__ import annotations

from typing import Annotated

import strawberry

from graph.context import Info
from graph.relay import query_id, register_node
from graph.reviews.loaders import ReviewByIdLoader
from graph.reviews.types import Review


async def _reviews_by_ids(info: Info, pks: list[int]) -> list[Review | None]:
    return list(await info.context.loader(ReviewByIdLoader).load_many(pks))


register_node("Review", _reviews_by_ids)


@strawberry.type
class Query:
    @strawberry.field(description="A review by ID, if the viewer may see it.")
    async def review(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The review's global ID.")],
    ) -> Review | None:
        return await info.context.loader(ReviewByIdLoader).load(query_id(id, "Review"))
