"""`marquee import-tmdb`: load movies in TMDb's JSON format from files or from the TMDb API."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from db.catalog import tmdb
from db.migrate import in_transaction, run_migrations
from graph.database import database_url
from graph.progress import Progress, Stopwatch, summary
from graph.settings import get_settings


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
    """Progress on stderr (fetching, then importing); the summary on stdout, and a line on
    stderr for each movie skipped."""
    settings = get_settings()
    clock = Stopwatch()
    fetching = Progress("import-tmdb fetch")
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
                    ids,
                    base_url=settings.tmdb_base_url,
                    api_key=settings.tmdb_api_key,
                    progress=fetching,
                )
            )
        else:
            items = []
            for source in args.sources:
                items += tmdb.read_path(Path(source))
    except tmdb.TmdbError as exc:
        sys.exit(f"import-tmdb failed: {exc}")
    finally:
        fetching.close()

    url = database_url(settings)
    run_migrations(url)

    importing = Progress("import-tmdb")

    async def run(session: Any) -> tmdb.ImportReport:
        return await tmdb.import_movies(session, items, importing)

    try:
        report = asyncio.run(in_transaction(url, run))
    finally:
        importing.close()
    for line in report.skipped:
        print(f"skipped {line}", file=sys.stderr)
    counts = f"{report.created} created, {report.updated} updated, {len(report.skipped)} skipped"
    print(summary("import-tmdb", counts, clock.seconds), flush=True)
