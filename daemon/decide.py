"""The verdict on a message: routed, correction, review, ignored or held, and to whom.

Pure: the message and settings in, a :class:`~daemon.model.Decision` out. Mail that is not
a person's submission (auto-replies, receipts, bounces, lists, our own mail) is ignored
before anything else, so the daemon never answers a machine. Each submission in a
message gets its own outcome; the message's verdict is the most serious of them.

A message can also wait (``held``) for its follow-up from the same sender: the password
of an encrypted attachment, or the other half of a confirmation-system submission (the
form in one mail, the 閲覧用URL in the next). :func:`pairs_with` says whether a new mail is
that follow-up; the two are then decided together as one message (``decide`` on
:func:`daemon.read.combine`), or the first alone once the wait is over (``can_wait=False``).
"""

from __future__ import annotations

import re
from dataclasses import replace

from daemon import problems as catalogue
from daemon.checks import run_checks
from daemon.classify import classify
from daemon.config import Settings
from daemon.extract import auth_key, contract_number, document_passwords, host_in, view_password
from daemon.japanese import normalize
from daemon.model import (
    Classification,
    Decision,
    GuaranteeType,
    Kind,
    Mail,
    Outcome,
    Submission,
    Verdict,
    overall,
)
from daemon.problems import Effect

_AUTO_SUBJECT = re.compile(
    r"自動返信|自動応答|不在通知|不在のお知らせ|^\s*(?:automatic reply|auto[- ]?reply|"
    r"out of (?:the )?office|autoreply)\b",
    re.I,
)
_BOUNCE_SENDERS = ("mailer-daemon@", "postmaster@")
# Auto-responders that set no Auto-Submitted: Exchange's X-Autoreply, others'
# X-Autorespond, and vacation programs' Precedence: auto_reply.
_AUTO_REPLY_HEADERS = ("X-Autoreply", "X-Autorespond")
_PRECEDENCE = "Precedence"
# How an auto-reply opens ("このメールは自動応答です", "ただいま不在にしております").
_AUTO_REPLY_OPENING = re.compile(r"自動応答|自動返信|不在にしております")
_OPENING_LINES = 3

WAITING_FOR_PASSWORD = "waiting-for-password"  # noqa: S105 - a reason, not a secret
WAITING_FOR_REST = "waiting-for-rest"


def ignore_reason(mail: Mail, settings: Settings) -> str | None:
    """Why this message must get no answer at all, or None for a person's mail."""
    if mail.from_addr == settings.smtp.sender.lower() or mail.header("X-Surety-Verdict"):
        return "own-mail"
    auto = _header_value(mail, "Auto-Submitted")
    if auto and not auto.startswith("no"):
        return "auto-submitted"
    if mail.header("X-Auto-Response-Suppress") is not None:
        return "auto-submitted"
    ctype = _header_value(mail, "Content-Type")
    if "multipart/report" in ctype:
        return "read-receipt" if "disposition-notification" in ctype else "bounce"
    return_path = mail.header("Return-Path")
    if return_path is not None and return_path.strip() in ("<>", ""):
        return "bounce"
    if mail.from_addr.startswith(_BOUNCE_SENDERS):
        return "bounce"
    if mail.header("List-Id") or mail.header("List-Unsubscribe"):
        return "mailing-list"
    precedence = _header_value(mail, "Precedence")
    if precedence in ("bulk", "junk", "list"):
        return "mailing-list"
    if _AUTO_SUBJECT.search(mail.subject):
        return "auto-reply-subject"
    if _auto_reply(mail):
        return "auto-reply"
    return None


def _auto_reply(mail: Mail) -> bool:
    """An auto-responder's mail: a header says so, or, for a mail with nothing attached
    and no value typed, its first lines do (a person's submission that mentions an
    auto-reply, or carries documents or typed values, is not one)."""
    if any(mail.header(name) is not None for name in _AUTO_REPLY_HEADERS):
        return True
    if _header_value(mail, _PRECEDENCE) == "auto_reply":
        return True
    opening = [line for line in mail.body.splitlines() if line.strip()][:_OPENING_LINES]
    if mail.attachments or _typed_values(mail):
        return False  # a person writing "担当者が不在にしておりますので代理で..." submits
    return any(_AUTO_REPLY_OPENING.search(line) for line in opening)


