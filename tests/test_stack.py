"""End to end through the real mail stack: Postfix and Dovecot on 127.0.0.1.

Submissions are delivered by SMTP into the contract mailbox (or appended with a chosen
arrival time), the daemon runs as a process (``run --once``), and the tests read what
staff find in their inboxes over IMAP and what contractors got from the capture server.
"""

from __future__ import annotations

import email
import email.policy
import json
import signal
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import stack
from conftest import Office, assert_no_secrets
from samples import mails, pdfs

pytestmark = pytest.mark.stack

JST = timezone(timedelta(hours=9))
IN_TIME = datetime(2026, 3, 10, 10, 0, tzinfo=JST)
LATE = datetime(2026, 4, 10, 10, 0, tzinfo=JST)
PAST = datetime.now(JST) - timedelta(hours=2)
CONTRACTOR = "t-yamada@yamada-kensetsu.example.co.jp"


def _message_id(raw: bytes) -> str:
    return str(email.message_from_bytes(raw, policy=email.policy.default)["Message-ID"])


def _broken_pdf_mail(data: bytes | None = None) -> bytes:
    return mails.build(
        from_=f"山田 太郎 <{CONTRACTOR}>", to=stack.INTAKE,
        subject="【電子保証】認証キー等のお知らせ",
        body="認証キー等のお知らせを添付します。よろしくお願いいたします。",
        attachments=[("認証キー等のお知らせ.pdf", data or pdfs.corrupt_pdf(), "application/pdf")],
    )


def _wrong_password_mail() -> bytes:
    policy = pdfs.policy_pdf(insurer="sompo", policy_number="SJ26-0499999",
                             project_name="令和8年度 市道中央線道路改良工事",
                             contractor="株式会社山田建設", orderer="東都市",
                             issued=IN_TIME.date(), password="Rk7v2Lm9")
    return mails.build(
        from_=f"山田 太郎 <{CONTRACTOR}>", to=stack.INTAKE,
        cc="denshi-hosho@sompo-japan.example.jp", date=IN_TIME,
        subject="【契約保証】履行保証保険証券の送付", body="履行保証保険証券を送付します。\n"
        "PDFのパスワード：Xx9999zz\n", attachments=[("履行保証保険証券.pdf", policy,
                                                    "application/pdf")],
    )


DELIVERED = {
    # name: (message, where it must end up, problem codes)
    "dsure contract": (mails.dsure_key_mail, stack.CONTRACT_STAFF, ()),
    "dsure advance + invoice (Outlook)": (
        lambda: mails.dsure_key_mail(guarantee_type="advance-payment", with_invoice=True,
                                     charset="outlook"),
        stack.ADVANCE_STAFF, ()),
    "confirmation form": (mails.confirmation_mail, stack.CONTRACT_STAFF, ()),
    "confirmation without password and 受注者名": (
        lambda: mails.confirmation_mail(omit=("view_password", "contractor")), "capture",
        ("view-password-missing", "contractor-name-missing")),
    "unrelated question": (mails.unrelated, stack.REVIEW, ("not-a-submission",)),
    "not MIME": (mails.not_mime, stack.REVIEW, ("not-mime", "not-a-submission")),
    "corrupt PDF": (_broken_pdf_mail, stack.REVIEW, ("attachment-unreadable",)),
    "a PNG named .pdf": (lambda: _broken_pdf_mail(pdfs.not_really_pdf("png")), stack.REVIEW,
                         ("attachment-unreadable",)),
    "out of office": (mails.auto_reply, None, ()),
    "bounce": (mails.bounce, None, ()),
}
APPENDED = {
    "legacy PDF in time": (lambda: mails.legacy_pdf_mail(date=IN_TIME), IN_TIME,
                           stack.CONTRACT_STAFF, ()),
    "legacy PDF without insurer CC": (lambda: mails.legacy_pdf_mail(cc=None, date=IN_TIME),
                                      IN_TIME, "capture", ("insurer-cc-missing",)),
    "legacy PDF after the cut-off": (lambda: mails.legacy_pdf_mail(date=LATE), LATE, "capture",
                                     ("legacy-deadline-passed",)),
    "legacy PDF with a wrong password": (_wrong_password_mail, IN_TIME, "capture",
                                         ("attachment-password-wrong",)),
    # Typed without its 認証キー, it waits policy.rest_wait_minutes for the key; it came
    # earlier than that, so it is decided at once.
    "dsure without key": (
        lambda: mails.dsure_key_mail(in_body=True, omit=("auth_key",), charset="utf-8"),
        PAST, "capture", ("auth-key-missing",)),
}


def _load(office: Office) -> dict[str, tuple[str, str | None, tuple[str, ...]]]:
    """Put every sample into the contract mailbox; returns Message-ID -> expectation."""
    expected = {}
    for name, (make, where, codes) in DELIVERED.items():
        raw = make()
        stack.deliver(raw)
        expected[_message_id(raw)] = (name, where, codes)
    for name, (make_a, arrived, where, codes) in APPENDED.items():
        raw = make_a()
        stack.append(raw, arrived=arrived)
        expected[_message_id(raw)] = (name, where, codes)
    stack.wait_for_queue()
    return expected


