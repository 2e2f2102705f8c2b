"""Property tests: realistic messages, mutated, never break read_message or decide.

Each example takes one of the sample submissions (tests/samples) and applies a few
mutations a broken client, gateway or attacker could produce: flipped, inserted or
deleted bytes, truncation, duplicated or dropped header lines, broken MIME boundaries,
swapped charset labels and transfer encodings, NULs, very long lines, other line
endings. Each example is read and decided in a sandboxed child, so a hang fails the
test with a timeout instead of stopping the run.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
import stack
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from samples import mails

from daemon import config
from daemon.config import Settings
from daemon.decide import decide
from daemon.model import Mail, Verdict
from daemon.read import read_message
from daemon.sandbox import Limits, SandboxError, run_limited

BASES: dict[str, Callable[[], bytes]] = {
    "dsure key notice": mails.dsure_key_mail,
    "confirmation form": mails.confirmation_mail,
    "legacy PDF policy": mails.legacy_pdf_mail,
    "not MIME": mails.not_mime,
    "bounce": mails.bounce,
}
CHARSETS = [
    b"iso-2022-jp", b"ISO-2022-JP-2", b"shift_jis", b"x-sjis", b"cp932", b"euc-jp",
    b"utf-8", b"utf-7", b"utf-16", b"utf-32", b"us-ascii", b"iso-8859-1", b"gb2312",
    b"x-unknown", b"", b'"', b'"utf-8', b"shift_jis\x00", b"unicode-1-1-utf-7", b"ebcdic",
]
ENCODINGS = [b"base64", b"quoted-printable", b"7bit", b"8bit", b"binary", b"x-uuencode",
             b"bogus", b""]
LIMITS = Limits(seconds=30, memory_bytes=1 << 30)

Mutation = tuple[str, int, int, bytes]  # (operation, where, how much, what)

_CHARSET = re.compile(rb'charset\s*=\s*"?[^";\s]*"?', re.I)
_ENCODING = re.compile(rb"(content-transfer-encoding:[ \t]*)([^\r\n]*)", re.I)
_BOUNDARY = re.compile(rb'boundary\s*=\s*"?([^";\r\n]+)"?', re.I)


def _header_end(raw: bytes) -> int:
    ends = [i for i in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if i >= 0]
    return min(ends) if ends else len(raw)


def _nth(matches: list[re.Match[bytes]], index: int) -> re.Match[bytes] | None:
    return matches[index % len(matches)] if matches else None


def _boundary(raw: bytes, where: int, variant: int) -> bytes:
    """Break the MIME structure at one boundary, one of several ways."""
    found = _nth(list(_BOUNDARY.finditer(raw)), where)
    if found is None:
        return raw
    name = found.group(1)
    delimiter = b"--" + name
    if variant == 0:  # no closing delimiter
        return raw.replace(delimiter + b"--", delimiter)
    if variant == 1:  # one delimiter misspelt
        at = raw.find(delimiter, found.end())
        return raw if at < 0 else raw[:at] + b"--x" + raw[at + 2:]
    if variant == 2:  # the declared boundary differs from the one used
        return raw[:found.start(1)] + name[::-1] + raw[found.end(1):]
    if variant == 3:  # an empty boundary parameter
        return raw[:found.start(1)] + raw[found.end(1):]
    return raw.replace(delimiter + b"\r\n", delimiter + b"  \r\n", 1)  # trailing blanks


def mutate(raw: bytes, mutation: Mutation) -> bytes:
    """One mutation applied to a message."""
    op, where, size, data = mutation
    at = where % (len(raw) + 1)
    head = _header_end(raw)
    lines = raw[:head].splitlines(keepends=True)
    if op == "flip" and raw:
        at %= len(raw)
        return raw[:at] + bytes([raw[at] ^ (size % 255 + 1)]) + raw[at + 1:]
    if op == "insert":
        return raw[:at] + data + raw[at:]
    if op == "delete":
        return raw[:at] + raw[at + size:]
    if op == "truncate":
        return raw[:at]
    if op == "nul":
        return raw[:at] + b"\x00" * (size % 64 + 1) + raw[at:]
    if op == "long-line":
        return raw[:at] + b"\r\n" + (data or b"A") * (size % 120_000 + 1000) + b"\r\n" + raw[at:]
    if op == "long-header":
        return b"X-Long: " + (data or b"a") * (size % 120_000 + 1000) + b"\r\n" + raw
    if op in ("dup-header", "drop-header") and lines:
        i = where % len(lines)
        lines[i:i + 1] = [lines[i]] * (2 if op == "dup-header" else 0)
        return b"".join(lines) + raw[head:]
    if op == "charset":
        found = _nth(list(_CHARSET.finditer(raw)), where)
        label = CHARSETS[size % len(CHARSETS)]
        return raw if found is None else raw[:found.start()] + b"charset=" + label + raw[
            found.end():]
    if op == "encoding":
        found = _nth(list(_ENCODING.finditer(raw)), where)
        label = ENCODINGS[size % len(ENCODINGS)]
        return raw if found is None else raw[:found.start(2)] + label + raw[found.end(2):]
    if op == "boundary":
        return _boundary(raw, where, size % 5)
    if op == "line-endings":
        return [raw.replace(b"\r\n", b"\n"), raw.replace(b"\r\n", b"\r"),
                raw.replace(b"\r\n", b"\n", 3), raw.replace(b"\n", b"\r\r\n")][size % 4]
    return raw


OPERATIONS = ["flip", "insert", "delete", "truncate", "nul", "long-line", "long-header",
              "dup-header", "drop-header", "charset", "encoding", "boundary", "line-endings"]
mutations = st.tuples(
    st.sampled_from(OPERATIONS),
    st.integers(min_value=0, max_value=1 << 20),
    st.integers(min_value=0, max_value=1 << 17),
    st.binary(max_size=48),
)


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The test office's settings (as the ``settings`` fixture, once for the module)."""
    state: Path = tmp_path_factory.mktemp("office") / "state.sqlite3"
    return config.parse(stack.office_config(state))


def _read_and_decide(raw: bytes, office: Settings) -> tuple[str, str]:
    mail = read_message(raw)
    assert isinstance(mail, Mail)
    return mail.message_id, decide(mail, office).verdict.value


def _check(raw: bytes, office: Settings) -> None:
    try:
        message_id, verdict = run_limited(_read_and_decide, raw, office, limits=LIMITS)
    except SandboxError as err:
        raise AssertionError(f"{err}\n{err.traceback}") from None
    assert message_id.strip()
    assert verdict in {v.value for v in Verdict}


def test_mutations_change_the_message() -> None:
    """Every mutation operation really changes some sample (the generator is not idle)."""
    raws = [make() for make in BASES.values()]
    for op in OPERATIONS:
        assert any(mutate(raw, (op, 7, 3, b"\xff")) != raw for raw in raws), op


@pytest.mark.parametrize("make", BASES.values(), ids=BASES.keys())
@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          phases=[Phase.explicit, Phase.generate, Phase.shrink])  # no explain: a fork each
@given(changes=st.lists(mutations, min_size=1, max_size=4))
def test_mutated_message_is_read_and_decided(make: Callable[[], bytes],
                                             changes: list[Mutation], office: Settings) -> None:
    """A mutated sample is read (a Mail with a Message-ID) and decided, never raising."""
    raw = make()
    for change in changes:
        raw = mutate(raw, change)
    _check(raw, office)
