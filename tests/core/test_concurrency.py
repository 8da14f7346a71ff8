"""Sibling fields resolve concurrently (GraphQL runs them at the same moment): each loader batch
gets its own pooled connection (`Database`), or waits its turn on the test connection
(`SharedConnectionDatabase`). Both must give correct results, never 'another operation is in
progress'."""

from __future__ import annotations

import asyncio
from typing import Any

from db.session import Database, SharedConnectionDatabase
from graph.relay import to_global_id
from tests.conftest import GraphQLClient
from tests.factories import create_user

SIBLINGS = """
query ($a: ID!, $b: ID!, $c: ID!) {
  a: node(id: $a) { id ... on User { username } }
  me { username email }
  b: node(id: $b) { id ... on User { username role } }
  many: nodes(ids: [$c, $a, $b]) { ... on User { username } }
  c: node(id: $c) { ... on User { username } }
  again: me { id }
}
"""


async def _check(gql: GraphQLClient, database: Database) -> None:
    users = [
        await create_user(database, username=f"sibling{n}", role=role)
        for n, role in enumerate(("CUSTOMER", "MANAGER", "ADMIN"))
    ]
    ids = [to_global_id("User", u.id) for u in users]
    variables = {"a": ids[0], "b": ids[1], "c": ids[2]}
    token = gql.token_for(users[2])  # staff see every user's username and role

    async def one() -> dict[str, Any]:
        return await gql.execute(SIBLINGS, variables, token=token)

    # several requests at once, each with six sibling fields that read at the same moment
    for data in await asyncio.gather(*(one() for _ in range(8))):
        assert data == {
            "a": {"id": ids[0], "username": "sibling0"},
            "me": {"username": "sibling2", "email": users[2].email},
            "b": {"id": ids[1], "username": "sibling1", "role": "MANAGER"},
            "many": [{"username": "sibling2"}, {"username": "sibling0"}, {"username": "sibling1"}],
            "c": {"username": "sibling2"},
            "again": {"id": ids[2]},
        }


async def test_sibling_fields_on_the_pooled_database(
    committed_gql: GraphQLClient, committed_db: Database
) -> None:
    await _check(committed_gql, committed_db)


async def test_sibling_fields_on_the_shared_test_connection(
    gql: GraphQLClient, db: SharedConnectionDatabase
) -> None:
    await _check(gql, db)
