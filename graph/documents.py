"""Parse and validate each distinct query text once per process, enforce the document
limits, and report each operation's cost, in one schema extension.

It does what strawberry's ParserCache, MaxTokensLimiter, AddValidationRules and
ValidationCache do together, plus the limits of graph/limits.py. One extension instead of
several because strawberry builds a context for every extension in every phase of every
request (about 15 µs per extension on a `{ __typename }`, see bench/README.md).

Order matters: the linear shape check runs first and graphql-core's validation only for a
document that passed it (its field-merging rule is quadratic in what it compares).

Prepared operations (`PreparedOperations`): once a (query, operation name) has parsed and
passed the shape limits and validation on strawberry's full path, the next request for it
runs straight through graphql-core's execute (`MarqueeSchema.execute`): strawberry's
per-request execution context, extension runner, hook contexts and middleware manager
cost about 60 µs of a `{ __typename }` (bench/README.md). What depends on the request is
still checked every time, by the same functions the extension uses (`request_checks`: the
variables' text and the cost); a request that fails them takes the full path, which
answers with its errors. tests/core/test_execution.py compares both paths on every bench
and suite query.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
)
from graphql.language.parser import parse
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document
from strawberry.types.graphql import OperationType

from graph.limits import (
    ShapeLimits,
    actual_cost,
    check_shape,
    check_text,
    check_variables,
    operation_cost,
)
from graph.textcache import MAX_TEXT, MAX_TREES, TextCache, document_weight, text_cache

CACHE_SIZE = 1024  # distinct query texts kept per process (and at most MAX_TEXT of text)


@text_cache(max_weight=MAX_TREES, weigh=document_weight)
def _parse_or_error(query: str, max_tokens: int) -> DocumentNode | GraphQLError:
    """Failures are cached too: a document that fails to parse (too many tokens, nested too
    deeply) would otherwise cost a full parse every time it is sent. What is kept of a
    failure is its message and where it is, a new error never raised: the raised one's
    traceback holds the parser's frames, with every token read and the tree begun (1.4 MB
    for 10 kB of text, which is all `document_weight` counts for it)."""
    try:
        return parse(query, max_tokens=max_tokens)
    except GraphQLError as error:
        failure = error
    return GraphQLError(
        failure.message,
        source=failure.source,
        positions=failure.positions,
        extensions=failure.extensions,
    )


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


def _detached(errors: list[GraphQLError]) -> list[GraphQLError]:
    """The errors as their messages, positions and codes, without the nodes they point at:
    a node keeps, by its location, the document's whole chain of tokens, and these caches
    are weighed by text (8 kB documents failing validation kept 1.4 MB each)."""
    return [
        GraphQLError(e.message, source=e.source, positions=e.positions, extensions=e.extensions)
        for e in errors
    ]


@text_cache()
def _validate(schema: GraphQLSchema, query: str, max_tokens: int, rules: Any) -> list[GraphQLError]:
    """graphql-core's validation, once per query text (not per document object: a key that
    holds the document would keep its tree after the parse cache let it go)."""
    return _detached(validate_document(schema, _parse(query, max_tokens), rules))


# (query, operation name, list input limit) -> (cost, the variables' places to check), for
# documents whose cost no variable changes (the limit is in the key: schemas built with
# other settings share this cache); the variables' list lengths are checked every time
_COSTS = TextCache(CACHE_SIZE, MAX_TEXT)


@text_cache()
def _shape_errors(query: str, limits: ShapeLimits, max_tokens: int) -> list[GraphQLError]:
    return _detached(check_shape(_parse(query, max_tokens=max_tokens), limits, query))


def parse_cached(query: str, max_tokens: int) -> DocumentNode:
    """The parsed document from the same cache the extension uses (raises GraphQLError)."""
    return _parse(query, max_tokens=max_tokens)


@dataclass(frozen=True, slots=True)
class RequestLimits:
    max_cost: int
    max_list_input: int


def request_checks(
    schema: GraphQLSchema,
    document: DocumentNode,
    query: str | None,
    operation_name: str | None,
    variables: dict[str, Any] | None,
    limits: RequestLimits,
) -> tuple[int | None, list[GraphQLError]]:
    """What depends on the request, not the document: the variables' text, and the
    operation's cost (cached per document when no variable changes it). (cost, errors)."""
    if variables:
        error = check_text(variables, "variables")
        if error is not None:
            return None, [error]
    key = (query, operation_name, limits.max_list_input)
    known = _COSTS.get(key)
    if known is not None:
        cost, checks = known[0]
        try:
            check_variables(checks, variables, limits.max_list_input)
        except GraphQLError as error:
            return None, [error]
    else:
        try:
            found = operation_cost(
                schema, document, operation_name, variables, limits.max_list_input
            )
        except GraphQLError as error:
            return None, [error]
        cost = found.fields
        if not found.uses_variables and cost is not None:
            _COSTS.put(key, (cost, found.checks), len(query or "") or 1)
    if cost is not None and cost > limits.max_cost:
        return cost, [
            GraphQLError(
                f"Query cost {cost} exceeds the limit of {limits.max_cost}; ask for fewer "
                "items or fields.",
                extensions={"code": "BAD_USER_INPUT"},
            )
        ]
    return cost, []