def test_every_kind_reaches_the_right_place(office: Office, tmp_path: Path) -> None:
    """Complete submissions reach the right staff inbox, broken ones get a correction reply
    naming the codes, unsure ones go to review, machine mail is ignored; nothing is lost."""
    expected = _load(office)
    total = len(expected)
    assert len(stack.unfiled()) == total

    run = office.run("run", "--once")
    assert run.returncode == 0, run.stderr

    staff = {
        user: stack.mailbox(user)
        for user in (stack.CONTRACT_STAFF, stack.ADVANCE_STAFF, stack.REVIEW)
    }
    replies = stack.captured()
    seen: set[str] = set()
    for user, inbox in staff.items():
        for got in inbox:
            source = got.header("X-Surety-Source")
            name, where, codes = expected[source]
            assert where == user, f"{name} went to {user}"
            assert tuple(got.problems) == codes, name
            verdict = "review" if user == stack.REVIEW else "routed"
            assert got.header("X-Surety-Verdict") == verdict
            assert got.header("X-Surety-Kind") in ("dsure-key", "confirmation-system",
                                                   "legacy-pdf", "other")
            [original] = got.attachments()
            assert original.get_content_type() == "message/rfc822"
            assert original.get_content()["Message-ID"] == source
            seen.add(source)
    for reply in replies:
        source = reply.header("X-Surety-Source")
        name, where, codes = expected[source]
        assert where == "capture", name
        assert tuple(reply.problems) == codes, name
        assert reply.header("X-Surety-Verdict") == "correction"
        assert reply.header("Auto-Submitted") == "auto-replied"
        assert reply.header("In-Reply-To") == source
        assert reply.envelope_to == (CONTRACTOR,)
        text = reply.text()
        for code in codes:
            assert f"確認コード: {code}" in text
        seen.add(source)
    acted = {mid for mid, (_, where, _) in expected.items() if where}
    assert seen == acted
    assert sum(len(v) for v in staff.values()) + len(replies) == len(acted)

    # Nothing deleted: every message is filed in the folder of its verdict.
    folders = stack.filed_counts()
    assert folders["INBOX"] == 0
    assert sum(folders.values()) == total
    ignored = [mid for mid, (_, where, _) in expected.items() if where is None]
    assert folders["Surety/Ignored"] == len(ignored)
    assert folders["Surety/Correction"] == len(replies)

    # Every step is in the log, one JSON object per line; no secret in clear.
    assert len(run.named("message.fetched")) == total
    assert len(run.named("message.ignored")) == len(ignored)
    assert run.named("poll.done")[0]["routed"] == len(staff[stack.CONTRACT_STAFF]) + len(
        staff[stack.ADVANCE_STAFF])
    key = mails.default_auth_key("2604012345")
    assert key not in run.stdout
    assert "Rk7v2Lm9" not in run.stdout  # the legacy PDF's password


def test_second_run_sends_nothing_new(office: Office) -> None:
    """A second run over the same mailbox sends nothing twice and moves nothing."""
    _load(office)
    first = office.run("run", "--once")
    assert first.returncode == 0, first.stderr
    before = (
        [len(stack.mailbox(u)) for u in (stack.CONTRACT_STAFF, stack.ADVANCE_STAFF, stack.REVIEW)],
        len(stack.captured()),
        stack.filed_counts(),
    )
    second = office.run("run", "--once")
    assert second.returncode == 0, second.stderr
    stack.wait_for_queue()
    after = (
        [len(stack.mailbox(u)) for u in (stack.CONTRACT_STAFF, stack.ADVANCE_STAFF, stack.REVIEW)],
        len(stack.captured()),
        stack.filed_counts(),
    )
    assert after == before
    assert second.named("mail.sent") == []


def test_classify_agrees_with_run(office: Office, tmp_path: Path) -> None:
    """classify on each message as filed gives the verdict run acted on."""
    _load(office)
    run = office.run("run", "--once")
    assert run.returncode == 0, run.stderr
    checked = 0
    for verdict in ("routed", "correction", "review", "ignored"):
        for index, got in enumerate(stack.mailbox(stack.INTAKE, f"Surety/{verdict.title()}")):
            path = tmp_path / f"{verdict}-{index}.eml"
            path.write_bytes(got.message.as_bytes())
            result = office.classify(path)
            assert result["verdict"] == verdict, (path, result)
            checked += 1
    assert checked == len(DELIVERED) + len(APPENDED)


def test_imap_down_is_a_clear_error(office: Office, tmp_path: Path) -> None:
    """An unreachable IMAP server ends run --once with exit 1 and a log line saying so."""
    config = office.config_path.read_text(encoding="utf-8").replace("port = 143", "port = 1")
    office.config_path.write_text(config, encoding="utf-8")
    run = office.run("run", "--once")
    assert run.returncode == 1
    [event] = run.named("imap.unavailable")
    assert "localhost:1" in event["error"]


def test_daemon_polls_and_stops_cleanly_on_sigterm(office: Office) -> None:
    """As a service, the daemon picks up mail as it arrives and exits 0 on SIGTERM."""
    daemon = office.start()
    try:
        stack.deliver(mails.dsure_key_mail(guarantee_type="advance-payment"))
        deadline = time.monotonic() + 60
        while not stack.mailbox(stack.ADVANCE_STAFF) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert len(stack.mailbox(stack.ADVANCE_STAFF)) == 1
        daemon.send_signal(signal.SIGTERM)
        out, err = daemon.communicate(timeout=10)
    finally:
        if daemon.poll() is None:
            daemon.kill()
    assert daemon.returncode == 0, err
    assert_no_secrets(out + err)
    events = [json.loads(line)["event"] for line in out.splitlines()]
    assert events[0] == "daemon.started"
    assert "message.routed" in events
    assert "daemon.stopping" in events
    assert events[-1] == "daemon.stopped"  # a poll under way may finish in between
