"""Messages decided again (``replay``): the message as the state file knows it, the mails
it caused, and each replay applied, from begun (its mails queued) to finished (the
message's new verdict recorded). A decision here is plain JSON: kind, verdict,
guarantee_type, problems, route_to and reason (see :class:`daemon.replay.Summary`)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime

from daemon.model import Action, Decision, action_of
from daemon.store import outgoing, submissions
from daemon.store.db import Database
from daemon.store.messages import MessageRow, _row

Planned = tuple[str, str, tuple[str, ...]]  # (action, Message-ID, recipients)
_REPLACED = (Action.FORWARD, Action.REPLY)  # what a replay's mails replace: not notices


@dataclass(frozen=True)
class Recorded:
    """A message as the state file knows it: its record, its decision as recorded, and
    whether it was decided with another (a held message and its follow-up)."""

    row: MessageRow
    decision: dict[str, object]
    paired: bool


@dataclass(frozen=True)
class Begun:
    """A replay applied but not finished: its number among the message's replays (in its
    mails' Message-IDs), when it was made, and the mails it queued."""

    id: int
    number: int
    at: datetime
    out_message_ids: tuple[str, ...]


@dataclass(frozen=True)
class SentMail:
    """A mail the message caused, as the outgoing table records it."""

    action: str
    out_message_id: str
    recipients: tuple[str, ...]
    state: str


def _decision(row: sqlite3.Row) -> dict[str, object]:
    """A message's decision as its record holds it."""
    return {
        "kind": row["kind"],
        "verdict": row["verdict"],
        "guarantee_type": row["guarantee_type"],
        "problems": [p for p in str(row["problems"] or "").split(",") if p],
        "route_to": json.loads(row["route_to"] or "[]"),
        "reason": row["reason"] or "",
    }


class Replays:
    """The ``replays`` table, and what a replay asks of the messages and their mails."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def recorded(self, message_id: str) -> list[Recorded]:
        """Every record of a message with this Message-ID (copies and duplicates
        included), the newest first."""
        rows = self._db.rows(
            "SELECT m.*, EXISTS (SELECT 1 FROM messages p WHERE p.paired_with=m.id) AS partner"
            " FROM messages m WHERE m.message_id=? ORDER BY m.id DESC", (message_id,))
        return [Recorded(_row(r), _decision(r), bool(r["partner"]) or r["paired_with"]
                         is not None) for r in rows]

    def earlier_mails(self, message: int) -> list[str]:
        """The Message-IDs of the mails the message's current decision sent (its staff
        mails and replies; not notices): those of its last finished replay, else those
        its first decision queued."""
        return [mail.out_message_id for mail in self._earlier(message)
                if action_of(mail.action) in _REPLACED]

    def earlier_staff_mails(self, message: int) -> list[SentMail]:
        """The staff mails (forwards: routed or review) of the message's current decision,
        each with its recipients; one refused for good reached nobody and is left out."""
        return [mail for mail in self._earlier(message)
                if action_of(mail.action) is Action.FORWARD and mail.state != "failed"]

    def receipted(self, message: int) -> bool:
        """The contractor had a receipt for this message already (one queued by any of
        its decisions and not refused for good): a replay sends none again."""
        rows = self._db.rows("SELECT action, state FROM outgoing WHERE message=?", (message,))
        return any(action_of(r["action"]) is Action.RECEIPT and r["state"] != "failed"
                   for r in rows)

    def _earlier(self, message: int) -> list[SentMail]:
        """Every mail the message's current decision sent: those of its last finished
        replay, else those its first decision queued (none of a replay's)."""
        rows = self._db.rows("SELECT action, out_message_id, recipients, state FROM outgoing"
                             " WHERE message=? ORDER BY id", (message,))
        mails = {r["out_message_id"]: SentMail(r["action"], r["out_message_id"],
                                                tuple(json.loads(r["recipients"] or "[]")),
                                                r["state"]) for r in rows}
        last = self._db.row(
            "SELECT out_message_ids FROM replays WHERE message=? AND applied=1"
            " ORDER BY id DESC LIMIT 1", (message,))
        if last is not None:
            return [mails[i] for i in json.loads(last["out_message_ids"]) if i in mails]
        replayed = {i for r in self._db.rows(
            "SELECT out_message_ids FROM replays WHERE message=?", (message,))
            for i in json.loads(r["out_message_ids"])}
        return [m for i, m in mails.items() if i not in replayed]

    def begun(self, message: int) -> Begun | None:
        """The message's replay applied but not finished, if any."""
        row = self._db.row("SELECT * FROM replays WHERE message=? AND applied=0"
                           " ORDER BY id DESC LIMIT 1", (message,))
        if row is None:
            return None
        number = self._db.row("SELECT COUNT(*) FROM replays WHERE message=? AND id<=?",
                              (message, row["id"]))
        return Begun(int(row["id"]), int(number[0]) if number else 1,
                     datetime.fromisoformat(row["at"]), tuple(json.loads(row["out_message_ids"])))

    def next_number(self, message: int) -> int:
        """The number the message's next replay takes (1 for its first)."""
        row = self._db.row("SELECT COUNT(*) FROM replays WHERE message=?", (message,))
        return (int(row[0]) if row else 0) + 1

    def begin(self, message: int, at: datetime, old: dict[str, object],
              new: dict[str, object], planned: list[Planned], *,
              begun: int | None = None) -> int:
        """Record a replay as begun and queue its mails, in one transaction (on disk
        before any is sent); ``begun``: the unfinished replay this one continues."""
        out_ids = json.dumps([out_id for _, out_id, _ in planned])
        with self._db.tx(durable=True) as db:
            if begun is None:
                cursor = db.execute(
                    "INSERT INTO replays (message, at, old_decision, new_decision,"
                    " out_message_ids, applied) VALUES (?, ?, ?, ?, ?, 0)",
                    (message, at.isoformat(), json.dumps(old, ensure_ascii=False),
                     json.dumps(new, ensure_ascii=False), out_ids))
                begun = int(cursor.lastrowid or 0)
            else:
                db.execute("UPDATE replays SET new_decision=?, out_message_ids=? WHERE id=?",
                           (json.dumps(new, ensure_ascii=False), out_ids, begun))
            for action, out_id, recipients in planned:
                outgoing.insert(db, message, action, out_id, recipients)
        return begun

    def finish(self, replay: int, message: int, decision: Decision) -> None:
        """The replay's mails are sent and the message filed: its new decision becomes the
        message's (and its submissions are those of the new decision), in one transaction.
        The decision it replaced stays in the replay's row."""
        with self._db.tx() as db:
            db.execute(
                "UPDATE messages SET kind=?, verdict=?, guarantee_type=?, problems=?,"
                " route_to=?, reason=? WHERE id=?",
                (decision.kind.value, decision.verdict.value,
                 decision.guarantee_type.value if decision.guarantee_type else None,
                 ",".join(decision.problems), json.dumps(list(decision.route_to)),
                 decision.reason, message))
            row = db.execute("SELECT sender, decided_at FROM messages WHERE id=?",
                             (message,)).fetchone()
            # What a later submission may replace is what the message says now.
            db.execute("DELETE FROM submissions WHERE message=?", (message,))
            submissions.insert(db, message, row["sender"], decision,
                               datetime.fromisoformat(row["decided_at"]))
            db.execute("UPDATE replays SET applied=1 WHERE id=?", (replay,))
