"""RFC 5322 messages as contractors, insurers, systems and mail servers send them.

:func:`build` writes one message byte for byte (CRLF line endings), the way a
given kind of mail client would: Thunderbird-like strict ISO-2022-JP, Outlook's
ISO-2022-JP with CP932 extensions, Shift_JIS (CP932) from Becky!-style clients,
or UTF-8. The scenario functions below it build whole submissions (and the
noise around them) in one call; every argument has a realistic default and
every result is the same bytes for the same arguments.

Defaults: the office mailbox is ``keiyaku@city.example.jp``; the message date is
2026-04-06 09:30 JST; the default contractor is 株式会社山田建設
(``t-yamada@yamada-kensetsu.example.co.jp``); the default works are
令和8年度 市道中央線道路改良工事 (第R8-土木-0123号).
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import quopri
import unicodedata
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Literal

from samples import offices, pdfs
from samples.jis import b_encoded_words, halfwidth_kana_to_fullwidth, outlook_iso2022jp
from samples.jtext import fullwidth as widen
from samples.parties import (
    BANKS,
    CONFIRMATION_SYSTEM_SENDER,
    CONTRACTORS,
    GUARANTEE_COMPANIES,
    INSURERS,
    OFFICE_ADDRESS,
    OFFICE_DOMAIN,
    OFFICE_MX,
    OFFICE_NAME,
    ORDERER,
    PROJECTS,
    Bank,
    Contractor,
    GuaranteeCompany,
    Insurer,
    Project,
    guarantee_company,
    viewing_password,
    viewing_url,
)
from samples.parties import (
    insurer as lookup_insurer,
)

__all__ = [
    "BANKS",
    "CONFIRMATION_SYSTEM_SENDER",
    "CONTRACTORS",
    "DEFAULT_DATE",
    "GUARANTEE_COMPANIES",
    "INSURERS",
    "JST",
    "OFFICE_ADDRESS",
    "OFFICE_DOMAIN",
    "OFFICE_NAME",
    "ORDERER",
    "POLICY_NUMBERS",
    "PROJECTS",
    "auto_reply",
    "bank_guarantee",
    "bounce",
    "build",
    "certificate_instead_of_key",
    "confirmation_mail",
    "dsure_key_mail",
    "legacy_pdf_mail",
    "mailing_list",
    "not_mime",
    "password_followup",
    "read_receipt",
    "reservation",
    "system_url_notice",
    "unrelated",
]

JST = timezone(timedelta(hours=9), "JST")
DEFAULT_DATE = datetime(2026, 4, 6, 9, 30, 12, tzinfo=JST)

Charset = Literal["iso-2022-jp", "outlook", "shift_jis", "utf-8"]
FilenameStyle = Literal["rfc2231", "rfc2047", "raw-utf8"]
TransferEncoding = Literal["7bit", "8bit", "base64", "quoted-printable"]
Attachment = tuple[str, bytes, str]  # (filename, content, mimetype)
HeaderValue = str | bytes
Headers = Mapping[str, HeaderValue] | Sequence[tuple[str, HeaderValue]]

PDF = "application/pdf"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ZIP = "application/x-zip-compressed"  # what Outlook on Windows labels zips

# ---------------------------------------------------------------------------
# Character sets
# ---------------------------------------------------------------------------

# What a strict JIS X 0208 encoder does with CP932-only characters (as Japanese
# mail clients that refuse 機種依存文字 do): map the compatibility forms to
# their JIS X 0208 counterparts and spell out the NEC specials.
_JIS_SUBSTITUTES = {
    "～": "〜",
    "－": "−",
    "∥": "‖",
    "—": "―",
    "￠": "¢",
    "￡": "£",
    "￢": "¬",
    "㈱": "(株)",
    "㈲": "(有)",
    "㈹": "(代)",
    "№": "No.",
    "℡": "TEL",
    **{chr(0x2460 + i): f"({i + 1})" for i in range(20)},  # ① .. ⑳
}


def strict_iso2022jp(text: str) -> bytes:
    """Encode as a strict ISO-2022-JP client does: JIS X 0208 only.

    Half-width katakana are widened, CP932-only characters replaced (``㈱`` ->
    ``(株)``, ``①`` -> ``(1)``, ``～`` -> ``〜``), anything else unencodable
    becomes its NFKC form or the geta mark ``〓``. Python's ``iso2022_jp``
    codec decodes the result.
    """
    out: list[str] = []
    for ch in halfwidth_kana_to_fullwidth(text):
        candidate = _JIS_SUBSTITUTES.get(ch, ch)
        try:
            candidate.encode("iso2022_jp")
        except UnicodeEncodeError:
            candidate = unicodedata.normalize("NFKC", ch)
            try:
                candidate.encode("iso2022_jp")
            except UnicodeEncodeError:
                candidate = "〓"
        out.append(candidate)
    return "".join(out).encode("iso2022_jp")


@dataclass(frozen=True)
class _Codec:
    header_label: str  # label in RFC 2047 words and RFC 2231 values
    body_label: str  # label in Content-Type charset=
    encode: Callable[[str], bytes]
    default_transfer: TransferEncoding
    allowed_transfers: tuple[TransferEncoding, ...]


_CODECS: dict[str, _Codec] = {
    "iso-2022-jp": _Codec(
        "ISO-2022-JP", "ISO-2022-JP", strict_iso2022jp, "7bit", ("7bit", "base64")
    ),
    "outlook": _Codec("iso-2022-jp", "iso-2022-jp", outlook_iso2022jp, "7bit", ("7bit", "base64")),
    "shift_jis": _Codec(
        "Shift_JIS", "Shift_JIS", lambda s: s.encode("cp932"), "8bit", ("8bit", "base64", "7bit")
    ),
    "utf-8": _Codec(
        "UTF-8",
        "UTF-8",
        lambda s: s.encode("utf-8"),
        "base64",
        ("base64", "quoted-printable", "8bit"),
    ),
}

_MAILERS: dict[str, tuple[str, str]] = {
    "iso-2022-jp": (
        "User-Agent",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:91.0) Gecko/20100101 Thunderbird/91.13.1",
    ),
    "outlook": ("X-Mailer", "Microsoft Outlook 16.0"),
    "shift_jis": ("X-Mailer", "Becky! ver. 2.81.05 [ja]"),
    "utf-8": ("User-Agent", "Mozilla Thunderbird"),
}


def _codec(charset: str) -> _Codec:
    try:
        return _CODECS[charset]
    except KeyError:
        raise ValueError(f"charset must be one of {list(_CODECS)}, not {charset!r}") from None


def encode_header_text(text: str, charset: Charset) -> str:
    """RFC 2047 B-encode ``text`` for a header in ``charset`` (folded; ASCII passes through)."""
    if text.isascii():
        return text
    codec = _codec(charset)
    return "\r\n ".join(b_encoded_words(text, label=codec.header_label, encode=codec.encode))


def _crlf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")


def _wrap_base64(data: bytes) -> bytes:
    encoded = base64.b64encode(data)
    return b"\r\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76)) + b"\r\n"


def _encode_body(
    text: str, charset: Charset, transfer: TransferEncoding | None
) -> tuple[bytes, str]:
    """Body bytes (with CRLF) and the Content-Transfer-Encoding used."""
    codec = _codec(charset)
    transfer = transfer or codec.default_transfer
    if transfer not in codec.allowed_transfers:
        raise ValueError(f"{charset} bodies are sent {codec.allowed_transfers}, not {transfer!r}")
    text = _crlf(text)
    if not text.endswith("\r\n"):
        text += "\r\n"
    raw = codec.encode(text)
    if transfer == "base64":
        return _wrap_base64(raw), transfer
    if transfer == "quoted-printable":
        lines = raw.split(b"\r\n")
        return b"\r\n".join(quopri.encodestring(line).rstrip(b"\n") for line in lines), transfer
    return raw, transfer


# ---------------------------------------------------------------------------
# MIME tree
# ---------------------------------------------------------------------------


@dataclass
class Part:
    """A MIME entity: raw header lines plus either a body or child parts."""

    headers: list[tuple[str, HeaderValue]]
    body: bytes = b""
    children: list[Part] = field(default_factory=list)
    boundary: str = ""

    def render(self) -> bytes:
        """Serialise the entity with CRLF line endings."""
        out = bytearray()
        for name, value in self.headers:
            raw = value if isinstance(value, bytes) else value.encode("utf-8")
            out += name.encode("ascii") + b": " + raw + b"\r\n"
        out += b"\r\n"
        if self.children:
            if self.body:
                out += self.body
            for child in self.children:
                out += b"--" + self.boundary.encode("ascii") + b"\r\n" + child.render()
                if not out.endswith(b"\r\n"):
                    out += b"\r\n"
            out += b"--" + self.boundary.encode("ascii") + b"--\r\n"
        else:
            out += self.body
        return bytes(out)


def _boundary(style: str, seed: str, index: int) -> str:
    digest = hashlib.sha256(f"{seed}:{index}".encode()).hexdigest().upper()
    if style == "outlook":
        return f"----=_NextPart_{index:03d}_{digest[:4]}_01DCC5A1.{digest[4:12]}"
    if style == "shift_jis":
        return f"----=_NextPart_{digest[:8]}.{digest[8:16]}"
    return f"------------{digest[:24]}"


def _text_part(
    body: str, charset: Charset, transfer: TransferEncoding | None, *, subtype: str = "plain"
) -> Part:
    data, used = _encode_body(body, charset, transfer)
    codec = _codec(charset)
    content_type = f'text/{subtype}; charset="{codec.body_label}"'
    if charset == "utf-8" and subtype == "plain":
        content_type += "; format=flowed"
    return Part([("Content-Type", content_type), ("Content-Transfer-Encoding", used)], data)


def _html_of(body: str) -> str:
    escaped = body.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    paragraphs = "".join(
        f'<p class="MsoNormal">{line or "&nbsp;"}</p>\n' for line in escaped.split("\n")
    )
    return (
        '<html xmlns:o="urn:schemas-microsoft-com:office:office">\n<head>\n'
        '<meta http-equiv="Content-Type" content="text/html; charset=iso-2022-jp">\n'
        '<style>p.MsoNormal{margin:0mm;font-size:10.5pt;font-family:"游ゴシック",sans-serif;}'
        '</style>\n</head>\n<body lang="JA">\n<div class="WordSection1">\n'
        f"{paragraphs}</div>\n</body>\n</html>\n"
    )


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _rfc2231(param: str, value: str, charset: Charset) -> list[str]:
    """``param*=charset''...`` with continuations (``param*0*=``...) over 60 characters.

    Sections are cut at character boundaries and each is encoded on its own
    (an ISO-2022-JP section returns to ASCII at its end). RFC 2231 would allow
    cutting anywhere, but CPython's ``email.policy.default`` decodes each
    section separately and raises on a section that stops inside an
    ISO-2022-JP sequence; real clients cut at characters too.
    """
    codec = _codec(charset)

    def quote(text: str) -> str:
        return urllib.parse.quote(codec.encode(text), safe="!#$&+-.^_`|~")

    whole = quote(value)
    if len(whole) + len(codec.header_label) <= 60:
        return [f"{param}*={codec.header_label}''{whole}"]
    segments: list[str] = []
    chunk = ""
    for ch in value:
        if chunk and len(quote(chunk + ch)) > 54:
            segments.append(quote(chunk))
            chunk = ch
        else:
            chunk += ch
    segments.append(quote(chunk))
    if len(segments) == 1:
        return [f"{param}*={codec.header_label}''{segments[0]}"]
    return [
        f"{param}*{n}*={codec.header_label}''{seg}" if n == 0 else f"{param}*{n}*={seg}"
        for n, seg in enumerate(segments)
    ]


def _rfc2047_param(param: str, value: str, charset: Charset) -> str:
    codec = _codec(charset)
    words = b_encoded_words(value, label=codec.header_label, encode=codec.encode)
    return f'{param}="' + "\r\n ".join(words) + '"'


def _attachment_part(
    filename: str, content: bytes, mimetype: str, charset: Charset, style: FilenameStyle
) -> Part:
    if filename.isascii():
        name_params, file_params = [f"name={_quote(filename)}"], [f"filename={_quote(filename)}"]
    elif style == "rfc2231":  # Thunderbird: RFC 2047 in name=, RFC 2231 in filename*=
        name_params = [_rfc2047_param("name", filename, charset)]
        file_params = _rfc2231("filename", filename, charset)
    elif style == "rfc2047":  # Outlook, Becky!: encoded words inside quoted strings
        name_params = [_rfc2047_param("name", filename, charset)]
        file_params = [_rfc2047_param("filename", filename, charset)]
    elif style == "raw-utf8":  # webmail and some phones: 8-bit UTF-8 in the header
        name_params, file_params = [f"name={_quote(filename)}"], [f"filename={_quote(filename)}"]
    else:
        raise ValueError(f"filename_style must be rfc2231, rfc2047 or raw-utf8, not {style!r}")
    content_type = ";\r\n\t".join([mimetype, *name_params])
    disposition = ";\r\n\t".join(["attachment", *file_params])
    if mimetype == "message/rfc822":
        transfer, body = ("8bit" if any(b > 127 for b in content) else "7bit"), content
    else:
        transfer, body = "base64", _wrap_base64(content)
    return Part(
        [
            ("Content-Type", content_type),
            ("Content-Disposition", disposition),
            ("Content-Transfer-Encoding", transfer),
        ],
        body,
    )


# ---------------------------------------------------------------------------
# Addresses and top-level headers
# ---------------------------------------------------------------------------


def _as_list(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    return list(value)


def format_addresses(value: str | Sequence[str], charset: Charset) -> str:
    """``Name <addr>`` list with RFC 2047 display names, folded after each comma."""
    formatted = []
    for name, address in email.utils.getaddresses(_as_list(value)):
        if not name:
            formatted.append(address)
        elif name.isascii():
            needs_quotes = any(c in name for c in '()<>[]:;@\\,."')
            formatted.append(f"{_quote(name) if needs_quotes else name} <{address}>")
        else:
            formatted.append(f"{encode_header_text(name, charset)} <{address}>")
    return ",\r\n ".join(formatted)


def _domain_of(address: str) -> str:
    return email.utils.parseaddr(address)[1].rpartition("@")[2] or "localhost"


def _message_id(style: str, seed: str, domain: str) -> str:
    digest = hashlib.sha256(seed.encode()).hexdigest()
    if style == "outlook":
        return f"<{digest[:4]}01dcc5a1${digest[4:12]}${digest[12:20]}$@{domain}>"
    return f"<{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:28]}@{domain}>"


def _received(sender_domain: str, to: str, moment: datetime, seed: str) -> str:
    digest = hashlib.sha256(f"received:{seed}".encode()).digest()
    ip = f"203.0.113.{digest[0] % 250 + 2}"
    queue_id = base64.b32encode(digest[:10]).decode("ascii").rstrip("=")
    helo = f"mail.{sender_domain}"
    return (
        f"from {helo} ({helo} [{ip}])\r\n\tby {OFFICE_MX} (Postfix) with ESMTPS id {queue_id}\r\n"
        f"\tfor <{to}>; {email.utils.format_datetime(moment)}"
    )


def _thread_index(seed: str) -> str:
    return base64.b64encode(hashlib.sha256(f"thread:{seed}".encode()).digest()[:22]).decode("ascii")


def _extra_headers(headers: Headers | None, charset: Charset) -> list[tuple[str, HeaderValue]]:
    if headers is None:
        return []
    items = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
    out: list[tuple[str, HeaderValue]] = []
    for name, value in items:
        out.append(
            (name, value if isinstance(value, bytes) else encode_header_text(value, charset))
        )
    return out


def build(
    *,
    from_: str,
    to: str | Sequence[str],
    subject: str,
    body: str,
    cc: str | Sequence[str] = (),
    reply_to: str | None = None,
    attachments: Sequence[Attachment] = (),
    charset: Charset = "iso-2022-jp",
    filename_style: FilenameStyle = "rfc2231",
    date: datetime | None = None,
    message_id: str | None = None,
    headers: Headers | None = None,
    received: datetime | None = None,
    transfer_encoding: TransferEncoding | None = None,
    html: bool = False,
    mailer: str | None = None,
) -> bytes:
    """One message, RFC 5322 bytes with CRLF line endings.

    ``from_`` / ``to`` / ``cc`` / ``reply_to`` take ``"Name <addr>"`` or bare
    addresses (``to`` and ``cc`` also lists); non-ASCII display names and the
    subject are RFC 2047 B-encoded in the message charset.

    ``charset``:
      * ``iso-2022-jp`` - strict JIS X 0208 (CP932-only characters replaced,
        see :func:`strict_iso2022jp`), 7bit; Thunderbird User-Agent.
      * ``outlook`` - labelled iso-2022-jp but encoded with
        :func:`samples.jis.outlook_iso2022jp` (NEC/IBM extensions as JIS codes),
        7bit; X-Mailer Microsoft Outlook 16.0, Thread-Index, Content-Language.
      * ``shift_jis`` - labelled Shift_JIS, CP932 bytes, 8bit (or base64);
        X-Mailer Becky!.
      * ``utf-8`` - base64 (or quoted-printable / 8bit), format=flowed.

    ``attachments`` are ``(filename, bytes, mimetype)``; ``message/rfc822``
    content is embedded as is. ``filename_style``: ``rfc2231`` (Thunderbird:
    ``name="=?..?="`` plus ``filename*=CHARSET''...`` with continuations),
    ``rfc2047`` (Outlook/Becky!: encoded words inside quoted ``name=`` and
    ``filename=``), ``raw-utf8`` (8-bit UTF-8 bytes in both).

    ``html`` adds a text/html alternative (multipart/alternative) as Outlook
    sends by default. ``received`` prepends ``Return-Path`` and a ``Received:``
    line from the sender's host to mail.city.example.jp at that time.
    ``date`` defaults to 2026-04-06 09:30:12 +0900; ``message_id`` to a hash of
    the content at the sender's domain (Outlook-shaped for ``outlook``).
    ``mailer`` overrides the client header value ("" to omit it).
    """
    codec_name = charset
    _codec(codec_name)
    moment = date or DEFAULT_DATE
    from_address = email.utils.parseaddr(from_)[1]
    sender_domain = _domain_of(from_)
    seed = "\x00".join(
        [from_, repr(_as_list(to)), repr(_as_list(cc)), subject, body, charset, moment.isoformat()]
        + [f"{n}:{hashlib.sha256(c).hexdigest()}:{m}" for n, c, m in attachments]
    )

    text = _text_part(body, charset, transfer_encoding)
    if html:
        html_part = _text_part(_html_of(body), charset, transfer_encoding, subtype="html")
        boundary = _boundary(charset, seed, 1)
        text = Part(
            [("Content-Type", f'multipart/alternative;\r\n\tboundary="{boundary}"')],
            children=[text, html_part],
            boundary=boundary,
        )
    if attachments:
        boundary = _boundary(charset, seed, 0)
        root = Part(
            [("Content-Type", f'multipart/mixed;\r\n\tboundary="{boundary}"')],
            body=b"This is a multi-part message in MIME format.\r\n\r\n",
            children=[text]
            + [_attachment_part(n, c, m, charset, filename_style) for n, c, m in attachments],
            boundary=boundary,
        )
    else:
        root = text

    top: list[tuple[str, HeaderValue]] = []
    first_to = email.utils.getaddresses(_as_list(to))[0][1] if _as_list(to) else OFFICE_ADDRESS
    if received is not None:
        top.append(("Return-Path", f"<{from_address}>"))
        top.append(("Received", _received(sender_domain, first_to, received, seed)))
    top.append(("From", format_addresses(from_, charset)))
    top.append(("To", format_addresses(to, charset)))
    if _as_list(cc):
        top.append(("Cc", format_addresses(cc, charset)))
    if reply_to:
        top.append(("Reply-To", format_addresses(reply_to, charset)))
    top.append(("Subject", encode_header_text(subject, charset)))
    top.append(("Date", email.utils.format_datetime(moment)))
    top.append(("Message-ID", message_id or _message_id(charset, seed, sender_domain)))
    top.append(("MIME-Version", "1.0"))
    mailer_name, default_mailer = _MAILERS[charset]
    mailer_value = default_mailer if mailer is None else mailer
    if mailer_value:
        top.append((mailer_name, mailer_value))
    if charset == "outlook":
        top.append(("Thread-Index", _thread_index(seed)))
        top.append(("Content-Language", "ja"))
    top += _extra_headers(headers, charset)
    message = Part(top + root.headers, root.body, root.children, root.boundary)
    return message.render()


# ---------------------------------------------------------------------------
# Scenario helpers
# ---------------------------------------------------------------------------


def _contractor(value: str | Contractor) -> Contractor:
    return value if isinstance(value, Contractor) else CONTRACTORS[value]


def _project(value: str | Project) -> Project:
    return value if isinstance(value, Project) else PROJECTS[value]


def _signature(contractor: Contractor, *, omit: Sequence[str] = (), wide: bool = False) -> str:
    phone = widen(contractor.phone, digits_only=True) if wide else contractor.phone
    fax = widen(contractor.fax, digits_only=True) if wide else contractor.fax
    lines = [
        "――――――――――――――――――――",
        contractor.signature_name,
        f"{contractor.department}　{contractor.person if 'person' not in omit else ''}".rstrip(
            "　"
        ),
        f"{contractor.postcode} {contractor.address}",
    ]
    if "phone" not in omit:
        lines.append(f"TEL：{phone}　FAX：{fax}")
    lines += [f"E-mail：{contractor.address_email}", "――――――――――――――――――――"]
    return "\n".join(lines)


def _greeting(contractor: Contractor, addressee: str, *, omit: Sequence[str] = ()) -> str:
    family = contractor.person.split()[0]
    me = (
        f"{contractor.signature_name}の{family}です。"
        if "person" not in omit
        else f"{contractor.signature_name}です。"
    )
    return f"{addressee}\nご担当者様\n\nいつも大変お世話になっております。\n{me}\n"


def _works_lines(project: Project, *, omit: Sequence[str], wide: bool) -> list[str]:
    lines = []
    if project.number and "project_number" not in omit:
        lines.append(f"工事番号：{widen(project.number) if wide else project.number}")
    if "project_name" not in omit:
        lines.append(f"工事名：{project.name}")
    return lines


def _typed_key_fields(
    number: str, key: str, style: int, omit: Sequence[str], wide: bool
) -> list[str]:
    """The 保証契約番号 / 認証キー lines as contractors type them (``style`` 0-3)."""
    shown_number = widen(number) if wide else number
    if style % 4 == 0:
        pairs = [("保証契約番号：", shown_number), ("認証キー：", key)]
        return [
            a + b
            for (a, b), name in zip(pairs, ("contract_number", "auth_key"), strict=True)
            if name not in omit
        ]
    if style % 4 == 1:  # half-width katakana and ASCII colons
        pairs = [("保証番号 : ", shown_number), ("認証ｷｰ : ", key)]
        return [
            a + b
            for (a, b), name in zip(pairs, ("contract_number", "auth_key"), strict=True)
            if name not in omit
        ]
    if style % 4 == 2:  # headings on their own lines
        out = []
        if "contract_number" not in omit:
            out += ["■保証契約番号", f"　{shown_number}"]
        if "auth_key" not in omit:
            out += ["■認証キー", f"　{key}"]
        return out
    parts = []
    if "contract_number" not in omit:
        parts.append(f"【保証契約番号】{shown_number}")
    if "auth_key" not in omit:
        parts.append(f"【認証キー】{key}")
    return ["　".join(parts)] if parts else []


def default_auth_key(contract_number: str) -> str:
    """A plausible 認証キー for a contract number (12 characters, mixed case)."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789"
    digest = hashlib.sha256(f"key:{contract_number}".encode()).digest()
    return "".join(alphabet[b % len(alphabet)] for b in digest[:12])


