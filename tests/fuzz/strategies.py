"""Hypothesis strategies for the schema fuzzer: hostile values for every scalar (as GraphQL
value nodes, for hypothesis-graphql's `custom_scalars`), and hoisting literal arguments into
variables so the same hostile values also arrive as JSON."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Sequence
from typing import Any

import graphql
from graphql import (
    ArgumentNode,
    FloatValueNode,
    IntValueNode,
    NameNode,
    ObjectFieldNode,
    OperationDefinitionNode,
    StringValueNode,
    TypeInfo,
    TypeInfoVisitor,
    ValueNode,
    VariableDefinitionNode,
    VariableNode,
    Visitor,
)
from hypothesis import strategies as st

# Every type that implements Node, plus names that are not (the relay layer must refuse them).
NODE_TYPES = (
    "Movie",
    "Genre",
    "Cinema",
    "Hall",
    "Seat",
    "Showtime",
    "SeatHold",
    "Review",
    "User",
    "Me",
)
OTHER_TYPES = ("Order", "Ticket", "Nope", "", "movie", "MOVIE", "Movie ", "Query")

# Primary keys past every integer width the server or PostgreSQL has (int4, int8, uint64).
HOSTILE_PKS = (
    0,
    -1,
    -(2**63),
    2**31 - 1,
    2**31,
    2**32,
    2**53 + 1,
    2**63 - 1,
    2**63,
    2**64,
    99999999999999999999,
    10**40,
)

HOSTILE_STRINGS = (
    "",
    " ",
    "\t\n",
    "\u0000",
    "a\u0000b",
    "Europe/Paris\u0000",
    "\ud800",
    "x\udfffy",
    "\udbff",
    "\ud83c\udfac",  # a surrogate pair (valid once decoded from JSON)
    "🎬🍿",
    "Ω≈ç√∫",
    "\u202eevil",
    "e\u0301",
    "\ufeff",
    "\uffff",
    "\U0010ffff",
    "İstanbul",
    "ﬃ",
    "ẞ",
    "\u200b",
    "' OR 1=1 --",
    "'); DROP TABLE movies; --",
    "%",
    "_",
    "\\",
    "%_\\",
    "$1",
    ":name",
    "{{7*7}}",
    "<script>alert(1)</script>",
    "0",
    "-1",
    "1e309",
    "NaN",
    "Infinity",
    "99999999999999999999",
    "1.5",
    "0x10",
    "2024-02-30",
    "0000-01-01",
    "9999-12-31T23:59:59+14:00",
    "24:00",
    "Europe/Paris",
    "UTC",
    "Europe",
    "America",
    "posix",
    "right/UTC",
    "Etc/GMT+14",
    "localtime",
    "Mars/Olympus",
    "../../etc/passwd",
    "/etc/localtime",
    "a@b.co",
    "user@example.com",
    "@",
    "a" * 300 + "@example.com",
    "https://example.com/poster.jpg",
    "javascript:alert(1)",
    "http://",
    "EUR",
    "en",
    "2D",
    "IMAX",
    "STANDARD",
    "A",
    "Z" * 300,
    "x" * 5000,
    "é" * 70_000,
    "correct-horse-battery",
)

# Any code point, lone surrogates included (hypothesis leaves them out by default).
ANY_CHAR = st.characters(codec=None, exclude_categories=())

INT_EDGES = (
    0,
    1,
    -1,
    2,
    5,
    10,
    11,
    100,
    101,
    1000,
    2**31 - 1,
    -(2**31),
    2**31,
    -(2**31) - 1,
    2**53,
    2**63,
    2**64,
    10**20,
    -(10**20),
)

FLOAT_EDGES = (
    0.0,
    -0.0,
    1e308,
    -1e308,
    5e-324,
    90.0,
    90.000001,
    -90.0,
    180.0,
    -180.000001,
    45.764,
    4.8357,
    1e20,
    0.1,
)

DATETIME_STRINGS = (
    "2030-01-01T18:00:00+00:00",
    "2030-01-01T18:00:00Z",
    "2030-01-01T18:00:00",
    "2000-01-01T00:00:00+14:00",
    "1900-01-01T00:00:00-12:00",
    "0001-01-01T00:00:00+00:00",
    "9999-12-31T23:59:59+00:00",
    "9999-12-31T23:59:59-23:59",
    "0001-01-01T00:00:00+23:59",
    "2024-02-30T00:00:00+00:00",
    "2024-01-01T25:00:00+00:00",
    "2024-01-01",
    "now",
    "1e10",
)
DATE_STRINGS = (
    "2030-01-01",
    "0001-01-01",
    "9999-12-31",
    "1900-02-29",
    "2024-02-29",
    "2024-13-01",
    "10000-01-01",
    "-0001-01-01",
    "2024-1-1",
    "20240101",
)
TIME_STRINGS = (
    "00:00",
    "10:00",
    "23:59",
    "23:59:59.999999",
    "24:00",
    "10:00+02:00",
    "25:00",
    "1:2",
    "10",
)
DECIMAL_STRINGS = (
    "10.00",
    "0",
    "0.00",
    "-0",
    "-1",
    "0.001",
    "0.005",
    "12.345",
    "99999999.99",
    "99999999999999999999.99",
    "1" * 400,
    "1e1000000",
    "1E-1000000",
    "NaN",
    "sNaN",
    "-NaN",
    "Infinity",
    "-Infinity",
    "1_000",
    " 5 ",
    "٣",
)


def b64(text: str) -> str:
    """A global ID the way the server makes them (urlsafe base64, padding stripped)."""
    return base64.urlsafe_b64encode(text.encode("utf-8", "surrogatepass")).decode().rstrip("=")


def hostile_text() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(HOSTILE_STRINGS),
        st.text(ANY_CHAR, max_size=30),
        st.text(max_size=12),
        st.builds(
            lambda a, b: a + b, st.sampled_from(HOSTILE_STRINGS[:40]), st.text(ANY_CHAR, max_size=5)
        ),
    )


def strings(extra: Sequence[str] = ()) -> st.SearchStrategy[ValueNode]:
    pool = st.sampled_from(tuple(extra)) if extra else st.nothing()
    return st.one_of(hostile_text(), pool).map(lambda s: StringValueNode(value=s))


def ints() -> st.SearchStrategy[ValueNode]:
    # Mostly 32-bit values (the GraphQL Int): one out-of-range literal anywhere makes the
    # whole document invalid, so those come less often than values the resolvers see.
    in_range = st.sampled_from(tuple(n for n in INT_EDGES if -(2**31) <= n < 2**31))
    small = st.integers(-3, 120)
    huge = st.one_of(st.sampled_from(INT_EDGES), st.integers(-(2**70), 2**70))
    return st.one_of(small, small, small, in_range, in_range, st.integers(-1000, 1000), huge).map(
        lambda n: IntValueNode(value=str(n))
    )


def floats() -> st.SearchStrategy[ValueNode]:
    values = st.one_of(
        st.sampled_from(FLOAT_EDGES),
        st.sampled_from(FLOAT_EDGES),
        st.floats(allow_nan=False, allow_infinity=False),
        st.floats(-200, 200),
    ).map(lambda f: FloatValueNode(value=repr(f)))
    # Not representable inline; as variables they become NaN/Infinity JSON tokens.
    odd = st.sampled_from(("NaN", "Infinity", "-Infinity")).map(lambda v: FloatValueNode(value=v))
    return st.one_of(values, values, values, ints(), odd)


def ids(real_ids: Sequence[str]) -> st.SearchStrategy[ValueNode]:
    """Global IDs: real rows', every node type's with hostile keys (beyond 64 bits), other
    types', and garbage."""
    pks = st.one_of(st.sampled_from(HOSTILE_PKS), st.integers(1, 10**6))
    hostile_gid = st.builds(
        lambda t, pk: b64(f"{t}:{pk}"), st.sampled_from(NODE_TYPES + OTHER_TYPES), pks
    )
    odd_keys = st.builds(
        lambda t, k: b64(f"{t}:{k}"),
        st.sampled_from(NODE_TYPES),
        st.sampled_from(
            ("", "abc", "1.5", " 1", "+1", "0x1", "1_000", "١٢", "1e3", "9" * 5000, "\u0000")
        ),
    )
    garbage = st.sampled_from(
        (
            "",
            "=",
            "====",
            "not-base64!",
            "TW92aWU6",  # "Movie:"
            "Movie:1",
            "TW92aWU6MQ==",  # padded
            "TW92aWU6MQ",
            "TW92aWU6MQ===",
            "//79",  # not UTF-8 once decoded
            "\u0000",
            "A" * 10_000,
        )
    )
    gid = st.one_of(
        st.sampled_from(tuple(real_ids)),
        st.sampled_from(tuple(real_ids)),
        hostile_gid,
        odd_keys,
        garbage,
        hostile_text(),
    ).map(lambda s: StringValueNode(value=s))
    # ID also accepts integer literals.
    return st.one_of(gid, gid, gid, ints())


