"""Running under systemd: the unit passes ``systemd-analyze verify``; the daemon says it is
ready, what its last poll did, that it is alive while its loop moves (and only then), and
that it is stopping; a password may come as a systemd credential.

The notifications are read from a datagram socket of the test's own, as systemd would
read them from ``NOTIFY_SOCKET``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import stack
from conftest import Office
from fakes import FakeMailbox, FakeOutbox
from samples import mails
from structlog.testing import capture_logs

import daemon
from daemon import config
from daemon.compose import copy_address
from daemon.config import ConfigError, Settings
from daemon.mailbox import MailboxError
from daemon.notify import Notifier
from daemon.schedule import run_forever, status
from daemon.service import Intake
from daemon.store import Store

ROOT = Path(daemon.__file__).resolve().parents[1]
UNIT = ROOT / "deploy" / "surety-intake.service"


class Listener:
    """A notification socket, as systemd's: every datagram, with when it came."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.got: list[tuple[float, str]] = []
        self.unread: list[str] = []  # came after what until() returned: read next

    def read(self, seconds: float) -> list[str]:
        """What came within ``seconds`` (kept in ``got`` too), after what is unread."""
        end, new = time.monotonic() + seconds, self.unread
        self.unread = []
        while time.monotonic() < end:
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            self.got.append((time.monotonic(), data.decode()))
            new.append(data.decode())
        return new

    def until(self, line: str, seconds: float) -> list[str]:
        """Everything up to the first notification with a line beginning with ``line``."""
        end, seen = time.monotonic() + seconds, []
        while time.monotonic() < end:
            batch = self.read(0.2)
            for at, message in enumerate(batch):
                seen.append(message)
                if any(one.startswith(line) for one in message.split("\n")):
                    self.unread = batch[at + 1:]  # the rest is for the next read
                    return seen
        raise AssertionError(f"no {line} within {seconds} s; got {seen}")


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[Listener]:
    one = Listener(tmp_path / "notify.sock")
    yield one
    one.sock.close()


def test_the_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    """The unit as shipped, with ExecStart pointing at this checkout's command (verify
    wants the program to exist)."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.fail("systemd-analyze is missing: install the systemd package "
                    "(deploy/dev/packages.txt lists it)")
    script = Path(sys.executable).with_name("surety-intake")
    text = UNIT.read_text(encoding="utf-8")
    assert "/opt/surety-intake/venv/bin/surety-intake" in text
    unit = tmp_path / "surety-intake.service"
    unit.write_text(text.replace("/opt/surety-intake/venv/bin/surety-intake", str(script)),
                    encoding="utf-8")
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True,
                            check=False, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ""  # no warning either
    lines = {line.strip() for line in text.splitlines()}
    assert {"Type=notify", "NotifyAccess=main", "WatchdogSec=10min"} <= lines


def test_nothing_is_said_outside_systemd() -> None:
    quiet = Notifier({})
    assert not quiet.watched
    quiet.send("READY=1")  # no socket: nothing, and no error
    quiet.alive()


def test_an_abstract_socket_and_a_watchdog_for_another_process(listener: Listener) -> None:
    """``@name`` is an abstract socket; a WATCHDOG_PID of another process is not ours."""
    name = f"surety-test-{os.getpid()}"
    abstract = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    abstract.bind("\0" + name)
    abstract.settimeout(2)
    try:
        notifier = Notifier({"NOTIFY_SOCKET": f"@{name}", "WATCHDOG_USEC": "1000000"})
        notifier.send("READY=1")
        assert abstract.recv(100) == b"READY=1"
        assert notifier.watched
    finally:
        abstract.close()
    other = Notifier({"NOTIFY_SOCKET": str(listener.path), "WATCHDOG_USEC": "1000000",
                      "WATCHDOG_PID": str(os.getpid() + 1)})
    assert not other.watched
    other.alive()
    assert listener.read(0.3) == []


def test_alive_is_said_at_most_every_half_period(listener: Listener) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": str(listener.path), "WATCHDOG_USEC": "400000"})
    for _ in range(50):
        notifier.alive()
    assert listener.read(0.3) == ["WATCHDOG=1"]
    time.sleep(0.25)
    notifier.alive()
    assert listener.read(0.3) == ["WATCHDOG=1"]


def test_the_watchdog_hears_nothing_while_the_loop_is_stuck(
        settings: Settings, listener: Listener) -> None:
    """While it waits and while it works through messages, the loop says it is alive;
    stuck on one message, it says nothing, so that systemd's watchdog restarts it."""
    store = Store(settings.state.path)
    box = FakeMailbox(settings.imap.folder, datetime.now(UTC))
    intake = Intake(settings, store, connect=lambda: box,
                    outbox=FakeOutbox(box, copy_address(settings)), workers=1)
    stuck, release = threading.Event(), threading.Event()
    new = intake.process.new

    def step(*args: object) -> str:
        stuck.set()
        release.wait(10)
        return new(*args)  # type: ignore[arg-type]

    intake.process.new = step  # type: ignore[method-assign]

    def wait_for_news(seconds: float, interrupt: Callable[[], bool]) -> bool:
        """As a server's IDLE: until a message waits, asking ``interrupt`` meanwhile."""
        end = time.monotonic() + seconds
        while time.monotonic() < end and not interrupt():
            if box.folders.get(settings.imap.folder):
                return True
            time.sleep(0.05)
        return False

    box.wait_for_news = wait_for_news  # type: ignore[method-assign]
    notifier = Notifier({"NOTIFY_SOCKET": str(listener.path), "WATCHDOG_USEC": "400000"})
    seen: dict[str, list[str]] = {}

    def watch() -> None:
        seen["start"] = listener.until("READY=1", 10)
        seen["waiting"] = listener.read(1.2)  # idle: alive every 0.2 s at most
        box.deliver(mails.dsure_key_mail())
        assert stuck.wait(10)
        listener.read(0.1)  # what was said before it got stuck
        seen["stuck"] = listener.read(1.5)
        release.set()
        seen["after"] = listener.read(1.5)
        intake.stopping.set()

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        run_forever(intake, notifier)
    finally:
        release.set()
        watcher.join()
        intake.close()
        store.close()
    assert seen["waiting"].count("WATCHDOG=1") >= 3
    assert seen["stuck"] == []  # nothing while stuck on the message
    assert "WATCHDOG=1" in seen["after"]
    assert any(m.startswith("STATUS=last poll ") and "routed 1" in m for m in seen["after"])