KEY_NOTICE_FILENAMES: dict[str, str] = {
    "west": "電子証書閲覧用「認証キー」等のお知らせ.pdf",
    "east": "電子保証に係る「認証キー」のお知らせ（{number}）.pdf",
    "hokkaido": "NINSHOKEY_{number}.pdf",
}

SUBJECT_TAGS: dict[str, str] = {
    "contract": "【電子保証】",
    "advance-payment": "【請求関係書類】",
    "interim-advance-payment": "【電子保証(中間前払金)】",
}


def _subject(tag: str, project: Project, omit: Sequence[str] = ()) -> str:
    parts = [tag.rstrip()]
    if project.number and "project_number" not in omit:
        parts.append(project.number)
    if "project_name" not in omit:
        parts.append(project.name)
    first, *rest = parts
    return first + " ".join(rest) if first.endswith("】") else " ".join(parts)


# ---------------------------------------------------------------------------
# Scenarios: the D-Sure route
# ---------------------------------------------------------------------------


def dsure_key_mail(
    *,
    contractor: str | Contractor = "yamada",
    project: str | Project = "road",
    company: str | GuaranteeCompany = "east",
    guarantee_type: pdfs.GuaranteeType = "contract",
    contract_number: str = "2604012345",
    auth_key: str | None = None,
    in_body: bool = False,
    with_invoice: bool = False,
    omit: Sequence[str] = (),
    style: int = 0,
    fullwidth: bool = False,
    key_pdf: bytes | None = None,
    filename: str | None = None,
    subject: str | None = None,
    to: str | Sequence[str] = OFFICE_ADDRESS,
    cc: str | Sequence[str] = (),
    charset: Charset = "iso-2022-jp",
    filename_style: FilenameStyle = "rfc2231",
    date: datetime | None = None,
    received: datetime | None = None,
    html: bool = False,
    first_contract_date: date | None = None,
) -> bytes:
    """A contractor sends the D-Sure key notice (or types its two values into the body).

    Body: addressee (東都市 財政局 契約課), greeting with the contractor and the
    person, the purpose, 工事番号 / 工事名 / 保証の種類 / 保証会社, the list of
    attachments, and a signature with TEL/FAX. Subject by type: 【電子保証】,
    【請求関係書類】 or 【電子保証(中間前払金)】 + works number + works name.

    * ``in_body`` - no PDF; 保証契約番号 and 認証キー typed in the body in one of
      four layouts chosen by ``style`` (0 ``保証契約番号：…``; 1 ``保証番号 : …`` /
      ``認証ｷｰ : …``; 2 ``■保証契約番号`` heading lines; 3 one line
      ``【保証契約番号】…　【認証キー】…``).
    * ``with_invoice`` - also attach 請求書（前払金）.pdf (advance payments).
    * ``omit`` - leave things out: ``contract_number``, ``auth_key`` (typed
      values), ``project_name``, ``project_number``, ``guarantee_type``,
      ``person``, ``phone``, ``attachment`` (the PDF is forgotten).
    * ``fullwidth`` - numbers typed full-width (２６０４０１２３４５); the PDF
      then also uses full-width digits.
    * ``key_pdf`` - attach these bytes instead of the generated notice (e.g.
      :func:`pdfs.key_notice_pdf_without_tounicode` or a scan).
    """
    person = _contractor(contractor)
    works = _project(project)
    gc = guarantee_company(company)
    auth_key = auth_key or default_auth_key(contract_number)
    kind = pdfs.GUARANTEE_TYPE_NAMES[guarantee_type]
    attachments: list[Attachment] = []
    if not in_body and "attachment" not in omit:
        data = key_pdf or pdfs.key_notice_pdf(
            company=gc,
            contract_number=contract_number,
            auth_key=auth_key,
            guarantee_type=guarantee_type,
            project_name=works.name,
            contractor=person.name,
            orderer=ORDERER,
            project_number=works.number,
            first_contract_date=first_contract_date,
            issued=(date or DEFAULT_DATE).date(),
            fullwidth_digits=fullwidth,
        )
        name = filename or KEY_NOTICE_FILENAMES[gc.key].format(number=contract_number)
        attachments.append((name, data, PDF))
    if with_invoice:
        interim = guarantee_type == "interim-advance-payment"
        share = 0.2 if interim else 0.4
        attachments.append(
            (
                f"請求書（{'中間前払金' if interim else '前払金'}）.pdf",
                pdfs.invoice_pdf(
                    contractor=person.name,
                    project_name=works.name,
                    amount=int(works.price * share),
                    project_number=works.number,
                    contractor_address=person.address,
                    representative=person.representative,
                    in_charge=(f"{person.department}　{person.person}", person.phone),
                    kind="中間前払金" if interim else "前払金",
                ),
                PDF,
            )
        )

    purpose = {
        "contract": "下記工事の契約保証について、電子保証の認証キー等を送付いたします。",
        "advance-payment": (
            "下記工事の前払金請求に係る書類（電子保証の認証キー等、請求書）を送付いたします。"
        ),
        "interim-advance-payment": (
            "下記工事の中間前払金保証に係る電子保証の認証キー等を送付いたします。"
        ),
    }[guarantee_type]
    if in_body:
        purpose = purpose.replace("を送付いたします", "をお知らせいたします")
    lines = [
        _greeting(person, OFFICE_NAME, omit=omit),
        purpose,
        "ご確認のほど、よろしくお願いいたします。",
        "",
        "記",
        "",
    ]
    lines += _works_lines(works, omit=omit, wide=fullwidth)
    if "guarantee_type" not in omit:
        lines.append(f"保証の種類：{kind}")
    lines.append(f"保証会社：{gc.name}")
    if in_body:
        lines.append("")
        lines += _typed_key_fields(contract_number, auth_key, style, omit, fullwidth)
    if attachments:
        lines += ["", "【添付ファイル】"] + [f"・{name}" for name, _, _ in attachments]
    lines += ["", "以上", "", _signature(person, omit=omit, wide=fullwidth)]
    return build(
        from_=person.mailbox,
        to=to,
        cc=cc,
        subject=subject or _subject(SUBJECT_TAGS[guarantee_type], works, omit),
        body="\n".join(lines),
        attachments=attachments,
        charset=charset,
        filename_style=filename_style,
        date=date,
        received=received,
        html=html,
    )


