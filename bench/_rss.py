"""The resident memory of a process tree, sampled from /proc while it runs.

Every ``interval`` seconds the sampler lists the process's descendants (by the parent
pid in /proc/<pid>/stat) and sums their RSS (/proc/<pid>/statm). Forked children share
their parent's pages until they write them, so the sum counts shared pages once per
process: an upper bound of what the tree really holds. The sum of the proportional set
sizes (PSS, shared pages split between their sharers) is sampled beside it: what the tree
holds.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class Peak:
    """The highest figures seen."""

    tree_bytes: int = 0
    tree_pss_bytes: int = 0  # proportional: a page shared by n processes counts 1/n each
    main_bytes: int = 0
    processes: int = 0
    samples: int = 0


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


def _rss(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


class Sampler:
    """Samples a process tree in a thread until stopped: ``with Sampler(pid) as peak``."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid = pid
        self.interval = interval
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
        while not self._stop.is_set():
            tree = _tree(self.pid)
            sizes = [_rss(pid) for pid in tree]
            peak = self.peak
            peak.samples += 1
            peak.tree_bytes = max(peak.tree_bytes, sum(sizes))
            peak.tree_pss_bytes = max(peak.tree_pss_bytes, sum(_pss(pid) for pid in tree))
            peak.main_bytes = max(peak.main_bytes, sizes[0])
            peak.processes = max(peak.processes, sum(1 for s in sizes if s))
            self._stop.wait(self.interval)
