"""Trial mode: every message read and decided as live mode would, every mail sent to the
trial address only, nothing moved; going live afterwards takes every message as new.

Here on the fake mailbox and SMTP server (the loop as ``run`` drives it); the real stack's
test is in test_stack.py.
"""

from __future__ import annotations

import email
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import Message
from email.policy import default
from pathlib import Path

import pytest
import stack
from fakes import FakeMailbox, FakeOutbox
from samples import mails, parties
from structlog.testing import capture_logs

from daemon import config
from daemon.compose import TRIAL_PREFIX, copy_address, trial_copy
from daemon.config import ConfigError, Settings
from daemon.service import Intake
from daemon.store import Store
from daemon.trial import TrialBox, TrialOutbox

TRIAL = "shiko-kakunin@city.example.jp"
ARRIVED = datetime(2026, 4, 6, 0, 35, 12, tzinfo=UTC)
CONTRACTOR = parties.CONTRACTORS["yamada"].address_email


def _subjects(box: FakeMailbox, folder: str) -> list[str]:
    return [str(m["Subject"]) for m in box.held(folder)]


@dataclass
class Trial:
    settings: Settings
    store: Store
    box: FakeMailbox
    outbox: FakeOutbox
    intake: Intake
    now: datetime = ARRIVED

    def run(self) -> dict[str, int]:
        return dict(self.intake.run_once())

    def sent(self) -> list[tuple[tuple[str, ...], Message]]:
        return [(h.recipients, h.message) for h in self.outbox.taken]


@pytest.fixture
def trial(settings: Settings) -> Iterator[Trial]:
    trying = config.for_trial(settings, TRIAL)
    store = Store(trying.state.path)
    box = FakeMailbox(trying.imap.folder, ARRIVED)
    outbox = FakeOutbox(box, copy_address(trying))
    holder: list[Trial] = []
    intake = Intake(trying, store, connect=lambda: TrialBox(box, trying.imap.folder),
                    outbox=TrialOutbox(outbox, TRIAL), clock=lambda: holder[0].now)
    holder.append(Trial(trying, store, box, outbox, intake))
    yield holder[0]
    intake.close()
    store.close()


def test_a_trial_sends_every_mail_to_the_trial_address_and_moves_nothing(
        trial: Trial) -> None:
    """A complete key notice and an incomplete one (its wait over): the forward and the
    correction live mode would send both go to the trial address, marked 【試行】, naming
    whom they were for; both messages stay in the intake folder; a second poll takes
    neither again."""
    trial.box.deliver(mails.dsure_key_mail())
    trial.box.deliver(mails.dsure_key_mail(in_body=True, omit=("auth_key",),
                                           contract_number="2604099999"),
                      arrived=ARRIVED - timedelta(days=1))
    before = _subjects(trial.box, "INBOX")
    with capture_logs() as logs:
        assert trial.run() == {"routed": 1, "correction": 1}
    sent = trial.sent()
    assert [recipients for recipients, _ in sent] == [(TRIAL,), (TRIAL,)]
    forward, correction = (m for _, m in sent)
    assert str(forward["Subject"]).startswith(TRIAL_PREFIX)
    assert forward["X-Surety-Trial-Recipients"] == stack.CONTRACT_STAFF
    assert forward["X-Surety-Verdict"] == "routed"
    assert correction["X-Surety-Trial-Recipients"] == CONTRACTOR
    assert "auth-key-missing" in str(correction["X-Surety-Problems"])
    assert str(correction["To"]) == TRIAL and correction["Cc"] is None
    # Nothing moved, nothing copied back into the contract mailbox.
    assert _subjects(trial.box, "INBOX") == before
    assert set(trial.box.folders) == {"INBOX"}
    assert sorted(e["folder"] for e in logs if e["event"] == "trial.not_filed") == sorted(
        [trial.settings.imap.folders.routed, trial.settings.imap.folders.correction])
    assert trial.run() == {}
    assert len(trial.outbox.taken) == 2


