"""Which anonymous operations the response cache may keep, and which tables each reads.

A field is cacheable only when it is declared here with the tables its resolver reads (the
tables PostgreSQL announces changes of, db/changes.py); every other field makes the
operation uncacheable. The default is therefore "not cached": a new field, or one that
depends on the viewer, on the clock or on seat status, is never served from the cache by
accident. `tests/core/test_response_cache.py` checks every declaration against the schema
and every table against the announced ones.

A declaration holds for anonymous requests only (the only ones the cache serves): a field
whose answer differs per viewer is left out even so, so that a later change to who may see
it cannot leak through the cache.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    ListValueNode,
    NullValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    get_named_type,
    parse_value,
    print_ast,
)

from graph.documents import parse_cached
from graph.textcache import text_cache

_CATALOG = frozenset({"movies"})
_GENRES = frozenset({"genres", "movie_genres"})
_REVIEWS = frozenset({"reviews", "users"})  # a page of reviews comes with its authors
_NONE: frozenset[str] = frozenset()


def _plain(*names: str, tables: frozenset[str] = _NONE) -> dict[str, frozenset[str]]:
    return dict.fromkeys(names, tables)


# type name -> field name -> the tables its resolver reads. Plain attributes read nothing of
# their own: their object was loaded by the field that returned it.
PUBLIC_FIELDS: dict[str, dict[str, frozenset[str]]] = {
    "Query": {
        # `filter.nowShowing` and `filter.comingSoon` depend on the clock: VOLATILE_INPUTS.
        "movies": _CATALOG | _GENRES,
        "movie": _CATALOG,
        "genres": frozenset({"genres"}),
        "review": frozenset({"reviews"}),
        "cinemas": frozenset({"cinemas"}),
        "cinema": frozenset({"cinemas"}),
        "hall": frozenset({"halls"}),
        "showtime": frozenset({"showtimes"}),
    },
    "Movie": {
        **_plain(
            "id",
            "tmdbId",
            "title",
            "originalTitle",
            "tagline",
            "description",
            "releaseDate",
            "year",
            "country",
            "countries",
            "durationMinutes",
            "director",
            "cast",
            "ageRating",
            "budget",
            "boxOffice",
            "posterUrl",
            "trailerUrl",
            "isActive",
            "popularity",
            "averageRating",
            "reviewCount",
            "createdAt",
            "updatedAt",
        ),
        "genres": _GENRES,
        "reviews": _REVIEWS,
        # Not: showtimes (upcoming ones: the clock), similar (favorites, written by every
        # viewer), isFavorite, watchlistStatus, viewerReview (the viewer's).
    },
    "Genre": _plain("id", "name"),
    "MovieConnection": {**_plain("edges", "pageInfo"), "totalCount": _CATALOG},
    "MovieEdge": _plain("cursor", "node"),
    "ReviewConnection": _plain("edges", "pageInfo", "totalCount"),
    "ReviewEdge": _plain("cursor", "node"),
    "CinemaConnection": _plain("edges", "pageInfo", "totalCount"),
    "CinemaEdge": _plain("cursor", "node"),
    "PageInfo": _plain("hasNextPage", "hasPreviousPage", "startCursor", "endCursor"),
    "Review": {
        **_plain(
            "id",
            "rating",
            "title",
            "body",
            "isSpoiler",
            "isAnonymous",
            "status",
            "helpfulCount",
            "unhelpfulCount",
            "createdAt",
            "updatedAt",
        ),
        "author": frozenset({"users"}),
        "movie": _CATALOG,
        # Not: verifiedPurchase (tickets, and the clock), moderationReason (staff),
        # isMine, viewerVote (the viewer's).
    },
    # Only the fields everyone sees; username, bio, phone, role, createdAt are the user's own.
    "User": {**_plain("id", "displayName", "fullName", "avatarUrl"), "reviews": _REVIEWS},
    "Cinema": {
        **_plain(
            "id",
            "name",
            "address",
            "city",
            "phone",
            "email",
            "latitude",
            "longitude",
            "timeZone",
            "opensAt",
            "closesAt",
            "description",
            "isActive",
            "distanceKm",
        ),
        "halls": frozenset({"halls"}),
        # Not: showtimes (upcoming ones: the clock).
    },
    "Hall": {
        **_plain("id", "name", "screenType", "soundSystem", "cleaningMinutes", "isActive"),
        "cinema": frozenset({"cinemas"}),
        "layout": frozenset({"seats"}),
        "seatCount": frozenset({"seats"}),
    },
    "HallLayout": _plain("version", "width", "height", "seatCount", "rows"),
    "LayoutRow": _plain("label", "seats"),
    "Seat": {
        **_plain("id", "rowLabel", "number", "type", "x", "y", "isBlocked"),
        "hall": frozenset({"halls"}),
    },
    "Showtime": {
        **_plain(
            "id", "startsAt", "endsAt", "format", "language", "subtitles", "status", "salesOpenAt"
        ),
        "movie": _CATALOG,
        "hall": frozenset({"halls"}),
        "cinema": frozenset({"halls", "cinemas"}),
        "prices": frozenset({"showtime_prices"}),
        # Not: seat status, occupancy, availability (every sale), sales opening for the
        # viewer, presale waves.
    },
    "ShowtimePrice": _plain("seatType", "price"),
    "Money": _plain("amount", "currency"),
}

# (type, field, argument) -> fields of that input object that make the answer depend on the
# clock when given (not null): an operation that sets one is not cached.
VOLATILE_INPUTS: dict[tuple[str, str, str], frozenset[str]] = {
    ("Query", "movies", "filter"): frozenset({"nowShowing", "comingSoon"}),
}


@dataclass(frozen=True, slots=True)
class Plan:
    """What the cache needs of a cacheable operation: the tables it reads, and the input
    values to check per request (a variable, or a literal input object) for volatile
    input fields."""

    tables: frozenset[str]
    volatile: tuple[tuple[ValueNode, frozenset[str]], ...]
    defaults: Mapping[str, ValueNode]

    def allows(self, variables: Mapping[str, Any] | None) -> bool:
        """Whether these variables keep the operation off every volatile input field."""
        return not any(
            _sets_any(value, fields, variables or {}, self.defaults)
            for value, fields in self.volatile
        )


def _sets_any(
    value: ValueNode,
    fields: frozenset[str],
    variables: Mapping[str, Any],
    defaults: Mapping[str, ValueNode],
) -> bool:
    if isinstance(value, VariableNode):
        name = value.name.value
        if name in variables:
            given = variables[name]
            return isinstance(given, dict) and any(given.get(f) is not None for f in fields)
        default = defaults.get(name)
        return default is not None and _sets_any(default, fields, {}, {})
    if isinstance(value, ObjectValueNode):
        for field in value.fields:
            if field.name.value not in fields or isinstance(field.value, NullValueNode):
                continue
            if not isinstance(field.value, VariableNode):
                return True
            if _variable_value(field.value, variables, defaults) is not None:
                return True
    return False


def _variable_value(
    node: VariableNode, variables: Mapping[str, Any], defaults: Mapping[str, ValueNode]
) -> object:
    name = node.name.value
    if name in variables:
        return variables[name]
    default = defaults.get(name)
    return None if default is None or isinstance(default, NullValueNode) else default


class _NotCacheable(Exception):
    pass


def _operation(
    operations: list[OperationDefinitionNode], name: str | None
) -> OperationDefinitionNode | None:
    """The operation a request names (or its only one), as graphql-core picks it."""
    if name is None:
        return operations[0] if len(operations) == 1 else None
    return next((o for o in operations if o.name is not None and o.name.value == name), None)


def plan(schema: GraphQLSchema, document: DocumentNode, operation_name: str | None) -> Plan | None:
    """The plan of the document's operation, or None when it must not be cached: not a
    query, or a field that is not declared public (an unknown field included: the document
    will fail validation, and nothing is cached for it)."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    operation = _operation(operations, operation_name)
    if operation is None or operation.operation != OperationType.QUERY:
        return None
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    walk = _Walk(schema, fragments)
    try:
        walk.selections(operation.selection_set, schema.query_type, set())
    except _NotCacheable:
        return None
    try:
        defaults = {
            v.variable.name.value: _detached(v.default_value)
            for v in operation.variable_definitions or ()
            if v.default_value is not None
        }
        volatile = tuple((_detached(value), fields) for value, fields in walk.volatile)
    except _NotCacheable:
        return None
    return Plan(frozenset(walk.tables), volatile, defaults)


