"""What a scenario is (see bench/scenarios/__init__.py for how to add one) and what it yields."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.server import Server


class BenchError(Exception):
    """A scenario could not be prepared, or its result is wrong."""


@dataclass
class Prepared:
    """What the load generator sends, and anything `verify` needs afterwards."""

    variables: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)


@dataclass
class Options:
    """The run's settings as chosen on the command line."""

    duration: float
    warmup: float
    connections: int
    threads: int
    workers: int


@dataclass
class Result:
    scenario: str
    connections: int
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    statements_per_request: float | None
    non_2xx: int = 0
    socket_errors: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    query: str = ""
    setup: Callable[[Server], Prepared] | None = None
    expect: Callable[[dict[str, Any]], None] | None = None
    connections: int | None = None  # overrides --connections (e.g. 64 for hold contention)
    wrk_script: Callable[[Server, Prepared], str] | None = None
    verify: Callable[[Server, Prepared], None] | None = None
    run: Callable[[Server, Options], Result] | None = None
