"""Test fixtures: a real PostgreSQL (embedded unless TEST_DATABASE_URL), migrations applied
once per run into a database of this run's own, and each test isolated in an outer
transaction that is rolled back (or, for tests that need real commits, truncated after)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from db.models import Base
from db.session import Database, SharedConnectionDatabase
from graph.app import create_app
from graph.auth import create_access_token
from graph.cli import run_migrations
from graph.database import normalize_url
from graph.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Any]:
    """The embedded server (None when TEST_DATABASE_URL points elsewhere)."""
    if os.environ.get("TEST_DATABASE_URL"):
        yield None
        return
    from db.embedded import EmbeddedPostgres

    data_dir = Path(os.environ.get("MARQUEE_TEST_DATA_DIR", ROOT / ".marquee" / "test-pg"))
    server = EmbeddedPostgres(data_dir)
    server.start()
    yield server
    # Parallel runs share one server; the last run to end stops it, so no process is left
    # (nor while another client, such as a run that holds no claim, is still connected).
    server.release(unless_in_use=True)


def _admin_url(pg_server: Any) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    return normalize_url(url) if url else pg_server.url("postgres")


def _create_database(pg_server: Any, name: str) -> str:
    """A database of this run's own, so several runs can share one server."""
    import asyncio

    admin = _admin_url(pg_server)

    async def create() -> None:
        engine = create_async_engine(admin, isolation_level="AUTOCOMMIT")
        async with engine.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
        await engine.dispose()

    asyncio.run(create())
    base, _, query = admin.partition("?")
    base = base.rsplit("/", 1)[0]
    return f"{base}/{name}" + (f"?{query}" if query else "")


def _drop_database(pg_server: Any, name: str) -> None:
    import asyncio

    async def drop() -> None:
        engine = create_async_engine(_admin_url(pg_server), isolation_level="AUTOCOMMIT")
        async with engine.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await engine.dispose()

    asyncio.run(drop())


@pytest.fixture(scope="session")
def database_url(pg_server: Any) -> Iterator[str]:
    name = f"marquee_test_{os.getpid()}"
    url = _create_database(pg_server, name)
    run_migrations(url)
    yield url
    _drop_database(pg_server, name)


@pytest.fixture(scope="session")
def make_database(pg_server: Any) -> Iterator[Any]:
    """Factory for extra empty databases (migration tests); dropped at the end."""
    names: list[str] = []

    def make(suffix: str) -> str:
        name = f"marquee_test_{os.getpid()}_{suffix}"
        names.append(name)
        return _create_database(pg_server, name)

    yield make
    for name in names:
        _drop_database(pg_server, name)


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        env="test",
        jwt_secret="test-secret-not-for-production-0123456789",
        data_dir=tmp_path_factory.mktemp("data"),
    )


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(database_url, pool_size=20, max_overflow=20)
    yield engine
    await engine.dispose()


@pytest.fixture
async def db(engine: AsyncEngine) -> AsyncIterator[SharedConnectionDatabase]:
    """Isolated: everything runs in one outer transaction, rolled back after the test."""
    async with engine.connect() as conn:
        outer = await conn.begin()
        yield SharedConnectionDatabase(conn)
        await outer.rollback()


@pytest.fixture
async def committed_db(engine: AsyncEngine) -> AsyncIterator[Database]:
    """Real commits on pooled connections (concurrency, LISTEN/NOTIFY); tables are
    emptied after the test."""
    yield Database(engine)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


class GraphQLClient:
    """Posts GraphQL through the real ASGI app. `execute` fails the test on unexpected
    top-level errors; `raw` returns the whole response body."""

    def __init__(self, http: httpx.AsyncClient, settings: Settings) -> None:
        self.http = http
        self.settings = settings

    async def raw(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        token: str | None = None,
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code in (200, 400), response.text
        body: dict[str, Any] = response.json()
        return body

    async def execute(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        token: str | None = None,
    ) -> dict[str, Any]:
        body = await self.raw(query, variables, token)
        assert not body.get("errors"), body["errors"]
        data: dict[str, Any] = body["data"]
        return data

    def token_for(self, user: Any) -> str:
        return create_access_token(user.id, user.role, self.settings)


def _client(database: Database, settings: Settings) -> httpx.AsyncClient:
    app = create_app(settings, database=database)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


@pytest.fixture
async def gql(db: SharedConnectionDatabase, settings: Settings) -> AsyncIterator[GraphQLClient]:
    async with _client(db, settings) as http:
        yield GraphQLClient(http, settings)


@pytest.fixture
async def committed_gql(committed_db: Database, settings: Settings) -> AsyncIterator[GraphQLClient]:
    async with _client(committed_db, settings) as http:
        yield GraphQLClient(http, settings)
