"""When the loop runs: every ``imap.poll_seconds`` (APScheduler), until SIGTERM or SIGINT."""

from __future__ import annotations

import signal
import threading
from datetime import UTC, datetime
from types import FrameType

import structlog
from apscheduler.schedulers.blocking import BlockingScheduler

from daemon.mailbox import MailboxError
from daemon.service import Intake

log = structlog.get_logger("daemon.service")


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
