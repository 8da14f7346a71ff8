"""The sender across a database outage: what it claimed, and what the SMTP server took but
could not be recorded, is settled by the same process as soon as the database is back,
not when the claim's lease runs out.

The outage is this test's own: the sender reaches the shared test PostgreSQL through a
unix-socket relay that the test cuts (the socket disappears, as while PostgreSQL restarts,
and the open connections drop) and restores. Nothing else sees it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from db.outbox import queries
from db.session import Database, create_engine
from tests.outbox.conftest import SmtpServer
from tests.outbox.test_sending import enqueue, sender


class SocketRelay:
    """A unix socket at `path` that relays to PostgreSQL's socket `target`. `cut` removes the
    socket (a new connection fails with ENOENT) and drops every open connection; `start`
    brings it back."""

    def __init__(self, target: Path, path: Path) -> None:
        self.target = target
        self.path = path
        self._server: asyncio.AbstractServer | None = None
        self._open: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_unix_server(self._relay, path=str(self.path))

    async def cut(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_unix_connection(str(self.target))
        except OSError:
            writer.transport.abort()
            return
        self._open.update((writer, up_writer))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except OSError:
                pass
            finally:
                dst.transport.abort()
                self._open.discard(dst)

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


async def relayed(database_url: str, directory: Path) -> tuple[SocketRelay, AsyncEngine]:
    """A relay in `directory` to the test database's socket, and an engine that uses it."""
    url = make_url(database_url)
    host = url.query.get("host")
    if not isinstance(host, str) or not host.startswith("/"):
        pytest.skip("the test database is not reached through a unix socket")
    name = f".s.PGSQL.{url.port or 5432}"
    relay = SocketRelay(Path(host) / name, directory / name)
    await relay.start()
    engine = create_engine(
        url.update_query_dict({"host": str(directory)}).render_as_string(hide_password=False),
        pool_size=2,
        max_overflow=0,
    )
    return relay, engine


async def test_claims_cut_off_by_a_database_outage_are_settled_once_it_is_back(
    committed_db: Database,
    database_url: str,
    smtp_server: SmtpServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    relay, engine = await relayed(database_url, tmp_path)
    for n in range(4):
        to = "gone@example.com" if n == 2 else "ada@example.com"
        await enqueue(committed_db, f"order:{n}:refund", template="refund", to=to)
    smtp_server.recorder.reject.add("gone@example.com")

    # The database goes away while the SMTP server takes the second message. The delivered
    # rows of a batch are written SENT together when it ends, so neither of the first two
    # is recorded yet; the third is refused for good (550), and writing that outcome meets
    # the outage, which ends the round: the fourth is claimed but never tried.
    loop = asyncio.get_running_loop()
    cut = asyncio.Event()

    async def outage_on_second(count: int) -> None:  # in the SMTP server's thread
        if count == 2:
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(relay.cut(), loop))
            loop.call_soon_threadsafe(cut.set)

    smtp_server.recorder.on_data = outage_on_second
    worker = sender(Database(engine), smtp_server.port)
    task = asyncio.create_task(worker.run(0.1))
    try:
        with caplog.at_level(logging.WARNING, logger="marquee.outbox"):
            await asyncio.wait_for(cut.wait(), 10)
            # Down for a while: the round in hand fails, and so do the next ones.
            deadline = time.monotonic() + 10
            while "outbox round failed" not in caplog.text:
                assert time.monotonic() < deadline, "the round did not fail"
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)
        assert len(smtp_server.received) == 2
        assert worker.unsettled == 4
        rows = {r.message_id: r for r in await queries.list_messages(committed_db)}
        assert Counter(r.status for r in rows.values()) == {"PENDING": 4}

        await relay.start()  # the database is back
        back = time.monotonic()
        while await queries.status_counts(committed_db) != {"SENT": 3, "FAILED": 1}:
            # Well before any lease ends (the shortest one is a minute).
            assert time.monotonic() - back < 10, await queries.status_counts(committed_db)
            await asyncio.sleep(0.05)
    finally:
        worker.stop()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await relay.cut()
        await engine.dispose()

    # Each message the server took arrived exactly once: the two taken during the outage
    # were recorded as SENT, not sent again; the one not tried went out once the database
    # was back, and the refusal was recorded, not tried again.
    final = {r.message_id: r for r in await queries.list_messages(committed_db)}
    refused = {m for m, r in final.items() if r.recipient == "gone@example.com"}
    arrived = Counter(r.message_id for r in smtp_server.received)
    assert arrived == Counter(dict.fromkeys(set(final) - refused, 1))
    assert {m: r.status for m, r in final.items() if m in refused} == dict.fromkeys(
        refused, "FAILED"
    )
    # Every row was attempted once: the claim handed back did not count.
    assert {r.attempts for r in final.values()} == {1}


async def test_a_connection_lost_while_recording_does_not_send_the_message_twice(
    committed_db: Database, database_url: str, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    relay, engine = await relayed(database_url, tmp_path)
    for n in range(3):
        await enqueue(committed_db, f"order:{n}:refund", template="refund")
    loop = asyncio.get_running_loop()

    async def blip_on_first(count: int) -> None:  # in the SMTP server's thread
        if count == 1:  # the connections drop; new ones succeed at once

            async def blip() -> None:
                await relay.cut()
                await relay.start()

            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(blip(), loop))

    smtp_server.recorder.on_data = blip_on_first
    worker = sender(Database(engine), smtp_server.port)
    try:
        # Recording the first message meets the dropped connection: the SENT update is one
        # idempotent statement, run again on a new connection (`Database.fetch_static`), so
        # the round goes on and sends the other two. (A database down for longer: the
        # outcome is kept and written by a later round, the test above.)
        dropped: list[object] = []
        event.listen(engine.sync_engine.pool, "invalidate", lambda *_: dropped.append(1))
        result = await worker.run_once()
        assert (result.claimed, result.sent) == (3, 3)
        assert dropped  # the SENT update did meet the dropped connection
        assert worker.unsettled == 0
        assert await queries.status_counts(committed_db) == {"SENT": 3}
    finally:
        await relay.cut()
        await engine.dispose()
    expected = {r.message_id for r in await queries.list_messages(committed_db)}
    arrived = Counter(r.message_id for r in smtp_server.received)
    assert arrived == Counter(dict.fromkeys(expected, 1))
    final = await queries.list_messages(committed_db)
    assert {(r.status, r.attempts) for r in final} == {("SENT", 1)}
