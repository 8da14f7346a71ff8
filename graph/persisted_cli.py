"""`marquee persisted-queries register FILE...` and `marquee persisted-queries list`: the
allow-list of documents (docs/persisted-queries.md)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from graphql import GraphQLError, OperationDefinitionNode, parse

from db.migrate import in_transaction, run_migrations
from db.persisted import actions, queries
from db.session import Database, create_engine
from graph.database import database_url
from graph.persisted import documents_of, sha256_hex


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "persisted-queries",
        help="register allow-listed GraphQL documents, or list the stored ones",
        description="Persisted queries (docs/persisted-queries.md). `register FILE...` "
        "registers the documents of .graphql files (each file as written and as printed, "
        "and each of its operations alone with its fragments) and prints their hashes; "
        "`list` prints every stored document's hash, kind and last use.",
    )
    commands = p.add_subparsers(dest="persisted_command", required=True)
    r = commands.add_parser("register", help="allow-list the documents of .graphql files")
    r.add_argument("files", nargs="+", metavar="FILE")
    r.set_defaults(func=cmd_register)
    listing = commands.add_parser("list", help="print the stored documents")
    listing.add_argument("--documents", action="store_true", help="print each document too")
    listing.set_defaults(func=cmd_list)


def _name(document: str) -> str:
    """A label for a printed line: the operation names a document holds."""
    try:
        parsed = parse(document)
    except GraphQLError:
        return "(not parseable)"
    names = [
        d.name.value if d.name else "(anonymous)"
        for d in parsed.definitions
        if isinstance(d, OperationDefinitionNode)
    ]
    return ",".join(names)


def cmd_register(args: argparse.Namespace) -> None:
    pairs: list[tuple[str, str, str]] = []  # (hash, document, where from)
    for name in args.files:
        path = Path(name)
        try:
            forms = documents_of(path.read_text(encoding="utf-8"))
        except OSError as exc:
            sys.exit(f"persisted-queries register: {name}: {exc.strerror}")
        except GraphQLError as exc:
            sys.exit(f"persisted-queries register: {name}: {exc.message}")
        pairs += [(sha256_hex(form), form, name) for form in forms]
    url = database_url()
    run_migrations(url)

    async def run(session: Any) -> int:
        return await actions.register(session, [(h, d) for h, d, _ in pairs])

    asyncio.run(in_transaction(url, run))
    for digest, document, source in pairs:
        print(f"{digest}  {source}  {_name(document)}")
    print(f"persisted-queries: {len(pairs)} documents registered")


def cmd_list(args: argparse.Namespace) -> None:
    url = database_url()
    run_migrations(url)

    async def read() -> Any:
        database = Database(create_engine(url, pool_size=2))
        try:
            return await queries.list_documents(database)
        finally:
            await database.dispose()

    for row in asyncio.run(read()):
        kind = "registered" if row.registered else "learned"
        used = row.last_used_at.isoformat(timespec="seconds")
        print(f"{row.sha256}  {kind:<10}  last used {used}  {_name(row.document)}")
        if args.documents:
            print(row.document.rstrip() + "\n")
