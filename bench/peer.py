"""The peer to beat (DESIGN.md, "Performance"): PostGraphile 4 from the npm registry, serving the
bench server's own database, measured in the same run with the closest equivalent query of
each scenario that has one (`python -m bench.run --peer postgraphile`).

PostGraphile is installed into bench/postgraphile/ (`npm ci` from the committed
package-lock.json; node_modules is git-ignored) and started with `--cluster-workers N` (N =
`--workers`), connected as the `postgres` user, without JWT, with the default mutations
turned off, no GraphiQL and no query log. Nothing here runs unless a peer is asked for, so
`make bench` needs no node.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench import wrk
from bench.cpu import CpuMeter
from bench.scenario import BenchError, Options, Prepared, Result, Scenario
from bench.server import ROOT, Server, free_port, wrk_path

PEERS = ("postgraphile",)
PACKAGE_DIR = ROOT / "bench" / "postgraphile"
CLI = PACKAGE_DIR / "node_modules" / "postgraphile" / "cli.js"
STAMP = PACKAGE_DIR / "node_modules" / ".package-lock.json"  # written by npm on install


@dataclass(frozen=True)
class PeerQuery:
    """The peer's closest equivalent of a scenario's request."""

    query: str
    note: str
    variables: Callable[[Server, Prepared], dict[str, Any]] | None = None
    expect: Callable[[dict[str, Any]], None] | None = None


# --- the equivalent queries ---------------------------------------------------------------

# The same fields as bench/scenarios/movies.py in PostGraphile's generated schema (default
# inflection, relay connections only): the listed movies by popularity (ties by id, as
# Marquee's POPULARITY sort), genres through the link table, the stored rating aggregates,
# and the 3 newest published reviews with their authors. `nodeId` is the global id, as
# Marquee's `id`.
MOVIES = """query MoviePage {
  allMovies(first: 20, orderBy: [POPULARITY_DESC, ID_DESC], condition: {isActive: true}) {
    totalCount nodes {
      nodeId title year
      movieGenresByMovieId { nodes { genreByGenreId { name } } }
      averageRating reviewCount
      reviewsByMovieId(first: 3, orderBy: [CREATED_AT_DESC, ID_DESC],
                       condition: {status: "PUBLISHED"}) {
        nodes { rating title userByUserId { fullName } } } } }
}"""

# The seat map of the scenario's 300-seat showtime: the hall's seats, the showtime's
# occupancy rows (HELD/SOLD, with the hold's expiry) and its prices. PostGraphile has no
# computed status per seat: a client joins occupancy to seats, and derives the available
# count, itself. About 2,400 fields, as Marquee's typed seat map.
SEATMAP = """query SeatMap($id: BigInt!) {
  showtimeById(id: $id) {
    seatSequence
    hallByHallId { seatsByHallId(orderBy: [ROW_LABEL_ASC, NUMBER_ASC]) {
      nodes { id rowLabel number seatType isBlocked } } }
    seatOccupanciesByShowtimeId { nodes { seatId status expiresAt } }
    showtimePricesByShowtimeId { nodes { seatType amount currency } }
  }
}"""


def _expect_typename(data: dict[str, Any]) -> None:
    if data != {"__typename": "Query"}:
        raise BenchError(f"unexpected data: {data}")


def _expect_movies(data: dict[str, Any]) -> None:
    nodes = (data.get("allMovies") or {}).get("nodes") or []
    if len(nodes) != 20:
        raise BenchError(f"expected 20 movies, got {len(nodes)}")
    if not any(n["reviewsByMovieId"]["nodes"] for n in nodes):
        raise BenchError("no movie has reviews")


def _seatmap_variables(server: Server, prepared: Prepared) -> dict[str, Any]:
    from graph.relay import parse_global_id

    _type, pk = parse_global_id(str(prepared.state["showtime"]))
    return {"id": str(pk)}


def _expect_seatmap(data: dict[str, Any]) -> None:
    from bench.scenarios import seatmap

    show = data.get("showtimeById") or {}
    seats = show.get("hallByHallId", {}).get("seatsByHallId", {}).get("nodes", [])
    taken = show.get("seatOccupanciesByShowtimeId", {}).get("nodes", [])
    if len(seats) != seatmap.ROWS * seatmap.SEATS_PER_ROW:
        raise BenchError(f"seat map has {len(seats)} seats")
    blocked = sum(1 for s in seats if s["isBlocked"])
    if len(seats) - blocked - len(taken) != 210:
        raise BenchError(f"expected 210 available seats ({blocked} blocked, {len(taken)} taken)")


QUERIES: dict[str, PeerQuery] = {
    "typename": PeerQuery("{ __typename }", "the same query", expect=_expect_typename),
    "typename_executed": PeerQuery(
        "{ ... on Query { __typename } }", "the same query", expect=_expect_typename
    ),
    "movies": PeerQuery(
        MOVIES,
        "allMovies(first: 20, orderBy: POPULARITY_DESC) + genres, rating, 3 reviews + authors",
        expect=_expect_movies,
    ),
    "seatmap": PeerQuery(
        SEATMAP,
        "showtimeById: the hall's 300 seats + the occupancy rows + prices",
        variables=_seatmap_variables,
        expect=_expect_seatmap,
    ),
}


def equivalent(scenario: Scenario) -> PeerQuery | None:
    return QUERIES.get(scenario.name)


# --- installing and running PostGraphile --------------------------------------------------


def ensure_installed() -> None:
    """node and npm on PATH, and PostGraphile in bench/postgraphile/node_modules (`npm ci`
    when missing or when package-lock.json changed since)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        raise BenchError("--peer postgraphile needs node (v18+) and npm on PATH")
    lock = PACKAGE_DIR / "package-lock.json"
    if CLI.exists() and STAMP.exists() and STAMP.stat().st_mtime >= lock.stat().st_mtime:
        return
    print("installing PostGraphile (npm ci in bench/postgraphile) ...", flush=True)
    proc = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"],
        cwd=PACKAGE_DIR,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0 or not CLI.exists():
        raise BenchError(f"npm ci failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")


