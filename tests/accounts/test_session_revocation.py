"""Ended sessions across app instances: each running instance keeps the recently revoked
sessions in memory (loaded at start, then told through LISTEN/NOTIFY), so the access tokens
of a revoked session stop working everywhere without an extra statement per request."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx

from db.session import Database, capture_statements
from graph.accounts.revocations import REVOCATIONS_SERVICE
from graph.app import create_app
from graph.settings import Settings
from tests.factories import create_user

LOGIN = """
mutation { login(input: {login: "shared", password: "correct-horse-battery"}) {
  accessToken refreshToken errors { code } } }
"""
REFRESH = """
mutation ($t: String!) { refreshToken(input: {refreshToken: $t}) {
  accessToken refreshToken errors { code } } }
"""
LOGOUT = """
mutation ($t: String!) { logout(input: {refreshToken: $t}) { sessionsEnded errors { code } } }
"""
ME = "{ me { username } }"


class Instance:
    """One running app (lifespan: its LISTEN connections are up) and a client of it."""

    def __init__(self, app: Any, http: httpx.AsyncClient) -> None:
        self.app = app
        self.http = http

    @property
    def revocations(self) -> Any:
        return self.app.state.marquee.services[REVOCATIONS_SERVICE]

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        body: dict[str, Any] = response.json()
        return body

    async def signed_in(self, token: str) -> bool:
        body = await self.post(ME, token=token)
        if body.get("errors"):
            assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", body
            return False
        return True


@contextlib.asynccontextmanager
async def running(db: Database, settings: Settings) -> AsyncIterator[Instance]:
    app = create_app(settings, database=db)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            instance = Instance(app, http)
            await asyncio.wait_for(instance.revocations.ready.wait(), 10)
            yield instance


async def _refused_within(instance: Instance, token: str, seconds: float = 5.0) -> None:
    """NOTIFY arrives after the commit, asynchronously: allow it a moment."""
    deadline = asyncio.get_running_loop().time() + seconds
    while await instance.signed_in(token):
        assert asyncio.get_running_loop().time() < deadline, "the session is still accepted"
        await asyncio.sleep(0.02)


async def test_revoked_sessions_are_refused_by_every_instance(
    committed_db: Database, settings: Settings
) -> None:
    await create_user(committed_db, username="shared")
    async with running(committed_db, settings) as a, running(committed_db, settings) as b:
        first = (await a.post(LOGIN))["data"]["login"]
        other = (await a.post(LOGIN))["data"]["login"]
        second = (await a.post(REFRESH, {"t": first["refreshToken"]}))["data"]["refreshToken"]
        assert await b.signed_in(second["accessToken"])
        # The old refresh token is re-used on instance A: the family is revoked ...
        reused = (await a.post(REFRESH, {"t": first["refreshToken"]}))["data"]["refreshToken"]
        assert reused["errors"] == [{"code": "INVALID_TOKEN"}]
        # ... and instance B, told through NOTIFY, refuses its access tokens.
        await _refused_within(b, second["accessToken"])
        await _refused_within(b, first["accessToken"])
        await _refused_within(a, second["accessToken"])
        # The check is the cache's: `me` is still one statement, the users row.
        with capture_statements() as statements:
            assert await b.signed_in(other["accessToken"])
        assert len(statements) == 1, statements
        assert "refresh_tokens" not in statements[0]
        # A logout on B ends that session's access token on A.
        ended = (await b.post(LOGOUT, {"t": other["refreshToken"]}))["data"]["logout"]
        assert ended == {"sessionsEnded": 1, "errors": []}
        await _refused_within(a, other["accessToken"])

    # An instance started later loads what was revoked before it listened.
    async with running(committed_db, settings) as c:
        assert len(c.revocations) >= 2
        assert not await c.signed_in(second["accessToken"])
        assert not await c.signed_in(other["accessToken"])
