"""The pool of reader processes (daemon.workers): a worker that hangs, crashes or fails
is replaced, and the message it had is still read (the one-off way); none is left
behind."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from samples import mails
from structlog.testing import capture_logs

from daemon import workers
from daemon.config import Settings
from daemon.model import Verdict
from daemon.sandbox import Reading, SandboxError
from daemon.workers import Pool

NOW = mails.DEFAULT_DATE


def _quick(settings: Settings) -> Settings:
    """The office's settings with a one-second reading limit."""
    limits = settings.limits.model_copy(update={"read_seconds": 1.0})
    return settings.model_copy(update={"limits": limits})


def _unless(marker: bytes, then: Callable[[], Any]) -> Callable[..., Any]:
    """read_message, except for a message holding ``marker``: ``then`` instead."""
    real = workers.read_message

    def read(raw: bytes, *args: Any, **kwargs: Any) -> Any:
        if marker in raw:
            return then()
        return real(raw, *args, **kwargs)

    return read


@pytest.fixture(autouse=True)
def no_leftovers() -> Iterator[None]:
    yield
    assert multiprocessing.active_children() == []


def test_a_worker_reads_one_message_after_another(settings: Settings) -> None:
    pool = Pool(settings, 1)
    try:
        first = pool.take()
        for raw in (mails.dsure_key_mail(), mails.confirmation_mail()):
            first.submit(raw, None, NOW)
            mail, decision, _ = first.collect()
            assert decision.verdict is Verdict.ROUTED
            assert mail.raw == raw  # not sent back, but the mail has it
        pool.give_back(first)
        assert pool.take() is first  # the same process, kept for the next message
        pool.give_back(first)
    finally:
        pool.close()


def test_a_worker_that_hangs_is_killed_and_another_takes_its_place(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workers, "read_message", _unless(b"HANG", lambda: time.sleep(60)))
    pool = Pool(_quick(settings), 1)
    try:
        hung = pool.take()
        hung.submit(mails.dsure_key_mail(subject="HANG"), None, NOW)
        with pytest.raises(SandboxError, match="timeout"):
            hung.collect()
        assert not hung.usable
        pool.give_back(hung)
        fresh = pool.take()
        assert fresh is not hung
        fresh.submit(mails.dsure_key_mail(), None, NOW)
        assert fresh.collect()[1].verdict is Verdict.ROUTED
        pool.give_back(fresh)
    finally:
        pool.close()


