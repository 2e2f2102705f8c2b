"""``surety-intake status``: what the state file says (the last poll and the last good
one, held messages, the outbox, the quarantine, today's and this month's counts in the
office's days) as JSON and as text, every stranger's value made safe, and the command's
exit codes. The same on the real stack: tests/test_stack_status.py."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import stack
import statefile
from fakes import FakeMailbox, FakeOutbox
from samples import mails

from daemon import cli, status
from daemon.compose import copy_address
from daemon.config import Settings
from daemon.mailbox import MailboxError
from daemon.service import Intake
from daemon.store import PollOutcome, Store
from daemon.store.polls import KEPT


@pytest.fixture
def shown(tmp_path: Path) -> dict[str, object]:
    """``status --json``'s object for the state file of tests/statefile.py."""
    store = statefile.build(tmp_path / "state.sqlite3")
    try:
        snap = status.snapshot(store, statefile.NOW)
    finally:
        store.close()
    return status.to_json(snap, status.Waiting("INBOX", 3, 1), mode="live",
                          state_file="/var/lib/state.sqlite3")


def test_the_json_has_its_documented_keys(shown: dict[str, object]) -> None:
    """The keys the README documents, no more, no fewer."""
    assert list(shown) == ["mode", "state_file", "now", "last_poll", "last_good_poll", "polls",
                           "intake", "held", "outbox", "quarantine", "today", "month"]
    assert shown["now"] == "2026-12-02T10:00:00+09:00"
    assert shown["intake"] == {"folder": "INBOX", "messages": 3, "unseen": 1, "error": None}
    assert list(shown["outbox"]) == ["pending", "retrying", "awaiting_copy", "failed"]


def test_the_last_poll_and_the_last_good_one(shown: dict[str, object]) -> None:
    """The failed poll is the last; the one before it, the last good one; in Japan time."""
    assert shown["last_poll"] == {
        "started_at": "2026-12-02T09:58:55+09:00", "finished_at": "2026-12-02T09:59:00+09:00",
        "outcome": "failed", "counts": {}, "error": "MailboxError: IMAP connection lost"}
    assert shown["last_good_poll"] == {
        "started_at": "2026-12-02T09:57:55+09:00", "finished_at": "2026-12-02T09:58:00+09:00",
        "outcome": "ok", "counts": {"held": 1, "routed": 1}, "error": None}
    assert shown["polls"] == {"ok": 1, "failed": 1}


def test_a_held_message_is_listed_with_its_deadline_made_safe(shown: dict[str, object]) -> None:
    """The bidi override and the line break of a stranger's Message-ID and address are
    escaped or a space, never passed on; the deadline is in Japan time."""
    assert shown["held"] == [{
        "message_id": "<held\\u202e@evil x>", "sender": "a\\u202eb@contractor.example.co.jp",
        "reason": "password", "held_until": "2026-12-03T09:30:00+09:00",
        "received_at": "2026-12-02T09:30:00+09:00"}]


def test_the_outbox_by_state(shown: dict[str, object]) -> None:
    """Pending, retrying with its next attempt, awaiting its copy, failed: each mail
    once, in the state its row says."""
    outbox: dict[str, dict[str, object]] = shown["outbox"]  # type: ignore[assignment]
    assert {k: v["count"] for k, v in outbox.items()} == {
        "pending": 1, "retrying": 1, "awaiting_copy": 1, "failed": 1}
    [pending] = outbox["pending"]["mails"]  # type: ignore[misc]
    assert (pending["source"], pending["action"], pending["recipients"]) == (
        "<routed@x>", "forward", [statefile.STAFF])
    [retrying] = outbox["retrying"]["mails"]  # type: ignore[misc]
    assert (retrying["action"], retrying["next_attempt_at"], retrying["error"]) == (
        "reply", "2026-12-02T10:05:00+09:00", "451 4.3.0 try later")
    [awaiting] = outbox["awaiting_copy"]["mails"]  # type: ignore[misc]
    assert awaiting["confirm_after"] == "2026-12-02T10:03:00+09:00"
    [failed] = outbox["failed"]["mails"]  # type: ignore[misc]
    assert failed["error"] == "550 5.1.1 no such user"


