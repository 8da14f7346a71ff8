"""Pages through the real ASGI app: rendering on write, visibility by role, the staff
mutations and every error code."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from sqlalchemy import text

from db.errors import DomainError
from db.pages import actions
from db.session import Database
from graph.relay import to_global_id
from tests.conftest import GraphQLClient
from tests.factories import create_user

PAGE = """
query ($slug: String!) {
  page(slug: $slug) { id slug title body bodyHtml isPublished createdAt updatedAt }
}
"""
PAGES = """
query ($first: Int, $after: String) {
  pages(first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { slug title isPublished } }
  }
}
"""
NODE = """
query ($id: ID!) { node(id: $id) { id ... on Page { slug isPublished } } }
"""
CREATE = """
mutation ($input: CreatePageInput!) {
  createPage(input: $input) {
    page { id slug title body bodyHtml isPublished }
    errors { code field message }
  }
}
"""
UPDATE = """
mutation ($input: UpdatePageInput!) {
  updatePage(input: $input) {
    page { id slug title body bodyHtml isPublished }
    errors { code field message }
  }
}
"""
DELETE = """
mutation ($input: DeletePageInput!) {
  deletePage(input: $input) { deletedPageId page { id slug } errors { code field message } }
}
"""


async def _page(db: Database, slug: str, *, published: bool = True, title: str = "") -> str:
    """A page written through the action; its global ID."""
    async with db.transaction() as session:
        row = await actions.create_page(
            session,
            slug=slug,
            title=title or slug.title(),
            body=f"# {slug}",
            is_published=published,
        )
    return to_global_id("Page", row.id)


async def _staff(gql: GraphQLClient, db: Database, role: str = "MANAGER") -> str:
    return gql.token_for(await create_user(db, role=role))


async def _count(db: Database) -> int:
    return int(await db.scalar(text("SELECT count(*) FROM pages")))


def _codes(payload: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(e["code"], e["field"]) for e in payload["errors"]]


# --- create, render --------------------------------------------------------------------------


async def test_create_renders_and_sanitizes_once(gql: GraphQLClient, db: Database) -> None:
    body = (
        "# House rules\n\n- no phones\n- no recording\n\n"
        "See [the FAQ](/pages/faq) and `code`.\n\n```\nx = 1\n```\n\n"
        "<script>alert(1)</script> <img src=x onerror=alert(1)> [x](javascript:alert(1))"
    )
    token = await _staff(gql, db)
    payload = (
        await gql.execute(
            CREATE,
            {"input": {"slug": "house-rules", "title": "House rules", "body": body}},
            token=token,
        )
    )["createPage"]
    assert payload["errors"] == []
    page = payload["page"]
    assert page["slug"] == "house-rules"
    assert page["body"] == body  # the Markdown, as written
    assert page["isPublished"] is False  # the default
    html = page["bodyHtml"]
    assert "<h1>House rules</h1>" in html
    assert "<li>no phones</li>" in html
    assert '<a href="/pages/faq" rel="noopener noreferrer">the FAQ</a>' in html
    assert "<code>code</code>" in html
    assert "<pre><code>x = 1\n</code></pre>" in html
    assert "<script" not in html
    assert "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'href="javascript' not in html
    assert "[x](javascript:alert(1))" in html  # not a link: left as text

    # Stored once: reading it back gives the same HTML.
    stored = await db.scalar(text("SELECT body_html FROM pages WHERE slug = 'house-rules'"))
    assert stored == html
    read = (await gql.execute(PAGE, {"slug": "house-rules"}, token=token))["page"]
    assert read["bodyHtml"] == html
    assert read["id"] == page["id"]


async def test_a_slow_render_leaves_other_requests_answered(
    gql: GraphQLClient, db: Database
) -> None:
    """markdown-it-py takes time quadratic in some texts (100,000 characters of `![`: about
    1.5 s here). The render runs on a thread of its own, so a request sent while it runs is
    answered at once; on the event loop it would wait for the render to end."""
    token = await _staff(gql, db)
    body = "![" * 50_000
    answered: dict[str, float] = {}  # seconds from the start until each answer
    start = time.perf_counter()

    async def create() -> dict[str, Any]:
        variables = {"input": {"slug": "slow", "title": "Slow", "body": body}}
        payload: dict[str, Any] = (await gql.execute(CREATE, variables, token=token))["createPage"]
        answered["create"] = time.perf_counter() - start
        return payload

    async def meanwhile() -> None:
        await asyncio.sleep(0.2)  # the create is rendering by now
        assert await gql.execute("{ __typename }") == {"__typename": "Query"}
        answered["meanwhile"] = time.perf_counter() - start

    payload, _ = await asyncio.gather(create(), meanwhile())
    assert payload["errors"] == []
    assert payload["page"]["body"] == body
    assert payload["page"]["bodyHtml"].startswith("<p>![![")
    # Relative, so that a slower machine does not matter: the request sent 0.2 s in was
    # answered early in the create, not when its render ended.
    assert answered["create"] > 0.8, answered
    assert answered["meanwhile"] < answered["create"] / 2, answered


async def test_slug_and_title_are_trimmed(gql: GraphQLClient, db: Database) -> None:
    token = await _staff(gql, db, "ADMIN")
    payload = (
        await gql.execute(
            CREATE,
            {"input": {"slug": " faq ", "title": "  FAQ ", "body": "", "isPublished": True}},
            token=token,
        )
    )["createPage"]
    assert payload["errors"] == []
    assert (payload["page"]["slug"], payload["page"]["title"]) == ("faq", "FAQ")
    assert payload["page"]["bodyHtml"] == ""


# --- visibility ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [None, "CUSTOMER"])
async def test_others_see_published_pages_only(
    gql: GraphQLClient, db: Database, role: str | None
) -> None:
    published = await _page(db, "faq", title="FAQ")
    draft = await _page(db, "draft", published=False, title="Draft")
    token = gql.token_for(await create_user(db, role=role)) if role else None

    assert (await gql.execute(PAGE, {"slug": "faq"}, token=token))["page"]["isPublished"]
    assert (await gql.execute(PAGE, {"slug": "draft"}, token=token))["page"] is None
    assert (await gql.execute(PAGE, {"slug": "no-such-page"}, token=token))["page"] is None
    listed = (await gql.execute(PAGES, token=token))["pages"]
    assert listed["totalCount"] == 1
    assert [e["node"]["slug"] for e in listed["edges"]] == ["faq"]
    assert (await gql.execute(NODE, {"id": published}, token=token))["node"] == {
        "id": published,
        "slug": "faq",
        "isPublished": True,
    }
    assert (await gql.execute(NODE, {"id": draft}, token=token))["node"] is None


@pytest.mark.parametrize("role", ["MANAGER", "ADMIN"])
async def test_staff_see_every_page(gql: GraphQLClient, db: Database, role: str) -> None:
    await _page(db, "faq", title="FAQ")
    draft = await _page(db, "draft", published=False, title="Draft")
    token = await _staff(gql, db, role)

    assert (await gql.execute(PAGE, {"slug": "draft"}, token=token))["page"]["isPublished"] is False
    listed = (await gql.execute(PAGES, token=token))["pages"]
    assert listed["totalCount"] == 2
    # By title.
    assert [(e["node"]["slug"], e["node"]["isPublished"]) for e in listed["edges"]] == [
        ("draft", False),
        ("faq", True),
    ]
    assert (await gql.execute(NODE, {"id": draft}, token=token))["node"]["slug"] == "draft"


async def test_pages_is_a_connection(gql: GraphQLClient, db: Database) -> None:
    for n in range(5):
        await _page(db, f"page-{n}", title=f"Page {n}")
    first = (await gql.execute(PAGES, {"first": 2}))["pages"]
    assert [e["node"]["slug"] for e in first["edges"]] == ["page-0", "page-1"]
    assert first["totalCount"] == 5
    assert first["pageInfo"]["hasNextPage"] is True
    rest = (await gql.execute(PAGES, {"first": 10, "after": first["pageInfo"]["endCursor"]}))[
        "pages"
    ]
    assert [e["node"]["slug"] for e in rest["edges"]] == ["page-2", "page-3", "page-4"]
    assert rest["pageInfo"]["hasNextPage"] is False
    body = await gql.raw(PAGES, {"first": 101})
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_odd_slugs_find_nothing(gql: GraphQLClient, db: Database) -> None:
    await _page(db, "faq")
    for slug in ("", "FAQ", "faq ", "x" * 1000, "'; drop table pages; --"):
        assert (await gql.execute(PAGE, {"slug": slug}))["page"] is None


# --- who may write ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mutation", "make_input"),
    [
        (CREATE, lambda pid: {"slug": "x", "title": "X", "body": "x"}),
        (UPDATE, lambda pid: {"id": pid, "title": "Changed"}),
        (DELETE, lambda pid: {"id": pid}),
    ],
    ids=["create", "update", "delete"],
)
@pytest.mark.parametrize(("role", "code"), [(None, "UNAUTHENTICATED"), ("CUSTOMER", "FORBIDDEN")])
async def test_only_staff_write(
    gql: GraphQLClient,
    db: Database,
    mutation: str,
    make_input: Any,
    role: str | None,
    code: str,
) -> None:
    pid = await _page(db, "faq")
    token = gql.token_for(await create_user(db, role=role)) if role else None
    body = await gql.raw(mutation, {"input": make_input(pid)}, token=token)
    assert body["errors"][0]["extensions"]["code"] == code
    assert await _count(db) == 1
    assert (await gql.execute(PAGE, {"slug": "faq"}))["page"]["title"] == "Faq"


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("over", "errors"),
    [
        ({"slug": "Refund-Policy"}, [("VALIDATION_ERROR", "slug")]),
        ({"slug": "refund policy"}, [("VALIDATION_ERROR", "slug")]),
        ({"slug": "refund--policy"}, [("VALIDATION_ERROR", "slug")]),
        ({"slug": "-refund"}, [("VALIDATION_ERROR", "slug")]),
        ({"slug": "refund-"}, [("VALIDATION_ERROR", "slug")]),
        ({"slug": "refund_policy"}, [("VALIDATION_ERROR", "slug")]),
        ({"slug": "réfund"}, [("VALIDATION_ERROR", "slug")]),
        ({"slug": ""}, [("VALIDATION_ERROR", "slug")]),
        ({"slug": "a" * 101}, [("VALIDATION_ERROR", "slug")]),
        ({"title": ""}, [("VALIDATION_ERROR", "title")]),
        ({"title": "   "}, [("VALIDATION_ERROR", "title")]),
        ({"title": "t" * 201}, [("VALIDATION_ERROR", "title")]),
        ({"body": "b" * 100_001}, [("VALIDATION_ERROR", "body")]),
        (
            {"slug": "Bad", "title": "", "body": "b" * 100_001},
            [
                ("VALIDATION_ERROR", "slug"),
                ("VALIDATION_ERROR", "title"),
                ("VALIDATION_ERROR", "body"),
            ],
        ),
    ],
)
async def test_create_validation(
    gql: GraphQLClient, db: Database, over: dict[str, Any], errors: list[tuple[str, str]]
) -> None:
    token = await _staff(gql, db)
    data = {"slug": "refund-policy", "title": "Refund policy", "body": "Text", **over}
    payload = (await gql.execute(CREATE, {"input": data}, token=token))["createPage"]
    assert payload["page"] is None
    assert _codes(payload) == errors
    assert await _count(db) == 0


async def test_limits_are_inclusive(gql: GraphQLClient, db: Database) -> None:
    token = await _staff(gql, db)
    data = {"slug": "a" * 100, "title": "t" * 200, "body": "b" * 100_000}
    payload = (await gql.execute(CREATE, {"input": data}, token=token))["createPage"]
    assert payload["errors"] == []


@pytest.mark.parametrize(
    ("over", "errors"),
    [
        ({"slug": None}, [("VALIDATION_ERROR", "slug")]),
        ({"title": None}, [("VALIDATION_ERROR", "title")]),
        ({"body": None}, [("VALIDATION_ERROR", "body")]),
        ({"isPublished": None}, [("VALIDATION_ERROR", "isPublished")]),
        ({"slug": "Not A Slug"}, [("VALIDATION_ERROR", "slug")]),
        ({"id": "not-an-id"}, [("VALIDATION_ERROR", "id")]),
        ({"id": to_global_id("Movie", 1)}, [("VALIDATION_ERROR", "id")]),
        ({"id": to_global_id("Page", 2**62)}, [("NOT_FOUND", "id")]),
    ],
)
async def test_update_errors(
    gql: GraphQLClient, db: Database, over: dict[str, Any], errors: list[tuple[str, str]]
) -> None:
    pid = await _page(db, "faq")
    token = await _staff(gql, db)
    payload = (await gql.execute(UPDATE, {"input": {"id": pid, **over}}, token=token))["updatePage"]
    assert payload["page"] is None
    assert _codes(payload) == errors
    assert (await gql.execute(PAGE, {"slug": "faq"}, token=token))["page"]["title"] == "Faq"


# --- update, duplicates, delete --------------------------------------------------------------


async def test_update_changes_given_fields_and_rerenders(gql: GraphQLClient, db: Database) -> None:
    pid = await _page(db, "faq", published=False)
    token = await _staff(gql, db)
    payload = (
        await gql.execute(
            UPDATE, {"input": {"id": pid, "body": "## Tickets\n\n*Yes*."}}, token=token
        )
    )["updatePage"]
    assert payload["errors"] == []
    page = payload["page"]
    assert (page["id"], page["slug"], page["title"], page["isPublished"]) == (
        pid,
        "faq",
        "Faq",
        False,
    )
    assert page["bodyHtml"] == "<h2>Tickets</h2>\n<p><em>Yes</em>.</p>\n"

    payload = (
        await gql.execute(
            UPDATE,
            {"input": {"id": pid, "slug": "help", "title": "Help", "isPublished": True}},
            token=token,
        )
    )["updatePage"]
    assert payload["errors"] == []
    assert payload["page"]["bodyHtml"] == "<h2>Tickets</h2>\n<p><em>Yes</em>.</p>\n"
    assert (await gql.execute(PAGE, {"slug": "help"}))["page"]["title"] == "Help"
    assert (await gql.execute(PAGE, {"slug": "faq"}, token=token))["page"] is None

    # Unpublishing hides it again from everyone but staff.
    await gql.execute(UPDATE, {"input": {"id": pid, "isPublished": False}}, token=token)
    assert (await gql.execute(PAGE, {"slug": "help"}))["page"] is None
    assert (await gql.execute(NODE, {"id": pid}))["node"] is None


async def test_duplicate_slug_is_a_coded_error(gql: GraphQLClient, db: Database) -> None:
    token = await _staff(gql, db)
    await _page(db, "faq")
    other = await _page(db, "rules", published=False)
    payload = (
        await gql.execute(
            CREATE, {"input": {"slug": "faq", "title": "Again", "body": "x"}}, token=token
        )
    )["createPage"]
    assert payload["page"] is None
    assert _codes(payload) == [("ALREADY_EXISTS", "slug")]

    payload = (await gql.execute(UPDATE, {"input": {"id": other, "slug": "faq"}}, token=token))[
        "updatePage"
    ]
    assert _codes(payload) == [("ALREADY_EXISTS", "slug")]
    assert await _count(db) == 2

    # Keeping one's own slug is no conflict.
    payload = (await gql.execute(UPDATE, {"input": {"id": other, "slug": "rules"}}, token=token))[
        "updatePage"
    ]
    assert payload["errors"] == []


async def test_delete(gql: GraphQLClient, db: Database) -> None:
    pid = await _page(db, "faq")
    keep = await _page(db, "rules")
    token = await _staff(gql, db, "ADMIN")
    payload = (await gql.execute(DELETE, {"input": {"id": pid}}, token=token))["deletePage"]
    assert payload == {"deletedPageId": pid, "page": {"id": pid, "slug": "faq"}, "errors": []}
    assert (await gql.execute(PAGE, {"slug": "faq"}, token=token))["page"] is None
    assert (await gql.execute(NODE, {"id": pid}, token=token))["node"] is None
    assert (await gql.execute(NODE, {"id": keep}))["node"]["slug"] == "rules"

    again = (await gql.execute(DELETE, {"input": {"id": pid}}, token=token))["deletePage"]
    assert again["deletedPageId"] is None
    assert _codes(again) == [("NOT_FOUND", "id")]
    bad = (await gql.execute(DELETE, {"input": {"id": "%%%"}}, token=token))["deletePage"]
    assert _codes(bad) == [("VALIDATION_ERROR", "id")]
    assert await _count(db) == 1


# --- the unique constraint decides a race ----------------------------------------------------


async def test_racing_creates_one_wins_the_other_already_exists(committed_db: Database) -> None:
    """Both pass the slug check before either commits; the unique index blocks the second
    insert until the first commits, and its violation becomes ALREADY_EXISTS."""

    async def second() -> None:
        async with committed_db.transaction() as session:
            await actions.create_page(session, slug="faq", title="Second", body="2")

    async with committed_db.transaction() as session:
        await actions.create_page(session, slug="faq", title="First", body="1")
        task = asyncio.create_task(second())
        await asyncio.sleep(0.3)  # the second is now waiting on the unique index
        assert not task.done()
    with pytest.raises(DomainError) as caught:
        await asyncio.wait_for(task, 10)
    assert [(d.code, d.field) for d in caught.value.details] == [("ALREADY_EXISTS", "slug")]
    assert await committed_db.scalar(text("SELECT title FROM pages")) == "First"
