"""Reading attachments at the edges: zip limits at their boundaries, the entry count taken
before the directory is parsed, names and passwords as staff see them, and the PDF and
Office readers' statuses and reasons."""

from __future__ import annotations

import io
import random
import struct
import zipfile
from collections.abc import Iterable

import pytest
import pyzipper
from samples import offices, pdfs
from test_archives import deflated

from daemon import documents
from daemon.archives import (
    LOCKED,
    NOT_OPENED,
    OVER_RATIO,
    OVER_SIZE,
    Member,
    Unpacked,
    ZipLimits,
    unpack_zip,
)
from daemon.documents import Extracted, read_office, read_pdf
from daemon.model import DocumentStatus

PASSWORD = "Pw-2026"
TOO_MANY = "too many files in the zip (over 50)"
CORRUPT = "corrupt zip (BadZipFile)"

# --- helpers: small zips written byte by byte where the test needs it ---------------------


def stored(entries: Iterable[tuple[str | zipfile.ZipInfo, bytes]], comment: bytes = b"") -> bytes:
    """A zip with every entry stored (not compressed), written by the standard library."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        for name, data in entries:
            archive.writestr(name, data)
        archive.comment = comment
    return out.getvalue()


def files(count: int, prefix: str = "file") -> list[tuple[str, bytes]]:
    """That many one-byte text files."""
    return [(f"{prefix}-{n:02}.txt", b"x") for n in range(count)]


def end_record(data: bytes) -> int:
    """Where the end of central directory record starts."""
    return data.rfind(b"PK\x05\x06")


def with_directory_size(data: bytes, size: int) -> bytes:
    """The zip with its end record declaring that directory size."""
    buf = bytearray(data)
    struct.pack_into("<I", buf, end_record(data) + 12, size)
    return bytes(buf)


def damaged(data: bytes) -> bytes:
    """The zip with its first directory entry's name length one too long: every entry is
    still there, but no zip reader can parse the directory past the first."""
    (directory,) = struct.unpack_from("<I", data, end_record(data) + 16)
    buf = bytearray(data)
    (length,) = struct.unpack_from("<H", buf, directory + 28)
    struct.pack_into("<H", buf, directory + 28, length + 1)
    return bytes(buf)


def with_central_field(data: bytes, entry: int, offset: int, fmt: str, value: int) -> bytes:
    """The zip with one field of the entry-th central directory entry overwritten."""
    buf = bytearray(data)
    position = -1
    for _ in range(entry + 1):
        position = buf.index(b"PK\x01\x02", position + 1)
    struct.pack_into(fmt, buf, position + offset, value)
    return bytes(buf)


def verdict(result: Unpacked) -> tuple[DocumentStatus, str]:
    """What staff see of an unpacked zip that was refused."""
    return result.status, result.detail


def unreadable(detail: str) -> tuple[DocumentStatus, str]:
    return DocumentStatus.UNREADABLE, detail


# --- the entry count, taken from the raw directory before it is parsed --------------------


def test_entry_count_is_checked_before_the_directory_is_parsed() -> None:
    """51 entries are refused as too many even in a directory no reader can parse; 50 damaged
    entries are only corrupt (the count alone never refuses them)."""
    assert verdict(unpack_zip(damaged(stored(files(51))))) == unreadable(TOO_MANY)
    assert verdict(unpack_zip(damaged(stored(files(50))))) == unreadable(CORRUPT)


def test_a_bare_directory_is_counted_from_its_first_byte() -> None:
    """A hostile file that is nothing but a directory of 51 entries (no member data before
    it) still has every entry counted, the one at byte 0 included."""
    data = stored(files(51))
    bare = bytearray(data[data.index(b"PK\x01\x02") :])
    struct.pack_into("<I", bare, len(bare) - 22 + 16, 0)  # the directory starts at offset 0
    assert bare[:4] == b"PK\x01\x02"
    assert verdict(unpack_zip(damaged(bytes(bare)))) == unreadable(TOO_MANY)


@pytest.mark.parametrize("size", [0x8000_0000, 0xFFFF_FFFF])
def test_a_huge_declared_directory_size_still_counts_every_entry(size: int) -> None:
    """An end record claiming a directory of 2 GiB or more (or the zip64 marker) does not hide
    the 51 entries that are there."""
    assert verdict(unpack_zip(with_directory_size(stored(files(51)), size))) == unreadable(
        TOO_MANY
    )


def test_end_record_found_within_a_full_comment_length() -> None:
    """The end record may be followed by up to 64 KiB of comment: 65536 bytes after it are
    still searched (51 entries: too many); one byte more and the file is no zip at all."""
    data = damaged(stored(files(51)))
    assert verdict(unpack_zip(data + bytes(65536))) == unreadable(TOO_MANY)
    assert verdict(unpack_zip(data + bytes(65537))) == unreadable(CORRUPT)
    assert verdict(unpack_zip(stored(files(51)) + bytes(65537))) == unreadable(CORRUPT)


def test_the_last_end_record_is_the_outer_zips() -> None:
    """A stored zip inside the zip brings an end record of its own earlier in the file: the
    outer one (the last) is the one whose 51 entries are counted."""
    inner = stored(files(3, "inner"))
    data = damaged(stored([("証書一式.zip", inner), *files(51)]))
    assert data.count(b"PK\x05\x06") == 2
    assert verdict(unpack_zip(data)) == unreadable(TOO_MANY)


def test_a_stored_inner_zips_entries_are_not_counted_as_the_outers() -> None:
    """The count covers the outer directory only: a stored inner zip of 40 files beside 10
    files makes 51 directory signatures in the file but 50 members, which is allowed."""
    inner = stored(files(40, "inner"))
    data = stored([("証書一式.zip", inner), *files(10)])
    assert data.count(b"PK\x01\x02") == 51
    result = unpack_zip(data)
    assert result.status is DocumentStatus.TEXT
    assert len(result.members) == 50
    assert result.members[0].name == "inner-00.txt"


def test_bytes_around_the_directory_are_not_counted() -> None:
    """A signature in a member's data 77 bytes before the directory (beyond the 76 a zip64
    end record and locator take) or in the zip comment is no entry: 50 files pass."""
    near = stored([*files(49), ("last.bin", b"PK\x01\x02" + bytes(73))])
    (directory,) = struct.unpack_from("<I", near, end_record(near) + 16)
    assert near.index(b"PK\x01\x02" + bytes(73)) == directory - 77
    commented = stored(files(50), comment=b"PK\x01\x02")
    for data in (near, commented):
        result = unpack_zip(data)
        assert result.status is DocumentStatus.TEXT
        assert len(result.members) == 50


def test_a_zip_cut_short_is_corrupt_not_counted() -> None:
    """A zip of 51 entries cut before or inside its end record is corrupt (no end record to
    count from), whatever the member limit."""
    data = stored(files(51))
    end = end_record(data)
    for cut in (data[:end], data[: end + 15]):
        assert verdict(unpack_zip(cut)) == unreadable(CORRUPT)
    not_a_zip = b"%PDF-1.4 a PDF named .zip"
    assert verdict(unpack_zip(not_a_zip, limits=ZipLimits(max_members=0))) == unreadable(CORRUPT)


# --- size and ratio limits at their boundaries --------------------------------------------


def test_member_size_limit_boundary() -> None:
    """A member of exactly max_member_bytes passes; one byte more is over the size limit."""
    limits = ZipLimits(max_member_bytes=1000)
    exact = unpack_zip(deflated([("a.bin", bytes(range(250)) * 4)]), limits=limits)
    assert exact.status is DocumentStatus.TEXT
    assert exact.members == (Member("a.bin", bytes(range(250)) * 4),)
    over = deflated([("a.bin", bytes(range(250)) * 4 + b"!")])
    assert verdict(unpack_zip(over, limits=limits)) == unreadable(OVER_SIZE)


def test_total_size_limit_boundary() -> None:
    """Members adding up to exactly max_total_bytes pass; one byte more in all is refused."""
    limits = ZipLimits(max_total_bytes=1000)
    exact = deflated([("a.bin", b"a" * 600), ("b.bin", b"b" * 400)])
    assert [len(m.data) for m in unpack_zip(exact, limits=limits).members] == [600, 400]
    over = deflated([("a.bin", b"a" * 600), ("b.bin", b"b" * 401)])
    assert verdict(unpack_zip(over, limits=limits)) == unreadable(OVER_SIZE)


def test_total_size_refused_before_any_password_is_needed() -> None:
    """An encrypted zip whose members declare more than the total limit is refused on those
    sizes before anything is read: over the limit, not "no password given"."""
    data = offices.zipcrypto_zip({"a.bin": b"a" * 600, "b.bin": b"b" * 600}, PASSWORD)
    limits = ZipLimits(max_total_bytes=1000)
    assert verdict(unpack_zip(data, limits=limits)) == unreadable(OVER_SIZE)
    assert verdict(unpack_zip(data)) == (DocumentStatus.ENCRYPTED, LOCKED)


def test_ratio_applies_only_above_the_floor() -> None:
    """Zeros compress a thousandfold: exactly ratio_floor bytes of them pass, one byte more
    is over the ratio limit."""
    limits = ZipLimits(ratio_floor=10_000)
    exact = unpack_zip(deflated([("zeros.bin", bytes(10_000))]), limits=limits)
    assert exact.status is DocumentStatus.TEXT
    assert exact.members == (Member("zeros.bin", bytes(10_000)),)
    over = deflated([("zeros.bin", bytes(10_001))])
    assert verdict(unpack_zip(over, limits=limits)) == unreadable(OVER_RATIO)


def test_ratio_limit_boundary() -> None:
    """With max_ratio 1, a stored member (exactly 1:1) passes and a deflated one (text that
    shrinks) is over the ratio; incompressible data over the floor passes the default."""
    limits = ZipLimits(max_ratio=1, ratio_floor=0)
    text = "保証証書 ".encode() * 200
    exact = unpack_zip(stored([("a.txt", text)]), limits=limits)
    assert exact.members == (Member("a.txt", text),)
    assert verdict(unpack_zip(deflated([("a.txt", text)]), limits=limits)) == unreadable(
        OVER_RATIO
    )
    noise = random.Random(5000).randbytes(5000)
    result = unpack_zip(stored([("noise.bin", noise)]), limits=ZipLimits(ratio_floor=1000))
    assert result.members == (Member("noise.bin", noise),)


def test_declared_compressed_size_of_one_byte_is_held_to_the_ratio() -> None:
    """A header claiming 150 bytes packed into 1 is refused on the ratio (over 100:1) before
    anything is read."""
    data = with_central_field(stored([("a.txt", b"y" * 150)]), 0, 20, "<I", 1)
    assert verdict(unpack_zip(data, limits=ZipLimits(ratio_floor=0))) == unreadable(OVER_RATIO)


def test_overstated_compressed_size_capped_at_the_bytes_after_the_entry() -> None:
    """A member after a 2 KB one overstating its compressed size is judged on the bytes
    really there after its own header: 200 KB of zeros from ~200 bytes is over 100:1."""
    noise = random.Random(2000).randbytes(2000)
    honest = deflated([("noise.bin", noise), ("zeros.bin", bytes(200_000))])
    lying = with_central_field(honest, 1, 20, "<I", 100_000)
    limits = ZipLimits(ratio_floor=0)
    assert verdict(unpack_zip(honest, limits=limits)) == unreadable(OVER_RATIO)
    assert verdict(unpack_zip(lying, limits=limits)) == unreadable(OVER_RATIO)


# --- passwords ----------------------------------------------------------------------------


def test_an_empty_password_before_the_right_one_is_skipped() -> None:
    """An empty string among the passwords (a blank line in the mail) is passed over, and
    the real password after it still opens the zip."""
    data = offices.zipcrypto_zip({"a.txt": b"x"}, PASSWORD)
    result = unpack_zip(data, ["", PASSWORD])
    assert result.status is DocumentStatus.TEXT
    assert result.password_used == PASSWORD


def test_members_under_different_passwords_each_open() -> None:
    """Members encrypted with different passwords each open with their own; the first one
    that worked is reported."""
    out = io.BytesIO()
    with pyzipper.AESZipFile(
        out, "w", compression=pyzipper.ZIP_DEFLATED, encryption=pyzipper.WZ_AES
    ) as archive:
        archive.setpassword(b"first-Pw1")
        archive.writestr("保証書.txt", b"A" * 10)
        archive.setpassword(b"second-Pw2")
        archive.writestr("届出.txt", b"B" * 10)
    result = unpack_zip(out.getvalue(), ["first-Pw1", "second-Pw2"])
    assert result.status is DocumentStatus.TEXT
    assert result.members == (Member("保証書.txt", b"A" * 10), Member("届出.txt", b"B" * 10))
    assert result.password_used == "first-Pw1"
    assert verdict(unpack_zip(out.getvalue(), ["first-Pw1"])) == (
        DocumentStatus.ENCRYPTED,
        NOT_OPENED,
    )


def _slips_past_the_check_byte(data: bytes, guesses: Iterable[str]) -> str:
    """A wrong password ZipCrypto's one check byte lets through (it then fails to inflate)."""
    with pyzipper.AESZipFile(io.BytesIO(data)) as archive:
        info = archive.infolist()[0]
        for guess in guesses:
            try:
                archive.open(info, pwd=guess.encode()).close()
            except RuntimeError:
                continue
            return guess
    raise AssertionError("no guess slipped past the check byte")


