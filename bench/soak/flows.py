"""What the soak's users do, each loop bounded in count and in time: anonymous browsers,
customers (register, sign in, refresh, hold, re-hold, release, check out with products and
promo codes, pay with every sandbox token, cancel, review), staff (create showtimes, change
stock, cancel a showtime with paid orders, check tickets in) and seat-map subscribers
(graphql-transport-ws) that resubscribe after a gap. Randomness comes from seeded
`random.Random`s, one per task, so a run can be replayed."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import websockets

from bench.soak.client import Api, Stats, payload

# --- documents ------------------------------------------------------------------------------

LOGIN = (
    "mutation($i: LoginInput!) { login(input: $i) { accessToken refreshToken errors { code } } }"
)
REGISTER = (
    "mutation($i: RegisterInput!) { register(input: $i) { accessToken refreshToken"
    " errors { code } } }"
)
REFRESH = (
    "mutation($i: RefreshTokenInput!) { refreshToken(input: $i) { accessToken refreshToken"
    " errors { code } } }"
)
MOVIES = (
    "query($after: String) { movies(first: 12, sort: POPULARITY, after: $after) {"
    " edges { node { id title posterUrl averageRating genres { name } } } } }"
)
MOVIE_PAGE = (
    "query($id: ID!) { movie(id: $id) { id title description director cast durationMinutes"
    " averageRating reviewCount genres { name } similar(first: 4) { id title }"
    " reviews(first: 5) { edges { node { id rating title body } } }"
    " showtimes(first: 10) { edges { node { id startsAt format language"
    " availableSeatCount cinema { name city } prices { seatType price { amount } } } } } } }"
)
SEAT_STATUSES = (
    "query($id: ID!) { showtime(id: $id) { id seatStatuses { statuses sequence"
    " availableSeatCount } } }"
)
SEAT_MAP = (
    "query($id: ID!) { showtime(id: $id) { id status seatMap { sequence rows { label"
    " seats { id status type } } } } }"
)
HOLD = (
    "mutation($i: HoldSeatsInput!) { holdSeats(input: $i) { hold { id expiresAt"
    " seats { id } } errors { code } } }"
)
RELEASE = "mutation($i: ReleaseHoldInput!) { releaseHold(input: $i) { errors { code } } }"
CHECKOUT = (
    "mutation($i: CheckoutInput!) { checkout(input: $i) { order { id number status"
    " total { amount } } errors { code } } }"
)
PAY = (
    "mutation($i: PayOrderInput!) { payOrder(input: $i) { order { id status"
    " tickets { bookingReference } } errors { code } } }"
)
ORDER = "query($id: ID!) { order(id: $id) { id status tickets { bookingReference } } }"
CANCEL = (
    "mutation($i: CancelOrderInput!) { cancelOrder(input: $i) { order { id status }"
    " errors { code } } }"
)
REVIEW = (
    "mutation($i: CreateReviewInput!) { createReview(input: $i) { review { id } errors { code } } }"
)
ME = "query { me { id loyaltyPoints totalSpent { amount } } }"
CREATE_SHOWTIME = (
    "mutation($i: CreateShowtimeInput!) { createShowtime(input: $i) { showtime { id }"
    " errors { code message } } }"
)
CANCEL_SHOWTIME = (
    "mutation($i: CancelShowtimeInput!) { cancelShowtime(input: $i) { showtime { id status }"
    " errors { code } } }"
)
SET_STOCK = (
    "mutation($i: SetProductStockInput!) { setProductStock(input: $i) { variant { id stock }"
    " errors { code } } }"
)
CHECK_IN = (
    "mutation($i: CheckInTicketInput!) { checkInTicket(input: $i) { ticket { status }"
    " errors { code } } }"
)
CREATE_PROMO = (
    "mutation($i: CreatePromoCodeInput!) { createPromoCode(input: $i) { promoCode { id code }"
    " errors { code message } } }"
)
CINEMAS = (
    "query { cinemas(first: 50) { edges { node { id name city timeZone"
    " halls { id name seatCount } } } } }"
)
PRODUCTS = (
    "query($c: ID) { products(first: 50, filter: {cinemaId: $c, includeInactive: false}) {"
    " edges { node { id name price { currency } variants { id name stock isActive } } } } }"
)
SUBSCRIBE = (
    "subscription($id: ID!) { seatAvailability(showtimeId: $id) { showtimeId sequence"
    " snapshot availableSeatCount seats { seatId status } } }"
)

TOKENS = [
    ("tok_visa", 50),
    ("tok_async", 20),
    ("tok_chargeDeclined", 15),
    ("tok_chargeDeclinedInsufficientFunds", 7),
    ("tok_bogus", 3),
]
SEAT_TYPES = ("STANDARD", "PREMIUM", "VIP", "ACCESSIBLE")


def iso(dt: datetime) -> str:
    return dt.isoformat()


# --- shared state -------------------------------------------------------------------------


@dataclass
class World:
    """What setup made and what the users learn during the run (for staff and the checks)."""

    stop_at: float
    staff_token: str = ""
    movies: list[str] = field(default_factory=list)
    halls: list[str] = field(default_factory=list)
    showtimes: list[str] = field(default_factory=list)  # the ones customers buy
    soon: str = ""  # starts within the check-in window
    doomed: str = ""  # cancelled by staff mid-run, after it sold
    cart_variants: list[tuple[str, str]] = field(default_factory=list)  # (product, variant)
    staff_variant: str = ""  # only staff change its stock
    promo_code: str = ""
    promo_limit: int = 0
    seat_ids: dict[str, list[str]] = field(default_factory=dict)
    paid_soon_refs: list[str] = field(default_factory=list)
    customers: list[tuple[str, str]] = field(default_factory=list)  # (username, password)
    stock_sets: list[tuple[str, int]] = field(default_factory=list)
    doomed_cancelled_at: float | None = None
    created_showtimes: int = 0
    subs_until: float = 0.0  # subscribers keep listening until then (moved by the end)

    def running(self) -> bool:
        return time.time() < self.stop_at


async def sign_in(api: Api, login: str, password: str) -> tuple[str, str]:
    body = await api.call("login", LOGIN, {"i": {"login": login, "password": password}})
    p = payload(body, "login")
    if not p.get("accessToken"):
        raise RuntimeError(f"cannot sign in as {login}: {body}")
    return str(p["accessToken"]), str(p["refreshToken"])


async def setup(api: Api, world: World, rng: random.Random, tag: str) -> None:
    """As the demo admin: soak showtimes in the US cinemas' halls, a promo code with a usage
    limit, and the products customers put in their carts."""
    world.staff_token, _ = await sign_in(api, "admin", "marquee-demo")
    tok = world.staff_token
    body = await api.call("movies", MOVIES, {"after": None})
    world.movies = [e["node"]["id"] for e in payload(body, "movies")["edges"]]
    body = await api.call("cinemas", CINEMAS, {}, tok)
    cinemas = [e["node"] for e in payload(body, "cinemas")["edges"]]
    us = [c for c in cinemas if c["timeZone"].startswith("America/")]
    cinema = us[0]
    world.halls = [h["id"] for c in us for h in c["halls"]]
    now = datetime.now(UTC).replace(second=0, microsecond=0)

    async def create(hall: str, starts: datetime, *, must: bool = True) -> str:
        variables = {
            "i": {
                "movieId": rng.choice(world.movies),
                "hallId": hall,
                "startsAt": iso(starts),
                "language": "en",
                "prices": [
                    {"seatType": t, "amount": str(8 + 2 * i), "currency": "USD"}
                    for i, t in enumerate(SEAT_TYPES)
                ],
            }
        }
        body = await api.call("create_showtime", CREATE_SHOWTIME, variables, tok)
        p = payload(body, "createShowtime")
        if not p.get("showtime"):
            if must:
                raise RuntimeError(f"createShowtime failed: {body}")
            return ""
        return str(p["showtime"]["id"])

    # Days ahead at an odd hour, so they never meet the demo's own showtimes.
    base = now + timedelta(days=20 + rng.randrange(5), hours=rng.randrange(3))
    halls = cinema["halls"]
    for i in range(4):
        world.showtimes.append(
            await create(halls[i % len(halls)]["id"], base + timedelta(hours=5 * i))
        )
    world.doomed = world.showtimes[-1]
    # Check-in opens days ahead in the soak (MARQUEE_CHECK_IN_OPENS_MINUTES, cluster.py):
    # the demo's showtimes fill the halls around now.
    world.soon = world.showtimes[0]
    world.created_showtimes = len(world.showtimes)
    for sid in world.showtimes:
        body = await api.call("seat_map", SEAT_MAP, {"id": sid})
        rows = payload(body, "showtime")["seatMap"]["rows"]
        world.seat_ids[sid] = [
            s["id"] for r in rows for s in r["seats"] if s["status"] == "AVAILABLE"
        ]

    world.promo_limit = 40
    world.promo_code = f"SOAK{tag}".upper()
    body = await api.call(
        "create_promo",
        CREATE_PROMO,
        {
            "i": {
                "code": world.promo_code,
                "percentOff": "15",
                "usageLimit": world.promo_limit,
                "perUserLimit": 2,
                "appliesTo": "ORDER",
            }
        },
        tok,
    )
    if not payload(body, "createPromoCode").get("promoCode"):
        raise RuntimeError(f"createPromoCode failed: {body}")

    body = await api.call("products", PRODUCTS, {"c": cinema["id"]}, tok)
    counted: list[tuple[str, str]] = []
    unlimited: list[tuple[str, str]] = []
    for edge in payload(body, "products")["edges"]:
        node = edge["node"]
        if node["price"]["currency"] != "USD":
            continue
        for v in node["variants"]:
            if not v["isActive"]:
                continue
            (counted if v["stock"] is not None else unlimited).append((node["id"], v["id"]))
    # One counted variant belongs to staff alone (its stock is set absolutely, which would
    # race with customers' reservations); customers buy the others.
    if counted:
        world.staff_variant = counted.pop()[1]
    world.cart_variants = counted + unlimited[:4]


# --- anonymous browsing ----------------------------------------------------------------------


async def browser(api: Api, world: World, rng: random.Random, max_ops: int) -> None:
    for _ in range(max_ops):
        if not world.running():
            return
        roll = rng.random()
        if roll < 0.25:
            await api.call("movies", MOVIES, {"after": None}, attempts=2)
        elif roll < 0.55:
            await api.call("movie_page", MOVIE_PAGE, {"id": rng.choice(world.movies)}, attempts=2)
        elif roll < 0.8:
            sid = rng.choice(world.showtimes)
            await api.call("seat_statuses", SEAT_STATUSES, {"id": sid}, attempts=2)
        else:
            await api.call("seat_map", SEAT_MAP, {"id": rng.choice(world.showtimes)}, attempts=2)
        await asyncio.sleep(rng.uniform(0.05, 0.4))


# --- customers -------------------------------------------------------------------------------


def pick_token(rng: random.Random) -> str:
    total = sum(w for _, w in TOKENS)
    roll = rng.uniform(0, total)
    for token, weight in TOKENS:
        roll -= weight
        if roll <= 0:
            return token
    return "tok_visa"


async def available_seats(api: Api, sid: str) -> list[str]:
    body = await api.call("seat_map", SEAT_MAP, {"id": sid}, attempts=3)
    show = payload(body, "showtime")
    if not show or show.get("status") != "SCHEDULED":
        return []
    return [
        s["id"] for r in show["seatMap"]["rows"] for s in r["seats"] if s["status"] == "AVAILABLE"
    ]


class Customer:
    def __init__(self, api: Api, world: World, stats: Stats, rng: random.Random, n: int) -> None:
        self.api = api
        self.world = world
        self.stats = stats
        self.rng = rng
        self.username = f"soak{n}_{rng.randrange(10**8):08d}"
        self.password = f"pw-{rng.randrange(10**12)}-soak"
        self.token = ""
        self.refresh = ""
        self.reviewed: set[str] = set()

    async def register(self) -> bool:
        variables = {
            "i": {
                "username": self.username,
                "email": f"{self.username}@soak.example.com",
                "password": self.password,
                "fullName": f"Soak {self.username}",
            }
        }
        body = await self.api.call("register", REGISTER, variables)
        p = payload(body, "register")
        if not p.get("accessToken"):
            # A retried register whose first attempt committed: sign in instead.
            try:
                self.token, self.refresh = await sign_in(self.api, self.username, self.password)
            except RuntimeError:
                return False
        else:
            self.token, self.refresh = p["accessToken"], p["refreshToken"]
        self.world.customers.append((self.username, self.password))
        return True

    async def refresh_token(self) -> None:
        body = await self.api.call("refresh", REFRESH, {"i": {"refreshToken": self.refresh}})
        p = payload(body, "refreshToken")
        if p.get("accessToken"):
            self.token, self.refresh = p["accessToken"], p["refreshToken"]
        else:  # a refresh token used by a retry already: sign in again
            with contextlib.suppress(RuntimeError):
                self.token, self.refresh = await sign_in(self.api, self.username, self.password)

    async def run(self, max_purchases: int) -> None:
        if not await self.register():
            return
        for i in range(max_purchases):
            if not self.world.running():
                return
            if i and self.rng.random() < 0.15:
                await self.refresh_token()
            if self.rng.random() < 0.1:
                with contextlib.suppress(RuntimeError):
                    self.token, self.refresh = await sign_in(self.api, self.username, self.password)
            await self.purchase()
            if self.rng.random() < 0.08:
                await self.review()
            await asyncio.sleep(self.rng.uniform(0.1, 0.8))

    async def review(self) -> None:
        movie = self.rng.choice(self.world.movies)
        if movie in self.reviewed:
            return
        self.reviewed.add(movie)
        variables = {
            "i": {
                "movieId": movie,
                "rating": self.rng.randint(1, 10),
                "body": "Seen during the soak. " * self.rng.randint(1, 4),
            }
        }
        await self.api.call("review", REVIEW, variables, self.token)

    async def purchase(self) -> None:
        rng, api, tok = self.rng, self.api, self.token
        sid = rng.choice(self.world.showtimes)
        seats = await available_seats(api, sid)
        if len(seats) < 4:
            return
        want = rng.sample(seats[: max(4, len(seats) // 3)] if rng.random() < 0.5 else seats, 2)
        body = await api.call("hold", HOLD, {"i": {"showtimeId": sid, "seatIds": want[:1]}}, tok)
        hold = payload(body, "holdSeats").get("hold")
        if not hold:
            return
        if rng.random() < 0.5:  # re-hold: a second seat beside the first
            body = await api.call("rehold", HOLD, {"i": {"showtimeId": sid, "seatIds": want}}, tok)
            hold = payload(body, "holdSeats").get("hold") or hold
        if rng.random() < 0.12:
            await api.call("release", RELEASE, {"i": {"holdId": hold["id"]}}, tok)
            self.stats.operations["released"] += 1
            return
        products = []
        if self.world.cart_variants and rng.random() < 0.5:
            for product, variant in rng.sample(
                self.world.cart_variants, min(2, len(self.world.cart_variants))
            ):
                products.append(
                    {"productId": product, "variantId": variant, "quantity": rng.randint(1, 2)}
                )
        code = None
        roll = rng.random()
        if roll < 0.3:
            code = self.world.promo_code
        elif roll < 0.35:
            code = "WELCOME10"
        checkout_input = {
            "holdId": hold["id"],
            "products": products,
            "promoCode": code,
            "idempotencyKey": str(uuid.UUID(int=rng.getrandbits(128))),
        }
        body = await api.call("checkout", CHECKOUT, {"i": checkout_input}, tok)
        order = payload(body, "checkout").get("order")
        if not order:
            codes = [e["code"] for e in payload(body, "checkout").get("errors", [])]
            if codes and codes[0].startswith("PROMO_CODE"):  # try once without the code
                checkout_input["promoCode"] = None
            if codes and codes[0] == "OUT_OF_STOCK":  # or without the products
                checkout_input["products"] = []
            if codes and (codes[0].startswith("PROMO_CODE") or codes[0] == "OUT_OF_STOCK"):
                checkout_input["idempotencyKey"] = str(uuid.UUID(int=rng.getrandbits(128)))
                body = await api.call("checkout", CHECKOUT, {"i": checkout_input}, tok)
                order = payload(body, "checkout").get("order")
            if not order:
                return
        if rng.random() < 0.05:  # walk away: the sweeper expires it
            self.stats.operations["abandoned"] += 1
            return
        if rng.random() < 0.05:
            await api.call("cancel_pending", CANCEL, {"i": {"orderId": order["id"]}}, tok)
            return
        status = await self.pay(order["id"])
        if status == "PAID":
            self.stats.operations["paid"] += 1
            if sid == self.world.soon:
                await self.remember_tickets(order["id"])
            if rng.random() < 0.12:
                key = str(uuid.UUID(int=rng.getrandbits(128)))
                body = await api.call(
                    "cancel_paid",
                    CANCEL,
                    {"i": {"orderId": order["id"], "idempotencyKey": key}},
                    tok,
                )
                if (payload(body, "cancelOrder").get("order") or {}).get("status") == "REFUNDED":
                    self.stats.operations["refunded"] += 1

    async def pay(self, order_id: str) -> str:
        """Pay until paid or out of tries: a decline is followed by another token."""
        for _ in range(3):
            token = pick_token(self.rng)
            variables = {
                "i": {
                    "orderId": order_id,
                    "paymentToken": token,
                    "idempotencyKey": str(uuid.UUID(int=self.rng.getrandbits(128))),
                }
            }
            body = await self.api.call(f"pay_{token}", PAY, variables, self.token)
            order = payload(body, "payOrder").get("order") or {}
            status = str(order.get("status", ""))
            if status == "PAID":
                return status
            if (
                token == "tok_async"
                and status == "PENDING_PAYMENT"
                and not payload(body, "payOrder").get("errors")
            ):
                return await self.await_webhook(order_id)
        return ""

    async def await_webhook(self, order_id: str) -> str:
        started = time.time()
        for _ in range(40):
            await asyncio.sleep(0.5)
            body = await self.api.call("order", ORDER, {"id": order_id}, self.token, attempts=2)
            status = (payload(body, "order") or {}).get("status")
            if status == "PAID":
                self.stats.async_seconds.append(time.time() - started)
                return "PAID"
            if status not in (None, "PENDING_PAYMENT") or not self.world.running():
                return str(status)
        return ""

    async def remember_tickets(self, order_id: str) -> None:
        body = await self.api.call("order", ORDER, {"id": order_id}, self.token, attempts=2)
        for t in (payload(body, "order") or {}).get("tickets", []):
            self.world.paid_soon_refs.append(t["bookingReference"])


# --- staff -----------------------------------------------------------------------------------


async def staff(
    api: Api, world: World, stats: Stats, rng: random.Random, cancel_after: float
) -> None:
    tok = world.staff_token
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    for i in range(400):
        if not world.running():
            return
        roll = rng.random()
        if world.doomed_cancelled_at is None and time.time() >= cancel_after:
            body = await api.call(
                "cancel_showtime", CANCEL_SHOWTIME, {"i": {"id": world.doomed}}, tok
            )
            if (payload(body, "cancelShowtime").get("showtime") or {}).get("status") == "CANCELLED":
                world.doomed_cancelled_at = time.time()
                stats.operations["showtime_cancelled"] += 1
        elif roll < 0.25:
            starts = now + timedelta(days=40 + i, hours=rng.randrange(12))
            variables = {
                "i": {
                    "movieId": rng.choice(world.movies),
                    "hallId": rng.choice(world.halls),
                    "startsAt": iso(starts),
                    "language": "en",
                    "prices": [
                        {"seatType": t, "amount": "9", "currency": "USD"} for t in SEAT_TYPES
                    ],
                }
            }
            body = await api.call("create_showtime", CREATE_SHOWTIME, variables, tok)
            if payload(body, "createShowtime").get("showtime"):
                stats.operations["showtime_created"] += 1
        elif roll < 0.5 and world.staff_variant:
            stock = rng.randint(0, 50)
            body = await api.call(
                "set_stock",
                SET_STOCK,
                {"i": {"variantId": world.staff_variant, "stock": stock}},
                tok,
            )
            if payload(body, "setProductStock").get("variant"):
                world.stock_sets.append((world.staff_variant, stock))
        elif world.paid_soon_refs:
            ref = rng.choice(world.paid_soon_refs)
            await api.call("check_in", CHECK_IN, {"i": {"bookingReference": ref}}, tok)
        await asyncio.sleep(rng.uniform(0.5, 1.5))


# --- subscribers -----------------------------------------------------------------------------


@dataclass
class Subscription:
    showtime: str
    url: str
    last: int | None = None
    events: int = 0
    gaps: int = 0
    resubscribes: int = 0
    reconnects: int = 0
    snapshots: int = 0
    # The last few things that happened to it (wall clock, what, sequence): for a failed check.
    history: deque[tuple[float, str, int | None]] = field(default_factory=lambda: deque(maxlen=16))

    def note(self, what: str, seq: int | None = None) -> None:
        self.history.append((time.time(), what, seq))


async def subscriber(sub: Subscription, world: World, stats: Stats, rng: random.Random) -> None:
    """Keeps one seat subscription until `linger_until`: reconnects after a dropped
    connection and resubscribes after a gap in `sequence` (a snapshot resets it)."""
    ws_url = sub.url.replace("http://", "ws://") + "/graphql"
    attempt = 0
    while time.time() < world.subs_until and attempt < 200:
        attempt += 1
        try:
            async with websockets.connect(
                ws_url,
                subprotocols=["graphql-transport-ws"],
                open_timeout=5,
                close_timeout=1,  # type: ignore[list-item]
            ) as ws:
                await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
                ack = json.loads(await asyncio.wait_for(ws.recv(), 5))
                if ack.get("type") != "connection_ack":
                    raise ConnectionError(str(ack))
                sub.note("connected")
                n = 0
                while time.time() < world.subs_until:
                    n += 1
                    op = f"s{n}"
                    await ws.send(
                        json.dumps(
                            {
                                "id": op,
                                "type": "subscribe",
                                "payload": {"query": SUBSCRIBE, "variables": {"id": sub.showtime}},
                            }
                        )
                    )
                    sub.note(f"subscribe {op}")
                    gap = await _follow(ws, op, sub, world)
                    if not gap:
                        break
                    sub.gaps += 1
                    sub.resubscribes += 1
                    await ws.send(json.dumps({"id": op, "type": "complete"}))
                attempt = 0
        except (OSError, websockets.WebSocketException, TimeoutError, ConnectionError) as exc:
            stats.operations["ws_reconnect"] += 1
            sub.reconnects += 1
            sub.note(f"dropped {type(exc).__name__}")
            stats.faults.append((time.time(), "ws", f"reconnect: {type(exc).__name__}"))
            await asyncio.sleep(min(5.0, 0.2 * 2 ** min(attempt, 5)) * rng.uniform(0.5, 1.0))


async def _follow(ws: Any, op: str, sub: Subscription, world: World) -> bool:
    """Reads events until `world.subs_until`; True when a gap was seen (resubscribe)."""
    while True:
        timeout = min(1.0, world.subs_until - time.time())
        if timeout <= 0:
            return False
        try:
            raw = await asyncio.wait_for(ws.recv(), timeout)
        except TimeoutError:
            continue
        msg = json.loads(raw)
        kind = msg.get("type")
        if kind == "ping":
            await ws.send(json.dumps({"type": "pong"}))
            continue
        if msg.get("id") != op:
            continue
        if kind in ("error", "complete"):
            sub.note(f"{kind} {str(msg.get('payload'))[:80]}")
            sub.last = None
            await asyncio.sleep(0.5)
            return True
        if kind != "next":
            continue
        data = (msg.get("payload") or {}).get("data") or {}
        event = data.get("seatAvailability")
        if not event:
            sub.last = None
            return True
        seq = int(event["sequence"])
        sub.events += 1
        if event["snapshot"]:
            sub.note("snapshot", seq)
            sub.snapshots += 1
            sub.last = seq
            continue
        if sub.last is not None and seq != sub.last + 1:
            if seq <= sub.last:
                continue  # a duplicate or an event older than a snapshot: nothing new
            sub.note("gap", seq)
            sub.last = None
            return True
        sub.last = seq
