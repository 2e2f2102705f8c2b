"""The values that flow through the pipeline: read -> classify -> check -> decide.

All frozen dataclasses: a stage returns a new value and never changes the one it got.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime

from daemon.problems import Code


class Kind(enum.StrEnum):
    """What a message is, as far as the office's intake goes."""

    DSURE_KEY = "dsure-key"
    CONFIRMATION_SYSTEM = "confirmation-system"
    LEGACY_PDF = "legacy-pdf"
    OTHER = "other"


class GuaranteeType(enum.StrEnum):
    """The three guarantees; each goes to its own section."""

    CONTRACT = "contract"
    ADVANCE_PAYMENT = "advance-payment"
    INTERIM_ADVANCE_PAYMENT = "interim-advance-payment"


class Verdict(enum.StrEnum):
    """What the daemon does with a message."""

    ROUTED = "routed"
    CORRECTION = "correction"
    REVIEW = "review"
    IGNORED = "ignored"
    HELD = "held"  # waiting for a follow-up mail (a password, the rest of a submission)


class DocumentStatus(enum.StrEnum):
    """How far an attachment could be read."""

    TEXT = "text"  # text extracted
    NO_TEXT = "no-text"  # opened, but no text layer (a scan)
    ENCRYPTED = "encrypted"  # needs a password we do not have (or the one given is wrong)
    UNREADABLE = "unreadable"  # corrupt, not what its name says, or a reader failed
    SKIPPED = "skipped"  # a format we do not read (images, signatures, ...)
    TOO_LARGE = "too-large"  # over the configured limits: not opened


class IgnoredReason(enum.StrEnum):
    """Why a message gets no answer at all (an ignored decision's reason)."""

    OWN_MAIL = "own-mail"  # the daemon's own mail
    AUTO_SUBMITTED = "auto-submitted"  # Auto-Submitted, X-Auto-Response-Suppress
    READ_RECEIPT = "read-receipt"
    BOUNCE = "bounce"
    MAILING_LIST = "mailing-list"
    AUTO_REPLY_SUBJECT = "auto-reply-subject"  # an auto-reply by its subject
    AUTO_REPLY = "auto-reply"  # an auto-reply by a header or its first lines


class NoReceipt(enum.StrEnum):
    """Why a routed message's receipt (受領確認) is not sent (replies.receipt on)."""

    LIMIT_REACHED = "limit-reached"  # replies.per_sender_per_day or per_hour reached
    ALREADY_ROUTED = "already-routed"  # every submission in it was routed before


class HeldReason(enum.StrEnum):
    """What a held message waits for (a held decision's reason, the state's held_reason)."""

    PASSWORD = "waiting-for-password"  # noqa: S105 - a reason, not a secret
    REST = "waiting-for-rest"  # the other part of a submission sent in two mails
    DOCUMENT = "waiting-for-document"  # a password mail, for the attachment it opens


@dataclass(frozen=True)
class Attachment:
    """One attached file as it came, with what could be read from it."""

    filename: str
    content_type: str
    data: bytes = field(repr=False)
    status: DocumentStatus = DocumentStatus.SKIPPED
    text: str = field(default="", repr=False)
    detail: str = ""  # why it could not be read, for staff and the log

    @property
    def is_pdf(self) -> bool:
        """Named or labelled as a PDF (whatever it really is)."""
        return self.filename.lower().endswith(".pdf") or self.content_type == "application/pdf"


@dataclass(frozen=True)
class Mail:
    """A message as read: decoded headers, body text, attachments, arrival time."""

    message_id: str
    subject: str
    from_addr: str
    from_name: str
    reply_to: tuple[str, ...]
    to: tuple[str, ...]
    cc: tuple[str, ...]
    received_at: datetime  # server arrival time, timezone-aware
    body: str = field(repr=False)
    attachments: tuple[Attachment, ...] = ()
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    is_mime: bool = True
    raw: bytes = field(default=b"", repr=False)
    defects: tuple[str, ...] = ()
    # Follow-up messages decided together with this one (a password mail, the other half
    # of a submission), as they arrived; see daemon.pairing.combined.
    companions: tuple[bytes, ...] = field(default=(), repr=False)
    # The passwords tried on its encrypted attachments: those its text gives, and those
    # of a follow-up it was read again with.
    passwords: tuple[str, ...] = field(default=(), repr=False)

    def header(self, name: str) -> str | None:
        """The first header of that name (case-insensitive), decoded, or None."""
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None

    def header_all(self, name: str) -> list[str]:
        """Every header of that name, in order."""
        lname = name.lower()
        return [v for k, v in self.headers if k.lower() == lname]

    @property
    def recipients(self) -> tuple[str, ...]:
        """To and Cc, lower-cased: the addresses the sender really copied."""
        return tuple(a.lower() for a in (*self.to, *self.cc))


