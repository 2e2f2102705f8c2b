"""The daemon's metrics for the office's monitoring, in Prometheus's text format (prefix
``surety_``), off by default: a file for node_exporter's textfile collector written
after each poll (``metrics.textfile``, a temporary file renamed over it), and/or
``GET /metrics`` on ``127.0.0.1:metrics.port`` answered by a small thread of the daemon.
The values are read from the state file with the queries ``status`` uses
(:mod:`daemon.store.report`, :mod:`daemon.store.polls`)."""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import structlog

from daemon.config import Settings
from daemon.store import PollOutcome, Store
from daemon.store.report import OUTBOX_STATES

log = structlog.get_logger("daemon.metrics")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _metric(lines: list[str], name: str, kind: str, help_text: str,
            samples: list[tuple[dict[str, str], float]]) -> None:
    lines += [f"# HELP surety_{name} {help_text}", f"# TYPE surety_{name} {kind}"]
    for labels, value in samples:
        shown = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
        number = repr(float(value)) if isinstance(value, float) else str(value)
        lines.append(f"surety_{name}{{{shown}}} {number}" if shown
                     else f"surety_{name} {number}")


def exposition(store: Store, now: datetime) -> str:
    """The metrics as of ``now``, in Prometheus's text format."""
    report = store.report
    lines: list[str] = []
    _metric(lines, "messages_total", "gauge",
            "Messages in the state file by kind and verdict (as they stand now).",
            [({"kind": kind, "verdict": verdict}, n)
             for kind, verdicts in report.counts().items() for verdict, n in verdicts.items()])
    outbox = report.outbox_counts()
    _metric(lines, "outbox", "gauge",
            "Outgoing mails not sent yet, or refused for good, by state.",
            [({"state": name}, outbox[name]) for name in OUTBOX_STATES])
    _metric(lines, "held", "gauge", "Messages held, waiting for their follow-up.",
            [({}, report.held_count())])
    _metric(lines, "quarantined", "gauge", "Messages set aside after failing too often.",
            [({}, report.quarantined_count())])
    _metric(lines, "polls_total", "counter", "Polls by how they ended.",
            [({"outcome": k}, n) for k, n in store.polls.totals().items()])
    good = store.polls.last(PollOutcome.OK)
    if good is not None:  # none yet: absent, which an alert on absence catches
        _metric(lines, "last_good_poll_timestamp_seconds", "gauge",
                "When the last poll that ended well ended (Unix time).",
                [({}, good.finished_at.timestamp())])
        _metric(lines, "seconds_since_last_good_poll", "gauge",
                "Seconds since the last poll that ended well ended.",
                [({}, max((now - good.finished_at).total_seconds(), 0.0))])
    return "\n".join(lines) + "\n"


def write_textfile(path: Path, text: str) -> None:
    """Write the file whole or not at all: a temporary file beside it, renamed over it
    (node_exporter never reads half a file)."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    temporary = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fchmod(out.fileno(), 0o644)  # the collector may run as another user
            os.fsync(out.fileno())
        temporary.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


class Textfile:
    """The textfile, written after each poll (``Intake.after_poll``); a failure is logged
    once per kind (``metrics.failed``) and never stops the daemon."""

    def __init__(self, path: str, store: Store,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.path = Path(path)
        self.store = store
        self.clock = clock or (lambda: datetime.now(UTC))
        self._said: set[str] = set()  # kinds of failure logged already

    def __call__(self) -> None:
        try:
            write_textfile(self.path, exposition(self.store, self.clock()))
        except Exception as err:  # noqa: BLE001 - the metrics must never stop the daemon
            kind = type(err).__name__
            if kind not in self._said:
                self._said.add(kind)
                log.error("metrics.failed", kind=kind, path=str(self.path), error=str(err))


class Endpoint:
    """``GET /metrics`` on 127.0.0.1:port, answered from a thread of the daemon, each
    scrape reading the state file on a read-only connection of its own."""

    def __init__(self, settings: Settings, port: int) -> None:
        state = settings.state.path
        timeout = settings.state.busy_timeout_seconds

        class Handler(BaseHTTPRequestHandler):
            timeout = 10  # a connection that sends nothing does not keep a thread for good

            def do_GET(self) -> None:
                if self.path.split("?", 1)[0] != "/metrics":
                    self.send_error(404)
                    return
                try:
                    store = Store(state, busy_timeout=timeout, read_only=True)
                    try:
                        body = exposition(store, datetime.now(UTC)).encode()
                    finally:
                        store.close()
                except Exception as err:  # noqa: BLE001 - the scrape fails, not the daemon
                    self.send_error(503, explain=type(err).__name__)
                    return
                self.send_response(200)
                self.send_header("Content-Type", CONTENT_TYPE)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                """Scrapes are not logged (one every 15 s would drown the log)."""

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(target=self.server.serve_forever, name="metrics",
                                        daemon=True)

    def start(self) -> None:
        """Answer scrapes from now on."""
        self._thread.start()
        log.info("metrics.listening", address=f"127.0.0.1:{self.port}")

    def close(self) -> None:
        """Stop answering."""
        self.server.shutdown()
        self.server.server_close()
