"""A sender's text, made safe to show in the mails the daemon writes.

The sender controls the subject, the display name, the addresses, the file names and
every value read from a document. None of it may break a header (a line break in a
Subject), hide what it is (a bidi override that turns ``fdp.exe`` round, a NUL), or be
carried back out in the office's name (a URL, a secret). Pure: text in, text out.

- :func:`for_staff`: one line; each control or invisible formatting character written as a
  visible escape (``\\u202e``, ``\\x00``), line and paragraph breaks as a space.
- :func:`for_contractor`: one line; those characters removed, URLs and mail addresses
  replaced by a note (what a correction quotes back to the contractor).
- :func:`plain_name`: a display name fit for a greeting, or None.
- :func:`masked`: the message's secrets masked (for every subject the daemon writes).
- :func:`mailbox`: an address as it goes on the SMTP command line, or None when it cannot.
"""

from __future__ import annotations

import email.utils
import functools
import re
import unicodedata
from collections.abc import Iterable

from daemon.documents import OFFICE_SUFFIXES
from daemon.model import mask

# Characters that end a line somewhere (str.splitlines, the email package, mail clients):
# shown as a space.
_BREAKS = frozenset("\t\n\v\f\r\x1c\x1d\x1e\x1f\x85\u2028\u2029")
# Invisible characters that change what a text looks like: controls (C0, DEL, C1),
# formatting characters (bidi overrides and isolates U+202A-U+202E, U+2066-U+2069, marks,
# zero-width characters) and lone surrogates (undecodable bytes).
_HIDDEN_CATEGORIES = frozenset(("Cc", "Cf", "Cs"))

URL_NOTE = "（URL省略）"

# What ends a file's name as a top-level domain ends a host's (資料.pdf, 様式.xlsx): never
# taken for a host. Office files' suffixes from daemon.documents, and these.
_FILE_SUFFIXES = "|".join(
    [*(s.lstrip(".") for s in OFFICE_SUFFIXES), "pdf", "txt", "csv", "jpe?g", "png", "gif",
     "tiff?", "eml", "lzh"])
_URL = re.compile(
    r"""
    [\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+                      # a mail address
    | (?:[a-z][a-z0-9+.\-]*://|(?:mailto|javascript|data|vbscript|file|tel|sms):
         |www\.)\S*                                        # a scheme, or www.
    | (?<![\w.\-])\d{1,3}(?:\.\d{1,3}){3}(?![\w.])(?:[/:?\#]\S*)?   # an IPv4 host
    | (?<![\w.\-])[\w\-]+(?:\.[\w\-]+)*                   # a bare host name ...
      \.(?!(?:""" + _FILE_SUFFIXES + r""")(?![a-z]))        # (not a file's suffix)
      [a-z]{2,63}(?![\w\-]|\.\w)(?:[/:?\#]\S*)?            # ... ending in a TLD
    """,
    re.IGNORECASE | re.VERBOSE,
)

NAME_MAX_CHARS = 40
_NAME_PUNCTUATION = frozenset("・･.-‐－'’()（）,，、&＆/／_ 　")

_SECRET_LABEL = re.compile(
    r"(?:認証(?:キー|ｷｰ)|(?:閲覧用|解凍|ZIP|zip|ファイル|PDF)?(?:パスワード|ﾊﾟｽﾜｰﾄﾞ)|暗証番号"
    r"|[PpＰｐ][WwＷｗ](?![A-Za-zＡ-Ｚａ-ｚ])|[Pp]ass(?:word)?(?![A-Za-z])|キー)"
    r"(?P<sep>[\s:：=＝は「『\"]*)"
    r"(?P<value>[0-9A-Za-z０-９Ａ-Ｚａ-ｚ!#$%&*+\-_=?^~@.！＃＄％＆＊＋－＿＝？＾～＠．]{4,64})"
)
SECRET_MIN_CHARS = 4


