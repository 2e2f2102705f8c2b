"""Reading rules one at a time: JIS decoding, charset labels and guesses, era dates,
header and address decoding, arrival times, part walking, attachment names, limits and the
documents opened, each with the input that must not match beside the one that must."""

from __future__ import annotations

import base64
import hashlib
import io
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from functools import cache

import pytest
from samples import jis, mails, offices, pdfs

from daemon import pairing, read
from daemon.config import Settings
from daemon.decide import decide
from daemon.documents import _OLE_MAGIC
from daemon.japanese import decode_iso2022jp, decode_text, normalize, normalize_number, parse_date
from daemon.model import Attachment, DocumentStatus, Mail
from daemon.read import (
    ReadLimits,
    decode_words,
    read_headers_only,
    read_message,
    synthetic_message_id,
)

JST = timezone(timedelta(hours=9))
SENDER = "t-yamada@yamada-kensetsu.example.co.jp"
OFFICE = mails.OFFICE_ADDRESS
DATE = "Mon, 06 Apr 2026 09:30:12 +0900"
DATE_AT = datetime(2026, 4, 6, 9, 30, 12, tzinfo=JST)
KEY_BODY = "保証契約番号：2604012345\n認証キー：Ab12Cd34Ef56\n"


def _lines(*lines: str | bytes) -> bytes:
    return b"\r\n".join(x.encode() if isinstance(x, str) else x for x in lines)


def _message(*headers: str | bytes, body: bytes = b"body\r\n") -> bytes:
    """A message from its header lines and body, CRLF line ends."""
    return _lines(*headers) + b"\r\n\r\n" + body


def _part(*headers: str | bytes, body: bytes = b"") -> bytes:
    """One MIME part: header lines, a blank line, the body."""
    return _lines(*headers) + b"\r\n\r\n" + body


def _mixed(*parts: bytes, top: tuple[str, ...] = ()) -> bytes:
    """A multipart/mixed message from the contractor holding these parts."""
    body = b"".join(b"--BND\r\n" + p + b"\r\n" for p in parts) + b"--BND--\r\n"
    return _message(f"From: {SENDER}", f"To: {OFFICE}", "Subject: test", f"Date: {DATE}",
                    "MIME-Version: 1.0", *top, 'Content-Type: multipart/mixed; boundary="BND"',
                    body=body)


def _text(text: str = "本文") -> bytes:
    return _part("Content-Type: text/plain; charset=utf-8", body=text.encode())


def _file(name: str, data: bytes, ctype: str = "application/octet-stream") -> bytes:
    """An attachment named the plain way (ASCII, quoted)."""
    return _part(f'Content-Type: {ctype}; name="{name}"',
                 f'Content-Disposition: attachment; filename="{name}"', body=data)


@cache
def _blank_pdf(password: str | None = None) -> bytes:
    """A one-page PDF without text, AES-encrypted when a password is given."""
    from pypdf import PdfWriter  # noqa: PLC0415

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    out = io.BytesIO()
    writer.write(out)
    if password is None:
        return out.getvalue()
    return pdfs.encrypt_pdf(out.getvalue(), user_password=password,
                            owner_password="Own-" + password, seed="test_mut_read")


def _only(mail_attachments: tuple[Attachment, ...]) -> Attachment:
    [attachment] = mail_attachments
    return attachment


# --- japanese.normalize ----------------------------------------------------------------------

def test_normalize_folds_line_ends_blanks_and_dashes() -> None:
    """CRLF and CR become LF, blank runs (also U+3000) one space, a dash between
    alphanumerics an ASCII hyphen; a long-vowel mark after kana stays."""
    text = "保証番号\r\n２０２６－０１２３\r認証ｷｰ\u3000\t Ab１"
    assert normalize(text) == "保証番号\n2026-0123\n認証キー Ab1"


def test_normalize_number_maps_every_dash_and_drops_blanks() -> None:
    """A number keeps its leading and spaced dashes as ASCII hyphens, and loses every blank
    and line break."""
    assert normalize_number("―２０２６　ー０１２３\n") == "-2026-0123"
    assert normalize_number(" R8 - 0123 ") == "R8-0123"


# --- japanese.decode_iso2022jp -----------------------------------------------------------------

# CP932 writes these JIS X 0208 codes as other characters than Python's iso2022_jp codec.
_CP932_FORMS = {"\u301c": "\uff5e", "\u2016": "\u2225", "\u2212": "\uff0d",
                "\u00a2": "\uffe0", "\u00a3": "\uffe1", "\u00ac": "\uffe2"}


def test_every_jis_x_0208_character_decodes_as_windows_writes_it() -> None:
    """Each of the 6,879 JIS X 0208 characters decodes to what Python's codec gives, in its
    CP932 form (WAVE DASH as FULLWIDTH TILDE...): the JIS to Shift_JIS arithmetic holds on
    every row and cell, odd and even."""
    checked = 0
    for j1 in range(0x21, 0x7F):
        for j2 in range(0x21, 0x7F):
            data = b"\x1b$B" + bytes([j1, j2]) + b"\x1b(B"
            try:
                expected = data.decode("iso2022_jp")
            except UnicodeDecodeError:
                continue
            assert decode_iso2022jp(data) == _CP932_FORMS.get(expected, expected), data
            checked += 1
    assert checked == 6879


def test_nec_and_ibm_extension_rows_decode() -> None:
    """Outlook's NEC special row (13) and the NEC-selected IBM rows (89-92) decode."""
    text = "①⑳Ⅰ㈱㍻纊褜鍈銈蓜俉炻昱棈鋹曻彅丨仡仼伀伃伹佖侒侊侚侔"
    data = jis.outlook_iso2022jp(text)
    assert decode_iso2022jp(data) == text


