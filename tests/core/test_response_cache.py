"""The response cache (graph/response_cache.py, docs/caching.md): anonymous public reads
answered from memory, and never stale: a change committed anywhere (a staff mutation, plain
SQL from another process) drops what depends on it, on every running instance."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import orjson
import pytest
from graphql import GraphQLInputObjectType, GraphQLObjectType, get_named_type, parse
from httpx_ws import aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport
from sqlalchemy import text

import db.session as db_session
from db.changes import ANNOUNCED, CHANGES_CHANNEL
from db.listen import direct_connector, listen_connector
from db.session import Database
from graph.app import create_app
from graph.auth import create_access_token
from graph.cacheable import PUBLIC_FIELDS, VOLATILE_INPUTS, plan
from graph.relay import to_global_id
from graph.response_cache import RESPONSE_CACHE_SERVICE, ResponseCache
from graph.schema import build_schema
from graph.settings import Settings
from tests.factories import (
    create_bookable_showtime,
    create_movie,
    create_review,
    create_user,
)

MOVIE = """query Movie($id: ID!) {
  movie(id: $id) { id title genres { name } reviews(first: 3) { totalCount
    edges { node { rating title author { displayName } } } } }
}"""
MOVIES = """query Movies($filter: MovieFilter) {
  movies(first: 5, sort: TITLE, filter: $filter) { totalCount edges { node { id title } } }
}"""
UPDATE_MOVIE = """mutation ($input: UpdateMovieInput!) {
  updateMovie(input: $input) { movie { title } errors { code } }
}"""
# Each selects a field that is not public (viewer's, the clock's, tickets').
NOT_CACHEABLE = [
    "query ($id: ID!) { movie(id: $id) { title isFavorite } }",
    "query ($id: ID!) { movie(id: $id) { title showtimes(first: 1) { totalCount } } }",
    "query ($id: ID!) { movie(id: $id) { reviews { edges { node { verifiedPurchase } } } } }",
    "query ($id: ID!) { node(id: $id) { id } }",
    "query ($id: ID!) { movie(id: $id) { id } me { id } }",
]


class Instance:
    """One running app (lifespan: its LISTEN connections are up) and a client of it."""

    def __init__(self, app: Any, http: httpx.AsyncClient) -> None:
        self.app = app
        self.http = http

    @property
    def cache(self) -> ResponseCache:
        cache: ResponseCache = self.app.state.marquee.services[RESPONSE_CACHE_SERVICE]
        return cache

    async def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert not body.get("errors"), body
        return body

    async def hits(self) -> float:
        return await self.metric("marquee_response_cache_hits_total")

    async def metric(self, name: str) -> float:
        lines = (await self.http.get("/metrics")).text.splitlines()
        return next(float(line.split()[1]) for line in lines if line.startswith(name + " "))


@contextlib.asynccontextmanager
async def running(db: Database, settings: Settings) -> AsyncIterator[Instance]:
    app = create_app(settings, database=db)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            instance = Instance(app, http)
            await asyncio.wait_for(instance.cache.ready.wait(), 10)
            yield instance


async def _until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    """NOTIFY arrives after the commit, asynchronously: allow it a moment."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def _sql(db: Database, statement: str, **params: Any) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(text(statement), params)


async def _movie(db: Database, title: str = "Before") -> tuple[int, dict[str, Any]]:
    author = await create_user(db)
    await _sql(db, "UPDATE users SET full_name = 'Ada' WHERE id = :id", id=author.id)
    movie_id = await create_movie(db, title=title)
    await create_review(db, user_id=author.id, movie_id=movie_id, title="Fine")
    return movie_id, {"id": to_global_id("Movie", movie_id)}


def _title(body: dict[str, Any]) -> str:
    title: str = body["data"]["movie"]["title"]
    return title


@pytest.fixture
def schema(settings: Settings) -> Any:
    return build_schema(settings)._schema


