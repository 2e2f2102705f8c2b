"""The loop: poll the mailbox, take each message through the pipeline, act, file it.

One message at a time, each step recorded before the next begins:
``seen`` -> ``decided`` (verdict and the mails it causes, queued) -> each mail ``sent``
-> message filed in its verdict's folder -> ``done``. A run that stops anywhere resumes
from the record: a decided message is composed again (deterministically) and only its
unsent mails go out. A message that makes the pipeline fail is left in place and tried
again on the next poll; nothing is ever deleted.
"""

from __future__ import annotations

import hashlib
import imaplib
import signal
import sqlite3
import ssl
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from types import FrameType

import structlog
from apscheduler.schedulers.blocking import BlockingScheduler
from imapclient.exceptions import IMAPClientError

from daemon import config, pairing
from daemon.compose import (
    Outgoing,
    about,
    compose,
    copy_address,
    quarantine_notice,
    undeliverable_notice,
)
from daemon.config import Settings
from daemon.decide import finalize
from daemon.lifecycle import is_own_copy, quarantine_due, secrets_of
from daemon.log import register_message_secrets, register_secret
from daemon.mailbox import Fetched, Mailbox, MailboxError
from daemon.model import Decision, Mail, Verdict
from daemon.outbox import Outbox, SendError
from daemon.sandbox import decide_in_child, read_in_child
from daemon.store import MessageRow, PendingMail, Store

log = structlog.get_logger("daemon.service")

Clock = Callable[[], datetime]

_ACTION_EVENTS = {
    Verdict.ROUTED: "message.routed",
    Verdict.CORRECTION: "message.correction_sent",
    Verdict.REVIEW: "message.review",
    Verdict.IGNORED: "message.ignored",
    Verdict.HELD: "message.held",
}


