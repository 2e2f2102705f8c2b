"""Trial mode: the daemon beside the clerk, deciding everything, acting on nothing.

The mailbox and the outbox of a live run are wrapped, so that the loop, the state file
and every decision are the live ones:

- :class:`TrialBox`: nothing is moved (the intake folder is opened read-only besides):
  a message "filed" is recorded as done in the trial's own state file and logged
  (``trial.not_filed``); a held message is looked for where it still is, in the intake
  folder.
- :class:`TrialOutbox`: every mail goes to ``trial.address`` only, as
  :func:`daemon.compose.trial_copy` makes it (subject prefixed 【試行】, the would-be
  recipients named in a header), and no copy goes to the contract mailbox (``smtp.copy_to``):
  the clerk's mailbox gets nothing from a trial.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import Any

import structlog

from daemon.compose import trial_copy
from daemon.delivery import Sender
from daemon.mailbox import Box, Fetched

log = structlog.get_logger("daemon.trial")


class TrialBox:
    """An IMAP session (:class:`daemon.mailbox.Box`) that moves nothing: ``with
    TrialBox(session, intake) as box`` opens the session it wraps."""

    def __init__(self, session: AbstractContextManager[Box], intake: str) -> None:
        self.session = session
        self.intake = intake
        self.uidvalidity = 0

    def __enter__(self) -> TrialBox:
        self.box = self.session.__enter__()
        self.uidvalidity = self.box.uidvalidity
        return self

    def __exit__(self, *exc: Any) -> None:
        self.session.__exit__(*exc)

    def fetch_new(self, skip: Callable[[list[int]], set[int]], *,
                  headers: tuple[str, ...] = (),
                  body_unwanted: Callable[[bytes], bool] | None = None) -> Iterable[Fetched]:
        return self.box.fetch_new(skip, headers=headers, body_unwanted=body_unwanted)

    def find(self, message_id: str, folders: list[str]) -> tuple[str, Fetched] | None:
        """Held messages were never moved: they are in the intake folder."""
        return self.box.find(message_id, [self.intake])

    def file(self, uid: int, folder: str, *, then: Callable[[], None] | None = None) -> None:
        """Not moved: recorded as filed (``then``), and logged."""
        log.info("trial.not_filed", uid=uid, folder=folder)
        if then is not None:
            then()

    def flush(self) -> None:
        """Nothing waits to be moved."""

    def file_from(self, folder: str, uid: int, target: str) -> None:
        log.info("trial.not_filed", uid=uid, folder=target)

    def wait_for_news(self, seconds: float, interrupt: Callable[[], bool]) -> bool:
        return self.box.wait_for_news(seconds, interrupt)


class TrialOutbox:
    """An SMTP outbox (:class:`daemon.delivery.Sender`) that sends to the trial address."""

    def __init__(self, outbox: Sender, address: str) -> None:
        self.outbox = outbox
        self.address = address

    def send(self, message: bytes, recipients: tuple[str, ...], *,
             copy_to: str | None = None) -> None:
        """To the trial address instead of ``recipients``; no copy (see the module)."""
        log.info("trial.redirected", recipients=list(recipients), to=self.address)
        self.outbox.send(trial_copy(message, recipients, self.address), (self.address,))

    def probe(self) -> None:
        self.outbox.probe()

    def session(self) -> AbstractContextManager[None]:
        return self.outbox.session()
