"""Never lose, never double: 200 messages while the daemon is killed with SIGKILL at random
points, and Postfix and Dovecot are stopped and started under it.

Afterwards every message has exactly one outcome, every mail to staff and every reply
exists exactly once (counted in the staff mailboxes and at the capture server), and no
message was deleted.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest
import stack
from conftest import Office, assert_no_secrets
from samples import mails, pdfs

pytestmark = [pytest.mark.stack, pytest.mark.slow]

JST = timezone(timedelta(hours=9))
MESSAGES = 200
MIN_KILLS = 20


def _message(i: int) -> tuple[bytes, str]:
    """Message number i and where its outcome must show: a staff address or 'capture'."""
    sender = f"tanto{i:03d}@kensetsu{i % 7}.example.co.jp"
    message_id = f"<fault-{i:03d}@kensetsu{i % 7}.example.co.jp>"
    number = f"26{i:08d}"
    key = f"Key{i:03d}x9Qw"
    kind = i % 6
    if kind == 5 and i % 12 == 5:  # a few with a real key notice PDF
        notice = pdfs.key_notice_pdf(company="east", contract_number=number, auth_key=key,
                                     guarantee_type="contract", project_name=f"市道{i}号線改良工事",
                                     contractor="株式会社山田建設")
        raw = mails.build(from_=f"担当 {i} <{sender}>", to=stack.INTAKE,
                          subject=f"【電子保証】第{i}号", body="認証キー等のお知らせを添付します。",
                          message_id=message_id,
                          attachments=[("認証キー等のお知らせ.pdf", notice, "application/pdf")])
        return raw, stack.CONTRACT_STAFF
    bodies = {
        0: (f"契約保証の認証キーです。\n保証契約番号：{number}\n認証キー：{key}\n",
            stack.CONTRACT_STAFF),
        1: (f"前払金保証の認証キーです。\n保証契約番号：{number}\n認証キー：{key}\n",
            stack.ADVANCE_STAFF),
        # A typed 閲覧用URL over plain http: a correction at once (view-url-invalid).
        2: (f"保証証券等確認システムの閲覧用URLとパスワードです。\n"
            f"閲覧用URL：http://www.sonpo-hosyou-syouken.jp/view?k={number}\n"
            f"閲覧用パスワード：Pw{i:03d}x9Qw\n工事名：市道{i}号線改良工事\n"
            "受注者名：株式会社山田建設\n保険会社：損害保険ジャパン株式会社\n", "capture"),
        3: ("入札の日程について教えてください。", stack.REVIEW),
        4: ("不在にしております。", ""),
        5: (f"中間前払金保証です。\n保証契約番号：{number}\n認証キー：{key}\n",
            stack.ADVANCE_STAFF),
    }
    body, where = bodies[kind]
    headers = {"Auto-Submitted": "auto-replied"} if kind == 4 else None
    raw = mails.build(from_=f"担当 {i} <{sender}>", to=stack.INTAKE,
                      subject=f"【電子保証】第{i}号", body=body, message_id=message_id,
                      headers=headers, charset="utf-8" if i % 2 else "iso-2022-jp")
    return raw, where


def _fault_policy() -> str:
    return "[limits]\nmax_attempts = 5"


@pytest.mark.parametrize("office", [_fault_policy()], indirect=True)
def test_exactly_once_through_kills_and_restarts(office: Office) -> None:
    """SIGKILL at random points (20+ times) and mail servers restarted: exactly one effect."""
    text = office.config_path.read_text(encoding="utf-8")
    office.config_path.write_text(text.replace(
        "retry_first_seconds = 1\ncopy_wait_seconds = 3",
        # A copy whose delivery Postfix deferred comes on its retry (10 s here, or up
        # to 60 s after repeated deferrals): the daemon waits that long for it.
        "retry_first_seconds = 1\nretry_max_minutes = 0.05\ncopy_wait_seconds = 30"),
        encoding="utf-8")
    log_start = stack.postfix_log_offset()
    expected: dict[str, str] = {}
    waves = [list(range(start, min(start + 8, MESSAGES))) for start in range(0, MESSAGES, 8)]

    def arrive() -> None:  # mail keeps arriving while the daemon is killed and restarted
        for i in waves.pop(0) if waves else []:
            raw, where = _message(i)
            stack.append(raw, arrived=datetime.now(JST))
            expected[f"<fault-{i:03d}@kensetsu{i % 7}.example.co.jp>"] = where

    rng = random.Random(20261122)
    env = dict(os.environ, SURETY_TEST_IMAP_PASSWORD=stack.PASSWORD)
    daemon = [sys.executable, "-m", "daemon.cli", "--config", str(office.config_path), "run"]
    command = [*daemon, "--once"]
    kills = 0
    logs: list[str] = []
    outages = {5: "postfix", 11: "dovecot", 17: "postfix"}
    # The daemon as a service, killed with SIGKILL at a random point of its work each time,
    # restarted at once (as systemd would), with the mail servers taken away under it.
    while kills < MIN_KILLS + 5 or waves:
        arrive()
        proc = subprocess.Popen(daemon, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        lines: list[str] = []
        reader = threading.Thread(target=lambda p=proc, out=lines: out.extend(p.stdout or []),
                                  daemon=True)
        reader.start()
        try:
            _between_kills(proc, lines, kills, outages, rng, arrive)
        finally:  # a failing test leaves no daemon behind
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=60)
        kills += 1
        reader.join(timeout=60)
        logs.append("".join(lines))
    assert kills >= MIN_KILLS
    assert len(expected) == MESSAGES
    chaos = "\n".join(logs)
    assert '"imap.unavailable"' in chaos  # Dovecot went away under a running daemon
    assert '"mail.send_deferred"' in chaos  # and Postfix did

    # Let it finish: runs until nothing is left (retries wait a few seconds at most).
    for _ in range(30):
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False,
                              timeout=300)
        logs.append(done.stdout + done.stderr)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr
        stack.wait_for_queue()
        if not stack.unfiled() and "send-" not in done.stdout:
            break
        time.sleep(3)
    assert stack.unfiled() == []

    (office.config_path.parent / "daemon.log").write_text("\n".join(logs), encoding="utf-8")
    # The daemon handed each of its mails to Postfix exactly once.
    postfix = stack.postfix_log(log_start)
    handed = stack.postfix_queued(postfix, stack.SENDER)
    assert handed, "no mail of the daemon's found in Postfix's log"
    assert {m: n for m, n in handed.items() if n != 1} == {}, "handed over more than once"
    # Exactly one effect per message: each mail in its mailbox once. The one exception is
    # not the daemon's: Postfix delivers a mail it took once again when it is stopped after
    # Dovecot saved it but before it took note (SMTP is at-least-once). Such copies come
    # from the same queue file, which their Received header names.
    sources, queue_files = _effects()
    quarantined = {s for (s, user), n in sources.items() if user == stack.REVIEW
                   and expected.get(s) != stack.REVIEW}
    doubled = {k: n for k, n in sources.items() if n != 1}
    assert {k: n for k, n in doubled.items() if len(queue_files[k]) != 1} == {}, (
        f"mails sent more than once: {doubled}")
    for key in doubled:  # counted once from here on
        sources[key] = 1
    for source, where in expected.items():
        if source in quarantined:
            continue  # set aside after repeated deaths: staff told once, checked above
        if where:
            assert sources[(source, where)] == 1, (source, where)
        assert sum(n for (s, _), n in sources.items() if s == source) == (1 if where else 0)
    assert len(quarantined) <= 10, quarantined  # deaths while at work count (see README)

    # Nothing deleted: every message is in the contract mailbox, each once.
    filed = [m.header("Message-ID") for folder in stack.filed_counts()
             for m in stack.mailbox(stack.INTAKE, folder)
             if not m.header("X-Surety-Source")]  # not the daemon's own copies
    assert Counter(filed) == Counter(expected.keys())
    log = "\n".join(logs)
    assert_no_secrets(log)
    leaked = [i for i in range(MESSAGES)
              if f"Key{i:03d}x9Qw" in log or f"Pw{i:03d}x9Qw" in log]
    assert leaked == []
    print(f"\n{kills} kills, {len(quarantined)} quarantined, {len(doubled)} delivered again by"
          " Postfix")




def _effects() -> tuple[Counter[tuple[str, str]], dict[tuple[str, str], set[str]]]:
    """How many mails each (source message, mailbox) got, in the staff mailboxes and at
    the capture server, and from which Postfix queue files (one per hand-over)."""
    sources: Counter[tuple[str, str]] = Counter()
    queue_files: dict[tuple[str, str], set[str]] = {}
    got = [(user, m) for user in (stack.CONTRACT_STAFF, stack.ADVANCE_STAFF, stack.REVIEW)
           for m in stack.mailbox(user)]
    got += [("capture", m) for m in stack.captured()]
    for where, mail in got:
        key = (mail.header("X-Surety-Source"), where)
        sources[key] += 1
        queue_files.setdefault(key, set()).add(mail.postfix_queue_id)
    return sources, queue_files


def _between_kills(proc: subprocess.Popen[str], lines: list[str], kills: int,
                   outages: dict[int, str], rng: random.Random,
                   arrive: Callable[[], None]) -> None:
    """Let the running daemon work for a random while; at the chosen kills, take a
    server away under it and bring it back."""
    if kills in outages:
        # The server goes away under the running daemon and comes back: it must
        # reconnect (IMAP) or retry from its outbox (SMTP) by itself.
        part = outages[kills]
        time.sleep(rng.uniform(0.5, 1.5))
        stack.stackctl.stop([part])
        try:
            if part == "postfix":
                arrive()  # new mail to act on while mail cannot be sent
            seen = '"mail.send_deferred"' if part == "postfix" else '"imap.unavailable"'
            deadline = time.monotonic() + 20
            while not any(seen in line for line in lines) and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:  # the tests after this one need the stack
            stack.stackctl.start([part])
        time.sleep(7)  # a poll and a retry after it came back
    else:
        time.sleep(rng.uniform(0.5, 3.0))
    assert proc.poll() is None, "".join(lines)[-2000:]