def certificate_instead_of_key(
    *,
    contractor: str | Contractor = "yamada",
    project: str | Project = "road",
    company: str | GuaranteeCompany = "east",
    guarantee_type: pdfs.GuaranteeType = "advance-payment",
    contract_number: str = "2604012345",
    filename: str | None = None,
    charset: Charset = "iso-2022-jp",
    filename_style: FilenameStyle = "rfc2231",
    date: datetime | None = None,
    received: datetime | None = None,
) -> bytes:
    """The contractor mails a print of the 電子証書 screen instead of the key notice.

    Attachment ``前払金保証証書（電子証書）.pdf`` (or 契約保証証書…): it has the
    保証契約番号 but no 認証キー.
    """
    person = _contractor(contractor)
    works = _project(project)
    gc = guarantee_company(company)
    title = pdfs.CERTIFICATE_TITLES[guarantee_type]
    pdf = pdfs.certificate_pdf(
        company=gc,
        contract_number=contract_number,
        guarantee_type=guarantee_type,
        project_name=works.name,
        contractor=person.name,
        contractor_address=person.address,
        project_place=works.place,
        price=works.price,
        issued=(date or DEFAULT_DATE).date(),
    )
    body = "\n".join(
        [
            _greeting(person, OFFICE_NAME),
            f"下記工事の{title}（電子証書）を送付いたします。",
            "ご査収のほど、よろしくお願いいたします。",
            "",
            *_works_lines(works, omit=(), wide=False),
            "",
            _signature(person),
        ]
    )
    return build(
        from_=person.mailbox,
        to=OFFICE_ADDRESS,
        subject=_subject(SUBJECT_TAGS[guarantee_type], works),
        body=body,
        attachments=[(filename or f"{title}（電子証書）.pdf", pdf, PDF)],
        charset=charset,
        filename_style=filename_style,
        date=date,
        received=received,
    )


