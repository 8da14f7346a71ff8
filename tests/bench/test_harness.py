"""The benchmark harness's pure parts: metrics parsing, statement counting, wrk scripts."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import wrk
from bench.run import median, statements_per_request
from bench.scenario import BenchError, Result
from bench.scenarios import SCENARIOS, by_name
from bench.server import Counters, _lock, parse_metrics

METRICS = """# HELP marquee_http_requests_total HTTP requests
# TYPE marquee_http_requests_total counter
marquee_http_requests_total{method="POST",status="200"} 120.0
marquee_http_requests_total{method="POST",status="400"} 3.0
marquee_http_requests_total{method="GET",status="200"} 7.0
marquee_sql_statements_total 246
marquee_process_id 4242
"""


def test_parse_metrics_sums_statuses_per_method() -> None:
    pid, counters = parse_metrics(METRICS)
    assert pid == 4242
    assert counters == Counters(statements=246.0, requests={"POST": 123.0, "GET": 7.0})


def test_parse_metrics_needs_the_process_id() -> None:
    with pytest.raises(BenchError):
        parse_metrics("marquee_sql_statements_total 1\n")


def test_statements_per_request_sums_the_workers() -> None:
    before = {1: Counters(10, {"POST": 5}), 2: Counters(0, {})}
    after = {1: Counters(30, {"POST": 15}), 2: Counters(20, {"POST": 10, "GET": 3})}
    assert statements_per_request(before, after) == 2.0
    with pytest.raises(BenchError):
        statements_per_request(before, {1: after[1], 3: after[2]})


def test_lua_string_never_closes_early() -> None:
    assert wrk.lua_string("abc") == "[[\nabc]]"
    assert wrk.lua_string("a]]b") == "[=[\na]]b]=]"
    assert wrk.lua_string("a]]b]=]c") == "[==[\na]]b]=]c]==]"


def test_script_sets_body_headers_and_reports() -> None:
    script = wrk.script('{"query":"{ __typename }"}', {"Authorization": "Bearer t"})
    assert 'wrk.method = "POST"' in script
    assert 'wrk.body = [[\n{"query":"{ __typename }"}]]' in script
    assert "wrk.headers[ [[\nAuthorization]] ] = [[\nBearer t]]" in script
    assert wrk.MARKER in script
    assert "latency:percentile(99)" in script


def _result(rps: float, p99: float) -> Result:
    return Result("x", 32, int(rps * 10), 10.0, rps, 1.0, p99, 0.0)


def test_median_of_each_figure() -> None:
    result = median([_result(100, 9), _result(300, 1), _result(200, 5)])
    assert (result.rps, result.p99_ms) == (200, 5)
    assert len(result.extra["runs"]) == 3


def test_scenarios_are_named_once() -> None:
    names = [s.name for s in SCENARIOS]
    assert len(names) == len(set(names))
    assert by_name("typename").query == "{ __typename }"
    with pytest.raises(BenchError):
        by_name("nope")


def test_one_run_per_data_directory(tmp_path: Path) -> None:
    first = _lock(tmp_path)
    with pytest.raises(BenchError, match="another benchmark run"):
        _lock(tmp_path)
    first.close()
    _lock(tmp_path).close()