def _typed_values(mail: Mail) -> bool:
    """The mail types a value beside its label: a number, a key, a URL, a password."""
    text = normalize(mail.body)
    readers = (contract_number, auth_key, view_password, document_passwords)
    return any(read(text) for read in readers) or bool(re.search(r"閲覧用?URL", text))


def _header_value(mail: Mail, name: str) -> str:
    """A header's value for comparing: stripped, lower-case, "" when absent."""
    return (mail.header(name) or "").strip().lower()


def sender_not_authenticated(mail: Mail, settings: Settings) -> bool:
    """A message claiming an insurer's or guarantee company's domain whose DMARC or DKIM
    check failed, per the Authentication-Results the office's own server added.

    Only the topmost header with the office server's authserv-id counts (RFC 8601): one
    with another id may have been written by anybody.
    """
    authserv = settings.security.authserv_id.strip().lower()
    if not authserv:
        return False
    watched = [*settings.security.guarantor_domains,
               *(d for insurer in settings.insurers for d in insurer.domains)]
    if not host_in(mail.from_addr.rpartition("@")[2], watched):
        return False
    for value in mail.header_all("Authentication-Results"):
        text = value.lower()
        if text.split(";")[0].split()[:1] != [authserv]:
            continue
        dmarc = re.findall(r"\bdmarc\s*=\s*(\w+)", text)
        dkim = re.findall(r"\bdkim\s*=\s*(\w+)", text)
        return "fail" in dmarc or ("fail" in dkim and "pass" not in dkim)
    return False


def is_system_notice(mail: Mail, settings: Settings) -> bool:
    """The confirmation system's own mail (from its host), not a contractor's."""
    return host_in(mail.from_addr.rpartition("@")[2], settings.policy.confirmation_system_domains)


def decide(mail: Mail, settings: Settings, *, can_wait: bool = True,
           sources: tuple[str, ...] = ()) -> Decision:
    """Classify, check and give the verdict for one message (or a combined pair)."""
    sources = sources or (mail.message_id,)
    if is_system_notice(mail, settings):
        # The system's own URL notice, sent to the office directly: half a submission
        # (no 閲覧用パスワード, no form). Never answered; a person matches it up.
        cls = classify(mail, settings)
        outcome = _review(cls.submissions[0], "system-notice", settings)
        return Decision(Verdict.REVIEW, (outcome,), "system-notice", sources)
    reason = ignore_reason(mail, settings)
    if reason:
        return Decision(Verdict.IGNORED, (), reason, sources)
    cls = classify(mail, settings)
    if sender_not_authenticated(mail, settings):
        # Possibly forged: never routed, never answered.
        outcomes = [_review(sub, "sender-not-authenticated", settings)
                    for sub in cls.submissions]
        return Decision(Verdict.REVIEW, tuple(outcomes), "sender-not-authenticated", sources)
    wait = settings.policy.password_wait_hours > 0 and can_wait
    outcomes = [_decide_one(mail, sub, cls, settings, can_wait=wait) for sub in cls.submissions]
    if wait:
        held = _held_reason(cls, outcomes)
        if held:
            outcomes = [replace(o, verdict=Verdict.HELD, route_to=()) for o in outcomes]
            return Decision(Verdict.HELD, tuple(outcomes), held, sources)
    if _unpaired_password(mail, cls):
        outcomes = [replace(outcomes[0], problems=("unpaired-password",),
                            verdict=Verdict.REVIEW, route_to=tuple(settings.routing.review))]
    verdict = overall([o.verdict for o in outcomes])
    reason = ",".join(dict.fromkeys(
        c for o in outcomes for c in o.problems if catalogue.effect(c) is Effect.REVIEW))
    return Decision(verdict, tuple(outcomes), reason, sources)


