"""``check`` without the mail stack: SMTP login refused by a server that offers AUTH, the
exit status of the first failure, plain reasons for an unreachable server, no password
shown, and the test mail as composed."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
import stack
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from daemon import check
from daemon.check import Exit, Step
from daemon.cli import main
from daemon.compose import CHECK_SUBJECT, check_mail
from daemon.config import Settings
from daemon.lifecycle import own_by_headers

NOW = datetime(2026, 12, 2, 1, 30, tzinfo=UTC)
SMTP_PASSWORD = "smtp-Secret-77"


@dataclass
class _Auth:
    """Takes one user and password; refuses anyone else with an answer that echoes the
    password given (as a careless server might)."""

    logins: list[str] = field(default_factory=list)

    def __call__(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                 auth_data: Any) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        user, password = auth_data.login.decode(), auth_data.password.decode()
        self.logins.append(user)
        if (user, password) == ("mailer", SMTP_PASSWORD):
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False,
                          message=f"535 5.7.8 no such login {user}/{password}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def auth_smtp() -> Iterator[int]:
    """An SMTP server on a free loopback port that offers AUTH on a plain connection."""
    port = _free_port()
    controller = Controller(object(), hostname="127.0.0.1", port=port,
                            authenticator=_Auth(), auth_require_tls=False)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def _smtp(settings: Settings, port: int, username: str) -> Settings:
    smtp = settings.smtp.model_copy(update={
        "host": "127.0.0.1", "port": port, "security": "none", "username": username,
        "password_env": "SURETY_TEST_SMTP_PASSWORD", "timeout_seconds": 5.0})
    return settings.model_copy(update={"smtp": smtp})


def test_smtp_login_accepted(settings: Settings, auth_smtp: int) -> None:
    """The right user and password: the login step is ok and names the user."""
    steps = asyncio.run(check.smtp_steps(_smtp(settings, auth_smtp, "mailer").smtp,
                                         SMTP_PASSWORD))
    assert [s.line() for s in steps] == [
        f"ok   SMTP 127.0.0.1:{auth_smtp}: connected, EHLO, no TLS (security = \"none\")",
        "ok   SMTP login as mailer"]


def test_smtp_login_refused_is_named_without_the_password(
        settings: Settings, auth_smtp: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """A login the server refuses: FAIL naming the user with the server's answer (kind 7),
    the password masked even where the server echoes it; with IMAP unreachable too, the
    exit status is the first failure's (3), and no test mail is tried."""
    office = _smtp(settings, auth_smtp, "someone")
    steps = asyncio.run(check.smtp_steps(office.smtp, "wrong-Pass-99"))
    assert steps[-1].failed is Exit.SMTP_REFUSED
    assert steps[-1].detail.startswith("SMTP login refused for someone (server: 535")

    imap = office.imap.model_copy(update={"host": "127.0.0.1", "port": _free_port(),
                                          "security": "none", "ca_file": ""})
    office = office.model_copy(update={"imap": imap})
    monkeypatch.setenv("SURETY_TEST_IMAP_PASSWORD", "imap-Pass-1")
    monkeypatch.setenv("SURETY_TEST_SMTP_PASSWORD", "wrong-Pass-99")
    lines: list[str] = []
    status = check.run(office, send_test=True, now=NOW, say=lines.append)
    assert status is Exit.IMAP_UNREACHABLE
    assert lines[0] == (f"FAIL IMAP 127.0.0.1:{imap.port}: connection refused"
                        " (nothing listens on that port)")
    assert lines[-1] == ("FAIL SMTP login: SMTP login refused for someone"
                         " (server: 535 5.7.8 no such login someone/********)")
    assert not any("test mail" in line for line in lines)  # not after a refused login
    assert "wrong-Pass-99" not in "\n".join(lines)


def test_starttls_not_offered(settings: Settings, auth_smtp: int) -> None:
    """smtp.security = "starttls" against a server that does not offer it: exit 6, said
    so (never a fall back to plain text)."""
    smtp = _smtp(settings, auth_smtp, "mailer").smtp.model_copy(update={"security": "starttls"})
    [step] = asyncio.run(check.smtp_steps(smtp, SMTP_PASSWORD))
    assert step.failed is Exit.SMTP_UNREACHABLE
    assert "STARTTLS" in step.line()
    assert step.line().startswith(f"FAIL SMTP 127.0.0.1:{auth_smtp}: ")


