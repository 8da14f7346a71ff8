"""Parse and validate each distinct query text once per process, enforce the document
limits, and report each operation's cost, in one schema extension.

It does what strawberry's ParserCache, MaxTokensLimiter, AddValidationRules and
ValidationCache do together, plus the limits of graph/limits.py. One extension instead of
several because strawberry builds a context for every extension in every phase of every
request (about 15 µs per extension on a `{ __typename }`, see bench/README.md).

Order matters: the linear shape check runs first and graphql-core's validation only for a
document that passed it (its field-merging rule is quadratic in what it compares).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from graphql import DocumentNode, GraphQLError, GraphQLSchema
from graphql.language.parser import parse
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from graph.limits import ShapeLimits, actual_cost, check_shape, check_text, operation_cost

CACHE_SIZE = 1024  # distinct query texts kept per process


@lru_cache(maxsize=CACHE_SIZE)
def _parse_or_error(query: str, max_tokens: int) -> DocumentNode | GraphQLError:
    """Failures are cached too: a document that fails to parse (too many tokens, nested too
    deeply) would otherwise cost a full parse every time it is sent."""
    try:
        return parse(query, max_tokens=max_tokens)
    except GraphQLError as error:
        return error


def _parse(query: str, max_tokens: int) -> DocumentNode:
    result = _parse_or_error(query, max_tokens)
    if isinstance(result, GraphQLError):
        # A fresh error each time: strawberry and our hooks annotate the one they get.
        raise GraphQLError(
            result.message,
            source=result.source,
            positions=result.positions,
            extensions=result.extensions,
        )
    return result


_validate = lru_cache(maxsize=CACHE_SIZE)(validate_document)
# (query, operation name) -> cost, for documents whose cost no variable changes
_COSTS: dict[tuple[str | None, str | None], int | None] = {}


@lru_cache(maxsize=CACHE_SIZE)
def _shape_errors(query: str, limits: ShapeLimits, max_tokens: int) -> list[GraphQLError]:
    return check_shape(_parse(query, max_tokens=max_tokens), limits, query)


def parse_cached(query: str, max_tokens: int) -> DocumentNode:
    """The parsed document from the same cache the extension uses (raises GraphQLError)."""
    return _parse(query, max_tokens=max_tokens)


class PreparedDocuments(SchemaExtension):
    def __init__(
        self,
        *,
        limits: ShapeLimits,
        max_tokens: int,
        max_cost: int,
        max_list_input: int,
        report_cost: bool = True,
    ) -> None:
        self.limits = limits
        self.max_list_input = max_list_input
        self.max_tokens = max_tokens
        self.max_cost = max_cost
        self.report_cost = report_cost
        self.cost: int | None = None

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        assert context.query is not None
        context.graphql_document = _parse(context.query, self.max_tokens)
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        assert context.graphql_document is not None
        assert context.query is not None
        errors = _shape_errors(context.query, self.limits, self.max_tokens)
        if not errors:
            errors = _validate(
                context.schema._schema, context.graphql_document, context.validation_rules
            )
        if not errors:
            errors = self._check_request(context.schema._schema, context.graphql_document)
        context.pre_execution_errors = errors
        yield

    def _check_request(self, schema: GraphQLSchema, document: DocumentNode) -> list[GraphQLError]:
        """What depends on the variables: their text, and the operation's cost."""
        context = self.execution_context
        variables = context.variables
        if variables:
            error = check_text(variables, "variables")
            if error is not None:
                return [error]
        key = (context.query, context.operation_name)
        cost = _COSTS.get(key)
        if cost is None:
            try:
                found = operation_cost(
                    schema, document, context.operation_name, variables, self.max_list_input
                )
            except GraphQLError as error:
                return [error]
            cost = found.fields
            if not found.uses_variables:
                if len(_COSTS) >= CACHE_SIZE:
                    _COSTS.clear()
                _COSTS[key] = cost
        self.cost = cost
        if cost is not None and cost > self.max_cost:
            return [
                GraphQLError(
                    f"Query cost {cost} exceeds the limit of {self.max_cost}; ask for fewer "
                    "items or fields.",
                    extensions={"code": "BAD_USER_INPUT"},
                )
            ]
        return []

    def get_results(self) -> dict[str, Any]:
        """`extensions.cost`: `requested` (the worst case the limit judged) and `limit` on
        every response; `actual` (the fields the result holds, counted the same way) when
        the request asks for it with `"extensions": {"cost": {"actual": true}}`: it is a
        walk over the whole result, which would tax every large response."""
        if self.cost is None or not self.report_cost:
            return {}
        report: dict[str, Any] = {"requested": self.cost, "limit": self.max_cost}
        asked = (self.execution_context.operation_extensions or {}).get("cost")
        if isinstance(asked, dict) and asked.get("actual") is True:
            data = getattr(self.execution_context.result, "data", None)
            report["actual"] = actual_cost(data) if data is not None else 0
        return {"cost": report}
