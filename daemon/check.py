"""``surety-intake check``: the configured servers reached and logged in to, step by step.

Each step prints one line, ``ok   <what>`` or ``FAIL <what>: <plain reason>``. A failure
that makes the later steps of its server meaningless (no connection, no login) ends that
server's steps; the SMTP steps run whatever the IMAP ones found. The exit status is the
kind of the first failure (:class:`Exit`).

Nothing on the server is changed: the intake folder is examined (EXAMINE), the verdict
folders are looked for (LIST, STATUS) and never created; only ``--send-test`` sends one
mail, to routing.review. The passwords (and whatever a server echoes of them) are never
printed; what a server answers is shown on one line, its controls escaped.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
import socket
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum

import aiosmtplib
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from daemon import config, display
from daemon.config import Imap, Settings, Smtp
from daemon.mailbox import delimiter, open_client, server_folder
from daemon.outbox import Outbox, SendError, smtp_client


class Exit(IntEnum):
    """The exit status of ``check``: the kind of the first failure."""

    OK = 0
    CONFIG = 2
    IMAP_UNREACHABLE = 3  # no connection, TLS failed, certificate not trusted
    IMAP_LOGIN = 4
    FOLDER = 5
    SMTP_UNREACHABLE = 6
    SMTP_REFUSED = 7  # login refused, or the test mail


@dataclass(frozen=True)
class Step:
    """One step's outcome: ``failed`` is the kind of failure (None: ok); ``detail`` is the
    reason of a failure, or a note on a step that passed."""

    what: str
    failed: Exit | None = None
    detail: str = ""

    def line(self) -> str:
        """The line printed for this step."""
        if self.failed is None:
            return f"ok   {self.what}" + (f": {self.detail}" if self.detail else "")
        return f"FAIL {self.what}: {self.detail}"


_CONNECTION = (OSError, ssl.SSLError, IMAPClientError, aiosmtplib.SMTPException)
_MASK = "********"


def run(settings: Settings, *, send_test: bool, now: datetime,
        say: Callable[[str], None] | None = None) -> Exit:
    """Check the config's servers, each step said by ``say``; the exit status. Raises
    :class:`~daemon.config.ConfigError` for what the config lacks (a password's variable,
    a CA file)."""
    config.check_for_run(settings)
    imap_password = config.secret(settings.imap.password_env, "imap.password_env")
    smtp_password = (config.secret(settings.smtp.password_env, "smtp.password_env")
                     if settings.smtp.username else None)
    hidden = [p for p in (imap_password, smtp_password) if p]
    say = say or _print
    first = Exit.OK
    for step in _all_steps(settings, imap_password, smtp_password, send_test, now):
        shown = Step(step.what, step.failed, _hide(step.detail, hidden))
        say(shown.line())
        if step.failed is not None and first is Exit.OK:
            first = step.failed
    return first


def _print(line: str) -> None:
    print(line, flush=True)  # each step as it is done: a silent server takes a while


def _all_steps(settings: Settings, imap_password: str, smtp_password: str | None,
               send_test: bool, now: datetime) -> Iterator[Step]:
    yield from imap_steps(settings.imap, imap_password)
    smtp = asyncio.run(smtp_steps(settings.smtp, smtp_password))
    yield from smtp
    if send_test and all(step.failed is None for step in smtp):
        yield send_test_mail(settings, smtp_password, now)


def _hide(text: str, hidden: list[str]) -> str:
    """A server's words on one line, controls escaped, no password in them."""
    for password in hidden:
        text = text.replace(password, _MASK)
    return display.for_staff(text)


# ---- IMAP -------------------------------------------------------------------------------

def imap_steps(s: Imap, password: str) -> Iterator[Step]:
    """Connect and TLS; login; the intake folder; each folder of imap.folders."""
    where = f"IMAP {s.host}:{s.port}"
    try:
        client = open_client(s)
    except _CONNECTION as err:
        yield Step(where, Exit.IMAP_UNREACHABLE, unreachable(err, s.timeout_seconds, "imap"))
        return
    try:
        yield Step(f"{where}: connected, {_tls(s.security)}")
        try:
            client.login(s.username, password)
        except LoginError as err:
            yield Step("IMAP login", Exit.IMAP_LOGIN,
                       f"IMAP login refused for {s.username} (server: {_said(err)})")
            return
        except _CONNECTION as err:
            yield Step("IMAP login", Exit.IMAP_UNREACHABLE,
                       unreachable(err, s.timeout_seconds, "imap"))
            return
        yield Step(f"IMAP login as {s.username}")
        yield from _folder_steps(client, s)
    finally:
        with contextlib.suppress(*_CONNECTION):
            client.logout()


def _folder_steps(client: IMAPClient, s: Imap) -> Iterator[Step]:
    try:
        yield _intake(client, s.folder)
        separator = delimiter(client)
        for key, name in s.folders.model_dump().items():
            yield _folder(client, f"imap.folders.{key}", name, server_folder(name, separator))
    except (OSError, ssl.SSLError) as err:
        yield Step("IMAP folders", Exit.IMAP_UNREACHABLE,
                   unreachable(err, s.timeout_seconds, "imap"))
    except IMAPClientError as err:  # a LIST refused, or the session aborted
        yield Step("IMAP folders", Exit.FOLDER, f"the server said: {_said(err)}")


