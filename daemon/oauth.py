"""OAuth2 for the mailbox and the SMTP server: the token file, its refresh, the device flow.

The HTTP side of OAuth2 (the token requests, their errors) is Authlib's client over httpx;
this module keeps the token file (mode 0600, replaced atomically), decides when the access
token must be refreshed, and writes the SASL strings (XOAUTH2, OAUTHBEARER). Every token
and the client secret are registered with the log redactor the moment they are read.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import structlog

from daemon import config
from daemon.config import OAuth2
from daemon.log import register_secret

log = structlog.get_logger("daemon.oauth")

# An access token this close to its expiry is refreshed before it is used: a login that
# starts with it must not find it expired by the time the server checks it.
REFRESH_MARGIN = 120.0
HTTP_TIMEOUT = 30.0
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"

Clock = Callable[[], float]


_masked: set[str] = set()  # the values registered with the log redactor by this module


def _register(*values: str) -> None:
    """Never log these values; each registered once (a registration makes the redactor
    rebuild its matcher, and the token is read at every login)."""
    for value in values:
        if value and value not in _masked:
            _masked.add(value)
            register_secret(value)


class OAuthError(Exception):
    """No usable access token: no token file, or the provider refused to refresh it."""


@dataclass(frozen=True)
class Token:
    """What the token file holds."""

    access_token: str
    refresh_token: str
    expires_at: float  # seconds since the epoch

    def due(self, now: float, margin: float = REFRESH_MARGIN) -> bool:
        """Whether it has expired, or will within ``margin`` seconds."""
        return now + margin >= self.expires_at

    def __repr__(self) -> str:  # never the tokens themselves, whatever prints it
        return f"Token(expires_at={self.expires_at})"


def read_token(path: str | Path) -> Token:
    """The token file's token (its values registered with the log redactor)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        token = Token(str(data["access_token"]), str(data.get("refresh_token") or ""),
                      float(data["expires_at"]))
    except FileNotFoundError as err:
        raise OAuthError(f"no token file {path}: run the authorize command once") from err
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise OAuthError(f"the token file {path} cannot be read: {type(err).__name__}") from err
    _register(token.access_token, token.refresh_token)
    return token


def write_token(path: str | Path, token: Token) -> None:
    """Write the token file: created with mode 0600 beside it, synced, then renamed over
    it, so that a reader sees the old file or the new one, never half of one."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(asdict(token), out)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, 0o600)  # noqa: PTH101 - mkstemp made it so; said for the reader
        Path(temp).replace(target)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(temp).unlink()
        raise
    with contextlib.suppress(OSError):  # the rename itself on disk
        dirfd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dirfd)
        finally:
            os.close(dirfd)


def _from_response(answer: dict[str, Any], now: float, refresh_token: str = "") -> Token:
    """A token from the token endpoint's answer (a new refresh token, or the one used)."""
    access = answer.get("access_token")
    if not isinstance(access, str) or not access:
        raise OAuthError("the token endpoint answered without an access token")
    expires_in = answer.get("expires_in")
    expires_at = answer.get("expires_at")
    if isinstance(expires_in, int | float | str) and str(expires_in).isdigit():
        at = now + float(expires_in)
    elif isinstance(expires_at, int | float):
        at = float(expires_at)
    else:
        at = now + 3600.0  # the usual lifetime, when the answer does not say
    token = Token(access, str(answer.get("refresh_token") or refresh_token), at)
    _register(token.access_token, token.refresh_token)
    return token


def client_secret(settings: OAuth2) -> str | None:
    """The client secret named by oauth2.client_secret_env (None for a public client)."""
    if not settings.client_secret_env:
        return None
    value = config.secret(settings.client_secret_env, "oauth2.client_secret_env")
    _register(value)
    return value


def _client(settings: OAuth2) -> Any:
    """Authlib's OAuth2 client over httpx for this registration."""
    from authlib.integrations.httpx_client import (  # noqa: PLC0415 - only with oauth2
        OAuth2Client,
    )

    secret = client_secret(settings)
    return OAuth2Client(
        client_id=settings.client_id, client_secret=secret, scope=settings.scope,
        token_endpoint_auth_method="client_secret_post" if secret else "none",
        timeout=HTTP_TIMEOUT,
    )


def _error_of(err: Exception) -> str:
    """The OAuth error code of an Authlib error (``invalid_grant``), else its type."""
    return str(getattr(err, "error", "") or type(err).__name__)


_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()
# Per token file, the access token a refusal made us fetch: refused too, it is not
# refreshed again (the account or its rights are wrong, not the token), so that a server
# that refuses every token does not draw a refresh at every poll and every send (a
# provider throttles, or blocks, a client that loops).
_fetched_on_refusal: dict[str, str] = {}


