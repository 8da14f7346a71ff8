"""Helpers for tests that need tools outside Python (a browser, node and npm)."""

from __future__ import annotations

import os

import pytest


def in_ci() -> bool:
    return os.environ.get("MARQUEE_CI") == "1"


def require(tool: str, found: bool) -> None:
    """Skip outside CI when a tool is missing; fail in CI, where .ci/run installs it."""
    if found:
        return
    if in_ci():
        pytest.fail(f"{tool} is required in CI but was not found")
    pytest.skip(f"{tool} not found (CI installs it; see .ci/run)")
