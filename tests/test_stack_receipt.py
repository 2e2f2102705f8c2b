"""The receipt (受領確認) on the real mail stack: a routed D-Sure submission's contractor
gets one, threaded, without the key, exactly once; with receipts off, or at the reply
cap, the contractor gets nothing and staff get the submission all the same."""

from __future__ import annotations

import email
import email.policy
import time
from datetime import UTC, datetime

import pytest
import stack
from conftest import Office
from samples import mails

from daemon import config
from daemon.compose import compose, copy_address
from daemon.decide import decide
from daemon.outbox import Outbox
from daemon.read import read_message
from daemon.store import Store

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


def test_in_trial_mode_the_receipt_goes_to_the_trial_address_only(office: Office) -> None:
    """A trial with receipts on: the receipt is one more mail to the trial address
    (【試行】, the contractor named in X-Surety-Trial-Recipients); the contractor gets
    nothing."""
    _replies(office, f'receipt = true\n\n[trial]\naddress = "{stack.SENDER}"')
    stack.deliver(mails.dsure_key_mail())
    stack.wait_for_queue()
    run = office.run("run", "--once", "--dry-run")
    assert run.returncode == 0, run.stderr
    tried = stack.mailbox(stack.SENDER)
    assert sorted(m.header("X-Surety-Trial-Recipients") for m in tried) == sorted(
        [stack.CONTRACT_STAFF, CONTRACTOR])
    [receipt] = [m for m in tried if m.header("X-Surety-Trial-Recipients") == CONTRACTOR]
    assert receipt.header("Subject").startswith("【試行】【電子保証 受領確認】Re: ")
    assert stack.captured() == []
    assert stack.mailbox(stack.CONTRACT_STAFF) == []


def _intake_uid() -> tuple[int, int]:
    client = stack.imap_login(stack.INTAKE)
    try:
        client.select("INBOX")
        uidvalidity = int(client.response("UIDVALIDITY")[1][0])
        _, data = client.uid("SEARCH", "ALL")
        return uidvalidity, int(data[0].split()[0])
    finally:
        client.logout()


def _crashed_while_sending_the_receipt(office: Office, *, really_sent: bool) -> str:
    """The state a daemon leaves when it died handing the receipt to the SMTP server:
    the message decided, the staff mail sent, the receipt marked sending; the server took
    it or not."""
    _replies(office, "receipt = true")
    stack.deliver(mails.dsure_key_mail())
    stack.wait_for_queue()
    uidvalidity, uid = _intake_uid()
    settings = config.load(office.config_path)
    mail = read_message(stack.unfiled()[0].message.as_bytes(), datetime.now(UTC))
    decision = decide(mail, settings)
    decided_at = datetime.now(UTC)
    staff, receipt = compose(decision, mail, settings, decided_at)
    assert receipt.action == "receipt"
    store = Store(office.state_path)
    row = store.messages.seen(folder="INBOX", uidvalidity=uidvalidity, uid=uid,
                              message_id=mail.message_id, content_hash="h",
                              received_at=decided_at, sender=mail.from_addr)
    store.record_decision(row.id, decision, decided_at,
                          [(m.action, m.message_id, m.recipients) for m in (staff, receipt)])
    outbox = Outbox(settings.smtp, None)
    store.outgoing.mark_sending(staff.message_id)
    outbox.send(staff.to_bytes(), staff.recipients, copy_to=copy_address(settings))
    store.outgoing.mark_sent(staff.message_id)
    store.outgoing.mark_sending(receipt.message_id)
    store.close()
    if really_sent:  # the server said 250, then the process died before writing it down
        outbox.send(receipt.to_bytes(), receipt.recipients, copy_to=copy_address(settings))
    stack.wait_for_queue()
    return receipt.message_id


@pytest.mark.parametrize("really_sent", [True, False])
def test_a_receipt_cut_off_by_a_crash_is_sent_exactly_once(office: Office,
                                                           really_sent: bool) -> None:
    """The receipt goes through the outgoing table like every mail: left 'sending' by a
    crash, its copy decides; found, it is not sent again; missing, it is sent once the
    copy was waited for. The contractor has it exactly once, staff their mail once."""
    out_id = _crashed_while_sending_the_receipt(office, really_sent=really_sent)
    run = office.run("run", "--once")
    assert run.returncode == 0, run.stderr
    if not really_sent:
        assert [e["out_message_id"] for e in run.named("mail.awaiting_copy")] == [out_id]
        assert stack.captured() == []
        time.sleep(3.5)  # copy_wait_seconds = 3
        run = office.run("run", "--once")
        assert run.returncode == 0, run.stderr
    stack.wait_for_queue()
    [got] = stack.captured()
    assert got.header("Message-ID") == out_id
    assert len(stack.mailbox(stack.CONTRACT_STAFF)) == 1
    assert len(run.named("mail.already_sent")) == (1 if really_sent else 0)
    assert [e["action"] for e in run.named("mail.sent")] == ([] if really_sent else ["receipt"])
    assert stack.unfiled() == []


def test_a_duplicate_gets_no_second_receipt(office: Office) -> None:
    """The same message twice in the inbox, and then the same guarantee re-sent in a new
    mail (another Message-ID, the same 保証契約番号): staff get the re-send (it replaces
    the first), the contractor has one receipt only."""
    _replies(office, "receipt = true")
    raw = mails.dsure_key_mail()
    first = _message_id(raw)
    stack.append(raw, arrived=datetime.now(UTC))
    stack.append(raw, arrived=datetime.now(UTC))
    run = office.run("run", "--once")
    assert run.returncode == 0, run.stderr
    assert len(run.named("message.duplicate")) == 1
    assert len(stack.captured()) == 1

    resent = raw.replace(first.encode(), b"<resent-2604012345@yamada-kensetsu.example.co.jp>")
    stack.append(resent, arrived=datetime.now(UTC))
    again = office.run("run", "--once")
    assert again.returncode == 0, again.stderr
    staff = stack.mailbox(stack.CONTRACT_STAFF)
    assert [m.header("X-Surety-Replaces") for m in staff] == ["", first]
    [receipt] = stack.captured()
    assert receipt.header("In-Reply-To") == first
    assert [e["action"] for e in again.named("mail.sent")] == ["forward"]
