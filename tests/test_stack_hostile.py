"""A hostile sender through the real mail stack: what they put in a subject, a name, a
file name or an address never makes composing or sending fail, and never comes back out
in the office's name (a URL, their display name's text, a secret).

Each test builds its hostile message here, delivers it to the contract mailbox, runs the
daemon once as a process, and reads what staff find in their inboxes over IMAP and what
the contractor got at the capture server (or at a test server without SMTPUTF8).
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import json
import os
import re
import socket
import subprocess
import sys
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
import stack
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from conftest import DaemonRun, Office, assert_no_secrets
from samples import mails, parties, pdfs

from daemon import config
from daemon.compose import Outgoing, compose, copy_address
from daemon.config import Settings
from daemon.decide import decide
from daemon.outbox import Outbox, SendError
from daemon.read import read_message

pytestmark = pytest.mark.stack

YAMADA = "t-yamada@yamada-kensetsu.example.co.jp"
KEY = "AbCd1234EfGh"  # the 認証キー the contractors below type

# Characters no header may carry as they are: separators, C0/C1 controls, bidi controls.
HOSTILE = {
    "LS": "\u2028", "PS": "\u2029", "VT": "\x0b", "FF": "\x0c", "NEL": "\x85",
    "CRLF": "\r\n", "NUL": "\x00", "ESC": "\x1b", "CSI": "\x9b", "RLO": "\u202e",
    "LRE": "\u202a", "RLI": "\u2067", "PDI": "\u2069",
}


def _hidden(text: str) -> list[str]:
    """The control, format and separator characters in a text (line ends excepted)."""
    return [c for c in text if c != "\n" and unicodedata.category(c) in (
        "Cc", "Cf", "Cs", "Zl", "Zp")]


def _typed(number: str, *, project: str, contractor: str, subject: str, key: str = KEY,
           attachments: list[tuple[str, bytes, str]] | None = None) -> bytes:
    """A complete D-Sure submission typed into the mail (UTF-8; the subject RFC 2047)."""
    body = ("東都市 財政局 契約課 御中\n\n電子保証の認証キー等をお送りします。\n"
            f"保証契約番号：{number}\n認証キー：{key}\n工事名：{project}\n"
            f"受注者名：{contractor}\n保証の種類：契約保証\n"
            "保証事業会社：東日本建設業保証株式会社\n")
    return mails.build(from_=f"山田 太郎 <{YAMADA}>", to=stack.INTAKE, subject=subject,
                       body=body, charset="utf-8", attachments=attachments or [])


def _from(raw: bytes, sender: bytes) -> bytes:
    """The message with its From header replaced by these bytes (raw UTF-8 allowed, as
    RFC 6532 mail carries it)."""
    head, body = raw.split(b"\r\n\r\n", 1)
    lines = re.sub(rb"\r\n[ \t]", b" ", head).split(b"\r\n")
    lines = [b"From: " + sender if line.lower().startswith(b"from:") else line
             for line in lines]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def _needs_fix(policy_number: str, *, sender: bytes, subject: str | None = None,
               reply_to: bytes | None = None) -> bytes:
    """A confirmation form without its 受注者名 (answered with a correction), from sender
    (and with this Reply-To)."""
    raw = _from(mails.confirmation_mail(omit=("contractor",), policy_number=policy_number,
                                        subject=subject, charset="utf-8"), sender)
    if reply_to is not None:
        raw = raw.replace(b"\r\nTo: ", b"\r\nReply-To: " + reply_to + b"\r\nTo: ", 1)
    return raw


def _to(got: stack.Received) -> str:
    """The To header as a reader shows it. A long name is two encoded words on two lines;
    RFC 2047 (6.2) drops the blank between them, Python's address parser keeps it."""
    return got.header("To").replace(" ", "")


def _run(office: Office) -> DaemonRun:
    """``run --once`` as a process, as Office.run does; its log split into lines at line
    feeds only (a JSON string may hold U+2028 or NEL: the sender's subject, logged)."""
    stack.wait_for_queue()
    env = dict(os.environ, SURETY_TEST_IMAP_PASSWORD=stack.PASSWORD)
    proc = subprocess.run(
        [sys.executable, "-m", "daemon.cli", "--config", str(office.config_path), "run",
         "--once"], capture_output=True, text=True, env=env, timeout=300, check=False)
    stack.wait_for_delivery()
    assert proc.returncode == 0, proc.stderr
    assert_no_secrets(proc.stdout + proc.stderr)
    run = DaemonRun(proc.returncode, [json.loads(line) for line in proc.stdout.split("\n")
                                      if line.strip()], proc.stdout, proc.stderr)
    assert run.named("message.failed") == []
    assert run.named("message.quarantined") == []
    return run


