"""The GraphiQL playground at GET /graphql, from Marquee's own files (docs/playground.md).

GraphiQL, its explorer plugin, React and graphql-ws are vendored under static/vendor/
(manifest.json; `make vendor`); the page's own script and styles are in static/graphiql/.
The Content-Security-Policy lets the page load and connect only to its own origin, so a
browser refuses any file or connection to another host rather than waiting for it."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from starlette.responses import HTMLResponse

from graph.web.assets import STATIC_PATH

HERE = Path(__file__).resolve().parent
WALKTHROUGH = HERE / "graphiql_walkthrough.graphql"
TEMPLATE = HERE / "graphiql.html"

# What the headers editor shows. "Bearer " with no token is anonymous: the server reads an
# empty bearer token as none (graph/auth.py bearer_token), and the page leaves it out of the
# WebSocket's connection_init, where the server would refuse it. A placeholder such as
# "Bearer <token>" would not work as-is: any non-empty token is checked, and an invalid one
# is an UNAUTHENTICATED error, not an anonymous request.
DEFAULT_HEADERS = '{\n  "Authorization": "Bearer "\n}'
DEFAULT_VARIABLES = '{\n  "showtimeId": "paste a showtime id from Showtimes",\n  "seatIds": []\n}'

# Content-Security-Policy: everything from this origin ('self' covers ws:/wss: to the same
# host in CSP level 3); fonts and a few icons are data: URLs inside graphiql.min.css.
CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

# The page's files, in load order: React before GraphiQL, GraphiQL before the plugin.
SCRIPTS = [
    f"{STATIC_PATH}/vendor/react/react.production.min.js",
    f"{STATIC_PATH}/vendor/react-dom/react-dom.production.min.js",
    f"{STATIC_PATH}/vendor/graphiql/graphiql.min.js",
    f"{STATIC_PATH}/vendor/graphiql-plugin-explorer/index.umd.js",
    f"{STATIC_PATH}/vendor/graphql-ws/graphql-ws.min.js",
    f"{STATIC_PATH}/graphiql/playground.js",
]
STYLESHEETS = [
    f"{STATIC_PATH}/vendor/graphiql/graphiql.min.css",
    f"{STATIC_PATH}/vendor/graphiql-plugin-explorer/style.css",
    f"{STATIC_PATH}/graphiql/playground.css",
]


def config(endpoint: str) -> dict[str, str]:
    """What the page's script reads: where to send operations and the first tab."""
    return {
        "endpoint": endpoint,
        "query": WALKTHROUGH.read_text(),
        "variables": DEFAULT_VARIABLES,
        "headers": DEFAULT_HEADERS,
    }


@cache
def page_html(endpoint: str = "/graphql") -> str:
    # JSON inside <script type="application/json"> is data, not code (the CSP allows no
    # inline script); "<" is escaped so no text of it can close the element.
    data = json.dumps(config(endpoint)).replace("<", "\\u003c")
    links = "\n".join(f'    <link rel="stylesheet" href="{href}">' for href in STYLESHEETS)
    scripts = "\n".join(f'    <script src="{src}"></script>' for src in SCRIPTS)
    return (
        TEMPLATE.read_text()
        .replace("{{stylesheets}}", links)
        .replace("{{scripts}}", scripts)
        .replace("{{config}}", data)
    )


def page(endpoint: str = "/graphql") -> HTMLResponse:
    """The playground page with its Content-Security-Policy."""
    return HTMLResponse(
        page_html(endpoint),
        headers={
            "Content-Security-Policy": CSP,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )
