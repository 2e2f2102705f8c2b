"""OAuth2 without a mail server: the token file, its refresh, the provider defaults, the
config errors, the SASL strings, authorize's device flow, and no token in a log line.

The token endpoint is tests/tokenserver.py, a real HTTP server on 127.0.0.1.
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
import structlog
from tokenserver import TokenServer, access_token, serve

from daemon import config, log, oauth
from daemon.config import ConfigError, Settings
from daemon.oauth import Token, Tokens

KEY = b"unit-test-signing-key-0123456789"
USER = stack.INTAKE


def _oauth_config(tmp_path: Path, server: TokenServer | None = None, *,
                  imap_auth: str = "oauth2", extra: str = "") -> str:
    urls = (f'token_url = "{server.token_url}"\ndevice_url = "{server.device_url}"\n'
            if server else "")
    text = stack.office_config(tmp_path / "state.sqlite3").replace(
        'password_env = "SURETY_TEST_IMAP_PASSWORD"',
        f'password_env = "SURETY_TEST_IMAP_PASSWORD"\nauth = "{imap_auth}"', 1)
    return text + f"""
[oauth2]
provider = "custom"
{urls}client_id = "surety-test-client"
scope = "mail offline_access"
token_path = "{tmp_path / 'token.json'}"
{extra}
"""


@pytest.fixture
def server() -> Iterator[TokenServer]:
    with serve(TokenServer(KEY, USER)) as running:
        yield running


@pytest.fixture
def oauth_settings(tmp_path: Path, server: TokenServer) -> Settings:
    return config.parse(_oauth_config(tmp_path, server))


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_token_file_is_written_0600_whatever_the_umask(tmp_path: Path) -> None:
    """A token file, new or replacing a world-readable one, is mode 0600 and whole."""
    path = tmp_path / "sub" / "token.json"
    old = os.umask(0)
    try:
        oauth.write_token(path, Token("a1b2c3d4", "r1r2r3r4", 1000.0))
        assert _mode(path) == 0o600
        path.chmod(0o644)
        oauth.write_token(path, Token("e5f6g7h8", "r1r2r3r4", 2000.0))
    finally:
        os.umask(old)
    assert _mode(path) == 0o600
    assert json.loads(path.read_text()) == {"access_token": "e5f6g7h8",
                                            "refresh_token": "r1r2r3r4", "expires_at": 2000.0}
    assert [p.name for p in path.parent.iterdir()] == ["token.json"]  # no temp file left


def test_an_expired_token_is_refreshed_and_a_fresh_one_is_not(
        oauth_settings: Settings, server: TokenServer) -> None:
    """current() refreshes an expired token (one request, the file rewritten 0600) and
    then uses the new one without asking again."""
    path = Path(oauth_settings.oauth2.token_path)
    oauth.write_token(path, Token("old-access", server.refresh_token, time.time() - 10))
    tokens = Tokens(oauth_settings.oauth2)
    first = tokens.current()
    assert server.refreshes == 1
    assert first == server.issued[-1] != "old-access"
    assert oauth.read_token(path).access_token == first
    assert _mode(path) == 0o600
    assert tokens.current() == first
    assert server.refreshes == 1
    sent = [r for r in server.requests if r.get("grant_type") == "refresh_token"]
    assert sent[0]["client_id"] == "surety-test-client"
    assert sent[0]["refresh_token"] == server.refresh_token


def test_a_token_about_to_expire_is_refreshed_before_use(
        oauth_settings: Settings, server: TokenServer) -> None:
    """A token with less than REFRESH_MARGIN seconds left is refreshed; one with more
    is used as it is."""
    path = Path(oauth_settings.oauth2.token_path)
    soon = time.time() + oauth.REFRESH_MARGIN - 5
    oauth.write_token(path, Token("soon-access", server.refresh_token, soon))
    assert Tokens(oauth_settings.oauth2).current() != "soon-access"
    assert server.refreshes == 1
    later = time.time() + oauth.REFRESH_MARGIN + 60
    oauth.write_token(path, Token("later-access", server.refresh_token, later))
    assert Tokens(oauth_settings.oauth2).current() == "later-access"
    assert server.refreshes == 1


def test_a_refused_token_is_refreshed_once(oauth_settings: Settings,
                                           server: TokenServer) -> None:
    """A token the server refused is refreshed; a refusal of a token that was replaced
    meanwhile takes the new one without another refresh."""
    path = Path(oauth_settings.oauth2.token_path)
    oauth.write_token(path, Token("revoked-access", server.refresh_token, time.time() + 3000))
    tokens = Tokens(oauth_settings.oauth2)
    fresh = tokens.refused("imap", "revoked-access")
    assert server.refreshes == 1
    assert tokens.refused("smtp", "revoked-access") == fresh
    assert server.refreshes == 1


def test_a_server_that_refuses_every_token_draws_one_refresh_not_one_a_poll(
        oauth_settings: Settings, server: TokenServer) -> None:
    """The account cannot use IMAP (its rights, the scope): the token refused, refreshed
    once, the fresh one refused too: no second refresh (an OAuthError saying what to check),
    however often the daemon logs in after, until the token expires as usual."""
    path = Path(oauth_settings.oauth2.token_path)
    oauth.write_token(path, Token("first-access", server.refresh_token, time.time() + 3000))
    tokens = Tokens(oauth_settings.oauth2)
    fresh = tokens.refused("imap", "first-access")
    assert server.refreshes == 1
    for _ in range(5):  # the polls after
        with pytest.raises(oauth.OAuthError, match="check the account"):
            tokens.refused("imap", fresh)
    assert server.refreshes == 1
    assert tokens.current() == fresh  # still valid: used until it expires


def test_a_refresh_token_the_provider_refuses_is_an_oauth_error(
        oauth_settings: Settings, server: TokenServer) -> None:
    """invalid_grant (a revoked refresh token) says so, and to run authorize again is
    left to the operator: the old file stays."""
    path = Path(oauth_settings.oauth2.token_path)
    oauth.write_token(path, Token("old-access", "not-the-refresh-token", time.time() - 10))
    with pytest.raises(oauth.OAuthError, match="invalid_grant"):
        Tokens(oauth_settings.oauth2).current()
    assert oauth.read_token(path).access_token == "old-access"


def test_no_token_file_says_to_run_authorize(oauth_settings: Settings) -> None:
    """Without a token file, run refuses to start and names the key and the command."""
    with pytest.raises(ConfigError, match=r"^oauth2\.token_path: no token file .*authorize"):
        config.check_for_run(oauth_settings)


def test_check_config_warns_of_a_missing_token_file(oauth_settings: Settings) -> None:
    """check-config passes an OAuth2 config but says the token file is still to come."""
    assert [w for w in config.warnings(oauth_settings) if w.startswith("oauth2.")] == [
        f"oauth2.token_path: no token file {oauth_settings.oauth2.token_path} yet: run the"
        " authorize command once before run"]
    oauth.write_token(oauth_settings.oauth2.token_path, Token("a1b2c3d4", "r1r2", 1.0))
    assert not [w for w in config.warnings(oauth_settings) if w.startswith("oauth2.")]


def test_no_imap_password_is_needed_with_oauth2(oauth_settings: Settings,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """imap.auth = "oauth2" starts without the password variable once a token exists."""
    monkeypatch.delenv("SURETY_TEST_IMAP_PASSWORD", raising=False)
    oauth.write_token(oauth_settings.oauth2.token_path, Token("a1b2c3d4", "r1r2", 1.0))
    config.check_for_run(oauth_settings)


@pytest.mark.parametrize(
    ("table", "token_url", "device_url"),
    [
        ('provider = "microsoft"',
         "https://login.microsoftonline.com/organizations/oauth2/v2.0/token",
         "https://login.microsoftonline.com/organizations/oauth2/v2.0/devicecode"),
        ('provider = "microsoft"\ntenant = "city.example.jp"',
         "https://login.microsoftonline.com/city.example.jp/oauth2/v2.0/token",
         "https://login.microsoftonline.com/city.example.jp/oauth2/v2.0/devicecode"),
        ('provider = "google"', "https://oauth2.googleapis.com/token",
         "https://oauth2.googleapis.com/device/code"),
        ('provider = "google"\ntoken_url = "https://idp.example.jp/t"',
         "https://idp.example.jp/t", "https://oauth2.googleapis.com/device/code"),
        ('provider = "custom"', "", ""),
    ],
)
def test_the_provider_fills_in_its_endpoints(tmp_path: Path, table: str, token_url: str,
                                             device_url: str) -> None:
    """Empty token_url/device_url are the provider's; one given is kept."""
    text = stack.office_config(tmp_path / "s.sqlite3") + f"\n[oauth2]\n{table}\n"
    settings = config.parse(text)
    assert (settings.oauth2.token_url, settings.oauth2.device_url) == (token_url, device_url)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (('auth = "oauth2"', 'auth = "kerberos"'),
         "imap.auth: Input should be 'password' or 'oauth2' (got 'kerberos')"),
        (('client_id = "surety-test-client"', 'client_id = ""'),
         'oauth2.client_id: required when imap.auth or smtp.auth is "oauth2"'),
        (('scope = "mail offline_access"', 'scope = ""'),
         'oauth2.scope: required when imap.auth or smtp.auth is "oauth2"'),
        (('provider = "custom"', 'provider = "custom"\nmechanism = "PLAIN"'),
         "oauth2.mechanism: Input should be 'XOAUTH2' or 'OAUTHBEARER'"),
        (('provider = "custom"', 'provider = "yahoo"'),
         "oauth2.provider: Input should be 'microsoft', 'google' or 'custom'"),
        (('provider = "custom"', 'provider = "custom"\ntoken_uri = "x"'),
         "oauth2.token_uri: unknown key"),
        (('provider = "custom"', 'provider = "microsoft"\ntenant = "a/b"'),
         "oauth2.tenant: String should match pattern"),
        (('token_url = "https://idp.example.jp/token"', 'token_url = "ftp://x"'),
         "oauth2.token_url: Value error, not an http(s) URL"),
        (('token_url = "https://idp.example.jp/token"',
          'token_url = "http://idp.example.jp/token"'),
         "oauth2.token_url: Value error, must be https (the refresh token is sent to it)"),
        (('token_url = "https://idp.example.jp/token"',
          'token_url = "http://localhost.example.jp/token"'),
         "oauth2.token_url: Value error, must be https"),
    ],
)
def test_bad_oauth2_config_names_the_key(tmp_path: Path, edit: tuple[str, str],
                                         message: str) -> None:
    """Each mistake in the OAuth2 settings is one line naming its key."""
    text = _oauth_config(tmp_path, extra='token_url = "https://idp.example.jp/token"')
    with pytest.raises(ConfigError) as err:
        config.parse(text.replace(*edit, 1))
    assert message in str(err.value)


def test_custom_provider_needs_its_token_url(tmp_path: Path) -> None:
    """provider = "custom" with oauth2 in use and no token_url names oauth2.token_url."""
    with pytest.raises(ConfigError, match=r"^oauth2\.token_url: required when"):
        config.parse(_oauth_config(tmp_path))


def test_password_offices_need_no_oauth2_table(tmp_path: Path) -> None:
    """An office on passwords is valid with the [oauth2] defaults untouched."""
    settings = config.parse(stack.office_config(tmp_path / "s.sqlite3"))
    assert (settings.imap.auth, settings.smtp.auth) == ("password", "password")
    assert settings.oauth2.client_id == ""


def test_sasl_strings() -> None:
    """XOAUTH2 and OAUTHBEARER (RFC 7628) initial responses, as servers expect them."""
    assert oauth.sasl_initial("XOAUTH2", "u@x.jp", "tok") == (
        b"user=u@x.jp\x01auth=Bearer tok\x01\x01")
    assert oauth.sasl_initial("OAUTHBEARER", "u@x.jp", "tok") == (
        b"n,a=u@x.jp,\x01auth=Bearer tok\x01\x01")
    assert base64.b64decode(oauth.sasl_base64("XOAUTH2", "u@x.jp", "tok")) == (
        b"user=u@x.jp\x01auth=Bearer tok\x01\x01")


