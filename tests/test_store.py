"""The state file across versions: an older file is brought up to date with its rows kept;
a file from a newer daemon is refused with a clear answer, not misread."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import stack

from daemon.store import SCHEMA_VERSION, StateVersionError, Store
from daemon.store.schema import MIGRATIONS, SCHEMA


def _first_version_file(path: Path) -> None:
    """A state file as the first release wrote it (no user_version), with a mail queued."""
    db = sqlite3.connect(path)
    db.executescript(SCHEMA)
    db.execute("INSERT INTO messages (folder, uidvalidity, uid, message_id, content_hash,"
               " received_at, state, seen_at) VALUES ('INBOX', 7, 1, '<m@x>', 'h', '2026-11-01',"
               " 'decided', '2026-11-01')")
    db.execute("INSERT INTO outgoing (message, action, out_message_id, recipients, state,"
               " attempts, queued_at) VALUES (1, 'forward', '<out@x>', '[]', 'sending', 1,"
               " '2026-11-01')")
    db.commit()
    db.close()


def test_a_first_version_state_file_is_brought_up_to_date(tmp_path: Path) -> None:
    """The queued mail survives the upgrade, and can be marked as the new version does."""
    path = tmp_path / "state.sqlite3"
    _first_version_file(path)
    store = Store(path)
    [mail] = store.outgoing.pending(1)
    assert (mail.out_message_id, mail.state, mail.uncertain, mail.confirm_after) == (
        "<out@x>", "sending", False, None)
    until = datetime(2026, 11, 1, 9, tzinfo=UTC)
    store.outgoing.await_copy("<out@x>", until)
    [mail] = store.outgoing.pending(1)
    assert (mail.state, mail.uncertain, mail.confirm_after) == ("queued", True, until)
    store.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == (
        1 + len(MIGRATIONS))
    db.close()
    Store(path).close()  # opening an up-to-date file again changes nothing


def test_an_uncertain_mail_stays_uncertain_through_clean_failures(tmp_path: Path) -> None:
    """A hand-over that was cut off may have reached the server: a later refused connection
    does not make the mail certain again."""
    store = Store(tmp_path / "state.sqlite3")
    row = store.messages.seen(folder="INBOX", uidvalidity=1, uid=1, message_id="<m@x>",
                              content_hash="h", received_at=datetime(2026, 11, 1, tzinfo=UTC))
    store.outgoing.queue(row.id, "forward", "<out@x>", ("keiyaku@city.example.jp",))
    later = datetime(2026, 11, 1, 9, tzinfo=UTC)
    store.outgoing.mark_sending("<out@x>")
    store.outgoing.defer("<out@x>", "SMTP failed: connection lost", later, uncertain=True)
    store.outgoing.defer("<out@x>", "SMTP failed: connection refused", later + timedelta(minutes=1))
    [mail] = store.outgoing.pending(row.id)
    assert mail.uncertain and mail.state == "queued"
    store.outgoing.mark_sending("<out@x>")
    store.outgoing.mark_sent("<out@x>")
    assert store.outgoing.pending(row.id) == []


def test_what_the_world_relies_on_is_on_disk_before_it_happens(tmp_path: Path) -> None:
    """The mark that a mail goes to the SMTP server and the record of a held message are
    synced to disk (synchronous=FULL) before the daemon acts on them; the other steps are
    not (a power cut may undo them, which costs work done again, never a mail twice)."""
    store = Store(tmp_path / "state.sqlite3")
    synced: list[str] = []
    level: list[str] = []

    def trace(sql: str) -> None:
        if sql.startswith("PRAGMA synchronous"):
            level.append(sql.rpartition("=")[2])
        elif sql == "COMMIT":
            synced.append(level[-1] if level else "NORMAL")

    row = store.messages.seen(folder="INBOX", uidvalidity=1, uid=1, message_id="<m@x>",
                              content_hash="h", received_at=datetime(2026, 11, 1, tzinfo=UTC))
    store.db.conn.set_trace_callback(trace)
    store.outgoing.queue(row.id, "forward", "<out@x>", ("keiyaku@city.example.jp",))
    store.outgoing.mark_sending("<out@x>")
    store.outgoing.mark_sent("<out@x>")
    store.messages.hold(row.id, "waiting-for-rest", datetime(2026, 11, 2, tzinfo=UTC))
    store.messages.mark_done(row.id)
    assert synced == ["NORMAL", "FULL", "NORMAL", "FULL", "NORMAL"]
    assert store.db.conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL again
    store.close()


def test_a_state_file_from_a_newer_daemon_is_refused(tmp_path: Path) -> None:
    """Not read, not changed; the command stops with exit 2 (systemd does not retry) and
    says which file and which versions."""
    path = tmp_path / "state.sqlite3"
    Store(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(StateVersionError, match=f"version {SCHEMA_VERSION + 1} was written"):
        Store(path)

    config = tmp_path / "office.toml"
    config.write_text(stack.office_config(path), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "daemon.cli", "--config", str(config), "run", "--once"],
        capture_output=True, text=True, check=False,
        env=dict(os.environ, SURETY_TEST_IMAP_PASSWORD="x"),
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f"surety-intake: {path}: state file version {SCHEMA_VERSION + 1} was written by a"
        f" newer surety-intake (this one reads up to version {SCHEMA_VERSION})")
    assert '"event": "state.too_new"' in proc.stdout


def test_only_submissions_that_may_be_the_same_are_read_back(tmp_path: Path) -> None:
    """What a submission may replace is looked up by its numbers and works: the years of
    other submissions are not read, and an old match is still found behind them."""
    from daemon.model import Decision, Fields, Kind, Outcome, Verdict  # noqa: PLC0415

    store = Store(tmp_path / "state.sqlite3")
    at = datetime(2026, 11, 1, tzinfo=UTC)

    def record(n: int, fields: Fields, sender: str = "a@x.example.jp") -> None:
        outcome = Outcome(Verdict.ROUTED, Kind.DSURE_KEY, None, (), ("s@x",), fields)
        row = store.messages.seen(folder="INBOX", uidvalidity=1, uid=n, message_id=f"<{n}@x>",
                                  content_hash=str(n), received_at=at, sender=sender)
        store.record_decision(row.id, Decision(Verdict.ROUTED, (outcome,), "", (f"<{n}@x>",)),
                              at + timedelta(seconds=n), [])

    record(0, Fields(contract_number="2604000001"))
    for n in range(1, 301):
        record(n, Fields(contract_number=f"26050{n:05d}", project_name="別の工事"))
    new = Outcome(Verdict.ROUTED, Kind.DSURE_KEY, None, (), ("s@x",),
                  Fields(contract_number="2604000001", project_name="市道改良工事"))
    found = store.earlier_submissions(new, sender="b@y.example.jp", source="<new@x>",
                                      before=at + timedelta(days=1))
    assert [e.source for e in found] == ["<0@x>"]
    store.close()


def test_the_held_messages_a_mail_may_complete_are_chosen_as_pairing_would(
        tmp_path: Path) -> None:
    """The state file lists the held messages a new mail is eligible to complete (same
    domain, still waiting, same address unless it waits for a password or its document),
    oldest first and no more than asked: the same ones pairing.eligible keeps."""
    from daemon import pairing  # noqa: PLC0415
    from daemon.model import HeldReason  # noqa: PLC0415

    store = Store(tmp_path / "state.sqlite3")
    start = datetime(2026, 11, 1, 9, tzinfo=UTC)
    senders = ["a@kensetsu.example.jp", "B@kensetsu.example.jp", "c@other.example.jp",
               "d@sub.kensetsu.example.jp", "e@kensetsu_example.jp"]
    for n in range(40):
        row = store.messages.seen(
            folder="INBOX", uidvalidity=1, uid=n + 1, message_id=f"<m{n}@x>",
            content_hash=str(n), received_at=start + timedelta(minutes=n),
            sender=senders[n % len(senders)])
        reason = list(HeldReason)[n % 3]
        store.messages.hold(row.id, reason, start + timedelta(minutes=n + 30 * (n % 4)))
    sizes: list[int] = []
    for sender in ("a@kensetsu.example.jp", "b@kensetsu.example.jp", "z@kensetsu.example.jp"):
        for minute in (0, 20, 45, 200):
            arrived = start + timedelta(minutes=minute)

            class New:
                from_addr = sender
                received_at = arrived

            expected = [r for r in store.messages.held(domain="kensetsu.example.jp")
                        if pairing.eligible(pairing.Waiting(r.id, r.sender, r.held_reason or "",
                                                            r.held_until, New()), New())]  # type: ignore[arg-type]
            chosen = store.messages.waiting_for(sender, arrived, pairing.BY_PASSWORD, limit=50)
            assert [r.id for r in chosen] == [r.id for r in expected]
            sizes.append(len(expected))
            assert [r.id for r in store.messages.waiting_for(
                sender, arrived, pairing.BY_PASSWORD, limit=3)] == [r.id for r in expected[:3]]
    assert len(set(sizes)) > 3 and 0 in sizes and max(sizes) > 3  # varied cases
    store.close()


def test_only_the_uids_asked_about_are_looked_up_as_done(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.sqlite3")
    for uid in range(1, 1201):
        row = store.messages.seen(folder="INBOX", uidvalidity=7, uid=uid, message_id=f"<{uid}@x>",
                                  content_hash=str(uid), received_at=datetime.now(UTC))
        if uid % 2:
            store.messages.mark_done(row.id)
    asked = list(range(990, 1300))
    assert store.messages.done_uids("INBOX", 7, asked) == {u for u in asked if u % 2 and u <= 1200}
    assert store.messages.done_uids("INBOX", 8, asked) == set()
    assert store.messages.done_uids("INBOX", 7, []) == set()
    store.close()
