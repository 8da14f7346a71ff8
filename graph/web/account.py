"""The password page at /account/password (docs/accounts.md, "Password links"): where the
links of createUser and requestPasswordReset lead. The token travels in the URL's fragment,
which browsers never send to a server, so it stays out of access logs and Referer headers;
the page (static/account/password.js) reads it, removes it from the address bar, and calls
resetPassword. Without a token it offers requestPasswordReset."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from graph.web.assets import STATIC_PATH, page_headers

PATH = "/account/password"

_PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Marquee: your password</title>
<link rel="stylesheet" href="{STATIC_PATH}/account/account.css">
<script type="module" src="{STATIC_PATH}/account/password.js"></script>
</head>
<body>
<main class="card">
  <h1>Marquee</h1>
  <form id="choose" hidden>
    <h2>Choose your password</h2>
    <label>New password <input id="new-password" name="new-password" type="password"
      autocomplete="new-password" minlength="8" maxlength="128" required></label>
    <label>Repeat it <input id="repeat-password" name="repeat-password" type="password"
      autocomplete="new-password" minlength="8" maxlength="128" required></label>
    <button type="submit">Set password</button>
  </form>
  <form id="request" hidden>
    <h2>Forgot your password?</h2>
    <p>We e-mail a link to choose a new one to the address of your account.</p>
    <label>Username, e-mail or phone <input id="login" name="login" autocomplete="username"
      required></label>
    <button type="submit">Send me a link</button>
  </form>
  <p id="message" class="message" role="status" aria-live="polite"></p>
</main>
</body>
</html>
"""


def routes() -> list[BaseRoute]:
    async def page(request: Request) -> Response:
        return HTMLResponse(_PAGE, headers=page_headers(request))

    return [Route(PATH, page, methods=["GET"])]