def custom_scalars(real_ids: Sequence[str], extra_strings: Sequence[str]) -> dict[str, Any]:
    def from_pool(pool: Sequence[str]) -> st.SearchStrategy[ValueNode]:
        plausible = st.sampled_from(tuple(pool)).map(lambda s: StringValueNode(value=s))
        return st.one_of(
            plausible,
            plausible,
            plausible,
            strings(),
            ints(),
        )

    datetimes = st.one_of(
        from_pool(DATETIME_STRINGS),
        st.datetimes().map(lambda d: StringValueNode(value=d.isoformat())),
    )
    return {
        "String": strings(extra_strings),
        "ID": ids(real_ids),
        "Int": ints(),
        "Float": floats(),
        "DateTime": datetimes,
        "Date": from_pool(DATE_STRINGS),
        "Time": from_pool(TIME_STRINGS),
        "Decimal": st.one_of(from_pool(DECIMAL_STRINGS), floats()),
    }


# --- plausible values by field name ----------------------------------------------------------

# Values that pass validation for well-known input fields, so that some generated mutations
# get past the first check and reach deeper code (the hostile values stay likely too).
PLAUSIBLE: dict[str, tuple[Any, ...]] = {
    "timeZone": ("Europe/Paris", "UTC", "America/New_York", "Asia/Kathmandu"),
    "latitude": (45.764, -33.9, 0.0, 90.0),
    "longitude": (4.8357, 151.2, 0.0, -180.0),
    "email": ("fuzz@example.com", "FUZZ@Example.COM"),
    "username": ("fuzzer", "Fuzzer_2"),
    "password": ("correct-horse-battery",),
    "newPassword": ("another-horse-battery",),
    "currentPassword": ("correct-horse-battery",),
    "startsAt": ("2030-01-01T18:00:00+00:00", "2030-06-01T09:30:00+02:00"),
    "rating": (1, 7, 10),
    "durationMinutes": (90, 1000),
    "year": (1870, 2024, 2100),
    "releaseDate": ("2024-01-31", "1870-01-01"),
    "language": ("en", "fr"),
    "format": ("2D", "3D", "IMAX"),
    "currency": ("EUR", "USD"),
    "amount": ("10.00", "0", "99999999.99", "NaN", "1e1000000"),
    "budget": ("1000000", "0", "NaN", "sNaN", "Infinity", "1e1000000"),
    "boxOffice": ("1000000", "NaN", "-Infinity"),
    "posterUrl": ("https://example.com/p.jpg", "http://[::1", "http://x:99999/"),
    "trailerUrl": ("https://example.com/t.mp4", "https://\u0000"),
    "label": ("A", "AA", "Z"),
    "seats": (1, 10, 100),
    "cleaningMinutes": (0, 15, 240),
    "name": ("Fuzz", "Salle 1"),
    "title": ("Fuzz", "A title"),
    "body": ("Worth seeing.",),
    "opensAt": ("10:00", "00:00"),
    "closesAt": ("23:00", "02:00"),
}


