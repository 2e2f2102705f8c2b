"""State in SQLite: what was seen, decided, sent and filed, one transaction per step.

A message is keyed on (folder, UIDVALIDITY, UID) and also recognised by its Message-ID
plus a hash of its bytes, so a second run, a UIDVALIDITY change or a copy of the same
message does not act twice. Its row moves through ``seen -> decided -> done``, or
``seen -> held`` until its follow-up comes (then both rows are decided together, the
follow-up's pointing at the first with ``paired_with``) or the wait is over. Each mail
it causes is a row of its own (``queued -> sending -> sent``), keyed by that mail's
Message-ID; a mail whose hand-over was cut off is ``uncertain`` until its copy is seen or
the wait for it is over.
No secret is stored: outgoing mail is composed again from the source message when needed.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from daemon.model import Decision, Outcome

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id            INTEGER PRIMARY KEY,
    folder        TEXT NOT NULL,
    uidvalidity   INTEGER NOT NULL,
    uid           INTEGER NOT NULL,
    message_id    TEXT NOT NULL,
    content_hash  TEXT NOT NULL,
    received_at   TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('seen', 'held', 'decided', 'done')),
    sender        TEXT NOT NULL DEFAULT '',
    held_reason   TEXT,
    held_until    TEXT,
    paired_with   INTEGER REFERENCES messages(id),
    kind          TEXT,
    verdict       TEXT,
    guarantee_type TEXT,
    problems      TEXT,
    route_to      TEXT,
    reason        TEXT,
    duplicate_of  INTEGER REFERENCES messages(id),
    attempts      INTEGER NOT NULL DEFAULT 0,   -- failed attempts (exceptions, deaths)
    in_progress   INTEGER NOT NULL DEFAULT 0,   -- 1 while a run works on it
    last_error    TEXT,
    seen_at       TEXT NOT NULL,
    decided_at    TEXT,
    done_at       TEXT,
    UNIQUE (folder, uidvalidity, uid)
);
CREATE INDEX IF NOT EXISTS messages_identity ON messages (message_id, content_hash);
CREATE INDEX IF NOT EXISTS messages_held ON messages (state, sender);
CREATE TABLE IF NOT EXISTS submissions (
    id              INTEGER PRIMARY KEY,
    message         INTEGER NOT NULL REFERENCES messages(id),
    source          TEXT NOT NULL,   -- Message-ID of the message it came in
    sender          TEXT NOT NULL,
    kind            TEXT NOT NULL,
    guarantee_type  TEXT,
    contract_number TEXT,
    policy_number   TEXT,
    project_name    TEXT,
    verdict         TEXT NOT NULL,
    decided_at      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS submissions_sender ON submissions (sender, kind);
CREATE TABLE IF NOT EXISTS outgoing (
    id             INTEGER PRIMARY KEY,
    message        INTEGER NOT NULL REFERENCES messages(id),
    action         TEXT NOT NULL,
    out_message_id TEXT NOT NULL UNIQUE,
    recipients     TEXT NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('queued', 'sending', 'sent', 'failed')),
    attempts       INTEGER NOT NULL DEFAULT 0,
    last_error     TEXT,
    next_attempt_at TEXT,
    queued_at      TEXT NOT NULL,
    sent_at        TEXT
);
"""

# Changes to a state file made by an earlier version, in order: MIGRATIONS[i] takes a file
# from version i + 1 to i + 2 (files from before versions were recorded are version 1).
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 2: a mail whose hand-over was cut off (the server may have it) and, once the server
    # was seen up again, until when its copy is waited for before it is sent again.
    ("ALTER TABLE outgoing ADD COLUMN uncertain INTEGER NOT NULL DEFAULT 0",
     "ALTER TABLE outgoing ADD COLUMN confirm_after TEXT"),
)
SCHEMA_VERSION = 1 + len(MIGRATIONS)


class StateVersionError(Exception):
    """The state file was written by a newer version of the daemon."""


