"""The polls the loop made: when each started and ended, how it ended (``ok`` or
``failed``), its counts per outcome and a short error. Only the latest :data:`KEPT` are
kept (the older ones are pruned in the same transaction); how many polls ended each way
in all is counted beside them (``poll_totals``), for the metrics."""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from daemon.store.db import Database, stamp, when

KEPT = 1000  # the latest polls kept
ERROR_CHARS = 300  # an error's text, cut to this


class PollOutcome(enum.StrEnum):
    """How a poll ended."""

    OK = "ok"          # the intake folder was read and every message taken in turn
    FAILED = "failed"  # the server, the connection or the state file failed it


@dataclass(frozen=True)
class Poll:
    """One recorded poll."""

    started_at: datetime
    finished_at: datetime
    outcome: PollOutcome
    counts: dict[str, int]
    error: str | None = None

    def to_json(self) -> dict[str, object]:
        """The poll as ``status --json`` shows it (times as stored, UTC)."""
        return {"started_at": self.started_at.isoformat(),
                "finished_at": self.finished_at.isoformat(),
                "outcome": self.outcome.value, "counts": dict(self.counts),
                "error": self.error}


class Polls:
    """The ``polls`` and ``poll_totals`` tables."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def record(self, started_at: datetime, finished_at: datetime, outcome: PollOutcome,
               counts: Mapping[str, int], error: str | None = None) -> None:
        """Record one poll, count it, and drop the polls older than the latest KEPT."""
        with self._db.tx() as db:
            db.execute(
                "INSERT INTO polls (started_at, finished_at, outcome, counts, error)"
                " VALUES (?, ?, ?, ?, ?)",
                (stamp(started_at), stamp(finished_at), outcome.value,
                 json.dumps({k: n for k, n in sorted(counts.items()) if n}),
                 error[:ERROR_CHARS] if error else None),
            )
            db.execute(
                "INSERT INTO poll_totals (outcome, count) VALUES (?, 1)"
                " ON CONFLICT (outcome) DO UPDATE SET count=count+1", (outcome.value,))
            db.execute("DELETE FROM polls WHERE id <= (SELECT MAX(id) FROM polls) - ?",
                       (KEPT,))

    def last(self, outcome: PollOutcome | None = None) -> Poll | None:
        """The latest poll (of one outcome)."""
        row = self._db.row(
            "SELECT * FROM polls WHERE (? IS NULL OR outcome=?) ORDER BY id DESC LIMIT 1",
            (outcome, outcome))
        if row is None:
            return None
        return Poll(when(row["started_at"]) or datetime.min,
                    when(row["finished_at"]) or datetime.min,
                    PollOutcome(row["outcome"]), json.loads(row["counts"]), row["error"])

    def totals(self) -> dict[str, int]:
        """How many polls ended each way, in all (every outcome named, 0 when none)."""
        counts = {outcome.value: 0 for outcome in PollOutcome}
        for row in self._db.rows("SELECT outcome, count FROM poll_totals"):
            counts[row["outcome"]] = int(row["count"])
        return counts

    def kept(self) -> int:
        """How many polls are kept now."""
        row = self._db.row("SELECT COUNT(*) FROM polls")
        return int(row[0]) if row else 0