def test_escape_sequences_switch_between_ascii_jis_and_katakana() -> None:
    """ESC $ B and ESC $ @ start JIS, ESC ( B and ESC ( J end it, ESC ( I starts half-width
    katakana (0x21-0x5F only); text before the first escape and after the last is ASCII."""
    data = b"No.\x1b$B$3$s\x1b(B1\x1b$@$K\x1b(J2\x1b(I!1_\x1b(B3\x1b$B$A\x1b(B"
    assert decode_iso2022jp(data) == "No.こん1に2｡ｱﾟ3ち"
    # 0x20 and 0x60 are outside the katakana set: read as ASCII.
    assert decode_iso2022jp(b"\x1b(I1 `1\x1b(B") == "ｱ `ｱ"
    # Dollar signs and parentheses in plain text are not escapes.
    assert decode_iso2022jp(b"a$@bc(Id") == "a$@bc(Id"
    # JIS text whose writer never switched back still ends well.
    assert decode_iso2022jp(b"\x1b$B$3") == "こ"


def test_an_unknown_escape_is_kept_as_text() -> None:
    """An escape sequence that is not one of JIS's designations stays in the text."""
    assert decode_iso2022jp(b"a\x1b$Ab\x1b") == "a\x1b$Ab\x1b"


def test_jis_x_0212_is_decoded() -> None:
    """補助漢字 (ESC $ ( D) between JIS X 0208 and ASCII, as some Unix mailers write a name
    with a rare kanji; a line end ends the run as it does a JIS X 0208 one."""
    assert decode_iso2022jp(b"\x1b$B;3\x1b$(D0!\x1b$BED\x1b(B 1") == "山丂田 1"
    assert decode_iso2022jp(b"\x1b$(D0!\r\n0!") == "丂\r\n0!"


def test_line_ends_end_a_jis_run_but_not_katakana() -> None:
    """A CR or LF inside a JIS run ends it (broken writers forget ESC ( B); inside half-width
    katakana the mode goes on."""
    assert decode_iso2022jp(b"\x1b$B$3\r$3\x1b(B") == "こ\r$3"
    assert decode_iso2022jp(b"\x1b$B$3\n$3\x1b(B") == "こ\n$3"
    assert decode_iso2022jp(b"\x1b$B$3\r\n$3\x1b(B") == "こ\r\n$3"
    assert decode_iso2022jp(b"\x1b(I1\r\n1\x1b(B") == "ｱ\r\nｱ"


@pytest.mark.parametrize(("data", "start", "end", "reason"), [
    (b"No.\x1b$(D!!\x1b(B", 7, 9, "no JIS X 0212 character"),
    (b"\x1b$(D\x200!", 4, 6, "byte outside JIS X 0212"),
    (b"\x1b$(D0", 4, 6, "byte outside JIS X 0212"),  # cut short
    (b"\x1b$B$3$", 5, 6, "truncated JIS character"),
    (b"ab\x80", 2, 3, "8-bit byte in 7-bit text"),
    (b"\x1b(I1\xb1", 4, 5, "8-bit byte in 7-bit text"),
    (b"\x1b$B$3\x20\x21", 5, 7, "byte outside JIS X 0208"),
    (b"\x1b$B$3\x21\x20", 5, 7, "byte outside JIS X 0208"),
    (b"\x1b$B\x7f\x21", 3, 5, "byte outside JIS X 0208"),
    (b"\x1b$B\x21\x7f", 3, 5, "byte outside JIS X 0208"),
    (b"\x1b$B$3~!", 5, 7, "illegal multibyte sequence"),  # in range, no CP932 character
])
def test_undecodable_bytes_are_reported_where_they_are(
        data: bytes, start: int, end: int, reason: str) -> None:
    """The error names the codec, the bytes, where the bad sequence starts and ends and why;
    nothing is replaced."""
    with pytest.raises(UnicodeDecodeError) as caught:
        decode_iso2022jp(data)
    err = caught.value
    assert (err.encoding, err.object, err.start, err.end, err.reason) == (
        "iso2022_jp", data, start, end, reason)


# --- japanese.decode_text --------------------------------------------------------------------

def test_a_declared_charset_is_read_the_windows_way() -> None:
    """ISO-2022-JP is read with the CP932 extensions and Shift_JIS as CP932, whatever the
    case of the label or quotes around it: ～ stays FULLWIDTH TILDE, ㈱ and ① survive."""
    text = "㈱北斗土木 ① 工期：4月～5月"
    outlook = jis.outlook_iso2022jp(text)
    assert decode_text(outlook, "ISO-2022-JP") == text
    assert decode_text(outlook, ' "iso-2022-jp" ') == text
    strict = "工期：4月\u301c5月".encode("iso2022_jp")  # JIS 0x2141, as Thunderbird writes it
    assert decode_text(strict, "iso-2022-jp") == "工期：4月\uff5e5月"
    assert decode_text(strict, '"ISO-2022-JP"') == "工期：4月\uff5e5月"
    assert decode_text(text.encode("cp932"), "Shift_JIS") == text
    assert decode_text("～".encode("cp932"), "sjis") == "\uff5e"


def test_a_label_outside_the_table_is_used_as_python_names_it() -> None:
    """A European label is honoured (café stays café), quoted or not."""
    assert decode_text(b"caf\xe9", "ISO-8859-1") == "café"
    assert decode_text(b"caf\xe9", '"ISO-8859-1"') == "café"


def test_euc_labels_are_read_as_euc() -> None:
    """EUC-JP, also as X-EUC-JP (old Unix mailers), is read as EUC (with JIS X 0213's ①),
    not guessed."""
    text = "保証契約番号①：2604012345"
    data = text.encode("euc_jis_2004")
    assert decode_text(data, "X-EUC-JP") == text
    assert decode_text(data, "euc-jp") == text


def test_a_wrong_label_falls_back_to_a_guess() -> None:
    """Shift_JIS text labelled UTF-8 or with a label Python does not know is still read."""
    text = "保証契約番号：２６０４"
    assert decode_text(text.encode("cp932"), "utf-8") == text
    assert decode_text(text.encode("cp932"), "x-unknown") == text


