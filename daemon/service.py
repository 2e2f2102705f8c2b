"""The loop: poll the mailbox, take each message through its life, act, file it.

A poll takes every new message in the intake folder in turn (its step:
:class:`daemon.process.Processor`), then the held messages whose wait is over. Each new
message is read and decided by a reader process (:mod:`daemon.workers`) started ahead of
it, one per core, while this process acts on the one before; the copies of the mails
the daemon sent are told from their headers and filed without their bodies. An error
costs the message at hand only (it is tried again on the next poll); a lost IMAP session
ends the poll, and a state file that cannot be written stops it (nothing is lost: the
next poll resumes). :class:`Intake` takes its mailbox and outbox as parameters: the
daemon gives it the real ones (:meth:`Intake.for_office`), tests may give fakes.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from functools import partial

import structlog

from daemon import connections
from daemon.config import Settings
from daemon.delivery import Delivery, Sender
from daemon.held import Held
from daemon.lifecycle import (
    OWN_HEADERS,
    Own,
    own_by_headers,
)
from daemon.log import redact
from daemon.mailbox import Box, Fetched, Mailbox, MailboxError
from daemon.model import Decision, Mail, Verdict
from daemon.process import CONNECTION_ERRORS, Processor, Result, read_mail
from daemon.sandbox import Reading, SandboxError, decide_in_child
from daemon.store import PollOutcome, StateUnavailableError, Store
from daemon.trial import TrialBox, TrialOutbox
from daemon.workers import Pool, PoolBusyError

log = structlog.get_logger("daemon.service")

Clock = Callable[[], datetime]
Connect = Callable[[], AbstractContextManager[Box]]

# Outcomes that took a message out of the intake folder (a poll with none of them changed
# nothing: waiting for a retry, a failure, the state file unavailable).
_PROGRESS = frozenset({*Verdict, Result.OWN_COPY, Result.DUPLICATE, Result.HELD,
                       Result.QUARANTINED})


def progressed(outcomes: Counter[str]) -> bool:
    """Whether a poll moved any message on (then another may have come meanwhile)."""
    return any(n > 0 and key in _PROGRESS for key, n in outcomes.items())


def _trial_session(settings: Settings, mailbox: Callable[..., Mailbox]) -> TrialBox:
    """Trial mode's IMAP session: the intake folder opened read-only, nothing moved."""
    return TrialBox(mailbox(read_only=True), settings.imap.folder)


