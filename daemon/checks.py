"""The office's policy as a table of small rules; each only reports problem codes.

A rule is a name, the kinds it applies to and a pure function of the message, its
classification and the settings. :func:`run_checks` runs the table and returns every
code found with the rules that found it, so "why did this go there?" has an answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from daemon.classify import find_insurer
from daemon.config import Settings
from daemon.model import Classification, Kind, Mail

JST = ZoneInfo("Asia/Tokyo")

Check = Callable[[Mail, Classification, Settings], list[str]]


@dataclass(frozen=True)
class Rule:
    """One policy check."""

    name: str
    kinds: tuple[Kind, ...]
    check: Check
    description: str


def _required(field: str, code: str) -> Check:
    def check(_mail: Mail, cls: Classification, _settings: Settings) -> list[str]:
        return [] if getattr(cls.fields, field) else [code]

    return check


def _insurer_cc(mail: Mail, cls: Classification, settings: Settings) -> list[str]:
    insurer = next((i for i in settings.insurers if i.name == cls.fields.insurer), None)
    if insurer is None:
        insurer = find_insurer(mail, "", "", settings.insurers)
    if insurer is None:
        return ["insurer-unknown"]
    designated = {a.lower() for a in insurer.legacy_cc}
    return [] if designated & set(mail.recipients) else ["insurer-cc-missing"]


def _legacy_deadline(mail: Mail, _cls: Classification, settings: Settings) -> list[str]:
    day = mail.received_at.astimezone(JST).date()
    return ["legacy-deadline-passed"] if day > settings.policy.legacy_pdf_until else []


def _guarantee_type(_mail: Mail, cls: Classification, _settings: Settings) -> list[str]:
    return [] if cls.guarantee_type else ["guarantee-type-unknown"]


_DSURE = (Kind.DSURE_KEY,)
_CONFIRMATION = (Kind.CONFIRMATION_SYSTEM,)
_LEGACY = (Kind.LEGACY_PDF,)

RULES: tuple[Rule, ...] = (
    Rule("contract-number", _DSURE, _required("contract_number", "contract-number-missing"),
         "a key notice names its 保証契約番号"),
    Rule("auth-key", _DSURE, _required("auth_key", "auth-key-missing"),
         "a key notice names its 認証キー"),
    Rule("guarantee-type", _DSURE, _guarantee_type,
         "the guarantee type is known, so the right section gets it"),
    Rule("view-url", _CONFIRMATION, _required("view_url", "view-url-missing"),
         "a confirmation-system submission names its 閲覧用URL"),
    Rule("view-password", _CONFIRMATION, _required("view_password", "view-password-missing"),
         "... and its 閲覧用パスワード"),
    Rule("project-name", _CONFIRMATION, _required("project_name", "project-name-missing"),
         "... and the 工事名"),
    Rule("contractor-name", _CONFIRMATION,
         _required("contractor_name", "contractor-name-missing"),
         "... and the 受注者名"),
    Rule("insurer-cc", _LEGACY, _insurer_cc,
         "a PDF policy by email copies a designated address of the insurer that issued it"),
    Rule("legacy-deadline", _LEGACY, _legacy_deadline,
         "a PDF policy by email arrived on or before policy.legacy_pdf_until (Japan time)"),
)


@dataclass(frozen=True)
class CheckResult:
    """The codes found, in rule order, and which rules hit."""

    problems: tuple[str, ...]
    hits: tuple[str, ...]


def run_checks(mail: Mail, cls: Classification, settings: Settings) -> CheckResult:
    """Run every rule that applies to the message's kind."""
    problems: list[str] = []
    hits: list[str] = []
    for rule in RULES:
        if cls.kind not in rule.kinds:
            continue
        found = rule.check(mail, cls, settings)
        if found:
            hits.append(rule.name)
            problems.extend(c for c in found if c not in problems)
    return CheckResult(tuple(problems), tuple(hits))
