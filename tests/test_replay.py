"""``replay MESSAGE-ID``: the two decisions side by side, the refusals, and --apply, on an
in-memory mailbox and SMTP server (tests/fakes.py); against the real Postfix and Dovecot
in tests/test_stack_replay.py."""

from __future__ import annotations

import email
import html as html_escape
import multiprocessing
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage, Message
from email.policy import default
from pathlib import Path

import pytest
import stack
import structlog
from fakes import FakeMailbox, FakeOutbox
from samples import mails
from structlog.testing import capture_logs

from daemon import cli, config
from daemon import problems as catalogue
from daemon.compose import Redecision, copy_address
from daemon.config import Settings
from daemon.outbox import SendError
from daemon.problems import Code
from daemon.replay import Summary, changes, message_id, refusal, render, replay_id
from daemon.replayer import Exit, Replayer
from daemon.service import Intake
from daemon.store import Store

JST = timezone(timedelta(hours=9))
IN_TIME = datetime(2026, 3, 10, 10, 0, tzinfo=JST)  # before the cut-off of 2026-03-31
CONTRACTOR = "t-yamada@yamada-kensetsu.example.co.jp"
NOTICE_SUBJECT = "【電子保証 再判定】"
REDECIDED = "この提出は、設定の変更後に再判定したものです。"

ROUTED = Summary("legacy-pdf", "routed", "contract", (), (stack.CONTRACT_STAFF,), "")
CORRECTION = Summary("legacy-pdf", "correction", "contract", ("legacy-deadline-passed",),
                     (CONTRACTOR,), "")


def _id(raw: bytes) -> str:
    return str(email.message_from_bytes(raw, policy=default)["Message-ID"])


# --- the comparison and its rendering (pure) ------------------------------------------

def test_an_equal_decision_is_shown_as_no_change() -> None:
    """Both columns, every field, and "no change" when nothing differs."""
    lines = render("<a@b>", "Surety/Routed", ROUTED, ROUTED)
    assert lines[0] == "message <a@b>"
    assert lines[1] == "found in Surety/Routed"
    assert lines[-1] == "no change"
    rows = {line.split()[0]: line.split()[1:] for line in lines[4:10]}
    assert rows == {"kind": ["legacy-pdf", "legacy-pdf"], "verdict": ["routed", "routed"],
                    "guarantee": ["contract", "contract"], "problems": ["-", "-"],
                    "route_to": [stack.CONTRACT_STAFF, stack.CONTRACT_STAFF],
                    "reason": ["-", "-"]}
    assert not any(line.endswith("*") for line in lines)


def test_a_changed_decision_marks_each_field_that_changed() -> None:
    """Old and new side by side, the changed fields marked and listed."""
    lines = render("<a@b>", "Surety/Routed", ROUTED, CORRECTION)
    assert changes(ROUTED, CORRECTION) == ("verdict", "problems", "route_to")
    assert lines[-1] == "changed: verdict, problems, route_to"
    verdict = next(line for line in lines if line.strip().startswith("verdict"))
    assert verdict.split() == ["verdict", "routed", "correction", "*"]
    problems = next(line for line in lines if line.strip().startswith("problems"))
    assert problems.split() == ["problems", "-", "legacy-deadline-passed", "*"]
    kind = next(line for line in lines if line.strip().startswith("kind"))
    assert not kind.endswith("*")


def test_a_strangers_value_is_shown_on_one_line_with_its_controls_escaped() -> None:
    """A Reply-To address with a line break and an escape cannot make the table lie."""
    hostile = Summary("other", "correction", None, ("not-a-submission",),
                      ("x@evil.example\nverdict  routed\x1b[2J",), "")
    lines = render("<a@b>\r\nforged", "INBOX", ROUTED, hostile)
    assert all("\n" not in line and "\r" not in line and "\x1b" not in line
               for line in lines)
    assert len(lines) == len(render("<a@b>", "INBOX", ROUTED, ROUTED)) == 12
    assert lines[0].startswith("message <a@b>") and "forged" in lines[0]


