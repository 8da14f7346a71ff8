"""The schema: merges each domain's Query, Mutation and Subscription types."""

from __future__ import annotations

from collections.abc import Callable

import strawberry
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from graph.accounts.mutations import Mutation as AccountsMutation
from graph.accounts.queries import Query as AccountsQuery
from graph.context import Info
from graph.errors import ErrorCodes
from graph.limits import cost_limit_rule
from graph.relay import Node, resolve_nodes
from graph.settings import Settings, get_settings


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
QUERIES: tuple[type, ...] = (RelayQuery, AccountsQuery)
MUTATIONS: tuple[type, ...] = (AccountsMutation,)
SUBSCRIPTIONS: tuple[type, ...] = ()

Query = merge_types("Query", QUERIES)
Mutation = merge_types("Mutation", MUTATIONS)
Subscription = merge_types("Subscription", SUBSCRIPTIONS) if SUBSCRIPTIONS else None


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    settings = settings or get_settings()
    # Factories, not instances: an extension holds per-request state.
    s = settings
    cost_rule = cost_limit_rule(s.max_query_cost)
    extensions: list[Callable[[], SchemaExtension] | type[SchemaExtension]] = [
        lambda: ParserCache(maxsize=1024),  # the LRU itself is module-level, shared
        lambda: ValidationCache(maxsize=1024),
        lambda: QueryDepthLimiter(max_depth=s.max_query_depth),
        lambda: MaxAliasesLimiter(max_alias_count=s.max_aliases),
        lambda: MaxTokensLimiter(max_token_count=s.max_tokens),
        lambda: AddValidationRules([cost_rule]),
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
    )


def export_sdl() -> str:
    return build_schema(Settings(env="test", jwt_secret="x")).as_str() + "\n"
