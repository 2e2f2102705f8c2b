"""Raw message bytes -> :class:`~daemon.model.Mail`: headers, text and documents decoded.

mail-parser parses the structure and the address headers (the standard library's parser
alone where mail-parser gives up on hostile input); the text of every part and every header
is decoded here by its charset (mail-parser 4.8 returns 7-bit ISO-2022-JP bodies undecoded,
and Python's codecs reject what Outlook writes), raw JIS escapes and raw 8-bit bytes
included. Attachment names come right
whether encoded per RFC 2231, as RFC 2047 words inside quotes (Outlook, Becky!) or as raw
8-bit bytes.
"""

from __future__ import annotations

import email
import email.utils
import hashlib
import logging
import mimetypes
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.errors import HeaderParseError
from email.header import decode_header
from email.message import Message
from html.parser import HTMLParser
from typing import TYPE_CHECKING

import mailparser

from daemon.archives import is_zip, unpack_zip
from daemon.documents import office_format, read_office, read_pdf, table_lines
from daemon.extract import document_passwords
from daemon.japanese import decode_text
from daemon.model import Attachment, DocumentStatus, Mail

if TYPE_CHECKING:
    from daemon import config

# mail-parser logs every part it does not model (delivery reports...) at error level.
logging.getLogger("mailparser").setLevel(logging.CRITICAL)

MAX_DEPTH = 8  # nested message/rfc822 and multipart levels we follow


@dataclass(frozen=True)
class ReadLimits:
    """What a message may hold before its parts are left unopened (too-large)."""

    message_bytes: int = 40 << 20
    attachments: int = 30
    attachment_bytes: int = 25 << 20
    # Text beyond this (the body, or one document's) is not read: no submission is that
    # long, and the work on what is read stays bounded. Such a message goes to review.
    text_chars: int = 500_000

    @classmethod
    def of(cls, limits: config.Limits) -> ReadLimits:
        """The office's reading limits (``limits.*`` of its config)."""
        return cls(limits.message_bytes, limits.attachments, limits.attachment_bytes,
                   limits.text_chars)


def read_message(raw: bytes, received_at: datetime | None = None, *,
                 now: datetime | None = None, passwords: Iterable[str] = (),
                 limits: ReadLimits = ReadLimits()) -> Mail:
    """Parse and decode one message; never raises on malformed input.

    ``received_at`` is the server's arrival time (IMAP INTERNALDATE). Without it (a file
    given to ``classify``) the newest Received header is used, else the Date header,
    else ``now``. ``passwords`` are tried on encrypted attachments besides those the
    mail's own text gives.
    """
    if len(raw) > limits.message_bytes:
        return read_headers_only(raw, received_at, now=now, status=DocumentStatus.TOO_LARGE,
                                 detail=f"message over {limits.message_bytes} bytes")
    msg = _parse(raw)
    # raw_items: compat32 turns 8-bit header bytes into U+FFFD on the way out of get().
    raw_headers = [(k, str(v)) for k, v in msg.raw_items()]
    headers = tuple((k, decode_words(v)) for k, v in raw_headers)
    hdr = {k.lower(): v for k, v in reversed(headers)}
    has_headers = any(k.lower() in ("from", "subject", "date", "to") for k, _ in headers)
    body_parts: list[str] = []
    raw_attachments: list[tuple[str, str, bytes]] = []
    _walk(msg, body_parts, raw_attachments, depth=0)
    body = "\n".join(p for p in body_parts if p.strip())
    if not has_headers:
        body = decode_text(raw, None)
    long_text = len(body) > limits.text_chars
    body = body[: limits.text_chars]
    # A password may be given in the subject too ("パスワード：Ab12Cd34" as the subject).
    given = document_passwords(f"{hdr.get('subject', '')}\n{body}")
    tried = list(dict.fromkeys([*given, *passwords]))
    attachments = tuple(
        att for n, t, d in raw_attachments[: limits.attachments]
        for att in _read_attachments(n, t, d, tried, limits)
    )
    long_text = long_text or any(len(a.text) > limits.text_chars for a in attachments)
    attachments = tuple(replace(a, text=a.text[: limits.text_chars]) for a in attachments)
    if long_text:
        attachments += (Attachment(
            "(text)", "text/plain", b"", DocumentStatus.TOO_LARGE,
            detail=f"text over {limits.text_chars} characters: only the first read"),)
    if len(raw_attachments) > limits.attachments:
        attachments += (Attachment(
            f"({len(raw_attachments) - limits.attachments} more)", "application/octet-stream",
            b"", DocumentStatus.TOO_LARGE, detail=f"over {limits.attachments} attachments"),)
    def raw_all(name: str) -> list[str]:
        return [v for k, v in raw_headers if k.lower() == name]

    from_name, from_addr = _first_address(raw_all("from"))
    arrival = (received_at or arrival_from_headers(raw_all("received"), raw_all("date"))
               or now or datetime.now(UTC))
    declared_mime = "mime-version" in hdr or "content-type" in hdr
    has_8bit = not raw.isascii()
    return Mail(
        message_id=hdr.get("message-id", "").strip() or synthetic_message_id(raw),
        subject=hdr.get("subject", "").strip(),
        from_addr=from_addr,
        from_name=from_name,
        reply_to=tuple(a for _, a in _addresses(raw_all("reply-to"))),
        to=tuple(a for _, a in _addresses(raw_all("to"))),
        cc=tuple(a for _, a in _addresses(raw_all("cc"))),
        received_at=arrival,
        body=body,
        attachments=attachments,
        headers=headers,
        is_mime=has_headers and (declared_mime or not has_8bit),
        raw=raw,
        defects=tuple(sorted({type(d).__name__ for d in msg.defects})),
        passwords=tuple(tried),
    )


