"""The mails the daemon writes: to staff (routed, review) and to contractors (correction).

Pure: a decision, the message it is about and the settings in, ready-to-send
:class:`~email.message.EmailMessage` objects out. Every mail carries the X-Surety-*
headers staff filter on, and a Message-ID derived from the source message and the
action, so composing the same decision again gives the same mail.
"""

from __future__ import annotations

import copy
import hashlib
import re
from dataclasses import dataclass, replace
from datetime import date, datetime
from email.headerregistry import Address
from email.message import EmailMessage, MIMEPart
from email.utils import format_datetime
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined

from daemon import problems as catalogue
from daemon.config import Settings
from daemon.model import Decision, DocumentStatus, GuaranteeType, Kind, Mail, Verdict

JST = ZoneInfo("Asia/Tokyo")

KIND_LABELS = {
    Kind.DSURE_KEY: "D-Sure 認証キー等のお知らせ（保証事業会社）",
    Kind.CONFIRMATION_SYSTEM: "保証証券等確認システム（閲覧用URL・閲覧用パスワード）",
    Kind.LEGACY_PDF: "PDF発行証券（メール提出・暫定的な取扱い）",
    Kind.OTHER: "電子保証の提出ではない、または判別できないメール",
}
GUARANTEE_LABELS = {
    GuaranteeType.CONTRACT: "契約保証",
    GuaranteeType.ADVANCE_PAYMENT: "前払金保証",
    GuaranteeType.INTERIM_ADVANCE_PAYMENT: "中間前払金保証",
}
VERDICT_LABELS = {
    Verdict.ROUTED: "担当課へ回付",
    Verdict.CORRECTION: "修正依頼を返信",
    Verdict.REVIEW: "要確認（職員による確認）",
    Verdict.IGNORED: "対応不要",
}
FIELD_LABELS = (
    ("guarantor", "保証事業会社"),
    ("insurer", "保険会社"),
    ("contract_number", "保証契約番号"),
    ("auth_key", "認証キー"),
    ("policy_number", "証券番号"),
    ("view_url", "閲覧用URL"),
    ("view_password", "閲覧用パスワード"),
    ("project_name", "工事名"),
    ("project_number", "工事番号"),
    ("contractor_name", "受注者名"),
    ("issued_on", "証券発行日"),
    ("document_password", "添付ファイルのパスワード"),
)
STATUS_LABELS = {
    DocumentStatus.TEXT: "読み取り済み",
    DocumentStatus.NO_TEXT: "文字なし（画像）",
    DocumentStatus.ENCRYPTED: "パスワード保護のため開けず",
    DocumentStatus.UNREADABLE: "開けず",
    DocumentStatus.SKIPPED: "未読取の形式",
}
NEXT_STEPS = {
    Kind.DSURE_KEY: "D-Sure（https://www.d-sure.jp/）に保証契約番号と認証キーでログインし、"
    "電子証書の内容をご確認ください。",
    Kind.CONFIRMATION_SYSTEM: "閲覧用URLを開き、閲覧用パスワードで証券等のPDFをご確認ください。",
    Kind.LEGACY_PDF: "添付のPDF証券の内容をご確認ください"
    "（疑義がある場合は保険会社へ照会してください）。",
}

_templates = Environment(
    loader=PackageLoader("daemon", "templates"),
    undefined=StrictUndefined,
    autoescape=False,  # noqa: S701 - plain-text mail, not HTML
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


_ORIGINAL_MARKER = "@@surety-intake-original-message@@"


@dataclass(frozen=True)
class Outgoing:
    """One mail to send, with the action it performs (for the state record).

    ``original``, when set, is attached whole as message/rfc822: byte for byte as it
    arrived (only line ends made CRLF), never re-encoded, so staff see exactly what the
    contractor sent.
    """

    action: str  # "forward" (to staff) or "reply" (to the contractor)
    recipients: tuple[str, ...]
    message: EmailMessage
    original: bytes | None = None

    @property
    def message_id(self) -> str:
        """This mail's Message-ID."""
        return str(self.message["Message-ID"])

    def to_bytes(self) -> bytes:
        """The mail as sent on the wire (CRLF line ends)."""
        msg = self.message
        if self.original is None:
            return msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))
        part = MIMEPart(policy=msg.policy)
        eight_bit = any(b >= 0x80 for b in self.original)
        part["Content-Type"] = "message/rfc822"
        part["Content-Transfer-Encoding"] = "8bit" if eight_bit else "7bit"
        part["Content-Disposition"] = 'attachment; filename="original.eml"'
        part.set_payload(_ORIGINAL_MARKER)
        whole = copy.deepcopy(msg)
        whole.make_mixed()
        whole.attach(part)  # type: ignore[arg-type]  # a part is what attach takes
        data = whole.as_bytes(policy=msg.policy.clone(linesep="\r\n"))
        original = re.sub(rb"\r?\n|\r", b"\r\n", self.original)
        if not original.endswith(b"\r\n"):
            original += b"\r\n"
        return data.replace(_ORIGINAL_MARKER.encode(), original, 1)


def outgoing_id(source_ids: list[str], action: str, sender: str) -> str:
    """A Message-ID that only depends on the source message(s) and the action."""
    digest = hashlib.sha256("\0".join([*source_ids, action]).encode()).hexdigest()[:32]
    domain = sender.rpartition("@")[2] or "surety-intake.invalid"
    return f"<surety.{action}.{digest}@{domain}>"


