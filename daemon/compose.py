"""The mails the daemon writes: to staff (routed, review) and to contractors (correction,
and the receipt of a routed message when the office sends one).

Pure: a decision, the message it is about and the settings in, ready-to-send
:class:`~email.message.EmailMessage` objects out. Every mail carries the X-Surety-*
headers staff filter on, and a Message-ID derived from the source message and the
action, so composing the same decision again gives the same mail.

Whatever the sender wrote is shown through :mod:`daemon.display`: on one line, its
controls and invisible characters escaped for staff and removed for the contractor, no
URL or display-name text of the sender's quoted back to them, and no secret in a Subject.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass, replace
from datetime import date, datetime
from email import message_from_bytes
from email.errors import HeaderParseError
from email.headerregistry import Address, Group
from email.message import EmailMessage, MIMEPart
from email.policy import SMTP
from email.utils import format_datetime
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined

from daemon import display
from daemon import problems as catalogue
from daemon.checks import shown_url, view_url_valid
from daemon.config import Settings
from daemon.lifecycle import secrets_of
from daemon.model import (
    Action,
    Decision,
    DocumentStatus,
    GuaranteeType,
    Kind,
    Mail,
    Outcome,
    Verdict,
    action_of,
)
from daemon.problems import Code

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
# A verdict in a sentence ("判定が「回付」から「修正依頼」に変わりました").
VERDICT_SHORT = {
    Verdict.ROUTED: "回付",
    Verdict.CORRECTION: "修正依頼",
    Verdict.REVIEW: "要確認",
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
    DocumentStatus.TOO_LARGE: "大きすぎるため未読取",
}
NEXT_STEPS = {
    Kind.DSURE_KEY: "D-Sure（https://www.d-sure.jp/）に保証契約番号と認証キーでログインし、"
    "電子証書の内容をご確認ください。",
    Kind.CONFIRMATION_SYSTEM: "閲覧用URLを開き、閲覧用パスワードで証券等のPDFをご確認ください。",
    Kind.LEGACY_PDF: "添付のPDF証券の内容をご確認ください"
    "（疑義がある場合は保険会社へ照会してください）。",
}

TEXT_TEMPLATES = Environment(
    loader=PackageLoader("daemon", "templates"),
    undefined=StrictUndefined,
    autoescape=False,  # noqa: S701 - plain-text mail, not HTML
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
# The same templates for the HTML part of a staff mail, every value escaped.
_html_templates = TEXT_TEMPLATES.overlay(autoescape=True)


@dataclass(frozen=True)
class Row:
    """One field of a staff mail: its label, its value as shown (already through
    daemon.display) and, for a 閲覧用URL that passed the checks, the link's target."""

    label: str
    value: str
    href: str | None = None


def staff_parts(template: str, **values: object) -> tuple[str, str]:
    """A staff mail's text and HTML, from one template rendered with each layout
    (``layout.txt.j2``, ``layout.html.j2``): the same values, in the same order."""
    text = TEXT_TEMPLATES.get_template(template).render(layout="layout.txt.j2", **values)
    html = _html_templates.get_template(template).render(layout="layout.html.j2", **values)
    return text, html


def _set_staff_body(msg: EmailMessage, parts: tuple[str, str]) -> None:
    """multipart/alternative: text/plain first, text/html second (both UTF-8)."""
    text, html = parts
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")


def view_link(url: str, settings: Settings) -> str | None:
    """The href for a 閲覧用URL: the URL as staff see it (see checks.shown_url), only
    when it and the URL as written both pass checks.view_url_valid and showing it changes
    nothing (no control or invisible character); None otherwise (shown, never linked)."""
    hosts = settings.policy.confirmation_system_domains
    shown = shown_url(url)
    if not (view_url_valid(url, hosts) and view_url_valid(shown, hosts)):
        return None
    return shown if display.for_staff(shown) == shown else None


_ORIGINAL_MARKER = "@@surety-intake-original-message-"


