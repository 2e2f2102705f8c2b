"""Reading mail as it really arrives: charsets, file names, PDFs, broken input.

The known traps each have a test here: mail-parser's undecoded ISO-2022-JP, Outlook's
CP932 characters under an ISO-2022-JP label, pypdf's missing Japanese, AES-encrypted
PDFs, full-width digits and half-width katakana.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import mailparser
import pytest
from samples import jis, mails, pdfs

from daemon.documents import read_pdf
from daemon.japanese import decode_iso2022jp, decode_text, normalize, normalize_number, parse_date
from daemon.model import DocumentStatus
from daemon.read import read_message

JST = timezone(timedelta(hours=9))
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
KEY_TEXT = "保証契約番号：２０２６－０１２３\n認証キー：Ab12Cd34"


def test_mail_parser_leaves_iso2022jp_undecoded_and_we_decode_it() -> None:
    """mail-parser 4.8 returns the JIS escapes; the reader gives the Japanese text."""
    raw = mails.build(from_="a@contractor.example.jp", to="keiyaku@city.example.jp",
                      subject="【電子保証】", body=KEY_TEXT, charset="iso-2022-jp")
    assert "\x1b$B" in mailparser.parse_from_bytes(raw).body
    mail = read_message(raw)
    assert "保証契約番号：２０２６－０１２３" in mail.body
    assert mail.subject == "【電子保証】"


def test_outlook_cp932_characters_under_an_iso2022jp_label() -> None:
    """㈱, ①, － and ～ written by Outlook survive; Python's strict codec cannot read them."""
    text = "㈱北斗土木 ① 保証契約番号：2026－0123 期間：4月～5月"
    data = jis.outlook_iso2022jp(text)
    with pytest.raises(UnicodeDecodeError):
        data.decode("iso2022_jp")
    assert decode_iso2022jp(data) == text
    raw = mails.build(from_="㈱北斗土木 北村 <kitamura@hokuto-doboku.example.co.jp>",
                      to="keiyaku@city.example.jp", subject="㈱北斗土木 電子保証",
                      body=text, charset="outlook")
    mail = read_message(raw)
    assert text in mail.body
    assert mail.subject == "㈱北斗土木 電子保証"
    assert mail.from_name.startswith("㈱北斗土木")


@pytest.mark.parametrize("pair", [
    b"\x7f\x7f", b"\x20\x21", b"\x21\x7f",  # bytes outside JIS X 0208's 0x21-0x7E
    b"\x22\x2f", b"\x29\x21", b"\x2f\x7e", b"\x75\x21",  # in range, but CP932 has no character
])
def test_a_broken_jis_sequence_is_never_silently_replaced(pair: bytes) -> None:
    """An undecodable JIS pair raises: a digit is never swapped for a replacement mark."""
    with pytest.raises(UnicodeDecodeError):
        decode_iso2022jp(b"\x1b$B#2" + pair + b"\x1b(B")
    # The charset fallback then tries the other decoders before giving up visibly.
    assert decode_text("番号".encode("cp932"), "iso-2022-jp") == "番号"


@pytest.mark.parametrize("charset", ["iso-2022-jp", "outlook", "shift_jis", "utf-8"])
@pytest.mark.parametrize("style", ["rfc2231", "rfc2047", "raw-utf8"])
def test_attachment_names_in_every_encoding(charset: str, style: str) -> None:
    """Japanese attachment names come out right however the client encoded them."""
    name = "認証キー等のお知らせ（契約保証）.pdf"
    raw = mails.build(from_="a@contractor.example.jp", to="keiyaku@city.example.jp",
                      subject="件名", body="本文",
                      attachments=[(name, pdfs.corrupt_pdf(), "application/pdf")],
                      charset=charset, filename_style=style)  # type: ignore[arg-type]
    assert [a.filename for a in read_message(raw).attachments] == [name]


def test_normalize_full_width_and_half_width_katakana() -> None:
    """２０２６－０１２３ becomes 2026-0123; 認証ｷｰ becomes 認証キー."""
    assert normalize("認証ｷｰ：ＡＢ１２") == "認証キー:AB12"
    assert normalize_number("２０２６－０１２３") == "2026-0123"
    assert normalize_number("2026\u22120123") == "2026-0123"
    assert normalize_number("R8ー0123") == "R8-0123"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("令和8年4月1日", (2026, 4, 1)),
        ("令和元年5月1日", (2019, 5, 1)),
        ("平成31年4月30日", (2019, 4, 30)),
        ("R8.4.1", (2026, 4, 1)),
        ("2026年4月1日", (2026, 4, 1)),
        ("2026/04/01", (2026, 4, 1)),
    ],
)
def test_era_dates(text: str, expected: tuple[int, int, int]) -> None:
    """Japanese era and Western dates are read alike."""
    parsed = parse_date(normalize(text))
    assert parsed is not None
    assert (parsed.year, parsed.month, parsed.day) == expected


def test_pdfium_reads_what_pypdf_cannot() -> None:
    """A key notice whose fonts have no ToUnicode map is read through the fallback."""
    data = pdfs.key_notice_pdf_without_tounicode(
        company="east", contract_number="2604012345", auth_key="Ab12Cd34Ef56",
        guarantee_type="contract", project_name="令和8年度 市道中央線道路改良工事",
        contractor="株式会社山田建設",
    )
    got = read_pdf(data)
    assert got.status is DocumentStatus.TEXT
    assert got.extractor == "pdfium"
    assert "保証契約番号" in got.text
    assert "2604012345" in got.text


