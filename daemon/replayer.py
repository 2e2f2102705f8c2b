"""The ``replay`` command: one message decided again from its original on the server with
the current config, shown beside its recorded decision, and acted on only with
``--apply``.

Without ``--apply`` nothing is sent, moved or written: the state file is opened read-only
and every folder with EXAMINE. With it, and a decision that changed, the new mails are
queued with the replay in one transaction, beside the 再判定 notices to staff whose
earlier mail a changed verdict voids, and sent exactly once (:mod:`daemon.delivery`),
the message is moved to its new verdict's folder, and only then does its record take the
new decision: a run stopped half-way is finished by ``--apply`` again, with the same
Message-IDs. What is compared and shown, and the replay's mails, are
:mod:`daemon.replay`'s (pure).
"""

from __future__ import annotations

import enum
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial

import structlog

from daemon import display
from daemon.compose import Redecision, compose
from daemon.config import Settings
from daemon.decide import finalize
from daemon.delivery import Delivery, Sender
from daemon.lifecycle import secrets_of
from daemon.log import masked
from daemon.mailbox import Box, Fetched
from daemon.model import Decision, Mail, NoReceipt
from daemon.process import protect_secrets, read_mail
from daemon.replay import (
    AsOf,
    Summary,
    as_replay,
    changes,
    refusal,
    render,
    search_folders,
    staff_notices,
)
from daemon.replay import message_id as recorded_id
from daemon.sandbox import decide_in_child
from daemon.store import Store
from daemon.store.replays import Begun, Recorded

log = structlog.get_logger("daemon.replayer")

# An IMAP session on the contract mailbox, read-only (EXAMINE) when asked.
Connect = Callable[[bool], AbstractContextManager[Box]]


class Exit(enum.IntEnum):
    """The command's exit status."""

    DONE = 0         # shown, applied, or no change
    UNAVAILABLE = 1  # the IMAP server (or, to apply, the SMTP server) could not be used now
    CONFIG = 2       # a config error, or --apply in trial mode
    UNKNOWN = 3      # no such message in the state file
    GONE = 4         # the original is no longer on the server
    REFUSED = 5      # held, in quarantine, paired with another, or not finished


