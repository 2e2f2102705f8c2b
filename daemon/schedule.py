"""When the loop runs: at once, then whenever the server says a message arrived (IMAP
IDLE), and at the latest every ``imap.poll_seconds`` (APScheduler keeps that clock: the
fallback for a server without IDLE, and the safety net for one whose IDLE missed
something), until SIGTERM or SIGINT. The message being worked on is finished first.
Under systemd it says when it is ready, what the last poll did, that it is alive (for
the watchdog) and that it is stopping (see :mod:`daemon.notify`). With ``summary.to``
set, APScheduler also sends the daily summary at ``summary.at`` Japan time (and at once
at the start when that time has passed and the day's summary has not gone: see
:mod:`daemon.daily`), in its own thread, beside the polls."""

from __future__ import annotations

import signal
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import FrameType

import structlog
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from daemon.daily import DailySummary
from daemon.mailbox import IDLE_MAX_SECONDS, MailboxError
from daemon.notify import Notifier
from daemon.service import Intake, progressed

log = structlog.get_logger("daemon.service")


def run_forever(intake: Intake, notifier: Notifier | None = None,
                daily: DailySummary | None = None) -> None:
    """Poll, wait for news, poll again, on one IMAP session; a lost session is opened
    again at the next ``imap.poll_seconds``. ``daily``: the daily summary to send."""
    notifier = notifier or Notifier()
    intake.alive = notifier.alive  # after each message of a poll
    settings = intake.settings
    stop = intake.stopping
    due = threading.Event()  # the fallback poll's time has come
    scheduler = BackgroundScheduler(timezone="Asia/Tokyo")
    scheduler.add_job(due.set, "interval", seconds=settings.imap.poll_seconds, id="poll",
                      max_instances=1, coalesce=True)
    if daily is not None:
        schedule_summary(scheduler, daily)

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
            # A session begun (or refused) now answers the poll that was due: a server
            # that refuses is tried again at the next one, not as fast as the loop turns.
            due.clear()
            _session(intake, due, notifier, waiting)
            while not waiting():  # the next try: at the next poll
                stop.wait(1.0)
    finally:
        scheduler.shutdown(wait=False)
        notifier.close()
    log.info("daemon.stopped")


def schedule_summary(scheduler: BackgroundScheduler, daily: DailySummary) -> None:
    """Send the daily summary at ``summary.at`` Japan time every day, and now (a start
    after that time, with the day's summary not sent yet, sends it at once); a certain
    failure is tried again later the same day."""
    at = daily.settings.summary.time_of_day

    def job() -> None:
        try:
            retry = daily.run_due()
        except Exception as err:  # the state file locked, ...: the daemon goes on
            log.exception("summary.failed", error=f"{type(err).__name__}: {err}")
            retry = datetime.now(UTC) + timedelta(minutes=daily.settings.smtp.retry_max_minutes)
        if retry is not None:
            scheduler.add_job(job, "date", run_date=retry, id="summary-retry",
                              replace_existing=True)

    scheduler.add_job(job, CronTrigger(hour=at.hour, minute=at.minute, timezone="Asia/Tokyo"),
                      id="summary", max_instances=1, coalesce=True, misfire_grace_time=None,
                      next_run_time=datetime.now(UTC))


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