def test_a_message_id_is_taken_with_or_without_angle_brackets() -> None:
    """The ID as an operator copies it from a header or a log line."""
    assert message_id("abc@example.jp") == "<abc@example.jp>"
    assert message_id(" <abc@example.jp> ") == "<abc@example.jp>"


@pytest.mark.parametrize(("state", "verdict", "paired", "says"), [
    ("held", "held", False, "held"),
    ("done", "quarantined", False, "quarantine"),
    ("done", "routed", True, "together with another mail"),
    ("decided", "routed", False, "not finished"),
    ("done", None, False, "copy of a mail it sent"),
])
def test_what_cannot_be_replayed_is_refused_saying_why(
        state: str, verdict: str | None, paired: bool, says: str) -> None:
    """Held, quarantined, paired, unfinished messages and own copies are refused."""
    why = refusal(state, verdict, paired=paired)
    assert why is not None and says in why


def test_a_filed_decided_message_may_be_replayed() -> None:
    """The case beside the refusals: done, with a verdict, alone."""
    for verdict in ("routed", "correction", "review", "ignored"):
        assert refusal("done", verdict, paired=False) is None


# --- the command, on an in-memory mailbox and SMTP server -----------------------------

@dataclass
class Office:
    """An office whose message was decided under one config, replayed under another."""

    settings: Settings
    store: Store
    box: FakeMailbox
    outbox: FakeOutbox
    now: datetime
    said: list[str] = field(default_factory=list)

    def replay(self, typed_id: str, *, apply: bool = False, settings: Settings | None = None
               ) -> Exit:
        self.said.clear()
        replayer = Replayer(settings or self.settings, self.store,
                            connect=lambda _read_only: self.box, outbox=self.outbox,
                            clock=lambda: self.now, say=self.said.append,
                            complain=self.said.append)
        return replayer.replay(typed_id, apply=apply)

    def folder(self, name: str) -> list[str]:
        return [str(m["Message-ID"]) for m in
                self.box.held(getattr(self.settings.imap.folders, name))]

    def dump(self) -> str:
        """Every row of the state file, for "nothing was written"."""
        return "\n".join(self.store.db.conn.iterdump())


def _settings(path: Path, until: str) -> Settings:
    return config.parse(stack.office_config(path, legacy_pdf_until=until))


def _routed(settings: Settings) -> Office:
    """A legacy PDF policy, in time, decided and routed by the daemon under ``settings``
    (its own copies filed); replays come 30 days later."""
    store = Store(settings.state.path)
    box = FakeMailbox(settings.imap.folder, IN_TIME)
    outbox = FakeOutbox(box, copy_address(settings))
    now = IN_TIME + timedelta(minutes=5)
    intake = Intake(settings, store, connect=lambda: box, outbox=outbox, clock=lambda: now)
    box.deliver(mails.legacy_pdf_mail(date=IN_TIME))
    assert dict(intake.run_once()) == {"routed": 1}
    mails_sent = 2 if settings.replies.receipt else 1  # the forward (and the receipt)
    assert dict(intake.run_once()) == {"own-copy": mails_sent}
    intake.close()
    return Office(settings, store, box, outbox, now + timedelta(days=30))


@pytest.fixture
def office(tmp_path: Path) -> Iterator[Office]:
    """A legacy PDF policy, in time, decided and routed by the daemon."""
    routed = _routed(_settings(tmp_path / "state.sqlite3", "2026-03-31"))
    yield routed
    routed.store.close()
    assert multiprocessing.active_children() == []


def _notices(office: Office | Fresh) -> list[Message]:
    """The 再判定 notices sent (to any staff address)."""
    return [h.message for h in office.outbox.taken
            if str(h.message["Subject"]).startswith(NOTICE_SUBJECT)]


def _forwards(office: Office, address: str) -> list[Message]:
    """The staff mails (routed, review) sent to this address: not the notices."""
    return [m for m in office.outbox.to(address)
            if not str(m["Subject"]).startswith(NOTICE_SUBJECT)]