def test_unlabelled_text_is_guessed() -> None:
    """Without a label: JIS escapes (pre-MIME Japanese mail), UTF-8, CP932 and EUC-JP are
    each recognised; ASCII stays ASCII."""
    assert decode_text("保証契約番号".encode("iso2022_jp"), None) == "保証契約番号"
    assert decode_text("保証".encode(), None) == "保証"  # also valid CP932, as 菫晁ｨｼ
    assert decode_text("保証".encode("cp932"), None) == "保証"
    works = "工事名：市道中央線道路改良工事"
    assert decode_text(works.encode("euc_jis_2004"), None) == works
    assert decode_text(b"plain \x1b[1mtext", None) == "plain \x1b[1mtext"


def test_text_no_charset_fits_shows_the_replacement_character() -> None:
    """When nothing decodes strictly the bad byte becomes U+FFFD, visibly."""
    assert decode_text(b"caf\xe9", None) == "caf\ufffd"


# --- japanese.parse_date ---------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("令和元年5月1日", date(2019, 5, 1)),
    ("令和99年1月1日", date(2117, 1, 1)),
    ("平成8年4月1日", date(1996, 4, 1)),
    ("昭和64年1月7日", date(1989, 1, 7)),
    ("H8.4.1", date(1996, 4, 1)),
    ("1900年4月1日", date(1900, 4, 1)),
    ("令和100年4月1日 令和8年4月1日", date(2026, 4, 1)),
    ("受付 26/4/1 契約日 2026年4月1日", date(2026, 4, 1)),
    ("2026年2月30日 2026年3月1日", date(2026, 3, 1)),
    ("令和8年度 2026-04-15", date(2026, 4, 15)),
])
def test_the_first_real_date_is_taken(text: str, expected: date) -> None:
    """Era years up to 99 count, three-digit era years and two-digit Western years do not,
    impossible dates are skipped; the next date in the text is taken instead."""
    assert parse_date(normalize(text)) == expected


@pytest.mark.parametrize("text", ["令和100年4月1日", "26/4/1", "2026年2月30日", "1899年1月1日"])
def test_no_date_when_none_is_real(text: str) -> None:
    """Text with only an impossible or two-digit-year date gives no date."""
    assert parse_date(normalize(text)) is None


# --- read_message: headers ------------------------------------------------------------------

def test_every_address_header_is_read_lower_cased() -> None:
    """From (name and address), To, Cc and Reply-To come decoded, addresses lower-cased,
    names without an address dropped."""
    raw = _message(
        "From: =?UTF-8?B?5bGx55Sw5bu66Kit?= <T-Yamada@Yamada-Kensetsu.example.co.jp>",
        "To: Keiyaku <KEIYAKU@city.example.jp>, zaisei@city.example.jp, undisclosed",
        "Cc: =?ISO-2022-JP?B?GyRCSV0+WjJxPFIbKEI=?= <Denshi-Hosho@Sompo.example.jp>",
        "Reply-To: jimu@yamada-kensetsu.example.co.jp",
        "Subject: test", f"Date: {DATE}")
    mail = read_message(raw)
    assert (mail.from_name, mail.from_addr) == ("山田建設", SENDER)
    assert mail.to == ("keiyaku@city.example.jp", "zaisei@city.example.jp")
    assert mail.cc == ("denshi-hosho@sompo.example.jp",)
    assert mail.reply_to == ("jimu@yamada-kensetsu.example.co.jp",)
    assert mail.recipients == ("keiyaku@city.example.jp", "zaisei@city.example.jp",
                               "denshi-hosho@sompo.example.jp")


def test_a_message_without_addresses_has_empty_ones() -> None:
    """No From, To, Cc or Reply-To: empty name and address, no recipients, no subject."""
    mail = read_message(_message(f"Date: {DATE}", "Message-ID: <x@y.jp>"))
    assert (mail.from_name, mail.from_addr, mail.to, mail.cc, mail.reply_to) == (
        "", "", (), (), ())
    assert mail.subject == ""


def test_headers_are_decoded_in_order_and_the_first_of_a_name_counts() -> None:
    """Every header comes decoded, in order; of two Subjects and Message-IDs the first
    counts, trimmed; header names match whatever their case."""
    raw = _message(f"FROM: {SENDER}", "SUBJECT:  =?UTF-8?B?44CQ6Zu75a2Q5L+d6Ki844CR?=  ",
                   "Subject: second", "MESSAGE-ID:  <first@yamada.example.jp> ",
                   "Message-ID: <second@yamada.example.jp>", "X-Note: a\r\n  b   c")
    mail = read_message(raw)
    assert mail.headers == (
        ("FROM", SENDER), ("SUBJECT", "【電子保証】"), ("Subject", "second"),
        ("MESSAGE-ID", "<first@yamada.example.jp>"),
        ("Message-ID", "<second@yamada.example.jp>"), ("X-Note", "a b c"))
    assert mail.subject == "【電子保証】"
    assert mail.message_id == "<first@yamada.example.jp>"
    assert mail.from_addr == SENDER
    assert mail.raw == raw


def test_encoded_words_in_every_charset_the_label_names() -> None:
    """Encoded words are decoded by their own charset (EUC-JP, Latin-1 too), joined to the
    plain text around them, runs of blanks folded to one."""
    euc = "=?EUC-JP?B?" + base64.b64encode(
        "保証契約番号".encode("euc_jis_2004")).decode() + "?="
    assert decode_words(f"{euc}  2604012345") == "保証契約番号 2604012345"
    assert decode_words("=?ISO-8859-1?Q?caf=E9?= au  lait") == "café au lait"
    jis_word = base64.b64encode("保証".encode("iso2022_jp")).decode()
    assert decode_words(f"=?ISO-2022-JP?B?{jis_word}?=") == "保証"
    assert decode_words("plain   words\r\n\there") == "plain words here"


def test_a_broken_encoded_word_is_left_as_it_came() -> None:
    """An encoded word whose base64 cannot be decoded is kept, blanks folded; so is text
    with =? that is no encoded word."""
    assert decode_words("=?UTF-8?B?a?=   x") == "=?UTF-8?B?a?= x"
    assert decode_words("a  =? b") == "a =? b"


