"""The office's policy as a table of small rules; each only reports problem codes.

A rule is a name, the kinds it applies to and a pure function of the message, the
submission, the message's classification and the settings. :func:`run_checks` runs the
table over one submission and returns every code found, in rule order. Three rules are
final: a document that may not be sent at all, a route the office does not take, and a
contract that stays on paper make every other finding moot, so they are reported alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from daemon.classify import configured_insurer
from daemon.config import Settings
from daemon.extract import host_in
from daemon.model import Classification, GuaranteeType, Kind, Mail, Submission
from daemon.problems import Code

JST = ZoneInfo("Asia/Tokyo")


@dataclass(frozen=True)
class Case:
    """What a rule looks at: one submission in its message."""

    mail: Mail
    submission: Submission
    classification: Classification
    settings: Settings


Check = Callable[[Case], list[Code]]


@dataclass(frozen=True)
class Rule:
    """One policy check."""

    name: str
    kinds: tuple[Kind, ...]
    check: Check
    description: str
    final: bool = False  # when it hits, no other rule is reported


def _required(case: Case, *, field: str, code: Code) -> list[Code]:
    """``code`` when the submission's ``field`` is empty (bound per field in RULES)."""
    return [] if getattr(case.submission.fields, field) else [code]


def _wrong_document(case: Case) -> list[Code]:
    wrong = case.submission.wrong_document
    return [wrong] if wrong else []


def _route_accepted(case: Case) -> list[Code]:
    kind = case.submission.kind
    return [] if kind.value in case.settings.policy.accept else [Code.ROUTE_NOT_ACCEPTED]


def _electronic_start(case: Case) -> list[Code]:
    start = case.settings.policy.electronic_start
    first = case.submission.fields.first_contract_date
    return [Code.BEFORE_ELECTRONIC_START] if start and first and first < start else []


def _view_url(case: Case) -> list[Code]:
    url = case.submission.fields.view_url
    if url is None:
        return [Code.VIEW_URL_MISSING]
    hosts = case.settings.policy.confirmation_system_domains
    return [] if view_url_valid(url, hosts) else [Code.VIEW_URL_INVALID]


def view_url_valid(url: str, hosts: list[str]) -> bool:
    """A 閲覧用URL staff may open: https, on the confirmation system's host (or a
    subdomain), with no user name, no other port and no backslash that a browser would
    read as another host."""
    if "\\" in url:
        return False
    try:
        parts = urlsplit(url)
        port = parts.port
        host = (parts.hostname or "").encode("idna").decode("ascii")
    except (ValueError, UnicodeError):
        return False
    if parts.scheme.lower() != "https" or "@" in parts.netloc or port not in (None, 443):
        return False
    return bool(host) and host_in(host, hosts)


def _insurer_on_system(case: Case) -> list[Code]:
    name = case.submission.fields.insurer
    if name is None:
        return []  # the form names its insurer; without one, staff see the URL's policy
    insurer = configured_insurer(name, case.settings.insurers)
    return [] if insurer and insurer.confirmation_system else [Code.INSURER_NOT_SUPPORTED]


def _legacy_insurer(case: Case) -> list[Code]:
    name = case.submission.fields.insurer
    if name is None:
        return [Code.INSURER_UNKNOWN]
    insurer = configured_insurer(name, case.settings.insurers)
    if insurer is None:
        return [Code.INSURER_NOT_SUPPORTED]
    designated = {a.lower() for a in insurer.legacy_cc}
    # The real To/Cc headers, never addresses written in the text.
    return [] if designated & set(case.mail.recipients) else [Code.INSURER_CC_MISSING]


def _legacy_deadline(case: Case) -> list[Code]:
    policy = case.settings.policy
    if policy.legacy_pdf_until is None:
        return []
    if policy.legacy_pdf_basis == "issued":
        day = case.submission.fields.issued_on
        if day is None:
            return [Code.ISSUE_DATE_UNREADABLE]
    else:
        day = case.mail.received_at.astimezone(JST).date()
    return [Code.LEGACY_DEADLINE_PASSED] if day > policy.legacy_pdf_until else []


def _guarantee_type(case: Case) -> list[Code]:
    return [] if case.submission.guarantee_type else [Code.GUARANTEE_TYPE_UNKNOWN]


def _invoice(case: Case) -> list[Code]:
    advance = case.submission.guarantee_type in (
        GuaranteeType.ADVANCE_PAYMENT, GuaranteeType.INTERIM_ADVANCE_PAYMENT)
    needed = case.settings.policy.advance_payment_needs_invoice
    missing = advance and needed and not case.classification.has_invoice
    return [Code.INVOICE_MISSING] if missing else []


