"""The mails the daemon writes: headers staff filter on, Japanese texts, the original."""

from __future__ import annotations

import email
import email.policy
import email.utils
import re
import unicodedata
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
import stack
from hypothesis import HealthCheck, given
from hypothesis import settings as settings_
from hypothesis import strategies as st
from samples import mails, pdfs

from daemon import config, display
from daemon.compose import Outgoing, about, compose, quarantine_notice, undeliverable_notice
from daemon.config import Settings
from daemon.decide import decide
from daemon.model import Attachment, Decision, Fields, GuaranteeType, Kind, Mail, Outcome, Verdict
from daemon.read import read_message

NOW = datetime(2026, 4, 6, 1, 0, tzinfo=UTC)


def _out(raw: bytes, settings: Settings) -> tuple[Outgoing, EmailMessage]:
    mail = read_message(raw)
    [out] = compose(decide(mail, settings), mail, settings, NOW)
    parsed = email.message_from_bytes(out.to_bytes(), policy=email.policy.default)
    return out, parsed  # type: ignore[return-value]


def test_staff_mail_headers_summary_and_original(settings: Settings) -> None:
    """A routed mail names kind, verdict, source; shows the key to staff; carries the original."""
    raw = mails.dsure_key_mail(guarantee_type="advance-payment", charset="shift_jis")
    out, msg = _out(raw, settings)
    assert msg["X-Surety-Kind"] == "dsure-key"
    assert msg["X-Surety-Verdict"] == "routed"
    assert msg["X-Surety-Problems"] == ""
    assert msg["X-Surety-Source"].strip() == read_message(raw).message_id  # folded: long
    assert msg["To"] == "maebarai@city.example.jp"
    assert msg["Subject"].startswith("【電子保証 受付】前払金保証 令和8年度")
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "認証キー: " + mails.default_auth_key("2604012345") in text
    assert "保証契約番号: 2604012345" in text
    [original] = list(msg.iter_attachments())
    assert original.get_content_type() == "message/rfc822"
    assert raw in out.to_bytes()  # byte for byte, Shift_JIS and all


def test_correction_reply_is_polite_names_codes_and_keeps_secrets(settings: Settings) -> None:
    """A reply goes to the sender, threads, is marked auto-replied, names each code and
    never echoes the key the contractor sent."""
    raw = mails.confirmation_mail(omit=("contractor",))
    key = "s7mF3DEzqTTE"  # the 閲覧用パスワード in the form
    _, msg = _out(raw, settings)
    source = read_message(raw)
    assert msg["To"] == source.from_addr
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["In-Reply-To"] == source.message_id
    assert msg["X-Surety-Problems"] == "contractor-name-missing"
    assert msg["Reply-To"] == "keiyaku@city.example.jp"
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert text.startswith("株式会社山田建設 山田 太郎 様")
    assert "受注者名の記載が確認できませんでした" in text
    assert "確認コード: contractor-name-missing" in text
    assert key not in text
    assert list(msg.iter_attachments()) == []


def test_deadline_reply_names_the_office_date(settings: Settings) -> None:
    """The deadline sentence names the office's own cut-off date."""
    _, msg = _out(mails.legacy_pdf_mail(), settings)
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "2026年3月31日（受信分）をもって終了" in text


def test_message_id_depends_only_on_source_and_action(settings: Settings) -> None:
    """Composing the same decision twice gives the same Message-ID (no double send)."""
    raw = mails.dsure_key_mail()
    first, _ = _out(raw, settings)
    again, _ = _out(raw, settings)
    other, _ = _out(mails.dsure_key_mail(guarantee_type="advance-payment"), settings)
    assert first.message_id == again.message_id
    assert first.message_id != other.message_id
    assert first.message_id.endswith("@city.example.jp>")


def test_every_document_status_has_a_label_for_staff() -> None:
    """Staff mails can name how each attachment was read, whatever its status."""
    from daemon.compose import STATUS_LABELS  # noqa: PLC0415
    from daemon.model import DocumentStatus  # noqa: PLC0415

    assert set(STATUS_LABELS) == set(DocumentStatus)


