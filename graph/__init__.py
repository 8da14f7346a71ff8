"""Marquee's GraphQL layer: schema, resolvers, loaders, the ASGI app and the CLI."""
