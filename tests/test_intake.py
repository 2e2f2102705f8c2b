"""Fast tests of the loop (daemon.service.Intake) with an in-memory mailbox and SMTP
server (tests/fakes.py): a message's life from the intake folder to its verdict's folder,
the quarantine path, and delivery's states. The same paths run against the real Postfix
and Dovecot in tests/test_stack*.py."""

from __future__ import annotations

import email
import multiprocessing
import re
import sqlite3
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
import stack
from fakes import FakeMailbox, FakeOutbox
from samples import mails, parties
from structlog.testing import capture_logs

from daemon import process
from daemon.compose import copy_address
from daemon.config import Settings
from daemon.decide import decide
from daemon.model import DocumentStatus, OutState, StepError, Verdict, check_step
from daemon.outbox import SendError
from daemon.read import read_message
from daemon.service import Intake, progressed
from daemon.store import Store

ARRIVED = mails.DEFAULT_DATE + timedelta(minutes=5)


def _subject(raw: bytes) -> str:
    return str(email.message_from_bytes(raw, policy=default)["Subject"])


@dataclass
class Office:
    """The loop on a fake mailbox and SMTP server, with a clock the test moves."""

    settings: Settings
    store: Store
    box: FakeMailbox
    outbox: FakeOutbox
    intake: Intake
    now: datetime = ARRIVED

    def run(self) -> dict[str, int]:
        return dict(self.intake.run_once())

    def later(self, **delta: float) -> None:
        self.now += timedelta(**delta)

    def folder(self, name: str) -> list[str]:
        """The subjects of the messages in a configured folder (routed, held, ...)."""
        path = getattr(self.settings.imap.folders, name)
        return [str(m["Subject"]) for m in self.box.held(path)]

    def inbox(self) -> list[str]:
        return [str(m["Subject"]) for m in self.box.held(self.settings.imap.folder)]

    def outgoing_states(self) -> list[str]:
        rows = self.store.db.rows("SELECT state FROM outgoing ORDER BY id")
        return [r["state"] for r in rows]


@pytest.fixture
def office(settings: Settings) -> Iterator[Office]:
    store = Store(settings.state.path)
    box = FakeMailbox(settings.imap.folder, ARRIVED)
    outbox = FakeOutbox(box, copy_address(settings))
    holder: list[Office] = []
    intake = Intake(settings, store, connect=lambda: box, outbox=outbox,
                    clock=lambda: holder[0].now)
    holder.append(Office(settings, store, box, outbox, intake))
    yield holder[0]
    intake.close()
    store.close()
    assert multiprocessing.active_children() == []  # every reader process ended


def test_a_complete_key_notice_is_forwarded_and_filed_and_its_copy_filed_as_sent(
        office: Office) -> None:
    office.box.deliver(mails.dsure_key_mail())
    assert office.run() == {"routed": 1}
    [forward] = office.outbox.to(stack.CONTRACT_STAFF)
    assert forward["X-Surety-Verdict"] == "routed"
    assert office.folder("routed") == [_subject(mails.dsure_key_mail())]
    # The daemon's copy came back to the intake mailbox: filed as the proof it went out.
    assert office.inbox() == [str(forward["Subject"])]
    assert office.run() == {"own-copy": 1}
    assert [m["Message-ID"] for m in office.box.held(office.settings.imap.folders.sent)] == [
        forward["Message-ID"]]
    assert office.run() == {}
    assert len(office.outbox.taken) == 1
    assert office.outgoing_states() == ["sent"]


def test_an_incomplete_submission_waits_for_the_rest_then_gets_one_correction(
        office: Office) -> None:
    office.box.deliver(mails.dsure_key_mail(in_body=True, omit=("auth_key",)))
    assert office.run() == {"held": 1}  # the 認証キー may follow in a second mail
    assert office.run() == {}
    office.later(minutes=office.settings.policy.rest_wait_minutes + 1)
    assert office.run() == {"correction": 1}
    [reply] = office.outbox.to(parties.CONTRACTORS["yamada"].address_email)
    assert "auth-key-missing" in str(reply["X-Surety-Problems"])
    assert len(office.folder("correction")) == 1
    assert office.outbox.to(stack.CONTRACT_STAFF) == []


