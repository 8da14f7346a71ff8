"""Presale waves (docs/shop.md, "Presale waves"): who may hold seats before general sale,
what a viewer is told about their sales opening, and how staff set waves up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select, update

from db import demo
from db.accounts.models import User
from db.cinemas.models import Seat
from db.session import Database, capture_statements
from db.shop.models import PromoCode
from db.showtimes.models import PresaleWave, Showtime
from graph.relay import to_global_id
from tests.conftest import GraphQLClient
from tests.factories import (
    create_bookable_showtime,
    create_cinema,
    create_hall,
    create_movie,
    create_showtime,
    create_user,
)

HOLD = """
mutation ($input: HoldSeatsInput!) {
  holdSeats(input: $input) {
    hold { id seats { id } }
    errors { code message field opensAt }
  }
}
"""
OPENING = """
query ($id: ID!, $code: String) {
  showtime(id: $id) {
    salesOpenAt
    salesOpenForViewer(promoCode: $code)
    nextSalesOpening(promoCode: $code)
    presaleWaves { name opensAt audience minLoyaltyPoints promoCode }
  }
}
"""
CREATE = """
mutation ($input: CreateShowtimeInput!) {
  createShowtime(input: $input) {
    showtime {
      id salesOpenAt
      presaleWaves { name opensAt audience minLoyaltyPoints promoCode }
    }
    errors { code message field }
  }
}
"""
UPDATE = """
mutation ($input: UpdateShowtimeInput!) {
  updateShowtime(input: $input) {
    showtime {
      salesOpenAt
      presaleWaves { name opensAt audience minLoyaltyPoints promoCode }
    }
    errors { code message field }
  }
}
"""
SHOWTIMES = """
query ($first: Int, $code: String) {
  showtimes(first: $first) {
    edges { node {
      salesOpenAt
      salesOpenForViewer(promoCode: $code)
      nextSalesOpening(promoCode: $code)
      presaleWaves { name opensAt audience minLoyaltyPoints promoCode }
    } }
  }
}
"""


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def gid(kind: str, pk: int) -> str:
    return to_global_id(kind, pk)


def when(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


async def set_points(db: Database, user: Any, points: int) -> None:
    async with db.transaction() as session:
        await session.execute(update(User).where(User.id == user.id).values(loyalty_points=points))


async def set_sales_open(db: Database, showtime: int, at: datetime | None) -> None:
    async with db.transaction() as session:
        await session.execute(
            update(Showtime).where(Showtime.id == showtime).values(sales_open_at=at)
        )


async def add_wave(db: Database, showtime: int, name: str, opens_at: datetime, **rule: Any) -> None:
    audience = "PROMO_CODE" if "promo_code_id" in rule else "LOYALTY_MEMBERS"
    async with db.transaction() as session:
        await session.execute(
            insert(PresaleWave).values(
                showtime_id=showtime, name=name, opens_at=opens_at, audience=audience, **rule
            )
        )


async def add_code(db: Database, code: str, **fields: Any) -> int:
    async with db.transaction() as session:
        pk = await session.scalar(
            insert(PromoCode)
            .values(code=code, percent_off=Decimal(10), currency="EUR", **fields)
            .returning(PromoCode.id)
        )
    assert pk is not None
    return int(pk)


async def hold(
    gql: GraphQLClient, token: str, show: Any, seat: int, promo_code: str | None = None
) -> dict[str, Any]:
    data = await gql.execute(
        HOLD,
        {
            "input": {
                "showtimeId": gid("Showtime", show.id),
                "seatIds": [gid("Seat", seat)],
                "promoCode": promo_code,
            }
        },
        token=token,
    )
    payload: dict[str, Any] = data["holdSeats"]
    return payload


def refusal(payload: dict[str, Any], opens_at: datetime) -> None:
    """A SHOWTIME_NOT_BOOKABLE refusal naming `opens_at` (in the message and in opensAt)."""
    assert payload["hold"] is None
    [error] = payload["errors"]
    assert (error["code"], error["field"]) == ("SHOWTIME_NOT_BOOKABLE", "showtimeId")
    assert when(error["opensAt"]) == opens_at
    assert opens_at.astimezone(UTC).isoformat() in error["message"], error["message"]


async def premiere(db: Database) -> tuple[Any, datetime]:
    """A showtime in 5 days whose general sale opens in 3 days."""
    show = await create_bookable_showtime(db, starts_in=timedelta(days=5))
    general = now() + timedelta(days=3)
    await set_sales_open(db, show.id, general)
    return show, general


# --- holds -----------------------------------------------------------------------------------


async def test_loyalty_members_hold_before_general_sale(gql: GraphQLClient, db: Database) -> None:
    show, general = await premiere(db)
    await add_wave(db, show.id, "Members", now() - timedelta(hours=1), min_loyalty_points=100)
    member, almost, newcomer = [await create_user(db) for _ in range(3)]
    await set_points(db, member, 100)
    await set_points(db, almost, 99)
    ok = await hold(gql, gql.token_for(member), show, show.seat_ids[0])
    assert ok["errors"] == []
    assert ok["hold"]["seats"] == [{"id": gid("Seat", show.seat_ids[0])}]
    refusal(await hold(gql, gql.token_for(almost), show, show.seat_ids[1]), general)
    refusal(await hold(gql, gql.token_for(newcomer), show, show.seat_ids[1]), general)


async def test_the_refusal_names_the_customers_own_opening(
    gql: GraphQLClient, db: Database
) -> None:
    show, general = await premiere(db)
    gold = now() + timedelta(hours=2)
    silver = now() + timedelta(days=1)
    await add_wave(db, show.id, "Gold", gold, min_loyalty_points=500)
    await add_wave(db, show.id, "Silver", silver, min_loyalty_points=50)
    rich, middling, poor = [await create_user(db) for _ in range(3)]
    await set_points(db, rich, 800)
    await set_points(db, middling, 60)
    refusal(await hold(gql, gql.token_for(rich), show, show.seat_ids[0]), gold)
    refusal(await hold(gql, gql.token_for(middling), show, show.seat_ids[0]), silver)
    refusal(await hold(gql, gql.token_for(poor), show, show.seat_ids[0]), general)


async def test_promo_code_holders_pass_their_code(gql: GraphQLClient, db: Database) -> None:
    show, general = await premiere(db)
    # Validity dates do not matter for presale access, only whether the code is active.
    code = await add_code(db, "EarlyBird", valid_until=now() - timedelta(days=1))
    await add_code(db, "SLEEPY", is_active=False)
    sleepy = await add_code(db, "SLEEPY2", is_active=False)
    await add_wave(db, show.id, "Campaign", now() - timedelta(minutes=5), promo_code_id=code)
    later = now() + timedelta(hours=6)
    await add_wave(db, show.id, "Dormant", later, promo_code_id=sleepy)
    fan = gql.token_for(await create_user(db))
    ok = await hold(gql, fan, show, show.seat_ids[0], promo_code="  earlybird ")
    assert ok["errors"] == []
    other = gql.token_for(await create_user(db))
    refusal(await hold(gql, other, show, show.seat_ids[1]), general)
    refusal(await hold(gql, other, show, show.seat_ids[1], promo_code="NOPE"), general)
    # An existing but inactive code: no access (not even to its own later wave).
    refusal(await hold(gql, other, show, show.seat_ids[1], promo_code="sleepy"), general)
    refusal(await hold(gql, other, show, show.seat_ids[1], promo_code="SLEEPY2"), general)
    async with db.transaction() as session:
        await session.execute(update(PromoCode).where(PromoCode.id == code).values(is_active=False))
    refusal(await hold(gql, other, show, show.seat_ids[1], promo_code="EARLYBIRD"), general)


PREVIEW = """
query ($input: CheckoutInput!) { previewCheckout(input: $input) { errors { code field } } }
"""
CHECKOUT = """
mutation ($input: CheckoutInput!) {
  checkout(input: $input) { order { id status } errors { code field message } }
}
"""
PAY = """
mutation ($input: PayOrderInput!) {
  payOrder(input: $input) { order { id status payments { status } } errors { code field } }
}
"""


async def _checkout(gql: GraphQLClient, token: str, hold_id: str) -> dict[str, Any]:
    data = await gql.execute(CHECKOUT, {"input": {"holdId": hold_id}}, token=token)
    out: dict[str, Any] = data["checkout"]
    return out


async def _pay(gql: GraphQLClient, token: str, order_id: str) -> dict[str, Any]:
    data = await gql.execute(
        PAY, {"input": {"orderId": order_id, "paymentToken": "tok_visa"}}, token=token
    )
    out: dict[str, Any] = data["payOrder"]
    return out


def _not_yet(payload: dict[str, Any], field: str) -> None:
    [error] = payload["errors"]
    assert (error["code"], error["field"]) == ("SHOWTIME_NOT_BOOKABLE", field), error


async def test_the_opening_is_judged_again_at_checkout_and_payment(
    gql: GraphQLClient, db: Database
) -> None:
    """Points read at the hold alone let anyone in: buy something (points), hold seats in
    the members' presale, have the first order refunded (points taken back), then check out
    and pay. Checkout (and its preview) and payment judge the customer's opening again,
    with their points then; nothing is charged when payment refuses."""
    show, _ = await premiere(db)
    await add_wave(db, show.id, "Members", now() - timedelta(hours=1), min_loyalty_points=50)
    member = await create_user(db)
    token = gql.token_for(member)
    await set_points(db, member, 76)
    held = await hold(gql, token, show, show.seat_ids[0])
    hold_id = held["hold"]["id"]
    await set_points(db, member, 0)  # what a refund of the order that gave them does
    preview = await gql.execute(PREVIEW, {"input": {"holdId": hold_id}}, token=token)
    _not_yet(preview["previewCheckout"], "holdId")
    _not_yet(await _checkout(gql, token, hold_id), "holdId")
    # Points back: checkout goes through; taken back again before paying: refused.
    await set_points(db, member, 76)
    order = (await _checkout(gql, token, hold_id))["order"]
    assert order["status"] == "PENDING_PAYMENT"
    await set_points(db, member, 10)
    paid = await _pay(gql, token, order["id"])
    _not_yet(paid, "orderId")
    assert paid["order"]["status"] == "PENDING_PAYMENT"
    assert paid["order"]["payments"] == []  # nothing charged
    # Once general sale has opened, the order is anyone's to pay.
    await set_sales_open(db, show.id, now() - timedelta(minutes=1))
    paid = await _pay(gql, token, order["id"])
    assert paid["errors"] == []
    assert paid["order"]["status"] == "PAID"


async def test_a_presale_code_is_judged_again_at_payment(gql: GraphQLClient, db: Database) -> None:
    """A hold admitted by a code keeps it: checkout and payment go through with it, and
    not once staff have switched the code off."""
    show, _ = await premiere(db)
    code = await add_code(db, "FANCLUB")
    await add_wave(db, show.id, "Fans", now() - timedelta(minutes=5), promo_code_id=code)
    fan = gql.token_for(await create_user(db))
    held = await hold(gql, fan, show, show.seat_ids[0], promo_code="fanclub")
    order = (await _checkout(gql, fan, held["hold"]["id"]))["order"]
    assert order["status"] == "PENDING_PAYMENT"
    async with db.transaction() as session:
        await session.execute(update(PromoCode).where(PromoCode.id == code).values(is_active=False))
    _not_yet(await _pay(gql, fan, order["id"]), "orderId")
    async with db.transaction() as session:
        await session.execute(update(PromoCode).where(PromoCode.id == code).values(is_active=True))
    paid = await _pay(gql, fan, order["id"])
    assert paid["errors"] == []
    assert paid["order"]["status"] == "PAID"


async def test_general_sale_opens_for_everyone(gql: GraphQLClient, db: Database) -> None:
    show, general = await premiere(db)
    await add_wave(db, show.id, "Members", now() - timedelta(hours=1), min_loyalty_points=100)
    anyone = gql.token_for(await create_user(db))
    refusal(await hold(gql, anyone, show, show.seat_ids[0]), general)
    await set_sales_open(db, show.id, now() - timedelta(seconds=1))
    assert (await hold(gql, anyone, show, show.seat_ids[0]))["errors"] == []


async def test_other_refusals_come_first(gql: GraphQLClient, db: Database) -> None:
    """A cancelled or too distant showtime says so, whatever its sales opening."""
    anyone = gql.token_for(await create_user(db))
    far = await create_bookable_showtime(db, starts_in=timedelta(days=45))
    await set_sales_open(db, far.id, now() + timedelta(days=20))
    payload = await hold(gql, anyone, far, far.seat_ids[0])
    assert [(e["code"], e["opensAt"]) for e in payload["errors"]] == [
        ("SHOWTIME_NOT_BOOKABLE", None)
    ]
    assert "30 days" in payload["errors"][0]["message"]
    cancelled = await create_bookable_showtime(db, status="CANCELLED")
    await set_sales_open(db, cancelled.id, now() + timedelta(hours=3))
    payload = await hold(gql, anyone, cancelled, cancelled.seat_ids[0])
    assert payload["errors"][0]["message"] == "This showtime is cancelled."


async def test_hold_path_unchanged_without_sales_open_at(gql: GraphQLClient, db: Database) -> None:
    """A showtime on sale at once: the viewer's row, the one hold statement and the seats of
    the payload, as before; the presale rules never enter (a wave left behind without
    salesOpenAt changes nothing)."""
    show = await create_bookable_showtime(db)
    await add_wave(db, show.id, "Orphan", now() + timedelta(days=1), min_loyalty_points=10**6)
    token = gql.token_for(await create_user(db))
    with capture_statements() as log:
        payload = await hold(gql, token, show, show.seat_ids[0])
    assert payload["errors"] == []
    assert len(log) == 3, "\n\n".join(log)
    assert "marquee_hold_seats" in log[1]


# --- what a viewer is told -------------------------------------------------------------------


async def opening(
    gql: GraphQLClient, show: Any, token: str | None = None, code: str | None = None
) -> dict[str, Any]:
    data = await gql.execute(OPENING, {"id": gid("Showtime", show.id), "code": code}, token=token)
    result: dict[str, Any] = data["showtime"]
    return result


async def test_sales_opening_per_viewer(gql: GraphQLClient, db: Database) -> None:
    show, general = await premiere(db)
    members_at = now() - timedelta(hours=1)
    campaign_at = now() + timedelta(hours=4)
    code = await add_code(db, "PREMIERE")
    await add_wave(db, show.id, "Members", members_at, min_loyalty_points=100)
    await add_wave(db, show.id, "Campaign", campaign_at, promo_code_id=code)
    member, outsider = await create_user(db), await create_user(db)
    await set_points(db, member, 250)
    m, o = gql.token_for(member), gql.token_for(outsider)

    anonymous = await opening(gql, show)
    assert when(anonymous["salesOpenAt"]) == general
    assert anonymous["salesOpenForViewer"] is False
    assert when(anonymous["nextSalesOpening"]) == general
    # Customers see the waves, never the code.
    assert anonymous["presaleWaves"] == [
        {
            "name": "Members",
            "opensAt": members_at.isoformat(),
            "audience": "LOYALTY_MEMBERS",
            "minLoyaltyPoints": 100,
            "promoCode": None,
        },
        {
            "name": "Campaign",
            "opensAt": campaign_at.isoformat(),
            "audience": "PROMO_CODE",
            "minLoyaltyPoints": None,
            "promoCode": None,
        },
    ]
    # Anonymous viewers qualify for general sale only, code or not.
    assert when((await opening(gql, show, code="PREMIERE"))["nextSalesOpening"]) == general

    mine = await opening(gql, show, m)
    assert (mine["salesOpenForViewer"], mine["nextSalesOpening"]) == (True, None)
    assert [w["promoCode"] for w in mine["presaleWaves"]] == [None, None]

    theirs = await opening(gql, show, o)
    assert theirs["salesOpenForViewer"] is False
    assert when(theirs["nextSalesOpening"]) == general
    with_code = await opening(gql, show, o, code="premiere")
    assert with_code["salesOpenForViewer"] is False
    assert when(with_code["nextSalesOpening"]) == campaign_at
    assert when((await opening(gql, show, o, code="WRONG"))["nextSalesOpening"]) == general

    staff = gql.token_for(await create_user(db, role="MANAGER"))
    assert [w["promoCode"] for w in (await opening(gql, show, staff))["presaleWaves"]] == [
        None,
        "PREMIERE",
    ]

    await set_sales_open(db, show.id, now() - timedelta(minutes=1))
    for token in (None, o):
        opened = await opening(gql, show, token)
        assert (opened["salesOpenForViewer"], opened["nextSalesOpening"]) == (True, None)


async def test_sales_window_is_part_of_the_opening(gql: GraphQLClient, db: Database) -> None:
    plain = await create_bookable_showtime(db)
    data = await opening(gql, plain)
    assert data == {
        "salesOpenAt": None,
        "salesOpenForViewer": True,
        "nextSalesOpening": None,
        "presaleWaves": [],
    }
    far = await create_bookable_showtime(db, starts_in=timedelta(days=40))
    data = await opening(gql, far)
    assert data["salesOpenForViewer"] is False
    opens = when(data["nextSalesOpening"])
    assert opens is not None
    assert timedelta(days=9, hours=23) < opens - now() < timedelta(days=10, minutes=1)


# --- staff -----------------------------------------------------------------------------------

PRICES = [{"seatType": "STANDARD", "amount": "9.50", "currency": "EUR"}]


async def staff_setup(db: Database) -> dict[str, Any]:
    cinema = await create_cinema(db)
    hall = await create_hall(db, cinema, rows=(("A", 4, "STANDARD"),))
    movie = await create_movie(db, duration_minutes=120)
    return {
        "movieId": gid("Movie", movie),
        "hallId": gid("Hall", hall),
        "startsAt": (now() + timedelta(days=10)).isoformat(),
        "language": "en",
        "prices": PRICES,
    }


async def test_staff_create_and_update_waves(gql: GraphQLClient, db: Database) -> None:
    staff = gql.token_for(await create_user(db, role="ADMIN"))
    base = await staff_setup(db)
    await add_code(db, "FANCLUB")
    general = now() + timedelta(days=4)
    members = now() + timedelta(days=1)
    fans = now() + timedelta(days=2)
    data = await gql.execute(
        CREATE,
        {
            "input": {
                **base,
                "salesOpenAt": general.isoformat(),
                "presaleWaves": [
                    {
                        "name": " Fan club ",
                        "opensAt": fans.isoformat(),
                        "audience": "PROMO_CODE",
                        "promoCode": "fanclub",
                    },
                    {
                        "name": "Members",
                        "opensAt": members.isoformat(),
                        "audience": "LOYALTY_MEMBERS",
                        "minLoyaltyPoints": 0,
                    },
                ],
            }
        },
        token=staff,
    )
    payload = data["createShowtime"]
    assert payload["errors"] == []
    show = payload["showtime"]
    assert when(show["salesOpenAt"]) == general
    assert [(w["name"], when(w["opensAt"]), w["promoCode"]) for w in show["presaleWaves"]] == [
        ("Members", members, None),
        ("Fan club", fans, "FANCLUB"),
    ]

    async def change(**input: Any) -> dict[str, Any]:
        data = await gql.execute(UPDATE, {"input": {"id": show["id"], **input}}, token=staff)
        result: dict[str, Any] = data["updateShowtime"]
        return result

    # Omitted: unchanged. A list replaces the waves.
    kept = await change(language="fr")
    assert [w["name"] for w in kept["showtime"]["presaleWaves"]] == ["Members", "Fan club"]
    early = now() + timedelta(hours=1)
    replaced = await change(
        presaleWaves=[
            {
                "name": "Early",
                "opensAt": early.isoformat(),
                "audience": "LOYALTY_MEMBERS",
                "minLoyaltyPoints": 300,
            }
        ]
    )
    assert replaced["errors"] == []
    assert replaced["showtime"]["presaleWaves"] == [
        {
            "name": "Early",
            "opensAt": early.isoformat(),
            "audience": "LOYALTY_MEMBERS",
            "minLoyaltyPoints": 300,
            "promoCode": None,
        }
    ]
    # Moving general sale before an existing wave is refused; with the waves gone, fine.
    too_early = await change(salesOpenAt=early.isoformat())
    assert [(e["code"], e["field"]) for e in too_early["errors"]] == [
        ("VALIDATION_ERROR", "presaleWaves[0].opensAt")
    ]
    no_sale = await change(salesOpenAt=None)
    assert [(e["code"], e["field"]) for e in no_sale["errors"]] == [
        ("VALIDATION_ERROR", "presaleWaves")
    ]
    cleared = await change(salesOpenAt=None, presaleWaves=[])
    assert cleared["errors"] == []
    assert cleared["showtime"] == {"salesOpenAt": None, "presaleWaves": []}


async def test_staff_validation_errors(gql: GraphQLClient, db: Database) -> None:
    staff = gql.token_for(await create_user(db, role="MANAGER"))
    base = await staff_setup(db)
    starts = datetime.fromisoformat(base["startsAt"])
    general = now() + timedelta(days=3)

    def wave(**fields: Any) -> dict[str, Any]:
        return {
            "name": "W",
            "opensAt": (now() + timedelta(days=1)).isoformat(),
            "audience": "LOYALTY_MEMBERS",
            "minLoyaltyPoints": 10,
            **fields,
        }

    cases: list[tuple[dict[str, Any], list[tuple[str, str]]]] = [
        ({"salesOpenAt": starts.isoformat()}, [("VALIDATION_ERROR", "salesOpenAt")]),
        ({"presaleWaves": [wave()]}, [("VALIDATION_ERROR", "presaleWaves")]),
        (
            {
                "salesOpenAt": general.isoformat(),
                "presaleWaves": [wave(opensAt=general.isoformat())],
            },
            [("VALIDATION_ERROR", "presaleWaves[0].opensAt")],
        ),
        (
            {"salesOpenAt": general.isoformat(), "presaleWaves": [wave(minLoyaltyPoints=None)]},
            [("VALIDATION_ERROR", "presaleWaves[0].minLoyaltyPoints")],
        ),
        (
            {"salesOpenAt": general.isoformat(), "presaleWaves": [wave(minLoyaltyPoints=-1)]},
            [("VALIDATION_ERROR", "presaleWaves[0].minLoyaltyPoints")],
        ),
        (
            {"salesOpenAt": general.isoformat(), "presaleWaves": [wave(promoCode="X")]},
            [("VALIDATION_ERROR", "presaleWaves[0].promoCode")],
        ),
        (
            {
                "salesOpenAt": general.isoformat(),
                "presaleWaves": [wave(audience="PROMO_CODE", minLoyaltyPoints=None)],
            },
            [("VALIDATION_ERROR", "presaleWaves[0].promoCode")],
        ),
        (
            {
                "salesOpenAt": general.isoformat(),
                "presaleWaves": [wave(audience="PROMO_CODE", promoCode="GHOST")],
            },
            [
                ("PROMO_CODE_INVALID", "presaleWaves[0].promoCode"),
                ("VALIDATION_ERROR", "presaleWaves[0].minLoyaltyPoints"),
            ],
        ),
        (
            {
                "salesOpenAt": general.isoformat(),
                "presaleWaves": [
                    wave(),
                    wave(name=" ", audience="PROMO_CODE", minLoyaltyPoints=None, promoCode="GHOST"),
                ],
            },
            [
                ("VALIDATION_ERROR", "presaleWaves[1].name"),
                ("PROMO_CODE_INVALID", "presaleWaves[1].promoCode"),
            ],
        ),
        (
            {"salesOpenAt": general.isoformat(), "presaleWaves": [wave()] * 11},
            [("VALIDATION_ERROR", "presaleWaves")],
        ),
    ]
    for change, expected in cases:
        data = await gql.execute(CREATE, {"input": {**base, **change}}, token=staff)
        payload = data["createShowtime"]
        assert payload["showtime"] is None, change
        assert [(e["code"], e["field"]) for e in payload["errors"]] == expected, change
    customer = gql.token_for(await create_user(db))
    body = await gql.raw(
        CREATE, {"input": {**base, "salesOpenAt": general.isoformat()}}, token=customer
    )
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


# --- no N+1 ----------------------------------------------------------------------------------


async def test_presale_fields_statement_count_is_flat(gql: GraphQLClient, db: Database) -> None:
    movie = await create_movie(db, duration_minutes=90)
    cinema = await create_cinema(db)
    hall = await create_hall(db, cinema)
    code = await add_code(db, "LISTCODE")
    start = now().replace(minute=0, second=0) + timedelta(days=1)
    for i in range(50):
        pk = await create_showtime(
            db, movie_id=movie, hall_id=hall, starts_at=start + timedelta(hours=2 * i)
        )
        if i % 2 == 0:
            await set_sales_open(db, pk, start - timedelta(hours=2))
            await add_wave(db, pk, "Members", now(), min_loyalty_points=10)
            await add_wave(db, pk, "Code", now(), promo_code_id=code)
    member = await create_user(db)
    await set_points(db, member, 5)
    token = gql.token_for(member)

    async def count(first: int) -> tuple[int, list[str]]:
        with capture_statements() as log:
            data = await gql.execute(SHOWTIMES, {"first": first, "code": "listcode"}, token=token)
        edges = data["showtimes"]["edges"]
        assert len(edges) == first
        assert all(e["node"]["salesOpenForViewer"] for e in edges)
        return len(log), list(log)

    small, _ = await count(5)
    large, log = await count(50)
    assert small == large, "\n\n".join(log)
    # viewer, count, page, waves, promo code
    assert large <= 5, "\n\n".join(log)


# --- demo data -------------------------------------------------------------------------------


async def test_demo_premiere(gql: GraphQLClient, db: Database) -> None:
    async with db.transaction() as session:
        lines = await demo.seed(session)
    [premiere_row] = await db.fetch(
        select(Showtime.id, Showtime.hall_id, Showtime.sales_open_at).where(
            Showtime.sales_open_at.is_not(None)
        )
    )
    assert premiere_row.sales_open_at > now() + timedelta(days=2)
    seats = [
        r.id
        for r in await db.fetch(
            select(Seat.id)
            .where(Seat.hall_id == premiere_row.hall_id, ~Seat.is_blocked)
            .order_by(Seat.id)
        )
    ]
    customers = await db.fetch(
        select(User.id, User.role, User.loyalty_points)
        .where(User.role == "CUSTOMER")
        .order_by(User.loyalty_points.desc(), User.id)
    )
    member = customers[0]
    outsider = await create_user(db)
    assert any(line.startswith("demo presale: premiere of ") for line in lines)

    show = type("Show", (), {"id": premiere_row.id})
    mine = await opening(gql, show, gql.token_for(member))
    assert (mine["salesOpenForViewer"], mine["nextSalesOpening"]) == (True, None)
    [wave] = mine["presaleWaves"]
    assert wave["audience"] == "LOYALTY_MEMBERS"
    assert 10 <= wave["minLoyaltyPoints"] <= min(50, member.loyalty_points)
    assert when(wave["opensAt"]) <= now()
    assert (await hold(gql, gql.token_for(member), show, seats[0]))["errors"] == []
    refusal(await hold(gql, gql.token_for(outsider), show, seats[1]), premiere_row.sales_open_at)
