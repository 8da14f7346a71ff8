"""Orders, payments and tickets (the sale)."""
