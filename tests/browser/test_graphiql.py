"""GraphiQL at /graphql in headless Chromium with the network limited to 127.0.0.1: the
page loads from Marquee's own files, runs the walkthrough's operations (a query, the
sign-in) and a subscription over WebSocket that signs in with the Headers tab's
Authorization and sees a seat held over HTTP; the explorer plugin opens."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from graphql import OperationDefinitionNode, parse, print_ast
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from db.session import Database
from graph.app import create_app
from graph.relay import to_global_id
from graph.settings import Settings
from graph.web.graphiql import WALKTHROUGH
from tests.factories import create_bookable_showtime, create_user
from tests.realtime.conftest import hold_over_http
from tests.realtime.harness import serve_in_process

QUERY_EDITOR = ".graphiql-query-editor .CodeMirror"
VARIABLES_EDITOR = ".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror"
RESULT = ".result-window .CodeMirror"


def walkthrough_step(name: str) -> str:
    """One operation of the walkthrough tab, as the page's default text has it."""
    for definition in parse(WALKTHROUGH.read_text()).definitions:
        named = isinstance(definition, OperationDefinitionNode) and definition.name
        if named and definition.name.value == name:
            return print_ast(definition)
    raise AssertionError(f"no operation {name} in the walkthrough")


@pytest.fixture
async def live_url(committed_db: Database, settings: Settings) -> AsyncIterator[str]:
    app = create_app(settings.model_copy(update={"hold_ttl_seconds": 600}), database=committed_db)
    async with serve_in_process(app) as url:
        await app.state.marquee.services["seat_hub"].connected.wait()
        yield url


async def editor_text(page: Any, selector: str) -> str:
    text: str = await page.eval_on_selector(selector, "el => el.CodeMirror.getValue()")
    return text


async def set_editor(page: Any, selector: str, text: str) -> None:
    await page.eval_on_selector(selector, "(el, text) => el.CodeMirror.setValue(text)", text)


async def open_tool(page: Any, name: str) -> None:
    """Show the Variables or Headers editor under the query editor."""
    await page.get_by_role("button", name=name, exact=True).click()


async def run(page: Any, query: str, variables: dict[str, Any] | None = None) -> None:
    """Run `query` (one named operation) from the editor. GraphiQL takes the operation name
    from the editor 100 ms after a change (debounced) and stores it: clicking before then
    sent the new document with the previous operation's name (CI failed so, twice)."""
    [operation] = [d for d in parse(query).definitions if isinstance(d, OperationDefinitionNode)]
    assert operation.name is not None
    await set_editor(page, QUERY_EDITOR, query)
    await page.wait_for_function(
        "name => localStorage.getItem('graphiql:operationName') === name",
        arg=operation.name.value,
        timeout=5_000,
    )
    await open_tool(page, "Variables")
    await set_editor(page, VARIABLES_EDITOR, json.dumps(variables or {}))
    await page.locator(".graphiql-execute-button").click()


async def set_headers(page: Any, headers: dict[str, str]) -> None:
    await open_tool(page, "Headers")
    await set_editor(page, VARIABLES_EDITOR, json.dumps(headers))


async def result_containing(page: Any, text: str) -> dict[str, Any]:
    """The result pane's JSON once it contains `text` (on a timeout, the failure says what
    the pane and the query editor held: CI failed here once, and neither was known)."""
    try:
        await page.wait_for_function(
            "([selector, text]) => {"
            " const el = document.querySelector(selector);"
            " return el && el.CodeMirror.getValue().includes(text); }",
            arg=[RESULT, text],
            timeout=15_000,
        )
    except PlaywrightTimeoutError as timeout:
        shown = await page.eval_on_selector(RESULT, "el => el.CodeMirror.getValue()")
        query = await editor_text(page, QUERY_EDITOR)
        message = f"{text!r} not in the result pane: {shown!r}\nquery: {query!r}"
        raise AssertionError(message) from timeout
    result: dict[str, Any] = json.loads(await editor_text(page, RESULT))
    return result