# A hostile sender: whatever they put in a subject, a name, a file name or a form, the
# mails the daemon writes are composed, carry clean headers, and say nothing for them.

BREAKING = {  # characters a header (or a line) must never carry as they are
    "LS U+2028": "\u2028", "PS U+2029": "\u2029", "VT": "\x0b", "FF": "\x0c",
    "NEL U+0085": "\x85", "NUL": "\x00", "ESC": "\x1b", "DEL": "\x7f", "CSI U+009B": "\x9b",
    "LRE U+202A": "\u202a", "RLE U+202B": "\u202b", "PDF U+202C": "\u202c",
    "LRO U+202D": "\u202d", "RLO U+202E": "\u202e", "LRI U+2066": "\u2066",
    "RLI U+2067": "\u2067", "FSI U+2068": "\u2068", "PDI U+2069": "\u2069",
}
KEY = "AbCd1234EfGh"
STAFF = "keiyaku-hosho@city.example.jp"


def _hidden(text: str) -> list[str]:
    """The control, format and separator characters in a text (line ends excepted)."""
    return [c for c in text if c != "\n" and unicodedata.category(c) in (
        "Cc", "Cf", "Cs", "Zl", "Zp")]


def _typed(*, project: str, contractor: str, subject: str, key: str = KEY,
           from_: str = "山田 太郎 <t-yamada@yamada-kensetsu.example.co.jp>",
           attachments: list[tuple[str, bytes, str]] | None = None) -> bytes:
    """A D-Sure submission typed into the mail, as a contractor writes it."""
    body = ("東都市 財政局 契約課 御中\n\n電子保証の認証キー等をお送りします。\n"
            f"保証契約番号：2604012345\n認証キー：{key}\n工事名：{project}\n"
            f"受注者名：{contractor}\n保証の種類：契約保証\n"
            "保証事業会社：東日本建設業保証株式会社\n")
    return mails.build(from_=from_, to=mails.OFFICE_ADDRESS, subject=subject, body=body,
                       charset="utf-8", attachments=attachments or [])


def _needs_fix(*, subject: str = "【電子保証】市道中央線道路改良工事（保証証券等確認システム）",
               display_name: str = "山田 太郎") -> bytes:
    """A confirmation form without its 受注者名 (a correction), from this display name."""
    raw = mails.confirmation_mail(omit=("contractor",), subject=subject, charset="utf-8")
    head, body = raw.split(b"\r\n\r\n", 1)
    lines = re.sub(rb"\r\n[ \t]", b" ", head).split(b"\r\n")
    sender = email.utils.formataddr((display_name, "t-yamada@yamada-kensetsu.example.co.jp"),
                                    charset="utf-8")
    lines = [f"From: {sender}".encode() if line.lower().startswith(b"from:") else line
             for line in lines]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def _header_lines(out: Outgoing) -> list[bytes]:
    head = out.to_bytes().split(b"\r\n\r\n", 1)[0]
    return head.split(b"\r\n")


@pytest.mark.parametrize("char", BREAKING.values(), ids=BREAKING.keys())
def test_hostile_characters_in_names_and_subject_route_with_clean_headers(
        settings: Settings, char: str) -> None:
    """A separator, control or bidi character in 工事名, 受注者名 and the subject: the
    submission is routed, every header line is printable ASCII, the Subject shows the
    works on one line (an invisible character as a visible escape, a break as a space)."""
    raw = _typed(project=f"令和8年度 市道{char}中央線道路改良工事",
                 contractor=f"株式会社{char}山田建設", subject=f"【電子保証】市道{char}改良工事")
    mail = read_message(raw)
    decision = decide(mail, settings)
    assert decision.verdict is Verdict.ROUTED
    [out] = compose(decision, mail, settings, NOW)
    assert all(32 <= b < 127 for line in _header_lines(out) for b in line)
    msg = email.message_from_bytes(out.to_bytes(), policy=email.policy.default)
    subject = str(msg["Subject"])
    assert _hidden(subject) == []
    shown = {"\u2028": " ", "\u2029": " ", "\x0b": " ", "\x0c": " ", "\x85": " "}.get(
        char, f"\\u{ord(char):04x}" if ord(char) > 0xFF else f"\\x{ord(char):02x}")
    assert subject == f"【電子保証 受付】契約保証 令和8年度 市道{shown}中央線道路改良工事" \
                      f"（株式会社{shown}山田建設）"
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert _hidden(text) == []
    assert f"工事名: 令和8年度 市道{shown}中央線道路改良工事\n" in text


