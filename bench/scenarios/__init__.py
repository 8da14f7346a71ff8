"""Benchmark scenarios: each module describes one request mix; SCENARIOS lists them in run order.

A scenario is data (a name, a GraphQL query, variables) plus optional functions: `setup`
prepares data and credentials on the running server and returns what wrk must send,
`expect` checks the preflight response, `wrk_script` replaces the fixed request with a Lua
`request()` (for requests that differ, e.g. each one holding other seats), `verify` checks
invariants after the run (e.g. zero double bookings), and `run` replaces wrk altogether
(e.g. a WebSocket fan-out measured by a custom client). To add one: write a module here
with a `SCENARIO = Scenario(...)` and append it to SCENARIOS below.
"""

from __future__ import annotations

from bench.scenario import BenchError, Scenario
from bench.scenarios import (
    checkout,
    fanout,
    holds,
    me,
    me_orders,
    movies,
    reports,
    seatmap,
    shop,
    typename,
)

SCENARIOS: list[Scenario] = [
    typename.SCENARIO,
    typename.EXECUTED_SCENARIO,
    me.SCENARIO,
    movies.SCENARIO,
    *movies.PAGE_SIZES,
    seatmap.SCENARIO,
    seatmap.PACKED_SCENARIO,
    holds.SCENARIO,
    holds.SPREAD_SCENARIO,
    fanout.SCENARIO,
    checkout.SCENARIO,
    me_orders.SCENARIO,
    shop.SCENARIO,
    reports.SCENARIO,
    reports.PRODUCT_SCENARIO,
]


def by_name(name: str) -> Scenario:
    for scenario in SCENARIOS:
        if scenario.name == name:
            return scenario
    known = ", ".join(s.name for s in SCENARIOS)
    raise BenchError(f"unknown scenario {name!r} (known: {known})")
