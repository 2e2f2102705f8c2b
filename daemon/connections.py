"""The office's IMAP session and SMTP sender as configured: by password or by OAuth2.

One place decides how the daemon logs in (``imap.auth``, ``smtp.auth``), for ``run``,
``replay`` and the daily summary alike; every password is registered with the log
redactor before anything is logged (the OAuth2 tokens are, as they are read).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from daemon import config
from daemon.config import Settings
from daemon.log import register_secret
from daemon.mailbox import Mailbox
from daemon.oauth import Tokens

if TYPE_CHECKING:
    from daemon.outbox import Outbox


def tokens(settings: Settings) -> Tokens | None:
    """The OAuth2 tokens, when IMAP or SMTP logs in with them."""
    return Tokens(settings.oauth2) if "oauth2" in (settings.imap.auth,
                                                   settings.smtp.auth) else None


def imap_password(settings: Settings) -> str:
    """imap.password_env's password ("" with imap.auth = "oauth2")."""
    if settings.imap.auth != "password":
        return ""
    password = config.secret(settings.imap.password_env, "imap.password_env")
    register_secret(password)
    return password


def smtp_password(settings: Settings) -> str | None:
    """smtp.password_env's password (None without smtp.username, or with OAuth2)."""
    if not settings.smtp.username or settings.smtp.auth != "password":
        return None
    password = config.secret(settings.smtp.password_env, "smtp.password_env")
    register_secret(password)
    return password


def mailboxes(settings: Settings, *, oauth: Tokens | None = None) -> Callable[..., Mailbox]:
    """A maker of IMAP sessions on the contract mailbox (the password read now, once);
    call it (``read_only=True`` for EXAMINE) for a session not yet connected."""
    by_token = settings.imap.auth == "oauth2"
    return partial(Mailbox, settings.imap, imap_password(settings),
                   tokens=(oauth or tokens(settings)) if by_token else None,
                   mechanism=settings.oauth2.mechanism)


def outbox(settings: Settings, *, oauth: Tokens | None = None) -> Outbox:
    """The sender through the office's SMTP server (OAuth2: for smtp.username, else
    imap.username)."""
    from daemon.outbox import Outbox  # noqa: PLC0415 - the SMTP stack, only to send

    by_token = settings.smtp.auth == "oauth2"
    return Outbox(settings.smtp, smtp_password(settings),
                  tokens=(oauth or tokens(settings)) if by_token else None,
                  user=settings.smtp.username or settings.imap.username,
                  mechanism=settings.oauth2.mechanism)
