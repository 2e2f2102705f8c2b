"""State in SQLite: what was seen, decided, sent and filed, one transaction per step.

:class:`Store` is the connection (with its migrations, :mod:`daemon.store.db`) and four
small gateways, one per table: :attr:`Store.messages` (:mod:`daemon.store.messages`: a
message's life and attempts), :attr:`Store.outgoing` (:mod:`daemon.store.outgoing`: each
mail sent, exactly once), :attr:`Store.submissions` (:mod:`daemon.store.submissions`:
what a later submission may replace), :attr:`Store.summaries`
(:mod:`daemon.store.summaries`: the daily summaries sent, and a day's figures),
:attr:`Store.replays` (:mod:`daemon.store.replays`: messages decided again with
``replay``) and :attr:`Store.polls` (:mod:`daemon.store.polls`: each poll and how it
ended); :attr:`Store.report` (:mod:`daemon.store.report`) reads across them for
``status`` and the metrics. A decision is recorded in one transaction across them. The
store answers questions about the past (:class:`daemon.decide.History`); the policy that
weighs the answers stays in the pure middle.
No secret is stored: outgoing mail is composed again from the source message when needed.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from daemon.model import Decision, EarlierSubmission, Outcome
from daemon.store import outgoing, submissions
from daemon.store.db import Database, StateUnavailableError, StateVersionError
from daemon.store.messages import Attempt, MessageRow, Messages, MessageState
from daemon.store.outgoing import FailedMail, Outgoing, PendingMail
from daemon.store.polls import Poll, PollOutcome, Polls
from daemon.store.replays import Replays
from daemon.store.report import Report
from daemon.store.schema import SCHEMA_VERSION
from daemon.store.submissions import Submissions
from daemon.store.summaries import Summaries, SummaryState

__all__ = ["SCHEMA_VERSION", "Attempt", "FailedMail", "MessageRow", "MessageState",
           "PendingMail", "Planned", "Poll", "PollOutcome", "StateUnavailableError",
           "StateVersionError", "Store", "SummaryState"]

# A mail a decision causes, as queued: (action, Message-ID, recipients).
Planned = tuple[str, str, tuple[str, ...]]


class Store:
    """The daemon's SQLite state file."""

    def __init__(self, path: str | Path, *, busy_timeout: float = 30.0,
                 read_only: bool = False) -> None:
        self.db = Database(path, busy_timeout=busy_timeout, read_only=read_only)
        self.messages = Messages(self.db)
        self.outgoing = Outgoing(self.db)
        self.submissions = Submissions(self.db)
        self.summaries = Summaries(self.db)
        self.replays = Replays(self.db)
        self.polls = Polls(self.db)
        self.report = Report(self.db)  # read only: what status and the metrics show

    def close(self) -> None:
        """Close the database."""
        self.db.close()

    def record_decision(self, message: int, decision: Decision, decided_at: datetime,
                        planned: list[Planned], *, follow_up: int | None = None) -> None:
        """Store the verdict, its submissions and its mails, queued, in one transaction;
        with ``follow_up``, the message that completed this held one is decided with it."""
        with self.db.tx() as db:
            db.execute(
                "UPDATE messages SET state=?, kind=?, verdict=?, guarantee_type=?,"
                " problems=?, route_to=?, reason=?, decided_at=? WHERE id=?",
                (MessageState.DECIDED.value, decision.kind.value, decision.verdict.value,
                 decision.guarantee_type.value if decision.guarantee_type else None,
                 ",".join(decision.problems), json.dumps(list(decision.route_to)),
                 decision.reason, decided_at.isoformat(), message),
            )
            sender = db.execute("SELECT sender FROM messages WHERE id=?",
                                (message,)).fetchone()[0]
            submissions.insert(db, message, sender, decision, decided_at)
            for action, out_id, recipients in planned:
                outgoing.insert(db, message, action, out_id, recipients)
            if follow_up is not None:
                db.execute(
                    "UPDATE messages SET state=?, verdict=?, paired_with=?, decided_at=?"
                    " WHERE id=?",
                    (MessageState.DECIDED.value, decision.verdict.value, message,
                     decided_at.isoformat(), follow_up),
                )

    # What a final decision asks of the past (daemon.decide.History).

    def replies_between(self, address: str | None, start: datetime, end: datetime, *,
                        exclude_sources: tuple[str, ...]) -> int:
        """Replies to ``address`` (None: to anybody) queued in [start, end)."""
        return self.outgoing.replies_between(address, start, end,
                                             exclude_sources=exclude_sources)

    def password_mail_since(self, sender: str, since: datetime) -> bool:
        """A password mail from ``sender`` set aside as unpaired since ``since``."""
        return self.messages.password_mail_since(sender, since)

    def earlier_submissions(self, outcome: Outcome, *, sender: str, source: str,
                            before: datetime) -> list[EarlierSubmission]:
        """The earlier submissions that may be the same as this one, newest first."""
        fields = outcome.fields
        return self.submissions.earlier(
            outcome.kind, source=source, before=before, sender=sender,
            numbers=(fields.contract_number, fields.policy_number),
            project_name=fields.project_name)