def reservation(
    *,
    contractor: str | Contractor = "yamada",
    project: str | Project = "road",
    company: str | GuaranteeCompany = "west",
    reservation_number: str = "Y-2603-00871",
    charset: Charset = "iso-2022-jp",
    filename_style: FilenameStyle = "rfc2231",
    date: datetime | None = None,
    received: datetime | None = None,
) -> bytes:
    """The contractor mails a 契約保証予約証書 (never issued electronically)."""
    person = _contractor(contractor)
    works = _project(project)
    pdf = pdfs.reservation_pdf(
        company=company,
        reservation_number=reservation_number,
        project_name=works.name,
        contractor=person.name,
    )
    body = "\n".join(
        [
            _greeting(person, OFFICE_NAME),
            "下記工事の契約保証予約証書をお送りします。",
            "よろしくお願いいたします。",
            "",
            *_works_lines(works, omit=(), wide=False),
            "",
            _signature(person),
        ]
    )
    return build(
        from_=person.mailbox,
        to=OFFICE_ADDRESS,
        subject=f"【契約保証】{works.name}（契約保証予約証書）",
        body=body,
        attachments=[("契約保証予約証書.pdf", pdf, PDF)],
        charset=charset,
        filename_style=filename_style,
        date=date,
        received=received,
    )