def _escape(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, kept by surrogateescape
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _decoded(text: str) -> str:
    """Raw UTF-8 bytes kept as surrogate escapes (an 8-bit header) read as the text they are."""
    if not any("\ud800" <= c <= "\udfff" for c in text):
        return text
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # surrogates that stand for no byte: escaped by the caller
        return text


def _is_hidden(char: str) -> bool:
    return unicodedata.category(char) in _HIDDEN_CATEGORIES


def _one_line(text: str, hidden: str | None) -> str:
    """Breaks as one space; hidden characters escaped (``hidden`` None) or replaced."""
    out: list[str] = []
    for char in _decoded(text):
        if char in _BREAKS:
            if out and out[-1] != " ":
                out.append(" ")
        elif _is_hidden(char):
            out.append(_escape(char) if hidden is None else hidden)
        else:
            out.append(char)
    return "".join(out).strip()


def for_staff(text: str | None, *, escape_breaks: bool = False) -> str:
    """Text as staff read it in a header or on one line of a mail: every control and
    invisible formatting character escaped (``\\u202e``), breaks a space (escaped too with
    ``escape_breaks``: a file name has no business holding one)."""
    if not text:
        return ""
    if escape_breaks:
        return "".join(_escape(c) if c in _BREAKS or _is_hidden(c) else c
                       for c in _decoded(text))
    return _one_line(text, None)


def _without_urls(text: str) -> str:
    """URLs, host names and mail addresses replaced by a note (full-width ones too)."""
    normal = unicodedata.normalize("NFKC", text)
    if not _URL.search(normal):
        return text
    return _URL.sub(URL_NOTE, normal)


def for_contractor(text: str | None) -> str:
    """Text quoted back to the sender: one line, controls and invisible characters
    removed, URLs and mail addresses replaced by （URL省略）."""
    if not text:
        return ""
    return _without_urls(_one_line(text, ""))


def plain_name(name: str | None) -> str | None:
    """The display name as it may stand in 「… 様」: a plain name (letters, digits, spaces
    and the punctuation of company names), no URL, no @, at most NAME_MAX_CHARS; else None."""
    cleaned = " ".join(_one_line(name or "", "").split())
    if not cleaned or len(cleaned) > NAME_MAX_CHARS:
        return None
    normal = unicodedata.normalize("NFKC", cleaned)
    if "@" in normal or _URL.search(normal):
        return None
    if not all(unicodedata.category(c)[0] in "LMN" or c in _NAME_PUNCTUATION
               for c in cleaned):
        return None
    return cleaned


@functools.lru_cache(maxsize=256)
def _secret_pattern(secret: str) -> re.Pattern[str]:
    """The secret as typed, half- or full-width (made once per secret, not per mail)."""
    parts = []
    for char in secret:
        if "!" <= char <= "~":
            parts.append(f"[{re.escape(char)}{chr(ord(char) + 0xFEE0)}]")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts))


def masked(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Every secret of the message (at least SECRET_MIN_CHARS long), and any value typed
    after a key or password label (認証キー：…, パスワード …, PW …), masked as AB******."""
    for secret in sorted({s for s in secrets if s and len(s) >= SECRET_MIN_CHARS},
                         key=len, reverse=True):
        text = _secret_pattern(secret).sub(lambda m: mask(m.group(0)), text)
    return _SECRET_LABEL.sub(
        lambda m: m.group(0)[:m.start("value") - m.start(0)] + mask(m.group("value")), text)


_QUOTED_LOCAL = re.compile(r'^"(?:[^"\\\r\n]|\\.)*"')


def mailbox(address: str) -> str | None:
    """The address as it goes into RCPT TO (raw UTF-8 bytes read as UTF-8), or None when
    it cannot be sent to at all: no local part or domain, a control, invisible or blank
    character, an angle bracket, bytes that are not UTF-8, or anything the SMTP client
    would read as another address (``a(b)@x.jp`` is sent as ``a@x.jp``)."""
    text = _decoded(address)
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain:
        return None
    if any(_is_hidden(c) or c in _BREAKS for c in text):
        return None
    unquoted = _QUOTED_LOCAL.sub("", text, count=1)
    if re.search(r'[\s<>"]', unquoted):
        return None
    if email.utils.parseaddr(text)[1] != text:  # a comment, a list: not one mailbox as is
        return None
    return text
