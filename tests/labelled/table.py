"""The expected outcomes: ``expected.tsv``, one row per message.

Columns (tab-separated, a header line first; ``#`` lines are comments):

- ``id`` (``<set>.<order>``), ``set``, ``order`` (delivery order within the set),
  ``office`` (A or B, see :mod:`labelled.office`), ``point`` (1-7 of the issue, or
  ``plain``);
- ``kind``: the route of the submission(s) the message belongs to, ``+``-joined when it
  yields several (for a password mail: the route of what it opens);
- ``alone_verdict`` / ``alone_codes``: ``classify`` on the message alone, right after it
  arrived (its wait still running). For ``held``, ``alone_codes`` is the reason the
  daemon gives where the spec names it (``waiting-for-password``, ``waiting-for-rest``),
  else empty (not asserted); otherwise the problem codes over its outcomes;
- ``run_verdict`` / ``run_codes``: after ``run --once`` over the whole set; two messages
  decided together both carry the pair's verdict and codes (for ``held``: as above);
- ``pair``: the row decided together with this one (empty: decided alone);
- ``gtype``: the guarantee types of the routed mails (``+``-joined), else empty;
- ``arrived``: how long ago the message reached the mailbox (``90m``, ``26h``); empty for
  a message delivered now (its Date header is the same offset, or a few minutes);
- ``note``: what the row is about.

Codes are comma-separated, sorted.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

TABLE = Path(__file__).with_name("expected.tsv")
COLUMNS = ("id", "set", "order", "office", "point", "kind", "alone_verdict", "alone_codes",
           "run_verdict", "run_codes", "pair", "gtype", "arrived", "note")
VERDICTS = ("routed", "correction", "review", "ignored", "held")
KINDS = ("dsure-key", "confirmation-system", "legacy-pdf", "other")
GTYPES = ("contract", "advance-payment", "interim-advance-payment")
HELD_REASONS = ("waiting-for-password", "waiting-for-rest")


@dataclass(frozen=True)
class Row:
    """One message's expectations."""

    id: str
    set: str
    order: int
    office: str
    point: str
    kinds: tuple[str, ...]
    alone_verdict: str
    alone_codes: tuple[str, ...]
    run_verdict: str
    run_codes: tuple[str, ...]
    pair: str
    gtypes: tuple[str, ...]
    arrived: timedelta | None
    note: str


def _codes(value: str) -> tuple[str, ...]:
    return tuple(sorted(c.strip() for c in value.split(",") if c.strip()))


def _joined(value: str) -> tuple[str, ...]:
    return tuple(v for v in value.split("+") if v)


def parse_arrived(value: str) -> timedelta | None:
    """``90m`` / ``26h`` as a timedelta; empty is None."""
    if not value:
        return None
    m = re.fullmatch(r"(\d+)([mh])", value)
    if not m:
        raise ValueError(f"arrived must look like 90m or 26h, not {value!r}")
    amount = int(m.group(1))
    return timedelta(minutes=amount) if m.group(2) == "m" else timedelta(hours=amount)


def load(path: Path = TABLE) -> list[Row]:
    """Every row of the table, checked for shape."""
    lines = [line for line in path.read_text(encoding="utf-8").splitlines()
             if line and not line.startswith("#")]
    reader = csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE)
    if tuple(reader.fieldnames or ()) != COLUMNS:
        raise ValueError(f"{path}: columns must be {COLUMNS}, not {reader.fieldnames}")
    rows = []
    for record in reader:
        row = Row(
            id=record["id"], set=record["set"], order=int(record["order"]),
            office=record["office"], point=record["point"], kinds=_joined(record["kind"]),
            alone_verdict=record["alone_verdict"], alone_codes=_codes(record["alone_codes"]),
            run_verdict=record["run_verdict"], run_codes=_codes(record["run_codes"]),
            pair=record["pair"], gtypes=_joined(record["gtype"]),
            arrived=parse_arrived(record["arrived"]), note=record["note"])
        _check(row)
        rows.append(row)
    return rows


def _check(row: Row) -> None:
    problems = []
    if row.id != f"{row.set}.{row.order}":
        problems.append("id is not <set>.<order>")
    if not row.set.startswith(f"{row.office}-"):
        problems.append("set does not start with its office")
    if row.alone_verdict not in VERDICTS or row.run_verdict not in VERDICTS:
        problems.append("unknown verdict")
    if not row.kinds or any(k not in KINDS for k in row.kinds):
        problems.append("unknown kind")
    if any(g not in GTYPES for g in row.gtypes):
        problems.append("unknown guarantee type")
    if (row.run_verdict == "routed") != bool(row.gtypes):
        problems.append("gtype is given exactly for routed rows")
    for verdict, codes in ((row.alone_verdict, row.alone_codes),
                           (row.run_verdict, row.run_codes)):
        if verdict == "held" and any(c not in HELD_REASONS for c in codes):
            problems.append("a held row's codes are its reason")
    if problems:
        raise ValueError(f"row {row.id}: {'; '.join(problems)}")
