"""The messages the daemon has seen: where each is in its life, and its attempts.

A message is keyed on (folder, UIDVALIDITY, UID) and also recognised by its Message-ID
plus a hash of its bytes, so a second run, a UIDVALIDITY change or a copy of the same
message does not act twice. Its row moves through ``seen -> decided -> done``, or
``seen -> held`` until its follow-up comes (then both rows are decided together, the
follow-up's pointing at the first with ``paired_with``) or the wait is over.
"""

from __future__ import annotations

import enum
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from daemon.model import Verdict
from daemon.problems import Code
from daemon.store.db import Database, StateUnavailableError, now, stamp, when

QUARANTINED = Code.QUARANTINED.value  # the verdict column of a message set aside


class MessageState(enum.StrEnum):
    """Where a message is in its life."""

    SEEN = "seen"          # fetched and recorded, nothing decided yet
    HELD = "held"          # waiting for its follow-up (a password, the rest)
    DECIDED = "decided"    # verdict recorded and its mails queued; not yet all sent/filed
    DONE = "done"          # filed in its verdict's folder: nothing left to do


@dataclass(frozen=True)
class MessageRow:
    """A message's record."""

    id: int
    state: MessageState
    verdict: str | None
    decided_at: datetime | None
    duplicate_of: int | None
    attempts: int
    message_id: str = ""
    sender: str = ""
    received_at: datetime | None = None
    held_reason: str | None = None
    held_until: datetime | None = None
    paired_with: int | None = None

    @property
    def undecided(self) -> bool:
        """No verdict recorded yet (seen, or held)."""
        return self.state in (MessageState.SEEN, MessageState.HELD)


@dataclass
class Attempt:
    """Work on one message, from :meth:`Messages.attempt`: how many attempts failed before
    this one."""

    message: int
    failures: int