# The longest input value (a variable's default, a literal input object), as text, that a
# plan keeps; an operation with a longer one is not cached. Clients' defaults are a page size
# or a short list.
MAX_PLAN_VALUE = 1024


def _detached(value: ValueNode) -> ValueNode:
    """The value as a tree of its own, without locations. A node of the document keeps, by
    its location, the document's whole chain of tokens, and a plan is kept (`cached_plan`)
    weighed by its text: 150 documents of 8 kB with a long list as a default kept 214 MB. A
    long value is not kept at all (its nodes alone are 50 times its text)."""
    text = print_ast(value)
    if len(text) > MAX_PLAN_VALUE:
        raise _NotCacheable
    return parse_value(text, no_location=True)


class _Walk:
    def __init__(self, schema: GraphQLSchema, fragments: dict[str, FragmentDefinitionNode]) -> None:
        self.schema = schema
        self.fragments = fragments
        self.tables: set[str] = set()
        self.volatile: list[tuple[ValueNode, frozenset[str]]] = []
        # Fragments walked already: a fragment adds the same tables however often it is
        # spread, so each is walked once. (This runs before validation: walking every
        # spread, ten fragments each spreading the next twice would be 2**10 walks.)
        self.walked: set[str] = set()

    def selections(self, selection_set: SelectionSetNode, parent: Any, spread: set[str]) -> None:
        if not isinstance(parent, GraphQLObjectType):
            raise _NotCacheable  # interfaces and unions (node, nodes): not declared
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                self.field(selection, parent, spread)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                if condition is not None and condition.name.value != parent.name:
                    raise _NotCacheable
                self.selections(selection.selection_set, parent, spread)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if (
                    fragment is None
                    or name in spread
                    or fragment.type_condition.name.value != parent.name
                ):
                    raise _NotCacheable
                if name not in self.walked:
                    self.walked.add(name)
                    self.selections(fragment.selection_set, parent, spread | {name})

    def field(self, node: FieldNode, parent: GraphQLObjectType, spread: set[str]) -> None:
        name = node.name.value
        if name == "__typename":
            return
        if name in ("__schema", "__type"):
            if parent is not self.schema.query_type:
                raise _NotCacheable
            return  # the schema's own description: no table, fixed for the process
        tables = PUBLIC_FIELDS.get(parent.name, {}).get(name)
        definition = parent.fields.get(name)
        if tables is None or definition is None:
            raise _NotCacheable
        self.tables |= tables
        for argument in node.arguments or ():
            fields = VOLATILE_INPUTS.get((parent.name, name, argument.name.value))
            if fields is not None:
                if isinstance(argument.value, ListValueNode):
                    raise _NotCacheable
                self.volatile.append((argument.value, fields))
        if node.selection_set is not None:
            self.selections(node.selection_set, get_named_type(definition.type), spread)


@text_cache()
def cached_plan(
    schema: GraphQLSchema, query: str, operation_name: str | None, max_tokens: int
) -> Plan | None:
    """`plan`, once per query text and operation (parsed by the parse cache); None for a
    document that does not parse (its error is the executor's to report)."""
    try:
        document = parse_cached(query, max_tokens)
    except GraphQLError:
        return None
    return plan(schema, document, operation_name)


@text_cache()
def is_mutation(query: str, operation_name: str | None, max_tokens: int) -> bool:
    """Whether the operation a request runs is a mutation (after which this worker's cache
    catches up with the changes before answering, graph/response_cache.py)."""
    try:
        document = parse_cached(query, max_tokens)
    except GraphQLError:
        return False
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    operation = _operation(operations, operation_name)
    return operation is not None and operation.operation == OperationType.MUTATION
