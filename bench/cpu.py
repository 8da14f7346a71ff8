"""How much of the machine other processes took during a run (the machine may be shared):
busy CPU time from /proc/stat minus that of the server, its PostgreSQL and wrk."""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _machine_busy() -> float:
    """Busy CPU seconds of the whole machine since boot."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / TICK


def _process_cpu(pid: int) -> float:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def _children(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
            found.append(int(entry.name))
    return found


def _reaped_children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Snapshot:
    machine: float
    ours: dict[int, float]
    reaped: float


class CpuMeter:
    """`ours`: the server's process tree and, when embedded, its PostgreSQL (the postmaster
    and its backends); wrk is counted through getrusage once it has been waited for."""

    def __init__(self, server_pid: int | None, postmaster_pid_file: Path | None) -> None:
        self.server_pid = server_pid
        self.postmaster_pid_file = postmaster_pid_file

    def _our_pids(self) -> list[int]:
        roots = []
        if self.server_pid:
            roots.append(self.server_pid)
        if self.postmaster_pid_file and self.postmaster_pid_file.exists():
            first = self.postmaster_pid_file.read_text().split("\n", 1)[0].strip()
            if first.isdigit():
                roots.append(int(first))
        pids = list(roots)
        for root in roots:
            pids.extend(_children(root))
        return pids

    def snapshot(self) -> Snapshot:
        return Snapshot(
            _machine_busy(),
            {pid: _process_cpu(pid) for pid in self._our_pids()},
            _reaped_children_cpu(),
        )

    @staticmethod
    def others_share(before: Snapshot, after: Snapshot, seconds: float) -> float:
        """The fraction of all CPUs (0..1) that other processes used between the snapshots."""
        ours = sum(cpu - before.ours.get(pid, 0.0) for pid, cpu in after.ours.items())
        ours += after.reaped - before.reaped
        busy = after.machine - before.machine
        capacity = seconds * (os.cpu_count() or 1)
        return max(0.0, min(1.0, (busy - ours) / capacity)) if capacity else 0.0
