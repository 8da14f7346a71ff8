"""Exact caching of anonymous public reads: this worker's answers by (query, operation,
variables), dropped when PostgreSQL announces a change of a table they read.

Writes of the announced tables (db/changes.py) notify `CHANGES_CHANNEL` with the table's
name when they commit; each worker LISTENs on one connection of its own and drops every
entry that read the table. Nothing expires by time: an entry is exactly as fresh as the
tables it depends on (docs/caching.md says why that holds, and where it does not apply).

Three rules keep a stale answer out:
- A generation per table (and an epoch for whole flushes), captured before execution and
  compared before storing: an answer whose read overlapped a change is not kept.
- Only while LISTEN runs (`live`): at start, and whenever the connection is lost, the cache
  is emptied and neither serves nor stores until LISTEN is back (notifications may have
  been missed meanwhile).
- A mutation answered by this worker waits, before its response goes out, until this
  worker has heard every announcement committed before it (`sync`: a NOTIFY of its own on
  the same channel, which PostgreSQL delivers after everything committed earlier). So a
  client that writes and then reads sees its write, even though announcements arrive
  asynchronously.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import logging
import math
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter, Gauge

from db.changes import CHANGES_CHANNEL
from db.listen import Connect, listen_connector
from graph.listening import KeptListener

log = logging.getLogger("marquee.response_cache")

RESPONSE_CACHE_SERVICE = "response_cache"

HITS = Counter("marquee_response_cache_hits_total", "Answers served from the response cache")
MISSES = Counter(
    "marquee_response_cache_misses_total", "Cacheable operations executed (not in the cache)"
)
INVALIDATIONS = Counter(
    "marquee_response_cache_invalidations_total",
    "Cached answers dropped because a table they read changed",
)
STALE = Counter(
    "marquee_response_cache_stale_total",
    "Answers not stored because a table they read changed while they were being computed",
)
ENTRIES = Gauge("marquee_response_cache_entries", "Answers in the response cache")

# Prefix of this module's own barrier notifications on CHANGES_CHANNEL (never a table name).
_SYNC = "sync:"

Key = tuple[str, str | None, bytes]
Snapshot = tuple[int, ...]


def etag_of(body: bytes) -> str:
    """The entity tag of a response body (graph/app.py computes the same for uncached GETs)."""
    return f'"{hashlib.sha256(body).hexdigest()[:32]}"'


@dataclass(slots=True)
class Entry:
    body: bytes
    etag: str
    tables: frozenset[str]
    size: int


class ResponseCache(KeptListener):
    """An LRU of answers bounded by entries and bytes, kept exact by LISTEN."""

    channel = CHANGES_CHANNEL
    task_name = "response-cache"
    what = "response cache"

    def __init__(
        self,
        *,
        connect: Connect,
        max_entries: int,
        max_bytes: int,
        sync_timeout: float = 2.0,
        quiet_seconds: float = 15.0,
        ping_interval: float = 5.0,
        max_backoff: float = 5.0,
    ) -> None:
        super().__init__(
            connect=connect, log=log, ping_interval=ping_interval, max_backoff=max_backoff
        )
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.sync_timeout = sync_timeout
        # Longer than any operation runs (the time limit): see `sync`.
        self.quiet_seconds = quiet_seconds
        self._last_miss = -math.inf  # when the last cacheable read began (monotonic)
        self._entries: collections.OrderedDict[Key, Entry] = collections.OrderedDict()
        self._by_table: dict[str, set[Key]] = collections.defaultdict(set)
        self._generations: dict[str, int] = collections.defaultdict(int)
        self._epoch = 0
        self.bytes = 0
        self._me = uuid.uuid4().hex  # tells this cache's barriers from other workers'
        self._syncs_sent = 0
        self._sync_waiters: dict[int, asyncio.Future[None]] = {}

    # --- entries ---

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Key) -> Entry | None:
        if not self.live:
            return None
        entry = self._entries.get(key)
        if entry is None:
            MISSES.inc()
            return None
        self._entries.move_to_end(key)
        HITS.inc()
        return entry

    def snapshot(self, tables: Iterable[str]) -> Snapshot:
        """The generations to hand back to `put`: taken before the operation runs."""
        self._last_miss = time.monotonic()
        return (self._epoch, *(self._generations[t] for t in sorted(tables)))

    def put(self, key: Key, body: bytes, tables: frozenset[str], snapshot: Snapshot) -> None:
        """Keep an answer, unless a table it read changed since `snapshot` (or the cache
        was flushed, or is not live), or it is too large to be worth a place."""
        if not self.live:
            return
        if snapshot != self.snapshot(tables):
            STALE.inc()
            return
        size = len(body) + len(key[0]) + len(key[2]) + 200  # + the entry's own overhead
        if size > self.max_bytes // 4:
            return
        self._drop(key)
        self._entries[key] = Entry(body, etag_of(body), tables, size)
        self.bytes += size
        for table in tables:
            self._by_table[table].add(key)
        while len(self._entries) > self.max_entries or self.bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))
        ENTRIES.set(len(self._entries))

    def _drop(self, key: Key) -> bool:
        entry = self._entries.pop(key, None)
        if entry is None:
            return False
        self.bytes -= entry.size
        for table in entry.tables:
            keys = self._by_table.get(table)
            if keys is not None:
                keys.discard(key)
        return True

    def invalidate(self, table: str) -> None:
        """A change of `table` was committed: drop what read it, and refuse to store what
        is being computed from it right now."""
        self._generations[table] += 1
        keys = self._by_table.pop(table, set())
        dropped = sum(self._drop(key) for key in keys)
        if dropped:
            INVALIDATIONS.inc(dropped)
            ENTRIES.set(len(self._entries))

    def flush(self) -> None:
        self._epoch += 1
        self._entries.clear()
        self._by_table.clear()
        self.bytes = 0
        ENTRIES.set(0)

    # --- after a mutation ---

    async def sync(self) -> None:
        """Return once this worker has heard every announcement committed before the call
        (a barrier: a notification of our own, delivered after them). On a timeout or a
        failure the cache is flushed instead, which is as good for exactness."""
        listener = self._listener
        if not self.live or listener is None:
            return  # nothing is served or stored while not live
        if not self._entries and time.monotonic() - self._last_miss > self.quiet_seconds:
            # Nothing kept and no cacheable read for longer than an operation may run, so
            # nothing can be stale or about to be stored stale: a read that starts now
            # reads after the write's commit. Saves the round trip for the mutations of a
            # worker that serves no cacheable reads (holds, checkout, payment).
            return
        self._syncs_sent += 1
        number = self._syncs_sent
        waiter = asyncio.get_running_loop().create_future()
        self._sync_waiters[number] = waiter
        try:
            async with asyncio.timeout(self.sync_timeout):
                async with self._connection_lock:
                    await listener.notify(CHANGES_CHANNEL, f"{_SYNC}{self._me}:{number}")
                await waiter
        except Exception as exc:
            log.warning("response cache sync failed (%s); flushing", exc)
            self.flush()
        finally:
            self._sync_waiters.pop(number, None)

    def _heard_sync(self, payload: str) -> None:
        me, _, number = payload[len(_SYNC) :].rpartition(":")
        if me != self._me or not number.isdigit():
            return  # another worker's barrier
        heard = int(number)
        for n, waiter in list(self._sync_waiters.items()):
            if n <= heard and not waiter.done():
                waiter.set_result(None)

    # --- LISTEN ---

    def _on_notify(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        if payload.startswith(_SYNC):
            self._heard_sync(payload)
        else:
            self.invalidate(payload)

    def _set_live(self, live: bool) -> None:
        # Either way the entries go: what was heard before a drop may be incomplete.
        self.flush()
        super()._set_live(live)


async def start_response_cache(state: Any) -> Callable[[], Awaitable[None]]:
    """Start-up hook (graph.app.STARTUP_HOOKS): this worker's response cache, when
    MARQUEE_RESPONSE_CACHE is on."""
    settings = state.settings
    if not settings.response_cache:
        return _nothing
    cache = ResponseCache(
        connect=listen_connector(state.db),
        max_entries=settings.response_cache_max_entries,
        max_bytes=settings.response_cache_max_bytes,
        quiet_seconds=settings.operation_timeout_seconds + 5.0,
    )
    await cache.start()
    state.services[RESPONSE_CACHE_SERVICE] = cache

    async def stop() -> None:
        state.services.pop(RESPONSE_CACHE_SERVICE, None)
        await cache.stop()

    return stop


async def _nothing() -> None:
    return None
