"""Concurrent creates under real commits: of several requests for one SKU or one promo code
(in different letter cases), exactly one wins and the others get the coded error. The
deterministic variants make the loser pass the friendly pre-check, so the unique constraint
itself is the judge."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text

from db.errors import DomainError
from db.session import Database
from db.shop import actions
from tests.conftest import GraphQLClient
from tests.factories import create_user
from tests.shop.helpers import CREATE_PRODUCT, CREATE_PROMO

RACERS = 6


async def _race(
    gql: GraphQLClient, db: Database, query: str, inputs: list[dict[str, Any]]
) -> list[Any]:
    token = gql.token_for(await create_user(db, role="MANAGER"))
    results = await asyncio.gather(*(gql.execute(query, {"input": i}, token) for i in inputs))
    return [next(iter(r.values())) for r in results]


async def test_one_product_per_sku(committed_gql: GraphQLClient, committed_db: Database) -> None:
    inputs = [
        {
            "name": f"Popcorn {i}",
            "sku": "pop-race" if i % 2 else "POP-RACE",
            "category": "SNACK",
            "price": "5",
        }
        for i in range(RACERS)
    ]
    payloads = await _race(committed_gql, committed_db, CREATE_PRODUCT, inputs)
    assert sum(1 for p in payloads if not p["errors"]) == 1
    for p in payloads:
        if p["errors"]:
            assert p["product"] is None
            assert [e["code"] for e in p["errors"]] == ["SKU_TAKEN"], p
    assert await committed_db.scalar(text("SELECT count(*) FROM products")) == 1
    assert await committed_db.scalar(text("SELECT count(*) FROM product_variants")) == 1


async def test_one_promo_code_per_code(
    committed_gql: GraphQLClient, committed_db: Database
) -> None:
    inputs = [{"code": "race10" if i % 2 else "RACE10", "percentOff": "10"} for i in range(RACERS)]
    payloads = await _race(committed_gql, committed_db, CREATE_PROMO, inputs)
    assert sum(1 for p in payloads if not p["errors"]) == 1
    errors = sorted((e["code"], e["field"]) for p in payloads for e in p["errors"])
    assert errors == [("CODE_TAKEN", "code")] * (RACERS - 1)
    assert await committed_db.scalar(text("SELECT count(*) FROM promo_codes")) == 1


async def _second_blocks_on_the_first(db: Database, create: Any) -> DomainError:
    """Run `create` in two transactions: the second starts while the first is uncommitted
    (so its pre-check sees nothing), waits on the unique index, and loses at the commit."""
    async with db.transaction() as first:
        await create(first)

        async def second() -> None:
            async with db.transaction() as session:
                await create(session)

        loser = asyncio.create_task(second())
        await asyncio.sleep(0.3)
        assert not loser.done()
    with pytest.raises(DomainError) as caught:
        await loser
    return caught.value


async def test_sku_race_is_judged_by_the_constraint(committed_db: Database) -> None:
    async def create(session: Any) -> None:
        data = {"name": "P", "sku": "RACE", "category": "SNACK", "price": Decimal(1)}
        await actions.create_product(session, data, currency="USD")

    error = await _second_blocks_on_the_first(committed_db, create)
    assert (error.code, error.details[0].field) == ("SKU_TAKEN", "sku")


async def test_code_race_is_judged_by_the_constraint(committed_db: Database) -> None:
    n = iter(range(2))

    async def create(session: Any) -> None:
        code = "Race-Code" if next(n) == 0 else "RACE-code"
        await actions.create_promo_code(
            session, {"code": code, "percent_off": Decimal(10)}, currency="USD"
        )

    error = await _second_blocks_on_the_first(committed_db, create)
    assert (error.code, error.details[0].field) == ("CODE_TAKEN", "code")