@dataclass(frozen=True)
class Fields:
    """What was extracted from a submission; None where not found."""

    contract_number: str | None = None
    auth_key: str | None = None
    view_url: str | None = None
    view_password: str | None = None
    project_name: str | None = None
    project_number: str | None = None
    contractor_name: str | None = None
    policy_number: str | None = None
    insurer: str | None = None
    guarantor: str | None = None
    issued_on: date | None = None
    first_contract_date: date | None = None
    document_password: str | None = None

    SECRET = ("auth_key", "view_password", "document_password")

    def public(self) -> dict[str, str]:
        """The fields for JSON and logs: secrets masked, empty ones left out."""
        out: dict[str, str] = {}
        for name in (
            "contract_number",
            "auth_key",
            "view_url",
            "view_password",
            "project_name",
            "project_number",
            "contractor_name",
            "policy_number",
            "insurer",
            "guarantor",
        ):
            value = getattr(self, name)
            if value:
                out[name] = mask(value) if name in self.SECRET else str(value)
        if self.issued_on:
            out["issued_on"] = self.issued_on.isoformat()
        if self.first_contract_date:
            out["first_contract_date"] = self.first_contract_date.isoformat()
        return out


def mask(secret: str) -> str:
    """Keep two characters so staff can tell keys apart; hide the rest."""
    return secret[:2] + "*" * max(len(secret) - 2, 4)


@dataclass(frozen=True)
class Submission:
    """One guarantee submitted: a key notice, a form, a policy, or values typed in the mail.

    A message may hold several (a contract and an advance-payment notice, two contracts);
    each is decided on its own.
    """

    kind: Kind
    guarantee_type: GuaranteeType | None
    fields: Fields
    source: str = ""  # the attachment it came from, or "" for the mail itself
    wrong_document: Code | None = None  # the problem code when it is not what may be sent


@dataclass(frozen=True)
class Classification:
    """What a message holds: its submissions and what could not be read."""

    submissions: tuple[Submission, ...]
    unreadable: tuple[Code, ...] = ()  # problem codes about reading: attachment-unreadable, ...
    sealed: bool = False  # an encrypted attachment that no password given opens
    has_invoice: bool = False  # a 請求書 is attached (name or text)
    password_given: bool = False  # the mail gives a password for a document


@dataclass(frozen=True)
class Outcome:
    """The verdict on one submission: its problem codes and where it goes."""

    verdict: Verdict
    kind: Kind
    guarantee_type: GuaranteeType | None
    # Code members; typed str while daemon.sandbox still builds its outcome with a literal.
    problems: tuple[Code, ...]
    route_to: tuple[str, ...]
    fields: Fields
    source: str = ""
    replaces: str | None = None  # Message-ID of an earlier submission this one replaces
    # Named in the receipt (受領確認) the contractor gets: routed, and not routed before.
    acknowledged: bool = False

    def to_json(self) -> dict[str, object]:
        """One submission as ``classify`` prints it; no secret in clear."""
        return {
            **_verdict_json(self),
            "source": self.source,
            **({"replaces": self.replaces} if self.replaces else {}),
        }


@dataclass(frozen=True)
class EarlierSubmission:
    """A submission decided before, as the state file keeps it (what a new one may
    replace)."""

    source: str  # Message-ID of the message it came in
    sender: str
    verdict: Verdict
    contract_number: str = ""
    policy_number: str = ""
    project_name: str = ""


def _verdict_json(v: Outcome | Decision) -> dict[str, object]:
    """The fields an outcome and a whole decision share in JSON."""
    return {
        "kind": v.kind.value,
        "verdict": v.verdict.value,
        "guarantee_type": v.guarantee_type.value if v.guarantee_type else None,
        "problems": list(v.problems),
        "route_to": list(v.route_to),
        "fields": v.fields.public(),
    }


_SEVERITY = (Verdict.HELD, Verdict.REVIEW, Verdict.CORRECTION, Verdict.ROUTED, Verdict.IGNORED)