@pytest.mark.parametrize("subject", ["市道\r\n改良工事", "市道\n\n■ 次の作業\n改良工事",
                                     "市道\u2028改良工事", "市道\x00\u202e改良工事"])
def test_line_breaks_in_a_subject_stay_off_review_and_reply_headers(
        settings: Settings, subject: str) -> None:
    """A subject holding line breaks or controls (RFC 2047-encoded): the review mail and
    the correction reply that quote it are composed with one clean Subject line."""
    question = mails.build(from_="山田 太郎 <t-yamada@yamada-kensetsu.example.co.jp>",
                           to=mails.OFFICE_ADDRESS, subject=subject, charset="utf-8",
                           body="入札日程について教えてください。")
    for raw, verdict in ((question, "review"), (_needs_fix(subject=subject), "correction")):
        out, msg = _out(raw, settings)
        assert msg["X-Surety-Verdict"] == verdict
        assert all(32 <= b < 127 for line in _header_lines(out) for b in line)
        assert _hidden(str(msg["Subject"])) == []
        assert "改良工事" in str(msg["Subject"])
        text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert _hidden(text) == []
        assert "\n■ 次の作業\n改良工事" not in text  # no line of the sender's making


def test_file_names_with_bidi_or_nul_are_shown_escaped_to_staff(settings: Settings) -> None:
    """An attachment named with a right-to-left override or a NUL is listed to staff
    with the character escaped, so 請求書\\u202efdp.exe is not read as 請求書exe.pdf."""
    raw = _typed(project="令和8年度 市道中央線道路改良工事", contractor="株式会社山田建設",
                 subject="【電子保証】市道中央線道路改良工事",
                 attachments=[("請求書\u202efdp.exe", b"MZ", "application/octet-stream"),
                              ("認証キー\x00等.pdf", pdfs.corrupt_pdf(), "application/pdf")])
    _, msg = _out(raw, settings)
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "添付　　: 請求書\\u202efdp.exe（" in text
    assert "添付　　: 認証キー\\x00等.pdf（" in text
    assert _hidden(text) == []
    assert all(32 <= b < 127 for line in _header_lines(_out(raw, settings)[0]) for b in line)


@pytest.mark.parametrize(("display_name", "greeting"), [
    ("株式会社山田建設 山田 太郎", "株式会社山田建設 山田 太郎 様"),
    ("山田\u202e太郎", "山田太郎 様"),  # a control removed, the name kept
    ("株式会社山田建設 https://evil.example/login", "ご担当者 様"),
    ("ｗｗｗ．ｅｖｉｌ．ｅｘａｍｐｌｅ", "ご担当者 様"),  # full-width, still a host
    ("山田 evil.example", "ご担当者 様"),
    ("support@evil.example", "ご担当者 様"),
    ("【重要】口座変更のお知らせ", "ご担当者 様"),
    ("山田" * 21, "ご担当者 様"),  # 42 characters: not a name
], ids=["plain", "bidi", "url", "full-width host", "bare host", "address", "message", "long"])
def test_reply_greets_by_name_only_when_it_is_a_plain_name(
        settings: Settings, display_name: str, greeting: str) -> None:
    """The correction's greeting uses the sender's display name only when it is a plain
    name: never a URL, an address or a message the sender would have the office repeat."""
    _, msg = _out(_needs_fix(display_name=display_name), settings)
    assert msg["X-Surety-Verdict"] == "correction"
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert text.splitlines()[0] == greeting
    assert "evil" not in msg.as_string()


