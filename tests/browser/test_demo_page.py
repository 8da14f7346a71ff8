"""The seat-map demo page (/demo) in headless Chromium against a live in-process server:
two customers at once, live updates, the taken message, payment and tickets, the keyboard,
accessible names, and resynchronisation after a missed event or a dropped WebSocket."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from db.session import Database
from graph.app import create_app
from graph.auth import create_access_token
from graph.relay import parse_global_id, to_global_id
from graph.settings import Settings
from tests import factories
from tests.browser.conftest import OfflineContext
from tests.realtime.conftest import hold_over_http
from tests.realtime.harness import serve_in_process

PASSWORD = "demo-page-password"
LAYOUT = (
    ("A", 8, "STANDARD"),
    ("B", 8, "STANDARD"),
    ("C", 8, "PREMIUM"),
    ("D", 6, "VIP"),
)
PRICES = {"STANDARD": "12.50", "PREMIUM": "15.00", "VIP": "22.00", "ACCESSIBLE": "12.50"}

Opener = Callable[[], Awaitable[OfflineContext]]


@dataclass
class Stage:
    url: str
    settings: Settings
    showtime_id: int
    seat_ids: dict[str, int]  # "C3" -> seat id
    users: dict[str, Any]


@pytest.fixture
async def stage(committed_db: Database, settings: Settings) -> AsyncIterator[Stage]:
    cinema = await factories.create_cinema(committed_db, name="Le Grand Rex")
    hall = await factories.create_hall(committed_db, cinema, rows=LAYOUT, name="Salle 1")
    movie = await factories.create_movie(committed_db, title="The Projectionist")
    showtime = await factories.create_showtime(
        committed_db, movie_id=movie, hall_id=hall, prices=PRICES
    )
    users = {
        name: await factories.create_user(committed_db, username=name, password=PASSWORD)
        for name in ("alice", "bob", "carol")
    }
    live_settings = settings.model_copy(update={"sweeper_interval_seconds": 0.5})
    app = create_app(live_settings, database=committed_db)
    async with serve_in_process(app) as url:
        await app.state.marquee.services["seat_hub"].connected.wait()
        async with httpx.AsyncClient(base_url=url) as http:
            body = (
                await http.post(
                    "/graphql",
                    json={
                        "query": "query ($id: ID!) { hall(id: $id) { layout { rows { label "
                        "seats { id number } } } } }",
                        "variables": {"id": _gid("Hall", hall)},
                    },
                )
            ).json()
        seat_ids = {
            f"{row['label']}{seat['number']}": _pk(seat["id"])
            for row in body["data"]["hall"]["layout"]["rows"]
            for seat in row["seats"]
        }
        yield Stage(url, live_settings, showtime, seat_ids, users)


def _gid(kind: str, pk: int) -> str:
    return to_global_id(kind, pk)


def _pk(gid: str) -> int:
    return parse_global_id(gid)[1]


def seat(page: Any, name: str) -> Any:
    return page.locator(f'button.seat[data-seat="{name}"]')


async def open_demo(opener: Opener, stage: Stage, user: str | None) -> tuple[OfflineContext, Any]:
    context = await opener()
    page = await context.new_page()
    await page.goto(f"{stage.url}/demo")
    await seat(page, "A1").wait_for()
    await page.locator('#live[data-state="live"]').wait_for()
    await page.locator("#seats[data-snapshots='1']").wait_for()
    if user:
        await page.fill("#username", user)
        await page.fill("#password", PASSWORD)
        await page.click("#login button[type=submit]")
        await page.locator("#account").wait_for(state="visible")
    return context, page


async def status_of(page: Any, name: str) -> str:
    value: str = await seat(page, name).get_attribute("data-status")
    return value


async def wait_status(page: Any, name: str, status: str, within_ms: float = 5000) -> None:
    await page.wait_for_function(
        "([name, status]) => document.querySelector(`button.seat[data-seat='${name}']`)"
        "?.dataset.status === status",
        arg=[name, status],
        timeout=within_ms,
    )


def clean(context: OfflineContext) -> None:
    assert context.foreign == []
    assert context.errors == []


async def test_two_customers_hold_see_taken_pay_and_get_tickets(
    stage: Stage, offline_context: Opener, screenshots: Path
) -> None:
    a_ctx, a = await open_demo(offline_context, stage, "alice")
    b_ctx, b = await open_demo(offline_context, stage, "bob")

    # The hall is drawn from the layout, with types and prices in each seat's name.
    assert await a.locator("button.seat").count() == sum(n for _, n, _ in LAYOUT)
    assert await seat(a, "C3").get_attribute("aria-label") == (
        "Row C, seat 3, Premium, €15.00, available"
    )
    assert await seat(a, "C3").get_attribute("data-type") == "PREMIUM"

    # A holds two seats, one click each: the hold is replaced with the whole set.
    await seat(a, "C3").click()
    await a.locator('button.seat[data-seat="C3"][aria-pressed="true"]').wait_for()
    await seat(a, "C4").click()
    await a.locator('button.seat[data-seat="C4"][aria-pressed="true"]').wait_for()
    held_at = time.monotonic()
    # B sees both taken within a second, without reloading.
    await wait_status(b, "C3", "HELD", within_ms=1000)
    await wait_status(b, "C4", "HELD", within_ms=1000)
    assert time.monotonic() - held_at < 1.0
    assert (await seat(b, "C4").get_attribute("aria-label")).endswith(
        "taken (held by someone else)"
    )
    assert await seat(b, "C4").inner_text() == "•"  # not colour alone
    assert await a.locator("#held li").all_inner_texts() == [
        "C3 · Premium · €15.00",
        "C4 · Premium · €15.00",
    ]
    assert await a.locator("#total").inner_text() == "€30.00"
    countdown = await a.locator("#countdown").inner_text()
    assert countdown.startswith(("Held for 9:", "Held for 10:")), countdown

    # B's click on a taken seat says so, and holds nothing.
    await seat(b, "C3").click()
    await b.locator("#message", has_text="Seat C3 was just taken by someone else.").wait_for()
    assert await b.locator("#hold").is_hidden()

    # B holds a free seat meanwhile: A sees it taken live too.
    await seat(b, "B5").click()
    await b.locator('button.seat[data-seat="B5"][aria-pressed="true"]').wait_for()
    await wait_status(a, "B5", "HELD")
    await a.screenshot(path=screenshots / "demo-a-holding.png", full_page=True)
    await b.screenshot(path=screenshots / "demo-b-taken.png", full_page=True)
    # docs/screenshots/demo.png (the README's) is a copy of demo-a-holding.png from a run.

    # A pays with the sandbox card: tickets with QR codes; B sees the seats sold.
    await a.click("#pay")
    await a.locator("#ticket-list li").nth(1).wait_for()
    tickets = await a.locator("#ticket-list li").all_inner_texts()
    assert [t.split(" · ")[0] for t in tickets] == ["Row C, seat 3", "Row C, seat 4"]
    qr = a.locator("#ticket-list img")
    assert await qr.count() == 2
    for i in range(2):
        src = await qr.nth(i).get_attribute("src")
        assert src.startswith("data:image/svg+xml")
        assert "svg" in src
        assert await qr.nth(i).evaluate("img => img.complete && img.naturalWidth > 0")
        assert (await qr.nth(i).get_attribute("alt")).startswith("QR code of ticket ")
    await wait_status(b, "C3", "SOLD")
    await wait_status(b, "C4", "SOLD")
    assert await seat(b, "C3").inner_text() == "✕"
    assert await status_of(a, "C3") == "SOLD"
    assert await a.locator("#hold").is_hidden()

    await seat(b, "C4").click()
    await b.locator("#message", has_text="Seat C4 is already sold.").wait_for()

    await a.screenshot(path=screenshots / "demo-a-tickets.png", full_page=True)
    await b.screenshot(path=screenshots / "demo-b-sold.png", full_page=True)
    clean(a_ctx)
    clean(b_ctx)


async def test_taken_between_draw_and_click_shows_the_servers_refusal(
    stage: Stage, offline_context: Opener
) -> None:
    ctx, page = await open_demo(offline_context, stage, "alice")
    # The hold is queued behind a slow GraphQL request of the page, so the seat is still
    # drawn free when the page asks for it and the server answers SEAT_UNAVAILABLE.
    release = asyncio.Event()

    async def slow(route: Any) -> None:
        if "holdSeats" in (route.request.post_data or ""):
            await release.wait()
        await route.continue_()

    await page.route("**/graphql", slow)
    await seat(page, "A2").click()
    token = _token(stage, "carol")
    await hold_over_http(stage.url, token, stage.showtime_id, [stage.seat_ids["A2"]])
    release.set()
    await page.locator("#message", has_text="Seat A2 was just taken by someone else.").wait_for()
    assert await status_of(page, "A2") == "HELD"
    assert await seat(page, "A2").get_attribute("aria-pressed") == "false"
    clean(ctx)


def _token(stage: Stage, user: str) -> str:
    u = stage.users[user]
    return create_access_token(u.id, u.role, stage.settings)


async def test_keyboard_moves_over_the_grid_and_enter_holds(
    stage: Stage, offline_context: Opener
) -> None:
    ctx, page = await open_demo(offline_context, stage, "alice")
    buttons = page.locator("button.seat")
    # One seat in the tab order (roving tabindex): Tab from the last control reaches it.
    assert await page.locator('button.seat[tabindex="0"]').count() == 1
    await page.locator('button.seat[tabindex="0"]').focus()

    async def focused() -> str:
        name: str = await page.evaluate("document.activeElement.getAttribute('aria-label')")
        return name

    assert (await focused()).startswith("Row A, seat 1, Standard, €12.50")
    await page.keyboard.press("ArrowRight")
    await page.keyboard.press("ArrowRight")
    assert (await focused()).startswith("Row A, seat 3,")
    await page.keyboard.press("ArrowDown")
    await page.keyboard.press("ArrowDown")
    assert (await focused()).startswith("Row C, seat 3, Premium, €15.00")
    await page.keyboard.press("ArrowDown")  # row D has 6 seats: the nearest one
    assert (await focused()).startswith("Row D, seat 3, VIP, €22.00")
    await page.keyboard.press("End")
    assert (await focused()).startswith("Row D, seat 6,")
    await page.keyboard.press("ArrowRight")  # the end of the row: stays
    assert (await focused()).startswith("Row D, seat 6,")
    await page.keyboard.press("Home")
    await page.keyboard.press("ArrowUp")
    assert (await focused()).startswith("Row C, seat 1,")
    assert await page.locator('button.seat[tabindex="0"]').count() == 1
    assert await page.locator('button.seat[tabindex="0"]').get_attribute("data-seat") == "C1"

    await page.keyboard.press("Enter")
    await page.locator('button.seat[data-seat="C1"][aria-pressed="true"]').wait_for()
    assert await focused() == "Row C, seat 1, Premium, €15.00, held by you"
    await page.keyboard.press("ArrowRight")
    await page.keyboard.press(" ")
    await page.locator('button.seat[data-seat="C2"][aria-pressed="true"]').wait_for()
    await page.locator("#status", has_text="2 seat(s) held").wait_for()
    await page.keyboard.press(" ")  # Space again releases C2 (the hold keeps C1)
    await page.locator('button.seat[data-seat="C2"][aria-pressed="false"]').wait_for()
    assert await status_of(page, "C2") == "AVAILABLE"
    assert await status_of(page, "C1") == "MINE"

    # Every seat is a button with a name a screen reader reads; the legend names symbols.
    names = await buttons.evaluate_all("bs => bs.map(b => b.getAttribute('aria-label'))")
    assert len(names) == 30
    assert all(n.startswith("Row ") and ", seat " in n and "€" in n for n in names)
    role_button = page.get_by_role("button", name="Row B, seat 4, Standard, €12.50, available")
    assert await role_button.count() == 1
    assert await page.get_by_role("grid").count() == 1
    assert await page.get_by_role("row").count() == len(LAYOUT)
    legend = await page.locator(".legend").inner_text()
    assert "striped, dot" in legend
    assert "cross" in legend
    clean(ctx)


async def test_resubscribes_after_a_missed_event_and_after_a_dropped_connection(
    stage: Stage, offline_context: Opener
) -> None:
    """The page's WebSocket passes through Playwright: first it loses one event (a gap in
    `sequence`), then it is closed by the 'server' side; each time the page must come back
    with a fresh snapshot that shows what it missed."""
    ctx = await offline_context()
    page = await ctx.new_page()
    sockets: list[Any] = []
    drop_next = asyncio.Event()
    dropped = asyncio.Event()

    def route_socket(ws: Any) -> None:
        server = ws.connect_to_server()
        sockets.append(ws)

        def from_server(message: str | bytes) -> None:
            if drop_next.is_set() and '"next"' in str(message):
                drop_next.clear()  # this event never reaches the page
                dropped.set()
                return
            ws.send(message)

        server.on_message(from_server)

    await page.route_web_socket("**/graphql", route_socket)
    await page.goto(f"{stage.url}/demo")
    await page.locator("#seats[data-snapshots='1']").wait_for()
    token = _token(stage, "carol")
    ids = stage.seat_ids

    # A lost event: the next one shows a gap, the page subscribes again.
    drop_next.set()
    await hold_over_http(stage.url, token, stage.showtime_id, [ids["A1"]])
    await asyncio.wait_for(dropped.wait(), 10)
    assert await status_of(page, "A1") == "AVAILABLE"  # missed
    await hold_over_http(stage.url, token, stage.showtime_id, [ids["A1"], ids["A2"]])
    await page.locator("#seats[data-snapshots='2']").wait_for()
    assert await status_of(page, "A1") == "HELD"
    assert await status_of(page, "A2") == "HELD"
    await page.locator("#status", has_text="seat map was refreshed").wait_for()

    # A dropped connection: a change while it is down shows after the reconnection.
    await sockets[-1].close(code=1012, reason="service restart")
    await hold_over_http(stage.url, token, stage.showtime_id, [ids["A1"], ids["A2"], ids["B7"]])
    await page.locator("#seats[data-snapshots='3']").wait_for(timeout=10_000)
    await wait_status(page, "B7", "HELD")
    assert len(sockets) == 2
    await page.locator('#live[data-state="live"]').wait_for()
    assert ctx.foreign == []
    assert ctx.errors == []


async def test_page_headers_and_demo_hints(
    stage: Stage, committed_db: Database, settings: Settings
) -> None:
    async with httpx.AsyncClient(base_url=stage.url) as http:
        response = await http.get("/demo")
        assert response.status_code == 200
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy
        assert "connect-src 'self' ws://127.0.0.1:" in policy
        assert "default-src 'none'" in policy
        assert 'data-demo-users=""' in response.text  # no demo data: no hints
        for path in ("/static/demo/demo.js", "/static/demo/demo.css"):
            assert (await http.get(path)).status_code == 200

    hinted = create_app(settings.model_copy(update={"demo_hints": True}), database=committed_db)
    transport = httpx.ASGITransport(app=hinted)
    async with httpx.AsyncClient(transport=transport, base_url="http://demo.test") as http:
        text = (await http.get("/demo")).text
    assert 'data-demo-users="alice bob chloe dmitri"' in text
    assert 'data-demo-password="marquee-demo"' in text
