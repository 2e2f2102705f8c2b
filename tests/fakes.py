"""An in-memory mailbox and SMTP server for fast tests of :class:`daemon.service.Intake`.

They behave as the real ones do where the loop can tell: UIDs per folder that only grow,
a message filed once leaves its folder, a mail the server takes is delivered with the
daemon's copy to the copy address (the intake mailbox, as Postfix does), and a failure
is the same :class:`daemon.outbox.SendError` the real outbox raises. The real-stack tests
(tests/test_stack*.py) stay the proof against Postfix and Dovecot.
"""

from __future__ import annotations

import contextlib
import email
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from email.policy import default

from daemon.mailbox import Fetched
from daemon.outbox import SendError


def parsed(raw: bytes) -> Message:
    """A message's bytes as the email package reads them."""
    return email.message_from_bytes(raw, policy=default)


@dataclass
class Stored:
    """A message in a folder."""

    uid: int
    raw: bytes
    arrived: datetime

    @property
    def message(self) -> Message:
        return parsed(self.raw)


@dataclass
class FakeMailbox:
    """Folders of messages; the intake folder is ``intake``."""

    intake: str
    arrived: datetime
    uidvalidity: int = 1
    folders: dict[str, list[Stored]] = field(default_factory=dict)
    next_uid: dict[str, int] = field(default_factory=dict)
    refuse_filing_to: set[str] = field(default_factory=set)  # folders a move to fails
    # Moves out of the intake folder waiting, as Mailbox.file keeps them until a flush.
    to_file: list[tuple[int, str, Callable[[], None] | None]] = field(default_factory=list)

    def __enter__(self) -> FakeMailbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.to_file.clear()  # as Mailbox.close: the next poll files them

    def deliver(self, raw: bytes, folder: str | None = None,
                arrived: datetime | None = None) -> int:
        """A message arrives (in the intake folder); its UID there."""
        name = folder or self.intake
        uid = self.next_uid.get(name, 1)
        self.next_uid[name] = uid + 1
        self.folders.setdefault(name, []).append(Stored(uid, raw, arrived or self.arrived))
        return uid

    def held(self, folder: str) -> list[Message]:
        """The messages in a folder, oldest first."""
        return [s.message for s in self.folders.get(folder, [])]

    def fetch_new(self, skip: Callable[[list[int]], set[int]], *,
                  headers: tuple[str, ...] = (),
                  body_unwanted: Callable[[bytes], bool] | None = None) -> Iterator[Fetched]:
        waiting = list(self.folders.get(self.intake, []))
        done = skip([s.uid for s in waiting])
        for stored in waiting:
            if stored.uid in done:
                continue
            head = stored.raw.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
            if body_unwanted is not None and body_unwanted(head):
                yield Fetched(stored.uid, head, stored.arrived, whole=False)
            else:
                yield Fetched(stored.uid, stored.raw, stored.arrived)

    def find(self, message_id: str, folders: list[str]) -> tuple[str, Fetched] | None:
        self.flush()
        for name in folders:
            for stored in self.folders.get(name, []):
                if str(stored.message["Message-ID"] or "").strip() == message_id:
                    return name, Fetched(stored.uid, stored.raw, stored.arrived)
        return None

    def file(self, uid: int, folder: str, *, then: Callable[[], None] | None = None) -> None:
        """Kept until the next flush, as Mailbox.file does (a refused folder fails at
        once here, so that the message at hand is the one that failed)."""
        if folder in self.refuse_filing_to:
            raise RuntimeError(f"the server refused to move the message to {folder}")
        self.to_file.append((uid, folder, then))

    def flush(self) -> None:
        while self.to_file:
            uid, folder, then = self.to_file.pop(0)
            self._move(self.intake, uid, folder)
            if then is not None:
                then()

    def wait_for_news(self, seconds: float, interrupt: Callable[[], bool]) -> bool:
        """No server to wait on: there is news when something waits in the intake folder."""
        self.flush()
        return bool(self.folders.get(self.intake)) and not interrupt()

    def file_from(self, folder: str, uid: int, target: str) -> None:
        self.flush()
        if target in self.refuse_filing_to:
            raise RuntimeError(f"the server refused to move the message to {target}")
        self._move(folder, uid, target)

    def _move(self, folder: str, uid: int, target: str) -> None:
        [stored] = [s for s in self.folders.get(folder, []) if s.uid == uid]
        self.folders[folder].remove(stored)
        self.deliver(stored.raw, target, stored.arrived)


@dataclass
class Handed:
    """A mail the server took."""

    raw: bytes
    recipients: tuple[str, ...]

    @property
    def message(self) -> Message:
        return parsed(self.raw)


@dataclass
class FakeOutbox:
    """An SMTP server: takes mail, or fails as told (``failures``, one per hand-over)."""

    mailbox: FakeMailbox
    copy_address: str
    taken: list[Handed] = field(default_factory=list)
    failures: list[SendError] = field(default_factory=list)
    probe_failures: list[SendError] = field(default_factory=list)
    # A hand-over cut off after the server took the mail: its copy comes, the answer not.
    cut_off_after_taking: int = 0
    handovers: int = 0

    def send(self, message: bytes, recipients: tuple[str, ...], *,
             copy_to: str | None = None) -> None:
        self.handovers += 1
        if self.failures:
            raise self.failures.pop(0)
        self.taken.append(Handed(message, recipients))
        if copy_to == self.copy_address:
            self.mailbox.deliver(message)
        if self.cut_off_after_taking:
            self.cut_off_after_taking -= 1
            raise SendError("SMTP failed: connection reset", permanent=False, uncertain=True)

    def session(self) -> AbstractContextManager[None]:
        return contextlib.nullcontext()

    def probe(self) -> None:
        if self.probe_failures:
            raise self.probe_failures.pop(0)

    def to(self, address: str) -> list[Message]:
        """The mails the server took for this address."""
        return [h.message for h in self.taken if address in h.recipients]
