"""Connections are safe by default: certificates verified, STARTTLS used, no endless wait."""

from __future__ import annotations

import signal
import time
from types import FrameType

import pytest
import stack
from conftest import Office
from samples import mails

from daemon.config import Settings
from daemon.mailbox import Mailbox, MailboxError


def _edit(office: Office, old: str, new: str) -> None:
    text = office.config_path.read_text(encoding="utf-8")
    assert old in text
    office.config_path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.stack
def test_imap_certificate_is_verified(office: Office) -> None:
    """Without the private CA, the IMAP server's certificate is refused: exit 1, logged."""
    _edit(office, f'ca_file = "{stack.CA_FILE}"', 'ca_file = ""')
    run = office.run("run", "--once")
    assert run.returncode == 1
    [event] = run.named("imap.unavailable")
    assert "CERTIFICATE_VERIFY_FAILED" in event["error"]


@pytest.mark.stack
def test_smtp_certificate_is_verified_and_sending_is_retried(office: Office) -> None:
    """An SMTP server whose certificate fails verification gets no mail; the message stays
    in the intake folder and goes out once on the next run after the fix."""
    stack.deliver(mails.dsure_key_mail())
    stack.wait_for_queue()
    smtp_ca = f'sender = "{stack.SENDER}"\nca_file = "{stack.CA_FILE}"'
    _edit(office, smtp_ca, f'sender = "{stack.SENDER}"\nca_file = ""')
    failed = office.run("run", "--once")
    assert failed.returncode == 0, failed.stderr
    [event] = failed.named("mail.send_deferred")
    assert "CERTIFICATE_VERIFY_FAILED" in event["error"] or "certificate" in event["error"]
    assert stack.mailbox(stack.CONTRACT_STAFF) == []
    assert len(stack.unfiled()) == 1  # not filed: still to do

    _edit(office, f'sender = "{stack.SENDER}"\nca_file = ""', smtp_ca)
    time.sleep(1.5)  # smtp.retry_first_seconds = 1: the mail waits that long in the outbox
    fixed = office.run("run", "--once")
    assert fixed.returncode == 0, fixed.stderr
    assert len(stack.mailbox(stack.CONTRACT_STAFF)) == 1
    assert stack.unfiled() == []


def test_silent_imap_server_times_out(silent_server: int, settings: Settings) -> None:
    """A server that accepts but never answers ends in an error, not an endless wait."""

    def too_long(_signum: int, _frame: FrameType | None) -> None:
        raise AssertionError("no timeout: the IMAP connection waited forever")

    imap = settings.imap.model_copy(update={
        "host": "127.0.0.1", "port": silent_server, "security": "none", "timeout_seconds": 1.0,
    })
    previous = signal.signal(signal.SIGALRM, too_long)
    signal.alarm(30)
    try:
        with pytest.raises(MailboxError, match="failed"):
            Mailbox(imap, "password").connect()
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
