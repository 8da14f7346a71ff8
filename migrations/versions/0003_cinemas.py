"""cinemas: cinemas, halls, seats, showtimes, prices; seat holds and seat occupancy

Revision ID: 0003_cinemas
Revises: 0002_catalog
Create Date: 2026-11-22
"""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003_cinemas"
down_revision: str | None = "0002_catalog"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEAT_TYPE_CHECK = "seat_type IN ('STANDARD', 'PREMIUM', 'VIP', 'ACCESSIBLE')"


def _timestamps() -> list[sa.Column[datetime]]:
    return [
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "cinemas",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("latitude", sa.Double(), nullable=False),
        sa.Column("longitude", sa.Double(), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("opens_at", sa.Time(), nullable=True),
        sa.Column("closes_at", sa.Time(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default="true", nullable=False),
        *_timestamps(),
        sa.CheckConstraint("latitude BETWEEN -90 AND 90", name=op.f("ck_cinemas_latitude")),
        sa.CheckConstraint("longitude BETWEEN -180 AND 180", name=op.f("ck_cinemas_longitude")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cinemas")),
    )
    op.create_index(op.f("ix_cinemas_city"), "cinemas", ["city"])

    op.create_table(
        "halls",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("cinema_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("screen_type", sa.String(length=32), server_default="STANDARD", nullable=False),
        sa.Column("sound_system", sa.String(length=64), nullable=True),
        sa.Column("cleaning_minutes", sa.Integer(), server_default="15", nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default="true", nullable=False),
        *_timestamps(),
        sa.CheckConstraint("cleaning_minutes >= 0", name=op.f("ck_halls_cleaning_minutes")),
        sa.ForeignKeyConstraint(
            ["cinema_id"],
            ["cinemas.id"],
            name=op.f("fk_halls_cinema_id_cinemas"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_halls")),
        sa.UniqueConstraint("cinema_id", "name", name=op.f("uq_halls_cinema_id_name")),
    )
    op.create_index(op.f("ix_halls_cinema_id"), "halls", ["cinema_id"])

    op.create_table(
        "seats",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("hall_id", sa.BigInteger(), nullable=False),
        sa.Column("row_label", sa.String(length=8), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("seat_type", sa.String(length=16), server_default="STANDARD", nullable=False),
        sa.Column("x", sa.Integer(), nullable=False),
        sa.Column("y", sa.Integer(), nullable=False),
        sa.Column("is_blocked", sa.Boolean(), server_default="false", nullable=False),
        sa.CheckConstraint(SEAT_TYPE_CHECK, name=op.f("ck_seats_seat_type")),
        sa.CheckConstraint("number > 0", name=op.f("ck_seats_number")),
        sa.ForeignKeyConstraint(
            ["hall_id"], ["halls.id"], name=op.f("fk_seats_hall_id_halls"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seats")),
        sa.UniqueConstraint(
            "hall_id", "row_label", "number", name=op.f("uq_seats_hall_id_row_label_number")
        ),
    )

    op.create_table(
        "showtimes",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("movie_id", sa.BigInteger(), nullable=False),
        sa.Column("hall_id", sa.BigInteger(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("format", sa.String(length=16), server_default="2D", nullable=False),
        sa.Column("language", sa.String(length=32), nullable=False),
        sa.Column("subtitles", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="SCHEDULED", nullable=False),
        sa.Column("seat_sequence", sa.BigInteger(), server_default="0", nullable=False),
        *_timestamps(),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_showtimes_ends_after_start")),
        sa.CheckConstraint(
            "status IN ('SCHEDULED', 'CANCELLED')", name=op.f("ck_showtimes_status")
        ),
        sa.ForeignKeyConstraint(
            ["hall_id"], ["halls.id"], name=op.f("fk_showtimes_hall_id_halls"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["movie_id"],
            ["movies.id"],
            name=op.f("fk_showtimes_movie_id_movies"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_showtimes")),
        postgresql.ExcludeConstraint(
            (sa.column("hall_id"), "="),
            (sa.text("tstzrange(starts_at, ends_at)"), "&&"),
            where=sa.text("status = 'SCHEDULED'"),
            using="gist",
            name="ex_showtimes_hall_no_overlap",
        ),
    )
    op.create_index(op.f("ix_showtimes_movie_id"), "showtimes", ["movie_id"])
    op.create_index(op.f("ix_showtimes_hall_id"), "showtimes", ["hall_id"])
    op.create_index("ix_showtimes_starts_at", "showtimes", ["starts_at"])

    op.create_table(
        "showtime_prices",
        sa.Column("showtime_id", sa.BigInteger(), nullable=False),
        sa.Column("seat_type", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.Numeric(10, 2), nullable=False),
        sa.Column("currency", sa.String(length=3), server_default="USD", nullable=False),
        sa.CheckConstraint(SEAT_TYPE_CHECK, name=op.f("ck_showtime_prices_seat_type")),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_showtime_prices_amount")),
        sa.ForeignKeyConstraint(
            ["showtime_id"],
            ["showtimes.id"],
            name=op.f("fk_showtime_prices_showtime_id_showtimes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("showtime_id", "seat_type", name=op.f("pk_showtime_prices")),
    )

    op.create_table(
        "seat_holds",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("showtime_id", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_seat_holds_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["showtime_id"],
            ["showtimes.id"],
            name=op.f("fk_seat_holds_showtime_id_showtimes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seat_holds")),
    )
    op.create_index(op.f("ix_seat_holds_user_id"), "seat_holds", ["user_id"])
    op.create_index(op.f("ix_seat_holds_showtime_id"), "seat_holds", ["showtime_id"])
    op.create_index(op.f("ix_seat_holds_expires_at"), "seat_holds", ["expires_at"])

    op.create_table(
        "seat_occupancy",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("showtime_id", sa.BigInteger(), nullable=False),
        sa.Column("seat_id", sa.BigInteger(), nullable=False),
        sa.Column("hold_id", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint("status IN ('HELD', 'SOLD')", name=op.f("ck_seat_occupancy_status")),
        sa.ForeignKeyConstraint(
            ["showtime_id"],
            ["showtimes.id"],
            name=op.f("fk_seat_occupancy_showtime_id_showtimes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["seat_id"],
            ["seats.id"],
            name=op.f("fk_seat_occupancy_seat_id_seats"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["hold_id"],
            ["seat_holds.id"],
            name=op.f("fk_seat_occupancy_hold_id_seat_holds"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seat_occupancy")),
        sa.UniqueConstraint(
            "showtime_id", "seat_id", name=op.f("uq_seat_occupancy_showtime_id_seat_id")
        ),
    )
    op.create_index(op.f("ix_seat_occupancy_seat_id"), "seat_occupancy", ["seat_id"])
    op.create_index(op.f("ix_seat_occupancy_hold_id"), "seat_occupancy", ["hold_id"])


def downgrade() -> None:
    op.drop_table("seat_occupancy")
    op.drop_table("seat_holds")
    op.drop_table("showtime_prices")
    op.drop_table("showtimes")
    op.drop_table("seats")
    op.drop_table("halls")
    op.drop_table("cinemas")
