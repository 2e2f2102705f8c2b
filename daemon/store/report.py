"""What ``status`` and the metrics ask of the state file: held messages, the outbox by
state, the quarantine, and counts of messages by kind and verdict. Read only; the values
come back as stored (a stranger's text is made safe to show by the caller)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from daemon.store.db import Database, stamp, when
from daemon.store.messages import QUARANTINED, MessageState

LISTED = 100  # at most this many of a list (the newest), beside its full count

# The outbox as an operator sees it: each mail not yet sent, or refused for good, is in
# one of these, by its row (see daemon.store.outgoing).
OUTBOX_STATES = ("pending", "retrying", "awaiting_copy", "failed")
_OUTBOX_WHERE = {
    # queued and never tried, or tried without a failure noted yet
    "pending": "state='queued' AND uncertain=0 AND next_attempt_at IS NULL",
    # a temporary failure: tried again at next_attempt_at
    "retrying": "state='queued' AND uncertain=0 AND next_attempt_at IS NOT NULL",
    # a hand-over cut off (or a run stopped while handing it over): the server may have
    # it, and its copy in the contract mailbox is waited for before it is sent again
    "awaiting_copy": "(state='sending' OR (state='queued' AND uncertain=1))",
    # refused for good (staff were told)
    "failed": "state='failed'",
}
UNKNOWN_KIND = "unknown"  # a message not (yet) classified: held, quarantined, duplicate
PENDING_VERDICT = "pending"  # a message seen, nothing decided yet


@dataclass(frozen=True)
class HeldRow:
    """A held message."""

    message_id: str
    sender: str
    reason: str
    held_until: datetime | None
    received_at: datetime | None


@dataclass(frozen=True)
class OutboxRow:
    """A mail in the outbox."""

    source: str  # the Message-ID of the message it is about
    action: str
    recipients: list[str]
    attempts: int
    next_attempt_at: datetime | None
    confirm_after: datetime | None
    error: str


@dataclass(frozen=True)
class QuarantinedRow:
    """A message set aside after failing too often."""

    message_id: str
    sender: str
    quarantined_at: datetime | None
    attempts: int
    error: str


class Report:
    """Read-only questions for ``status`` and the metrics."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def held(self) -> list[HeldRow]:
        """Every held message, the one whose wait ends first first."""
        rows = self._db.rows(
            "SELECT message_id, sender, held_reason, held_until, received_at FROM messages"
            " WHERE state=? ORDER BY julianday(held_until), id", (MessageState.HELD.value,))
        return [HeldRow(r["message_id"], r["sender"], r["held_reason"] or "",
                        when(r["held_until"]), when(r["received_at"])) for r in rows]

    def held_count(self) -> int:
        """How many messages are held."""
        return self._count("SELECT COUNT(*) FROM messages WHERE state=?",
                           (MessageState.HELD.value,))

    def outbox_counts(self) -> dict[str, int]:
        """How many mails are in each of OUTBOX_STATES."""
        return {name: self._count(f"SELECT COUNT(*) FROM outgoing WHERE {where}")  # noqa: S608
                for name, where in _OUTBOX_WHERE.items()}

    def outbox(self, name: str) -> list[OutboxRow]:
        """The newest LISTED mails in one of OUTBOX_STATES, oldest first."""
        where = _OUTBOX_WHERE[name]  # a KeyError for a name not in the table
        rows = self._db.rows(
            "SELECT * FROM (SELECT o.id, o.action, o.recipients, o.attempts,"  # noqa: S608
            " o.next_attempt_at, o.confirm_after, o.last_error, m.message_id"
            f" FROM (SELECT * FROM outgoing WHERE {where}) o JOIN messages m ON m.id=o.message"
            " ORDER BY o.id DESC LIMIT ?) ORDER BY id", (LISTED,))
        return [OutboxRow(r["message_id"], r["action"], json.loads(r["recipients"]),
                          int(r["attempts"]), when(r["next_attempt_at"]),
                          when(r["confirm_after"]), r["last_error"] or "") for r in rows]

    def quarantined(self) -> list[QuarantinedRow]:
        """The newest LISTED quarantined messages, oldest first."""
        rows = self._db.rows(
            "SELECT * FROM (SELECT id, message_id, sender, decided_at, attempts, last_error"
            " FROM messages WHERE verdict=? ORDER BY id DESC LIMIT ?) ORDER BY id",
            (QUARANTINED, LISTED))
        return [QuarantinedRow(r["message_id"], r["sender"], when(r["decided_at"]),
                               int(r["attempts"]), r["last_error"] or "") for r in rows]

    def quarantined_count(self) -> int:
        """How many messages were quarantined."""
        return self._count("SELECT COUNT(*) FROM messages WHERE verdict=?", (QUARANTINED,))

    def counts(self, start: datetime | None = None, end: datetime | None = None
               ) -> dict[str, dict[str, int]]:
        """Messages by kind, then verdict (as they stand now), of those that arrived in
        [start, end) (the server's arrival time; no bounds: all of them). A copy of a
        message counted already is not counted again."""
        rows = self._db.rows(
            "SELECT COALESCE(kind, ?) AS kind, COALESCE(verdict, ?) AS verdict,"
            " COUNT(*) AS n FROM messages WHERE duplicate_of IS NULL"
            " AND (? IS NULL OR julianday(received_at)>=julianday(?))"
            " AND (? IS NULL OR julianday(received_at)<julianday(?))"
            " GROUP BY 1, 2 ORDER BY 1, 2",
            (UNKNOWN_KIND, PENDING_VERDICT, *_bound(start), *_bound(end)))
        out: dict[str, dict[str, int]] = {}
        for r in rows:
            out.setdefault(r["kind"], {})[r["verdict"]] = int(r["n"])
        return out

    def _count(self, sql: str, args: tuple[object, ...] = ()) -> int:
        row = self._db.row(sql, args)
        return int(row[0]) if row else 0


def _bound(moment: datetime | None) -> tuple[str | None, str | None]:
    value = stamp(moment) if moment is not None else None
    return value, value