def test_raw_8bit_and_raw_jis_headers_are_decoded() -> None:
    """A Subject sent as raw Shift_JIS or UTF-8 bytes, or as raw JIS escapes without
    encoded words (pre-MIME Japanese mail), is read; one raw 0x80 byte is read too."""
    for data in ("【電子保証】山田建設".encode("cp932"), "【電子保証】山田建設".encode(),
                 "【電子保証】山田建設".encode("iso2022_jp")):
        mail = read_message(_message(f"From: {SENDER}", b"Subject: " + data))
        assert mail.subject == "【電子保証】山田建設"
    assert read_message(_message(b"Subject: a\x80b")).subject == "a\x80b"
    assert read_message(_message(b"Subject: a\xffb")).subject == "a\uf8f3b"


# --- read_message: pre-MIME and non-MIME messages ------------------------------------------

def test_a_pre_mime_jis_message_is_read_and_decided(settings: Settings) -> None:
    """A message in 7-bit JIS without any MIME header (RFC 1468) has its body and Subject
    decoded, so the typed 保証契約番号 and 認証キー are found."""
    sent = read_message(mails.dsure_key_mail(in_body=True))
    raw = _message(f"From: {SENDER}", f"To: {OFFICE}",
                   b"Subject: " + sent.subject.encode("iso2022_jp"), f"Date: {DATE}",
                   "Message-ID: <premime@yamada-kensetsu.example.co.jp>",
                   body=sent.body.replace("\n", "\r\n").encode("iso2022_jp"))
    mail = read_message(raw)
    assert (mail.subject, mail.body) == (sent.subject, sent.body.replace("\n", "\r\n"))
    assert mail.is_mime is True  # 7-bit: a valid RFC 5322 message
    decision = decide(mail, settings)
    [outcome] = decision.outcomes
    assert (outcome.kind.value, outcome.problems) == ("dsure-key", ())
    assert (outcome.fields.contract_number, outcome.fields.auth_key) == (
        "2604012345", "NTiMnD2GV9qJ")


@pytest.mark.parametrize("header", ["From: a@b.jp", "Subject: x", f"Date: {DATE}", "To: a@b.jp"])
def test_one_known_header_makes_a_header_block(header: str) -> None:
    """From, Subject, Date or To alone makes the first lines headers: the body is what
    follows the blank line."""
    mail = read_message(_message("X-Other: y", header, body="本文".encode("cp932")))
    assert mail.body == "本文"


def test_without_known_headers_the_whole_message_is_text() -> None:
    """Without From, Subject, Date or To the whole input is the body, and not MIME."""
    raw = _message("X-Other: y", body="本文".encode("cp932"))
    mail = read_message(raw)
    assert mail.body == "X-Other: y\r\n\r\n本文"
    assert mail.is_mime is False
    assert read_message(b"just some words\n").is_mime is False


@pytest.mark.parametrize(("headers", "body", "is_mime"), [
    (("MIME-Version: 1.0",), "本文".encode("cp932"), True),
    (("Content-Type: text/plain; charset=shift_jis",), "本文".encode("cp932"), True),
    ((), "本文".encode("cp932"), False),
    ((), b"abc\x80", False),
    ((), b"abc\x7f", True),
])
def test_8bit_text_without_mime_headers_is_not_mime(
        headers: tuple[str, ...], body: bytes, is_mime: bool, settings: Settings) -> None:
    """A message is MIME when it declares it (MIME-Version or Content-Type) or is 7-bit;
    8-bit text without either is not, and the decision says so."""
    raw = _message(f"From: {SENDER}", f"To: {OFFICE}", "Subject: x", *headers, body=body)
    mail = read_message(raw)
    assert mail.is_mime is is_mime
    problems = [p for o in decide(mail, settings).outcomes for p in o.problems]
    assert ("not-mime" in problems) is not is_mime


def test_defects_are_named() -> None:
    """A multipart without a boundary is reported by the parser's defect names, sorted, and
    its text is neither body nor attachment."""
    raw = _message(f"From: {SENDER}", "MIME-Version: 1.0", "Content-Type: multipart/mixed",
                   body=b"hello\r\n")
    mail = read_message(raw)
    assert mail.defects == ("MultipartInvariantViolationDefect", "NoBoundaryInMultipartDefect")
    assert (mail.body, mail.attachments) == ("", ())
    assert read_message(mails.dsure_key_mail()).defects == ()


# --- read_message: arrival time --------------------------------------------------------------

def _dated(*extra: str) -> bytes:
    return _message(f"From: {SENDER}", "Subject: x", *extra)


def test_the_servers_arrival_time_comes_first() -> None:
    """INTERNALDATE, when given, beats the Received and Date headers and ``now``."""
    at = datetime(2026, 4, 7, 8, 0, tzinfo=UTC)
    raw = _dated("Received: from a by b; Mon, 06 Apr 2026 10:00:00 +0900", f"Date: {DATE}")
    now = datetime(2026, 5, 1, tzinfo=UTC)
    assert read_message(raw, at, now=now).received_at == at


def test_the_newest_readable_received_header_comes_next() -> None:
    """Without it, the first Received header whose date reads (after the last ';'), then
    the Date header, then ``now``."""
    now = datetime(2026, 5, 1, tzinfo=UTC)
    top = "Received: from mx (mx [192.0.2.1]) (authenticated; TLS) by mail.city.example.jp; " \
          "Mon, 06 Apr 2026 10:00:00 +0900"
    older = "Received: from pc by mx; Mon, 06 Apr 2026 09:45:00 +0900"
    assert read_message(_dated(top, older, f"Date: {DATE}"), now=now).received_at == (
        datetime(2026, 4, 6, 10, 0, tzinfo=JST))
    assert read_message(_dated("Received: from a by b", older, f"Date: {DATE}"),
                        now=now).received_at == datetime(2026, 4, 6, 9, 45, tzinfo=JST)
    assert read_message(_dated("Received: no date here", f"Date: {DATE}"),
                        now=now).received_at == DATE_AT
    assert read_message(_dated(f"Date: {DATE}"), now=now).received_at == DATE_AT
    assert read_message(_dated("Date: yesterday"), now=now).received_at == now
    assert read_message(_dated(), now=now).received_at == now