def _intake(client: IMAPClient, name: str) -> Step:
    """The intake folder, examined (read-only: nothing on the server changes)."""
    what = f"IMAP intake folder {name} (imap.folder)"
    try:
        info = client.select_folder(name, readonly=True)
    except IMAPClientError as err:
        if not client.folder_exists(name):
            return Step(what, Exit.FOLDER, "does not exist")
        return Step(what, Exit.FOLDER, f"cannot be opened (server: {_said(err)})")
    count = info.get(b"EXISTS")
    return Step(what, detail=f"{count} messages" if isinstance(count, int) else "")


def _folder(client: IMAPClient, key: str, name: str, target: str) -> Step:
    """A folder the daemon files into: there; missing, and the server takes its name (the
    daemon creates it when it first files a message there); or a name the server refuses
    ([CANNOT], RFC 5530)."""
    what = f"IMAP folder {name} ({key})"
    try:
        client.folder_status(target, ["MESSAGES"])
    except IMAPClientError as err:
        if client.folder_exists(target):
            return Step(what, Exit.FOLDER, f"exists but cannot be opened (server: {_said(err)})")
        if "[CANNOT]" in str(err).upper():
            return Step(what, Exit.FOLDER, f"the server refuses this name ({_said(err)})")
        return Step(what, detail="missing, will be created on the first run")
    return Step(what)


# ---- SMTP -------------------------------------------------------------------------------

async def smtp_steps(s: Smtp, password: str | None) -> list[Step]:
    """Connect, EHLO and TLS; login when smtp.username is set."""
    where = f"SMTP {s.host}:{s.port}"
    client = smtp_client(s, password, login=False)
    try:
        await client.connect()
        if client.is_ehlo_or_helo_needed:
            await client.ehlo()  # again after STARTTLS: what the server offers now
    except aiosmtplib.SMTPResponseException as err:
        return [Step(where, Exit.SMTP_UNREACHABLE,
                     f"the server refused the session: {err.code} {err.message}")]
    except _CONNECTION as err:
        return [Step(where, Exit.SMTP_UNREACHABLE, unreachable(err, s.timeout_seconds, "smtp"))]
    try:
        steps = [Step(f"{where}: connected, EHLO, {_tls(s.security)}")]
        steps.append(await _smtp_login(client, s, password))
        return steps
    finally:
        with contextlib.suppress(*_CONNECTION):
            await client.quit()


async def _smtp_login(client: aiosmtplib.SMTP, s: Smtp, password: str | None) -> Step:
    if not s.username:
        return Step("SMTP login", detail="none: smtp.username is not set")
    refused = f"SMTP login refused for {s.username}"
    if not client.supports_extension("auth"):
        return Step("SMTP login", Exit.SMTP_REFUSED,
                    f"{refused}: the server offers no login (no AUTH after EHLO);"
                    " leave smtp.username empty if it takes mail from this host without one")
    try:
        await client.login(s.username, password or "")
    except aiosmtplib.SMTPResponseException as err:
        return Step("SMTP login", Exit.SMTP_REFUSED,
                    f"{refused} (server: {err.code} {err.message})")
    except aiosmtplib.SMTPException as err:  # no mechanism both sides know
        return Step("SMTP login", Exit.SMTP_REFUSED, f"{refused}: {err}")
    except (OSError, ssl.SSLError) as err:
        return Step("SMTP login", Exit.SMTP_UNREACHABLE,
                    unreachable(err, s.timeout_seconds, "smtp"))
    return Step(f"SMTP login as {s.username}")


def send_test_mail(settings: Settings, password: str | None, now: datetime) -> Step:
    """One test mail from smtp.sender to routing.review (no copy to the contract
    mailbox); the step names its Message-ID."""
    from daemon.compose import check_mail  # noqa: PLC0415 - the templates, only when asked

    mail = check_mail(settings, now, f"{now.isoformat()}-{secrets.token_hex(8)}")
    to = ", ".join(settings.routing.review)
    what = f"SMTP test mail from {settings.smtp.sender} to {to}"
    try:
        Outbox(settings.smtp, password).send(mail.to_bytes(), mail.recipients)
    except SendError as err:
        return Step(what, Exit.SMTP_REFUSED, f"not sent: {err}")
    return Step(what, detail=f"sent, Message-ID {mail.message_id}")


# ---- reasons ----------------------------------------------------------------------------

def _tls(security: str) -> str:
    return {
        "tls": "TLS, certificate verified",
        "starttls": "STARTTLS, certificate verified",
    }.get(security, 'no TLS (security = "none")')


def _said(err: BaseException) -> str:
    """What the server answered, without the library's words around it."""
    text = re.sub(r"^[a-z ]+ failed: ", "", str(err).strip())  # imapclient's "status failed: "
    quoted = re.fullmatch(r"b(['\"])(.*)\1", text)  # the server's line as bytes' repr
    if quoted:
        text = quoted.group(2)
    return text.strip() or type(err).__name__


def _chain(err: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def unreachable(err: BaseException, timeout: float, which: str) -> str:
    """Why a server could not be reached or spoken to securely, in plain words."""
    for cause in _chain(err):
        if isinstance(cause, ssl.SSLCertVerificationError):
            why = cause.verify_message or str(cause)
            return (f"the server's certificate is not trusted ({why}); check {which}.host and"
                    f" {which}.ca_file")
    for cause in _chain(err):
        if isinstance(cause, ssl.SSLError):
            return f"TLS failed: {cause.reason or cause}"
        if isinstance(cause, socket.gaierror):
            return f"host not found ({cause.strerror})"
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused (nothing listens on that port)"
        if isinstance(cause, TimeoutError | aiosmtplib.SMTPTimeoutError):
            return f"no answer within {timeout:g} s"
    if isinstance(err, IMAPClientError):
        return f"the server said: {_said(err)}"
    return str(err) or type(err).__name__