def test_the_same_message_twice_is_filed_alike_and_answered_once(office: Office) -> None:
    raw = mails.dsure_key_mail()
    office.box.deliver(raw)
    office.box.deliver(raw)
    assert office.run() == {"routed": 1, "duplicate": 1}
    assert len(office.folder("routed")) == 2
    assert len(office.outbox.to(stack.CONTRACT_STAFF)) == 1


def test_an_encrypted_form_waits_for_its_password_then_both_go_as_one(office: Office) -> None:
    office.box.deliver(mails.confirmation_mail(encrypt="zip-aes"))
    assert office.run() == {"held": 1}
    assert len(office.folder("held")) == 1
    assert office.outbox.taken == []
    office.later(minutes=5)
    office.box.deliver(mails.password_followup(), arrived=office.now)
    assert office.run() == {"routed": 1}
    assert office.folder("held") == []
    assert len(office.folder("routed")) == 2
    [forward] = office.outbox.to(stack.CONTRACT_STAFF)
    assert forward["X-Surety-Verdict"] == "routed"


def test_a_held_form_whose_password_never_comes_is_asked_for_it(office: Office) -> None:
    office.box.deliver(mails.confirmation_mail(encrypt="zip-aes"))
    assert office.run() == {"held": 1}
    office.later(hours=office.settings.policy.password_wait_hours, minutes=1)
    assert office.run() == {"correction": 1}
    [reply] = office.outbox.to(parties.CONTRACTORS["yamada"].address_email)
    assert "attachment-password-missing" in str(reply["X-Surety-Problems"])
    assert office.folder("held") == []
    assert len(office.folder("correction")) == 1


def test_a_message_that_keeps_failing_is_set_aside_and_staff_told_once(office: Office) -> None:
    routed = office.settings.imap.folders.routed
    office.box.refuse_filing_to.add(routed)
    office.box.deliver(mails.dsure_key_mail())
    with capture_logs() as logs:
        for _ in range(office.settings.limits.max_attempts):
            assert office.run() == {"failed": 1, **({"own-copy": 1} if _ == 1 else {})}
        assert office.run() == {"quarantined": 1}
    assert [e["attempts"] for e in logs if e["event"] == "message.quarantined"] == [
        office.settings.limits.max_attempts]
    [notice] = office.outbox.to(stack.REVIEW)
    assert "quarantined" in str(notice["X-Surety-Problems"])
    assert len(office.folder("quarantine")) == 1
    assert len(office.outbox.to(stack.CONTRACT_STAFF)) == 1  # the forward went once
    assert office.run() == {"own-copy": 1}  # the notice's copy; nothing else is left
    assert office.inbox() == []


def test_a_temporary_smtp_failure_waits_and_sends_later(office: Office) -> None:
    office.outbox.failures.append(SendError("SMTP 451: try later", permanent=False))
    office.box.deliver(mails.dsure_key_mail())
    assert office.run() == {"send-deferred": 1}
    assert office.outgoing_states() == ["queued"]
    assert office.run() == {"send-waiting": 1}  # its retry time has not come
    office.later(minutes=1)
    assert office.run() == {"routed": 1}
    assert len(office.outbox.to(stack.CONTRACT_STAFF)) == 1
    assert office.outgoing_states() == ["sent"]


def test_a_reply_refused_for_good_becomes_a_notice_to_staff(office: Office) -> None:
    office.outbox.failures.append(SendError("SMTP 550: no such user", permanent=True))
    office.box.deliver(mails.dsure_key_mail(in_body=True, omit=("auth_key",)))
    assert office.run() == {"held": 1}
    office.later(minutes=office.settings.policy.rest_wait_minutes + 1)
    assert office.run() == {"correction": 1}
    [notice] = office.outbox.to(stack.REVIEW)
    assert "undeliverable" in str(notice["X-Surety-Problems"])
    assert office.outgoing_states() == ["failed", "sent"]
    assert len(office.folder("correction")) == 1


def test_a_mail_taken_before_the_connection_broke_is_not_sent_twice(office: Office) -> None:
    office.outbox.cut_off_after_taking = 1
    office.box.deliver(mails.dsure_key_mail())
    assert office.run() == {"send-deferred": 1}
    office.later(minutes=1)
    with capture_logs() as logs:
        assert office.run() == {"routed": 1, "own-copy": 1}
    assert "mail.already_sent" in [e["event"] for e in logs]
    assert office.outbox.handovers == 1
    assert office.outgoing_states() == ["sent"]


