"""Pages: the cinema chain's own Markdown pages, by slug (docs/shop.md, "Pages")."""