def test_the_quarantine_shows_the_kind_of_error_not_its_text(
        shown: dict[str, object]) -> None:
    """The error's text may quote the message (here a 認証キー): only its kind is shown."""
    assert shown["quarantine"] == {"count": 1, "messages": [{
        "message_id": "<broken@x>", "sender": statefile.CONTRACTOR,
        "quarantined_at": shown["quarantine"]["messages"][0]["quarantined_at"],  # type: ignore[index]
        "attempts": 3, "error": "SandboxError"}]}
    assert statefile.SECRET not in json.dumps(shown)


def test_today_and_this_month_are_the_offices_days(shown: dict[str, object]) -> None:
    """A message that arrived at 00:30 JST counts today though it is yesterday in UTC;
    one of 00:10 JST on the 1st counts this month, not today; one of 23:59 JST on
    November 30th in neither."""
    assert shown["today"] == {"date": "2026-12-02", "total": 3, "by_kind": {
        "dsure-key": {"routed": 1}, "unknown": {"held": 1, "quarantined": 1}}}
    assert shown["month"] == {"month": "2026-12", "total": 4, "by_kind": {
        "confirmation-system": {"correction": 1}, "dsure-key": {"routed": 1},
        "unknown": {"held": 1, "quarantined": 1}}}


def test_the_text_names_each_of_them(shown: dict[str, object]) -> None:
    """The same values, one line each, times in Japan time."""
    text = status.render(shown)
    lines = text.splitlines()
    assert lines[1] == ("Last poll: 2026-12-02 09:59 JST, failed: nothing new"
                        " (MailboxError: IMAP connection lost)")
    assert lines[2] == "Last good poll: 2026-12-02 09:58 JST, ok: held 1, routed 1"
    assert "Intake folder INBOX: 3 messages waiting (1 unseen)" in lines
    assert ("  <held\\u202e@evil x> from a\\u202eb@contractor.example.co.jp: password,"
            " held until 2026-12-03 09:30 JST") in lines
    assert "Outbox: 1 pending, 1 retrying, 1 awaiting copy, 1 failed" in lines
    assert any(line.startswith("  retrying: reply to sekkei@kensetsu.example.co.jp about"
                               " <corrected@x>, next attempt 2026-12-02 10:05 JST")
               for line in lines)
    assert "Quarantine: 1" in lines
    assert "Today (2026-12-02): 3 messages" in lines
    assert "  dsure-key: routed 1" in lines
    assert "This month (2026-12): 4 messages" in lines
    assert "\u202e" not in text and statefile.SECRET not in text


def test_the_text_says_when_the_server_could_not_be_asked(shown: dict[str, object]) -> None:
    """The rest is shown all the same."""
    shown["intake"] = {"folder": "INBOX", "messages": None, "unseen": None,
                       "error": "IMAP connection to localhost:1 failed: refused"}
    text = status.render(shown)
    assert ("Intake folder INBOX: the IMAP server could not be asked (IMAP connection to"
            " localhost:1 failed: refused)") in text
    assert "Held: 1" in text


def test_an_empty_state_file(tmp_path: Path) -> None:
    """Before the first poll: no poll, nothing held, zero counts."""
    store = Store(tmp_path / "state.sqlite3")
    shown = status.to_json(status.snapshot(store, statefile.NOW), status.Waiting("INBOX", 0, 0),
                           mode="trial", state_file="s")
    store.close()
    assert (shown["last_poll"], shown["last_good_poll"], shown["held"]) == (None, None, [])
    assert shown["today"] == {"date": "2026-12-02", "total": 0, "by_kind": {}}
    text = status.render(shown)
    assert "Last poll: none yet" in text and "(trial mode)" in text