def node_dsn(server: Server) -> str:
    """The bench server's database as node-postgres wants it (the embedded PostgreSQL's unix
    socket directory as `?host=`)."""
    from bench.booking import dsn

    return dsn(server)


class PostGraphile:
    name = "postgraphile"

    def __init__(self, url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
        self.url = url
        self.graphql_url = url + "/graphql"
        self.process = process
        self.log_path = log_path
        self.command: list[str] = []

    @classmethod
    def start(cls, server: Server, workers: int, timeout: float = 120.0) -> PostGraphile:
        """`workers` cluster workers, each with a pool of Marquee's size per worker."""
        from graph.settings import Settings

        node = shutil.which("node")
        if node is None:
            raise BenchError("node is not installed")
        pool_size = Settings().db_pool_size
        port = free_port()
        command = [
            node,
            str(CLI),
            "--connection",
            node_dsn(server),
            "--schema",
            "public",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--max-pool-size",
            str(pool_size),
            "--disable-default-mutations",
            "--disable-graphiql",
            "--disable-query-log",
            "--legacy-relations",
            "omit",
        ]
        if workers > 1:
            command += ["--cluster-workers", str(workers)]
        log_dir = server.data_dir or ROOT / ".marquee" / "bench"
        log_dir.mkdir(parents=True, exist_ok=True)
        log_path = log_dir / "postgraphile.log"
        env = dict(os.environ, NODE_ENV="production")
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                command,
                cwd=PACKAGE_DIR,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its cluster workers are stopped with it, by group id
            )
        peer = cls(f"http://127.0.0.1:{port}", process, log_path)
        peer.command = command
        try:
            peer.wait_ready(timeout)
        except BaseException:
            peer.stop()
            raise
        return peer

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(f"PostGraphile exited early:\n{self.log_tail()}")
            try:
                if self.graphql("{ __typename }").get("data"):
                    return
            except (httpx.HTTPError, BenchError):
                pass
            time.sleep(0.3)
        raise BenchError(f"PostGraphile was not ready after {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM to its process group (the master and its cluster workers), then SIGKILL."""
        proc = self.process
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if proc.poll() is not None:
                break
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                continue
        # The cluster workers leave when the master goes; make sure none is left behind.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = httpx.post(
            self.graphql_url, json={"query": query, "variables": variables or {}}, timeout=30.0
        )
        if response.status_code != 200:
            raise BenchError(f"HTTP {response.status_code}: {response.text[:500]}")
        body: dict[str, Any] = response.json()
        return body

    # --- measuring ----------------------------------------------------------------------

    def measure(self, server: Server, scenario: Scenario, opts: Options) -> Result:
        """The scenario's equivalent under the same wrk settings as Marquee's run (after it:
        the scenario's setup, e.g. the seat map's showtime, is the one Marquee's run made)."""
        peer_query = QUERIES[scenario.name]
        prepared = scenario.setup(server) if scenario.setup else Prepared()
        variables = peer_query.variables(server, prepared) if peer_query.variables else {}
        body = self.graphql(peer_query.query, variables)
        if body.get("errors"):
            raise BenchError(f"{self.name} {scenario.name}: the query fails: {body['errors']}")
        if peer_query.expect is not None:
            peer_query.expect(body.get("data") or {})
        connections = scenario.connections or opts.connections
        request = orjson.dumps({"query": peer_query.query, "variables": variables}).decode()
        lua = wrk.script(request, {})

        def load(seconds: float) -> wrk.WrkResult:
            return wrk.run(
                wrk_path(),
                self.graphql_url,
                lua,
                duration=seconds,
                connections=connections,
                threads=opts.threads,
            )

        if opts.warmup > 0:
            load(opts.warmup)
        meter = _Meter(server, self.process.pid)
        cpu_before = meter.snapshot()
        measured = load(opts.duration)
        others = CpuMeter.others_share(cpu_before, meter.snapshot(), measured.seconds)
        return Result(
            scenario=scenario.name,
            connections=connections,
            requests=measured.requests,
            seconds=measured.seconds,
            rps=measured.rps,
            p50_ms=measured.p50_ms,
            p99_ms=measured.p99_ms,
            statements_per_request=None,  # PostGraphile compiles a query into one statement
            non_2xx=measured.non_2xx,
            socket_errors=measured.socket_errors,
            extra={
                "peer": self.name,
                "p90_ms": measured.p90_ms,
                "max_ms": measured.max_ms,
                "others_cpu": others,
            },
        )


