"""The receipt (受領確認) on the real mail stack: a routed D-Sure submission's contractor
gets one, threaded, without the key, exactly once; with receipts off, or at the reply
cap, the contractor gets nothing and staff get the submission all the same."""

from __future__ import annotations

import email
import email.policy

import pytest
import stack
from conftest import Office
from samples import mails

pytestmark = pytest.mark.stack

CONTRACTOR = "t-yamada@yamada-kensetsu.example.co.jp"
KEY = mails.default_auth_key("2604012345")


def _replies(office: Office, lines: str) -> None:
    office.config_path.write_text(
        office.config_path.read_text(encoding="utf-8") + f"\n[replies]\n{lines}\n",
        encoding="utf-8")


def _message_id(raw: bytes) -> str:
    return str(email.message_from_bytes(raw, policy=email.policy.default)["Message-ID"])


def test_a_routed_submission_gets_its_receipt_once(office: Office) -> None:
    """receipt on: the contractor's mailbox gets 【電子保証 受領確認】Re: <subject>, threaded
    to the submission, naming its 保証契約番号, without the 認証キー; staff get the
    submission; a second run sends nothing again (the copy is filed as the proof)."""
    _replies(office, "receipt = true")
    raw = mails.dsure_key_mail()
    stack.deliver(raw)
    stack.wait_for_queue()

    run = office.run("run", "--once")
    assert run.returncode == 0, run.stderr
    [routed] = stack.mailbox(stack.CONTRACT_STAFF)
    assert routed.header("X-Surety-Verdict") == "routed"
    [receipt] = stack.captured()
    source = _message_id(raw)
    subject = " ".join(str(email.message_from_bytes(
        raw, policy=email.policy.default)["Subject"]).split())
    assert receipt.envelope_to == (CONTRACTOR,)
    assert receipt.header("Subject") == f"【電子保証 受領確認】Re: {subject}"
    assert receipt.header("In-Reply-To") == source
    assert receipt.header("References").split()[-1] == source
    assert receipt.header("Auto-Submitted") == "auto-replied"
    assert receipt.header("X-Surety-Source") == source
    text = receipt.text()
    assert "保証契約番号: 2604012345" in text
    assert "提出方法: 保証事業会社の電子保証（D-Sure 認証キー等のお知らせ）" in text
    assert "このメールへのご返信は不要です" in text
    assert KEY not in receipt.message.as_string() and KEY not in text
    assert KEY in routed.text()  # staff, and only staff, read the key
    sent = [e for e in run.named("mail.sent") if e["action"] == "receipt"]
    assert [e["recipients"] for e in sent] == [[CONTRACTOR]]

    again = office.run("run", "--once")  # files the copies; sends nothing new
    assert again.returncode == 0, again.stderr
    assert len(stack.captured()) == 1
    assert len(stack.mailbox(stack.CONTRACT_STAFF)) == 1
    assert stack.folders(stack.INTAKE)["Surety/Sent"] == 2  # the staff mail's, the receipt's


def test_no_receipt_when_off(office: Office) -> None:
    """The default: a routed submission reaches staff and the contractor gets nothing."""
    stack.deliver(mails.dsure_key_mail())
    stack.wait_for_queue()
    run = office.run("run", "--once")
    assert run.returncode == 0, run.stderr
    assert len(stack.mailbox(stack.CONTRACT_STAFF)) == 1
    assert stack.captured() == []
    assert run.named("receipt.limit_reached") == []


def test_at_the_reply_cap_no_receipt_and_still_routed(office: Office) -> None:
    """per_sender_per_day = 0: the receipt is not sent (receipt.limit_reached), and the
    submission is routed to staff, not sent to review."""
    _replies(office, "receipt = true\nper_sender_per_day = 0")
    stack.deliver(mails.dsure_key_mail())
    stack.wait_for_queue()
    run = office.run("run", "--once")
    assert run.returncode == 0, run.stderr
    assert len(stack.mailbox(stack.CONTRACT_STAFF)) == 1
    assert stack.mailbox(stack.REVIEW) == []
    assert stack.captured() == []
    [limited] = run.named("receipt.limit_reached")
    assert limited["to"] == CONTRACTOR
    assert run.named("message.routed")
