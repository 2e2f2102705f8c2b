"""Settings: the packaged defaults with the office's TOML laid over them, validated once.

A bad config stops the start with one message that names the key (``ConfigError``).
"""

from __future__ import annotations

import os
import re
import tomllib
from datetime import date, time
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from daemon.model import Verdict

TlsMode = Literal["tls", "starttls", "none"]
AuthMode = Literal["password", "oauth2"]


class ConfigError(Exception):
    """The configuration cannot be used; the message names the key."""


def _as_list(value: Any) -> Any:
    """Allow one address where a list is expected."""
    return [value] if isinstance(value, str) else value


def _check_address(value: str) -> str:
    if value.count("@") != 1 or value.startswith("@") or value.endswith("@") or " " in value:
        raise ValueError(f"not an email address: {value!r}")
    return value.strip()


Address = Annotated[str, BeforeValidator(lambda v: _check_address(v) if isinstance(v, str) else v)]
Addresses = Annotated[list[Address], BeforeValidator(_as_list), Field(min_length=1)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Office(_Section):
    name: str
    contact: str = ""
    intake_address: Annotated[str, BeforeValidator(
        lambda v: _check_address(v) if isinstance(v, str) and v else v)] = ""


class Folders(_Section):
    routed: str
    correction: str
    review: str
    ignored: str
    held: str
    sent: str
    quarantine: str

    def for_verdict(self, verdict: Verdict) -> str:
        """The folder a message with this verdict is filed in."""
        return {
            Verdict.ROUTED: self.routed,
            Verdict.CORRECTION: self.correction,
            Verdict.REVIEW: self.review,
            Verdict.IGNORED: self.ignored,
            Verdict.HELD: self.held,
        }[verdict]


class Imap(_Section):
    host: str = Field(min_length=1)
    port: int = Field(gt=0, lt=65536)
    security: TlsMode
    username: str = Field(min_length=1)
    auth: AuthMode = "password"
    password_env: str = Field(min_length=1)
    folder: str = Field(min_length=1)
    poll_seconds: int = Field(ge=5)
    ca_file: str = ""
    timeout_seconds: float = Field(gt=0)
    batch_size: int = Field(ge=1, le=500)
    folders: Folders


class Smtp(_Section):
    host: str = Field(min_length=1)
    port: int = Field(gt=0, lt=65536)
    security: TlsMode
    sender: Address
    sender_name: str = ""
    username: str = ""
    auth: AuthMode = "password"
    password_env: str = ""
    ca_file: str = ""
    timeout_seconds: float = Field(gt=0)
    copy_to: Annotated[str, BeforeValidator(
        lambda v: _check_address(v) if isinstance(v, str) and v else v)] = ""
    copy_wait_seconds: float = Field(ge=0)
    retry_first_seconds: float = Field(gt=0)
    retry_max_minutes: float = Field(gt=0)


class Replies(_Section):
    per_sender_per_day: int = Field(ge=0)
    per_hour: int = Field(ge=0)
    receipt: bool


class Security(_Section):
    authserv_id: str = ""
    guarantor_domains: list[str] = []


class Limits(_Section):
    message_bytes: int = Field(gt=0)
    attachments: int = Field(gt=0)
    attachment_bytes: int = Field(gt=0)
    text_chars: int = Field(ge=10_000)
    read_seconds: float = Field(gt=0)
    read_memory_mb: int = Field(ge=64)
    max_attempts: int = Field(ge=1)
    max_submissions: int = Field(ge=1, le=1000)


class Routing(_Section):
    contract_guarantee: Addresses
    advance_payment: Addresses
    review: Addresses


Kinds = Literal["dsure-key", "confirmation-system", "legacy-pdf"]
GuaranteeTypes = Literal["contract", "advance-payment", "interim-advance-payment"]


def _check_pattern(value: str) -> str:
    try:
        re.compile(value)
    except re.error as err:
        raise ValueError(f"not a valid regular expression: {err}") from err
    return value


class Policy(_Section):
    accept: list[Kinds] = Field(min_length=1)
    electronic_start: date | None = None
    legacy_pdf_until: date | None = None
    legacy_pdf_basis: Literal["received", "issued"]
    confirmation_system_domains: list[str] = Field(min_length=1)
    advance_payment_needs_invoice: bool
    password_wait_hours: float = Field(ge=0, le=24 * 14)
    rest_wait_minutes: float = Field(ge=0, le=24 * 60)
    subject_patterns: dict[GuaranteeTypes, Annotated[str, AfterValidator(_check_pattern)]] = {}

    @model_validator(mode="after")
    def _legacy_needs_a_date(self) -> Policy:
        if "legacy-pdf" in self.accept and self.legacy_pdf_until is None:
            raise ValueError(
                "legacy_pdf_until: required while policy.accept takes \"legacy-pdf\""
            )
        return self


class State(_Section):
    path: str = Field(min_length=1)
    busy_timeout_seconds: float = Field(gt=0)


class Insurer(_Section):
    name: str = Field(min_length=1)
    aliases: list[str] = []
    domains: list[str] = Field(min_length=1)
    legacy_cc: Annotated[list[Address], BeforeValidator(_as_list)] = []
    confirmation_system: bool = True

    def names(self) -> list[str]:
        """The full name and every alias, longest first (for matching in text)."""
        return sorted({self.name, *self.aliases}, key=len, reverse=True)


class Trial(_Section):
    address: Annotated[str, BeforeValidator(
        lambda v: _check_address(v) if isinstance(v, str) and v else v)] = ""
    state_path: str = ""


# The token and device-authorization endpoints of each provider; {tenant} is oauth2.tenant.
OAUTH2_ENDPOINTS = {
    "microsoft": ("https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token",
                  "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/devicecode"),
    "google": ("https://oauth2.googleapis.com/token",
               "https://oauth2.googleapis.com/device/code"),
}


def _check_url(value: str) -> str:
    """An https URL; plain http only on this host (a local test endpoint): the refresh
    token and the client secret are posted to it."""
    if value and not re.match(r"^https?://[^/\s]+", value):
        raise ValueError(f"not an http(s) URL: {value!r}")
    if value.lower().startswith("http://") and not re.match(
            r"^http://(127\.0\.0\.1|localhost|\[::1\])(:\d+)?(/|$)", value, re.IGNORECASE):
        raise ValueError(f"must be https (the refresh token is sent to it): {value!r}")
    return value


class OAuth2(_Section):
    """The OAuth2 client of ``imap.auth`` / ``smtp.auth = "oauth2"``."""

    provider: Literal["microsoft", "google", "custom"] = "microsoft"
    tenant: str = Field(min_length=1, pattern=r"^[A-Za-z0-9.\-]+$")
    token_url: Annotated[str, AfterValidator(_check_url)] = ""
    device_url: Annotated[str, AfterValidator(_check_url)] = ""
    client_id: str = ""
    client_secret_env: str = ""
    scope: str = ""
    token_path: str = ""
    mechanism: Literal["XOAUTH2", "OAUTHBEARER"] = "XOAUTH2"

    @model_validator(mode="before")
    @classmethod
    def _fill_endpoints(cls, data: Any) -> Any:
        """An empty token_url/device_url is the provider's (none for "custom")."""
        if not isinstance(data, dict) or data.get("provider", "microsoft") not in OAUTH2_ENDPOINTS:
            return data
        tenant = data.get("tenant") or "organizations"
        token, device = OAUTH2_ENDPOINTS[data.get("provider", "microsoft")]
        if isinstance(tenant, str):
            token, device = token.format(tenant=tenant), device.format(tenant=tenant)
        return {**data, "token_url": data.get("token_url") or token,
                "device_url": data.get("device_url") or device}


def _summary_to(value: Any) -> Any:
    """One address, a list, or "" (off)."""
    if value == "":
        return []
    return _as_list(value)


def _check_clock(value: str) -> str:
    if not re.fullmatch(r"([01][0-9]|2[0-3]):[0-5][0-9]", value):
        raise ValueError(f"not a time of day as HH:MM (00:00 to 23:59): {value!r}")
    return value


class Summary(_Section):
    to: Annotated[list[Address], BeforeValidator(_summary_to)] = []
    at: Annotated[str, AfterValidator(_check_clock)] = "08:30"

    @property
    def time_of_day(self) -> time:
        """``at`` as a time of day (Japan time)."""
        hour, minute = self.at.split(":")
        return time(int(hour), int(minute))


class Metrics(_Section):
    textfile: str = ""
    port: int = Field(ge=0, lt=65536)


class Settings(_Section):
    mode: Literal["live", "trial"] = "live"
    trial: Trial = Trial()
    summary: Summary = Summary()
    metrics: Metrics
    office: Office
    imap: Imap
    smtp: Smtp
    routing: Routing
    policy: Policy
    state: State
    replies: Replies
    security: Security
    limits: Limits
    insurers: list[Insurer] = []
    oauth2: OAuth2

    @model_validator(mode="after")
    def _oauth2_is_complete(self) -> Settings:
        if "oauth2" not in (self.imap.auth, self.smtp.auth):
            return self
        for key in ("client_id", "token_path", "scope", "token_url"):
            if not getattr(self.oauth2, key):
                raise ValueError(f"oauth2.{key}: required when imap.auth or smtp.auth"
                                 ' is "oauth2"')
        return self

    @model_validator(mode="after")
    def _trial_needs_an_address(self) -> Settings:
        if self.mode == "trial" and not self.trial.address:
            raise ValueError('trial.address: required when mode is "trial"')
        contract = {a.lower() for a in (self.imap.username, self.office.intake_address,
                                        self.smtp.copy_to) if a}
        if self.trial.address.lower() in contract:
            # Its mails would arrive in the mailbox the trial reads, among the clerk's.
            raise ValueError("trial.address: must not be the contract mailbox"
                             f" ({self.trial.address})")
        return self


def trial_state_path(settings: Settings) -> Path:
    """The state file of trial mode: trial.state_path, else the live one's name with
    ``.trial`` before its suffix (a trial never touches the live state file, so that
    going live takes every message as new)."""
    if settings.trial.state_path:
        return Path(settings.trial.state_path)
    live = Path(settings.state.path)
    return live.with_name(f"{live.stem}.trial{live.suffix or '.sqlite3'}")


def for_trial(settings: Settings, address: str | None = None) -> Settings:
    """The settings of a trial run (``mode = "trial"`` or ``run --dry-run``): its own
    state file; ``address`` overrides trial.address."""
    trial = settings.trial.model_copy(update={"address": address or settings.trial.address})
    changed = settings.model_copy(update={"mode": "trial", "trial": trial})
    try:
        Settings.model_validate(changed.model_dump())
    except ValidationError as err:
        raise ConfigError(_describe(err)) from err
    state = settings.state.model_copy(update={"path": str(trial_state_path(changed))})
    return changed.model_copy(update={"state": state})


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Lay ``over`` on ``base`` table by table (arrays of tables replace, not merge)."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _describe(err: ValidationError) -> str:
    # A misspelt key also makes the real one "missing": name the misspelling first.
    errors = sorted(err.errors(), key=lambda e: e["type"] != "extra_forbidden")
    first = errors[0]
    key = ".".join(str(p) for p in first["loc"])
    kind = first["type"]
    if kind == "missing":
        return f"{key}: required key is missing"
    if kind == "extra_forbidden":
        return f"{key}: unknown key (misspelt?)"
    message = str(first["msg"]).removeprefix("Value error, ")
    if kind == "value_error" and not key:  # a check across sections names its key itself
        return message
    inner = re.match(r"^(\w+): (.*)$", message)
    if kind == "value_error" and inner and isinstance(first.get("input"), dict):
        return f"{key}.{inner.group(1)}: {inner.group(2)}"  # a check across a section's keys
    got = first.get("input")
    shown = f" (got {got!r})" if isinstance(got, str | int | float | bool) else ""
    return f"{key}: {first['msg']}{shown}"


def defaults() -> dict[str, Any]:
    """The packaged defaults file, parsed."""
    text = resources.files("daemon").joinpath("defaults.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def parse(text: str) -> Settings:
    """Settings from an office's TOML text (defaults laid under it)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"not valid TOML: {err}") from err
    try:
        return Settings.model_validate(_merge(defaults(), data))
    except ValidationError as err:
        raise ConfigError(_describe(err)) from err


def load(path: str | Path) -> Settings:
    """Settings from an office's TOML file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"cannot read config file {path}: {err.strerror}") from err
    except UnicodeDecodeError as err:
        raise ConfigError(f"config file {path} is not UTF-8") from err
    settings = parse(text)
    # A relative state path is taken from the config file's folder, not the cwd.
    here = Path(path).resolve().parent
    state = Path(settings.state.path)
    if not state.is_absolute():
        state_settings = settings.state.model_copy(update={"path": str((here / state).resolve())})
        settings = settings.model_copy(update={"state": state_settings})
    token = Path(settings.oauth2.token_path)
    if settings.oauth2.token_path and not token.is_absolute():
        oauth2 = settings.oauth2.model_copy(update={"token_path": str((here / token).resolve())})
        settings = settings.model_copy(update={"oauth2": oauth2})
    trial = Path(settings.trial.state_path)
    if settings.trial.state_path and not trial.is_absolute():
        trial_settings = settings.trial.model_copy(
            update={"state_path": str((here / trial).resolve())})
        settings = settings.model_copy(update={"trial": trial_settings})
    textfile = Path(settings.metrics.textfile)
    if settings.metrics.textfile and not textfile.is_absolute():
        metrics = settings.metrics.model_copy(
            update={"textfile": str((here / textfile).resolve())})
        settings = settings.model_copy(update={"metrics": metrics})
    return settings


def secret(env_name: str, key: str) -> str:
    """The secret a ``*.password_env`` key names: the environment variable of that name,
    else the systemd credential of that name (``LoadCredential=NAME:/path``, read from
    ``$CREDENTIALS_DIRECTORY/NAME``; its one line, the line end not counted)."""
    value = os.environ.get(env_name)
    if value:
        return value
    directory = os.environ.get("CREDENTIALS_DIRECTORY")
    if directory and "/" not in env_name and env_name not in (".", ".."):
        try:
            value = (Path(directory) / env_name).read_text(encoding="utf-8").rstrip("\r\n")
        except FileNotFoundError:
            value = ""
        except (OSError, UnicodeDecodeError) as err:
            raise ConfigError(f"{key}: cannot read the credential {env_name}: {err}") from err
        if value:
            return value
        raise ConfigError(f"{key}: neither the environment variable nor the credential"
                          f" {env_name} is set (or it is empty)")
    raise ConfigError(f"{key}: environment variable {env_name} is not set or empty")


def check_for_run(settings: Settings) -> None:
    """What ``run`` needs beyond ``classify``: secrets present, CA files readable, the
    OAuth2 token file there (``authorize`` writes it)."""
    if settings.imap.auth == "password":
        secret(settings.imap.password_env, "imap.password_env")
    if "oauth2" in (settings.imap.auth, settings.smtp.auth):
        if settings.oauth2.client_secret_env:
            secret(settings.oauth2.client_secret_env, "oauth2.client_secret_env")
        if not Path(settings.oauth2.token_path).is_file():
            raise ConfigError(f"oauth2.token_path: no token file {settings.oauth2.token_path}"
                              " (run the authorize command once)")
    if settings.smtp.username and settings.smtp.auth == "password":
        if not settings.smtp.password_env:
            raise ConfigError("smtp.password_env: required when smtp.username is set")
        secret(settings.smtp.password_env, "smtp.password_env")
    cas = (("imap.ca_file", settings.imap.ca_file), ("smtp.ca_file", settings.smtp.ca_file))
    for key, ca in cas:
        if ca and not Path(ca).is_file():
            raise ConfigError(f"{key}: no such file: {ca}")


def warnings(settings: Settings) -> list[str]:
    """What a valid config leaves open that an operator should know about."""
    found = []
    if not settings.security.authserv_id.strip():
        found.append("security.authserv_id is not set: mail claiming an insurer's or guarantee"
                     " company's domain is not checked against the office server's"
                     " Authentication-Results")
    if ("oauth2" in (settings.imap.auth, settings.smtp.auth)
            and not Path(settings.oauth2.token_path).is_file()):
        found.append(f"oauth2.token_path: no token file {settings.oauth2.token_path} yet:"
                     " run the authorize command once before run")
    return found
