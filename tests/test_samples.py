"""The sample generators produce what they claim (fast; no mail stack needed)."""

from __future__ import annotations

import email
import email.policy
import io
import pathlib
import zipfile
from collections.abc import Callable
from datetime import date
from email.message import EmailMessage, Message

import openpyxl
import pypdf
import pypdfium2
import pytest
import pyzipper
from pypdf.errors import FileNotDecryptedError
from samples import jis, mails, offices, pdfs
from samples.parties import INSURERS, PROJECTS, viewing_password, viewing_url

ROAD = PROJECTS["road"]
NOTICE_ARGS = {
    "contract_number": "2604012345",
    "auth_key": "Ab3dE5fG7hJ9",
    "guarantee_type": "advance-payment",
    "project_name": ROAD.name,
    "contractor": "株式会社山田建設",
    "orderer": "東都市",
    "project_number": ROAD.number,
}


def pypdf_text(data: bytes, password: str | None = None) -> str:
    """All text pypdf extracts."""
    reader = pypdf.PdfReader(io.BytesIO(data))
    if password is not None:
        reader.decrypt(password)
    return "\n".join(page.extract_text() for page in reader.pages)


def pdfium_text(data: bytes, password: str | None = None) -> str:
    """All text PDFium extracts."""
    document = pypdfium2.PdfDocument(data, password=password)
    try:
        return "\n".join(page.get_textpage().get_text_range() for page in document)
    finally:
        document.close()


def parse(raw: bytes) -> EmailMessage:
    """Parse with the modern email policy."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def attachment_names(raw: bytes) -> list[str | None]:
    """Filenames of the attachments, as Python's email package reads them."""
    return [part.get_filename() for part in parse(raw).iter_attachments()]


def first_text(message: Message) -> bytes:
    """Raw (transfer-decoded) bytes of the first text/plain part."""
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload
    raise AssertionError("no text/plain part")


# --- ISO-2022-JP ------------------------------------------------------------


def test_outlook_body_needs_the_cp932_route() -> None:
    """Outlook ISO-2022-JP with ㈱ fails the strict codec but decodes via JIS->SJIS->CP932."""
    raw = mails.dsure_key_mail(contractor="hokuto", charset="outlook", in_body=True)
    body = first_text(email.message_from_bytes(raw))
    assert body.isascii()
    with pytest.raises(UnicodeDecodeError):
        body.decode("iso2022_jp")
    text = jis.decode_outlook_iso2022jp(body)
    assert "㈱北斗土木の北村です。" in text
    assert "認証キー：" in text


def test_outlook_encoder_round_trips_every_cp932_character() -> None:
    """Every double-byte CP932 character survives outlook_iso2022jp and its decoder."""
    failures = []
    for lead in [*range(0x81, 0xA0), *range(0xE0, 0xF0), *range(0xFA, 0xFD)]:
        for trail in [*range(0x40, 0x7F), *range(0x80, 0xFD)]:
            try:
                ch = bytes((lead, trail)).decode("cp932")
            except UnicodeDecodeError:
                continue
            if jis.decode_outlook_iso2022jp(jis.outlook_iso2022jp(ch)) != ch:
                failures.append(ch)
    assert failures == []


def test_outlook_compatibility_characters_decode_to_other_characters() -> None:
    """～ and － become JIS codes that the strict codec decodes as 〜 and −, silently."""
    encoded = jis.outlook_iso2022jp("～－")
    assert encoded.decode("iso2022_jp") == "\u301c\u2212"
    assert jis.decode_outlook_iso2022jp(encoded) == "～－"


def test_halfwidth_katakana_are_widened_by_outlook() -> None:
    """Half-width katakana come out as full-width, with no ESC ( I runs."""
    encoded = jis.outlook_iso2022jp("認証ｷｰ ｶﾞｲﾄﾞ")
    assert b"\x1b(I" not in encoded
    assert jis.decode_outlook_iso2022jp(encoded) == "認証キー ガイド"


def test_strict_iso2022jp_mail_decodes_with_python() -> None:
    """The default charset is plain JIS X 0208: Python decodes subject and body; ㈱ spelled out."""
    message = parse(mails.dsure_key_mail(contractor="hokuto", in_body=True))
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    assert "(株)北斗土木の北村です。" in body.get_content()
    assert str(message["Subject"]) == f"【電子保証】{ROAD.number} {ROAD.name}"