def _subject_format(case: Case) -> list[Code]:
    gtype = case.submission.guarantee_type
    pattern = case.settings.policy.subject_patterns.get(gtype.value) if gtype else None
    if pattern is None:
        return []
    return [] if re.search(pattern, case.mail.subject) else [Code.SUBJECT_FORMAT]


_ANY = (Kind.DSURE_KEY, Kind.CONFIRMATION_SYSTEM, Kind.LEGACY_PDF, Kind.OTHER)
_SUBMITTED = (Kind.DSURE_KEY, Kind.CONFIRMATION_SYSTEM, Kind.LEGACY_PDF)
_DSURE = (Kind.DSURE_KEY,)
_CONFIRMATION = (Kind.CONFIRMATION_SYSTEM,)
_LEGACY = (Kind.LEGACY_PDF,)

RULES: tuple[Rule, ...] = (
    Rule("wrong-document", _ANY, _wrong_document,
         "the document is one that may not be sent (e-certificate print, reservation, "
         "bank guarantee, a policy not as PDF)", final=True),
    Rule("route-accepted", _SUBMITTED, _route_accepted,
         "the office takes this route at all (policy.accept)", final=True),
    Rule("electronic-start", _SUBMITTED, _electronic_start,
         "the contract was first concluded on or after policy.electronic_start", final=True),
    Rule("contract-number", _DSURE,
         partial(_required, field="contract_number", code=Code.CONTRACT_NUMBER_MISSING),
         "a key notice names its 保証契約番号"),
    Rule("auth-key", _DSURE,
         partial(_required, field="auth_key", code=Code.AUTH_KEY_MISSING),
         "a key notice names its 認証キー"),
    Rule("guarantee-type", _DSURE, _guarantee_type,
         "the guarantee type is known, so the right section gets it"),
    Rule("invoice", _DSURE, _invoice,
         "an advance-payment notice comes with its 請求書 "
         "(policy.advance_payment_needs_invoice)"),
    Rule("view-url", _CONFIRMATION, _view_url,
         "a confirmation-system submission names its 閲覧用URL, on the system's host"),
    Rule("view-password", _CONFIRMATION,
         partial(_required, field="view_password", code=Code.VIEW_PASSWORD_MISSING),
         "... and its 閲覧用パスワード"),
    Rule("project-name", _CONFIRMATION,
         partial(_required, field="project_name", code=Code.PROJECT_NAME_MISSING),
         "... and the 工事名"),
    Rule("contractor-name", _CONFIRMATION,
         partial(_required, field="contractor_name", code=Code.CONTRACTOR_NAME_MISSING),
         "... and the 受注者名"),
    Rule("insurer-on-system", _CONFIRMATION, _insurer_on_system,
         "the insurer is configured and on the confirmation system"),
    Rule("legacy-insurer", _LEGACY, _legacy_insurer,
         "a PDF policy by email copies a designated address of the (configured) insurer "
         "that issued it"),
    Rule("legacy-deadline", _LEGACY, _legacy_deadline,
         "a PDF policy by email on or before policy.legacy_pdf_until "
         "(received or issued, per policy.legacy_pdf_basis)"),
    Rule("subject-format", _SUBMITTED, _subject_format,
         "the subject follows policy.subject_patterns (a warning only)"),
)


def run_checks(mail: Mail, submission: Submission, cls: Classification,
               settings: Settings) -> tuple[Code, ...]:
    """Run every rule that applies to the submission's kind: the codes found, in rule
    order, once each (a final rule's alone)."""
    case = Case(mail, submission, cls, settings)
    problems: list[Code] = []
    for rule in RULES:
        if submission.kind not in rule.kinds:
            continue
        found = rule.check(case)
        if not found:
            continue
        if rule.final:
            return tuple(found)
        problems.extend(c for c in found if c not in problems)
    return tuple(problems)


def shown_url(url: str) -> str:
    """A URL as staff should see it, as parsed: scheme and host in lower case, the host
    IDNA-encoded (a look-alike host in another script shows as xn--...); as written when
    it cannot be parsed."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").encode("idna").decode("ascii")
        port = f":{parts.port}" if parts.port else ""
    except (ValueError, UnicodeError):
        return url
    user = "(user)@" if "@" in parts.netloc else ""
    return parts._replace(netloc=f"{user}{host}{port}").geturl()  # (the scheme comes lower)
