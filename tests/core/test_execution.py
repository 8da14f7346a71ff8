"""The execution fast path (graph/execution/) gives byte-identical responses to graphql-core's
normal completion: every bench query and the suite's query constants against PostgreSQL,
seat maps in many query shapes, and a small schema for what real data cannot produce (nulls
in non-null fields, awaitable attributes, bad enum values, interfaces). And the choice of
path: the setting, and the compatibility check's fallback with one warning."""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import logging
import pkgutil
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

import orjson
import pytest
import strawberry
from graphql import NamedTypeNode, NonNullTypeNode, OperationDefinitionNode, parse, validate
from sqlalchemy import delete, insert, select

import bench.scenarios
from bench.scenario import Scenario
from db.booking.models import SeatHold, SeatOccupancy
from db.cinemas.models import Seat
from db.session import Database
from db.showtimes.models import ShowtimePrice
from graph.context import Context
from graph.execution import NOT_READY, compat, execution_context_for, ready_value
from graph.execution.compiled import _Compiled
from graph.execution.fast import FastListExecution
from graph.execution.plans import _SHARED_LIMIT, _Shared, _shared_plans
from graph.realtime import SharedEventExecution
from graph.relay import to_global_id
from graph.schema import build_schema
from graph.settings import Settings
from tests.conftest import GraphQLClient
from tests.factories import (
    create_cinema,
    create_genre,
    create_hall,
    create_movie,
    create_review,
    create_showtime,
    create_user,
)


class CountingExecution(FastListExecution):
    """Counts the objects the fast path completed (nested ones included)."""

    completed = 0

    def _complete_object(self, plan: Any, source: Any, path: Any) -> Any:
        out = super()._complete_object(plan, source, path)
        CountingExecution.completed += 1
        return out


def _body(result: Any) -> bytes:
    errors = [e.formatted for e in result.errors] if result.errors else None
    return orjson.dumps({"data": result.data, "errors": errors, "extensions": result.extensions})


# --- seat maps against PostgreSQL -----------------------------------------------------------

SEAT_MAP = """
query SeatMap($id: ID!) {
  showtime(id: $id) {
    availableSeatCount
    seatMap {
      sequence
      rows { label seats { id number type status price { amount currency } heldByMe } }
    }
  }
}
"""

SHAPES = """
query Shapes($id: ID!, $withPrice: Boolean!, $skipNumber: Boolean!) {
  showtime(id: $id) {
    map: seatMap {
      __typename
      rows {
        __typename
        row: label
        left: seats { ...SeatFields }
        seats { number @skip(if: $skipNumber) kind: type }
        seats { status price @include(if: $withPrice) { __typename amount } }
      }
    }
    again: seatMap {
      rows {
        seats {
          ... on SeatMapSeat { seatId: id mine: heldByMe }
          ... @include(if: $withPrice) { price { currency amount } }
          ... @skip(if: $withPrice) { number }
        }
      }
    }
  }
}
fragment SeatFields on SeatMapSeat { id number type status heldByMe price { currency } }
"""

OTHER_LISTS = """
query Others($id: ID!) {
  showtime(id: $id) {
    prices { seatType price { amount currency } }
    hall { layout { version rows { label seats { id number type x y } } } }
  }
}
"""


@dataclass
class SeatMapFixture:
    showtime: str
    token: str


