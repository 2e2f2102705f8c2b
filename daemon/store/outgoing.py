"""The mails the daemon sends: each a row of its own, keyed by its Message-ID, moving
through the states of :class:`daemon.delivery.OutState` (``queued -> sending -> sent``;
``failed`` when refused for good). No secret is stored: a mail is composed again from its
source message when it is needed."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime

from daemon.model import TO_CONTRACTOR, OutState, action_of, check_step
from daemon.store.db import Database, now, stamp, when


@dataclass(frozen=True)
class PendingMail:
    """An outgoing mail not yet sent."""

    out_message_id: str
    state: OutState  # queued, or sending (a run stopped while handing it over)
    attempts: int
    next_attempt_at: datetime | None
    uncertain: bool = False  # an earlier hand-over was cut off: the server may have it
    confirm_after: datetime | None = None  # no copy by then: it was not taken


@dataclass(frozen=True)
class FailedMail:
    """An outgoing mail refused for good."""

    action: str
    recipients: list[str]
    error: str


def insert(db: sqlite3.Connection, message: int, action: str, out_message_id: str,
           recipients: tuple[str, ...]) -> None:
    """Queue a mail inside a transaction (once: a mail queued before stays as it is). A
    mail to the contractor (a correction, a receipt) notes its address in ``reply_to``:
    the reply caps count them together."""
    reply_to = (recipients[0].lower()
                if action_of(action) in TO_CONTRACTOR and recipients else None)
    db.execute(
        "INSERT OR IGNORE INTO outgoing (message, action, out_message_id, recipients,"
        " reply_to, state, queued_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (message, action, out_message_id, json.dumps(list(recipients)), reply_to,
         OutState.QUEUED.value, now()),
    )


class Outgoing:
    """The ``outgoing`` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def queue(self, message: int, action: str, out_message_id: str,
              recipients: tuple[str, ...]) -> None:
        """Queue one more mail for a message (a notice to staff)."""
        with self._db.tx() as db:
            insert(db, message, action, out_message_id, recipients)

    def pending(self, message: int) -> list[PendingMail]:
        """This message's mails not yet sent (queued, or sending when a run stopped)."""
        rows = self._db.rows(
            "SELECT out_message_id, state, attempts, next_attempt_at, uncertain, confirm_after"
            " FROM outgoing WHERE message=? AND state IN (?, ?) ORDER BY id",
            (message, OutState.QUEUED.value, OutState.SENDING.value),
        )
        return [PendingMail(r["out_message_id"], OutState(r["state"]), int(r["attempts"]),
                            when(r["next_attempt_at"]), bool(r["uncertain"]),
                            when(r["confirm_after"])) for r in rows]

    def failed(self, message: int) -> list[FailedMail]:
        """This message's mails refused for good."""
        rows = self._db.rows(
            "SELECT action, recipients, last_error FROM outgoing WHERE message=? AND state=?"
            " ORDER BY id", (message, OutState.FAILED.value))
        return [FailedMail(r["action"], json.loads(r["recipients"]), r["last_error"] or "")
                for r in rows]

    def state(self, out_message_id: str) -> OutState | None:
        """The state of one mail (None: never queued)."""
        row = self._db.row("SELECT state FROM outgoing WHERE out_message_id=?",
                           (out_message_id,))
        return OutState(row["state"]) if row else None

    def _move(self, out_message_id: str, to: OutState, sets: str, args: tuple[object, ...],
              *, durable: bool = False) -> None:
        """One step of a mail's life, checked against the transition table."""
        with self._db.tx(durable=durable) as db:
            row = db.execute("SELECT state FROM outgoing WHERE out_message_id=?",
                             (out_message_id,)).fetchone()
            if row is None:
                raise LookupError(f"no outgoing mail {out_message_id}")
            check_step(OutState(row["state"]), to)
            db.execute(f"UPDATE outgoing SET state=?, {sets} WHERE out_message_id=?",  # noqa: S608
                       (to.value, *args, out_message_id))

    def mark_sending(self, out_message_id: str) -> None:
        """About to hand the mail to the SMTP server: if the run stops now, whether it was
        sent is uncertain, and the mailbox is asked before sending it again."""
        self._move(out_message_id, OutState.SENDING,
                   "attempts=attempts+1, confirm_after=NULL", (), durable=True)

    def mark_sent(self, out_message_id: str) -> None:
        """One outgoing mail was accepted by the SMTP server (or its copy was seen)."""
        self._move(out_message_id, OutState.SENT,
                   "sent_at=?, last_error=NULL, uncertain=0, confirm_after=NULL", (now(),))

    def defer(self, out_message_id: str, error: str, next_attempt_at: datetime, *,
              uncertain: bool = False) -> None:
        """A temporary failure: the mail stays queued until ``next_attempt_at``.

        ``uncertain``: the hand-over was cut off, so the server may have the mail. That
        stays so (a later clean failure does not undo an earlier cut-off hand-over) until
        the mail is sent or its copy is seen.
        """
        self._move(out_message_id, OutState.QUEUED,
                   "last_error=?, next_attempt_at=?, uncertain=MAX(uncertain, ?),"
                   " confirm_after=NULL",
                   (error[:500], next_attempt_at.isoformat(), int(uncertain)))

    def await_copy(self, out_message_id: str, until: datetime) -> None:
        """The server is up and the mail's copy has not come: wait for it until ``until``
        (an uncertain mail); not there by then, the mail was not taken and is sent again."""
        self._move(out_message_id, OutState.QUEUED,
                   "uncertain=1, confirm_after=?, next_attempt_at=?",
                   (until.isoformat(), until.isoformat()))

    def mark_undeliverable(self, out_message_id: str, error: str) -> None:
        """A permanent failure (5xx): the mail will not be sent; staff are told instead."""
        self._move(out_message_id, OutState.FAILED, "last_error=?", (error[:500],))

    def replies_between(self, address: str | None, start: datetime, end: datetime, *,
                        exclude_sources: tuple[str, ...]) -> int:
        """How many replies (corrections and receipts) to this address (None: to anybody)
        were queued in [start, end), for other messages than ``exclude_sources``
        (Message-IDs)."""
        row = self._db.row(
            "SELECT COUNT(*) FROM outgoing WHERE reply_to IS NOT NULL AND state<>?"
            " AND queued_at>=? AND queued_at<? AND (? IS NULL OR reply_to=?)"
            " AND message NOT IN (SELECT id FROM messages WHERE message_id IN"
            " (SELECT value FROM json_each(?)))",
            (OutState.FAILED.value, stamp(start), stamp(end), address,
             address.lower() if address else None, json.dumps(list(exclude_sources))),
        )
        return int(row[0]) if row else 0
