"""The app the stopping tests serve: the real server app, plus GET /block, which blocks
the worker's event loop the way a CPU-bound handler would (the worker's threads live on)."""

from __future__ import annotations

import time
from typing import Any

from graph.app import create_server_app


def create_app() -> Any:
    inner = create_server_app()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/block":
            time.sleep(3600)  # noqa: ASYNC251  (blocking the loop is the point)
        await inner(scope, receive, send)

    return app