def test_without_any_time_the_clock_gives_an_aware_time() -> None:
    """With no header time and no ``now``, the current time, timezone-aware."""
    before = datetime.now(UTC)
    got = read_message(_dated()).received_at
    assert before <= got <= datetime.now(UTC)


def test_a_date_without_a_zone_is_utc() -> None:
    """-0000 (no zone known) is read as UTC; a given zone is kept."""
    got = read_message(_dated("Date: Mon, 06 Apr 2026 09:30:12 -0000")).received_at
    assert got == datetime(2026, 4, 6, 9, 30, 12, tzinfo=UTC)
    assert got.tzinfo is not None
    kept = read_message(_dated(f"Date: {DATE}")).received_at
    assert kept.utcoffset() == timedelta(hours=9)


# --- read_message: parts ---------------------------------------------------------------------

def test_body_parts_are_joined_by_line_breaks_and_empty_ones_dropped() -> None:
    """Each inline text part adds its text; blank parts add nothing."""
    mail = read_message(_mixed(_text("一つ目"), _text("  \r\n"), _text("二つ目")))
    assert mail.body == "一つ目\n二つ目"
    assert mail.attachments == ()


def test_an_html_body_is_read_as_text() -> None:
    """Tags are dropped, br and block elements (p, div, li, a table's rows) make lines of
    their own, entities are decoded; no line is empty but where a <br> made one."""
    html = ("<div>保証契約番号</div><p>2604012345<br>認証キー</p><table><tr><td>Ab12</td></tr>"
            "<tr><td>Cd34</td></tr></table><ul><li>契約保証</li></ul><span>x</span>&amp;")
    raw = _message(f"From: {SENDER}", "MIME-Version: 1.0",
                   "Content-Type: text/html; charset=utf-8", body=html.encode())
    assert read_message(raw).body == (
        "保証契約番号\n2604012345\n認証キー\nAb12\nCd34\n契約保証\nx&")


def test_a_plain_text_body_keeps_angle_brackets_and_entities() -> None:
    """Plain text is not read as HTML: <address> and &amp; stay as written."""
    raw = _message(f"From: {SENDER}", "MIME-Version: 1.0",
                   "Content-Type: text/plain; charset=utf-8",
                   body="山田 <t-yamada@example.jp> A&amp;B".encode())
    assert read_message(raw).body == "山田 <t-yamada@example.jp> A&amp;B"


def test_a_body_is_read_by_its_declared_charset() -> None:
    """A text part labelled EUC-JP is read as EUC-JP (a guess would read CP932 here)."""
    text = "保証契約番号：2604012345"
    raw = _message(f"From: {SENDER}", "MIME-Version: 1.0",
                   "Content-Type: text/plain; charset=euc-jp", body=text.encode("euc_jis_2004"))
    assert read_message(raw).body == text


def test_which_parts_are_body_and_which_attachments() -> None:
    """Inline text without a name is body; named text, text marked as an attachment and
    anything that is not text are attachments (unnamed ones get a name from their type)."""
    raw = _mixed(
        _text("本文"),
        _part('Content-Type: text/plain; charset=utf-8; name="memo.txt"', body=b"memo"),
        _part("Content-Type: text/plain; charset=utf-8", "Content-Disposition: attachment",
              body=b"loose"),
        _part("Content-Type: text/html; charset=utf-8", body=b"<p>html</p>"),
        _part("Content-Type: application/vnd.ms-excel", body=b"xls"),
        _part("Content-Type: image/png", "Content-Disposition: inline", body=b"png"),
    )
    mail = read_message(raw)
    assert mail.body == "本文\nhtml"
    assert [(a.filename, a.content_type, a.data) for a in mail.attachments] == [
        ("memo.txt", "text/plain", b"memo"),
        ("attachment.plain", "text/plain", b"loose"),
        ("attachment.vnd-ms-excel", "application/vnd.ms-excel", b"xls"),
        ("attachment.png", "image/png", b"png"),
    ]


def test_attachment_content_is_decoded_from_its_transfer_encoding() -> None:
    """Base64 and quoted-printable content arrive as the original bytes."""
    data = bytes(range(256))
    b64 = base64.encodebytes(data)
    raw = _mixed(_text(), _part("Content-Type: application/octet-stream; name=a.bin",
                                "Content-Transfer-Encoding: base64", body=b64),
                 _part("Content-Type: application/octet-stream; name=b.bin",
                       "Content-Transfer-Encoding: quoted-printable", body=b"caf=E9"))
    assert [a.data for a in read_message(raw).attachments] == [data, b"caf\xe9"]


def _nested(depth: int) -> bytes:
    """A message whose text part sits ``depth`` multipart levels down."""
    inner = _part("Content-Type: text/plain; charset=utf-8", body="深い本文".encode())
    for level in reversed(range(1, depth)):
        inner = _part(f'Content-Type: multipart/mixed; boundary="L{level}"',
                      body=b"--L%d\r\n%s\r\n--L%d--\r\n" % (level, inner, level))
    return _message(f"From: {SENDER}", "Subject: x", "MIME-Version: 1.0",
                    'Content-Type: multipart/mixed; boundary="L0"',
                    body=b"--L0\r\n%s\r\n--L0--\r\n" % inner)


def test_parts_are_followed_eight_levels_deep_and_no_deeper() -> None:
    """A part eight multipart levels down is read; one nine levels down is not."""
    assert read_message(_nested(8)).body == "深い本文"
    assert read_message(_nested(9)).body == ""


def test_a_forwarded_message_is_followed() -> None:
    """A message/rfc822 part's own text and attachments count."""
    inner = _mixed(_text("転送された本文"), _file("keys.bin", b"k"))
    raw = _mixed(_text("転送します"), _part("Content-Type: message/rfc822", body=inner))
    mail = read_message(raw)
    assert mail.body == "転送します\n転送された本文"
    assert [a.filename for a in mail.attachments] == ["keys.bin"]