def cost_report(
    cost: int | None, max_cost: int, operation_extensions: dict[str, Any] | None, data: Any
) -> dict[str, Any]:
    """`extensions.cost`: `requested` (the worst case the limit judged) and `limit` on
    every response; `actual` (the fields the result holds, counted the same way) when
    the request asks for it with `"extensions": {"cost": {"actual": true}}`: it is a
    walk over the whole result, which would tax every large response."""
    if cost is None:
        return {}
    report: dict[str, Any] = {"requested": cost, "limit": max_cost}
    asked = (operation_extensions or {}).get("cost")
    if isinstance(asked, dict) and asked.get("actual") is True:
        report["actual"] = actual_cost(data) if data is not None else 0
    return {"cost": report}


@dataclass(frozen=True, slots=True)
class Prepared:
    """A document that parsed and passed the shape limits and validation, and the name and
    type of the operation a request for it runs (the name the request gave, or that of the
    document's only operation). `constant`: the operation's data when it is the same for
    every request (`constant_data`), else None."""

    document: DocumentNode
    operation_name: str | None
    operation_type: OperationType
    constant: dict[str, str] | None = None


def constant_data(
    schema: GraphQLSchema, document: DocumentNode, operation_name: str | None
) -> dict[str, str] | None:
    """The data of a query that selects nothing but the root's `__typename` (under any
    aliases), with no variables and no directives: `{ __typename }`, the probe that load
    balancers and client libraries send to check that a GraphQL server answers. Its data is
    the query type's name under each response key, whoever asks and whatever the database
    holds, so `MarqueeSchema.execute` answers it without building an executor (a third of
    such a request's CPU). Anything else, None: the executor runs it."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    if len(operations) != 1 or schema.query_type is None:
        return None
    operation = operations[0]
    if (
        operation.operation.value != "query"
        or operation.variable_definitions
        or operation.directives
    ):
        return None
    data: dict[str, str] = {}
    for selection in operation.selection_set.selections:
        if (
            not isinstance(selection, FieldNode)
            or selection.name.value != "__typename"
            or selection.directives
            or selection.arguments
        ):
            return None
        data[(selection.alias or selection.name).value] = schema.query_type.name
    return data


class PreparedOperations:
    """The prepared (query, operation name) pairs of one schema, bounded as the parse cache
    is (graph/textcache.py: the documents they hold count). Filled by `PreparedDocuments`
    on the full path; read by `MarqueeSchema.execute`. `enabled` off: nothing is recorded,
    every request takes the full path."""

    def __init__(self, limits: RequestLimits, *, enabled: bool) -> None:
        self.limits = limits
        self.enabled = enabled
        self.entries = TextCache(CACHE_SIZE, MAX_TREES)

    def get(self, query: str, operation_name: str | None) -> Prepared | None:
        found = self.entries.get((query, operation_name))
        return None if found is None else found[0]

    def note(self, query: str, prepared: Prepared) -> None:
        """Record what a request for `query` runs: under the operation's name, and under no
        name when the document has only that operation (a request that names none)."""
        if not self.enabled:
            return
        weight = document_weight((query,), prepared.document)
        self.entries.put((query, prepared.operation_name), prepared, weight)
        operations = [
            d for d in prepared.document.definitions if isinstance(d, OperationDefinitionNode)
        ]
        if len(operations) == 1:
            self.entries.put((query, None), prepared, weight)


class PreparedDocuments(SchemaExtension):
    def __init__(
        self,
        *,
        limits: ShapeLimits,
        max_tokens: int,
        request_limits: RequestLimits,
        prepared: PreparedOperations | None = None,
        report_cost: bool = True,
    ) -> None:
        self.limits = limits
        self.max_tokens = max_tokens
        self.request_limits = request_limits
        self.prepared = prepared
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
        schema = context.schema._schema
        errors = _shape_errors(context.query, self.limits, self.max_tokens)
        if not errors:
            errors = _validate(schema, context.query, self.max_tokens, context.validation_rules)
        if not errors:
            if self.prepared is not None:
                self.prepared.note(
                    context.query,
                    Prepared(
                        context.graphql_document,
                        context.operation_name,
                        context.operation_type,
                        constant_data(schema, context.graphql_document, context.operation_name),
                    ),
                )
            self.cost, errors = request_checks(
                schema,
                context.graphql_document,
                context.query,
                context.operation_name,
                context.variables,
                self.request_limits,
            )
        context.pre_execution_errors = errors
        yield

    def get_results(self) -> dict[str, Any]:
        """`extensions.cost` (`cost_report`)."""
        if not self.report_cost:
            return {}
        context = self.execution_context
        data = getattr(context.result, "data", None)
        return cost_report(
            self.cost, self.request_limits.max_cost, context.operation_extensions, data
        )
