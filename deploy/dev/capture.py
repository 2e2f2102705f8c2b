"""Capture SMTP server for the local development mail stack.

Postfix in the dev stack relays every message for a domain other than the office
domain to this server, which stands in for "the Internet": it accepts every
message and stores it as ``<time_ns>-<n>.eml`` in a directory, so tests can read
what the daemon would have sent to contractors.

Each file holds the SMTP envelope as headers, followed by the message bytes
exactly as received (after SMTP dot-unstuffing)::

    X-Capture-Mail-From: sender@example.org
    X-Capture-Rcpt-To: first@example.com
    X-Capture-Rcpt-To: second@example.com
    <original message>

Files are written atomically: to a hidden ``.*.tmp`` name first, then renamed,
so a reader that globs ``*.eml`` never sees a partial message.

Usage::

    python capture.py --host 127.0.0.1 --port 2526 --dir /var/lib/surety-mailstack/capture
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import logging
import os
import signal
import time
from pathlib import Path

from aiosmtpd.smtp import SMTP, Envelope, Session

log = logging.getLogger("capture")

# Larger than Postfix's default message_size_limit (10 MB), so Postfix is the
# component that enforces the size limit, as it would be in production.
DATA_SIZE_LIMIT = 64 * 1024 * 1024


def _header_value(value: str) -> str:
    """Make an envelope address safe to put on a single header line."""
    return value.replace("\r", " ").replace("\n", " ")


def render(mail_from: str, rcpt_tos: list[str], content: bytes) -> bytes:
    """Return the bytes stored for one message: envelope headers, then ``content``.

    The envelope headers use the same line ending as the message's first line
    (CRLF as received over SMTP), so the result stays a consistent message.
    """
    first_line = content.split(b"\n", 1)[0]
    eol = b"\n" if b"\n" in content and not first_line.endswith(b"\r") else b"\r\n"
    lines = [f"X-Capture-Mail-From: {_header_value(mail_from)}".encode()]
    lines += [f"X-Capture-Rcpt-To: {_header_value(rcpt)}".encode() for rcpt in rcpt_tos]
    return eol.join(lines) + eol + content


class CaptureHandler:
    """aiosmtpd handler that stores each accepted message in a directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._counter = itertools.count(1)

    def store(self, data: bytes) -> Path:
        """Write ``data`` atomically as a new ``.eml`` file and return its path."""
        name = f"{time.time_ns()}-{next(self._counter)}.eml"
        final = self.directory / name
        tmp = self.directory / f".{name}.tmp"
        with tmp.open("wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(final)
        return final

    async def handle_DATA(  # noqa: N802 - hook name is defined by aiosmtpd
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        """Store the message; answer 250 on success, 451 (try again) on an I/O error."""
        mail_from = envelope.mail_from or ""
        rcpt_tos = list(envelope.rcpt_tos)
        content = envelope.original_content or b""
        try:
            path = self.store(render(mail_from, rcpt_tos, content))
        except OSError:
            log.exception("could not store message from %s", mail_from)
            return "451 4.3.0 Capture server could not store the message"
        log.info(
            "stored %s from=<%s> to=%s peer=%s size=%d",
            path.name,
            mail_from,
            ",".join(f"<{r}>" for r in rcpt_tos),
            session.peer,
            len(content),
        )
        return "250 2.0.0 Message captured"


async def serve(host: str, port: int, directory: Path) -> None:
    """Serve SMTP on ``host:port`` until SIGTERM or SIGINT."""
    handler = CaptureHandler(directory)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(
            handler,
            hostname="capture.localhost",  # avoids a DNS lookup for getfqdn()
            enable_SMTPUTF8=True,
            decode_data=False,
            data_size_limit=DATA_SIZE_LIMIT,
        ),
        host=host,
        port=port,
    )
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info("capture server listening on %s:%d, writing to %s", host, port, directory)
    async with server:
        await stop.wait()
    log.info("capture server stopped")


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and run the server."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2526)
    parser.add_argument("--dir", type=Path, required=True, help="where .eml files go")
    parser.add_argument("--pidfile", type=Path, help="write the process id here")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # aiosmtpd logs every connection and command at INFO; one line per message is enough.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    directory: Path = args.dir
    directory.mkdir(parents=True, exist_ok=True)
    pidfile: Path | None = args.pidfile
    if pidfile is not None:
        pidfile.write_text(f"{os.getpid()}\n")
    try:
        asyncio.run(serve(args.host, args.port, directory))
    finally:
        if pidfile is not None:
            with contextlib.suppress(FileNotFoundError):
                if pidfile.read_text().strip() == str(os.getpid()):
                    pidfile.unlink()


if __name__ == "__main__":
    main()
