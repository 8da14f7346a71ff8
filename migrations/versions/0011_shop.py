"""shop: products, promo codes, presale waves, pages

Revision ID: 0011_shop
Revises: 0010_payment_functions
Create Date: 2026-12-03 12:09:05.662829
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_shop"
down_revision: str | None = "0010_payment_functions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pages",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("slug", sa.String(length=100), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.Column("is_published", sa.Boolean(), server_default="false", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'", name=op.f("ck_pages_slug")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pages")),
        sa.UniqueConstraint("slug", name=op.f("uq_pages_slug")),
    )
    op.create_table(
        "products",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("price", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("image_url", sa.String(length=500), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("size_guide", sa.Text(), nullable=True),
        sa.Column("care_instructions", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "category IN ('SNACK', 'DRINK', 'COMBO', 'MERCHANDISE')",
            name=op.f("ck_products_category"),
        ),
        sa.CheckConstraint("price >= 0", name=op.f("ck_products_price")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
        sa.UniqueConstraint("sku", name=op.f("uq_products_sku")),
    )
    op.create_index("ix_products_category_name", "products", ["category", "name"], unique=False)
    op.create_table(
        "promo_codes",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("percent_off", sa.Numeric(precision=5, scale=2), nullable=True),
        sa.Column("amount_off", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("usage_limit", sa.Integer(), nullable=True),
        sa.Column("per_user_limit", sa.Integer(), nullable=True),
        sa.Column(
            "minimum_order_amount",
            sa.Numeric(precision=12, scale=2),
            server_default="0",
            nullable=False,
        ),
        sa.Column("applies_to", sa.String(length=16), server_default="ORDER", nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("times_used", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "applies_to IN ('ORDER', 'TICKETS', 'PRODUCTS')", name=op.f("ck_promo_codes_applies_to")
        ),
        sa.CheckConstraint(
            "(percent_off IS NULL) <> (amount_off IS NULL)",
            name=op.f("ck_promo_codes_one_discount"),
        ),
        sa.CheckConstraint("amount_off > 0", name=op.f("ck_promo_codes_amount_off")),
        sa.CheckConstraint(
            "minimum_order_amount >= 0", name=op.f("ck_promo_codes_minimum_order_amount")
        ),
        sa.CheckConstraint(
            "per_user_limit IS NULL OR per_user_limit >= 1",
            name=op.f("ck_promo_codes_per_user_limit"),
        ),
        sa.CheckConstraint(
            "percent_off > 0 AND percent_off <= 100", name=op.f("ck_promo_codes_percent_off")
        ),
        sa.CheckConstraint(
            "times_used >= 0 AND (usage_limit IS NULL OR times_used <= usage_limit)",
            name=op.f("ck_promo_codes_times_used"),
        ),
        sa.CheckConstraint(
            "usage_limit IS NULL OR usage_limit >= 0", name=op.f("ck_promo_codes_usage_limit")
        ),
        sa.CheckConstraint(
            "valid_until IS NULL OR valid_from IS NULL OR valid_until > valid_from",
            name=op.f("ck_promo_codes_validity"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promo_codes")),
    )
    op.create_index(
        "uq_promo_codes_code_lower", "promo_codes", [sa.literal_column("lower(code)")], unique=True
    )
    op.create_table(
        "product_cinemas",
        sa.Column("product_id", sa.BigInteger(), nullable=False),
        sa.Column("cinema_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cinema_id"],
            ["cinemas.id"],
            name=op.f("fk_product_cinemas_cinema_id_cinemas"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_product_cinemas_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("product_id", "cinema_id", name=op.f("pk_product_cinemas")),
    )
    op.create_index(
        op.f("ix_product_cinemas_cinema_id"), "product_cinemas", ["cinema_id"], unique=False
    )
    op.create_table(
        "product_variants",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("product_id", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.Integer(), server_default="0", nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column(
            "price_delta", sa.Numeric(precision=12, scale=2), server_default="0", nullable=False
        ),
        sa.Column("stock", sa.Integer(), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default="true", nullable=False),
        sa.CheckConstraint("stock IS NULL OR stock >= 0", name=op.f("ck_product_variants_stock")),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_product_variants_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product_variants")),
        sa.UniqueConstraint("sku", name=op.f("uq_product_variants_sku")),
    )
    op.create_index(
        "ix_product_variants_product", "product_variants", ["product_id", "position"], unique=False
    )
    op.create_table(
        "promo_code_movies",
        sa.Column("promo_code_id", sa.BigInteger(), nullable=False),
        sa.Column("movie_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["movie_id"],
            ["movies.id"],
            name=op.f("fk_promo_code_movies_movie_id_movies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["promo_code_id"],
            ["promo_codes.id"],
            name=op.f("fk_promo_code_movies_promo_code_id_promo_codes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("promo_code_id", "movie_id", name=op.f("pk_promo_code_movies")),
    )
    op.create_table(
        "promo_code_products",
        sa.Column("promo_code_id", sa.BigInteger(), nullable=False),
        sa.Column("product_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_promo_code_products_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["promo_code_id"],
            ["promo_codes.id"],
            name=op.f("fk_promo_code_products_promo_code_id_promo_codes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("promo_code_id", "product_id", name=op.f("pk_promo_code_products")),
    )
    op.create_table(
        "presale_waves",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("showtime_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("opens_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("audience", sa.String(length=20), nullable=False),
        sa.Column("min_loyalty_points", sa.Integer(), nullable=True),
        sa.Column("promo_code_id", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "(audience = 'LOYALTY_MEMBERS' AND min_loyalty_points IS NOT NULL AND min_loyalty_points >= 0 AND promo_code_id IS NULL) OR (audience = 'PROMO_CODE' AND promo_code_id IS NOT NULL AND min_loyalty_points IS NULL)",
            name=op.f("ck_presale_waves_audience_rule"),
        ),
        sa.CheckConstraint(
            "audience IN ('LOYALTY_MEMBERS', 'PROMO_CODE')", name=op.f("ck_presale_waves_audience")
        ),
        sa.ForeignKeyConstraint(
            ["promo_code_id"],
            ["promo_codes.id"],
            name=op.f("fk_presale_waves_promo_code_id_promo_codes"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["showtime_id"],
            ["showtimes.id"],
            name=op.f("fk_presale_waves_showtime_id_showtimes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_presale_waves")),
    )
    op.create_index(
        "ix_presale_waves_showtime", "presale_waves", ["showtime_id", "opens_at"], unique=False
    )
    op.add_column("order_lines", sa.Column("product_id", sa.BigInteger(), nullable=True))
    op.add_column("order_lines", sa.Column("variant_id", sa.BigInteger(), nullable=True))
    op.create_index(op.f("ix_order_lines_product_id"), "order_lines", ["product_id"], unique=False)
    op.create_foreign_key(
        op.f("fk_order_lines_variant_id_product_variants"),
        "order_lines",
        "product_variants",
        ["variant_id"],
        ["id"],
        ondelete="RESTRICT",
    )
    op.create_foreign_key(
        op.f("fk_order_lines_product_id_products"),
        "order_lines",
        "products",
        ["product_id"],
        ["id"],
        ondelete="RESTRICT",
    )
    op.create_check_constraint(
        op.f("ck_order_lines_product_line"),
        "order_lines",
        "kind <> 'PRODUCT' OR (product_id IS NOT NULL AND variant_id IS NOT NULL)",
    )
    op.create_check_constraint(
        op.f("ck_order_lines_discount_within_line"),
        "order_lines",
        "discount <= unit_price * quantity",
    )
    op.add_column("orders", sa.Column("paid_on", sa.Date(), nullable=True))
    op.add_column("orders", sa.Column("refunded_on", sa.Date(), nullable=True))
    op.add_column(
        "orders", sa.Column("ticket_count", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column(
        "orders", sa.Column("product_count", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column("orders", sa.Column("promo_code_id", sa.BigInteger(), nullable=True))
    op.create_index(
        "ix_orders_paid_on",
        "orders",
        ["paid_on"],
        unique=False,
        postgresql_where=sa.text("paid_on IS NOT NULL"),
    )
    op.create_index(
        "ix_orders_promo_code_user",
        "orders",
        ["promo_code_id", "user_id"],
        unique=False,
        postgresql_where=sa.text("promo_code_id IS NOT NULL"),
    )
    op.create_index(
        "ix_orders_refunded_on",
        "orders",
        ["refunded_on"],
        unique=False,
        postgresql_where=sa.text("refunded_on IS NOT NULL"),
    )
    op.create_foreign_key(
        op.f("fk_orders_promo_code_id_promo_codes"),
        "orders",
        "promo_codes",
        ["promo_code_id"],
        ["id"],
        ondelete="RESTRICT",
    )
    op.add_column(
        "showtimes", sa.Column("sales_open_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("showtimes", "sales_open_at")
    op.drop_constraint(op.f("fk_orders_promo_code_id_promo_codes"), "orders", type_="foreignkey")
    op.drop_index(
        "ix_orders_refunded_on",
        table_name="orders",
        postgresql_where=sa.text("refunded_on IS NOT NULL"),
    )
    op.drop_index(
        "ix_orders_promo_code_user",
        table_name="orders",
        postgresql_where=sa.text("promo_code_id IS NOT NULL"),
    )
    op.drop_index(
        "ix_orders_paid_on", table_name="orders", postgresql_where=sa.text("paid_on IS NOT NULL")
    )
    op.drop_column("orders", "promo_code_id")
    op.drop_column("orders", "product_count")
    op.drop_column("orders", "ticket_count")
    op.drop_column("orders", "refunded_on")
    op.drop_column("orders", "paid_on")
    op.drop_constraint(op.f("ck_order_lines_discount_within_line"), "order_lines", type_="check")
    op.drop_constraint(op.f("ck_order_lines_product_line"), "order_lines", type_="check")
    op.drop_constraint(
        op.f("fk_order_lines_product_id_products"), "order_lines", type_="foreignkey"
    )
    op.drop_constraint(
        op.f("fk_order_lines_variant_id_product_variants"), "order_lines", type_="foreignkey"
    )
    op.drop_index(op.f("ix_order_lines_product_id"), table_name="order_lines")
    op.drop_column("order_lines", "variant_id")
    op.drop_column("order_lines", "product_id")
    op.drop_index("ix_presale_waves_showtime", table_name="presale_waves")
    op.drop_table("presale_waves")
    op.drop_table("promo_code_products")
    op.drop_table("promo_code_movies")
    op.drop_index("ix_product_variants_product", table_name="product_variants")
    op.drop_table("product_variants")
    op.drop_index(op.f("ix_product_cinemas_cinema_id"), table_name="product_cinemas")
    op.drop_table("product_cinemas")
    op.drop_index("uq_promo_codes_code_lower", table_name="promo_codes")
    op.drop_table("promo_codes")
    op.drop_index("ix_products_category_name", table_name="products")
    op.drop_table("products")
    op.drop_table("pages")
