"""register through the real schema."""

from __future__ import annotations

from tests.conftest import GraphQLClient

REGISTER = """
mutation ($input: RegisterInput!) {
  register(input: $input) { accessToken user { id username email } errors { code field message } }
}
"""
ME = "{ me { username role } }"


async def test_register_then_me(gql: GraphQLClient) -> None:
    data = await gql.execute(
        REGISTER,
        {"input": {"username": "Neo", "email": "neo@example.com", "password": "follow-the-rabbit"}},
    )
    payload = data["register"]
    assert payload["errors"] == []
    assert payload["user"]["username"] == "Neo"
    me = await gql.execute(ME, token=payload["accessToken"])
    assert me["me"] == {"username": "Neo", "role": "CUSTOMER"}


async def test_register_duplicate_username_case_insensitive(gql: GraphQLClient) -> None:
    variables = {"input": {"username": "trinity", "email": "t@example.com", "password": "x" * 8}}
    await gql.execute(REGISTER, variables)
    variables["input"].update(username="TRINITY", email="t2@example.com")
    payload = (await gql.execute(REGISTER, variables))["register"]
    assert payload["errors"] == [
        {"code": "ALREADY_EXISTS", "field": "username", "message": "This username is taken."}
    ]
