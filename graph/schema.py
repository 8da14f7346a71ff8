"""The schema: merges each domain's Query, Mutation and Subscription types."""

from __future__ import annotations

from collections.abc import Callable

import strawberry
from strawberry.extensions import (
    DisableIntrospection,
    MaxAliasesLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from graph.accounts.mutations import Mutation as AccountsMutation
from graph.accounts.queries import Query as AccountsQuery
from graph.accounts.subscriptions import Subscription as AccountsSubscription
from graph.booking.mutations import Mutation as BookingMutation
from graph.booking.queries import Query as BookingQuery
from graph.booking.subscriptions import Subscription as BookingSubscription
from graph.caching import PreparedDocuments
from graph.catalog.mutations import Mutation as CatalogMutation
from graph.catalog.queries import Query as CatalogQuery
from graph.cinemas.mutations import Mutation as CinemasMutation
from graph.cinemas.queries import Query as CinemasQuery
from graph.context import Info
from graph.errors import ErrorCodes
from graph.execution import FastListExecution
from graph.limits import cost_limit_rule
from graph.realtime import SharedEventExecution
from graph.relay import Node, resolve_nodes
from graph.reviews.mutations import Mutation as ReviewsMutation
from graph.reviews.queries import Query as ReviewsQuery
from graph.settings import Settings, get_settings
from graph.showtimes.mutations import Mutation as ShowtimesMutation
from graph.showtimes.queries import Query as ShowtimesQuery


@strawberry.type
class RelayQuery:
    @strawberry.field(description="Fetch any object by its global ID.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return (await resolve_nodes(info, [id]))[0]

    @strawberry.field(description="Fetch objects by their global IDs, in the same order.")
    async def nodes(self, info: Info, ids: list[strawberry.ID]) -> list[Node | None]:
        from graph.errors import bad_input

        if len(ids) > 100:
            raise bad_input("At most 100 IDs at a time.", "ids")
        return await resolve_nodes(info, list(ids))


# Each domain adds its types here (one line each).
QUERIES: tuple[type, ...] = (
    RelayQuery,
    AccountsQuery,
    CatalogQuery,
    ReviewsQuery,
    CinemasQuery,
    ShowtimesQuery,
    BookingQuery,
)
MUTATIONS: tuple[type, ...] = (
    AccountsMutation,
    CatalogMutation,
    ReviewsMutation,
    BookingMutation,
    CinemasMutation,
    ShowtimesMutation,
)
SUBSCRIPTIONS: tuple[type, ...] = (AccountsSubscription, BookingSubscription)

Query = merge_types("Query", QUERIES)
Mutation = merge_types("Mutation", MUTATIONS)
Subscription = merge_types("Subscription", SUBSCRIPTIONS) if SUBSCRIPTIONS else None


def build_schema(
    settings: Settings | None = None,
    execution_context_class: type[SharedEventExecution] = FastListExecution,
) -> strawberry.Schema:
    settings = settings or get_settings()
    # Factories, not instances: an extension holds per-request state.
    s = settings
    # The limit rules are built once: QueryDepthLimiter and MaxAliasesLimiter make a new rule
    # class per instance, and the validation cache keys on the rules, so building them per
    # request made every request miss the cache and validate again (~1.4 ms each).
    rules = [
        *QueryDepthLimiter(max_depth=s.max_query_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=s.max_aliases).validation_rules,
        cost_limit_rule(s.max_query_cost),
    ]
    extensions: list[Callable[[], SchemaExtension] | type[SchemaExtension]] = [
        # Parser + validation caches, token limit and the rules above (graph/caching.py).
        lambda: PreparedDocuments(rules=rules, max_tokens=s.max_tokens),
        lambda: ErrorCodes(mask=s.is_production),
    ]
    if not s.introspection:
        extensions.append(DisableIntrospection)
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        config=StrawberryConfig(auto_camel_case=True),
        # Subscription events shared by many subscribers are executed once (fan-out), and
        # lists of plain objects (seat maps) are completed in one pass (graph/execution.py).
        execution_context_class=execution_context_class,
    )


def export_sdl() -> str:
    return build_schema(Settings(env="test", jwt_secret="x")).as_str() + "\n"
