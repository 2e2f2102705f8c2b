"""Sending over SMTP with aiosmtplib: TLS as configured, certificates verified."""

from __future__ import annotations

import asyncio
import ssl

import aiosmtplib

from daemon.config import Smtp
from daemon.mailbox import tls_context


class SendError(Exception):
    """The SMTP server did not take the mail.

    ``permanent`` is True for a 5xx answer (retrying will not help); a connection failure
    or a 4xx answer is temporary.
    """

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


class Outbox:
    """Sends mail through the office's SMTP server."""

    def __init__(self, settings: Smtp, password: str | None) -> None:
        self._settings = settings
        self._password = password

    def send(self, message: bytes, recipients: tuple[str, ...], *,
             copy_to: str | None = None) -> None:
        """Send one message to ``recipients`` (and the daemon's own copy to ``copy_to``),
        or raise :class:`SendError` when any of ``recipients`` was not accepted."""
        asyncio.run(self._send(message, recipients, copy_to))

    async def _send(self, message: bytes, recipients: tuple[str, ...],
                    copy_to: str | None) -> None:
        s = self._settings
        envelope = list(dict.fromkeys([*recipients, *([copy_to] if copy_to else [])]))
        try:
            refused, _ = await aiosmtplib.send(
                message,
                sender=s.sender,
                recipients=envelope,
                hostname=s.host,
                port=s.port,
                use_tls=s.security == "tls",
                start_tls=s.security == "starttls",
                tls_context=tls_context(s.ca_file) if s.security != "none" else None,
                username=s.username or None,
                password=self._password if s.username else None,
                timeout=s.timeout_seconds,
            )
        except aiosmtplib.SMTPRecipientsRefused as err:
            codes = [r.code for r in err.recipients]
            detail = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in err.recipients)
            raise SendError(f"SMTP refused: {detail}",
                            permanent=all(500 <= c < 600 for c in codes)) from err
        except aiosmtplib.SMTPResponseException as err:
            permanent = 500 <= err.code < 600
            raise SendError(f"SMTP {err.code}: {err.message}", permanent=permanent) from err
        except (aiosmtplib.SMTPException, OSError, ssl.SSLError, TimeoutError) as err:
            raise SendError(f"SMTP failed: {err}", permanent=False) from err
        missed = {r: v for r, v in refused.items() if r in recipients}
        if missed:
            # Some were taken (the copy, maybe other staff), these were not.
            detail = "; ".join(f"{r}: {v.code} {v.message}" for r, v in missed.items())
            raise SendError(f"SMTP refused: {detail}",
                            permanent=all(500 <= v.code < 600 for v in missed.values()))