def test_a_wrong_password_past_the_check_byte_does_not_stop_the_right_one() -> None:
    """A wrong password that ZipCrypto's check byte lets through fails to inflate; the
    passwords after it are still tried and the right one opens the zip."""
    data = offices.zipcrypto_zip({"a.txt": b"guarantee " * 500}, PASSWORD)
    slip = _slips_past_the_check_byte(data, (f"guess-{n}" for n in range(2000)))
    result = unpack_zip(data, [slip, PASSWORD])
    assert result.status is DocumentStatus.TEXT
    assert result.members == (Member("a.txt", b"guarantee " * 500),)
    assert result.password_used == PASSWORD
    assert verdict(unpack_zip(data, [slip])) == (DocumentStatus.ENCRYPTED, NOT_OPENED)


# --- what goes wrong, said exactly --------------------------------------------------------


def test_empty_zips_are_said_to_be_empty() -> None:
    """An empty attachment, or an empty .zip inside the zip, is "corrupt zip (empty file)"."""
    assert verdict(unpack_zip(b"")) == unreadable("corrupt zip (empty file)")
    outer = stored([("送付状.txt", b"cover"), ("空.zip", b"")])
    assert verdict(unpack_zip(outer)) == unreadable("空.zip: corrupt zip (empty file)")


