"""Demo pages: published house rules, FAQ and refund policy; the refund policy quotes the
cancellation cutoff the server is configured with."""

from __future__ import annotations

import random

import pytest

from db import demo
from db.demo import pages as pages_demo
from db.demo.config import DemoSettings
from db.session import Database
from graph.settings import Settings
from tests.conftest import GraphQLClient

DEMO_PAGES = """
query { pages(first: 10) { totalCount edges { node { slug title isPublished } } } }
"""
REFUND_POLICY = """
query { page(slug: "refund-policy") { title body bodyHtml isPublished } }
"""


async def _seed(db: Database, settings: DemoSettings) -> None:
    async with db.transaction() as session:
        await pages_demo.seed(session, random.Random(1), [], settings)


@pytest.mark.parametrize(("cutoff", "quoted"), [(90, "90 minutes"), (1, "1 minute")])
async def test_demo_pages_quote_the_cutoff(
    gql: GraphQLClient, db: Database, cutoff: int, quoted: str
) -> None:
    await _seed(db, DemoSettings(cancellation_cutoff_minutes=cutoff))
    listed = (await gql.execute(DEMO_PAGES))["pages"]  # anonymous: published ones only
    assert sorted((e["node"]["slug"], e["node"]["title"]) for e in listed["edges"]) == [
        ("faq", "FAQ"),
        ("house-rules", "House rules"),
        ("refund-policy", "Refund policy"),
    ]
    assert all(e["node"]["isPublished"] for e in listed["edges"])
    page = (await gql.execute(REFUND_POLICY))["page"]
    assert f"**{quoted} before the\nshowtime starts**" in page["body"]
    assert f"<strong>{quoted} before the\nshowtime starts</strong>" in page["bodyHtml"]
    assert "60 minutes" not in page["body"]


async def test_seeding_again_adds_nothing(gql: GraphQLClient, db: Database) -> None:
    await _seed(db, DemoSettings())
    await _seed(db, DemoSettings(cancellation_cutoff_minutes=5))
    assert (await gql.execute(DEMO_PAGES))["pages"]["totalCount"] == 3
    assert "60 minutes" in (await gql.execute(REFUND_POLICY))["page"]["body"]


def test_demo_defaults_are_the_settings_defaults() -> None:
    # `marquee seed` passes the configured value; without one the demo quotes the default.
    default = Settings.model_fields["cancellation_cutoff_minutes"].default
    assert DemoSettings().cancellation_cutoff_minutes == default
    assert pages_demo.seed in demo.SETTINGS_SEEDERS
