"""The running daemon learns of a new message from the server (IMAP IDLE), not from its
fallback poll: with ``imap.poll_seconds`` at an hour, a submission delivered after the
first poll is still routed, and SIGTERM still stops the daemon while it waits."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time

import pytest
import stack
from conftest import Office, assert_no_secrets
from samples import mails

pytestmark = pytest.mark.stack

HOUR = 3600


def _events(proc: subprocess.Popen[str], out: list[dict[str, object]]) -> threading.Thread:
    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            out.append(json.loads(line))

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def _wait_for(events: list[dict[str, object]], name: str, count: int = 1,
              timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sum(e.get("event") == name for e in events) >= count:
            return
        time.sleep(0.1)
    raise AssertionError(f"no {name} (x{count}) in {[e.get('event') for e in events]}")


def test_a_message_arriving_while_the_daemon_waits_is_taken_at_once(office: Office) -> None:
    text = office.config_path.read_text(encoding="utf-8")
    office.config_path.write_text(text.replace("poll_seconds = 5", f"poll_seconds = {HOUR}"),
                                  encoding="utf-8")
    daemon = office.start()
    events: list[dict[str, object]] = []
    _events(daemon, events)
    try:
        _wait_for(events, "poll.done")  # the first poll, on an empty mailbox
        stack.deliver(mails.dsure_key_mail())
        _wait_for(events, "message.routed")  # long before the hour is over
        stack.wait_for_queue()
        [forward] = stack.mailbox(stack.CONTRACT_STAFF)
        assert forward.header("X-Surety-Verdict") == "routed"
        _wait_for(events, "message.filed", count=2)  # its own copy, filed as sent too
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=15)
    assert daemon.returncode == 0
    assert [e["event"] for e in events][-1] == "daemon.stopped"
    assert stack.unfiled() == []
    assert_no_secrets(json.dumps(events, ensure_ascii=False))
