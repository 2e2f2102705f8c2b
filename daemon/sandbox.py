"""Run one pipeline step in a child process with hard limits.

A hostile attachment (a PDF or zip bomb, a file that makes a parser loop or recurse
forever) must cost one message, never the daemon. :func:`run_limited` forks a child
(the ``fork`` start method, so the function and its arguments need not be picklable),
caps the child's address space (``RLIMIT_AS``) and CPU time (``RLIMIT_CPU``, a backstop a
little above the wall-clock limit), and waits for the pickled result on a pipe. The
child is killed (SIGKILL) when the wall-clock limit passes, and always reaped.

``RLIMIT_AS`` counts the whole address space of the child, including what it inherits
from the parent at the fork (the interpreter, the libraries, about 150 MB for the
daemon), so ``memory_bytes`` is a ceiling on the child's total size, not on what it
may allocate on top.

Whatever goes wrong in the child comes back as a :class:`SandboxError` whose ``kind``
says what happened: ``timeout``, ``memory`` or ``crashed``. Exceptions are reported by
type, message and traceback text, never pickled as objects. Python code that runs out
of address space raises MemoryError (``memory``); a native library may instead abort or
crash on the failed allocation (PDFium aborts: SIGABRT), which cannot be told apart from
any other native crash and is reported as ``crashed``, with the Python stack at the
moment of death. No core file is written for such a crash.

The child is a fork of the calling process, taken while any other thread of it may hold
a lock; the daemon calls this from one thread at a time, and each call's pipes are
closed in the parent as soon as the child has them.
"""

from __future__ import annotations

import contextlib
import faulthandler
import gc
import math
import multiprocessing
import os
import resource
import signal
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from importlib import resources
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from daemon.config import Limits as ReadSettings
from daemon.config import Settings
from daemon.decide import decide
from daemon.model import Decision, DocumentStatus, Fields, Kind, Mail, Outcome, Verdict
from daemon.problems import Code
from daemon.read import ReadLimits, read_headers_only, read_message

if TYPE_CHECKING:  # the pool's workers are built on this module's limits
    from daemon.compose import Outgoing
    from daemon.workers import Pool, Worker

T = TypeVar("T")
ErrorKind = Literal["timeout", "memory", "crashed"]

_CPU_MARGIN = 5  # seconds of CPU time past the wall-clock limit before RLIMIT_CPU acts
_EXIT_GRACE = 5.0  # seconds a child that sent its result may take to exit
_MAX_TEXT = 4000  # characters of an exception message or traceback kept


@dataclass(frozen=True)
class Limits:
    """The limits of one sandboxed call."""

    seconds: float = 30.0  # wall-clock limit for the child
    memory_bytes: int = 1 << 30  # RLIMIT_AS for the child (1 GiB)


class SandboxError(Exception):
    """The sandboxed call gave no result: ``kind`` is ``timeout``, ``memory`` or ``crashed``.

    For an exception raised in the child, the message names its type and text, and
    ``traceback`` holds the child's formatted traceback.
    """

    def __init__(self, kind: ErrorKind, message: str, traceback: str = "") -> None:
        super().__init__(f"{kind}: {message}")
        self.kind: ErrorKind = kind
        self.message = message
        self.traceback = traceback

    def __reduce__(self) -> tuple[type[SandboxError], tuple[ErrorKind, str, str]]:
        return (SandboxError, (self.kind, self.message, self.traceback))


def run_limited(func: Callable[..., T], *args: Any, limits: Limits = Limits()) -> T:
    """``func(*args)`` in a forked child under ``limits``; its result, or SandboxError.

    The result is pickled back through a pipe (read before the child is joined, so a
    large result never blocks the child). Timeout: the child is killed and ``timeout``
    raised. MemoryError in the child, or the kernel killing it for memory: ``memory``.
    Any other exception in the child, a death by signal or an exit without a result:
    ``crashed`` (for a native crash, ``traceback`` holds the Python stack faulthandler
    wrote as the child died).
    """
    return start_limited(func, *args, limits=limits).result()


def start_limited(func: Callable[..., T], *args: Any, limits: Limits = Limits()) -> Job[T]:
    """Start ``func(*args)`` in a forked child under ``limits`` and return at once: its
    :meth:`Job.result` waits for it (see :func:`run_limited`). Several may run at once,
    one per core; each is started from the thread that collects it."""
    return Job(func, args, limits)


