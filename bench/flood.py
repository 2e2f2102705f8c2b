"""How long a hostile mail takes to decide: typed 保証契約番号 blocks, and a body of "PW".

A sender can type thousands of key blocks in one mail, or megabytes of password labels.
The daemon must stay linear in the mail's size (it reads at most limits.max_submissions
+ 1 blocks and sends one review mail). This prints, per size, the mail's size and the
best of three wall-clock times of ``read_message`` + ``decide`` in this process (the
daemon reads in a sandboxed child; ``decide`` runs in the daemon itself).

Usage: .venv/bin/python bench/flood.py
Prints one line per case, e.g. ``blocks 10000: 1.2 MB, read 0.41 s, decide 0.05 s,
review too-many-submissions``. Numbers depend on the machine: say which when quoting them.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import stack  # noqa: E402
from samples import mails  # noqa: E402

from daemon import config  # noqa: E402
from daemon.decide import decide  # noqa: E402
from daemon.read import read_message  # noqa: E402


def _blocks(n: int) -> bytes:
    body = "".join(f"保証契約番号：{n:05d}{i:05d}\n認証キー：Kx{i:06d}Qz\n契約保証\n\n"
                   for i in range(n))
    return mails.build(from_="t-yamada@yamada-kensetsu.example.co.jp", to=mails.OFFICE_ADDRESS,
                       subject="【電子保証】契約保証", body=body, charset="utf-8")


def _pw(megabytes: int) -> bytes:
    body = "PW" * (megabytes << 19)
    return mails.build(from_="t-yamada@yamada-kensetsu.example.co.jp", to=mails.OFFICE_ADDRESS,
                       subject="【電子保証】", body=body, charset="utf-8")


def _best(job, runs: int = 3) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    best, result = float("inf"), None
    for _ in range(runs):
        start = time.perf_counter()
        result = job()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    state = Path(tempfile.mkdtemp(prefix="flood-")) / "state.sqlite3"  # never written
    settings = config.parse(stack.office_config(state))
    cases = [(f"blocks {n}", _blocks(n)) for n in (100, 1000, 10000)]
    cases += [(f"PW body {m} MB", _pw(m)) for m in (1, 8)]
    print(f"flood: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    for name, raw in cases:
        read_s, mail = _best(lambda raw=raw: read_message(raw))
        decide_s, decision = _best(lambda mail=mail: decide(mail, settings))  # type: ignore[arg-type]
        print(f"{name}: {len(raw) / 1e6:.1f} MB, read {read_s:.2f} s, decide {decide_s:.2f} s,"
              f" {decision.verdict.value} {','.join(decision.problems) or '-'}")  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