class Replayer:
    """Replays messages of one office: its state file, mailbox and (to apply) outbox."""

    def __init__(self, settings: Settings, store: Store, *, connect: Connect,
                 outbox: Sender | None = None, clock: Callable[[], datetime] | None = None,
                 say: Callable[[str], None] = print,
                 complain: Callable[[str], None] | None = None) -> None:
        self.settings = settings
        self.store = store
        self.connect = connect
        self.outbox = outbox
        self.clock = clock or (lambda: datetime.now(UTC))
        self.say = say  # what the command prints (stdout)
        self.complain = complain or _to_stderr  # why it stopped (stderr)

    def replay(self, typed_id: str, *, apply: bool) -> Exit:
        """Decide the message again, show both decisions, and act with ``apply``."""
        wanted = recorded_id(typed_id)
        with structlog.contextvars.bound_contextvars(message_id=wanted):
            return self._replay(wanted, apply=apply)

    def _replay(self, wanted: str, *, apply: bool) -> Exit:
        chosen = _choose(self.store.replays.recorded(wanted))
        if chosen is None:
            self.complain(f"no message {_shown(wanted)} in the state file")
            return Exit.UNKNOWN
        row = chosen.row
        why = refusal(row.state.value, row.verdict, paired=chosen.paired)
        if why is not None:
            self.complain(f"replay refused: {_shown(wanted)}: {why}")
            return Exit.REFUSED
        begun = self.store.replays.begun(row.id)
        with self.connect(not apply) as box:
            where = search_folders(self.settings, str(row.verdict))
            found = box.find(wanted, where)
            if found is None:
                self.complain(f"the original of {_shown(wanted)} is no longer on the"
                              f" server (looked in {', '.join(where)})")
                return Exit.GONE
            folder, fetched = found
            at = begun.at if begun is not None else self.clock()
            mail, decision = self._decide(fetched, at, row.decided_at or at)
            old, new = Summary.from_json(chosen.decision), Summary.of(decision)
            secrets = secrets_of(mail, decision)
            for line in render(wanted, folder, old, new):
                self.say(masked(line, secrets))
            changed = changes(old, new)
            if not apply or (not changed and begun is None):
                self._tell_shown(old, new, changed, begun, apply=apply)
                return Exit.DONE
            return self._apply(box, chosen, mail, decision, (folder, fetched.uid), at, begun)

    def _decide(self, fetched: Fetched, at: datetime, decided_at: datetime
                ) -> tuple[Mail, Decision]:
        """The original read and decided as ``run`` would now, with the current config:
        in children with the office's limits, never held again (its wait is long over),
        the history as of its first decision."""
        mail = read_mail(self.settings.limits, fetched.raw, fetched.internaldate)
        decision, err = decide_in_child(mail, self.settings, can_wait=False,
                                        sources=(mail.message_id,), now=at)
        if err is not None:
            log.warning("message.decide_failed", kind=err.kind, error=str(err)[:300])
        decision = finalize(decision, mail, self.settings, now=at,
                            history=AsOf(self.store, decided_at))
        protect_secrets(mail, decision)
        return mail, decision

    def _tell_shown(self, old: Summary, new: Summary, changed: tuple[str, ...],
                    begun: Begun | None, *, apply: bool) -> None:
        """What is left to do, and the log line of a replay that acted on nothing."""
        if begun is not None:
            self.say("an earlier replay --apply of it did not finish: --apply finishes it")
        elif not apply and changed:
            self.say("shown only: nothing sent, moved or written (--apply acts on it)")
        log.info("replay.shown", changed=list(changed), old=old.to_json(), new=new.to_json(),
                 apply=apply)

    def _apply(self, box: Box, chosen: Recorded, mail: Mail, decision: Decision,
               place: tuple[str, int], at: datetime, begun: Begun | None) -> Exit:
        """Queue the new mails with the replay, send them once, move the message, then
        record its new decision."""
        row, settings = chosen.row, self.settings
        assert self.outbox is not None, "applying needs the outbox"
        number = begun.number if begun is not None else self.store.replays.next_number(row.id)
        replaces = self.store.replays.earlier_mails(row.id)
        if decision.receipt_to is not None and self.store.replays.receipted(row.id):
            # Routed again (another section, a correction reversed): the contractor had
            # the receipt of this message once, and gets no second one.
            decision = replace(decision, receipt_to=None, no_receipt=NoReceipt.ALREADY_ROUTED,
                               outcomes=tuple(replace(o, acknowledged=False)
                                              for o in decision.outcomes))
        earlier = Redecision(str(chosen.decision.get("verdict") or ""), tuple(
            (m.out_message_id, m.recipients)
            for m in self.store.replays.earlier_staff_mails(row.id)))
        mails = as_replay(compose(decision, mail, settings, at, earlier), decision.sources,
                          number, replaces, settings.smtp.sender)
        notices = staff_notices(decision, mail, settings, at, earlier=earlier, sent=mails,
                                number=number)
        mails += notices
        replay = self.store.replays.begin(
            row.id, at, Summary.from_json(chosen.decision).to_json(),
            Summary.of(decision).to_json(),
            [(m.action, m.message_id, m.recipients) for m in mails],
            begun=begun.id if begun is not None else None)
        delivery = Delivery(settings, self.store.outgoing, self.outbox, self.clock)
        with self.outbox.session():
            waiting = delivery.send(row.id, list(mails), decision, mail, at,
                                    partial(_copy_seen, box, settings))
        if waiting:
            self.complain(f"not all sent yet ({waiting.value}): replay --apply again finishes it")
            return Exit.UNAVAILABLE
        folder, uid = place
        target = settings.imap.folders.for_verdict(decision.verdict)
        if target != folder:
            box.file_from(folder, uid, target)
        self.store.replays.finish(replay, row.id, decision)
        log.info("replay.applied", verdict=decision.verdict.value, number=number,
                 problems=list(decision.problems), route_to=list(decision.route_to),
                 out_message_ids=[m.message_id for m in mails], replaces=replaces,
                 staff_told=[m.message_id for m in notices], folder=target)
        sent = ", ".join(_shown(m.message_id) for m in mails) or "none"
        self.say(f"applied: mails sent: {sent}; filed in {_shown(target)}")
        if replaces:  # they are not withdrawn: whoever got them may need telling
            self.say(f"they replace: {', '.join(map(_shown, replaces))}")
        told = list(dict.fromkeys(a for n in notices for a in n.recipients))
        if told:
            self.say(f"staff told of the change: {', '.join(map(_shown, told))}")
        return Exit.DONE


