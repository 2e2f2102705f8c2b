"""The sandbox: one step in a forked child under hard limits, hostile files contained."""

from __future__ import annotations

import io
import multiprocessing
import os
import resource
import signal
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from daemon.archives import Unpacked, ZipLimits, unpack_zip
from daemon.config import Settings
from daemon.documents import Extracted, read_pdf
from daemon.model import DocumentStatus
from daemon.sandbox import Limits, SandboxError, run_limited

MiB = 1 << 20
GiB = 1 << 30
HOSTILE = Limits(seconds=10, memory_bytes=512 * MiB)


def _children() -> list[str]:
    """Processes (zombies included) whose parent is this process, from /proc."""
    me = str(os.getpid())
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue  # gone meanwhile
        fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
        if fields.get("PPid", "").strip() == me:
            found.append(f"{entry.name} {fields.get('State', '').strip()}")
    return found


def _open_fds() -> set[str]:
    return {entry.name for entry in Path("/proc/self/fd").iterdir()}


@pytest.fixture(autouse=True)
def no_leftovers() -> Iterator[None]:
    """After each test: no child process (not even a zombie) and no file descriptor left."""
    fds = _open_fds()
    yield
    assert multiprocessing.active_children() == []
    assert _children() == []
    assert _open_fds() == fds


def _vm(field: str) -> int:
    """A /proc/self/status memory figure, in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(field)


# --- what the children run -------------------------------------------------------------

def _boom(text: str) -> None:
    raise ValueError(text)


def _spin() -> None:
    while True:
        pass


def _hog() -> int:
    return len(bytearray(4 * GiB))


def _touch(size: int) -> int:
    block = b"\x01" * size  # really written, so it is resident in the child
    return block.count(1)


def _signal_self(signum: int) -> None:
    os.kill(os.getpid(), signum)


def _exit_quietly() -> None:
    os._exit(3)


# --- hostile files ---------------------------------------------------------------------

def _deflate_bomb(size: int, fill: bytes = b" ") -> tuple[bytes, int]:
    """A zlib stream that inflates to ``size`` bytes of ``fill`` (about 1000:1), and the
    raw deflate data inside it; built in a fraction of a second by repeating one block."""
    chunk = fill * MiB
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)  # no history
    raw = block * (size // MiB) + b"\x03\x00"  # an empty final block
    adler = 1
    for _ in range(size // MiB):
        adler = zlib.adler32(chunk, adler)
    return b"\x78\xda" + raw + struct.pack(">I", adler), len(raw)


def _pdf(objects: list[bytes]) -> bytes:
    """A PDF with these objects (1 0 obj is the catalog) and a correct xref table."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%b\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


def _page(extra: bytes = b"") -> bytes:
    return (b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
            b"/Resources << >> " + extra + b" >>")


def flate_bomb_pdf() -> bytes:
    """One page whose 1 MB content stream inflates to 1 GiB of blanks."""
    stream, _ = _deflate_bomb(GiB)
    contents = b"<< /Length %d /Filter /FlateDecode >>\nstream\n%b\nendstream" % (
        len(stream), stream)
    return _pdf([b"<< /Type /Catalog /Pages 2 0 R >>",
                 b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>", _page(), contents])


def deep_nesting_pdf() -> bytes:
    """A page dictionary holding an array nested 200,000 deep."""
    depth = 200_000
    return _pdf([b"<< /Type /Catalog /Pages 2 0 R >>",
                 b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                 _page(b"/Deep " + b"[" * depth + b"]" * depth),
                 b"<< /Length 12 >>\nstream\nBT (x) Tj ET\nendstream"])


def nested_pages_pdf() -> bytes:
    """A page tree 5,000 /Pages nodes deep, each claiming thousands of pages."""
    depth = 5_000
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    for level in range(depth):  # objects 2 .. depth+1: each the only kid of the one above
        number = level + 2
        parent = b"/Parent %d 0 R " % (number - 1) if level else b""
        objects.append(b"<< /Type /Pages %b/Kids [%d 0 R] /Count 9999 >>" % (parent, number + 1))
    leaf = depth + 2
    objects.append(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] /Contents %d 0 R >>"
                   % (leaf - 1, leaf + 1))
    objects.append(b"<< /Length 12 >>\nstream\nBT (x) Tj ET\nendstream")
    return _pdf(objects)


def page_loop_pdf() -> bytes:
    """A page tree whose /Kids point back to itself."""
    return _pdf([b"<< /Type /Catalog /Pages 2 0 R >>",
                 b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>",
                 b"<< /Type /Pages /Parent 2 0 R /Kids [2 0 R 3 0 R] /Count 1000000 >>"])


def _zip(name: bytes, raw: bytes, crc: int, size: int) -> bytes:
    """A one-entry deflated zip written by hand, declaring the sizes given."""
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 0, crc, len(raw), size,
                        len(name), 0) + name
    central = struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 8, 0, 0, crc, len(raw),
                          size, len(name), 0, 0, 0, 0, 0, 0) + name
    offset = len(local) + len(raw)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, len(central), offset, 0)
    return local + raw + central + end