@dataclass(frozen=True)
class PendingMail:
    """An outgoing mail not yet sent."""

    out_message_id: str
    state: str  # queued, or sending (a run stopped while handing it over)
    attempts: int
    next_attempt_at: datetime | None
    uncertain: bool = False  # an earlier hand-over was cut off: the server may have it
    confirm_after: datetime | None = None  # no copy by then: it was not taken


@dataclass(frozen=True)
class MessageRow:
    """A message's record."""

    id: int
    state: str
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


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class Store:
    """The daemon's SQLite state file."""

    def __init__(self, path: str | Path, *, busy_timeout: float = 30.0,
                 read_only: bool = False) -> None:
        path = Path(path)
        if read_only:  # classify: look, never write (the daemon may be running)
            self._db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                                       timeout=busy_timeout, isolation_level=None)
            self._db.row_factory = sqlite3.Row
            version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
            if version != SCHEMA_VERSION:
                self._db.close()
                raise StateVersionError(
                    f"{path}: state file version {version}, this surety-intake reads"
                    f" version {SCHEMA_VERSION} (run the daemon once to bring it up to date)")
            return
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
        # The scheduler polls from its worker thread, one poll at a time (max_instances=1),
        # so the connection is used by one thread at a time, though not always the same one.
        self._db = sqlite3.connect(str(path), timeout=busy_timeout, isolation_level=None,
                                   check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(SCHEMA)
        self._migrate(path)

    def _migrate(self, path: Path) -> None:
        """Bring a state file written by an earlier version up to this one's schema."""
        if int(self._db.execute("PRAGMA user_version").fetchone()[0]) == SCHEMA_VERSION:
            return  # up to date: no write, no lock taken
        with self._tx() as db:
            version = int(db.execute("PRAGMA user_version").fetchone()[0]) or 1
            if version > SCHEMA_VERSION:
                raise StateVersionError(
                    f"{path}: state file version {version} was written by a newer"
                    f" surety-intake (this one reads up to version {SCHEMA_VERSION})")
            for statements in MIGRATIONS[version - 1:]:
                for statement in statements:
                    db.execute(statement)
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def seen(self, *, folder: str, uidvalidity: int, uid: int, message_id: str,
             content_hash: str, received_at: datetime, sender: str = "") -> MessageRow:
        """Record a fetched message (once) and return its record.

        A message whose Message-ID and bytes match one already decided under another key
        is recorded as its duplicate: it is filed like the first and causes no mail.
        """
        with self._tx() as db:
            row = db.execute(
                "SELECT * FROM messages WHERE folder=? AND uidvalidity=? AND uid=?",
                (folder, uidvalidity, uid),
            ).fetchone()
            if row is None:
                first = db.execute(
                    "SELECT id, verdict FROM messages WHERE message_id=? AND content_hash=?"
                    " AND state='done' AND duplicate_of IS NULL"
                    " AND verdict NOT IN ('quarantined', 'held') ORDER BY id LIMIT 1",
                    (message_id, content_hash),
                ).fetchone()
                db.execute(
                    "INSERT INTO messages (folder, uidvalidity, uid, message_id, content_hash,"
                    " received_at, sender, state, verdict, duplicate_of, seen_at, decided_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (folder, uidvalidity, uid, message_id, content_hash,
                     received_at.isoformat(), sender.lower(), "decided" if first else "seen",
                     first["verdict"] if first else None, first["id"] if first else None,
                     _now(), _now() if first else None),
                )
                row = db.execute(
                    "SELECT * FROM messages WHERE folder=? AND uidvalidity=? AND uid=?",
                    (folder, uidvalidity, uid),
                ).fetchone()
        return _row(row)

    def record_decision(self, message: int, decision: Decision, decided_at: datetime,
                        outgoing: list[tuple[str, str, tuple[str, ...]]]) -> None:
        """Store the verdict and queue its mails ((action, Message-ID, recipients)) at once."""
        with self._tx() as db:
            self._decide(db, message, decision, decided_at, outgoing)

    @staticmethod
    def _decide(db: sqlite3.Connection, message: int, decision: Decision,
                decided_at: datetime, outgoing: list[tuple[str, str, tuple[str, ...]]]) -> None:
        db.execute(
            "UPDATE messages SET state='decided', kind=?, verdict=?, guarantee_type=?,"
            " problems=?, route_to=?, reason=?, decided_at=? WHERE id=?",
            (decision.kind.value, decision.verdict.value,
             decision.guarantee_type.value if decision.guarantee_type else None,
             ",".join(decision.problems), json.dumps(list(decision.route_to)),
             decision.reason, decided_at.isoformat(), message),
        )
        sender = db.execute("SELECT sender FROM messages WHERE id=?", (message,)).fetchone()[0]
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
        for action, out_id, recipients in outgoing:
            db.execute(
                "INSERT OR IGNORE INTO outgoing (message, action, out_message_id,"
                " recipients, state, queued_at) VALUES (?, ?, ?, ?, 'queued', ?)",
                (message, action, out_id, json.dumps(list(recipients)), _now()),
            )

    def pending_outgoing(self, message: int) -> list[PendingMail]:
        """This message's mails not yet sent (queued, or sending when a run stopped)."""
        rows = self._db.execute(
            "SELECT out_message_id, state, attempts, next_attempt_at, uncertain, confirm_after"
            " FROM outgoing WHERE message=? AND state IN ('queued', 'sending') ORDER BY id",
            (message,),
        ).fetchall()
        return [PendingMail(r["out_message_id"], r["state"], int(r["attempts"]),
                            _when(r["next_attempt_at"]), bool(r["uncertain"]),
                            _when(r["confirm_after"])) for r in rows]

    def mark_sending(self, out_message_id: str) -> None:
        """About to hand the mail to the SMTP server: if the run stops now, whether it was
        sent is uncertain, and the mailbox is asked before sending it again."""
        with self._tx() as db:
            db.execute(
                "UPDATE outgoing SET state='sending', attempts=attempts+1, confirm_after=NULL"
                " WHERE out_message_id=?",
                (out_message_id,),
            )

    def mark_sent(self, out_message_id: str) -> None:
        """One outgoing mail was accepted by the SMTP server."""
        with self._tx() as db:
            db.execute(
                "UPDATE outgoing SET state='sent', sent_at=?, last_error=NULL, uncertain=0,"
                " confirm_after=NULL WHERE out_message_id=?",
                (_now(), out_message_id),
            )

    def defer(self, out_message_id: str, error: str, next_attempt_at: datetime, *,
              uncertain: bool = False) -> None:
        """A temporary failure: the mail stays queued until ``next_attempt_at``.

        ``uncertain``: the hand-over was cut off, so the server may have the mail. That
        stays so (a later clean failure does not undo an earlier cut-off hand-over) until
        the mail is sent or its copy is seen.
        """
        with self._tx() as db:
            db.execute(
                "UPDATE outgoing SET state='queued', last_error=?, next_attempt_at=?,"
                " uncertain=MAX(uncertain, ?), confirm_after=NULL WHERE out_message_id=?",
                (error[:500], next_attempt_at.isoformat(), int(uncertain), out_message_id),
            )

    def await_copy(self, out_message_id: str, until: datetime) -> None:
        """The server is up and the mail's copy has not come: wait for it until ``until``
        (an uncertain mail); not there by then, the mail was not taken and is sent again."""
        with self._tx() as db:
            db.execute(
                "UPDATE outgoing SET state='queued', uncertain=1, confirm_after=?,"
                " next_attempt_at=? WHERE out_message_id=?",
                (until.isoformat(), until.isoformat(), out_message_id),
            )

    def mark_undeliverable(self, out_message_id: str, error: str) -> None:
        """A permanent failure (5xx): the mail will not be sent; staff are told instead."""
        with self._tx() as db:
            db.execute(
                "UPDATE outgoing SET state='failed', last_error=? WHERE out_message_id=?",
                (error[:500], out_message_id),
            )

    def queue(self, message: int, action: str, out_message_id: str,
              recipients: tuple[str, ...]) -> None:
        """Queue one more mail for a message (a notice to staff)."""
        with self._tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO outgoing (message, action, out_message_id,"
                " recipients, state, queued_at) VALUES (?, ?, ?, ?, 'queued', ?)",
                (message, action, out_message_id, json.dumps(list(recipients)), _now()),
            )

    def replies_between(self, address: str | None, start: datetime, end: datetime, *,
                        exclude_sources: tuple[str, ...]) -> int:
        """How many replies to this address (None: to anybody) were queued in [start, end),
        for other messages than ``exclude_sources`` (Message-IDs)."""
        row = self._db.execute(
            "SELECT COUNT(*) FROM outgoing WHERE action LIKE 'reply%' AND state<>'failed'"
            " AND queued_at>=? AND queued_at<? AND (? IS NULL OR recipients=?)"
            " AND message NOT IN (SELECT id FROM messages WHERE message_id IN"
            " (SELECT value FROM json_each(?)))",
            (start.astimezone(UTC).isoformat(timespec="microseconds"),
             end.astimezone(UTC).isoformat(timespec="microseconds"), address,
             json.dumps([address.lower()]) if address else None,
             json.dumps(list(exclude_sources))),
        ).fetchone()
        return int(row[0])

    def mark_done(self, message: int) -> None:
        """The message was filed in its verdict's folder: nothing is left to do."""
        with self._tx() as db:
            db.execute("UPDATE messages SET state='done', done_at=? WHERE id=?", (_now(), message))

    def begin_attempt(self, message: int) -> int:
        """Start work on a message; returns how many attempts failed before.

        A message still marked in progress was being worked on when a run died (killed,
        out of memory): that counts as a failed attempt too.
        """
        with self._tx() as db:
            db.execute(
                "UPDATE messages SET attempts=attempts+in_progress, in_progress=1 WHERE id=?",
                (message,),
            )
            row = db.execute("SELECT attempts FROM messages WHERE id=?", (message,)).fetchone()
        return int(row["attempts"])

    def end_attempt(self, message: int, error: str | None = None) -> None:
        """Work on a message stopped: cleanly, or with ``error`` (a failed attempt)."""
        with self._tx() as db:
            if error is None:
                db.execute("UPDATE messages SET in_progress=0 WHERE id=?", (message,))
            else:
                db.execute(
                    "UPDATE messages SET in_progress=0, attempts=attempts+1, last_error=?"
                    " WHERE id=?",
                    (error[:1000], message),
                )

    def last_error(self, message: int) -> str:
        """The last error recorded for a message."""
        row = self._db.execute("SELECT last_error FROM messages WHERE id=?",
                               (message,)).fetchone()
        return str(row["last_error"] or "")

    def failed_outgoing(self, message: int) -> list[tuple[str, list[str], str]]:
        """This message's mails refused for good: (action, recipients, error)."""
        rows = self._db.execute(
            "SELECT action, recipients, last_error FROM outgoing WHERE message=?"
            " AND state='failed' ORDER BY id",
            (message,),
        ).fetchall()
        return [(r["action"], json.loads(r["recipients"]), r["last_error"] or "")
                for r in rows]

    def quarantine(self, message: int) -> None:
        """The message made the pipeline fail too often: set aside (it is filed, not lost)."""
        with self._tx() as db:
            db.execute(
                "UPDATE messages SET verdict='quarantined', decided_at=COALESCE(decided_at, ?)"
                " WHERE id=?",
                (_now(), message),
            )

    def done_uids(self, folder: str, uidvalidity: int) -> set[int]:
        """UIDs in this folder whose processing is complete."""
        rows = self._db.execute(
            "SELECT uid FROM messages WHERE folder=? AND uidvalidity=? AND state='done'",
            (folder, uidvalidity),
        ).fetchall()
        return {int(r["uid"]) for r in rows}

    def hold(self, message: int, reason: str, until: datetime) -> None:
        """The message waits for its follow-up until ``until``."""
        with self._tx() as db:
            db.execute(
                "UPDATE messages SET state='held', verdict='held', held_reason=?, held_until=?"
                " WHERE id=?",
                (reason, until.astimezone(UTC).isoformat(timespec="microseconds"), message),
            )

    def held(self, *, domain: str | None = None, due: datetime | None = None
             ) -> list[MessageRow]:
        """Held messages, oldest first: from one mail domain, or those whose wait is over."""
        query = "SELECT * FROM messages WHERE state='held'"
        args: list[str] = []
        if domain is not None:
            query += " AND sender LIKE ? ESCAPE '\\'"
            escaped = domain.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            args.append(f"%@{escaped}")
        if due is not None:
            query += " AND julianday(held_until)<=julianday(?)"  # any UTC offset
            args.append(due.astimezone(UTC).isoformat(timespec="microseconds"))
        rows = self._db.execute(query + " ORDER BY received_at, id", args).fetchall()
        return [_row(r) for r in rows]

    def row(self, message: int) -> MessageRow:
        """A message's record by id."""
        found = self._db.execute("SELECT * FROM messages WHERE id=?", (message,)).fetchone()
        return _row(found)

    def record_pair(self, first: int, follow_up: int, decision: Decision,
                    decided_at: datetime, outgoing: list[tuple[str, str, tuple[str, ...]]]
                    ) -> None:
        """A held message and its follow-up decided together, in one transaction."""
        with self._tx() as db:
            self._decide(db, first, decision, decided_at, outgoing)
            db.execute(
                "UPDATE messages SET state='decided', verdict=?, paired_with=?, decided_at=?"
                " WHERE id=?",
                (decision.verdict.value, first, decided_at.isoformat(), follow_up),
            )

    def password_mail_since(self, sender: str, since: datetime) -> bool:
        """A password mail from this address, received after ``since``, set aside as
        unpaired-password (its password opened nothing)."""
        row = self._db.execute(
            "SELECT 1 FROM messages WHERE sender=? AND julianday(received_at)>=julianday(?)"
            " AND ',' || problems || ',' LIKE '%,unpaired-password,%' LIMIT 1",
            (sender.lower(), since.isoformat()),
        ).fetchone()
        return row is not None

    def earlier_submission(self, *, sender: str, outcome: Outcome, source: str,
                           before: datetime) -> str | None:
        """The Message-ID of an earlier submission this one replaces, if any.

        The same guarantee (same kind, and the same 保証契約番号 or 証券番号) sent before,
        or, after a correction, the same sender's submission for the same works.
        """
        fields = outcome.fields
        rows = self._db.execute(
            "SELECT source, sender, contract_number, policy_number, project_name, verdict"
            " FROM submissions WHERE kind=? AND source<>? AND decided_at<=?"
            " ORDER BY decided_at DESC, id DESC",
            (outcome.kind.value, source, before.isoformat()),
        ).fetchall()
        for row in rows:
            same_number = (fields.contract_number and row["contract_number"]
                           == fields.contract_number) or (
                fields.policy_number and row["policy_number"] == fields.policy_number)
            same_works = (row["sender"] == sender.lower() and row["verdict"] == "correction"
                          and fields.project_name and row["project_name"] == fields.project_name)
            if same_number or same_works:
                return str(row["source"])
        return None



def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _row(row: sqlite3.Row) -> MessageRow:
    return MessageRow(
        id=int(row["id"]),
        state=row["state"],
        verdict=row["verdict"],
        decided_at=_when(row["decided_at"]),
        duplicate_of=row["duplicate_of"],
        attempts=int(row["attempts"]),
        message_id=row["message_id"],
        sender=row["sender"],
        received_at=_when(row["received_at"]),
        held_reason=row["held_reason"],
        held_until=_when(row["held_until"]),
        paired_with=row["paired_with"],
    )