def test_outlook_header_words() -> None:
    """outlook_header makes folded =?iso-2022-jp?B? words of at most 75 characters."""
    value = jis.outlook_header(
        "【電子保証】第R8-土木-0123号 令和8年度 市道中央線道路改良工事 ㈱北斗土木"
    )
    words = value.split("\r\n ")
    assert len(words) > 1
    assert all(w.startswith("=?iso-2022-jp?B?") and len(w) <= 75 for w in words)


# --- PDFs -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("company", "title", "number_label", "key_label"),
    [
        ("west", "電子証書閲覧用「認証キー」等のお知らせ", "保証契約番号", "認証キー"),
        ("east", "電子保証に係る「認証キー」のお知らせ", "保証契約番号", "認証キー"),
        ("hokkaido", "認証キー等のお知らせ", "保証番号", "認証ｷｰ"),
    ],
)
def test_key_notice_text(company: str, title: str, number_label: str, key_label: str) -> None:
    """Each company's key notice has its title, labels and values in both extractors."""
    data = pdfs.key_notice_pdf(company=company, **NOTICE_ARGS)  # type: ignore[arg-type]
    for text in (pypdf_text(data), pdfium_text(data)):
        for expected in (
            title,
            number_label,
            key_label,
            "2604012345",
            "Ab3dE5fG7hJ9",
            "前払金保証",
            ROAD.name,
            "第R8-土木-0123号",
            "https://www.d-sure.jp/",
        ):
            assert expected in text


def test_key_notice_fullwidth_digits() -> None:
    """fullwidth_digits widens the contract number and dates but not the 認証キー."""
    data = pdfs.key_notice_pdf(company="east", fullwidth_digits=True, **NOTICE_ARGS)  # type: ignore[arg-type]
    text = pdfium_text(data)
    assert "２６０４０１２３４５" in text
    assert "令和８年４月６日" in text
    assert "Ab3dE5fG7hJ9" in text


def test_key_notice_without_tounicode_only_pdfium_reads_it() -> None:
    """The Adobe-Japan1 CID variant gives pypdf no Japanese, PDFium all of it."""
    data = pdfs.key_notice_pdf_without_tounicode(company="west", **NOTICE_ARGS)
    legacy = pypdf_text(data)
    assert "認証キー" not in legacy
    assert "2604012345" not in legacy
    modern = pdfium_text(data)
    assert "電子証書閲覧用「認証キー」等のお知らせ" in modern
    assert "2604012345" in modern
    assert "Ab3dE5fG7hJ9" in modern


def test_stripped_tounicode_defeats_both_extractors() -> None:
    """Removing reportlab's ToUnicode maps leaves no Japanese for either extractor."""
    data = pdfs.strip_tounicode(pdfs.key_notice_pdf(company="west", **NOTICE_ARGS))  # type: ignore[arg-type]
    assert "認証キー" not in pypdf_text(data)
    assert "認証キー" not in pdfium_text(data)


def test_encrypted_policy_needs_its_password() -> None:
    """An encrypted policy opens only with the password, then shows 証券番号 and the parties."""
    data = pdfs.policy_pdf(
        insurer="sompo",
        policy_number="SJ26-0412345",
        project_name=ROAD.name,
        contractor="株式会社山田建設",
        orderer="東都市",
        issued=date(2026, 4, 10),
        password="Rk7v2Lm9",
    )
    reader = pypdf.PdfReader(io.BytesIO(data))
    assert reader.is_encrypted
    assert reader.decrypt("wrong") == pypdf.PasswordType.NOT_DECRYPTED
    with pytest.raises(FileNotDecryptedError):
        pypdf.PdfReader(io.BytesIO(data)).pages[0].extract_text()
    with pytest.raises(pypdfium2.PdfiumError):
        pypdfium2.PdfDocument(data)
    for text in (pypdf_text(data, "Rk7v2Lm9"), pdfium_text(data, "Rk7v2Lm9")):
        for expected in (
            "履行保証保険証券",
            "証券番号",
            "SJ26-0412345",
            "令和8年4月10日",
            "保険契約者",
            "株式会社山田建設",
            "被保険者",
            "東都市",
            "損害保険ジャパン株式会社",
        ):
            assert expected in text


def test_bond_policy_labels() -> None:
    """A 公共工事履行保証証券 uses 債権者 / 主たる債務者 / 保証人 / 保証金額."""
    data = pdfs.policy_pdf(
        insurer="tokio",
        policy_number="0412345678",
        project_name=ROAD.name,
        contractor="株式会社山田建設",
        issued=date(2026, 4, 10),
        kind="公共工事履行保証証券",
    )
    text = pdfium_text(data)
    for expected in (
        "公共工事履行保証証券",
        "債権者",
        "主たる債務者",
        "保証人",
        "保証金額",
        "東京海上日動火災保険株式会社",
    ):
        assert expected in text