def test_no_token_in_a_log_line(oauth_settings: Settings, server: TokenServer,
                                capsys: pytest.CaptureFixture[str]) -> None:
    """oauth2.refreshed and oauth2.refused carry no token, and a token that reaches any
    log line (an error message quoting it) is masked."""
    path = Path(oauth_settings.oauth2.token_path)
    oauth.write_token(path, Token(access_token(KEY, USER, lifetime=-600), server.refresh_token,
                                  time.time() + 3000))
    log.configure()
    tokens = Tokens(oauth_settings.oauth2)
    old = oauth.read_token(path).access_token
    fresh = tokens.refused("imap", old)
    structlog.get_logger("test").error("imap.unavailable", error=f"rejected {fresh} and {old}",
                                       refresh=server.refresh_token)
    out = capsys.readouterr().out
    events = [json.loads(line) for line in out.splitlines()]
    assert [e["event"] for e in events] == ["oauth2.refused", "oauth2.refreshed",
                                            "imap.unavailable"]
    assert events[1]["reason"] == "refused"
    for secret in (fresh, old, server.refresh_token, fresh.split(".")[2]):
        assert secret not in out
    assert events[2]["error"] == f"rejected {log.MASK} and {log.MASK}"


def test_the_token_repr_shows_no_token() -> None:
    """A Token printed (a traceback's locals, a debug print) shows only its expiry."""
    assert repr(Token("a1b2c3d4e5", "r1r2r3r4r5", 12.0)) == "Token(expires_at=12.0)"