def test_not_a_zip_is_corrupt_with_the_readers_reason() -> None:
    """Bytes that are no zip are "corrupt zip (BadZipFile)"."""
    assert verdict(unpack_zip(b"%PDF-1.4 " * 100)) == unreadable(CORRUPT)


def test_an_offset_past_any_file_is_corrupt_not_a_crash() -> None:
    """A zip64 entry whose header offset is past 2**63 makes the reader overflow: the zip is
    "corrupt zip (OverflowError)", and nothing is raised."""
    data = bytearray(offices.plain_zip({"a.txt": b"hello"}))
    entry = data.index(b"PK\x01\x02")
    (name_length,) = struct.unpack_from("<H", data, entry + 28)
    struct.pack_into("<I", data, entry + 42, 0xFFFF_FFFF)  # the offset is in the zip64 extra
    extra = struct.pack("<HHQ", 1, 8, 2**63 + 5)
    data[entry + 46 + name_length : entry + 46 + name_length] = extra
    struct.pack_into("<H", data, entry + 30, len(extra))
    end = end_record(bytes(data))
    (size,) = struct.unpack_from("<I", data, end + 12)
    struct.pack_into("<I", data, end + 12, size + len(extra))
    assert verdict(unpack_zip(bytes(data))) == unreadable("corrupt zip (OverflowError)")


