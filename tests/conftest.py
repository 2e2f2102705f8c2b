"""Fixtures shared by the tests: an office config, the real mail stack, the daemon run."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import stack
from samples import mails, parties

from daemon import config
from daemon.config import Settings


def known_secrets() -> list[str]:
    """Every secret the sample submissions carry, and the mail stack's password."""
    keys = [mails.default_auth_key(n) for n in ("2604012345", "2604012399")]
    views = [parties.viewing_password(n) for n in mails.POLICY_NUMBERS.values()]
    return [*keys, *views, "Rk7v2Lm9", "Kk2604#tot", "AbCd1234EfGh", stack.PASSWORD]


def assert_no_secrets(log: str) -> None:
    """No 認証キー, 閲覧用パスワード, document or server password appears in a log."""
    leaked = [s for s in known_secrets() if s in log]
    assert leaked == [], f"secrets in the log: {leaked}"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The test office's settings (no server needed)."""
    return config.parse(stack.office_config(tmp_path / "state.sqlite3"))


@dataclass
class DaemonRun:
    """What one run of the daemon printed."""

    returncode: int
    events: list[dict[str, Any]]
    stdout: str
    stderr: str

    def named(self, event: str) -> list[dict[str, Any]]:
        """The log events with this name."""
        return [e for e in self.events if e.get("event") == event]


@dataclass
class Office:
    """A configured office on the local mail stack."""

    config_path: Path
    state_path: Path

    def run(self, *args: str) -> DaemonRun:
        """Run ``surety-intake --config ... <args>`` as a process, as an operator would."""
        env = dict(os.environ, SURETY_TEST_IMAP_PASSWORD=stack.PASSWORD)
        proc = subprocess.run(
            [sys.executable, "-m", "daemon.cli", "--config", str(self.config_path), *args],
            capture_output=True, text=True, env=env, timeout=300, check=False,
        )
        events = []
        if args and args[0] == "run":  # the daemon logs one JSON object per line
            stack.wait_for_delivery()  # what it sent is in the mailboxes before they are read
            # One object per "\n" (a subject may hold U+2028, which splitlines() splits on).
            events = [json.loads(line) for line in proc.stdout.split("\n") if line]
            assert_no_secrets(proc.stdout + proc.stderr)
        return DaemonRun(proc.returncode, events, proc.stdout, proc.stderr)

    def start(self) -> subprocess.Popen[str]:
        """Start ``surety-intake --config ... run`` as a daemon process."""
        env = dict(os.environ, SURETY_TEST_IMAP_PASSWORD=stack.PASSWORD)
        return subprocess.Popen(
            [sys.executable, "-m", "daemon.cli", "--config", str(self.config_path), "run"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )

    def classify(self, path: Path) -> dict[str, Any]:
        """``surety-intake classify`` on a message file, parsed."""
        result = self.run("classify", str(path))
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)  # type: ignore[no-any-return]


@pytest.fixture
def office(tmp_path: Path, request: pytest.FixtureRequest) -> Office:
    """A fresh office on an emptied mail stack (every mailbox and the capture dir empty);
    indirect parametrisation gives extra [policy] lines."""
    if down := stack.not_running():
        pytest.fail(f"the mail stack is not running (nothing on port "
                    f"{', '.join(map(str, down))}): bash deploy/dev/mailstack.sh up")
    stack.mailstack("reset")
    policy = getattr(request, "param", "") or ""
    state = tmp_path / "state.sqlite3"
    path = tmp_path / "office.toml"
    path.write_text(stack.office_config(state, policy=policy), encoding="utf-8")
    return Office(path, state)


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections and never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
                held.append(conn)
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()