def test_a_held_message_waits_where_it_is_and_is_decided_when_its_wait_is_over(
        trial: Trial) -> None:
    """Held for the rest of its submission, a message stays in the intake folder; later
    polls do not take it again while it waits; it is completed by its follow-up there, or
    decided alone there when its wait is over."""
    held = [mails.dsure_key_mail(in_body=True, omit=("auth_key",), contract_number=number)
            for number in ("2604020001", "2604020002")]
    for raw in held:
        trial.box.deliver(raw)
    assert trial.run() == {"held": 2}
    assert trial.run() == {}
    trial.now += timedelta(minutes=1)
    trial.box.deliver(mails.dsure_key_mail(in_body=True, contract_number="2604020001",
                                           subject="認証キーの送付"), arrived=trial.now)
    with capture_logs() as logs:
        assert trial.run() == {"routed": 1}
    assert [e["event"] for e in logs if e["event"] == "message.paired"] == ["message.paired"]
    [(recipients, forward)] = trial.sent()
    assert recipients == (TRIAL,)
    assert len(str(forward["X-Surety-Source"]).split()) == 2  # both messages, as one
    assert len(trial.box.held("INBOX")) == 3
    trial.now += timedelta(days=2)
    assert trial.run() == {"correction": 1}
    (recipients, correction) = trial.sent()[-1]
    assert recipients == (TRIAL,)
    assert correction["X-Surety-Trial-Recipients"] == CONTRACTOR
    assert str(correction["X-Surety-Source"]).strip() == email.message_from_bytes(
        held[1], policy=default)["Message-ID"]
    assert len(trial.box.held("INBOX")) == 3
    assert set(trial.box.folders) == {"INBOX"}
    assert trial.run() == {}


def test_going_live_after_a_trial_takes_every_message_as_new(trial: Trial,
                                                              settings: Settings) -> None:
    """The trial kept its own state file: the live one has never heard of the messages."""
    trial.box.deliver(mails.dsure_key_mail())
    assert trial.run() == {"routed": 1}
    assert trial.settings.state.path != settings.state.path
    live_store = Store(settings.state.path)
    outbox = FakeOutbox(trial.box, copy_address(settings))
    live = Intake(settings, live_store, connect=lambda: trial.box, outbox=outbox,
                  clock=lambda: trial.now)
    try:
        assert dict(live.run_once()) == {"routed": 1}
    finally:
        live.close()
        live_store.close()
    [forward] = outbox.to(stack.CONTRACT_STAFF)
    assert not str(forward["Subject"]).startswith(TRIAL_PREFIX)
    assert _subjects(trial.box, settings.imap.folders.routed) == [
        str(email.message_from_bytes(mails.dsure_key_mail(), policy=default)["Subject"])]


# --- the trial copy of a mail ------------------------------------------------------------

def _wire(**headers: str) -> bytes:
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return (head + "\r\n本文はそのまま。\r\n").encode()


def test_the_trial_copy_changes_only_subject_and_recipients() -> None:
    wire = (b"From: =?utf-8?b?5aWR57SE6Kqy?= <surety-intake@city.example.jp>\r\n"
            b"To: t-yamada@yamada-kensetsu.example.co.jp,\r\n"
            b" h-suzuki@yamada-kensetsu.example.co.jp\r\n"
            b"Cc: keiyaku@city.example.jp\r\n"
            b"Subject: =?utf-8?b?44CQ5L+u5q2j44Gu44GK6aGY44GE44CR?=\r\n"
            b"Message-ID: <surety.correction.abc@city.example.jp>\r\n"
            b"X-Surety-Problems: auth-key-missing\r\n"
            b"\r\n"
            b"body line 1\r\nbody line 2\r\n")
    sent_to = ("t-yamada@yamada-kensetsu.example.co.jp", "keiyaku@city.example.jp")
    out = trial_copy(wire, sent_to, TRIAL)
    parsed = email.message_from_bytes(out, policy=default)
    assert str(parsed["Subject"]) == f"{TRIAL_PREFIX}【修正のお願い】"
    assert str(parsed["To"]) == TRIAL
    assert parsed["Cc"] is None
    assert str(parsed["X-Surety-Trial-Recipients"]) == ", ".join(sent_to)
    assert str(parsed["Message-ID"]) == "<surety.correction.abc@city.example.jp>"
    assert out.endswith(b"\r\n\r\nbody line 1\r\nbody line 2\r\n")
    assert b"h-suzuki" not in out.partition(b"X-Surety-Trial")[2]  # the folded To is gone
    for line in (b"From: =?utf-8?b?5aWR57SE6Kqy?= <surety-intake@city.example.jp>",
                 b"X-Surety-Problems: auth-key-missing"):
        assert line in out.split(b"\r\n")


