"""The pages table: Markdown by slug, rendered and sanitized once when written."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Identity, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, Timestamps


class Page(Timestamps, Base):
    __tablename__ = "pages"
    __table_args__ = (CheckConstraint("slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'", name="slug"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True, nullable=False)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    # body rendered by markdown-it-py and sanitized by nh3 (db/pages/render.py).
    body_html: Mapped[str] = mapped_column(Text, nullable=False)
    is_published: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
