"""When the loop runs: at once, then whenever the server says a message arrived (IMAP
IDLE), and at the latest every ``imap.poll_seconds`` (APScheduler keeps that clock: the
fallback for a server without IDLE, and the safety net for one whose IDLE missed
something), until SIGTERM or SIGINT. The message being worked on is finished first.
Under systemd it says when it is ready, what the last poll did, that it is alive (for
the watchdog) and that it is stopping (see :mod:`daemon.notify`)."""

from __future__ import annotations

import signal
import threading
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from types import FrameType

import structlog
from apscheduler.schedulers.background import BackgroundScheduler

from daemon.mailbox import IDLE_MAX_SECONDS, MailboxError
from daemon.notify import Notifier
from daemon.service import Intake, progressed

log = structlog.get_logger("daemon.service")


def run_forever(intake: Intake, notifier: Notifier | None = None) -> None:
    """Poll, wait for news, poll again, on one IMAP session; a lost session is opened
    again at the next ``imap.poll_seconds``."""
    notifier = notifier or Notifier()
    intake.alive = notifier.alive  # after each message of a poll
    settings = intake.settings
    stop = intake.stopping
    due = threading.Event()  # the fallback poll's time has come
    scheduler = BackgroundScheduler(timezone="Asia/Tokyo")
    scheduler.add_job(due.set, "interval", seconds=settings.imap.poll_seconds, id="poll",
                      max_instances=1, coalesce=True)

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("daemon.stopping", signal=signal.Signals(signum).name)
        notifier.send("STOPPING=1")
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    scheduler.start()
    log.info("daemon.started", poll_seconds=settings.imap.poll_seconds,
             folder=settings.imap.folder, watchdog=notifier.watched)
    notifier.send("READY=1", "STATUS=started")

    def waiting() -> bool:  # asked every second while the loop waits
        notifier.alive()
        return stop.is_set() or due.is_set()

    try:
        while not stop.is_set():
            _session(intake, due, notifier, waiting)
            while not waiting():  # the next try: at the next poll
                stop.wait(1.0)
    finally:
        scheduler.shutdown(wait=False)
        notifier.close()
    log.info("daemon.stopped")


def _session(intake: Intake, due: threading.Event, notifier: Notifier,
             waiting: Callable[[], bool]) -> None:
    """Polls on one IMAP session, each after the server's news or the fallback's time,
    until a stop is asked for or the session fails (said in the log and the status)."""
    stop = intake.stopping
    try:
        with intake.session() as box:
            while not stop.is_set():
                due.clear()
                outcomes = intake.poll(box)
                trial = intake.settings.mode == "trial"
                notifier.send(f"STATUS={status(outcomes, intake.clock(), trial=trial)}")
                if progressed(outcomes):  # more may have come meanwhile
                    continue
                box.wait_for_news(IDLE_MAX_SECONDS, waiting)
    except MailboxError as err:
        log.error("imap.unavailable", error=str(err))
        notifier.send("STATUS=IMAP unavailable (see the log); trying again at the next poll")
    except Exception as err:  # the next poll tries again; the daemon must not die
        log.exception("poll.failed", error=f"{type(err).__name__}: {err}")
        notifier.send("STATUS=poll failed (see the log); trying again at the next poll")


def status(outcomes: Counter[str], now: datetime, *, trial: bool = False) -> str:
    """What ``systemctl status`` shows of the last poll."""
    counts = ", ".join(f"{key} {n}" for key, n in sorted(outcomes.items()) if n) or "nothing new"
    when = now.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
    return f"{'trial mode, ' if trial else ''}last poll {when}: {counts}"