def _parts(msg: Message) -> tuple[str, str]:
    """A staff mail's text and HTML parts."""
    assert isinstance(msg, EmailMessage)
    text, html = msg.get_body(("plain",)), msg.get_body(("html",))
    assert text is not None and html is not None
    return str(text.get_content()), str(html.get_content())


def _later(office: Office) -> Settings:
    """The office moved its cut-off back: the policy arrived after it."""
    return _settings(Path(office.settings.state.path), "2026-03-01")


def test_without_apply_the_new_decision_is_shown_and_nothing_changes(office: Office) -> None:
    """Old routed beside new correction with its code; no mail, no move, no write."""
    [original] = office.folder("routed")
    before = (office.dump(), dict(office.box.folders), len(office.outbox.taken))
    with capture_logs() as logs:
        assert office.replay(original.strip("<>"), settings=_later(office)) == Exit.DONE
    verdict = next(line for line in office.said if line.strip().startswith("verdict"))
    assert verdict.split() == ["verdict", "routed", "correction", "*"]
    assert "legacy-deadline-passed" in "\n".join(office.said)
    assert "changed: verdict, problems, route_to" in office.said
    assert (office.dump(), dict(office.box.folders), len(office.outbox.taken)) == before
    assert [e["event"] for e in logs if e["event"].startswith("replay.")] == ["replay.shown"]


def test_an_unchanged_decision_says_no_change_even_with_apply(office: Office) -> None:
    """The same config decides the same: nothing to do."""
    [original] = office.folder("routed")
    before = office.dump()
    assert office.replay(original, apply=True) == Exit.DONE
    assert office.said[-1] == "no change"
    assert office.dump() == before
    assert len(office.outbox.taken) == 1
    assert _notices(office) == []


def test_apply_sends_the_correction_once_naming_the_mail_it_replaces(office: Office) -> None:
    """The correction goes out once, with its own Message-ID and X-Surety-Replaces naming
    the staff mail; the message moves; a second --apply is "no change"."""
    [original] = office.folder("routed")
    [forward] = [h.message for h in office.outbox.taken]
    later = _later(office)
    with capture_logs() as logs:
        assert office.replay(original, apply=True, settings=later) == Exit.DONE
    [correction] = office.outbox.to(CONTRACTOR)
    assert correction["X-Surety-Replaces"].strip() == forward["Message-ID"]
    assert correction["X-Surety-Verdict"] == "correction"
    assert correction["X-Surety-Problems"] == "legacy-deadline-passed"
    assert correction["X-Surety-Source"].strip() == original
    assert correction["Message-ID"] not in (forward["Message-ID"], original)
    assert office.folder("routed") == []
    assert office.folder("correction") == [original]
    assert office.said[-2] == f"they replace: {forward['Message-ID']}"
    assert office.said[-1] == f"staff told of the change: {stack.CONTRACT_STAFF}"
    [applied] = [e for e in logs if e["event"] == "replay.applied"]
    [notice] = _notices(office)
    assert applied["out_message_ids"] == [correction["Message-ID"],
                                          notice["Message-ID"].strip()]
    assert applied["staff_told"] == [notice["Message-ID"].strip()]
    row = office.store.db.row("SELECT verdict, problems FROM messages WHERE message_id=?",
                              (original,))
    assert row is not None and tuple(row) == ("correction", "legacy-deadline-passed")
    [replay] = office.store.db.rows("SELECT * FROM replays")
    assert replay["applied"] == 1
    assert '"verdict": "routed"' in replay["old_decision"]
    assert '"verdict": "correction"' in replay["new_decision"]

    assert office.replay(original, apply=True, settings=later) == Exit.DONE
    assert office.said[-1] == "no change"
    assert len(office.outbox.to(CONTRACTOR)) == 1
    assert len(office.store.db.rows("SELECT * FROM replays")) == 1