def test_a_mail_lost_with_the_connection_is_sent_again_after_the_copy_wait(
        office: Office) -> None:
    office.outbox.failures.append(
        SendError("SMTP failed: connection reset", permanent=False, uncertain=True))
    office.box.deliver(mails.dsure_key_mail())
    assert office.run() == {"send-deferred": 1}
    office.later(minutes=1)
    assert office.run() == {"send-waiting": 1}  # the server is up: its copy is waited for
    assert office.outbox.handovers == 1
    office.later(seconds=office.settings.smtp.copy_wait_seconds + 1)
    assert office.run() == {"routed": 1}
    assert office.outbox.handovers == 2
    assert len(office.outbox.to(stack.CONTRACT_STAFF)) == 1


def test_a_locked_state_file_stops_the_poll_and_loses_nothing(
        settings: Settings, tmp_path: Path) -> None:
    store = Store(settings.state.path, busy_timeout=0.1)
    box = FakeMailbox(settings.imap.folder, ARRIVED)
    outbox = FakeOutbox(box, copy_address(settings))
    intake = Intake(settings, store, connect=lambda: box, outbox=outbox,
                    clock=lambda: ARRIVED)
    box.deliver(mails.dsure_key_mail())
    holder = sqlite3.connect(settings.state.path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with capture_logs() as logs:
            assert dict(intake.run_once()) == {"state-unavailable": 1}
        assert [e["event"] for e in logs if e["log_level"] == "error"] == ["state.unavailable"]
        assert outbox.taken == []
        assert len(box.held(settings.imap.folder)) == 1
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert dict(intake.run_once()) == {"routed": 1}
    intake.close()
    store.close()


@pytest.mark.parametrize(("now", "to"), [
    (OutState.SENT, OutState.SENDING), (OutState.SENT, OutState.QUEUED),
    (OutState.FAILED, OutState.QUEUED), (OutState.FAILED, OutState.SENDING),
    (OutState.QUEUED, OutState.FAILED),
])
def test_a_mail_cannot_take_a_step_its_state_does_not_allow(now: OutState, to: OutState
                                                            ) -> None:
    with pytest.raises(StepError, match=f"from {now} to {to}"):
        check_step(now, to)


def test_the_store_refuses_to_send_a_sent_mail_again(office: Office) -> None:
    office.box.deliver(mails.dsure_key_mail())
    office.run()
    [row] = office.store.db.rows("SELECT out_message_id FROM outgoing")
    with pytest.raises(StepError):
        office.store.outgoing.mark_sending(row["out_message_id"])
    assert office.store.outgoing.state(row["out_message_id"]) is OutState.SENT


@pytest.mark.parametrize(("outcomes", "more"), [
    ({"routed": 1}, True), ({"own-copy": 2}, True), ({"held": 1}, True),
    ({"duplicate": 1}, True), ({"quarantined": 1}, True), ({"ignored": 1}, True),
    # Nothing left the intake folder: waiting at once again would only spin.
    ({}, False), ({"send-waiting": 1}, False), ({"send-deferred": 1}, False),
    ({"failed": 3}, False), ({"state-unavailable": 1}, False), ({"held-missing": 1}, False),
    ({"already-done": 1}, False), ({"routed": 0}, False),
])
def test_only_a_poll_that_moved_a_message_is_followed_by_another_at_once(
        outcomes: dict[str, int], more: bool) -> None:
    assert progressed(Counter(outcomes)) is more


def test_the_warm_up_samples_read_as_complete_submissions(settings: Settings) -> None:
    """The daemon warms its children up on these (daemon/warmup/): each must go through
    every step a real submission takes (its PDF read, its fields found), or warming up
    would leave the first real message's work to every child."""
    samples = sorted((Path(__file__).parents[1] / "daemon" / "warmup").glob("*.eml"))
    assert [p.name for p in samples] == ["confirmation.eml", "key-notice.eml"]
    for sample in samples:
        mail = read_message(sample.read_bytes())
        assert [a.status for a in mail.attachments] == [DocumentStatus.TEXT]
        assert decide(mail, settings, now=ARRIVED).verdict is Verdict.ROUTED, sample.name


def test_the_reply_cap_counts_the_replies_of_the_messages_read_alongside(
        settings: Settings) -> None:
    """Messages are read ahead, several at once; the cap is still counted when each is
    acted on, so the replies queued for the ones before it count."""
    capped = settings.model_copy(update={
        "replies": settings.replies.model_copy(update={"per_sender_per_day": 2})})
    store = Store(capped.state.path)
    # The state file stamps what it queues with the real time: so does this test's clock.
    box = FakeMailbox(capped.imap.folder, datetime.now(UTC) - timedelta(hours=2))
    outbox = FakeOutbox(box, copy_address(capped))
    intake = Intake(capped, store, connect=lambda: box, outbox=outbox,
                    clock=lambda: datetime.now(UTC), workers=2)
    for n in range(4):
        box.deliver(mails.dsure_key_mail(in_body=True, omit=("auth_key",),
                                         contract_number=f"260400000{n}"))
    try:
        assert dict(intake.run_once()) == {"correction": 2, "review": 2}
        assert len(outbox.to(parties.CONTRACTORS["yamada"].address_email)) == 2
        assert [str(m["X-Surety-Problems"]) for m in outbox.to(stack.REVIEW)] == [
            "auth-key-missing,reply-limit-reached"] * 2
    finally:
        intake.close()
        store.close()


def test_a_held_message_is_fetched_and_read_once_a_poll(office: Office) -> None:
    """Each new mail from a company with held messages is matched against them; they are
    fetched from the held folder once a poll, not once for every new mail, and not at all
    for a mail that cannot complete them (no password to try)."""
    for n in range(2):  # two encrypted forms waiting for their passwords
        office.box.deliver(mails.confirmation_mail(encrypt="zip-aes", policy_number=f"P-{n}",
                                                   archive_password=f"Pw{n}x2604#"))
    assert office.run() == {"held": 2}
    office.later(minutes=1)
    looked: list[str] = []
    find = office.box.find

    def counting(message_id: str, folders: list[str]) -> Any:
        looked.append(message_id)
        return find(message_id, folders)

    office.box.find = counting  # type: ignore[method-assign]
    for n in range(3):  # three complete mails from the same company, none of them the key
        office.box.deliver(mails.dsure_key_mail(contract_number=f"260401000{n}"),
                           arrived=office.now)
    assert office.run() == {"routed": 3}
    assert looked == []  # nothing in them to try on the held forms: not read
    for n in range(3):  # three mails with a password each, none of them the right one
        office.box.deliver(mails.password_followup(password=f"Wrong{n}x2604#"),
                           arrived=office.now)
    assert office.run() == {"held": 3, "own-copy": 3}  # each waits for what it opens
    held = [m["Message-ID"] for m in office.box.held(office.settings.imap.folders.held)
            if "Wrong" not in m.get_body(("plain",)).get_content()]  # type: ignore[union-attr]
    assert len(held) == 2
    assert sorted(looked) == sorted(held)  # each once, though three mails asked


@pytest.mark.parametrize("raw", [
    mails.dsure_key_mail(),
    mails.confirmation_mail(),
    mails.dsure_key_mail(in_body=True, omit=("auth_key",)),  # a correction
], ids=["key-notice", "confirmation", "correction"])
def test_the_mails_a_reader_makes_ahead_are_the_ones_the_daemon_would_make(
        raw: bytes, office: Office, settings: Settings, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A reader process composes a new message's mails beside its decision; when the
    history leaves the decision as it is, those go out: byte for byte what the daemon
    composes itself for the same message at the same time (here: without readers)."""
    def made(taken: list[Any]) -> list[tuple[tuple[str, ...], bytes]]:
        # The MIME boundaries are random each time a mail is made (email.generator).
        return [(h.recipients, re.sub(rb"={15}\d+==", b"=BOUNDARY=", h.raw)) for h in taken]

    def not_here(*_: Any) -> None:
        raise AssertionError("composed by the daemon, not by the reader")

    office.box.deliver(raw)
    office.later(days=1)  # no wait for the rest of a submission: decided at once
    with monkeypatch.context() as patched:
        patched.setattr(process, "compose", not_here)
        assert office.run() in ({"routed": 1}, {"correction": 1})
    ahead = made(office.outbox.taken)

    alone = settings.model_copy(update={"state": settings.state.model_copy(
        update={"path": str(tmp_path / "alone.sqlite3")})})
    store = Store(alone.state.path)
    box = FakeMailbox(alone.imap.folder, ARRIVED)
    outbox = FakeOutbox(box, copy_address(alone))
    intake = Intake(alone, store, connect=lambda: box, outbox=outbox, clock=lambda: office.now)
    monkeypatch.setattr(intake, "_readers", lambda: None)  # each read in a child of its own
    try:
        box.deliver(raw)
        intake.run_once()
    finally:
        intake.close()
        store.close()
    assert made(outbox.taken) == ahead
    assert len(ahead) == 1


def _counting_finds(office: Office) -> list[str]:
    """The Message-IDs the daemon looks for in the mailbox's folders, from now on."""
    looked: list[str] = []
    find = office.box.find

    def counting(message_id: str, folders: list[str]) -> Any:
        looked.append(message_id)
        return find(message_id, folders)

    office.box.find = counting  # type: ignore[method-assign]
    return looked


def _held_ids(office: Office) -> list[str]:
    return [str(m["Message-ID"]) for m in office.box.held(office.settings.imap.folders.held)]


def test_a_message_held_for_the_rest_is_read_once_however_many_polls_ask(
        office: Office) -> None:
    """Submissions held for their missing part are matched against every new mail of
    their sender, poll after poll; what pairing asks of them (what they submit) is kept
    from their first read, so each is fetched and read once, not once a poll. The one a
    later mail completes is fetched again, to be decided with it."""
    for n in range(3):  # three key numbers whose 認証キー may follow
        office.box.deliver(mails.dsure_key_mail(in_body=True, omit=("auth_key",),
                                                contract_number=f"260402000{n}"))
    assert office.run() == {"held": 3}
    held = _held_ids(office)
    looked = _counting_finds(office)
    for n in range(3):  # complete notices for other works, one a poll
        office.later(minutes=1)
        office.box.deliver(mails.dsure_key_mail(contract_number=f"260403000{n}"),
                           arrived=office.now)
        assert office.run()["routed"] == 1
    # Each of the first two was read already, in the first poll, for the ones after it;
    # the last once, though three polls asked.
    assert looked == [held[2]]
    office.later(minutes=1)
    office.box.deliver(mails.dsure_key_mail(in_body=True, contract_number="2604020001",
                                            subject="認証キーの送付"), arrived=office.now)
    assert office.run()["routed"] == 1
    assert looked[1:] == [held[1]]  # the one it completes, fetched to be decided with it
    [forward] = office.outbox.to(stack.CONTRACT_STAFF)[-1:]
    assert held[1] in str(forward["X-Surety-Source"])
    assert sorted(_held_ids(office)) == sorted([held[0], held[2]])


def test_a_held_message_moved_away_is_not_paired_from_what_was_known_of_it(
        office: Office) -> None:
    """What is known of a held message from an earlier read does not stand for it: when
    the mail that completes it comes after a person moved it out of the held folder, it
    is missed (a warning), and the mail is decided alone."""
    office.box.deliver(mails.dsure_key_mail(in_body=True, omit=("auth_key",),
                                            contract_number="2604020001"))
    assert office.run() == {"held": 1}
    office.later(minutes=1)
    office.box.deliver(mails.dsure_key_mail(contract_number="2604030001"), arrived=office.now)
    assert office.run()["routed"] == 1  # the held one read, to be matched against it
    held = office.settings.imap.folders.held
    [stored] = office.box.folders[held]
    office.box.file_from(held, stored.uid, "INBOX.Kept")  # a person takes it
    office.later(minutes=1)
    office.box.deliver(mails.dsure_key_mail(in_body=True, contract_number="2604020001",
                                            subject="認証キーの送付"), arrived=office.now)
    with capture_logs() as logs:
        assert office.run()["routed"] == 1
    assert [e["held_message_id"] for e in logs if e["event"] == "held.missing"] == [
        str(stored.message["Message-ID"])]
    assert not [e for e in logs if e["event"] == "message.paired"]
    forward = office.outbox.to(stack.CONTRACT_STAFF)[-1]
    assert str(stored.message["Message-ID"]) not in str(forward["X-Surety-Source"])
