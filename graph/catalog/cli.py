"""`marquee import-tmdb`: load movies in TMDb's JSON format from files or from the TMDb API."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config

from db.catalog import tmdb
from db.session import Database, create_engine
from graph.runtime import database_url
from graph.settings import get_settings

# graph/cli.py imports this module to register the command (and `python -m graph.cli` runs it
# as __main__), so this module does not import graph/cli.py: it migrates and opens its
# session itself, the same way.
ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "import-tmdb",
        help="import movies in TMDb's JSON format (files, or the TMDb API with --api)",
        description="Upsert movies by TMDb id. Without --api, each SOURCE is a JSON file or a "
        "directory of them; with --api, each SOURCE is a TMDb movie id fetched from "
        "MARQUEE_TMDB_BASE_URL with MARQUEE_TMDB_API_KEY.",
    )
    p.add_argument("sources", nargs="+", metavar="SOURCE")
    p.add_argument("--api", action="store_true", help="fetch the given TMDb ids over HTTP")
    p.set_defaults(func=cmd_import_tmdb)


def cmd_import_tmdb(args: argparse.Namespace) -> None:
    settings = get_settings()
    try:
        if args.api:
            if not settings.tmdb_api_key:
                sys.exit("import-tmdb --api needs MARQUEE_TMDB_API_KEY")
            try:
                ids = [int(s) for s in args.sources]
            except ValueError:
                sys.exit("with --api, each SOURCE is a numeric TMDb movie id")
            items: list[Any] = asyncio.run(
                tmdb.fetch_from_api(
                    ids, base_url=settings.tmdb_base_url, api_key=settings.tmdb_api_key
                )
            )
        else:
            items = []
            for source in args.sources:
                items += tmdb.read_path(Path(source))
    except tmdb.TmdbError as exc:
        sys.exit(f"import-tmdb failed: {exc}")

    url = database_url(settings)
    config = Config(str(ALEMBIC_INI))
    config.attributes["url"] = url
    command.upgrade(config, "head")
    report = asyncio.run(_import(url, items))
    print(f"imported: {report.created} created, {report.updated} updated")
    for line in report.skipped:
        print(f"skipped {line}", file=sys.stderr)


async def _import(url: str, items: list[Any]) -> tmdb.ImportReport:
    database = Database(create_engine(url, pool_size=2))
    try:
        async with database.transaction() as session:
            return await tmdb.import_movies(session, items)
    finally:
        await database.dispose()