# --- the polls recorded ------------------------------------------------------------------


def test_only_the_latest_polls_are_kept_and_all_are_counted(tmp_path: Path) -> None:
    """Pruned in the same transaction as each record; the totals keep counting."""
    store = Store(tmp_path / "state.sqlite3")
    start = datetime(2026, 12, 1, tzinfo=UTC)
    for i in range(KEPT + 5):
        outcome = PollOutcome.FAILED if i % 100 == 0 else PollOutcome.OK
        store.polls.record(start + timedelta(seconds=i), start + timedelta(seconds=i + 1),
                           outcome, {"routed": i})
    assert store.polls.kept() == KEPT
    assert store.polls.totals() == {"ok": KEPT + 5 - 11, "failed": 11}
    last = store.polls.last()
    assert last is not None and last.counts == {"routed": KEPT + 4}
    store.close()


@pytest.fixture
def intake(settings: Settings) -> Iterator[tuple[Intake, FakeMailbox, Store]]:
    store = Store(settings.state.path)
    box = FakeMailbox(settings.imap.folder, mails.DEFAULT_DATE)
    intake = Intake(settings, store, connect=lambda: box,
                    outbox=FakeOutbox(box, copy_address(settings)),
                    clock=lambda: mails.DEFAULT_DATE + timedelta(minutes=5))
    yield intake, box, store
    intake.close()
    store.close()


def test_the_loop_records_each_poll(intake: tuple[Intake, FakeMailbox, Store]) -> None:
    """A poll's counts and outcome are in the state file, and after_poll was told."""
    loop, box, store = intake
    told: list[int] = []
    loop.after_poll = lambda: told.append(store.polls.kept())
    box.deliver(mails.dsure_key_mail())
    assert loop.run_once() == Counter({"routed": 1})
    last = store.polls.last()
    assert last is not None
    assert (last.outcome, last.counts, last.error) == (PollOutcome.OK, {"routed": 1}, None)
    assert told == [1]


def test_a_session_that_cannot_be_opened_is_a_failed_poll(settings: Settings) -> None:
    """The server down: recorded as failed with its error, the server password masked."""
    store = Store(settings.state.path)

    def down() -> FakeMailbox:
        raise MailboxError("IMAP connection to localhost:143 failed: LOGIN secretpass1 refused")

    from daemon.log import register_secret  # noqa: PLC0415

    register_secret("secretpass1")
    outbox = FakeOutbox(FakeMailbox("INBOX", mails.DEFAULT_DATE), "")
    loop = Intake(settings, store, connect=down, outbox=outbox)
    with pytest.raises(MailboxError):
        loop.run_once()
    last = store.polls.last()
    assert last is not None and last.outcome is PollOutcome.FAILED
    assert last.error == "IMAP connection to localhost:143 failed: LOGIN [REDACTED] refused"
    assert store.polls.last(PollOutcome.OK) is None
    loop.close()
    store.close()


# --- the command ---------------------------------------------------------------------------


def _config(tmp_path: Path, state: Path) -> Path:
    """The test office with an IMAP port nothing listens on."""
    path = tmp_path / "office.toml"
    path.write_text(stack.office_config(state).replace("port = 143", "port = 1"),
                    encoding="utf-8")
    return path