class _Meter(CpuMeter):
    """`ours` while the peer is measured: PostGraphile's processes (master and cluster
    workers) as well as the Marquee server (idle, but its hold sweeper runs) and the shared
    PostgreSQL."""

    def __init__(self, server: Server, peer_pid: int) -> None:
        from bench.run import cpu_meter

        base = cpu_meter(server)
        super().__init__(base.server_pid, base.postmaster_pid_file)
        self.peer_pid = peer_pid

    def _our_pids(self) -> list[int]:
        from bench.cpu import _children

        return [*super()._our_pids(), self.peer_pid, *_children(self.peer_pid)]


def side_by_side(ours: list[Result], theirs: list[Result], peer: str) -> str:
    """Marquee and the peer per scenario: req/s, p50 and p99, and Marquee's req/s as a
    multiple of the peer's."""
    by_name = {r.scenario: r for r in theirs}
    lines = [
        "",
        f"{'':<14} {'Marquee':>26}   {peer:>26}",
        f"{'scenario':<14} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}   "
        f"{'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'Marquee/peer':>13}",
    ]
    for r in ours:
        p = by_name.get(r.scenario.removesuffix("+cache"))  # bench.run.CACHED
        left = f"{r.scenario:<14} {r.rps:>8.0f} {r.p50_ms:>8.2f} {r.p99_ms:>8.2f}   "
        if p is None:
            lines.append(left + f"{'(no equivalent)':>26}")
        else:
            ratio = r.rps / p.rps if p.rps else float("inf")
            lines.append(left + f"{p.rps:>8.0f} {p.p50_ms:>8.2f} {p.p99_ms:>8.2f} {ratio:>12.2f}x")
    return "\n".join(lines)
