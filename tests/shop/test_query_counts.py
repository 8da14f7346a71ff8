"""N+1 guards: a page of products with variants and cinemas, and a page of promo codes with
their restrictions, cost the same number of statements for 2 items as for 20."""

from __future__ import annotations

from db.session import Database, capture_statements
from tests.conftest import GraphQLClient
from tests.factories import create_cinema, create_movie
from tests.shop.helpers import create_product, gid, staff_token
from tests.shop.test_promo_codes import _create as create_promo

PRODUCTS = """
query ($first: Int) {
  products(first: $first) {
    totalCount
    edges { node {
      name price { amount }
      variants { sku price { amount } stock isAvailable product { sku } }
      cinemas { name city }
    } }
  }
}
"""
PROMOS = """
query ($first: Int) {
  promoCodes(first: $first) {
    totalCount
    edges { node { code movieIds movies { title } productIds products { name variants { sku } } } }
  }
}
"""


async def _count(
    gql: GraphQLClient, query: str, first: int, token: str | None
) -> tuple[int, int, list[str]]:
    with capture_statements() as log:
        data = await gql.execute(query, {"first": first}, token)
    root = next(iter(data.values()))
    return len(log), len(root["edges"]), list(log)


async def test_products_statement_count_is_flat(gql: GraphQLClient, db: Database) -> None:
    token = await staff_token(gql, db)
    cinemas = [gid("Cinema", await create_cinema(db)) for _ in range(3)]
    for i in range(20):
        await create_product(
            gql,
            token,
            name=f"Product {i:02d}",
            sku=f"P{i}",
            cinemaIds=cinemas[: i % 3],
            variants=[{"name": s, "sku": f"P{i}-{s}", "stock": i} for s in ("S", "M", "L")],
        )
    small, n_small, _ = await _count(gql, PRODUCTS, 2, None)
    large, n_large, log = await _count(gql, PRODUCTS, 20, None)
    assert (n_small, n_large) == (2, 20)
    assert small == large, "\n\n".join(log)
    # count, page, variants, cinema ids, cinemas
    assert large <= 5, "\n\n".join(log)


async def test_promo_codes_statement_count_is_flat(gql: GraphQLClient, db: Database) -> None:
    token = await staff_token(gql, db)
    movie = gid("Movie", await create_movie(db))
    product = (await create_product(gql, token))["id"]
    for i in range(20):
        out = await create_promo(
            gql, token, code=f"CODE{i:02d}", movieIds=[movie], productIds=[product]
        )
        assert out["errors"] == []
    small, n_small, _ = await _count(gql, PROMOS, 2, token)
    large, n_large, log = await _count(gql, PROMOS, 20, token)
    assert (n_small, n_large) == (2, 20)
    assert small == large, "\n\n".join(log)
    # viewer, count, page, movie ids, movies, product ids, products, variants
    assert large <= 8, "\n\n".join(log)
