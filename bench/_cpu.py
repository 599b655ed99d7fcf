"""CPU time from /proc (Linux): per process, with the children it reaped, and for the whole machine."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_stats() -> dict[int, tuple[int, str, float]]:
    """pid -> (parent pid, command name, CPU seconds so far) for every process we may read.

    The CPU seconds include those of children it has reaped: PostgreSQL's postmaster thus accounts for the
    backends of connections closed during the run (Celery closes the database connection after each task)."""
    stats: dict[int, tuple[int, str, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        name = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2 :].split()
        cpu = sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
        stats[int(entry.name)] = (int(fields[1]), name, cpu / _TICKS)
    return stats


def _machine_busy_seconds() -> float:
    """CPU seconds spent not idle, summed over all cores, since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / _TICKS


@dataclass
class CpuSnapshot:
    at: float
    machine: float
    procs: dict[int, tuple[int, str, float]]

    @classmethod
    def take(cls) -> CpuSnapshot:
        return cls(time.monotonic(), _machine_busy_seconds(), _proc_stats())

    def tree(self, root: int) -> set[int]:
        pids, grew = {root}, True
        while grew:
            more = {pid for pid, (ppid, _, _) in self.procs.items() if ppid in pids} - pids
            grew = bool(more)
            pids |= more
        return pids

    def used(self, before: CpuSnapshot, pids: set[int]) -> float:
        return sum(self.procs[p][2] - (before.procs[p][2] if p in before.procs else 0.0) for p in pids)

    def named(self, name: str) -> set[int]:
        return {pid for pid, (_, comm, _) in self.procs.items() if comm.startswith(name)}