def test_reply_quotes_the_subject_without_urls_or_secrets(settings: Settings) -> None:
    """The reply's Subject and its 件名 line quote the sender's subject with each URL
    replaced by （URL省略） and the 認証キー the sender typed into it masked."""
    raw = _needs_fix(subject=f"【電子保証】認証キー {KEY} 詳細は https://evil.example/x と "
                             "ｗｗｗ．ｅｖｉｌ．ｅｘａｍｐｌｅ へ")
    _, msg = _out(raw, settings)
    assert msg["X-Surety-Verdict"] == "correction"
    assert str(msg["Subject"]) == ("【電子保証 再提出のお願い】Re: 【電子保証】認証キー "
                                   "Ab********** 詳細は （URL省略） と （URL省略） へ")
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    quoted = "【電子保証】認証キー Ab********** 詳細は （URL省略） と （URL省略） へ"
    assert f"  件名　　: {quoted}\n" in text
    assert KEY not in msg.as_string()
    assert "evil" not in msg.as_string()


def test_no_subject_carries_a_secret(settings: Settings) -> None:
    """A key that leaked into 工事名 is masked in the staff Subject (staff read it in the
    body); a 認証キー the contractor typed into the subject is masked in the correction's
    Subject; a password typed beside its label is masked in the review Subject."""
    raw = _typed(project=f"令和8年度 市道中央線道路改良工事 {KEY}", contractor="株式会社山田建設",
                 subject="【電子保証】市道中央線道路改良工事")
    _, msg = _out(raw, settings)
    assert msg["X-Surety-Verdict"] == "routed"
    assert str(msg["Subject"]) == ("【電子保証 受付】契約保証 令和8年度 市道中央線道路改良工事 "
                                   "Ab**********（株式会社山田建設）")
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert f"認証キー: {KEY}" in text
    for subject, verdict, shown in [
        ("【電子保証】認証キー Zx98Yw76Vu です", "correction",
         "【電子保証 再提出のお願い】Re: 【電子保証】認証キー Zx******** です"),
        ("ログインできません パスワード：Zx98Yw76Vu", "review",
         "【電子保証 要確認】ログインできません パスワード：Zx********"),
    ]:
        raw = mails.build(from_="山田 太郎 <t-yamada@yamada-kensetsu.example.co.jp>",
                          to=mails.OFFICE_ADDRESS, charset="utf-8", subject=subject,
                          body="入札システムにログインできません。")
        mail = read_message(raw)
        [out] = compose(decide(mail, settings, can_wait=False), mail, settings, NOW)
        assert out.message["X-Surety-Verdict"] == verdict
        assert str(out.message["Subject"]) == shown


def test_a_non_ascii_address_is_shown_in_an_ascii_to_header(settings: Settings) -> None:
    """A reply to an address with a non-ASCII local part (sent in raw UTF-8, RFC 6532)
    keeps the address as the envelope recipient and names it in an ASCII To header."""
    raw = _needs_fix().replace(b"<t-yamada@yamada-kensetsu.example.co.jp>",
                               "<山田@例え.jp>".encode(), 1)
    out, msg = _out(raw, settings)
    assert msg["X-Surety-Verdict"] == "correction"
    assert all(32 <= b < 127 for line in _header_lines(out) for b in line)
    assert str(msg["To"]) == '"山田@例え.jp":;'
    [recipient] = out.recipients
    assert display.mailbox(recipient) == "山田@例え.jp"


_ANY = st.text(st.characters(codec="utf-8", exclude_categories=()), max_size=40)
_NASTY = st.text(st.sampled_from([*BREAKING.values(), "\r", "\n", "\t", "a", "工", " ",
                                  "=", "?", "@", "<", ">", '"', "\\", "\udce5", "\udc81"]),
                 max_size=20)


