"""What a message holds: its submissions, each with a kind, a guarantee type and fields.

Pure: a :class:`~daemon.model.Mail` and the settings in, a
:class:`~daemon.model.Classification` out. Each attached document is recognised on its
own (a key notice, a printed e-certificate, a reservation, a bank's guarantee, the
insurer's form, a policy, an invoice), values typed into the mail are read block by
block, and a message with several guarantees gives several submissions. A document's own
text is trusted over the mail's words.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import date

from daemon import extract
from daemon.config import Insurer, Settings
from daemon.documents import office_format
from daemon.japanese import normalize, parse_date
from daemon.model import (
    Attachment,
    Classification,
    DocumentStatus,
    Fields,
    GuaranteeType,
    Kind,
    Mail,
    Submission,
)
from daemon.problems import Code

GUARANTEE_COMPANIES = (
    ("東日本建設業保証株式会社", ("東日本建設業保証", "東日本保証")),
    ("西日本建設業保証株式会社", ("西日本建設業保証", "西日本保証")),
    ("北海道建設業信用保証株式会社", ("北海道建設業信用保証",)),
)

_CONFIRMATION_SIGNS = (
    "閲覧用URL", "閲覧用パスワード", "発注者提出用フォーマット", "保証証券等確認システム",
)
_POLICY_SIGNS = ("履行保証保険", "公共工事履行保証証券", "保険証券", "証券番号", "保証証券")
_INTERIM = re.compile(r"中間前払")
_ADVANCE = re.compile(r"前払金?保証|前払金|前払")
_CONTRACT = re.compile(r"契約保証|履行保証|契約の保証")
_INVOICE = re.compile(r"請\s*求\s*書")
_RESERVATION = re.compile(r"契約保証予約|保証予約|予約証書|予約番号")
_BANK = re.compile(r"銀行|信用金庫|信用組合|労働金庫|農業協同組合")
_CERTIFICATE = re.compile(r"電子証書|保証証書")
_INSURER_NAME = re.compile(
    r"([^\s、。:()「」]{1,20}?(?:損害保険|火災海上保険|海上火災保険|火災保険)株式会社)"
)
_FIRST_CONTRACT = ("当初契約日", "当初契約締結日", "契約締結日", "契約日")
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".tif", ".tiff", ".bmp", ".heic")


class Document(enum.StrEnum):
    """What one attached document is, from its own text."""

    INVOICE = "invoice"  # 請求書
    RESERVATION = "reservation"  # 契約保証予約: not an electronic guarantee
    KEY_NOTICE = "key-notice"  # D-Sure 認証キー等のお知らせ
    BANK = "bank"  # a bank's guarantee: not an electronic guarantee
    CERTIFICATE = "certificate"  # the e-certificate printed, instead of the key notice
    FORM = "form"  # the insurer's 発注者提出用フォーマット
    POLICY = "policy"  # an insurer's policy (保険証券)


def mail_text(mail: Mail) -> str:
    """Subject and body, normalised."""
    return normalize(f"{mail.subject}\n\n{mail.body}")  # a subject's label takes no body line


def document_kind(text: str, filename: str) -> Document | None:
    """What one attached document is, from its own text (and name, for invoices)."""
    # The document's title and first lines, without its printed notes (a leaflet's
    # "※契約保証予約は対象外" does not make it a reservation).
    head = re.sub(r"※[^\n]*", "", text[:400])
    if _INVOICE.search(head) or "請求書" in normalize(filename):
        return Document.INVOICE
    if _RESERVATION.search(head):
        return Document.RESERVATION
    if extract.auth_key(text) and extract.contract_number(text):
        return Document.KEY_NOTICE
    if _BANK.search(text) and "保証書" in text.replace(" ", "") and not _is_policy(text):
        return Document.BANK
    if _CERTIFICATE.search(head) and extract.contract_number(text) and "認証キー" not in text:
        return Document.CERTIFICATE
    if any(s in text for s in _CONFIRMATION_SIGNS[:3]):
        return Document.FORM
    if any(s in text for s in _POLICY_SIGNS):
        return Document.POLICY
    return None


def _is_policy(text: str) -> bool:
    return any(s in text for s in ("保険証券", "履行保証保険", "公共工事履行保証証券"))


def classify(mail: Mail, settings: Settings) -> Classification:
    """Find every submission in one message."""
    own = mail_text(mail)
    subject = normalize(mail.subject)
    readable = [a for a in mail.attachments if a.status is DocumentStatus.TEXT]
    submissions: list[Submission] = []
    # A file named 請求書 counts when it has content that could be read (text, a scan, a
    # photo): an empty or broken file is no invoice.
    has_invoice = any("請求書" in normalize(a.filename) and a.data.strip()
                      and a.status not in (DocumentStatus.UNREADABLE, DocumentStatus.ENCRYPTED)
                      for a in mail.attachments)
    for att in readable:
        kind = document_kind(att.text, att.filename)
        if kind is Document.INVOICE:
            has_invoice = True
            continue
        if kind is None:
            continue
        submissions.append(_from_document(kind, att, own, subject, mail, settings))
    submissions = _add_typed(submissions, own, subject, mail, settings)
    if not submissions:
        submissions = [_from_mail(mail, own, subject, settings)]
    password_given = bool(mail.passwords)
    encrypted = any(a.status is DocumentStatus.ENCRYPTED for a in mail.attachments)
    return Classification(
        submissions=tuple(submissions),
        unreadable=unreadable_problems(mail, password_given=password_given),
        sealed=encrypted and not password_given,
        has_invoice=has_invoice,
        password_given=password_given,
    )


def unreadable_problems(mail: Mail, *, password_given: bool = False) -> tuple[Code, ...]:
    """Problem codes for attachments that could not be read: an encrypted one that the
    password given does not open is ``attachment-password-wrong``."""
    codes: list[Code] = []
    for att in mail.attachments:
        if att.status is DocumentStatus.ENCRYPTED and password_given:
            codes.append(Code.ATTACHMENT_PASSWORD_WRONG)
        elif att.status in (DocumentStatus.ENCRYPTED, DocumentStatus.UNREADABLE):
            codes.append(Code.ATTACHMENT_UNREADABLE)
        elif att.status is DocumentStatus.NO_TEXT:
            codes.append(Code.TEXT_UNREADABLE)
        elif att.status is DocumentStatus.TOO_LARGE:
            codes.append(Code.TOO_LARGE)
    return tuple(dict.fromkeys(codes))


# A line holding one token and nothing else: maybe a password sent without its label.
# No colon, dot, slash or @ (a "TEL:..." line, a host, a URL, an address is not one).
_LONE_TOKEN = re.compile(r"^[ \t]*[「『\"]?([A-Za-z0-9!#$%&*+\-_=?^~]{4,32})[」』\"]?[ \t]*$", re.M)
_PHONE = re.compile(r"[0-9]+(?:-[0-9]+){2,}")
MAX_PASSWORD_CANDIDATES = 8


def password_candidates(mail: Mail) -> list[str]:
    """The values that may be a password for an attached document: those given beside
    a label (in the subject or the body), then tokens alone on a line of the body. Only trying them
    proves which (if any) is one; at most MAX_PASSWORD_CANDIDATES."""
    found = [*mail.passwords,
             *extract.document_passwords(normalize(f"{mail.subject}\n\n{mail.body}"))]
    for m in _LONE_TOKEN.finditer(normalize(mail.body)):
        token = m.group(1)
        if not _PHONE.fullmatch(token) and token.strip("-_=*#~^+") and re.search(
                r"[A-Za-z0-9]", token):
            found.append(token)
    return list(dict.fromkeys(found))[:MAX_PASSWORD_CANDIDATES]


# A key-notice-like document that may not be sent instead of the key notice.
_NOT_ELIGIBLE = {
    Document.CERTIFICATE: Code.CERTIFICATE_NOT_KEY_NOTICE,
    Document.RESERVATION: Code.RESERVATION_NOT_ELIGIBLE,
}


def _from_document(kind: Document, att: Attachment, own: str, subject: str, mail: Mail,
                   settings: Settings) -> Submission:
    doc = att.text
    if kind in (Document.KEY_NOTICE, Document.CERTIFICATE, Document.RESERVATION):
        fields = _fields(doc, own, mail, settings)
        wrong = _NOT_ELIGIBLE.get(kind)
        gtype = GuaranteeType.CONTRACT if kind is Document.RESERVATION else _guarantee_type(
            doc, subject, own)
        return Submission(Kind.DSURE_KEY, gtype, fields, att.filename, wrong)
    if kind is Document.BANK:
        fields = _fields(doc, own, mail, settings)
        return Submission(Kind.OTHER, GuaranteeType.CONTRACT, fields, att.filename,
                          Code.BANK_GUARANTEE_NOT_ELIGIBLE)
    if kind is Document.FORM:
        fields = _fields(doc, own, mail, settings, fill_numbers=True)
        return Submission(Kind.CONFIRMATION_SYSTEM, GuaranteeType.CONTRACT, fields, att.filename)
    fields = _fields(doc, own, mail, settings)
    fields = replace(fields, issued_on=extract.issued_on(doc))
    wrong = None if att.is_pdf else Code.NOT_PDF
    return Submission(Kind.LEGACY_PDF, GuaranteeType.CONTRACT, fields, att.filename, wrong)


def _add_typed(found: list[Submission], own: str, subject: str, mail: Mail,
               settings: Settings) -> list[Submission]:
    """Key values typed into the mail: merged into the notice with the same number, or
    one submission per 保証契約番号 block."""
    if "認証キー" not in own and "保証契約番号" not in own and "保証番号" not in own:
        return found
    out = list(found)
    orphan_keys: list[str] = []  # keys typed in a block with no number of its own
    # One more block than may be decided is enough to know there are too many (and
    # keeps the work linear in the mail's size).
    for block in _blocks(own)[: settings.limits.max_submissions + 1]:
        number = extract.contract_number(block)
        if number is None:
            key = extract.auth_key(block)
            if key:
                orphan_keys.append(key)
            continue
        same = next((i for i, s in enumerate(out)
                     if s.kind is Kind.DSURE_KEY and s.fields.contract_number == number), None)
        if same is not None:
            sub = out[same]
            if sub.fields.auth_key is None and sub.wrong_document is None:
                key = extract.auth_key(block)
                out[same] = replace(sub, fields=replace(sub.fields, auth_key=key))
            continue
        if any(s.kind is Kind.DSURE_KEY for s in found) and extract.auth_key(block) is None:
            continue  # a number quoted in the mail about an attached notice
        fields = _fields(block, own, mail, settings)
        gtype = _guarantee_type(_own_part(block), block, subject, own)
        out.append(Submission(Kind.DSURE_KEY, gtype, fields))
    keyless = [i for i, s in enumerate(out) if s.kind is Kind.DSURE_KEY and not s.source
               and s.fields.auth_key is None]
    if len(keyless) == 1 and len(orphan_keys) == 1:
        # The key typed apart from its number (before it, or in a mail of its own sent
        # with the number's): one number, one key.
        sub = out[keyless[0]]
        out[keyless[0]] = replace(sub, fields=replace(sub.fields, auth_key=orphan_keys[0]))
    return out


_TYPE_HEADING = re.compile(r"(?:^|\n)([^\n:：]{0,30}(?:契約保証|前払|履行保証)[^\n:：]{0,20}\n)$")


def _blocks(text: str) -> list[str]:
    """The text cut before each 保証契約番号 label (one block per typed guarantee); a short
    heading line just above a label that names the guarantee ("2. 前払金保証") goes with
    the block it heads."""
    starts = [m.start() for m in re.finditer(
        r"(?<![\u3400-\u9fff])(?:保証契約番号|保証証書番号|保証番号)", text)]
    cuts = [0]
    for start in starts[1:]:
        heading = _TYPE_HEADING.search(text, max(cuts[-1], start - 60), start)
        cuts.append(heading.start(1) if heading else start)
    cuts.append(len(text))
    # The first block keeps what precedes the first label (the greeting, the type).
    return [text[cuts[i]:cuts[i + 1]] for i in range(len(cuts) - 1)]


def _own_part(block: str) -> str:
    """A block from its heading (or its label) on: what says this guarantee's type before
    a greeting that names several."""
    first = re.search(r"(?<![\u3400-\u9fff])(?:保証契約番号|保証証書番号|保証番号)", block)
    if first is None:
        return block
    heading = _TYPE_HEADING.search(block, max(0, first.start() - 60), first.start())
    return block[heading.start(1) if heading else first.start():]


def _from_mail(mail: Mail, own: str, subject: str, settings: Settings) -> Submission:
    """No document recognised: the mail's own text says what it is, if anything.

    Values typed beside their labels make it a submission (a 保証契約番号 or 認証キー, a
    閲覧用URL or 閲覧用パスワード), and so does naming the route beside an attachment that
    could not be read (it may be the document named). A mail that merely names them (a
    question, a notice that the papers went by post) is not one, and is never answered
    with a correction.
    """
    kind = Kind.OTHER
    unread = any(a.status is not DocumentStatus.TEXT for a in mail.attachments)
    if extract.contract_number(own) or extract.auth_key(own) or (unread and "認証キー" in own):
        kind = Kind.DSURE_KEY
    elif extract.view_password(own) or extract.view_url(
        own, settings.policy.confirmation_system_domains
    ) or (unread and any(s in own for s in _CONFIRMATION_SIGNS)):
        kind = Kind.CONFIRMATION_SYSTEM
    elif _policy_mail(mail, own):
        kind = Kind.LEGACY_PDF
    fields = _fields(own, own, mail, settings)  # the mail is its own document
    wrong = None
    if kind is Kind.LEGACY_PDF:
        unpdf = [a for a in mail.attachments if _is_image_or_office(a)]
        if unpdf and not any(a.is_pdf for a in mail.attachments):
            wrong = Code.NOT_PDF
    gtype = None
    if kind is not Kind.OTHER:
        gtype = (GuaranteeType.CONTRACT if kind is not Kind.DSURE_KEY
                 else _guarantee_type(subject, own))
    return Submission(kind, gtype, fields, "", wrong)


def _policy_mail(mail: Mail, own: str) -> bool:
    """A mail that says it sends a policy, with an attachment we could not read as one."""
    says = any(s in own for s in (*_POLICY_SIGNS, "証券"))
    unread = [a for a in mail.attachments
              if a.status is not DocumentStatus.TEXT or _is_image_or_office(a)]
    return says and bool(unread)


def _is_image_or_office(att: Attachment) -> bool:
    image = att.content_type.startswith("image/") or att.filename.lower().endswith(
        _IMAGE_SUFFIXES)
    return image or office_format(att.filename) is not None


def _guarantee_type(*texts: str) -> GuaranteeType | None:
    """The type the first of ``texts`` to name one says (the document, the subject, the
    mail)."""
    for text in texts:
        if _INTERIM.search(text):
            return GuaranteeType.INTERIM_ADVANCE_PAYMENT
        if _ADVANCE.search(text):
            return GuaranteeType.ADVANCE_PAYMENT
        if _CONTRACT.search(text):
            return GuaranteeType.CONTRACT
    return None


def _fields(doc: str, own: str, mail: Mail, settings: Settings, *,
            fill_numbers: bool = False) -> Fields:
    """Fields from the document, names and works filled from the mail where missing.

    The 保証契約番号 and 認証キー come from the document alone; the URL, the password and the
    証券番号 come from the mail only with ``fill_numbers`` (a form whose URL or password is
    typed in the mail), so one submission never takes another's.
    """
    hosts = settings.policy.confirmation_system_domains

    def pick(getter: Callable[[str], str | None], *, fill: bool) -> str | None:
        value = getter(doc)
        if value is None and fill:
            value = getter(own)
        return value

    insurer = find_insurer(mail, doc, own, settings.insurers)
    return Fields(
        contract_number=extract.contract_number(doc),
        auth_key=extract.auth_key(doc),
        view_url=pick(lambda t: extract.view_url(t, hosts), fill=fill_numbers),
        view_password=pick(extract.view_password, fill=fill_numbers),
        project_name=pick(extract.project_name, fill=True),
        project_number=pick(extract.project_number, fill=True),
        contractor_name=pick(extract.contractor_name, fill=True),
        policy_number=pick(extract.policy_number, fill=fill_numbers),
        insurer=insurer,
        guarantor=_guarantor(f"{doc}\n{own}"),
        first_contract_date=_first_contract_date(doc) or _first_contract_date(own),
    )


def _first_contract_date(text: str) -> date | None:
    for label in _FIRST_CONTRACT:
        m = re.search(rf"(?<![\u3400-\u9fff]){label}[ \t]*\n?[:：]?[ \t]*\n?([^\n]{{4,30}})", text)
        if m:
            when = parse_date(m.group(1))
            if when:
                return when
    return None


def find_insurer(mail: Mail, doc: str, own: str, insurers: list[Insurer]) -> str | None:
    """The insurer named in the document, else the mail, else known by the sender's domain.

    A configured insurer is given by its configured name; an insurer the office has not
    configured by the name as written (so the checks can say it is not supported).
    """
    for haystack in (doc, own):
        for insurer in insurers:
            if any(normalize(name) in haystack for name in insurer.names()):
                return insurer.name
        named = _INSURER_NAME.search(haystack)
        if named and not _BANK.search(named.group(1)):
            return named.group(1)
    domain = mail.from_addr.rpartition("@")[2]
    for insurer in insurers:
        if domain and extract.host_in(domain, insurer.domains):
            return insurer.name
    return None


def configured_insurer(name: str | None, insurers: list[Insurer]) -> Insurer | None:
    """The configured insurer of that name."""
    return next((i for i in insurers if i.name == name), None)


def _guarantor(text: str) -> str | None:
    for name, short in GUARANTEE_COMPANIES:
        if any(s in text for s in short):
            return name
    return None
