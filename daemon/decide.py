"""The verdict on a message: routed, correction, review, ignored or held, and to whom.

Pure: the message, the settings, the time and the state file's history in, a
:class:`~daemon.model.Decision` out. Mail that is not a person's submission
(auto-replies, receipts, bounces, lists, our own mail) is ignored before anything else,
so the daemon never answers a machine. Each submission in a message gets its own
outcome; the message's verdict is the most serious of them.

A message can also wait (``held``) for its follow-up: the password of an encrypted
attachment, the other part of a submission sent in two mails (a form and its 閲覧用URL,
a 保証契約番号 and its 認証キー), or the encrypted attachment a password-only mail is for.
How long is :func:`wait_for`, counted from the message's arrival; once that time has
passed the message is decided alone. :mod:`daemon.pairing` says which held message a new
mail completes; the two are then decided together (``can_wait=False``).

With a :class:`History` (the state file), the decision is final: the reply cap is
applied, routed submissions name the earlier ones they replace, and a routed message's
receipt (replies.receipt) is kept or withheld, so ``classify`` with the state file says
exactly what ``run`` does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from functools import cache
from typing import Protocol

from publicsuffixlist import PublicSuffixList

from daemon import problems as catalogue
from daemon.checks import run_checks
from daemon.classify import classify, password_candidates
from daemon.config import Settings
from daemon.extract import auth_key, contract_number, document_passwords, host_in, view_password
from daemon.japanese import normalize
from daemon.lifecycle import ReplyHistory, limit_replies, own_mail, reply_allowed
from daemon.model import (
    Classification,
    Decision,
    EarlierSubmission,
    GuaranteeType,
    HeldReason,
    IgnoredReason,
    Kind,
    Mail,
    NoReceipt,
    Outcome,
    Submission,
    Verdict,
    overall,
)
from daemon.problems import Code, Effect

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


@cache
def _suffixes() -> PublicSuffixList:
    """The bundled Public Suffix List, parsed when first needed (a tenth of a second or
    more: not at import, so a command whose mail never asks starts without it)."""
    return PublicSuffixList()


# The held reasons by their older names (tests and callers import these).
WAITING_FOR_PASSWORD = HeldReason.PASSWORD
WAITING_FOR_REST = HeldReason.REST
WAITING_FOR_DOCUMENT = HeldReason.DOCUMENT

# The mail says the rest of the submission follows in another mail.
_REST_FOLLOWS = re.compile(
    r"(?:別途|追って|追而|後ほど|後程|のちほど|改めて|あらためて|次の?メール|別メール|別便|"
    r"続けて|引き続き)[^。\n]{0,20}?(?:お?送り|送信|送付|お知らせ|ご?連絡|ご案内|ご?提出|"
    r"お届け)|別送"
)


class History(ReplyHistory, Protocol):
    """What a final decision needs from the state file: earlier replies (the cap),
    earlier submissions (what a re-sent one replaces) and password mails set aside."""

    def password_mail_since(self, sender: str, since: datetime) -> bool:
        """A mail giving only a password that opened nothing came from ``sender`` after
        ``since`` (it was set aside as unpaired-password)."""
        ...  # pragma: no cover

    def earlier_submissions(self, outcome: Outcome, *, sender: str, source: str,
                            before: datetime) -> Sequence[EarlierSubmission]:
        """The submissions of this one's kind decided up to ``before`` in other messages
        than ``source`` that may be the same (the same 保証契約番号 or 証券番号, or the
        same sender's for the same 工事名), newest first: the candidates; which one, if
        any, this one replaces is :func:`replaced`'s call."""
        ...  # pragma: no cover


def ignore_reason(mail: Mail, settings: Settings) -> IgnoredReason | None:
    """Why this message must get no answer at all, or None for a person's mail."""
    if own_mail(mail, settings) is not None:
        return IgnoredReason.OWN_MAIL
    auto = _header_value(mail, "Auto-Submitted")
    if auto and not auto.startswith("no"):
        return IgnoredReason.AUTO_SUBMITTED
    if mail.header("X-Auto-Response-Suppress") is not None:
        return IgnoredReason.AUTO_SUBMITTED
    ctype = _header_value(mail, "Content-Type")
    if "multipart/report" in ctype:
        if "disposition-notification" in ctype:
            return IgnoredReason.READ_RECEIPT
        return IgnoredReason.BOUNCE
    return_path = mail.header("Return-Path")
    if return_path is not None and return_path.strip() in ("<>", ""):
        return IgnoredReason.BOUNCE
    if mail.from_addr.startswith(_BOUNCE_SENDERS):
        return IgnoredReason.BOUNCE
    if mail.header("List-Id") or mail.header("List-Unsubscribe"):
        return IgnoredReason.MAILING_LIST
    precedence = _header_value(mail, "Precedence")
    if precedence in ("bulk", "junk", "list"):
        return IgnoredReason.MAILING_LIST
    if _AUTO_SUBJECT.search(mail.subject):
        return IgnoredReason.AUTO_REPLY_SUBJECT
    if _auto_reply(mail):
        return IgnoredReason.AUTO_REPLY
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
    """A message claiming an insurer's or guarantee company's domain that the office's
    own server did not authenticate: it fails closed.

    Authenticated means the topmost Authentication-Results header with the office
    server's authserv-id (RFC 8601; one with another id may have been written by anybody)
    says ``dmarc=pass``, or ``dkim=pass`` for a signature of the From's own organisation.
    No such header, ``none``, ``fail``, ``permerror``, ``temperror``, a passing signature
    of another domain only, or more than one From header: not authenticated.
    """
    authserv = settings.security.authserv_id.strip().lower()
    if not authserv:
        return False
    watched = [*settings.security.guarantor_domains,
               *(d for insurer in settings.insurers for d in insurer.domains)]
    claimed = [mail.from_addr, *(a for v in mail.header_all("From")
                                 for a in re.findall(r"[^\s<>\",;:]+@[^\s<>\",;:]+", v))]
    if not any(host_in(a.rpartition("@")[2], watched) for a in claimed if a):
        return False
    if len(mail.header_all("From")) > 1:
        return True
    for value in mail.header_all("Authentication-Results"):
        text = value.lower()
        if text.split(";")[0].split()[:1] != [authserv]:
            continue
        return not _authenticated(text, mail.from_addr)
    return True


def _authenticated(results: str, sender: str) -> bool:
    """DMARC passed, or DKIM passed for a signature of the sender's organisation."""
    organisation = _organisation(sender)
    for resinfo in results.split(";")[1:]:
        method = re.match(r"\s*([a-z0-9_-]+)\s*=\s*([a-z]+)", resinfo)
        if method is None:
            continue
        name, result = method.groups()
        if name == "dmarc" and result == "pass":
            return True
        if name == "dkim" and result == "pass":
            signer = re.search(r"header\.[di]\s*=\s*@?([^\s;]+)", resinfo)
            if signer and _organisation(signer.group(1)) == organisation:
                return True
    return False


def is_system_notice(mail: Mail, settings: Settings) -> bool:
    """The confirmation system's own mail (from its host), not a contractor's."""
    return host_in(mail.from_addr.rpartition("@")[2], settings.policy.confirmation_system_domains)


def decide(mail: Mail, settings: Settings, *, can_wait: bool = True,
           sources: tuple[str, ...] = (), now: datetime | None = None,
           history: History | None = None) -> Decision:
    """Classify, check and give the verdict for one message (or a combined pair).

    ``now`` (None: the wait has not begun) ends a wait that is over; ``history`` makes the
    decision final (the reply cap, what a routed submission replaces).
    """
    decision = _verdict(mail, settings, can_wait=can_wait, sources=sources, now=now)
    return finalize(decision, mail, settings, now=now, history=history)


def finalize(decision: Decision, mail: Mail, settings: Settings, *,
             now: datetime | None, history: History | None) -> Decision:
    """A decision made final with the history: the reply cap applied, and routed
    submissions naming the earlier ones they replace. (The daemon classifies in a
    sandboxed child and finalizes in the process that holds the state file.)"""
    if history is None or decision.verdict in (Verdict.HELD, Verdict.IGNORED):
        return decision
    decided_at = now or mail.received_at
    if Code.ATTACHMENT_PASSWORD_MISSING in decision.problems and history.password_mail_since(
            mail.from_addr, mail.received_at):
        # The contractor did send a password, one that opens nothing: ask for the right one.
        decision = _recode(decision, Code.ATTACHMENT_PASSWORD_MISSING,
                           Code.ATTACHMENT_PASSWORD_WRONG)
    decision = limit_replies(decision, history, sources=decision.sources,
                             decided_at=decided_at, settings=settings).decision
    decision = _link(decision, mail, history, decided_at)
    return _receipt(decision, history, decided_at, settings)


def _receipt(decision: Decision, history: History, decided_at: datetime,
             settings: Settings) -> Decision:
    """The receipt of a routed message, made final: none when every submission in it was
    routed before (its contractor had a receipt then), nor beyond the reply caps (the
    message is routed all the same)."""
    to = decision.receipt_to
    if to is None:
        return decision
    why = None
    if not any(o.acknowledged for o in decision.outcomes):
        why = NoReceipt.ALREADY_ROUTED
    elif not reply_allowed(history, to, sources=decision.sources, decided_at=decided_at,
                           settings=settings):
        why = NoReceipt.LIMIT_REACHED
    if why is None:
        return decision
    outcomes = tuple(replace(o, acknowledged=False) for o in decision.outcomes)
    return replace(decision, outcomes=outcomes, receipt_to=None, no_receipt=why)


def _recode(decision: Decision, old: Code, new: Code) -> Decision:
    outcomes = tuple(replace(o, problems=tuple(new if c == old else c for c in o.problems))
                     for o in decision.outcomes)
    return replace(decision, outcomes=outcomes)


def _verdict(mail: Mail, settings: Settings, *, can_wait: bool, sources: tuple[str, ...],
             now: datetime | None) -> Decision:
    sources = sources or (mail.message_id,)
    if is_system_notice(mail, settings):
        # The system's own URL notice, sent to the office directly: half a submission
        # (no 閲覧用パスワード, no form). Never answered; a person matches it up.
        cls = classify(mail, settings)
        outcome = _review(cls.submissions[0], Code.SYSTEM_NOTICE, settings)
        return Decision(Verdict.REVIEW, (outcome,), Code.SYSTEM_NOTICE, sources)
    ignored = ignore_reason(mail, settings)
    if ignored:
        return Decision(Verdict.IGNORED, (), ignored, sources)
    cls = classify(mail, settings)
    if len(cls.submissions) > settings.limits.max_submissions:
        # Not a submission anybody sends: one mail to a person, not one per guarantee.
        outcome = _review(cls.submissions[0], Code.TOO_MANY_SUBMISSIONS, settings)
        return Decision(Verdict.REVIEW, (outcome,), Code.TOO_MANY_SUBMISSIONS, sources)
    if sender_not_authenticated(mail, settings):
        # Possibly forged: never routed, never answered.
        outcomes = [_review(sub, Code.SENDER_NOT_AUTHENTICATED, settings)
                    for sub in cls.submissions]
        return Decision(Verdict.REVIEW, tuple(outcomes), Code.SENDER_NOT_AUTHENTICATED, sources)
    outcomes = [_decide_one(mail, sub, cls, settings, can_wait=True) for sub in cls.submissions]
    held = _held_reason(mail, cls, outcomes) if can_wait else None
    if held:
        until = mail.received_at + wait_for(held, mail, settings)
        if until > mail.received_at and (now is None or now < until):
            outcomes = [replace(o, verdict=Verdict.HELD, route_to=()) for o in outcomes]
            return Decision(Verdict.HELD, tuple(outcomes), held, sources, held_until=until)
    if cls.sealed:  # the wait is over, or there is none: decided without the password
        outcomes = [_decide_one(mail, sub, cls, settings, can_wait=False)
                    for sub in cls.submissions]
    if _unpaired_password(mail, cls):
        outcomes = [replace(outcomes[0], problems=(Code.UNPAIRED_PASSWORD,),
                            verdict=Verdict.REVIEW, route_to=tuple(settings.routing.review))]
    if answers_receipt(mail) and any(o.verdict is Verdict.CORRECTION for o in outcomes):
        # A contractor answering the receipt quotes what it names (保証契約番号, 工事名):
        # never asked to complete a submission that is only a quotation; a person looks.
        outcomes = [replace(o, verdict=Verdict.REVIEW, route_to=tuple(settings.routing.review),
                            problems=(Code.REPLY_TO_RECEIPT, *o.problems))
                    if o.verdict is Verdict.CORRECTION else o for o in outcomes]
    verdict = overall([o.verdict for o in outcomes])
    reason = ",".join(dict.fromkeys(
        c for o in outcomes for c in o.problems if catalogue.effect(c) is Effect.REVIEW))
    receipt_to = receipt_address(mail, settings) if verdict is Verdict.ROUTED else None
    if receipt_to is not None:
        outcomes = [replace(o, acknowledged=True) for o in outcomes]
    return Decision(verdict, tuple(outcomes), reason, sources, receipt_to=receipt_to)


# The Message-IDs of the daemon's receipts (compose.outgoing_id with Action.RECEIPT).
_RECEIPT_ID = re.compile(r"<surety\.receipt\.[0-9a-f]{32}@", re.IGNORECASE)


def answers_receipt(mail: Mail) -> bool:
    """The mail answers one of the daemon's receipts (In-Reply-To or References names
    it), so the text it quotes is the receipt's."""
    return any(_RECEIPT_ID.search(value)
               for name in ("In-Reply-To", "References") for value in mail.header_all(name))


def receipt_address(mail: Mail, settings: Settings) -> str | None:
    """Where the receipt (受領確認) of a routed message goes: the one address a correction
    would go to (:func:`reply_address`), when the office sends receipts (replies.receipt)
    and the message is a person's (never machine mail: :func:`ignore_reason`)."""
    if not settings.replies.receipt or ignore_reason(mail, settings) is not None:
        return None
    return reply_address(mail, settings)


def wait_for(reason: str, mail: Mail, settings: Settings) -> timedelta:
    """How long a message held for ``reason`` waits, from its arrival: an encrypted
    attachment, or a part the mail says follows, policy.password_wait_hours; any other
    part (a follow-up sent right after, or none), policy.rest_wait_minutes."""
    policy = settings.policy
    long_wait = timedelta(hours=policy.password_wait_hours)
    if reason == HeldReason.PASSWORD:
        return long_wait
    if reason == HeldReason.REST and rest_follows(mail):
        return long_wait
    return min(timedelta(minutes=policy.rest_wait_minutes), long_wait)


def rest_follows(mail: Mail) -> bool:
    """The mail says the rest of the submission comes in another mail."""
    return bool(_REST_FOLLOWS.search(normalize(f"{mail.subject}\n{mail.body}")))


def _link(decision: Decision, mail: Mail, history: History, decided_at: datetime) -> Decision:
    """Mark routed submissions that replace an earlier one (a corrected re-send, a new
    閲覧用パスワード after an additional upload)."""
    outcomes = []
    for outcome in decision.outcomes:
        linked = outcome
        if outcome.verdict is Verdict.ROUTED:
            candidates = list(history.earlier_submissions(
                outcome, sender=mail.from_addr, source=decision.sources[0],
                before=decided_at))
            earlier = replaced(outcome, mail.from_addr, candidates)
            if earlier:
                linked = replace(linked, replaces=earlier)
            if outcome.acknowledged and routed_before(outcome, candidates):
                linked = replace(linked, acknowledged=False)  # no second receipt
        outcomes.append(linked)
    return replace(decision, outcomes=tuple(outcomes))


def routed_before(outcome: Outcome, earlier: Iterable[EarlierSubmission]) -> bool:
    """The same guarantee (the same 保証契約番号 or 証券番号) was routed before, in
    another message: its contractor had the receipt for it then."""
    fields = outcome.fields
    return any(
        before.verdict is Verdict.ROUTED and (
            (bool(fields.contract_number) and before.contract_number == fields.contract_number)
            or (bool(fields.policy_number) and before.policy_number == fields.policy_number))
        for before in earlier)


def replaced(outcome: Outcome, sender: str, earlier: Iterable[EarlierSubmission]
             ) -> str | None:
    """The Message-ID of the earlier submission (newest first) this one replaces, if any:
    the same guarantee (the same 保証契約番号 or 証券番号) sent before, or, after a
    correction, the same sender's submission for the same works."""
    fields = outcome.fields
    for before in earlier:
        same_number = (fields.contract_number and before.contract_number
                       == fields.contract_number) or (
            fields.policy_number and before.policy_number == fields.policy_number)
        same_works = (before.sender == sender.lower()
                      and before.verdict is Verdict.CORRECTION
                      and fields.project_name and before.project_name == fields.project_name)
        if same_number or same_works:
            return before.source
    return None


def _decide_one(mail: Mail, sub: Submission, cls: Classification, settings: Settings, *,
                can_wait: bool) -> Outcome:
    found = list(run_checks(mail, sub, cls, settings))
    unreadable = list(cls.unreadable)
    if cls.sealed and not can_wait:
        # The password never came: ask for it (the documents may be the submission).
        unreadable = [Code.ATTACHMENT_PASSWORD_MISSING if c == Code.ATTACHMENT_UNREADABLE
                      else c for c in unreadable]
    if sub.kind is Kind.OTHER and not sub.wrong_document:
        found = unreadable or [Code.NOT_A_SUBMISSION]
    elif unreadable and not sub.source and (
        sub.kind is Kind.LEGACY_PDF or any(catalogue.effect(c) is Effect.FIX for c in found)
    ):
        # A correction naming a missing field that may sit in the unreadable attachment
        # would be wrong: say why instead (not the missing fields, maybe only a consequence).
        found = [c for c in found if not _field_missing(c)]
        found += [c for c in unreadable if c not in found]
    if any(catalogue.effect(c) is Effect.FIX for c in found):
        # The contractor sends again anyway; which guarantee it is matters only then.
        found = [c for c in found if c != Code.GUARANTEE_TYPE_UNKNOWN]
    if Code.TOO_LARGE in unreadable and Code.TOO_LARGE not in found:
        # Parts over the limits were never opened (a zip bomb, thousands of attachments):
        # whatever the rest says, a person looks.
        found.append(Code.TOO_LARGE)
    if not mail.is_mime:
        found.insert(0, Code.NOT_MIME)
    if _needs_reply(found) and reply_address(mail, settings) is None:
        found.append(Code.NO_REPLY_ADDRESS)
    if _needs_reply(found):
        # A correction lists only what to fix: warnings are for staff, on routed mail.
        found = [c for c in found if catalogue.effect(c) is not Effect.WARNING]
    return _outcome(mail, sub, tuple(found), settings)


def _held_reason(mail: Mail, cls: Classification,
                 outcomes: list[Outcome]) -> HeldReason | None:
    """What the message could wait for, if anything."""
    if cls.sealed:
        return HeldReason.PASSWORD
    if not mail.attachments and (cls.password_given or (
            all(o.kind is Kind.OTHER for o in outcomes) and password_candidates(mail))):
        return HeldReason.DOCUMENT  # a password, maybe for an attachment sent next
    if len(outcomes) != 1:
        return None
    sub = cls.submissions[0]
    codes = set(outcomes[0].problems)
    if outcomes[0].kind is Kind.CONFIRMATION_SYSTEM:
        form_without_url = bool(sub.source) and Code.VIEW_URL_MISSING in codes
        url_without_form = not sub.source and sub.fields.view_url is not None and (
            Code.VIEW_PASSWORD_MISSING in codes)
        if form_without_url or url_without_form:
            return HeldReason.REST
    if outcomes[0].kind is Kind.DSURE_KEY and not sub.source and not cls.unreadable:
        # A key notice typed in two mails: the 保証契約番号 now, the 認証キー next (or the
        # other way round).
        number, key = sub.fields.contract_number, sub.fields.auth_key
        if (number is None) != (key is None):
            return HeldReason.REST
    return None


def _unpaired_password(mail: Mail, cls: Classification) -> bool:
    """A mail that gives a password and nothing it could open (its partner not found,
    or long gone)."""
    return cls.password_given and not mail.attachments and all(
        s.kind is Kind.OTHER for s in cls.submissions)


def reply_address(mail: Mail, settings: Settings) -> str | None:
    """The one address a correction may go to: Reply-To when it is a single address of
    the sender's own organisation (the same registrable domain), else From. Never the
    office itself (its domains, staff and routing addresses, the intake mailbox, the
    daemon's sender): None then, and a person looks instead."""
    sender = mail.from_addr.lower()
    to = sender
    if len(mail.reply_to) == 1 and _organisation(mail.reply_to[0]) == _organisation(sender):
        to = mail.reply_to[0].lower()
    local, _, domain = to.rpartition("@")
    if not local or not domain or "." not in domain:
        return None
    if to in office_addresses(settings) or _organisation(to) in {
            _organisation(a) for a in office_addresses(settings)}:
        return None
    return to


def office_addresses(settings: Settings) -> set[str]:
    """The office's own addresses: staff, review, the intake mailbox, the daemon's sender
    and its copy."""
    routing = settings.routing
    found = {*routing.contract_guarantee, *routing.advance_payment, *routing.review,
             settings.smtp.sender, settings.smtp.copy_to, settings.office.intake_address,
             settings.imap.username}
    return {a.lower() for a in found if a and "@" in a}


def _organisation(address: str) -> str:
    """The registrable domain of an address (example.co.jp for a@mail.example.co.jp)."""
    domain = address.rpartition("@")[2].lower().rstrip(".")
    found = _suffixes().privatesuffix(domain) or domain
    if found.startswith("example.") and found != domain:
        # Documentation domains (example.co.jp, example.jp, example.com) hold many
        # organisations, one label further down, as a public suffix does.
        found = ".".join(domain.split(".")[-(found.count(".") + 2):])
    return found


def _field_missing(code: Code) -> bool:
    return catalogue.get(code).field_missing


def _needs_reply(found: list[Code]) -> bool:
    effects = {catalogue.effect(c) for c in found}
    return Effect.FIX in effects and Effect.REVIEW not in effects


def _review(sub: Submission, code: Code, settings: Settings) -> Outcome:
    """A submission set aside for a person, for this one reason only."""
    return Outcome(Verdict.REVIEW, sub.kind, sub.guarantee_type, (code,),
                   tuple(settings.routing.review), sub.fields, sub.source)


def _outcome(mail: Mail, sub: Submission, found: tuple[Code, ...],
             settings: Settings) -> Outcome:
    effects = {catalogue.effect(c) for c in found}
    if Effect.REVIEW in effects:
        verdict, route = Verdict.REVIEW, tuple(settings.routing.review)
    elif Effect.FIX in effects:
        verdict, route = Verdict.CORRECTION, (reply_address(mail, settings) or "",)
    elif sub.guarantee_type is GuaranteeType.CONTRACT:
        verdict, route = Verdict.ROUTED, tuple(settings.routing.contract_guarantee)
    else:
        verdict, route = Verdict.ROUTED, tuple(settings.routing.advance_payment)
    return Outcome(verdict, sub.kind, sub.guarantee_type, found, route, sub.fields, sub.source)
