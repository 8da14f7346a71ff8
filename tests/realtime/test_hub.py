"""The fan-out hub on its own: shared events, ordering, gaps, slow subscribers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest

from db.booking.queries import SeatSnapshot
from db.cinemas.codes import SeatStatus
from graph.booking.types import SeatAvailabilityEvent, SeatStatusChange, event_from_snapshot
from graph.context import Context
from graph.realtime import SeatHub, Subscriber, SubscriberClosed
from graph.schema import build_schema
from graph.settings import Settings
from tests.realtime.harness import SEAT_AVAILABILITY


@dataclass
class Ev:
    sequence: int
    snapshot: bool = False


class FakeDb:
    def __init__(self) -> None:
        self.sequence = 0
        self.loads = 0

    async def load(self, showtime_id: int) -> Ev | None:
        self.loads += 1
        await asyncio.sleep(0)
        return Ev(self.sequence, snapshot=True) if showtime_id != 404 else None


def make_hub(fake: FakeDb, queue_size: int = 8) -> SeatHub:
    async def never() -> Any:
        raise AssertionError("not used")

    return SeatHub(
        connect=never,
        decode_delta=lambda d: Ev(int(d["q"])),
        load_snapshot=fake.load,
        queue_size=queue_size,
    )


async def take(sub: Subscriber, n: int) -> list[Ev]:
    out = []
    for _ in range(n):
        out.append(await asyncio.wait_for(sub.__anext__(), 2))
    return out  # type: ignore[return-value]


async def test_one_snapshot_query_and_one_event_object_for_all_subscribers() -> None:
    fake = FakeDb()
    fake.sequence = 5
    hub = make_hub(fake)
    async with hub.subscribe(1) as a, hub.subscribe(1) as b:
        first_a, first_b = (await take(a, 1))[0], (await take(b, 1))[0]
        assert first_a is first_b
        assert first_a.snapshot
        assert first_a.sequence == 5
        assert fake.loads == 1
        event = Ev(6)
        hub.dispatch(1, event)
        assert (await take(a, 1))[0] is event
        assert (await take(b, 1))[0] is event
    assert hub.subscriber_count() == 0


async def test_deltas_covered_by_the_snapshot_are_dropped() -> None:
    fake = FakeDb()
    fake.sequence = 3
    hub = make_hub(fake)
    async with hub.subscribe(1) as sub:
        # Deltas that arrive before the snapshot is read: 3 is in it, 4 is not.
        hub.dispatch(1, Ev(3))
        hub.dispatch(1, Ev(4))
        events = await take(sub, 2)
        assert [(e.sequence, e.snapshot) for e in events] == [(3, True), (4, False)]


async def test_a_gap_brings_a_fresh_snapshot() -> None:
    fake = FakeDb()
    hub = make_hub(fake)
    async with hub.subscribe(1) as sub:
        assert (await take(sub, 1))[0].sequence == 0
        fake.sequence = 2  # event 1 was lost
        hub.dispatch(1, Ev(2))
        hub.dispatch(1, Ev(3))
        events = await take(sub, 2)
        assert [(e.sequence, e.snapshot) for e in events] == [(2, True), (3, False)]


async def test_resync_sends_every_subscriber_a_snapshot() -> None:
    fake = FakeDb()
    hub = make_hub(fake)
    async with hub.subscribe(1) as a, hub.subscribe(2) as b:
        await take(a, 1)
        await take(b, 1)
        hub.resync_all()
        assert (await take(a, 1))[0].snapshot
        assert (await take(b, 1))[0].snapshot


async def test_too_slow_subscriber_is_closed_others_are_not() -> None:
    fake = FakeDb()
    hub = make_hub(fake, queue_size=4)
    async with hub.subscribe(1) as slow, hub.subscribe(1) as fast:
        await take(slow, 1)
        await take(fast, 1)
        for seq in range(1, 11):
            hub.dispatch(1, Ev(seq))
            assert (await take(fast, 1))[0].sequence == seq
        with pytest.raises(SubscriberClosed) as closed:
            await take(slow, 1)
        assert closed.value.code == "RATE_LIMITED"
        assert hub.subscriber_count(1) == 1


async def test_deleted_showtime_closes_subscribers() -> None:
    hub = make_hub(FakeDb())
    async with hub.subscribe(404) as sub:
        with pytest.raises(SubscriberClosed):
            await take(sub, 1)


async def test_notifications_are_decoded_once_and_only_when_watched() -> None:
    fake = FakeDb()
    decoded: list[dict[str, Any]] = []

    def decode(d: dict[str, Any]) -> Ev:
        decoded.append(d)
        return Ev(int(d["q"]))

    hub = make_hub(fake)
    hub._decode_delta = decode
    hub._on_notify(None, 0, "seat_changes", '{"s": 9, "q": 1, "a": 0, "c": []}')
    assert decoded == []
    async with hub.subscribe(1) as a, hub.subscribe(1) as b:
        await take(a, 1)
        await take(b, 1)
        hub._on_notify(None, 0, "seat_changes", '{"s": 1, "q": 1, "a": 0, "c": []}')
        assert len(decoded) == 1
        assert (await take(a, 1))[0].sequence == 1
        assert (await take(b, 1))[0].sequence == 1
        # A resync marker (a change too big for one NOTIFY) becomes a snapshot.
        fake.sequence = 2
        hub._on_notify(None, 0, "seat_changes", '{"s": 1, "q": 2, "a": 0, "r": 1}')
        assert (await take(a, 1))[0].snapshot
        hub._on_notify(None, 0, "seat_changes", "not json")  # logged, ignored


async def test_an_event_is_executed_once_for_all_subscribers() -> None:
    """graphql execution of a shared event happens once per operation and variables."""
    settings = Settings(env="test", jwt_secret="x")
    schema = build_schema(settings)

    class Db:
        async def scalar(self, stmt: Any) -> int:
            return 1

    async def load(showtime_id: int) -> SeatAvailabilityEvent:
        return event_from_snapshot(SeatSnapshot(showtime_id, 0, [(1, "AVAILABLE")], 1))

    hub = SeatHub(
        connect=None,  # type: ignore[arg-type]
        decode_delta=lambda d: Ev(0),  # type: ignore[arg-type,return-value]
        load_snapshot=load,
        queue_size=8,
    )
    streams = []
    for _ in range(3):
        ctx = Context(db=Db(), settings=settings, services={"seat_hub": hub})  # type: ignore[arg-type]
        stream = await schema.subscribe(
            SEAT_AVAILABILITY, context_value=ctx, variable_values={"id": "U2hvd3RpbWU6Nw"}
        )
        streams.append(stream)
    firsts = await asyncio.gather(*(s.__anext__() for s in streams))  # type: ignore[union-attr]
    assert all(f.data == firsts[0].data for f in firsts)
    event = SeatAvailabilityEvent(
        showtime_id="U2hvd3RpbWU6Nw",  # type: ignore[arg-type]
        sequence=1,
        snapshot=False,
        seats=[SeatStatusChange(seat_id="U2VhdDox", status=SeatStatus.HELD)],  # type: ignore[arg-type]
        available_seat_count=0,
    )
    hub.dispatch(7, event)
    results = await asyncio.gather(*(s.__anext__() for s in streams))  # type: ignore[union-attr]
    assert results[0].data == {
        "seatAvailability": {
            "showtimeId": "U2hvd3RpbWU6Nw",
            "sequence": 1,
            "snapshot": False,
            "availableSeatCount": 0,
            "seats": [{"seatId": "U2VhdDox", "status": "HELD"}],
        }
    }
    # One execution: every subscriber got the very same result data.
    assert all(r.data is results[0].data for r in results)
    for s in streams:
        await s.aclose()  # type: ignore[union-attr]