def test_wrong_documents_say_what_they_are() -> None:
    """Certificate (no 認証キー), reservation and bank guarantee carry their own titles."""
    certificate = pdfium_text(
        pdfs.certificate_pdf(
            company="east",
            contract_number="2604012345",
            guarantee_type="advance-payment",
            project_name=ROAD.name,
            contractor="株式会社山田建設",
        )
    )
    assert "前払金保証証書（電子証書）" in certificate
    assert "2604012345" in certificate
    assert "認証キー" not in certificate
    reservation = pypdf_text(
        pdfs.reservation_pdf(
            company="west",
            reservation_number="Y-2603-00871",
            project_name=ROAD.name,
            contractor="株式会社山田建設",
        )
    )
    assert "契約保証予約証書" in reservation
    assert "Y-2603-00871" in reservation
    bank = pypdf_text(
        pdfs.bank_guarantee_pdf(project_name=ROAD.name, contractor="株式会社山田建設")
    )
    assert "保　証　書" in bank
    assert "株式会社東都銀行" in bank


def test_submission_form_fields_and_blanks() -> None:
    """The form shows its six labels; fields passed as None stay blank."""
    url = viewing_url("SJ26-0412345")
    filled = pypdf_text(
        pdfs.submission_form_pdf(
            insurer="sompo",
            policy_number="SJ26-0412345",
            view_password="Xy7Pq2Rs9Tz4",
            view_url=url,
            project_name=ROAD.name,
            contractor="株式会社山田建設",
        )
    )
    for expected in (
        "閲覧用URL",
        "閲覧用パスワード",
        "工事名",
        "受注者名",
        "証券番号",
        "保険会社名",
        url,
        "Xy7Pq2Rs9Tz4",
        ROAD.name,
        "株式会社山田建設",
        "損害保険ジャパン株式会社",
    ):
        assert expected in filled
    blank = pdfium_text(
        pdfs.submission_form_pdf(
            insurer="sompo",
            policy_number="SJ26-0412345",
            view_password="Xy7Pq2Rs9Tz4",
        )
    )
    assert "sonpo-hosyou-syouken.jp/view" not in blank
    assert ROAD.name not in blank


def test_invoice_text() -> None:
    """The invoice states the amount, the works and the people in charge."""
    text = pdfium_text(
        pdfs.invoice_pdf(contractor="株式会社山田建設", project_name=ROAD.name, amount=49_368_000)
    )
    for expected in ("請　求　書", "49,368,000", ROAD.name, "前払金", "本件責任者", "本件担当者"):
        assert expected in text


def test_scan_has_no_text() -> None:
    """The scanned PDF opens but has no text layer."""
    data = pdfs.scan_pdf()
    assert len(pypdf.PdfReader(io.BytesIO(data)).pages) == 1
    assert pypdf_text(data).strip() == ""
    assert pdfium_text(data).strip() == ""


@pytest.mark.parametrize(
    "data",
    [pdfs.corrupt_pdf(), *(pdfs.not_really_pdf(kind) for kind in ("png", "zip", "html", "docx"))],
    ids=["corrupt", "png", "zip", "html", "docx"],
)
def test_unopenable_pdfs(data: bytes) -> None:
    """Corrupt and fake PDFs open in neither pypdf nor PDFium."""
    with pytest.raises(pypdf.errors.PdfReadError):
        pypdf.PdfReader(io.BytesIO(data))
    with pytest.raises(pypdfium2.PdfiumError):
        pypdfium2.PdfDocument(data)


def test_corrupt_pdf_looks_like_a_pdf() -> None:
    """corrupt_pdf starts with the PDF signature."""
    assert pdfs.corrupt_pdf().startswith(b"%PDF-")


# --- Office files and archives ------------------------------------------------


def test_xlsx_and_docx_forms() -> None:
    """The xlsx/docx forms hold the labels and values; the encrypted xlsx decrypts."""
    args = {
        "insurer": "sompo",
        "policy_number": "SJ26-0412345",
        "view_password": viewing_password("SJ26-0412345"),
        "contractor": "株式会社山田建設",
    }
    xlsx = offices.form_xlsx(**args)  # type: ignore[arg-type]
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx)).active
    assert sheet is not None
    values = {
        sheet.cell(row=r, column=2).value: sheet.cell(row=r, column=3).value for r in range(9, 15)
    }
    assert values["閲覧用パスワード"] == viewing_password("SJ26-0412345")
    assert values["閲覧用URL"] is None
    assert values["受注者名"] == "株式会社山田建設"
    locked = offices.encrypt_ooxml(xlsx, "pass1234")
    assert locked.startswith(bytes.fromhex("d0cf11e0a1b11ae1"))
    assert offices.decrypt_ooxml(locked, "pass1234") == xlsx
    docx_bytes = offices.form_docx(**args)  # type: ignore[arg-type]
    with zipfile.ZipFile(io.BytesIO(docx_bytes)) as archive:
        assert "閲覧用パスワード" in archive.read("word/document.xml").decode()