def bank_guarantee(
    *,
    contractor: str | Contractor = "yamada",
    project: str | Project = "road",
    bank: str | Bank = "toto",
    sent_by: Literal["contractor", "bank"] = "contractor",
    charset: Charset = "iso-2022-jp",
    filename_style: FilenameStyle = "rfc2231",
    date: datetime | None = None,
    received: datetime | None = None,
) -> bytes:
    """A bank's 保証書 (契約保証) by email: banks give contract guarantees on paper only.

    ``sent_by="contractor"`` (default) forwards the bank's PDF; ``"bank"`` has
    the bank's branch mail it directly (from ``houjin@<bank domain>``).
    """
    person = _contractor(contractor)
    works = _project(project)
    issuer = bank if isinstance(bank, Bank) else BANKS[bank]
    pdf = pdfs.bank_guarantee_pdf(
        bank=issuer.name,
        branch=issuer.branch,
        manager=issuer.manager,
        project_name=works.name,
        contractor=person.name,
        amount=works.price // 10,
        period=(works.start, works.end),
    )
    attachments = [("保証書（契約保証）.pdf", pdf, PDF)]
    if sent_by == "bank":
        sender = f"{issuer.name} {issuer.branch} <houjin@{issuer.domain}>"
        body = "\n".join(
            [
                f"{OFFICE_NAME}",
                "ご担当者様",
                "",
                f"{issuer.name}{issuer.branch}でございます。",
                f"{person.name}様の下記工事に係る契約保証の保証書を送付いたします。",
                "",
                f"工事名：{works.name}",
                "",
                f"{issuer.name}　{issuer.branch}　法人営業課",
            ]
        )
        cc: list[str] = [person.address_email]
    else:
        sender = person.mailbox
        body = "\n".join(
            [
                _greeting(person, OFFICE_NAME),
                f"下記工事の契約保証として、{issuer.name}の保証書を提出いたします。",
                "",
                *_works_lines(works, omit=(), wide=False),
                "",
                _signature(person),
            ]
        )
        cc = []
    return build(
        from_=sender,
        to=OFFICE_ADDRESS,
        cc=cc,
        subject=_subject("【契約保証】", works),
        body=body,
        attachments=attachments,
        charset=charset,
        filename_style=filename_style,
        date=date,
        received=received,
    )


# ---------------------------------------------------------------------------
# Scenarios: insurers
# ---------------------------------------------------------------------------

POLICY_NUMBERS: dict[str, str] = {
    "sompo": "SJ26-0412345",
    "tokio": "0412345678",
    "mitsui": "MS-26-004567",
    "aioi": "AD2604-11223",
    "aig": "AIG-26-000789",
    "kyoei": "KY26-0000456",
    "daido": "DD-2604-0321",
    "nisshin": "NS26-0004321",
    "secom": "SC-26-000111",
}

FormType = Literal["pdf", "xlsx", "docx"]
Encryption = Literal["zip-aes", "zip-crypto", "ooxml", "pdf"]

_FORMS: dict[str, tuple[Callable[..., bytes], str, str]] = {
    "pdf": (pdfs.submission_form_pdf, PDF, "pdf"),
    "xlsx": (offices.form_xlsx, XLSX, "xlsx"),
    "docx": (offices.form_docx, DOCX, "docx"),
}


def _encrypt_form(
    data: bytes, name: str, mimetype: str, encrypt: Encryption, password: str
) -> tuple[bytes, str, str]:
    """Protect a form attachment: password PDF / Office file, or a password zip around it."""
    if encrypt == "pdf":
        if mimetype != PDF:
            raise ValueError("encrypt='pdf' needs form='pdf'")
        seed = f"form:{name}"
        return (
            pdfs.encrypt_pdf(data, user_password=password, owner_password=password, seed=seed),
            name,
            mimetype,
        )
    if encrypt == "ooxml":
        if mimetype == PDF:
            raise ValueError("encrypt='ooxml' needs form='xlsx' or 'docx'")
        return offices.encrypt_ooxml(data, password), name, mimetype
    if encrypt in ("zip-aes", "zip-crypto"):
        archive = offices.aes_zip if encrypt == "zip-aes" else offices.zipcrypto_zip
        return archive({name: data}, password), name.rsplit(".", 1)[0] + ".zip", ZIP
    raise ValueError(f"unknown encryption {encrypt!r}")


def _policy_number(ins: Insurer, policy_number: str | None) -> str:
    return policy_number or POLICY_NUMBERS.get(ins.key, "0000000001")


def confirmation_mail(
    *,
    contractor: str | Contractor = "yamada",
    project: str | Project = "road",
    insurer: str | Insurer = "sompo",
    policy_number: str | None = None,
    view_password: str | None = None,
    view_url: str | None = None,
    omit: Sequence[str] = (),
    url_in_body: bool = False,
    form: FormType = "pdf",
    encrypt: Encryption | None = None,
    archive_password: str = "Kk2604#tot",  # noqa: S107 (sample data)
    filename: str | None = None,
    subject: str | None = None,
    to: str | Sequence[str] = OFFICE_ADDRESS,
    cc: str | Sequence[str] = (),
    charset: Charset = "iso-2022-jp",
    filename_style: FilenameStyle = "rfc2231",
    date: datetime | None = None,
    received: datetime | None = None,
) -> bytes:
    """The confirmation-system route: the contractor sends the filled 発注者提出用フォーマット.

    The form (PDF by default; ``form="xlsx"``/``"docx"``) carries 閲覧用URL,
    閲覧用パスワード, 工事名, 受注者名, 証券番号, 保険会社名. ``omit`` any of
    ``view_url``, ``view_password``, ``project_name``, ``contractor`` to leave
    that field blank (and out of the body). ``url_in_body`` leaves the form's
    URL blank and writes ``閲覧用URL：…`` in the body instead (as contractors
    paste it from the system's notice). ``encrypt``: ``zip-aes`` / ``zip-crypto``
    (the form inside a password zip, CP932 names), ``ooxml`` (password-protected
    xlsx/docx), ``pdf`` (password-protected PDF form); the password is *not* in
    this mail: see :func:`password_followup`. Defaults: 損害保険ジャパン株式会社,
    証券番号 SJ26-0412345, the URL and password from
    :func:`samples.parties.viewing_url` / ``viewing_password``.
    """
    person = _contractor(contractor)
    works = _project(project)
    ins = lookup_insurer(insurer)
    number = _policy_number(ins, policy_number)
    password = view_password or viewing_password(number)
    url = view_url or viewing_url(number)
    form_builder, mimetype, extension = _FORMS[form]
    data = form_builder(
        insurer=ins,
        policy_number=number,
        view_password="" if "view_password" in omit else password,
        view_url=None if ("view_url" in omit or url_in_body) else url,
        project_name=None if "project_name" in omit else works.name,
        contractor=None if "contractor" in omit else person.name,
    )
    name = filename or f"発注者提出用フォーマット_{number}.{extension}"
    if encrypt is not None:
        data, name, mimetype = _encrypt_form(data, name, mimetype, encrypt, archive_password)

    lines = [
        _greeting(person, OFFICE_NAME),
        "下記工事の契約保証（履行保証保険）について、保証証券等確認システムの発注者提出用フォーマットを"
        "送付いたします。",
        "ご確認のほど、よろしくお願いいたします。",
        "",
    ]
    lines += _works_lines(works, omit=omit, wide=False)
    if "contractor" not in omit:
        lines.append(f"受注者名：{person.name}")
    lines.append(f"保険会社：{ins.name}")
    lines.append(f"証券番号：{number}")
    if url_in_body and "view_url" not in omit:
        lines.append(f"閲覧用URL：{url}")
    if encrypt:
        lines += ["", "※添付ファイルのパスワードは別途メールにてお送りいたします。"]
    lines += ["", _signature(person)]
    return build(
        from_=person.mailbox,
        to=to,
        cc=cc,
        subject=subject or _subject("【電子保証】", works, omit) + "（保証証券等確認システム）",
        body="\n".join(lines),
        attachments=[(name, data, mimetype)],
        charset=charset,
        filename_style=filename_style,
        date=date,
        received=received,
    )


