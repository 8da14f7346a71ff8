"""The seat-map demo page at /demo (docs/web.md)."""

from __future__ import annotations

from starlette.routing import BaseRoute

from graph.settings import Settings


def routes(settings: Settings) -> list[BaseRoute]:
    return []
