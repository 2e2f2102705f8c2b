"""Count what mutmut found and print the verdict line of bench/mutation.sh.

Reads mutmut's result files (mutants/**/*.py.meta) and bench/mutation-equivalent.txt (one
mutant name per line, then the reason it cannot change behaviour). A mutant is killed when a
test failed on it, it timed out (an endless loop the tests noticed) or it crashed the test
run; every other outcome (survived, no tests, suspicious, not checked) counts against the
score unless the mutant is listed as equivalent. Prints each survivor not listed, then as
its last line: ``mutation: K killed of N (S survived, E equivalent)``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KILLED = {1, 3, 36, 37, -24, 24, 152, 255, -11, -9}


def equivalent(path: Path) -> dict[str, str]:
    """Mutant name -> why it cannot change behaviour."""
    out: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, _, why = line.partition(" ")
        if not why.strip():
            sys.exit(f"{path}: {name}: no reason given")
        out[name] = why.strip()
    return out


def main() -> int:
    """Print survivors and the summary line; exit 1 when any survivor is not listed."""
    results: dict[str, int | None] = {}
    for meta in sorted((ROOT / "mutants").rglob("*.py.meta")):
        results.update(json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"])
    listed = equivalent(ROOT / "bench" / "mutation-equivalent.txt")
    stale = sorted(set(listed) - set(results))
    killed = sum(1 for code in results.values() if code in KILLED)
    alive = sorted(name for name, code in results.items() if code not in KILLED)
    survivors = [name for name in alive if name not in listed]
    eq = len(alive) - len(survivors)
    for name in survivors:
        print(f"survived: {name} (exit {results[name]})")
    for name in stale:
        print(f"listed as equivalent but no longer a mutant: {name}")
    for name in sorted(set(listed) & set(results)):
        if results[name] in KILLED:
            print(f"listed as equivalent but killed (remove it from the list): {name}")
    print(f"mutation: {killed} killed of {len(results)} ({len(survivors)} survived,"
          f" {eq} equivalent)")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