def compose(decision: Decision, mail: Mail, settings: Settings, now: datetime) -> list[Outgoing]:
    """Every mail this decision sends (none for ignored)."""
    if decision.verdict in (Verdict.ROUTED, Verdict.REVIEW):
        return [_to_staff(decision, mail, settings, now)]
    if decision.verdict is Verdict.CORRECTION:
        return [_correction(decision, mail, settings, now)]
    return []


def _base(decision: Decision, mail: Mail, settings: Settings, now: datetime, *, action: str,
          to: tuple[str, ...], subject: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = Address(settings.smtp.sender_name, addr_spec=settings.smtp.sender)
    msg["To"] = ", ".join(to)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(now.astimezone(JST))
    msg["Message-ID"] = outgoing_id([mail.message_id], action, settings.smtp.sender)
    msg["X-Surety-Kind"] = decision.kind.value
    msg["X-Surety-Verdict"] = decision.verdict.value
    msg["X-Surety-Problems"] = ",".join(decision.problems)
    msg["X-Surety-Source"] = mail.message_id
    if decision.guarantee_type:
        msg["X-Surety-Guarantee-Type"] = decision.guarantee_type.value
    return msg


def received_label(mail: Mail) -> str:
    """Arrival time as staff and contractors read it: 2026年4月1日 10時05分."""
    when = mail.received_at.astimezone(JST)
    return f"{when.year}年{when.month}月{when.day}日 {when.hour}時{when.minute:02d}分"


def _sender_label(mail: Mail) -> str:
    if mail.from_name:
        return f"{mail.from_name} <{mail.from_addr}>"
    return mail.from_addr or "（不明）"


def _to_staff(decision: Decision, mail: Mail, settings: Settings, now: datetime) -> Outgoing:
    review = decision.verdict is Verdict.REVIEW
    guarantee = GUARANTEE_LABELS[decision.guarantee_type] if decision.guarantee_type else None
    title = decision.fields.project_name or mail.subject or "（件名なし）"
    if review:
        subject = f"【電子保証 要確認】{mail.subject or '（件名なし）'}"
    else:
        subject = f"【電子保証 受付】{guarantee or ''} {title}".strip()
        if decision.fields.contractor_name:
            subject += f"（{decision.fields.contractor_name}）"
    fields = []
    for name, label in FIELD_LABELS:
        value = getattr(decision.fields, name)
        if value:
            fields.append((label, str(value)))
    body = _templates.get_template("to_staff.txt.j2").render(
        verdict=decision.verdict.value,
        kind_label=KIND_LABELS[decision.kind],
        guarantee_label=guarantee or "（判別できず）",
        verdict_label=VERDICT_LABELS[decision.verdict],
        problems=[_problem(c, settings) for c in decision.problems],
        fields=fields,
        sender=_sender_label(mail),
        subject=mail.subject,
        received=received_label(mail),
        message_id=mail.message_id,
        attachments=[
            {"name": a.filename, "status": STATUS_LABELS[a.status]} for a in mail.attachments
        ],
        next_step=None if review else NEXT_STEPS.get(decision.kind),
    )
    msg = _base(decision, mail, settings, now, action="forward", to=decision.route_to,
                subject=subject)
    msg.set_content(body)
    return Outgoing("forward", decision.route_to, msg, original=mail.raw)


def japanese_date(day: date) -> str:
    """A date as written in letters to contractors: 2026年3月31日."""
    return f"{day.year}年{day.month}月{day.day}日"


def _problem(code: str, settings: Settings) -> catalogue.Problem:
    """The catalogue entry with the office's own settings filled into its sentences."""
    known = catalogue.CATALOGUE.get(code)
    if known is None:
        return catalogue.Problem(code, catalogue.Effect.REVIEW, code, code)
    values = {"legacy_pdf_until": japanese_date(settings.policy.legacy_pdf_until)}
    return replace(
        known,
        to_staff=known.to_staff.format_map(values),
        to_contractor=known.to_contractor.format_map(values),
    )


def _correction(decision: Decision, mail: Mail, settings: Settings, now: datetime) -> Outgoing:
    name = mail.from_name.strip()
    addressee = f"{name} 様" if name else "ご担当者 様"
    original = mail.subject or "（件名なし）"
    body = _templates.get_template("correction.txt.j2").render(
        addressee=addressee,
        office_name=settings.office.name,
        office_contact=settings.office.contact,
        received=received_label(mail),
        subject=mail.subject,
        problems=[_problem(c, settings) for c in decision.problems
                  if c in catalogue.CATALOGUE and catalogue.CATALOGUE[c].to_contractor],
        intake_address=intake_address(settings),
    )
    subject = f"【電子保証 再提出のお願い】Re: {original}"
    msg = _base(decision, mail, settings, now, action="reply", to=decision.route_to,
                subject=subject)
    msg["Auto-Submitted"] = "auto-replied"
    msg["X-Auto-Response-Suppress"] = "All"
    msg["In-Reply-To"] = mail.message_id
    references = (mail.header("References") or "").split()
    msg["References"] = " ".join([*references[-10:], mail.message_id])
    msg["Reply-To"] = intake_address(settings)
    msg.set_content(body)
    return Outgoing("reply", decision.route_to, msg)


def intake_address(settings: Settings) -> str:
    """The contract mailbox's own address, where contractors send (again)."""
    return settings.office.intake_address or settings.imap.username
