"""Mail clients as contractors use them, over :func:`samples.mails.build`.

Each client writes the same letter its own way: Outlook (ISO-2022-JP with CP932
extensions, RFC 2047 names, an HTML alternative), Thunderbird (UTF-8 8bit,
format=flowed, RFC 2231 names; or strict ISO-2022-JP), Gmail (UTF-8 base64 with an
HTML alternative, RFC 2047 names, a ``mail.gmail.com`` Message-ID), the iPhone's Mail
(UTF-8 quoted-printable, "iPhoneから送信"), Becky! (Shift_JIS 8bit) and webmail (raw
8-bit UTF-8 names). :func:`html_only` writes a mail whose only text is HTML.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from samples import mails
from samples.mails import Attachment, Part

Client = Literal["outlook", "thunderbird", "thunderbird-jis", "gmail", "iphone", "becky",
                 "webmail"]
CLIENTS: tuple[Client, ...] = ("outlook", "thunderbird", "gmail", "iphone", "becky",
                               "thunderbird-jis", "webmail")

Headers = Sequence[tuple[str, str | bytes]]


def _gmail_id(seed: str) -> str:
    digest = hashlib.sha256(seed.encode()).digest()
    token = base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")
    return f"<CA+{token[:40]}@mail.gmail.com>"


def send(client: Client, *, from_: str, to: str | Sequence[str], subject: str, body: str,
         date: datetime, attachments: Sequence[Attachment] = (),
         cc: str | Sequence[str] = (), reply_to: str | None = None,
         headers: Headers | None = None) -> bytes:
    """One message as ``client`` writes it."""
    common = {"from_": from_, "to": to, "subject": subject, "cc": cc, "reply_to": reply_to,
              "attachments": attachments, "date": date, "headers": headers}
    if client == "outlook":
        return mails.build(body=body, charset="outlook", filename_style="rfc2047", html=True,
                           **common)  # type: ignore[arg-type]
    if client == "thunderbird":
        return mails.build(body=body, charset="utf-8", transfer_encoding="8bit",
                           filename_style="rfc2231", **common)  # type: ignore[arg-type]
    if client == "thunderbird-jis":
        return mails.build(body=body, charset="iso-2022-jp", filename_style="rfc2231",
                           **common)  # type: ignore[arg-type]
    if client == "gmail":
        seed = f"{from_}|{subject}|{body}|{date.isoformat()}"
        return mails.build(body=body, charset="utf-8", transfer_encoding="base64",
                           filename_style="rfc2047", html=True, mailer="",
                           message_id=_gmail_id(seed), **common)  # type: ignore[arg-type]
    if client == "iphone":
        iphone = {**common, "headers": [*(headers or ()), ("X-Mailer", "iPhone Mail (21E236)")]}
        return mails.build(body=f"{body}\n\niPhoneから送信", charset="utf-8",
                           transfer_encoding="quoted-printable", filename_style="rfc2231",
                           mailer="", **iphone)  # type: ignore[arg-type]
    if client == "becky":
        return mails.build(body=body, charset="shift_jis", filename_style="rfc2047",
                           **common)  # type: ignore[arg-type]
    if client == "webmail":
        return mails.build(body=body, charset="utf-8", transfer_encoding="base64",
                           filename_style="raw-utf8", mailer="", **common)  # type: ignore[arg-type]
    raise ValueError(f"unknown client {client!r}")


def _b64(data: bytes) -> bytes:
    encoded = base64.b64encode(data)
    return b"\r\n".join(encoded[i:i + 76] for i in range(0, len(encoded), 76)) + b"\r\n"


def html_only(*, from_: str, to: str, subject: str, html: str, date: datetime,
              attachments: Sequence[Attachment] = (), mailer: str = "") -> bytes:
    """A mail whose only text part is text/html (UTF-8, base64), as some webmail and
    form-mailing tools send; attachments after it, names in RFC 2047."""
    document = (
        '<!DOCTYPE html>\r\n<html><head><meta charset="utf-8"></head>\r\n'
        f'<body style="font-family:sans-serif">\r\n{html}\r\n</body></html>\r\n'
    )
    text = Part([("Content-Type", 'text/html; charset="UTF-8"'),
                 ("Content-Transfer-Encoding", "base64")], _b64(document.encode("utf-8")))
    seed = f"{from_}|{subject}|{html}|{date.isoformat()}"
    digest = hashlib.sha256(seed.encode()).hexdigest()
    root = text
    if attachments:
        children = [text]
        for name, data, mimetype in attachments:
            encoded = mails.encode_header_text(name, "utf-8")
            children.append(Part([
                ("Content-Type", f'{mimetype}; name="{encoded}"'),
                ("Content-Disposition", f'attachment; filename="{encoded}"'),
                ("Content-Transfer-Encoding", "base64"),
            ], _b64(data)))
        boundary = f"=_html_{digest[:24]}"
        root = Part([("Content-Type", f'multipart/mixed; boundary="{boundary}"')],
                    children=children, boundary=boundary)
    domain = email.utils.parseaddr(from_)[1].rpartition("@")[2]
    top: list[tuple[str, str | bytes]] = [
        ("From", mails.format_addresses(from_, "utf-8")),
        ("To", mails.format_addresses(to, "utf-8")),
        ("Subject", mails.encode_header_text(subject, "utf-8")),
        ("Date", email.utils.format_datetime(date)),
        ("Message-ID", f"<{digest[:20]}.{digest[20:28]}@{domain}>"),
        ("MIME-Version", "1.0"),
    ]
    if mailer:
        top.append(("X-Mailer", mailer))
    return Part(top + root.headers, root.body, root.children, root.boundary).render()