def test_a_mail_without_a_subject_gets_the_mark_alone() -> None:
    out = trial_copy(_wire(To="a@b.example", **{"Message-ID": "<x@y>"}), ("a@b.example",),
                     TRIAL)
    assert str(email.message_from_bytes(out, policy=default)["Subject"]) == TRIAL_PREFIX


# --- config --------------------------------------------------------------------------------

def test_trial_mode_needs_an_address(tmp_path: Path) -> None:
    text = stack.office_config(tmp_path / "state.sqlite3")
    with pytest.raises(ConfigError, match=r'^trial\.address: required when mode is "trial"$'):
        config.parse('mode = "trial"\n' + text)
    with pytest.raises(ConfigError, match=r"^trial\.address: .*not an email address"):
        config.parse(text + '\n[trial]\naddress = "shiko"\n')
    with pytest.raises(ConfigError, match=r"^trial\.address: must not be the contract mailbox"):
        config.parse(text + f'\n[trial]\naddress = "{stack.INTAKE.upper()}"\n')
    with pytest.raises(ConfigError, match=r"^mode: "):
        config.parse('mode = "test"\n' + text)
    with pytest.raises(ConfigError, match=r"^trial\.address: required"):
        config.for_trial(config.parse(text))  # run --dry-run without an address


def test_a_trial_keeps_its_own_state_file(tmp_path: Path) -> None:
    (tmp_path / "office").mkdir()
    path = tmp_path / "office" / "office.toml"
    path.write_text(stack.office_config(tmp_path / "state.sqlite3")
                    + f'\n[trial]\naddress = "{TRIAL}"\n', encoding="utf-8")
    trying = config.for_trial(config.load(path))
    assert trying.mode == "trial"
    assert trying.state.path == str(tmp_path / "state.trial.sqlite3")
    path.write_text(stack.office_config(tmp_path / "state.sqlite3")
                    + f'\n[trial]\naddress = "{TRIAL}"\nstate_path = "t.db"\n',
                    encoding="utf-8")
    assert config.for_trial(config.load(path)).state.path == str(tmp_path / "office" / "t.db")


def test_the_packaged_defaults_are_the_documented_ones() -> None:
    """config/defaults.toml documents what daemon/defaults.toml (packaged) holds."""
    root = Path(__file__).resolve().parents[1]
    assert (root / "config" / "defaults.toml").read_bytes() == (
        root / "daemon" / "defaults.toml").read_bytes()


def test_a_dry_run_without_a_trial_address_names_the_key(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from daemon.cli import main  # noqa: PLC0415 - the command, as an operator runs it

    path = tmp_path / "office.toml"
    path.write_text(stack.office_config(tmp_path / "state.sqlite3"), encoding="utf-8")
    assert main(["--config", str(path), "run", "--once", "--dry-run"]) == 2
    assert capsys.readouterr().err == (
        'surety-intake: config error: trial.address: required when mode is "trial"\n')
    assert not (tmp_path / "state.trial.sqlite3").exists()
