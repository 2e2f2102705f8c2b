"""A pool of reader processes: new messages read and decided beside the loop.

Each worker is a child forked once from the warmed-up daemon (see
:func:`daemon.sandbox.warm_up`) that reads and decides one message at a time, under the
same limits as a one-off sandboxed child: its address space is capped (``RLIMIT_AS``, a
ceiling on the worker's whole size, as for a forked child), no core files, and the daemon
kills it when a message takes longer than ``limits.read_seconds``. A worker that fails
in any way (a timeout, memory, a crash, an exception) is replaced by a fresh one, and the
message is read again by :class:`daemon.sandbox.Reading` the one-off way, so that what
failed is reported exactly as it always is. A worker is also replaced after
``RECYCLE_AFTER`` messages, or after a message that left it more than
``RECYCLE_GROWN_MB`` bigger than it was forked, so that nothing a message leaves behind
lasts; the daemon logs ``reader.replaced`` with the reason.

Forking one worker per core once, instead of a child per message, saves the fork and
the copy-on-write faults of a large process on every message. What the worker inherits
stays shared with the daemon as long as neither writes to it: the worker's collector is
told to leave the inherited objects alone (``gc.freeze``; the daemon froze its own after
the warm-up), the worker gives what a message freed back to the system once it holds more
than ``TRIM_ABOVE_MB`` of it (``malloc_trim``), and a message's bytes go over the pipe
once, not back again.
"""

from __future__ import annotations

import ctypes
import gc
import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import structlog

from daemon.compose import Outgoing, compose
from daemon.config import Settings
from daemon.decide import decide
from daemon.model import Decision, Mail
from daemon.read import ReadLimits, read_message
from daemon.sandbox import Limits, SandboxError, apply_limits, death

log = structlog.get_logger("daemon.workers")

RECYCLE_AFTER = 500  # messages a worker reads before it is replaced
# A worker whose memory grew by more than this since it was forked is replaced (counted
# after a message: the anonymous pages it holds beyond those it started with, i.e. what
# it allocated and kept). Reading the usual mix, a worker grows by a megabyte or so; a
# large or hostile message can leave far more behind.
RECYCLE_GROWN_MB = 64
_ORPHAN_CHECK = 1.0  # seconds an idle worker waits before it looks whether the daemon lives
_STOP = None  # sent to a worker: exit


def _serve(conn: Connection, daemons_end: Connection, daemon: int, settings: Settings,
           limits: Limits) -> None:
    """In the worker: read and decide each message sent, until told to stop or the daemon
    is gone (killed: nobody will ever send another)."""
    # Everything inherited is the daemon's, shared page by page until written: the
    # collector would write to each object it looks at, and so copy all of them.
    gc.freeze()
    daemons_end.close()  # inherited at the fork: held here, it would hide the daemon's end
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the daemon's own handlers
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the daemon stops its workers
    apply_limits(limits, cpu=False)  # the daemon watches each message's wall-clock time
    _release(None)  # the free memory inherited
    forked_with = anonymous_bytes()
    read_limits = ReadLimits.of(settings.limits)
    while True:
        while not conn.poll(_ORPHAN_CHECK):
            if os.getppid() != daemon:
                return
        try:
            job = conn.recv()
            if job is _STOP:
                return
            raw = conn.recv_bytes() if job[0] in _WITH_BYTES else b""  # see Worker.start
        except EOFError:
            return
        try:
            result = _work(job, raw, settings, read_limits)
        except MemoryError:
            reply: tuple[str, Any, int] = ("memory", None, 0)
        except Exception as err:  # noqa: BLE001 - reported by kind; the message is read again
            reply = ("error", type(err).__name__, 0)
        else:
            # The daemon has the message's bytes: they are not sent back.
            first = result[0]
            same_raw = bool(raw) and isinstance(first, Mail) and first.raw is raw
            if same_raw:
                result = (replace(first, raw=b""), *result[1:])
            answer = (result, same_raw)
            del first, result, raw
            # What reading it left behind (a parsed PDF is full of cycles).
            reply = ("ok", answer, _release(forked_with) - forked_with)
            del answer
        try:
            conn.send(reply)
        except MemoryError:
            return  # the daemon sees the worker gone and replaces it
        if reply[0] != "ok":
            return  # a worker that failed once is not trusted with another message
        del reply
        _release(forked_with)  # the reply as sent


