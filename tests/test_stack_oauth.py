"""OAuth2 against the real Dovecot of the mail stack (its oauth2 passdb validates the JWTs
the local token endpoint, tests/tokenserver.py, signs with the stack's key).

A valid token logs in (XOAUTH2 and OAUTHBEARER) and ``run --once`` files a message; an
expired one is refused by Dovecot; the daemon refreshes it, once, and goes on; authorize
stores a token the daemon then logs in with. Password logins keep working beside it.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import stack
from conftest import DaemonRun, Office, assert_no_secrets
from imapclient import IMAPClient
from imapclient.exceptions import LoginError
from samples import mails
from tokenserver import TokenServer, access_token, serve

from daemon import oauth
from daemon.oauth import Token

pytestmark = pytest.mark.stack

KEY_FILE = stack.STACK_DIR / "oauth2" / "keys" / "default" / "HS256" / "default"
DOVECOT_LOG = stack.STACK_DIR / "log" / "dovecot.log"


def _key() -> bytes:
    return base64.b64decode(KEY_FILE.read_text(encoding="ascii"))


@pytest.fixture
def server() -> Iterator[TokenServer]:
    with serve(TokenServer(_key(), stack.INTAKE)) as running:
        yield running


@pytest.fixture
def oauth_office(office: Office, server: TokenServer) -> Office:
    """The test office logging in to IMAP with OAuth2 (no password variable set at all:
    a password login would stop the run)."""
    text = office.config_path.read_text(encoding="utf-8").replace(
        'password_env = "SURETY_TEST_IMAP_PASSWORD"',
        'password_env = "SURETY_TEST_NO_SUCH_PASSWORD"\nauth = "oauth2"', 1)
    office.config_path.write_text(text + f"""
