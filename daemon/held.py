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
from daemon.config import Settings
from daemon.mailbox import Box
from daemon.model import Mail, Verdict
from daemon.store import MessageRow
from daemon.store.messages import Messages

log = structlog.get_logger("daemon.held")

# Held messages kept read during a poll: at most this many, of at most this many bytes.
_REMEMBERED = 2 * pairing.MAX_WAITING
_REMEMBERED_BYTES = 64 << 20
# Held messages whose pairing facts (pairing.known) are kept across polls: a backlog of
# incomplete submissions from one company is then read once, not for every new mail.
_KNOWN = 4096

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
        self._seen_bytes = 0
        # What pairing asks of held messages read before, kept across polls (a message's
        # content never changes, nor do the settings while the daemon runs).
        self._known: OrderedDict[int, pairing.Known] = OrderedDict()

    def forget(self) -> None:
        """A new poll: what was found in the held folder is looked for again (a person
        may have moved it); what is known of its content is kept."""
        self._seen.clear()
        self._seen_bytes = 0

    def _remember(self, held: MessageRow, mail: Mail) -> pairing.Known | None:
        """What pairing asks of a held message just read, kept for the next mails."""
        known = pairing.known(held.held_reason or "", mail, self.settings)
        if known is not None:
            self._known[held.id] = known
            if len(self._known) > _KNOWN:
                self._known.popitem(last=False)
        return known

    def reopen(self, mail: Mail, passwords: tuple[str, ...]) -> Mail:
        """A message read again, trying these passwords on its encrypted attachments."""
        return self.read(mail.raw, mail.received_at, passwords)

    def partner(self, box: Box, mail: Mail) -> Found | None:
        """The held message this mail provably completes (see daemon.pairing), if any."""
        if not mail.from_addr:
            return None
        new = pairing.NewMail(mail, self.settings)
        # Those eligible (see pairing.eligible), with room for some moved by a person.
        rows = {row.id: row for row in self.messages.waiting_for(
            mail.from_addr, mail.received_at, pairing.BY_PASSWORD,
            limit=2 * pairing.MAX_WAITING)}
        gone: set[int] = set()  # known, but no longer in the held folder
        while True:
            found, waiting = self._candidates(box, rows, new, gone)
            match = pairing.partner(waiting, new, self.settings, self.reopen)
            if match is None:
                return None
            if match.key in found:
                return found[match.key]
            first = self.fetch(box, rows[match.key], [self.settings.imap.folders.held])
            if first is not None:
                return first
            gone.add(match.key)  # as if it had been read and found missing: look again

    def _candidates(self, box: Box, rows: dict[int, MessageRow], new: pairing.NewMail,
                    gone: set[int]) -> tuple[dict[int, Found], list[pairing.Waiting]]:
        """The held messages the new mail may complete, as pairing sees them: read, or
        (when what pairing asks of them is known from an earlier read) not."""
        found: dict[int, Found] = {}
        waiting: list[pairing.Waiting] = []
        looked_at = 0  # the held messages within pairing.MAX_WAITING, read or not
        for held in rows.values():
            candidate = pairing.Waiting(held.id, held.sender, held.held_reason or "",
                                        held.held_until)
            if (held.id in gone or not pairing.eligible(candidate, new.mail)
                    or looked_at >= pairing.MAX_WAITING):
                continue
            if not pairing.may_complete(candidate, new):
                looked_at += 1  # the mail cannot complete it, whatever it holds: not read
                continue
            known = self._known.get(held.id)
            if known is not None:
                self._known.move_to_end(held.id)
                looked_at += 1
                waiting.append(replace(candidate, known=known))
                continue
            first = self.fetch(box, held, [self.settings.imap.folders.held])
            if first is None:
                continue
            looked_at += 1
            found[held.id] = first
            waiting.append(replace(candidate, mail=first.mail,
                                   known=self._remember(held, first.mail)))
        return found, waiting

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
        if held.id in self._seen:  # read before from another folder
            self._seen_bytes -= len(self._seen.pop(held.id)[2].raw)
        self._seen[held.id] = (folder, fetched.uid, mail)
        self._seen_bytes += len(mail.raw)
        while len(self._seen) > _REMEMBERED or (
                self._seen_bytes > _REMEMBERED_BYTES and len(self._seen) > 1):
            _, (_, _, dropped) = self._seen.popitem(last=False)
            self._seen_bytes -= len(dropped.raw)
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
