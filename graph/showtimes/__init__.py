"""GraphQL layer of showtimes and their seat maps."""