def test_a_silent_server_is_named_after_the_timeout(settings: Settings,
                                                    silent_server: int) -> None:
    """IMAP and SMTP servers that accept and never answer: each a plain timeout line."""
    imap = settings.imap.model_copy(update={
        "host": "127.0.0.1", "port": silent_server, "security": "none", "timeout_seconds": 1.0})
    [step] = list(check.imap_steps(imap, "x"))
    assert step.line() == f"FAIL IMAP 127.0.0.1:{silent_server}: no answer within 1 s"
    assert step.failed is Exit.IMAP_UNREACHABLE
    smtp = settings.smtp.model_copy(update={
        "host": "127.0.0.1", "port": silent_server, "security": "none", "timeout_seconds": 1.0})
    [step] = asyncio.run(check.smtp_steps(smtp, None))
    assert step.line() == f"FAIL SMTP 127.0.0.1:{silent_server}: no answer within 1 s"
    assert step.failed is Exit.SMTP_UNREACHABLE


def test_an_unknown_host(settings: Settings) -> None:
    """A host name that does not resolve: "host not found"."""
    imap = settings.imap.model_copy(update={"host": "imap.surety.invalid"})
    [step] = list(check.imap_steps(imap, "x"))
    assert step.failed is Exit.IMAP_UNREACHABLE
    assert step.line().startswith("FAIL IMAP imap.surety.invalid:143: host not found (")


def test_step_lines() -> None:
    """ok with and without a note, FAIL with its reason."""
    assert Step("IMAP login as a@b").line() == "ok   IMAP login as a@b"
    assert Step("IMAP folder X", detail="missing").line() == "ok   IMAP folder X: missing"
    assert Step("SMTP login", Exit.SMTP_REFUSED, "refused").line() == "FAIL SMTP login: refused"


def test_a_missing_password_is_a_config_error(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """check without the IMAP password's variable: exit 2, one line naming the key."""
    path = tmp_path / "office.toml"
    path.write_text(stack.office_config(tmp_path / "state.sqlite3"), encoding="utf-8")
    monkeypatch.delenv("SURETY_TEST_IMAP_PASSWORD", raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    assert main(["--config", str(path), "check"]) == 2
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err.splitlines()[-1].startswith("surety-intake: config error: imap.password_env: ")


def test_the_test_mail(settings: Settings) -> None:
    """The test mail: from smtp.sender to routing.review, the agreed subject, Japanese text
    saying check sent it, a new Message-ID per run, and mail the daemon knows as its own
    (never answered, should it reach the contract mailbox)."""
    mail = check_mail(settings, NOW, "token-1")
    parsed = message_from_bytes(mail.to_bytes(), policy=default)
    assert parsed["Subject"] == CHECK_SUBJECT == "【電子保証 受付】接続確認（テスト送信）"
    assert parsed["To"] == stack.REVIEW
    assert parsed["From"].addresses[0].addr_spec == stack.SENDER
    assert mail.recipients == (stack.REVIEW,)
    assert parsed["Date"] == "Wed, 02 Dec 2026 10:30:00 +0900"
    text = parsed.get_body(("plain",)).get_content()
    assert "surety-intake check --send-test" in text
    assert "2026年12月02日 10:30:00" in text
    assert "localhost:25" in text
    assert "password" not in text.lower() and "パスワード" not in text
    assert check_mail(settings, NOW, "token-2").message_id != mail.message_id
    head = mail.to_bytes().partition(b"\r\n\r\n")[0]
    assert own_by_headers(head, settings) is not None


@pytest.mark.parametrize("password", ["not-the-password", None])
def test_a_refused_login_leaves_the_mail_waiting_not_refused_for_good(
        settings: Settings, auth_smtp: int, password: str | None) -> None:
    """The daemon's sender, logging in with a password the server refuses (535), or
    with none to a server that asks for one: no mail was handed over, so the failure is
    the setting's, never the mail's: temporary (the mail waits in the outbox and is tried
    again), not "refused for good" (which would end it and send an undeliverable notice
    through the same refusing server)."""
    from daemon.outbox import Outbox, SendError  # noqa: PLC0415

    outbox = Outbox(_smtp(settings, auth_smtp, "mailer").smtp, password)
    with pytest.raises(SendError) as refused:
        outbox.send(b"From: a@b\r\nTo: c@d\r\nSubject: x\r\n\r\nx\r\n", ("c@d",))
    assert refused.value.permanent is False
    assert "not-the-password" not in str(refused.value)
