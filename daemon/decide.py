"""The verdict on a message: routed, correction, review or ignored, and to whom.

Pure: the message and settings in, a :class:`~daemon.model.Decision` out. Mail that is not
a person's submission (auto-replies, receipts, bounces, lists, our own mail) is ignored
before anything else, so the daemon never answers a machine.
"""

from __future__ import annotations

import re

from daemon import problems as catalogue
from daemon.checks import run_checks
from daemon.classify import CONFIRMATION_SYSTEM_DOMAINS, classify
from daemon.config import Settings
from daemon.extract import host_in
from daemon.model import Classification, Decision, Fields, GuaranteeType, Kind, Mail, Verdict
from daemon.problems import Effect

_AUTO_SUBJECT = re.compile(
    r"自動返信|自動応答|不在通知|不在のお知らせ|^\s*(?:automatic reply|auto[- ]?reply|"
    r"out of (?:the )?office|autoreply)\b",
    re.I,
)
_BOUNCE_SENDERS = ("mailer-daemon@", "postmaster@")


def ignore_reason(mail: Mail, settings: Settings) -> str | None:
    """Why this message must get no answer at all, or None for a person's mail."""
    if mail.from_addr == settings.smtp.sender.lower() or mail.header("X-Surety-Verdict"):
        return "own-mail"
    auto = (mail.header("Auto-Submitted") or "").strip().lower()
    if auto and not auto.startswith("no"):
        return "auto-submitted"
    if mail.header("X-Auto-Response-Suppress") is not None:
        return "auto-submitted"
    ctype = (mail.header("Content-Type") or "").lower()
    if "multipart/report" in ctype:
        return "read-receipt" if "disposition-notification" in ctype else "bounce"
    if (mail.header("Return-Path") or "x").strip() in ("<>", ""):
        return "bounce"
    if mail.from_addr.startswith(_BOUNCE_SENDERS):
        return "bounce"
    if mail.header("List-Id") or mail.header("List-Unsubscribe"):
        return "mailing-list"
    precedence = (mail.header("Precedence") or "").strip().lower()
    if precedence in ("bulk", "junk", "list"):
        return "mailing-list"
    if _AUTO_SUBJECT.search(mail.subject):
        return "auto-reply-subject"
    return None


def decide(mail: Mail, settings: Settings) -> Decision:
    """Classify, check and give the verdict for one message."""
    if host_in(mail.from_addr.rpartition("@")[2], CONFIRMATION_SYSTEM_DOMAINS):
        # The system's own URL notice, sent to the office directly: half a submission
        # (no 閲覧用パスワード, no form). Never answered; a person matches it up.
        cls = classify(mail, settings)
        return _verdict(mail, cls, ("system-notice",), settings)
    reason = ignore_reason(mail, settings)
    if reason:
        return Decision(Verdict.IGNORED, Kind.OTHER, None, (), (), Fields(), reason)
    cls = classify(mail, settings)
    found = list(run_checks(mail, cls, settings).problems)
    if cls.kind is Kind.OTHER:
        found = list(cls.unreadable) or ["not-a-submission"]
    elif cls.unreadable and (
        cls.kind is Kind.LEGACY_PDF
        or any(catalogue.effect(c) is Effect.FIX for c in found)
    ):
        # A correction naming a missing field that may sit in the unreadable attachment
        # would be wrong; a person looks instead, told why (not the missing fields, which
        # may only be a consequence).
        found = [c for c in found if not _field_missing(c)]
        found += [c for c in cls.unreadable if c not in found]
    if any(catalogue.effect(c) is Effect.FIX for c in found):
        # The contractor sends again anyway; which guarantee it is matters only then.
        found = [c for c in found if c != "guarantee-type-unknown"]
    if not mail.is_mime:
        found.insert(0, "not-mime")
    if not (mail.reply_to or mail.from_addr) and _needs_reply(found):
        found.append("no-reply-address")
    return _verdict(mail, cls, tuple(found), settings)


def _field_missing(code: str) -> bool:
    problem = catalogue.CATALOGUE.get(code)
    return problem is not None and problem.field_missing


def _needs_reply(found: list[str]) -> bool:
    effects = {catalogue.effect(c) for c in found}
    return Effect.FIX in effects and Effect.REVIEW not in effects


def _verdict(mail: Mail, cls: Classification, found: tuple[str, ...],
             settings: Settings) -> Decision:
    effects = {catalogue.effect(c) for c in found}
    if Effect.REVIEW in effects:
        verdict, route = Verdict.REVIEW, tuple(settings.routing.review)
    elif Effect.FIX in effects:
        verdict, route = Verdict.CORRECTION, (mail.reply_to[0] if mail.reply_to
                                               else mail.from_addr,)
    elif cls.guarantee_type is GuaranteeType.CONTRACT:
        verdict, route = Verdict.ROUTED, tuple(settings.routing.contract_guarantee)
    else:
        verdict, route = Verdict.ROUTED, tuple(settings.routing.advance_payment)
    reason = ",".join(c for c in found if catalogue.effect(c) is Effect.REVIEW)
    return Decision(verdict, cls.kind, cls.guarantee_type, found, route, cls.fields, reason)
