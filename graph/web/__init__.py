"""The pages Marquee serves to people, from its own files: the GraphiQL playground at
/graphql (graph/web/graphiql.py) and the seat-map demo at /demo (graph/web/demo.py).
Third-party browser code is vendored under static/vendor/ (graph/web/vendor.py refreshes it
from the npm registry); no page refers to any host but its own."""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from graph.settings import Settings
from graph.web import demo
from graph.web.assets import STATIC_DIR, STATIC_PATH


def routes(settings: Settings) -> list[BaseRoute]:
    """The web routes: the static files (vendored modules and the pages' own) and the pages."""
    return [
        *demo.routes(settings),
        Mount(STATIC_PATH, app=StaticFiles(directory=STATIC_DIR), name="static"),
    ]
