"""`python -m bench.run`: start the server, run each scenario under wrk, print req/s, p50, p99 and
SQL statements per request. `python -m bench.run --help` lists the options."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import orjson

from bench import peer as peers
from bench import wrk
from bench.cpu import CpuMeter
from bench.scenario import BenchError, Options, Prepared, Result, Scenario
from bench.scenarios import SCENARIOS, by_name
from bench.server import ROOT, Counters, Server, wrk_path

BACKGROUND_WINDOW = 3.0  # seconds without load to measure the server's own SQL rate


# The suffix of a row measured with the response cache on (--response-cache).
CACHED = "+cache"


def machine() -> dict[str, Any]:
    """What the figures were measured on (for bench/README.md)."""
    cpu = platform.processor() or "?"
    mem_gib = 0.0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gib = int(line.split()[1]) / 1024 / 1024
                break
    except OSError:
        pass
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(mem_gib, 1),
        "loadavg": os.getloadavg(),
        "python": platform.python_version(),
    }


def statements(before: dict[int, Counters], after: dict[int, Counters]) -> float:
    if set(before) != set(after):
        raise BenchError(f"the worker processes changed during the run: {before} -> {after}")
    return sum(after[p].statements - before[p].statements for p in after)


def statements_per_request(
    before: dict[int, Counters],
    after: dict[int, Counters],
    method: str = "POST",
    background: float = 0.0,
) -> float | None:
    """`background`: statements the server ran meanwhile on its own (the hold sweeper)."""
    total = max(0.0, statements(before, after) - background)
    requests = sum(
        after[p].requests.get(method, 0) - before[p].requests.get(method, 0) for p in after
    )
    return total / requests if requests else None


def preflight(server: Server, scenario: Scenario, prepared: Prepared) -> None:
    """One request by hand: the load must measure answers, not errors."""
    body = server.graphql(scenario.query, prepared.variables, prepared.headers)
    if body.get("errors"):
        raise BenchError(f"{scenario.name}: the query fails: {body['errors']}")
    if scenario.expect is not None:
        scenario.expect(body.get("data") or {})


def run_wrk(server: Server, scenario: Scenario, prepared: Prepared, opts: Options) -> Result:
    binary = wrk_path()
    connections = scenario.connections or opts.connections
    body = orjson.dumps({"query": scenario.query, "variables": prepared.variables or {}}).decode()
    extra = scenario.wrk_script(server, prepared) if scenario.wrk_script else ""
    lua = wrk.script(body, prepared.headers, extra)

    def load(seconds: float) -> wrk.WrkResult:
        return wrk.run(
            binary,
            server.graphql_url,
            lua,
            duration=seconds,
            connections=connections,
            threads=opts.threads,
        )

    if opts.warmup > 0:
        load(opts.warmup)
    # Background SQL (the hold sweeper runs every second in each worker): its rate while
    # idle, subtracted from the statements counted around the measured run.
    idle = server.settled_counters()
    idle_at = time.monotonic()
    time.sleep(BACKGROUND_WINDOW)
    before = server.settled_counters()
    before_at = time.monotonic()
    background_rate = statements(idle, before) / (before_at - idle_at)
    meter = cpu_meter(server)
    cpu_before = meter.snapshot()
    measured = load(opts.duration)
    others = CpuMeter.others_share(cpu_before, meter.snapshot(), measured.seconds)
    after = server.settled_counters()
    background = background_rate * (time.monotonic() - before_at)
    if scenario.verify is not None:
        scenario.verify(server, prepared)
    return Result(
        scenario=scenario.name,
        connections=connections,
        requests=measured.requests,
        seconds=measured.seconds,
        rps=measured.rps,
        p50_ms=measured.p50_ms,
        p99_ms=measured.p99_ms,
        statements_per_request=statements_per_request(before, after, background=background),
        non_2xx=measured.non_2xx,
        socket_errors=measured.socket_errors,
        extra={
            "p90_ms": measured.p90_ms,
            "max_ms": measured.max_ms,
            "others_cpu": others,
            "background_statements_per_s": background_rate,
        },
    )


def cpu_meter(server: Server) -> CpuMeter:
    embedded = server.data_dir is not None and not os.environ.get("DATABASE_URL")
    return CpuMeter(
        server.process.pid if server.process else None,
        server.data_dir / "pg" / "postmaster.pid" if embedded and server.data_dir else None,
    )


def run_scenario(server: Server, scenario: Scenario, opts: Options) -> Result:
    if scenario.run is not None:
        return scenario.run(server, opts)
    prepared = scenario.setup(server) if scenario.setup else Prepared()
    preflight(server, scenario, prepared)
    return run_wrk(server, scenario, prepared, opts)


def median(results: list[Result]) -> Result:
    """Each figure's median over the repeats (so p99 need not come from the median-rps run)."""
    if len(results) == 1:
        return results[0]

    def med(values: list[float]) -> float:
        return float(statistics.median(values))

    spr = [r.statements_per_request for r in results if r.statements_per_request is not None]
    return dataclasses.replace(
        results[0],
        requests=int(med([r.requests for r in results])),
        seconds=med([r.seconds for r in results]),
        rps=med([r.rps for r in results]),
        p50_ms=med([r.p50_ms for r in results]),
        p99_ms=med([r.p99_ms for r in results]),
        statements_per_request=med(spr) if spr else None,
        non_2xx=sum(r.non_2xx for r in results),
        socket_errors=sum(r.socket_errors for r in results),
        extra={
            "others_cpu": med([r.extra.get("others_cpu", 0.0) for r in results]),
            "runs": [dataclasses.asdict(r) for r in results],
        },
    )