def read_headers_only(raw: bytes, received_at: datetime | None = None, *,
                      now: datetime | None = None, status: DocumentStatus,
                      detail: str) -> Mail:
    """A message whose content must not be opened (too big, or its reading failed):
    only its header block is parsed, and one placeholder part says why."""
    head = raw[:_HEADER_LIMIT]
    for blank_line in (b"\r\n\r\n", b"\n\n"):  # the first blank line ends the header block
        head = head.partition(blank_line)[0]
    mail = read_message(head + b"\r\n\r\n", received_at, now=now)
    placeholder = Attachment("(message content)", "application/octet-stream", b"", status,
                             detail=detail)
    message_id = mail.message_id
    if message_id.endswith("@surety-intake.invalid>"):
        message_id = synthetic_message_id(raw)
    return replace(mail, raw=raw, body="", attachments=(placeholder,), message_id=message_id)


_HEADER_LIMIT = 256 << 10


def synthetic_message_id(raw: bytes) -> str:
    """A stable id for a message that has none, from its content."""
    return f"<{hashlib.sha256(raw).hexdigest()[:32]}@surety-intake.invalid>"


def _parse(raw: bytes) -> Message:
    try:
        message: Message = mailparser.parse_from_bytes(raw).message
        return message
    except Exception:  # noqa: BLE001 - mail-parser raises anything on hostile input
        return email.message_from_bytes(raw)


def arrival_from_headers(received: Iterable[str], dates: Iterable[str]) -> datetime | None:
    """The newest readable Received header's date (they are listed newest first), else the
    first Date header's; timezone-aware."""
    for value in received:
        when = _parse_date(value.rpartition(";")[2])
        if when:
            return when
    return next((_parse_date(value) for value in dates), None)


def _parse_date(value: str) -> datetime | None:
    try:
        when = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when


def decode_words(value: str) -> str:
    """Decode RFC 2047 encoded words, raw 8-bit bytes and raw JIS escapes in a header value.

    compat32 hands raw 8-bit header bytes over as surrogate escapes; they, and the ESC
    sequences of JIS text sent without encoded words, are decoded by guessing (text that
    is neither reads back unchanged).
    """
    value = decode_text(value.encode("utf-8", "surrogateescape"), None)
    if "=?" not in value:
        return " ".join(value.split())
    try:
        chunks = decode_header(value)
    except (ValueError, LookupError, UnicodeError, HeaderParseError):
        return " ".join(value.split())
    out = []
    for chunk, charset in chunks:
        if isinstance(chunk, bytes):
            out.append(decode_text(chunk, charset))
        else:
            out.append(chunk)
    return " ".join("".join(out).split())


