"""Query strings and small helpers shared by the shop tests."""

from __future__ import annotations

from typing import Any

from db.session import Database
from graph.relay import parse_global_id, to_global_id
from tests.conftest import GraphQLClient
from tests.factories import create_bookable_showtime, create_user
from tests.orders.flows import checkout, hold, pay

PRODUCT_FIELDS = """
  id name description sku category price { amount currency } imageUrl isActive
  sizeGuide careInstructions
  variants { id name sku priceDelta { amount currency } price { amount currency }
             stock isActive isAvailable }
  cinemas { id name }
"""
CREATE_PRODUCT = f"""
mutation ($input: CreateProductInput!) {{
  createProduct(input: $input) {{ product {{ {PRODUCT_FIELDS} }} errors {{ code field message }} }}
}}
"""
UPDATE_PRODUCT = f"""
mutation ($input: UpdateProductInput!) {{
  updateProduct(input: $input) {{ product {{ {PRODUCT_FIELDS} }} errors {{ code field message }} }}
}}
"""
DELETE_PRODUCT = """
mutation ($input: DeleteProductInput!) {
  deleteProduct(input: $input) { deletedProductId errors { code field message } }
}
"""
SET_STOCK = """
mutation ($input: SetProductStockInput!) {
  setProductStock(input: $input) {
    variant { id stock isAvailable price { amount } product { id } }
    product { id variants { id stock } }
    errors { code field message }
  }
}
"""
PRODUCT = f"""
query ($id: ID!) {{ product(id: $id) {{ {PRODUCT_FIELDS} }} }}
"""
PRODUCTS = """
query ($filter: ProductFilter, $first: Int, $after: String) {
  products(filter: $filter, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id name sku category isActive variants { sku isActive } } }
  }
}
"""
NODE = """
query ($id: ID!) { node(id: $id) { __typename id ... on Product { name }
  ... on ProductVariant { sku } ... on PromoCode { code } } }
"""

PROMO_FIELDS = """
  id code description percentOff amountOff { amount currency } validFrom validUntil
  usageLimit perUserLimit minimumOrderAmount { amount currency } appliesTo isActive
  timesUsed remainingUses movieIds productIds movies { title } products { name }
"""
CREATE_PROMO = f"""
mutation ($input: CreatePromoCodeInput!) {{
  createPromoCode(input: $input) {{
    promoCode {{ {PROMO_FIELDS} }} errors {{ code field message }}
  }}
}}
"""
UPDATE_PROMO = f"""
mutation ($input: UpdatePromoCodeInput!) {{
  updatePromoCode(input: $input) {{
    promoCode {{ {PROMO_FIELDS} }} errors {{ code field message }}
  }}
}}
"""
PROMO = f"""
query ($id: ID!) {{ promoCode(id: $id) {{ {PROMO_FIELDS} }} }}
"""
PROMOS = """
query ($filter: PromoCodeFilter, $first: Int) {
  promoCodes(filter: $filter, first: $first) { totalCount edges { node { code isActive } } }
}
"""


def gid(type_name: str, pk: int) -> str:
    return to_global_id(type_name, pk)


def pk_of(global_id: str) -> int:
    return parse_global_id(global_id)[1]


async def staff_token(gql: GraphQLClient, db: Database, role: str = "MANAGER") -> str:
    return gql.token_for(await create_user(db, role=role))


async def create_product(gql: GraphQLClient, token: str, **fields: Any) -> dict[str, Any]:
    """Create through the API; fails the test on payload errors."""
    data: dict[str, Any] = {"name": "Popcorn", "sku": "POP", "category": "SNACK", "price": "5"}
    data.update(fields)
    out = (await gql.execute(CREATE_PRODUCT, {"input": data}, token=token))["createProduct"]
    assert out["errors"] == [], out["errors"]
    product: dict[str, Any] = out["product"]
    return product


async def sell(gql: GraphQLClient, db: Database, product_pk: int, variant_pk: int) -> None:
    """A customer buys one of the variant with a seat: hold, checkout with the product, pay
    with the sandbox card (the product's currency is the tickets', the settings' default)."""
    show = await create_bookable_showtime(db)
    token = gql.token_for(await create_user(db))
    hold_id = await hold(gql, token, show.id, show.seat_ids[:1])
    product = {
        "productId": to_global_id("Product", product_pk),
        "variantId": to_global_id("ProductVariant", variant_pk),
        "quantity": 1,
    }
    out = await checkout(gql, token, hold_id, products=[product])
    assert out["errors"] == [], out["errors"]
    assert (await pay(gql, token, out["order"]["id"]))["errors"] == []
