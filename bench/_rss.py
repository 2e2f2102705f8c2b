"""The resident memory of a process tree, sampled from /proc while it runs.

Every ``interval`` seconds the sampler sums the RSS (/proc/<pid>/statm) of the process
and its descendants (listed by the parent pid in /proc/<pid>/stat every second, and
again when one ends). Forked children share their parent's pages until they write them,
so the sum counts shared pages once per process: an upper bound of what the tree really
holds. The sum of the proportional set
sizes (PSS, shared pages split between their sharers) is sampled every half second: what
the tree holds.
The main process's CPU time is sampled too (the last value before it ended), and what
the sampling itself cost, so that a caller can tell the daemon's share of the machine.
"""

from __future__ import annotations

import math
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Peak:
    """The highest figures seen."""

    tree_bytes: int = 0
    tree_pss_bytes: int = 0  # proportional: a page shared by n processes counts 1/n each
    main_bytes: int = 0
    processes: int = 0
    samples: int = 0
    main_cpu_s: float = 0.0  # the main process's CPU time (user + system), last sampled
    sampler_cpu_s: float = 0.0  # what sampling itself cost (this thread's CPU time)


def _parents() -> dict[int, int]:
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses.
        out[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    return out


def _tree(root: int) -> list[int]:
    parents = _parents()
    tree, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, ppid in parents.items() if ppid in frontier]
        tree += frontier
    return tree


def _pss(pid: int) -> int:
    """The process's proportional set size (smaps_rollup): shared pages split between
    the processes that share them, so the tree's sum is what it really holds."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        pass
    return 0


def _cpu_s(pid: int) -> float:
    """The process's own CPU time so far (utime + stime), in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS
    except (OSError, IndexError, ValueError):
        return 0.0


def _rss(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


class Sampler:
    """Samples a process tree in a thread until stopped: ``with Sampler(pid) as peak``."""

    def __init__(self, pid: int, interval: float = 0.05, *, tree_every: float = 1.0,
                 pss_every: float = 0.5) -> None:
        self.pid = pid
        self.interval = interval
        # Listing the tree scans all of /proc and PSS walks each process's mappings: done
        # less often than RSS, or the sampling costs the machine a core-tenth (measured:
        # 24 s of CPU over a 110 s run when all three ran every 50 ms).
        self.tree_every = tree_every
        self.pss_every = pss_every
        self.peak = Peak()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> Peak:
        self._thread.start()
        return self.peak

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        start = time.thread_time()
        listed = measured = -math.inf
        tree: list[int] = []
        while not self._stop.is_set():
            now = time.monotonic()
            if now - listed >= self.tree_every:
                tree, listed = _tree(self.pid), now
            sizes = [_rss(pid) for pid in tree]
            if sizes and not all(sizes[1:]):  # a child ended: the tree is listed again
                listed = -math.inf
            peak = self.peak
            peak.samples += 1
            peak.tree_bytes = max(peak.tree_bytes, sum(sizes))
            if now - measured >= self.pss_every:
                peak.tree_pss_bytes = max(peak.tree_pss_bytes, sum(_pss(pid) for pid in tree))
                measured = now
            peak.main_bytes = max(peak.main_bytes, sizes[0])
            peak.processes = max(peak.processes, sum(1 for s in sizes if s))
            peak.main_cpu_s = _cpu_s(self.pid) or peak.main_cpu_s
            peak.sampler_cpu_s = time.thread_time() - start
            self._stop.wait(self.interval)