def backoff(attempt: int, first_seconds: float, max_minutes: float) -> timedelta:
    """The pause before retry number ``attempt``: first, twice that, four times, ...,
    at most max_minutes."""
    seconds = first_seconds * 2.0 ** max(attempt - 1, 0)
    return timedelta(seconds=min(seconds, max_minutes * 60))


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
    """The daemon's work on one office's mailbox."""

    def __init__(self, settings: Settings, store: Store, *, clock: Clock | None = None) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock or (lambda: datetime.now(UTC))
        self.stopping = threading.Event()
        self._imap_password = config.secret(settings.imap.password_env, "imap.password_env")
        smtp_password = (
            config.secret(settings.smtp.password_env, "smtp.password_env")
            if settings.smtp.username else None
        )
        register_secret(self._imap_password)
        register_secret(smtp_password)
        self.outbox = Outbox(settings.smtp, smtp_password)
        self._current: int | None = None  # the message row being worked on
        self._state_down = False

    def run_once(self) -> Counter[str]:
        """Process every message waiting in the intake folder, then the held messages whose
        wait is over; returns counts per outcome."""
        outcomes: Counter[str] = Counter()
        folder = self.settings.imap.folder
        self._state_down = False
        with Mailbox(self.settings.imap, self._imap_password) as box:
            skip = self.store.done_uids(folder, box.uidvalidity)
            for fetched in box.fetch_new(skip):
                if self.stopping.is_set():
                    log.info("poll.stopping", reason="shutdown requested")
                    break
                if self._state_down:
                    break
                outcomes[self._guarded(box, fetched.uid, partial(self._process, box, fetched))] += 1
            for row in [] if self._state_down else self.store.held(due=self.clock()):
                if self.stopping.is_set() or self._state_down:
                    break
                outcomes[self._guarded(box, None, partial(self._expire, box, row))] += 1
        log.info("poll.done", folder=folder, **dict(outcomes))
        return outcomes

    def _guarded(self, box: Mailbox, uid: int | None, step: Callable[[], str]) -> str:
        """Run one message's step; an error costs that message only (tried again next poll,
        set aside after limits.max_attempts)."""
        structlog.contextvars.clear_contextvars()
        if uid is not None:
            structlog.contextvars.bind_contextvars(uid=uid)
        self._current = None
        try:
            outcome = step()
            if self._current is not None:
                self.store.end_attempt(self._current)
            return outcome
        except MailboxError:
            raise
        except (IMAPClientError, imaplib.IMAP4.error, ConnectionError, TimeoutError,
                ssl.SSLError, EOFError) as err:
            # The IMAP connection dropped (server restarted, network): end this poll, and
            # do not count it against the message; the next poll reconnects and resumes.
            if self._current is not None:
                self.store.end_attempt(self._current)
            raise MailboxError(f"IMAP connection lost: {type(err).__name__}: {err}") from err
        except sqlite3.OperationalError as err:
            # Disk full, state file locked or unwritable: take no new work until it clears.
            self._state_down = True
            log.error("state.unavailable", error=str(err), path=self.settings.state.path)
            return "state-unavailable"
        except Exception as err:  # one message must never stop the loop
            log.exception("message.failed", error=f"{type(err).__name__}: {err}")
            if self._current is not None:
                self.store.end_attempt(self._current, f"{type(err).__name__}: {err}")
            return "failed"
        finally:
            structlog.contextvars.clear_contextvars()

    def _process(self, box: Mailbox, fetched: Fetched) -> str:
        """Take one new message from fetched to filed (or held); returns its outcome."""
        folders = self.settings.imap.folders
        mail = self._read(fetched.raw, fetched.internaldate)
        # Before anything can log about it (an error's text included), its secrets are known.
        protect_secrets(mail, Decision(Verdict.REVIEW))
        structlog.contextvars.bind_contextvars(message_id=mail.message_id)
        row = self.store.seen(
            folder=self.settings.imap.folder, uidvalidity=box.uidvalidity, uid=fetched.uid,
            message_id=mail.message_id, content_hash=hashlib.sha256(fetched.raw).hexdigest(),
            received_at=mail.received_at, sender=mail.from_addr,
        )
        if row.state == "done":
            return "already-done"
        if is_own_copy(mail, self.settings):
            # The copy of a mail the daemon sent (smtp.copy_to): the proof it went out.
            box.file(fetched.uid, folders.sent)
            self.store.mark_done(row.id)
            return "own-copy"
        failures = self.store.begin_attempt(row.id)
        self._current = row.id
        if quarantine_due(failures, self.settings):
            return self._quarantine(box, row, fetched, mail, failures)
        if row.duplicate_of is not None:
            log.info("message.duplicate", of=row.duplicate_of, verdict=row.verdict)
            self._file(box, [(row.id, None, fetched.uid)], Verdict(row.verdict or "review"))
            return "duplicate"
        if row.state == "held":  # held, but not yet moved to the held folder
            box.file(fetched.uid, folders.held)
            return "held"
        if row.paired_with is not None:  # decided with a held message; finish that
            return self._finish_pair(box, row, mail, fetched.uid)
        if row.state == "seen":
            partner = self._partner(box, mail)
            if partner is not None:
                first_row, where, first = partner
                return self._pair(box, first_row, where, first, row, mail, fetched.uid)
        # Decided before anything about the message is logged, so that its secrets are
        # registered with the redactor first.
        decision = self._decide(row, mail)
        log_read(mail, decision, fetched.uid)
        if decision.verdict is Verdict.HELD and decision.held_until is not None:
            self.store.hold(row.id, decision.reason, decision.held_until)
            box.file(fetched.uid, folders.held)
            log.info("message.held", reason=decision.reason,
                     until=decision.held_until.isoformat())
            return "held"
        return self._act(box, row, mail, decision, [(row.id, None, fetched.uid)])

    def _decide(self, row: MessageRow, mail: Mail, *, can_wait: bool = True,
                sources: tuple[str, ...] = ()) -> Decision:
        """The final decision on a message (or a pair), as of when it was first decided
        (a run that stopped half-way decides again, the same way)."""
        now = row.decided_at if row.state == "decided" and row.decided_at else self.clock()
        decision, err = decide_in_child(mail, self.settings, can_wait=can_wait,
                                        sources=sources, now=now)
        if err is not None:
            log.warning("message.decide_failed", kind=err.kind, error=str(err)[:300])
        return finalize(decision, mail, self.settings, now=now, history=self.store)

    def _reopen(self, mail: Mail, passwords: tuple[str, ...]) -> Mail:
        """A message read again, trying these passwords on its encrypted attachments."""
        return self._read(mail.raw, mail.received_at, passwords)

    def _read(self, raw: bytes, received_at: datetime | None,
              passwords: Iterable[str] = ()) -> Mail:
        """Read a message in a child process with time and memory limits: a hostile
        attachment costs that message (review, attachment-unreadable or too-large), never
        the daemon."""
        mail, err = read_in_child(raw, received_at, self.settings.limits,
                                  passwords=tuple(passwords))
        if err is not None:
            log.warning("message.read_failed", kind=err.kind, error=str(err)[:300])
        return mail

    def _partner(self, box: Mailbox, mail: Mail) -> tuple[MessageRow, str, Mail] | None:
        """The held message this mail provably completes (see daemon.pairing), if any."""
        if not mail.from_addr:
            return None
        rows: dict[int, tuple[MessageRow, str]] = {}
        waiting: list[pairing.Waiting] = []
        held_folder = self.settings.imap.folders.held
        for held in self.store.held(domain=mail.from_addr.rpartition("@")[2]):
            candidate = pairing.Waiting(held.id, held.sender, held.held_reason or "",
                                        held.held_until, mail)
            if not pairing.eligible(candidate, mail) or len(waiting) >= pairing.MAX_WAITING:
                continue
            found = box.find(held.message_id, [held_folder])
            if found is None:
                log.warning("held.missing", held_message_id=held.message_id)
                continue
            where, fetched = found
            first = self._read(fetched.raw, held.received_at)
            rows[held.id] = (held, where)
            waiting.append(replace(candidate, mail=first))
        match = pairing.partner(waiting, mail, self.settings, self._reopen)
        if match is None:
            return None
        held, where = rows[match.key]
        return held, where, match.mail

    def _pair(self, box: Mailbox, first_row: MessageRow, where: str, first: Mail,
              row: MessageRow, mail: Mail, uid: int) -> str:
        """Decide a held message and the mail that completes it together, act, file both."""
        combined = pairing.combined(first, mail, self._reopen)
        decision = self._decide(first_row, combined, can_wait=False,
                                sources=(combined.message_id, _other(combined, first, mail)))
        log_read(combined, decision)
        log.info("message.paired", held=first.message_id, follow_up=mail.message_id,
                 reason=first_row.held_reason)
        found = box.find(first.message_id, [where])
        placements: list[tuple[int, str | None, int]] = [(row.id, None, uid)]
        if found is not None:
            placements.insert(0, (first_row.id, where, found[1].uid))
        return self._act(box, first_row, combined, decision, placements, follow_up=row)

    def _finish_pair(self, box: Mailbox, row: MessageRow, mail: Mail, uid: int) -> str:
        """A follow-up already decided with its held message (a run stopped half-way)."""
        first_row = self.store.row(row.paired_with or 0)
        folders = self.settings.imap.folders
        candidates = [folders.held, getattr(folders, first_row.verdict or "review")]
        found = box.find(first_row.message_id, candidates)
        if found is None:
            raise LookupError(f"held message {first_row.message_id} not found")
        where, fetched = found
        first = self._read(fetched.raw, first_row.received_at)
        combined = pairing.combined(first, mail, self._reopen)
        decision = self._decide(first_row, combined, can_wait=False,
                                sources=(combined.message_id, _other(combined, first, mail)))
        protect_secrets(combined, decision)
        placements: list[tuple[int, str | None, int]] = [(row.id, None, uid)]
        if first_row.state != "done":
            placements.insert(0, (first_row.id, where, fetched.uid))
        return self._act(box, first_row, combined, decision, placements)

    def _expire(self, box: Mailbox, held: MessageRow) -> str:
        """A held message whose follow-up never came: decided alone, no more waiting."""
        structlog.contextvars.bind_contextvars(message_id=held.message_id)
        held_folder = self.settings.imap.folders.held
        found = box.find(held.message_id, [held_folder])
        if found is None:
            log.warning("held.missing", held_message_id=held.message_id)
            return "held-missing"
        _, fetched = found
        mail = self._read(fetched.raw, held.received_at)
        failures = self.store.begin_attempt(held.id)
        self._current = held.id
        if quarantine_due(failures, self.settings):
            return self._quarantine(box, held, fetched, mail, failures, folder=held_folder)
        decision = self._decide(held, mail, can_wait=False)
        log_read(mail, decision)
        log.info("message.wait_over", reason=held.held_reason)
        return self._act(box, held, mail, decision, [(held.id, held_folder, fetched.uid)])

    def _act(self, box: Mailbox, row: MessageRow, mail: Mail, decision: Decision,
             placements: list[tuple[int, str | None, int]], *,
             follow_up: MessageRow | None = None) -> str:
        """Record the decision, send its mails (those not sent yet), file the message(s)."""
        decided_at = row.decided_at if row.state == "decided" and row.decided_at else (
            self.clock())
        if "reply-limit-reached" in decision.problems:
            log.warning("reply.limit_reached", to=mail.reply_to[0] if mail.reply_to
                        else mail.from_addr, limit=self.settings.replies.per_sender_per_day)
        for outcome in decision.outcomes:
            if outcome.replaces:
                log.info("submission.replaces", earlier=outcome.replaces)
        mails = compose(decision, mail, self.settings, decided_at)
        planned = [(m.action, m.message_id, m.recipients) for m in mails]
        if follow_up is not None:
            self.store.record_pair(row.id, follow_up.id, decision, decided_at, planned)
        elif row.state in ("seen", "held"):
            self.store.record_decision(row.id, decision, decided_at, planned)
        if row.state in ("seen", "held") or follow_up is not None:
            log.info("message.decided", verdict=decision.verdict.value,
                     problems=list(decision.problems), route_to=list(decision.route_to),
                     reason=decision.reason, sources=list(decision.sources))
        for action, recipients, error in self.store.failed_outgoing(row.id):
            if not action.startswith("undeliverable"):
                mails.append(undeliverable_notice(
                    decision, mail, self.settings, decided_at, failed_action=action,
                    recipients=recipients, error=error))
        waiting = self._send_pending(box, row.id, mails, decision, mail, decided_at)
        if waiting:
            return waiting
        log.info(_ACTION_EVENTS[decision.verdict], verdict=decision.verdict.value,
                 kind=decision.kind.value, problems=list(decision.problems),
                 route_to=list(decision.route_to))
        self._file(box, placements, decision.verdict)
        return decision.verdict.value

    def _send_pending(self, box: Mailbox, message: int, mails: list[Outgoing],
                      decision: Decision, mail: Mail, decided_at: datetime) -> str | None:
        """Send this message's mails not sent yet; None when all went, else why not yet.

        A mail whose hand-over was cut off (the run died while sending, or the connection
        broke before the server's answer) may have been taken: the server delivers the
        daemon's copy exactly if it took the mail, so the copy decides. It is looked for
        at once; missing, the server is first seen to be up and then given
        ``smtp.copy_wait_seconds`` to deliver it (a mail it took while going down is
        delivered only after it is back). Only then is the mail sent again.
        """
        pending = {p.out_message_id: p for p in self.store.pending_outgoing(message)}
        now = self.clock()
        copy = copy_address(self.settings)
        for out in mails:  # notices appended below are sent in the same loop
            item = pending.get(out.message_id)
            if item is None:
                continue
            if item.next_attempt_at and item.next_attempt_at > now:
                return "send-waiting"
            if item.state == "sending" or item.uncertain:
                if self._copy_arrived(box, out.message_id):
                    self.store.mark_sent(out.message_id)
                    log.info("mail.already_sent", action=out.action,
                             out_message_id=out.message_id)
                    continue
                if item.confirm_after is None:
                    return self._await_copy(out, item.attempts, now)
                log.info("mail.copy_missing", action=out.action, out_message_id=out.message_id,
                         waited_until=item.confirm_after.isoformat())
            self.store.mark_sending(out.message_id)
            try:
                self.outbox.send(out.to_bytes(), out.recipients, copy_to=copy)
            except SendError as err:
                if not err.permanent:
                    return self._defer(out, err, item.attempts + 1, now)
                self.store.mark_undeliverable(out.message_id, str(err))
                log.error("mail.undeliverable", action=out.action, error=str(err),
                          out_message_id=out.message_id, recipients=list(out.recipients))
                if not out.action.startswith("undeliverable"):
                    notice = undeliverable_notice(
                        decision, mail, self.settings, decided_at, failed_action=out.action,
                        recipients=list(out.recipients), error=str(err))
                    self.store.queue(message, notice.action, notice.message_id,
                                     notice.recipients)
                    pending[notice.message_id] = PendingMail(notice.message_id, "queued", 0, None)
                    mails.append(notice)
                continue
            self.store.mark_sent(out.message_id)
            log.info("mail.sent", action=out.action, out_message_id=out.message_id,
                     recipients=list(out.recipients))
        return None

    def _await_copy(self, out: Outgoing, attempts: int, now: datetime) -> str:
        """An uncertain mail with no copy yet: see that the server is up, then wait for
        the copy (the mail and the message stay as they are until then)."""
        try:
            self.outbox.probe()
        except SendError as err:
            return self._defer(out, err, attempts + 1, now, uncertain=True)
        until = now + timedelta(seconds=self.settings.smtp.copy_wait_seconds)
        self.store.await_copy(out.message_id, until)
        log.info("mail.awaiting_copy", action=out.action, out_message_id=out.message_id,
                 until=until.isoformat())
        return "send-waiting"

    def _defer(self, out: Outgoing, err: SendError, attempt: int, now: datetime, *,
               uncertain: bool = False) -> str:
        """A temporary failure: try again after a pause that grows with each attempt."""
        smtp = self.settings.smtp
        retry = now + backoff(attempt, smtp.retry_first_seconds, smtp.retry_max_minutes)
        uncertain = uncertain or err.uncertain
        self.store.defer(out.message_id, str(err), retry, uncertain=uncertain)
        log.warning("mail.send_deferred", action=out.action, error=str(err),
                    out_message_id=out.message_id, retry_at=retry.isoformat(),
                    uncertain=uncertain)
        return "send-deferred"

    def _copy_arrived(self, box: Mailbox, out_message_id: str) -> bool:
        """Whether the server delivered the daemon's copy of this mail, i.e. took the mail
        (the copy is in the intake folder, or already filed in the sent folder)."""
        folders = [self.settings.imap.folder, self.settings.imap.folders.sent]
        return box.find(out_message_id, folders) is not None

    def _quarantine(self, box: Mailbox, row: MessageRow, fetched: Fetched, mail: Mail,
                    failures: int, *, folder: str | None = None) -> str:
        """Set aside a message that failed too often (in the intake folder, or ``folder``);
        staff are told once."""
        error = self.store.last_error(row.id)
        notice = quarantine_notice(fetched.raw, about(mail), self.settings, self.clock(),
                                   error=error, attempts=failures)
        self.store.quarantine(row.id)
        self.store.queue(row.id, notice.action, notice.message_id, notice.recipients)
        log.error("message.quarantined", attempts=failures, error=error)
        decision = Decision(Verdict.REVIEW, (), "quarantined", (mail.message_id,))
        waiting = self._send_pending(box, row.id, [notice], decision, mail, self.clock())
        if waiting:
            return waiting
        quarantine = self.settings.imap.folders.quarantine
        if folder is None:
            box.file(fetched.uid, quarantine)
        else:
            box.file_from(folder, fetched.uid, quarantine)
        self.store.mark_done(row.id)
        return "quarantined"

    def _file(self, box: Mailbox, placements: list[tuple[int, str | None, int]],
              verdict: Verdict) -> None:
        """Move each message to its verdict's folder, then mark it done."""
        target = getattr(self.settings.imap.folders, verdict.value)
        for row_id, folder, uid in placements:
            if folder is None:
                box.file(uid, target)
            else:
                box.file_from(folder, uid, target)
            self.store.mark_done(row_id)


