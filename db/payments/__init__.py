"""Payments: the provider interface, the sandbox provider and its webhooks (docs/orders.md)."""