def password_followup(
    *,
    contractor: str | Contractor = "yamada",
    project: str | Project = "road",
    password: str = "Kk2604#tot",  # noqa: S107 (sample data)
    original_subject: str | None = None,
    charset: Charset = "iso-2022-jp",
    date: datetime | None = None,
    received: datetime | None = None,
) -> bytes:
    """The second mail of an encrypted submission: the attachment's password only.

    Subject ``【パスワード送付】`` + the first mail's subject; body
    ``パスワード：…``; sent five minutes after the default date.
    """
    person = _contractor(contractor)
    works = _project(project)
    first = original_subject or _subject("【電子保証】", works) + "（保証証券等確認システム）"
    body = "\n".join(
        [
            _greeting(person, OFFICE_NAME),
            "先ほどお送りしたメールの添付ファイルのパスワードをお知らせいたします。",
            "",
            f"パスワード：{password}",
            "",
            _signature(person),
        ]
    )
    return build(
        from_=person.mailbox,
        to=OFFICE_ADDRESS,
        subject=f"【パスワード送付】{first}",
        body=body,
        charset=charset,
        date=date or DEFAULT_DATE + timedelta(minutes=5),
        received=received,
    )


_DESIGNATED = "designated"


def legacy_pdf_mail(
    *,
    contractor: str | Contractor = "yamada",
    project: str | Project = "road",
    insurer: str | Insurer = "sompo",
    policy_number: str | None = None,
    kind: pdfs.PolicyKind = "履行保証保険証券",
    password: str = "Rk7v2Lm9",  # noqa: S107 (sample data)
    password_in_body: bool = True,
    sender: Literal["contractor", "agent"] = "contractor",
    cc: str | Sequence[str] | None = _DESIGNATED,
    filename: str | None = None,
    charset: Charset = "iso-2022-jp",
    filename_style: FilenameStyle = "rfc2231",
    date: datetime | None = None,
    received: datetime | None = None,
) -> bytes:
    """The interim PDF-policy route: an encrypted policy PDF, the insurer's address in Cc.

    To the office, Cc the insurer's designated address (default; ``cc=None``
    omits it, or pass any other address(es), e.g. another insurer's). The
    policy PDF is AES-256 encrypted with ``password``; ``password_in_body``
    writes ``証券開封用パスワード：…`` in the body. ``sender="agent"`` has the
    insurer's agency (取扱代理店) send it, with the contractor in Cc too.
    """
    person = _contractor(contractor)
    works = _project(project)
    ins = lookup_insurer(insurer)
    number = _policy_number(ins, policy_number)
    issued = (date or DEFAULT_DATE).date()
    pdf = pdfs.policy_pdf(
        insurer=ins,
        policy_number=number,
        project_name=works.name,
        contractor=person.name,
        issued=issued,
        kind=kind,
        password=password,
        contract_price=works.price,
        period=(works.start, works.end),
        project_place=works.place,
    )
    copies = [ins.designated_address] if cc == _DESIGNATED else _as_list(cc)
    intro = [
        f"下記工事の契約保証として、{ins.name}の{kind}（PDF発行証券）を送付いたします。",
        f"※本メールは{ins.name}指定のメールアドレスを写しに含めて送信しております。",
    ]
    body_fields = [*_works_lines(works, omit=(), wide=False), f"証券番号：{number}"]
    if password_in_body:
        body_fields.append(f"証券開封用パスワード：{password}")
    if sender == "agent":
        from_ = f"{ins.agent} 保険事務担当 <jimu@{ins.agent_domain}>"
        copies = [*copies, person.address_email]
        lines = [
            f"{OFFICE_NAME}",
            "ご担当者様",
            "",
            f"{ins.name}代理店の{ins.agent}でございます。",
            f"{person.name}様からのご依頼により、" + intro[0],
            intro[1],
            "",
            *body_fields,
            "",
            f"{ins.agent}　保険事務担当",
        ]
    else:
        from_ = person.mailbox
        lines = [_greeting(person, OFFICE_NAME), *intro, "", *body_fields, "", _signature(person)]
    return build(
        from_=from_,
        to=OFFICE_ADDRESS,
        cc=copies,
        subject=_subject("【契約保証】", works) + f"（{kind}）",
        body="\n".join(lines),
        attachments=[(filename or f"{kind}_{number}.pdf", pdf, PDF)],
        charset=charset,
        filename_style=filename_style,
        date=date,
        received=received,
    )


def system_url_notice(
    *,
    contractor: str | Contractor = "yamada",
    insurer: str | Insurer = "sompo",
    policy_number: str | None = None,
    view_url: str | None = None,
    forwarded: bool = False,
    forward_style: Literal["outlook", "thunderbird"] = "outlook",
    sender: str = CONFIRMATION_SYSTEM_SENDER,
    date: datetime | None = None,
    received: datetime | None = None,
) -> bytes:
    """The confirmation system's own notice of the 閲覧用URL (to the contractor).

    From ``保証証券等確認システム <info@mail.sonpo-hosyou-syouken.jp>`` (the
    address in the association's manual), subject
    ``【保証証券等確認システム】証券等閲覧用URLのご案内（保険会社名：…、証券番号：…）``,
    UTF-8 base64. With ``forwarded`` the contractor forwards it inline to the
    office: Outlook (``FW:``, ``差出人:/送信日時:/宛先:/件名:`` block, Outlook
    charset) or Thunderbird (``Fwd:``, ``-------- 転送メッセージ --------``).
    """
    person = _contractor(contractor)
    ins = lookup_insurer(insurer)
    number = _policy_number(ins, policy_number)
    url = view_url or viewing_url(number)
    moment = date or DEFAULT_DATE
    subject = (
        "【保証証券等確認システム】証券等閲覧用URLのご案内"
        f"（保険会社名：{ins.name}、証券番号：{number}）"
    )
    notice = "\n".join(
        [
            f"{person.name}　様",
            "",
            "保証証券等確認システムに証券等が登録されました。",
            "下記の閲覧用URLから証券等をご確認いただけます。",
            "",
            f"保険会社名：{ins.name}",
            f"証券番号：{number}",
            f"閲覧用URL：{url}",
            "",
            "※閲覧用パスワードは、契約の取扱代理店または損害保険会社からご案内します。",
            "※発注者さまへは、発注者提出用フォーマットに閲覧用URL・工事名・受注者名を追記のうえ"
            "ご提出ください。",
            "※本メールは送信専用のアドレスから送信しています。ご返信いただいてもお答えできません。",
            "",
            "一般社団法人 日本損害保険協会　保証証券等確認システム",
        ]
    )
    if not forwarded:
        return build(
            from_=f"保証証券等確認システム <{sender}>",
            to=person.address_email,
            subject=subject,
            body=notice,
            charset="utf-8",
            date=moment,
            received=received,
            mailer="",
        )
    sent = moment - timedelta(minutes=17)
    if forward_style == "outlook":
        header = "\n".join(
            [
                "",
                "________________________________",
                f"差出人: 保証証券等確認システム <{sender}>",
                f"送信日時: {sent.year}年{sent.month}月{sent.day}日 {sent.hour}:{sent.minute:02d}",
                f"宛先: {person.address_email}",
                f"件名: {subject}",
                "",
            ]
        )
        prefix, charset = "FW: ", "outlook"
    else:
        header = "\n".join(
            [
                "",
                "-------- 転送メッセージ --------",
                f"件名: \t{subject}",
                f"日付: \t{email.utils.format_datetime(sent)}",
                f"差出人: \t保証証券等確認システム <{sender}>",
                f"宛先: \t{person.address_email}",
                "",
            ]
        )
        prefix, charset = "Fwd: ", "utf-8"
    body = "\n".join(
        [
            _greeting(person, OFFICE_NAME),
            "保証証券等確認システムから届いた閲覧用URLのご案内を転送いたします。",
            "閲覧用パスワードは保険会社からの発注者提出用フォーマットにてお送りいたします。",
            "",
            _signature(person),
            header,
            notice,
        ]
    )
    return build(
        from_=person.mailbox,
        to=OFFICE_ADDRESS,
        subject=prefix + subject,
        body=body,
        charset=charset,  # type: ignore[arg-type]
        date=moment,
        received=received,
    )


