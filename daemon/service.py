"""The loop: poll the mailbox, take each message through the pipeline, act, file it.

One message at a time, each step recorded before the next begins:
``seen`` -> ``decided`` (verdict and the mails it causes, queued) -> each mail ``sent``
-> message filed in its verdict's folder -> ``done``. A run that stops anywhere resumes
from the record: a decided message is composed again (deterministically) and only its
unsent mails go out (:mod:`daemon.delivery`). A message that makes the pipeline fail is
left in place and tried again on the next poll, set aside after ``limits.max_attempts``;
nothing is ever deleted. A held message waits for the mail that completes it
(:mod:`daemon.held`). :class:`Intake` takes its mailbox and outbox as parameters: the
daemon gives it the real ones (:meth:`Intake.for_office`), tests may give fakes.
"""

from __future__ import annotations

import enum
import hashlib
import imaplib
import os
import ssl
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from functools import partial
from typing import NamedTuple

import structlog
from imapclient.exceptions import IMAPClientError

from daemon import config
from daemon.compose import about, compose, quarantine_notice
from daemon.config import Limits, Settings
from daemon.decide import finalize
from daemon.delivery import Delivery, Sender
from daemon.held import Box, Found, Held
from daemon.lifecycle import (
    OWN_HEADERS,
    Own,
    own_by_headers,
    own_mail,
    quarantine_due,
    secrets_of,
)
from daemon.log import register_message_secrets, register_secret
from daemon.mailbox import Fetched, Mailbox, MailboxError
from daemon.model import Decision, Mail, Verdict
from daemon.problems import Code
from daemon.sandbox import Reading, decide_in_child, read_in_child
from daemon.store import MessageRow, MessageState, StateUnavailableError, Store
from daemon.workers import Pool

log = structlog.get_logger("daemon.service")

Clock = Callable[[], datetime]
Connect = Callable[[], AbstractContextManager[Box]]

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


# Outcomes that took a message out of the intake folder (a poll with none of them changed
# nothing: waiting for a retry, a failure, the state file unavailable).
_PROGRESS = frozenset({*Verdict, Result.OWN_COPY, Result.DUPLICATE, Result.HELD,
                       Result.QUARANTINED})


def progressed(outcomes: Counter[str]) -> bool:
    """Whether a poll moved any message on (then another may have come meanwhile)."""
    return any(n > 0 and key in _PROGRESS for key, n in outcomes.items())


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


