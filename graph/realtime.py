"""Realtime seat availability: one LISTEN connection per process, fanned out to subscribers.

Booking actions call pg_notify('seat_changes', …) inside their transactions, so an event
exists only for a committed change, and each carries the showtime's sequence number
(+1 per change, in commit order). This process keeps ONE raw asyncpg connection that
LISTENs; each notification is decoded and turned into a GraphQL event object once, then
the same object is put on the bounded queue of every local subscriber of that showtime.

Snapshots (the first event of a subscription, and after a resync) are read in one
statement with the sequence they reflect. A subscriber drops deltas its snapshot already
covers; a delta that skips a number (a notification lost while the LISTEN connection was
down) parks it until a fresh snapshot arrives. After the LISTEN connection comes back,
every subscriber gets a fresh snapshot. A subscriber whose queue overflows is closed: it
resubscribes and starts from a snapshot.

The audit: every few seconds the hub reads the current sequence of every showtime it
serves (one statement) and gives a fresh snapshot to each subscriber that was behind it at
the previous audit too and has not caught up since. Whatever made a subscriber miss a
change (a notification that never came, a change made without one, a snapshot request
that was lost), it is told within two audit intervals, even if no later change comes to
reveal the gap.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

import orjson
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from db.booking.codes import SEAT_CHANNEL
from db.listen import Connect, Listener

log = logging.getLogger("marquee.realtime")

HUB_SERVICE = "seat_hub"


class Event(Protocol):
    @property
    def sequence(self) -> int: ...

    @property
    def snapshot(self) -> bool: ...


class SubscriberClosed(Exception):
    """The subscription ended on the server's side (too slow, showtime gone, shutdown);
    `code` is the top-level error code to show (None: just complete)."""

    def __init__(self, reason: str, code: str | None) -> None:
        super().__init__(reason)
        self.code = code


class _Close:
    def __init__(self, reason: str, code: str | None) -> None:
        self.reason = reason
        self.code = code


class Subscriber:
    """One subscription's bounded queue and its place in the showtime's sequence."""

    def __init__(self, hub: SeatHub, showtime_id: int, maxsize: int) -> None:
        self.hub = hub
        self.showtime_id = showtime_id
        self.queue: asyncio.Queue[Event | _Close] = asyncio.Queue(maxsize)
        self.last: int | None = None  # the sequence of the last event given to the client
        self.parked: list[Event] = []  # deltas waiting for a snapshot
        self.ready: deque[Event] = deque()
        self.closed = False
        self.behind: int | None = None  # the database's sequence at an audit it was behind

    def push(self, event: Event) -> None:
        if self.closed:
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.close("Too far behind: subscribe again to get a fresh snapshot.", "RATE_LIMITED")

    def close(self, reason: str, code: str | None) -> None:
        if self.closed:
            return
        self.closed = True
        self.hub._forget(self)
        # Make room for the close marker: what is queued will never be sent anyway.
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(_Close(reason, code))

    def _accept(self, event: Event) -> None:
        """Decide what the client sees, keeping `sequence` gap-free after the snapshot."""
        if event.snapshot:
            if self.last is not None and event.sequence < self.last:
                return  # older than what the client already has
            self.last = event.sequence
            self.ready.append(event)
            parked, self.parked = sorted(self.parked, key=lambda e: e.sequence), []
            for delta in parked:
                self._accept(delta)
            return
        if self.last is None:
            self.parked.append(event)  # before the first snapshot
        elif event.sequence <= self.last:
            return  # already in the snapshot
        elif event.sequence == self.last + 1:
            self.last = event.sequence
            self.ready.append(event)
        else:
            # A gap: a notification was lost. Park it and ask for a fresh snapshot.
            if not self.parked:
                self.hub.request_snapshot(self.showtime_id, {self})
            self.parked.append(event)

    def __aiter__(self) -> Subscriber:
        return self

    async def __anext__(self) -> Event:
        while not self.ready:
            item = await self.queue.get()
            if isinstance(item, _Close):
                raise SubscriberClosed(item.reason, item.code)
            self._accept(item)
        return self.ready.popleft()


# Builders supplied by the booking domain: one event per notification / snapshot.
DecodeDelta = Callable[[dict[str, Any]], Event]
LoadSnapshot = Callable[[int], Awaitable[Event | None]]
# The current sequence of each showtime that exists, by id (the audit).
LoadSequences = Callable[[list[int]], Awaitable[dict[int, int]]]


class SeatHub:
    """The process's seat-change LISTEN (a view of its one LISTEN connection, db/listen.py)
    and its subscribers, by showtime."""

    def __init__(
        self,
        *,
        connect: Connect,
        decode_delta: DecodeDelta,
        load_snapshot: LoadSnapshot,
        load_sequences: LoadSequences | None = None,
        queue_size: int = 256,
        max_backoff: float = 5.0,
        ping_interval: float = 5.0,
        audit_interval: float = 5.0,
    ) -> None:
        self._connect = connect
        self._decode_delta = decode_delta
        self._load_snapshot = load_snapshot
        self._load_sequences = load_sequences
        self.audit_interval = audit_interval
        self.audit_resyncs = 0  # subscribers the audit found behind and resynced
        self.queue_size = queue_size
        self.max_backoff = max_backoff
        self.ping_interval = ping_interval
        self.subscribers: dict[int, set[Subscriber]] = {}
        self._scheduled: dict[int, set[Subscriber] | None] = {}  # None: all subscribers
        self._tasks: set[asyncio.Task[None]] = set()
        self._listener: asyncio.Task[None] | None = None
        self._auditor: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()
        self.connections = 0  # how many times LISTEN was (re)established
        self._decoded = 0

    # --- lifecycle ---

    async def start(self) -> None:
        self._listener = asyncio.create_task(self._listen_forever(), name="seat-hub-listen")
        if self._load_sequences is not None and self.audit_interval > 0:
            self._auditor = asyncio.create_task(self._audit_forever(), name="seat-hub-audit")

    async def stop(self) -> None:
        for task in (self._listener, self._auditor):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        for task in list(self._tasks):
            task.cancel()
        for subs in list(self.subscribers.values()):
            for sub in list(subs):
                sub.close("The server is shutting down.", None)

    # --- subscribers ---

    @contextlib.asynccontextmanager
    async def subscribe(self, showtime_id: int) -> AsyncIterator[Subscriber]:
        """Register first, then read the snapshot: no change can fall between the two."""
        sub = Subscriber(self, showtime_id, self.queue_size)
        self.subscribers.setdefault(showtime_id, set()).add(sub)
        self.request_snapshot(showtime_id, {sub})
        try:
            yield sub
        finally:
            sub.closed = True
            self._forget(sub)

    def _forget(self, sub: Subscriber) -> None:
        subs = self.subscribers.get(sub.showtime_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self.subscribers[sub.showtime_id]

    def subscriber_count(self, showtime_id: int | None = None) -> int:
        if showtime_id is not None:
            return len(self.subscribers.get(showtime_id, ()))
        return sum(len(s) for s in self.subscribers.values())

    @property
    def decoded_notifications(self) -> int:
        """How many notifications were turned into delta events: once per notification of
        a showtime someone here watches, whatever the number of its subscribers; none for
        showtimes nobody watches (read-only, for tests and monitoring)."""
        return self._decoded

    def dispatch(self, showtime_id: int, event: Event) -> None:
        for sub in list(self.subscribers.get(showtime_id, ())):
            sub.push(event)

    # --- snapshots (coalesced: one query per showtime serves every waiting subscriber) ---

    def request_snapshot(self, showtime_id: int, targets: set[Subscriber] | None) -> None:
        if showtime_id in self._scheduled:
            current = self._scheduled[showtime_id]
            if current is not None:
                self._scheduled[showtime_id] = None if targets is None else current | targets
            return
        self._scheduled[showtime_id] = targets
        self._spawn(self._load(showtime_id))

    async def _load(self, showtime_id: int, delay: float = 0.0) -> None:
        # Runs after the requesting subscribers registered; later ones schedule a new load.
        await asyncio.sleep(delay)
        targets = self._scheduled.pop(showtime_id, None)
        try:
            event = await self._load_snapshot(showtime_id)
        except Exception as exc:
            log.warning("snapshot of showtime %s failed (%s); retrying", showtime_id, exc)
            await asyncio.sleep(1.0)
            alive = self.subscribers.get(showtime_id, set())
            if targets is not None:
                targets = targets & alive
                if not targets:
                    return
            elif not alive:
                return
            self.request_snapshot(showtime_id, targets)
            return
        receivers = targets if targets is not None else self.subscribers.get(showtime_id, set())
        for sub in list(receivers):
            if event is None:
                sub.close("This showtime no longer exists.", "BAD_USER_INPUT")
            else:
                sub.push(event)

    def resync_all(self) -> None:
        for showtime_id in list(self.subscribers):
            self.request_snapshot(showtime_id, None)

    # --- the audit: nobody stays behind the database's sequence unnoticed ---

    async def _audit_forever(self) -> None:
        while True:
            await asyncio.sleep(self.audit_interval)
            try:
                await self.audit()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("seat audit failed (%s)", exc)

    async def audit(self) -> int:
        """One round: read every served showtime's sequence; a subscriber behind it now and
        still behind what it was behind last round gets a fresh snapshot. Two rounds, so a
        notification or a snapshot on its way is not mistaken for a lost one. While the
        LISTEN connection is down nothing is judged (reconnecting resyncs everyone).
        Returns how many subscribers were resynced."""
        if self._load_sequences is None or not self.connected.is_set() or not self.subscribers:
            return 0
        current = await self._load_sequences(list(self.subscribers))
        if not self.connected.is_set():
            return 0
        resynced = 0
        for showtime_id, subs in list(self.subscribers.items()):
            sequence = current.get(showtime_id)
            if sequence is None:
                continue  # gone: the next snapshot load closes its subscribers
            stale: set[Subscriber] = set()
            for sub in subs:
                if sub.closed or (sub.last is not None and sub.last >= sequence):
                    sub.behind = None
                elif sub.behind is not None and (sub.last is None or sub.last < sub.behind):
                    stale.add(sub)
                    sub.behind = None
                else:
                    sub.behind = sequence
            if stale:
                log.warning(
                    "%d subscriber(s) of showtime %s behind sequence %s; sending a snapshot",
                    len(stale),
                    showtime_id,
                    sequence,
                )
                resynced += len(stale)
                self.request_snapshot(showtime_id, stale)
        self.audit_resyncs += resynced
        return resynced

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- the LISTEN connection ---

    def _on_notify(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        try:
            data = orjson.loads(payload)
            showtime_id = int(data["s"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            log.warning("bad seat notification: %r", payload[:200])
            return
        if showtime_id not in self.subscribers:
            return  # nobody here watches this showtime: not even decoded further
        if data.get("r"):
            self.request_snapshot(showtime_id, None)
            return
        try:
            event = self._decode_delta(data)
        except (KeyError, TypeError, ValueError):
            log.warning("bad seat notification: %r", payload[:200])
            self.request_snapshot(showtime_id, None)
            return
        self._decoded += 1
        self.dispatch(showtime_id, event)

    async def _listen_forever(self) -> None:
        delay = 0.1
        while True:
            listener: Listener | None = None
            try:
                listener = await Listener.open(self._connect, SEAT_CHANNEL, self._on_notify)
                self.connections += 1
                self.connected.set()
                delay = 0.1
                # Anything may have changed while we were not listening.
                self.resync_all()
                while not listener.lost.is_set():
                    try:
                        await asyncio.wait_for(listener.lost.wait(), self.ping_interval)
                    except TimeoutError:
                        await asyncio.wait_for(listener.ping(), self.ping_interval)
                log.warning("LISTEN connection lost; reconnecting")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("LISTEN connection failed (%s); retrying in %.1fs", exc, delay)
            finally:
                self.connected.clear()
                if listener is not None:
                    listener.close()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.max_backoff)


class SharedEventExecution(StrawberryGraphQLCoreExecutionContext):
    """Executes a subscription event ONCE per (event, operation, variables) in this process.

    graphql-core executes each event for each subscriber (~0.4 ms even for a small delta),
    which is what limits fan-out. Events marked `shared_result = True` (their fields do not
    depend on the viewer) are executed for the first subscriber and the ExecutionResult is
    reused by every subscriber whose operation is the same parsed document (the parser
    cache hands out one document per query text) with the same variables.
    """

    _results: OrderedDict[tuple[Any, ...], tuple[Any, Any]] = OrderedDict()
    _max_results = 256

    def execute_operation(self, serially: bool | None = None) -> Any:
        payload = self.root_value
        if not getattr(payload, "shared_result", False):
            return super().execute_operation(serially)
        try:
            variables = frozenset(self.variable_values.coerced.items())
            key = (id(payload), id(self.operation), variables)
            hash(key)
        except TypeError:
            return super().execute_operation(serially)
        hit = self._results.get(key)
        if hit is not None and hit[0] is payload:
            return hit[1]
        result = super().execute_operation(serially)
        if self.is_awaitable(result):
            result = asyncio.ensure_future(result)
        # The payload is kept with its result so that its id() cannot be reused meanwhile.
        self._results[key] = (payload, result)
        if len(self._results) > self._max_results:
            self._results.popitem(last=False)
        return result
