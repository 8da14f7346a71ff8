"""The soak's printed report: throughput and latency by kind, errors by code, faults and
their recovery, internal errors inside and outside the fault windows, the invariants."""

from __future__ import annotations

from collections import Counter

from bench.soak.client import Stats
from bench.soak.faults import Fault
from bench.soak.invariants import Check

# A fault's window: from its injection to this long after the first success that followed.
GRACE_SECONDS = 10.0


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def in_window(at: float, faults: list[Fault]) -> bool:
    for f in faults:
        end = (f.recovered or f.ended or at) + GRACE_SECONDS
        if f.started - 1.0 <= at <= end:
            return True
    return False


def server_faults(stats: Stats, faults: list[Fault]) -> tuple[list[str], list[str]]:
    """(inside, outside) the fault windows: internal errors, 5xx and transport errors."""
    inside, outside = [], []
    for at, kind, detail in stats.faults:
        if kind == "ws":
            continue
        (inside if in_window(at, faults) else outside).append(f"{kind} {detail}")
    return inside, outside


def render(
    stats: Stats,
    seconds: float,
    faults: list[Fault],
    checks: list[Check],
    extra: dict[str, object],
) -> str:
    out: list[str] = []
    lat = stats.latencies()
    outcomes: dict[str, Counter[str]] = {}
    for s in stats.samples:
        outcomes.setdefault(s.kind, Counter())[s.outcome] += 1
    total = len(stats.samples)
    out.append(f"requests: {total} in {seconds:.0f} s = {total / seconds:.1f}/s")
    out.append("")
    out.append(f"{'kind':<40} {'count':>7} {'per s':>7} {'p50 ms':>8} {'p99 ms':>8}  outcomes")
    for kind in sorted(lat, key=lambda k: -len(lat[k])):
        v = lat[kind]
        codes = ", ".join(f"{c} {n}" for c, n in outcomes[kind].most_common())
        out.append(
            f"{kind:<40} {len(v):>7} {len(v) / seconds:>7.1f} {percentile(v, 50) * 1000:>8.0f}"
            f" {percentile(v, 99) * 1000:>8.0f}  {codes}"
        )
    out.append("")
    ops = ", ".join(f"{k} {n} ({n / seconds:.2f}/s)" for k, n in sorted(stats.operations.items()))
    out.append(f"operations: {ops}")
    if stats.async_seconds:
        a = stats.async_seconds
        out.append(
            f"tok_async pay -> PAID: {len(a)}, p50 {percentile(a, 50):.1f} s,"
            f" p99 {percentile(a, 99):.1f} s"
        )
    errors: Counter[str] = Counter()
    for s in stats.samples:
        if s.outcome != "ok":
            errors[s.outcome] += 1
    out.append(
        "errors by code: " + (", ".join(f"{c} {n}" for c, n in errors.most_common()) or "none")
    )
    for key, value in extra.items():
        if not key.startswith("_"):
            out.append(f"{key}: {value}")
    out.append("")
    out.append(f"{'fault':<18} {'at s':>6} {'over s':>7} {'recovered s':>12}  detail")
    t0 = extra.get("_t0", 0.0)
    for f in faults:
        rec = f.recovery_seconds
        out.append(
            f"{f.name:<18} {f.started - float(t0):>6.1f} {f.ended - f.started:>7.1f}"
            f" {f'{rec:.1f}' if rec is not None else 'NEVER':>12}  {f.detail}"
        )
    inside, outside = server_faults(stats, faults)
    out.append("")
    out.append(
        f"server errors (internal, 5xx, transport): {len(inside)} inside fault windows,"
        f" {len(outside)} outside"
    )
    for line in Counter(inside).most_common(8):
        out.append(f"  inside: {line[1]} x {line[0]}")
    for line in Counter(outside).most_common(8):
        out.append(f"  OUTSIDE: {line[1]} x {line[0]}")
    out.append("")
    out.append(f"{'invariant':<66} {'checked':>8} {'violations':>10}")
    for c in checks:
        mark = "ok" if c.ok else "FAIL"
        out.append(f"{c.name:<66} {c.checked:>8} {c.violations:>10}  {mark}")
        if not c.ok:
            out.append(f"    {c.detail}")
    return "\n".join(out)