def _addresses(values: Iterable[object]) -> list[tuple[str, str]]:
    try:
        pairs = email.utils.getaddresses([str(v) for v in values])
    except (RecursionError, ValueError, IndexError):  # hostile nesting in an address header
        return []
    # An 8-bit (raw UTF-8) address is decoded like a display name, so it can be stored,
    # compared and (with SMTPUTF8) answered.
    return [(decode_words(n), decode_words(a).strip().lower()) for n, a in pairs if "@" in a]


def _first_address(values: Iterable[object]) -> tuple[str, str]:
    pairs = _addresses(values)
    return pairs[0] if pairs else ("", "")


def _walk(part: Message, body: list[str], attachments: list[tuple[str, str, bytes]],
          depth: int) -> None:
    """Collect body text and attachments, following forwarded messages."""
    if depth > MAX_DEPTH:
        return
    ctype = part.get_content_type()
    if part.is_multipart():
        payload = part.get_payload()
        if isinstance(payload, list):
            for sub in payload:
                if isinstance(sub, Message):
                    _walk(sub, body, attachments, depth + 1)
        return
    # A forwarded message (message/rfc822) is multipart to the parser: its one part is
    # followed above.
    filename = attachment_name(part)
    data = _payload_bytes(part)
    inline = part.get_content_disposition() != "attachment"  # lower-cased by the parser
    if ctype in ("text/plain", "text/html") and not filename and inline:
        charset = part.get_content_charset()
        if ctype == "text/html":
            body.append(_html_to_text(decode_text(data, charset or _meta_charset(data))))
        else:
            body.append(decode_text(data, charset))
        return
    if ctype.startswith("multipart/"):
        return
    attachments.append((filename or _default_name(part.get_content_subtype()), ctype, data))


def _payload_bytes(part: Message) -> bytes:
    """A leaf part's content with its transfer encoding undone. compat32 gives bytes for
    every part that is not multipart (undecodable base64 or quoted-printable as it came,
    with a defect noted) and does not raise."""
    # typeshed's union also covers multipart parts, which never come here.
    data: bytes = part.get_payload(decode=True)  # type: ignore[assignment]
    return data


def attachment_name(part: Message) -> str:
    """The attachment's file name, decoded however the sender's client encoded it."""
    try:
        name = part.get_filename() or part.get_param("name") or ""
        if isinstance(name, tuple):  # an RFC 2231 value email could not collapse
            charset, _, text = name  # text: the %-decoded bytes as Latin-1, raw bytes lost
            name = decode_text(str(text).encode("latin-1"), charset)
    except (ValueError, LookupError, UnicodeError):
        name = ""
    name = str(name)
    if not name or "\ufffd" in name:
        name = _raw_8bit_name(part) or name
    return decode_words(name).strip().strip('"')


_NAME_PARAM = re.compile(r'(?:file)?name\s*=\s*(?:"([^"]*)"|([^;\s]+))', re.I)


def _raw_8bit_name(part: Message) -> str:
    """A file name sent as raw 8-bit bytes (no encoding at all), decoded by guessing."""
    for key, value in part.raw_items():
        if key.lower() not in ("content-disposition", "content-type"):
            continue
        m = _NAME_PARAM.search(str(value))
        if m and (m.group(1) or m.group(2)):
            raw = (m.group(1) or m.group(2)).encode("utf-8", "surrogateescape")
            return decode_text(raw, None)
    return ""


def _default_name(subtype: str) -> str:
    return "attachment." + re.sub(r"[^a-z0-9]+", "-", subtype)


