"""Login and registration are rate-limited per client address and per account; the counters
live in PostgreSQL, so every app instance sees the same counts."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx

from db.session import SharedConnectionDatabase
from graph.app import create_app
from graph.settings import Settings
from tests.factories import create_user

LOGIN = """
mutation ($login: String!) {
  login(input: {login: $login, password: "wrong-password"}) { errors { code } }
}
"""
REGISTER = """
mutation ($n: String!) {
  register(input: {username: $n, email: "x@example.com", password: "long-enough"}) {
    errors { code }
  }
}
"""

Poster = Callable[[str, dict[str, Any]], Any]


@asynccontextmanager
async def _client(
    db: SharedConnectionDatabase, settings: Settings, ip: str = "10.0.0.1"
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a fresh app instance, seen by the server as coming from `ip`."""
    app = create_app(settings, database=db)
    transport = httpx.ASGITransport(app=app, client=(ip, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def _post(http: httpx.AsyncClient, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = await http.post("/graphql", json={"query": query, "variables": variables})
    body: dict[str, Any] = response.json()
    return body


def _limited(body: dict[str, Any]) -> bool:
    errors = body.get("errors") or []
    return bool(errors) and errors[0]["extensions"]["code"] == "RATE_LIMITED"


def _limits(settings: Settings, login: int = 3, register: int = 2) -> Settings:
    return settings.model_copy(
        update={"login_rate_per_minute": login, "register_rate_per_minute": register}
    )


async def test_login_limited_per_client_address(
    db: SharedConnectionDatabase, settings: Settings
) -> None:
    async with _client(db, _limits(settings)) as http:
        for n in range(3):  # three different accounts, one address
            body = await _post(http, LOGIN, {"login": f"someone{n}"})
            assert body["data"]["login"]["errors"] == [{"code": "INVALID_CREDENTIALS"}]
        body = await _post(http, LOGIN, {"login": "someone-else"})
        assert _limited(body)
        assert body["data"] is None
        error = body["errors"][0]
        assert error["extensions"]["retryAfter"] >= 1
        assert "try again" in error["message"]
    # another address is not affected
    async with _client(db, _limits(settings), ip="10.0.0.2") as http:
        assert not _limited(await _post(http, LOGIN, {"login": "someone-else"}))


async def test_login_limited_per_account_across_addresses(
    db: SharedConnectionDatabase, settings: Settings
) -> None:
    await create_user(db, username="target")
    for n in range(3):
        async with _client(db, _limits(settings), ip=f"10.1.0.{n}") as http:
            assert not _limited(await _post(http, LOGIN, {"login": "target"}))
    async with _client(db, _limits(settings), ip="10.1.0.99") as http:
        assert _limited(await _post(http, LOGIN, {"login": "TARGET"}))  # case-insensitive
        # other accounts from this fresh address still work
        assert not _limited(await _post(http, LOGIN, {"login": "bystander"}))


async def test_counters_are_shared_by_app_instances(
    db: SharedConnectionDatabase, settings: Settings
) -> None:
    # Two instances (as two server processes would be) over one database.
    async with _client(db, _limits(settings)) as a, _client(db, _limits(settings)) as b:
        assert not _limited(await _post(a, LOGIN, {"login": "u1"}))
        assert not _limited(await _post(b, LOGIN, {"login": "u2"}))
        assert not _limited(await _post(a, LOGIN, {"login": "u3"}))
        assert _limited(await _post(b, LOGIN, {"login": "u4"}))


async def test_registration_limited_per_client_address(
    db: SharedConnectionDatabase, settings: Settings
) -> None:
    async with _client(db, _limits(settings)) as http:
        first = await _post(http, REGISTER, {"n": "first"})
        assert first["data"]["register"]["errors"] == []
        second = await _post(http, REGISTER, {"n": "second"})  # e-mail taken, still counted
        assert second["data"]["register"]["errors"] == [{"code": "ALREADY_EXISTS"}]
        assert _limited(await _post(http, REGISTER, {"n": "third"}))


async def test_zero_turns_the_limit_off(db: SharedConnectionDatabase, settings: Settings) -> None:
    async with _client(db, _limits(settings, login=0)) as http:
        for n in range(5):
            assert not _limited(await _post(http, LOGIN, {"login": f"x{n}"}))