def test_password_zips() -> None:
    """ZipCrypto opens with zipfile, AES only with pyzipper; names are CP932, no UTF-8 flag."""
    files = {"発注者提出用フォーマット.pdf": b"%PDF-1.4 form"}
    crypto = zipfile.ZipFile(io.BytesIO(offices.zipcrypto_zip(files, "Pw-2026")))
    (info,) = crypto.infolist()
    assert info.flag_bits & 0x1 and not info.flag_bits & 0x800
    assert info.filename.encode("cp437").decode("cp932") == "発注者提出用フォーマット.pdf"
    assert crypto.read(info, pwd=b"Pw-2026") == b"%PDF-1.4 form"
    with pytest.raises(RuntimeError):
        crypto.read(info, pwd=b"wrong")
    aes = offices.aes_zip(files, "Pw-2026")
    with pytest.raises(NotImplementedError):
        zipfile.ZipFile(io.BytesIO(aes)).read(
            zipfile.ZipFile(io.BytesIO(aes)).infolist()[0], pwd=b"Pw-2026"
        )
    with pyzipper.AESZipFile(io.BytesIO(aes)) as archive:
        archive.setpassword(b"Pw-2026")
        assert archive.read(archive.infolist()[0]) == b"%PDF-1.4 form"


# --- Mail -----------------------------------------------------------------------


LONG_NAME = "電子証書閲覧用「認証キー」等のお知らせ（令和8年度 市道中央線道路改良工事）.pdf"


@pytest.mark.parametrize("charset", ["iso-2022-jp", "shift_jis", "utf-8"])
@pytest.mark.parametrize("style", ["rfc2231", "rfc2047", "raw-utf8"])
@pytest.mark.parametrize("name", ["認証キー等のお知らせ.pdf", LONG_NAME])
def test_attachment_filenames_round_trip(charset: str, style: str, name: str) -> None:
    """Attachment names come back from get_filename() (policy.default) in every style."""
    raw = mails.build(
        from_="株式会社山田建設 山田 太郎 <t-yamada@yamada-kensetsu.example.co.jp>",
        to=mails.OFFICE_ADDRESS,
        subject="【電子保証】認証キー等の送付",
        body="添付のとおり送付いたします。",
        attachments=[(name, b"%PDF-1.4\n", mails.PDF)],
        charset=charset,  # type: ignore[arg-type]
        filename_style=style,  # type: ignore[arg-type]
    )
    assert attachment_names(raw) == [name]


def test_rfc2231_filename_is_really_rfc2231() -> None:
    """rfc2231 style writes filename*=ISO-2022-JP'' (with continuations for long names)."""
    raw = mails.build(
        from_="a@example.jp",
        to="b@example.jp",
        subject="s",
        body="b",
        attachments=[(LONG_NAME, b"x", mails.PDF)],
    )
    assert b"filename*0*=ISO-2022-JP''%1B$B" in raw
    assert b"filename*1*=" in raw
    raw = mails.build(
        from_="a@example.jp",
        to="b@example.jp",
        subject="s",
        body="b",
        attachments=[(LONG_NAME, b"x", mails.PDF)],
        charset="utf-8",
        filename_style="rfc2047",
    )
    assert b'filename="=?UTF-8?B?' in raw


def test_messages_use_crlf_and_are_deterministic() -> None:
    """Messages have CRLF line endings only, and the same arguments give the same bytes."""
    builders: list[Callable[[], bytes]] = [
        lambda: mails.dsure_key_mail(
            charset="outlook", with_invoice=True, guarantee_type="advance-payment"
        ),
        mails.legacy_pdf_mail,
        lambda: mails.confirmation_mail(form="xlsx", encrypt="zip-aes"),
    ]
    for build_one in builders:
        first, second = build_one(), build_one()
        assert first == second
        assert b"\n" not in first.replace(b"\r\n", b"")


