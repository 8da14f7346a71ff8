"""What one request may cost the server: document limits in linear time, the query cost
(counted, reported and enforced), list inputs, response size, the time limit, text that no
database takes, WebSocket limits and admission control (docs/security.md)."""

from __future__ import annotations

import asyncio
import base64
import gc
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from graphql import get_introspection_query, graphql_sync
from httpx_ws import AsyncWebSocketSession, WebSocketDisconnect, aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport

from db.session import Database, SharedConnectionDatabase
from graph.app import create_app
from graph.documents import _COSTS, RequestLimits, parse_cached, request_checks
from graph.limits import INTROSPECTION_COST, actual_cost
from graph.schema import build_schema
from graph.settings import Settings
from tests.conftest import GraphQLClient
from tests.factories import create_cinema, create_hall, create_movie, create_showtime, create_user

ROOT = Path(__file__).resolve().parents[2]


def _fragment_bomb(levels: int) -> str:
    """Each fragment spreads the one before it twice: 2**levels `id` fields once expanded."""
    parts = [
        f"{{ movies(first: 1) {{ edges {{ node {{ ...G{levels - 1} }} }} }} }}",
        "fragment G0 on Movie { id }",
    ]
    parts += [f"fragment G{n} on Movie {{ ...G{n - 1} ...G{n - 1} }}" for n in range(1, levels)]
    return " ".join(parts)


# Durations are this process's CPU time: what a request costs the worker, whatever else the
# (shared, noisy) machine is doing.


def _code(body: dict[str, Any]) -> str:
    code: str = body["errors"][0]["extensions"]["code"]
    return code


@asynccontextmanager
async def _http(db: SharedConnectionDatabase, settings: Settings) -> AsyncIterator[GraphQLClient]:
    app = create_app(settings, database=db)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield GraphQLClient(http, settings)


@asynccontextmanager
async def _ws(
    db: SharedConnectionDatabase, settings: Settings, app: Any = None
) -> AsyncIterator[AsyncWebSocketSession]:
    app = app or create_app(settings, database=db)
    async with (
        httpx.AsyncClient(
            transport=ASGIWebSocketTransport(app=app), base_url="http://test"
        ) as client,
        aconnect_ws("/graphql", client, subprotocols=["graphql-transport-ws"]) as ws,
    ):
        yield ws


async def _ws_init(ws: AsyncWebSocketSession) -> None:
    await ws.send_json({"type": "connection_init"})
    assert (await ws.receive_json(timeout=5))["type"] == "connection_ack"


# -- documents: linear time ------------------------------------------------------------


def _start_cpu() -> float:
    """CPU time of this thread, where the app runs a request sent through httpx's ASGI
    transport (not the whole process: a thread another test left behind, such as a real
    server, must not count), after a full garbage collection (so none that earlier tests
    made due lands in the measurement)."""
    gc.collect()
    return time.thread_time()


async def test_fragment_bomb_is_refused_quickly_over_http(gql: GraphQLClient) -> None:
    document = _fragment_bomb(40)
    assert len(document) < 2000
    started = _start_cpu()
    body = await gql.raw(document)
    elapsed = time.thread_time() - started
    assert _code(body) == "BAD_USER_INPUT"
    assert body.get("data") is None
    assert elapsed < 0.1, elapsed
    # The worker is free: the next request is answered at once.
    assert (await gql.execute("{ __typename }")) == {"__typename": "Query"}


