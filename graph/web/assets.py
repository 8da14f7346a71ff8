"""Where the web pages' files live and the URL they are served under."""

from __future__ import annotations

from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent / "static"
# Served by Marquee itself: every page refers to these paths, never to another host.
STATIC_PATH = "/static"