class Intake:
    """The daemon's work on one office's mailbox: the poll loop and each message's life."""

    def __init__(self, settings: Settings, store: Store, *, connect: Connect,
                 outbox: Sender, clock: Clock | None = None, workers: int = 0) -> None:
        self.settings = settings
        self.store = store
        self.connect = connect
        self.clock = clock or (lambda: datetime.now(UTC))
        self.stopping = threading.Event()
        self.delivery = Delivery(settings, store.outgoing, outbox, self.clock)
        # Messages read and decided at once in children, ahead of the one acted on.
        self.workers = workers or os.cpu_count() or 1
        self._pool: Pool | None = None
        self.held = Held(settings, store.messages, partial(read_mail, settings.limits))

    @classmethod
    def for_office(cls, settings: Settings, store: Store) -> Intake:
        """The daemon proper: the office's IMAP mailbox and SMTP server, passwords from
        the environment (registered with the log redactor before anything is logged)."""
        from daemon.outbox import Outbox  # noqa: PLC0415 - the SMTP stack, only to run

        imap_password = config.secret(settings.imap.password_env, "imap.password_env")
        smtp_password = (config.secret(settings.smtp.password_env, "smtp.password_env")
                         if settings.smtp.username else None)
        register_secret(imap_password)
        register_secret(smtp_password)
        return cls(settings, store, connect=partial(Mailbox, settings.imap, imap_password),
                   outbox=Outbox(settings.smtp, smtp_password))

    def run_once(self) -> Counter[str]:
        """One poll on a session of its own (``run --once``)."""
        with self.connect() as box:
            return self.poll(box)

    def poll(self, box: Box) -> Counter[str]:
        """Process every message waiting in the intake folder, then the held messages whose
        wait is over; returns counts per outcome."""
        outcomes: Counter[str] = Counter()
        folder = self.settings.imap.folder
        try:
            with self.delivery.outbox.session():  # one SMTP connection for the poll
                skip = self.store.messages.done_uids(folder, box.uidvalidity)
                new = box.fetch_new(skip, headers=OWN_HEADERS, body_unwanted=self._own_copy)
                self._run(self._ahead(box, new), outcomes)
                if not self.stopping.is_set():
                    due = self.store.messages.held(due=self.clock())
                    self._run((partial(self._expire, box, row) for row in due), outcomes)
        except StateUnavailableError as err:
            # Disk full, state file locked or unwritable: no new work until it clears.
            log.error("state.unavailable", error=str(err), path=self.settings.state.path)
            outcomes[Result.STATE_UNAVAILABLE] += 1
        log.info("poll.done", folder=folder, **{str(k): n for k, n in outcomes.items()})
        return outcomes

    def _run(self, steps: Iterable[Callable[[], str]], outcomes: Counter[str]) -> None:
        """Each message's step in turn, until done or a shutdown is asked for."""
        for step in steps:
            if self.stopping.is_set():
                log.info("poll.stopping", reason="shutdown requested")
                return
            outcomes[self._guarded(step)] += 1

    def _guarded(self, step: Callable[[], str]) -> str:
        """Run one message's step; an error costs that message only (its attempt is
        recorded as failed: see Messages.attempt)."""
        structlog.contextvars.clear_contextvars()
        try:
            return step()
        except (MailboxError, StateUnavailableError):
            raise
        except CONNECTION_ERRORS as err:
            # End this poll; the next one reconnects and resumes.
            raise MailboxError(f"IMAP connection lost: {type(err).__name__}: {err}") from err
        except Exception as err:  # one message must never stop the loop
            log.exception("message.failed", error=f"{type(err).__name__}: {err}")
            return Result.FAILED
        finally:
            structlog.contextvars.clear_contextvars()

    def _ahead(self, box: Box, fetched: Iterable[Fetched]) -> Iterator[Callable[[], str]]:
        """Each new message's step, its reading and deciding started in a child ahead of
        it (one child per core), so that the children work while this process acts on
        the message before (sending, filing, recording)."""
        window: deque[tuple[Fetched, Reading]] = deque()
        try:
            for item in fetched:
                if self.stopping.is_set():
                    break
                if not item.whole:  # the copy of a mail the daemon sent: nothing to read
                    yield partial(self._file_copy, box, item.uid)
                    continue
                window.append((item, Reading(item.raw, item.internaldate, self.settings,
                                             self.clock(), self._readers())))
                if len(window) >= self.workers:
                    yield partial(self._process, box, *window.popleft())
            while window:
                yield partial(self._process, box, *window.popleft())
        finally:  # stopping, or the poll failed: the children ahead are not needed
            for _, reading in window:
                reading.cancel()

    def _readers(self) -> Pool:
        """The pool of reader processes, started with the first message."""
        if self._pool is None:
            self._pool = Pool(self.settings, self.workers)
        return self._pool

    def close(self) -> None:
        """End the reader processes."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def _own_copy(self, head: bytes) -> bool:
        """Whether headers show the copy of a mail the daemon sent (smtp.copy_to)."""
        return own_by_headers(head, self.settings) is Own.COPY

    def _file_copy(self, box: Box, uid: int) -> str:
        """The copy of a mail the daemon sent: the proof it went out, filed as sent."""
        structlog.contextvars.bind_contextvars(uid=uid)
        box.file(uid, self.settings.imap.folders.sent)
        return Result.OWN_COPY

    def _process(self, box: Box, fetched: Fetched, reading: Reading) -> str:
        """Take one new message from fetched to filed (or held); returns its outcome."""
        structlog.contextvars.bind_contextvars(uid=fetched.uid)
        mail, early, err = reading.result()
        if err is not None:
            log.warning("message.read_failed", kind=err.kind, error=str(err)[:300])
        # Before anything can log about it (an error's text included), its secrets are known.
        protect_secrets(mail, Decision(Verdict.REVIEW))
        structlog.contextvars.bind_contextvars(message_id=mail.message_id)
        row = self.store.messages.seen(
            folder=self.settings.imap.folder, uidvalidity=box.uidvalidity, uid=fetched.uid,
            message_id=mail.message_id, content_hash=hashlib.sha256(fetched.raw).hexdigest(),
            received_at=mail.received_at, sender=mail.from_addr,
        )
        if row.state is MessageState.DONE:
            return Result.ALREADY_DONE
        if own_mail(mail, self.settings) is Own.COPY:
            # The copy of a mail the daemon sent (smtp.copy_to): the proof it went out.
            box.file(fetched.uid, self.settings.imap.folders.sent)
            self.store.messages.mark_done(row.id)
            return Result.OWN_COPY
        here = Placement(row.id, None, fetched.uid)
        early_at = reading.now if row.state is MessageState.SEEN else None
        return self._attempt(box, row, mail, here,
                             partial(self._new, box, row, mail, here, (early, early_at)))

    def _new(self, box: Box, row: MessageRow, mail: Mail, here: Placement,
             early: tuple[Decision, datetime | None]) -> str:
        """A new message's next step, from where its record says it is (``early``: its
        decision without the history, and when it was made: None if it is not new)."""
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
        decision, now = early
        if now is None:
            decision = self._decide(row, mail)
        else:
            decision = finalize(decision, mail, self.settings, now=now, history=self.store)
        log_read(mail, decision, here.uid)
        if decision.verdict is Verdict.HELD and decision.held_until is not None:
            self.store.messages.hold(row.id, decision.reason, decision.held_until)
            box.file(here.uid, self.settings.imap.folders.held)
            log.info("message.held", reason=decision.reason,
                     until=decision.held_until.isoformat())
            return Result.HELD
        return self._act(box, row, mail, decision, [here])

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

    def _expire(self, box: Box, held: MessageRow) -> str:
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
        decision, err = decide_in_child(mail, self.settings, can_wait=can_wait,
                                        sources=sources, now=now)
        if err is not None:
            log.warning("message.decide_failed", kind=err.kind, error=str(err)[:300])
        return finalize(decision, mail, self.settings, now=now, history=self.store)

    def _act(self, box: Box, row: MessageRow, mail: Mail, decision: Decision,
             placements: list[Placement], *, follow_up: MessageRow | None = None) -> str:
        """Record the decision, send its mails (those not sent yet), file the message(s)."""
        decided_at = row.decided_at if row.state is MessageState.DECIDED and row.decided_at \
            else self.clock()
        if Code.REPLY_LIMIT_REACHED in decision.problems:
            log.warning("reply.limit_reached", to=mail.reply_to[0] if mail.reply_to
                        else mail.from_addr, limit=self.settings.replies.per_sender_per_day)
        for outcome in decision.outcomes:
            if outcome.replaces:
                log.info("submission.replaces", earlier=outcome.replaces)
        mails = compose(decision, mail, self.settings, decided_at)
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
        for row, folder, uid in placements:
            if folder is None:
                box.file(uid, target)
            else:
                box.file_from(folder, uid, target)
            self.store.messages.mark_done(row)
