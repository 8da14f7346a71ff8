"""Public user views: anyone sees a user's display name and avatar; username, role and the
other private fields only the user themself and staff (an anonymous caller must not be able
to list accounts and staff roles through `nodes`)."""

from __future__ import annotations

from db.session import SharedConnectionDatabase
from graph.relay import to_global_id
from tests.conftest import GraphQLClient
from tests.factories import create_user

NODES = """
query ($ids: [ID!]!) {
  nodes(ids: $ids) {
    ... on User { id displayName fullName avatarUrl username role bio createdAt }
  }
}
"""
ME = "{ me { username role displayName createdAt email } }"
PROFILE = """
mutation { updateProfile(input: {fullName: "Ada Lovelace", bio: "Films.",
  avatarUrl: "https://img.example.com/ada.png"}) { errors { code } } }
"""


async def test_anonymous_callers_see_only_the_public_profile(
    gql: GraphQLClient, db: SharedConnectionDatabase
) -> None:
    ada = await create_user(db, username="ada")
    admin = await create_user(db, username="boss", role="ADMIN")
    await gql.execute(PROFILE, token=gql.token_for(ada))
    ids = [to_global_id("User", ada.id), to_global_id("User", admin.id)]
    nodes = (await gql.execute(NODES, {"ids": ids}))["nodes"]
    assert nodes == [
        {
            "id": ids[0],
            "displayName": "Ada Lovelace",
            "fullName": "Ada Lovelace",
            "avatarUrl": "https://img.example.com/ada.png",
            "username": None,
            "role": None,
            "bio": None,
            "createdAt": None,
        },
        {
            "id": ids[1],
            "displayName": "Marquee member",
            "fullName": None,
            "avatarUrl": None,
            "username": None,
            "role": None,
            "bio": None,
            "createdAt": None,
        },
    ]


async def test_private_fields_for_the_user_themself_and_for_staff(
    gql: GraphQLClient, db: SharedConnectionDatabase
) -> None:
    ada = await create_user(db, username="ada")
    bob = await create_user(db, username="bob")
    manager = await create_user(db, username="mgr", role="MANAGER")
    await gql.execute(PROFILE, token=gql.token_for(ada))
    ids = [to_global_id("User", ada.id), to_global_id("User", manager.id)]

    as_ada = (await gql.execute(NODES, {"ids": ids}, token=gql.token_for(ada)))["nodes"]
    assert (as_ada[0]["username"], as_ada[0]["role"], as_ada[0]["bio"]) == (
        "ada",
        "CUSTOMER",
        "Films.",
    )
    assert as_ada[0]["createdAt"] is not None
    assert (as_ada[1]["username"], as_ada[1]["role"]) == (None, None)  # not hers

    as_bob = (await gql.execute(NODES, {"ids": ids}, token=gql.token_for(bob)))["nodes"]
    assert [(n["username"], n["role"]) for n in as_bob] == [(None, None), (None, None)]

    as_staff = (await gql.execute(NODES, {"ids": ids}, token=gql.token_for(manager)))["nodes"]
    assert [(n["username"], n["role"]) for n in as_staff] == [
        ("ada", "CUSTOMER"),
        ("mgr", "MANAGER"),
    ]

    me = (await gql.execute(ME, token=gql.token_for(ada)))["me"]
    assert me["username"] == "ada"
    assert me["role"] == "CUSTOMER"
    assert me["displayName"] == "Ada Lovelace"
    assert me["email"] == ada.email
