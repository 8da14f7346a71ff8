"""Prepared operations (graph/documents.py, `MarqueeSchema._run_prepared`): once a document
has been through strawberry's full path, the next request for it skips strawberry's
per-request machinery. Its answers must be those of the full path byte for byte, errors
and extensions included, for requests that differ from the one that prepared it: other
variables (a cost over the limit, text no database accepts, a wrong type), another
viewer, another operation of the document, the cost report asked for, a type of operation
the transport does not allow. (tests/core/test_execution.py compares every bench and
suite query on both paths.)"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types.graphql import OperationType

from db.session import Database
from graph.auth import create_access_token
from graph.context import Context
from graph.schema import MarqueeSchema, build_schema
from graph.settings import Settings
from tests.factories import create_movie, create_user

PAGE = "query Page($n: Int!) { movies(first: $n) { edges { node { id title } } } }"
SEARCH = (
    "query Search($q: String!) "
    "{ movies(filter: {search: $q}, first: 2) { edges { node { title } } } }"
)
USERS = "{ users(first: 2) { edges { node { username } } } }"
TWO = "query A { __typename } query B { movies(first: 1) { edges { node { title } } } }"
RENAME = "mutation Rename { __typename }"
ALIASED = "{ a: __typename __typename b: __typename }"
TYPED = "query T($i: Boolean!) { a: __typename b: __typename @include(if: $i) }"
SKIPPED = "query S($s: Boolean!) { __typename @skip(if: $s) }"


@dataclass
class Case:
    query: str
    first: dict[str, Any] = field(default_factory=dict)  # the request that prepares it
    then: dict[str, Any] = field(default_factory=dict)  # the request compared


CASES = {
    "cost over the limit": Case(PAGE, {"variables": {"n": 2}}, {"variables": {"n": 100}}),
    "cost under the limit": Case(PAGE, {"variables": {"n": 2}}, {"variables": {"n": 3}}),
    "NUL in a variable": Case(SEARCH, {"variables": {"q": "a"}}, {"variables": {"q": "a\x00"}}),
    "a variable of the wrong type": Case(
        PAGE, {"variables": {"n": 2}}, {"variables": {"n": "two"}}
    ),
    "a missing variable": Case(PAGE, {"variables": {"n": 2}}, {"variables": {}}),
    "the actual cost asked for": Case(
        PAGE,
        {"variables": {"n": 2}},
        {"variables": {"n": 2}, "extensions": {"cost": {"actual": True}}},
    ),
    "forbidden to anonymous, allowed to staff": Case(USERS, {"staff": True}, {}),
    "allowed to staff after anonymous": Case(USERS, {}, {"staff": True}),
    "the other operation": Case(TWO, {"operation_name": "A"}, {"operation_name": "B"}),
    "no operation named": Case(TWO, {"operation_name": "B"}, {}),
    "an operation name the document lacks": Case(
        TWO, {"operation_name": "A"}, {"operation_name": "C"}
    ),
    # Constant answers (`constant_data`) and documents that look like one but are not.
    "a constant answer with its actual cost": Case(
        ALIASED, {}, {"extensions": {"cost": {"actual": True}}}
    ),
    "a constant operation named": Case(TWO, {"operation_name": "B"}, {"operation_name": "A"}),
    "a typename included by a variable of the wrong type": Case(
        TYPED, {"variables": {"i": True}}, {"variables": {"i": "yes"}}
    ),
    "a typename skipped": Case(SKIPPED, {"variables": {"s": False}}, {"variables": {"s": True}}),
}


async def _run(
    schema: MarqueeSchema, db: Database, settings: Settings, query: str, request: dict[str, Any]
) -> bytes:
    """The answer, or the exception the transport turns into a 400, by name."""
    token = request.get("token") if request.get("staff") else None
    try:
        result = await schema.execute(
            query,
            variable_values=request.get("variables"),
            context_value=Context(db=db, settings=settings, token=token),
            operation_name=request.get("operation_name"),
            operation_extensions=request.get("extensions"),
            allowed_operation_types=request.get("allowed"),
        )
    except (CannotGetOperationTypeError, InvalidOperationTypeError) as exc:
        return f"raised {type(exc).__name__}".encode()
    errors = [e.formatted for e in result.errors] if result.errors else None
    return orjson.dumps({"data": result.data, "errors": errors, "extensions": result.extensions})


@pytest.fixture
async def staff_token(db: Database, settings: Settings) -> str:
    admin = await create_user(db, role="ADMIN")
    for i in range(3):
        await create_movie(db, title=f"Apple {i}", popularity=50.0 - i)
    return create_access_token(admin.id, admin.role, settings)


@pytest.mark.parametrize("name", list(CASES))
async def test_prepared_answers_are_the_full_paths(
    db: Database, settings: Settings, staff_token: str, name: str
) -> None:
    case = CASES[name]
    settings = settings.model_copy(update={"max_query_cost": 40})
    full = build_schema(settings.model_copy(update={"prepared_operations": False}))
    prepared = build_schema(settings)
    first = {**case.first, "token": staff_token}
    then = {**case.then, "token": staff_token}
    await _run(prepared, db, settings, case.query, first)
    assert prepared.prepared.get(case.query, case.first.get("operation_name")) is not None
    assert full.prepared.get(case.query, case.first.get("operation_name")) is None
    answers = [await _run(schema, db, settings, case.query, then) for schema in (full, prepared)]
    assert answers[0] == answers[1]
    assert any(part in answers[0] for part in (b'"cost"', b'"errors":[', b"raised "))


async def test_every_case_answers_something_different_from_its_first_request(
    db: Database, settings: Settings, staff_token: str
) -> None:
    """The cases are not vacuous: the compared request changes the answer."""
    settings = settings.model_copy(update={"max_query_cost": 40})
    schema = build_schema(settings.model_copy(update={"prepared_operations": False}))
    for name, case in CASES.items():
        first = await _run(schema, db, settings, case.query, {**case.first, "token": staff_token})
        then = await _run(schema, db, settings, case.query, {**case.then, "token": staff_token})
        assert first != then, name


async def test_an_operation_type_not_allowed_is_refused_on_both_paths(
    db: Database, settings: Settings
) -> None:
    schema = build_schema(settings)
    await _run(schema, db, settings, RENAME, {})
    assert schema.prepared.get(RENAME, None) is not None
    refused = await _run(schema, db, settings, RENAME, {"allowed": {OperationType.QUERY}})
    assert refused == b"raised InvalidOperationTypeError"


async def test_the_setting_turns_them_off(db: Database, settings: Settings) -> None:
    schema = build_schema(settings.model_copy(update={"prepared_operations": False}))
    await _run(schema, db, settings, PAGE, {"variables": {"n": 1}})
    assert schema.prepared.get(PAGE, None) is None
    on = build_schema(settings)
    await _run(on, db, settings, PAGE, {"variables": {"n": 1}})
    assert on.prepared.get(PAGE, None) is not None
    assert on.prepared.get(PAGE, "Page") is not None


@pytest.mark.parametrize(
    ("query", "operation_name", "constant"),
    [
        ("{ __typename }", None, {"__typename": "Query"}),
        (ALIASED, None, {"a": "Query", "__typename": "Query", "b": "Query"}),
        (TWO, "A", {"__typename": "Query"}),
        (TWO, "B", None),
        (TYPED, None, None),
        (SKIPPED, None, None),
        ("{ ... on Query { __typename } }", None, None),
        (RENAME, None, None),
    ],
)
async def test_only_the_typename_of_the_root_is_answered_as_a_constant(
    db: Database, settings: Settings, query: str, operation_name: str | None, constant: Any
) -> None:
    """Which prepared documents skip the executor; the answers of all of them are compared
    with the full path's above and in tests/core/test_execution.py."""
    schema = build_schema(settings)
    first = await _run(schema, db, settings, query, {"operation_name": operation_name})
    entry = schema.prepared.get(query, operation_name)
    assert entry is not None
    assert entry.constant == constant
    assert await _run(schema, db, settings, query, {"operation_name": operation_name}) == first