# --- the declarations ---


def test_declared_fields_exist_and_read_only_announced_tables(schema: Any) -> None:
    for type_name, fields in PUBLIC_FIELDS.items():
        graphql_type = schema.type_map.get(type_name)
        assert isinstance(graphql_type, GraphQLObjectType), type_name
        for field, tables in fields.items():
            assert field in graphql_type.fields, f"{type_name}.{field} is not in the schema"
            assert tables <= ANNOUNCED.keys(), f"{type_name}.{field} reads {tables}"
    for (type_name, field, argument), inputs in VOLATILE_INPUTS.items():
        arg = schema.type_map[type_name].fields[field].args[argument]
        input_type = get_named_type(arg.type)
        assert isinstance(input_type, GraphQLInputObjectType)
        assert inputs <= input_type.fields.keys()


def _paths(schema: Any) -> dict[str, list[str]]:
    """For each declared type, a path of declared fields from Query that reaches it."""
    paths: dict[str, list[str]] = {"Query": []}
    queue = ["Query"]
    while queue:
        type_name = queue.pop(0)
        for field in PUBLIC_FIELDS[type_name]:
            target = get_named_type(schema.type_map[type_name].fields[field].type)
            if target.name in PUBLIC_FIELDS and target.name not in paths:
                paths[target.name] = [*paths[type_name], field]
                queue.append(target.name)
    return paths


def _selecting(path: list[str], leaf: str) -> str:
    inner = leaf
    for field in reversed(path):
        inner = f"{field} {{ {inner} }}"
    return f"{{ {inner} }}"


def test_fragments_spread_many_times_are_walked_once(schema: Any) -> None:
    """The walk runs before validation: a fragment spread twice by the next, twenty-four deep,
    would be 2**24 walks if each spread were walked again (a regression fails the time limit)."""
    lines = ["fragment F0 on Query { movies(first: 1) { totalCount } }"]
    lines += [f"fragment F{n} on Query {{ ...F{n - 1} ...F{n - 1} }}" for n in range(1, 25)]
    document = parse("query { ...F24 }\n" + "\n".join(lines))
    started = time.perf_counter()
    found = plan(schema, document, None)
    assert time.perf_counter() - started < 1.0
    assert found is not None
    assert "movies" in found.tables
    # A cycle is still refused (validation rejects it; nothing is cached).
    cyclic = parse("query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }")
    assert plan(schema, cyclic, None) is None


def test_an_undeclared_field_of_a_declared_type_is_never_cacheable(schema: Any) -> None:
    """A field added to a public type later is not cached until someone declares it; every
    declared one is (the walk reaches each declared type from Query)."""
    paths = _paths(schema)
    assert paths.keys() == PUBLIC_FIELDS.keys()
    for type_name, path in paths.items():
        graphql_type = schema.type_map[type_name]
        for field, definition in graphql_type.fields.items():
            target = get_named_type(definition.type)
            leaf = f"{field} {{ __typename }}" if hasattr(target, "fields") else field
            cacheable = plan(schema, parse(_selecting(path, leaf)), None) is not None
            assert cacheable == (field in PUBLIC_FIELDS[type_name]), f"{type_name}.{field}"
    for query in NOT_CACHEABLE:
        assert plan(schema, parse(query), None) is None, query
    assert plan(schema, parse(MOVIE), None) is not None
    assert plan(schema, parse("mutation { logout { sessionsEnded } }"), None) is None


async def test_every_announced_table_has_its_trigger(committed_db: Database) -> None:
    async with committed_db.engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE t.tgname = 'marquee_announce_change'"
            )
        )
        assert {r[0] for r in rows} == set(ANNOUNCED)