# The jobs whose message goes as bytes beside the job (see Worker.start).
_WITH_BYTES = ("read-and-decide", "read")


def _work(job: tuple[Any, ...], raw: bytes, settings: Settings,
          read_limits: ReadLimits) -> tuple[Any, ...]:
    """One job in the worker: a new message read and decided (without the history), with
    the mails the decision sends made; a message read again with passwords; a message (a
    pair) decided."""
    match job:
        case ("read-and-decide", received_at, now):
            mail = read_message(raw, received_at, now=now, limits=read_limits)
            decision = decide(mail, settings, now=now)
            return mail, decision, _prepared(decision, mail, settings, now)
        case ("read", received_at, passwords):
            return (read_message(raw, received_at, passwords=passwords, limits=read_limits),)
        case ("decide", mail, can_wait, sources, now):
            return (decide(mail, settings, can_wait=can_wait, sources=sources, now=now),)
    raise ValueError(f"unknown job {job[0]!r}")


def _prepared(decision: Decision, mail: Mail, settings: Settings,
              now: datetime) -> tuple[Outgoing, ...] | None:
    """The mails this decision sends, composed as of ``now`` and made into bytes here, so
    that the daemon need not when the history leaves the decision as it is (None: they
    could not be made here; the daemon composes them)."""
    try:
        return tuple(out.rendered() for out in compose(decision, mail, settings, now))
    except Exception:  # noqa: BLE001 - composed again by the daemon, which reports it
        return None


class PoolBusyError(Exception):
    """No reader process is free for a job that cannot wait."""


# A worker keeps up to this much freed memory above its size when forked for the next
# message: giving back every freed page after each message and faulting it in again for
# the next cost 0.4-1.1 ms of the 15 a message takes to read, decide and compose
# (bench/reading.py's work, timed with a trim after each message and without).
TRIM_ABOVE_MB = 8


def _release(forked_with: int | None) -> int:
    """Free what is garbage now and, when the worker holds more than ``TRIM_ABOVE_MB``
    above ``forked_with`` (None: always), give the freed memory back to the system (glibc
    keeps it otherwise, and a page it keeps is a page of this worker's own). The worker's
    anonymous memory afterwards (see :func:`anonymous_bytes`)."""
    gc.collect()
    held = anonymous_bytes()
    if _malloc_trim is not None and (
            forked_with is None or held - forked_with > TRIM_ABOVE_MB << 20):
        _malloc_trim(0)
        held = anonymous_bytes()
    return held


def _libc_trim() -> Any:
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


_malloc_trim = _libc_trim()


def anonymous_bytes() -> int:
    """This process's anonymous resident memory (its heap: all but the files mapped; 0
    when /proc cannot tell). Read from /proc/self/statm: a few microseconds, where the
    private share (smaps_rollup) takes milliseconds."""
    try:
        resident, files = Path("/proc/self/statm").read_text().split()[1:3]
    except (OSError, ValueError):
        return 0
    return (int(resident) - int(files)) * _PAGE


_PAGE = os.sysconf("SC_PAGE_SIZE")