@pytest.fixture
async def seat_map(db: Database, gql: GraphQLClient) -> SeatMapFixture:
    """A 3-row hall (one VIP row without a price, so some prices are null), seats sold,
    held by the viewer and held by someone else."""
    hall = await create_hall(
        db,
        await create_cinema(db),
        rows=(("A", 6, "STANDARD"), ("B", 6, "VIP"), ("C", 4, "ACCESSIBLE")),
    )
    show = await create_showtime(db, movie_id=await create_movie(db), hall_id=hall)
    seats = [
        r.id
        for r in await db.fetch(
            select(Seat.id).where(Seat.hall_id == hall).order_by(Seat.y, Seat.x)
        )
    ]
    me = await create_user(db)
    other = await create_user(db)
    expires = datetime.now(UTC) + timedelta(minutes=10)
    async with db.transaction() as session:
        await session.execute(
            delete(ShowtimePrice).where(
                ShowtimePrice.showtime_id == show, ShowtimePrice.seat_type == "VIP"
            )
        )
        for user, taken in ((me, seats[1:3]), (other, seats[7:9])):
            hold = await session.scalar(
                insert(SeatHold)
                .values(user_id=user.id, showtime_id=show, expires_at=expires)
                .returning(SeatHold.id)
            )
            for seat in taken:
                await session.execute(
                    insert(SeatOccupancy).values(
                        showtime_id=show,
                        seat_id=seat,
                        hold_id=hold,
                        status="HELD",
                        expires_at=expires,
                    )
                )
        for seat in (seats[0], seats[12]):
            await session.execute(
                insert(SeatOccupancy).values(showtime_id=show, seat_id=seat, status="SOLD")
            )
    return SeatMapFixture(to_global_id("Showtime", show), gql.token_for(me))


def compiled_runs() -> int:
    """How many times compiled plans ran (objects, or whole lists of them) over the plans
    shared across executions (graph/execution/compiled.py)."""
    return sum(
        plan.compiled[0].runs
        for shared in _shared_plans.values()
        for _, plan in shared.plans.values()
        if plan is not None and isinstance(plan.compiled[0], _Compiled)
    )


async def _both(
    db: Database,
    settings: Settings,
    query: str,
    variables: dict[str, Any],
    token: str | None = None,
) -> tuple[bytes, bytes]:
    """(normal path, fast path) responses of the real schema, each with a fresh context.
    The normal schema runs graphql-core's completion under strawberry's full path, once.
    The fast schema runs the document three times: the first time interpreted and through
    strawberry's full path (its plans are made, the operation is prepared), then as a
    prepared operation with the plans compiled (COMPILE_AFTER = 2); all three must answer
    alike."""
    bodies = []
    normal_settings = settings.model_copy(update={"prepared_operations": False})
    for cls in (SharedEventExecution, CountingExecution):
        normal = cls is SharedEventExecution
        schema = build_schema(normal_settings if normal else settings, execution_context_class=cls)
        runs = 1 if normal else 3
        answers = set()
        for _ in range(runs):
            result = await schema.execute(
                query,
                variable_values=variables,
                context_value=Context(db=db, settings=settings, token=token),
            )
            answers.add(_body(result))
        assert len(answers) == 1, answers
        bodies.append(answers.pop())
        invalid = bool(validate(schema._schema, parse(query)))
        assert (schema.prepared.get(query, None) is None) is (normal or invalid)
    return bodies[0], bodies[1]


@pytest.mark.parametrize("signed_in", [False, True])
async def test_seat_map_is_identical(
    db: Database, settings: Settings, seat_map: SeatMapFixture, signed_in: bool
) -> None:
    before = CountingExecution.completed
    normal, fast = await _both(
        db, settings, SEAT_MAP, {"id": seat_map.showtime}, seat_map.token if signed_in else None
    )
    assert fast == normal
    assert CountingExecution.completed > before, "the fast path was not taken"
    data = orjson.loads(fast)["data"]["showtime"]["seatMap"]
    seats = [s for row in data["rows"] for s in row["seats"]]
    assert len(seats) == 16
    assert any(s["price"] is None for s in seats)  # the VIP row has no price
    assert {s["status"] for s in seats} == {"AVAILABLE", "HELD", "SOLD"}
    assert sum(s["heldByMe"] for s in seats) == (2 if signed_in else 0)


