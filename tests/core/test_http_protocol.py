"""`CoalescingHttpToolsProtocol` (graph/http_protocol.py) writes a response's head and body
in one socket write, and answers everything else as uvicorn's httptools protocol does:
streaming (chunked) bodies, HEAD, empty bodies, keep-alive, and the real app's JSON POST."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from db.session import SharedConnectionDatabase
from graph.app import create_app
from graph.http_protocol import CoalescingHttpToolsProtocol
from graph.settings import Settings
from tests.realtime.harness import serve_in_process


class _Recording:
    """A transport that records the size of each write."""

    def __init__(self, transport: Any, writes: list[int]) -> None:
        self.transport = transport
        self.writes = writes

    def write(self, data: bytes) -> None:
        self.writes.append(len(data))
        self.transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


WRITES: list[int] = []


class RecordingCoalescing(CoalescingHttpToolsProtocol):
    def connection_made(self, transport: Any) -> None:
        super().connection_made(_Recording(transport, WRITES))


async def _toy(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers by path: /one (Content-Length, one body message), /stream (chunked, three
    messages), /empty (204)."""
    assert scope["type"] == "http"
    if scope["path"] == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for part in (b"a", b"bb", b"ccc"):
            await send({"type": "http.response.body", "body": part, "more_body": True})
            await asyncio.sleep(0)
        await send({"type": "http.response.body", "body": b""})
        return
    if scope["path"] == "/empty":
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    body = b"hello, one write"
    headers = [(b"content-length", str(len(body)).encode()), (b"content-type", b"text/plain")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@asynccontextmanager
async def _served(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        serve_in_process(app, http=RecordingCoalescing, lifespan="off") as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        yield http


@pytest.fixture(autouse=True)
def _clear_writes() -> None:
    WRITES.clear()


async def test_one_write_per_response_on_a_kept_alive_connection() -> None:
    async with _served(_toy) as http:
        for _ in range(3):
            answer = await http.get("/one")
            assert answer.status_code == 200
            assert answer.text == "hello, one write"
            assert answer.headers["content-type"] == "text/plain"
    # Three responses on one connection (httpx keeps it alive), one write each.
    assert len(WRITES) == 3
    assert all(size > len(b"hello, one write") + 40 for size in WRITES)


async def test_streaming_head_and_empty_answers() -> None:
    async with _served(_toy) as http:
        streamed = await http.get("/stream")
        assert streamed.status_code == 200
        assert streamed.headers["transfer-encoding"] == "chunked"
        assert streamed.content == b"abbccc"
        head = await http.head("/one")
        assert head.status_code == 200
        assert head.headers["content-length"] == "16"
        assert head.content == b""
        empty = await http.get("/empty")
        assert empty.status_code == 204
        assert empty.content == b""
        # The connection is still good after all of them.
        assert (await http.get("/one")).text == "hello, one write"
    # /stream: head with the first chunk, then one write per chunk and the last chunk;
    # HEAD: the head alone; 204: the head alone; /one: one write.
    assert len(WRITES) == 4 + 1 + 1 + 1


async def test_the_apps_json_post_in_one_write(
    db: SharedConnectionDatabase, settings: Settings
) -> None:
    app = create_app(settings, database=db)
    async with _served(app) as http:
        for _ in range(2):
            answer = await http.post("/graphql", json={"query": "{ __typename }"})
            assert answer.json()["data"] == {"__typename": "Query"}
            assert answer.headers["x-request-id"]
    assert len(WRITES) == 2