@settings_(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(subject=_ANY | _NASTY, name=_ANY | _NASTY, filename=_ANY | _NASTY,
       project=_ANY | _NASTY, address=_NASTY.map(lambda s: f"{s}@yamada.example.co.jp"))
def test_compose_never_fails_on_what_a_sender_wrote(
        subject: str, name: str, filename: str, project: str, address: str) -> None:
    """Whatever text the sender controls, every mail is composed, its headers are
    printable ASCII and no line of it holds a control or invisible character."""
    settings = config.parse(stack.office_config(Path("/nonexistent/state.sqlite3")))
    mail = Mail(message_id="<m@yamada.example.co.jp>", subject=subject, from_addr=address,
                from_name=name, reply_to=(), to=(), cc=(), received_at=NOW, body="",
                attachments=(Attachment(filename, "application/pdf", b""),))
    fields = Fields(project_name=project or None, contractor_name=name or None, auth_key=KEY,
                    insurer=subject or None)
    decision = Decision(Verdict.CORRECTION, (
        Outcome(Verdict.ROUTED, Kind.DSURE_KEY, GuaranteeType.CONTRACT, (), (STAFF,), fields),
        Outcome(Verdict.REVIEW, Kind.OTHER, None, ("not-a-submission",), (STAFF,), fields),
        Outcome(Verdict.CORRECTION, Kind.CONFIRMATION_SYSTEM, GuaranteeType.CONTRACT,
                ("insurer-not-supported",), (address,), fields),
    ), sources=(mail.message_id,))
    outs = compose(decision, mail, settings, NOW)
    outs.append(undeliverable_notice(decision, mail, settings, NOW, failed_action="reply-3",
                                     recipients=[address], error=subject))
    outs.append(quarantine_notice(b"", about(mail), settings, NOW, error=subject, attempts=3))
    for out in outs:
        assert all(32 <= b < 127 for line in _header_lines(out) for b in line)
        msg = email.message_from_bytes(out.to_bytes(), policy=email.policy.default)
        assert _hidden(str(msg["Subject"])) == []
        assert KEY not in str(msg["Subject"])
        text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert _hidden(text) == []


@pytest.mark.parametrize(("address", "sent_as"), [
    ("t-yamada@yamada-kensetsu.example.co.jp", "t-yamada@yamada-kensetsu.example.co.jp"),
    ('"yamada taro"@yamada-kensetsu.example.co.jp',
     '"yamada taro"@yamada-kensetsu.example.co.jp'),
    ("山田@例え.jp", "山田@例え.jp"),
    ("山田@例え.jp".encode().decode("ascii", "surrogateescape"), "山田@例え.jp"),  # 8-bit
    ("\udcff@example.co.jp", None),  # bytes that are not UTF-8
    ("t-ya\x00mada@example.co.jp", None), ("t-ya\u202emada@example.co.jp", None),
    ("t-ya mada@example.co.jp", None), ("a(comment)@example.co.jp", None),
    ("a@evil.example,b@example.co.jp", None), ("yamada@", None), ("yamada", None),
])
def test_an_address_is_sent_as_it_is_or_not_at_all(address: str, sent_as: str | None) -> None:
    """The outbox puts an address on the SMTP command line exactly as the sender wrote it
    (raw UTF-8 read as UTF-8), or refuses it: never one the SMTP client would read as
    another address (a comment dropped, a list cut at its comma)."""
    assert display.mailbox(address) == sent_as


@given(st.binary(max_size=64) | st.lists(st.sampled_from([b"a", b"\r", b"\n", b"\r\n", b"."]),
                                       max_size=40).map(b"".join))
def test_originals_get_crlf_line_ends_as_the_regex_gives_them(data: bytes) -> None:
    """The original attached whole keeps every byte but its line ends, each made CRLF."""
    from daemon.compose import crlf_lines  # noqa: PLC0415

    assert crlf_lines(data) == re.sub(rb"\r?\n|\r", b"\r\n", data)