@pytest.mark.parametrize(
    ("with_price", "skip_number"), [(True, False), (False, True), (True, True), (False, False)]
)
async def test_aliases_fragments_and_conditions_are_identical(
    db: Database,
    settings: Settings,
    seat_map: SeatMapFixture,
    with_price: bool,
    skip_number: bool,
) -> None:
    variables = {"id": seat_map.showtime, "withPrice": with_price, "skipNumber": skip_number}
    normal, fast = await _both(db, settings, SHAPES, variables, seat_map.token)
    assert fast == normal
    row = orjson.loads(fast)["data"]["showtime"]["map"]["rows"][0]
    assert row["__typename"] == "SeatRow"
    assert ("number" in row["seats"][0]) is not skip_number
    assert ("price" in row["seats"][0]) is with_price
    # Keys in selection order, merged fields included, as graphql-core orders them.
    assert list(row) == ["__typename", "row", "left", "seats"]


async def test_other_lists_are_identical(
    db: Database, settings: Settings, seat_map: SeatMapFixture
) -> None:
    normal, fast = await _both(db, settings, OTHER_LISTS, {"id": seat_map.showtime})
    assert fast == normal
    assert orjson.loads(fast)["data"]["showtime"]["hall"]["layout"]["rows"]


async def test_the_app_serves_the_same_seat_map(
    gql: GraphQLClient, db: Database, settings: Settings, seat_map: SeatMapFixture
) -> None:
    body = await gql.raw(SEAT_MAP, {"id": seat_map.showtime}, token=seat_map.token)
    normal, _ = await _both(db, settings, SEAT_MAP, {"id": seat_map.showtime}, seat_map.token)
    assert not body.get("errors")
    assert body["data"] == orjson.loads(normal)["data"]
    assert build_schema(settings).execution_context_class is FastListExecution


# --- every bench query and the suite's query constants --------------------------------------


def _bench_queries() -> dict[str, str]:
    """The query of every bench scenario (bench/scenarios/*.py) that is a query operation;
    the mutation (holds) and the subscription (fanout) change or stream data and are not
    completed differently by the fast path."""
    found: dict[str, str] = {}
    for info in pkgutil.iter_modules(bench.scenarios.__path__):
        module = importlib.import_module(f"bench.scenarios.{info.name}")
        for value in vars(module).values():
            if isinstance(value, Scenario) and value.query and _operation(value.query) == "query":
                found[value.name] = value.query
    return found


def _operation(query: str) -> str | None:
    operations = [d for d in parse(query).definitions if isinstance(d, OperationDefinitionNode)]
    return operations[0].operation.value if len(operations) == 1 else None


def _suite_queries() -> dict[str, str]:
    """Every module-level query-operation string constant of the test suite."""
    found: dict[str, str] = {}
    for path in sorted(Path(__file__).parents[1].rglob("test_*.py")):
        for node in ast.parse(path.read_text()).body:
            if not (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)
                and re.match(r"\s*(query\b|\{)", node.value.value)
            ):
                continue
            try:
                if _operation(node.value.value) != "query":
                    continue
            except Exception:  # a template with placeholders (e.g. MOVIE_PAGE above)
                continue
            found[f"{path.stem}.{node.targets[0].id}"] = node.value.value
    return found


BENCH_QUERIES = _bench_queries()
SUITE_QUERIES = _suite_queries()


def _variables(query: str, ids: dict[str, str]) -> dict[str, Any]:
    """A value for each required variable of a scalar type: IDs of the fixture's objects by
    the variable's name (a showtime by default), small numbers, short strings."""
    scalars: dict[str, Any] = {"Int": 3, "Float": 1.5, "String": "a", "Boolean": True}
    values: dict[str, Any] = {}
    for definition in parse(query).definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        for variable in definition.variable_definitions or ():
            kind = variable.type
            if not isinstance(kind, NonNullTypeNode) or not isinstance(kind.type, NamedTypeNode):
                continue
            name, type_name = variable.variable.name.value, kind.type.name.value
            if type_name == "ID":
                key = next((k for k in ids if k in name.lower()), "showtime")
                values[name] = ids[key]
            elif type_name in scalars:
                values[name] = scalars[type_name]
    return values