# --- names --------------------------------------------------------------------------------


def test_folder_entries_written_with_a_backslash_are_skipped() -> None:
    """A folder entry ending in a backslash (some Windows tools) is no file."""
    data = offices.plain_zip([("提出書類\\", b""), ("提出書類\\保証書.pdf", b"%PDF-1.4")])
    assert unpack_zip(data).members == (Member("保証書.pdf", b"%PDF-1.4"),)


def test_a_folder_marked_only_by_its_dos_attribute_is_skipped() -> None:
    """An empty entry with the DOS directory attribute and no trailing slash is a folder;
    an empty ordinary file is kept as a member."""
    folder = zipfile.ZipInfo("提出書類")
    folder.external_attr = 0x10
    data = stored([(folder, b""), ("空.txt", b""), ("保証書.pdf", b"%PDF-1.4")])
    assert unpack_zip(data).members == (Member("空.txt", b""), Member("保証書.pdf", b"%PDF-1.4"))


def test_a_file_with_the_dos_directory_bit_but_content_is_kept() -> None:
    """An entry flagged as a DOS directory that holds bytes is a file after all."""
    odd = zipfile.ZipInfo("保証書.pdf")
    odd.external_attr = 0x10
    assert unpack_zip(stored([(odd, b"%PDF-1.4")])).members == (Member("保証書.pdf", b"%PDF-1.4"),)


def test_macos_junk_anywhere_is_skipped() -> None:
    """Everything under __MACOSX, and ._ resource forks outside it, are skipped."""
    data = offices.plain_zip(
        [
            ("__MACOSX/提出書類/保証書.pdf", b"\0\5\26\7"),
            ("._保証書.pdf", b"\0\5\26\7"),
            ("保証書.pdf", b"%PDF-1.4"),
        ]
    )
    assert unpack_zip(data).members == (Member("保証書.pdf", b"%PDF-1.4"),)


def test_a_name_cut_inside_a_character_is_kept_with_a_replacement() -> None:
    """A CP932 name cut in the middle of a double-byte character still gives the file, its
    name showing U+FFFD where the broken character was."""
    raw = "保証書".encode("cp932")[:-1] + b".pdf"  # 保 証 and half of 書
    data = stored([("abcdefghi", b"%PDF-1.4")]).replace(b"abcdefghi", raw)
    assert len(raw) == len("abcdefghi")
    [member] = unpack_zip(data).members
    assert member.name == "保証\ufffd.pdf"
    assert member.data == b"%PDF-1.4"