class Intake:
    """The daemon's work on one office's mailbox: the polls, each message's step in turn
    (:class:`daemon.process.Processor`) with what errors cost, reading ahead."""

    def __init__(self, settings: Settings, store: Store, *, connect: Connect,
                 outbox: Sender, clock: Clock | None = None, workers: int = 0) -> None:
        self.settings = settings
        self.store = store
        self.connect = connect
        self.clock = clock or (lambda: datetime.now(UTC))
        self.stopping = threading.Event()
        self.alive: Callable[[], None] = lambda: None  # told after each step (watchdog)
        self.after_poll: Callable[[], None] = lambda: None  # told after each poll (metrics)
        self.delivery = Delivery(settings, store.outgoing, outbox, self.clock)
        # Messages read and decided at once in children, ahead of the one acted on.
        self.workers = workers or os.cpu_count() or 1
        self._pool: Pool | None = None
        self._window: deque[tuple[Fetched, Reading]] = deque()  # readings ahead, oldest first
        self.held = Held(settings, store.messages, self._read_now)
        self.process = Processor(settings, store, self.delivery, self.held, self.clock,
                                 decide_now=self._decide_now)

    @classmethod
    def for_office(cls, settings: Settings, store: Store) -> Intake:
        """The daemon proper: the office's IMAP mailbox and SMTP server, passwords from
        the environment (registered with the log redactor before anything is logged)."""
        oauth = connections.tokens(settings)  # one for both: one refresh at a time
        mailbox = connections.mailboxes(settings, oauth=oauth)
        outbox = connections.outbox(settings, oauth=oauth)
        if settings.mode == "trial":
            return cls(settings, store, connect=partial(_trial_session, settings, mailbox),
                       outbox=TrialOutbox(outbox, settings.trial.address))
        return cls(settings, store, connect=mailbox, outbox=outbox)

    def run_once(self) -> Counter[str]:
        """One poll on a session of its own (``run --once``)."""
        with self.session() as box:
            return self.poll(box)

    @contextlib.contextmanager
    def session(self) -> Iterator[Box]:
        """An IMAP session (:attr:`connect`); a session that cannot be opened is recorded
        as a failed poll."""
        started = self.clock()
        with contextlib.ExitStack() as stack:
            try:
                box = stack.enter_context(self.connect())
            except MailboxError as err:
                self._record(started, Counter(), str(err))
                raise
            yield box

    def poll(self, box: Box) -> Counter[str]:
        """Process every message waiting in the intake folder, then the held messages whose
        wait is over; returns counts per outcome. The poll is recorded in the state file
        (``ok``, or ``failed`` with its error), and ``after_poll`` is told."""
        started = self.clock()
        outcomes: Counter[str] = Counter()
        try:
            self._poll(box, outcomes)
        except Exception as err:
            self._record(started, outcomes, f"{type(err).__name__}: {err}")
            raise
        failed = outcomes[Result.STATE_UNAVAILABLE] > 0
        self._record(started, outcomes, "state file unavailable" if failed else None)
        return outcomes

    def _record(self, started: datetime, outcomes: Counter[str], error: str | None) -> None:
        """Record a poll (``error``: it failed); a state file that cannot be written
        loses the record, not the poll. Then ``after_poll`` (the metrics) is told."""
        if error is not None:  # a server's answer may quote what was sent: no password
            error = str(redact(None, "", {"error": error})["error"])
        outcome = PollOutcome.OK if error is None else PollOutcome.FAILED
        with contextlib.suppress(StateUnavailableError, sqlite3.Error):
            self.store.polls.record(started, self.clock(), outcome, outcomes, error)
        self.after_poll()

    def _poll(self, box: Box, outcomes: Counter[str]) -> None:
        """The poll's work, counted in ``outcomes``."""
        folder = self.settings.imap.folder
        self.held.forget()
        self.process.new_poll()
        try:
            with self.delivery.outbox.session():  # one SMTP connection for the poll
                # Trial mode leaves held messages in the intake folder: not taken again.
                skip = partial(self.store.messages.done_uids, folder, box.uidvalidity,
                               held=self.settings.mode == "trial")
                new = box.fetch_new(skip, headers=OWN_HEADERS, body_unwanted=self._own_copy)
                self._run(self._ahead(box, new), outcomes)
                if not self.stopping.is_set():
                    due = self.store.messages.held(due=self.clock())
                    self._run((partial(self.process.expire, box, row) for row in due),
                              outcomes)
                box.flush()  # the last messages filed are moved before the poll ends
        except StateUnavailableError as err:
            # Disk full, state file locked or unwritable: no new work until it clears.
            log.error("state.unavailable", error=str(err), path=self.settings.state.path)
            outcomes[Result.STATE_UNAVAILABLE] += 1
        log.info("poll.done", folder=folder, **{str(k): n for k, n in outcomes.items()})

    def _run(self, steps: Iterable[Callable[[], str]], outcomes: Counter[str]) -> None:
        """Each message's step in turn, until done or a shutdown is asked for."""
        for step in steps:
            if self.stopping.is_set():
                log.info("poll.stopping", reason="shutdown requested")
                return
            outcomes[self._guarded(step)] += 1
            self.alive()

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
        window = self._window
        ready: tuple[Fetched, Reading] | None = None  # answered; its reader is free again
        try:
            for item in fetched:
                if self.stopping.is_set():
                    break
                if not item.whole:  # the copy of a mail the daemon sent: nothing to read
                    yield partial(self.process.file_copy, box, item.uid)
                    continue
                window.append((item, Reading(item.raw, item.internaldate, self.settings,
                                             self.clock(), self._readers())))
                if ready is not None:  # every reader busy while this process acts
                    yield partial(self.process.new, box, *ready)
                    ready = None
                if len(window) >= self.workers:
                    ready = window.popleft()
                    ready[1].collect()
            if ready is not None:
                yield partial(self.process.new, box, *ready)
                ready = None
            while window:
                yield partial(self.process.new, box, *window.popleft())
        finally:  # stopping, or the poll failed: the children ahead are not needed
            for _, reading in window:
                reading.cancel()
            window.clear()
            if ready is not None:
                ready[1].cancel()

    def _free_reader(self) -> bool:
        """Let a reader process go for a job that cannot wait: the oldest reading ahead
        is collected (kept for its turn). False when none is working."""
        for _, reading in self._window:
            if reading.working:
                reading.collect()
                return True
        return False

    def _read_now(self, raw: bytes, received_at: datetime | None,
                  passwords: Iterable[str]) -> Mail:
        """A message read (again) now, by a reader process when the pool runs (a held
        message, one with passwords to try), else in a child of its own."""
        if self._pool is not None:
            with contextlib.suppress(PoolBusyError, SandboxError):  # the one-off way says why
                mail: Mail = self._pool.run(("read", received_at, tuple(passwords)),
                                            self._free_reader, raw)[0]
                return mail
        return read_mail(self.settings.limits, raw, received_at, passwords)

    def _decide_now(self, mail: Mail, *, can_wait: bool, sources: tuple[str, ...],
                    now: datetime) -> tuple[Decision, SandboxError | None]:
        """A message (a pair) decided now, by a reader process when the pool runs, else in
        a child of its own (see decide_in_child)."""
        if self._pool is not None:
            with contextlib.suppress(PoolBusyError, SandboxError):
                decision: Decision = self._pool.run(("decide", mail, can_wait, sources, now),
                                                    self._free_reader)[0]
                return decision, None
        return decide_in_child(mail, self.settings, can_wait=can_wait, sources=sources,
                               now=now)

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
