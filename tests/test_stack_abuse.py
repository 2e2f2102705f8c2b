"""A stranger trying to use the office through the real mail stack: a flood of typed
guarantees, a correction aimed at the office's own staff, a Reply-To aimed at a third
party, an insurer's domain without authentication. Each message is built here, delivered
to the contract mailbox, the daemon runs once as a process, and the test reads what staff
and the capture server (the Internet) received."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime, timedelta

import pytest
import stack
from conftest import Office
from samples import mails

pytestmark = pytest.mark.stack

PAST = datetime.now(UTC) - timedelta(hours=2)  # past every wait: decided at once


def _id(raw: bytes) -> str:
    return str(email.message_from_bytes(raw, policy=email.policy.default)["Message-ID"])


def _typed_without_key(sender: str, *, reply_to: str | None = None, n: int = 1) -> bytes:
    return mails.build(from_=sender, to=stack.INTAKE, reply_to=reply_to,
                       subject=f"【電子保証】契約保証 {n}",
                       body=f"契約保証の認証キーです。\n保証契約番号：26040{n:05d}\n")


def test_a_flood_of_typed_guarantees_is_one_review_mail(office: Office) -> None:
    """1,600 typed 保証契約番号 blocks in one 150 kB mail: one mail to review
    (too-many-submissions), none to the sections, no reply."""
    body = "".join(f"保証契約番号：26{i:08d}\n認証キー：Kx{i:06d}Qz\n契約保証\n\n"
                   for i in range(1600))
    raw = mails.build(from_="t-yamada@yamada-kensetsu.example.co.jp", to=stack.INTAKE,
                      subject="【電子保証】契約保証", body=body, charset="utf-8")
    stack.deliver(raw)
    stack.wait_for_queue()
    run = office.run("run", "--once")
    assert run.returncode == 0, run.stderr
    [review] = stack.mailbox(stack.REVIEW)
    assert (review.header("X-Surety-Source"), review.problems) == (
        _id(raw), ["too-many-submissions"])
    assert stack.mailbox(stack.CONTRACT_STAFF) == []
    assert stack.captured() == []


def test_the_office_never_writes_to_itself_or_a_third_party(office: Office) -> None:
    """A correction never goes to the office's own staff (review instead), and a Reply-To
    of another organisation is ignored: the correction goes to the sender."""
    from_staff = _typed_without_key(f"somebody@{stack.DOMAIN}", n=1)
    third_party = _typed_without_key("t-yamada@yamada-kensetsu.example.co.jp",
                                     reply_to="victim@elsewhere.example.com", n=2)
    for raw in (from_staff, third_party):
        stack.append(raw, arrived=PAST)
    run = office.run("run", "--once")
    assert run.returncode == 0, run.stderr
    [review] = stack.mailbox(stack.REVIEW)
    assert review.header("X-Surety-Source") == _id(from_staff)
    assert review.problems == ["auth-key-missing", "no-reply-address"]
    [reply] = stack.captured()
    assert reply.header("X-Surety-Source") == _id(third_party)
    assert reply.header("To").endswith("t-yamada@yamada-kensetsu.example.co.jp")
    assert "victim@elsewhere.example.com" not in reply.header("To")


@pytest.mark.parametrize("office", ['[security]\nauthserv_id = "mail.city.example.jp"\n'
                                    'guarantor_domains = ["ejcs.example.co.jp"]'],
                         indirect=True)
def test_a_guarantee_company_domain_without_authentication_goes_to_review(
        office: Office) -> None:
    """With authserv_id set, a key notice claiming a guarantee company's domain with no
    Authentication-Results from the office's server is never routed."""
    raw = mails.dsure_key_mail()
    raw = raw.replace(b"From: ", b"X-Original-From: ", 1)
    raw = b"From: info@ejcs.example.co.jp\r\n" + raw
    stack.deliver(raw)
    stack.wait_for_queue()
    run = office.run("run", "--once")
    assert run.returncode == 0, run.stderr
    [review] = stack.mailbox(stack.REVIEW)
    assert review.problems == ["sender-not-authenticated"]
    assert stack.mailbox(stack.CONTRACT_STAFF) == []