def _read_attachments(name: str, ctype: str, data: bytes, passwords: list[str],
                      limits: ReadLimits) -> list[Attachment]:
    """One attachment, or the files of a zip (opened with the passwords given)."""
    if len(data) > limits.attachment_bytes:
        return [Attachment(name, ctype, data, DocumentStatus.TOO_LARGE,
                           detail=f"over {limits.attachment_bytes} bytes")]
    if not is_zip(data, name):
        return [_read_attachment(name, ctype, data, passwords)]
    unpacked = unpack_zip(data, passwords)
    if unpacked.status is not DocumentStatus.TEXT:
        return [Attachment(name, ctype, data, unpacked.status, detail=unpacked.detail)]
    return [
        _read_attachment(f"{name}/{member.name}", _guess_type(member.name), member.data,
                         passwords)
        for member in unpacked.members
    ]


def _guess_type(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def _read_attachment(name: str, ctype: str, data: bytes, passwords: list[str]) -> Attachment:
    looks_pdf = name.lower().endswith(".pdf") or ctype == "application/pdf"
    if looks_pdf or data[:5] == b"%PDF-":
        got = read_pdf(data, passwords)
        return Attachment(name, ctype, data, got.status, got.text, got.detail)
    office = office_format(name)
    if office is not None and office.read:
        got = read_office(data, name, passwords)
        return Attachment(name, ctype, data, got.status, got.text, got.detail)
    if ctype.startswith("text/") or name.lower().endswith(".txt"):
        return Attachment(name, ctype, data, DocumentStatus.TEXT, decode_text(data, None))
    return Attachment(name, ctype, data, detail="format not read")  # status: skipped


_META_CHARSET = re.compile(rb"<meta[^>]{0,200}?charset\s*=\s*[\"']?([A-Za-z0-9_.:-]{1,40})", re.I)


def _meta_charset(html: bytes) -> str | None:
    """The charset an HTML part declares in its <meta> tag (for a part whose header gives
    none: a guess could read EUC-JP as CP932)."""
    m = _META_CHARSET.search(html[:4096])
    return m.group(1).decode("ascii") if m else None


# HTML elements that start and end a line of their own.
_BLOCKS = frozenset((
    "p", "div", "li", "ul", "ol", "dl", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6",
    "blockquote", "pre", "hr", "address", "center", "section", "article", "header",
    "footer", "form", "fieldset", "caption",
))
_HIDDEN = frozenset(("style", "script", "title", "template"))
_CELLS = ("td", "th")
# A link's text that says only "here": the address stands in its place.
_LINK_WORDS = frozenset((
    "こちら", "ここ", "コチラ", "ココ", "こちらをクリック", "ここをクリック", "こちらから",
    "クリック", "リンク", "url", "here", "click here", "link", "open",
))
_CJK_BREAK = re.compile(r"(?<=[\u3040-\u30ff\u3400-\u9fff])[ \t\r\n]*\n[ \t\r\n]*"
                        r"(?=[\u3040-\u30ff\u3400-\u9fff])")
_HTML_SPACE = re.compile(r"[ \t\r\n\f]+")


class _Table:
    """A table being read: its finished rows, the row and the cell being filled."""

    def __init__(self) -> None:
        self.rows: list[list[str]] = []
        self.row: list[str] | None = None
        self.cell: list[str] | None = None
        self.span = 1

    def end_cell(self) -> None:
        """The cell's text into the row; a cell spanning columns leaves the others empty
        (as a workbook's merged cells do), so values stay under their labels."""
        if self.cell is not None:
            if self.row is None:
                self.row = []
            self.row += [_tidy("".join(self.cell))] + [""] * (self.span - 1)
            self.cell = None
            self.span = 1

    def end_row(self) -> None:
        self.end_cell()
        if self.row is not None:
            self.rows.append(self.row)
            self.row = None


class _TextOnly(HTMLParser):
    """The text of an HTML body as a reader sees it: blocks and <br> as line breaks,
    tables as labels beside their values (see :func:`daemon.documents.table_lines`), a
    link's address where its text only says "here", entities decoded."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.tables: list[_Table] = []
        self.hidden = 0
        self.pre = 0
        self.links: list[tuple[list[str], int, str]] = []

    def _out(self) -> list[str]:
        """Where text goes now: the open cell of the innermost table, else the body."""
        table = self.tables[-1] if self.tables else None
        if table is None:
            return self.parts
        if table.cell is None:
            table.cell = []
        return table.cell

    def _line_start(self) -> bool:
        """True when what is written so far (in the body or the cell) ends a line."""
        last = next((part for part in reversed(self._out()) if part), "\n")
        return last.endswith("\n")

    def _newline(self) -> None:
        """End the line being written, unless it is ended already (an empty line comes only
        from <br>, as a mail client writes it: <div><br></div>)."""
        if not self._line_start():
            self._out().append("\n")

    def handle_data(self, data: str) -> None:
        if self.hidden:
            return
        if not self.pre:
            data = _HTML_SPACE.sub(" ", _CJK_BREAK.sub("", data))
            table = self.tables[-1] if self.tables else None
            if table is not None and table.cell is None and not data.strip():
                return  # blanks between a table's tags
            if self._line_start():
                data = data.lstrip(" ")  # the blanks of the source between two blocks
        self._out().append(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self.hidden += 1
        elif tag == "br":
            self._out().append("\n")
        elif tag == "pre":
            self.pre += 1
            self._newline()
        elif tag in _BLOCKS:
            self._newline()
        elif tag == "a":
            out = self._out()
            self.links.append((out, len(out), dict(attrs).get("href") or ""))
        elif tag == "table":
            self._newline()
            self.tables.append(_Table())
        elif self.tables:
            self._table_tag(tag, dict(attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", *_BLOCKS, *_CELLS):  # <br/>, <p/>, <td/>: a start without content
            self.handle_starttag(tag, attrs)

    def _table_tag(self, tag: str, attrs: dict[str, str | None]) -> None:
        table = self.tables[-1]
        if tag == "tr":
            table.end_row()
            table.row = []
        elif tag in _CELLS:
            table.end_cell()
            span = (attrs.get("colspan") or "1").strip()
            table.cell = []
            table.span = min(int(span), 50) if span.isdigit() and int(span) > 0 else 1

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag == "pre":
            self.pre = max(0, self.pre - 1)
            self._newline()
        elif tag in _BLOCKS:
            self._newline()
        elif tag == "a" and self.links:
            out, start, href = self.links.pop()
            if out is self._out():
                text = "".join(out[start:])
                out[start:] = [_link_text(text, href)]
        elif self.tables:
            table = self.tables[-1]
            if tag in _CELLS:
                table.end_cell()
            elif tag == "tr":
                table.end_row()
            elif tag == "table":
                self._end_table()

    def _end_table(self) -> None:
        table = self.tables.pop()
        table.end_row()
        self._newline()
        self._out().append("".join(f"{line}\n" for line in table_lines(table.rows)))

    def text(self) -> str:
        """The text read, tables left open closed, blanks at line ends removed."""
        while self.tables:
            self._end_table()
        lines = [line.strip(" \xa0") for line in "".join(self.parts).split("\n")]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")


def _tidy(cell: str) -> str:
    """A cell's text: its lines without surrounding blanks, empty lines dropped."""
    return "\n".join(line.strip() for line in cell.split("\n") if line.strip())


def _link_text(text: str, href: str) -> str:
    """A link as text: its text, and the address after it; only the address when the text
    is the address (maybe shortened) or only says "here"."""
    href = href.strip()
    if not re.match(r"https?://", href, re.I):
        return text
    shown = text.strip()
    if not shown or shown.casefold() in _LINK_WORDS or re.match(r"(https?://|www\.)", shown,
                                                                  re.I):
        return href
    return f"{text} {href}"


def _html_to_text(html: str) -> str:
    parser = _TextOnly()
    try:
        parser.feed(html)
        parser.close()
    except (AssertionError, ValueError):
        return html
    return parser.text()
