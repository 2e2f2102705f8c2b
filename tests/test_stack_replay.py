"""``replay MESSAGE-ID`` on the real mail stack: a legacy PDF policy routed under one
cut-off, replayed after the office moved the cut-off back. Shown, nothing changes; with
--apply, the correction goes out once naming the staff mail it replaces, the staff who got
that mail are told once (the 再判定 notice, threaded under it), and the message moves; a
second --apply has nothing to do.
"""

from __future__ import annotations

import email
import email.policy
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import stack
from conftest import Office, assert_no_secrets
from samples import mails

pytestmark = pytest.mark.stack

JST = timezone(timedelta(hours=9))
IN_TIME = datetime(2026, 3, 10, 10, 0, tzinfo=JST)  # before the cut-off of 2026-03-31
CONTRACTOR = "t-yamada@yamada-kensetsu.example.co.jp"


def _message_id(raw: bytes) -> str:
    return str(email.message_from_bytes(raw, policy=email.policy.default)["Message-ID"])


def forward_subject(raw: bytes) -> str:
    """The submission's own subject, as the notice shows it (on one line)."""
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    return " ".join(str(parsed["Subject"]).split())


def _dump(path: Path) -> list[str]:
    """Every row of the state file."""
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def _outside() -> list[str]:
    """What went anywhere: the staff inboxes' and the capture server's Message-IDs."""
    users = (stack.CONTRACT_STAFF, stack.ADVANCE_STAFF, stack.REVIEW)
    got = [m.header("Message-ID") for user in users for m in stack.mailbox(user)]
    return sorted(got + [m.header("Message-ID") for m in stack.captured()])


def _row(stdout: str, name: str) -> list[str]:
    return next(line.split() for line in stdout.splitlines()
                if line.strip().startswith(name + " "))


def test_replay_shows_the_change_then_applies_it_once(office: Office) -> None:
    """Shown: old routed beside new correction, nothing sent, moved or written. Applied:
    the correction once, X-Surety-Replaces naming the staff mail, the message moved to
    the correction folder; again: no change."""
    raw = mails.legacy_pdf_mail(date=IN_TIME)
    original = _message_id(raw)
    stack.append(raw, arrived=IN_TIME)
    run = office.run("run", "--once")
    assert run.returncode == 0, run.stderr
    [forward] = stack.mailbox(stack.CONTRACT_STAFF)
    assert forward.header("X-Surety-Source") == original

    # The office moved its cut-off back: the policy arrived after it now.
    office.config_path.write_text(
        stack.office_config(office.state_path, legacy_pdf_until="2026-03-01"),
        encoding="utf-8")
    before = (stack.folders(stack.INTAKE), _outside(), _dump(office.state_path))
    shown = office.run("replay", original.strip("<>"))
    assert shown.returncode == 0, shown.stderr
    assert_no_secrets(shown.stdout + shown.stderr)
    assert _row(shown.stdout, "verdict") == ["verdict", "routed", "correction", "*"]
    assert _row(shown.stdout, "problems") == ["problems", "-", "legacy-deadline-passed", "*"]
    assert _row(shown.stdout, "route_to") == ["route_to", stack.CONTRACT_STAFF, CONTRACTOR, "*"]
    assert "found in Surety/Routed" in shown.stdout
    assert "changed: verdict, problems, route_to" in shown.stdout
    assert '"event": "replay.shown"' in shown.stderr
    assert stack.wait_for_delivery()
    assert (stack.folders(stack.INTAKE), _outside(), _dump(office.state_path)) == before

    applied = office.run("replay", original, "--apply")
    assert applied.returncode == 0, applied.stderr
    assert_no_secrets(applied.stdout + applied.stderr)
    assert '"event": "replay.applied"' in applied.stderr
    assert stack.wait_for_delivery()
    [correction] = stack.captured()
    assert CONTRACTOR in correction.envelope_to
    assert correction.header("X-Surety-Replaces") == forward.header("Message-ID")
    assert correction.header("X-Surety-Verdict") == "correction"
    assert correction.problems == ["legacy-deadline-passed"]
    assert correction.header("Message-ID") not in (forward.header("Message-ID"), original)
    # The contract staff who got the forward are told, once, threaded under it.
    first, notice = stack.mailbox(stack.CONTRACT_STAFF)
    forward_id = forward.header("Message-ID")
    assert first.header("Message-ID") == forward_id
    assert notice.header("Subject") == f"【電子保証 再判定】{forward_subject(raw)}"
    assert notice.header("In-Reply-To") == forward_id
    assert notice.header("References") == forward_id
    assert notice.header("X-Surety-Replaces") == forward_id
    assert notice.header("Message-ID") not in (forward_id, correction.header("Message-ID"))
    text = notice.message.get_body(("plain",))
    assert text is not None
    body = str(text.get_content())
    assert "判定が「回付」から「修正依頼」に変わりました。" in body
    assert (f"先にお送りしたメール（Message-ID: {forward_id}）は無効です。"
            "この提出について手続きを進めないでください。") in body
    assert_no_secrets(body)
    assert f"staff told of the change: {stack.CONTRACT_STAFF}" in applied.stdout
    folders = stack.folders(stack.INTAKE)
    assert folders.get("Surety/Routed", 0) == 0
    assert folders["Surety/Correction"] == 1
    [moved] = stack.mailbox(stack.INTAKE, "Surety/Correction")
    assert moved.header("Message-ID") == original

    again = office.run("replay", original, "--apply")
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip().endswith("no change")
    assert stack.wait_for_delivery()
    assert len(stack.captured()) == 1
    assert len(stack.mailbox(stack.CONTRACT_STAFF)) == 2  # no second notice
    assert stack.folders(stack.INTAKE)["Surety/Correction"] == 1

    # The copies of what the daemon sent are filed as sent by the next run, as ever.
    run = office.run("run", "--once")
    assert run.returncode == 0, run.stderr
    assert stack.unfiled() == []
    assert len(stack.captured()) == 1


def test_replay_refuses_plainly_with_its_exit_codes(office: Office) -> None:
    """No such message (3); IMAP down (1); the original moved off the server (4)."""
    raw = mails.legacy_pdf_mail(date=IN_TIME)
    original = _message_id(raw)
    stack.append(raw, arrived=IN_TIME)
    assert office.run("run", "--once").returncode == 0

    unknown = office.run("replay", "nobody@example.jp")
    assert unknown.returncode == 3
    assert "no message <nobody@example.jp> in the state file" in unknown.stderr

    text = office.config_path.read_text(encoding="utf-8")
    office.config_path.write_text(text.replace("port = 143", "port = 1"), encoding="utf-8")
    down = office.run("replay", original)
    assert down.returncode == 1
    assert "IMAP" in down.stderr
    office.config_path.write_text(text, encoding="utf-8")

    client = stack.imap_login(stack.INTAKE)
    try:  # a person moved it somewhere the daemon does not look
        client.create("Archive")
        client.select('"Surety/Routed"')
        _, data = client.uid("SEARCH", "ALL")
        client.uid("MOVE", data[0].decode(), "Archive")
    finally:
        client.logout()
    gone = office.run("replay", original, "--apply")
    assert gone.returncode == 4
    assert "no longer on the server" in gone.stderr
    assert stack.captured() == []