# --- attachment names ------------------------------------------------------------------------

def _named(*headers: str | bytes) -> str:
    return _only(read_message(_mixed(_text(), _part(*headers, body=b"x"))).attachments).filename


def test_the_disposition_file_name_beats_the_type_name() -> None:
    """filename= in Content-Disposition is the name; name= in Content-Type only stands in
    when the disposition gives none, or an empty one."""
    assert _named('Content-Type: application/octet-stream; name="type.bin"',
                  'Content-Disposition: attachment; filename="disposition.bin"') == (
        "disposition.bin")
    assert _named('Content-Type: application/octet-stream; name="type.bin"') == "type.bin"
    assert _named('Content-Type: application/octet-stream; name="type.bin"',
                  'Content-Disposition: attachment; filename=""') == "type.bin"
    assert _named("Content-Type: application/octet-stream") == "attachment.octet-stream"


def test_an_rfc2231_type_name_is_decoded_by_its_charset() -> None:
    """name*=EUC-JP''... in Content-Type (with an empty filename) is read as EUC-JP."""
    assert _named("Content-Type: application/pdf; name*=euc-jp''%CA%DD%BE%DA.pdf",
                  'Content-Disposition: attachment; filename=""') == "保証.pdf"


def test_raw_8bit_rfc2231_name_does_not_stop_the_reading() -> None:
    """Raw 8-bit bytes inside an RFC 2231 name (no charset can read what the parser left
    of them) give the default name instead of an exception."""
    name = b"Content-Type: application/pdf; name*=shift_jis''" + "保証.pdf".encode(
        "cp932")
    assert _named(name, 'Content-Disposition: attachment; filename=""') == "attachment.pdf"


@pytest.mark.parametrize("headers", [
    ("Content-Type: application/pdf", "Content-Transfer-Encoding: 8bit",
     'Content-Disposition: attachment; filename="認証キー.pdf"'),
    ('Content-Type: application/pdf; name="認証キー.pdf"', "Content-Transfer-Encoding: 8bit"),
    ("Content-Type: application/pdf", "Content-Disposition: attachment; filename=認証キー.pdf"),
    ("Content-Type: application/pdf", 'Content-Disposition: attachment; filename="認証キー.pdf'),
])
def test_raw_8bit_names_wherever_they_are(headers: tuple[str, ...]) -> None:
    """A UTF-8 name sent as raw bytes is read from Content-Disposition or Content-Type,
    quoted, unquoted or with its closing quote missing."""
    assert _named(*(h.encode() for h in headers)) == "認証キー.pdf"


def test_raw_shift_jis_names_are_decoded() -> None:
    """A Shift_JIS name sent as raw bytes (Becky!, old Outlook Express) is decoded."""
    assert _named(b"Content-Type: application/pdf",
                  b'Content-Disposition: attachment; filename="' + "認証キー.pdf".encode("cp932")
                  + b'"') == "認証キー.pdf"


def test_names_keep_their_case_and_lose_quotes_and_blanks() -> None:
    """An upper-case name keeps every letter (an X at either end included)."""
    assert _named('Content-Type: application/octet-stream; name="XFORM.DOCX"') == "XFORM.DOCX"
    assert _named('Content-Disposition: attachment; filename=" =?UTF-8?B?IuaknOaVsCI=?= "',
                  "Content-Type: application/octet-stream") == "検数"


# --- attachments: limits ---------------------------------------------------------------------

def test_a_message_over_the_size_limit_is_read_by_its_headers_only() -> None:
    """Over ``message_bytes`` only the headers are read and one placeholder says why; at
    the limit the message is read in full."""
    raw = _mixed(_text(KEY_BODY), top=("Message-ID: <big@yamada.example.jp>",))
    at = datetime(2026, 4, 7, 8, 0, tzinfo=UTC)
    big = read_message(raw, at, limits=ReadLimits(message_bytes=len(raw) - 1))
    assert (big.subject, big.from_addr, big.message_id, big.received_at, big.body) == (
        "test", SENDER, "<big@yamada.example.jp>", at, "")
    assert big.attachments == (Attachment(
        "(message content)", "application/octet-stream", b"", DocumentStatus.TOO_LARGE,
        detail=f"message over {len(raw) - 1} bytes"),)
    assert big.raw == raw
    whole = read_message(raw, at, limits=ReadLimits(message_bytes=len(raw)))
    assert whole.body == KEY_BODY


def test_too_large_without_header_time_takes_now() -> None:
    """A message over the size limit without Date or Received gets ``now``."""
    now = datetime(2026, 4, 7, 8, 0, tzinfo=UTC)
    raw = _message(f"From: {SENDER}", "Subject: x", body=b"x" * 100)
    assert read_message(raw, now=now, limits=ReadLimits(message_bytes=50)).received_at == now


def test_attachments_over_the_count_limit_are_summed_up() -> None:
    """The first ``attachments`` parts are read; the rest are one too-large placeholder
    saying how many; at the limit there is none."""
    files = [_file(f"f{i}.bin", b"x") for i in range(3)]
    three = read_message(_mixed(_text(), *files), limits=ReadLimits(attachments=2))
    assert [a.filename for a in three.attachments] == ["f0.bin", "f1.bin", "(1 more)"]
    assert three.attachments[-1] == Attachment(
        "(1 more)", "application/octet-stream", b"", DocumentStatus.TOO_LARGE,
        detail="over 2 attachments")
    two = read_message(_mixed(_text(), *files[:2]), limits=ReadLimits(attachments=2))
    assert [a.filename for a in two.attachments] == ["f0.bin", "f1.bin"]


