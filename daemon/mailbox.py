"""The contract mailbox over IMAP: fetch new messages, file them, never delete.

A thin adapter around imapclient. Certificates are verified with Python's default SSL
context (plus an optional private CA), and every socket has a timeout.
"""

from __future__ import annotations

import contextlib
import email.policy
import functools
import ssl
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timezone
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any, Protocol

import structlog
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from daemon.config import Imap
from daemon.oauth import OAuthError, Tokens

log = structlog.get_logger("daemon.mailbox")

DONE_KEYWORD = "$SuretyFiled"  # marks a copied (not moved) message when MOVE is missing
# An IDLE is ended and issued again after this long: servers drop an IDLE after 30 minutes
# (RFC 2177 asks clients to re-issue it at least every 29).
IDLE_MAX_SECONDS = 25 * 60
_IDLE_SLICE = 1.0  # seconds between looks at whether to stop waiting
# Messages leaving the intake folder are moved this many at a time (one UID MOVE per
# folder), at the latest before the session does anything else with folders.
FILE_BATCH = 64
_NEWS = (b"EXISTS", b"RECENT")
# Untagged responses imaplib keeps and nothing reads (see Mailbox._drop_untagged).
_PASSING = ("EXISTS", "RECENT", "EXPUNGE", "COPYUID", "FETCH")


# At most this many bytes of messages are fetched in one UID FETCH (a larger message
# alone): what the daemon holds of a batch of large messages.
FETCH_BYTES = 16 << 20


class MailboxError(Exception):
    """The IMAP server could not be reached or refused an operation."""


@dataclass(frozen=True)
class Fetched:
    """One message as fetched: its UID, bytes and server arrival time."""

    uid: int
    raw: bytes
    internaldate: datetime
    whole: bool = True  # False: the headers only (the body was not wanted)


def _arrival(value: object) -> datetime:
    """INTERNALDATE as an aware datetime with a plain (picklable) timezone."""
    if not isinstance(value, datetime):
        return datetime.now(UTC)
    offset = value.utcoffset()
    if offset is None:
        return value.replace(tzinfo=UTC)
    return value.replace(tzinfo=timezone(offset))


def _by_size(uids: list[int], sizes: dict[int, int], most: int) -> list[list[int]]:
    """The UIDs in order, cut into runs of at most ``most`` bytes (a larger message
    alone; one whose size is unknown counts as none)."""
    parts: list[list[int]] = []
    total = 0
    for uid in uids:
        size = sizes.get(uid, 0)
        if not parts or total + size > most:
            parts.append([])
            total = 0
        parts[-1].append(uid)
        total += size
    return parts


def tls_context(ca_file: str) -> ssl.SSLContext:
    """The default context (certificate and host name checked), plus a private CA. Made
    once per CA file and version of it (loading the system's certificates takes tens of
    milliseconds; a CA file replaced on disk is loaded again)."""
    stamp = Path(ca_file).stat().st_mtime_ns if ca_file else 0
    return _context(ca_file, stamp)


@functools.lru_cache(maxsize=4)
def _context(ca_file: str, _stamp: int) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    return context


def open_client(settings: Imap) -> IMAPClient:
    """A session with the IMAP server, on TLS as configured (implicit, or upgraded with
    STARTTLS; the certificate and host name verified), not logged in. Raises what the
    connection raised: OSError, ssl.SSLError (ssl.SSLCertVerificationError for a
    certificate that is not trusted) or IMAPClientError."""
    context = tls_context(settings.ca_file)
    client = IMAPClient(
        settings.host, port=settings.port, ssl=settings.security == "tls",
        ssl_context=context, timeout=settings.timeout_seconds,
    )
    try:
        if settings.security == "starttls":
            client.starttls(context)
    except BaseException:
        with contextlib.suppress(OSError, IMAPClientError):
            client.shutdown()
        raise
    client.normalise_times = False
    return client