def test_a_server_that_went_away_is_tried_once_a_poll(settings: Settings) -> None:
    """The session lost while waiting, and the server refusing every connection after:
    one try at each fallback poll, not a try (and a log line) as fast as the loop turns."""
    fast = settings.model_copy(update={"imap": settings.imap.model_copy(
        update={"poll_seconds": 1})})
    store = Store(fast.state.path)
    box = FakeMailbox(fast.imap.folder, datetime.now(UTC))
    tries = Counter[str]()

    def lost(_seconds: float, _interrupt: Callable[[], bool]) -> bool:
        raise MailboxError("IMAP session lost while waiting: socket error: EOF")

    box.wait_for_news = lost  # type: ignore[method-assign]

    def connect() -> FakeMailbox:
        tries["connect"] += 1
        if tries["connect"] > 1:
            raise MailboxError("IMAP connection to localhost:143 failed: Connection refused")
        return box

    intake = Intake(fast, store, connect=connect,
                    outbox=FakeOutbox(box, copy_address(fast)), workers=1)
    threading.Timer(3.5, intake.stopping.set).start()
    try:
        with capture_logs() as logged:
            run_forever(intake, Notifier({}))
    finally:
        intake.close()
        store.close()
    unavailable = [e for e in logged if e["event"] == "imap.unavailable"]
    assert 2 <= tries["connect"] <= 5, tries  # at 0 s, then about once a second
    assert len(unavailable) == tries["connect"]


def test_a_password_may_come_as_a_systemd_credential(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """LoadCredential=NAME:... puts the password in $CREDENTIALS_DIRECTORY/NAME: read when
    the variable NAME is not set (its line end not part of it)."""
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "SURETY_TEST_IMAP_PASSWORD").write_text("s3cret-from-cred\n",
                                                           encoding="utf-8")
    monkeypatch.delenv("SURETY_TEST_IMAP_PASSWORD", raising=False)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    assert config.secret("SURETY_TEST_IMAP_PASSWORD", "imap.password_env") == "s3cret-from-cred"
    monkeypatch.setenv("SURETY_TEST_IMAP_PASSWORD", "from-env")  # the variable comes first
    assert config.secret("SURETY_TEST_IMAP_PASSWORD", "imap.password_env") == "from-env"
    monkeypatch.delenv("SURETY_TEST_IMAP_PASSWORD")
    (credentials / "SURETY_TEST_IMAP_PASSWORD").write_text("\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"^imap\.password_env: neither the environment "
                                          r"variable nor the credential"):
        config.secret("SURETY_TEST_IMAP_PASSWORD", "imap.password_env")


@pytest.mark.stack
def test_the_daemon_tells_systemd_it_is_ready_alive_and_stopping(
        office: Office, listener: Listener, tmp_path: Path) -> None:
    """The real daemon on the real stack, as systemd runs it (Type=notify, WatchdogSec)."""
    stack.deliver(mails.dsure_key_mail())
    stack.wait_for_queue()
    env = dict(os.environ, SURETY_TEST_IMAP_PASSWORD=stack.PASSWORD,
               NOTIFY_SOCKET=str(listener.path), WATCHDOG_USEC="2000000")
    log = tmp_path / "daemon.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "daemon.cli", "--config", str(office.config_path), "run"],
            stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        start = listener.until("READY=1", 60)
        polled = listener.until("STATUS=last poll", 60)
        idle = listener.read(3.5)
        proc.send_signal(signal.SIGTERM)
        stopping = listener.until("STOPPING=1", 20)
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        print(log.read_text(encoding="utf-8", errors="replace"))  # shown when it fails
    assert "STATUS=started" in start[-1].split("\n")
    assert any("routed 1" in m for m in polled)
    assert idle.count("WATCHDOG=1") >= 3  # at least every second while it waits
    assert stopping[-1] == "STOPPING=1"


def test_the_status_line_says_what_the_last_poll_did() -> None:
    when = datetime(2026, 12, 1, 1, 2, 3, tzinfo=UTC)
    line = status(Counter({"routed": 3, "held": 1, "failed": 0}), when)
    assert line.startswith("last poll 2026-12-01 ")
    assert line.endswith(": held 1, routed 3")
    assert status(Counter(), when).endswith(": nothing new")
    assert status(Counter({"routed": 1}), when, trial=True).startswith("trial mode, last poll ")
