"""Orders: checkout, tickets, cancellation and refunds (docs/orders.md)."""
