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
import signal
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from types import FrameType

import structlog
from apscheduler.schedulers.blocking import BlockingScheduler

from daemon import config
from daemon.compose import compose
from daemon.config import Settings
from daemon.decide import decide
from daemon.extract import document_passwords
from daemon.log import register_secret
from daemon.mailbox import Fetched, Mailbox, MailboxError
from daemon.model import Decision, Mail, Verdict
from daemon.outbox import Outbox, SendError
from daemon.read import read_message
from daemon.store import Store

log = structlog.get_logger("daemon.service")

Clock = Callable[[], datetime]

_ACTION_EVENTS = {
    Verdict.ROUTED: "message.routed",
    Verdict.CORRECTION: "message.correction_sent",
    Verdict.REVIEW: "message.review",
    Verdict.IGNORED: "message.ignored",
}


def protect_secrets(mail: Mail, decision: Decision) -> None:
    """Register every secret of this message with the log redactor."""
    register_secret(decision.fields.auth_key)
    register_secret(decision.fields.view_password)
    for password in document_passwords(mail.body):
        register_secret(password)


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

    def run_once(self) -> Counter[str]:
        """Process every message waiting in the intake folder; returns counts per outcome."""
        outcomes: Counter[str] = Counter()
        folder = self.settings.imap.folder
        with Mailbox(self.settings.imap, self._imap_password) as box:
            skip = self.store.done_uids(folder, box.uidvalidity)
            for fetched in box.fetch_new(skip):
                if self.stopping.is_set():
                    log.info("poll.stopping", reason="shutdown requested")
                    break
                outcomes[self._process(box, fetched)] += 1
        log.info("poll.done", folder=folder, **dict(outcomes))
        return outcomes

    def _process(self, box: Mailbox, fetched: Fetched) -> str:
        """Take one message from fetched to filed; returns its outcome for the summary."""
        folder = self.settings.imap.folder
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(uid=fetched.uid)
        try:
            mail = read_message(fetched.raw, fetched.internaldate)
            structlog.contextvars.bind_contextvars(message_id=mail.message_id)
            # Decided before anything about the message is logged, so that its secrets are
            # registered with the redactor first.
            decision = decide(mail, self.settings)
            protect_secrets(mail, decision)
            log.info("message.fetched", size=len(fetched.raw), subject=mail.subject,
                     sender=mail.from_addr, received_at=mail.received_at.isoformat(),
                     attachments=[f"{a.filename} ({a.status.value})" for a in mail.attachments])
            row = self.store.seen(
                folder=folder, uidvalidity=box.uidvalidity, uid=fetched.uid,
                message_id=mail.message_id, content_hash=hashlib.sha256(fetched.raw).hexdigest(),
                received_at=mail.received_at,
            )
            if row.state == "done":
                return "already-done"
            if row.duplicate_of is not None:
                log.info("message.duplicate", of=row.duplicate_of, verdict=row.verdict)
                self._file(box, fetched.uid, row.id, Verdict(row.verdict or "review"))
                return "duplicate"
            log.info("message.classified", kind=decision.kind.value,
                     guarantee_type=decision.guarantee_type.value
                     if decision.guarantee_type else None, fields=decision.fields.public())
            decided_at = row.decided_at or self.clock()
            mails = compose(decision, mail, self.settings, decided_at)
            if row.state == "seen":
                self.store.record_decision(
                    row.id, decision, decided_at,
                    [(m.action, m.message_id, m.recipients) for m in mails],
                )
                log.info("message.decided", verdict=decision.verdict.value,
                         problems=list(decision.problems), route_to=list(decision.route_to),
                         reason=decision.reason)
            pending = set(self.store.pending_outgoing(row.id))
            for out in mails:
                out_id = out.message_id
                if out_id not in pending:
                    continue
                try:
                    self.outbox.send(out.to_bytes(), out.recipients)
                except SendError as err:
                    self.store.mark_send_failed(out_id, str(err))
                    log.warning("mail.send_failed", out_message_id=out_id, error=str(err),
                                permanent=err.permanent)
                    return "send-failed"
                self.store.mark_sent(out_id)
                log.info("mail.sent", action=out.action, out_message_id=out_id,
                         recipients=list(out.recipients))
            log.info(_ACTION_EVENTS[decision.verdict], verdict=decision.verdict.value,
                     kind=decision.kind.value, problems=list(decision.problems),
                     route_to=list(decision.route_to))
            self._file(box, fetched.uid, row.id, decision.verdict)
            return decision.verdict.value
        except MailboxError:
            raise
        except Exception as err:  # one message must never stop the loop
            log.exception("message.failed", error=f"{type(err).__name__}: {err}")
            return "failed"
        finally:
            structlog.contextvars.clear_contextvars()

    def _file(self, box: Mailbox, uid: int, row: int, verdict: Verdict) -> None:
        folders = self.settings.imap.folders
        box.file(uid, getattr(folders, verdict.value))
        self.store.mark_done(row)


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
