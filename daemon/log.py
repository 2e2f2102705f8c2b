"""Structured logs: one JSON object per line on stdout, secrets removed.

Two safeguards keep a 認証キー or password out of the log: keys whose name says secret are
masked whatever their value, and every secret value the daemon handles is registered with
:func:`register_secret`, then replaced wherever it appears in any logged string.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

import structlog

_SECRET_KEYS = {"auth_key", "view_password", "password", "document_password", "secret"}
_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Never log this value (a key, a password) anywhere, from now on."""
    if value and len(value) >= 4:
        _secrets.add(value)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        for secret in _secrets:
            if secret in value:
                value = value.replace(secret, "[REDACTED]")
        return value
    if isinstance(value, dict):
        return {k: "[REDACTED]" if k in _SECRET_KEYS else _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


def redact(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: mask secret keys and registered secret values."""
    for key in list(event):
        event[key] = "[REDACTED]" if key in _SECRET_KEYS else _scrub(event[key])
    return event


def configure(level: str = "info") -> None:
    """JSON lines on stdout, with timestamp, level and event name."""
    # Other libraries' warnings, bare, on stderr (basicConfig's default stream).
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),  # UTC, structlog's default
            structlog.processors.format_exc_info,
            redact,
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        # No file given: each line goes to sys.stdout as it is when written (a test's
        # capture, a redirected stream), not the one there was at configure time.
        logger_factory=structlog.PrintLoggerFactory(),
        cache_logger_on_first_use=False,
    )
