"""The README's problem-code table is complete and points at tests that exist."""

from __future__ import annotations

import re
from pathlib import Path

from daemon.problems import CATALOGUE

ROOT = Path(__file__).resolve().parents[1]


def test_every_problem_code_is_documented_with_a_real_test() -> None:
    """Each code has a README row whose sentence matches the catalogue and whose tests exist."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = {m.group(1): m for m in re.finditer(
        r"^\| `([a-z-]+)` \| (fix|review|warning) \| (.+?) \| (.+?) \|$", readme, re.M)}
    assert set(CATALOGUE) <= set(rows)
    for code, problem in CATALOGUE.items():
        row = rows[code]
        assert row.group(2) == problem.effect.value, code
        sentence = problem.to_contractor or problem.to_staff
        assert row.group(3) == sentence, code
        for ref in re.findall(r"`(test_\w+\.py)::(test_\w+)", row.group(4)):
            source = (ROOT / "tests" / ref[0]).read_text(encoding="utf-8")
            assert f"def {ref[1]}(" in source, (code, ref)


def test_the_log_events_listed_are_the_ones_logged() -> None:
    """Operators grep for the events the README names: each is logged, and each logged
    event is named."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Logs"):readme.index("## How a message is processed")]
    listed = set(re.findall(r"`([a-z]+\.[a-z_]+)`", section))
    source = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "daemon").glob("*.py"))
    logged = set(re.findall(r"\.(?:info|warning|error|exception)\(\s*\"([a-z]+\.[a-z_]+)\"",
                            source))
    logged |= set(re.findall(r"Verdict\.\w+: \"([a-z]+\.[a-z_]+)\"", source))
    assert logged, "no log calls found: the pattern is out of date"
    assert listed == logged