def test_encrypted_policy_opens_with_the_password_from_the_mail() -> None:
    """The AES-encrypted policy opens with the password written in the body."""
    mail = read_message(mails.legacy_pdf_mail())
    [policy] = [a for a in mail.attachments if a.is_pdf]
    assert policy.status is DocumentStatus.TEXT
    assert "証券番号" in policy.text


def test_encrypted_policy_without_password_is_reported() -> None:
    """Without a password the PDF is reported as encrypted, not guessed at."""
    mail = read_message(mails.legacy_pdf_mail(password_in_body=False))
    [policy] = [a for a in mail.attachments if a.is_pdf]
    assert policy.status is DocumentStatus.ENCRYPTED
    assert "no password" in policy.detail


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (pdfs.corrupt_pdf(), DocumentStatus.UNREADABLE),
        (pdfs.not_really_pdf("png"), DocumentStatus.UNREADABLE),
        (pdfs.scan_pdf(), DocumentStatus.NO_TEXT),
        (b"", DocumentStatus.UNREADABLE),
    ],
)
def test_broken_pdfs_get_a_status(data: bytes, status: DocumentStatus) -> None:
    """Corrupt files, impostors and scans are reported as such, never raised."""
    assert read_pdf(data).status is status


def test_arrival_time_for_a_file_is_the_newest_received_header() -> None:
    """Without the server's time, the top Received header gives the arrival, else Date."""
    received = datetime(2026, 4, 7, 8, 15, tzinfo=JST)
    raw = mails.dsure_key_mail(received=received)
    assert read_message(raw).received_at == received
    assert read_message(mails.dsure_key_mail()).received_at == mails.DEFAULT_DATE


def test_not_mime_message_is_read_as_text() -> None:
    """A message without MIME headers and 8-bit Shift_JIS is decoded and flagged."""
    mail = read_message(mails.not_mime())
    assert mail.is_mime is False
    assert "認証キー" in mail.body


@pytest.mark.parametrize("raw", [b"", b"\x00\x01\x02", b"just some words\n", b"From: x\n\n"])
def test_garbage_never_raises(raw: bytes) -> None:
    """Empty, binary and headerless input is read without an exception, and gets a stable
    Message-ID of its own made from its bytes (the same bytes, the same id)."""
    mail = read_message(raw)
    digest = hashlib.sha256(raw).hexdigest()[:32]
    assert mail.message_id == f"<{digest}@surety-intake.invalid>"
    assert read_message(raw + b"x").message_id != mail.message_id


def test_a_message_id_of_its_own_is_kept() -> None:
    """A message with a Message-ID keeps it, trimmed."""
    raw = b"Message-ID:  <abc@contractor.example.jp> \r\nFrom: a@b.jp\r\n\r\nbody\r\n"
    assert read_message(raw).message_id == "<abc@contractor.example.jp>"


@pytest.mark.skipif(not CORPUS.is_dir(), reason="shared corpus not present")
def test_japanese_corpus_pdfs_yield_japanese() -> None:
    """Over the corpus's Japanese PDFs, the reader gets Japanese out of at least as many as
    PDFium alone did (23 of 34), and never raises."""
    manifest = (CORPUS / "manifest.tsv").read_text(encoding="utf-8").splitlines()[1:]
    paths = [line.split("\t")[0] for line in manifest
             if "\tpdf\t" in line and "japanese" in line.split("\t")[3].split("]")[0]]
    assert len(paths) >= 30
    got = 0
    for path in paths:
        result = read_pdf((CORPUS / path).read_bytes())
        if result.status is DocumentStatus.TEXT and any(
            "\u3040" <= c <= "\u9fff" for c in result.text
        ):
            got += 1
    assert got >= 23


def test_a_message_mail_parser_gives_up_on_is_still_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where mail-parser raises on hostile input, the standard library's parser reads the
    message: the same subject, body and attachments come out."""
    raw = mails.dsure_key_mail()
    expected = read_message(raw)

    def gives_up(_raw: bytes) -> None:
        raise ValueError("mail-parser could not model this message")

    monkeypatch.setattr(mailparser, "parse_from_bytes", gives_up)
    mail = read_message(raw)
    assert (mail.subject, mail.body, mail.from_addr) == (
        expected.subject, expected.body, expected.from_addr)
    assert [(a.filename, a.status) for a in mail.attachments] == [
        (a.filename, a.status) for a in expected.attachments]


def test_the_structure_comes_from_mail_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    """mail-parser parses each message once, and what it gives is what is read."""
    raw = mails.dsure_key_mail()
    other = mails.build(from_="other@contractor.example.jp", to="keiyaku@city.example.jp",
                        subject="別のメール", body="本文")
    real = mailparser.parse_from_bytes
    seen: list[bytes] = []

    def spy(given: bytes) -> object:
        seen.append(given)
        return real(other)

    monkeypatch.setattr(mailparser, "parse_from_bytes", spy)
    mail = read_message(raw)
    assert seen == [raw]
    assert (mail.subject, mail.from_addr) == ("別のメール", "other@contractor.example.jp")