# ---------------------------------------------------------------------------
# Scenarios: noise around the submissions
# ---------------------------------------------------------------------------


def auto_reply(
    *,
    contractor: str | Contractor = "yamada",
    original_subject: str = "【受付】電子保証の提出を受け付けました",
    original_message_id: str = "<ack-20260406093500.1@city.example.jp>",
    style: Literal["outlook", "sieve"] = "outlook",
    date: datetime | None = None,
    received: datetime | None = None,
) -> bytes:
    """An out-of-office reply (``Auto-Submitted: auto-replied``), e.g. to an acknowledgement.

    ``outlook``: subject ``自動応答: <original>``, Outlook charset,
    ``X-Auto-Response-Suppress: All``. ``sieve``: subject ``不在のお知らせ``,
    UTF-8, ``Precedence: bulk``. Both carry In-Reply-To / References.
    """
    person = _contractor(contractor)
    family = person.person.split()[0]
    body = "\n".join(
        [
            "お世話になっております。",
            f"{person.signature_name}の{family}です。",
            "",
            "誠に申し訳ございませんが、4月6日（月）から4月10日（金）まで不在にしております。",
            "4月13日（月）以降、順次対応させていただきます。",
            f"お急ぎの場合は、{person.department}（TEL：{person.phone}）までご連絡ください。",
        ]
    )
    common = [
        ("In-Reply-To", original_message_id),
        ("References", original_message_id),
        ("Auto-Submitted", "auto-replied"),
    ]
    if style == "outlook":
        return build(
            from_=person.mailbox,
            to=OFFICE_ADDRESS,
            subject=f"自動応答: {original_subject}",
            body=body,
            charset="outlook",
            date=date or DEFAULT_DATE + timedelta(minutes=6),
            received=received,
            headers=[*common, ("X-Auto-Response-Suppress", "All")],
        )
    return build(
        from_=person.mailbox,
        to=OFFICE_ADDRESS,
        subject="不在のお知らせ",
        body=body,
        charset="utf-8",
        date=date or DEFAULT_DATE + timedelta(minutes=6),
        received=received,
        headers=[*common, ("Precedence", "bulk")],
        mailer="",
    )


def _report(
    *,
    from_: str,
    to: str,
    subject: str,
    report_type: str,
    parts: list[Part],
    charset: Charset,
    date: datetime,
    received: datetime | None,
    extra: list[tuple[str, HeaderValue]],
    return_path_null: bool = False,
) -> bytes:
    seed = f"{from_}:{to}:{subject}:{date.isoformat()}"
    boundary = _boundary(charset, seed, 9)
    top: list[tuple[str, HeaderValue]] = []
    if received is not None:
        top.append(
            ("Return-Path", "<>" if return_path_null else f"<{email.utils.parseaddr(from_)[1]}>")
        )
        top.append(("Received", _received(_domain_of(from_), to, received, seed)))
    top += [
        ("From", format_addresses(from_, charset)),
        ("To", format_addresses(to, charset)),
        ("Subject", encode_header_text(subject, charset)),
        ("Date", email.utils.format_datetime(date)),
        ("Message-ID", _message_id(charset, seed, _domain_of(from_))),
        ("MIME-Version", "1.0"),
        *extra,
        (
            "Content-Type",
            f'multipart/report; report-type={report_type};\r\n\tboundary="{boundary}"',
        ),
    ]
    return Part(
        top, b"This is a multi-part message in MIME format.\r\n\r\n", parts, boundary
    ).render()


def read_receipt(
    *,
    contractor: str | Contractor = "yamada",
    original_subject: str = "【受付】電子保証の提出を受け付けました",
    original_message_id: str = "<ack-20260406093500.1@city.example.jp>",
    original_date: datetime | None = None,
    date: datetime | None = None,
    received: datetime | None = None,
) -> bytes:
    """An Outlook read receipt (MDN): ``multipart/report; report-type=disposition-notification``.

    Subject ``開封済み: <original>``; a Japanese text part (メッセージ … は … に開封されました。)
    and a ``message/disposition-notification`` part with ``Original-Message-ID``
    and ``Disposition: manual-action/MDN-sent-manually; displayed``.
    """
    person = _contractor(contractor)
    sent = original_date or DEFAULT_DATE + timedelta(minutes=5)
    opened = date or DEFAULT_DATE + timedelta(minutes=32)
    text = "\n".join(
        [
            "メッセージ",
            "",
            f"  宛先:     {person.person} <{person.address_email}>",
            f"  件名:     {original_subject}",
            f"  送信日時: {sent:%Y/%m/%d %H:%M}",
            "",
            f"は {opened:%Y/%m/%d %H:%M} に開封されました。",
        ]
    )
    notification = _crlf(
        "\n".join(
            [
                f"Reporting-UA: {person.domain}; Microsoft Outlook 16.0",
                f"Final-Recipient: rfc822;{person.address_email}",
                f"Original-Message-ID: {original_message_id}",
                "Disposition: manual-action/MDN-sent-manually; displayed",
                "",
            ]
        )
    )
    parts = [
        _text_part(text, "outlook", None),
        Part([("Content-Type", "message/disposition-notification")], notification.encode("ascii")),
    ]
    return _report(
        from_=person.mailbox,
        to=OFFICE_ADDRESS,
        subject=f"開封済み: {original_subject}",
        report_type="disposition-notification",
        parts=parts,
        charset="outlook",
        date=opened,
        received=received,
        extra=[("X-Mailer", "Microsoft Outlook 16.0"), ("Content-Language", "ja")],
    )


