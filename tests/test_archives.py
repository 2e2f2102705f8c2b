"""Zip attachments: decryption, CP932 names, nesting, junk, and the limits against hostile zips."""

from __future__ import annotations

import io
import os
import struct
import time
import tracemalloc
import unicodedata
import zipfile
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from samples import offices, pdfs

from daemon import archives
from daemon.archives import (
    LOCKED,
    NOT_OPENED,
    OVER_RATIO,
    OVER_SIZE,
    Member,
    Unpacked,
    ZipLimits,
    is_zip,
    unpack_zip,
)
from daemon.model import DocumentStatus

MiB = 1 << 20
PASSWORD = "Pw-2026"
# 表 (0x95 0x5C) and ソ (0x83 0x5C): CP932 second bytes that are a backslash in ASCII.
PDF_NAME = "保証証書_表紙.pdf"
FORM_NAME = "発注者提出用フォーマット_ソフト.xlsx"
Maker = Callable[..., bytes]
EACH_ENCRYPTION = pytest.mark.parametrize(
    "maker", [offices.aes_zip, offices.zipcrypto_zip], ids=["aes", "zipcrypto"]
)


@pytest.fixture(scope="module")
def pdf() -> bytes:
    """A real Japanese PDF, built once for the module."""
    return pdfs.leaflet_pdf()


def deflated(entries: list[tuple[str, bytes]]) -> bytes:
    """A zip made with the standard library (UTF-8 flag on for non-ASCII names)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return out.getvalue()


def patch_central(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    """Overwrite one field of the first central directory entry (and nothing else)."""
    buf = bytearray(data)
    struct.pack_into(fmt, buf, buf.index(b"PK\x01\x02") + offset, value)
    return bytes(buf)


def names(data: bytes, passwords: tuple[str, ...] = ()) -> list[str]:
    """The member names unpacking gives."""
    return [m.name for m in unpack_zip(data, passwords).members]


@EACH_ENCRYPTION
def test_password_zip_opens(maker: Maker, pdf: bytes) -> None:
    """An AES or ZipCrypto zip opens with its password: exact bytes, CP932 names decoded."""
    data = maker({PDF_NAME: pdf, FORM_NAME: b"PK-not-read"}, PASSWORD)
    result = unpack_zip(data, [PASSWORD])
    assert result.status is DocumentStatus.TEXT
    assert result.members == (Member(PDF_NAME, pdf), Member(FORM_NAME, b"PK-not-read"))
    assert result.members[0].data == pdf
    assert result.password_used == PASSWORD
    assert result.detail == ""


@EACH_ENCRYPTION
def test_no_password_given(maker: Maker, pdf: bytes) -> None:
    """An encrypted zip without any password is ENCRYPTED, "no password given"."""
    result = unpack_zip(maker({PDF_NAME: pdf}, PASSWORD))
    assert result.status is DocumentStatus.ENCRYPTED
    assert result.detail == LOCKED
    assert "no password" in result.detail
    assert result.members == ()


@EACH_ENCRYPTION
def test_wrong_password(maker: Maker, pdf: bytes) -> None:
    """Wrong passwords leave it ENCRYPTED, "the password given does not open it"."""
    result = unpack_zip(maker({PDF_NAME: pdf}, PASSWORD), ["pw-2026", "Pw-2025", ""])
    assert result.status is DocumentStatus.ENCRYPTED
    assert result.detail == NOT_OPENED
    assert "does not open" in result.detail


def test_many_wrong_zipcrypto_passwords_never_pass_for_right() -> None:
    """ZipCrypto's one check byte lets ~1/256 wrong passwords past; they still fail cleanly."""
    data = offices.zipcrypto_zip({"a.txt": b"guarantee " * 500}, PASSWORD)
    result = unpack_zip(data, [f"guess-{n}" for n in range(600)])
    assert result.status is DocumentStatus.ENCRYPTED
    assert result.detail == NOT_OPENED


def test_right_password_among_wrong_ones(pdf: bytes) -> None:
    """The passwords are tried in turn; the one that opened it is reported."""
    data = offices.aes_zip({PDF_NAME: pdf, "b.pdf": pdf}, PASSWORD)
    result = unpack_zip(data, ["old", PASSWORD, "later"])
    assert result.status is DocumentStatus.TEXT
    assert names(data, ("old", PASSWORD)) == [PDF_NAME, "b.pdf"]
    assert result.password_used == PASSWORD


def test_single_password_as_a_string() -> None:
    """A bare string is taken as one password, not as a list of one-letter ones."""
    result = unpack_zip(offices.aes_zip({"a.txt": b"x"}, PASSWORD), PASSWORD)
    assert result.password_used == PASSWORD


