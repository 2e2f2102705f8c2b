"""Structured logs: one JSON object per line on stdout (on a terminal, one readable line),
secrets removed.

Two safeguards keep a 認証キー or password out of the log: keys whose name says secret are
masked whatever their value, and every secret value the daemon handles is registered
(:func:`register_secret` for the server passwords, :func:`register_message_secrets` for
the values a message gives), then replaced wherever it appears in any logged string, in
any form it may take there (see :func:`masked`).
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import unicodedata
from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

MASK = "[REDACTED]"
_SECRET_KEYS = {"auth_key", "view_password", "password", "document_password", "secret"}
MIN_CHARS = 4  # shorter values are not secrets worth masking everywhere
# How many secrets of earlier messages stay registered beside the current message's (the
# server passwords and the current message's are never dropped).
KEEP_RECENT = 2048

_secrets: set[str] = set()  # every value masked now: the lasting ones and the recent ones
_recent: dict[str, None] = {}  # the messages' values, oldest first: the ones that may go
_version = 0  # counts changes to _secrets, so the matcher is built again only after one
_changed: set[str] = set()  # values added to or dropped from _secrets since the last build
# The loop registers from the scheduler's worker thread; the main thread logs too.
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Never log this value (a server password) anywhere, from now on."""
    global _version  # noqa: PLW0603 - the registry is the module's one piece of state
    if value and len(value) >= MIN_CHARS:
        with _lock:
            _secrets.add(value)
            _recent.pop(value, None)
            _changed.add(value)
            _version += 1


def register_message_secrets(values: Iterable[str | None]) -> None:
    """The secrets of the message being worked on: all of them are masked from now on,
    and beside them those of the latest earlier messages, KEEP_RECENT in all (the oldest
    earlier ones are forgotten, so the redactor's work stays bounded); a value registered
    with :func:`register_secret` stays."""
    global _version  # noqa: PLW0603
    with _lock:
        batch = [v for v in dict.fromkeys(values)
                 if v and len(v) >= MIN_CHARS and (v not in _secrets or v in _recent)]
        before = len(_secrets)
        for value in batch:
            _recent.pop(value, None)
        room = max(KEEP_RECENT - len(batch), 0)
        dropped = len(_recent) > room
        while len(_recent) > room:
            oldest = next(iter(_recent))
            del _recent[oldest]
            _secrets.discard(oldest)
            _changed.add(oldest)
        for value in batch:
            _recent[value] = None
            _secrets.add(value)
            _changed.add(value)
        if dropped or len(_secrets) != before:
            _version += 1


# --- the forms of a secret ---------------------------------------------------------------------

# What may stand between a secret's characters without changing it for a reader: blanks,
# line breaks and every dash a Japanese mail or document puts between letters and digits.
_DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2043\ufe63\uff0d\u30fc\uff70\u2500"
_ASCII_SEPARATORS = re.compile(r"[\s\-]+")
GRAM = 4  # a secret is looked up by its first GRAM characters (MIN_CHARS or fewer)


# A full-width tilde (～) sent in ISO-2022-JP or Shift_JIS arrives as a wave dash (〜).
_SAME = {"\u301c": "~"}


@lru_cache(maxsize=8192)
def _fold(char: str) -> str:
    """One character as it is compared: NFKC (full-width and half-width forms are their
    plain letters and digits), case-folded, and nothing for a blank, a dash or an invisible
    format character."""
    char = _SAME.get(char, char)
    return "".join(c for c in unicodedata.normalize("NFKC", char).casefold()
                   if not (c.isspace() or c in _DASHES or unicodedata.category(c) == "Cf"))


def skeleton(text: str) -> str:
    """The text as secrets are compared: see :func:`_fold`. ``Ａｂ３ｄ－Ｅ５ｆＧ``,
    ``Ab3d E5fG`` and ``ab3de5fg`` have the same skeleton."""
    if text.isascii():
        return _ASCII_SEPARATORS.sub("", text.lower())
    return "".join(map(_fold, text))