class Job(Generic[T]):
    """One child at work; :meth:`result` collects it (once)."""

    def __init__(self, func: Callable[..., T], args: tuple[Any, ...], limits: Limits) -> None:
        context = multiprocessing.get_context("fork")
        self._limits = limits
        self._receiver, sender = context.Pipe(duplex=False)
        self._crash_read, crash_write = os.pipe()  # faulthandler's report of a native crash
        self._child = context.Process(
            target=_child,
            args=(self._receiver, sender, self._crash_read, crash_write, limits, func, args),
            name="sandbox",
        )
        self._deadline = time.monotonic() + limits.seconds
        try:
            self._child.start()
        except BaseException:
            self._receiver.close()
            os.close(self._crash_read)
            raise
        finally:
            sender.close()  # the child holds the only writing end: EOF when it dies
            os.close(crash_write)

    def cancel(self) -> None:
        """Not wanted after all (the daemon is stopping): the child is killed and reaped."""
        self._deadline = time.monotonic()
        with contextlib.suppress(SandboxError):
            self.result()

    def result(self) -> T:
        """The child's result, or :class:`SandboxError`; the child is always reaped."""
        child, receiver = self._child, self._receiver
        message: tuple[str, Any, str] | None = None
        killed = False
        try:
            if receiver.poll(max(0.0, self._deadline - time.monotonic())):
                try:
                    message = receiver.recv()
                except (EOFError, OSError):
                    message = None  # died before (or while) sending its result
            child.join(_EXIT_GRACE if message is not None
                       else max(0.0, self._deadline - time.monotonic()))
            if child.is_alive():
                killed = message is None
                child.kill()
        finally:
            receiver.close()
            if child.pid is not None:  # started: reap it, whatever happened here
                if child.is_alive():
                    child.kill()
                child.join()
            exitcode = child.exitcode
            child.close()
            crash_report = _read_available(self._crash_read)
            os.close(self._crash_read)
        if message is not None:
            status, value, trace = message
            if status == "ok":
                return value  # type: ignore[no-any-return]
            raise SandboxError("memory" if status == "memory" else "crashed", str(value), trace)
        if killed:
            raise SandboxError("timeout", f"no result within {self._limits.seconds:g} s")
        raise death(exitcode, crash_report)


def death(exitcode: int | None, crash_report: str) -> SandboxError:
    """Why a child that sent nothing ended."""
    if exitcode is None or exitcode >= 0:
        return SandboxError("crashed", f"the child exited (status {exitcode}) without a result",
                            crash_report)
    signum = -exitcode
    name = signal.Signals(signum).name if signum in signal.valid_signals() else str(signum)
    if signum == signal.SIGXCPU:
        return SandboxError("timeout", "CPU time limit reached (SIGXCPU)")
    if signum == signal.SIGKILL:  # not ours (we send it only on timeout): the OOM killer
        return SandboxError("memory", "killed by SIGKILL (out of memory?)")
    return SandboxError("crashed", f"killed by signal {name}", crash_report)


def _read_available(fd: int) -> str:
    """What is waiting in a pipe, without blocking (a grandchild may hold it open)."""
    os.set_blocking(fd, False)
    try:
        data = os.read(fd, 1 << 16)
    except BlockingIOError:
        data = b""
    return _clip(data.decode("utf-8", "replace").strip())


def _child(receiver: Connection, sender: Connection, crash_read: int, crash_write: int,
           limits: Limits, func: Callable[..., Any], args: tuple[Any, ...]) -> None:
    """In the child: apply the limits, run, send ("ok", result, "") or the failure."""
    gc.freeze()  # what it inherited stays shared with the daemon: see warm_up
    receiver.close()
    os.close(crash_read)
    faulthandler.enable(file=crash_write, all_threads=False)
    message: tuple[str, Any, str]
    try:
        apply_limits(limits)
        message = ("ok", func(*args), "")
    except MemoryError:
        message = ("memory", "MemoryError in the child", "")
    except BaseException as err:  # noqa: BLE001 - every failure is reported, none pickled
        message = ("error", _describe(err), _clip("".join(traceback.format_exception(err))))
    try:
        sender.send(message)
    except MemoryError:
        _send_quietly(sender, ("memory", "MemoryError while sending the result", ""))
    except OSError:
        pass  # the parent is gone (it gave up waiting)
    except Exception as err:  # noqa: BLE001 - an unpicklable result
        _send_quietly(sender, ("error", f"result not sent: {_describe(err)}", ""))
    finally:
        sender.close()