def test_a_second_change_replaces_the_first_replays_mail(office: Office) -> None:
    """Back to the first config: the staff mail again, under a new Message-ID, naming the
    correction it replaces."""
    [original] = office.folder("routed")
    [first] = [h.message for h in office.outbox.taken]
    assert office.replay(original, apply=True, settings=_later(office)) == Exit.DONE
    [correction] = office.outbox.to(CONTRACTOR)
    assert office.replay(original, apply=True) == Exit.DONE
    staff = _forwards(office, stack.CONTRACT_STAFF)
    assert len(staff) == 2
    assert staff[1]["X-Surety-Replaces"].strip() == correction["Message-ID"]
    assert len(_notices(office)) == 1  # the first change's; the second sent a forward
    assert staff[1]["Message-ID"] != first["Message-ID"]
    assert office.folder("routed") == [original]


def test_a_send_that_fails_for_now_is_finished_by_a_second_apply(office: Office) -> None:
    """SMTP down: nothing moved, the verdict unchanged, exit 1; --apply again sends the
    same mail once and finishes."""
    [original] = office.folder("routed")
    later = _later(office)
    office.outbox.failures.append(SendError("421 try later", permanent=False))
    assert office.replay(original, apply=True, settings=later) == Exit.UNAVAILABLE
    assert office.outbox.to(CONTRACTOR) == []
    assert office.folder("routed") == [original]
    row = office.store.db.row("SELECT verdict FROM messages WHERE message_id=?", (original,))
    assert row is not None and row["verdict"] == "routed"
    queued = office.store.db.rows("SELECT out_message_id FROM outgoing WHERE state='queued'")
    office.now += timedelta(hours=1)
    assert office.replay(original, apply=True, settings=later) == Exit.DONE
    [correction] = office.outbox.to(CONTRACTOR)
    [notice] = _notices(office)
    assert [r["out_message_id"] for r in queued] == [correction["Message-ID"],
                                                     notice["Message-ID"].strip()]
    assert office.folder("correction") == [original]
    assert [r["applied"] for r in office.store.db.rows("SELECT applied FROM replays")] == [1]


def test_an_unknown_message_is_refused_with_3(office: Office) -> None:
    """No such Message-ID in the state file."""
    assert office.replay("<nobody@example.jp>", apply=True) == Exit.UNKNOWN
    assert office.said == ["no message <nobody@example.jp> in the state file"]


def test_a_message_no_longer_on_the_server_is_refused_with_4(office: Office) -> None:
    """Moved out of every folder the daemon looks in (deleted by a person)."""
    [original] = office.folder("routed")
    office.box.folders[office.settings.imap.folders.routed].clear()
    assert office.replay(original) == Exit.GONE
    assert "no longer on the server" in office.said[0]


def test_a_message_moved_by_a_person_is_found_in_another_folder(office: Office) -> None:
    """Looked for in the verdict's folder first, then the others."""
    [original] = office.folder("routed")
    stored = office.box.folders[office.settings.imap.folders.routed].pop()
    office.box.deliver(stored.raw, office.settings.imap.folders.review, stored.arrived)
    assert office.replay(original) == Exit.DONE
    assert office.said[1] == f"found in {office.settings.imap.folders.review}"


@dataclass
class Fresh:
    """A fresh office on an in-memory mailbox, with a clock the test moves."""

    settings: Settings
    store: Store
    box: FakeMailbox
    outbox: FakeOutbox
    now: datetime = mails.DEFAULT_DATE + timedelta(minutes=1)

    def run(self) -> dict[str, int]:
        intake = Intake(self.settings, self.store, connect=lambda: self.box,
                        outbox=self.outbox, clock=lambda: self.now)
        try:
            return dict(intake.run_once())
        finally:
            intake.close()

    def replay(self, typed_id: str) -> tuple[Exit, list[str]]:
        said: list[str] = []
        replayer = Replayer(self.settings, self.store, connect=lambda _r: self.box,
                            outbox=self.outbox, clock=lambda: self.now, say=said.append,
                            complain=said.append)
        return replayer.replay(typed_id, apply=True), said


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Fresh]:
    settings = _settings(tmp_path / "state.sqlite3", "2026-03-31")
    store = Store(settings.state.path)
    box = FakeMailbox(settings.imap.folder, mails.DEFAULT_DATE)
    yield Fresh(settings, store, box, FakeOutbox(box, copy_address(settings)))
    store.close()