def test_names_with_spaces_are_kept_whole() -> None:
    """Spaces inside a name (ASCII or full-width) are part of it."""
    names = ["保証 証書 2026.pdf", "届出\u3000控え.txt"]
    data = offices.plain_zip([(name, b"x") for name in names])
    assert [m.name for m in unpack_zip(data).members] == names


def test_a_nul_ends_a_name() -> None:
    """A name is cut at its first NUL byte (a trick to hide the real extension)."""
    data = stored([("a.pdfXexeXbat", b"%PDF-1.4")]).replace(b"a.pdfXexeXbat", b"a.pdf\0exe\0bat")
    assert unpack_zip(data).members == (Member("a.pdf", b"%PDF-1.4"),)


# --- Office forms (.xlsx, .docx) ----------------------------------------------------------

FORM = {
    "insurer": "sompo",
    "policy_number": "P-2604-0001",
    "view_password": "Vw9kLm2Q",
    "view_url": "https://sonpo-hosyou-syouken.jp/v/abc",
    "project_name": "市道中央線道路改良工事",
    "contractor": "株式会社山田建設",
}
FORM_TABLE = [
    "閲覧用URL https://sonpo-hosyou-syouken.jp/v/abc",
    "閲覧用パスワード Vw9kLm2Q",
    "工事名 市道中央線道路改良工事",
    "受注者名 株式会社山田建設",
    "証券番号 P-2604-0001",
    "保険会社名 損害保険ジャパン株式会社",
]