def _choose(records: list[Recorded]) -> Recorded | None:
    """The record to replay: of those not a copy of another, the newest that may be
    replayed, else the newest (whose refusal is then said)."""
    firsts = [r for r in records if r.row.duplicate_of is None]
    allowed = [r for r in firsts if refusal(r.row.state.value, r.row.verdict,
                                            paired=r.paired) is None]
    chosen = allowed or firsts
    return chosen[0] if chosen else None


def _copy_seen(box: Box, settings: Settings, out_message_id: str) -> bool:
    """Whether the server delivered the daemon's copy of this mail (see Processor)."""
    return box.find(out_message_id, [settings.imap.folder, settings.imap.folders.sent]) \
        is not None


def _to_stderr(text: str) -> None:
    print(f"surety-intake: {text}", file=sys.stderr)


def _shown(text: str) -> str:
    """A Message-ID or folder name as printed: on one line, controls escaped."""
    return display.for_staff(text, escape_breaks=True)


def command(settings: Settings, typed_id: str, *, apply: bool) -> int:
    """``surety-intake replay MESSAGE-ID [--apply]`` on the office's state file, mailbox
    and outbox; the exit status (see :class:`Exit`). Problems go to stderr, the log (JSON)
    too: stdout holds the two decisions."""
    import sqlite3  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    from daemon import config, connections  # noqa: PLC0415
    from daemon.config import ConfigError  # noqa: PLC0415
    from daemon.mailbox import MailboxError  # noqa: PLC0415
    from daemon.process import CONNECTION_ERRORS  # noqa: PLC0415
    from daemon.store import StateUnavailableError, StateVersionError  # noqa: PLC0415

    def fail(text: str, status: Exit) -> int:
        _to_stderr(text)
        return status

    try:
        config.check_for_run(settings)
        oauth = connections.tokens(settings)
        make_mailbox = connections.mailboxes(settings, oauth=oauth)
        outbox = connections.outbox(settings, oauth=oauth) if apply else None
    except ConfigError as err:
        return fail(f"config error: {err}", Exit.CONFIG)
    state = Path(settings.state.path)
    if not state.exists():
        return fail(f"no message {_shown(recorded_id(typed_id))} in the state file"
                    f" (there is no state file {state})", Exit.UNKNOWN)
    try:
        store = Store(state, busy_timeout=settings.state.busy_timeout_seconds,
                      read_only=not apply)
    except StateVersionError as err:
        return fail(str(err), Exit.CONFIG)
    except (StateUnavailableError, sqlite3.Error) as err:
        return fail(f"cannot read the state file {state}: {err}", Exit.UNAVAILABLE)
    replayer = Replayer(settings, store, outbox=outbox,
                        connect=lambda read_only: make_mailbox(read_only=read_only))
    try:
        return replayer.replay(typed_id, apply=apply)
    except (MailboxError, *CONNECTION_ERRORS) as err:
        log.error("imap.unavailable", error=str(err))
        return fail(f"the IMAP server could not be used: {err}", Exit.UNAVAILABLE)
    except (StateUnavailableError, sqlite3.Error) as err:
        return fail(f"cannot use the state file {state}: {err}", Exit.UNAVAILABLE)
    finally:
        store.close()