async def test_fragment_bomb_is_refused_quickly_over_websocket(
    db: SharedConnectionDatabase, settings: Settings
) -> None:
    async with _ws(db, settings) as ws:
        await _ws_init(ws)
        started = time.process_time()
        await ws.send_json(
            {"id": "1", "type": "subscribe", "payload": {"query": _fragment_bomb(40)}}
        )
        message = await ws.receive_json(timeout=5)
        elapsed = time.process_time() - started
        assert message["type"] == "error", message
        assert message["payload"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        assert elapsed < 0.1, elapsed


async def test_validation_errors_over_websocket_are_coded(
    db: SharedConnectionDatabase, settings: Settings
) -> None:
    """As over HTTP: a document that does not validate, or whose variables do not coerce,
    is the client's input (its `error` message had no `extensions.code`)."""
    cases = [
        {"query": "subscription { nope }"},
        {"query": "subscription ($s: ID!) { seatAvailability(showtimeId: $s) { sequence } }"},
        {"query": "query { movies(first: 1) { totalCount } nope }"},
    ]
    async with _ws(db, settings) as ws:
        await _ws_init(ws)
        for n, payload in enumerate(cases):
            await ws.send_json({"id": str(n), "type": "subscribe", "payload": payload})
            message = await ws.receive_json(timeout=5)
            assert message["type"] == "error", message
            assert message["payload"][0]["extensions"]["code"] == "BAD_USER_INPUT", message


async def test_syntax_errors_and_unnamed_operations_over_websocket_are_coded(
    db: SharedConnectionDatabase, settings: Settings, gql: GraphQLClient
) -> None:
    """A document that does not parse (or has too many tokens) raised out of the operation's
    task: the client got a bare `complete` (over the legacy protocol, nothing) and the log a
    traceback. Several operations without a name ran the first. Both are refused as over
    HTTP, with one coded error, and the connection goes on."""
    over_http = await gql.raw("{ ")
    code = over_http["errors"][0]["extensions"]["code"]
    many = "{ " + " ".join(f"a{n}: __typename" for n in range(2100)) + " }"
    two = "query A { __typename } query B { __typename }"
    cases = [("{ ", code), (many, code), (two, "BAD_USER_INPUT")]
    async with _ws(db, settings) as ws:
        await _ws_init(ws)
        for n, (query, expected) in enumerate(cases):
            await ws.send_json({"id": str(n), "type": "subscribe", "payload": {"query": query}})
            message = await ws.receive_json(timeout=5)
            assert message["type"] == "error", message
            assert message["id"] == str(n)
            assert message["payload"][0]["extensions"]["code"] == expected, message
        await ws.send_json(
            {"id": "ok", "type": "subscribe", "payload": {"query": "{ __typename }"}}
        )
        answer = await ws.receive_json(timeout=5)
        assert answer["payload"]["data"] == {"__typename": "Query"}, answer
    app = create_app(settings, database=db)
    async with (
        httpx.AsyncClient(transport=ASGIWebSocketTransport(app=app), base_url="http://t") as c,
        aconnect_ws("/graphql", c, subprotocols=["graphql-ws"]) as legacy,
    ):
        await legacy.send_json({"type": "connection_init"})
        assert (await legacy.receive_json(timeout=5))["type"] == "connection_ack"
        await legacy.send_json({"id": "1", "type": "start", "payload": {"query": "{ "}})
        message = await legacy.receive_json(timeout=5)
        assert message["type"] == "error", message
        assert message["id"] == "1"


@pytest.mark.parametrize(
    "document",
    [
        # graphql-core's field-merging rule is quadratic in fields of one response name
        "{ " + " ".join(["movies { totalCount }"] * 900) + " }",
        "{ movies(first: 1) { edges { node { "
        + " ".join(f"...F{n}" for n in range(300))
        + " } } } } "
        + " ".join(f"fragment F{n} on Movie {{ genres {{ id }} }}" for n in range(300)),
        # deep nesting (recursion in any walker)
        "{ " + "me { " * 1200 + "id" + " }" * 1201,
        # many fragments, each spread everywhere
        "{ movies(first: 1) { edges { node { "
        + " ".join(f"...F{n}" for n in range(150))
        + " } } } } "
        + " ".join(
            f"fragment F{n} on Movie {{ {' '.join(f'...F{m}' for m in range(n))} id }}"
            for n in range(60)
        ),
    ],
    ids=["same-field", "many-fragments", "deep", "spread-everywhere"],
)
async def test_hostile_documents_are_refused_quickly(gql: GraphQLClient, document: str) -> None:
    started = _start_cpu()
    body = await gql.raw(document)
    elapsed = time.thread_time() - started
    assert _code(body) == "BAD_USER_INPUT", body
    assert elapsed < 0.5, elapsed  # seconds before: a cold parse of 4,000 tokens is ~50 ms


async def test_fragments_used_many_times_are_fine_within_the_limits(gql: GraphQLClient) -> None:
    document = (
        "{ movies(first: 2) { edges { node { ...A ...B } } } } "
        "fragment A on Movie { id title ...C } fragment B on Movie { id ...C } "
        "fragment C on Movie { id genres { name } }"
    )
    data = await gql.execute(document)
    assert data == {"movies": {"edges": []}}


async def test_standard_introspection_passes_and_oftype_chains_are_capped(
    gql: GraphQLClient,
) -> None:
    # graphql-core's (as graphql-js's, which GraphiQL sends) nests `ofType` nine deep: over
    # the depth limit if each counted, so `ofType` levels are capped on their own.
    query = get_introspection_query(descriptions=True, input_value_deprecation=True)
    data = await gql.execute(query)
    assert data["__schema"]["queryType"]["name"] == "Query"
    chain = '{ __type(name: "ID") { ' + "ofType { " * 10 + "name" + " }" * 11 + " }"
    assert await gql.execute(chain) == {"__type": {"ofType": None}}
    too_long = '{ __type(name: "ID") { ' + "ofType { " * 11 + "name" + " }" * 12 + " }"
    body = await gql.raw(too_long)
    assert _code(body) == "BAD_USER_INPUT", body
    assert "ofType" in body["errors"][0]["message"]
    # The exemption goes by the field's name: no field of Marquee's own schema may take it.
    assert "ofType" not in (ROOT / "schema.graphql").read_text()


def test_introspection_costs_at_least_what_it_returns() -> None:
    """`__schema` and `__type` are costed at a fixed amount: at least the whole schema's (and
    the largest type's) introspection for this schema, so that aliases of it are refused
    (fails when the schema outgrows INTROSPECTION_COST: raise it)."""
    schema = build_schema(Settings(env="test", jwt_secret="x" * 32))._schema
    query = get_introspection_query(descriptions=True, input_value_deprecation=True)
    whole = graphql_sync(schema, query)
    assert whole.errors is None
    assert actual_cost(whole.data) <= INTROSPECTION_COST["__schema"]
    full_type = query[query.index("fragment FullType") :]
    for name in schema.type_map:
        one = graphql_sync(schema, f'{{ __type(name: "{name}") {{ ...FullType }} }} {full_type}')
        assert actual_cost(one.data) <= INTROSPECTION_COST["__type"], name


async def test_aliases_of_the_whole_schema_are_refused(gql: GraphQLClient) -> None:
    one = get_introspection_query(descriptions=True)
    assert "__schema" in (await gql.execute(one))  # GraphiQL's, once: fine
    schema_part = one[one.index("__schema") : one.index("fragment FullType")].rstrip()[:-1]
    fragments = one[one.index("fragment FullType") :]
    aliased = "{ " + " ".join(f"a{n}: {schema_part}" for n in range(3)) + " } " + fragments
    body = await gql.raw(aliased)
    assert _code(body) == "BAD_USER_INPUT", body
    assert "cost" in body["errors"][0]["message"]


# -- cost ------------------------------------------------------------------------------


async def _with_actual_cost(gql: GraphQLClient, query: str) -> dict[str, Any]:
    extensions = {"cost": {"actual": True}}
    response = await gql.http.post("/graphql", json={"query": query, "extensions": extensions})
    body: dict[str, Any] = response.json()
    return body


async def test_cost_counts_default_pages_and_is_reported(gql: GraphQLClient) -> None:
    body = await _with_actual_cost(gql, "{ movies { edges { node { id title } } } }")
    cost = body["extensions"]["cost"]
    # movies (1) + edges (1 + 20 items x (node 1 + id 1 + title 1))
    assert cost["requested"] == 1 + 1 + 20 * 3
    assert cost["actual"] == 2  # movies, edges: the list is empty
    assert cost["limit"] == gql.settings.max_query_cost
    # `actual` walks the whole result: only when asked for
    assert "actual" not in (await gql.raw("{ movies { totalCount } }"))["extensions"]["cost"]
    # a page size from a variable is counted per request, not cached with the document
    paged = "query ($n: Int) { movies(first: $n) { edges { node { id } } } }"
    for n in (3, 7):
        body = await gql.raw(paged, {"n": n})
        assert body["extensions"]["cost"]["requested"] == 1 + 1 + n * 2
    small = await gql.raw("{ movies(first: 2) { edges { node { id title } } } }")
    assert small["extensions"]["cost"]["requested"] == 1 + 1 + 2 * 3


async def test_cost_counts_list_arguments_and_declared_sizes(gql: GraphQLClient) -> None:
    ids = ", ".join(
        f'"{base64.urlsafe_b64encode(f"Showtime:{n}".encode()).decode()}"' for n in range(1, 101)
    )
    seat_map = "... on Showtime { seatMap { rows { seats { id status number type heldByMe } } } }"
    one = await gql.raw(f"{{ nodes(ids: [{ids}]) {{ {seat_map} }} }}")
    # 100 showtimes x a seat map of up to 2,000 seats x 5 fields: far over the limit.
    assert _code(one) == "BAD_USER_INPUT"
    assert "cost" in one["errors"][0]["message"]
    assert one["extensions"]["cost"]["requested"] > 100 * 2000 * 5
    thirty = (
        "{ " + " ".join(f"a{n}: nodes(ids: [{ids}]) {{ {seat_map} }}" for n in range(30)) + " }"
    )
    body = await gql.raw(thirty)
    assert _code(body) == "BAD_USER_INPUT"
    assert body["extensions"]["cost"]["requested"] > 30 * 100 * 2000 * 5


async def test_actual_cost_counts_returned_items(
    db: SharedConnectionDatabase, gql: GraphQLClient
) -> None:
    for n in range(3):
        await create_movie(db, title=f"Film {n}")
    body = await _with_actual_cost(
        gql, "{ movies(first: 10) { totalCount edges { node { id title } } } }"
    )
    cost = body["extensions"]["cost"]
    assert cost["requested"] == 1 + 1 + 1 + 10 * 3
    # movies, totalCount, edges, and 3 x (node, id, title)
    assert cost["actual"] == 3 + 3 * 3


async def test_response_size_is_capped(db: SharedConnectionDatabase, settings: Settings) -> None:
    for n in range(5):
        await create_movie(db, title=f"A rather long film title number {n}")
    capped = settings.model_copy(update={"max_response_bytes": 300})
    async with _http(db, capped) as gql:
        body = await gql.raw("{ movies { edges { node { id title description } } } }")
        assert _code(body) == "BAD_USER_INPUT"
        assert "larger than 300 bytes" in body["errors"][0]["message"]
        assert (await gql.execute("{ __typename }")) == {"__typename": "Query"}


def test_a_cached_cost_does_not_carry_over_to_another_list_limit() -> None:
    """Costs are cached per document when no variable changes them; a schema built with a
    smaller list input limit (other settings, same process) must still refuse the list."""
    schema = build_schema(Settings(env="test", jwt_secret="x" * 32))._schema
    ids = ", ".join(f'"{n}"' for n in range(10))
    query = f"{{ nodes(ids: [{ids}]) {{ id }} }}"
    document = parse_cached(query, 10_000)
    roomy = RequestLimits(max_cost=10_000, max_list_input=100)
    tight = RequestLimits(max_cost=10_000, max_list_input=5)
    for _ in range(2):
        assert request_checks(schema, document, query, None, None, roomy)[1] == []
        _, errors = request_checks(schema, document, query, None, None, tight)
        assert [e.extensions["code"] for e in errors] == ["BAD_USER_INPUT"]  # type: ignore[index]


def test_a_cached_cost_still_checks_the_lists_in_the_variables() -> None:
    """A document whose cost no variable changes is costed once, input objects in its
    variables included (every mutation's `$input`); the lists in those variables are
    checked again on every request, at the places the first walk found them."""
    schema = build_schema(Settings(env="test", jwt_secret="x" * 32))._schema
    query = (
        "mutation ($input: CreateMovieInput!) { createMovie(input: $input) { errors { code } } }"
    )
    document = parse_cached(query, 10_000)
    limits = RequestLimits(max_cost=10_000, max_list_input=5)
    short = {"input": {"title": "Short", "cast": ["A", "B"]}}
    long = {"input": {"title": "Long", "cast": [f"Actor {n}" for n in range(6)]}}
    first, errors = request_checks(schema, document, query, None, short, limits)
    assert errors == []
    assert _COSTS.get((query, None, 5)) is not None
    for variables, refused in ((long, True), (short, False), (long, True), (None, False)):
        cost, errors = request_checks(schema, document, query, None, variables, limits)
        if refused:
            assert [(e.extensions or {}).get("field") for e in errors] == ["input.cast"]
            assert "at most 5" in errors[0].message
        else:
            assert (cost, errors) == (first, [])


async def test_variable_defaults_are_checked_and_counted_like_sent_values(
    gql: GraphQLClient,
) -> None:
    """A variable's default value (`$ids: [ID!]! = [...]`, `$n: Int = 100`) is what the
    operation runs with when the variable is not sent: its lists are capped and its page
    sizes counted like a value sent (they were read only from the variables sent, so a
    default list of 3,000 ids under 30 aliases was costed at 1,230 and held a worker for
    14 s). A JSON float page size (100.0) counts as the Int it is."""
    ids = [base64.urlsafe_b64encode(f"Showtime:{n}".encode()).decode() for n in range(1, 102)]
    literal = ", ".join(f'"{i}"' for i in ids)
    listed = f"query Q($ids: [ID!]! = [{literal}]) {{ nodes(ids: $ids) {{ id }} }}"
    for variables in (None, {}, {"ids": ids[:2]}, None):  # also after a request that sent it
        body = await gql.raw(listed, variables)
        if variables and "ids" in variables:
            assert "errors" not in body, body
            continue
        assert _code(body) == "BAD_USER_INPUT"
        assert body["errors"][0]["extensions"]["field"] == "ids"
        assert "at most 100" in body["errors"][0]["message"]

    nested = (
        "movies(first: {n}) {{ edges {{ node {{ reviews(first: {n}) {{ edges {{ node {{"
        " author {{ reviews(first: {n}) {{ edges {{ node {{ id }} }} }} }} }} }} }} }} }} }}"
    )
    by_literal = await gql.raw("{ " + nested.format(n=100) + " }")
    assert _code(by_literal) == "BAD_USER_INPUT"
    requested = by_literal["extensions"]["cost"]["requested"]
    assert requested > gql.settings.max_query_cost
    by_default = "query Q($n: Int = 100) { " + nested.format(n="$n") + " }"
    for variables in (None, {"n": 100.0}):
        body = await gql.raw(by_default, variables)
        assert _code(body) == "BAD_USER_INPUT", variables
        assert body["extensions"]["cost"]["requested"] == requested
    small = await gql.raw(by_default, {"n": 2})
    assert "errors" not in small, small


async def test_list_inputs_are_capped(db: SharedConnectionDatabase, gql: GraphQLClient) -> None:
    ids = [base64.urlsafe_b64encode(f"Movie:{n}".encode()).decode() for n in range(1, 102)]
    literal = ", ".join(f'"{i}"' for i in ids)
    body = await gql.raw(f"{{ nodes(ids: [{literal}]) {{ id }} }}")
    assert _code(body) == "BAD_USER_INPUT"
    assert body["errors"][0]["extensions"]["field"] == "ids"
    body = await gql.raw("query ($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": ids})
    assert _code(body) == "BAD_USER_INPUT"
    assert body["errors"][0]["extensions"]["field"] == "ids"
    assert "at most 100" in body["errors"][0]["message"]
    # Lists inside input objects, in variables.
    manager = await create_user(db, role="MANAGER")
    create_movie_doc = (
        "mutation ($input: CreateMovieInput!) { createMovie(input: $input) { errors { code } } }"
    )
    movie = {"title": "Too many", "cast": [f"Actor {n}" for n in range(101)]}
    body = await gql.raw(create_movie_doc, {"input": movie}, token=gql.token_for(manager))
    assert _code(body) == "BAD_USER_INPUT"
    assert body["errors"][0]["extensions"]["field"] == "input.cast"
    # A field that declares a larger size takes it: a hall's seats one by one.
    cinema = await create_cinema(db)
    cinema_id = base64.urlsafe_b64encode(f"Cinema:{cinema}".encode()).decode().rstrip("=")
    seats = [
        {"rowLabel": chr(65 + n // 15), "number": n % 15 + 1, "x": n % 15 + 1, "y": n // 15 + 1}
        for n in range(150)
    ]
    hall = (
        "mutation ($input: CreateHallInput!) "
        "{ createHall(input: $input) { hall { seatCount } errors { code message } } }"
    )
    data = await gql.execute(
        hall,
        {"input": {"cinemaId": cinema_id, "name": "Big", "seats": seats}},
        token=gql.token_for(manager),
    )
    assert data["createHall"] == {"hall": {"seatCount": 150}, "errors": []}


# -- text no database takes ------------------------------------------------------------


async def test_nul_characters_are_bad_user_input_naming_the_field(
    db: SharedConnectionDatabase, gql: GraphQLClient
) -> None:
    manager = await create_user(db, role="MANAGER")
    token = gql.token_for(manager)
    doc = "mutation ($name: String!) { createGenre(input: {name: $name}) { errors { code } } }"
    body = await gql.raw(doc, {"name": "Dra\x00ma"}, token=token)
    assert _code(body) == "BAD_USER_INPUT"
    assert body["errors"][0]["extensions"]["field"] == "variables.name"
    body = await gql.raw(
        'mutation { createGenre(input: {name: "Dra\\u0000ma"}) { errors { code } } }', token=token
    )
    assert _code(body) == "BAD_USER_INPUT"
    login = "mutation ($in: LoginInput!) { login(input: $in) { errors { code } } }"
    body = await gql.raw(login, {"in": {"login": "a\x00", "password": "x"}})
    assert _code(body) == "BAD_USER_INPUT"
    assert body["errors"][0]["extensions"]["field"] == "variables.in.login"
    for response in (body,):
        assert "SELECT" not in orjson.dumps(response).decode()
    genres = await gql.execute("{ genres { name } }")
    assert genres == {"genres": []}  # nothing was written


async def test_deeply_nested_variables_are_bad_user_input(gql: GraphQLClient) -> None:
    """Near 1,000 levels graphql-core's coercion hit Python's recursion limit."""
    query = "query ($ids: [ID!]!) { nodes(ids: $ids) { id } }"
    nested = "[" * 990 + '"x"' + "]" * 990  # JSON encoders of the client refuse this depth
    raw = '{"query": "' + query + '", "variables": {"ids": ' + nested + "}}"
    response = await gql.http.post(
        "/graphql", content=raw.encode(), headers={"content-type": "application/json"}
    )
    body = response.json()
    assert _code(body) == "BAD_USER_INPUT"
    assert "nested too deeply" in body["errors"][0]["message"]
    assert "recursion" not in body["errors"][0]["message"]


async def test_lone_surrogates_are_bad_user_input(gql: GraphQLClient) -> None:
    query = "query ($s: String) { movies(filter: {search: $s}) { totalCount } }"
    raw = b'{"query": "%s", "variables": {"s": "\\ud800"}}' % query.encode()
    response = await gql.http.post(
        "/graphql", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code in (200, 400)
    assert _code(response.json()) == "BAD_USER_INPUT"
    inline = '{ movies(filter: {search: "\\ud800"}) { totalCount } }'
    assert _code(await gql.raw(inline)) == "BAD_USER_INPUT"


async def test_ids_beyond_64_bits_are_bad_user_input(gql: GraphQLClient) -> None:
    for raw in (
        "Movie:99999999999999999999",
        "Movie:9223372036854775808",
        "Movie:+1",
        "Movie:\u0661",
    ):
        gid = base64.urlsafe_b64encode(raw.encode()).decode()
        body = await gql.raw(
            "query ($id: ID!) { node(id: $id) { id } movie(id: $id) { id } }", {"id": gid}
        )
        assert _code(body) == "BAD_USER_INPUT", (raw, body)
    largest = base64.urlsafe_b64encode(b"Movie:9223372036854775807").decode()
    assert (await gql.execute("query ($id: ID!) { node(id: $id) { id } }", {"id": largest})) == {
        "node": None
    }


# -- time limit ------------------------------------------------------------------------


async def test_an_operation_over_its_time_limit_is_stopped(
    committed_db: Database, settings: Settings
) -> None:
    """On pooled connections, as in production: a loader batch cut off mid-statement
    returns its own connection when it ends."""
    db = committed_db
    hall = await create_hall(db, await create_cinema(db))
    await create_showtime(db, movie_id=await create_movie(db), hall_id=hall)
    hasty = settings.model_copy(update={"operation_timeout_seconds": 0.0005})
    async with _http(db, hasty) as gql:  # type: ignore[arg-type]
        query = "{ showtimes(first: 2) { edges { node { seatMap { rows { seats { id } } } } } } }"
        body = await gql.raw(query)
        assert _code(body) == "TIMEOUT"
        assert body["data"] is None
        assert (await gql.execute("{ __typename }")) == {"__typename": "Query"}
    await asyncio.sleep(0.2)  # let the cut-off batch finish before the tables are emptied


# -- WebSocket -------------------------------------------------------------------------


async def test_websocket_messages_are_capped_and_checked(
    db: SharedConnectionDatabase, settings: Settings
) -> None:
    small = settings.model_copy(update={"max_body_bytes": 1000})
    async with _ws(db, small) as ws:
        await _ws_init(ws)
        await ws.send_text(orjson.dumps({"type": "ping", "payload": {"x": "y" * 2000}}).decode())
        with pytest.raises(WebSocketDisconnect) as closed:
            await ws.receive_json(timeout=5)
        assert closed.value.code == 4400
    for bad in ("[1, 2]", '{"type": "subscribe", "id": "1", "payload": []}', '"x"'):
        async with _ws(db, settings) as ws:
            await _ws_init(ws)
            await ws.send_text(bad)
            with pytest.raises(WebSocketDisconnect) as closed:
                await ws.receive_json(timeout=5)
            assert closed.value.code == 4400, bad


async def test_websocket_connections_per_address_are_capped(
    db: SharedConnectionDatabase, settings: Settings
) -> None:
    capped = settings.model_copy(update={"max_ws_connections_per_address": 2})
    app = create_app(capped, database=db)
    async with _ws(db, capped, app) as one, _ws(db, capped, app) as two:
        await _ws_init(one)
        await _ws_init(two)
        with pytest.raises(Exception):  # noqa: B017, PT011 - refused at the upgrade
            async with _ws(db, capped, app) as three:
                await _ws_init(three)
    # Closed connections free their places.
    async with _ws(db, capped, app) as again:
        await _ws_init(again)


# -- admission control -----------------------------------------------------------------


async def test_admission_is_judged_from_the_parsed_operation(
    db: SharedConnectionDatabase, settings: Settings
) -> None:
    """With every query slot taken, queries wait (whatever their text or transport) and
    mutations do not."""
    one_slot = settings.model_copy(update={"max_concurrent_requests": 1})
    app = create_app(one_slot, database=db)
    schema = app.state.marquee_schema
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        await schema.admission.acquire()  # a long query holds the only slot
        try:
            mutation = await asyncio.wait_for(
                http.post(
                    "/graphql",
                    json={"query": "# a comment first\n,mutation { __typename }"},
                ),
                timeout=5,
            )
            assert mutation.json()["data"] == {"__typename": "Mutation"}
            queued_get = asyncio.ensure_future(
                http.get("/graphql", params={"query": "{ __typename }"})
            )
            queued_named = asyncio.ensure_future(
                http.post(
                    "/graphql",
                    json={
                        "query": "mutation M { __typename } query Q { __typename }",
                        "operationName": "Q",
                    },
                )
            )
            await asyncio.sleep(0.3)
            assert not queued_get.done()
            assert not queued_named.done()
        finally:
            schema.admission.release()
        assert (await queued_get).json()["data"] == {"__typename": "Query"}
        assert (await queued_named).json()["data"] == {"__typename": "Query"}
