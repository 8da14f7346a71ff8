"""GraphQL layer of the sale: orders, payments and tickets."""
