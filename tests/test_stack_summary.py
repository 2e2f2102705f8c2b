"""The daily summary (日次集計) on the real mail stack: ``summary --send`` after a run puts
the day's counts in the summary mailbox; the running daemon sends it at ``summary.at``
Japan time, once, and a restart after that time does not send it again; a daemon started
after that time with the day's summary not sent sends it at once."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from datetime import datetime, timedelta

import pytest
import stack
from conftest import Office, assert_no_secrets
from samples import mails

from daemon.summary import JST, day_label, yesterday

pytestmark = pytest.mark.stack

SUMMARY_TO = stack.SENDER  # a mailbox of the stack that staff would read
CONTRACTOR = "t-yamada@yamada-kensetsu.example.co.jp"


def _with_summary(office: Office, at: str) -> None:
    text = office.config_path.read_text(encoding="utf-8")
    office.config_path.write_text(text + f'\n[summary]\nto = "{SUMMARY_TO}"\nat = "{at}"\n',
                                  encoding="utf-8")


def _summaries() -> list[stack.Received]:
    return [m for m in stack.mailbox(SUMMARY_TO) if m.header("X-Surety-Summary")]


def _events(proc: subprocess.Popen[str], out: list[dict[str, object]]) -> None:
    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            out.append(json.loads(line))

    threading.Thread(target=read, daemon=True).start()


def _wait_for(events: list[dict[str, object]], name: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(e.get("event") == name for e in events):
            return
        time.sleep(0.2)
    raise AssertionError(f"no {name} in {[e.get('event') for e in events]}")


def _stop(daemon: subprocess.Popen[str]) -> None:
    daemon.send_signal(signal.SIGTERM)
    daemon.wait(timeout=30)
    assert daemon.returncode == 0


def test_summary_send_after_a_run_reports_the_day(office: Office) -> None:
    """Four messages that arrived yesterday (Japan time): two routed, one correction, one
    out-of-office reply; ``summary --send`` (default: yesterday) mails their counts."""
    _with_summary(office, "08:30")
    now = datetime.now(JST)
    arrived = datetime.combine(yesterday(now), now.time().replace(hour=12), tzinfo=JST)
    stack.append(mails.dsure_key_mail(), arrived=arrived)
    stack.append(mails.confirmation_mail(), arrived=arrived)
    stack.append(mails.dsure_key_mail(in_body=True, omit=("auth_key",), charset="utf-8",
                                      contract_number="2604077777"), arrived=arrived)
    out_of_office = mails.build(  # an auto-reply: ignored
        from_=CONTRACTOR, to=stack.INTAKE, subject="不在のお知らせ",
        body="不在にしております。", headers={"Auto-Submitted": "auto-replied"})
    stack.append(out_of_office, arrived=arrived)
    run = office.run("run", "--once")
    assert run.returncode == 0, run.stderr

    sent = office.run("summary", "--send")
    assert sent.returncode == 0, sent.stderr
    stack.wait_for_queue()
    [mail] = _summaries()
    day = day_label(yesterday(now))
    assert mail.header("Subject") == f"【電子保証 日次集計】{day}"
    assert mail.header("From").endswith(f"<{stack.SENDER}>")
    assert mail.header("Auto-Submitted") == "auto-generated"
    text = mail.text()
    for line in ("受信したメール: 4件", "D-Sure 認証キー等のお知らせ: 2件",
                 "保証証券等確認システム: 1件", "その他（提出ではない・判別できない）: 1件",
                 "契約保証: 3件", "担当課へ回付: 2件", "修正依頼を返信: 1件",
                 "対応不要（自動応答など）: 1件", "要確認（職員による確認）: 0件",
                 "現在保留中のメール: 0件", "送信できなかったメール: 0件"):
        assert line in text, line
    assert sent.stdout.startswith(f"件名: 【電子保証 日次集計】{day}\n")
    assert '"event": "summary.sent"' in sent.stdout
    assert_no_secrets(sent.stdout + text)
    # No other mailbox got it, and the daemon files nothing of it.
    assert all(not m.header("X-Surety-Summary") for m in stack.mailbox(stack.REVIEW))


def test_the_daemon_sends_the_summary_at_its_time_once_also_after_a_restart(
        office: Office) -> None:
    """``at`` set to the next minute: the running daemon sends yesterday's summary then;
    started again after that time, it sends nothing more."""
    now = datetime.now(JST)
    at = (now + timedelta(minutes=1)).replace(second=0, microsecond=0)
    if at.date() != now.date() or now.second > 55:
        pytest.skip("too close to midnight or to the minute's end in Japan time")
    _with_summary(office, at.strftime("%H:%M"))
    daemon = office.start()
    events: list[dict[str, object]] = []
    _events(daemon, events)
    try:
        _wait_for(events, "poll.done", timeout=60)
        assert _summaries() == []  # not before its time
        _wait_for(events, "summary.sent", timeout=150)
        assert datetime.now(JST) >= at
        stack.wait_for_queue()
    finally:
        _stop(daemon)
    [mail] = _summaries()
    assert mail.header("Subject") == f"【電子保証 日次集計】{day_label(yesterday(now))}"

    again = office.start()  # after its time, today's summary sent: nothing more
    later: list[dict[str, object]] = []
    _events(again, later)
    try:
        _wait_for(later, "poll.done", timeout=60)
        time.sleep(3)
    finally:
        _stop(again)
    stack.wait_for_queue()
    assert len(_summaries()) == 1
    assert [e for e in events + later if e.get("event") == "summary.sent"] == [
        next(e for e in events if e.get("event") == "summary.sent")]
    assert not [e for e in later if e.get("event") == "summary.failed"]
    assert_no_secrets(json.dumps(events + later, ensure_ascii=False))


def test_a_daemon_started_after_the_time_sends_the_missed_summary_at_once(
        office: Office) -> None:
    """``at`` = 00:00 and no summary sent yet today: it goes at the start."""
    _with_summary(office, "00:00")
    daemon = office.start()
    events: list[dict[str, object]] = []
    _events(daemon, events)
    try:
        _wait_for(events, "summary.sent", timeout=60)
        stack.wait_for_queue()
    finally:
        _stop(daemon)
    [sent] = [e for e in events if e.get("event") == "summary.sent"]
    assert sent["recipients"] == 1
    assert len(_summaries()) == 1


def test_in_trial_mode_the_summary_goes_to_the_trial_address(office: Office) -> None:
    """``mode = "trial"``: ``summary --send`` writes to trial.address only, the subject
    prefixed 【試行】, the address it was meant for in X-Surety-Trial-Recipients."""
    text = office.config_path.read_text(encoding="utf-8")
    office.config_path.write_text(
        'mode = "trial"\n' + text + f'\n[trial]\naddress = "{stack.REVIEW}"\n'
        f'\n[summary]\nto = "{SUMMARY_TO}"\n', encoding="utf-8")
    sent = office.run("summary", "--send", "--date", "2026-12-01")
    assert sent.returncode == 0, sent.stderr
    stack.wait_for_queue()
    assert _summaries() == []
    [mail] = [m for m in stack.mailbox(stack.REVIEW) if m.header("X-Surety-Summary")]
    assert mail.header("Subject") == "【試行】【電子保証 日次集計】2026年12月1日"
    assert mail.header("X-Surety-Trial-Recipients") == SUMMARY_TO
    assert mail.header("To") == stack.REVIEW
    assert not office.state_path.exists()  # the trial's own state file, not the live one