def workbook(rows: Iterable[Iterable[object]], *, sheets: int = 1) -> bytes:
    """An .xlsx whose first sheet holds these rows (from A1), written by openpyxl."""
    from openpyxl import Workbook  # noqa: PLC0415

    book = Workbook(write_only=True)
    sheet = book.create_sheet("発注者提出用")
    for row in rows:
        sheet.append(list(row))
    for n in range(1, sheets):
        book.create_sheet(f"Sheet{n + 1}").append([f"sheet {n + 1}"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def rewrite_member(data: bytes, name: str, old: bytes, new: bytes) -> bytes:
    """The zip container with one replacement made in one of its files."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == name:
                assert old in content
                content = content.replace(old, new)
            target.writestr(info.filename, content)
    return out.getvalue()


def office(result: Extracted) -> tuple[DocumentStatus, str, str]:
    """What staff see of a document that was not read: status and reason (no extractor)."""
    return result.status, result.detail, result.extractor


def test_xlsx_form_is_read_row_by_row() -> None:
    """The Excel form gives one line per row, its cells joined by a space, empty cells left
    out; the extractor is "office"."""
    result = read_office(offices.form_xlsx(**FORM), "発注者提出用フォーマット.xlsx")
    assert (result.status, result.extractor, result.detail) == (DocumentStatus.TEXT, "office", "")
    lines = result.text.splitlines()
    assert lines[3:9] == FORM_TABLE
    assert "None" not in result.text


def test_docx_form_is_read_with_its_table() -> None:
    """The Word form gives its paragraphs, then one line per table row."""
    result = read_office(offices.form_docx(**FORM), "発注者提出用フォーマット.docx")
    assert (result.status, result.extractor, result.detail) == (DocumentStatus.TEXT, "office", "")
    assert result.text.splitlines()[-6:] == FORM_TABLE


def test_the_name_decides_between_word_and_excel() -> None:
    """A .DOCX (any case) is read as Word; the same bytes named .xlsx are no workbook."""
    data = offices.form_docx(**FORM)
    assert read_office(data, "FORM.DOCX").text.splitlines()[-6:] == FORM_TABLE
    assert read_office(data, "form.xlsx").status is DocumentStatus.UNREADABLE


@pytest.fixture(scope="module")
def locked_xlsx() -> bytes:
    """The Excel form with an open password (Office's 読み取りパスワード)."""
    return offices.encrypt_ooxml(offices.form_xlsx(**FORM), PASSWORD)


def test_office_password_opens_the_form(locked_xlsx: bytes) -> None:
    """The right password opens the form, after a wrong one tried first."""
    result = read_office(locked_xlsx, "form.xlsx", ["wrong-1", PASSWORD])
    assert result.status is DocumentStatus.TEXT
    assert result.text.splitlines()[3:9] == FORM_TABLE


def test_office_password_missing_or_wrong(locked_xlsx: bytes) -> None:
    """Without a password the form is "no password given"; with wrong ones (as a list or a
    generator) "the password given does not open it"."""
    none = read_office(locked_xlsx, "form.xlsx")
    assert office(none) == (DocumentStatus.ENCRYPTED, "encrypted; no password given", "")
    wrong = "encrypted; the password given does not open it"
    assert office(read_office(locked_xlsx, "form.xlsx", ["wrong-1"])) == (
        DocumentStatus.ENCRYPTED, wrong, ""
    )
    given = (p for p in ["wrong-1"])
    assert office(read_office(locked_xlsx, "form.xlsx", given)) == (
        DocumentStatus.ENCRYPTED, wrong, ""
    )


def test_not_an_office_file() -> None:
    """Bytes that are neither a zip nor an encrypted Office file are "not an Office file";
    a zip that is no workbook is "corrupt file" with the reader's reason."""
    assert office(read_office(b"%PDF-1.4 " * 10, "form.xlsx")) == (
        DocumentStatus.UNREADABLE, "not an Office file", ""
    )
    assert office(read_office(b"PK\x03\x04" + bytes(100), "form.xlsx")) == (
        DocumentStatus.UNREADABLE, "corrupt file (BadZipFile)", ""
    )


def test_empty_office_files_have_no_text() -> None:
    """A workbook of blank cells, or a Word file with nothing in it, is NO_TEXT, "no text"."""
    from docx import Document  # noqa: PLC0415

    blank = workbook([["", "   ", None], ["\u3000"]])
    assert office(read_office(blank, "form.xlsx")) == (DocumentStatus.NO_TEXT, "no text", "")
    out = io.BytesIO()
    Document().save(out)
    assert office(read_office(out.getvalue(), "form.docx")) == (
        DocumentStatus.NO_TEXT, "no text", ""
    )


def test_xlsx_blank_cells_leave_no_gaps() -> None:
    """Cells that are empty or only blanks are left out of a row's line (values trimmed), and
    a row of nothing else gives no line at all."""
    rows = [["  ", "工事名", None, " 市道改良工事 ", 2026], ["\u3000", " "], ["受注者名", "山田"]]
    text = read_office(workbook(rows), "form.xlsx").text
    assert text == "工事名 市道改良工事 2026\n受注者名 山田"


def test_xlsx_formulas_give_their_saved_values() -> None:
    """A formula cell gives the value Excel saved with it, never the formula."""
    data = workbook([["受注者名", "株式会社山田建設"]])
    cell = '<c r="C1" t="str"><f>B1&amp;"様"</f><v>株式会社山田建設様</v></c></row>'.encode()
    data = rewrite_member(data, "xl/worksheets/sheet1.xml", b"</row>", cell)
    assert read_office(data, "form.xlsx").text == "受注者名 株式会社山田建設 株式会社山田建設様"


def test_xlsx_cells_beyond_a_stale_dimension_are_read() -> None:
    """Some writers leave the sheet's declared dimension at A1 whatever it holds: every cell
    is read all the same (read-only mode alone would stop at A1)."""
    data = workbook([["閲覧用URL", "https://sonpo-hosyou-syouken.jp/v/abc"], ["工事名", "市道"]])
    data = rewrite_member(
        data, "xl/worksheets/sheet1.xml", b"<sheetViews>", b'<dimension ref="A1"/><sheetViews>'
    )
    assert read_office(data, "form.xlsx").text.splitlines() == [
        "閲覧用URL https://sonpo-hosyou-syouken.jp/v/abc",
        "工事名 市道",
    ]


def test_xlsx_reading_stops_past_max_cells(monkeypatch: pytest.MonkeyPatch) -> None:
    """A sheet is read up to the row that takes it past MAX_CELLS cells, that row included;
    the next is not read. Later sheets give at most their first row. (The limit is lowered
    from 20 000 to 30 to keep the workbook small.)"""
    assert documents.MAX_CELLS == 20_000
    monkeypatch.setattr(documents, "MAX_CELLS", 30)
    rows = [[f"r{n}"] for n in range(1, 33)]
    text = read_office(workbook(rows, sheets=2), "big.xlsx").text.splitlines()
    assert text == [f"r{n}" for n in range(1, 32)] + ["sheet 2"]
    two_columns = [[f"r{n}", "x"] for n in range(1, 20)]
    text = read_office(workbook(two_columns), "wide.xlsx").text.splitlines()
    assert text == [f"r{n} x" for n in range(1, 17)]  # 32 cells at row 16


def test_docx_table_cells_merged_or_empty() -> None:
    """A merged cell (repeated by Word's model) counts once; empty cells leave no gap."""
    from docx import Document  # noqa: PLC0415

    document = Document()
    table = document.add_table(rows=2, cols=3)
    table.cell(0, 0).text = "工事名"
    table.cell(0, 1).merge(table.cell(0, 2)).text = "市道改良工事"
    table.cell(1, 0).text = "受注者名"
    table.cell(1, 2).text = "株式会社山田建設"
    out = io.BytesIO()
    document.save(out)
    assert read_office(out.getvalue(), "form.docx").text.splitlines() == [
        "工事名 市道改良工事",
        "受注者名 株式会社山田建設",
    ]


# --- PDFs ---------------------------------------------------------------------------------

NOTICE = {
    "company": "east",
    "contract_number": "2604012345",
    "auth_key": "Ab12Cd34Ef56",
    "guarantee_type": "contract",
    "project_name": "令和8年度 市道中央線道路改良工事",
    "contractor": "株式会社山田建設",
}


@pytest.fixture(scope="module")
def notice() -> bytes:
    """A 認証キー notice whose text pypdf reads (fonts with ToUnicode maps)."""
    return pdfs.key_notice_pdf(**NOTICE)


@pytest.fixture(scope="module")
def notice_without_tounicode() -> bytes:
    """The same notice with no ToUnicode maps: only PDFium reads its Japanese."""
    return pdfs.key_notice_pdf_without_tounicode(**NOTICE)


def english_pdf(*lines: str) -> bytes:
    """A one-page PDF of ASCII lines in Helvetica."""
    from reportlab.pdfgen.canvas import Canvas  # noqa: PLC0415

    out = io.BytesIO()
    canvas = Canvas(out, invariant=1)
    for n, line in enumerate(lines):
        canvas.drawString(72, 720 - 20 * n, line)
    canvas.showPage()
    canvas.save()
    return out.getvalue()


def joined(*documents: bytes) -> bytes:
    """The pages of these PDFs one after the other, in one PDF."""
    from pypdf import PdfWriter  # noqa: PLC0415

    writer = PdfWriter()
    for data in documents:
        writer.append(io.BytesIO(data))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def seen(result: Extracted) -> tuple[DocumentStatus, str, str]:
    """Status, reason and extractor of a PDF read."""
    return result.status, result.detail, result.extractor


def test_japanese_pdf_is_read_by_pypdf(notice: bytes) -> None:
    """A PDF whose Japanese pypdf reads gives pypdf's text, normalised."""
    result = read_pdf(notice)
    assert seen(result) == (DocumentStatus.TEXT, "", "pypdf")
    assert result.text.splitlines()[:3] == ["発行日:令和8年4月6日", "受注者", "株式会社山田建設 様"]


def test_pdf_after_blank_lines_is_still_a_pdf(notice: bytes) -> None:
    """Blank lines before %PDF (some mailers add them) do not make it "not a PDF file"."""
    result = read_pdf(b"\r\n\r\n  " + notice)
    assert result.status is DocumentStatus.TEXT
    assert result.text == read_pdf(notice).text


@pytest.mark.parametrize("kind", ["png", "html", "zip"])
def test_impostors_are_not_pdfs(kind: pdfs.NotPdfKind) -> None:
    """Anything not starting with %PDF is "not a PDF file", whatever its name said."""
    assert seen(read_pdf(pdfs.not_really_pdf(kind))) == (
        DocumentStatus.UNREADABLE, "not a PDF file", ""
    )


def test_english_pdf_keeps_pypdfs_text() -> None:
    """A PDF with no Japanese at all keeps pypdf's text (PDFium's is no better)."""
    result = read_pdf(english_pdf("Invoice No. 2026-0412", "Total JPY 1,250,000"))
    assert seen(result) == (DocumentStatus.TEXT, "", "pypdf")
    assert result.text.splitlines() == ["Invoice No. 2026-0412", "Total JPY 1,250,000"]


def test_scan_has_no_text_layer() -> None:
    """An image-only PDF is NO_TEXT, "no text layer (a scan?)"."""
    assert seen(read_pdf(pdfs.scan_pdf())) == (
        DocumentStatus.NO_TEXT, "no text layer (a scan?)", ""
    )


def test_corrupt_pdf_names_pypdfs_error() -> None:
    """A PDF neither pypdf nor PDFium can parse is "corrupt PDF" with pypdf's error."""
    assert seen(read_pdf(pdfs.corrupt_pdf())) == (
        DocumentStatus.UNREADABLE, "corrupt PDF (PdfStreamError)", ""
    )


def test_pdf_password_messages(notice: bytes) -> None:
    """An encrypted PDF: "no password given" without any, "the password given does not open
    it" with a wrong one, and read with the right one after a wrong one."""
    locked = pdfs.encrypt_pdf(notice, user_password=PASSWORD, owner_password="own", seed="t")
    assert seen(read_pdf(locked)) == (DocumentStatus.ENCRYPTED, "encrypted; no password given", "")
    assert seen(read_pdf(locked, ["Pw-2025"])) == (
        DocumentStatus.ENCRYPTED, "encrypted; the password given does not open it", ""
    )
    opened = read_pdf(locked, ["Pw-2025", PASSWORD])
    assert seen(opened) == (DocumentStatus.TEXT, "", "pypdf")
    assert opened.text == read_pdf(notice).text


def test_pdf_with_only_an_owner_password_opens_without_one(notice: bytes) -> None:
    """A PDF encrypted with only an owner (permissions) password opens with none given."""
    restricted = pdfs.encrypt_pdf(notice, user_password="", owner_password="own", seed="t")
    result = read_pdf(restricted)
    assert seen(result) == (DocumentStatus.TEXT, "", "pypdf")
    assert result.text == read_pdf(notice).text


def test_pdfium_tries_the_passwords_in_turn(notice_without_tounicode: bytes) -> None:
    """An encrypted PDF only PDFium reads: PDFium tries the passwords in turn (a wrong one
    first) and its Japanese text is what is read."""
    locked = pdfs.encrypt_pdf(
        notice_without_tounicode, user_password=PASSWORD, owner_password="own", seed="t"
    )
    result = read_pdf(locked, ["Pw-2025", PASSWORD])
    assert seen(result) == (DocumentStatus.TEXT, "", "pdfium")
    assert result.text == read_pdf(notice_without_tounicode).text
    assert "保証契約番号" in result.text


def test_pages_are_read_in_order_each_on_new_lines(
    notice: bytes, notice_without_tounicode: bytes
) -> None:
    """A two-page PDF reads as its first page, a line break, then its second page, with
    pypdf and with PDFium alike."""
    other = pdfs.key_notice_pdf(**{**NOTICE, "contract_number": "2604012399"})
    both = read_pdf(joined(notice, other))
    assert both.extractor == "pypdf"
    assert both.text == read_pdf(notice).text + "\n" + read_pdf(other).text
    other = pdfs.key_notice_pdf_without_tounicode(**{**NOTICE, "contract_number": "2604012399"})
    both = read_pdf(joined(notice_without_tounicode, other))
    assert both.extractor == "pdfium"
    assert both.text == read_pdf(notice_without_tounicode).text + "\n" + read_pdf(other).text


def test_only_the_first_max_pages_are_read(
    monkeypatch: pytest.MonkeyPatch, notice: bytes, notice_without_tounicode: bytes
) -> None:
    """A long PDF is read from its start: pages past MAX_PAGES are left out, by pypdf and by
    PDFium. (The limit is lowered from 10 to 1 to keep the PDF small.)"""
    assert documents.MAX_PAGES == 10
    first = {"pypdf": read_pdf(notice).text, "pdfium": read_pdf(notice_without_tounicode).text}
    monkeypatch.setattr(documents, "MAX_PAGES", 1)
    for page, extractor in ((notice, "pypdf"), (notice_without_tounicode, "pdfium")):
        result = read_pdf(joined(page, english_pdf("page two")))
        assert (result.extractor, result.text) == (extractor, first[extractor])


class _BrokenReader:
    """A pypdf that fails on every document, as it does on some malformed ones."""

    def __init__(self, *_args: object, **_kwargs: object) -> None:
        from pypdf.errors import PdfReadError  # noqa: PLC0415

        raise PdfReadError("Invalid Elementary Object starting with b'x'")


def test_when_pypdf_fails_pdfium_reads_it(
    monkeypatch: pytest.MonkeyPatch, notice: bytes
) -> None:
    """A PDF pypdf cannot parse is read by PDFium (trying the passwords in turn); one that
    PDFium cannot read either is "corrupt PDF" with pypdf's error."""
    locked = pdfs.encrypt_pdf(notice, user_password=PASSWORD, owner_password="own", seed="t")
    scan = pdfs.scan_pdf()
    monkeypatch.setattr(documents, "PdfReader", _BrokenReader)
    result = read_pdf(notice)
    assert seen(result) == (DocumentStatus.TEXT, "", "pdfium")
    assert result.text.splitlines()[:3] == [
        "発行日:令和8年4月6日", "受注者", "株式会社山田建設 様 東日本建設業保証株式会社"
    ]
    assert read_pdf(locked, ["Pw-2025", PASSWORD]).text == result.text
    assert seen(read_pdf(scan)) == (DocumentStatus.UNREADABLE, "corrupt PDF (PdfReadError)", "")
    assert seen(read_pdf(locked, ["Pw-2025"])) == (
        DocumentStatus.UNREADABLE, "corrupt PDF (PdfReadError)", ""
    )
