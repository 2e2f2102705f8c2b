"""``surety-intake check`` against the real Postfix and Dovecot: each broken setting named
on its own line, with its own exit status, and the test mail of ``--send-test`` delivered."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import stack
from conftest import Office

pytestmark = pytest.mark.stack

USER = stack.INTAKE


@dataclass
class Checked:
    """What one ``check`` printed, and its exit status."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        """The step lines."""
        return self.stdout.splitlines()

    def failed(self) -> list[str]:
        """The FAIL lines."""
        return [line for line in self.lines if line.startswith("FAIL ")]


def _check(office: Office, *args: str, password: str = stack.PASSWORD,
           env: dict[str, str] | None = None) -> Checked:
    """``surety-intake --config ... check ARGS`` as a process, as an operator runs it."""
    environment = dict(os.environ, SURETY_TEST_IMAP_PASSWORD=password, **(env or {}))
    proc = subprocess.run(
        [sys.executable, "-m", "daemon.cli", "--config", str(office.config_path), "check",
         *args], capture_output=True, text=True, env=environment, timeout=120, check=False)
    shown = proc.stdout + proc.stderr
    assert password not in shown, "a password in check's output"
    assert all(line[:5] in ("ok   ", "FAIL ") for line in proc.stdout.splitlines()), shown
    return Checked(proc.returncode, proc.stdout, proc.stderr)


def _edit(office: Office, old: str, new: str) -> None:
    text = office.config_path.read_text(encoding="utf-8")
    assert old in text
    office.config_path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _create(user: str, folder: str) -> None:
    client = stack.imap_login(user)
    try:
        status, _ = client.create(f'"{folder}"')
        assert status == "OK"
    finally:
        client.logout()


def test_all_ok_changes_nothing_on_the_server(office: Office) -> None:
    """A good config: every step ok, exit 0; a missing verdict folder is said to be
    created on the first run, an existing one is just ok, and check creates none."""
    _create(USER, "Surety/Routed")
    result = _check(office)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.lines == [
        "ok   IMAP localhost:143: connected, STARTTLS, certificate verified",
        f"ok   IMAP login as {USER}",
        "ok   IMAP intake folder INBOX (imap.folder): 0 messages",
        "ok   IMAP folder Surety/Routed (imap.folders.routed)",
        *(f"ok   IMAP folder Surety/{name} (imap.folders.{name.lower()}):"
          " missing, will be created on the first run"
          for name in ("Correction", "Review", "Ignored", "Held", "Sent", "Quarantine")),
        "ok   SMTP localhost:25: connected, EHLO, STARTTLS, certificate verified",
        "ok   SMTP login: none: smtp.username is not set",
    ]
    assert stack.folders(USER) == {"INBOX": 0, "Surety/Routed": 0}
    assert stack.mailbox(stack.REVIEW) == []


def test_implicit_tls_on_993(office: Office) -> None:
    """imap.security = "tls" on the IMAPS port is checked the same way."""
    _edit(office, 'port = 143\nsecurity = "starttls"', 'port = 993\nsecurity = "tls"')
    result = _check(office)
    assert result.returncode == 0, result.stdout
    assert result.lines[0] == "ok   IMAP localhost:993: connected, TLS, certificate verified"


def test_wrong_imap_password_is_named(office: Office) -> None:
    """A password the server refuses: exit 4, the line names the user; SMTP is still
    checked."""
    result = _check(office, password="not-the-password")
    assert result.returncode == 4, result.stdout
    assert result.failed() == [
        f"FAIL IMAP login: IMAP login refused for {USER}"
        " (server: [AUTHENTICATIONFAILED] Authentication failed.)"]
    assert "ok   SMTP localhost:25: connected, EHLO, STARTTLS, certificate verified" in (
        result.lines)
    assert not any("IMAP folder" in line for line in result.lines)


def test_missing_intake_folder(office: Office) -> None:
    """An intake folder that does not exist: exit 5, named."""
    _edit(office, "poll_seconds = 5", 'poll_seconds = 5\nfolder = "Eingang"')
    result = _check(office)
    assert result.returncode == 5, result.stdout
    assert result.failed() == ["FAIL IMAP intake folder Eingang (imap.folder): does not exist"]
    assert "Eingang" not in stack.folders(USER)


def test_a_folder_name_the_server_refuses(office: Office) -> None:
    """A verdict folder whose name the server refuses ([CANNOT]): exit 5; the others are
    still checked, and nothing is created."""
    _edit(office, "[smtp]", '[imap.folders]\nreview = "Surety//Review"\n\n[smtp]')
    result = _check(office)
    assert result.returncode == 5, result.stdout
    [line] = result.failed()
    assert line.startswith("FAIL IMAP folder Surety//Review (imap.folders.review): "
                           "the server refuses this name ([CANNOT] Invalid mailbox name")
    assert any(line.startswith("ok   IMAP folder Surety/Quarantine") for line in result.lines)
    assert stack.folders(USER) == {"INBOX": 0}


def _other_ca(directory: Path) -> Path:
    """A self-signed CA that did not sign the stack's certificates."""
    key, cert = directory / "other-ca.key", directory / "other-ca.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=Some Other CA", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert


