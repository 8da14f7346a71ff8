"""WebSocket test harness: real servers (in-process uvicorn, or uvicorn subprocesses) and a
small graphql-transport-ws client."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import uvicorn
from websockets.asyncio.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parents[2]

SEAT_AVAILABILITY = """
subscription ($id: ID!) {
  seatAvailability(showtimeId: $id) {
    showtimeId sequence snapshot availableSeatCount seats { seatId status }
  }
}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Any:  # leave pytest's signal handlers alone
        yield


@contextlib.asynccontextmanager
async def serve_in_process(app: Any, port: int | None = None) -> AsyncIterator[str]:
    """Serve an ASGI app (lifespan included: the seat hub and sweeper start) on a free
    port (or `port`) in this event loop; yields the base URL."""
    port = port or free_port()
    server = _QuietServer(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on", log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


class ServerProcess:
    """`uvicorn graph.app:create_app` in a subprocess on a free 127.0.0.1 port."""

    def __init__(
        self, database_url: str, jwt_secret: str, env: dict[str, str] | None = None
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "MARQUEE_ENV": "test",
            "MARQUEE_JWT_SECRET": jwt_secret,
            "MARQUEE_DB_POOL_SIZE": "5",
            **(env or {}),
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "graph.app:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=self.env,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError("server did not become ready")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class WsClient:
    """A graphql-transport-ws client: `subscribe` returns an operation id whose events
    `next` returns (the `payload` of each `next` message)."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.queues: dict[str, asyncio.Queue[dict[str, Any]]] = {}
        self._ids = 0
        self._reader: asyncio.Task[None] | None = None
        self.closed = asyncio.Event()

    @classmethod
    @contextlib.asynccontextmanager
    async def connect(cls, base_url: str, token: str | None = None) -> AsyncIterator[WsClient]:
        url = base_url.replace("http://", "ws://") + "/graphql"
        async with connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
            client = cls(ws)
            payload = {"Authorization": f"Bearer {token}"} if token else {}
            await ws.send(orjson.dumps({"type": "connection_init", "payload": payload}).decode())
            ack = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
            assert ack["type"] == "connection_ack", ack
            client._reader = asyncio.create_task(client._read())
            try:
                yield client
            finally:
                client._reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await client._reader

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                msg = orjson.loads(raw)
                kind = msg.get("type")
                if kind == "ping":
                    await self.ws.send(orjson.dumps({"type": "pong"}).decode())
                elif kind in ("next", "error", "complete"):
                    self.queues.setdefault(msg["id"], asyncio.Queue()).put_nowait(msg)
        except Exception:
            pass
        finally:
            self.closed.set()

    async def subscribe(self, query: str, variables: dict[str, Any]) -> str:
        self._ids += 1
        op = str(self._ids)
        self.queues.setdefault(op, asyncio.Queue())
        message = {
            "id": op,
            "type": "subscribe",
            "payload": {"query": query, "variables": variables},
        }
        await self.ws.send(orjson.dumps(message).decode())
        return op

    async def message(self, op: str, wait: float = 10.0) -> dict[str, Any]:
        return await asyncio.wait_for(self.queues[op].get(), wait)

    async def next(self, op: str, wait: float = 10.0) -> dict[str, Any]:
        """The data of the next event; fails on errors."""
        msg = await self.message(op, wait)
        assert msg["type"] == "next", msg
        assert not msg["payload"].get("errors"), msg["payload"]["errors"]
        data: dict[str, Any] = msg["payload"]["data"]
        return data

    async def nothing(self, op: str, wait: float = 0.5) -> None:
        """Assert that no message arrives for `op` within `wait` seconds."""
        with contextlib.suppress(TimeoutError):
            msg = await asyncio.wait_for(self.queues[op].get(), wait)
            raise AssertionError(f"unexpected message {msg}")


async def seat_events(client: WsClient, showtime_gid: str) -> str:
    return await client.subscribe(SEAT_AVAILABILITY, {"id": showtime_gid})