def test_hostile_characters_in_names_and_subject_reach_staff_with_a_clean_subject(
        office: Office) -> None:
    """A submission whose 工事名, 受注者名 and subject hold a separator, a control or a bidi
    character is routed on the first run: it reaches the contract staff inbox with a Subject
    on one line, each invisible character shown as an escape (\\u202e), a break as a space."""
    for index, char in enumerate(HOSTILE.values()):
        stack.deliver(_typed(f"26040123{index:02d}",
                             project=f"市道{char}第{index}号線改良工事",
                             contractor=f"株式会社{char}山田建設",
                             subject=f"【電子保証】市道{char}第{index}号線改良工事"))
    run = _run(office)

    staff = stack.mailbox(stack.CONTRACT_STAFF)
    assert len(staff) == len(HOSTILE)
    subjects = sorted(got.header("Subject") for got in staff)
    for got in staff:
        assert got.header("X-Surety-Verdict") == "routed"
        assert _hidden(str(got.message["Subject"])) == []
        assert _hidden(got.text()) == []
    head = "【電子保証 受付】契約保証 "
    assert f"{head}市道\\u202e第9号線改良工事（株式会社\\u202e山田建設）" in subjects  # RLO
    assert f"{head}市道\\x00第6号線改良工事（株式会社\\x00山田建設）" in subjects  # NUL
    assert f"{head}市道 第0号線改良工事（株式会社 山田建設）" in subjects  # LS
    assert stack.filed_counts().get("Surety/Routed") == len(HOSTILE)
    assert "Surety/Quarantine" not in stack.filed_counts()
    assert len(run.named("message.routed")) == len(HOSTILE)


def test_file_names_with_bidi_or_nul_are_shown_escaped_to_staff(office: Office) -> None:
    """Attachments named with a right-to-left override or a NUL are listed in the staff
    mail with the character escaped: staff read 請求書\\u202efdp.exe, not 請求書exe.pdf."""
    stack.deliver(_typed("2604012345", project="令和8年度 市道中央線道路改良工事",
                         contractor="株式会社山田建設",
                         subject="【電子保証】令和8年度 市道中央線道路改良工事",
                         attachments=[("請求書\u202efdp.exe", b"MZ", "application/octet-stream"),
                                      ("認証キー\x00等.pdf", pdfs.corrupt_pdf(),
                                       "application/pdf")]))
    _run(office)

    [got] = stack.mailbox(stack.CONTRACT_STAFF) or stack.mailbox(stack.REVIEW)
    text = got.text()
    assert "添付　　: 請求書\\u202efdp.exe（" in text
    assert "添付　　: 認証キー\\x00等.pdf（" in text
    assert _hidden(text) == []
    assert _hidden(str(got.message["Subject"])) == []


# A raw UTF-8 address (RFC 6532) is read, stored and answered with SMTPUTF8.
HIRAGANA = "やまだ.たろう@yamada-kensetsu.example.co.jp"
KANJI = "山田@yamada-kensetsu.example.co.jp"


def test_a_non_ascii_address_gets_its_reply_by_smtputf8(office: Office) -> None:
    """Corrections to a Reply-To with a non-ASCII local part (raw UTF-8, RFC 6532) are
    sent with SMTPUTF8: each reaches its address, the daemon's copy reaches the contract
    mailbox, nothing is set aside."""
    senders = [KANJI, HIRAGANA]
    for index, address in enumerate(senders):
        stack.deliver(_needs_fix(f"SJ26-04000{index}", sender=f"山田 太郎 <{YAMADA}>".encode(),
                                 reply_to=f"山田 太郎 <{address}>".encode()))
    _run(office)

    replies = stack.captured()
    assert sorted(r.envelope_to for r in replies) == sorted((a,) for a in senders)
    for reply in replies:
        [address] = reply.envelope_to
        assert reply.header("X-Surety-Verdict") == "correction"
        assert _to(reply) == f'"{address}":;'  # named, in an ASCII header
        assert "確認コード: contractor-name-missing" in reply.text()
    copies = [m for m in stack.mailbox(stack.INTAKE) if m.header("X-Surety-Verdict")]
    assert len(copies) == len(senders)
    assert stack.mailbox(stack.REVIEW) == []
    assert stack.filed_counts().get("Surety/Correction") == len(senders)


