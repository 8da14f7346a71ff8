"""Memory of each server worker under a long load: `python -m bench.memory`.

Starts the bench server (`marquee serve --workers 2 --demo`, a fresh embedded PostgreSQL),
warms it up with every chosen scenario, then runs the scenarios in turn with wrk, in
rounds of `--round` requests each, until `--requests` requests have been answered in all,
printing each worker's resident memory (VmRSS from /proc) after the warm-up and after every
round. A leak shows as growth round after round; what a worker keeps for good (plans,
parsed documents, prepared statements, pools) shows in the warm-up figure.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import orjson

from bench import wrk
from bench.cpu import _children
from bench.run import preflight
from bench.scenario import Prepared, Scenario
from bench.scenarios import by_name
from bench.server import ROOT, Server, wrk_path

DEFAULT_SCENARIOS = "typename,movies,seatmap,seatmap_packed,me"


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _workers(server: Server) -> list[int]:
    assert server.process is not None
    # The supervisor's children that are workers (not multiprocessing's resource tracker).
    pids = _children(server.process.pid)
    return sorted(
        p for p in pids if b"resource_tracker" not in Path(f"/proc/{p}/cmdline").read_bytes()
    )


def _lua(server: Server, scenario: Scenario) -> str:
    prepared = scenario.setup(server) if scenario.setup else Prepared()
    preflight(server, scenario, prepared)
    body = orjson.dumps({"query": scenario.query, "variables": prepared.variables or {}})
    extra = scenario.wrk_script(server, prepared) if scenario.wrk_script else ""
    return wrk.script(body.decode(), prepared.headers, extra)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default=DEFAULT_SCENARIOS)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--round", type=int, default=10_000, help="requests per round")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    scenarios = [by_name(n.strip()) for n in args.scenario.split(",") if n.strip()]
    server = Server.start(args.workers, ROOT / ".marquee" / "bench-memory")
    try:
        scripts = {s.name: _lua(server, s) for s in scenarios}
        for lua in scripts.values():
            wrk.run(wrk_path(), server.graphql_url, lua, duration=3, connections=32, threads=2)
        workers = _workers(server)
        print("after warm-up       " + "  ".join(f"{rss_mib(p):7.1f} MiB" for p in workers))
        done = 0
        turn = 0
        while done < args.requests:
            name = scenarios[turn % len(scenarios)].name
            turn += 1
            answered = 0
            while answered < args.round:
                # Short runs, so a slow scenario stops close to the round's count.
                run = wrk.run(
                    wrk_path(),
                    server.graphql_url,
                    scripts[name],
                    duration=2,
                    connections=32,
                    threads=2,
                )
                answered += run.requests
                if run.non_2xx or run.socket_errors:
                    raise SystemExit(f"{name}: {run.non_2xx} non-2xx, {run.socket_errors} errors")
            done += answered
            sizes = "  ".join(f"{rss_mib(p):7.1f} MiB" for p in workers)
            print(f"{done:>8} requests  {name:<15} {sizes}", flush=True)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
