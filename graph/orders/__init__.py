"""Orders in GraphQL: checkout, payment, tickets, cancellation, check-in (docs/orders.md)."""
