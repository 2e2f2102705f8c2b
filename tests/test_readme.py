"""The README is checked against the code: the problem-code table, the log events, the
config reference."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args, get_origin

from pydantic import BaseModel

from daemon.config import Settings
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


def _model_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every key a config may set, dotted (a list of tables counts as one table)."""
    keys = []
    for name, field in model.model_fields.items():
        kind = field.annotation
        inner = get_args(kind)[0] if get_origin(kind) is list else kind
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            keys += _model_keys(inner, f"{prefix}{name}.")
        else:
            keys.append(prefix + name)
    return keys


def _documented_in_defaults() -> set[str]:
    """The keys config/defaults.toml sets or shows commented out, under their tables
    (a commented table header such as ``# [[insurers]]`` counts)."""
    keys: set[str] = set()
    table = ""
    for line in (ROOT / "config" / "defaults.toml").read_text(encoding="utf-8").splitlines():
        if header := re.match(r"^#?\s*\[\[?([\w.]+)\]\]?\s*$", line):
            table = header.group(1) + "."
            keys.add(header.group(1))
        elif key := re.match(r"^#?\s*([a-z_]+) = ", line):
            keys.add(("" if table == "." else table) + key.group(1))
    return keys


def _reference_patterns() -> list[re.Pattern[str]]:
    """What README ## Configuration names in backticks, as patterns over dotted keys:
    ``routing.*``, ``imap.folders.{routed,review}``, ``[[insurers]]`` (every key of it)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Configuration"):readme.index("## Verdicts")]
    patterns = []
    for name in re.findall(r"`([^`\s]+)`", section):
        token = name.strip("[]") + ".*" if name.startswith("[") else name
        if not re.fullmatch(r"[a-z_.*{},0-9]+", token) or ("." not in token and token != "mode"):
            continue
        regex = re.escape(token).replace(r"\*", r"[a-z_.]+")
        regex = re.sub(r"\\\{([^}]*)\\\}",
                       lambda m: "(?:" + m.group(1).replace(",", "|") + ")", regex)
        patterns.append(re.compile(regex))
    return patterns


def test_every_config_key_is_in_defaults_and_in_the_reference() -> None:
    """The config reference is checked against the code: each key the config takes is in
    config/defaults.toml (set, or commented out when it has no default) and named in the
    README's Configuration section; defaults.toml names no key the config does not take."""
    keys = set(_model_keys(Settings))
    in_defaults = _documented_in_defaults()
    assert keys - in_defaults == set(), "keys missing from config/defaults.toml"
    # Examples under a table of free keys (policy.subject_patterns.contract) are fine.
    tables = {k.rsplit(".", 1)[0] for k in keys if "." in k} | {"imap.folders"}
    extra = {k for k in in_defaults - keys - tables
             if not k.startswith("policy.subject_patterns.")}
    assert extra == set(), "defaults.toml names keys the config does not take"
    patterns = _reference_patterns()
    missing = sorted(k for k in keys if not any(p.fullmatch(k) for p in patterns))
    assert missing == [], "keys missing from README ## Configuration"