@dataclass(frozen=True)
class Outgoing:
    """One mail to send, with the action it performs (for the state record).

    ``originals`` (the source message, and a follow-up decided with it) are attached
    whole as message/rfc822: byte for byte as they arrived (only line ends made CRLF),
    never re-encoded, so staff see exactly what the contractor sent.
    """

    action: str  # an Action, "-N" per submission ("forward-2"), see action_of
    recipients: tuple[str, ...]
    message: EmailMessage
    originals: tuple[bytes, ...] = ()
    wire: bytes | None = None  # made already (see rendered)

    def rendered(self) -> Outgoing:
        """The same mail as its bytes (made once, by a reader process: see daemon.workers);
        its message keeps only the Message-ID."""
        head = EmailMessage()
        head["Message-ID"] = self.message_id
        return Outgoing(self.action, self.recipients, head, wire=self.to_bytes())

    @property
    def message_id(self) -> str:
        """This mail's Message-ID."""
        return str(self.message["Message-ID"])

    def to_bytes(self) -> bytes:
        """The mail as sent on the wire (CRLF line ends), originals attached whole."""
        if self.wire is not None:
            return self.wire
        msg = self.message
        policy = msg.policy.clone(linesep="\r\n")
        if not self.originals:
            return msg.as_bytes(policy=policy)
        # A shallow copy with its own header and part lists: make_mixed only rebinds those
        # (the message's parts are moved under a new part, not changed), so the composed
        # message is left as it was without copying every part of it.
        whole = copy.copy(msg)
        whole._headers = list(msg._headers)  # type: ignore[attr-defined]
        if isinstance(msg._payload, list):  # type: ignore[attr-defined]
            whole._payload = list(msg._payload)  # type: ignore[attr-defined]
        whole.make_mixed()
        for index, original in enumerate(self.originals):
            part = MIMEPart(policy=msg.policy)
            eight_bit = not original.isascii()
            part["Content-Type"] = "message/rfc822"
            part["Content-Transfer-Encoding"] = "8bit" if eight_bit else "7bit"
            name = "original.eml" if index == 0 else f"original-{index + 1}.eml"
            part["Content-Disposition"] = f'attachment; filename="{name}"'
            part.set_payload(f"{_ORIGINAL_MARKER}{index}@@")
            whole.attach(part)  # type: ignore[arg-type]  # a part is what attach takes
        data = whole.as_bytes(policy=policy)
        for index, original in enumerate(self.originals):
            crlf = crlf_lines(original)
            if not crlf.endswith(b"\r\n"):
                crlf += b"\r\n"
            data = data.replace(f"{_ORIGINAL_MARKER}{index}@@".encode(), crlf, 1)
        return data


def crlf_lines(data: bytes) -> bytes:
    """Every line end (CRLF, LF or a lone CR) made CRLF: ``re.sub(rb"\r?\n|\r",
    b"\r\n", data)``, done by bytes.replace (a tenth of the time on a large message)."""
    return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")


def outgoing_id(source_ids: list[str], action: str, sender: str) -> str:
    """A Message-ID that only depends on the source message(s) and the action."""
    digest = hashlib.sha256("\0".join([*source_ids, action]).encode()).hexdigest()[:32]
    domain = sender.rpartition("@")[2] or "surety-intake.invalid"
    return f"<surety.{action}.{digest}@{domain}>"


@dataclass(frozen=True)
class Redecision:
    """A replay's context, for its mails to staff: the verdict of the decision it replaces
    and that decision's staff mails (Message-ID, recipients)."""

    earlier_verdict: str
    earlier_staff: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def line(self, recipients: tuple[str, ...]) -> str:
        """The line near the top of a replay's staff mail: a re-decision, and the earlier
        mails to the same addresses it stands for (else the earlier verdict)."""
        reached = {a.lower() for a in recipients}
        ids = [i for i, to in self.earlier_staff if reached & {a.lower() for a in to}]
        said = "この提出は、設定の変更後に再判定したものです。"
        if ids:
            return display.for_staff(f"{said}先にお送りしたメール（Message-ID: "
                                     f"{', '.join(ids)}）に代わるものです。")
        return f"{said[:-1]}（先の判定: {verdict_short(self.earlier_verdict)}）。"