async def test_columns_written_on_every_sale_announce_nothing(committed_db: Database) -> None:
    """A seat sale moves `showtimes.seat_sequence` and a paid order `users.loyalty_points`:
    neither may empty the cache. The columns a cached answer shows are announced."""
    heard: list[str] = []
    conn = await direct_connector(committed_db)()
    try:
        await conn.add_listener(CHANGES_CHANNEL, lambda *args: heard.append(args[3]))
        user = await create_user(committed_db)
        showtime = await create_bookable_showtime(committed_db)
        await _until(lambda: {"users", "showtimes"} <= set(heard))
        heard.clear()
        await _sql(committed_db, "UPDATE users SET loyalty_points = 5 WHERE id = :id", id=user.id)
        await _sql(
            committed_db,
            "UPDATE showtimes SET seat_sequence = seat_sequence + 1 WHERE id = :id",
            id=showtime.id,
        )
        await _sql(committed_db, "UPDATE users SET full_name = 'X' WHERE id = :id", id=user.id)
        await _sql(
            committed_db,
            "UPDATE showtimes SET status = 'CANCELLED' WHERE id = :id",
            id=showtime.id,
        )
        await _until(lambda: "showtimes" in heard)
    finally:
        await conn.close()
    assert heard == ["users", "showtimes"]


# --- the cache through the real app ---


async def test_a_repeated_anonymous_read_is_served_from_the_cache(
    committed_db: Database, settings: Settings
) -> None:
    _, variables = await _movie(committed_db)
    async with running(committed_db, settings) as app:
        hits = await app.hits()
        statements = db_session.statements_total
        first = await app.post(MOVIE, variables)
        executed = db_session.statements_total - statements
        assert executed > 0
        statements = db_session.statements_total
        assert await app.post(MOVIE, variables) == first
        assert db_session.statements_total == statements  # no SQL at all
        assert await app.hits() == hits + 1
        assert first["data"]["movie"]["reviews"]["edges"][0]["node"]["author"] == {
            "displayName": "Ada"
        }


class _SlowConnection:
    """A LISTEN connection whose notifications reach their callback `delay` seconds late
    (in order): the worst case of an announcement that arrives after the writer's answer."""

    def __init__(self, conn: Any, delay: float) -> None:
        self._conn = conn
        self._delay = delay

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    async def add_listener(self, channel: str, callback: Callable[..., None]) -> None:
        loop = asyncio.get_running_loop()

        def late(*args: Any) -> None:
            loop.call_later(self._delay, callback, *args)

        await self._conn.add_listener(channel, late)


@contextlib.asynccontextmanager
async def _own_cache(app: Instance, connect: Callable[[], Any]) -> AsyncIterator[ResponseCache]:
    """The instance's cache replaced by one on a LISTEN connection the test opens."""
    services = app.app.state.marquee.services
    await services[RESPONSE_CACHE_SERVICE].stop()
    cache = ResponseCache(connect=connect, max_entries=100, max_bytes=1 << 20)
    services[RESPONSE_CACHE_SERVICE] = cache
    await cache.start()
    try:
        yield cache
    finally:
        await cache.stop()


@contextlib.asynccontextmanager
async def _late_announcements(
    db: Database, settings: Settings
) -> AsyncIterator[tuple[Instance, dict[str, Any], str]]:
    """An instance whose cache hears every announcement half a second late (the worst case
    of one arriving after the writer's answer), a movie read it has cached, and a staff
    token: (instance, the read's variables, token)."""
    _, variables = await _movie(db)
    staff = await create_user(db, role="MANAGER")
    token = create_access_token(staff.id, staff.role, settings)
    connect = listen_connector(db)

    async def slow_connect() -> Any:
        return _SlowConnection(await connect(), delay=0.5)

    async with running(db, settings) as app, _own_cache(app, slow_connect) as cache:
        await asyncio.wait_for(cache.ready.wait(), 10)
        assert _title(await app.post(MOVIE, variables)) == "Before"
        assert _title(await app.post(MOVIE, variables)) == "Before"  # cached
        assert len(cache) == 1
        yield app, variables, token