def log_in(client: IMAPClient, settings: Imap, password: str, tokens: Tokens | None,
           mechanism: str = "XOAUTH2") -> None:
    """LOGIN with the password, or (``tokens``) SASL XOAUTH2/OAUTHBEARER with the access
    token; a token the server refused (expired, revoked: NO [AUTHENTICATIONFAILED] from
    Dovecot and Gmail, a bare "NO AUTHENTICATE failed." from Exchange Online) is
    refreshed and tried once more. Raises LoginError, or OAuthError when no token can
    be had."""
    if tokens is None:
        client.login(settings.username, password)
        return

    def sasl(token: str) -> None:
        if mechanism == "OAUTHBEARER":
            client.oauthbearer_login(settings.username, token)
        else:
            client.oauth2_login(settings.username, token)

    token = tokens.current()
    try:
        sasl(token)
    except LoginError:
        sasl(tokens.refused("imap", token))


# At most this many messages a search by Message-ID found are looked at (copies of one
# message; a folder crafted to hold thousands would not make a find read them all).
_FIND_MOST = 20


def _message_ids_of(raw: bytes) -> set[str]:
    """The Message-ID header of a message, whole and without blanks, as written and as
    the reader records it (decoded by daemon.read.decode_words); empty when there is
    none."""
    from daemon.read import decode_words  # noqa: PLC0415 - the reader, only when looking

    headers = BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw)
    # raw_items: the value as the reader sees it (get() would turn 8-bit bytes to U+FFFD).
    value = next((str(v) for k, v in headers.raw_items() if k.lower() == "message-id"), "")
    return {"".join(form.split()) for form in (value, decode_words(value))} - {""}


def delimiter(client: IMAPClient) -> str:
    """The server's hierarchy separator (as the first folder it lists has it; "/" when
    it lists none)."""
    folders = client.list_folders()
    if not folders:
        return "/"
    found = folders[0][1]
    return (found.decode() if isinstance(found, bytes) else found) or "/"


def server_folder(name: str, separator: str) -> str:
    """A configured folder name ("/"-separated) in the server's own separator."""
    return name.replace("/", separator)


class Box(Protocol):
    """What the loop needs of an IMAP session (:class:`daemon.mailbox.Mailbox`)."""

    uidvalidity: int

    def fetch_new(self, skip: Callable[[list[int]], set[int]], *,
                  headers: tuple[str, ...] = (),
                  body_unwanted: Callable[[bytes], bool] | None = None
                  ) -> Iterable[Fetched]: ...  # pragma: no cover

    def find(self, message_id: str, folders: list[str]
             ) -> tuple[str, Fetched] | None: ...  # pragma: no cover

    def file(self, uid: int, folder: str, *,
             then: Callable[[], None] | None = None) -> None: ...  # pragma: no cover

    def flush(self) -> None: ...  # pragma: no cover

    def file_from(self, folder: str, uid: int, target: str) -> None: ...  # pragma: no cover

    def wait_for_news(self, seconds: float, interrupt: Callable[[], bool]
                      ) -> bool: ...  # pragma: no cover


def _login(s: Imap, password: str, tokens: Tokens | None = None,
           mechanism: str = "XOAUTH2") -> IMAPClient:
    """A client connected, upgraded to TLS as configured, and logged in (by password, or
    with ``tokens`` by OAuth2: see :func:`log_in`)."""
    try:
        client = open_client(s)
        log_in(client, s, password, tokens, mechanism)
    except (OSError, IMAPClientError, ssl.SSLError, OAuthError) as err:
        raise MailboxError(f"IMAP connection to {s.host}:{s.port} failed: {err}") from err
    return client