def _send_quietly(sender: Connection, message: tuple[str, str, str]) -> None:
    with contextlib.suppress(OSError):
        sender.send(message)


def apply_limits(limits: Limits, *, cpu: bool = True) -> None:
    """Cap the address space and (as a backstop for the wall clock, unless ``cpu`` is
    False: a long-lived worker's CPU time adds up over many messages) the CPU time; no
    core files (a hostile file must not fill the disk with 1 GiB dumps)."""
    _set_limit(resource.RLIMIT_CORE, 0, 0)
    _set_limit(resource.RLIMIT_AS, limits.memory_bytes, limits.memory_bytes)
    if cpu:
        seconds = math.ceil(limits.seconds) + _CPU_MARGIN
        _set_limit(resource.RLIMIT_CPU, seconds, seconds + 1)  # soft: SIGXCPU; hard: SIGKILL


def _set_limit(which: int, soft: int, hard: int) -> None:
    """Lower a resource limit (never above the limit the daemon itself runs under)."""
    _, current = resource.getrlimit(which)
    if current != resource.RLIM_INFINITY:
        hard = min(hard, current)
        soft = min(soft, hard)
    resource.setrlimit(which, (soft, hard))


def _describe(err: BaseException) -> str:
    """``Type: message``, safe even when the exception's ``str`` fails."""
    try:
        text = str(err)
    except Exception:  # noqa: BLE001 - a hostile __str__
        text = "<unprintable>"
    return _clip(f"{type(err).__qualname__}: {text}" if text else type(err).__qualname__)


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT // 2] + " ... " + text[
        -_MAX_TEXT // 2:]


def read_in_child(raw: bytes, received_at: datetime | None, limits: ReadSettings, *,
                  passwords: tuple[str, ...] = (), now: datetime | None = None
                  ) -> tuple[Mail, SandboxError | None]:
    """Read a message in a child with the office's limits (``limits.*``): a hostile
    message costs its own reading only. When the child fails, the message is read from
    its headers alone, with one placeholder part saying why (too-large for memory,
    unreadable otherwise), and the error is returned beside it."""
    job = partial(read_message, raw, received_at, now=now, passwords=passwords,
                  limits=ReadLimits.of(limits))
    try:
        return run_limited(job, limits=Limits(limits.read_seconds,
                                              limits.read_memory_mb << 20)), None
    except SandboxError as err:
        status = DocumentStatus.TOO_LARGE if err.kind == "memory" else (
            DocumentStatus.UNREADABLE)
        mail = read_headers_only(raw, received_at, now=now, status=status,
                                 detail=str(err)[:200])
        return mail, err


def decide_in_child(mail: Mail, settings: Settings, *, can_wait: bool = True,
                    sources: tuple[str, ...] = (), now: datetime | None = None
                    ) -> tuple[Decision, SandboxError | None]:
    """Classify, check and decide a message in a child with the office's limits (the
    work on a stranger's text never runs in the daemon itself); only the small decision
    comes back. Without the history: see :func:`daemon.decide.finalize`. When the child
    fails, the message goes to review (too-large) and the error is returned beside it."""
    job = partial(decide, mail, settings, can_wait=can_wait, sources=sources, now=now)
    limits = settings.limits
    try:
        return run_limited(job, limits=Limits(limits.read_seconds,
                                              limits.read_memory_mb << 20)), None
    except SandboxError as err:
        outcome = Outcome(Verdict.REVIEW, Kind.OTHER, None, (Code.TOO_LARGE,),
                          tuple(settings.routing.review), Fields())
        return Decision(Verdict.REVIEW, (outcome,), Code.TOO_LARGE,
                        sources or (mail.message_id,)), err


def inherit_readers() -> None:
    """Import the document libraries (PDF, Office, zip) in this process now.

    They are imported lazily, where a document needs them, so that a command starts
    without them; a forked child that reads a document then imports its own copy (a
    tenth of a second or more per message). A long-running daemon calls this once
    before its loop: every child it forks afterwards inherits them ready.
    """
    import docx  # noqa: F401, PLC0415
    import msoffcrypto  # noqa: F401, PLC0415
    import openpyxl  # noqa: F401, PLC0415
    import pypdf  # noqa: F401, PLC0415
    import pypdfium2  # noqa: F401, PLC0415
    import pyzipper  # noqa: F401, PLC0415