def _skeleton_map(text: str) -> tuple[str, list[int]]:
    """The skeleton, and for each of its characters the index of the one it came from."""
    chars: list[str] = []
    where: list[int] = []
    for i, char in enumerate(text):
        for folded in _fold(char):
            chars.append(folded)
            where.append(i)
    return "".join(chars), where


@dataclass(frozen=True)
class Matcher:
    """A set of secrets, ready to be found in any form in a text."""

    by_start: dict[str, tuple[str, ...]]  # first GRAM skeleton characters -> skeletons
    literal: tuple[str, ...]  # secrets too short once folded: replaced as written only

    def __bool__(self) -> bool:
        return bool(self.by_start or self.literal)


def matcher(secrets: Iterable[str]) -> Matcher:
    """Secrets of MIN_CHARS or more; a secret that folds to fewer (``ab--``) and one that
    starts or ends with a blank or a dash is also replaced as written."""
    by_start: dict[str, set[str]] = {}
    literal: set[str] = set()
    for secret in secrets:
        if not secret or len(secret) < MIN_CHARS:
            continue
        folded, as_written = _forms(secret)
        if len(folded) >= MIN_CHARS:
            by_start.setdefault(folded[:GRAM], set()).add(folded)
        if as_written:
            literal.add(secret)
    return Matcher({k: tuple(sorted(v, key=len, reverse=True)) for k, v in by_start.items()},
                   tuple(sorted(literal, key=len, reverse=True)))


@lru_cache(maxsize=2 * KEEP_RECENT)
def _forms(secret: str) -> tuple[str, bool]:
    """A secret's skeleton, and whether it is also replaced as written (see
    :func:`matcher`): worked out once per secret, not on every change to the set."""
    folded = skeleton(secret)
    return folded, (len(folded) < MIN_CHARS or _fold(secret[0]) == ""
                    or _fold(secret[-1]) == "")


def mask_text(text: str, found: Matcher) -> str:
    """The text with each secret of ``found`` replaced by MASK, in whichever form it is
    written: as registered, full-width or half-width, in any letter case, with blanks or
    dashes (-, ‐, −, －, ー, ...) between its characters."""
    for secret in found.literal:
        text = text.replace(secret, MASK)
    if not found.by_start:
        return text
    quick = skeleton(text)
    grams = {quick[i:i + GRAM] for i in range(len(quick) - GRAM + 1)}
    if found.by_start.keys().isdisjoint(grams):  # goes over the smaller of the two
        return text
    folded, where = _skeleton_map(text)
    spans: list[tuple[int, int]] = []
    for i in range(len(folded) - GRAM + 1):
        for secret in found.by_start.get(folded[i:i + GRAM], ()):
            if folded.startswith(secret, i):  # the longest first
                spans.append((where[i], where[i + len(secret) - 1] + 1))
                break
    return _replace(text, spans)


def _replace(text: str, spans: list[tuple[int, int]]) -> str:
    """The text with each span (overlapping ones as one) replaced by MASK."""
    merged: list[list[int]] = []
    for start, stop in sorted(spans):
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], stop)
        else:
            merged.append([start, stop])
    out: list[str] = []
    pos = 0
    for start, stop in merged:
        out += [text[pos:start], MASK]
        pos = stop
    out.append(text[pos:])
    return "".join(out)


def masked(value: Any, secrets: Matcher | Iterable[str]) -> Any:
    """A value to print or log (strings, numbers, lists and dicts, keys too) with every
    secret replaced, in any form it is written; any other object as its repr, masked."""
    found = secrets if isinstance(secrets, Matcher) else matcher(secrets)
    if not found:
        return value
    return _scrub(value, found)


def _scrub(value: Any, found: Matcher, *, names: bool = False) -> Any:
    """``masked``; with ``names``, also every value under a secret-named key."""
    if isinstance(value, str):
        return mask_text(value, found)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, dict):
        return {_scrub(k, found): MASK if names and _secret_name(k) else
                _scrub(v, found, names=names) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v, found, names=names) for v in value]
    # What the JSON renderer would write for it (its repr), so that is masked too.
    render = getattr(value, "__structlog__", None)
    return _scrub(render() if callable(render) else repr(value), found, names=names)


