"""`python -m bench.soak`: Marquee under load and faults for a fixed time, then the invariants
(docs/reliability.md). Exit status 0 only when every invariant holds, every fault was
injected and recovered from, and no internal error happened outside the fault windows."""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from pathlib import Path

import asyncpg

from bench.server import ROOT
from bench.soak import flows
from bench.soak.client import Api, Stats
from bench.soak.cluster import Cluster
from bench.soak.faults import NAMES, Injector
from bench.soak.invariants import Check, baseline, check_api, check_sql
from bench.soak.report import render, server_faults


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    p.add_argument("--duration", type=float, default=600.0, help="seconds of load (default 600)")
    p.add_argument("--seed", type=int, default=None, help="replay a run (default: random)")
    p.add_argument("--subscribers", type=int, default=500)
    p.add_argument("--customers", type=int, default=8)
    p.add_argument("--browsers", type=int, default=4)
    p.add_argument("--short", action="store_true", help="60 s, 100 subscribers, short outages")
    p.add_argument("--faults", default=",".join(NAMES), help="comma-separated; '' for none")
    p.add_argument("--data-dir", type=Path, default=ROOT / ".marquee" / "soak")
    args = p.parse_args(argv)
    if args.short:
        args.duration = min(args.duration, 60.0) if "--duration" in (argv or sys.argv) else 60.0
        if "--subscribers" not in (argv or sys.argv):
            args.subscribers = 100
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1, 10**9)
    return args


async def quiesce(cluster: Cluster, limit: float) -> str:
    """After the load: wait until no payment is PROCESSING, no webhook is owed and no e-mail
    is PENDING (retries after the SMTP outage, reconciliation), bounded."""
    deadline = time.time() + limit
    state = ""
    while time.time() < deadline:
        conn = await asyncpg.connect(cluster.dsn)
        try:
            row = await conn.fetchrow(
                "SELECT (SELECT count(*) FROM payments WHERE status = 'PROCESSING') AS processing,"
                " (SELECT count(*) FROM sandbox_charges WHERE webhook_due_at IS NOT NULL) AS owed,"
                " (SELECT count(*) FROM outbox_messages WHERE status = 'PENDING') AS mail,"
                " (SELECT count(*) FROM orders o JOIN showtimes s ON s.id = o.showtime_id"
                "  WHERE s.status = 'CANCELLED' AND o.status = 'PAID') AS unrefunded"
            )
        finally:
            await conn.close()
        assert row is not None
        state = ", ".join(f"{k} {v}" for k, v in dict(row).items())
        if not any(row.values()):
            return f"settled ({state})"
        await asyncio.sleep(1.0)
    return f"NOT settled after {limit:.0f} s ({state})"


