"""The daily summaries: the figures of a day, read from the other tables, and the
``summaries`` table, one row per day reported, the guard that each is sent once.

A summary's row moves ``sending -> sent``, recorded on disk before the hand-over to the
SMTP server; ``failed`` when the server certainly did not take it (no connection, an
answer refusing it), so it is tried again. A row left ``sending`` (the daemon died while
handing it over, or the connection broke before the server's answer) may have been
taken: it is never sent again by itself (see :mod:`daemon.daily`).
"""

from __future__ import annotations

import enum
import json
from collections import Counter
from datetime import date, datetime

from daemon.model import OutState
from daemon.store.db import Database, now, stamp, when
from daemon.summary import QUARANTINED, Figures, Listed, Undelivered, period

# The queries of a day's figures; a day is [start, end) in stored times (any UTC offset).
_ARRIVED = ("SELECT kind, verdict FROM messages WHERE duplicate_of IS NULL"
            " AND julianday(received_at)>=julianday(?) AND julianday(received_at)<julianday(?)")
_TYPES = ("SELECT s.guarantee_type FROM submissions s JOIN messages m ON m.id=s.message"
          " WHERE s.kind<>'other' AND m.duplicate_of IS NULL"
          " AND julianday(m.received_at)>=julianday(?) AND julianday(m.received_at)<julianday(?)")
_REVIEW = ("SELECT message_id, sender, received_at, problems, reason FROM messages"
           " WHERE verdict='review' AND duplicate_of IS NULL"
           " AND julianday(received_at)>=julianday(?) AND julianday(received_at)<julianday(?)"
           " ORDER BY julianday(received_at), id")
_QUARANTINE = ("SELECT message_id, sender, received_at, last_error FROM messages"
               " WHERE verdict=? AND ((julianday(received_at)>=julianday(?)"
               " AND julianday(received_at)<julianday(?))"
               " OR (julianday(decided_at)>=julianday(?) AND julianday(decided_at)<julianday(?)))"
               " ORDER BY julianday(received_at), id")
_UNDELIVERED = ("SELECT o.action, o.recipients, o.last_error, m.message_id FROM outgoing o"
                " JOIN messages m ON m.id=o.message WHERE o.state=?"
                " AND ((julianday(o.queued_at)>=julianday(?)"
                " AND julianday(o.queued_at)<julianday(?))"
                " OR (julianday(m.received_at)>=julianday(?)"
                " AND julianday(m.received_at)<julianday(?))) ORDER BY o.id")


class SummaryState(enum.StrEnum):
    """Where a day's summary is."""

    SENDING = "sending"  # handed (or being handed) to the server: maybe taken
    SENT = "sent"        # taken by the server
    FAILED = "failed"    # certainly not taken: may be sent again


class Summaries:
    """The ``summaries`` table, and the day's figures."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def figures(self, day: date, made_at: datetime) -> Figures:
        """What the summary of ``day`` (Japan time) reports, as the state file has it at
        ``made_at``: duplicates of a message decided before are not counted; guarantee
        types are counted per submission of a guarantee (not for other mail)."""
        start, end = (stamp(t) for t in period(day))
        arrived = self._db.rows(_ARRIVED, (start, end))
        types = self._db.rows(_TYPES, (start, end))
        return Figures(
            day=day, made_at=made_at,
            kinds=Counter(r["kind"] for r in arrived),
            types=Counter(r["guarantee_type"] for r in types),
            verdicts=Counter(r["verdict"] for r in arrived),
            held=self._held(), review=self._review(start, end),
            quarantine=self._quarantine(start, end), undelivered=self._undelivered(start, end))

    def _held(self) -> tuple[Listed, ...]:
        rows = self._db.rows(
            "SELECT message_id, sender, received_at, held_reason, held_until FROM messages"
            " WHERE state='held' ORDER BY julianday(held_until), id")
        return tuple(Listed(r["message_id"], r["sender"], when(r["received_at"]),
                            r["held_reason"] or "", when(r["held_until"])) for r in rows)

    def _review(self, start: str, end: str) -> tuple[Listed, ...]:
        rows = self._db.rows(_REVIEW, (start, end))
        return tuple(Listed(r["message_id"], r["sender"], when(r["received_at"]),
                            r["problems"] or r["reason"] or "") for r in rows)

    def _quarantine(self, start: str, end: str) -> tuple[Listed, ...]:
        """Set aside that day: arrived that day, or decided (set aside) that day."""
        rows = self._db.rows(_QUARANTINE, (QUARANTINED, start, end, start, end))
        return tuple(Listed(r["message_id"], r["sender"], when(r["received_at"]),
                            r["last_error"] or "") for r in rows)

    def _undelivered(self, start: str, end: str) -> tuple[Undelivered, ...]:
        """Mails refused for good among those queued that day, or about a message that
        arrived that day."""
        rows = self._db.rows(_UNDELIVERED, (OutState.FAILED.value, start, end, start, end))
        return tuple(Undelivered(r["action"], tuple(json.loads(r["recipients"])),
                                 r["last_error"] or "", r["message_id"]) for r in rows)

    def state(self, day: date) -> SummaryState | None:
        """Where the summary of ``day`` is (None: never tried)."""
        row = self._db.row("SELECT state FROM summaries WHERE day=?", (day.isoformat(),))
        return SummaryState(row["state"]) if row else None

    def claim(self, day: date, out_message_id: str, *, again: bool = False) -> bool:
        """Mark the summary of ``day`` as being sent, on disk before it is handed over;
        False when it is sent or being sent already (``again``: claimed anyway, for an
        operator's ``summary --send``)."""
        with self._db.tx(durable=True) as db:
            row = db.execute("SELECT state FROM summaries WHERE day=?",
                             (day.isoformat(),)).fetchone()
            if row is not None and row["state"] != SummaryState.FAILED and not again:
                return False
            db.execute(
                "INSERT INTO summaries (day, out_message_id, state, attempts) VALUES (?, ?, ?, 1)"
                " ON CONFLICT (day) DO UPDATE SET state=excluded.state,"
                " out_message_id=excluded.out_message_id, attempts=attempts+1",
                (day.isoformat(), out_message_id, SummaryState.SENDING.value))
        return True

    def mark_sent(self, day: date) -> None:
        """The server took the summary of ``day``."""
        with self._db.tx() as db:
            db.execute("UPDATE summaries SET state=?, sent_at=?, last_error=NULL WHERE day=?",
                       (SummaryState.SENT.value, now(), day.isoformat()))

    def mark_failed(self, day: date, error: str) -> None:
        """The server certainly did not take it: it may be sent again."""
        with self._db.tx() as db:
            db.execute("UPDATE summaries SET state=?, last_error=? WHERE day=?",
                       (SummaryState.FAILED.value, error[:500], day.isoformat()))

    def note_error(self, day: date, error: str) -> None:
        """The hand-over was cut off: it stays ``sending`` (maybe taken), with why."""
        with self._db.tx() as db:
            db.execute("UPDATE summaries SET last_error=? WHERE day=?",
                       (error[:500], day.isoformat()))