def bounce(
    *,
    recipient: str = "t-yamada@yamada-kensetsu.example.co.jp",
    original_subject: str = "【受付】電子保証の提出を受け付けました",
    original_message_id: str = "<ack-20260406093500.1@city.example.jp>",
    status: str = "5.1.1",
    diagnostic: str | None = None,
    date: datetime | None = None,
    received: datetime | None = None,
) -> bytes:
    """A Postfix non-delivery report for a mail the office sent (e.g. its acknowledgement).

    From ``MAILER-DAEMON@mail.city.example.jp (Mail Delivery System)``, subject
    ``Undelivered Mail Returned to Sender``, ``multipart/report;
    report-type=delivery-status`` with the notice, a ``message/delivery-status``
    (Action: failed, Status, Diagnostic-Code) and the original headers
    (``text/rfc822-headers``, subject in ISO-2022-JP).
    """
    moment = date or DEFAULT_DATE + timedelta(minutes=6)
    sent = moment - timedelta(minutes=1)
    domain = recipient.rpartition("@")[2]
    diagnostic = diagnostic or (
        f"smtp; 550 5.1.1 <{recipient}>: Recipient address rejected: "
        "User unknown in virtual mailbox table"
    )
    queue_id = hashlib.sha256(f"{recipient}{original_message_id}".encode()).hexdigest()[:11].upper()
    notice = "\n".join(
        [
            f"This is the mail system at host {OFFICE_MX}.",
            "",
            "I'm sorry to have to inform you that your message could not",
            "be delivered to one or more recipients. It's attached below.",
            "",
            "For further assistance, please send mail to postmaster.",
            "",
            "If you do so, please include this problem report. You can",
            "delete your own text from the attached returned message.",
            "",
            "                   The mail system",
            "",
            f"<{recipient}>: host mail.{domain}[203.0.113.25] said: "
            + diagnostic.removeprefix("smtp; "),
            "    (in reply to RCPT TO command)",
        ]
    )
    status_text = _crlf(
        "\n".join(
            [
                f"Reporting-MTA: dns; {OFFICE_MX}",
                f"X-Postfix-Queue-ID: {queue_id}",
                f"X-Postfix-Sender: rfc822; {OFFICE_ADDRESS}",
                f"Arrival-Date: {email.utils.format_datetime(sent)}",
                "",
                f"Final-Recipient: rfc822; {recipient}",
                f"Original-Recipient: rfc822;{recipient}",
                "Action: failed",
                f"Status: {status}",
                f"Remote-MTA: dns; mail.{domain}",
                f"Diagnostic-Code: {diagnostic}",
                "",
            ]
        )
    )
    original_headers = _crlf(
        "\n".join(
            [
                f"Received: by {OFFICE_MX} (Postfix, from userid 998)\n"
                f"\tid {queue_id}; {email.utils.format_datetime(sent)}",
                f"From: {encode_header_text(OFFICE_NAME, 'iso-2022-jp')} <{OFFICE_ADDRESS}>",
                f"To: {recipient}",
                f"Subject: {encode_header_text(original_subject, 'iso-2022-jp')}",
                f"Message-ID: {original_message_id}",
                f"Date: {email.utils.format_datetime(sent)}",
                "Auto-Submitted: auto-replied",
                "MIME-Version: 1.0",
                'Content-Type: text/plain; charset="ISO-2022-JP"',
                "",
            ]
        )
    )
    parts = [
        Part(
            [
                ("Content-Description", "Notification"),
                ("Content-Type", "text/plain; charset=us-ascii"),
            ],
            _crlf(notice + "\n").encode("ascii"),
        ),
        Part(
            [
                ("Content-Description", "Delivery report"),
                ("Content-Type", "message/delivery-status"),
            ],
            status_text.encode("ascii"),
        ),
        Part(
            [
                ("Content-Description", "Undelivered Message Headers"),
                ("Content-Type", "text/rfc822-headers"),
            ],
            original_headers.encode("ascii"),
        ),
    ]
    return _report(
        from_=f"MAILER-DAEMON@{OFFICE_MX} (Mail Delivery System)",
        to=OFFICE_ADDRESS,
        subject="Undelivered Mail Returned to Sender",
        report_type="delivery-status",
        parts=parts,
        charset="iso-2022-jp",
        date=moment,
        received=received,
        extra=[("Auto-Submitted", "auto-replied")],
        return_path_null=True,
    )


def mailing_list(
    *,
    with_attachment: bool = False,
    date: datetime | None = None,
    received: datetime | None = None,
) -> bytes:
    """An industry association's newsletter (List-Id, Precedence: bulk) that talks about 電子保証.

    Sent to the list address (the office is a subscriber, not in To). The text
    mentions 保証契約番号, 認証キー, 保証証券等確認システム and 閲覧用URL without
    any values; ``with_attachment`` adds a leaflet PDF 電子保証のご案内.pdf
    (labels, no values).
    """
    body = "\n".join(
        [
            "━━━━━━━━━━━━━━━━━━━━━━━━━━",
            "　東都建設業協会　会員通信　第２１８号（令和８年４月）",
            "━━━━━━━━━━━━━━━━━━━━━━━━━━",
            "",
            "■１．東都市の電子保証の取扱いについて",
            "東都市では、契約保証及び前払金保証の保証証書について、電子保証による提出を受け付けています。",
            "保証事業会社の場合は「保証契約番号」と「認証キー」が記載された「認証キー等のお知らせ」（PDF）を、",
            "損害保険会社の場合は保証証券等確認システムの「閲覧用URL」「閲覧用パスワード」を記載した",
            "発注者提出用フォーマットを、契約課のメールアドレスへ送付してください。",
            "",
            "■２．令和８年度 建設業経理事務研修会のご案内",
            "日時：令和８年５月１４日（木）１３：３０～１６：３０",
            "会場：東都建設会館　５階大会議室",
            "",
            "――――――――――――――――――――――――――",
            "一般社団法人東都建設業協会　事務局",
            "TEL：048-555-9000　https://www.toto-kenkyo.example.or.jp/",
            "配信停止：https://www.toto-kenkyo.example.or.jp/mail/unsubscribe",
        ]
    )
    attachments: list[Attachment] = []
    if with_attachment:
        attachments.append(("電子保証のご案内.pdf", pdfs.leaflet_pdf(), PDF))
    return build(
        from_="一般社団法人東都建設業協会 <info@toto-kenkyo.example.or.jp>",
        to="kaiin-tsushin@lists.toto-kenkyo.example.or.jp",
        subject="【東都建設業協会】会員通信 第218号（令和8年4月）",
        body=body,
        attachments=attachments,
        charset="utf-8",
        date=date or DEFAULT_DATE - timedelta(hours=2),
        received=received,
        mailer="",
        headers=[
            (
                "List-Id",
                "=?UTF-8?B?5Lya5ZOh6YCa5L+h?= <kaiin-tsushin.lists.toto-kenkyo.example.or.jp>",
            ),
            (
                "List-Unsubscribe",
                "<mailto:unsubscribe@lists.toto-kenkyo.example.or.jp>,\r\n "
                "<https://www.toto-kenkyo.example.or.jp/mail/unsubscribe>",
            ),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
            ("Precedence", "bulk"),
        ],
    )


def unreadable_key_notice_mail() -> bytes:
    """A key notice whose PDF is broken (it cannot be opened): review, attachment-unreadable."""
    return build(
        from_="株式会社山田建設 山田 太郎 <t-yamada@yamada-kensetsu.example.co.jp>",
        to=OFFICE_ADDRESS, subject="【電子保証】認証キー等のお知らせ",
        body="認証キー等のお知らせを添付します。よろしくお願いいたします。",
        attachments=[("認証キー等のお知らせ.pdf", pdfs.corrupt_pdf(), "application/pdf")],
    )


def unrelated(
    *,
    contractor: str | Contractor = "sato",
    project: str | Project = "school",
    charset: Charset = "iso-2022-jp",
    date: datetime | None = None,
    received: datetime | None = None,
) -> bytes:
    """A contractor asks about a tender schedule: no submission, no attachment."""
    person = _contractor(contractor)
    works = _project(project)
    body = "\n".join(
        [
            _greeting(person, OFFICE_NAME),
            "下記案件の入札日程について確認させてください。",
            "",
            f"案件名：{works.name}",
            "",
            "入札公告では開札日が5月12日となっておりますが、質問書の回答はいつ頃公表される予定でしょうか。",
            "また、契約保証は電子保証でも差し支えないか、あわせてご教示いただけますと幸いです。",
            "",
            "お忙しいところ恐縮ですが、よろしくお願いいたします。",
            "",
            _signature(person),
        ]
    )
    return build(
        from_=person.mailbox,
        to=OFFICE_ADDRESS,
        subject=f"入札日程についてのお問い合わせ（{works.name}）",
        body=body,
        charset=charset,
        date=date,
        received=received,
    )


def not_mime(
    *,
    contractor: str | Contractor = "sato",
    subject: str = "電子保証の件",
    body: str | None = None,
    date: datetime | None = None,
) -> bytes:
    """A message with no MIME headers at all: raw 8-bit Shift_JIS subject and body.

    No MIME-Version, no Content-Type, no encoded words, as old gateways and
    multifunction printers still send. Only From/To/Subject/Date/Message-ID.
    """
    person = _contractor(contractor)
    moment = date or DEFAULT_DATE
    text = body or "\n".join(
        [
            f"{OFFICE_NAME}　御中",
            "",
            f"{person.name}です。",
            "認証キーのお知らせを郵送しましたのでご確認ください。",
            "",
            f"{person.person}　TEL {person.phone}",
        ]
    )
    seed = f"{person.address_email}:{subject}:{text}:{moment.isoformat()}"
    headers: list[tuple[str, HeaderValue]] = [
        ("From", person.address_email),
        ("To", OFFICE_ADDRESS),
        ("Subject", subject.encode("cp932")),
        ("Date", email.utils.format_datetime(moment)),
        ("Message-ID", _message_id("plain", seed, person.domain)),
    ]
    return Part(headers, _crlf(text + "\n").encode("cp932")).render()
