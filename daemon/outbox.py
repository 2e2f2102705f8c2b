"""Sending over SMTP with aiosmtplib: TLS as configured, certificates verified.

An address with a non-ASCII local part or domain (山田@例え.jp) is sent with SMTPUTF8 when
the server offers it; when it does not, or the address cannot go on an SMTP command line
at all (a control, a blank, bytes that are not UTF-8), it is refused for good without
being sent: the same :class:`SendError` as a 5xx answer, so staff are told.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Iterator

import aiosmtplib

from daemon.config import Smtp
from daemon.display import for_staff, mailbox
from daemon.mailbox import tls_context
from daemon.oauth import OAuthError, Tokens, sasl_base64

_FAILED = (aiosmtplib.SMTPException, OSError, ssl.SSLError, TimeoutError)


class SendError(Exception):
    """The SMTP server did not take the mail, or may not have.

    ``permanent`` is True for a 5xx answer (retrying will not help); a connection failure
    or a 4xx answer is temporary. ``uncertain`` is True when the connection broke while
    the mail was being handed over, so the server may have taken it without the answer
    reaching us; it is False when the server answered, or was never reached.
    """

    def __init__(self, message: str, *, permanent: bool, uncertain: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.uncertain = uncertain


def smtp_client(settings: Smtp, password: str | None, *, login: bool = True
                ) -> aiosmtplib.SMTP:
    """A client for the office's SMTP server as configured: its ``connect()`` greets the
    server (EHLO), upgrades to TLS (implicit, or STARTTLS; the certificate and host name
    verified) and, with ``login`` and ``smtp.username`` set, logs in."""
    s = settings
    log_in = login and bool(s.username)
    return aiosmtplib.SMTP(
        hostname=s.host,
        port=s.port,
        use_tls=s.security == "tls",
        start_tls=s.security == "starttls",
        tls_context=tls_context(s.ca_file) if s.security != "none" else None,
        username=s.username if log_in else None,
        password=password if log_in else None,
        timeout=s.timeout_seconds,
    )


async def authenticate(client: aiosmtplib.SMTP, tokens: Tokens, user: str,
                       mechanism: str = "XOAUTH2") -> None:
    """AUTH XOAUTH2/OAUTHBEARER with the access token; one the server refused (535:
    expired, revoked) is refreshed and tried once more. Raises SMTPAuthenticationError
    when refused again (for a sender: a temporary failure, the mail waits while the
    operator runs authorize again, never the mail's fault), OAuthError when no token
    can be had."""
    token = await asyncio.to_thread(tokens.current)
    response = await _auth(client, mechanism, user, token)
    if response.code == 535:
        token = await asyncio.to_thread(tokens.refused, "smtp", token)
        response = await _auth(client, mechanism, user, token)
    if response.code != 235:
        raise aiosmtplib.SMTPAuthenticationError(response.code, response.message)


async def _auth(client: aiosmtplib.SMTP, mechanism: str, user: str, token: str
                ) -> aiosmtplib.SMTPResponse:
    if client.is_ehlo_or_helo_needed:
        await client.ehlo()
    initial = sasl_base64(mechanism, user, token)
    response = await client.execute_command(b"AUTH", mechanism.encode(), initial.encode())
    if response.code == 334:  # the error, as a challenge: answer it to get the code
        response = await client.execute_command(b"AQ==" if mechanism == "OAUTHBEARER"
                                                else b"")
    return response


class Outbox:
    """Sends mail through the office's SMTP server: each mail on a connection of its own,
    or, inside :meth:`session`, all on one kept open."""

    def __init__(self, settings: Smtp, password: str | None, *, tokens: Tokens | None = None,
                 user: str = "", mechanism: str = "XOAUTH2") -> None:
        self._settings = settings
        self._password = password
        self._tokens = tokens  # smtp.auth = "oauth2": AUTH with an access token for ``user``
        self._user = user
        self._mechanism = mechanism
        self._loop: asyncio.AbstractEventLoop | None = None
        self._kept: aiosmtplib.SMTP | None = None

    def send(self, message: bytes, recipients: tuple[str, ...], *,
             copy_to: str | None = None) -> None:
        """Send one message to ``recipients`` (and the daemon's own copy to ``copy_to``),
        or raise :class:`SendError` when any of ``recipients`` was not accepted."""
        if self._loop is None:
            asyncio.run(self._send_alone(message, recipients, copy_to))
        else:
            self._loop.run_until_complete(self._send_kept(message, recipients, copy_to))

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        """Mails sent inside share one SMTP connection, opened for the first and closed
        (QUIT) at the end; one that failed is dropped and the next mail opens another."""
        self._loop = asyncio.new_event_loop()
        try:
            yield
        finally:
            if self._kept is not None:
                self._loop.run_until_complete(_goodbye(self._kept))
                self._kept = None
            self._loop.close()
            self._loop = None

    def probe(self) -> None:
        """Connect (TLS, login) and say goodbye: raise :class:`SendError` unless the
        server is there to take mail now."""
        asyncio.run(self._probe())

    async def _connect(self) -> aiosmtplib.SMTP:
        """A connected, logged-in client; nothing was handed over if this fails."""
        client = smtp_client(self._settings, self._password, login=self._tokens is None)
        try:
            await client.connect()
            if self._tokens is not None:
                await self._authenticate(client)
        except OAuthError as err:
            await _goodbye(client)
            raise SendError(f"SMTP login failed: {err}", permanent=False) from err
        except aiosmtplib.SMTPResponseException as err:
            # Refused before any mail was handed over (a login refused: a wrong password,
            # a token the server will not take; a server turning connections away): the
            # server's setting or ours, never the mail's. It waits and is tried again.
            await _goodbye(client)
            said = err.message  # a careless server may echo the password: never stored
            if self._password:
                said = said.replace(self._password, "********")
            raise SendError(f"SMTP {err.code}: {said}", permanent=False) from err
        except _FAILED as err:
            raise SendError(f"SMTP failed: {err}", permanent=False) from err
        return client

    async def _authenticate(self, client: aiosmtplib.SMTP) -> None:
        assert self._tokens is not None
        await authenticate(client, self._tokens, self._user, self._mechanism)

    async def _probe(self) -> None:
        await _goodbye(await self._connect())

    async def _send_alone(self, message: bytes, recipients: tuple[str, ...],
                          copy_to: str | None) -> None:
        client = await self._connect()
        try:
            await self._hand_over(client, message, recipients, copy_to)
        finally:
            await _goodbye(client)

    async def _send_kept(self, message: bytes, recipients: tuple[str, ...],
                         copy_to: str | None) -> None:
        client = await self._ready()
        try:
            await self._hand_over(client, message, recipients, copy_to)
        except SendError:
            self._kept = None  # in an unknown state: the next mail opens another
            await _goodbye(client)
            raise

    async def _ready(self) -> aiosmtplib.SMTP:
        """The kept connection, seen to be alive (RSET; a server may close an idle one,
        before anything was handed over), or a new one."""
        if self._kept is not None:
            try:
                await self._kept.rset()
                return self._kept
            except _FAILED:
                await _goodbye(self._kept)
                self._kept = None
        self._kept = await self._connect()
        return self._kept

    async def _hand_over(self, client: aiosmtplib.SMTP, message: bytes,
                         recipients: tuple[str, ...], copy_to: str | None) -> None:
        wire = {address: mailbox(address) for address in recipients}
        try:
            unsendable = await _unsendable(client, wire)
            to = {w: a for a, w in wire.items() if w is not None and a not in unsendable}
            if not to:
                raise _refused_for_good(unsendable)
            envelope = list(dict.fromkeys([*to, *([copy_to] if copy_to else [])]))
            utf8 = ["SMTPUTF8"] if not all(a.isascii() for a in envelope) else []
            refused, _ = await client.sendmail(self._settings.sender, envelope, message,
                                               mail_options=utf8)
        except aiosmtplib.SMTPRecipientsRefused as err:
            codes = [r.code for r in err.recipients]
            detail = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in err.recipients)
            raise SendError(f"SMTP refused: {detail}",
                            permanent=all(500 <= c < 600 for c in codes)) from err
        except aiosmtplib.SMTPResponseException as err:
            # The server answered (MAIL, RCPT or the end of the data): it did not take it.
            raise SendError(f"SMTP {err.code}: {err.message}",
                            permanent=500 <= err.code < 600) from err
        except _FAILED as err:
            # Cut off while handing the mail over: the server may have taken it.
            raise SendError(f"SMTP failed: {err}", permanent=False, uncertain=True) from err
        missed = {r: v for r, v in refused.items() if r in to}
        if missed:
            # Some were taken (the copy, maybe other staff), these were not.
            detail = "; ".join(f"{for_staff(r)}: {v.code} {v.message}"
                               for r, v in missed.items())
            raise SendError(f"SMTP refused: {detail}",
                            permanent=all(500 <= v.code < 600 for v in missed.values()))
        if unsendable:
            raise _refused_for_good(unsendable)


async def _unsendable(client: aiosmtplib.SMTP, wire: dict[str, str | None]) -> dict[str, str]:
    """The recipients that cannot be sent to through this server, with why."""
    out = {address: "not an address that can be sent to"
           for address, w in wire.items() if w is None}
    if any(w is not None and not w.isascii() for w in wire.values()):
        if client.is_ehlo_or_helo_needed:
            await client.ehlo()
        if not client.supports_extension("smtputf8"):
            out.update({address: "non-ASCII address, and the server does not offer SMTPUTF8"
                        for address, w in wire.items() if w is not None and not w.isascii()})
    return out


def _refused_for_good(unsendable: dict[str, str]) -> SendError:
    detail = "; ".join(f"{for_staff(a, escape_breaks=True)}: {why}"
                       for a, why in unsendable.items())
    return SendError(f"not sent: {detail}", permanent=True)


async def _goodbye(client: aiosmtplib.SMTP) -> None:
    """End the session politely (QUIT) if it is still open, else just close it."""
    if not client.is_connected:
        return
    try:
        await client.quit()
    except _FAILED:
        client.close()