def _bomb_member(size: int) -> tuple[bytes, int]:
    stream, length = _deflate_bomb(size, b"\x00")
    crc = 0
    chunk = b"\x00" * MiB
    for _ in range(size // MiB):
        crc = zlib.crc32(chunk, crc)
    return stream[2:2 + length], crc


def honest_zip_bomb() -> bytes:
    """A 1 MB zip whose one member says, truthfully, that it inflates to 1 GiB."""
    raw, crc = _bomb_member(GiB)
    return _zip(b"policy.pdf", raw, crc, GiB)


def lying_zip_bomb() -> bytes:
    """A member that declares 4 KB and inflates to 1 GiB."""
    raw, crc = _bomb_member(GiB)
    return _zip(b"policy.pdf", raw, crc, 4096)


def nested_zip_bomb() -> bytes:
    """Zips of zips: 16 x 16 members, each inflating (while lying about it) to 64 MiB."""
    raw, crc = _bomb_member(64 * MiB)
    inner = _zip(b"form.pdf", raw, crc, 100)
    middle = io.BytesIO()
    with zipfile.ZipFile(middle, "w", zipfile.ZIP_STORED) as archive:
        for i in range(16):
            archive.writestr(f"part{i}.zip", inner)
    outer = io.BytesIO()
    with zipfile.ZipFile(outer, "w", zipfile.ZIP_STORED) as archive:
        for i in range(16):
            archive.writestr(f"batch{i}.zip", middle.getvalue())
    return outer.getvalue()


# --- the tests -------------------------------------------------------------------------

def test_result_comes_back() -> None:
    """A normal function's result comes back from the child."""
    assert run_limited(sorted, [3, 1, 2]) == [1, 2, 3]
    assert run_limited(dict, [("保証", "契約")]) == {"保証": "契約"}


def test_large_result_comes_back() -> None:
    """A result of many MB (bigger than any pipe buffer) comes back whole."""
    data = os.urandom(24 * MiB)
    assert run_limited(bytes, data) == data


def test_exception_becomes_crashed() -> None:
    """An exception in the child becomes SandboxError("crashed") naming its type and text."""
    with pytest.raises(SandboxError) as caught:
        run_limited(_boom, "壊れた添付ファイル")
    assert caught.value.kind == "crashed"
    assert "ValueError" in str(caught.value)
    assert "壊れた添付ファイル" in str(caught.value)
    assert "_boom" in caught.value.traceback


def test_endless_loop_is_stopped() -> None:
    """An endless loop is killed at the time limit and reported as "timeout"."""
    with pytest.raises(SandboxError) as caught:
        run_limited(_spin, limits=Limits(seconds=2))
    assert caught.value.kind == "timeout"


def test_memory_hog_ends_as_memory() -> None:
    """Allocating 4 GiB under a 256 MiB limit ends as "memory"."""
    with pytest.raises(SandboxError) as caught:
        run_limited(_hog, limits=Limits(memory_bytes=256 * MiB))
    assert caught.value.kind == "memory"


def test_parent_memory_untouched() -> None:
    """The child's allocation and rlimits stay in the child: the parent does not grow."""
    limit = resource.getrlimit(resource.RLIMIT_AS)
    peak = _vm("VmHWM")
    assert run_limited(_touch, 400 * MiB, limits=Limits(memory_bytes=2 * GiB)) == 400 * MiB
    assert _vm("VmHWM") < peak + 64 * MiB
    assert resource.getrlimit(resource.RLIMIT_AS) == limit


@pytest.mark.parametrize("signum", [signal.SIGSEGV, signal.SIGABRT])
def test_native_crash_is_crashed(signum: signal.Signals) -> None:
    """A child killed by a signal (a native crash) is "crashed", naming the signal."""
    with pytest.raises(SandboxError) as caught:
        run_limited(_signal_self, signum)
    assert caught.value.kind == "crashed"
    assert signum.name in str(caught.value)


def test_exit_without_result_is_crashed() -> None:
    """A child that exits without sending a result is "crashed"."""
    with pytest.raises(SandboxError) as caught:
        run_limited(_exit_quietly)
    assert caught.value.kind == "crashed"
    assert "status 3" in str(caught.value)


PDF_BOMBS: dict[str, Callable[[], bytes]] = {
    "flate bomb": flate_bomb_pdf,
    "deep nesting": deep_nesting_pdf,
    "nested pages": nested_pages_pdf,
    "page loop": page_loop_pdf,
}


@pytest.mark.parametrize("make", PDF_BOMBS.values(), ids=PDF_BOMBS.keys())
def test_pdf_bomb_is_contained(make: Callable[[], bytes]) -> None:
    """A hostile PDF through read_pdf in the sandbox ends: a status or a SandboxError."""
    try:
        got = run_limited(read_pdf, make(), limits=HOSTILE)
    except SandboxError as err:
        assert err.kind in ("timeout", "memory", "crashed")
    else:
        assert isinstance(got, Extracted)
        assert got.status in DocumentStatus


ZIP_BOMBS: dict[str, Callable[[], bytes]] = {
    "honest": honest_zip_bomb,
    "lying sizes": lying_zip_bomb,
    "nested": nested_zip_bomb,
}


@pytest.mark.parametrize("make", ZIP_BOMBS.values(), ids=ZIP_BOMBS.keys())
def test_zip_bomb_is_contained(make: Callable[[], bytes]) -> None:
    """A zip bomb through unpack_zip in the sandbox is refused, capped or stopped."""
    try:
        got = run_limited(unpack_zip, make(), limits=HOSTILE)
    except SandboxError as err:
        assert err.kind in ("timeout", "memory", "crashed")
    else:
        assert isinstance(got, Unpacked)
        assert sum(len(m.data) for m in got.members) <= ZipLimits().max_total_bytes


def test_deciding_runs_in_a_child_and_a_failure_is_a_review(settings: Settings) -> None:
    """The classification of a stranger's text runs in a child with the office's limits;
    a child that cannot finish in time sends the message to review."""
    from samples import mails  # noqa: PLC0415

    from daemon.read import read_message  # noqa: PLC0415
    from daemon.sandbox import decide_in_child  # noqa: PLC0415

    mail = read_message(mails.dsure_key_mail())
    decision, err = decide_in_child(mail, settings)
    assert (decision.verdict.value, err) == ("routed", None)
    hurried = settings.model_copy(update={"limits": settings.limits.model_copy(
        update={"read_seconds": 0.001})})
    decision, err = decide_in_child(mail, hurried)
    assert err is not None and err.kind == "timeout"
    assert (decision.verdict.value, decision.problems, decision.route_to) == (
        "review", ("too-large",), tuple(settings.routing.review))
