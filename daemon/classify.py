"""Which route a message took (its kind), which guarantee it is, and its fields.

Pure: a :class:`~daemon.model.Mail` and the settings in, a
:class:`~daemon.model.Classification` out. The documents' text is trusted over the mail's
own words (a key notice says which guarantee it is; a body may mention several).
"""

from __future__ import annotations

import re

from daemon import extract
from daemon.config import Insurer, Settings
from daemon.japanese import normalize
from daemon.model import (
    Classification,
    DocumentStatus,
    Fields,
    GuaranteeType,
    Kind,
    Mail,
)

GUARANTEE_COMPANIES = (
    ("東日本建設業保証株式会社", ("東日本建設業保証", "東日本保証")),
    ("西日本建設業保証株式会社", ("西日本建設業保証", "西日本保証")),
    ("北海道建設業信用保証株式会社", ("北海道建設業信用保証",)),
)
CONFIRMATION_SYSTEM_DOMAINS = ("sonpo-hosyou-syouken.jp",)

_DSURE_SIGNS = ("認証キー",)
_CONFIRMATION_SIGNS = (
    "閲覧用URL", "閲覧用パスワード", "発注者提出用フォーマット", "保証証券等確認システム",
)
_POLICY_SIGNS = ("履行保証保険", "公共工事履行保証証券", "保険証券", "証券番号", "保証証券")
_INTERIM = re.compile(r"中間前払")
_ADVANCE = re.compile(r"前払金?保証|前払金|前払")
_CONTRACT = re.compile(r"契約保証|履行保証|契約の保証")


def document_text(mail: Mail) -> str:
    """The text of every readable attachment, normalised."""
    return "\n".join(a.text for a in mail.attachments if a.status is DocumentStatus.TEXT)


def mail_text(mail: Mail) -> str:
    """Subject and body, normalised."""
    return normalize(f"{mail.subject}\n{mail.body}")


def classify(mail: Mail, settings: Settings) -> Classification:
    """Decide the kind and extract the fields of one message."""
    docs = document_text(mail)
    own = mail_text(mail)
    text = f"{docs}\n{own}"
    kind, evidence = _kind(mail, docs, own)
    fields = _fields(kind, mail, docs, text, settings)
    return Classification(
        kind=kind,
        guarantee_type=_guarantee_type(kind, docs, normalize(mail.subject), own),
        fields=fields,
        evidence=evidence,
        unreadable=unreadable_problems(mail),
    )


def unreadable_problems(mail: Mail) -> tuple[str, ...]:
    """Problem codes for attachments that could not be read."""
    codes: list[str] = []
    for att in mail.attachments:
        if att.status in (DocumentStatus.ENCRYPTED, DocumentStatus.UNREADABLE):
            codes.append("attachment-unreadable")
        elif att.status is DocumentStatus.NO_TEXT:
            codes.append("text-unreadable")
    return tuple(dict.fromkeys(codes))


def _kind(mail: Mail, docs: str, own: str) -> tuple[Kind, tuple[str, ...]]:
    text = f"{docs}\n{own}"
    has_key = any(s in text for s in _DSURE_SIGNS)
    has_number = extract.contract_number(text) is not None or "保証契約番号" in text
    if has_key and has_number:
        return Kind.DSURE_KEY, ("認証キー", "保証契約番号")
    confirmation = [s for s in _CONFIRMATION_SIGNS if s in text]
    if extract.view_url(text, CONFIRMATION_SYSTEM_DOMAINS):
        confirmation.append("confirmation-system-url")
    if confirmation:
        return Kind.CONFIRMATION_SYSTEM, tuple(confirmation)
    policy_in_pdf = [s for s in _POLICY_SIGNS if s in docs]
    if policy_in_pdf and any(a.is_pdf for a in mail.attachments):
        return Kind.LEGACY_PDF, tuple(policy_in_pdf)
    sealed_pdf = any(
        a.is_pdf and a.status is DocumentStatus.ENCRYPTED for a in mail.attachments
    )
    policy_in_mail = [s for s in (*_POLICY_SIGNS, "証券") if s in own]
    if sealed_pdf and policy_in_mail:
        return Kind.LEGACY_PDF, (*policy_in_mail, "encrypted-pdf")
    if has_key:
        return Kind.DSURE_KEY, ("認証キー",)
    return Kind.OTHER, ()


def _guarantee_type(kind: Kind, docs: str, subject: str, own: str) -> GuaranteeType | None:
    if kind is Kind.OTHER:
        return None
    if kind in (Kind.CONFIRMATION_SYSTEM, Kind.LEGACY_PDF):
        return GuaranteeType.CONTRACT  # insurers issue contract guarantees only
    for text in (docs, subject, own):
        if _INTERIM.search(text):
            return GuaranteeType.INTERIM_ADVANCE_PAYMENT
        if _ADVANCE.search(text):
            return GuaranteeType.ADVANCE_PAYMENT
        if _CONTRACT.search(text):
            return GuaranteeType.CONTRACT
    return None


def _fields(kind: Kind, mail: Mail, docs: str, text: str, settings: Settings) -> Fields:
    insurer = find_insurer(mail, docs, text, settings.insurers)
    # Only a labelled 受注者名 counts: the form must name the contractor, and a company in
    # the From header's display name is no substitute.
    contractor = extract.contractor_name(text)
    return Fields(
        contract_number=extract.contract_number(text),
        auth_key=extract.auth_key(text),
        view_url=extract.view_url(text, CONFIRMATION_SYSTEM_DOMAINS),
        view_password=extract.view_password(text),
        project_name=extract.project_name(text),
        project_number=extract.project_number(text),
        contractor_name=contractor,
        policy_number=extract.policy_number(text),
        insurer=insurer.name if insurer else None,
        guarantor=_guarantor(text),
        issued_on=extract.issued_on(docs) if kind is Kind.LEGACY_PDF else None,
    )


def find_insurer(mail: Mail, docs: str, text: str, insurers: list[Insurer]) -> Insurer | None:
    """The insurer named in the documents, else in the mail, else by the sender's domain."""
    for haystack in (docs, text):
        for insurer in insurers:
            if any(normalize(name) in haystack for name in insurer.names()):
                return insurer
    domain = mail.from_addr.rpartition("@")[2]
    for insurer in insurers:
        if domain and extract.host_in(domain, insurer.domains):
            return insurer
    return None


def _guarantor(text: str) -> str | None:
    for name, short in GUARANTEE_COMPANIES:
        if any(s in text for s in short):
            return name
    return None
