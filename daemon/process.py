"""A message's life, from fetched to filed: one step of it per poll.

A new message is recorded (``seen``), then, from where its record says it is: filed like
the copy it duplicates, moved to the held folder, decided with the held message it
completes (:mod:`daemon.held`), or decided alone; its verdict and the mails it causes are
recorded at once (``decided``), the mails sent exactly once (:mod:`daemon.delivery`), and
the message filed in its verdict's folder (``done``). A run that stops anywhere resumes
from the record: a decided message is decided and composed again, the same way, and only
its unsent mails go out. A message that failed ``limits.max_attempts`` times is set
aside in the quarantine folder instead, and staff are told once. A held message whose
wait is over is decided alone (:meth:`Processor.expire`).
"""

from __future__ import annotations

import enum
import hashlib
import imaplib
import ssl
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import partial
from typing import NamedTuple, Protocol

import structlog
from imapclient.exceptions import IMAPClientError

from daemon.compose import Outgoing, about, compose, quarantine_notice
from daemon.config import Limits, Settings
from daemon.decide import finalize, receipt_address
from daemon.delivery import Delivery
from daemon.held import Found, Held
from daemon.lifecycle import Own, own_mail, quarantine_due, secrets_of
from daemon.log import register_message_secrets
from daemon.mailbox import Box, Fetched
from daemon.model import Decision, Mail, NoReceipt, Verdict
from daemon.problems import Code
from daemon.sandbox import Reading, SandboxError, decide_in_child, read_in_child
from daemon.store import MessageRow, MessageState, Store

log = structlog.get_logger("daemon.service")

# The IMAP connection dropped (server restarted, network): not the message's fault.
CONNECTION_ERRORS = (IMAPClientError, imaplib.IMAP4.error, ConnectionError, TimeoutError,
                     ssl.SSLError, EOFError)

_ACTION_EVENTS = {
    Verdict.ROUTED: "message.routed",
    Verdict.CORRECTION: "message.correction_sent",
    Verdict.REVIEW: "message.review",
    Verdict.IGNORED: "message.ignored",
    Verdict.HELD: "message.held",
}


class DecideNow(Protocol):
    """Decides a message (a pair) away from the daemon: see sandbox.decide_in_child."""

    def __call__(self, mail: Mail, *, can_wait: bool, sources: tuple[str, ...],
                 now: datetime) -> tuple[Decision, SandboxError | None]: ...


class Result(enum.StrEnum):
    """What a poll did with a message, besides a verdict (counted in ``poll.done``)."""

    ALREADY_DONE = "already-done"
    OWN_COPY = "own-copy"
    DUPLICATE = "duplicate"
    HELD = "held"
    HELD_MISSING = "held-missing"
    QUARANTINED = "quarantined"
    FAILED = "failed"
    STATE_UNAVAILABLE = "state-unavailable"


class Early(NamedTuple):
    """A new message's decision without the history, made by its reader as of ``at``,
    with the mails it sends made then (None: not made)."""

    decision: Decision
    at: datetime
    mails: tuple[Outgoing, ...] | None


class Prepared(NamedTuple):
    """Mails made ahead (by a reader process) for a decision, as of ``at``."""

    at: datetime
    mails: list[Outgoing]


class Placement(NamedTuple):
    """A message to file: its record, the folder it is in (None: the intake folder)
    and its UID there."""

    row: int
    folder: str | None
    uid: int


def read_mail(limits: Limits, raw: bytes, received_at: datetime | None,
              passwords: Iterable[str] = ()) -> Mail:
    """Read a message in a child process with time and memory limits: a hostile
    attachment costs that message (review, attachment-unreadable or too-large), never
    the daemon."""
    mail, err = read_in_child(raw, received_at, limits, passwords=tuple(passwords))
    if err is not None:
        log.warning("message.read_failed", kind=err.kind, error=str(err)[:300])
    return mail


def protect_secrets(mail: Mail, decision: Decision) -> None:
    """Register every secret of this message with the log redactor."""
    register_message_secrets(secrets_of(mail, decision))