def test_a_held_message_is_refused_with_5(fresh: Fresh) -> None:
    """A message waiting for its follow-up is the daemon's to decide."""
    incomplete = mails.dsure_key_mail(in_body=True, omit=("auth_key",), charset="utf-8")
    fresh.box.deliver(incomplete)
    assert fresh.run() == {"held": 1}
    status, said = fresh.replay(_id(incomplete))
    assert status == Exit.REFUSED
    assert "held" in said[0]
    assert fresh.outbox.taken == []


def test_either_mail_of_a_pair_is_refused_with_5(fresh: Fresh) -> None:
    """A form and the mail with its password were decided as one: neither is replayed
    alone."""
    form = mails.confirmation_mail(encrypt="zip-aes")
    fresh.box.deliver(form)
    assert fresh.run() == {"held": 1}
    fresh.now += timedelta(minutes=5)
    password = mails.password_followup()
    fresh.box.deliver(password, arrived=fresh.now)
    assert fresh.run() == {"routed": 1}
    for raw in (form, password):
        status, said = fresh.replay(_id(raw))
        assert status == Exit.REFUSED
        assert "together with another mail" in said[0]
    assert len(fresh.outbox.taken) == 1


# --- the command line ------------------------------------------------------------------

@pytest.fixture
def restored_logging() -> Iterator[None]:
    """The command configures the log (on stderr): the configuration restored afterwards."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)
    structlog.contextvars.clear_contextvars()


def _config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "office.toml"
    path.write_text(stack.office_config(tmp_path / "state.sqlite3") + extra, encoding="utf-8")
    return path


def test_apply_is_refused_in_trial_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                        ) -> None:
    """A trial sends and moves nothing, replays included."""
    path = _config(tmp_path, f'\n[trial]\naddress = "{stack.SENDER}"\n')
    path.write_text('mode = "trial"\n' + path.read_text(encoding="utf-8"), encoding="utf-8")
    assert cli.main(["--config", str(path), "replay", "a@b", "--apply"]) == 2
    assert "refused in trial mode" in capsys.readouterr().err


@pytest.mark.usefixtures("restored_logging")
def test_in_trial_mode_replay_reads_the_trials_state_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The live state file holds the message, the trial's does not: a trial asks its own."""
    path = _config(tmp_path, f'\n[trial]\naddress = "{stack.SENDER}"\n')
    Store(tmp_path / "state.sqlite3").close()  # the live one exists
    path.write_text('mode = "trial"\n' + path.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setenv("SURETY_TEST_IMAP_PASSWORD", "x")
    assert cli.main(["--config", str(path), "replay", "a@b"]) == 3
    assert "state.trial.sqlite3" in capsys.readouterr().err


@pytest.mark.usefixtures("restored_logging")
def test_a_config_error_is_2_and_an_unknown_message_3(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Exit codes before any server is asked: a bad key, then no state file."""
    bad = tmp_path / "bad.toml"
    bad.write_text(stack.office_config(tmp_path / "s.sqlite3").replace("port = 143",
                                                                       'port = "imap"'),
                   encoding="utf-8")
    assert cli.main(["--config", str(bad), "replay", "a@b"]) == 2
    assert "imap.port" in capsys.readouterr().err
    monkeypatch.setenv("SURETY_TEST_IMAP_PASSWORD", "x")
    assert cli.main(["--config", str(_config(tmp_path)), "replay", "a@b"]) == 3
    assert "no message <a@b>" in capsys.readouterr().err


def test_replay_ids_are_distinct_from_the_original_and_stable() -> None:
    """The same replay gives the same Message-ID; another replay or action another."""
    from daemon.compose import outgoing_id  # noqa: PLC0415
    from daemon.replay import replay_id  # noqa: PLC0415

    sources = ["<m@x>"]
    first = replay_id(sources, 1, "reply", stack.SENDER)
    assert first == replay_id(sources, 1, "reply", stack.SENDER)
    assert len({first, replay_id(sources, 2, "reply", stack.SENDER),
                replay_id(sources, 1, "forward", stack.SENDER),
                outgoing_id(sources, "reply", stack.SENDER)}) == 4


@pytest.mark.usefixtures("restored_logging")
def test_the_log_goes_to_stderr_and_the_decisions_to_stdout(
        office: Office, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """stdout is the table an operator reads; the JSON log is on stderr."""
    [original] = office.folder("routed")
    from daemon import log  # noqa: PLC0415

    log.configure(stderr=True)
    capsys.readouterr()
    replayer = Replayer(office.settings, office.store, connect=lambda _r: office.box,
                        clock=lambda: office.now)
    assert replayer.replay(original, apply=False) == Exit.DONE
    out, err = capsys.readouterr()
    assert out.splitlines()[0] == f"message {original}"
    assert out.splitlines()[-1] == "no change"
    assert '"event": "replay.shown"' in err
    assert '"event"' not in out


def test_a_replay_does_not_replace_a_submission_that_came_after_it(office: Office) -> None:
    """The same policy sent again later replaces the first; the first, replayed, names
    only the mail it replaces, not the later submission (the history as of its first
    decision)."""
    [original] = office.folder("routed")
    [forward] = [h.message for h in office.outbox.taken]
    resent = mails.legacy_pdf_mail(date=IN_TIME + timedelta(days=1))
    assert _id(resent) != original
    office.box.deliver(resent, arrived=IN_TIME + timedelta(days=1))
    intake = Intake(office.settings, office.store, connect=lambda: office.box,
                    outbox=office.outbox, clock=lambda: IN_TIME + timedelta(days=1))
    assert dict(intake.run_once()) == {"routed": 1}
    intake.close()
    [_, second] = office.outbox.to(stack.CONTRACT_STAFF)
    assert second["X-Surety-Replaces"].strip() == original  # the later one replaces it

    moved = stack.office_config(Path(office.settings.state.path)).replace(
        f'contract_guarantee = "{stack.CONTRACT_STAFF}"',
        'contract_guarantee = "keiyaku-2@city.example.jp"')
    assert office.replay(original, apply=True, settings=config.parse(moved)) == Exit.DONE
    [again] = office.outbox.to("keiyaku-2@city.example.jp")
    assert again["X-Surety-Replaces"].strip() == forward["Message-ID"]
    body = again.get_body(preferencelist=("plain",))
    assert body is not None
    assert "■ 再提出" not in body.get_content()  # no section naming the later one


# --- staff told of a replay (the 再判定 notice, the re-decision line) -------------------

def test_routed_to_correction_tells_the_earlier_staff_once_threaded(office: Office) -> None:
    """The contract staff who got the forward get one notice: threaded under it, naming
    it in X-Surety-Replaces, the verdicts in Japanese, the problem's staff text, and that
    the forward is void; a second --apply sends nothing more."""
    [original] = office.folder("routed")
    [forward] = [h.message for h in office.outbox.taken]
    later = _later(office)
    assert office.replay(original, apply=True, settings=later) == Exit.DONE
    [handed] = [h for h in office.outbox.taken
                if str(h.message["Subject"]).startswith(NOTICE_SUBJECT)]
    notice, forward_id = handed.message, str(forward["Message-ID"]).strip()
    assert handed.recipients == (stack.CONTRACT_STAFF,)
    assert notice["In-Reply-To"].strip() == forward_id
    assert notice["References"].strip() == forward_id
    assert notice["X-Surety-Replaces"].strip() == forward_id
    assert notice["Message-ID"].strip() == replay_id([original], 1, "redecided",
                                                     stack.SENDER)
    assert notice["Subject"] == f"{NOTICE_SUBJECT}{forward_subject(office)}"
    assert notice["X-Surety-Verdict"] == "correction"
    assert not notice.is_multipart() or all(
        p.get_content_disposition() != "attachment" for p in notice.walk())
    text, html = _parts(notice)
    void = (f"先にお送りしたメール（Message-ID: {forward_id}）は無効です。"
            "この提出について手続きを進めないでください。")
    staff_text = catalogue.get(Code.LEGACY_DEADLINE_PASSED).to_staff.format(
        legacy_pdf_until="2026年3月1日")
    for part, shown in ((text, void), (html, html_escape.escape(void, quote=False))):
        assert "判定が「回付」から「修正依頼」に変わりました。" in part
        assert shown in part
        assert f"{staff_text}（legacy-deadline-passed）" in part
        assert "差出人には、修正のうえ再提出いただくよう、修正依頼を返信しました。" in part
    assert "  先の判定　: 担当課へ回付" in text
    assert "  新しい判定: 修正依頼を返信" in text

    assert office.replay(original, apply=True, settings=later) == Exit.DONE
    assert office.said[-1] == "no change"
    assert len(_notices(office)) == 1


def forward_subject(office: Office) -> str:
    """The routed message's own subject, as the notice shows it."""
    [stored] = office.box.held(office.settings.imap.folders.correction)
    return str(stored["Subject"])


def test_correction_to_routed_sends_the_forward_saying_so_and_no_notice(
        office: Office) -> None:
    """Back to routed: the new forward says near the top, in both parts, that it is a
    re-decision; no notice (the forward is what staff get)."""
    [original] = office.folder("routed")
    assert office.replay(original, apply=True, settings=_later(office)) == Exit.DONE
    assert len(_notices(office)) == 1
    assert office.replay(original, apply=True) == Exit.DONE
    assert len(_notices(office)) == 1
    first, again = _forwards(office, stack.CONTRACT_STAFF)
    text, html = _parts(again)
    line = f"{REDECIDED[:-1]}（先の判定: 修正依頼）。"
    assert text.splitlines()[:2] == ["電子保証の提出を受け付けました。内容をご確認ください。",
                                     line]
    assert line in html
    assert REDECIDED not in _parts(first)[0]  # only a replay's mails say it


def test_a_replays_staff_mail_to_the_same_address_names_the_mail_it_stands_for() -> None:
    """The line names the earlier staff mails to the same address (any case), else says
    the earlier verdict; a stranger's text in it is escaped."""
    redecision = Redecision("routed", (("<f1@x>", ("Keiyaku@City.example.jp",)),
                                       ("<f2@x>", ("other@city.example.jp",))))
    assert redecision.line(("keiyaku@city.example.jp",)) == (
        "この提出は、設定の変更後に再判定したものです。"
        "先にお送りしたメール（Message-ID: <f1@x>）に代わるものです。")
    assert redecision.line(("third@city.example.jp",)) == (
        "この提出は、設定の変更後に再判定したものです（先の判定: 回付）。")
    odd = Redecision("odd\x1b[2J", ())
    assert "\x1b" not in odd.line(("a@b",))


def test_a_dsure_replay_notice_shows_no_secret(fresh: Fresh) -> None:
    """A D-Sure key mail routed, then the route no longer accepted: the notice to the
    contract staff carries no 認証キー in its subject, text or HTML."""
    from conftest import assert_no_secrets  # noqa: PLC0415

    raw = mails.dsure_key_mail(in_body=True, charset="utf-8")
    fresh.box.deliver(raw)
    assert fresh.run() == {"routed": 1}
    fresh.now += timedelta(minutes=5)
    fresh.run()  # its own copy
    fresh.settings = config.parse(stack.office_config(
        Path(fresh.settings.state.path),
        policy='accept = ["confirmation-system", "legacy-pdf"]'))
    status, said = fresh.replay(_id(raw))
    assert status == Exit.DONE, said
    [handed] = [h for h in fresh.outbox.taken
                if str(h.message["Subject"]).startswith(NOTICE_SUBJECT)]
    assert handed.recipients == (stack.CONTRACT_STAFF,)
    text, html = _parts(handed.message)
    assert_no_secrets(handed.raw.decode("utf-8", "replace") + text + html)
    assert "判定が「回付」から「修正依頼」に変わりました。" in text


def test_an_address_the_replays_own_staff_mail_reaches_gets_no_notice(
        tmp_path: Path) -> None:
    """An earlier review mail went to the review and contract addresses; the new decision
    routes to the contract staff: only the review address is told (the contract staff get
    the new forward). The same verdict as before: only an address that no longer gets it
    is told; the same staff again, nobody."""
    from daemon.compose import compose  # noqa: PLC0415
    from daemon.decide import decide  # noqa: PLC0415
    from daemon.read import read_message  # noqa: PLC0415
    from daemon.replay import staff_notices  # noqa: PLC0415

    settings = _settings(tmp_path / "state.sqlite3", "2026-03-31")
    mail = read_message(mails.dsure_key_mail(in_body=True, charset="utf-8"))
    decision = decide(mail, settings, can_wait=False)
    assert decision.route_to == (stack.CONTRACT_STAFF,)
    sent = compose(decision, mail, settings, IN_TIME)
    earlier = Redecision("review", (("<f@x>", (stack.REVIEW, stack.CONTRACT_STAFF)),))
    [notice] = staff_notices(decision, mail, settings, IN_TIME, earlier=earlier, sent=sent,
                             number=2)
    assert notice.recipients == (stack.REVIEW,)
    assert notice.action == "redecided"
    assert notice.message_id == replay_id(decision.sources, 2, "redecided", stack.SENDER)
    text, _ = _parts(notice.message)
    assert "判定が「要確認」から「回付」に変わりました。" in text
    assert "このメールについての確認は不要です。" in text
    assert f"新しい判定のメールは {stack.CONTRACT_STAFF} にお送りしました。" in text
    assert "判定の理由" not in text  # a routed decision has no problems to explain
    # The verdict the same and the address that had it no longer sent it: told so.
    moved = Redecision("routed", earlier.earlier_staff)
    [told] = staff_notices(decision, mail, settings, IN_TIME, earlier=moved, sent=sent,
                           number=2)
    assert told.recipients == (stack.REVIEW,)
    assert "判定は「回付」のままですが、送り先が変わりました。" in _parts(told.message)[0]
    # The same verdict to the same staff: nobody to tell.
    same = Redecision("routed", (("<f@x>", (stack.CONTRACT_STAFF,)),))
    assert staff_notices(decision, mail, settings, IN_TIME, earlier=same, sent=sent,
                         number=2) == []


def test_a_replay_sends_the_contractor_no_second_receipt(tmp_path: Path) -> None:
    """Receipts on: routed (with its receipt), replayed to a correction, replayed back to
    routed, then routed to another section: the contractor has one receipt in all."""
    base = _settings(tmp_path / "state.sqlite3", "2026-03-31")
    settings = base.model_copy(update={"replies": base.replies.model_copy(
        update={"receipt": True})})
    office = _routed(settings)
    outbox = office.outbox
    try:
        def receipts() -> list[Message]:
            return [m for m in outbox.to(CONTRACTOR)
                    if str(m["Subject"]).startswith("【電子保証 受領確認】")]

        assert len(receipts()) == 1
        [original] = office.folder("routed")
        later = settings.model_copy(update={"policy": _later(office).policy})
        assert office.replay(original, apply=True, settings=later) == Exit.DONE
        assert office.folder("correction") == [original]
        assert office.replay(original, apply=True) == Exit.DONE  # routed again
        assert office.folder("routed") == [original]
        elsewhere = settings.model_copy(update={"routing": settings.routing.model_copy(
            update={"contract_guarantee": [stack.ADVANCE_STAFF]})})
        assert office.replay(original, apply=True, settings=elsewhere) == Exit.DONE
        assert len(_forwards(office, stack.ADVANCE_STAFF)) == 1  # it did act
        assert len(receipts()) == 1
        # The section that had it is told its forward is void (the verdict the same).
        last = _notices(office)[-1]
        assert last["To"] == stack.CONTRACT_STAFF
        assert "送り先が変わりました" in _parts(last)[0]
        assert "この提出について手続きを進めないでください" in _parts(last)[0]
    finally:
        office.store.close()
