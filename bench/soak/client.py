"""The soak's GraphQL client: every call is timed and classified (ok, a payload error code, a
top-level error code, an HTTP status, a transport error), and goes to either instance,
failing over to the other when one does not answer."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

# Outcomes that count as the server failing (not an expected answer to a bad request).
SERVER_FAULTS = ("INTERNAL_SERVER_ERROR", "HTTP 500", "HTTP 502", "HTTP 503", "HTTP 504")


@dataclass
class Sample:
    at: float  # wall clock
    kind: str
    seconds: float
    outcome: str  # "ok", a payload code, a top-level code, "HTTP n", "transport"


@dataclass
class Stats:
    samples: list[Sample] = field(default_factory=list)
    # (wall clock, kind, detail) of every server fault and transport error, for the windows.
    faults: list[tuple[float, str, str]] = field(default_factory=list)
    operations: Counter[str] = field(default_factory=Counter)  # whole flows completed
    async_seconds: list[float] = field(default_factory=list)  # tok_async: pay -> PAID

    def add(self, kind: str, started: float, outcome: str, detail: str = "") -> None:
        now = time.time()
        self.samples.append(Sample(now, kind, now - started, outcome))
        if outcome in SERVER_FAULTS or outcome == "transport":
            self.faults.append((now, kind, f"{outcome}: {detail}"[:300]))

    def latencies(self) -> dict[str, list[float]]:
        out: dict[str, list[float]] = defaultdict(list)
        for s in self.samples:
            out[s.kind].append(s.seconds)
        return out


class Retry(Exception):
    """The call did not get an answer worth reading (transport error, 5xx, internal error)."""


class Api:
    def __init__(self, urls: list[str], stats: Stats, rng: random.Random) -> None:
        self.urls = urls
        self.stats = stats
        self.rng = rng
        self.http = httpx.AsyncClient(
            timeout=httpx.Timeout(20.0, connect=3.0),
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        )

    async def close(self) -> None:
        await self.http.aclose()

    async def once(
        self, kind: str, query: str, variables: dict[str, Any], token: str | None, url: str
    ) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        started = time.time()
        try:
            response = await self.http.post(
                url + "/graphql",
                content=orjson.dumps({"query": query, "variables": variables}),
                headers=headers,
            )
        except httpx.HTTPError as exc:
            self.stats.add(kind, started, "transport", f"{url} {type(exc).__name__}")
            raise Retry(type(exc).__name__) from exc
        if response.status_code != 200:
            outcome = f"HTTP {response.status_code}"
            self.stats.add(kind, started, outcome, response.text[:200])
            if response.status_code >= 500 or response.status_code == 429:
                raise Retry(outcome)
            return {"errors": [{"extensions": {"code": outcome}}]}
        body: dict[str, Any] = orjson.loads(response.content)
        errors = body.get("errors") or []
        if errors:
            code = str((errors[0].get("extensions") or {}).get("code", "GRAPHQL_ERROR"))
            self.stats.add(kind, started, code, str(errors[0].get("message")))
            if code in SERVER_FAULTS or code == "TIMEOUT":
                raise Retry(code)
            return body
        self.stats.add(kind, started, _payload_code(body.get("data")))
        return body

    async def call(
        self,
        kind: str,
        query: str,
        variables: dict[str, Any] | None = None,
        token: str | None = None,
        *,
        attempts: int = 6,
        deadline: float | None = None,
    ) -> dict[str, Any] | None:
        """The answer, retried (same variables: idempotency keys make that safe) on another
        instance after a transport error or a server fault, with backoff; None if no answer
        came within the attempts."""
        delay = 0.2
        for attempt in range(attempts):
            url = self.urls[(self.rng.randrange(len(self.urls)) + attempt) % len(self.urls)]
            try:
                return await self.once(kind, query, variables or {}, token, url)
            except Retry:
                if deadline is not None and time.time() + delay > deadline:
                    return None
                await asyncio.sleep(delay)
                delay = min(delay * 2, 3.0)
        return None


def _payload_code(data: Any) -> str:
    """The first payload error code in the answer, else "ok"."""
    if isinstance(data, dict):
        for value in data.values():
            if isinstance(value, dict):
                errors = value.get("errors")
                if errors:
                    return str(errors[0].get("code", "ERROR"))
    return "ok"


def payload(body: dict[str, Any] | None, field_name: str) -> dict[str, Any]:
    if not body:
        return {}
    return ((body.get("data") or {}).get(field_name)) or {}