async def soak(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    print(
        f"soak: seed {args.seed}, {args.duration:.0f} s, {args.subscribers} subscribers", flush=True
    )
    cluster = Cluster(args.data_dir)
    stats = Stats()
    ok = False
    try:
        t = time.time()
        await cluster.start()
        print(
            f"cluster up in {time.time() - t:.0f} s: "
            + ", ".join(f"{i.name} {i.url}" for i in cluster.instances),
            flush=True,
        )
        urls = [i.url for i in cluster.instances]
        api = Api(urls, stats, random.Random(rng.random()))
        setup_at = time.time()
        world = flows.World(stop_at=setup_at + 3600)
        await flows.setup(api, world, random.Random(rng.random()), str(args.seed % 100000))
        base = await baseline(cluster)
        stats.samples.clear()
        t0 = time.time()
        world.stop_at = t0 + args.duration
        world.subs_until = world.stop_at + 3600  # moved once the checks are done
        subs = [
            flows.Subscription(world.showtimes[i % len(world.showtimes)], urls[i % len(urls)])
            for i in range(args.subscribers)
        ]
        sub_tasks = [
            asyncio.create_task(flows.subscriber(s, world, stats, random.Random(rng.random())))
            for s in subs
        ]
        tasks = [
            asyncio.create_task(flows.browser(api, world, random.Random(rng.random()), 100_000))
            for _ in range(args.browsers)
        ]
        for n in range(args.customers):
            customer = flows.Customer(api, world, stats, random.Random(rng.random()), n)
            tasks.append(asyncio.create_task(customer.run(100_000)))
        cancel_after = t0 + args.duration * rng.uniform(0.3, 0.6)
        tasks.append(
            asyncio.create_task(
                flows.staff(api, world, stats, random.Random(rng.random()), cancel_after)
            )
        )
        names = [n for n in args.faults.split(",") if n]
        injector = Injector(cluster, world, random.Random(rng.random()), args.short)
        fault_end = t0 + args.duration * (0.55 if args.short else 0.75)
        fault_task = asyncio.create_task(injector.run(names, t0 + args.duration * 0.08, fault_end))
        # Bounded: the flows stop at stop_at; anything still running a minute later is cancelled.
        await asyncio.wait([*tasks, fault_task], timeout=args.duration + 240)
        for task in [*tasks, fault_task]:
            if not task.done():
                task.cancel()
        if fault_task.done() and not fault_task.cancelled() and fault_task.exception():
            print(f"fault injection failed: {fault_task.exception()!r}", flush=True)
        elapsed = time.time() - t0
        print(f"load over after {elapsed:.0f} s; settling", flush=True)
        # Beyond the outbox lease (2.5 min, docs/outbox.md): a live sender settles a claim cut
        # off by the PostgreSQL restart as soon as the database is back; only a claim whose
        # commit went through unanswered waits the lease out.
        settled = await quiesce(cluster, 200)
        await asyncio.sleep(3)  # the last announcements reach the subscribers
        checks: list[Check] = []
        checks += await check_api(api, cluster, world, subs)
        world.subs_until = 0
        await asyncio.wait(sub_tasks, timeout=15)
        for task in sub_tasks:
            task.cancel()
        staff_variants = set()
        if world.staff_variant:
            from graph.relay import parse_global_id

            staff_variants.add(int(parse_global_id(world.staff_variant)[1]))
        message_ids = dict(cluster.smtp.recorder.message_ids) if cluster.smtp else {}
        checks = await check_sql(cluster, base, staff_variants, message_ids) + checks
        injected = {f.name for f in injector.done}
        missing = [n for n in names if n not in injected]
        unrecovered = [f.name for f in injector.done if not f.recovered]
        checks.append(
            Check(
                "faults injected and recovered",
                len(names),
                len(missing) + len(unrecovered),
                f"missing {missing}, unrecovered {unrecovered}",
            )
        )
        _, outside = server_faults(stats, injector.done)
        checks.append(
            Check(
                "internal errors outside fault windows",
                len(stats.samples),
                len(outside),
                "; ".join(outside[:5]),
            )
        )
        relay = cluster.relay
        extra: dict[str, object] = {
            "_t0": t0,
            "settling": settled,
            "subscribers": f"{len(subs)}: events {sum(s.events for s in subs)}, gaps->resubscribe"
            f" {sum(s.resubscribes for s in subs)}, reconnects {sum(s.reconnects for s in subs)},"
            f" snapshots {sum(s.snapshots for s in subs)}",
            "webhooks": f"relayed {relay.forwarded if relay else 0}, redelivered"
            f" {relay.redelivered if relay else 0}, answers {dict(relay.replay_answers) if relay else {}}",  # noqa: E501
            "smtp": f"{sum(message_ids.values())} accepted, {len(message_ids)} Message-IDs",
            "staff": f"stock set {len(world.stock_sets)} times, showtime cancelled"
            f" {'yes' if world.doomed_cancelled_at else 'no'}",
        }
        text = render(stats, elapsed, injector.done, checks, extra)
        print(text, flush=True)
        ok = all(c.ok for c in checks) and not settled.startswith("NOT")
        print(f"\nsoak {'PASSED' if ok else 'FAILED'} (seed {args.seed})", flush=True)
        (args.data_dir / "report.txt").write_text(text + f"\nseed {args.seed}\n")
        (args.data_dir / "report.json").write_text(
            json.dumps(
                {
                    "seed": args.seed,
                    "seconds": elapsed,
                    "passed": ok,
                    "checks": [c.__dict__ for c in checks],
                    "faults": [f.__dict__ for f in injector.done],
                },
                default=str,
                indent=1,
            )
        )
        await api.close()
    finally:
        await cluster.stop()
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    sys.exit(asyncio.run(soak(args)))


if __name__ == "__main__":
    main()
