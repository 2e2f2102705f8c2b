"""Exactly-once delivery of the mails a decision causes.

Each mail moves through :class:`OutState` (``queued -> sending -> sent``, or ``failed``
when refused for good), recorded before each step, so a run that stops anywhere resumes
without sending twice. A mail whose hand-over was cut off (the run died while sending, or
the connection broke before the server's answer) may have been taken: the server delivers
the daemon's copy (``smtp.copy_to``) exactly if it took the mail, so the copy decides. It
is looked for at once; missing, the server is first seen to be up and then given
``smtp.copy_wait_seconds`` to deliver it (a mail it took while going down is delivered
only after it is back). Only then is the mail sent again. A mail refused for good is
replaced by a notice to staff (:func:`daemon.compose.undeliverable_notice`).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

import structlog

from daemon.compose import Outgoing, copy_address, undeliverable_notice
from daemon.config import Settings
from daemon.model import Action, Decision, Mail, OutState, action_of

if TYPE_CHECKING:  # the store's gateways, for their types only
    from daemon.outbox import SendError
    from daemon.store.outgoing import FailedMail, PendingMail
    from daemon.store.outgoing import Outgoing as OutgoingTable

log = structlog.get_logger("daemon.delivery")


class NotYet(enum.StrEnum):
    """Why a message's mails have not all gone yet."""

    WAITING = "send-waiting"    # a retry time, or a copy, is waited for
    DEFERRED = "send-deferred"  # a temporary failure just now


class Sender(Protocol):
    """What delivery needs of the SMTP side (:class:`daemon.outbox.Outbox`)."""

    def send(self, message: bytes, recipients: tuple[str, ...], *,
             copy_to: str | None = None) -> None: ...  # pragma: no cover

    def probe(self) -> None: ...  # pragma: no cover

    def session(self) -> AbstractContextManager[None]: ...  # pragma: no cover


CopySeen = Callable[[str], bool]  # whether the copy of this Message-ID arrived


def backoff(attempt: int, first_seconds: float, max_minutes: float) -> timedelta:
    """The pause before retry number ``attempt``: first, twice that, four times, ...,
    at most max_minutes."""
    seconds = first_seconds * 2.0 ** max(attempt - 1, 0)
    return timedelta(seconds=min(seconds, max_minutes * 60))


class Delivery:
    """Sends a message's mails exactly once, through ``outbox``, recorded in ``table``."""

    def __init__(self, settings: Settings, table: OutgoingTable, outbox: Sender,
                 clock: Callable[[], datetime]) -> None:
        self.settings = settings
        self.table = table
        self.outbox = outbox
        self.clock = clock

    def undeliverable(self, decision: Decision, mail: Mail, decided_at: datetime,
                      failed: FailedMail) -> Outgoing:
        """The notice to staff that a mail of this decision was refused for good."""
        return undeliverable_notice(decision, mail, self.settings, decided_at,
                                    failed_action=failed.action,
                                    recipients=list(failed.recipients), error=failed.error)

    def notices(self, message: int, decision: Decision, mail: Mail,
                decided_at: datetime) -> list[Outgoing]:
        """The notices owed for this message's mails refused in an earlier run."""
        return [self.undeliverable(decision, mail, decided_at, failed)
                for failed in self.table.failed(message)
                if action_of(failed.action) is not Action.UNDELIVERABLE]

    def send(self, message: int, mails: list[Outgoing], decision: Decision, mail: Mail,
             decided_at: datetime, copy_seen: CopySeen) -> NotYet | None:
        """Send this message's mails not sent yet; None when all went, else why not yet."""
        from daemon.outbox import SendError  # noqa: PLC0415 - the SMTP stack, when sending

        pending = {p.out_message_id: p for p in self.table.pending(message)}
        now = self.clock()
        for out in mails:  # notices appended below are sent in the same loop
            item = pending.get(out.message_id)
            if item is None:
                continue
            if item.next_attempt_at and item.next_attempt_at > now:
                return NotYet.WAITING
            if item.state is OutState.SENDING or item.uncertain:
                if copy_seen(out.message_id):
                    self.table.mark_sent(out.message_id)
                    log.info("mail.already_sent", action=out.action,
                             out_message_id=out.message_id)
                    continue
                if item.confirm_after is None:
                    return self._await_copy(out, item.attempts, now)
                log.info("mail.copy_missing", action=out.action,
                         out_message_id=out.message_id,
                         waited_until=item.confirm_after.isoformat())
            self.table.mark_sending(out.message_id)
            try:
                self.outbox.send(out.to_bytes(), out.recipients,
                                 copy_to=copy_address(self.settings))
            except SendError as err:
                if not err.permanent:
                    return self._defer(out, err, item.attempts + 1, now)
                notice = self._refused(message, out, str(err), decision, mail, decided_at)
                if notice is not None:
                    pending[notice.message_id] = _queued(notice.message_id)
                    mails.append(notice)
                continue
            self.table.mark_sent(out.message_id)
            log.info("mail.sent", action=out.action, out_message_id=out.message_id,
                     recipients=list(out.recipients))
        return None

    def _refused(self, message: int, out: Outgoing, error: str, decision: Decision,
                 mail: Mail, decided_at: datetime) -> Outgoing | None:
        """A mail refused for good: recorded so, and the notice to staff queued (None for a
        notice that was itself refused)."""
        self.table.mark_undeliverable(out.message_id, error)
        log.error("mail.undeliverable", action=out.action, error=error,
                  out_message_id=out.message_id, recipients=list(out.recipients))
        if action_of(out.action) is Action.UNDELIVERABLE:
            return None
        from daemon.store.outgoing import FailedMail  # noqa: PLC0415 - no import cycle

        notice = self.undeliverable(decision, mail, decided_at,
                                    FailedMail(out.action, list(out.recipients), error))
        self.table.queue(message, notice.action, notice.message_id, notice.recipients)
        return notice

    def _await_copy(self, out: Outgoing, attempts: int, now: datetime) -> NotYet:
        """An uncertain mail with no copy yet: see that the server is up, then wait for
        the copy (the mail and the message stay as they are until then)."""
        from daemon.outbox import SendError  # noqa: PLC0415

        try:
            self.outbox.probe()
        except SendError as err:
            return self._defer(out, err, attempts + 1, now, uncertain=True)
        until = now + timedelta(seconds=self.settings.smtp.copy_wait_seconds)
        self.table.await_copy(out.message_id, until)
        log.info("mail.awaiting_copy", action=out.action, out_message_id=out.message_id,
                 until=until.isoformat())
        return NotYet.WAITING

    def _defer(self, out: Outgoing, err: SendError, attempt: int, now: datetime, *,
               uncertain: bool = False) -> NotYet:
        """A temporary failure: try again after a pause that grows with each attempt."""
        smtp = self.settings.smtp
        retry = now + backoff(attempt, smtp.retry_first_seconds, smtp.retry_max_minutes)
        uncertain = uncertain or err.uncertain
        self.table.defer(out.message_id, str(err), retry, uncertain=uncertain)
        log.warning("mail.send_deferred", action=out.action, error=str(err),
                    out_message_id=out.message_id, retry_at=retry.isoformat(),
                    uncertain=uncertain)
        return NotYet.DEFERRED


def _queued(out_message_id: str) -> PendingMail:
    """A notice just queued, as the pending list would show it."""
    from daemon.store.outgoing import PendingMail  # noqa: PLC0415

    return PendingMail(out_message_id, OutState.QUEUED, 0, None)