def _reply_to(address: str) -> tuple[Settings, Outgoing]:
    """The correction the daemon composes for a form without 受注者名 whose Reply-To is
    this address (as read.py gives it, or decoded)."""
    settings = config.parse(stack.office_config(Path("/nonexistent/state.sqlite3")))
    mail = read_message(_needs_fix("SJ26-0400040", sender=f"山田 太郎 <{YAMADA}>".encode(),
                                   reply_to=f"<{KANJI}>".encode()))
    mail = replace(mail, reply_to=(address,))
    [out] = compose(decide(mail, settings), mail, settings, datetime.now(UTC))
    assert out.recipients == (address,)
    return settings, out


@pytest.mark.parametrize("address", [KANJI, HIRAGANA,
                                     KANJI.encode().decode("ascii", "surrogateescape")],
                         ids=["kanji", "hiragana", "as read.py gives it"])
def test_the_outbox_sends_to_a_non_ascii_address_by_smtputf8(
        office: Office, address: str) -> None:
    """Through Postfix (which offers SMTPUTF8), a reply to a non-ASCII address reaches
    it, and the daemon's copy (an ASCII message) reaches the contract mailbox."""
    settings, out = _reply_to(address)
    Outbox(settings.smtp, None).send(out.to_bytes(), out.recipients,
                                     copy_to=copy_address(settings))
    stack.wait_for_queue()
    wanted = address.encode("utf-8", "surrogateescape").decode()
    [reply] = stack.captured()
    assert reply.envelope_to == (wanted,)
    assert _to(reply) == f'"{wanted}":;'
    assert reply.text().startswith("山田 太郎 様\n")
    [copy] = stack.mailbox(stack.INTAKE)
    assert copy.header("Message-ID") == out.message_id


def test_the_outbox_refuses_an_address_with_a_control_for_good(office: Office) -> None:
    """An address holding a control character is not put on the SMTP command line: a
    permanent failure (staff are told), and nothing is sent, not even the copy."""
    settings, out = _reply_to("t-ya\x00mada@yamada-kensetsu.example.co.jp")
    with pytest.raises(SendError) as refused:
        Outbox(settings.smtp, None).send(out.to_bytes(), out.recipients,
                                         copy_to=copy_address(settings))
    assert refused.value.permanent
    assert "t-ya\\x00mada@yamada-kensetsu.example.co.jp" in str(refused.value)
    stack.wait_for_queue()
    assert stack.captured() == []
    assert stack.mailbox(stack.INTAKE) == []


def test_an_address_that_cannot_be_sent_to_is_undeliverable(office: Office) -> None:
    """A correction to an address holding a control character is not sent: staff get
    the 送信できませんでした notice (undeliverable) and the message is filed, not set aside."""
    stack.deliver(_needs_fix("SJ26-0400010", sender=b"Yamada <t-ya\x7fmada@example.co.jp>"))
    _run(office)

    assert stack.captured() == []
    [notice] = stack.mailbox(stack.REVIEW)
    assert notice.problems == ["undeliverable"]
    assert notice.header("Subject").startswith("【電子保証 要確認】送信できませんでした: ")
    assert "t-ya\\x7fmada@example.co.jp" in notice.text()
    assert _hidden(notice.text()) == []
    assert stack.filed_counts().get("Surety/Correction") == 1
    assert "Surety/Quarantine" not in stack.filed_counts()


