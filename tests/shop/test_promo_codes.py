"""Promo codes through the API: staff-only visibility, every field, the list and its
filters, and each validation rule and error code of createPromoCode / updatePromoCode."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from db.session import Database
from tests.conftest import GraphQLClient
from tests.factories import create_movie, create_user
from tests.shop.helpers import (
    CREATE_PROMO,
    NODE,
    PROMO,
    PROMOS,
    UPDATE_PROMO,
    create_product,
    gid,
    pk_of,
    staff_token,
)


async def _create(gql: GraphQLClient, token: str, **fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"code": "WELCOME10", "percentOff": "10"}
    data.update(fields)
    out: dict[str, Any] = (await gql.execute(CREATE_PROMO, {"input": data}, token=token))[
        "createPromoCode"
    ]
    return out


async def _update(gql: GraphQLClient, token: str, **fields: Any) -> dict[str, Any]:
    out: dict[str, Any] = (await gql.execute(UPDATE_PROMO, {"input": fields}, token=token))[
        "updatePromoCode"
    ]
    return out


def _codes(errors: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    return [(e["code"], e["field"]) for e in errors]


async def test_create_with_every_field(gql: GraphQLClient, db: Database) -> None:
    token = await staff_token(gql, db)
    movie = await create_movie(db, title="Heat")
    product = await create_product(gql, token, name="Popcorn")
    out = await _create(
        gql,
        token,
        code=" snacks5 ",
        description="Five off snacks",
        percentOff=None,
        amountOff="5",
        validFrom="2030-01-01T00:00:00+01:00",
        validUntil="2030-02-01T00:00:00+01:00",
        usageLimit=100,
        perUserLimit=2,
        minimumOrderAmount="20.50",
        appliesTo="PRODUCTS",
        movieIds=[gid("Movie", movie)],
        productIds=[product["id"]],
        isActive=False,
    )
    assert out["errors"] == []
    p = out["promoCode"]
    cur = gql.settings.currency
    assert {k: v for k, v in p.items() if k != "id"} == {
        "code": "SNACKS5",
        "description": "Five off snacks",
        "percentOff": None,
        "amountOff": {"amount": "5.00", "currency": cur},
        "validFrom": "2029-12-31T23:00:00+00:00",
        "validUntil": "2030-01-31T23:00:00+00:00",
        "usageLimit": 100,
        "perUserLimit": 2,
        "minimumOrderAmount": {"amount": "20.50", "currency": cur},
        "appliesTo": "PRODUCTS",
        "isActive": False,
        "timesUsed": 0,
        "remainingUses": 100,
        "movieIds": [gid("Movie", movie)],
        "productIds": [product["id"]],
        "movies": [{"title": "Heat"}],
        "products": [{"name": "Popcorn"}],
    }
    # Defaults.
    q = (await _create(gql, token, code="welcome10"))["promoCode"]
    assert (q["code"], q["percentOff"], q["amountOff"], q["appliesTo"], q["isActive"]) == (
        "WELCOME10",
        "10.00",
        None,
        "ORDER",
        True,
    )
    assert (q["minimumOrderAmount"]["amount"], q["usageLimit"], q["remainingUses"]) == (
        "0.00",
        None,
        None,
    )
    assert (q["movieIds"], q["productIds"], q["description"]) == ([], [], "")


async def test_staff_only(gql: GraphQLClient, db: Database) -> None:
    staff = await staff_token(gql, db)
    customer = gql.token_for(await create_user(db))
    promo = (await _create(gql, staff))["promoCode"]
    for token in (None, customer):
        assert (await gql.execute(PROMO, {"id": promo["id"]}, token))["promoCode"] is None
        assert (await gql.execute(NODE, {"id": promo["id"]}, token))["node"] is None
        body = await gql.raw(CREATE_PROMO, {"input": {"code": "XYZ", "percentOff": "1"}}, token)
        expected = "FORBIDDEN" if token else "UNAUTHENTICATED"
        assert body["errors"][0]["extensions"]["code"] == expected
        body = await gql.raw(UPDATE_PROMO, {"input": {"id": promo["id"], "code": "X1Y"}}, token)
        assert body["errors"][0]["extensions"]["code"] == expected
        body = await gql.raw(PROMOS, {}, token)
        assert body["errors"][0]["extensions"]["code"] == expected
    assert (await gql.execute(NODE, {"id": promo["id"]}, staff))["node"]["code"] == "WELCOME10"
    assert (await gql.execute(PROMO, {"id": promo["id"]}, staff))["promoCode"] == promo


async def test_create_validation(gql: GraphQLClient, db: Database) -> None:
    token = await staff_token(gql, db)
    both = [("VALIDATION_ERROR", "percentOff")]
    cases: list[tuple[dict[str, Any], list[tuple[str, str | None]]]] = [
        ({"code": "AB"}, [("VALIDATION_ERROR", "code")]),
        ({"code": "A" * 41}, [("VALIDATION_ERROR", "code")]),
        ({"code": "NO SPACES"}, [("VALIDATION_ERROR", "code")]),
        ({"code": "ÉTÉ10"}, [("VALIDATION_ERROR", "code")]),
        ({"percentOff": None}, both),
        ({"amountOff": "5"}, both),
        ({"percentOff": "0"}, [("VALIDATION_ERROR", "percentOff")]),
        ({"percentOff": "100.01"}, [("VALIDATION_ERROR", "percentOff")]),
        ({"percentOff": "-5"}, [("VALIDATION_ERROR", "percentOff")]),
        ({"percentOff": "NaN"}, [("VALIDATION_ERROR", "percentOff")]),
        ({"percentOff": "10.005"}, [("VALIDATION_ERROR", "percentOff")]),
        ({"percentOff": None, "amountOff": "0"}, [("VALIDATION_ERROR", "amountOff")]),
        ({"percentOff": None, "amountOff": "1E+99"}, [("VALIDATION_ERROR", "amountOff")]),
        ({"minimumOrderAmount": "-1"}, [("VALIDATION_ERROR", "minimumOrderAmount")]),
        (
            {"validFrom": "2030-01-02T00:00:00Z", "validUntil": "2030-01-01T00:00:00Z"},
            [("VALIDATION_ERROR", "validUntil")],
        ),
        (
            {"validFrom": "2030-01-01T00:00:00Z", "validUntil": "2030-01-01T00:00:00Z"},
            [("VALIDATION_ERROR", "validUntil")],
        ),
        ({"validFrom": "2030-01-01T00:00:00"}, [("VALIDATION_ERROR", "validFrom")]),
        ({"usageLimit": -1}, [("VALIDATION_ERROR", "usageLimit")]),
        ({"perUserLimit": 0}, [("VALIDATION_ERROR", "perUserLimit")]),
        ({"description": "x" * 1001}, [("VALIDATION_ERROR", "description")]),
        ({"movieIds": [gid("Movie", 999999)]}, [("NOT_FOUND", "movieIds")]),
        ({"productIds": [gid("Product", 999999)]}, [("NOT_FOUND", "productIds")]),
        ({"movieIds": ["junk"]}, [("VALIDATION_ERROR", "movieIds")]),
        ({"productIds": [gid("Movie", 1)]}, [("VALIDATION_ERROR", "productIds")]),
    ]
    for fields, expected in cases:
        out = await _create(gql, token, **fields)
        assert _codes(out["errors"]) == expected, (fields, out["errors"])
        assert out["promoCode"] is None
    # A usage limit of 0 is allowed: the code is exhausted from the start.
    out = await _create(gql, token, code="NONE-LEFT", usageLimit=0)
    assert out["errors"] == []
    assert out["promoCode"]["remainingUses"] == 0
    assert await db.scalar(text("SELECT count(*) FROM promo_codes")) == 1


async def test_duplicate_code_in_any_case(gql: GraphQLClient, db: Database) -> None:
    token = await staff_token(gql, db)
    first = (await _create(gql, token, code="Summer-24"))["promoCode"]
    out = await _create(gql, token, code="summer-24")
    assert _codes(out["errors"]) == [("CODE_TAKEN", "code")]
    other = (await _create(gql, token, code="WINTER"))["promoCode"]
    out = await _update(gql, token, id=other["id"], code="SUMMER-24")
    assert _codes(out["errors"]) == [("CODE_TAKEN", "code")]
    # Renaming a code to itself (another case) is fine.
    out = await _update(gql, token, id=first["id"], code="summer-24")
    assert out["errors"] == []
    assert out["promoCode"]["code"] == "SUMMER-24"


async def test_update(gql: GraphQLClient, db: Database) -> None:
    token = await staff_token(gql, db)
    movie = await create_movie(db)
    promo = (await _create(gql, token, movieIds=[gid("Movie", movie)], usageLimit=5))["promoCode"]
    # Switching kind: giving amountOff replaces percentOff.
    out = await _update(gql, token, id=promo["id"], amountOff="3.5", description="Now fixed")
    assert out["errors"] == []
    p = out["promoCode"]
    assert (p["percentOff"], p["amountOff"]["amount"], p["description"]) == (
        None,
        "3.50",
        "Now fixed",
    )
    assert p["movieIds"] == [gid("Movie", movie)]  # omitted: unchanged
    out = await _update(gql, token, id=promo["id"], percentOff="50", movieIds=None)
    p = out["promoCode"]
    assert (p["percentOff"], p["amountOff"], p["movieIds"]) == ("50.00", None, [])
    # Both at once, or clearing the only one, is refused.
    out = await _update(gql, token, id=promo["id"], percentOff="5", amountOff="5")
    assert _codes(out["errors"]) == [("VALIDATION_ERROR", "percentOff")]
    out = await _update(gql, token, id=promo["id"], percentOff=None)
    assert _codes(out["errors"]) == [("VALIDATION_ERROR", "percentOff")]
    # Validity against the stored other end.
    out = await _update(gql, token, id=promo["id"], validFrom="2030-01-10T00:00:00Z")
    assert out["errors"] == []
    out = await _update(gql, token, id=promo["id"], validUntil="2030-01-09T00:00:00Z")
    assert _codes(out["errors"]) == [("VALIDATION_ERROR", "validUntil")]
    # Unlimited again; nulls of defaulted fields leave them as they are.
    out = await _update(gql, token, id=promo["id"], usageLimit=None, appliesTo=None)
    assert (out["promoCode"]["usageLimit"], out["promoCode"]["appliesTo"]) == (None, "ORDER")
    out = await _update(gql, token, id=gid("PromoCode", 999999), code="XYZ")
    assert _codes(out["errors"]) == [("NOT_FOUND", "id")]
    out = await _update(gql, token, id=promo["id"], code=None)
    assert _codes(out["errors"]) == [("VALIDATION_ERROR", "code")]


async def test_usage_limit_not_below_times_used(gql: GraphQLClient, db: Database) -> None:
    token = await staff_token(gql, db)
    promo = (await _create(gql, token, usageLimit=10))["promoCode"]
    # Uses are counted by checkout (being built in parallel): set with SQL here.
    async with db.transaction() as session:
        await session.execute(
            text("UPDATE promo_codes SET times_used = 4 WHERE id = :id").bindparams(
                id=pk_of(promo["id"])
            )
        )
    out = await _update(gql, token, id=promo["id"], usageLimit=3)
    assert _codes(out["errors"]) == [("USAGE_LIMIT_BELOW_TIMES_USED", "usageLimit")]
    out = await _update(gql, token, id=promo["id"], usageLimit=4)
    assert out["errors"] == []
    assert (out["promoCode"]["timesUsed"], out["promoCode"]["remainingUses"]) == (4, 0)


async def test_list_and_filters(gql: GraphQLClient, db: Database) -> None:
    token = await staff_token(gql, db)
    await _create(gql, token, code="WELCOME10", description="New customers")
    await _create(gql, token, code="SNACKS5", percentOff=None, amountOff="5", appliesTo="PRODUCTS")
    await _create(gql, token, code="old_one", isActive=False)

    async def codes(filter: dict[str, Any] | None = None) -> list[str]:
        data = await gql.execute(PROMOS, {"filter": filter}, token)
        return [e["node"]["code"] for e in data["promoCodes"]["edges"]]

    assert await codes() == ["OLD_ONE", "SNACKS5", "WELCOME10"]
    assert await codes({"isActive": True}) == ["SNACKS5", "WELCOME10"]
    assert await codes({"isActive": False}) == ["OLD_ONE"]
    assert await codes({"appliesTo": "PRODUCTS"}) == ["SNACKS5"]
    assert await codes({"search": "customers"}) == ["WELCOME10"]
    assert await codes({"search": "d_o"}) == ["OLD_ONE"]
    assert await codes({"search": "snack"}) == ["SNACKS5"]
