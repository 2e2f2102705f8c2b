"""Office files and archives: the 発注者提出用フォーマット as xlsx/docx, encrypted variants.

Insurers hand the 発注者提出用フォーマット out as Excel or Word files as often as
PDF; contractors fill them in and mail them, sometimes in a password zip (the
"PPAP" habit: the password follows in a second mail). Everything here is
deterministic for given arguments: fixed document properties, fixed zip entry
times, and seeded salts for the encryptions.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, Literal

from samples._seeded import HashStream, seeded_randomness
from samples.jtext import wareki
from samples.parties import Insurer
from samples.parties import insurer as lookup_insurer

ZIP_TIME = (2026, 4, 10, 9, 12, 0)
NameEncoding = Literal["cp932", "utf-8"]
Files = Mapping[str, bytes] | Sequence[tuple[str, bytes]]

FORM_TITLE = "保証証券等確認システム　閲覧用情報のご案内（発注者提出用）"
FORM_NOTE = (
    "【受注者さまへ】「閲覧用URL」「工事名」「受注者名」を追記のうえ、発注者さまへご提出ください。"
    "メールに添付して提出する場合、暗号化パスワードは別送してください。"
)


def _form_rows(
    *,
    ins: Insurer,
    policy_number: str,
    view_password: str,
    view_url: str | None,
    project_name: str | None,
    contractor: str | None,
) -> list[tuple[str, str]]:
    return [
        ("閲覧用URL", view_url or ""),
        ("閲覧用パスワード", view_password),
        ("工事名", project_name or ""),
        ("受注者名", contractor or ""),
        ("証券番号", policy_number),
        ("保険会社名", ins.name),
    ]


def _items(files: Files) -> list[tuple[str, bytes]]:
    return list(files.items()) if isinstance(files, Mapping) else list(files)


def _modified_as_created(core_xml: bytes) -> bytes:
    """docProps/core.xml with ``dcterms:modified`` set to ``dcterms:created``.

    openpyxl stamps the time of saving into ``modified`` whatever the workbook's
    properties say, so without this the same arguments give other bytes a second later.
    """
    text = core_xml.decode("utf-8")
    created = re.search(r"<dcterms:created[^>]*>([^<]*)<", text)
    if created is None:
        return core_xml
    stamp = created.group(1)
    return re.sub(r"(<dcterms:modified[^>]*>)[^<]*(<)", rf"\g<1>{stamp}\g<2>", text).encode()


def normalize_zip(
    data: bytes, *, date_time: tuple[int, int, int, int, int, int] = ZIP_TIME
) -> bytes:
    """Rewrite an OOXML/zip container with fixed entry times (same order, deflated) and,
    in an OOXML file, the ``modified`` property equal to ``created``."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=date_time)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = _modified_as_created(content)
            target.writestr(fixed, content)
    return out.getvalue()


def form_xlsx(
    *,
    insurer: str | Insurer,
    policy_number: str,
    view_password: str,
    view_url: str | None = None,
    project_name: str | None = None,
    contractor: str | None = None,
    issued: date | None = None,
) -> bytes:
    """The 発注者提出用フォーマット as an Excel workbook (openpyxl).

    Sheet ``発注者提出用``: B2 date, B4 ``発注者　御中``, B6 the title (merged
    B6:D6), then the table from row 9: labels in column B (閲覧用URL,
    閲覧用パスワード, 工事名, 受注者名, 証券番号, 保険会社名), values in column C
    (merged C:D). Blank values stay empty cells. Notes below, insurer at the foot.
    """
    from openpyxl import Workbook  # noqa: PLC0415
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side  # noqa: PLC0415

    ins = lookup_insurer(insurer)
    issued = issued or date(2026, 4, 10)
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "発注者提出用"
    sheet.column_dimensions["A"].width = 2
    sheet.column_dimensions["B"].width = 22
    sheet.column_dimensions["C"].width = 40
    sheet.column_dimensions["D"].width = 30
    font = Font(name="ＭＳ Ｐゴシック", size=11)
    sheet["D2"] = wareki(issued)
    sheet["D2"].alignment = Alignment(horizontal="right")
    sheet["B4"] = "発注者　御中"
    sheet["B6"] = FORM_TITLE
    sheet["B6"].font = Font(name="ＭＳ Ｐゴシック", size=14, bold=True)
    sheet.merge_cells("B6:D6")
    thin = Side(style="thin")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    rows = _form_rows(
        ins=ins,
        policy_number=policy_number,
        view_password=view_password,
        view_url=view_url,
        project_name=project_name,
        contractor=contractor,
    )
    for offset, (label, value) in enumerate(rows):
        row = 9 + offset
        label_cell = sheet.cell(row=row, column=2, value=label)
        label_cell.font = font
        label_cell.fill = PatternFill("solid", fgColor="DDEBF7")
        label_cell.border = border
        value_cell = sheet.cell(row=row, column=3, value=value or None)
        value_cell.font = font
        value_cell.border = border
        sheet.cell(row=row, column=4).border = border
        sheet.merge_cells(start_row=row, start_column=3, end_row=row, end_column=4)
        sheet.row_dimensions[row].height = 24
    sheet["B17"] = FORM_NOTE
    sheet["B18"] = "※閲覧用パスワードは、証券等の追加アップロード時に変更されます。"
    sheet["D21"] = f"{ins.name}　{ins.branch}"
    sheet["D22"] = f"取扱代理店　{ins.agent}"
    moment = datetime(issued.year, issued.month, issued.day, 9, 0, 0)
    workbook.properties.creator = ins.agent
    workbook.properties.lastModifiedBy = ins.agent
    workbook.properties.created = moment
    workbook.properties.modified = moment
    out = io.BytesIO()
    workbook.save(out)
    return normalize_zip(out.getvalue())