@dataclass(frozen=True)
class Decision:
    """The verdict on one message (or a held message and its follow-up, decided together).

    ``verdict`` is the message's overall verdict, the most serious of its submissions'
    (held, then review, correction, routed); it decides the folder the message is filed in.
    """

    verdict: Verdict
    outcomes: tuple[Outcome, ...] = ()
    # Why, for the log and the state file: an IgnoredReason, a HeldReason, or for review
    # the review codes (comma-separated).
    reason: str = ""
    sources: tuple[str, ...] = ()  # Message-IDs decided together (first: the submission)
    held_until: datetime | None = None  # for held: when its wait is over
    # Where the receipt (受領確認) of a routed message goes (None: none is sent), and why
    # none is sent when one was due.
    receipt_to: str | None = None
    no_receipt: NoReceipt | None = None

    @property
    def kind(self) -> Kind:
        """The first submission's kind (``other`` when there is none)."""
        return self.outcomes[0].kind if self.outcomes else Kind.OTHER

    @property
    def guarantee_type(self) -> GuaranteeType | None:
        """The first submission's guarantee type."""
        return self.outcomes[0].guarantee_type if self.outcomes else None

    @property
    def problems(self) -> tuple[str, ...]:
        """Every problem code of every submission, in order, once each."""
        return tuple(dict.fromkeys(c for o in self.outcomes for c in o.problems))

    @property
    def route_to(self) -> tuple[str, ...]:
        """Every address the message's mails go to."""
        return tuple(dict.fromkeys(a for o in self.outcomes for a in o.route_to))

    @property
    def fields(self) -> Fields:
        """The first submission's fields."""
        return self.outcomes[0].fields if self.outcomes else Fields()

    def to_json(self) -> dict[str, object]:
        """The shape ``classify`` prints and the log records; no secret in clear."""
        return {
            **_verdict_json(self),
            "reason": self.reason,
            **({"held_until": self.held_until.isoformat()} if self.held_until else {}),
            **({"receipt_to": self.receipt_to} if self.receipt_to else {}),
            "submissions": [o.to_json() for o in self.outcomes],
        }


def overall(verdicts: list[Verdict]) -> Verdict:
    """The most serious of several verdicts (an empty list is ``ignored``)."""
    if not verdicts:
        return Verdict.IGNORED
    return min(verdicts, key=_SEVERITY.index)


# --- what happens to the mails the daemon sends (the state file records it) ---------

class Action(enum.StrEnum):
    """What a mail the daemon sends does: the start of its action name in the state file
    and its Message-ID ("forward", "reply-2", "undeliverable-reply-2", "quarantine")."""

    FORWARD = "forward"  # a submission to staff (routed, review)
    REPLY = "reply"  # a correction to the contractor
    RECEIPT = "receipt"  # the acknowledgement (受領確認) of a routed message, to the contractor
    UNDELIVERABLE = "undeliverable"  # staff told that a mail was refused for good
    QUARANTINE = "quarantine"  # staff told that a message was set aside
    REDECIDED = "redecided"  # staff told that a replay changed what they were sent


# The mails to the contractor: each counted against the reply caps (replies.*).
TO_CONTRACTOR = frozenset({Action.REPLY, Action.RECEIPT})


def action_of(name: str) -> Action:
    """The action an action name performs ("reply-2": reply; "undeliverable-forward":
    undeliverable); an unknown one raises ValueError."""
    return Action(name.split("-", 1)[0])


class OutState(enum.StrEnum):
    """Where an outgoing mail is."""

    QUEUED = "queued"    # to be sent (again: after a temporary failure, or a wait)
    SENDING = "sending"  # being handed over; a run that stops now leaves it uncertain
    SENT = "sent"        # the server took it (it answered, or its copy was seen)
    FAILED = "failed"    # refused for good (5xx); staff are told instead


# The steps a mail may take. A queued mail becomes sent without being handed over again
# when the copy of an earlier, cut-off hand-over is seen.
TRANSITIONS: dict[OutState, frozenset[OutState]] = {
    OutState.QUEUED: frozenset({OutState.SENDING, OutState.QUEUED, OutState.SENT}),
    OutState.SENDING: frozenset({OutState.SENT, OutState.QUEUED, OutState.FAILED}),
    OutState.SENT: frozenset(),
    OutState.FAILED: frozenset(),
}


class StepError(Exception):
    """A mail was asked to take a step its state does not allow."""


def check_step(now: OutState, to: OutState) -> None:
    """Raise :class:`StepError` unless a mail in state ``now`` may move to ``to``."""
    if to not in TRANSITIONS[now]:
        raise StepError(f"an outgoing mail cannot go from {now} to {to}")
