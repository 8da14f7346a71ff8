"""Marquee's database layer: models, sessions, embedded PostgreSQL and domain actions."""
