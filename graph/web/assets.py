"""Where the web pages' files live and the URL they are served under."""

from __future__ import annotations

import re
from pathlib import Path

from starlette.requests import Request

STATIC_DIR = Path(__file__).resolve().parent / "static"
# Served by Marquee itself: every page refers to these paths, never to another host.
STATIC_PATH = "/static"

# A Host header is the client's to write: only a plain host[:port] goes into the policy.
_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")


def content_security_policy(host: str | None) -> str:
    """Only this server: scripts, styles and connections ('self', and the WebSocket of the
    same host spelled out for browsers whose 'self' does not cover ws:); QR codes are
    data: images made of the server's SVG."""
    sockets = f" ws://{host} wss://{host}" if host and _HOST.match(host) else ""
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self'{sockets}; form-action 'self'; base-uri 'none'; "
        "frame-ancestors 'none'"
    )


def page_headers(request: Request) -> dict[str, str]:
    """The headers of every page Marquee serves: its CSP, no sniffing, no Referer (a page
    may carry a token in its fragment), and no stale copies."""
    return {
        "Content-Security-Policy": content_security_policy(request.headers.get("host")),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
    }
