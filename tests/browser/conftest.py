"""Browser tests: Debian's chromium driven by Playwright (no browser download), headless,
with the network limited to 127.0.0.1. Screenshots go under the test output directory
(test-output/ at the top of the repository, or MARQUEE_TEST_OUTPUT) for people to look at.

Without chromium the tests are skipped, except in CI (MARQUEE_CI=1, set by .ci/run, which
installs it), where a missing browser fails the run."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.tools import require

ROOT = Path(__file__).resolve().parents[2]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}

# As the machine's probe found: without the background-networking flags Chromium keeps
# trying Google's hosts; the resolver rule makes any other host fail before a socket opens.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
]


def chromium_path() -> str | None:
    return os.environ.get("MARQUEE_CHROMIUM") or shutil.which("chromium")


def output_dir() -> Path:
    path = Path(os.environ.get("MARQUEE_TEST_OUTPUT", ROOT / "test-output"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def screenshots() -> Path:
    path = output_dir() / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    executable = chromium_path()
    require("chromium", executable is not None)
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        await launched.close()


class OfflineContext:
    """A browser context whose requests may only reach 127.0.0.1: any other is aborted and
    remembered in `foreign`, and console errors and page errors are kept for the test."""

    def __init__(self, context: Any) -> None:
        self.context = context
        self.foreign: list[str] = []
        self.errors: list[str] = []

    async def new_page(self) -> Any:
        page = await self.context.new_page()
        page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))
        page.on(
            "console",
            lambda message: (
                self.errors.append(f"console: {message.text}") if message.type == "error" else None
            ),
        )
        return page

    async def _route(self, route: Any) -> None:
        url = route.request.url
        host = urlsplit(url).hostname
        if url.startswith(("data:", "blob:")) or host in LOCAL_HOSTS:
            await route.continue_()
        else:
            self.foreign.append(url)
            await route.abort()


@pytest.fixture
async def offline_context(browser: Any) -> AsyncIterator[Callable[[], Awaitable[OfflineContext]]]:
    """Factory of offline contexts (several at once for two people on one page); each is
    closed after the test."""
    opened: list[OfflineContext] = []

    async def make() -> OfflineContext:
        context = await browser.new_context(viewport={"width": 1280, "height": 900})
        offline = OfflineContext(context)
        await context.route("**/*", offline._route)
        opened.append(offline)
        return offline

    yield make
    for offline in opened:
        await offline.context.close()
