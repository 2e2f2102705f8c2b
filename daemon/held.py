"""Held messages in the mailbox: the one a new mail completes, and the two as one.

The adapter around :mod:`daemon.pairing` (which is pure): it finds the held messages
a new mail may complete in the state file and the held folder, reads them, and asks
pairing which one, if any, the mail provably completes.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime

import structlog

from daemon import pairing
from daemon.classify import classify
from daemon.config import Settings
from daemon.mailbox import Box
from daemon.model import HeldReason, Mail, Submission, Verdict
from daemon.store import MessageRow
from daemon.store.messages import Messages

log = structlog.get_logger("daemon.held")

_REMEMBERED = 2 * pairing.MAX_WAITING  # held messages kept read during a poll

# Reads a message (bytes, arrival time, passwords to try) into a Mail.
Reader = Callable[[bytes, datetime | None, Iterable[str]], Mail]


@dataclass(frozen=True)
class Found:
    """A held message found in the mailbox, read: its record, folder and UID."""

    row: MessageRow
    folder: str
    uid: int
    mail: Mail


@dataclass(frozen=True)
class Pair:
    """A held message and the mail that completes it, read as one message."""

    first: Found
    combined: Mail
    follow_up_id: str

    @property
    def sources(self) -> tuple[str, str]:
        """The Message-IDs of both, the combined message's own first."""
        first = self.first.mail.message_id
        own = self.combined.message_id
        return own, (self.follow_up_id if own == first else first)


class Held:
    """The held messages of one office: in the state file, and in the held folder."""

    def __init__(self, settings: Settings, messages: Messages, read: Reader) -> None:
        self.settings = settings
        self.messages = messages
        self.read = read
        # Held messages found and read during this poll (a backlog from one company
        # would otherwise fetch and read each of them again for every new mail).
        self._seen: OrderedDict[int, tuple[str, int, Mail]] = OrderedDict()
        # What classify found in those of them waiting for the rest of a submission.
        self._classified: dict[int, tuple[Submission, ...]] = {}

    def forget(self) -> None:
        """A new poll: what was found in the held folder is looked for again."""
        self._seen.clear()
        self._classified.clear()

    def _submissions(self, held: MessageRow, mail: Mail) -> tuple[Submission, ...] | None:
        """A held message's submissions, when pairing will ask for them (it waits for the
        rest of a submission), worked out once while it is remembered."""
        if held.held_reason != HeldReason.REST:
            return None
        known = self._classified.get(held.id)
        if known is None:
            known = self._classified[held.id] = classify(mail, self.settings).submissions
        return known

    def reopen(self, mail: Mail, passwords: tuple[str, ...]) -> Mail:
        """A message read again, trying these passwords on its encrypted attachments."""
        return self.read(mail.raw, mail.received_at, passwords)

    def partner(self, box: Box, mail: Mail) -> Found | None:
        """The held message this mail provably completes (see daemon.pairing), if any."""
        if not mail.from_addr:
            return None
        found: dict[int, Found] = {}
        waiting: list[pairing.Waiting] = []
        folder = self.settings.imap.folders.held
        new = pairing.NewMail(mail, self.settings)
        looked_at = 0  # the held messages within pairing.MAX_WAITING, read or not
        # Those eligible (see pairing.eligible), with room for some moved by a person.
        rows = self.messages.waiting_for(mail.from_addr, mail.received_at,
                                         pairing.BY_PASSWORD, limit=2 * pairing.MAX_WAITING)
        for held in rows:
            candidate = pairing.Waiting(held.id, held.sender, held.held_reason or "",
                                        held.held_until, mail)
            if not pairing.eligible(candidate, mail) or looked_at >= pairing.MAX_WAITING:
                continue
            if not pairing.may_complete(candidate, new):
                looked_at += 1  # the mail cannot complete it, whatever it holds: not read
                continue
            first = self.fetch(box, held, [folder])
            if first is None:
                continue
            looked_at += 1
            found[held.id] = first
            waiting.append(replace(candidate, mail=first.mail,
                                   submissions=self._submissions(held, first.mail)))
        match = pairing.partner(waiting, new, self.settings, self.reopen)
        return None if match is None else found[match.key]

    def fetch(self, box: Box, held: MessageRow, folders: list[str]) -> Found | None:
        """A held message from the first of ``folders`` that has it, read (None, and a
        warning, when it is not there: moved by a person)."""
        known = self._seen.get(held.id)
        if known is not None and known[0] in folders:
            self._seen.move_to_end(held.id)
            return Found(held, *known)
        where = box.find(held.message_id, folders)
        if where is None:
            log.warning("held.missing", held_message_id=held.message_id)
            return None
        folder, fetched = where
        mail = self.read(fetched.raw, held.received_at, ())
        self._seen[held.id] = (folder, fetched.uid, mail)
        if len(self._seen) > _REMEMBERED:
            gone, _ = self._seen.popitem(last=False)
            self._classified.pop(gone, None)
        return Found(held, folder, fetched.uid, mail)

    def finished(self, box: Box, follow_up: MessageRow) -> Found:
        """The held message a follow-up was decided with (a run stopped half-way): in the
        held folder, or already filed in its verdict's."""
        first = self.messages.row(follow_up.paired_with or 0)
        folders = self.settings.imap.folders
        found = self.fetch(box, first, [
            folders.held, folders.for_verdict(Verdict(first.verdict or Verdict.REVIEW))])
        if found is None:
            raise LookupError(f"held message {first.message_id} not found")
        return found

    def pair(self, first: Found, mail: Mail) -> Pair:
        """A held message and its follow-up, read as one (see pairing.combined)."""
        combined = pairing.combined(first.mail, mail, self.reopen)
        return Pair(first, combined, mail.message_id)