@dataclass
class _Plain:
    """An SMTP server without SMTPUTF8 that keeps what it is given."""

    taken: list[Envelope] = field(default_factory=list)

    async def handle_DATA(  # noqa: N802 - hook name is defined by aiosmtpd
            self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.taken.append(envelope)
        return "250 OK"


@pytest.fixture
def plain_smtp() -> Iterator[tuple[int, _Plain]]:
    """An SMTP server on a free loopback port that does not offer SMTPUTF8."""
    with socket.socket() as probe:
        probe.bind((stack.HOST, 0))
        port = probe.getsockname()[1]
    handler = _Plain()
    controller = Controller(handler, hostname=stack.HOST, port=port, enable_SMTPUTF8=False)
    controller.start()
    try:
        yield port, handler
    finally:
        controller.stop()


def test_a_non_ascii_address_without_smtputf8_is_undeliverable(
        office: Office, plain_smtp: tuple[int, _Plain]) -> None:
    """Where the SMTP server does not offer SMTPUTF8, a correction to 山田@… is
    refused for good: nothing goes to that address, staff get the undeliverable notice,
    the message is filed (not retried, not set aside)."""
    port, server = plain_smtp
    config = office.config_path.read_text(encoding="utf-8")
    smtp = 'port = 25\nsecurity = "starttls"'
    assert smtp in config
    office.config_path.write_text(config.replace(smtp, f'port = {port}\nsecurity = "none"'),
                                  encoding="utf-8")
    stack.deliver(_needs_fix("SJ26-0400020", sender=f"山田 太郎 <{YAMADA}>".encode(),
                             reply_to=f"<{KANJI}>".encode()))
    _run(office)

    recipients = [rcpt for envelope in server.taken for rcpt in envelope.rcpt_tos]
    assert [r for r in recipients if "yamada-kensetsu" in r] == []
    notices = [email.message_from_bytes(e.original_content or b"", policy=email.policy.default)
               for e in server.taken if stack.REVIEW in e.rcpt_tos]
    [notice] = notices
    assert notice["X-Surety-Problems"] == "undeliverable"
    assert str(notice["Subject"]).startswith("【電子保証 要確認】送信できませんでした: ")
    text = notice.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert KANJI in text
    assert "SMTPUTF8" in text
    assert stack.filed_counts().get("Surety/Correction") == 1


def test_the_outbox_refuses_a_non_ascii_address_for_good_without_smtputf8(
        office: Office, plain_smtp: tuple[int, _Plain]) -> None:
    """A server that does not offer SMTPUTF8 is never given a non-ASCII address: the
    send fails for good (so staff are told), and nothing was handed over."""
    port, server = plain_smtp
    settings, out = _reply_to(KANJI)
    plain = settings.smtp.model_copy(update={"port": port, "security": "none"})
    with pytest.raises(SendError) as refused:
        Outbox(plain, None).send(out.to_bytes(), out.recipients,
                                 copy_to=copy_address(settings))
    assert refused.value.permanent
    assert "SMTPUTF8" in str(refused.value)
    assert server.taken == []


def test_a_reply_carries_no_url_display_name_or_secret(office: Office) -> None:
    """A correction never repeats the sender's URL, the text of a display name that is no
    plain name, or the 閲覧用パスワード typed into the subject: the greeting is neutral and
    the quoted subject has （URL省略） and the password masked."""
    password = parties.viewing_password("SJ26-0400030")  # the form's 閲覧用パスワード
    name = email.utils.formataddr(("至急 https://evil.example/login で再認証", YAMADA),
                                  charset="utf-8").encode()
    stack.deliver(_needs_fix("SJ26-0400030", sender=name,
                             subject=f"【電子保証】閲覧用パスワード {password} 詳細は "
                                     "ｗｗｗ．ｅｖｉｌ．ｅｘａｍｐｌｅ"))
    _run(office)

    [reply] = stack.captured()
    assert reply.envelope_to == (YAMADA,)
    subject = reply.header("Subject")
    assert subject == ("【電子保証 再提出のお願い】Re: 【電子保証】閲覧用パスワード "
                       f"{password[:2]}********** 詳細は （URL省略）")
    text = reply.text()
    assert text.startswith("ご担当者 様\n")
    whole = reply.message.as_string()
    assert "evil" not in whole
    assert "再認証" not in whole
    assert password not in whole


def test_a_key_in_the_works_name_is_masked_in_the_staff_subject(office: Office) -> None:
    """A 認証キー that leaked into 工事名 does not appear in the staff mail's Subject (staff
    read it in the body, where it belongs)."""
    stack.deliver(_typed("2604012345", project=f"令和8年度 市道中央線道路改良工事 {KEY}",
                         contractor="株式会社山田建設",
                         subject="【電子保証】令和8年度 市道中央線道路改良工事"))
    _run(office)

    [got] = stack.mailbox(stack.CONTRACT_STAFF)
    assert got.header("Subject") == ("【電子保証 受付】契約保証 令和8年度 市道中央線道路改良工事 "
                                     "Ab**********（株式会社山田建設）")
    assert f"認証キー: {KEY}" in got.text()
