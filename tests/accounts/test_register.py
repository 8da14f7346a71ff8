"""register through the real ASGI app: success, each bad input and its code."""

from __future__ import annotations

import pytest

from tests.conftest import GraphQLClient

REGISTER = """
mutation ($input: RegisterInput!) {
  register(input: $input) {
    accessToken refreshToken user { id username email fullName role isActive }
    errors { code field message }
  }
}
"""
ME = "{ me { username role } }"


def _input(**overrides: str) -> dict[str, dict[str, str]]:
    data = {"username": "neo", "email": "neo@example.com", "password": "follow-the-rabbit"}
    data.update(overrides)
    return {"input": data}


async def test_register_then_me(gql: GraphQLClient) -> None:
    data = await gql.execute(REGISTER, _input(username="Neo", fullName="Thomas Anderson"))
    payload = data["register"]
    assert payload["errors"] == []
    assert payload["user"]["username"] == "Neo"
    assert payload["user"]["fullName"] == "Thomas Anderson"
    assert payload["user"]["role"] == "CUSTOMER"
    assert payload["user"]["isActive"] is True
    assert payload["refreshToken"]
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
    assert payload["accessToken"] is None
    assert payload["refreshToken"] is None


async def test_register_duplicate_email_case_insensitive(gql: GraphQLClient) -> None:
    await gql.execute(REGISTER, _input())
    payload = (await gql.execute(REGISTER, _input(username="neo2", email="NEO@Example.com")))[
        "register"
    ]
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("ALREADY_EXISTS", "email")]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"username": "ab"}, "username"),
        ({"username": "a" * 33}, "username"),
        ({"username": "has space"}, "username"),
        ({"username": "dash-name"}, "username"),
        ({"username": "ünïcode"}, "username"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@b"}, "email"),
        ({"password": "short"}, "password"),
        ({"password": "p" * 129}, "password"),
        ({"fullName": "n" * 201}, "fullName"),
    ],
)
async def test_register_rejects_bad_input(
    gql: GraphQLClient, overrides: dict[str, str], field: str
) -> None:
    payload = (await gql.execute(REGISTER, _input(**overrides)))["register"]
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("VALIDATION_ERROR", field)]
    assert payload["user"] is None


async def test_register_reports_every_bad_field_at_once(gql: GraphQLClient) -> None:
    payload = (await gql.execute(REGISTER, _input(username="x", email="nope", password="1")))[
        "register"
    ]
    assert {e["field"] for e in payload["errors"]} == {"username", "email", "password"}


async def test_register_accepts_the_boundaries(gql: GraphQLClient) -> None:
    payload = (await gql.execute(REGISTER, _input(username="a.b_" + "c" * 28, password="p" * 128)))[
        "register"
    ]
    assert payload["errors"] == []
    payload = (
        await gql.execute(REGISTER, _input(username="a_1", email="x@example.org", password="p" * 8))
    )["register"]
    assert payload["errors"] == []