HEADER = (
    f"{'scenario':<14} {'conns':>5} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
    f"{'SQL/req':>8} {'non-2xx':>8} {'sock err':>8} {'others':>7}"
)


def row(result: Result, label: str | None = None) -> str:
    spr = result.statements_per_request
    return (
        f"{label or result.scenario:<14} {result.connections:>5} {result.rps:>9.0f} "
        f"{result.p50_ms:>8.2f} {result.p99_ms:>8.2f} "
        f"{'-' if spr is None else f'{spr:.2f}':>8} {result.non_2xx:>8} {result.socket_errors:>8} "
        f"{100 * result.extra.get('others_cpu', 0.0):>6.0f}%"
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    p.add_argument(
        "--scenario",
        action="append",
        default=[],
        help="run only this scenario (repeatable or comma-separated; default: all)",
    )
    p.add_argument("--duration", type=float, default=10.0, help="seconds measured (10)")
    p.add_argument("--warmup", type=float, default=3.0, help="seconds of warm-up first (3)")
    p.add_argument("--connections", type=int, default=32, help="concurrent connections (32)")
    p.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    p.add_argument("--workers", type=int, default=2, help="server worker processes (2)")
    p.add_argument("--repeat", type=int, default=1, help="runs per scenario; prints medians")
    p.add_argument("--url", help="bench a server already running at this base URL")
    p.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("MARQUEE_BENCH_DATA_DIR", ROOT / ".marquee" / "bench")),
        help="the bench server's MARQUEE_DATA_DIR (default .marquee/bench)",
    )
    p.add_argument(
        "--keep-data",
        action="store_true",
        help="reuse the bench database of the last run (default: a fresh one each run)",
    )
    p.add_argument(
        "--json",
        type=Path,
        default=ROOT / "bench" / "results" / "latest.json",
        help="where to write the results as JSON",
    )
    p.add_argument(
        "--peer",
        choices=peers.PEERS,
        help="also measure this peer on the same database and equivalent queries, side by side "
        "(postgraphile: installed from npm into bench/postgraphile; needs node and npm)",
    )
    p.add_argument(
        "--response-cache",
        action="store_true",
        help="run the server with MARQUEE_RESPONSE_CACHE on (off otherwise); every row is "
        f"then named <scenario>{CACHED} (docs/caching.md)",
    )
    p.add_argument("--list", action="store_true", help="list the scenarios and exit")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list:
        for s in SCENARIOS:
            print(f"{s.name:<14} {s.description}")
        return 0
    try:
        wrk_path()
        names = [n.strip() for arg in args.scenario for n in arg.split(",") if n.strip()]
        selected = [by_name(n) for n in names] if names else list(SCENARIOS)
        if args.peer:
            peers.ensure_installed()
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    opts = Options(
        duration=args.duration,
        warmup=args.warmup,
        connections=args.connections,
        threads=args.threads,
        workers=args.workers,
    )
    info = machine()
    print(
        f"Marquee bench, {info['date']}: {info['nproc']} CPUs ({info['cpu']}), "
        f"{info['memory_gib']} GiB, load {info['loadavg'][0]:.2f}; {opts.workers} workers, "
        f"{opts.duration:g} s after {opts.warmup:g} s warm-up, wrk -t{opts.threads}"
    )
    results: list[Result] = []
    peer_results: list[Result] = []
    failed = False
    server: Server | None = None
    peer: peers.PostGraphile | None = None
    try:
        if args.url:
            server = Server.attach(args.url, opts.workers)
        else:
            print(f"starting the server (data in {args.data_dir}) ...", flush=True)
            server = Server.start(
                opts.workers,
                args.data_dir,
                fresh=not args.keep_data,
                response_cache=args.response_cache,
            )
        if args.peer:
            print(f"starting {args.peer} ({opts.workers} workers, same database) ...", flush=True)
            peer = peers.PostGraphile.start(server, opts.workers)
        print(HEADER, flush=True)
        for scenario in selected:
            # With a peer, its run follows each of Marquee's (interleaved, so both see the
            # same machine load), and the medians of both are printed.
            with_peer = peer if peer is not None and peers.equivalent(scenario) else None
            try:
                runs, peer_runs = [], []
                for i in range(max(1, args.repeat)):
                    runs.append(run_scenario(server, scenario, opts))
                    if args.repeat > 1:
                        print(row(runs[-1], f"  run {i + 1}"), flush=True)
                    if with_peer is not None:
                        peer_runs.append(with_peer.measure(server, scenario, opts))
                        if args.repeat > 1:
                            print(row(peer_runs[-1], f"  peer run {i + 1}"), flush=True)
                result = median(runs)
                if args.response_cache:
                    # Rows of their own: cached figures are never read as execution's.
                    result = dataclasses.replace(result, scenario=scenario.name + CACHED)
            except BenchError as exc:
                failed = True
                print(f"{scenario.name:<14} FAILED: {exc}", flush=True)
                continue
            results.append(result)
            label = result.scenario + (" (median)" if args.repeat > 1 else "")
            print(row(result, label), flush=True)
            if result.non_2xx or result.socket_errors:
                failed = True
            if peer_runs:
                peer_result = median(peer_runs)
                peer_results.append(peer_result)
                print(row(peer_result, f"  {args.peer}"), flush=True)
                if peer_result.non_2xx or peer_result.socket_errors:
                    failed = True
        if peer is not None:
            print(peers.side_by_side(results, peer_results, peer.name), flush=True)
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        if peer is not None:
            peer.stop()
        if server is not None:
            server.stop()
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "machine": info,
                "options": dataclasses.asdict(opts),
                "results": [dataclasses.asdict(r) for r in results],
                **(
                    {
                        "peer": args.peer,
                        "peer_results": [dataclasses.asdict(r) for r in peer_results],
                    }
                    if args.peer
                    else {}
                ),
            },
            indent=2,
        )
        + "\n"
    )
    print(f"results written to {args.json}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
