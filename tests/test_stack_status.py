"""``status`` and the metrics against the real Postfix and Dovecot: after a real
``run --once`` over a routed, a held and a review message, ``status --json`` matches the
contract mailbox (what waits in the intake folder, the held message with its deadline,
the counts by kind and verdict) and the text names them; the metrics textfile has the
expected lines; ``/metrics`` answers while ``run`` runs, and SIGTERM stops it."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import stack
from conftest import Office, assert_no_secrets
from samples import mails

pytestmark = pytest.mark.stack

JST = ZoneInfo("Asia/Tokyo")
ARRIVED = datetime.now(JST).replace(microsecond=0) - timedelta(minutes=30)


def _metrics(office: Office, tmp_path: Path, *, port: int = 0) -> Path:
    textfile = tmp_path / "surety.prom"
    with office.config_path.open("a", encoding="utf-8") as config:
        config.write(f'\n[metrics]\ntextfile = "{textfile}"\nport = {port}\n')
    return textfile


def _three_messages() -> tuple[bytes, bytes, bytes]:
    """One routed, one held (a zip whose password has not come), one for review."""
    routed = mails.dsure_key_mail()
    held = mails.confirmation_mail(encrypt="zip-aes")
    review = mails.unrelated()
    for raw in (routed, held, review):
        stack.append(raw, arrived=ARRIVED)
    return routed, held, review


def _message_id(raw: bytes) -> str:
    import email  # noqa: PLC0415
    import email.policy  # noqa: PLC0415

    return str(email.message_from_bytes(raw, policy=email.policy.default)["Message-ID"])


def test_status_matches_the_mailbox_after_a_run(office: Office, tmp_path: Path) -> None:
    """Waiting count, the held message and its deadline, counts by kind and verdict."""
    textfile = _metrics(office, tmp_path)
    _, held, _ = _three_messages()
    run = office.run("run", "--once")
    assert run.returncode == 0, run.stderr

    shown = office.run("status", "--json")
    assert shown.returncode == 0, shown.stderr
    status = json.loads(shown.stdout)
    waiting = stack.folders(stack.INTAKE)["INBOX"]  # the copies of the two mails sent
    assert waiting == 2
    assert status["intake"] == {"folder": "INBOX", "messages": waiting, "unseen": waiting,
                                "error": None}
    assert stack.folders(stack.INTAKE)["Surety/Held"] == 1
    [one] = status["held"]
    assert one["message_id"] == _message_id(held)
    assert datetime.fromisoformat(one["held_until"]) == ARRIVED + timedelta(hours=24)
    assert one["held_until"].endswith("+09:00")
    counts = {"dsure-key": {"routed": 1}, "other": {"review": 1},
              "unknown": {"held": 1}}  # a held message is classified once decided
    assert status["today"]["by_kind"] == counts and status["today"]["total"] == 3
    assert status["last_poll"]["outcome"] == "ok"
    assert status["last_poll"]["counts"] == {"routed": 1, "review": 1, "held": 1}
    assert status["last_good_poll"] == status["last_poll"]
    assert {k: v["count"] for k, v in status["outbox"].items()} == {
        "pending": 0, "retrying": 0, "awaiting_copy": 0, "failed": 0}
    assert status["quarantine"] == {"count": 0, "messages": []}

    text = office.run("status")
    assert text.returncode == 0, text.stderr
    assert f"Intake folder INBOX: {waiting} messages waiting ({waiting} unseen)" in text.stdout
    until = (ARRIVED + timedelta(hours=24)).strftime("%Y-%m-%d %H:%M JST")
    assert f"  {_message_id(held)} from " in text.stdout
    assert f"held until {until}" in text.stdout
    assert "  dsure-key: routed 1" in text.stdout
    assert "  other: review 1" in text.stdout
    assert "Last poll: " in text.stdout and ", ok: held 1, review 1, routed 1" in text.stdout
    assert_no_secrets(shown.stdout + text.stdout)

    lines = set(textfile.read_text(encoding="utf-8").splitlines())
    assert {'surety_messages_total{kind="dsure-key",verdict="routed"} 1',
            'surety_messages_total{kind="other",verdict="review"} 1',
            'surety_messages_total{kind="unknown",verdict="held"} 1',
            "surety_held 1", "surety_quarantined 0", 'surety_outbox{state="pending"} 0',
            'surety_polls_total{outcome="ok"} 1',
            'surety_polls_total{outcome="failed"} 0'} <= lines
    assert any(line.startswith("surety_seconds_since_last_good_poll ") for line in lines)


def test_status_says_when_the_server_is_down(office: Office, tmp_path: Path) -> None:
    """The IMAP port wrong: exit 3, the state file's account printed all the same."""
    _three_messages()
    assert office.run("run", "--once").returncode == 0
    text = office.config_path.read_text(encoding="utf-8")
    office.config_path.write_text(text.replace("port = 143", "port = 1"), encoding="utf-8")
    shown = office.run("status")
    assert shown.returncode == 3, shown.stderr
    assert "Intake folder INBOX: the IMAP server could not be asked" in shown.stdout
    assert "Held: 1" in shown.stdout
    failed = office.run("run", "--once")  # the server down: a failed poll, recorded
    assert failed.returncode == 1
    status = json.loads(office.run("status", "--json").stdout)
    assert status["last_poll"]["outcome"] == "failed"
    assert "localhost:1" in status["last_poll"]["error"]
    assert status["last_good_poll"]["outcome"] == "ok"
    assert status["polls"] == {"ok": 1, "failed": 1}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _scrape(port: int, want: str, timeout: float = 60.0, *,
            after_first_poll: bool = False) -> str:
    """The first answer of /metrics holding ``want`` (with ``after_first_poll``: a line
    beginning with it whose count is not 0)."""
    deadline = time.monotonic() + timeout
    body = ""
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics",
                                        timeout=5) as answer:
                body = answer.read().decode()
            if not after_first_poll and want in body:
                return body
            if after_first_poll and any(line.startswith(want) and not line.endswith(" 0")
                                        for line in body.splitlines()):
                return body
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"no {want!r} from /metrics; last answer: {body[:500]!r}")


def test_the_metrics_endpoint_answers_while_the_daemon_runs(
        office: Office, tmp_path: Path) -> None:
    """Scraped while ``run`` runs; SIGTERM ends the daemon and the endpoint with it."""
    port = _free_port()
    _metrics(office, tmp_path, port=port)
    _three_messages()
    daemon = office.start()
    try:
        # Scraped once the first poll is recorded (the counts of a poll under way are
        # partial: a message routed, the one to hold not reached yet).
        body = _scrape(port, 'surety_polls_total{outcome="ok"} ', after_first_poll=True)
        assert 'surety_messages_total{kind="dsure-key",verdict="routed"} 1' in body
        assert "surety_held 1" in body
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            out, err = daemon.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            daemon.kill()
            raise
    assert daemon.returncode == 0, err
    events = [json.loads(line)["event"] for line in out.split("\n") if line]
    assert "metrics.listening" in events and "daemon.stopped" in events
    assert_no_secrets(out + err)
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5)
