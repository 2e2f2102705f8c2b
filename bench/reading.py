"""What a reader process's work costs, in one process with no mail stack: each message of
the bench's mix read, decided and its mails composed (as :func:`daemon.workers._work`
does for a new message), beside the floor's work on the same messages (mail-parser and
pypdf's text of each PDF, as ``bench/throughput.py``'s floor).

Prints the CPU time a message of each (time.process_time, after one warm-up pass), and
the reader's split: reading (``read_message``: parsing, decoding, the attachments' text),
deciding (``decide``), composing (``compose`` and making each mail's bytes).

Usage: PYTHONPATH=. .venv/bin/python bench/reading.py [--count 1000] [--seed 11]
Asserts nothing: the figures depend on the machine and its load, printed with them.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

import _corpus  # noqa: E402
import stack  # noqa: E402
from throughput import floor_read  # noqa: E402

from daemon import config  # noqa: E402
from daemon.compose import compose  # noqa: E402
from daemon.decide import decide  # noqa: E402
from daemon.read import ReadLimits, read_message  # noqa: E402


def reader(messages: list[bytes], settings: config.Settings) -> dict[str, float]:
    """A reader's work on each message; CPU seconds by stage."""
    limits = ReadLimits.of(settings.limits)
    now = datetime.now(UTC)
    spent = {"reading": 0.0, "deciding": 0.0, "composing": 0.0}
    for raw in messages:
        t0 = time.process_time()
        mail = read_message(raw, now, now=now, limits=limits)
        t1 = time.process_time()
        decision = decide(mail, settings, now=now)
        t2 = time.process_time()
        for out in compose(decision, mail, settings, now):
            out.rendered()
        t3 = time.process_time()
        spent["reading"] += t1 - t0
        spent["deciding"] += t2 - t1
        spent["composing"] += t3 - t2
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    messages = [raw for _, raw in _corpus.messages(args.seed, args.count)]
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "office.toml"
        path.write_text(stack.office_config(Path(work) / "state.sqlite3"), encoding="utf-8")
        settings = config.load(path)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{os.cpu_count()} cores, load {load}, Python {platform.python_version()}; "
          f"{len(messages)} messages (seed {args.seed})", flush=True)
    floor_read(messages)  # warm-up: imports, caches
    reader(messages, settings)
    start = time.process_time()
    floor_read(messages)
    floor_ms = (time.process_time() - start) / len(messages) * 1000
    spent = reader(messages, settings)
    total = sum(spent.values())
    print(f"floor: {floor_ms:.1f} ms of CPU a message")
    print(f"reader: {total / len(messages) * 1000:.1f} ms of CPU a message = "
          + ", ".join(f"{stage} {s / len(messages) * 1000:.1f} ({s / total:.0%})"
                      for stage, s in spent.items()))


if __name__ == "__main__":
    main()
