"""`me` as a signed-in demo user: token check, viewer lookup and the profile read."""

from __future__ import annotations

from typing import Any

from bench.scenario import BenchError, Prepared, Scenario
from bench.server import Server

QUERY = "query Me { me { id username email fullName role } }"


def _setup(server: Server) -> Prepared:
    token = server.sign_in()
    return Prepared(headers={"Authorization": f"Bearer {token}"})


def _expect(data: dict[str, Any]) -> None:
    if not data.get("me") or not data["me"].get("username"):
        raise BenchError(f"`me` returned no user: {data}")


SCENARIO = Scenario(
    name="me",
    description="me { id username email fullName role } with a bearer token",
    query=QUERY,
    setup=_setup,
    expect=_expect,
)
