"""The demo shop: concessions and merchandise at every cinema in its tickets' currency, one
product sold at one cinema, a T-shirt with limited stock per size, and three promo codes
(one exhausted)."""

from __future__ import annotations

import random

from db.demo import cinemas as cinemas_demo
from db.demo import shop as shop_demo
from db.session import Database
from tests.conftest import GraphQLClient
from tests.factories import create_movie
from tests.shop.helpers import staff_token

MENU = """
query ($filter: ProductFilter) {
  products(filter: $filter, first: 100) { totalCount edges { node {
    name sku category price { amount currency } sizeGuide careInstructions cinemas { name }
    variants { name sku price { amount } stock isAvailable }
  } } }
}
"""
PROMOS = """
{ promoCodes { edges { node {
  code percentOff amountOff { amount } appliesTo usageLimit perUserLimit remainingUses
  minimumOrderAmount { amount } isActive timesUsed
} } } }
"""
CINEMAS = "{ cinemas(first: 10) { edges { node { id name } } } }"


async def test_demo_shop(gql: GraphQLClient, db: Database) -> None:
    await create_movie(db, duration_minutes=100)
    lines: list[str] = []
    async with db.transaction() as session:
        await cinemas_demo.seed(session, random.Random(1), lines)
        await shop_demo.seed(session, random.Random(1), lines)
    assert lines[-1].startswith("demo shop: 17 products")

    every = {e["node"]["sku"]: e["node"] for e in (await gql.execute(MENU))["products"]["edges"]}
    assert len(every) == 17
    euro = {sku: p for sku, p in every.items() if sku.endswith("-EUR")}
    products = {sku: p for sku, p in every.items() if sku not in euro}
    assert len(products) == 9
    assert sorted(euro) == sorted(f"{sku}-EUR" for sku in products if sku != "CUP-UNION-SQUARE")
    assert all(p["price"]["currency"] == "EUR" for p in euro.values())
    categories = {p["category"] for p in products.values()}
    assert categories == {"SNACK", "DRINK", "COMBO", "MERCHANDISE"}
    assert sum(p["category"] == "DRINK" for p in products.values()) >= 2
    assert sum(p["category"] == "COMBO" for p in products.values()) == 2
    assert all(p["price"]["currency"] == "USD" for p in products.values())
    popcorn = products["POPCORN"]
    assert [(v["name"], v["price"]["amount"]) for v in popcorn["variants"]] == [
        ("Small", "5.00"),
        ("Medium", "6.50"),
        ("Large", "7.50"),
    ]
    assert [v["sku"] for v in products["NACHOS"]["variants"]] == ["NACHOS"]  # Standard
    tee = products["TSHIRT-LOGO"]
    assert tee["sizeGuide"]
    assert tee["careInstructions"]
    assert [(v["name"], v["stock"], v["isAvailable"]) for v in tee["variants"]] == [
        ("S", 3, True),
        ("M", 25, True),
        ("L", 25, True),
        ("XL", 0, False),
    ]
    cup = products["CUP-UNION-SQUARE"]
    assert cup["cinemas"] == [{"name": "Marquee Union Square"}]
    us = {c["name"] for c in products["POPCORN"]["cinemas"]}
    assert "Marquee Union Square" in us
    assert "Marquee Bercy" not in us
    assert all(
        {c["name"] for c in p["cinemas"]} == us
        for sku, p in products.items()
        if sku != "CUP-UNION-SQUARE"
    )
    assert "Marquee Bercy" in {c["name"] for c in euro["POPCORN-EUR"]["cinemas"]}

    cinemas = {
        e["node"]["name"]: e["node"]["id"] for e in (await gql.execute(CINEMAS))["cinemas"]["edges"]
    }
    for name, count in (("Marquee Union Square", 9), ("Marquee Bercy", 8)):
        data = await gql.execute(MENU, {"filter": {"cinemaId": cinemas[name]}})
        assert data["products"]["totalCount"] == count

    token = await staff_token(gql, db)
    promos = {
        e["node"]["code"]: e["node"]
        for e in (await gql.execute(PROMOS, token=token))["promoCodes"]["edges"]
    }
    assert sorted(promos) == ["PREMIERE", "SNACKS5", "WELCOME10"]
    assert (promos["WELCOME10"]["percentOff"], promos["WELCOME10"]["appliesTo"]) == (
        "10.00",
        "ORDER",
    )
    snacks = promos["SNACKS5"]
    assert (snacks["amountOff"], snacks["appliesTo"], snacks["minimumOrderAmount"]) == (
        {"amount": "5.00"},
        "PRODUCTS",
        {"amount": "15.00"},
    )
    assert (promos["PREMIERE"]["usageLimit"], promos["PREMIERE"]["remainingUses"]) == (0, 0)
    assert all(p["isActive"] and p["timesUsed"] == 0 for p in promos.values())