def test_dsure_key_mail() -> None:
    """The key mail carries the notice PDF and the body fields an office asks for."""
    raw = mails.dsure_key_mail(company="west", received=mails.DEFAULT_DATE)
    message = parse(raw)
    assert message["From"].addresses[0].addr_spec == "t-yamada@yamada-kensetsu.example.co.jp"
    assert message["Received"].startswith("from mail.yamada-kensetsu.example.co.jp")
    assert attachment_names(raw) == ["電子証書閲覧用「認証キー」等のお知らせ.pdf"]
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    for expected in (ROAD.name, "保証の種類：契約保証", "山田 太郎", "TEL：048-555-0123"):
        assert expected in text
    (pdf_part,) = message.iter_attachments()
    assert "2604012345" in pypdf_text(pdf_part.get_content())


def test_dsure_key_mail_options() -> None:
    """in_body types the values (per style), omit drops them, with_invoice adds 請求書."""
    text = parse(mails.dsure_key_mail(in_body=True, style=1, charset="shift_jis")).get_body()
    assert text is not None
    assert "認証ｷｰ : " in text.get_content()
    omitted = parse(mails.dsure_key_mail(in_body=True, omit=("auth_key", "phone"))).get_body()
    assert omitted is not None
    assert "認証キー：" not in omitted.get_content()
    assert "TEL" not in omitted.get_content()
    names = attachment_names(
        mails.dsure_key_mail(guarantee_type="advance-payment", with_invoice=True)
    )
    assert names[1] == "請求書（前払金）.pdf"
    assert attachment_names(mails.dsure_key_mail(omit=("attachment",))) == []


def test_confirmation_mail_variants() -> None:
    """The confirmation mail attaches the form (pdf/xlsx/zip) and can move the URL to the body."""
    url = viewing_url("SJ26-0412345")
    message = parse(mails.confirmation_mail(url_in_body=True))
    (form,) = message.iter_attachments()
    assert url not in pypdf_text(form.get_content())
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    assert f"閲覧用URL：{url}" in body.get_content()
    assert attachment_names(mails.confirmation_mail(form="xlsx")) == [
        "発注者提出用フォーマット_SJ26-0412345.xlsx"
    ]
    assert attachment_names(mails.confirmation_mail(encrypt="zip-crypto")) == [
        "発注者提出用フォーマット_SJ26-0412345.zip"
    ]


def test_legacy_pdf_mail_recipients() -> None:
    """The PDF-policy mail copies the insurer's designated address unless told otherwise."""
    designated = INSURERS["sompo"].designated_address
    assert parse(mails.legacy_pdf_mail())["Cc"].addresses[0].addr_spec == designated
    assert parse(mails.legacy_pdf_mail(cc=None))["Cc"] is None
    other = INSURERS["tokio"].designated_address
    assert parse(mails.legacy_pdf_mail(cc=other))["Cc"].addresses[0].addr_spec == other


def test_noise_mails() -> None:
    """Auto-replies, MDNs, bounces, lists, the system notice and non-MIME mail look the part."""
    auto = parse(mails.auto_reply())
    assert auto["Auto-Submitted"] == "auto-replied"
    mdn = parse(mails.read_receipt())
    assert mdn.get_content_type() == "multipart/report"
    assert mdn.get_param("report-type") == "disposition-notification"
    nondelivery = parse(mails.bounce())
    assert nondelivery.get_param("report-type") == "delivery-status"
    assert nondelivery["From"].addresses[0].username == "MAILER-DAEMON"
    newsletter = parse(mails.mailing_list())
    assert newsletter["Precedence"] == "bulk"
    assert newsletter["List-Id"] is not None
    notice = parse(mails.system_url_notice())
    assert notice["From"].addresses[0].domain.endswith("sonpo-hosyou-syouken.jp")
    assert str(notice["Subject"]).startswith(
        "【保証証券等確認システム】証券等閲覧用URLのご案内（保険会社名："
    )
    forwarded = parse(mails.system_url_notice(forwarded=True, forward_style="thunderbird"))
    assert str(forwarded["Subject"]).startswith("Fwd: 【保証証券等確認システム】")
    raw = mails.not_mime()
    assert b"MIME-Version" not in raw
    assert "電子保証の件".encode("cp932") in raw


def test_missing_font_error_names_the_packages(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    """A missing IPA font raises FontMissingError that says which packages to install."""
    monkeypatch.setitem(pdfs.FONT_PATHS, pdfs.GOTHIC, (str(tmp_path / "ipag.ttf"),))
    pdfs.font_path.cache_clear()
    try:
        with pytest.raises(pdfs.FontMissingError, match="fonts-ipafont-gothic"):
            pdfs.font_path(pdfs.GOTHIC)
    finally:
        pdfs.font_path.cache_clear()