def _decide_one(mail: Mail, sub: Submission, cls: Classification, settings: Settings, *,
                can_wait: bool) -> Outcome:
    found = list(run_checks(mail, sub, cls, settings))
    unreadable = list(cls.unreadable)
    if cls.sealed and not can_wait:
        # The password never came: ask for it (the documents may be the submission).
        unreadable = ["attachment-password-missing" if c == "attachment-unreadable" else c
                      for c in unreadable]
    if sub.kind is Kind.OTHER and not sub.wrong_document:
        found = unreadable or ["not-a-submission"]
    elif unreadable and not sub.source and (
        sub.kind is Kind.LEGACY_PDF or any(catalogue.effect(c) is Effect.FIX for c in found)
    ):
        # A correction naming a missing field that may sit in the unreadable attachment
        # would be wrong: say why instead (not the missing fields, maybe only a consequence).
        found = [c for c in found if not _field_missing(c)]
        found += [c for c in unreadable if c not in found]
    if any(catalogue.effect(c) is Effect.FIX for c in found):
        # The contractor sends again anyway; which guarantee it is matters only then.
        found = [c for c in found if c != "guarantee-type-unknown"]
    if not mail.is_mime:
        found.insert(0, "not-mime")
    if not (mail.reply_to or mail.from_addr) and _needs_reply(found):
        found.append("no-reply-address")
    if _needs_reply(found):
        # A correction lists only what to fix: warnings are for staff, on routed mail.
        found = [c for c in found if catalogue.effect(c) is not Effect.WARNING]
    return _outcome(mail, sub, tuple(found), settings)


def _held_reason(cls: Classification, outcomes: list[Outcome]) -> str | None:
    if cls.sealed:
        return WAITING_FOR_PASSWORD
    if len(outcomes) == 1 and outcomes[0].kind is Kind.CONFIRMATION_SYSTEM:
        sub = cls.submissions[0]
        codes = set(outcomes[0].problems)
        form_without_url = bool(sub.source) and "view-url-missing" in codes
        url_without_form = not sub.source and sub.fields.view_url is not None and (
            "view-password-missing" in codes)
        if form_without_url or url_without_form:
            return WAITING_FOR_REST
    return None


def _unpaired_password(mail: Mail, cls: Classification) -> bool:
    """A mail that gives a password and nothing it could open (its partner not found,
    or long gone)."""
    return cls.password_given and not mail.attachments


def pairs_with(held_reason: str, held_mail: Mail, mail: Mail, settings: Settings) -> bool:
    """Whether ``mail`` is the follow-up the held message waits for (same sender assumed)."""
    if ignore_reason(mail, settings):
        return False
    if held_reason == WAITING_FOR_PASSWORD:
        return bool(document_passwords(mail.body))
    if held_reason == WAITING_FOR_REST:
        cls = classify(mail, settings)
        return any(s.kind is Kind.CONFIRMATION_SYSTEM for s in cls.submissions)
    return False


def _field_missing(code: str) -> bool:
    problem = catalogue.CATALOGUE.get(code)
    return problem is not None and problem.field_missing


def _needs_reply(found: list[str]) -> bool:
    effects = {catalogue.effect(c) for c in found}
    return Effect.FIX in effects and Effect.REVIEW not in effects


def _review(sub: Submission, code: str, settings: Settings) -> Outcome:
    """A submission set aside for a person, for this one reason only."""
    return Outcome(Verdict.REVIEW, sub.kind, sub.guarantee_type, (code,),
                   tuple(settings.routing.review), sub.fields, sub.source)


def _outcome(mail: Mail, sub: Submission, found: tuple[str, ...],
             settings: Settings) -> Outcome:
    effects = {catalogue.effect(c) for c in found}
    if Effect.REVIEW in effects:
        verdict, route = Verdict.REVIEW, tuple(settings.routing.review)
    elif Effect.FIX in effects:
        verdict, route = Verdict.CORRECTION, (mail.reply_to[0] if mail.reply_to
                                               else mail.from_addr,)
    elif sub.guarantee_type is GuaranteeType.CONTRACT:
        verdict, route = Verdict.ROUTED, tuple(settings.routing.contract_guarantee)
    else:
        verdict, route = Verdict.ROUTED, tuple(settings.routing.advance_payment)
    return Outcome(verdict, sub.kind, sub.guarantee_type, found, route, sub.fields, sub.source)