async def test_a_staff_update_shows_in_the_next_read(
    committed_db: Database, settings: Settings
) -> None:
    """Even when the announcement arrives late, the mutation's answer waits for it."""
    async with _late_announcements(committed_db, settings) as (app, variables, token):
        await app.post(
            UPDATE_MOVIE,
            {"input": {"id": variables["id"], "title": "After"}},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert _title(await app.post(MOVIE, variables)) == "After"


async def test_a_staff_update_over_websocket_shows_in_the_next_read(
    committed_db: Database, settings: Settings
) -> None:
    """A mutation sent over the WebSocket waits for the barrier too, before its answer."""
    async with (
        _late_announcements(committed_db, settings) as (app, variables, token),
        httpx.AsyncClient(
            transport=ASGIWebSocketTransport(app=app.app), base_url="http://test"
        ) as client,
        aconnect_ws("/graphql", client, subprotocols=["graphql-transport-ws"]) as ws,
    ):
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
        await ws.send_json(init)
        assert (await ws.receive_json(timeout=5))["type"] == "connection_ack"
        change = {"input": {"id": variables["id"], "title": "After"}}
        payload = {"query": UPDATE_MOVIE, "variables": change}
        await ws.send_json({"id": "1", "type": "subscribe", "payload": payload})
        answer = await ws.receive_json(timeout=5)
        assert answer["payload"]["data"]["updateMovie"] == {
            "movie": {"title": "After"},
            "errors": [],
        }
        assert _title(await app.post(MOVIE, variables)) == "After"


async def test_a_worker_without_cacheable_reads_skips_the_barrier(
    committed_db: Database, settings: Settings
) -> None:
    """The barrier guards entries and reads in flight; with neither (a worker serving only
    holds and checkouts) a mutation does not pay its round trip."""
    _, variables = await _movie(committed_db)
    staff = await create_user(committed_db, role="MANAGER")
    auth = {"Authorization": f"Bearer {create_access_token(staff.id, staff.role, settings)}"}
    change = {"input": {"id": variables["id"], "title": "Changed"}}
    async with running(committed_db, settings) as app:
        cache = app.cache
        sent = cache._syncs_sent
        await app.post(UPDATE_MOVIE, change, headers=auth)
        assert cache._syncs_sent == sent  # no entry, no cacheable read ever: skipped
        # A cacheable read began recently (it may still be running, about to store):
        # the barrier is needed again, even with the cache empty.
        await app.post(MOVIE, variables)
        cache.flush()
        assert len(cache) == 0
        await app.post(UPDATE_MOVIE, change, headers=auth)
        assert cache._syncs_sent == sent + 1
        # Once no cacheable read has begun for longer than an operation may run: skipped.
        cache.quiet_seconds = 0.0
        await app.post(UPDATE_MOVIE, change, headers=auth)
        assert cache._syncs_sent == sent + 1


async def test_a_change_by_plain_sql_shows_on_every_instance(
    committed_db: Database, settings: Settings
) -> None:
    movie_id, variables = await _movie(committed_db)
    async with running(committed_db, settings) as one, running(committed_db, settings) as two:
        for app in (one, two):
            assert _title(await app.post(MOVIE, variables)) == "Before"
            assert len(app.cache) == 1
        await _sql(committed_db, "UPDATE movies SET title = 'Renamed' WHERE id = :id", id=movie_id)
        await _until(lambda: len(one.cache) == 0 and len(two.cache) == 0)
        for app in (one, two):
            assert _title(await app.post(MOVIE, variables)) == "Renamed"
        # An author's new name reaches the review listings (users announce full_name).
        await _sql(committed_db, "UPDATE users SET full_name = 'Bea' WHERE full_name = 'Ada'")
        await _until(lambda: len(one.cache) == 0 and len(two.cache) == 0)
        body = await two.post(MOVIE, variables)
        review = body["data"]["movie"]["reviews"]["edges"][0]["node"]
        assert review["author"]["displayName"] == "Bea"


async def test_a_change_to_another_table_keeps_the_entry(
    committed_db: Database, settings: Settings
) -> None:
    """Invalidation is per table: a new cinema leaves the movie page cached."""
    _, variables = await _movie(committed_db)
    async with running(committed_db, settings) as app:
        await app.post(MOVIE, variables)
        generation = app.cache.snapshot({"cinemas"})
        await _sql(
            committed_db,
            "INSERT INTO cinemas (name, address, city, latitude, longitude, time_zone) "
            "VALUES ('Rex', '1 Main St', 'Paris', 48.8, 2.3, 'Europe/Paris')",
        )
        await _until(lambda: app.cache.snapshot({"cinemas"}) != generation)
        assert len(app.cache) == 1


async def test_signed_in_requests_are_never_served_from_the_cache(
    committed_db: Database, settings: Settings
) -> None:
    _, variables = await _movie(committed_db)
    user = await create_user(committed_db)
    token = create_access_token(user.id, user.role, settings)
    async with running(committed_db, settings) as app:
        await app.post(MOVIE, variables)
        hits = await app.hits()
        for headers in ({"Authorization": f"Bearer {token}"}, {"Cookie": "session=x"}):
            statements = db_session.statements_total
            await app.post(MOVIE, variables, headers=headers)
            assert db_session.statements_total > statements  # executed
        assert await app.hits() == hits
        assert len(app.cache) == 1  # and nothing of theirs was stored


async def test_an_operation_with_a_field_not_public_is_never_cached(
    committed_db: Database, settings: Settings
) -> None:
    _, variables = await _movie(committed_db)
    async with running(committed_db, settings) as app:
        for query in NOT_CACHEABLE[:3]:
            await app.post(query, variables)
            await app.post(query, variables)
        # A filter that depends on the clock, as a variable and as a literal.
        await app.post(MOVIES, {"filter": {"nowShowing": True}})
        await app.post(MOVIES, {"filter": {"nowShowing": True}})
        literal = MOVIES.replace("($filter: MovieFilter)", "").replace(
            "filter: $filter", "filter: {comingSoon: false}"
        )
        await app.post(literal, {})
        assert len(app.cache) == 0
        await app.post(MOVIES, {"filter": {"yearFrom": 1990}})
        assert len(app.cache) == 1


async def test_a_read_that_overlaps_a_change_is_not_stored(
    committed_db: Database, settings: Settings
) -> None:
    """The read takes its generations, then waits (admission control, held here) while a
    change commits and is heard: its answer must not be kept, whatever it read."""
    movie_id, variables = await _movie(committed_db)
    one_at_a_time = settings.model_copy(update={"max_concurrent_requests": 1})
    async with running(committed_db, one_at_a_time) as app:
        admission: asyncio.Semaphore = app.app.state.marquee_schema.admission
        stale = await app.metric("marquee_response_cache_stale_total")
        await admission.acquire()
        read = asyncio.create_task(app.post(MOVIE, variables))
        await asyncio.sleep(0.1)  # the read has looked the cache up and waits for a slot
        assert not read.done()
        generation = app.cache.snapshot({"movies"})
        await _sql(committed_db, "UPDATE movies SET title = 'During' WHERE id = :id", id=movie_id)
        await _until(lambda: app.cache.snapshot({"movies"}) != generation)
        admission.release()
        await read
        assert len(app.cache) == 0
        assert await app.metric("marquee_response_cache_stale_total") == stale + 1
        assert _title(await app.post(MOVIE, variables)) == "During"
        assert len(app.cache) == 1


async def test_nothing_is_cached_while_not_listening(
    committed_db: Database, settings: Settings
) -> None:
    """Before LISTEN runs, and after its connection is lost, notifications may be missed:
    the cache neither serves nor stores, and starts empty when LISTEN is back."""
    _, variables = await _movie(committed_db)
    gate = asyncio.Event()
    real_connect = listen_connector(committed_db)

    async def gated_connect() -> Any:
        await gate.wait()
        return await real_connect()

    async with running(committed_db, settings) as app, _own_cache(app, gated_connect) as cache:
        hits = await app.hits()
        await app.post(MOVIE, variables)
        await app.post(MOVIE, variables)
        assert len(cache) == 0
        assert await app.hits() == hits
        gate.set()
        await asyncio.wait_for(cache.ready.wait(), 10)
        await app.post(MOVIE, variables)
        await app.post(MOVIE, variables)
        assert await app.hits() == hits + 1
        # The connection drops (PostgreSQL ends it): everything goes at once.
        await _sql(
            committed_db,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
            "application_name = 'marquee-listen' AND datname = current_database()",
        )
        await _until(lambda: cache.connections == 2 and cache.live)
        assert len(cache) == 0


async def test_persisted_get_carries_the_stored_etag_and_304s_without_executing(
    committed_db: Database, settings: Settings
) -> None:
    _, variables = await _movie(committed_db)
    digest = hashlib.sha256(MOVIE.encode()).hexdigest()
    extensions = orjson.dumps({"persistedQuery": {"version": 1, "sha256Hash": digest}}).decode()
    params = {"extensions": extensions, "variables": orjson.dumps(variables).decode()}
    async with running(committed_db, settings) as app:
        first = await app.http.get("/graphql", params={**params, "query": MOVIE})
        assert first.status_code == 200, first.text
        etag = first.headers["etag"]
        assert etag == f'"{hashlib.sha256(first.content).hexdigest()[:32]}"'
        hits = await app.hits()
        statements = db_session.statements_total
        second = await app.http.get("/graphql", params=params)  # the hash alone
        assert second.content == first.content
        assert second.headers["etag"] == etag
        assert second.headers["cache-control"].startswith("public")
        revalidated = await app.http.get("/graphql", params=params, headers={"If-None-Match": etag})
        assert revalidated.status_code == 304
        assert db_session.statements_total == statements
        assert await app.hits() == hits + 2


async def test_the_cache_can_be_turned_off(committed_db: Database, settings: Settings) -> None:
    _, variables = await _movie(committed_db)
    off = settings.model_copy(update={"response_cache": False})
    app = create_app(off, database=committed_db)
    async with app.router.lifespan_context(app):
        assert RESPONSE_CACHE_SERVICE not in app.state.marquee.services
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            response = await http.post("/graphql", json={"query": MOVIE, "variables": variables})
            assert response.json()["data"]["movie"]["title"] == "Before"


def test_the_cache_is_bounded_and_least_recently_used_goes_first() -> None:
    async def never() -> Any:
        raise AssertionError

    cache = ResponseCache(connect=never, max_entries=2, max_bytes=1 << 20)
    cache.live = True
    for name in ("a", "b"):
        cache.put(
            (name, None, b"{}"), b'{"data":{}}', frozenset({"movies"}), cache.snapshot({"movies"})
        )
    assert cache.get(("a", None, b"{}")) is not None  # a is now the most recent
    cache.put(("c", None, b"{}"), b'{"data":{}}', frozenset({"movies"}), cache.snapshot({"movies"}))
    assert cache.get(("b", None, b"{}")) is None
    assert len(cache) == 2
    big = ResponseCache(connect=never, max_entries=100, max_bytes=4096)
    big.live = True
    big.put(("x", None, b"{}"), b"x" * 2000, frozenset(), big.snapshot(()))
    assert len(big) == 0  # larger than a quarter of the budget: not worth a place
    for n in range(20):
        big.put((str(n), None, b"{}"), b"x" * 500, frozenset(), big.snapshot(()))
    assert big.bytes <= 4096
    assert 0 < len(big) < 20