def _read_and_decide(raw: bytes, received_at: datetime | None, settings: Settings,
                     now: datetime) -> tuple[Mail, Decision]:
    """In the child: read a new message and decide it (without the history)."""
    mail = read_message(raw, received_at, now=now, limits=ReadLimits.of(settings.limits))
    return mail, decide(mail, settings, now=now)


class Reading:
    """A new message being read and decided in a child (started at once, so that
    several children work while the daemon acts on the message before)."""

    def __init__(self, raw: bytes, received_at: datetime | None, settings: Settings,
                 now: datetime, pool: Pool | None = None) -> None:
        self.raw, self.received_at, self.settings, self.now = raw, received_at, settings, now
        self._pool = pool
        self._worker: Worker | None = None
        self._job: Job[tuple[Mail, Decision]] | None = None
        self._done: tuple[Mail, Decision] | SandboxError | None = None
        # The decision's mails as of ``now``, made by the reader process (None: not made).
        self.prepared: tuple[Outgoing, ...] | None = None
        if pool is not None:  # a reader process of the pool (see daemon.workers)
            self._worker = pool.take()
            self._worker.submit(raw, received_at, now)
        else:
            limits = settings.limits
            self._job = start_limited(
                _read_and_decide, raw, received_at, settings, now,
                limits=Limits(limits.read_seconds, limits.read_memory_mb << 20))

    def collect(self) -> None:
        """Wait for the child's answer and let its reader process go (to the next
        message) now; :meth:`result` then gives what it answered."""
        if self._done is not None:
            return
        try:
            if self._worker is not None and self._pool is not None:
                try:
                    mail, decision, self.prepared = self._worker.collect()
                    self._done = mail, decision
                finally:
                    self._pool.give_back(self._worker)
                    self._worker = None
            else:
                assert self._job is not None
                self._done = self._job.result()
        except SandboxError as err:
            # Kept without its traceback: its frames would hold this reading, and so the
            # worker's pipes, until the collector ran.
            err.__context__ = None
            self._done = err.with_traceback(None)

    @property
    def working(self) -> bool:
        """Its child has not answered yet (or has not been asked for the answer)."""
        return self._done is None

    def cancel(self) -> None:
        """Not wanted after all: the child is stopped and reaped."""
        if self._worker is not None:
            self._worker.stop()
        if self._job is not None:
            self._job.cancel()

    def result(self) -> tuple[Mail, Decision, SandboxError | None]:
        """The message read and decided (without the history), as :func:`read_in_child`
        and :func:`decide_in_child` would give them; when the child fails, the two are
        done again one after the other, so that what failed is handled as they handle
        it (a message that cannot be read is decided from its headers)."""
        self.collect()
        if isinstance(self._done, SandboxError):
            mail, read_error = read_in_child(self.raw, self.received_at, self.settings.limits,
                                             now=self.now)
            decision, decide_error = decide_in_child(mail, self.settings, now=self.now)
            return mail, decision, read_error or decide_error
        assert self._done is not None
        mail, decision = self._done
        return mail, decision, None


def warm_up(settings: Settings) -> None:
    """Read and decide the sample messages shipped with the daemon (``daemon/warmup/``: a
    key notice and a confirmation form, as PDFs) once in this process, before the loop
    forks its children: the document libraries, the patterns compiled on first use and
    the PDF font maps are then ready in every child, instead of being made again in each
    (tens of milliseconds per message). A sample that fails to read costs nothing.

    Then every object the daemon holds is frozen (``gc.freeze``): the collector leaves
    them alone for good. A forked child shares the daemon's memory page by page until
    either writes to a page, and a collection writes to every object it looks at: the
    daemon's own collections would copy the pages its children share, and each child
    freezes what it inherited for the same reason."""
    inherit_readers()
    samples = resources.files("daemon").joinpath("warmup").iterdir()
    for sample in sorted(samples, key=lambda s: s.name):
        if not sample.name.endswith(".eml"):
            continue
        with contextlib.suppress(Exception):
            decide(read_message(sample.read_bytes()), settings)
    gc.collect()  # the warm-up's garbage first: frozen, it would never be freed
    gc.freeze()
