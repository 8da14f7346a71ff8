"""Server CPU per request under wrk, for variants of the HTTP path: `python -m bench.worker_cpu`.

On a shared machine req/s move with what other processes take; the CPU the server's
workers spend per request (utime + stime from /proc, system calls included) moves much
less. This starts one server per variant (`marquee serve --workers 2`, each with its own
embedded PostgreSQL, settings through the environment), then, round after round, runs wrk
on each in turn (`{ __typename }` by default, 32 connections) and prints req/s and the
workers' CPU µs per request, with the medians at the end.

Variants: `baseline` (MARQUEE_LEAN_HTTP=false), `lean` (the default). Add one by naming its
settings in VARIANTS.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
from pathlib import Path

import orjson

from bench import wrk
from bench.cpu import _children, _process_cpu
from bench.server import ROOT, Server, wrk_path

VARIANTS = {
    "baseline": {"MARQUEE_LEAN_HTTP": "false"},
    "lean": {"MARQUEE_LEAN_HTTP": "true"},
}


def _workers_cpu(server: Server) -> float:
    assert server.process is not None
    return sum(_process_cpu(pid) for pid in _children(server.process.pid))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--query", default="{ __typename }")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--variant", action="append", choices=sorted(VARIANTS))
    args = parser.parse_args()
    names = args.variant or list(VARIANTS)
    body = orjson.dumps({"query": args.query}).decode()
    lua = wrk.script(body, {"Content-Type": "application/json"})
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
    with contextlib.ExitStack() as stack:
        servers = {}
        saved = dict(os.environ)
        for name in names:
            os.environ.update(VARIANTS[name])
            data_dir = ROOT / ".marquee" / f"bench-cpu-{name.replace('+', '-')}"
            servers[name] = Server.start(2, Path(data_dir))
            stack.callback(servers[name].stop)
            os.environ.clear()
            os.environ.update(saved)
        for name in names:  # warm-up
            wrk.run(
                wrk_path(), servers[name].graphql_url, lua, duration=2, connections=32, threads=2
            )
        for round_ in range(args.rounds):
            for name in names:
                server = servers[name]
                before = _workers_cpu(server)
                run = wrk.run(
                    wrk_path(),
                    server.graphql_url,
                    lua,
                    duration=args.duration,
                    connections=args.connections,
                    threads=2,
                )
                cpu = _workers_cpu(server) - before
                per_request = cpu / run.requests * 1e6 if run.requests else 0.0
                results[name].append((run.rps, per_request))
                print(
                    f"round {round_ + 1}  {name:14}  {run.rps:8.0f} req/s  "
                    f"{per_request:6.0f} µs CPU/request  non-2xx {run.non_2xx}",
                    flush=True,
                )
    for name, runs in results.items():
        rps = statistics.median(r for r, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        print(f"median  {name:14}  {rps:8.0f} req/s  {cpu:6.0f} µs CPU/request")


if __name__ == "__main__":
    main()