def _lock_of(path: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(path, threading.Lock())


class Tokens:
    """The access token of the office's mailbox, refreshed from the refresh token when it
    has expired or is about to, and when a server refused it."""

    def __init__(self, settings: OAuth2, *, clock: Clock = time.time) -> None:
        self.settings = settings
        self.clock = clock
        # The IMAP and SMTP sides and the daily summary may ask at once: one refresh at a
        # time per token file in this process.
        self._lock = _lock_of(settings.token_path)

    def current(self) -> str:
        """A valid access token (refreshed first when due)."""
        with self._lock:
            token = read_token(self.settings.token_path)
            if token.due(self.clock()):
                token = self._refresh(token, reason="expired")
            return token.access_token

    def refused(self, server: str, rejected: str) -> str:
        """The server refused ``rejected``: a new access token, refreshed once (another
        thread that refreshed it meanwhile has done it already)."""
        log.warning("oauth2.refused", server=server)
        path = self.settings.token_path
        with self._lock:
            token = read_token(path)
            if token.access_token != rejected:
                return token.access_token
            if _fetched_on_refusal.get(path) == rejected:
                raise OAuthError(f"the {server.upper()} server refused a token refreshed after"
                                 " its refusal: check the account (IMAP/SMTP access"
                                 " enabled for it, the scope), then run authorize again;"
                                 " not refreshed again before it expires")
            fresh = self._refresh(token, reason="refused").access_token
            _fetched_on_refusal[path] = fresh
            return fresh

    def _refresh(self, token: Token, *, reason: str) -> Token:
        if not token.refresh_token:
            raise OAuthError("the token has expired and there is no refresh token:"
                             " run the authorize command again")
        now = self.clock()
        try:
            with _client(self.settings) as client:
                answer = client.refresh_token(self.settings.token_url,
                                              refresh_token=token.refresh_token)
        except OAuthError:
            raise
        except Exception as err:  # Authlib's, httpx's and JSON errors alike
            raise OAuthError(f"refreshing the token at {self.settings.token_url} failed:"
                             f" {_error_of(err)}") from err
        fresh = _from_response(dict(answer), now, token.refresh_token)
        write_token(self.settings.token_path, fresh)
        log.info("oauth2.refreshed", reason=reason, expires_in=round(fresh.expires_at - now))
        return fresh


# --- SASL --------------------------------------------------------------------------------


def sasl_initial(mechanism: str, user: str, token: str) -> bytes:
    """The client's first (and only) SASL message, not yet base64-encoded: XOAUTH2
    (Google's and Microsoft's) or OAUTHBEARER (RFC 7628)."""
    if mechanism == "OAUTHBEARER":
        return f"n,a={user},\x01auth=Bearer {token}\x01\x01".encode()
    return f"user={user}\x01auth=Bearer {token}\x01\x01".encode()


def sasl_base64(mechanism: str, user: str, token: str) -> str:
    """:func:`sasl_initial`, base64-encoded (an SMTP AUTH argument)."""
    return base64.b64encode(sasl_initial(mechanism, user, token)).decode("ascii")


# --- the device flow (authorize) ------------------------------------------------------------


@dataclass(frozen=True)
class DeviceCode:
    """What the device-authorization endpoint said."""

    device_code: str
    user_code: str
    verification_uri: str
    interval: float
    expires_in: float


def start_device_flow(settings: OAuth2) -> DeviceCode:
    """Ask the device-authorization endpoint for a user code."""
    if not settings.device_url:
        raise config.ConfigError('oauth2.device_url: required for authorize with provider'
                                 ' "custom"')
    client = _client(settings)  # a client secret not set: a ConfigError, said as such
    try:
        with client:
            # RFC 8628 3.1: the client and the scopes (Microsoft and Google take no more).
            data = {"client_id": settings.client_id, "scope": settings.scope}
            response = client.request("POST", settings.device_url, data=data,
                                      withhold_token=True)
            answer = response.json()
    except Exception as err:  # httpx's and JSON errors alike
        raise OAuthError(f"the device endpoint {settings.device_url} failed:"
                         f" {type(err).__name__}") from err
    if not isinstance(answer, dict) or "device_code" not in answer:
        error = answer.get("error") if isinstance(answer, dict) else None
        raise OAuthError(f"the device endpoint {settings.device_url} refused:"
                         f" {error or 'no device_code'}")
    _register(str(answer["device_code"]))
    return DeviceCode(
        str(answer["device_code"]), str(answer.get("user_code", "")),
        # Google says verification_url, RFC 8628 (and Microsoft) verification_uri.
        str(answer.get("verification_uri") or answer.get("verification_url") or ""),
        float(answer.get("interval") or 5), float(answer.get("expires_in") or 900))


class AuthorizeError(OAuthError):
    """The device flow ended without a token (denied, expired)."""


def poll_device_flow(settings: OAuth2, code: DeviceCode, *, clock: Clock = time.time,
                     sleep: Callable[[float], None] = time.sleep) -> Token:
    """Poll the token endpoint until the user has approved (or denied, or the code
    expired); store the token and return it."""
    deadline = clock() + code.expires_in
    interval = code.interval
    with _client(settings) as client:
        while clock() < deadline:
            sleep(interval)
            now = clock()
            try:
                answer = client.fetch_token(settings.token_url, grant_type=DEVICE_GRANT,
                                            device_code=code.device_code)
            except Exception as err:  # Authlib's, httpx's and JSON errors
                error = _error_of(err)
                if error == "authorization_pending":
                    continue
                if error == "slow_down":
                    interval += 5  # RFC 8628 3.5
                    continue
                raise AuthorizeError(f"the token endpoint refused: {error}") from err
            token = _from_response(dict(answer), now)
            write_token(settings.token_path, token)
            return token
    raise AuthorizeError("the code expired before it was entered")