def verdict_short(verdict: str) -> str:
    """A recorded verdict in a sentence (回付, 修正依頼, ...); an unknown one as it is."""
    known = VERDICT_SHORT.get(Verdict(verdict)) if verdict in tuple(Verdict) else None
    return known or display.for_staff(verdict) or "（なし）"


def compose(decision: Decision, mail: Mail, settings: Settings, now: datetime,
            redecision: Redecision | None = None) -> list[Outgoing]:
    """Every mail this decision sends: one per submission (none for ignored or held).
    ``redecision``: the decision is a replay's, and its staff mails say so."""
    out: list[Outgoing] = []
    many = len(decision.outcomes) > 1
    for index, outcome in enumerate(decision.outcomes):
        suffix = f"-{index + 1}" if many else ""
        if outcome.verdict in (Verdict.ROUTED, Verdict.REVIEW):
            action = f"{Action.FORWARD}{suffix}"
            out.append(_to_staff(outcome, decision, mail, settings, now, action, redecision))
        elif outcome.verdict is Verdict.CORRECTION:
            action = f"{Action.REPLY}{suffix}"
            out.append(_correction(outcome, decision, mail, settings, now, action))
    if decision.receipt_to and decision.verdict is Verdict.ROUTED and any(
            o.acknowledged for o in decision.outcomes):
        out.append(_receipt(decision, mail, settings, now, decision.receipt_to))
    return out