@pytest.mark.parametrize("which", ["another CA", "the system's store only"])
def test_certificate_not_trusted(office: Office, tmp_path: Path, which: str) -> None:
    """An IMAP certificate that the configured trust does not verify: exit 3, named as a
    certificate problem; login is not attempted."""
    ca = str(_other_ca(tmp_path)) if which == "another CA" else ""
    text = office.config_path.read_text(encoding="utf-8")
    office.config_path.write_text(  # the first ca_file is the [imap] one
        text.replace(f'ca_file = "{stack.CA_FILE}"', f'ca_file = "{ca}"', 1), encoding="utf-8")
    result = _check(office)
    assert result.returncode == 3, result.stdout
    [line] = result.failed()
    assert line.startswith("FAIL IMAP localhost:143: the server's certificate is not trusted"
                           " (unable to get local issuer certificate)")
    assert "imap.ca_file" in line
    assert not any("IMAP login" in line for line in result.lines)


def test_smtp_certificate_not_trusted(office: Office, tmp_path: Path) -> None:
    """The same for SMTP: exit 6 (IMAP is fine)."""
    ca = f'ca_file = "{stack.CA_FILE}"'
    text = office.config_path.read_text(encoding="utf-8")
    at = text.index(ca, text.index("[smtp]"))
    office.config_path.write_text(
        text[:at] + f'ca_file = "{_other_ca(tmp_path)}"' + text[at + len(ca):],
        encoding="utf-8")
    result = _check(office)
    assert result.returncode == 6, result.stdout
    [line] = result.failed()
    assert line.startswith("FAIL SMTP localhost:25: the server's certificate is not trusted")
    assert "smtp.ca_file" in line


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind((stack.HOST, 0))
        return int(probe.getsockname()[1])


def test_smtp_on_a_closed_port(office: Office) -> None:
    """Nothing listens on the SMTP port: exit 6, said plainly; --send-test sends nothing."""
    port = _closed_port()
    _edit(office, "port = 25", f"port = {port}")
    result = _check(office, "--send-test")
    assert result.returncode == 6, result.stdout
    assert result.failed() == [
        f"FAIL SMTP localhost:{port}: connection refused (nothing listens on that port)"]
    assert not any("test mail" in line for line in result.lines)


def test_send_test_reaches_the_review_mailbox(office: Office) -> None:
    """--send-test: one Japanese test mail from smtp.sender to routing.review with the
    agreed subject, whose Message-ID check prints; no copy to the contract mailbox."""
    result = _check(office, "--send-test")
    assert result.returncode == 0, result.stdout + result.stderr
    last = result.lines[-1]
    found = re.fullmatch(rf"ok   SMTP test mail from {stack.SENDER} to {stack.REVIEW}: "
                         r"sent, Message-ID (<[^>]+>)", last)
    assert found, last
    stack.wait_for_queue()
    [mail] = stack.mailbox(stack.REVIEW)
    assert mail.header("Subject") == "【電子保証 受付】接続確認（テスト送信）"
    assert mail.header("Message-ID") == found.group(1)
    assert mail.header("From").endswith(f"<{stack.SENDER}>")
    assert mail.header("To") == stack.REVIEW
    assert mail.header("Auto-Submitted") == "auto-generated"
    assert "surety-intake check --send-test" in mail.text()
    assert stack.PASSWORD not in mail.text()
    assert stack.mailbox(USER) == []  # no copy: nothing for the daemon to file
    again = _check(office, "--send-test")
    assert again.lines[-1] != last  # a new Message-ID each time