def test_an_attachment_over_the_byte_limit_is_not_opened() -> None:
    """An attachment over ``attachment_bytes`` is kept unopened as too large; one at the
    limit is opened."""
    pdf = _blank_pdf()
    raw = _mixed(_text(), _file("keys.pdf", pdf, "application/pdf"))
    over = _only(read_message(raw, limits=ReadLimits(attachment_bytes=len(pdf) - 1)).attachments)
    assert over == Attachment("keys.pdf", "application/pdf", pdf, DocumentStatus.TOO_LARGE,
                              detail=f"over {len(pdf) - 1} bytes")
    at = _only(read_message(raw, limits=ReadLimits(attachment_bytes=len(pdf))).attachments)
    assert at.status is DocumentStatus.NO_TEXT


# --- attachments: what is opened how ---------------------------------------------------------

def _read(name: str, data: bytes, ctype: str, body: str = "本文") -> Attachment:
    return _only(read_message(_mixed(_text(body), _file(name, data, ctype))).attachments)


def test_pdfs_are_opened_by_name_label_or_content() -> None:
    """A file named .pdf (any case), labelled application/pdf, or starting %PDF- is read
    as a PDF; other content under another name is not."""
    junk = b"%PDF-1.4 junk"
    assert _read("KEYS.PDF", b"junk", "application/octet-stream") == Attachment(
        "KEYS.PDF", "application/octet-stream", b"junk", DocumentStatus.UNREADABLE,
        detail="not a PDF file")
    assert _read("keys", b"junk", "application/pdf").detail == "not a PDF file"
    assert _read("keys.dat", junk, "application/octet-stream").detail.startswith("corrupt PDF")
    assert _read("keys.dat", b"%PDF junk", "application/octet-stream") == Attachment(
        "keys.dat", "application/octet-stream", b"%PDF junk", DocumentStatus.SKIPPED,
        detail="format not read")
    pdf = _read("keys.pdf", _blank_pdf(), "application/pdf")
    assert (pdf.status, pdf.detail, pdf.data) == (
        DocumentStatus.NO_TEXT, "no text layer (a scan?)", _blank_pdf())


def test_an_encrypted_pdf_opens_with_a_password_from_the_body_or_given() -> None:
    """The password written in the mail, or one passed in, opens the PDF; without one it
    stays encrypted."""
    locked = _blank_pdf("Kk2604tot")
    raw = _mixed(_text("パスワード：Kk2604tot"), _file("policy.pdf", locked, "application/pdf"))
    assert _only(read_message(raw).attachments).status is DocumentStatus.NO_TEXT
    bare = _mixed(_text("本文"), _file("policy.pdf", locked, "application/pdf"))
    assert _only(read_message(bare).attachments).status is DocumentStatus.ENCRYPTED
    given = read_message(bare, passwords=["Kk2604tot"])
    assert _only(given.attachments).status is DocumentStatus.NO_TEXT


def test_office_files_are_opened_by_name() -> None:
    """.docx (any case) is read as Word; an encrypted one without its password says so."""
    docx = offices.form_docx(insurer="sompo", policy_number="SJ26-0412345",
                             view_password="Vw9xQ2mL")
    got = _read("FORM.DOCX", docx, "application/octet-stream")
    assert (got.filename, got.status, got.data) == ("FORM.DOCX", DocumentStatus.TEXT, docx)
    assert "SJ26-0412345" in got.text
    locked = _OLE_MAGIC + bytes(504)
    assert _read("form.docx", locked, "application/octet-stream") == Attachment(
        "form.docx", "application/octet-stream", locked, DocumentStatus.ENCRYPTED,
        detail="encrypted; no password given")


def test_an_encrypted_office_file_opens_with_the_password_from_the_body() -> None:
    """A password-protected Word form opens with the password written in the mail."""
    docx = offices.form_docx(insurer="sompo", policy_number="SJ26-0412345",
                             view_password="Vw9xQ2mL")
    locked = offices.encrypt_ooxml(docx, "Pw4docx9")
    got = _read("form.docx", locked, "application/octet-stream", body="パスワード：Pw4docx9")
    assert got.status is DocumentStatus.TEXT
    assert "SJ26-0412345" in got.text


def test_text_files_are_read_by_label_or_name() -> None:
    """A text/* attachment or a .txt file (any label, any case) is read as text, decoded
    by guessing; other files are skipped."""
    csv = "番号,2604012345".encode("cp932")
    assert _read("list.csv", csv, "text/csv") == Attachment(
        "list.csv", "text/csv", csv, DocumentStatus.TEXT, "番号,2604012345")
    assert _read("KEY.TXT", "認証キー".encode("iso2022_jp"), "application/octet-stream").text == (
        "認証キー")
    assert _read("photo.jpg", b"\xff\xd8", "image/jpeg") == Attachment(
        "photo.jpg", "image/jpeg", b"\xff\xd8", DocumentStatus.SKIPPED, detail="format not read")


def test_a_zip_is_unpacked_member_by_member() -> None:
    """Each member is read under zip/member, typed by its name; a member named .zip by
    content only (no .zip name) is unpacked too."""
    data = offices.plain_zip({"keys.pdf": b"junk", "メモ.txt": "メモ".encode("cp932"),
                              "README": b"readme"})
    for name in ("docs.zip", "docs"):
        got = read_message(_mixed(_text(), _file(name, data))).attachments
        assert [(a.filename, a.content_type, a.status, a.data) for a in got] == [
            (f"{name}/keys.pdf", "application/pdf", DocumentStatus.UNREADABLE, b"junk"),
            (f"{name}/メモ.txt", "text/plain", DocumentStatus.TEXT, "メモ".encode("cp932")),
            (f"{name}/README", "application/octet-stream", DocumentStatus.SKIPPED, b"readme"),
        ]
        assert got[1].text == "メモ"


def test_an_encrypted_zip_opens_with_the_password_from_the_body() -> None:
    """A ZipCrypto zip opens with the password in the mail and its PDF is read with it too;
    without the password the zip itself is reported, unopened."""
    locked = _blank_pdf("Zp4Wq8Lk2")
    data = offices.zipcrypto_zip({"policy.pdf": locked}, "Zp4Wq8Lk2")
    opened = _read("policy.zip", data, "application/zip", body="パスワード：Zp4Wq8Lk2")
    assert (opened.filename, opened.status) == ("policy.zip/policy.pdf", DocumentStatus.NO_TEXT)
    shut = _read("policy.zip", data, "application/zip")
    assert (shut.filename, shut.content_type, shut.data, shut.status) == (
        "policy.zip", "application/zip", data, DocumentStatus.ENCRYPTED)
    assert shut.detail


