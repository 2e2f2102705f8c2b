"""Every rule of the domain through the real mail stack: one case per problem code, and
held messages paired with their follow-up (or answered once the wait is over).
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
import stack
from conftest import Office
from samples import mails, parties, pdfs

pytestmark = pytest.mark.stack

JST = timezone(timedelta(hours=9))
IN_TIME = datetime(2026, 3, 10, 10, 0, tzinfo=JST)
YAMADA = "t-yamada@yamada-kensetsu.example.co.jp"


def _id(raw: bytes) -> str:
    return str(email.message_from_bytes(raw, policy=email.policy.default)["Message-ID"])


def _scan_key_notice() -> bytes:
    return mails.build(from_=f"山田 太郎 <{YAMADA}>", to=stack.INTAKE,
                       subject="【電子保証】認証キー等のお知らせ",
                       body="認証キー等のお知らせをスキャンして添付します。",
                       attachments=[("認証キー.pdf", pdfs.scan_pdf(), "application/pdf")])


def _policy_as_image() -> bytes:
    return mails.build(from_=f"山田 太郎 <{YAMADA}>", to=stack.INTAKE,
                       cc="denshi-hosho@sompo-japan.example.jp", date=IN_TIME,
                       subject="【契約保証】履行保証保険証券の送付",
                       body="損害保険ジャパン株式会社の履行保証保険証券を送付いたします。",
                       attachments=[("証券.jpg", pdfs.not_really_pdf("png"), "image/jpeg")])


def _nameless_policy() -> bytes:
    sheet = pdfs.Sheet(title="証券", author="x", creator="x", producer="x")
    sheet.text(40, 60, "履行保証保険証券", size=18)
    sheet.text(40, 100, "証券番号 SJ26-0400001", size=11)
    sheet.text(40, 140, "損害保険ジャパン株式会社", size=11)
    return mails.build(from_=f"山田 太郎 <{YAMADA}>", to=stack.INTAKE,
                       cc="denshi-hosho@sompo-japan.example.jp", date=IN_TIME,
                       subject="【契約保証】履行保証保険証券", body="証券を送付します。",
                       attachments=[("証券.pdf", sheet.finish(), "application/pdf")])


def _nameless_insurer_policy() -> bytes:
    nameless = replace(parties.INSURERS["sompo"], name="東都建設共済会", aliases=(),
                       domains=("kyosai.example.jp",), agent_domain="kyosai.example.jp")
    return mails.legacy_pdf_mail(insurer=nameless, sender="agent", date=IN_TIME)


def _no_sender() -> bytes:
    return (
        f"To: {stack.INTAKE}\r\nSubject: =?UTF-8?B?44CQ6Zu75a2Q5L+d6Ki844CR?=\r\n"
        "Message-ID: <no-sender-1@contractor.example.jp>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
        "契約保証の認証キーです。\r\n保証契約番号：2604012345\r\n"
    ).encode()


def _wrong_password() -> bytes:
    """A PDF policy with, in the same mail, a password that does not open it."""
    policy = pdfs.policy_pdf(insurer="sompo", policy_number="SJ26-0499999",
                             project_name="令和8年度 市道中央線道路改良工事",
                             contractor="株式会社山田建設", orderer="東都市",
                             issued=IN_TIME.date(), password="Rk7v2Lm9")
    return mails.build(from_=YAMADA, to=stack.INTAKE, date=IN_TIME,
                       cc=parties.INSURERS["sompo"].designated_address,
                       subject="【契約保証】履行保証保険証券の送付",
                       body="履行保証保険証券を送付します。\nPDFのパスワード：Xx9999zz\n",
                       attachments=[("履行保証保険証券.pdf", policy, "application/pdf")])


def _two_days_ago() -> datetime:
    return datetime.now(JST) - timedelta(days=2)


# code: (message, arrival time or None for SMTP now, extra [policy] lines, where it ends)
Case = tuple[Callable[[], bytes], Callable[[], datetime] | None, str, str]
CASES: dict[str, Case] = {
    "certificate-not-key-notice": (mails.certificate_instead_of_key, None, "", "capture"),
    "reservation-not-eligible": (mails.reservation, None, "", "capture"),
    "bank-guarantee-not-eligible": (mails.bank_guarantee, None, "", "capture"),
    "insurer-not-supported": (lambda: mails.confirmation_mail(insurer="aioi"), None, "",
                              "capture"),
    "not-pdf": (_policy_as_image, lambda: IN_TIME, "", "capture"),
    "view-url-invalid": (
        lambda: mails.confirmation_mail(view_url="https://example.net/view?k=1"), None, "",
        "capture"),
    "route-not-accepted": (mails.confirmation_mail, None, 'accept = ["dsure-key"]', "capture"),
    "before-electronic-start": (
        lambda: mails.dsure_key_mail(first_contract_date=datetime(2023, 5, 31).date()), None,
        "electronic_start = 2023-06-01", "capture"),
    "invoice-missing": (lambda: mails.dsure_key_mail(guarantee_type="advance-payment"), None,
                        "advance_payment_needs_invoice = true", "capture"),
    "attachment-password-missing": (lambda: mails.confirmation_mail(encrypt="zip-aes"),
                                    _two_days_ago, "", "capture"),
    "subject-format": (mails.dsure_key_mail, None,
                       "[policy.subject_patterns]\ncontract = '^【契約保証】'",
                       stack.CONTRACT_STAFF),
    "issue-date-unreadable": (_nameless_policy, lambda: IN_TIME, 'legacy_pdf_basis = "issued"',
                              stack.REVIEW),
    "unpaired-password": (mails.password_followup, _two_days_ago, "", stack.REVIEW),
    "attachment-password-wrong": (_wrong_password, lambda: IN_TIME, "", "capture"),
    "insurer-unknown": (_nameless_insurer_policy, lambda: IN_TIME, "", stack.REVIEW),
    "view-url-missing": (lambda: mails.confirmation_mail(omit=("view_url",)), _two_days_ago,
                         "", "capture"),
    "project-name-missing": (lambda: mails.confirmation_mail(omit=("project_name",)), None,
                             "", "capture"),
    "contract-number-missing": (
        lambda: mails.dsure_key_mail(in_body=True, omit=("contract_number",)), _two_days_ago,
        "", "capture"),
    # Appended: Postfix adds a From header (the envelope sender) to what it receives.
    "no-reply-address": (_no_sender, _two_days_ago, "", stack.REVIEW),
    "text-unreadable": (_scan_key_notice, None, "", stack.REVIEW),
    "guarantee-type-unknown": (
        lambda: mails.build(from_=YAMADA, to=stack.INTAKE, subject="【電子保証】",
                            body="保証契約番号：2604012345\n認証キー：AbCd1234EfGh\n"),
        None, "", stack.REVIEW),
    "system-notice": (mails.system_url_notice, None, "", stack.REVIEW),
}


@pytest.mark.parametrize(
    ("code", "office"),
    [(code, case[2]) for code, case in CASES.items()],
    indirect=["office"],
    ids=list(CASES),
)
def test_each_code_through_the_stack(code: str, office: Office) -> None:
    """Each problem code reaches the contractor (correction) or staff, in the real stack."""
    make, arrival, _, where = CASES[code]
    raw = make()
    if arrival is None:
        stack.deliver(raw)
        stack.wait_for_queue()
    else:
        stack.append(raw, arrived=arrival())
    run = office.run("run", "--once")
    assert run.returncode == 0, run.stderr
    stack.wait_for_queue()
    got = stack.captured() if where == "capture" else stack.mailbox(where)
    [mail] = [m for m in got if m.header("X-Surety-Source") == _id(raw)]
    assert code in mail.problems
    if where == "capture":
        assert mail.header("X-Surety-Verdict") == "correction"
        assert f"確認コード: {code}" in mail.text()
    assert stack.filed_counts()["INBOX"] == 0


def test_form_and_password_in_two_mails_are_one_submission(office: Office) -> None:
    """A zipped form and its password mail become one routed mail naming both sources,
    with both originals attached; both are filed together."""
    form = mails.confirmation_mail(encrypt="zip-aes")
    password = mails.password_followup()
    stack.deliver(form)
    stack.deliver(password)
    stack.wait_for_queue()
    run = office.run("run", "--once")
    assert run.returncode == 0, run.stderr
    [routed] = stack.mailbox(stack.CONTRACT_STAFF)
    assert routed.header("X-Surety-Source") == f"{_id(form)} {_id(password)}"
    assert routed.header("X-Surety-Verdict") == "routed"
    originals = [a.get_content()["Message-ID"] for a in routed.attachments()]
    assert originals == [_id(form), _id(password)]
    assert "閲覧用パスワード: " in routed.text()
    folders = stack.filed_counts()
    assert (folders["INBOX"], folders["Surety/Routed"], folders.get("Surety/Held", 0)) == (
        0, 2, 0)
    assert stack.captured() == []
    assert len(run.named("message.paired")) == 1


def test_held_between_runs(office: Office) -> None:
    """A form waits in Surety/Held (nothing sent) until the password mail comes."""
    form = mails.confirmation_mail(encrypt="zip-crypto")
    stack.deliver(form)
    stack.wait_for_queue()
    first = office.run("run", "--once")
    assert [e["reason"] for e in first.named("message.held")] == ["waiting-for-password"]
    assert stack.filed_counts()["Surety/Held"] == 1
    assert stack.mailbox(stack.CONTRACT_STAFF) == []
    assert stack.captured() == []

    stack.deliver(mails.password_followup())
    stack.wait_for_queue()
    second = office.run("run", "--once")
    assert second.returncode == 0, second.stderr
    assert len(stack.mailbox(stack.CONTRACT_STAFF)) == 1
    folders = stack.filed_counts()
    assert (folders["Surety/Held"], folders["Surety/Routed"]) == (0, 2)


def test_a_corrected_resend_replaces_the_first(office: Office) -> None:
    """After a correction, the re-send for the same policy is routed with X-Surety-Replaces."""
    first = mails.confirmation_mail(omit=("view_password",))
    stack.deliver(first)
    stack.wait_for_queue()
    assert office.run("run", "--once").returncode == 0
    [reply] = stack.captured()
    assert reply.problems == ["view-password-missing"]

    again = mails.confirmation_mail(subject="【電子保証】再送 第R8-土木-0123号")
    stack.deliver(again)
    stack.wait_for_queue()
    assert office.run("run", "--once").returncode == 0
    [routed] = stack.mailbox(stack.CONTRACT_STAFF)
    assert routed.header("X-Surety-Source") == _id(again)
    assert routed.header("X-Surety-Replaces") == _id(first)
    assert "置き換える提出です" in routed.text()