@pytest.fixture
async def catalog(db: Database, seat_map: SeatMapFixture) -> dict[str, str]:
    """Movies with genres and reviews (the movie page), beside the seat map; global IDs by
    kind, for the queries' variables."""
    genres = [await create_genre(db) for _ in range(3)]
    users = [await create_user(db) for _ in range(3)]
    first = 0
    for i in range(4):
        movie = await create_movie(db, genre_ids=genres[: i + 1], popularity=90.0 - i)
        first = first or movie
        for j, user in enumerate(users[: i + 1]):
            await create_review(db, user_id=user.id, movie_id=movie, rating=4 + j)
    return {
        "showtime": seat_map.showtime,
        "movie": to_global_id("Movie", first),
        "genre": to_global_id("Genre", genres[0]),
        "user": to_global_id("User", users[0].id),
    }


def test_every_bench_query_is_covered() -> None:
    assert {"typename", "me", "movies", "seatmap", "seatmap_packed"} <= set(BENCH_QUERIES)
    assert len(SUITE_QUERIES) >= 20


@pytest.mark.parametrize("signed_in", [False, True])
@pytest.mark.parametrize(
    "query",
    [*BENCH_QUERIES.values(), *SUITE_QUERIES.values()],
    ids=[*BENCH_QUERIES, *SUITE_QUERIES],
)
async def test_bench_and_suite_queries_are_identical(
    db: Database,
    settings: Settings,
    seat_map: SeatMapFixture,
    catalog: dict[str, str],
    query: str,
    signed_in: bool,
) -> None:
    variables = _variables(query, catalog)
    normal, fast = await _both(
        db, settings, query, variables, seat_map.token if signed_in else None
    )
    assert fast == normal


# --- choosing the path -------------------------------------------------------------------------


def test_the_installed_versions_pass_the_compatibility_check() -> None:
    """requirements.lock stays within compat.SUPPORTED: an upgrade outside it fails here
    rather than turning the fast path off in production."""
    assert compat.REPORT.problems == ()
    assert execution_context_for(Settings(env="test", jwt_secret="x")) is FastListExecution


def test_the_setting_turns_the_fast_path_off() -> None:
    settings = Settings(env="test", jwt_secret="x", fast_execution=False)
    assert execution_context_for(settings) is SharedEventExecution
    assert build_schema(settings).execution_context_class is SharedEventExecution


def _with_module(name: str, fake: object) -> Callable[[str], Any]:
    def load(module: str) -> Any:
        return fake if module == name else importlib.import_module(module)

    return load


@pytest.mark.parametrize(
    ("load", "version", "expected"),
    [
        pytest.param(
            # graphql-core 3.2's get_argument_values: (type_def, node, variable_values)
            _with_module(
                "graphql.execution.values",
                type(
                    "FakeValues",
                    (),
                    {
                        "VariableValues": importlib.import_module(
                            "graphql.execution.values"
                        ).VariableValues,
                        "get_argument_values": staticmethod(lambda type_def, node, variables: {}),
                    },
                ),
            ),
            importlib.metadata.version,
            SharedEventExecution,
            id="signature",
        ),
        pytest.param(
            importlib.import_module,
            lambda dist: "3.4.0" if dist == "graphql-core" else importlib.metadata.version(dist),
            SharedEventExecution,
            id="version",
        ),
        pytest.param(
            _with_module("graphql.execution.values", object()),
            importlib.metadata.version,
            None,
            id="shared-events-too",
        ),
    ],
)
def test_a_failed_check_falls_back_with_one_warning(
    caplog: pytest.LogCaptureFixture,
    load: Callable[[str], Any],
    version: Callable[[str], str],
    expected: type | None,
) -> None:
    with caplog.at_level(logging.WARNING, logger="graph.execution"):
        report = compat.verify(load, version)
    assert report.fast
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "fast path disabled" in warnings[0].getMessage()
    settings = Settings(env="test", jwt_secret="x")
    assert execution_context_for(settings, report) is expected


# --- what real data cannot produce: a small schema over plain objects -----------------------


