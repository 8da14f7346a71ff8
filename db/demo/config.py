"""Values of the server's settings that demo data quotes. The db layer reads no settings:
the CLI builds this from graph/settings.py and passes it to `db.demo.seed`; the defaults
are the settings' defaults."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DemoSettings:
    # MARQUEE_CANCELLATION_CUTOFF_MINUTES: the refund policy page quotes it.
    cancellation_cutoff_minutes: int = 60
