"""Products through the API: every field, variants, cinemas, filters, visibility, the staff
mutations with each validation and error code, stock, and deletion of sold products."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from db.session import Database
from tests.conftest import GraphQLClient
from tests.factories import create_cinema, create_user
from tests.shop.helpers import (
    CREATE_PRODUCT,
    DELETE_PRODUCT,
    NODE,
    PRODUCT,
    PRODUCTS,
    SET_STOCK,
    UPDATE_PRODUCT,
    create_product,
    gid,
    pk_of,
    sell,
    staff_token,
)


def usd(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "USD"}


async def _create(gql: GraphQLClient, token: str, **fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"name": "Popcorn", "sku": "POP", "category": "SNACK", "price": "5"}
    data.update(fields)
    out: dict[str, Any] = (await gql.execute(CREATE_PRODUCT, {"input": data}, token=token))[
        "createProduct"
    ]
    return out


async def _update(gql: GraphQLClient, token: str, **fields: Any) -> dict[str, Any]:
    out: dict[str, Any] = (await gql.execute(UPDATE_PRODUCT, {"input": fields}, token=token))[
        "updateProduct"
    ]
    return out


def _codes(errors: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    return [(e["code"], e["field"]) for e in errors]


async def test_non_staff_are_refused(gql: GraphQLClient, db: Database) -> None:
    customer = gql.token_for(await create_user(db))
    pid, vid = gid("Product", 1), gid("ProductVariant", 1)
    cases = [
        (CREATE_PRODUCT, {"input": {"name": "X", "sku": "X", "category": "SNACK", "price": "1"}}),
        (UPDATE_PRODUCT, {"input": {"id": pid, "name": "X"}}),
        (DELETE_PRODUCT, {"input": {"id": pid}}),
        (SET_STOCK, {"input": {"variantId": vid, "stock": 1}}),
    ]
    for query, variables in cases:
        body = await gql.raw(query, variables, token=customer)
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", body
        body = await gql.raw(query, variables)
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", body
    assert await db.scalar(text("SELECT count(*) FROM products")) == 0


async def test_create_merchandise_with_every_field(gql: GraphQLClient, db: Database) -> None:
    token = await staff_token(gql, db)
    lyon = await create_cinema(db, name="Lyon")
    await create_cinema(db, name="Elsewhere")
    out = await _create(
        gql,
        token,
        name="  Marquee T-shirt ",
        description="Organic cotton.",
        sku="tee-logo",
        category="MERCHANDISE",
        price="20.00",
        imageUrl="https://img.example/tee.png",
        cinemaIds=[gid("Cinema", lyon)],
        variants=[
            {"name": "S", "sku": "tee-logo-s", "stock": 0},
            {"name": "XL", "sku": "TEE-LOGO-XL", "priceDelta": "2.50", "stock": 3},
            {"name": "M", "sku": "TEE-LOGO-M"},
        ],
        sizeGuide="S 90cm, XL 120cm",
        careInstructions="30°C",
    )
    assert out["errors"] == []
    p = out["product"]
    assert p["name"] == "Marquee T-shirt"
    assert p["sku"] == "TEE-LOGO"
    assert p["category"] == "MERCHANDISE"
    assert p["price"] == usd("20.00")
    assert p["imageUrl"] == "https://img.example/tee.png"
    assert p["isActive"] is True
    assert (p["sizeGuide"], p["careInstructions"]) == ("S 90cm, XL 120cm", "30°C")
    assert p["cinemas"] == [{"id": gid("Cinema", lyon), "name": "Lyon"}]
    assert [
        (v["name"], v["sku"], v["priceDelta"], v["price"], v["stock"], v["isAvailable"])
        for v in p["variants"]
    ] == [
        ("S", "TEE-LOGO-S", usd("0.00"), usd("20.00"), 0, False),
        ("XL", "TEE-LOGO-XL", usd("2.50"), usd("22.50"), 3, True),
        ("M", "TEE-LOGO-M", usd("0.00"), usd("20.00"), None, True),
    ]
    # The same through product(id) and node(id).
    same = (await gql.execute(PRODUCT, {"id": p["id"]}))["product"]
    assert same == p
    node = (await gql.execute(NODE, {"id": p["variants"][1]["id"]}))["node"]
    assert node == {
        "__typename": "ProductVariant",
        "id": p["variants"][1]["id"],
        "sku": "TEE-LOGO-XL",
    }


async def test_product_without_variants_gets_a_standard_one(
    gql: GraphQLClient, db: Database
) -> None:
    token = await staff_token(gql, db, role="ADMIN")
    p = await create_product(gql, token, sku="nachos", price="4.5")
    assert p["description"] == ""
    assert p["cinemas"] == []
    assert [(v["name"], v["sku"], v["price"], v["stock"]) for v in p["variants"]] == [
        ("Standard", "NACHOS", usd("4.50"), None)
    ]
    # An empty list is the same.
    p2 = await create_product(gql, token, sku="chips", variants=[])
    assert [v["sku"] for v in p2["variants"]] == ["CHIPS"]


async def test_create_validation(gql: GraphQLClient, db: Database) -> None:
    token = await staff_token(gql, db)
    cases: list[tuple[dict[str, Any], list[tuple[str, str | None]]]] = [
        ({"name": "  "}, [("VALIDATION_ERROR", "name")]),
        ({"name": "x" * 201}, [("VALIDATION_ERROR", "name")]),
        ({"description": "x" * 5001}, [("VALIDATION_ERROR", "description")]),
        ({"sku": "bad sku"}, [("VALIDATION_ERROR", "sku")]),
        ({"sku": "-LEADING"}, [("VALIDATION_ERROR", "sku")]),
        ({"sku": "A" * 65}, [("VALIDATION_ERROR", "sku")]),
        ({"price": "-1"}, [("VALIDATION_ERROR", "price")]),
        ({"price": "1.001"}, [("VALIDATION_ERROR", "price")]),
        ({"price": "NaN"}, [("VALIDATION_ERROR", "price")]),
        ({"price": "1E+400"}, [("VALIDATION_ERROR", "price")]),
        ({"price": "10000000000"}, [("VALIDATION_ERROR", "price")]),
        ({"imageUrl": "ftp://x/y"}, [("VALIDATION_ERROR", "imageUrl")]),
        ({"imageUrl": "https://x/" + "y" * 500}, [("VALIDATION_ERROR", "imageUrl")]),
        ({"sizeGuide": "S M L"}, [("VALIDATION_ERROR", "sizeGuide")]),
        ({"careInstructions": "wash"}, [("VALIDATION_ERROR", "careInstructions")]),
        (
            {"category": "MERCHANDISE", "sizeGuide": "x" * 5001},
            [("VALIDATION_ERROR", "sizeGuide")],
        ),
        (
            {"variants": [{"name": "V", "sku": f"V{i}"} for i in range(21)]},
            [("VALIDATION_ERROR", "variants")],
        ),
        (
            {"variants": [{"name": "", "sku": "ok"}]},
            [("VALIDATION_ERROR", "variants[0].name")],
        ),
        (
            {"variants": [{"name": "x" * 101, "sku": "ok"}]},
            [("VALIDATION_ERROR", "variants[0].name")],
        ),
        (
            {"variants": [{"name": "A", "sku": "a b"}]},
            [("VALIDATION_ERROR", "variants[0].sku")],
        ),
        (
            {"variants": [{"name": "A", "sku": "dup"}, {"name": "B", "sku": "DUP"}]},
            [("SKU_TAKEN", "variants[1].sku")],
        ),
        (
            {"price": "1", "variants": [{"name": "A", "sku": "a", "priceDelta": "-1.01"}]},
            [("VALIDATION_ERROR", "variants[0].priceDelta")],
        ),
        (
            {"variants": [{"name": "A", "sku": "a", "priceDelta": "0.001"}]},
            [("VALIDATION_ERROR", "variants[0].priceDelta")],
        ),
        (
            {"variants": [{"name": "A", "sku": "a", "stock": -1}]},
            [("VALIDATION_ERROR", "variants[0].stock")],
        ),
        ({"cinemaIds": [gid("Cinema", 999999)]}, [("NOT_FOUND", "cinemaIds")]),
        ({"cinemaIds": ["not-an-id"]}, [("VALIDATION_ERROR", "cinemaIds")]),
        ({"cinemaIds": [gid("Movie", 1)]}, [("VALIDATION_ERROR", "cinemaIds")]),
    ]
    for fields, expected in cases:
        out = await _create(gql, token, **fields)
        assert _codes(out["errors"]) == expected, (fields, out["errors"])
        assert out["product"] is None
    # Several failures are reported together.
    out = await _create(gql, token, name="", sku="?", price="-1")
    assert {f for _, f in _codes(out["errors"])} == {"name", "sku", "price"}
    assert await db.scalar(text("SELECT count(*) FROM products")) == 0


async def test_negative_delta_within_the_price_is_fine(gql: GraphQLClient, db: Database) -> None:
    token = await staff_token(gql, db)
    p = await create_product(
        gql, token, price="5", variants=[{"name": "Kids", "sku": "k", "priceDelta": "-5"}]
    )
    assert p["variants"][0]["price"] == usd("0.00")


async def test_duplicate_skus(gql: GraphQLClient, db: Database) -> None:
    token = await staff_token(gql, db)
    await create_product(
        gql,
        token,
        sku="POP",
        variants=[{"name": "S", "sku": "POP-S"}, {"name": "L", "sku": "POP-L"}],
    )
    out = await _create(gql, token, sku="pop")
    assert _codes(out["errors"]) == [("SKU_TAKEN", "sku")]
    out = await _create(gql, token, sku="OTHER", variants=[{"name": "S", "sku": "pop-s"}])
    assert _codes(out["errors"]) == [("SKU_TAKEN", "variants[0].sku")]
    # The default variant takes the product's SKU: taken by another product's variant.
    out = await _create(gql, token, sku="POP-L")
    assert _codes(out["errors"]) == [("SKU_TAKEN", "variants[0].sku")]
    assert await db.scalar(text("SELECT count(*) FROM products")) == 1


async def test_update_fields_and_cinemas(gql: GraphQLClient, db: Database) -> None:
    token = await staff_token(gql, db)
    a, b = await create_cinema(db, name="A"), await create_cinema(db, name="B")
    p = await create_product(gql, token, cinemaIds=[gid("Cinema", a)])
    out = await _update(
        gql,
        token,
        id=p["id"],
        name="Big popcorn",
        description="Salted",
        price="6.25",
        imageUrl="http://img/p.png",
        cinemaIds=[gid("Cinema", b), gid("Cinema", a)],
    )
    assert out["errors"] == []
    q = out["product"]
    assert (q["name"], q["description"], q["price"], q["imageUrl"]) == (
        "Big popcorn",
        "Salted",
        usd("6.25"),
        "http://img/p.png",
    )
    assert sorted(c["name"] for c in q["cinemas"]) == ["A", "B"]
    assert q["variants"][0]["price"] == usd("6.25")
    # Omitted fields stay; null cinemaIds means everywhere; imageUrl null clears.
    q = (await _update(gql, token, id=p["id"], cinemaIds=None, imageUrl=None))["product"]
    assert (q["name"], q["cinemas"], q["imageUrl"]) == ("Big popcorn", [], None)
    # Merchandise fields go when the category is no longer merchandise.
    q = (await _update(gql, token, id=p["id"], category="MERCHANDISE", sizeGuide="S-XL"))["product"]
    assert (q["category"], q["sizeGuide"]) == ("MERCHANDISE", "S-XL")
    q = (await _update(gql, token, id=p["id"], category="SNACK"))["product"]
    assert (q["category"], q["sizeGuide"]) == ("SNACK", None)


async def test_update_validation(gql: GraphQLClient, db: Database) -> None:
    token = await staff_token(gql, db)
    p = await create_product(
        gql, token, price="5", variants=[{"name": "Kids", "sku": "K", "priceDelta": "-2"}]
    )
    await create_product(gql, token, name="Other", sku="OTHER")
    cases: list[tuple[dict[str, Any], list[tuple[str, str | None]]]] = [
        ({"id": gid("Product", 999999), "name": "x"}, [("NOT_FOUND", "id")]),
        ({"id": "garbage", "name": "x"}, [("VALIDATION_ERROR", "id")]),
        ({"id": gid("Movie", 1), "name": "x"}, [("VALIDATION_ERROR", "id")]),
        ({"id": p["id"], "name": None}, [("VALIDATION_ERROR", "name")]),
        ({"id": p["id"], "sku": "other"}, [("SKU_TAKEN", "sku")]),
        ({"id": p["id"], "price": "1.5"}, [("VALIDATION_ERROR", "price")]),  # Kids < 0
        ({"id": p["id"], "sizeGuide": "x"}, [("VALIDATION_ERROR", "sizeGuide")]),
        ({"id": p["id"], "cinemaIds": [gid("Cinema", 999999)]}, [("NOT_FOUND", "cinemaIds")]),
        (
            {
                "id": p["id"],
                "variants": [{"id": gid("ProductVariant", 999999), "name": "A", "sku": "A"}],
            },
            [("NOT_FOUND", "variants[0].id")],
        ),
        (
            {"id": p["id"], "variants": [{"name": "A", "sku": "OTHER"}]},
            [("SKU_TAKEN", "variants[0].sku")],
        ),
    ]
    for fields, expected in cases:
        out = await _update(gql, token, **fields)
        assert _codes(out["errors"]) == expected, (fields, out["errors"])
    # isActive null is ignored, not an error.
    out = await _update(gql, token, id=p["id"], isActive=None)
    assert out["errors"] == []
    assert out["product"]["isActive"] is True


async def test_variant_list_rule(gql: GraphQLClient, db: Database) -> None:
    """Matched by id or SKU: updated; new: added; left out: deleted, or deactivated if sold."""
    token = await staff_token(gql, db)
    p = await create_product(
        gql,
        token,
        price="5",
        variants=[
            {"name": "S", "sku": "POP-S", "stock": 10},
            {"name": "M", "sku": "POP-M", "priceDelta": "1"},
            {"name": "L", "sku": "POP-L", "priceDelta": "2"},
        ],
    )
    s, m, big = p["variants"]
    await sell(gql, db, pk_of(p["id"]), pk_of(big["id"]))
    out = await _update(
        gql,
        token,
        id=p["id"],
        variants=[
            # by id, renamed and with a new SKU; stock omitted: kept
            {"id": s["id"], "name": "Small", "sku": "POP-SMALL"},
            # new
            {"name": "XL", "sku": "POP-XL", "priceDelta": "3", "stock": 5},
            # M and L left out: M deleted, L (sold) deactivated
        ],
    )
    assert out["errors"] == []
    variants = out["product"]["variants"]  # staff see inactive variants
    assert [(v["name"], v["sku"], v["stock"], v["isActive"]) for v in variants] == [
        ("Small", "POP-SMALL", 10, True),
        ("XL", "POP-XL", 5, True),
        ("L", "POP-L", None, False),
    ]
    assert variants[0]["id"] == s["id"]
    assert (
        await db.scalar(
            text("SELECT count(*) FROM product_variants WHERE id = :id").bindparams(
                id=pk_of(m["id"])
            )
        )
        == 0
    )
    # Others see only active variants.
    public = (await gql.execute(PRODUCT, {"id": p["id"]}))["product"]
    assert [v["sku"] for v in public["variants"]] == ["POP-SMALL", "POP-XL"]
    # Listing the sold one again (by SKU) reactivates it; SKUs may swap between variants.
    out = await _update(
        gql,
        token,
        id=p["id"],
        variants=[
            {"name": "L", "sku": "POP-L", "priceDelta": "2"},
            {"id": variants[0]["id"], "name": "Small", "sku": "POP-XL", "stock": None},
            {"id": variants[1]["id"], "name": "XL", "sku": "POP-SMALL"},
        ],
    )
    assert out["errors"] == []
    assert [
        (v["name"], v["sku"], v["stock"], v["isActive"]) for v in out["product"]["variants"]
    ] == [
        ("L", "POP-L", None, True),
        ("Small", "POP-XL", None, True),
        ("XL", "POP-SMALL", 5, True),
    ]
    # An empty list: back to the Standard variant (the sold L stays, deactivated).
    out = await _update(gql, token, id=p["id"], variants=[])
    assert [(v["name"], v["sku"], v["isActive"]) for v in out["product"]["variants"]] == [
        ("Standard", "POP", True),
        ("L", "POP-L", False),
    ]


async def test_set_product_stock(gql: GraphQLClient, db: Database) -> None:
    token = await staff_token(gql, db)
    p = await create_product(gql, token, price="3")
    vid = p["variants"][0]["id"]

    async def set_stock(stock: int | None, variant: str = vid) -> dict[str, Any]:
        out: dict[str, Any] = (
            await gql.execute(SET_STOCK, {"input": {"variantId": variant, "stock": stock}}, token)
        )["setProductStock"]
        return out

    out = await set_stock(0)
    assert out["errors"] == []
    assert out["variant"] == {
        "id": vid,
        "stock": 0,
        "isAvailable": False,
        "price": {"amount": "3.00"},
        "product": {"id": p["id"]},
    }
    assert out["product"]["variants"] == [{"id": vid, "stock": 0}]
    assert (await set_stock(7))["variant"]["isAvailable"] is True
    out = await set_stock(None)
    assert (out["variant"]["stock"], out["variant"]["isAvailable"]) == (None, True)
    out = await set_stock(-1)
    assert (_codes(out["errors"]), out["variant"]) == ([("VALIDATION_ERROR", "stock")], None)
    out = await set_stock(1, gid("ProductVariant", 999999))
    assert _codes(out["errors"]) == [("NOT_FOUND", "variantId")]
    out = await set_stock(1, p["id"])
    assert _codes(out["errors"]) == [("VALIDATION_ERROR", "variantId")]
    # The CHECK constraint agrees.
    with pytest.raises(Exception, match="ck_product_variants_stock"):
        async with db.transaction() as session:
            await session.execute(text("UPDATE product_variants SET stock = -1"))


async def test_delete_product(gql: GraphQLClient, db: Database) -> None:
    token = await staff_token(gql, db)
    unsold = await create_product(gql, token, sku="UNSOLD")
    sold = await create_product(gql, token, sku="SOLD")
    out = (await gql.execute(DELETE_PRODUCT, {"input": {"id": unsold["id"]}}, token))[
        "deleteProduct"
    ]
    assert out == {"deletedProductId": unsold["id"], "errors": []}
    assert (await gql.execute(PRODUCT, {"id": unsold["id"]}, token))["product"] is None
    await sell(gql, db, pk_of(sold["id"]), pk_of(sold["variants"][0]["id"]))
    out = (await gql.execute(DELETE_PRODUCT, {"input": {"id": sold["id"]}}, token))["deleteProduct"]
    assert out["deletedProductId"] is None
    assert _codes(out["errors"]) == [("PRODUCT_SOLD", "id")]
    assert "isActive: false" in out["errors"][0]["message"]
    # The advice works.
    out2 = await _update(gql, token, id=sold["id"], isActive=False)
    assert out2["errors"] == []
    assert out2["product"]["isActive"] is False
    out = (await gql.execute(DELETE_PRODUCT, {"input": {"id": gid("Product", 999999)}}, token))[
        "deleteProduct"
    ]
    assert _codes(out["errors"]) == [("NOT_FOUND", "id")]


async def test_visibility_of_inactive_products(gql: GraphQLClient, db: Database) -> None:
    staff = await staff_token(gql, db)
    customer = gql.token_for(await create_user(db))
    p = await create_product(gql, staff, isActive=False)
    vid = p["variants"][0]["id"]
    for token in (None, customer):
        assert (await gql.execute(PRODUCT, {"id": p["id"]}, token))["product"] is None
        assert (await gql.execute(NODE, {"id": p["id"]}, token))["node"] is None
        assert (await gql.execute(NODE, {"id": vid}, token))["node"] is None
        listed = await gql.execute(PRODUCTS, {"filter": {"includeInactive": True}}, token)
        assert listed["products"]["totalCount"] == 0
    assert (await gql.execute(PRODUCT, {"id": p["id"]}, staff))["product"]["isActive"] is False
    assert (await gql.execute(NODE, {"id": vid}, staff))["node"]["sku"] == "POP"
    listed = await gql.execute(PRODUCTS, {}, staff)
    assert listed["products"]["totalCount"] == 0
    listed = await gql.execute(PRODUCTS, {"filter": {"includeInactive": True}}, staff)
    assert listed["products"]["totalCount"] == 1
    # A sold-out variant of an active product is public; isAvailable says it is sold out.
    q = await create_product(gql, staff, sku="Q", variants=[{"name": "A", "sku": "QA", "stock": 0}])
    node = (await gql.execute(NODE, {"id": q["variants"][0]["id"]}))["node"]
    assert node["sku"] == "QA"


async def test_products_filters_and_paging(gql: GraphQLClient, db: Database) -> None:
    token = await staff_token(gql, db)
    lyon, paris = await create_cinema(db, name="Lyon"), await create_cinema(db, name="Paris")
    await create_product(gql, token, name="Popcorn", sku="POP", description="Salted corn")
    await create_product(gql, token, name="Cola", sku="COLA", category="DRINK")
    await create_product(
        gql, token, name="Menu duo", sku="DUO", category="COMBO", cinemaIds=[gid("Cinema", lyon)]
    )
    await create_product(gql, token, name="Tote bag", sku="BAG_1", category="MERCHANDISE")
    await create_product(gql, token, name="Old candy", sku="CANDY", isActive=False)

    async def names(filter: dict[str, Any] | None = None, tok: str | None = None) -> list[str]:
        data = await gql.execute(PRODUCTS, {"filter": filter}, tok)
        return [e["node"]["name"] for e in data["products"]["edges"]]

    # Category order (snacks, drinks, combos, merchandise), then name.
    assert await names() == ["Popcorn", "Cola", "Menu duo", "Tote bag"]
    assert await names({"category": "DRINK"}) == ["Cola"]
    assert await names({"search": "CORN"}) == ["Popcorn"]  # name, any case
    assert await names({"search": "salted"}) == ["Popcorn"]  # description
    assert await names({"search": "bag_"}) == ["Tote bag"]  # SKU, "_" literal
    assert await names({"search": "%"}) == []
    assert await names({"cinemaId": gid("Cinema", lyon)}) == [
        "Popcorn",
        "Cola",
        "Menu duo",
        "Tote bag",
    ]
    assert await names({"cinemaId": gid("Cinema", paris)}) == ["Popcorn", "Cola", "Tote bag"]
    assert await names({"includeInactive": True}, token) == [
        "Old candy",
        "Popcorn",
        "Cola",
        "Menu duo",
        "Tote bag",
    ]
    page = (await gql.execute(PRODUCTS, {"first": 2}))["products"]
    assert page["totalCount"] == 4
    assert page["pageInfo"]["hasNextPage"] is True
    rest = await gql.execute(PRODUCTS, {"first": 2, "after": page["pageInfo"]["endCursor"]})
    assert [e["node"]["name"] for e in rest["products"]["edges"]] == ["Menu duo", "Tote bag"]
    # Malformed arguments are BAD_USER_INPUT.
    body = await gql.raw(PRODUCTS, {"filter": {"cinemaId": "nope"}})
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    body = await gql.raw(PRODUCTS, {"filter": {"search": "x" * 201}})
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    body = await gql.raw(PRODUCT, {"id": "nope"})
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_currency_follows_the_setting(gql: GraphQLClient, db: Database) -> None:
    token = await staff_token(gql, db)
    p = await create_product(gql, token)
    assert p["price"]["currency"] == gql.settings.currency
    stored = await db.scalar(
        text("SELECT currency FROM products WHERE id = :id").bindparams(id=pk_of(p["id"]))
    )
    assert stored == gql.settings.currency
