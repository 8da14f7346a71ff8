"""Login and registration are rate-limited per client address and per account, and failed
sign-ins back off per (account, client address); the counters live in PostgreSQL, so every
app instance sees the same counts."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx

from db.session import SharedConnectionDatabase
from graph.app import create_app
from graph.auth import create_access_token
from graph.settings import Settings
from tests.factories import create_user

LOGIN = """
mutation ($login: String!) {
  login(input: {login: $login, password: "wrong-password"}) { errors { code } }
}
"""
RIGHT_LOGIN = """
mutation ($login: String!) {
  login(input: {login: $login, password: "correct-horse-battery"}) {
    accessToken errors { code }
  }
}
"""
UPDATE_PROFILE = """
mutation ($email: String!) {
  updateProfile(input: {email: $email}) { user { email } errors { code } }
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


def _limits(settings: Settings, login: int = 3, register: int = 2, account: int = 100) -> Settings:
    return settings.model_copy(
        update={
            "login_rate_per_minute": login,
            "register_rate_per_minute": register,
            "login_account_rate_per_hour": account,
        }
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
    limits = _limits(settings, account=3)
    for n in range(3):
        async with _client(db, limits, ip=f"10.1.0.{n}") as http:
            assert not _limited(await _post(http, LOGIN, {"login": "target"}))
    async with _client(db, limits, ip="10.1.0.99") as http:
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


async def test_username_and_email_share_one_account_budget(
    db: SharedConnectionDatabase, settings: Settings
) -> None:
    await create_user(db, username="dual", email="dual@example.com")
    limits = _limits(settings, login=100, account=3)
    for n, login in enumerate(["dual", "DUAL@example.com", "dual"]):
        async with _client(db, limits, ip=f"10.3.0.{n}") as http:
            assert not _limited(await _post(http, LOGIN, {"login": login}))
    async with _client(db, limits, ip="10.3.0.99") as http:
        assert _limited(await _post(http, LOGIN, {"login": "dual@EXAMPLE.com"}))
        # Unknown logins are keyed by the normalised string, and answer alike.
        for login in ("ghost", " GHOST ", "ghost"):
            body = await _post(http, LOGIN, {"login": login})
            assert body["data"]["login"]["errors"] == [{"code": "INVALID_CREDENTIALS"}]
        assert _limited(await _post(http, LOGIN, {"login": "Ghost"}))


async def test_wrong_passwords_back_off_one_address_without_locking_the_owner_out(
    db: SharedConnectionDatabase, settings: Settings
) -> None:
    # The shipped limits: 5 free attempts per (account, address), then a growing wait.
    await create_user(db, username="owner")
    async with _client(db, settings, ip="10.4.0.66") as attacker:
        for _ in range(5):
            body = await _post(attacker, LOGIN, {"login": "owner"})
            assert body["data"]["login"]["errors"] == [{"code": "INVALID_CREDENTIALS"}]
        refused = [await _post(attacker, LOGIN, {"login": "owner"}) for _ in range(5)]
        assert all(_limited(body) for body in refused)
        assert 1 <= refused[0]["errors"][0]["extensions"]["retryAfter"] <= 5
        # Through the e-mail it is the same account and the same backoff.
        assert _limited(await _post(attacker, LOGIN, {"login": "owner@example.com"}))
    # Ten attempts on the account in a minute; its owner, elsewhere, still signs in.
    async with _client(db, settings, ip="10.4.0.1") as owner:
        body = await _post(owner, RIGHT_LOGIN, {"login": "owner"})
        assert body["data"]["login"]["errors"] == [], body


async def test_a_successful_login_clears_the_backoff(
    db: SharedConnectionDatabase, settings: Settings
) -> None:
    await create_user(db, username="typo")
    limits = settings.model_copy(update={"login_backoff_free_failures": 2})
    async with _client(db, limits, ip="10.5.0.1") as http:
        assert not _limited(await _post(http, LOGIN, {"login": "typo"}))
        body = await _post(http, RIGHT_LOGIN, {"login": "typo"})
        assert body["data"]["login"]["errors"] == []
        # Counting starts over: two more free attempts, then the wait.
        assert not _limited(await _post(http, LOGIN, {"login": "typo"}))
        assert not _limited(await _post(http, LOGIN, {"login": "typo"}))
        assert _limited(await _post(http, LOGIN, {"login": "typo"}))


async def test_changing_the_email_is_rate_limited_like_registration(
    db: SharedConnectionDatabase, settings: Settings
) -> None:
    user = await create_user(db, username="mover")
    limits = _limits(settings, register=2)
    headers = {"Authorization": f"Bearer {create_access_token(user.id, user.role, limits)}"}
    async with _client(db, limits, ip="10.6.0.1") as http:
        for n in range(2):
            response = await http.post(
                "/graphql",
                json={"query": UPDATE_PROFILE, "variables": {"email": f"m{n}@example.com"}},
                headers=headers,
            )
            assert response.json()["data"]["updateProfile"]["errors"] == []
        response = await http.post(
            "/graphql",
            json={"query": UPDATE_PROFILE, "variables": {"email": "m9@example.com"}},
            headers=headers,
        )
        assert _limited(response.json())
