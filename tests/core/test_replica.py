"""The read replica (DATABASE_READ_URL): a real streaming standby of a primary of its own.

Which server answered is told by making the two disagree: WAL replay on the replica is
paused, so whatever is written after that exists on the primary only. A read that sees it
came from the primary, a read that misses it came from the replica. The replica's statement
counter says the same from the other side.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

import db.session as db_session
from db.embedded import EmbeddedPostgres, StreamingReplica
from db.session import Database, ReplicaDatabase, create_engine
from graph.app import create_app, open_database
from graph.auth import create_access_token
from graph.cli import run_migrations
from graph.relay import to_global_id
from graph.response_cache import RESPONSE_CACHE_SERVICE
from graph.settings import Settings
from tests.factories import create_bookable_showtime, create_genre, create_movie, create_user
from tests.realtime.conftest import hold_over_http
from tests.realtime.harness import serve_in_process
from tests.tools import require

CREATE_MOVIE = """
mutation ($input: CreateMovieInput!) {
  createMovie(input: $input) { movie { id title genres { name } } errors { code } }
}
"""
MOVIES = """
query ($search: String!) {
  movies(filter: {search: $search}) { totalCount edges { node { title } } }
}
"""
MOVIE = "query ($id: ID!) { movie(id: $id) { title } }"
SEAT_MAP = """
query ($id: ID!) {
  showtime(id: $id) { movie { title } seatMap { rows { seats { id status heldByMe } } } }
}
"""


class Pair:
    """A primary and its streaming replica, and URLs of the test database on each."""

    def __init__(self, primary: EmbeddedPostgres, replica: StreamingReplica) -> None:
        self.primary = primary
        self.replica = replica
        self.primary_url = primary.url("marquee")
        self.replica_url = replica.url("marquee")


@pytest.fixture(scope="module")
def pair(pg_server: Any) -> Iterator[Pair]:
    # After pg_server: the embedded servers' runtime directory (XDG_RUNTIME_DIR, set by the
    # first one started) is then the test server's, not the temporary one removed below.
    require("pg_basebackup", StreamingReplica.binary("pg_basebackup").exists())
    # A short path: PostgreSQL's unix sockets live in the data directories.
    base = Path(tempfile.mkdtemp(prefix="marquee-replica-", dir="/tmp"))
    primary = EmbeddedPostgres(base / "primary")
    replica = StreamingReplica(primary.socket_dir, base / "replica")
    try:
        primary.start()
        primary.ensure_database("marquee")
        run_migrations(primary.url("marquee"))
        replica.create()
        replica.start()
        yield Pair(primary, replica)
    finally:
        replica.stop()
        primary.release()
        shutil.rmtree(base, ignore_errors=True)


async def _sql(url: str, statement: str) -> Any:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
            result = await conn.execute(text(statement))
            return result.scalar() if result.returns_rows else None
    finally:
        await engine.dispose()


async def caught_up(pair: Pair) -> None:
    """Wait until the replica has replayed everything the primary has written so far."""
    target = await _sql(pair.primary_url, "SELECT pg_current_wal_lsn()::text")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        behind = await _sql(
            pair.replica_url, f"SELECT pg_wal_lsn_diff('{target}', pg_last_wal_replay_lsn())"
        )
        if behind <= 0:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the replica did not catch up in 15 s")


@pytest.fixture
async def primary_db(pair: Pair) -> AsyncIterator[Database]:
    db = Database(create_engine(pair.primary_url, pool_size=2))
    yield db
    await db.dispose()


@pytest.fixture
def replica_settings(pair: Pair, tmp_path: Path) -> Settings:
    return Settings(
        env="test",
        jwt_secret="test-secret-not-for-production-0123456789",
        data_dir=tmp_path,
        database_url=pair.primary_url,
        database_read_url=pair.replica_url,
        db_pool_size=4,
        db_read_pool_size=4,
        replica_retry_seconds=0.5,
        # No background writers: the statement counts below are the requests' own. No
        # response cache: what it may keep is read from the primary (tested on its own).
        response_cache=False,
        trending_interval_seconds=0,
        sales_rollup_interval_seconds=0,
        outbox_interval_seconds=0,
        reconcile_interval_seconds=0,
    )


@pytest.fixture
async def server(replica_settings: Settings) -> AsyncIterator[str]:
    """The real app, building its own engines from the settings (DATABASE_READ_URL)."""
    async with serve_in_process(create_app(replica_settings)) as url:
        yield url


async def post(url: str, query: str, variables: dict[str, Any], token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        response = await http.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
    body = response.json()
    assert not body.get("errors"), body
    return body["data"]


async def found(url: str, title: str) -> int:
    data = await post(url, MOVIES, {"search": title})
    total: int = data["movies"]["totalCount"]
    return total


async def test_lag_tolerant_reads_go_to_the_replica_and_the_rest_to_the_primary(
    pair: Pair, primary_db: Database, server: str, replica_settings: Settings
) -> None:
    admin = await create_user(primary_db, role="ADMIN")
    customer = await create_user(primary_db)
    genre = await create_genre(primary_db, "Replica Noir")
    show = await create_bookable_showtime(primary_db)
    await caught_up(pair)
    await _sql(pair.replica_url, "SELECT pg_wal_replay_pause()")
    try:
        # A mutation's payload reads its own write, so from the primary: the new movie's
        # genres would be missing on the paused replica (and no replica statement runs).
        before = db_session.replica_statements_total
        created = await post(
            server,
            CREATE_MOVIE,
            {"input": {"title": "Lagging Light", "genreIds": [to_global_id("Genre", genre)]}},
            create_access_token(admin.id, admin.role, replica_settings),
        )
        movie = created["createMovie"]["movie"]
        assert movie["genres"] == [{"name": "Replica Noir"}]
        assert db_session.replica_statements_total == before

        # The catalog listing comes from the replica, which has not replayed the insert...
        assert await _sql(pair.primary_url, "SELECT count(*) FROM movies") == 2
        assert await found(server, "Lagging Light") == 0
        assert db_session.replica_statements_total > before
        # ...while a movie asked for by id that the replica lacks is read from the primary.
        assert (await post(server, MOVIE, {"id": movie["id"]}))["movie"] == {
            "title": "Lagging Light"
        }

        # Seat status never comes from the replica: a hold placed now shows at once.
        seat = show.seat_ids[0]
        token = create_access_token(customer.id, customer.role, replica_settings)
        hold = await hold_over_http(server, token, show.id, [seat])
        assert hold["errors"] == []
        data = await post(server, SEAT_MAP, {"id": to_global_id("Showtime", show.id)}, token)
        seats = {s["id"]: s for row in data["showtime"]["seatMap"]["rows"] for s in row["seats"]}
        assert seats[to_global_id("Seat", seat)]["status"] == "HELD"
        assert seats[to_global_id("Seat", seat)]["heldByMe"] is True
    finally:
        await _sql(pair.replica_url, "SELECT pg_wal_replay_resume()")

    # Once replayed, the replica lists it too.
    deadline = time.monotonic() + 10
    while await found(server, "Lagging Light") == 0:
        assert time.monotonic() < deadline, "the replica never showed the new movie"
        await asyncio.sleep(0.05)


async def test_what_the_response_cache_may_keep_is_read_from_the_primary(
    pair: Pair, primary_db: Database, replica_settings: Settings
) -> None:
    """A lagging replica must not hand the cache data older than the last announcement:
    a cache miss that will be stored reads the primary; a hit reads nothing."""
    settings = replica_settings.model_copy(update={"response_cache": True})
    app = create_app(settings)
    async with serve_in_process(app) as url:
        cache = app.state.marquee.services[RESPONSE_CACHE_SERVICE]
        deadline = time.monotonic() + 10
        while not cache.live:
            assert time.monotonic() < deadline, "the response cache never went live"
            await asyncio.sleep(0.02)
        await caught_up(pair)
        await _sql(pair.replica_url, "SELECT pg_wal_replay_pause()")
        try:
            await create_movie(primary_db, title="Cached Candour")
            before = db_session.replica_statements_total
            # The announcement of the insert reaches the cache first (it reads nothing
            # stale), then the miss reads the primary: the paused replica lacks the movie.
            await asyncio.sleep(0.2)
            assert await found(url, "Cached Candour") == 1
            assert await found(url, "Cached Candour") == 1  # now a hit
            assert db_session.replica_statements_total == before
        finally:
            await _sql(pair.replica_url, "SELECT pg_wal_replay_resume()")


async def test_a_replica_that_is_down_sends_its_reads_to_the_primary(
    pair: Pair, primary_db: Database, server: str
) -> None:
    movie = await create_movie(primary_db, title="Failover Frames")
    await caught_up(pair)
    assert await found(server, "Failover Frames") == 1  # the pool now holds replica connections
    fallbacks = db_session.replica_fallbacks_total
    pair.replica.stop()
    try:
        await _sql(
            pair.primary_url, f"UPDATE movies SET title = 'Failover Redux' WHERE id = {movie}"
        )
        # The pooled replica connection is dead and no new one can be made: the primary
        # answers, and sees the change the stopped replica never received.
        assert await found(server, "Failover Redux") == 1
        assert db_session.replica_fallbacks_total > fallbacks
        async with httpx.AsyncClient(base_url=server) as http:
            metrics = (await http.get("/metrics")).text
        assert f"marquee_replica_fallbacks_total {db_session.replica_fallbacks_total}" in metrics
    finally:
        pair.replica.start()
    # After replica_retry_seconds the replica is tried again and serves once more.
    await caught_up(pair)
    await asyncio.sleep(0.6)
    served = db_session.replica_statements_total
    assert await found(server, "Failover Redux") == 1
    assert db_session.replica_statements_total > served


async def test_listen_connections_go_to_the_listen_url(
    pair: Pair, replica_settings: Settings
) -> None:
    """DATABASE_LISTEN_URL takes the process's LISTEN connections away from DATABASE_URL
    (which may be PgBouncer): here to another database of the primary, where PostgreSQL
    shows them."""
    settings = replica_settings.model_copy(
        update={"database_listen_url": pair.primary.url("postgres")}
    )
    listening = None
    async with serve_in_process(create_app(settings)):
        deadline = time.monotonic() + 10  # the hubs connect in the background
        while listening is None and time.monotonic() < deadline:
            listening = await _sql(
                pair.primary_url,
                "SELECT array_agg(DISTINCT datname) FROM pg_stat_activity "
                "WHERE application_name = 'marquee-listen'",
            )
            await asyncio.sleep(0.05)
    assert listening == ["postgres"]


async def test_without_a_read_url_every_read_is_on_the_primary(
    pair: Pair, replica_settings: Settings
) -> None:
    alone = open_database(replica_settings.model_copy(update={"database_read_url": None}))
    paired = open_database(replica_settings)
    try:
        assert alone.replica is alone
        assert isinstance(paired.replica, ReplicaDatabase)
        assert paired.replica.primary is paired
        assert await paired.replica.scalar(text("SELECT pg_is_in_recovery()")) is True
        assert await paired.scalar(text("SELECT pg_is_in_recovery()")) is False
        with pytest.raises(RuntimeError, match="primary"):
            async with paired.replica.transaction():
                pass
    finally:
        await alone.dispose()
        await paired.dispose()
