"""A labelled set of realistic submissions with their expected outcomes (issue 8).

:func:`build` writes every message for a moment ``now`` (Date headers minutes or hours
before it; the same ``now`` gives the same bytes); :func:`labelled.table.load` reads
what each should come to (``expected.tsv``); :func:`labelled.office.office_toml` writes
the two offices' configs. ``tests/test_labelled.py`` runs each message through
``classify``; ``tests/test_stack_labelled.py`` delivers every set through the mail stack
and runs the daemon.
"""

from __future__ import annotations

from datetime import datetime

from labelled import sets_layouts, sets_pairing, sets_plain, sets_rules, sets_waits
from labelled.base import SETS, context

__all__ = ["build", "sets_layouts", "sets_pairing", "sets_plain", "sets_rules", "sets_waits"]


def build(now: datetime) -> dict[str, bytes]:
    """Every message of the set, by row id (``<set>.<order>``), sets in registry order."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    out: dict[str, bytes] = {}
    for name, definition in SETS.items():
        for order, raw in enumerate(definition.build(context(name, now)), start=1):
            out[f"{name}.{order}"] = raw
    return out
