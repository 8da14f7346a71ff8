"""The shop around the seat: products with stock, and promo codes (docs/shop.md)."""
