"""When the loop runs: at once, then whenever the server says a message arrived (IMAP
IDLE), and at the latest every ``imap.poll_seconds`` (APScheduler keeps that clock: the
fallback for a server without IDLE, and the safety net for one whose IDLE missed
something), until SIGTERM or SIGINT. The message being worked on is finished first."""

from __future__ import annotations

import signal
import threading
from types import FrameType

import structlog
from apscheduler.schedulers.background import BackgroundScheduler

from daemon.mailbox import IDLE_MAX_SECONDS, MailboxError
from daemon.service import Intake, progressed

log = structlog.get_logger("daemon.service")


def run_forever(intake: Intake) -> None:
    """Poll, wait for news, poll again, on one IMAP session; a lost session is opened
    again at the next ``imap.poll_seconds``."""
    settings = intake.settings
    stop = intake.stopping
    due = threading.Event()  # the fallback poll's time has come
    scheduler = BackgroundScheduler(timezone="Asia/Tokyo")
    scheduler.add_job(due.set, "interval", seconds=settings.imap.poll_seconds, id="poll",
                      max_instances=1, coalesce=True)

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("daemon.stopping", signal=signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    scheduler.start()
    log.info("daemon.started", poll_seconds=settings.imap.poll_seconds,
             folder=settings.imap.folder)
    try:
        while not stop.is_set():
            _session(intake, due)
            while not (stop.is_set() or due.is_set()):  # the next try: at the next poll
                stop.wait(1.0)
    finally:
        scheduler.shutdown(wait=False)
    log.info("daemon.stopped")


def _session(intake: Intake, due: threading.Event) -> None:
    """Polls on one IMAP session, each after the server's news or the fallback's time,
    until a stop is asked for or the session fails (said in the log)."""
    stop = intake.stopping
    try:
        with intake.connect() as box:
            while not stop.is_set():
                due.clear()
                if progressed(intake.poll(box)):  # more may have come meanwhile
                    continue
                box.wait_for_news(IDLE_MAX_SECONDS, lambda: stop.is_set() or due.is_set())
    except MailboxError as err:
        log.error("imap.unavailable", error=str(err))
    except Exception as err:  # the next poll tries again; the daemon must not die
        log.exception("poll.failed", error=f"{type(err).__name__}: {err}")