def test_japanese_zipcrypto_password_in_cp932() -> None:
    """A Japanese password works for ZipCrypto made on Japanese Windows (CP932 key bytes)."""
    data = offices.zipcrypto_zip({"a.txt": b"x"}, "保証パス２０２６")
    result = unpack_zip(data, ["保証パス２０２６"])
    assert result.status is DocumentStatus.TEXT
    assert result.password_used == "保証パス２０２６"


def test_plain_zip_needs_no_password(pdf: bytes) -> None:
    """An unencrypted zip opens without a password, and with unneeded ones given."""
    data = offices.plain_zip({PDF_NAME: pdf})
    for passwords in ((), ("unused",)):
        result = unpack_zip(data, passwords)
        assert result.status is DocumentStatus.TEXT
        assert result.members == (Member(PDF_NAME, pdf),)
        assert result.password_used is None


@pytest.mark.parametrize("maker", ["plain", "aes", "zipcrypto"])
def test_utf8_flagged_names(maker: str, pdf: bytes) -> None:
    """Names with the UTF-8 flag set are decoded as UTF-8, whatever the encryption."""
    files = {PDF_NAME: pdf}
    if maker == "plain":
        data = offices.plain_zip(files, name_encoding="utf-8")
    elif maker == "aes":
        data = offices.aes_zip(files, PASSWORD, name_encoding="utf-8")
    else:
        data = offices.zipcrypto_zip(files, PASSWORD, name_encoding="utf-8")
    assert names(data, (PASSWORD,)) == [PDF_NAME]


def test_unflagged_utf8_names_from_macos() -> None:
    """Unflagged but valid UTF-8 (macOS, decomposed) is read as UTF-8 and recomposed (NFC)."""

    class _MacInfo(zipfile.ZipInfo):
        def _encodeFilenameFlags(self) -> tuple[bytes, int]:  # noqa: N802 (zipfile's name)
            return self.filename.encode("utf-8"), self.flag_bits  # no UTF-8 flag

    decomposed = unicodedata.normalize("NFD", "ガイド_デザイン.pdf")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(_MacInfo(decomposed), b"%PDF-1.4")
    assert names(out.getvalue()) == ["ガイド_デザイン.pdf"]


def test_folders_stripped_and_junk_skipped(pdf: bytes) -> None:
    """Folders give way to base names; directories, __MACOSX and .DS_Store are skipped."""
    data = offices.plain_zip(
        [
            ("提出書類/", b""),
            (f"提出書類/{PDF_NAME}", pdf),
            ("提出書類/.DS_Store", b"\0\0\0\1Bud1"),
            (f"__MACOSX/提出書類/._{PDF_NAME}", b"\0\5\26\7"),
            ("提出書類/Thumbs.db", b"\xd0\xcf\x11\xe0"),
            ("提出書類\\控え\\メモ.txt", "控え".encode("cp932")),
        ]
    )
    assert names(data) == [PDF_NAME, "メモ.txt"]


def test_only_junk_is_unreadable() -> None:
    """A zip holding nothing but folders and junk has no files: UNREADABLE."""
    result = unpack_zip(offices.plain_zip([("書類/", b""), ("__MACOSX/._x", b"x")]))
    assert result.status is DocumentStatus.UNREADABLE
    assert result.detail == "no files in the zip"


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """200 MiB of zeros deflated into well under 1 MiB, written in 1 MiB chunks."""
    out = io.BytesIO()
    zeros = bytes(MiB)
    with (
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive,
        archive.open("保証書.pdf", "w", force_zip64=True) as member,
    ):
        for _ in range(200):
            member.write(zeros)
    return out.getvalue()