def form_docx(
    *,
    insurer: str | Insurer,
    policy_number: str,
    view_password: str,
    view_url: str | None = None,
    project_name: str | None = None,
    contractor: str | None = None,
    issued: date | None = None,
) -> bytes:
    """The 発注者提出用フォーマット as a Word document (python-docx).

    Paragraphs: date (right), ``発注者　御中``, the title, a lead sentence; then a
    6x2 table (label | value) in the same order as the PDF; the note and insurer.
    """
    from docx import Document  # noqa: PLC0415
    from docx.enum.text import WD_ALIGN_PARAGRAPH  # noqa: PLC0415

    ins = lookup_insurer(insurer)
    issued = issued or date(2026, 4, 10)
    document = Document()
    paragraph = document.add_paragraph(wareki(issued))
    paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    document.add_paragraph("発注者　御中")
    title = document.add_paragraph()
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    title.add_run(FORM_TITLE).bold = True
    document.add_paragraph(
        "保証証券等確認システムに登録された証券等の閲覧に必要な情報は以下のとおりです。"
    )
    rows = _form_rows(
        ins=ins,
        policy_number=policy_number,
        view_password=view_password,
        view_url=view_url,
        project_name=project_name,
        contractor=contractor,
    )
    table = document.add_table(rows=len(rows), cols=2)
    table.style = "Table Grid"
    for row, (label, value) in zip(table.rows, rows, strict=True):
        row.cells[0].text = label
        row.cells[1].text = value
    document.add_paragraph(FORM_NOTE)
    footer = document.add_paragraph(f"{ins.name}　{ins.branch}\n取扱代理店　{ins.agent}")
    footer.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    moment = datetime(issued.year, issued.month, issued.day, 9, 0, 0)
    properties = document.core_properties
    properties.author = ins.agent
    properties.last_modified_by = ins.agent
    properties.created = moment
    properties.modified = moment
    properties.revision = 1
    out = io.BytesIO()
    document.save(out)
    return normalize_zip(out.getvalue())


def encrypt_ooxml(data: bytes, password: str) -> bytes:
    """Password-protect an xlsx/docx as Office does ("読み取りパスワード"; ECMA-376 agile, AES-256).

    The result is an OLE compound file (``D0 CF 11 E0``), not a zip, whatever
    the extension says.
    """
    import msoffcrypto.method.container.ecma376_encrypted as container  # noqa: PLC0415
    from msoffcrypto.format.ooxml import OOXMLFile  # noqa: PLC0415

    class _FixedClock(datetime):
        """The container stamps ``datetime.now()`` into the directory entries."""

        @classmethod
        def now(cls, tz: Any = None) -> _FixedClock:
            return cls(*ZIP_TIME, tzinfo=tz)

    out = io.BytesIO()
    with seeded_randomness(b"ooxml:" + password.encode() + zlib.crc32(data).to_bytes(4, "big")):
        original = container.datetime
        container.datetime = _FixedClock
        try:
            OOXMLFile(io.BytesIO(data)).encrypt(password, out)
        finally:
            container.datetime = original
    return out.getvalue()


def decrypt_ooxml(data: bytes, password: str) -> bytes:
    """Open a password-protected xlsx/docx (for tests checking the round trip)."""
    from msoffcrypto.format.ooxml import OOXMLFile  # noqa: PLC0415

    office = OOXMLFile(io.BytesIO(data))
    office.load_key(password=password)
    out = io.BytesIO()
    office.decrypt(out)
    return out.getvalue()


# ---------------------------------------------------------------------------
# Zip archives
# ---------------------------------------------------------------------------


def _encode_name(name: str, encoding: NameEncoding) -> tuple[bytes, int]:
    """Entry name bytes and the general-purpose flag (bit 11 = UTF-8)."""
    if name.isascii():
        return name.encode("ascii"), 0
    if encoding == "utf-8":
        return name.encode("utf-8"), 0x800
    return name.encode("cp932"), 0  # Windows "送る → 圧縮", Lhaplus, 7-Zip in CP932 mode


