"""Zip attachments: unpacked, decrypted (ZipCrypto or WinZip AES) and size-limited.

Contractors zip their documents, often with a password (the "PPAP" habit: the password
follows in a second mail), with Windows' own "compressed folder", 7-Zip, Lhaplus or Lhaz.
Those write Japanese entry names in CP932 without the UTF-8 flag; macOS writes UTF-8
(without the flag, decomposed). pyzipper reads both ZipCrypto and AES.

A zip from outside is hostile until proven otherwise: every limit in :class:`ZipLimits`
is checked against the sizes the archive declares (cheap, before anything is
decompressed) *and* again while reading, chunk by chunk, so a header that lies cannot
smuggle a bomb through. :func:`unpack_zip` never raises: whatever goes wrong becomes
an :class:`Unpacked` with status ENCRYPTED or UNREADABLE and a short reason.
"""

from __future__ import annotations

import io
import lzma
import re
import struct
import unicodedata
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from daemon.documents import office_format
from daemon.model import DocumentStatus

MiB = 1 << 20
_CHUNK = 64 * 1024
_UTF8_FLAG = 0x800  # general-purpose bit 11: names are UTF-8
_ENCRYPTED_FLAG = 0x1
_DOS_DIRECTORY = 0x10
_SEPARATORS = re.compile(r"[/\\]")
_JUNK_NAMES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})
_JUNK_FOLDERS = frozenset({"__MACOSX"})
# Zip containers that are documents, not archives to open (the magic alone would say
# zip): Office files (see daemon.documents.OFFICE_SUFFIXES), and these.
_OTHER_DOCUMENT_SUFFIXES = (".odt", ".ods", ".odp", ".epub", ".jar", ".apk")

LOCKED = "encrypted; no password given"
NOT_OPENED = "encrypted; the password given does not open it"
OVER_SIZE = "over the size limit (zip bomb?)"
OVER_RATIO = "compression ratio over the limit (zip bomb?)"
NO_FILES = "no files in the zip"


@dataclass(frozen=True)
class ZipLimits:
    """Hard limits on what one attachment may unpack to.

    ``max_members`` caps the entries of each archive (directories and junk included,
    checked before the directory is even parsed) and the members extracted in all.
    ``max_total_bytes`` counts every byte decompressed, at every level (a nested zip's
    own bytes and then its members'). ``max_ratio`` (uncompressed/compressed) applies
    to members over ``ratio_floor`` bytes. ``max_depth`` counts the outer zip as 1: at
    the default 2 a zip inside the zip is opened and its members flattened into the
    result; a zip nested deeper makes the whole attachment UNREADABLE.
    """

    max_members: int = 50
    max_member_bytes: int = 20 * MiB
    max_total_bytes: int = 50 * MiB
    max_ratio: int = 100
    ratio_floor: int = 1 * MiB
    max_depth: int = 2


@dataclass(frozen=True)
class Member:
    """One file out of a zip: its base name (decoded, no folders) and its bytes."""

    name: str
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class Unpacked:
    """What opening a zip gave: TEXT means opened, with its members."""

    status: DocumentStatus
    members: tuple[Member, ...] = ()
    detail: str = ""
    password_used: str | None = None