class Messages:
    """The ``messages`` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def seen(self, *, folder: str, uidvalidity: int, uid: int, message_id: str,
             content_hash: str, received_at: datetime, sender: str = "") -> MessageRow:
        """Record a fetched message (once) and return its record.

        A message whose Message-ID and bytes match one already decided under another key
        is recorded as its duplicate: it is filed like the first and causes no mail.
        """
        key = "SELECT * FROM messages WHERE folder=? AND uidvalidity=? AND uid=?"
        with self._db.tx() as db:
            row = db.execute(key, (folder, uidvalidity, uid)).fetchone()
            if row is None:
                first = db.execute(
                    "SELECT id, verdict FROM messages WHERE message_id=? AND content_hash=?"
                    " AND state='done' AND duplicate_of IS NULL"
                    " AND verdict NOT IN (?, ?) ORDER BY id LIMIT 1",
                    (message_id, content_hash, QUARANTINED, Verdict.HELD.value),
                ).fetchone()
                state = MessageState.DECIDED if first else MessageState.SEEN
                db.execute(
                    "INSERT INTO messages (folder, uidvalidity, uid, message_id, content_hash,"
                    " received_at, sender, state, verdict, duplicate_of, seen_at, decided_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (folder, uidvalidity, uid, message_id, content_hash,
                     received_at.isoformat(), sender.lower(), state.value,
                     first["verdict"] if first else None, first["id"] if first else None,
                     now(), now() if first else None),
                )
                row = db.execute(key, (folder, uidvalidity, uid)).fetchone()
        return _row(row)

    def row(self, message: int) -> MessageRow:
        """A message's record by id."""
        found = self._db.row("SELECT * FROM messages WHERE id=?", (message,))
        if found is None:
            raise LookupError(f"no message {message} in the state file")
        return _row(found)

    def done_uids(self, folder: str, uidvalidity: int, among: Iterable[int], *,
                  held: bool = False) -> set[int]:
        """Those of ``among`` (UIDs in this folder) whose processing is complete (with
        ``held``, those held too: trial mode leaves them where they are): looked up by
        UID, so a poll costs the same after years of messages."""
        states = [MessageState.DONE.value, *([MessageState.HELD.value] if held else [])]
        wanted = sorted(set(among))
        done: set[int] = set()
        for start in range(0, len(wanted), 500):  # under SQLite's limit on parameters
            chunk = wanted[start:start + 500]
            marks = ",".join("?" * len(chunk))  # placeholders only: no value in the text
            query = ("SELECT uid FROM messages WHERE folder=? AND uidvalidity=?"  # noqa: S608
                     f" AND state IN ({','.join('?' * len(states))}) AND uid IN ({marks})")
            rows = self._db.rows(query, (folder, uidvalidity, *states, *chunk))
            done.update(int(r["uid"]) for r in rows)
        return done

    def hold(self, message: int, reason: str, until: datetime) -> None:
        """The message waits for its follow-up until ``until`` (on disk before it is moved
        to the held folder: it is not forgotten there)."""
        with self._db.tx(durable=True) as db:
            db.execute(
                "UPDATE messages SET state=?, verdict=?, held_reason=?, held_until=?"
                " WHERE id=?",
                (MessageState.HELD.value, Verdict.HELD.value, reason, stamp(until), message),
            )

    def waiting_for(self, sender: str, received_at: datetime, reasons: Iterable[str], *,
                    limit: int) -> list[MessageRow]:
        """Held messages a mail from ``sender`` arriving at ``received_at`` may complete,
        oldest first, at most ``limit``: from the same domain, still waiting then, and from
        the same address unless they wait for one of ``reasons`` (see pairing.eligible).
        Chosen here, not among every held message of the domain (a backlog holds many)."""
        domain = sender.lower().rpartition("@")[2]
        escaped = domain.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        kinds = list(reasons)
        marks = ",".join("?" * len(kinds))  # placeholders only: no value in the text
        query = ("SELECT * FROM messages WHERE state=? AND sender LIKE ? ESCAPE '\\'"  # noqa: S608
                 " AND held_until IS NOT NULL AND julianday(held_until)>=julianday(?)-1.0/86400"
                 f" AND (sender=? OR held_reason IN ({marks})) ORDER BY received_at, id LIMIT ?")
        rows = self._db.rows(query, (MessageState.HELD.value, f"%@{escaped}",
                                     stamp(received_at), sender.lower(), *kinds, limit))
        return [_row(r) for r in rows]

    def held(self, *, domain: str | None = None, due: datetime | None = None
             ) -> list[MessageRow]:
        """Held messages, oldest first: from one mail domain, or those whose wait is over."""
        query = "SELECT * FROM messages WHERE state=?"
        args: list[str] = [MessageState.HELD.value]
        if domain is not None:
            query += " AND sender LIKE ? ESCAPE '\\'"
            escaped = domain.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            args.append(f"%@{escaped}")
        if due is not None:
            query += " AND julianday(held_until)<=julianday(?)"  # any UTC offset
            args.append(stamp(due))
        return [_row(r) for r in self._db.rows(query + " ORDER BY received_at, id", args)]

    def mark_done(self, message: int) -> None:
        """The message was filed in its verdict's folder: nothing is left to do (and the
        attempt on it is over)."""
        with self._db.tx() as db:
            db.execute("UPDATE messages SET state=?, done_at=?, in_progress=0 WHERE id=?",
                       (MessageState.DONE.value, now(), message))

    def quarantine(self, message: int) -> None:
        """The message made the pipeline fail too often: set aside (it is filed, not lost)."""
        with self._db.tx() as db:
            db.execute(
                "UPDATE messages SET verdict=?, decided_at=COALESCE(decided_at, ?) WHERE id=?",
                (QUARANTINED, now(), message),
            )

    def begin_attempt(self, message: int) -> int:
        """Start work on a message; returns how many attempts failed before.

        A message still marked in progress was being worked on when a run died (killed,
        out of memory): that counts as a failed attempt too.
        """
        with self._db.tx() as db:
            db.execute(
                "UPDATE messages SET attempts=attempts+in_progress, in_progress=1 WHERE id=?",
                (message,),
            )
            row = db.execute("SELECT attempts FROM messages WHERE id=?", (message,)).fetchone()
        return int(row["attempts"])

    def end_attempt(self, message: int, error: str | None = None) -> None:
        """Work on a message stopped: cleanly, or with ``error`` (a failed attempt)."""
        with self._db.tx() as db:
            if error is None:  # nothing to write (no disk sync) when mark_done ended it
                db.execute("UPDATE messages SET in_progress=0 WHERE id=? AND in_progress=1",
                           (message,))
            else:
                db.execute(
                    "UPDATE messages SET in_progress=0, attempts=attempts+1, last_error=?"
                    " WHERE id=?",
                    (error[:1000], message),
                )

    @contextmanager
    def attempt(self, message: int, *,
                blameless: tuple[type[BaseException], ...] = ()) -> Iterator[Attempt]:
        """Work on a message as one attempt: ended cleanly when the block ends, or by an
        exception of a ``blameless`` kind (the connection dropped: not the message's
        fault); any other exception is recorded as a failed attempt. The exception goes
        on either way. A state file that cannot be written is left alone."""
        attempt = Attempt(message, self.begin_attempt(message))
        try:
            yield attempt
        except (StateUnavailableError, sqlite3.Error):
            raise
        except blameless:
            self.end_attempt(message)
            raise
        except Exception as err:
            self.end_attempt(message, f"{type(err).__name__}: {err}")
            raise
        self.end_attempt(message)

    def last_error(self, message: int) -> str:
        """The last error recorded for a message."""
        row = self._db.row("SELECT last_error FROM messages WHERE id=?", (message,))
        return str(row["last_error"] or "") if row else ""

    def password_mail_since(self, sender: str, since: datetime) -> bool:
        """A password mail from this address, received after ``since``, set aside as
        unpaired-password (its password opened nothing)."""
        row = self._db.row(
            "SELECT 1 FROM messages WHERE sender=? AND julianday(received_at)>=julianday(?)"
            " AND ',' || problems || ',' LIKE ? LIMIT 1",
            (sender.lower(), since.isoformat(), f"%,{Code.UNPAIRED_PASSWORD},%"),
        )
        return row is not None


def _row(row: sqlite3.Row) -> MessageRow:
    return MessageRow(
        id=int(row["id"]),
        state=MessageState(row["state"]),
        verdict=row["verdict"],
        decided_at=when(row["decided_at"]),
        duplicate_of=row["duplicate_of"],
        attempts=int(row["attempts"]),
        message_id=row["message_id"],
        sender=row["sender"],
        received_at=when(row["received_at"]),
        held_reason=row["held_reason"],
        held_until=when(row["held_until"]),
        paired_with=row["paired_with"],
    )