async def test_graphiql_offline_query_login_and_subscription(
    live_url: str, committed_db: Database, offline_context: Any, screenshots: Path
) -> None:
    # The walkthrough signs in as the demo user alice: the same account, made here.
    await create_user(committed_db, username="alice", password="marquee-demo")
    showtime = await create_bookable_showtime(committed_db)
    showtime_gid = to_global_id("Showtime", showtime.id)

    context = await offline_context()
    page = await context.new_page()
    response = await page.goto(f"{live_url}/graphql")
    assert response.status == 200
    await page.wait_for_selector(QUERY_EDITOR)

    # The default tab: the walkthrough, and an Authorization header waiting for a token.
    assert "mutation SignIn" in await editor_text(page, QUERY_EDITOR)
    await open_tool(page, "Headers")
    headers = json.loads(await editor_text(page, VARIABLES_EDITOR))
    assert headers == {"Authorization": "Bearer "}

    # A query with the default headers as they are: anonymous, no error.
    await run(page, walkthrough_step("Showtimes"))
    result = await result_containing(page, showtime_gid)
    assert "errors" not in result, result
    ids = [edge["node"]["id"] for edge in result["data"]["showtimes"]["edges"]]
    assert ids == [showtime_gid]

    # Sign in with the walkthrough's mutation; its token goes into the Headers tab.
    await run(page, walkthrough_step("SignIn"))
    result = await result_containing(page, "accessToken")
    login = result["data"]["login"]
    assert login["errors"] == [], login
    assert login["user"] == {"username": "alice"}
    token = login["accessToken"]

    # The WebSocket signs in with the header: an invalid token is refused (4403)...
    await set_headers(page, {"Authorization": "Bearer not-a-token"})
    subscription = walkthrough_step("SeatAvailability")
    await run(page, subscription, {"showtimeId": showtime_gid})
    result = await result_containing(page, "4403")
    assert "data" not in result, result

    # ...and after the header changes, the next subscription uses the new one.
    await set_headers(page, {"Authorization": f"Bearer {token}"})
    await run(page, subscription, {"showtimeId": showtime_gid})
    snapshot = await result_containing(page, '"snapshot": true')
    event = snapshot["data"]["seatAvailability"]
    assert event["availableSeatCount"] == len(showtime.seat_ids)
    assert {seat["status"] for seat in event["seats"]} == {"AVAILABLE"}

    # A seat held over HTTP arrives as the next event, while the subscription runs.
    held = showtime.seat_ids[0]
    payload = await hold_over_http(live_url, token, showtime.id, [held])
    assert payload["errors"] == [], payload
    change = await result_containing(page, '"snapshot": false')
    event = change["data"]["seatAvailability"]
    assert event["seats"] == [{"seatId": to_global_id("Seat", held), "status": "HELD"}]
    assert event["availableSeatCount"] == len(showtime.seat_ids) - 1
    await page.screenshot(path=str(screenshots / "graphiql-subscription.png"))

    assert context.foreign == []
    assert context.errors == []


async def test_graphiql_explorer_plugin_opens(
    live_url: str, offline_context: Any, screenshots: Path
) -> None:
    context = await offline_context()
    page = await context.new_page()
    await page.goto(f"{live_url}/graphql")
    await page.wait_for_selector(QUERY_EDITOR)
    await page.get_by_role("button", name="Show GraphiQL Explorer").click()
    explorer = page.locator(".graphiql-explorer-root")
    await explorer.wait_for()
    # The explorer lists the schema's root fields once the introspection has arrived.
    await explorer.get_by_text("showtimes", exact=True).first.wait_for()
    await page.screenshot(path=str(screenshots / "graphiql-explorer.png"))
    assert context.foreign == []
    assert context.errors == []
