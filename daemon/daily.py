"""Sending the daily summary (日次集計) once a day: the due day, its figures from the
state file, the mail handed to the SMTP server, the day recorded as sent.

Not through the exactly-once machinery of the message's mails (:mod:`daemon.delivery`):
that keeps each mail under the message it is about (a row of ``outgoing`` belongs to a
row of ``messages``) and proves a cut-off hand-over by the daemon's copy, which the
intake session finds in the contract mailbox. A summary is about no message and has no
copy to look for. It goes straight to the SMTP server, with its ``summaries`` row as the
guard: marked ``sending`` on disk before the hand-over, ``sent`` after. A failure that
is certain (no connection, an answer refusing it) marks it ``failed`` and it is tried
again after ``smtp.retry_first_seconds``, doubling up to ``smtp.retry_max_minutes``. A
hand-over cut off before the server's answer (or the daemon dying during it) leaves it
``sending``: it may have been taken, so the daemon never sends it again by itself (at
most once; ``summary.failed`` says so, and an operator can ``summary --send`` it).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

import structlog

from daemon import summary
from daemon.config import Settings
from daemon.delivery import Sender, backoff

if TYPE_CHECKING:
    from daemon.store import Store

log = structlog.get_logger("daemon.daily")

Clock = Callable[[], datetime]


class Outcome(enum.StrEnum):
    """What one try to send a day's summary came to."""

    SENT = "sent"
    ALREADY = "already"        # sent before (or maybe sent: a cut-off hand-over)
    DEFERRED = "deferred"      # not taken, certainly: tried again later
    REFUSED = "refused"        # refused for good (5xx): not tried again until a restart
    UNCERTAIN = "uncertain"    # cut off: maybe taken, never sent again by the daemon


class DailySummary:
    """The office's daily summary: which day is due, and sending it once."""

    def __init__(self, settings: Settings, open_store: Callable[[], Store], outbox: Sender,
                 clock: Clock | None = None) -> None:
        self.settings = settings
        self.open_store = open_store
        self.outbox = outbox
        self.clock = clock or (lambda: datetime.now(UTC))
        self._failures = 0  # in a row, for the pause before the next try
        # The day whose summary the server did not take: tried again even once the next
        # day has begun (before summary.at, no day is due; the one being tried still is).
        self._retrying: date | None = None

    @classmethod
    def for_office(cls, settings: Settings) -> DailySummary:
        """The office's SMTP server (trial mode: to trial.address), the state file opened
        for each try (the scheduler's thread has a connection of its own)."""
        from daemon import connections  # noqa: PLC0415 - the SMTP stack, only to send
        from daemon.store import Store  # noqa: PLC0415
        from daemon.trial import TrialOutbox  # noqa: PLC0415

        outbox: Sender = connections.outbox(settings)
        if settings.mode == "trial":
            outbox = TrialOutbox(outbox, settings.trial.address)

        def open_store() -> Store:
            return Store(settings.state.path, busy_timeout=settings.state.busy_timeout_seconds)

        return cls(settings, open_store, outbox)

    def run_due(self) -> datetime | None:
        """Send the summary due now, unless it went already; returns when to try again
        (None: nothing left to do today)."""
        if not self.settings.summary.to:
            return None
        due = summary.due(self.clock(), self.settings.summary.time_of_day)
        for day in dict.fromkeys(d for d in (self._retrying, due) if d is not None):
            if self.send(day) is Outcome.DEFERRED:
                self._retrying = day
                self._failures += 1
                smtp = self.settings.smtp
                return self.clock() + backoff(self._failures, smtp.retry_first_seconds,
                                              smtp.retry_max_minutes)
        self._retrying, self._failures = None, 0
        return None

    def send(self, day: date, *, again: bool = False) -> Outcome:
        """Send the summary of ``day`` to summary.to, unless it went already (``again``:
        whatever was sent before, as an operator's ``summary --send`` asks)."""
        from daemon.outbox import SendError  # noqa: PLC0415

        store = self.open_store()
        try:
            table = store.summaries
            mail = summary.mail(table.figures(day, self.clock()), self.settings)
            if not table.claim(day, mail.message_id, again=again):
                return self._already(day, table.state(day))
            try:
                self.outbox.send(mail.to_bytes(), mail.recipients)
            except SendError as err:
                return self._failed(day, err, store)
            table.mark_sent(day)
        finally:
            store.close()
        log.info("summary.sent", day=day.isoformat(), recipients=len(mail.recipients),
                 out_message_id=mail.message_id)
        return Outcome.SENT

    def _already(self, day: date, state: object) -> Outcome:
        from daemon.store import SummaryState  # noqa: PLC0415

        if state is SummaryState.SENDING:  # cut off before: said, never sent again
            log.error("summary.failed", day=day.isoformat(), uncertain=True,
                      error="an earlier hand-over was cut off and the server may have taken"
                            " it: not sent again (summary --send sends it)")
            return Outcome.UNCERTAIN
        return Outcome.ALREADY

    def _failed(self, day: date, err: Exception, store: Store) -> Outcome:
        uncertain = bool(getattr(err, "uncertain", False))
        permanent = bool(getattr(err, "permanent", False))
        if uncertain:
            store.summaries.note_error(day, str(err))
        else:
            store.summaries.mark_failed(day, str(err))
        log.error("summary.failed", day=day.isoformat(), error=str(err), uncertain=uncertain,
                  permanent=permanent)
        if uncertain:
            return Outcome.UNCERTAIN
        return Outcome.REFUSED if permanent else Outcome.DEFERRED