def waiting(settings: Imap, password: str, tokens: Tokens | None = None,
            mechanism: str = "XOAUTH2") -> tuple[int, int]:
    """How many messages are in the intake folder, and how many of them are unseen (IMAP
    STATUS: nothing selected, nothing changed)."""
    client = _login(settings, password, tokens, mechanism)
    try:
        found = client.folder_status(settings.folder, [b"MESSAGES", b"UNSEEN"])
        return int(found[b"MESSAGES"]), int(found[b"UNSEEN"])
    except (OSError, IMAPClientError, ssl.SSLError) as err:
        raise MailboxError(f"IMAP STATUS of {settings.folder} failed: {err}") from err
    finally:
        with contextlib.suppress(OSError, IMAPClientError, ssl.SSLError):
            client.logout()


class Mailbox:
    """One IMAP session on the contract mailbox."""

    def __init__(self, settings: Imap, password: str, *, read_only: bool = False,
                 tokens: Tokens | None = None, mechanism: str = "XOAUTH2") -> None:
        self._settings = settings
        self._password = password
        self._tokens = tokens  # imap.auth = "oauth2": log in with an access token
        self._mechanism = mechanism
        self._read_only = read_only  # EXAMINE, not SELECT: the server changes nothing
        self._client: IMAPClient | None = None
        self._delimiter = "/"
        self._folders: set[str] = set()  # folders seen to exist in this session
        # Moves out of the intake folder not made yet: per folder, each UID with what runs
        # once it is moved and the log context it was filed in.
        self._to_file: dict[str, list[tuple[int, Callable[[], None] | None,
                                            dict[str, Any]]]] = {}
        self.uidvalidity = 0

    def __enter__(self) -> Mailbox:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def client(self) -> IMAPClient:
        """The connected client."""
        if self._client is None:
            raise MailboxError("not connected")
        return self._client

    def connect(self) -> None:
        """Connect, upgrade to TLS as configured, log in and select the intake folder."""
        client = _login(self._settings, self._password, self._tokens, self._mechanism)
        self._client = client
        self._folders.clear()
        self._to_file.clear()
        try:
            self._delimiter = delimiter(client)
            self.uidvalidity = self._select()
        except (OSError, IMAPClientError, ssl.SSLError) as err:
            # Logged in, but no session to work in (the intake folder gone or refused, the
            # connection lost): as unavailable as a refused login, and said so.
            self.close()
            raise MailboxError(f"IMAP session on {self._settings.folder} could not be"
                               f" opened: {err}") from err

    def _select(self) -> int:
        info = self.client.select_folder(self._settings.folder, readonly=self._read_only)
        return int(info[b"UIDVALIDITY"])

    def close(self) -> None:
        """Log out; errors on the way out are of no consequence. Moves not made yet (a
        poll that failed) are left: those messages are still in the intake folder, and
        the next poll takes them up where their records say."""
        if self._to_file:
            log.warning("mailbox.unfiled", count=sum(map(len, self._to_file.values())))
            self._to_file.clear()
        if self._client is not None:
            with contextlib.suppress(OSError, IMAPClientError):
                self._client.logout()
            self._client = None

    def fetch_new(self, skip: Callable[[list[int]], set[int]], *,
                  headers: tuple[str, ...] = (),
                  body_unwanted: Callable[[bytes], bool] | None = None) -> Iterator[Fetched]:
        """Every message in the intake folder not yet filed, oldest first, in batches (their
        sizes first, then their bodies: one UID FETCH per FETCH_BYTES of them, a larger
        message alone, so that a run of large messages is never held in memory at once).
        With ``body_unwanted``, each batch's ``headers`` are fetched with the sizes, and a
        message they show needs no body comes with its headers only. ``skip`` gives, of
        the UIDs there, those already done (a state file's record).

        BODY.PEEK leaves the \\Seen flag alone, so staff still see what is unread.
        """
        found = sorted(int(u) for u in self.client.search(["NOT", "KEYWORD", DONE_KEYWORD]))
        done = skip(found)
        uids = [uid for uid in found if uid not in done]
        size = self._settings.batch_size
        for start in range(0, len(uids), size):
            batch = uids[start : start + size]
            self._drop_untagged()
            sizes, heads = self._heads(batch, headers if body_unwanted is not None else ())
            if body_unwanted is not None:
                heads = {uid: head for uid, head in heads.items() if body_unwanted(head)}
            parts = _by_size([uid for uid in batch if uid not in heads], sizes, FETCH_BYTES)
            part_of = {uid: n for n, part in enumerate(parts) for uid in part}
            data: dict[int, dict[bytes, Any]] = {}
            fetched = -1  # the part in ``data``
            for uid in batch:
                if uid in heads:
                    yield Fetched(uid, heads.pop(uid), datetime.now(UTC), whole=False)
                    continue
                if part_of[uid] != fetched:  # the parts come in order: the last one is done
                    fetched = part_of[uid]
                    data = self.client.fetch(parts[fetched], ["BODY.PEEK[]", "INTERNALDATE"])
                item = data.pop(uid, None)
                if item is None:  # expunged by someone else meanwhile
                    continue
                when = _arrival(item.get(b"INTERNALDATE"))
                yield Fetched(uid, bytes(item.get(b"BODY[]", b"")), when)

    def _heads(self, uids: list[int], names: tuple[str, ...]
               ) -> tuple[dict[int, int], dict[int, bytes]]:
        """Each message's size (RFC822.SIZE) and these headers of it
        (BODY.PEEK[HEADER.FIELDS (...)]; none asked for: the sizes alone)."""
        items = ["RFC822.SIZE"]
        if names:
            items.append(f"BODY.PEEK[HEADER.FIELDS ({' '.join(n.upper() for n in names)})]")
        data: dict[int, dict[bytes, Any]] = self.client.fetch(uids, items)
        sizes: dict[int, int] = {}
        heads: dict[int, bytes] = {}
        for uid, item in data.items():
            for key, value in item.items():
                if key == b"RFC822.SIZE" and isinstance(value, int):
                    sizes[int(uid)] = value
                elif key.startswith(b"BODY[HEADER") and isinstance(value, bytes):
                    heads[int(uid)] = value
        return sizes, heads

    def _drop_untagged(self) -> None:
        """Forget what the server said in passing about earlier messages, which nobody
        reads: imaplib keeps every untagged response until the next SELECT (a RECENT, an
        EXPUNGE and a COPYUID for each message filed, thousands over a backlog)."""
        untagged = getattr(self.client._imap, "untagged_responses", None)
        if isinstance(untagged, dict):
            for name in _PASSING:
                untagged.pop(name, None)

    def find(self, message_id: str, folders: list[str]) -> tuple[str, Fetched] | None:
        """A message by its Message-ID in the first of ``folders`` that holds it.

        Used for held messages, which wait in their own folder. The intake folder is
        selected again afterwards (the moves waiting are made first).
        """
        self.flush()
        client = self.client
        try:
            for name in folders:
                target = self.server_folder(name)
                if target not in self._folders and not client.folder_exists(target):
                    continue
                client.select_folder(target, readonly=self._read_only)
                # SEARCH HEADER matches a substring: the Message-ID of each one found is
                # compared whole, so another mail naming this ID is never taken for it.
                for uid in sorted(int(u) for u in client.search(
                        ["HEADER", "Message-ID", message_id]))[:_FIND_MOST]:
                    item = client.fetch([uid], ["BODY.PEEK[]", "INTERNALDATE"]).get(uid)
                    raw = bytes(item.get(b"BODY[]", b"")) if item is not None else b""
                    if item is None or "".join(message_id.split()) not in _message_ids_of(raw):
                        continue
                    when = _arrival(item.get(b"INTERNALDATE"))
                    return name, Fetched(uid, raw, when)
            return None
        finally:
            self._select()

    def wait_for_news(self, seconds: float, interrupt: Callable[[], bool]) -> bool:
        """Wait up to ``seconds`` for a new message in the intake folder: with IDLE, the
        server says so at once (True); without it, the time just passes (a NOOP keeps the
        session). ``interrupt`` is asked every second and ends the wait when it is True."""
        self.flush()
        try:
            return self._wait(seconds, interrupt)
        except (OSError, IMAPClientError, ssl.SSLError) as err:
            raise MailboxError(f"IMAP session lost while waiting: {err}") from err

    def _wait(self, seconds: float, interrupt: Callable[[], bool]) -> bool:
        client = self.client
        deadline = time.monotonic() + min(seconds, IDLE_MAX_SECONDS)
        if not client.has_capability("IDLE"):
            while not interrupt() and time.monotonic() < deadline:
                time.sleep(min(_IDLE_SLICE, max(0.0, deadline - time.monotonic())))
            client.noop()
            return False
        client.idle()
        try:
            while not interrupt():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                responses = client.idle_check(timeout=min(left, _IDLE_SLICE))
                if any(len(r) > 1 and r[1] in _NEWS for r in responses):
                    return True
            return False
        finally:
            client.idle_done()

    def file_from(self, folder: str, uid: int, target: str) -> None:
        """Move a message from another folder than the intake one (a held message), now
        (the moves waiting are made first)."""
        self.flush()
        self._writable(target)
        try:
            self.client.select_folder(self.server_folder(folder))
            self._move([uid], self.server_folder(target))
            log.info("message.filed", uid=uid, folder=self.server_folder(target))
        finally:
            self._select()

    def _writable(self, target: str) -> None:
        if self._read_only:
            raise MailboxError(f"a read-only session moves nothing (to {target})")

    def server_folder(self, name: str) -> str:
        """A configured folder name ("/"-separated) in the server's own separator."""
        return server_folder(name, self._delimiter)

    def file(self, uid: int, folder: str, *, then: Callable[[], None] | None = None) -> None:
        """Move the message from the intake folder to ``folder`` (created if missing), with
        others going there: the move is made at the latest when FILE_BATCH are waiting,
        before the session looks for, moves or waits for anything else, and when the poll
        ends (:meth:`flush`). ``then`` runs once the message is moved."""
        target = self.server_folder(folder)
        context = structlog.contextvars.get_contextvars()
        self._to_file.setdefault(target, []).append((uid, then, context))
        if sum(map(len, self._to_file.values())) >= FILE_BATCH:
            self.flush()

    def flush(self) -> None:
        """Make the moves waiting (one UID MOVE per folder), then what runs after each."""
        while self._to_file:
            target, waiting = next(iter(self._to_file.items()))
            try:
                self._move([uid for uid, _, _ in waiting], target)
            except (OSError, IMAPClientError, ssl.SSLError) as err:
                self._to_file.clear()  # in the intake folder still: the next poll files them
                raise MailboxError(f"IMAP move to {target} failed: {err}") from err
            del self._to_file[target]
            for uid, then, context in waiting:
                with structlog.contextvars.bound_contextvars(**context):
                    log.info("message.filed", uid=uid, folder=target)
                    if then is not None:
                        then()

    def _move(self, uids: list[int], target: str) -> None:
        """Move these messages of the selected folder to ``target`` (created if missing);
        copy and flag them where the server lacks MOVE."""
        self._writable(target)
        client = self.client
        if target not in self._folders:  # looked for once a session, not for every message
            if not client.folder_exists(target):
                try:
                    client.create_folder(target)
                except IMAPClientError:
                    if not client.folder_exists(target):
                        raise
                client.subscribe_folder(target)
            self._folders.add(target)
        try:
            if client.has_capability("MOVE"):
                client.move(uids, target)
            else:
                client.copy(uids, target)
                client.add_flags(uids, [DONE_KEYWORD])
        except IMAPClientError:
            self._folders.discard(target)  # deleted meanwhile? looked for again next time
            raise
