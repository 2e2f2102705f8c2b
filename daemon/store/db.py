"""The SQLite connection the gateways share: transactions, and one error for a state file
that cannot be used now.

Durability: the state file is in WAL mode with ``synchronous=NORMAL``, so a commit is safe
from the daemon being killed at any moment (the write is in the operating system's hands)
but not from a power cut, which may undo the last few commits. A commit that an action
outside the state file relies on is made ``durable`` (``synchronous=FULL``: the WAL,
and with it every commit before, is on disk before the commit returns): the mark that a
mail is being handed to the SMTP server, and the record of a message put in the held
folder. What a power cut may undo then costs work done again (a message read and decided
again, the same way; a filed message's last mark), never a mail sent twice or a held
message forgotten in its folder. One sync per message instead of one per step.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from daemon.store.schema import MIGRATIONS, SCHEMA, SCHEMA_VERSION

Args = Sequence[object]


class StateVersionError(Exception):
    """The state file was written by a newer version of the daemon."""


class StateUnavailableError(Exception):
    """The state file cannot be read or written now (disk full, locked, unwritable): no
    new work is taken until it can."""


def now() -> str:
    """The current time as stored: UTC, ISO 8601 with microseconds."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def stamp(when: datetime) -> str:
    """A time as stored for comparisons in SQL: UTC, ISO 8601 with microseconds."""
    return when.astimezone(UTC).isoformat(timespec="microseconds")


def when(value: str | None) -> datetime | None:
    """A stored time back, or None."""
    return datetime.fromisoformat(value) if value else None


@contextmanager
def _available() -> Iterator[None]:
    """sqlite3's operational errors (disk full, database locked, I/O) as StateUnavailableError."""
    try:
        yield
    except sqlite3.OperationalError as err:
        raise StateUnavailableError(str(err)) from err


class Database:
    """One connection to the state file, the schema brought up to date on opening."""

    def __init__(self, path: str | Path, *, busy_timeout: float = 30.0,
                 read_only: bool = False) -> None:
        path = Path(path)
        if read_only:  # classify: look, never write (the daemon may be running)
            self.conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                                        timeout=busy_timeout, isolation_level=None)
            self.conn.row_factory = sqlite3.Row
            version = self.version()
            if version != SCHEMA_VERSION:
                self.conn.close()
                raise StateVersionError(
                    f"{path}: state file version {version}, this surety-intake reads"
                    f" version {SCHEMA_VERSION} (run the daemon once to bring it up to date)")
            return
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
        # One poll at a time (max_instances=1) uses the connection, from the scheduler's
        # worker thread, so one thread at a time, though not always the same one.
        self.conn = sqlite3.connect(str(path), timeout=busy_timeout, isolation_level=None,
                                    check_same_thread=False)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.conn.executescript(SCHEMA)
        self._migrate(path)

    def version(self) -> int:
        """The schema version recorded in the file."""
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self, path: Path) -> None:
        """Bring a state file written by an earlier version up to this one's schema."""
        if self.version() == SCHEMA_VERSION:
            return  # up to date: no write, no lock taken
        with self.tx() as db:
            version = self.version() or 1
            if version > SCHEMA_VERSION:
                raise StateVersionError(
                    f"{path}: state file version {version} was written by a newer"
                    f" surety-intake (this one reads up to version {SCHEMA_VERSION})")
            for statements in MIGRATIONS[version - 1:]:
                for statement in statements:
                    db.execute(statement)
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    @contextmanager
    def tx(self, *, durable: bool = False) -> Iterator[sqlite3.Connection]:
        """One write transaction (taken at once: BEGIN IMMEDIATE), rolled back on error;
        ``durable``: on disk, with every commit before it, when it returns."""
        with _available():
            if durable:
                self.conn.execute("PRAGMA synchronous=FULL")
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self.conn
                except BaseException:
                    self.conn.execute("ROLLBACK")
                    raise
                self.conn.execute("COMMIT")
            finally:
                if durable:
                    self.conn.execute("PRAGMA synchronous=NORMAL")

    def rows(self, sql: str, args: Args = ()) -> list[sqlite3.Row]:
        """Every row a query gives."""
        with _available():
            return self.conn.execute(sql, args).fetchall()

    def row(self, sql: str, args: Args = ()) -> sqlite3.Row | None:
        """The first row a query gives, if any."""
        with _available():
            found: sqlite3.Row | None = self.conn.execute(sql, args).fetchone()
            return found