def _literal(value: Any) -> ValueNode:
    if isinstance(value, bool):
        return graphql.BooleanValueNode(value=value)
    if isinstance(value, int):
        return IntValueNode(value=str(value))
    if isinstance(value, float):
        return FloatValueNode(value=repr(value))
    return StringValueNode(value=value)


def make_plausible(document: graphql.DocumentNode, draw: Any) -> graphql.DocumentNode:
    """A copy where some input fields named in PLAUSIBLE get a plausible value; `draw(options)`
    returns one of the options or None to leave the field alone."""

    class Replace(Visitor):
        def enter_object_field(self, node: ObjectFieldNode, *_: Any) -> Any:
            options = PLAUSIBLE.get(node.name.value)
            if options is None or isinstance(node.value, VariableNode | graphql.NullValueNode):
                return None
            value = draw(options)
            return None if value is None else dataclasses.replace(node, value=_literal(value))

    return graphql.visit(document, Replace())


# --- hoisting literals into variables ------------------------------------------------------


def _json_value(node: ValueNode) -> Any:
    """The JSON a client would send for a literal (NaN stays a float: json.dumps writes it)."""
    if isinstance(node, FloatValueNode) and node.value in ("NaN", "Infinity", "-Infinity"):
        return float(node.value)
    if isinstance(node, graphql.ListValueNode):
        return [_json_value(v) for v in node.values]
    if isinstance(node, graphql.ObjectValueNode):
        return {f.name.value: _json_value(f.value) for f in node.fields}
    return graphql.value_from_ast_untyped(node)


