"""The pages Marquee serves to people, from its own files: the GraphiQL playground at
/graphql (graph/web/graphiql.py), the seat-map demo at /demo (graph/web/demo.py), and the
password page at /account/password (graph/web/account.py). Third-party browser code is
vendored under static/vendor/ (graph/web/vendor.py refreshes it from the npm registry); no
page refers to any host but its own."""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from graph.settings import Settings
from graph.web import account, demo
from graph.web.assets import STATIC_DIR, STATIC_PATH


def routes(settings: Settings) -> list[BaseRoute]:
    """The web routes: the static files (vendored modules and the pages' own) and the pages."""
    return [
        *demo.routes(settings),
        *account.routes(),
        Mount(STATIC_PATH, app=StaticFiles(directory=STATIC_DIR), name="static"),
    ]