def test_no_state_file_yet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Exit 1, said on stderr; nothing on stdout."""
    code = cli.main(["--config", str(_config(tmp_path, tmp_path / "none.sqlite3")), "status"])
    out, err = capsys.readouterr()
    assert (code, out) == (1, "")
    assert "no state file yet" in err and "none.sqlite3" in err


def test_a_config_error_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """One line naming the key."""
    path = _config(tmp_path, tmp_path / "state.sqlite3")
    path.write_text(path.read_text(encoding="utf-8") + "\n[metrics]\nport = 70000\n",
                    encoding="utf-8")
    assert cli.main(["--config", str(path), "status"]) == 2
    assert capsys.readouterr().err.startswith("surety-intake: config error: metrics.port:")


def test_the_server_down_is_exit_3_with_the_rest_printed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The state file's account is printed, and why the intake folder was not counted."""
    monkeypatch.setenv("SURETY_TEST_IMAP_PASSWORD", "not-a-real-one")
    state = tmp_path / "state.sqlite3"
    statefile.build(state).close()
    config = str(_config(tmp_path, state))
    assert cli.main(["--config", config, "status", "--json"]) == 3
    shown = json.loads(capsys.readouterr().out)
    assert shown["intake"]["messages"] is None
    assert "IMAP connection to localhost:1 failed" in shown["intake"]["error"]
    assert len(shown["held"]) == 1 and shown["outbox"]["retrying"]["count"] == 1
    assert cli.main(["--config", config, "status"]) == 3
    text = capsys.readouterr().out
    assert "the IMAP server could not be asked" in text and "Held: 1" in text


def test_the_password_not_set_is_exit_3_too(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The operator's shell without the password: said, the rest printed."""
    monkeypatch.delenv("SURETY_TEST_IMAP_PASSWORD", raising=False)
    state = tmp_path / "state.sqlite3"
    Store(state).close()
    assert cli.main(["--config", str(_config(tmp_path, state)), "status"]) == 3
    assert "SURETY_TEST_IMAP_PASSWORD is not set" in capsys.readouterr().out


def test_status_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The state file is opened read-only: its bytes are the same afterwards."""
    state = tmp_path / "state.sqlite3"
    statefile.build(state).close()
    before = state.read_bytes()
    cli.main(["--config", str(_config(tmp_path, state)), "status"])
    capsys.readouterr()
    assert state.read_bytes() == before


def test_in_trial_mode_status_reads_the_trials_state_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A trial keeps its own state file; status reads that one, never the live one."""
    path = _config(tmp_path, tmp_path / "state.sqlite3")
    path.write_text('mode = "trial"\n' + path.read_text(encoding="utf-8")
                    + '\n[trial]\naddress = "trial@city.example.jp"\n', encoding="utf-8")
    Store(tmp_path / "state.sqlite3").close()  # the live one exists; the trial's does not
    assert cli.main(["--config", str(path), "status"]) == 1
    assert "state.trial.sqlite3" in capsys.readouterr().err


def test_a_session_lost_after_the_login_is_a_failed_poll(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Logged in, but the intake folder cannot be selected (renamed, refused): the poll is
    recorded as failed (status and the metrics say so), as for a refused login."""
    from imapclient.exceptions import IMAPClientError  # noqa: PLC0415

    from daemon import mailbox  # noqa: PLC0415

    class Client:
        logged_out = False

        def list_folders(self) -> list[tuple[tuple[bytes, ...], bytes, str]]:
            return [((b"\\HasNoChildren",), b"/", "INBOX")]

        def select_folder(self, folder: str, readonly: bool = False) -> dict[bytes, int]:
            raise IMAPClientError(f"select failed: [NONEXISTENT] Mailbox doesn't exist: {folder}")

        def logout(self) -> None:
            Client.logged_out = True

    monkeypatch.setattr(mailbox, "_login", lambda *_args: Client())
    store = Store(settings.state.path)
    outbox = FakeOutbox(FakeMailbox("INBOX", mails.DEFAULT_DATE), "")
    loop = Intake(settings, store,
                  connect=lambda: mailbox.Mailbox(settings.imap, "password"),
                  outbox=outbox)
    with pytest.raises(MailboxError, match="could not be opened"):
        loop.run_once()
    last = store.polls.last()
    assert last is not None and last.outcome is PollOutcome.FAILED
    assert "NONEXISTENT" in (last.error or "")
    assert Client.logged_out  # the half-open session closed
    loop.close()
    store.close()
