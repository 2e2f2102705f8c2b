"""Trial mode on the real mail stack: ``run --once --dry-run`` beside the clerk.

Every mail goes to the trial address only, the contract mailbox is left exactly as it
was (no folder created, no message moved, no flag set, no copy delivered), and going
live afterwards takes every message as new.
"""

from __future__ import annotations

import email
import email.policy
from datetime import datetime, timedelta, timezone

import pytest
import stack
from conftest import Office
from samples import mails

pytestmark = pytest.mark.stack

JST = timezone(timedelta(hours=9))
PAST = datetime.now(JST) - timedelta(hours=2)
CONTRACTOR = "t-yamada@yamada-kensetsu.example.co.jp"
TRIAL = stack.SENDER  # a mailbox of the stack an operator would read


def _message_id(raw: bytes) -> str:
    return str(email.message_from_bytes(raw, policy=email.policy.default)["Message-ID"])


def _flags(user: str) -> list[bytes]:
    """The flags of every message in the user's INBOX."""
    client = stack.imap_login(user)
    try:
        client.select("INBOX", readonly=True)
        _, data = client.uid("FETCH", "1:*", "(FLAGS)")
        return [line for line in data if isinstance(line, bytes)]
    finally:
        client.logout()


def test_a_trial_writes_only_to_the_trial_address_and_leaves_the_mailbox_as_it_was(
        office: Office) -> None:
    office.config_path.write_text(
        office.config_path.read_text(encoding="utf-8") + f'\n[trial]\naddress = "{TRIAL}"\n',
        encoding="utf-8")
    complete = mails.dsure_key_mail()
    incomplete = mails.dsure_key_mail(in_body=True, omit=("auth_key",), charset="utf-8",
                                      contract_number="2604077777")
    stack.deliver(complete)
    stack.append(incomplete, arrived=PAST)
    stack.wait_for_queue()
    folders_before, flags_before = stack.folders(stack.INTAKE), _flags(stack.INTAKE)

    trial = office.run("run", "--once", "--dry-run")
    assert trial.returncode == 0, trial.stderr
    tried = stack.mailbox(TRIAL)
    assert sorted(m.header("X-Surety-Trial-Recipients") for m in tried) == sorted(
        [stack.CONTRACT_STAFF, CONTRACTOR])
    assert all(m.header("Subject").startswith("【試行】") for m in tried)
    assert {m.header("X-Surety-Source") for m in tried} == {
        _message_id(complete), _message_id(incomplete)}
    assert [m.header("To") for m in tried] == [TRIAL, TRIAL]
    # Nobody else got anything, and the contract mailbox is as it was.
    assert stack.mailbox(stack.CONTRACT_STAFF) == []
    assert stack.mailbox(stack.REVIEW) == []
    assert stack.captured() == []
    assert stack.folders(stack.INTAKE) == folders_before == {"INBOX": 2}
    assert _flags(stack.INTAKE) == flags_before
    events = [e["event"] for e in trial.events]
    assert events.count("trial.redirected") == 2
    assert events.count("trial.not_filed") == 2
    assert "trial.mode" in events

    again = office.run("run", "--once", "--dry-run")
    assert again.returncode == 0, again.stderr
    assert len(stack.mailbox(TRIAL)) == 2  # each message decided once

    live = office.run("run", "--once")  # going live: every message is new to it
    assert live.returncode == 0, live.stderr
    [forward] = stack.mailbox(stack.CONTRACT_STAFF)
    assert forward.header("X-Surety-Source") == _message_id(complete)
    assert not forward.header("Subject").startswith("【試行】")
    [correction] = stack.captured()
    assert CONTRACTOR in correction.envelope_to
    assert "auth-key-missing" in correction.problems
    assert len(stack.mailbox(TRIAL)) == 2