def test_smtp_login_against_a_server_without_auth(office: Office) -> None:
    """smtp.username set, and the stack's Postfix offers no SMTP AUTH: exit 7, said so."""
    _edit(office, f'sender = "{stack.SENDER}"',
          f'sender = "{stack.SENDER}"\nusername = "{stack.SENDER}"\n'
          'password_env = "SURETY_TEST_SMTP_PASSWORD"')
    result = _check(office, "--send-test", env={"SURETY_TEST_SMTP_PASSWORD": "smtp-secret-1"})
    assert result.returncode == 7, result.stdout
    assert result.failed() == [
        f"FAIL SMTP login: SMTP login refused for {stack.SENDER}: the server offers no login"
        " (no AUTH after EHLO); leave smtp.username empty if it takes mail from this host"
        " without one"]
    assert "smtp-secret-1" not in result.stdout + result.stderr
    assert stack.mailbox(stack.REVIEW) == []


@pytest.mark.parametrize("right", [True, False], ids=["right password", "wrong password"])
def test_smtp_login_on_a_server_that_asks_for_one(office: Office, right: bool) -> None:
    """Postfix's AUTH port (nothing taken without a login; SASL by Dovecot): the right
    password logs in and the test mail goes; a wrong one is refused, exit 7, named, and
    nothing is sent."""
    _edit(office, "port = 25\n", "port = 2528\n")
    _edit(office, f'sender = "{stack.SENDER}"',
          f'sender = "{stack.SENDER}"\nusername = "{USER}"\n'
          'password_env = "SURETY_TEST_SMTP_PASSWORD"')
    password = stack.PASSWORD if right else "not-the-smtp-password"
    result = _check(office, "--send-test", env={"SURETY_TEST_SMTP_PASSWORD": password})
    assert password not in result.stdout + result.stderr
    if right:
        assert result.returncode == 0, result.stdout
        assert any(line.startswith(f"ok   SMTP login as {USER}") for line in result.lines)
        stack.wait_for_queue()
        [mail] = stack.mailbox(stack.REVIEW)
        assert mail.header("Subject") == "【電子保証 受付】接続確認（テスト送信）"
        return
    assert result.returncode == 7, result.stdout
    [line] = result.failed()
    assert line.startswith(f"FAIL SMTP login: SMTP login refused for {USER}"), line
    assert "535" in line
    assert not any(line.startswith("ok   SMTP test mail") for line in result.lines)
    stack.wait_for_queue()
    assert stack.mailbox(stack.REVIEW) == []


def test_a_refused_test_mail(office: Office) -> None:
    """A review address the server refuses at RCPT: exit 7, the server's answer shown."""
    refused = f"nobody@{stack.CLOSED_DOMAIN}"
    _edit(office, f'review = "{stack.REVIEW}"', f'review = "{refused}"')
    result = _check(office, "--send-test")
    assert result.returncode == 7, result.stdout
    [line] = result.failed()
    assert line.startswith(f"FAIL SMTP test mail from {stack.SENDER} to {refused}: not sent:")
    assert " 550 " in line or ": 550" in line


def test_missing_password_is_a_config_error(office: Office) -> None:
    """No password in the variable imap.password_env names: a config error, exit 2,
    before anything is connected."""
    proc = subprocess.run(
        [sys.executable, "-m", "daemon.cli", "--config", str(office.config_path), "check"],
        capture_output=True, text=True, timeout=60, check=False,
        env={k: v for k, v in os.environ.items() if k != "SURETY_TEST_IMAP_PASSWORD"})
    assert proc.returncode == 2
    assert proc.stdout == ""
    warning, error = proc.stderr.splitlines()  # the warning check-config prints too
    assert warning.startswith("surety-intake: warning: security.authserv_id is not set")
    assert error == ("surety-intake: config error: imap.password_env: environment"
                     " variable SURETY_TEST_IMAP_PASSWORD is not set or empty")