def measured(data: bytes, limits: ZipLimits | None = None) -> tuple[Unpacked, float, int]:
    """Unpack, with the seconds taken and the peak of Python memory allocated meanwhile."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        result = unpack_zip(data, limits=limits or ZipLimits())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return result, time.perf_counter() - started, peak


def test_zip_bomb_refused_quickly_and_cheaply(bomb: bytes) -> None:
    """200 MiB of zeros in a tiny zip is UNREADABLE as a bomb, fast and in little memory."""
    assert len(bomb) < MiB
    result, seconds, peak = measured(bomb)
    assert result.status is DocumentStatus.UNREADABLE
    assert result.detail == OVER_SIZE
    assert "zip bomb" in result.detail
    assert result.members == ()
    assert seconds < 0.5
    assert peak < 4 * MiB


def test_overstated_compressed_size_not_believed() -> None:
    """A header claiming a modest ratio is checked against the compressed bytes really there."""
    honest = deflated([("a.pdf", bytes(5 * MiB))])  # ratio ~1000
    assert unpack_zip(honest).detail == OVER_RATIO
    lying = patch_central(honest, 20, "<I", 4 * MiB)  # "compressed size: 4 MiB" (ratio 1.25)
    result, _, peak = measured(lying)
    assert result.status is DocumentStatus.UNREADABLE
    assert result.detail == OVER_RATIO
    assert peak < 4 * MiB


def test_limits_enforced_while_reading(bomb: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    """Even with no check of the declared sizes, reading stops just past a limit."""
    monkeypatch.setattr(archives._Unpacker, "_check_declared", lambda *_: None)
    result, seconds, peak = measured(bomb, ZipLimits(max_member_bytes=2 * MiB))
    assert (result.status, result.detail) == (DocumentStatus.UNREADABLE, OVER_SIZE)
    assert seconds < 0.5
    assert peak < 8 * MiB  # 2 MiB and a chunk read, then refused: not 200 MiB
    no_size_limit = ZipLimits(max_member_bytes=300 * MiB, max_total_bytes=300 * MiB, max_ratio=2)
    result, _, peak = measured(bomb, no_size_limit)
    assert (result.status, result.detail) == (DocumentStatus.UNREADABLE, OVER_RATIO)
    assert peak < 8 * MiB  # out past twice the compressed size: stopped there
    three = deflated([(f"{n}.bin", bytes(MiB)) for n in range(3)])
    result, _, _ = measured(three, ZipLimits(max_total_bytes=2 * MiB, max_ratio=10_000))
    assert (result.status, result.detail) == (DocumentStatus.UNREADABLE, OVER_SIZE)


def test_understated_size_gives_no_more_than_declared() -> None:
    """A header understating the uncompressed size yields a CRC failure, not a bomb."""
    lying = patch_central(deflated([("a.pdf", bytes(30 * MiB))]), 24, "<I", 1000)
    result = unpack_zip(lying)
    assert result.status is DocumentStatus.UNREADABLE
    assert result.detail.startswith("corrupt zip")


def test_member_and_total_size_limits() -> None:
    """Members over max_member_bytes, or together over max_total_bytes, are refused."""
    data = deflated([(f"{n}.bin", os.urandom(MiB)) for n in range(3)])
    assert unpack_zip(data).status is DocumentStatus.TEXT
    for limits in (ZipLimits(max_member_bytes=MiB - 1), ZipLimits(max_total_bytes=2 * MiB)):
        result = unpack_zip(data, limits=limits)
        assert result.status is DocumentStatus.UNREADABLE
        assert result.detail == OVER_SIZE


def test_too_many_members() -> None:
    """More entries than max_members (50) is UNREADABLE; exactly 50 is fine."""
    fifty = offices.plain_zip([(f"{n:02}.txt", b"x") for n in range(50)])
    assert len(unpack_zip(fifty).members) == 50
    result = unpack_zip(offices.plain_zip([(f"{n:02}.txt", b"x") for n in range(51)]))
    assert result.status is DocumentStatus.UNREADABLE
    assert result.detail == "too many files in the zip (over 50)"


def test_too_many_members_across_nested_zips() -> None:
    """The member limit counts the members of nested zips too."""
    inner = offices.plain_zip([(f"{n}.txt", b"x") for n in range(30)])
    outer = offices.plain_zip([("a.zip", inner), ("b.zip", inner)])
    result = unpack_zip(outer)
    assert result.status is DocumentStatus.UNREADABLE
    assert result.detail.startswith("b.zip: too many files")


def test_nested_zip_flattened(pdf: bytes) -> None:
    """A zip inside the zip is opened (with the same passwords); its members join the rest."""
    inner = offices.aes_zip({PDF_NAME: pdf}, PASSWORD)
    outer = offices.plain_zip([("送付状.txt", b"cover"), ("証書一式.zip", inner)])
    result = unpack_zip(outer, [PASSWORD])
    assert result.status is DocumentStatus.TEXT
    assert result.members == (Member("送付状.txt", b"cover"), Member(PDF_NAME, pdf))
    assert result.password_used == PASSWORD


def test_nested_encrypted_zip_without_password(pdf: bytes) -> None:
    """A locked zip inside the zip makes the whole ENCRYPTED, naming the inner zip."""
    outer = offices.plain_zip([("証書一式.zip", offices.zipcrypto_zip({PDF_NAME: pdf}, PASSWORD))])
    result = unpack_zip(outer)
    assert result.status is DocumentStatus.ENCRYPTED
    assert result.detail == f"証書一式.zip: {LOCKED}"


def test_nested_deeper_than_limit_is_unreadable() -> None:
    """A zip in a zip in a zip passes max_depth (2): the whole is UNREADABLE, never half-read."""
    deepest = offices.plain_zip({"a.txt": b"x"})
    middle = offices.plain_zip({"middle.zip": deepest, "b.txt": b"y"})
    outer = offices.plain_zip({"outer.zip": middle})
    result = unpack_zip(outer)
    assert result.status is DocumentStatus.UNREADABLE
    assert result.detail == "outer.zip: middle.zip: zips nested more than 2 deep"
    assert names(outer, ()) == []
    deeper = unpack_zip(outer, limits=ZipLimits(max_depth=3))
    assert [m.name for m in deeper.members] == ["a.txt", "b.txt"]


def test_office_files_inside_are_not_unpacked() -> None:
    """An .xlsx member (a zip by its magic) stays a member: it is a document to read."""
    workbook = offices.plain_zip({"[Content_Types].xml": b"<Types/>"})
    result = unpack_zip(offices.plain_zip({FORM_NAME: workbook}))
    assert result.members == (Member(FORM_NAME, workbook),)


def test_unsupported_compression() -> None:
    """An entry compressed with a method pyzipper lacks (Deflate64) is UNREADABLE, said so."""
    data = bytearray(offices.plain_zip({"a.txt": b"x" * 100}))
    for signature, offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        struct.pack_into("<H", data, data.index(signature) + offset, 9)
    result = unpack_zip(bytes(data))
    assert result.status is DocumentStatus.UNREADABLE
    assert result.detail == "unsupported zip (compression type 9 (deflate64))"


def _truncated() -> bytes:
    data = offices.plain_zip({"a.pdf": b"%PDF-1.4 " * 200})
    return data[: len(data) // 2]


def _bad_crc() -> bytes:
    data = bytearray(offices.plain_zip({"a.txt": b"hello " * 50}))
    struct.pack_into("<I", data, data.index(b"PK\x01\x02") + 16, 0xDEADBEEF)
    return bytes(data)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"PK\x03\x04",
        b"PK\x05\x06" + b"\0" * 18,
        b"%PDF-1.4 not a zip at all",
        os.urandom(4096),
        _truncated(),
        _bad_crc(),
        offices.plain_zip({"a.pdf": b"x" * 300})[:-10],
    ],
    ids=["empty", "magic-only", "no-entries", "pdf", "random", "truncated", "bad-crc", "cut-end"],
)
def test_corrupt_input_is_unreadable(data: bytes) -> None:
    """Empty, truncated, corrupt or non-zip bytes are UNREADABLE, never an exception."""
    result = unpack_zip(data, [PASSWORD])
    assert result.status is DocumentStatus.UNREADABLE
    assert result.members == ()
    assert result.detail


_SEED_ZIPS = [
    offices.plain_zip({"保証書.pdf": b"%PDF-1.4 " * 40, "b/c.txt": b"abc"}),
    offices.zipcrypto_zip({"保証書.pdf": b"%PDF-1.4 " * 40}, PASSWORD),
    offices.aes_zip({"保証書.pdf": b"%PDF-1.4 " * 40}, PASSWORD),
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.sampled_from(_SEED_ZIPS),
    edits=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=6),
)
def test_damaged_zips_never_raise(seed: bytes, edits: list[tuple[int, int]]) -> None:
    """Any bytes of a real zip overwritten: unpack_zip answers and does not raise."""
    data = bytearray(seed)
    for position, value in edits:
        data[position % len(data)] = value
    result = unpack_zip(bytes(data), [PASSWORD])
    assert result.status in {
        DocumentStatus.TEXT,
        DocumentStatus.ENCRYPTED,
        DocumentStatus.UNREADABLE,
    }


@pytest.mark.parametrize(
    ("data", "filename", "expected"),
    [
        (b"PK\x03\x04rest", "attachment.bin", True),
        (b"PK\x05\x06" + b"\0" * 18, "noname", True),
        (b"whatever", "証書一式.ZIP", True),
        (b"PK\x03\x04rest", FORM_NAME, False),
        (b"PK\x03\x04rest", "届出.docx", False),
        (b"%PDF-1.7", "保証書.pdf", False),
        (b"", "", False),
    ],
)
def test_is_zip(data: bytes, filename: str, expected: bool) -> None:
    """A zip by its magic or a .zip name; Office files (zips inside) are not archives."""
    assert is_zip(data, filename) is expected
