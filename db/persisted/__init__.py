"""Persisted queries: GraphQL documents by the SHA-256 of their text, learned through
Apollo's automatic persisted queries or registered as an allow-list
(docs/persisted-queries.md)."""
