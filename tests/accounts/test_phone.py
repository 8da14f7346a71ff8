"""Phone numbers on accounts: validated and stored as E.164, unique when set (also when two
registrations race), private like the username, and usable as a sign-in login with the
same errors, backoff and rate limits as a username."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from db.accounts import actions
from db.demo import accounts as accounts_demo
from db.demo.accounts import DEMO_PHONES
from db.errors import DomainError
from db.session import Database, SharedConnectionDatabase
from graph.app import create_app
from graph.relay import to_global_id
from graph.settings import Settings
from tests.conftest import GraphQLClient
from tests.factories import create_user

PASSWORD = "correct-horse-battery"
REGISTER = """
mutation ($input: RegisterInput!) {
  register(input: $input) { user { phone } errors { code field message } }
}
"""
UPDATE = """
mutation ($phone: String) {
  updateProfile(input: {phone: $phone}) { user { phone } errors { code field message } }
}
"""
LOGIN = """
mutation ($login: String!, $password: String!) {
  login(input: {login: $login, password: $password}) {
    accessToken user { username phone } errors { code message }
  }
}
"""
NODE = """
query ($id: ID!) { node(id: $id) { ... on User { username phone } } }
"""


def _register(phone: str | None, username: str = "neo", email: str | None = None) -> Any:
    data: dict[str, Any] = {
        "username": username,
        "email": email or f"{username}@example.com",
        "password": PASSWORD,
    }
    if phone is not None:
        data["phone"] = phone
    return {"input": data}


@asynccontextmanager
async def _client(
    db: Database, settings: Settings, ip: str = "10.9.0.1"
) -> AsyncIterator[GraphQLClient]:
    app = create_app(settings, database=db)
    transport = httpx.ASGITransport(app=app, client=(ip, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield GraphQLClient(http, settings)


# --- register and updateProfile -----------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("+33 6 12 34 56 78", "+33612345678"),
        ("(201) 555-0123", "+12015550123"),  # national, read in the default region (US)
        ("201.555.0123", "+12015550123"),
        ("011 46 70 123 45 67", "+46701234567"),  # the US international prefix
        ("", None),
    ],
)
async def test_register_stores_e164(gql: GraphQLClient, written: str, stored: str | None) -> None:
    payload = (await gql.execute(REGISTER, _register(written)))["register"]
    assert payload["errors"] == []
    assert payload["user"]["phone"] == stored


@pytest.mark.parametrize("bad", ["12", "+33 6 12", "not a number", "+999 123 456 789", "1" * 41])
async def test_an_invalid_phone_is_a_validation_error(gql: GraphQLClient, bad: str) -> None:
    payload = (await gql.execute(REGISTER, _register(bad, username="x")))["register"]
    # reported together with the other failures of the input
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("VALIDATION_ERROR", "username"),
        ("VALIDATION_ERROR", "phone"),
    ]
    assert "country code" in payload["errors"][1]["message"]


async def test_a_phone_belongs_to_one_account(gql: GraphQLClient) -> None:
    first = await gql.execute(REGISTER, _register("+33 6 12 34 56 78", username="one"))
    assert first["register"]["errors"] == []
    again = (await gql.execute(REGISTER, _register("+33612345678", username="two")))["register"]
    assert again["errors"] == [
        {
            "code": "ALREADY_EXISTS",
            "field": "phone",
            "message": "This phone number is already registered.",
        }
    ]
    assert again["user"] is None


async def test_update_profile_sets_changes_and_clears_the_phone(
    db: SharedConnectionDatabase, settings: Settings
) -> None:
    unlimited = settings.model_copy(update={"register_rate_per_minute": 0})
    async with _client(db, unlimited) as gql:
        await _profile_changes(gql, db)


async def _profile_changes(gql: GraphQLClient, db: SharedConnectionDatabase) -> None:
    await create_user(db, username="holder", phone="+12025550143")
    token = gql.token_for(await create_user(db, username="myself"))

    async def update(phone: str | None) -> dict[str, Any]:
        result: dict[str, Any] = (await gql.execute(UPDATE, {"phone": phone}, token=token))[
            "updateProfile"
        ]
        return result

    assert (await update("+33 6 12 34 56 78"))["user"] == {"phone": "+33612345678"}
    # the same number again (another format) is no conflict with oneself
    assert (await update("+33 (0)6 12-34-56-78"))["errors"] == []
    taken = await update("(202) 555-0143")
    assert [(e["code"], e["field"]) for e in taken["errors"]] == [("ALREADY_EXISTS", "phone")]
    bad = await update("555")
    assert [(e["code"], e["field"]) for e in bad["errors"]] == [("VALIDATION_ERROR", "phone")]
    me = await gql.execute("{ me { phone } }", token=token)
    assert me["me"]["phone"] == "+33612345678"  # failed updates changed nothing
    assert (await update(""))["user"] == {"phone": None}
    assert (await update("+46 70 123 45 67"))["user"] == {"phone": "+46701234567"}
    assert (await update(None))["user"] == {"phone": None}
    # a cleared number is free again for anyone
    other = gql.token_for(await create_user(db, username="next"))
    freed = await gql.execute(UPDATE, {"phone": "+46701234567"}, token=other)
    assert freed["updateProfile"] == {"user": {"phone": "+46701234567"}, "errors": []}


async def test_changing_the_phone_is_rate_limited_like_registration(
    db: SharedConnectionDatabase, settings: Settings
) -> None:
    # "already registered" makes it an enumeration oracle, like a changed e-mail
    limits = settings.model_copy(update={"register_rate_per_minute": 2})
    user = await create_user(db, username="prober")
    async with _client(db, limits) as gql:
        token = gql.token_for(user)
        for phone in ("+12025550143", "+12025550144"):
            assert not _limited(await gql.raw(UPDATE, {"phone": phone}, token=token))
        assert _limited(await gql.raw(UPDATE, {"phone": "+12025550145"}, token=token))
        # other profile fields are not limited
        body = await gql.raw(
            'mutation { updateProfile(input: {bio: "hi"}) { errors { code } } }', token=token
        )
        assert body["data"]["updateProfile"]["errors"] == []


async def test_the_phone_is_private_like_the_username(
    gql: GraphQLClient, db: SharedConnectionDatabase
) -> None:
    owner = await create_user(db, username="owner", phone="+33612345678")
    other = await create_user(db, username="other")
    manager = await create_user(db, username="mgr", role="MANAGER")
    variables = {"id": to_global_id("User", owner.id)}
    assert (await gql.execute(NODE, variables))["node"] == {"username": None, "phone": None}
    seen = await gql.execute(NODE, variables, token=gql.token_for(other))
    assert seen["node"] == {"username": None, "phone": None}
    for viewer in (owner, manager):
        seen = await gql.execute(NODE, variables, token=gql.token_for(viewer))
        assert seen["node"] == {"username": "owner", "phone": "+33612345678"}


# --- sign-in with a phone number ------------------------------------------------------------


async def test_login_with_the_phone_in_any_format(
    gql: GraphQLClient, db: SharedConnectionDatabase
) -> None:
    await create_user(db, username="caller", phone="+12015550123")
    for login in ("+12015550123", "(201) 555-0123", " 201 555 0123 ", "+1 201.555.0123"):
        payload = (await gql.execute(LOGIN, {"login": login, "password": PASSWORD}))["login"]
        assert payload["errors"] == [], login
        assert payload["user"] == {"username": "caller", "phone": "+12015550123"}
        assert payload["accessToken"]


async def test_a_phone_login_fails_like_a_wrong_username(
    gql: GraphQLClient, db: SharedConnectionDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    await create_user(db, username="caller", phone="+12015550123")
    checks: list[str] = []
    real_verify = actions.verify_password

    def counting_verify(password: str, hashed: str) -> tuple[bool, str | None]:
        checks.append(password)
        return real_verify(password, hashed)

    monkeypatch.setattr(actions, "verify_password", counting_verify)
    answers = []
    for login, password in [
        ("(201) 555-0123", "wrong-password"),  # the phone's account, wrong password
        ("(201) 555-0124", PASSWORD),  # a valid number nobody has
        ("nobody-at-all", PASSWORD),  # an unknown username
    ]:
        answers.append((await gql.execute(LOGIN, {"login": login, "password": password}))["login"])
    expected = {
        "accessToken": None,
        "user": None,
        "errors": [
            {"code": "INVALID_CREDENTIALS", "message": "The login or the password is wrong."}
        ],
    }
    assert answers == [expected] * 3
    assert len(checks) == 3  # one password hash check each (a dummy hash when unknown)


async def test_a_username_of_digits_wins_over_a_phone(
    gql: GraphQLClient, db: SharedConnectionDatabase
) -> None:
    await create_user(db, username="2015550123", password="digits-password")
    await create_user(db, username="caller", phone="+12015550123")
    digits = (await gql.execute(LOGIN, {"login": "2015550123", "password": "digits-password"}))[
        "login"
    ]
    assert digits["user"]["username"] == "2015550123"
    phone = (await gql.execute(LOGIN, {"login": "+12015550123", "password": PASSWORD}))["login"]
    assert phone["user"]["username"] == "caller"


async def test_national_numbers_follow_the_default_region(
    db: SharedConnectionDatabase, settings: Settings
) -> None:
    french = settings.model_copy(update={"default_phone_region": "FR"})
    async with _client(db, french) as gql:
        registered = await gql.execute(REGISTER, _register("06 12 34 56 78", username="remy"))
        assert registered["register"]["user"] == {"phone": "+33612345678"}
        login = await gql.execute(LOGIN, {"login": "06.12.34.56.78", "password": PASSWORD})
        assert login["login"]["user"]["username"] == "remy"
    async with _client(db, settings) as gql:  # US: the same digits are no number there
        login = await gql.execute(LOGIN, {"login": "06 12 34 56 78", "password": PASSWORD})
        assert login["login"]["errors"][0]["code"] == "INVALID_CREDENTIALS"
        login = await gql.execute(LOGIN, {"login": "+33 6 12 34 56 78", "password": PASSWORD})
        assert login["login"]["user"]["username"] == "remy"


def test_the_default_region_setting_is_checked() -> None:
    assert Settings(default_phone_region=" fr ").default_phone_region == "FR"
    with pytest.raises(ValidationError, match="MARQUEE_DEFAULT_PHONE_REGION"):
        Settings(default_phone_region="XX")


def _limited(body: dict[str, Any]) -> bool:
    errors = body.get("errors") or []
    return bool(errors) and errors[0]["extensions"]["code"] == "RATE_LIMITED"


async def test_phone_username_and_email_share_one_account_budget(
    db: SharedConnectionDatabase, settings: Settings
) -> None:
    await create_user(db, username="target", email="target@example.com", phone="+12015550123")
    limits = settings.model_copy(
        update={"login_rate_per_minute": 100, "login_account_rate_per_hour": 3}
    )
    wrong = {"password": "wrong-password"}
    for n, login in enumerate(["(201) 555-0123", "target", "+1 201 555 0123"]):
        async with _client(db, limits, ip=f"10.9.1.{n}") as gql:
            assert not _limited(await gql.raw(LOGIN, {"login": login, **wrong}))
    async with _client(db, limits, ip="10.9.1.99") as gql:
        assert _limited(await gql.raw(LOGIN, {"login": "target@example.com", **wrong}))
        assert _limited(await gql.raw(LOGIN, {"login": "201-555-0123", **wrong}))
        # an unknown number's formats share one budget too, like an unknown username's
        for _ in range(3):
            assert not _limited(await gql.raw(LOGIN, {"login": "(201) 555-0199", **wrong}))
        assert _limited(await gql.raw(LOGIN, {"login": "+12015550199", **wrong}))


async def test_wrong_passwords_by_phone_back_off_like_by_username(
    db: SharedConnectionDatabase, settings: Settings
) -> None:
    await create_user(db, username="owner", phone="+33612345678")
    limits = settings.model_copy(update={"login_backoff_free_failures": 2})
    async with _client(db, limits, ip="10.9.2.1") as gql:
        for login in ("+33 6 12 34 56 78", "owner"):
            body = await gql.raw(LOGIN, {"login": login, "password": "wrong-password"})
            assert body["data"]["login"]["errors"][0]["code"] == "INVALID_CREDENTIALS"
        # the third attempt, by either login, must wait: one (account, address) record
        body = await gql.raw(LOGIN, {"login": "+33612345678", "password": PASSWORD})
        assert _limited(body)
        assert body["errors"][0]["extensions"]["retryAfter"] >= 1


# --- races -----------------------------------------------------------------------------------


async def test_concurrent_registrations_of_one_phone(
    committed_db: Database, settings: Settings
) -> None:
    unlimited = settings.model_copy(update={"register_rate_per_minute": 0})
    formats = ["+33 6 12 34 56 78", "+33612345678", "+33 (0)6 12 34 56 78", "+33.6.12.34.56.78"]
    async with _client(committed_db, unlimited) as gql:
        bodies = await asyncio.gather(
            *(gql.raw(REGISTER, _register(f, username=f"racer{n}")) for n, f in enumerate(formats))
        )
    assert all("errors" not in body for body in bodies), bodies
    payloads = [body["data"]["register"] for body in bodies]
    winners = [p for p in payloads if not p["errors"]]
    assert [w["user"]["phone"] for w in winners] == ["+33612345678"]
    for loser in payloads:
        if loser["errors"]:
            assert [(e["code"], e["field"]) for e in loser["errors"]] == [
                ("ALREADY_EXISTS", "phone")
            ]


async def test_the_unique_index_decides_a_race_the_check_missed(committed_db: Database) -> None:
    """The second registration's check runs before the first commits, so only the partial
    unique index can stop it: its violation must come back as ALREADY_EXISTS on `phone`."""

    async def register(name: str) -> None:
        async with committed_db.transaction() as session:
            await actions.register(
                session,
                username=name,
                email=f"{name}@example.com",
                password=PASSWORD,
                phone="+46 70 123 45 67",
            )

    first_inserted = asyncio.Event()
    release_first = asyncio.Event()

    async def first() -> None:
        async with committed_db.transaction() as session:
            await actions.register(
                session,
                username="first",
                email="first@example.com",
                password=PASSWORD,
                phone="+46701234567",
            )
            first_inserted.set()
            await release_first.wait()

    first_task = asyncio.create_task(first())
    await first_inserted.wait()
    second_task = asyncio.create_task(register("second"))
    await asyncio.sleep(0.5)  # the second now waits on the index for the first's outcome
    assert not second_task.done()
    release_first.set()
    await first_task
    with pytest.raises(DomainError) as caught:
        await second_task
    detail = caught.value.details[0]
    assert (detail.code, detail.field) == ("ALREADY_EXISTS", "phone")


async def test_demo_customers_sign_in_with_their_phones(
    gql: GraphQLClient, db: SharedConnectionDatabase
) -> None:
    lines: list[str] = []
    async with db.transaction() as session:
        await accounts_demo.seed(session, random.Random(1), lines)
    assert any("+33612345678" in line for line in lines)
    assert len(DEMO_PHONES) < len(accounts_demo.DEMO_USERS)  # some, not all
    for username, phone in DEMO_PHONES.items():
        written = phone[:3] + " " + phone[3:]  # a format other than the stored one
        payload = (
            await gql.execute(LOGIN, {"login": written, "password": accounts_demo.DEMO_PASSWORD})
        )["login"]
        assert payload["user"] == {"username": username, "phone": phone}


async def test_admins_find_users_by_the_digits_of_their_phone(
    gql: GraphQLClient, db: SharedConnectionDatabase
) -> None:
    admin = await create_user(db, role="ADMIN")
    ada = await create_user(db, username="ada_phone", phone="+33612345678")
    await create_user(db, username="bob_phone", phone="+14155550100")
    query = "query ($s: String!) { users(search: $s) { edges { node { username } } } }"
    token = gql.token_for(admin)

    async def found(search: str) -> list[str]:
        data = await gql.execute(query, {"s": search}, token=token)
        return [e["node"]["username"] for e in data["users"]["edges"]]

    for search in ("+33 6 12 34", "06 12 34 56 78", "612345678", "ada_ph"):
        assert await found(search) == [ada.username], search
    assert await found("555-0100") == ["bob_phone"]
    assert await found("612") == []  # under four digits: no phone search
