"""Which held message a new mail completes, by proof, and the two read as one.

Pure: the held messages (already read), the new mail and a way to read a message again
with passwords come in; the answer is the one held message the mail provably completes,
or none. A held message and a later mail are one submission only when:

- *a password*: a password the one gives (beside a label, in the subject, or alone on a
  line) opens an encrypted attachment of the other. It is tried, not guessed. This works
  both ways: a password mail that came first waits for the attachment it opens. The two
  may come from different addresses of the same organisation (the same domain).
- *the rest of a submission*: from the same address, the mail supplies exactly what the
  held one lacks (the 閲覧用URL of a form, the form of a URL, the 認証キー of a
  保証契約番号 or the other way round), and where both name the works (工事名, 工事番号,
  保証契約番号, 証券番号) they name the same.

A mail that could complete several held messages pairs with the one it completes with
the strongest proof (opened, then the same works named, then only fitting); a tie pairs
with none. A password that opens nothing pairs with nothing: the password mail waits
briefly for an attachment it opens, then goes to review; the attachment, once its own
wait is over, asks for the right password. Whatever the fetch order, the same two
messages make the same combined message (see :func:`combined`), so the outcome does not
depend on which came first.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cached_property

from daemon.classify import classify, password_candidates
from daemon.config import Settings
from daemon.decide import ignore_reason
from daemon.japanese import normalize
from daemon.model import DocumentStatus, Fields, HeldReason, Kind, Mail, Submission

# Reads a message again, trying these passwords on its encrypted attachments.
Opener = Callable[[Mail, tuple[str, ...]], Mail]

# At most this many held messages are looked at for one new mail (bounded work).
MAX_WAITING = 12

# Held for these, a message may be completed from another address of its domain.
BY_PASSWORD = (HeldReason.PASSWORD, HeldReason.DOCUMENT)


class Proof(enum.IntEnum):
    """How sure it is that a mail completes a held message."""

    NONE = 0
    FITS = 1  # it supplies what is missing, and nothing says otherwise
    NAMED = 2  # it also names the same works
    OPENED = 3  # its password opens the held attachment (or the other way round)


@dataclass(frozen=True)
class Known:
    """What pairing asks of a held message, worked out once (see :func:`known`)."""

    submissions: tuple[Submission, ...] = ()  # waiting for the rest: what it submits
    passwords: tuple[str, ...] = ()  # waiting for a document: the passwords it gives


@dataclass(frozen=True)
class Waiting:
    """A held message as pairing sees it: the message read, or what is known of it."""

    key: int  # the caller's handle (the state file's row id)
    sender: str
    reason: str  # a HeldReason (as the state file gives it back)
    until: datetime | None
    mail: Mail | None = None
    # What pairing asks of it, when the caller kept it from an earlier read (the same
    # held message is looked at for every new mail of its sender, poll after poll).
    known: Known | None = None


def known(reason: str, mail: Mail, settings: Settings) -> Known | None:
    """What pairing asks of a message held for ``reason``: it never changes, so a caller
    may keep it instead of reading the message again for every new mail. None when the
    message itself is what is tried (its attachment waits for a password)."""
    if reason == HeldReason.REST:
        return Known(submissions=classify(mail, settings).submissions)
    if reason == HeldReason.DOCUMENT:
        return Known(passwords=tuple(password_candidates(mail)))
    return None


def _held_mail(waiting: Waiting) -> Mail:
    if waiting.mail is None:
        raise ValueError(f"held message {waiting.key} ({waiting.reason}) is needed read")
    return waiting.mail


class NewMail:
    """The new mail, with what pairing asks of it worked out once for all held messages."""

    def __init__(self, mail: Mail, settings: Settings) -> None:
        self.mail = mail
        self.settings = settings

    @cached_property
    def ignored(self) -> bool:
        return ignore_reason(self.mail, self.settings) is not None

    @cached_property
    def submissions(self) -> tuple[Submission, ...]:
        return classify(self.mail, self.settings).submissions

    @cached_property
    def passwords(self) -> tuple[str, ...]:
        return tuple(password_candidates(self.mail))


def eligible(waiting: Waiting, mail: Mail) -> bool:
    """Whether ``mail`` may complete ``waiting`` at all: it came before the wait was over,
    from the same address, or (for a password, whose proof is that it opens) from
    another address of the same domain. An unknown sender completes nothing."""
    if not mail.from_addr or waiting.until is None or mail.received_at > waiting.until:
        return False
    held, new = waiting.sender.lower(), mail.from_addr.lower()
    if held == new:
        return True
    return waiting.reason in BY_PASSWORD and _domain(held) == _domain(new) != ""


def _domain(address: str) -> str:
    return address.rpartition("@")[2]


def sealed(mail: Mail) -> bool:
    """It has an attachment still encrypted."""
    return any(a.status is DocumentStatus.ENCRYPTED for a in mail.attachments)


def opens(passwords: Sequence[str], mail: Mail, opener: Opener) -> bool:
    """One of ``passwords`` opens an encrypted attachment of ``mail`` (tried)."""
    if not passwords or not sealed(mail):
        return False
    again = opener(mail, tuple(passwords))
    return any(before.status is DocumentStatus.ENCRYPTED
               and after.status is not DocumentStatus.ENCRYPTED
               for before, after in zip(mail.attachments, again.attachments, strict=False))


def proof(waiting: Waiting, mail: Mail, settings: Settings, opener: Opener) -> Proof:
    """How surely ``mail`` completes ``waiting`` (NONE: it does not)."""
    return _proof(waiting, NewMail(mail, settings), opener)


def may_complete(waiting: Waiting, new: NewMail) -> bool:
    """False when the new mail cannot complete ``waiting`` whatever the held message
    holds, so that it need not be fetched and read: what :func:`proof` asks of the new
    mail alone (it is not ignored; it gives a password for a held attachment, it has an
    encrypted attachment for a held password, it comes from the same address with a
    submission for a held part). True says nothing: only the proof pairs."""
    if not eligible(waiting, new.mail) or new.ignored:
        return False
    if waiting.reason == HeldReason.PASSWORD:
        return bool(new.passwords)
    if waiting.reason == HeldReason.DOCUMENT:
        return sealed(new.mail)
    if waiting.reason == HeldReason.REST:
        return waiting.sender.lower() == new.mail.from_addr.lower() and bool(new.submissions)
    return False


def _proof(waiting: Waiting, new: NewMail, opener: Opener) -> Proof:
    mail = new.mail
    if not eligible(waiting, mail) or new.ignored:
        return Proof.NONE
    if waiting.reason == HeldReason.PASSWORD:
        return _password_proof(_held_mail(waiting), new.passwords, opener)
    if waiting.reason == HeldReason.DOCUMENT:
        given = (waiting.known.passwords if waiting.known is not None
                 else tuple(password_candidates(_held_mail(waiting))))
        return _password_proof(mail, given, opener)
    if waiting.reason == HeldReason.REST and waiting.sender.lower() == mail.from_addr.lower():
        held = (waiting.known.submissions if waiting.known is not None
                else classify(_held_mail(waiting), new.settings).submissions)
        return rest_proof(held, new.submissions)
    return Proof.NONE


def _password_proof(locked: Mail, candidates: Sequence[str], opener: Opener) -> Proof:
    """A password of ``candidates`` (what the other mail gives) opens ``locked``'s
    encrypted attachment: OPENED. A password that opens nothing pairs with nothing,
    whatever else is held (a zip sent next may be the one it opens; the held
    attachment's own wait decides, see :func:`daemon.decide.finalize`)."""
    if not sealed(locked):
        return Proof.NONE
    return Proof.OPENED if opens(candidates, locked, opener) else Proof.NONE


def rest_proof(held: Sequence[Submission], new: Sequence[Submission]) -> Proof:
    """How surely the new mail's submissions supply what the held one lacks, for the
    same works (a held message with several submissions is not waiting for a part)."""
    if len(held) != 1:
        return Proof.NONE
    best = Proof.NONE
    for sub in new:
        if not supplies(held[0], sub):
            continue
        best = max(best, same_works(held[0].fields, sub.fields))
    return best


def supplies(held: Submission, new: Submission) -> bool:
    """``new`` is the missing part of ``held``, and not a whole submission of its own."""
    if held.kind is not new.kind:
        return False
    h, n = held.fields, new.fields
    if held.kind is Kind.CONFIRMATION_SYSTEM:
        if held.source and h.view_url is None:  # a form: its URL follows
            return not new.source and n.view_url is not None
        if not held.source and h.view_url is not None:  # a URL: its form follows
            return bool(new.source) and n.view_url in (None, h.view_url)
        return False
    if held.kind is Kind.DSURE_KEY and not held.source and not new.source:
        if h.contract_number and not h.auth_key:  # the key follows
            return n.auth_key is not None
        if h.auth_key and not h.contract_number:  # the number follows
            return n.contract_number is not None and n.auth_key in (None, h.auth_key)
    return False


_WORKS = ("contract_number", "policy_number", "project_number", "project_name")


def same_works(held: Fields, new: Fields) -> Proof:
    """NAMED when both name the works alike, NONE when they name different works,
    FITS when they do not both name them."""
    named = False
    for name in _WORKS:
        a, b = getattr(held, name), getattr(new, name)
        if a and b:
            if _plain(a) != _plain(b):
                return Proof.NONE
            named = True
    return Proof.NAMED if named else Proof.FITS


def _plain(value: str) -> str:
    return "".join(normalize(value).split()).lower()


def partner(waiting: Sequence[Waiting], mail: Mail | NewMail, settings: Settings,
            opener: Opener) -> Waiting | None:
    """The held message ``mail`` completes: the one with the strongest proof, none on a
    tie (a mail that could complete two is matched by a person's eye or not at all)."""
    new = mail if isinstance(mail, NewMail) else NewMail(mail, settings)
    scored = [(_proof(w, new, opener), w) for w in waiting[:MAX_WAITING]]
    best = max((p for p, _ in scored), default=Proof.NONE)
    if best is Proof.NONE:
        return None
    top = [w for p, w in scored if p is best]
    return top[0] if len(top) == 1 else None


def order(one: Mail, other: Mail) -> tuple[Mail, Mail]:
    """The two messages of a pair, the submission first: the one with more attachments
    (the document), else by Message-ID; never by which arrived first, so that a pair
    is the same whatever the order it was fetched in."""
    first, second = sorted((one, other), key=lambda m: (-len(m.attachments), m.message_id))
    return first, second


def combined(held: Mail, mail: Mail, opener: Opener) -> Mail:
    """A held message and the mail that completes it, read as one message.

    Each is read again with every password either gives; the texts and attachments of
    both count; the submission's (see :func:`order`) identity and arrival time stand.
    """
    passwords = tuple(dict.fromkeys([*password_candidates(held), *password_candidates(mail)]))
    leading, following = order(held, mail)
    first, second = (opener(m, passwords) if sealed(m) else m for m in (leading, following))
    return replace(
        first,
        body=f"{first.body}\n{second.body}",
        attachments=(*first.attachments, *second.attachments),
        companions=(*leading.companions, following.raw),
        # Only passwords tried on an attachment count as given (a key alone on its line
        # in a typed submission is no password).
        passwords=tuple(dict.fromkeys([*first.passwords, *second.passwords])),
    )
