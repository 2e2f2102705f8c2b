"""The submissions decided so far (one row per guarantee in a message): what a later
submission may replace. Which one it replaces is the pure middle's call
(:func:`daemon.decide.replaced`); this only lists the candidates."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from daemon.model import Decision, EarlierSubmission, Kind, Verdict
from daemon.store.db import Database


def insert(db: sqlite3.Connection, message: int, sender: str, decision: Decision,
           decided_at: datetime) -> None:
    """Record each submission of a decision, inside a transaction."""
    for outcome in decision.outcomes:
        fields = outcome.fields
        db.execute(
            "INSERT INTO submissions (message, source, sender, kind, guarantee_type,"
            " contract_number, policy_number, project_name, verdict, decided_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (message, decision.sources[0] if decision.sources else "", sender,
             outcome.kind.value,
             outcome.guarantee_type.value if outcome.guarantee_type else None,
             fields.contract_number, fields.policy_number, fields.project_name,
             outcome.verdict.value, decided_at.isoformat()),
        )


LIMIT = 200  # candidates looked at, newest first: a re-sent submission replaces a recent one


class Submissions:
    """The ``submissions`` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def earlier(self, kind: Kind, *, source: str, before: datetime, sender: str,
                numbers: tuple[str | None, str | None], project_name: str | None
                ) -> list[EarlierSubmission]:
        """Submissions of this kind decided up to ``before`` in other messages than
        ``source`` with the same 保証契約番号 or 証券番号 (``numbers``), or from ``sender``
        for the same works, newest first, at most ``LIMIT``. Looked up by those values
        (indexed), so the time it takes does not grow with the years of submissions."""
        contract, policy = numbers
        rows = self._db.rows(
            "SELECT source, sender, contract_number, policy_number, project_name, verdict"
            " FROM submissions WHERE kind=? AND source<>? AND decided_at<=?"
            " AND ((? IS NOT NULL AND contract_number=?) OR (? IS NOT NULL AND policy_number=?)"
            " OR (? IS NOT NULL AND sender=? AND project_name=?))"
            " ORDER BY decided_at DESC, id DESC LIMIT ?",
            (kind.value, source, before.isoformat(), contract or None, contract,
             policy or None, policy, project_name or None, sender.lower(), project_name,
             LIMIT),
        )
        return [EarlierSubmission(r["source"], r["sender"], Verdict(r["verdict"]),
                                  r["contract_number"] or "", r["policy_number"] or "",
                                  r["project_name"] or "") for r in rows]