def hoist_variables(
    document: graphql.DocumentNode, schema: graphql.GraphQLSchema, choose: Any
) -> tuple[graphql.DocumentNode, dict[str, Any]]:
    """A copy of the document where the literals `choose()` picks (arguments and input
    object fields, in document order) are sent as variables instead. `choose` is called once
    per candidate whose enclosing literal was not hoisted already."""
    type_info = TypeInfo(schema)
    candidates: list[tuple[ArgumentNode | ObjectFieldNode, Any, tuple[int, ...]]] = []

    class Collect(Visitor):
        def enter_argument(self, node: ArgumentNode, *args: Any) -> None:
            self._add(node, args[3])

        def enter_object_field(self, node: ObjectFieldNode, *args: Any) -> None:
            self._add(node, args[3])

        def _add(self, node: ArgumentNode | ObjectFieldNode, ancestors: Any) -> None:
            holders = tuple(
                id(a) for a in ancestors if isinstance(a, ArgumentNode | ObjectFieldNode)
            )
            candidates.append((node, type_info.get_input_type(), holders))

    graphql.visit(document, TypeInfoVisitor(type_info, Collect()))
    hoisted: dict[int, str] = {}
    variables: dict[str, Any] = {}
    definitions: list[VariableDefinitionNode] = []
    for node, input_type, holders in candidates:
        if input_type is None or isinstance(node.value, VariableNode):
            continue
        if any(h in hoisted for h in holders) or not choose():
            continue
        name = f"v{len(variables)}"
        variables[name] = _json_value(node.value)
        definitions.append(
            VariableDefinitionNode(
                variable=VariableNode(name=NameNode(value=name)),
                type=graphql.parse_type(str(input_type)),
                directives=(),
            )
        )
        hoisted[id(node)] = name
    if not hoisted:
        return document, {}

    class Replace(Visitor):
        def enter_argument(self, node: ArgumentNode, *_: Any) -> Any:
            return self._replace(node)

        def enter_object_field(self, node: ObjectFieldNode, *_: Any) -> Any:
            return self._replace(node)

        def _replace(self, node: ArgumentNode | ObjectFieldNode) -> Any:
            name = hoisted.get(id(node))
            if name is None:
                return None
            return dataclasses.replace(node, value=VariableNode(name=NameNode(value=name)))

        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> Any:
            return dataclasses.replace(
                node, variable_definitions=(*(node.variable_definitions or ()), *definitions)
            )

    return graphql.visit(document, Replace()), variables