def plain_zip(files: Files, *, name_encoding: NameEncoding = "cp932") -> bytes:
    """An unencrypted zip; Japanese names in CP932 without the UTF-8 flag by default."""
    return _write_zip(_items(files), password=None, name_encoding=name_encoding)


def zipcrypto_zip(files: Files, password: str, *, name_encoding: NameEncoding = "cp932") -> bytes:
    """A zip with traditional PKWARE encryption (ZipCrypto), as Windows tools make by default.

    Python's ``zipfile`` reads it with ``pwd=``; names are CP932 without the
    UTF-8 flag unless ``name_encoding="utf-8"``.
    """
    return _write_zip(_items(files), password=password, name_encoding=name_encoding)


def aes_zip(files: Files, password: str, *, name_encoding: NameEncoding = "cp932") -> bytes:
    """A WinZip AES-256 zip (pyzipper), as 7-Zip or Lhaz make with "AES-256".

    Python's ``zipfile`` cannot decrypt it (compression method 99); pyzipper can.
    """
    import pyzipper  # noqa: PLC0415

    encoding = name_encoding

    class _Info(pyzipper.zipfile_aes.AESZipInfo):  # type: ignore[misc]
        def _encodeFilenameFlags(self) -> tuple[bytes, int]:  # noqa: N802 (zipfile's name)
            raw, flag = _encode_name(self.filename, encoding)
            return raw, self.flag_bits | flag

    out = io.BytesIO()
    items = _items(files)
    seed = b"aes-zip:" + password.encode() + repr([n for n, _ in items]).encode()
    with (
        seeded_randomness(seed),
        pyzipper.AESZipFile(
            out, "w", compression=pyzipper.ZIP_DEFLATED, encryption=pyzipper.WZ_AES
        ) as archive,
    ):
        archive.setpassword(password.encode())
        for name, data in items:
            info = _Info(name, date_time=ZIP_TIME)
            info.compress_type = pyzipper.ZIP_DEFLATED
            archive.writestr(info, data)
    return out.getvalue()


def _crc_table() -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0xEDB88320 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC = _crc_table()


class _ZipCrypto:
    """The traditional PKWARE stream cipher (APPNOTE 6.1)."""

    def __init__(self, password: bytes) -> None:
        self.keys = [0x12345678, 0x23456789, 0x34567890]
        for byte in password:
            self._update(byte)

    def _crc(self, crc: int, byte: int) -> int:
        return (crc >> 8) ^ _CRC[(crc ^ byte) & 0xFF]

    def _update(self, byte: int) -> None:
        k0, k1, k2 = self.keys
        k0 = self._crc(k0, byte)
        k1 = (k1 + (k0 & 0xFF)) & 0xFFFFFFFF
        k1 = (k1 * 134775813 + 1) & 0xFFFFFFFF
        k2 = self._crc(k2, (k1 >> 24) & 0xFF)
        self.keys = [k0, k1, k2]

    def encrypt(self, data: bytes) -> bytes:
        out = bytearray()
        for byte in data:
            temp = (self.keys[2] | 2) & 0xFFFF
            out.append(byte ^ (((temp * (temp ^ 1)) >> 8) & 0xFF))
            self._update(byte)
        return bytes(out)


def _dos_time(moment: tuple[int, int, int, int, int, int]) -> tuple[int, int]:
    year, month, day, hour, minute, second = moment
    return (hour << 11) | (minute << 5) | (second // 2), ((year - 1980) << 9) | (month << 5) | day


def _write_zip(
    items: list[tuple[str, bytes]], *, password: str | None, name_encoding: NameEncoding
) -> bytes:
    """A small zip writer (deflate; optional ZipCrypto) with full control of the name bytes."""
    out = bytearray()
    central = bytearray()
    dos_time, dos_date = _dos_time(ZIP_TIME)
    for name, data in items:
        raw_name, flags = _encode_name(name, name_encoding)
        crc = zlib.crc32(data)
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
        payload = compressor.compress(data) + compressor.flush()
        if password is not None:
            flags |= 0x1
            cipher = _ZipCrypto(password.encode("cp932"))
            header = HashStream(b"zipcrypto:" + raw_name + password.encode()).read(11)
            payload = cipher.encrypt(header + bytes([(crc >> 24) & 0xFF]) + payload)
        offset = len(out)
        fields: tuple[Any, ...] = (20, flags, 8, dos_time, dos_date, crc, len(payload), len(data))
        out += struct.pack("<IHHHHHIII", 0x04034B50, *fields) + struct.pack("<HH", len(raw_name), 0)
        out += raw_name + payload
        central += struct.pack("<IH", 0x02014B50, 0x0014) + struct.pack("<HHHHHIII", *fields)
        central += struct.pack("<HHHHHII", len(raw_name), 0, 0, 0, 0, 0x20, offset) + raw_name
    start = len(out)
    out += central
    out += struct.pack(
        "<IHHHHIIH", 0x06054B50, 0, 0, len(items), len(items), len(central), start, 0
    )
    return bytes(out)
