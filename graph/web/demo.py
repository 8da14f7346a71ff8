"""The seat-map demo page at /demo (docs/demo.md): one HTML shell; the page itself is
static/demo/demo.js, which talks GraphQL to /graphql over HTTP and WebSocket."""

from __future__ import annotations

from html import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from db.demo.accounts import DEMO_PASSWORD, DEMO_USERS
from graph.settings import Settings
from graph.web.assets import STATIC_PATH, page_headers

PATH = "/demo"

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Marquee: seat map demo</title>
<link rel="stylesheet" href="{static}/demo/demo.css">
<script src="{static}/vendor/graphql-ws/graphql-ws.min.js"></script>
<script type="module" src="{static}/demo/demo.js"></script>
</head>
<body data-demo-users="{users}" data-demo-password="{password}">
<header class="top">
  <h1>Marquee <span>seat map</span></h1>
  <p id="live" class="live" data-state="connecting">Connecting…</p>
</header>
<main class="layout">
  <section class="panel" aria-label="Choose and book">
    <form id="pick" class="box">
      <h2>Showtime</h2>
      <label>Cinema <select id="cinema" name="cinema"></select></label>
      <label>Showtime <select id="showtime" name="showtime"></select></label>
    </form>
    <form id="login" class="box">
      <h2>Sign in</h2>
      <label>Username <input id="username" name="username" autocomplete="username" required>
      </label>
      <label>Password <input id="password" name="password" type="password"
        autocomplete="current-password" required></label>
      <p id="hint" class="hint" hidden></p>
      <button type="submit">Sign in</button>
    </form>
    <div id="account" class="box" hidden>
      <h2>Signed in</h2>
      <p>As <strong id="who"></strong> <button type="button" id="logout" class="link">
        Sign out</button></p>
    </div>
    <div id="hold" class="box" hidden>
      <h2>Your seats</h2>
      <ul id="held"></ul>
      <p class="total">Total <strong id="total"></strong></p>
      <p id="countdown" class="countdown"></p>
      <button type="button" id="pay">Pay with sandbox card (tok_visa)</button>
      <button type="button" id="release" class="link">Release seats</button>
    </div>
    <section id="tickets" class="box" hidden aria-labelledby="tickets-title">
      <h2 id="tickets-title">Your tickets</h2>
      <ul id="ticket-list" class="tickets"></ul>
    </section>
  </section>
  <section class="stage" aria-labelledby="hall-title">
    <h2 id="hall-title">Choose a showtime</h2>
    <p id="message" class="message" role="alert"></p>
    <p id="status" class="visually-hidden" role="status" aria-live="polite"></p>
    <div class="screen" aria-hidden="true">Screen</div>
    <div id="seats" class="seats" role="grid" aria-labelledby="hall-title"></div>
    <ul class="legend" aria-label="Legend">
      <li><span class="seat-key" data-status="AVAILABLE"></span> Available (outlined)</li>
      <li><span class="seat-key" data-status="MINE">✓</span> Held by you (filled, tick)</li>
      <li><span class="seat-key" data-status="HELD">•</span>
        Held by someone else (striped, dot)</li>
      <li><span class="seat-key" data-status="SOLD">✕</span> Sold (grey, cross)</li>
      <li><span class="seat-key" data-status="BLOCKED">&ndash;</span> Not for sale (dark, dash)</li>
      <li><span class="seat-key" data-type="PREMIUM"></span> Premium,
        <span class="seat-key" data-type="VIP"></span> VIP,
        <span class="seat-key" data-type="ACCESSIBLE">♿</span> Accessible:
        border colour and label</li>
    </ul>
    <p class="keys">Keyboard: Tab to the seats, arrow keys move between seats, Home/End go to
      the ends of a row, Enter or Space holds or releases a seat.</p>
  </section>
</main>
</body>
</html>
"""


def routes(settings: Settings) -> list[BaseRoute]:
    users = " ".join(name for name, _, _, role in DEMO_USERS if role == "CUSTOMER")
    html = _PAGE.format(
        static=STATIC_PATH,
        users=escape(users) if settings.demo_hints else "",
        password=escape(DEMO_PASSWORD) if settings.demo_hints else "",
    )

    async def page(request: Request) -> Response:
        return HTMLResponse(html, headers=page_headers(request))

    return [Route(PATH, page, methods=["GET"])]