class Worker:
    """One reader process and the message it is working on."""

    def __init__(self, settings: Settings, limits: Limits) -> None:
        context = multiprocessing.get_context("fork")
        self._limits = limits
        self._conn, theirs = context.Pipe()
        self._process = context.Process(
            target=_serve, args=(theirs, self._conn, os.getpid(), settings, limits),
            name="reader", daemon=True)
        try:
            self._process.start()
        finally:
            theirs.close()
        self.served = 0
        self.grown = 0  # bytes its memory grew by since it was forked, after its last message
        self._broken = False
        self._deadline = 0.0
        self._raw = b""

    def submit(self, raw: bytes, received_at: datetime | None, now: datetime) -> None:
        """Give the worker a message to read and decide."""
        self.start(("read-and-decide", received_at, now), raw)

    def start(self, job: tuple[Any, ...], raw: bytes = b"") -> None:
        """Give the worker a job (see :func:`_work`); a message's bytes go beside it."""
        self._deadline = time.monotonic() + self._limits.seconds
        self._raw = raw
        self._conn.send(job)
        if job[0] in _WITH_BYTES:
            self._conn.send_bytes(raw)  # as it is: pickled, a large message would be copied
        self.served += 1

    def collect(self) -> tuple[Mail, Decision, tuple[Outgoing, ...] | None]:
        """The message read and decided, with its mails made (see :func:`_prepared`), or
        :class:`SandboxError` (the worker is then done for: :attr:`usable` is False)."""
        mail, decision, prepared = self.answer()
        return mail, decision, prepared

    def answer(self) -> tuple[Any, ...]:
        """What the job gave, or :class:`SandboxError` (see :meth:`collect`)."""
        raw, self._raw = self._raw, b""
        try:
            if self._conn.poll(max(0.0, self._deadline - time.monotonic())):
                status, value, self.grown = self._conn.recv()
                if status == "ok":
                    result, same_raw = value
                    if same_raw:
                        result = (replace(result[0], raw=raw), *result[1:])
                    return tuple(result)
                self._broken = True
                raise SandboxError("memory" if status == "memory" else "crashed",
                                   f"in a reader process: {value or status}")
        except (EOFError, OSError):
            pass  # it died: why is read from its exit status below
        self._broken = True
        if self._process.is_alive():
            self.stop()
            raise SandboxError("timeout", f"no result within {self._limits.seconds:g} s")
        self._process.join()
        raise death(self._process.exitcode, "")

    @property
    def broken(self) -> bool:
        """It failed (a timeout, memory, a crash, an exception): replaced, not reported
        here (the message read again says what happened)."""
        return self._broken or not self._process.is_alive()

    @property
    def spent(self) -> str | None:
        """Why a sound worker is due for replacing (``messages``: it read its share,
        ``memory``: it grew too much), or None."""
        if self.served >= RECYCLE_AFTER:
            return "messages"
        if self.grown > RECYCLE_GROWN_MB << 20:
            return "memory"
        return None

    @property
    def usable(self) -> bool:
        """Alive, and not yet due for replacing."""
        return not self.broken and self.spent is None

    def stop(self) -> None:
        """End the worker: asked nicely when idle, killed otherwise; always reaped."""
        if self._process.is_alive():
            try:
                self._conn.send(_STOP)
                self._process.join(1.0)
            except (OSError, ValueError):
                pass
        if self._process.is_alive():
            self._process.kill()
        self._process.join()
        self._conn.close()


class Pool:
    """``size`` workers, each taken for one message and given back."""

    def __init__(self, settings: Settings, size: int) -> None:
        read = settings.limits
        self._settings = settings
        self._limits = Limits(read.read_seconds, read.read_memory_mb << 20)
        self._idle = [Worker(settings, self._limits) for _ in range(size)]

    def run(self, job: tuple[Any, ...], free: Callable[[], bool], raw: bytes = b""
            ) -> tuple[Any, ...]:
        """A job done now by a worker (see :func:`_work`): an idle one, else one that
        ``free`` lets go (it collects a reading ahead; False: it had none). Raises
        :class:`PoolBusyError` when no worker is free, :class:`SandboxError` when the
        worker fails; either way, do it the one-off way (which says why it fails, if it
        does)."""
        while not self._idle:
            if not free():
                raise PoolBusyError("every reader process is working")
        worker = self.take()
        try:
            worker.start(job, raw)
            return worker.answer()
        finally:
            self.give_back(worker)

    def take(self) -> Worker:
        """An idle worker (a fresh one when none is left or the one left is spent)."""
        worker = self._idle.pop() if self._idle else None
        if worker is not None and worker.usable:
            return worker
        if worker is not None:
            worker.stop()
        return Worker(self._settings, self._limits)

    def give_back(self, worker: Worker) -> None:
        """A worker done with its message: kept if it is still usable, else ended (the
        next message gets a fresh one)."""
        if worker.usable:
            self._idle.append(worker)
            return
        reason = worker.spent
        if reason is not None and not worker.broken:
            log.info("reader.replaced", reason=reason, messages=worker.served,
                     grown_mb=round(worker.grown / (1 << 20)), limit_mb=RECYCLE_GROWN_MB)
        worker.stop()

    def close(self) -> None:
        """End every worker."""
        while self._idle:
            self._idle.pop().stop()
