"""Driving wrk: a Lua script per scenario that sends the request and reports percentiles as JSON."""

from __future__ import annotations

import json
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.scenario import BenchError

MARKER = "BENCH_RESULT "

# wrk calls done() once, after all threads finished, with the merged latency histogram (µs).
_DONE = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '%s{"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,' ..
    '"timeout":%d,"p50_us":%.0f,"p90_us":%.0f,"p99_us":%.0f,"max_us":%.0f,"mean_us":%.1f}\n',
    "MARKER", summary.requests, summary.duration, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
""".replace("MARKER", MARKER)


def lua_string(value: str) -> str:
    """A Lua long-bracket literal holding `value` verbatim."""
    level = 0
    while f"]{'=' * level}]" in value:
        level += 1
    eq = "=" * level
    # A newline right after the opening bracket is dropped by Lua, so add one of our own.
    return f"[{eq}[\n{value}]{eq}]"


def script(body: str, headers: dict[str, str], extra: str = "") -> str:
    lines = ['wrk.method = "POST"', f"wrk.body = {lua_string(body)}"]
    all_headers = {"Content-Type": "application/json", **headers}
    for name, value in all_headers.items():
        # The spaces matter: `t[[[x]]]` would open a long string at `[[`.
        lines.append(f"wrk.headers[ {lua_string(name)} ] = {lua_string(value)}")
    return "\n".join(lines) + "\n" + extra + "\n" + _DONE


@dataclass
class WrkResult:
    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    non_2xx: int
    socket_errors: int
    raw: dict[str, Any]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def run(
    wrk: str,
    url: str,
    lua: str,
    *,
    duration: float,
    connections: int,
    threads: int,
    timeout_s: float = 10.0,
) -> WrkResult:
    threads = max(1, min(threads, connections))
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(lua)
        path = Path(f.name)
    try:
        proc = subprocess.run(
            [
                wrk,
                f"-t{threads}",
                f"-c{connections}",
                f"-d{max(1, round(duration))}s",
                f"--timeout={max(1, round(timeout_s))}s",
                "-s",
                str(path),
                url,
            ],
            capture_output=True,
            text=True,
            timeout=duration + timeout_s + 30,
        )
    finally:
        path.unlink(missing_ok=True)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith(MARKER)), None)
    if proc.returncode != 0 or line is None:
        raise BenchError(f"wrk failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    raw: dict[str, Any] = json.loads(line[len(MARKER) :])
    return WrkResult(
        requests=int(raw["requests"]),
        seconds=raw["duration_us"] / 1e6,
        p50_ms=raw["p50_us"] / 1000,
        p90_ms=raw["p90_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
        non_2xx=int(raw["status"]),
        socket_errors=int(raw["connect"] + raw["read"] + raw["write"] + raw["timeout"]),
        raw=raw,
    )