def _authorize(tmp_path: Path, server: TokenServer) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "office.toml"
    path.write_text(_oauth_config(tmp_path, server), encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "daemon.cli", "--config", str(path), "authorize"],
        capture_output=True, text=True, timeout=60, check=False)


def test_authorize_prints_the_code_and_stores_the_token_0600(
        tmp_path: Path, server: TokenServer) -> None:
    """authorize prints the page and the code (Japanese and English), polls past
    authorization_pending, stores the token 0600 and says where; exit 0."""
    server.pending_polls = 2
    proc = _authorize(tmp_path, server)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == ("次のページを開き、コードを入力してサインインしてください / Open this page"
                        f" and enter the code to sign in: {server.base_url}/device  コード /"
                        " code: WDJB-MJHT")
    token_path = tmp_path / "token.json"
    assert lines[-1] == f"トークンを保存しました / token stored: {token_path} (mode 0600)"
    assert _mode(token_path) == 0o600
    stored = oauth.read_token(token_path)
    assert stored.access_token == server.issued[-1]
    assert stored.refresh_token == server.refresh_token
    assert server.device_polls == 3
    assert server.issued[-1] not in proc.stdout + proc.stderr
    assert server.refresh_token not in proc.stdout + proc.stderr


def test_authorize_declined_exits_1(tmp_path: Path, server: TokenServer) -> None:
    """A sign-in declined (access_denied) is exit 1 with one line; no token file."""
    server.deny = True
    proc = _authorize(tmp_path, server)
    assert proc.returncode == 1
    assert proc.stderr.strip() == ("surety-intake: authorize failed: the token endpoint"
                                   " refused: access_denied")
    assert not (tmp_path / "token.json").exists()


def test_authorize_without_a_client_id_is_a_config_error(tmp_path: Path) -> None:
    """authorize with no client_id is exit 2, naming oauth2.client_id."""
    path = tmp_path / "office.toml"
    path.write_text(stack.office_config(tmp_path / "s.sqlite3"), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "daemon.cli", "--config", str(path), "authorize"],
        capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("surety-intake: config error: oauth2.client_id:"
                                   " required for authorize")


def test_authorize_without_its_client_secret_is_a_config_error(
        tmp_path: Path, server: TokenServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """A client_secret_env naming a variable that is not set: exit 2 naming the key."""
    monkeypatch.delenv("SURETY_TEST_NO_SECRET", raising=False)
    path = tmp_path / "office.toml"
    path.write_text(_oauth_config(tmp_path, server,
                                  extra='client_secret_env = "SURETY_TEST_NO_SECRET"'),
                    encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "daemon.cli", "--config", str(path), "authorize"],
        capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("surety-intake: config error: oauth2.client_secret_env:"
                                   " environment variable SURETY_TEST_NO_SECRET is not set"
                                   " or empty")
    assert server.requests == []


def test_a_confidential_client_sends_its_secret_and_it_is_never_logged(
        server: TokenServer, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """With client_secret_env, the refresh sends the secret (client_secret_post) and
    no log line shows it."""
    monkeypatch.setenv("SURETY_TEST_CLIENT_SECRET", "cs-Very-Secret-42")
    settings = config.parse(_oauth_config(
        tmp_path, server, extra='client_secret_env = "SURETY_TEST_CLIENT_SECRET"'))
    oauth.write_token(settings.oauth2.token_path,
                      Token("old-access", server.refresh_token, time.time() - 10))
    log.configure()
    Tokens(settings.oauth2).current()
    structlog.get_logger("test").error("oauth.test", detail="secret cs-Very-Secret-42")
    [sent] = [r for r in server.requests if r.get("grant_type") == "refresh_token"]
    assert sent["client_secret"] == "cs-Very-Secret-42"
    assert "cs-Very-Secret-42" not in capsys.readouterr().out