def test_a_message_whose_worker_failed_is_read_again_the_one_off_way(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker's failure is not the message's answer: it is read again in a child of
    its own, which reads it (here: the failure was the worker's alone)."""
    def boom() -> None:
        raise RuntimeError("a reader library failed")

    monkeypatch.setattr(workers, "read_message", _unless(b"BOOM", boom))
    pool = Pool(settings, 1)
    try:
        reading = Reading(mails.dsure_key_mail(subject="BOOM"), None, settings, NOW, pool)
        mail, decision, error = reading.result()
        assert (decision.verdict, error) == (Verdict.ROUTED, None)
        assert "BOOM" in mail.subject
        again = Reading(mails.confirmation_mail(), None, settings, NOW, pool)
        assert again.result()[1].verdict is Verdict.ROUTED  # a fresh worker took it
    finally:
        pool.close()


def test_a_worker_is_replaced_after_its_share_of_messages(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workers, "RECYCLE_AFTER", 2)
    pool = Pool(settings, 1)
    try:
        seen = []
        with capture_logs() as logs:
            for _ in range(3):
                worker = pool.take()
                seen.append(worker)
                worker.submit(mails.dsure_key_mail(), None, datetime.now(NOW.tzinfo))
                worker.collect()
                pool.give_back(worker)
        assert seen[0] is seen[1] is not seen[2]
        assert [(e["reason"], e["messages"]) for e in logs
                if e["event"] == "reader.replaced"] == [("messages", 2)]
    finally:
        pool.close()


_HOARD: list[bytes] = []


def _hoard() -> Any:
    """A message whose reading leaves 96 MB behind in the worker (RECYCLE_GROWN_MB: 64)."""
    _HOARD.append(b"x" * (96 << 20))
    return workers.read_message(mails.dsure_key_mail(), None)


def test_a_worker_left_holding_too_much_memory_is_replaced(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker says how much it grew after each message; past RECYCLE_GROWN_MB the
    daemon replaces it, and says so."""
    monkeypatch.setattr(workers, "read_message", _unless(b"HOARD", _hoard))
    pool = Pool(settings, 1)
    try:
        worker = pool.take()
        worker.submit(mails.dsure_key_mail(), None, NOW)
        assert worker.collect()[1].verdict is Verdict.ROUTED
        assert worker.grown < workers.RECYCLE_GROWN_MB << 20
        pool.give_back(worker)
        assert pool.take() is worker  # a worker of the usual size is kept
        worker.submit(mails.dsure_key_mail(subject="HOARD"), None, NOW)
        assert worker.collect()[1].verdict is Verdict.ROUTED  # the message is read
        with capture_logs() as logs:
            pool.give_back(worker)
        fresh = pool.take()
        assert fresh is not worker
        [replaced] = [e for e in logs if e["event"] == "reader.replaced"]
        assert replaced["reason"] == "memory"
        assert replaced["grown_mb"] > replaced["limit_mb"] == workers.RECYCLE_GROWN_MB
        fresh.submit(mails.dsure_key_mail(), None, NOW)
        assert fresh.collect()[1].verdict is Verdict.ROUTED
        pool.give_back(fresh)
    finally:
        pool.close()


def test_a_reading_no_longer_wanted_ends_its_worker(settings: Settings,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workers, "read_message", _unless(b"HANG", lambda: time.sleep(60)))
    pool = Pool(settings, 1)
    try:
        Reading(mails.dsure_key_mail(subject="HANG"), None, settings, NOW, pool).cancel()
    finally:
        pool.close()


def test_a_message_read_again_now_takes_a_reader_from_the_one_reading_ahead(
        settings: Settings) -> None:
    """A held attachment tried with a password cannot wait for its turn: with every reader
    busy reading ahead, the oldest reading is collected (and kept for its turn), and its
    reader opens the attachment."""
    pool = Pool(settings, 1)
    try:
        ahead = Reading(mails.dsure_key_mail(), None, settings, NOW, pool)
        locked = mails.confirmation_mail(encrypt="zip-aes", archive_password="Pw0x2604#")

        def free() -> bool:
            if not ahead.working:
                return False
            ahead.collect()
            return True

        [opened] = pool.run(("read", None, ("wrong", "Pw0x2604#")), free, locked)
        assert [a.status.value for a in opened.attachments] == ["text"]
        assert not ahead.working
        assert ahead.result()[1].verdict is Verdict.ROUTED  # kept for its turn
        with pytest.raises(workers.PoolBusyError):  # every reader busy, none to collect
            busy = Reading(mails.dsure_key_mail(), None, settings, NOW, pool)
            try:
                pool.run(("read", None, ()), lambda: False, locked)
            finally:
                busy.cancel()
    finally:
        pool.close()


_KILLED_DAEMON = """
import os, signal, sys
sys.path[:0] = {paths!r}
import stack
from pathlib import Path
from daemon import config
from daemon.workers import Pool
settings = config.parse(stack.office_config(Path({state!r})))
pool = Pool(settings, 2)
print(" ".join(str(w._process.pid) for w in pool._idle), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_the_workers_of_a_killed_daemon_end_by_themselves(tmp_path: Path) -> None:
    """SIGKILL gives the daemon no chance to stop its workers: they see it gone and end,
    instead of waiting for ever for a message nobody will send."""
    root = Path(__file__).resolve().parents[1]
    script = _KILLED_DAEMON.format(paths=[str(root), str(root / "tests")],
                                   state=str(tmp_path / "state.sqlite3"))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, check=False)
    pids = [int(p) for p in done.stdout.split()]
    assert len(pids) == 2, done.stderr
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.2)
    assert not any(_alive(p) for p in pids)


def _alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _churn() -> Any:
    """A message whose reading takes 96 MB in small pieces and frees all but the last one
    (as a large PDF's objects are): the kept piece pins the top of the heap, so glibc
    keeps the freed pages below it unless told to give them back."""
    pieces = [bytes(4096) for _ in range(96 << 8)]
    _HOARD.append(bytes(4096))
    del pieces
    return workers.read_message(mails.dsure_key_mail(), None)


def test_memory_a_message_freed_is_given_back_beyond_a_small_margin(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """After a message that used 96 MB and freed it, the worker holds at most
    TRIM_ABOVE_MB more than it was forked with (the rest given back to the system), and is
    kept for the next message."""
    monkeypatch.setattr(workers, "read_message", _unless(b"CHURN", _churn))
    pool = Pool(settings, 1)
    try:
        worker = pool.take()
        worker.submit(mails.dsure_key_mail(subject="CHURN"), None, NOW)
        assert worker.collect()[1].verdict is Verdict.ROUTED
        assert worker.grown <= (workers.TRIM_ABOVE_MB + 2) << 20
        pool.give_back(worker)
        assert pool.take() is worker
        pool.give_back(worker)
    finally:
        pool.close()