[oauth2]
provider = "custom"
token_url = "{server.token_url}"
device_url = "{server.device_url}"
client_id = "{server.client_id}"
scope = "mail offline_access"
token_path = "token.json"
""", encoding="utf-8")
    return office


def _token_path(office: Office) -> Path:
    return office.config_path.parent / "token.json"


def _run(office: Office, *args: str) -> DaemonRun:
    """The daemon as a process (the token server answers from this one's thread)."""
    proc = subprocess.run(
        [sys.executable, "-m", "daemon.cli", "--config", str(office.config_path), *args],
        capture_output=True, text=True, timeout=300, check=False)
    stack.wait_for_delivery()
    events = [json.loads(line) for line in proc.stdout.split("\n") if line.startswith("{")]
    assert_no_secrets(proc.stdout + proc.stderr)
    return DaemonRun(proc.returncode, events, proc.stdout, proc.stderr)


def _logins_since(offset: int) -> list[str]:
    """Dovecot's Login lines for the contract mailbox written after ``offset``."""
    with DOVECOT_LOG.open("rb") as log:
        log.seek(offset)
        text = log.read().decode(errors="replace")
    return [line for line in text.splitlines()
            if "imap-login: Info: Login: " in line and f"user=<{stack.INTAKE}>" in line]


def _log_offset() -> int:
    return DOVECOT_LOG.stat().st_size


def _assert_no_token(run: DaemonRun, server: TokenServer, *tokens: str) -> None:
    for secret in (*tokens, *server.issued, server.refresh_token):
        assert secret not in run.stdout + run.stderr


def _login(token: str, *, mechanism: str = "XOAUTH2", user: str = stack.INTAKE) -> None:
    client = IMAPClient(stack.HOST, port=143, ssl=False, timeout=20)
    try:
        if mechanism == "OAUTHBEARER":
            client.oauthbearer_login(user, token)
        else:
            client.oauth2_login(user, token)
    finally:
        client.shutdown()


def test_dovecot_takes_a_valid_token_refuses_an_expired_one_and_passwords_still_work(
        ) -> None:
    """XOAUTH2 and OAUTHBEARER with a valid token log in; an expired token, or one for
    another user, is refused (AUTHENTICATIONFAILED); the password login is unchanged."""
    if down := stack.not_running():
        pytest.fail(f"the mail stack is not running: {', '.join(map(str, down))}")
    key = _key()
    _login(access_token(key, stack.INTAKE))
    _login(access_token(key, stack.INTAKE), mechanism="OAUTHBEARER")
    with pytest.raises(LoginError, match="AUTHENTICATIONFAILED"):
        _login(access_token(key, stack.INTAKE, lifetime=-600))
    with pytest.raises(LoginError, match="AUTHENTICATIONFAILED"):
        _login(access_token(key, stack.REVIEW))
    with pytest.raises(LoginError, match="AUTHENTICATIONFAILED"):
        _login(access_token(b"not-the-stack-key-0123456789abcd", stack.INTAKE))
    client = stack.imap_login(stack.REVIEW)  # a password, as every other test logs in
    client.logout()


def test_run_once_logs_in_with_the_token_and_files_the_message(
        oauth_office: Office, server: TokenServer) -> None:
    """With a valid token, run --once logs in by XOAUTH2 (no password anywhere), routes a
    complete submission and files it; nothing is refreshed."""
    token = access_token(server.key, stack.INTAKE)
    oauth.write_token(_token_path(oauth_office),
                      Token(token, server.refresh_token, time.time() + 3000))
    stack.deliver(mails.dsure_key_mail())
    stack.wait_for_queue()
    offset = _log_offset()
    run = _run(oauth_office, "run", "--once")
    assert run.returncode == 0, run.stderr
    # The daemon's login (the password variable it would need is not set at all).
    assert any("method=XOAUTH2" in line for line in _logins_since(offset))
    assert stack.filed_counts().get("Surety/Routed") == 1
    assert len(stack.mailbox(stack.CONTRACT_STAFF)) == 1
    assert server.refreshes == 0
    assert not run.named("oauth2.refreshed")
    _assert_no_token(run, server, token)


def test_a_token_dovecot_refuses_is_refreshed_once_and_the_run_goes_on(
        oauth_office: Office, server: TokenServer) -> None:
    """A token the file says is valid but Dovecot finds expired: the login is refused,
    the daemon refreshes it (one refresh at the token endpoint), logs in with the new
    one and files the message; the token file holds the new token, still 0600."""
    stale = access_token(server.key, stack.INTAKE, lifetime=-600)
    path = _token_path(oauth_office)
    oauth.write_token(path, Token(stale, server.refresh_token, time.time() + 3000))
    stack.deliver(mails.dsure_key_mail())
    stack.wait_for_queue()
    run = _run(oauth_office, "run", "--once")
    assert run.returncode == 0, run.stderr
    assert server.refreshes == 1
    [refused] = run.named("oauth2.refused")
    assert refused["server"] == "imap"
    [refreshed] = run.named("oauth2.refreshed")
    assert refreshed["reason"] == "refused"
    assert stack.filed_counts().get("Surety/Routed") == 1
    assert oauth.read_token(path).access_token == server.issued[-1] != stale
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    _assert_no_token(run, server, stale)


def test_an_expired_token_is_refreshed_before_the_login(
        oauth_office: Office, server: TokenServer) -> None:
    """A token the file says has expired is refreshed before logging in: no refused
    login, one refresh."""
    old = access_token(server.key, stack.INTAKE, lifetime=-600)
    oauth.write_token(_token_path(oauth_office),
                      Token(old, server.refresh_token, time.time() - 600))
    run = _run(oauth_office, "run", "--once")
    assert run.returncode == 0, run.stderr
    assert server.refreshes == 1
    assert [e["reason"] for e in run.named("oauth2.refreshed")] == ["expired"]
    assert not run.named("oauth2.refused")


def test_a_refresh_the_provider_refuses_stops_the_run_with_exit_1(
        oauth_office: Office, server: TokenServer) -> None:
    """A revoked refresh token: the login cannot be made, run --once exits 1 and logs
    imap.unavailable naming invalid_grant (and no token)."""
    stale = access_token(server.key, stack.INTAKE, lifetime=-600)
    oauth.write_token(_token_path(oauth_office), Token(stale, "revoked", time.time() - 600))
    run = _run(oauth_office, "run", "--once")
    assert run.returncode == 1
    [unavailable] = run.named("imap.unavailable")
    assert "invalid_grant" in unavailable["error"]
    _assert_no_token(run, server, stale)


def test_authorize_stores_a_token_0600_the_daemon_logs_in_with(
        oauth_office: Office, server: TokenServer) -> None:
    """authorize against the local device endpoint prints the code, stores the token
    0600; run --once then logs in to Dovecot with it."""
    proc = subprocess.run(
        [sys.executable, "-m", "daemon.cli", "--config", str(oauth_office.config_path),
         "authorize"], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert f"{server.base_url}/device" in proc.stdout
    assert "WDJB-MJHT" in proc.stdout
    path = _token_path(oauth_office)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert oauth.read_token(path).access_token == server.issued[-1]
    offset = _log_offset()
    run = _run(oauth_office, "run", "--once")
    assert run.returncode == 0, run.stderr
    assert any("method=XOAUTH2" in line for line in _logins_since(offset))
    assert server.refreshes == 0


def _smtp_by_token(office: Office, *, imap_by_password: bool = False) -> None:
    """Send through Postfix's AUTH port (2528: nothing is taken without AUTH, SASL by
    Dovecot), logging in with the token."""
    text = office.config_path.read_text(encoding="utf-8")
    text = text.replace("port = 25\n", 'port = 2528\nauth = "oauth2"\n', 1)
    if imap_by_password:
        text = text.replace('password_env = "SURETY_TEST_NO_SUCH_PASSWORD"\nauth = "oauth2"',
                            'password_env = "SURETY_TEST_IMAP_PASSWORD"', 1)
    office.config_path.write_text(text, encoding="utf-8")


def test_smtp_sends_through_postfix_with_the_token(
        oauth_office: Office, server: TokenServer) -> None:
    """smtp.auth = "oauth2": the staff mail goes out through a Postfix port that takes
    nothing without AUTH, logged in by XOAUTH2 (Postfix logs the SASL method)."""
    _smtp_by_token(oauth_office)
    oauth.write_token(_token_path(oauth_office),
                      Token(access_token(server.key, stack.INTAKE), server.refresh_token,
                            time.time() + 3000))
    stack.deliver(mails.dsure_key_mail())
    stack.wait_for_queue()
    since = stack.postfix_log_offset()
    run = _run(oauth_office, "run", "--once")
    assert run.returncode == 0, run.stderr
    assert len(stack.mailbox(stack.CONTRACT_STAFF)) == 1
    assert f"sasl_method=XOAUTH2, sasl_username={stack.INTAKE}" in stack.postfix_log(since)
    assert server.refreshes == 0


@pytest.mark.parametrize("mechanism", ["XOAUTH2", "OAUTHBEARER"])
def test_a_token_postfix_refuses_is_refreshed_once_and_the_mail_goes(
        oauth_office: Office, server: TokenServer, mechanism: str) -> None:
    """IMAP by password, SMTP by a token Dovecot finds expired: AUTH is refused (535),
    the daemon refreshes once (oauth2.refused for smtp) and the mail goes out, with
    either mechanism (Postfix logs which)."""
    _smtp_by_token(oauth_office, imap_by_password=True)
    oauth_office.config_path.write_text(
        oauth_office.config_path.read_text(encoding="utf-8")
        + f'mechanism = "{mechanism}"\n', encoding="utf-8")
    stale = access_token(server.key, stack.INTAKE, lifetime=-600)
    oauth.write_token(_token_path(oauth_office),
                      Token(stale, server.refresh_token, time.time() + 3000))
    stack.deliver(mails.dsure_key_mail())
    stack.wait_for_queue()
    since = stack.postfix_log_offset()
    env_run = subprocess.run(
        [sys.executable, "-m", "daemon.cli", "--config", str(oauth_office.config_path),
         "run", "--once"], capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "SURETY_TEST_IMAP_PASSWORD": stack.PASSWORD})
    stack.wait_for_delivery()
    assert env_run.returncode == 0, env_run.stderr
    events = [json.loads(line) for line in env_run.stdout.split("\n") if line.startswith("{")]
    assert [e["server"] for e in events if e["event"] == "oauth2.refused"] == ["smtp"]
    assert server.refreshes == 1
    assert len(stack.mailbox(stack.CONTRACT_STAFF)) == 1
    assert f"sasl_method={mechanism}, sasl_username={stack.INTAKE}" in stack.postfix_log(since)
    for secret in (stale, *server.issued, server.refresh_token, stack.PASSWORD):
        assert secret not in env_run.stdout + env_run.stderr


def test_check_logs_in_with_the_token_to_imap_and_smtp(
        oauth_office: Office, server: TokenServer) -> None:
    """check with imap.auth and smtp.auth = "oauth2": both logins by token, each said
    on its line; a token Dovecot refuses is refreshed once; exit 0; no token shown."""
    _smtp_by_token(oauth_office)
    stale = access_token(server.key, stack.INTAKE, lifetime=-600)
    oauth.write_token(_token_path(oauth_office),
                      Token(stale, server.refresh_token, time.time() + 3000))
    proc = subprocess.run(
        [sys.executable, "-m", "daemon.cli", "--config", str(oauth_office.config_path),
         "check"], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert f"ok   IMAP login as {stack.INTAKE}" in lines
    assert f"ok   SMTP login as {stack.INTAKE} (XOAUTH2)" in lines
    assert server.refreshes == 1
    assert all(line.startswith(("ok   ", "FAIL ")) for line in lines)
    logged = [json.loads(line)["event"] for line in proc.stderr.splitlines()
              if line.startswith("{")]
    assert logged == ["oauth2.refused", "oauth2.refreshed"]
    for secret in (stale, *server.issued, server.refresh_token):
        assert secret not in proc.stdout + proc.stderr