class _UnpackError(Exception):
    """Stops the whole unpacking with a status and a reason."""

    def __init__(self, status: DocumentStatus, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail

    def inside(self, name: str) -> _UnpackError:
        """The same failure, said to be in the nested zip of that name."""
        return _UnpackError(self.status, f"{name}: {self.detail}")


# pyzipper (and the crypto library under it) is imported when a zip is opened, not with
# this module: a command whose message has no zip starts without it.
def _corrupt() -> tuple[type[BaseException], ...]:
    """What pyzipper, zlib, bz2 and lzma raise on broken input. NotImplementedError (an
    unsupported compression such as Deflate64, or strong encryption) is caught apart."""
    import pyzipper  # noqa: PLC0415 - lazy, see above

    return (
        pyzipper.BadZipFile, pyzipper.LargeZipFile, zlib.error, lzma.LZMAError, EOFError,
        ValueError, struct.error, OSError, KeyError, IndexError, TypeError, AttributeError,
        RuntimeError,
    )  # fmt: skip


def _garbled() -> tuple[type[BaseException], ...]:
    """What a wrong password that slips past the check bytes (1 in 256 for ZipCrypto, 1 in
    65536 for AES) gives while reading: garbage that fails to inflate, or a bad CRC/HMAC."""
    import pyzipper  # noqa: PLC0415 - lazy, see above

    return (pyzipper.BadZipFile, zlib.error, lzma.LZMAError, OSError)


def is_zip(data: bytes, filename: str) -> bool:
    """A zip to unpack: named .zip, or a zip by its magic unless named as an Office file."""
    name = filename.lower().strip()
    if name.endswith(".zip"):
        return True
    office = office_format(name)
    if name.endswith(_OTHER_DOCUMENT_SUFFIXES) or (office is not None and office.zipped):
        return False  # .xlsx/.docx are zips too, but documents to read, not archives
    return data[:4] in (b"PK\x03\x04", b"PK\x05\x06")


def unpack_zip(
    data: bytes, passwords: Iterable[str] = (), *, limits: ZipLimits = ZipLimits()
) -> Unpacked:
    """Unpack a zip, decrypting with the given passwords; never raises."""
    try:
        unpacker = _Unpacker(limits, _candidates(passwords))
        members = unpacker.unpack(bytes(data), depth=1)
    except _UnpackError as failure:
        return Unpacked(failure.status, detail=failure.detail)
    except Exception as err:  # noqa: BLE001 - a hostile zip must never take the daemon down
        return Unpacked(DocumentStatus.UNREADABLE, detail=f"corrupt zip ({type(err).__name__})")
    if not members:
        return Unpacked(DocumentStatus.UNREADABLE, detail=NO_FILES)
    return Unpacked(
        DocumentStatus.TEXT, members=tuple(members), password_used=unpacker.password_used
    )


def _candidates(passwords: Iterable[str]) -> list[tuple[str, bytes]]:
    """Each password as UTF-8 (AES, 7-Zip) and as CP932 (ZipCrypto from Japanese Windows)."""
    if isinstance(passwords, str):
        passwords = [passwords]  # one password passed bare, not its characters
    out: list[tuple[str, bytes]] = []
    seen: set[bytes] = set()
    for password in passwords:
        if not password:
            continue  # pyzipper takes an empty password for none at all
        for encoding in ("utf-8", "cp932"):
            try:
                raw = password.encode(encoding)
            except UnicodeEncodeError:
                continue
            if raw not in seen:
                seen.add(raw)
                out.append((password, raw))
    return out


class _Unpacker:
    """One call's state: the limits, what is left of them, the password that worked."""

    def __init__(self, limits: ZipLimits, candidates: list[tuple[str, bytes]]) -> None:
        self.limits = limits
        self.candidates = candidates
        self.bytes_left = limits.max_total_bytes
        self.members_left = limits.max_members
        self.password_used: str | None = None
        self._last: tuple[str, bytes] | None = None

    def unpack(self, data: bytes, *, depth: int) -> list[Member]:
        limits = self.limits
        if depth > limits.max_depth:
            raise _UnpackError(
                DocumentStatus.UNREADABLE, f"zips nested more than {limits.max_depth} deep"
            )
        if not data:
            raise _UnpackError(DocumentStatus.UNREADABLE, "corrupt zip (empty file)")
        if _central_entries(data) > limits.max_members:
            raise self._too_many()
        import pyzipper  # noqa: PLC0415 - lazy, see _corrupt

        members: list[Member] = []
        try:
            with pyzipper.AESZipFile(io.BytesIO(data)) as archive:
                infos: list[Any] = archive.infolist()
                if len(infos) > limits.max_members:
                    raise self._too_many()
                wanted = [(info, name) for info in infos if (name := _member_name(info))]
                self._check_declared([info for info, _ in wanted], len(data))
                for info, name in wanted:
                    content = self._read(archive, info, len(data))
                    if is_zip(content, name):
                        try:
                            members.extend(self.unpack(content, depth=depth + 1))
                        except _UnpackError as failure:
                            raise failure.inside(name) from None
                        continue
                    self.members_left -= 1
                    if self.members_left < 0:
                        raise self._too_many()
                    members.append(Member(name, content))
        except NotImplementedError as err:
            raise _UnpackError(DocumentStatus.UNREADABLE, f"unsupported zip ({err})") from None
        except _corrupt() as err:
            raise _UnpackError(
                DocumentStatus.UNREADABLE, f"corrupt zip ({type(err).__name__})"
            ) from None
        return members

    def _too_many(self) -> _UnpackError:
        return _UnpackError(
            DocumentStatus.UNREADABLE, f"too many files in the zip (over {self.limits.max_members})"
        )

    def _check_declared(self, infos: list[Any], archive_size: int) -> None:
        """Refuse on the declared sizes alone, before decompressing anything."""
        limits = self.limits
        total = 0
        for info in infos:
            size: int = info.file_size
            if size > limits.max_member_bytes:
                raise _UnpackError(DocumentStatus.UNREADABLE, OVER_SIZE)
            if size > limits.ratio_floor and size > limits.max_ratio * _packed(info, archive_size):
                raise _UnpackError(DocumentStatus.UNREADABLE, OVER_RATIO)
            total += size
        if total > self.bytes_left:
            raise _UnpackError(DocumentStatus.UNREADABLE, OVER_SIZE)

    def _read(self, archive: Any, info: Any, archive_size: int) -> bytes:
        """A member's bytes: as is, or decrypted with the first password that opens it."""
        if not info.flag_bits & _ENCRYPTED_FLAG:
            with archive.open(info) as handle:
                return self._drain(handle, info, archive_size)
        if not self.candidates:
            raise _UnpackError(DocumentStatus.ENCRYPTED, LOCKED)
        ordered = self.candidates
        if self._last is not None:
            ordered = [self._last, *(c for c in self.candidates if c != self._last)]
        for label, raw in ordered:
            try:
                handle = archive.open(info, pwd=raw)
            except RuntimeError:  # pyzipper: "Bad password for file ..." (check bytes differ)
                continue
            try:
                with handle:
                    content = self._drain(handle, info, archive_size)
            except _garbled():
                continue
            self._last = (label, raw)
            if self.password_used is None:
                self.password_used = label
            return content
        raise _UnpackError(DocumentStatus.ENCRYPTED, NOT_OPENED)

    def _drain(self, handle: Any, info: Any, archive_size: int) -> bytes:
        """Read in chunks, stopping as soon as a limit is passed (whatever was declared)."""
        limits = self.limits
        cap = min(limits.max_member_bytes, self.bytes_left)
        ratio_cap = limits.max_ratio * _packed(info, archive_size)
        out = bytearray()
        while chunk := handle.read(_CHUNK):
            out += chunk
            if len(out) > cap:
                raise _UnpackError(DocumentStatus.UNREADABLE, OVER_SIZE)
            if len(out) > limits.ratio_floor and len(out) > ratio_cap:
                raise _UnpackError(DocumentStatus.UNREADABLE, OVER_RATIO)
        self.bytes_left -= len(out)
        return bytes(out)


def _packed(info: Any, archive_size: int) -> int:
    """The compressed size, no more than the bytes really there after the entry's header."""
    declared: int = info.compress_size
    offset: int = info.header_offset
    return max(1, min(declared, archive_size - offset))


def _central_entries(data: bytes) -> int:
    """How many entries the central directory can hold at most, counted before parsing it.

    Every entry starts with the signature ``PK\\x01\\x02``; counting them in the region the
    end record points at is cheap and never undercounts, whereas pyzipper builds an
    object per entry of however many a hostile directory holds.
    """
    eocd = data.rfind(b"PK\x05\x06", max(0, len(data) - (1 << 16) - 22))
    if eocd < 0 or len(data) - eocd < 22:
        return 0  # no end record: pyzipper says it is not a zip
    (directory_size,) = struct.unpack_from("<I", data, eocd + 12)
    # 76: a zip64 end record and locator may sit between the directory and the end record.
    # The zip64 marker 0xFFFFFFFF needs no case of its own: it reaches back past the start
    # of any attachment (they are capped far below 4 GiB), so everything is counted.
    start = max(0, eocd - directory_size - 76)
    return data.count(b"PK\x01\x02", start, eocd)


def _member_name(info: Any) -> str:
    """The entry's base name, or "" for folders and junk (__MACOSX, .DS_Store, ...)."""
    path = _decode_name(info)
    if path.endswith(("/", "\\")) or (info.external_attr & _DOS_DIRECTORY and not info.file_size):
        return ""
    parts = [part for part in _SEPARATORS.split(path) if part]
    if not parts or any(part in _JUNK_FOLDERS for part in parts):
        return ""
    base = parts[-1].strip()
    if base in _JUNK_NAMES or base.startswith("._"):  # ._name: macOS resource forks
        return ""
    return base


def _decode_name(info: Any) -> str:
    """The entry name: UTF-8 when flagged or valid, else CP932 (Japanese Windows tools).

    pyzipper decodes unflagged names as CP437; encoding back gives the raw bytes. The
    split into folders happens after decoding: CP932's second bytes include 0x5C (表, ソ).
    """
    name: str = info.orig_filename
    if not info.flag_bits & _UTF8_FLAG:
        raw = name.encode("cp437")
        try:
            name = raw.decode("utf-8")
        except UnicodeDecodeError:
            name = raw.decode("cp932", errors="replace")
    name = name.partition("\x00")[0]  # a NUL ends the name (a trick to hide an extension)
    return unicodedata.normalize("NFC", name)  # macOS writes names decomposed