def _secret_name(key: object) -> bool:
    return isinstance(key, str) and key in _SECRET_KEYS


@dataclass
class _Built:
    """The matcher of the registered secrets, and the secrets behind each of its keys."""

    secrets: set[str]  # the registry it was built from (a test may put in another)
    version: int
    found: Matcher
    by_gram: dict[str, set[str]]  # GRAM key of by_start -> the secrets with that key


_built: _Built | None = None


def _gram(secret: str) -> str | None:
    folded, _ = _forms(secret)
    return folded[:GRAM] if len(secret) >= MIN_CHARS and len(folded) >= MIN_CHARS else None


def _registered() -> Matcher:
    """The matcher of every secret registered now: built again after a change, only for
    the secrets that changed (a message adds a few to the thousands registered)."""
    global _built  # noqa: PLW0603
    with _lock:
        if _built is None or _built.secrets is not _secrets:
            by_gram: dict[str, set[str]] = {}
            for secret in _secrets:
                gram = _gram(secret)
                if gram is not None:
                    by_gram.setdefault(gram, set()).add(secret)
            _built = _Built(_secrets, _version, matcher(_secrets), by_gram)
        elif _built.version != _version:
            _built = _updated(_built)
        _changed.clear()
        return _built.found


def _updated(built: _Built) -> _Built:
    """``built`` with the secrets in _changed added or dropped."""
    by_start = dict(built.found.by_start)
    literal = set(built.found.literal)
    for secret in _changed:
        gram = _gram(secret)
        if gram is not None:
            members = built.by_gram.setdefault(gram, set())
            if secret in _secrets:
                members.add(secret)
            else:
                members.discard(secret)
            part = matcher(members).by_start.get(gram)
            if part:
                by_start[gram] = part
            else:
                by_start.pop(gram, None)
                built.by_gram.pop(gram, None)
        if _forms(secret)[1] and len(secret) >= MIN_CHARS:
            if secret in _secrets:
                literal.add(secret)
            else:
                literal.discard(secret)
    found = Matcher(by_start, tuple(sorted(literal, key=len, reverse=True)))
    return _Built(built.secrets, _version, found, built.by_gram)


def redact(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: mask secret keys and registered secret values."""
    found = _registered()
    for key in list(event):
        event[key] = MASK if _secret_name(key) else _scrub(event[key], found, names=True)
    return event


def configure(level: str = "info", *, stderr: bool = False,
              terminal: bool | None = None) -> None:
    """One line per event on stdout (with ``stderr``, on stderr), with timestamp, level and
    event name: JSON, or, when that stream is a terminal (``terminal``: None asks it), the
    same fields as ``key=value`` after the time, level and event, for a person reading.
    Secrets are masked in both."""
    import structlog  # noqa: PLC0415 - only a command that logs pays for it

    if terminal is None:
        terminal = (sys.stderr if stderr else sys.stdout).isatty()
    # repr_native_str: every value quoted with its controls escaped (a subject may hold
    # ESC sequences that would drive the operator's terminal).
    renderer: Any = (structlog.dev.ConsoleRenderer(colors=False, pad_event_to=24,
                                                   repr_native_str=True)
                     if terminal else structlog.processors.JSONRenderer(ensure_ascii=False))
    # Other libraries' warnings, bare, on stderr (basicConfig's default stream).
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),  # UTC, structlog's default
            structlog.processors.format_exc_info,
            redact,  # before either renderer: what is rendered is masked already
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        # No file given: each line goes to sys.stdout as it is when written (a test's
        # capture, a redirected stream), not the one there was at configure time.
        logger_factory=_on_stderr if stderr else structlog.PrintLoggerFactory(),
        cache_logger_on_first_use=False,
    )


def _on_stderr(*_args: Any) -> Any:
    """A logger writing to sys.stderr as it is when written (see PrintLoggerFactory)."""
    import structlog  # noqa: PLC0415

    return structlog.PrintLogger(sys.stderr)