def log_read(mail: Mail, decision: Decision, uid: int | None = None) -> None:
    """Log what was read and how it was classified, its secrets registered first."""
    protect_secrets(mail, decision)
    log.info("message.fetched", size=len(mail.raw), subject=mail.subject,
             sender=mail.from_addr, received_at=mail.received_at.isoformat(),
             attachments=[f"{a.filename} ({a.status.value})" for a in mail.attachments],
             uid=uid)
    log.info("message.classified", kind=decision.kind.value,
             guarantee_type=decision.guarantee_type.value if decision.guarantee_type
             else None, submissions=len(decision.outcomes),
             fields=decision.fields.public())


class Processor:
    """Each step of a message's life, on the office's mailbox, state file and outbox."""

    def __init__(self, settings: Settings, store: Store, delivery: Delivery, held: Held,
                 clock: Callable[[], datetime], *, decide_now: DecideNow | None = None
                 ) -> None:
        self.settings = settings
        self.store = store
        self.delivery = delivery
        self.held = held
        self.clock = clock
        self.decide_now = decide_now or partial(decide_in_child, settings=settings)
        # Message-IDs taken since the mailbox last moved what it was asked to (a message
        # leaves the intake folder with others: see Mailbox.file).
        self._unfiled: set[str] = set()

    def new_poll(self) -> None:
        """A poll begins: the last one's messages are all moved (its end moved them)."""
        self._unfiled.clear()

    def file_copy(self, box: Box, uid: int) -> str:
        """The copy of a mail the daemon sent: the proof it went out, filed as sent."""
        structlog.contextvars.bind_contextvars(uid=uid)
        box.file(uid, self.settings.imap.folders.sent)
        return Result.OWN_COPY

    def new(self, box: Box, fetched: Fetched, reading: Reading) -> str:
        """Take one new message from fetched to filed (or held); returns its outcome."""
        structlog.contextvars.bind_contextvars(uid=fetched.uid)
        mail, early, err = reading.result()
        # Before anything can log about it (an error's text included), its secrets are known.
        protect_secrets(mail, Decision(Verdict.REVIEW))
        if err is not None:
            log.warning("message.read_failed", kind=err.kind, error=str(err)[:300])
        structlog.contextvars.bind_contextvars(message_id=mail.message_id)
        if mail.message_id in self._unfiled:
            # A copy of a message taken in this poll: that one is moved, and so marked
            # done, first, so that this one is known as its duplicate.
            box.flush()
            self._unfiled.clear()
        self._unfiled.add(mail.message_id)
        row = self.store.messages.seen(
            folder=self.settings.imap.folder, uidvalidity=box.uidvalidity, uid=fetched.uid,
            message_id=mail.message_id, content_hash=hashlib.sha256(fetched.raw).hexdigest(),
            received_at=mail.received_at, sender=mail.from_addr,
        )
        if row.state is MessageState.DONE:
            return Result.ALREADY_DONE
        if own_mail(mail, self.settings) is Own.COPY:
            # The copy of a mail the daemon sent (smtp.copy_to): the proof it went out.
            box.file(fetched.uid, self.settings.imap.folders.sent,
                     then=partial(self.store.messages.mark_done, row.id))
            return Result.OWN_COPY
        here = Placement(row.id, None, fetched.uid)
        fresh = Early(early, reading.now, reading.prepared) if (
            row.state is MessageState.SEEN) else None
        return self._attempt(box, row, mail, here,
                             partial(self._new, box, row, mail, here, fresh))

    def _new(self, box: Box, row: MessageRow, mail: Mail, here: Placement,
             early: Early | None) -> str:
        """A new message's next step, from where its record says it is (``early``: a new
        one's decision without the history, made by its reader)."""
        if row.duplicate_of is not None:
            log.info("message.duplicate", of=row.duplicate_of, verdict=row.verdict)
            self._file(box, [here], Verdict(row.verdict or Verdict.REVIEW))
            return Result.DUPLICATE
        if row.state is MessageState.HELD:  # held, but not yet moved to the held folder
            box.file(here.uid, self.settings.imap.folders.held)
            return Result.HELD
        if row.paired_with is not None:  # decided with a held message; finish that
            first = self.held.finished(box, row)
            placements = [here] if first.row.state is MessageState.DONE else [
                Placement(first.row.id, first.folder, first.uid), here]
            return self._pair(box, first, row, mail, placements)
        if row.state is MessageState.SEEN:
            partner = self.held.partner(box, mail)
            if partner is not None:
                placements = [Placement(partner.row.id, partner.folder, partner.uid), here]
                return self._pair(box, partner, row, mail, placements)
        # Decided before anything about the message is logged, so that its secrets are
        # registered with the redactor first.
        prepared: Prepared | None = None
        if early is None:
            decision = self._decide(row, mail)
        else:  # the history as it is now: the messages before were recorded meanwhile
            decision = finalize(early.decision, mail, self.settings, now=self.clock(),
                                history=self.store)
            if decision == early.decision and early.mails is not None:
                # The history changed nothing: the mails its reader made stand, as of then.
                prepared = Prepared(early.at, list(early.mails))
        log_read(mail, decision, here.uid)
        if decision.verdict is Verdict.HELD and decision.held_until is not None:
            self.store.messages.hold(row.id, decision.reason, decision.held_until)
            box.file(here.uid, self.settings.imap.folders.held)
            log.info("message.held", reason=decision.reason,
                     until=decision.held_until.isoformat())
            return Result.HELD
        return self._act(box, row, mail, decision, [here], prepared=prepared)

    def _pair(self, box: Box, first: Found, row: MessageRow, mail: Mail,
              placements: list[Placement]) -> str:
        """Decide a held message and the mail that completes it together, act, file both
        (or finish doing so: a run stopped half-way decides the pair again, the same way)."""
        pair = self.held.pair(first, mail)
        decision = self._decide(first.row, pair.combined, can_wait=False, sources=pair.sources)
        if row.paired_with is not None:  # logged when it was first decided
            protect_secrets(pair.combined, decision)
            return self._act(box, first.row, pair.combined, decision, placements)
        log_read(pair.combined, decision)
        log.info("message.paired", held=first.mail.message_id, follow_up=mail.message_id,
                 reason=first.row.held_reason)
        return self._act(box, first.row, pair.combined, decision, placements, follow_up=row)

    def expire(self, box: Box, held: MessageRow) -> str:
        """A held message whose follow-up never came: decided alone, no more waiting."""
        structlog.contextvars.bind_contextvars(message_id=held.message_id)
        found = self.held.fetch(box, held, [self.settings.imap.folders.held])
        if found is None:
            return Result.HELD_MISSING
        there = Placement(held.id, found.folder, found.uid)

        def decide_alone() -> str:
            decision = self._decide(held, found.mail, can_wait=False)
            log_read(found.mail, decision)
            log.info("message.wait_over", reason=held.held_reason)
            return self._act(box, held, found.mail, decision, [there])

        return self._attempt(box, held, found.mail, there, decide_alone)

    def _attempt(self, box: Box, row: MessageRow, mail: Mail, here: Placement,
                 work: Callable[[], str]) -> str:
        """``work`` as one attempt on the message; one that failed too often before is
        set aside in the quarantine folder instead, and staff are told once."""
        with self.store.messages.attempt(row.id, blameless=CONNECTION_ERRORS) as attempt:
            if not quarantine_due(attempt.failures, self.settings):
                return work()
            error = self.store.messages.last_error(row.id)
            now = self.clock()
            notice = quarantine_notice(mail.raw, about(mail), self.settings, now,
                                       error=error, attempts=attempt.failures)
            self.store.messages.quarantine(row.id)
            self.store.outgoing.queue(row.id, notice.action, notice.message_id,
                                      notice.recipients)
            log.error("message.quarantined", attempts=attempt.failures, error=error)
            decision = Decision(Verdict.REVIEW, (), Code.QUARANTINED, (mail.message_id,))
            waiting = self.delivery.send(row.id, [notice], decision, mail, now,
                                         partial(self._copy_seen, box))
            if waiting:
                return waiting
            self._move(box, [here], self.settings.imap.folders.quarantine)
            return Result.QUARANTINED

    def _decide(self, row: MessageRow, mail: Mail, *, can_wait: bool = True,
                sources: tuple[str, ...] = ()) -> Decision:
        """The final decision on a message (or a pair), as of when it was first decided
        (a run that stopped half-way decides again, the same way)."""
        now = row.decided_at if row.state is MessageState.DECIDED and row.decided_at else (
            self.clock())
        decision, err = self.decide_now(mail, can_wait=can_wait, sources=sources, now=now)
        if err is not None:
            log.warning("message.decide_failed", kind=err.kind, error=str(err)[:300])
        return finalize(decision, mail, self.settings, now=now, history=self.store)

    def _act(self, box: Box, row: MessageRow, mail: Mail, decision: Decision,
             placements: list[Placement], *, follow_up: MessageRow | None = None,
             prepared: Prepared | None = None) -> str:
        """Record the decision, send its mails (those not sent yet), file the message(s).
        ``prepared``: a new message's mails, made by its reader as of when it decided."""
        decided_at = row.decided_at if row.state is MessageState.DECIDED and row.decided_at \
            else prepared.at if prepared is not None else self.clock()
        if Code.REPLY_LIMIT_REACHED in decision.problems:
            log.warning("reply.limit_reached", to=mail.reply_to[0] if mail.reply_to
                        else mail.from_addr, limit=self.settings.replies.per_sender_per_day)
        if decision.no_receipt is NoReceipt.LIMIT_REACHED:
            # Routed all the same: a receipt never turns a submission into review.
            log.warning("receipt.limit_reached", to=receipt_address(mail, self.settings),
                        per_sender_per_day=self.settings.replies.per_sender_per_day,
                        per_hour=self.settings.replies.per_hour)
        for outcome in decision.outcomes:
            if outcome.replaces:
                log.info("submission.replaces", earlier=outcome.replaces)
        mails = prepared.mails if prepared is not None else compose(
            decision, mail, self.settings, decided_at)
        if row.undecided or follow_up is not None:
            self.store.record_decision(
                row.id, decision, decided_at,
                [(m.action, m.message_id, m.recipients) for m in mails],
                follow_up=follow_up.id if follow_up else None)
            log.info("message.decided", verdict=decision.verdict.value,
                     problems=list(decision.problems), route_to=list(decision.route_to),
                     reason=decision.reason, sources=list(decision.sources))
        mails += self.delivery.notices(row.id, decision, mail, decided_at)
        waiting = self.delivery.send(row.id, mails, decision, mail, decided_at,
                                     partial(self._copy_seen, box))
        if waiting:
            return waiting
        log.info(_ACTION_EVENTS[decision.verdict], verdict=decision.verdict.value,
                 kind=decision.kind.value, problems=list(decision.problems),
                 route_to=list(decision.route_to))
        self._file(box, placements, decision.verdict)
        return decision.verdict.value

    def _copy_seen(self, box: Box, out_message_id: str) -> bool:
        """Whether the server delivered the daemon's copy of this mail, i.e. took the mail
        (the copy is in the intake folder, or already filed in the sent folder)."""
        folders = [self.settings.imap.folder, self.settings.imap.folders.sent]
        return box.find(out_message_id, folders) is not None

    def _file(self, box: Box, placements: list[Placement], verdict: Verdict) -> None:
        """Move each message to its verdict's folder, then mark it done."""
        self._move(box, placements, self.settings.imap.folders.for_verdict(verdict))

    def _move(self, box: Box, placements: list[Placement], target: str) -> None:
        """File each message, and mark it done once it is moved (a message of the intake
        folder is moved with others, see Mailbox.file)."""
        for row, folder, uid in placements:
            if folder is None:
                box.file(uid, target, then=partial(self.store.messages.mark_done, row))
            else:
                box.file_from(folder, uid, target)
                self.store.messages.mark_done(row)
