"""The password page (/account/password) in headless Chromium against a live in-process
server: ask for a link, open it, choose a password, sign in with it."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from pathlib import Path

import httpx

from db.session import Database
from graph.app import create_app
from graph.settings import Settings
from tests import factories
from tests.browser.conftest import OfflineContext
from tests.realtime.harness import serve_in_process

Opener = Callable[[], Awaitable[OfflineContext]]


async def _link_from_the_mail(settings: Settings) -> str:
    """The token of the link in the e-mail as delivered (the development transport writes
    `<data_dir>/outbox/<row id>.eml`); the sender runs every second in this app, and once
    it has sent the row, the outbox no longer holds the link."""
    for _ in range(100):
        for path in sorted((settings.data_dir / "outbox").glob("*.eml")):
            mail = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            assert isinstance(mail, EmailMessage)
            body = mail.get_body(preferencelist=("plain",))
            assert body is not None
            found = re.search(r"#token=([A-Za-z0-9_-]+)", body.get_content())
            if found and "erin@example.com" in str(mail["To"]):
                return found.group(1)
        await asyncio.sleep(0.1)
    raise AssertionError("no password e-mail was delivered")


async def test_ask_for_a_link_open_it_and_choose_a_password(
    committed_db: Database, settings: Settings, offline_context: Opener, screenshots: Path
) -> None:
    await factories.create_user(committed_db, username="erin", email="erin@example.com")
    app = create_app(settings, database=committed_db)
    async with serve_in_process(app) as url:
        context = await offline_context()
        page = await context.new_page()
        await page.goto(f"{url}/account/password")
        assert await page.locator("#choose").is_hidden()
        await page.fill("#login", "erin@example.com")
        await page.click("#request button[type=submit]")
        await page.locator('#message[data-kind="ok"]').wait_for()
        assert "a link is on its way" in await page.inner_text("#message")
        token = await _link_from_the_mail(settings)

        page = await context.new_page()  # the link, opened from the e-mail
        await page.goto(f"{url}/account/password#token={token}")
        await page.locator("#choose").wait_for(state="visible")
        assert page.url == f"{url}/account/password"  # the token left the address bar
        await page.fill("#new-password", "chosen-password-1")
        await page.fill("#repeat-password", "chosen-password-2")
        await page.click("#choose button[type=submit]")
        await page.locator('#message[data-kind="error"]').wait_for()
        assert await page.inner_text("#message") == "The two passwords differ."
        await page.fill("#repeat-password", "chosen-password-1")
        await page.click("#choose button[type=submit]")
        await page.locator('#message[data-kind="ok"]').wait_for()
        assert "Your password is set, erin." in await page.inner_text("#message")
        await page.screenshot(path=str(screenshots / "account-password.png"))

        async with httpx.AsyncClient(base_url=url) as http:
            login = await http.post(
                "/graphql",
                json={
                    "query": 'mutation { login(input: {login: "erin", password: '
                    '"chosen-password-1"}) { errors { code } } }'
                },
            )
        assert login.json()["data"]["login"]["errors"] == []

        # The spent link, opened again, says so and offers a new one.
        page = await context.new_page()
        await page.goto(f"{url}/account/password#token={token}")
        await page.fill("#new-password", "chosen-password-3")
        await page.fill("#repeat-password", "chosen-password-3")
        await page.click("#choose button[type=submit]")
        await page.locator('#message[data-kind="error"]').wait_for()
        assert "invalid, expired or already used" in await page.inner_text("#message")
        await page.locator("#request").wait_for(state="visible")
        assert context.foreign == []
        assert context.errors == []