def _base(outcome: Outcome, decision: Decision, settings: Settings, now: datetime, *,
          action: str, subject: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = Address(settings.smtp.sender_name, addr_spec=settings.smtp.sender)
    msg["To"] = to_header(outcome.route_to)
    _set(msg, "Subject", subject)
    msg["Date"] = format_datetime(now.astimezone(JST))
    msg["Message-ID"] = outgoing_id(list(decision.sources), action, settings.smtp.sender)
    msg["X-Surety-Kind"] = outcome.kind.value
    msg["X-Surety-Verdict"] = outcome.verdict.value
    msg["X-Surety-Problems"] = ",".join(outcome.problems)
    _set(msg, "X-Surety-Source", " ".join(decision.sources))
    if outcome.guarantee_type:
        msg["X-Surety-Guarantee-Type"] = outcome.guarantee_type.value
    if outcome.replaces:
        _set(msg, "X-Surety-Replaces", outcome.replaces)
    return msg


def _set(msg: EmailMessage, name: str, value: str) -> None:
    """A header holding the sender's text: on one line, controls and invisible characters
    escaped (a line break in a 工事名 must not make the header, or the mail, fail)."""
    msg[name] = display.for_staff(value)


def to_header(addresses: tuple[str, ...] | list[str]) -> list[Address | Group]:
    """To: each address as it is; one that cannot stand in an ASCII header (a non-ASCII
    local part, a control) is shown as the name of an empty group ("山田@例え.jp":;), so
    the header, and the daemon's copy through a server without SMTPUTF8, stay valid. The
    envelope, not this header, says where the mail goes."""
    out: list[Address | Group] = []
    for address in addresses:
        wire = display.mailbox(address)
        if wire is not None and wire.isascii():
            try:
                out.append(Address(addr_spec=wire))
                continue
            except (ValueError, IndexError, HeaderParseError):
                pass  # not one RFC 5322 address: shown as a name below
        out.append(Group(display.for_staff(address, escape_breaks=True), ()))
    return out


def received_label(mail: Mail) -> str:
    """Arrival time as staff and contractors read it: 2026年4月1日 10時05分."""
    when = mail.received_at.astimezone(JST)
    return f"{when.year}年{when.month}月{when.day}日 {when.hour}時{when.minute:02d}分"


def _sender_label(mail: Mail) -> str:
    name = display.for_staff(mail.from_name)
    addr = display.for_staff(mail.from_addr, escape_breaks=True)
    if name:
        return f"{name} <{addr}>"
    return addr or "（不明）"


def _to_staff(outcome: Outcome, decision: Decision, mail: Mail, settings: Settings,
              now: datetime, action: str, redecision: Redecision | None = None) -> Outgoing:
    review = outcome.verdict is Verdict.REVIEW
    guarantee = GUARANTEE_LABELS[outcome.guarantee_type] if outcome.guarantee_type else None
    original = display.for_staff(mail.subject)
    title = display.for_staff(outcome.fields.project_name) or original or "（件名なし）"
    if review:
        subject = f"【電子保証 要確認】{original or '（件名なし）'}"
    else:
        subject = f"【電子保証 受付】{guarantee or ''} {title}".strip()
        if outcome.fields.contractor_name:
            subject += f"（{display.for_staff(outcome.fields.contractor_name)}）"
    subject = display.masked(subject, secrets_of(mail, decision))
    fields = []
    for name, label in FIELD_LABELS:
        value = getattr(outcome.fields, name)
        href = None
        if value and name == "view_url":
            href = view_link(value, settings)
            value = shown_url(value)  # as parsed: the host staff would really reach
        if value:
            fields.append(Row(label, display.for_staff(str(value)), href))
    parts = staff_parts(
        "to_staff.j2",
        title="電子保証 要確認" if review else "電子保証 受付",
        verdict=outcome.verdict.value,
        redecided=redecision.line(outcome.route_to) if redecision else None,
        kind_label=KIND_LABELS[outcome.kind],
        guarantee_label=guarantee or "（判別できず）",
        verdict_label=VERDICT_LABELS[outcome.verdict],
        problems=[_problem(c, settings, outcome) for c in outcome.problems],
        fields=fields,
        sender=_sender_label(mail),
        subject=original,
        received=received_label(mail),
        message_id=display.for_staff(mail.message_id),
        attachments=[
            {"name": display.for_staff(a.filename, escape_breaks=True),
             "status": STATUS_LABELS[a.status]} for a in mail.attachments
        ],
        next_step=None if review else NEXT_STEPS.get(outcome.kind),
        replaces=display.for_staff(outcome.replaces),
        source=display.for_staff(outcome.source, escape_breaks=True),
    )
    msg = _base(outcome, decision, settings, now, action=action, subject=subject)
    _set_staff_body(msg, parts)
    return Outgoing(action, outcome.route_to, msg, originals=(mail.raw, *mail.companions))


def japanese_date(day: date) -> str:
    """A date as written in letters to contractors: 2026年3月31日."""
    return f"{day.year}年{day.month}月{day.day}日"


def _problem(code: str, settings: Settings, outcome: Outcome) -> catalogue.Problem:
    """The catalogue entry with the office's settings and the submission's values filled
    in (an unknown code raises: see daemon.problems.get)."""
    known = catalogue.get(code)
    values = _text_values(settings, outcome)
    insurer = outcome.fields.insurer
    staff = _Values(values, insurer=display.for_staff(insurer) or "（不明）")
    contractor = _Values(values, insurer=display.for_contractor(insurer) or "（不明）")
    return replace(
        known,
        to_staff=known.to_staff.format_map(staff),
        to_contractor=known.to_contractor.format_map(contractor),
    )


class _Values(dict[str, str]):
    """format_map values; a name without a value is left as written."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


ROUTE_LABELS = {
    Kind.DSURE_KEY: "保証事業会社の電子保証（認証キー等のお知らせ）",
    Kind.CONFIRMATION_SYSTEM: "保証証券等確認システム",
    Kind.LEGACY_PDF: "保険会社のPDF発行証券のメール送付",
    Kind.OTHER: "この方法",
}


def _instead(kind: Kind, accept: list[str]) -> str:
    """What a contractor should do instead of a route the office does not take."""
    insurer_route = kind in (Kind.CONFIRMATION_SYSTEM, Kind.LEGACY_PDF)
    if insurer_route and Kind.CONFIRMATION_SYSTEM.value in accept:
        return ("保険会社に保証証券等確認システムへの登録を依頼し、同システムの閲覧用URLと"
                "「発注者提出用フォーマット」（閲覧用パスワード記載のもの）をお送りください。")
    if insurer_route:
        return ("当課で電子的にお受けしているのは、保証事業会社（東日本・西日本・北海道の"
                "建設業保証会社）の電子保証のみです。保険会社の証券は書面（紙）でご提出ください。")
    return "保証証書は書面（紙）でご提出ください。"


def _text_values(settings: Settings, outcome: Outcome) -> dict[str, str]:
    policy = settings.policy
    values = {
        "system_domains": "、".join(policy.confirmation_system_domains),
        "wait_hours": f"{policy.password_wait_hours:g}",
        "route": ROUTE_LABELS[outcome.kind],
        "instead": _instead(outcome.kind, list(policy.accept)),
    }
    if policy.legacy_pdf_until:
        values["legacy_pdf_until"] = japanese_date(policy.legacy_pdf_until)
    if policy.electronic_start:
        values["electronic_start"] = japanese_date(policy.electronic_start)
    if outcome.fields.first_contract_date:
        values["first_contract_date"] = japanese_date(outcome.fields.first_contract_date)
    return values


def _correction(outcome: Outcome, decision: Decision, mail: Mail, settings: Settings,
                now: datetime, action: str) -> Outgoing:
    name = display.plain_name(mail.from_name)
    addressee = f"{name} 様" if name else "ご担当者 様"
    quoted = display.masked(display.for_contractor(mail.subject),
                            secrets_of(mail, decision))
    original = quoted or "（件名なし）"
    body = TEXT_TEMPLATES.get_template("correction.txt.j2").render(
        addressee=addressee,
        office_name=settings.office.name,
        office_contact=settings.office.contact,
        received=received_label(mail),
        subject=quoted,
        problems=[_problem(c, settings, outcome) for c in outcome.problems
                  if catalogue.get(c).to_contractor],
        intake_address=intake_address(settings),
    )
    subject = f"【電子保証 再提出のお願い】Re: {original}"
    msg = _base(outcome, decision, settings, now, action=action, subject=subject)
    _answer(msg, mail, settings)
    msg.set_content(body)
    return Outgoing(action, outcome.route_to, msg)


def _answer(msg: EmailMessage, mail: Mail, settings: Settings) -> None:
    """The headers of a mail answering the contractor's: marked auto-replied (their
    auto-responder must not answer it), threaded to their message, replies to the
    contract mailbox."""
    msg["Auto-Submitted"] = "auto-replied"
    msg["X-Auto-Response-Suppress"] = "All"
    _set(msg, "In-Reply-To", mail.message_id)
    references = display.for_staff(mail.header("References")).split()
    _set(msg, "References", " ".join([*references[-10:], mail.message_id]))
    msg["Reply-To"] = intake_address(settings)


RECEIPT_ROUTES = {
    Kind.DSURE_KEY: "保証事業会社の電子保証（D-Sure 認証キー等のお知らせ）",
    Kind.CONFIRMATION_SYSTEM: "保証証券等確認システム（閲覧用URL・発注者提出用フォーマット）",
    Kind.LEGACY_PDF: "保険会社のPDF発行証券（メール提出）",
    Kind.OTHER: "電子保証",
}
RECEIPT_FIELDS = (
    ("project_name", "工事名"),
    ("contract_number", "保証契約番号"),
    ("policy_number", "証券番号"),
)


def _receipt(decision: Decision, mail: Mail, settings: Settings, now: datetime,
             to: str) -> Outgoing:
    """The receipt (受領確認) of a routed message, to the contractor: what was received
    (each submission's route, guarantee, 工事名 and numbers), that staff will check it and
    no reply is needed. Never a 認証キー, password or URL: only the fields above are
    shown, each as a reply quotes the sender's text, and masked besides."""
    secrets = secrets_of(mail, decision)
    name = display.plain_name(mail.from_name)
    quoted = display.masked(display.for_contractor(mail.subject), secrets)
    submissions = []
    for outcome in decision.outcomes:
        if not outcome.acknowledged:
            continue
        guarantee = outcome.guarantee_type
        values = [(label, display.masked(display.for_contractor(getattr(outcome.fields, n)),
                                         secrets))
                  for n, label in RECEIPT_FIELDS]
        submissions.append({
            "route": RECEIPT_ROUTES[outcome.kind],
            "guarantee": GUARANTEE_LABELS[guarantee] if guarantee else None,
            "fields": [(label, value) for label, value in values if value],
        })
    body = TEXT_TEMPLATES.get_template("receipt.txt.j2").render(
        addressee=f"{name} 様" if name else "ご担当者 様",
        office_name=settings.office.name,
        office_contact=settings.office.contact,
        received=received_label(mail),
        subject=quoted,
        submissions=submissions,
    )
    first = decision.outcomes[0]
    subject = f"【電子保証 受領確認】Re: {quoted or '（件名なし）'}"
    shown = replace(first, route_to=(to,), problems=(), replaces=None)  # nothing for staff
    msg = _base(shown, decision, settings, now, action=Action.RECEIPT, subject=subject)
    _answer(msg, mail, settings)
    msg.set_content(body)
    return Outgoing(Action.RECEIPT, (to,), msg)


def intake_address(settings: Settings) -> str:
    """The contract mailbox's own address, where contractors send (again)."""
    return settings.office.intake_address or settings.imap.username


def copy_address(settings: Settings) -> str:
    """Where the daemon's own copy of every mail goes (see smtp.copy_to)."""
    return settings.smtp.copy_to or intake_address(settings)


def _notice(settings: Settings, now: datetime, *, sources: list[str], action: str,
            subject: str, headline: str, lines: list[str], about: NoticeSubject,
            original: bytes | None, problems: tuple[Code, ...]) -> Outgoing:
    """A mail to the review address about something the daemon could not do."""
    parts = staff_parts(
        "notice.j2", title="電子保証受付システムからのお知らせ",
        headline=display.for_staff(headline), lines=[display.for_staff(s) for s in lines],
        sender=display.for_staff(about.sender), subject=display.for_staff(about.subject),
        received=about.received, message_id=display.for_staff(about.message_id),
        attached=original is not None, verdicts=[], items=[],
    )
    msg = EmailMessage()
    msg["From"] = Address(settings.smtp.sender_name, addr_spec=settings.smtp.sender)
    msg["To"] = to_header(settings.routing.review)
    _set(msg, "Subject", subject)
    msg["Date"] = format_datetime(now.astimezone(JST))
    msg["Message-ID"] = outgoing_id(sources, action, settings.smtp.sender)
    msg["X-Surety-Kind"] = Kind.OTHER.value
    msg["X-Surety-Verdict"] = Verdict.REVIEW.value
    msg["X-Surety-Problems"] = ",".join(problems)
    _set(msg, "X-Surety-Source", " ".join(sources))
    _set_staff_body(msg, parts)
    originals = (original,) if original is not None else ()
    return Outgoing(action, tuple(settings.routing.review), msg, originals=originals)


@dataclass(frozen=True)
class NoticeSubject:
    """The message a notice is about, as staff identify it."""

    sender: str
    subject: str
    received: str
    message_id: str


def about(mail: Mail) -> NoticeSubject:
    """A read message as the subject of a notice (a key or password typed beside its label
    in the subject masked: a notice's Subject must not carry one either)."""
    return NoticeSubject(_sender_label(mail), display.masked(display.for_staff(mail.subject)),
                         received_label(mail), mail.message_id)


def undeliverable_notice(decision: Decision, mail: Mail, settings: Settings, now: datetime, *,
                         failed_action: str, recipients: list[str], error: str) -> Outgoing:
    """Staff are told that a mail the daemon had to send was refused for good (5xx)."""
    kind = {Action.REPLY: "差出人への修正依頼", Action.RECEIPT: "差出人への受領確認",
            Action.REDECIDED: "職員への再判定のお知らせ"}.get(
        action_of(failed_action), "担当課への回付メール")
    subject_of = about(mail)
    original = display.masked(subject_of.subject, secrets_of(mail, decision))
    return _notice(
        settings, now, sources=list(decision.sources),
        action=f"{Action.UNDELIVERABLE}-{failed_action}",
        subject=f"【電子保証 要確認】送信できませんでした: {original or '（件名なし）'}",
        headline=f"下記のメールについて、{kind}（宛先: {', '.join(recipients)}）を"
                 "メールサーバーが受け付けなかったため、送信できませんでした。",
        lines=[f"メールサーバーの応答: {error}",
               "宛先のアドレスをご確認のうえ、必要に応じて職員から連絡してください。"],
        about=subject_of, original=mail.raw, problems=(Code.UNDELIVERABLE,),
    )


def quarantine_notice(raw: bytes, subject_of: NoticeSubject, settings: Settings,
                      now: datetime, *, error: str, attempts: int) -> Outgoing:
    """Staff are told, once, that a message was set aside after failing repeatedly."""
    folder = settings.imap.folders.quarantine
    return _notice(
        settings, now, sources=[subject_of.message_id], action=Action.QUARANTINE,
        subject=f"【電子保証 処理エラー】{subject_of.subject or '（件名なし）'}",
        headline=f"下記のメールは、自動処理が{attempts}回続けて失敗したため、"
                 f"受付用メールボックスの「{folder}」フォルダに移しました。",
        lines=["内容をご確認のうえ、手作業で処理してください。",
               f"エラーの内容（運用担当者向け）: {error or '処理中に停止しました'}",
               f"システムの更新後に再処理する場合は、このメールを「{folder}」から"
               f"「{settings.imap.folder}」に戻してください。"],
        about=subject_of, original=raw, problems=(Code.QUARANTINED,),
    )


def redecided_notice(decision: Decision, mail: Mail, settings: Settings, now: datetime, *,
                     earlier_verdict: str, earlier_id: str, recipients: tuple[str, ...],
                     sent: list[Outgoing], action: str, message_id: str) -> Outgoing:
    """Staff who were sent ``earlier_id`` are told that a replay changed the verdict (or,
    the verdict the same, where its mail goes): the earlier verdict and the new one, the
    new one's problems (a correction, a review), that the earlier mail is void and what
    was done instead (``sent``: the replay's mails). Threaded under the earlier mail;
    nothing attached, no secret shown."""
    secrets = secrets_of(mail, decision)
    subject_of = about(mail)
    shown_subject = display.masked(subject_of.subject, secrets)
    old, new = verdict_short(earlier_verdict), verdict_short(decision.verdict.value)
    known = Verdict(earlier_verdict) if earlier_verdict in tuple(Verdict) else None
    items: list[str] = []
    if decision.verdict in (Verdict.CORRECTION, Verdict.REVIEW):
        for outcome in decision.outcomes:
            for code in outcome.problems:
                problem = _problem(code, settings, outcome)
                items.append(f"{problem.to_staff}（{problem.code}）")
    void = f"先にお送りしたメール（Message-ID: {earlier_id}）は無効です。"
    if known is Verdict.ROUTED:
        void += "この提出について手続きを進めないでください。"
    elif known is Verdict.REVIEW:
        void += "このメールについての確認は不要です。"
    lines = [void]
    to_staff = list(dict.fromkeys(a for out in sent if action_of(out.action) is Action.FORWARD
                                  for a in out.recipients))
    if any(action_of(out.action) is Action.REPLY for out in sent):
        lines.append("差出人には、修正のうえ再提出いただくよう、修正依頼を返信しました。")
    if to_staff:
        lines.append(f"新しい判定のメールは {', '.join(to_staff)} にお送りしました。")
    if decision.verdict is Verdict.IGNORED:
        lines.append("電子保証の提出ではないと判定したため、差出人への返信は行っていません。")
    changed = (f"判定が「{old}」から「{new}」に変わりました。" if earlier_verdict !=
               decision.verdict.value else f"判定は「{new}」のままですが、送り先が変わりました。")
    parts = staff_parts(
        "notice.j2", title="電子保証 再判定のお知らせ",
        headline=f"下記のメールを、設定の変更後に再判定しました。{changed}",
        lines=[display.masked(display.for_staff(s), secrets) for s in lines],
        verdicts=[("先の判定", VERDICT_LABELS.get(known, old) if known else old),
                  ("新しい判定", VERDICT_LABELS.get(decision.verdict, new))],
        items=[display.masked(s, secrets) for s in items],
        sender=display.masked(display.for_staff(subject_of.sender), secrets),
        subject=shown_subject, received=subject_of.received,
        message_id=display.for_staff(subject_of.message_id), attached=False,
    )
    msg = EmailMessage()
    msg["From"] = Address(settings.smtp.sender_name, addr_spec=settings.smtp.sender)
    msg["To"] = to_header(recipients)
    _set(msg, "Subject", f"【電子保証 再判定】{shown_subject or '（件名なし）'}")
    msg["Date"] = format_datetime(now.astimezone(JST))
    msg["Message-ID"] = message_id
    _set(msg, "In-Reply-To", earlier_id)
    _set(msg, "References", earlier_id)
    msg["X-Surety-Kind"] = decision.kind.value
    msg["X-Surety-Verdict"] = decision.verdict.value
    msg["X-Surety-Problems"] = ",".join(decision.problems)
    _set(msg, "X-Surety-Source", " ".join(decision.sources))
    _set(msg, "X-Surety-Replaces", earlier_id)
    _set_staff_body(msg, parts)
    return Outgoing(action, recipients, msg)


CHECK_SUBJECT = "【電子保証 受付】接続確認（テスト送信）"
CHECK_ACTION = "check"


def check_mail(settings: Settings, now: datetime, token: str) -> Outgoing:
    """The test mail of ``check --send-test``: from smtp.sender to routing.review, saying
    who sent it, from where and why, and nothing secret; its Message-ID made from
    ``token`` (one per run)."""
    server = f"{settings.smtp.host}:{settings.smtp.port}"
    body = TEXT_TEMPLATES.get_template("check.txt.j2").render(
        sent=now.astimezone(JST).strftime("%Y年%m月%d日 %H:%M:%S"),
        sender=settings.smtp.sender, server=server,
        recipients=", ".join(settings.routing.review), office=settings.office.name,
    )
    msg = EmailMessage()
    msg["From"] = Address(settings.smtp.sender_name, addr_spec=settings.smtp.sender)
    msg["To"] = to_header(settings.routing.review)
    msg["Subject"] = CHECK_SUBJECT
    msg["Date"] = format_datetime(now.astimezone(JST))
    msg["Message-ID"] = outgoing_id([token], CHECK_ACTION, settings.smtp.sender)
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Surety-Check"] = "send-test"
    msg.set_content(body)
    return Outgoing(CHECK_ACTION, tuple(settings.routing.review), msg)


TRIAL_PREFIX = "【試行】"
_TRIAL_DROPPED = {"subject", "to", "cc", "bcc"}


def trial_copy(wire: bytes, recipients: tuple[str, ...], address: str) -> bytes:
    """A mail as trial mode sends it, to ``address`` instead of ``recipients``: its
    Subject prefixed 【試行】, To the trial address, no Cc, the would-be recipients named in
    X-Surety-Trial-Recipients; every other header and the body byte for byte as live mode
    would send them."""
    head, separator, body = wire.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    kept: list[bytes] = []
    dropping = False
    for line in lines:
        if line[:1] in (b" ", b"\t"):  # a folded header's next line goes with it
            if not dropping:
                kept.append(line)
            continue
        name = line.partition(b":")[0].strip().decode("ascii", "replace").lower()
        dropping = name in _TRIAL_DROPPED
        if not dropping:
            kept.append(line)
    original = message_from_bytes(head + b"\r\n\r\n", policy=SMTP)
    subject = str(original.get("Subject", ""))
    fresh = EmailMessage(policy=SMTP.clone(max_line_length=998))  # the list on one line
    fresh["Subject"] = f"{TRIAL_PREFIX}{subject}"
    fresh["To"] = address
    fresh["X-Surety-Trial-Recipients"] = ", ".join(recipients)
    new_head = bytes(fresh).partition(b"\r\n\r\n")[0]
    return b"\r\n".join([new_head, *kept]) + (separator or b"\r\n\r\n") + body