@strawberry.enum
class Color(Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.type
class Tag:
    name: str
    weight: Decimal | None = None


@strawberry.interface
class Named:
    name: str


@strawberry.type
class Pet(Named):
    legs: int


@strawberry.type
class Item:
    id: strawberry.ID
    n: int
    color: Color
    note: str | None = None
    tag: Tag | None = None
    tags: list[Tag] = field(default_factory=list)
    codes: list[int | None] = field(default_factory=list)
    colors: list[Color] = field(default_factory=list)

    @strawberry.field
    def doubled(self) -> int:
        return self.n * 2


@strawberry.type
class Root:
    items: list[Item]
    maybe_items: list[Item | None]
    pets: list[Pet]
    named: list[Named]


def _items(count: int = 5) -> list[Item]:
    return [
        Item(
            id=strawberry.ID(f"I{i}"),
            n=i,
            color=Color.RED if i % 2 else Color.BLUE,
            note=None if i % 3 else f"note {i}",
            tag=Tag(name=f"t{i}", weight=Decimal("1.50")) if i % 2 else None,
            tags=[Tag(name="a"), Tag(name="b", weight=Decimal(i))],
            codes=[i, None],
            colors=[Color.BLUE, Color.RED],
        )
        for i in range(count)
    ]


def _root(**changes: Any) -> Root:
    values: dict[str, Any] = {
        "items": _items(),
        "maybe_items": [None, *_items(2)],
        "pets": [Pet(name="Rex", legs=4)],
        "named": [Pet(name="Tweety", legs=2)],
    }
    values.update(changes)
    return Root(**values)


ITEMS = """
query ($skip: Boolean = false) {
  items {
    __typename id n color note colors codes
    tag { name weight }
    tags { __typename label: name weight }
    alias: n
    n @skip(if: $skip)
  }
  maybeItems { id tag { name } }
  pets { name legs }
  named { name ... on Pet { legs } }
}
"""


async def _both_small(query: str, root: Callable[[], Root]) -> tuple[bytes, bytes]:
    bodies = []
    for cls in (SharedEventExecution, CountingExecution):
        schema = strawberry.Schema(query=Root, types=[Pet], execution_context_class=cls)
        bodies.append(_body(await schema.execute(query, root_value=root())))
    return bodies[0], bodies[1]


async def test_plain_lists_are_identical() -> None:
    before = CountingExecution.completed
    normal, fast = await _both_small(ITEMS, _root)
    assert fast == normal
    assert orjson.loads(fast)["errors"] is None
    assert CountingExecution.completed > before


def _with(index: int, **changes: Any) -> Callable[[], Root]:
    """A root whose items[index] has some attributes replaced."""

    def make() -> Root:
        root = _root()
        for name, value in changes.items():
            if callable(value):
                value = value()
            setattr(root.items[index], name, value)
        return root

    return make


async def _seven() -> int:
    return 7


class Weird:
    """Not a Tag: its fields are missing."""


UNUSUAL = [
    pytest.param(_with(2, n=None), id="null-in-non-null-leaf"),
    pytest.param(_with(0, color="GREEN"), id="bad-enum-value"),
    pytest.param(_with(3, color="red"), id="enum-by-value"),
    pytest.param(_with(1, n="12"), id="int-from-string"),
    pytest.param(_with(1, n="twelve"), id="int-coercion-error"),
    pytest.param(_with(4, n=2**40), id="int-out-of-range"),
    pytest.param(_with(1, n=lambda: _seven()), id="awaitable-attribute"),
    pytest.param(_with(1, n=ValueError("boom")), id="exception-value"),
    pytest.param(_with(0, tags=[Tag(name="x"), None]), id="null-item-in-non-null-list"),
    pytest.param(_with(0, tags=None), id="null-non-null-list"),
    pytest.param(_with(0, tags=(Tag(name="tuple"),)), id="tuple-list"),
    pytest.param(_with(0, tags=lambda: iter([Tag(name="gen")])), id="iterator-list"),
    pytest.param(_with(0, codes=[1, None, "x"]), id="bad-item-in-leaf-list"),
    pytest.param(_with(0, tag=Weird()), id="object-without-attributes"),
    pytest.param(lambda: _root(items=[*_items(2), None]), id="null-item"),
    pytest.param(lambda: _root(items=(_items(3))), id="plain"),
    pytest.param(lambda: _root(items=[]), id="empty"),
    pytest.param(lambda: _root(items=None), id="null-root-list"),
]


@pytest.mark.parametrize("root", UNUSUAL)
async def test_unusual_values_give_the_normal_errors(root: Callable[[], Root]) -> None:
    normal, fast = await _both_small(ITEMS, root)
    assert fast == normal


@pytest.mark.parametrize("root", UNUSUAL)
async def test_compiled_plans_bail_out_to_the_normal_errors(root: Callable[[], Root]) -> None:
    """The document runs on one schema with ordinary values until every plan is compiled,
    then with the unusual value: the compiled functions must bail out (the interpreted path
    then gives graphql-core's nulls and errors), and ordinary values still answer alike
    afterwards."""
    bodies = []
    # When 2,048 selections fill the shared plans, the oldest go: start empty, so that this
    # test's few selections are not dropped between the two counts below.
    _shared_plans.clear()
    for cls in (SharedEventExecution, CountingExecution):
        schema = strawberry.Schema(query=Root, types=[Pet], execution_context_class=cls)
        ordinary = {_body(await schema.execute(ITEMS, root_value=_root())) for _ in range(3)}
        before = compiled_runs()
        unusual = _body(await schema.execute(ITEMS, root_value=root()))
        ordinary.add(_body(await schema.execute(ITEMS, root_value=_root())))
        assert len(ordinary) == 1
        bodies.append((ordinary.pop(), unusual))
        if cls is CountingExecution:
            assert compiled_runs() > before
    assert bodies[1] == bodies[0]


async def test_full_shared_plans_drop_only_the_oldest_selections() -> None:
    """A new selection in full shared plans pushes out the oldest one, not all of them (the
    hot plans of a busy worker stay compiled)."""
    _shared_plans.clear()
    fillers = [(None, (-i,)) for i in range(_SHARED_LIMIT)]
    for key in fillers:
        _shared_plans[key] = _Shared((), ())  # type: ignore[index]
    schema = strawberry.Schema(query=Root, types=[Pet], execution_context_class=CountingExecution)
    await schema.execute(ITEMS, root_value=_root())
    added = [key for key in _shared_plans if key not in fillers]
    assert added
    assert len(_shared_plans) == _SHARED_LIMIT
    assert [key in _shared_plans for key in fillers] == (
        [False] * len(added) + [True] * (_SHARED_LIMIT - len(added))
    )
    _shared_plans.clear()


async def test_fields_with_resolvers_are_identical() -> None:
    for root in (_root, _with(1, n=None)):
        normal, fast = await _both_small("{ items { id n doubled tag { name } } }", root)
        assert fast == normal


# --- objects with ready values: the movie page -----------------------------------------------

MOVIE_PAGE = """
query Page($withGenres: Boolean = true) {
  movies(first: FIRST, sort: POPULARITY) { totalCount edges { cursor node {
    __typename id title year genres @include(if: $withGenres) { name } averageRating
    reviewCount reviews(first: REVIEWS) { totalCount pageInfo { hasNextPage endCursor }
      edges { cursor node { rating title isMine author { username } } } }
    again: reviews(first: 1, sort: HIGHEST) { edges { node { rating } } }
  } } }
}
"""


async def test_movie_page_is_identical(
    db: Database, settings: Settings, gql: GraphQLClient
) -> None:
    """Genres, reviews and authors come from the look-ahead (ready values); the second
    reviews selection has other arguments, so it goes through its loader."""
    genres = [await create_genre(db) for _ in range(3)]
    users = [await create_user(db) for _ in range(4)]
    for i in range(4):
        movie = await create_movie(db, genre_ids=genres[: i % 4], popularity=100.0 - i)
        for j, user in enumerate(users[: i + 1]):
            await create_review(
                db,
                user_id=user.id,
                movie_id=movie,
                rating=3 + j,
                title=None if j % 2 else f"T{j}",
                is_anonymous=j == 1,
            )
    token = gql.token_for(users[1])
    before = CountingExecution.completed
    for first, reviews, viewer in ((5, 3, None), (3, 2, token), (5, 0, None)):
        query = MOVIE_PAGE.replace("FIRST", str(first)).replace("REVIEWS", str(reviews))
        normal, fast = await _both(db, settings, query, {"withGenres": first != 3}, viewer)
        assert fast == normal
        assert orjson.loads(fast)["errors"] is None
    assert CountingExecution.completed > before
    data = orjson.loads(fast)["data"]["movies"]["edges"]
    assert any(e["node"]["genres"] for e in data)


SHARED_PAGE = """
query Page($withGenres: Boolean!, $reviews: Int, $skipTitle: Boolean = false) {
  movies(first: 5, sort: POPULARITY) { edges { node { id title @skip(if: $skipTitle)
    genres @include(if: $withGenres) { name }
    reviews(first: $reviews) { totalCount edges { cursor node { rating author { username } } } }
  } } }
}
"""


async def test_plans_shared_across_executions_follow_the_variables(
    db: Database, settings: Settings, seat_map: SeatMapFixture
) -> None:
    """One schema executes the same documents again with other variables: plans are reused
    across executions only for the same variable values (conditions and ready-value
    arguments depend on them), and every response equals the normal path's."""
    genre = await create_genre(db)
    user = await create_user(db)
    for i in range(3):
        movie = await create_movie(db, genre_ids=[genre], popularity=50.0 - i)
        await create_review(db, user_id=user.id, movie_id=movie, rating=4 + i)
    fast_schema = build_schema(settings, execution_context_class=CountingExecution)
    normal_schema = build_schema(settings, execution_context_class=SharedEventExecution)

    async def both(query: str, variables: dict[str, Any], token: str | None = None) -> bytes:
        bodies = [
            _body(
                await schema.execute(
                    query,
                    variable_values=variables,
                    context_value=Context(db=db, settings=settings, token=token),
                )
            )
            for schema in (normal_schema, fast_schema)
        ]
        assert bodies[1] == bodies[0], variables
        return bodies[1]

    combos = [(True, False), (False, True), (True, True), (False, False)]
    for with_price, skip_number in combos * 2:
        variables = {"id": seat_map.showtime, "withPrice": with_price, "skipNumber": skip_number}
        await both(SHAPES, variables, seat_map.token)
    seen = set()
    for with_genres, reviews, skip_title in [
        (True, 1, False),
        (False, 2, True),
        (True, 0, False),
        (True, 1, False),
        (False, 2, True),
    ]:
        body = await both(
            SHARED_PAGE,
            {"withGenres": with_genres, "reviews": reviews, "skipTitle": skip_title},
        )
        node = orjson.loads(body)["data"]["movies"]["edges"][0]["node"]
        assert ("genres" in node) is with_genres
        assert ("title" in node) is not skip_title
        assert len(node["reviews"]["edges"]) == min(reviews, 1)
        seen.add(body)
    assert len(seen) == 3


# --- ready values and errors below fast positions, on a small schema --------------------------

CALLS: list[str] = []


def _ready_label(box: Box, args: Any) -> Any:
    return NOT_READY if box.label is None else f"{box.label}{args['suffix']}"


def _ready_inner(box: Box, args: Any) -> Any:
    return box.inner_value


@strawberry.type
class Inner:
    code: int

    @strawberry.field
    def strict(self) -> int:
        if self.code < 0:
            raise ValueError("negative code")
        return self.code

    @strawberry.field
    async def later(self) -> int:
        return self.code + 1


@strawberry.type
class Box(Named):
    label: strawberry.Private[str | None]
    inner_value: strawberry.Private[Any]

    @strawberry.field(metadata=ready_value(_ready_label))
    def label_of(self, suffix: str = "!") -> str:
        CALLS.append("label")
        return f"{self.label or 'computed'}{suffix}"

    @strawberry.field(metadata=ready_value(_ready_inner))
    def inner(self) -> Inner | None:
        CALLS.append("inner")
        return cast_inner(self.inner_value)


def cast_inner(value: Any) -> Inner | None:
    return value  # type: ignore[no-any-return]


@strawberry.type
class BoxEdge:
    cursor: str
    node: Box


@strawberry.type
class BoxRoot:
    edges: list[BoxEdge]
    boxes: list[Box | None]


BOXES = """
query ($suffix: String = "?") {
  edges { cursor node { __typename name labelOf(suffix: $suffix) plain: labelOf
    inner { code strict later } } }
  boxes { name inner { code } }
}
"""


def _boxes(*inners: Any, labels: tuple[str | None, ...] = ("a", None, "c")) -> Callable[[], Any]:
    def make() -> BoxRoot:
        boxes = [
            Box(name=f"b{i}", label=labels[i % len(labels)], inner_value=inner)
            for i, inner in enumerate(inners)
        ]
        return BoxRoot(
            edges=[BoxEdge(cursor=f"c{i}", node=b) for i, b in enumerate(boxes)],
            boxes=[*boxes, None],
        )

    return make


async def _both_boxes(query: str, root: Callable[[], Any]) -> tuple[bytes, bytes]:
    bodies = []
    for cls in (SharedEventExecution, CountingExecution):
        schema = strawberry.Schema(query=BoxRoot, execution_context_class=cls)
        # Three times on the fast schema: interpreted, then compiled where it applies.
        runs = 1 if cls is SharedEventExecution else 3
        answers = {_body(await schema.execute(query, root_value=root())) for _ in range(runs)}
        assert len(answers) == 1, answers
        bodies.append(answers.pop())
    return bodies[0], bodies[1]


@pytest.mark.parametrize(
    "root",
    [
        pytest.param(_boxes(Inner(code=1), Inner(code=2), None), id="ready"),
        pytest.param(_boxes(Inner(code=1), Inner(code=-1)), id="error-in-resolver-below"),
        pytest.param(_boxes(Inner(code=1), Weird()), id="wrong-object-type"),
        pytest.param(_boxes(Inner(code=1), lambda: _inner_later()), id="awaitable-ready-value"),
        pytest.param(_boxes(Inner(code=4), labels=(None,)), id="none-ready"),
        pytest.param(_boxes(), id="empty"),
    ],
)
async def test_ready_values_and_errors_are_identical(root: Callable[[], Any]) -> None:
    def fresh() -> Any:
        made = root()
        for box in made.boxes:
            if box is not None and callable(box.inner_value):
                box.inner_value = box.inner_value()
        return made

    normal, fast = await _both_boxes(BOXES, fresh)
    assert fast == normal


async def _inner_later() -> Inner:
    return Inner(code=9)


async def test_ready_values_skip_the_resolver() -> None:
    CALLS.clear()
    schema = strawberry.Schema(query=BoxRoot, execution_context_class=FastListExecution)
    result = await schema.execute(
        "{ edges { node { labelOf inner { code } } } }",
        root_value=_boxes(Inner(code=1), Inner(code=2), labels=("a",))(),
    )
    assert result.errors is None
    assert result.data == {
        "edges": [
            {"node": {"labelOf": "a!", "inner": {"code": 1}}},
            {"node": {"labelOf": "a!", "inner": {"code": 2}}},
        ]
    }
    assert CALLS == []
    # Not ready: the resolver runs.
    result = await schema.execute(
        "{ edges { node { labelOf } } }", root_value=_boxes(None, labels=(None,))()
    )
    assert result.data == {"edges": [{"node": {"labelOf": "computed!"}}]}
    assert CALLS == ["label"]