# --- read_headers_only -----------------------------------------------------------------------

def _refuse(*_args: object) -> list[Attachment]:
    raise AssertionError("an attachment was opened")


@pytest.mark.parametrize("line_end", [b"\r\n", b"\n"])
def test_headers_only_reads_the_header_block_and_opens_nothing(
        line_end: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    """The header block (ended by the first blank line, CRLF or LF) is read as in full;
    the content is never parsed or opened; a placeholder says why."""
    raw = mails.dsure_key_mail(received=datetime(2026, 4, 6, 9, 45, tzinfo=JST))
    full = read_message(raw)
    raw = raw.replace(b"\r\n", line_end)
    monkeypatch.setattr(read, "_read_attachments", _refuse)
    mail = read_headers_only(raw, status=DocumentStatus.UNREADABLE, detail="read timed out")
    assert mail.headers == full.headers
    assert (mail.subject, mail.from_addr, mail.to, mail.message_id, mail.received_at) == (
        full.subject, full.from_addr, full.to, full.message_id, full.received_at)
    assert (mail.raw, mail.body) == (raw, "")
    assert mail.attachments == (Attachment(
        "(message content)", "application/octet-stream", b"", DocumentStatus.UNREADABLE,
        detail="read timed out"),)


def test_headers_only_takes_the_given_times() -> None:
    """The server's arrival time wins; without any, ``now``."""
    raw = _message(f"From: {SENDER}", "Subject: x", body=b"x")
    at = datetime(2026, 4, 7, 8, 0, tzinfo=UTC)
    now = datetime(2026, 5, 1, tzinfo=UTC)
    kw = {"status": DocumentStatus.TOO_LARGE, "detail": "memory"}
    assert read_headers_only(raw, at, now=now, **kw).received_at == at  # type: ignore[arg-type]
    assert read_headers_only(raw, now=now, **kw).received_at == now  # type: ignore[arg-type]
    dated = _message(f"From: {SENDER}", f"Date: {DATE}", body=b"x")
    assert read_headers_only(dated, now=now, **kw).received_at == DATE_AT  # type: ignore[arg-type]


def test_headers_only_has_no_body_even_without_known_headers() -> None:
    """Without From, Subject, Date or To the header lines are not taken for a body."""
    raw = _message("X-Mailer: scanner", "X-Note: x", body=b"content")
    mail = read_headers_only(raw, status=DocumentStatus.TOO_LARGE, detail="memory")
    assert (mail.body, mail.headers) == ("", (("X-Mailer", "scanner"), ("X-Note", "x")))


def test_headers_only_message_id_is_the_same_as_a_full_read() -> None:
    """A message without Message-ID gets the id its full reading would give (from all its
    bytes), not one from its headers alone."""
    raw = _message(f"From: {SENDER}", "Subject: x", body=b"content")
    mail = read_headers_only(raw, status=DocumentStatus.TOO_LARGE, detail="memory")
    assert mail.message_id == synthetic_message_id(raw) == read_message(raw).message_id
    assert mail.message_id == "<" + hashlib.sha256(raw).hexdigest()[:32] + (
        "@surety-intake.invalid>")


# --- a held message and its follow-up read as one (daemon.pairing.combined) ---------------------

def test_a_held_message_and_its_password_mail_are_read_as_one() -> None:
    """The first message is read again with the follow-up's password, keeps its arrival
    time and identity; bodies and attachments of both count; the follow-up is kept as a
    companion after the earlier ones."""
    locked = _blank_pdf("Kk2604tot")
    first_raw = _mixed(_text("保険証券を送ります"), _file("policy.pdf", locked, "application/pdf"),
                       top=("Message-ID: <first@yamada.example.jp>",))
    at = datetime(2026, 4, 6, 0, 31, tzinfo=UTC)
    first = read_message(first_raw, at)
    assert _only(first.attachments).status is DocumentStatus.ENCRYPTED
    first = replace(first, companions=(b"earlier",))
    follow = read_message(_mixed(_text("パスワード：Kk2604tot"), _file("note.bin", b"n"),
                                 top=("Message-ID: <second@yamada.example.jp>",)),
                          datetime(2026, 4, 6, 1, 0, tzinfo=UTC))
    both = pairing.combined(first, follow, _reopen)
    assert (both.message_id, both.received_at) == ("<first@yamada.example.jp>", at)
    assert both.body == "保険証券を送ります\nパスワード：Kk2604tot"
    assert [(a.filename, a.status) for a in both.attachments] == [
        ("policy.pdf", DocumentStatus.NO_TEXT), ("note.bin", DocumentStatus.SKIPPED)]
    assert both.companions == (b"earlier", follow.raw)
    assert both.passwords == ("Kk2604tot",)


def _reopen(mail: Mail, passwords: tuple[str, ...]) -> Mail:
    return read_message(mail.raw, mail.received_at, passwords=passwords)


def test_a_pair_with_nothing_sealed_is_not_read_again() -> None:
    """Nothing encrypted: neither message is read again, and a value alone on a line
    (a key) is no password given."""
    first = read_message(_mixed(_text("保証契約番号：2604012345\n認証キーは別途お送りします"),
                                top=("Message-ID: <a@yamada.example.jp>",)))
    follow = read_message(_mixed(_text("認証キー\nAbCd1234EfGh"),
                                 top=("Message-ID: <b@yamada.example.jp>",)))

    def never(mail: Mail, passwords: tuple[str, ...]) -> Mail:
        raise AssertionError("read again")

    both = pairing.combined(first, follow, never)
    assert both.passwords == ()
    assert (both.message_id, both.companions) == ("<a@yamada.example.jp>", (follow.raw,))