def _other(combined: Mail, first: Mail, mail: Mail) -> str:
    """The Message-ID of a pair's message that is not the combined message's own."""
    return mail.message_id if combined.message_id == first.message_id else first.message_id


def run_forever(intake: Intake) -> None:
    """Poll every ``imap.poll_seconds`` until SIGTERM or SIGINT; finish the current message."""
    scheduler = BlockingScheduler(timezone="Asia/Tokyo")

    def poll() -> None:
        try:
            intake.run_once()
        except MailboxError as err:
            log.error("imap.unavailable", error=str(err))
        except Exception as err:  # the next poll tries again; the daemon must not die
            log.exception("poll.failed", error=f"{type(err).__name__}: {err}")

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("daemon.stopping", signal=signal.Signals(signum).name)
        intake.stopping.set()
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    scheduler.add_job(
        poll, "interval", seconds=intake.settings.imap.poll_seconds, id="poll",
        max_instances=1, coalesce=True, next_run_time=datetime.now(UTC),
    )
    log.info("daemon.started", poll_seconds=intake.settings.imap.poll_seconds,
             folder=intake.settings.imap.folder)
    scheduler.start()
    # shutdown(wait=False) returns at once; let a poll in progress finish its message.
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join(timeout=8)
    log.info("daemon.stopped")
