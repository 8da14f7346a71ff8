"""GraphQL layer of cinemas and halls."""
