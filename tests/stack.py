"""Talking to the local mail stack (deploy/dev/mailstack.sh) from tests and the demo.

Whether it runs, and starting, stopping and waiting for its services: deploy/dev/stackctl.py,
the helper mailstack.sh uses too (imported here as ``stackctl``).

Mail goes in the way it does in production: by SMTP through Postfix into the contract
mailbox (arrival time = now), or by IMAP APPEND with a chosen arrival time (INTERNALDATE)
for tests about dates. What the daemon sent is read back from the staff mailboxes over
IMAP and from the capture server's directory (mail to outside domains).
"""

from __future__ import annotations

import email
import email.policy
import imaplib
import json
import os
import re
import smtplib
import ssl
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "deploy" / "dev"))
import stackctl  # noqa: E402 - found through the line above

STACK_DIR = stackctl.STACK_DIR
CA_FILE = STACK_DIR / "tls" / "ca.pem"
CAPTURE_DIR = STACK_DIR / "capture"
PASSWORD = os.environ.get("MAILSTACK_PASSWORD", "intake-dev-pass")
DOMAIN = "city.example.jp"
# A contractor domain whose mailboxes do not exist: the stack answers 550 at RCPT.
CLOSED_DOMAIN = "closed.example.co.jp"
INTAKE = f"keiyaku@{DOMAIN}"
CONTRACT_STAFF = f"keiyaku-hosho@{DOMAIN}"
ADVANCE_STAFF = f"maebarai@{DOMAIN}"
REVIEW = f"review@{DOMAIN}"
SENDER = f"surety-intake@{DOMAIN}"
HOST = stackctl.HOST


def not_running() -> list[stackctl.Port]:
    """The stack's ports that nothing listens on (none when it is up)."""
    return stackctl.not_listening(stackctl.PORTS)


def mailstack(command: str) -> None:
    """Run deploy/dev/mailstack.sh with a subcommand."""
    # Not captured through a pipe: the servers `up` starts would inherit it and hold it
    # open, and the call would never see its end.
    with tempfile.TemporaryFile() as out:
        done = subprocess.run(["bash", str(ROOT / "deploy/dev/mailstack.sh"), command],
                              stdout=out, stderr=subprocess.STDOUT, check=False)
        if done.returncode != 0:
            out.seek(0)
            raise AssertionError(f"mailstack {command} failed: {out.read().decode()[-2000:]}")


def office_config(state_path: Path, *, policy: str = "", legacy_pdf_until: str = "2026-03-31"
                  ) -> str:
    """A TOML config for the local stack (a city office); ``policy``: extra TOML lines
    for its [policy] table."""
    legacy_until = legacy_pdf_until
    return f"""
[office]
name = "テスト市 財政局 契約課"
contact = "電話 000-000-0000（契約課 電子保証担当）"

[imap]
host = "localhost"
port = 143
security = "starttls"
username = "{INTAKE}"
password_env = "SURETY_TEST_IMAP_PASSWORD"
ca_file = "{CA_FILE}"
poll_seconds = 5
timeout_seconds = 20

[smtp]
host = "localhost"
port = 25
security = "starttls"
sender = "{SENDER}"
ca_file = "{CA_FILE}"
timeout_seconds = 20
retry_first_seconds = 1
copy_wait_seconds = 3

[routing]
contract_guarantee = "{CONTRACT_STAFF}"
advance_payment = "{ADVANCE_STAFF}"
review = "{REVIEW}"

[policy]
legacy_pdf_until = {legacy_until}
{policy}

[state]
path = "{state_path}"

[[insurers]]
name = "損害保険ジャパン株式会社"
aliases = ["損保ジャパン"]
domains = ["sompo-japan.example.jp"]
legacy_cc = ["denshi-hosho@sompo-japan.example.jp"]

[[insurers]]
name = "東京海上日動火災保険株式会社"
aliases = ["東京海上日動"]
domains = ["tokiomarine-nichido.example.jp"]
legacy_cc = ["hosho-pdf@tokiomarine-nichido.example.jp"]

[[insurers]]
name = "三井住友海上火災保険株式会社"
aliases = ["三井住友海上"]
domains = ["ms-ins.example.jp"]
legacy_cc = ["pdf-shoken@ms-ins.example.jp"]
"""


def _context() -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(CA_FILE))


def deliver(raw: bytes, *, to: str = INTAKE, sender: str = "sender@contractor.example.co.jp"
            ) -> None:
    """Send a message through Postfix into a mailbox of the office."""
    with smtplib.SMTP(HOST, 25, timeout=20) as smtp:
        smtp.starttls(context=_context())
        smtp.sendmail(sender, [to], raw)


def imap_login(user: str) -> imaplib.IMAP4_SSL:
    """An IMAP session as one of the stack's users (over TLS, certificate checked)."""
    client = imaplib.IMAP4_SSL(HOST, 993, ssl_context=_context(), timeout=20)
    client.login(user, PASSWORD)
    return client


def append(raw: bytes, *, arrived: datetime, user: str = INTAKE, folder: str = "INBOX") -> None:
    """Put a message into a mailbox with a chosen arrival time (INTERNALDATE)."""
    client = imap_login(user)
    try:
        status, _ = client.append(folder, "", imaplib.Time2Internaldate(arrived), raw)
        assert status == "OK"
    finally:
        client.logout()


def wait_for_queue(timeout: float = 20.0) -> None:
    """Wait until Postfix has delivered everything it holds."""
    if not _wait_for_postfix(lambda queue: True, timeout):
        raise AssertionError("Postfix queue did not drain")


def wait_for_delivery(timeout: float = 20.0) -> bool:
    """Wait until Postfix has passed on every mail it is working on now (what the daemon
    just sent), leaving alone mail put on hold or deferred by a test; False on timeout."""
    return _wait_for_postfix(lambda queue: queue in ("maildrop", "incoming", "active"),
                             timeout)


def _wait_for_postfix(counts: Callable[[str], bool], timeout: float) -> bool:
    import time  # noqa: PLC0415

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = subprocess.run(["postqueue", "-j"], capture_output=True, text=True, check=False)
        queues = [json.loads(line).get("queue_name", "") for line in out.stdout.splitlines()
                  if line.strip()]
        if not any(counts(queue) for queue in queues):
            return True
        time.sleep(0.1)
    return False


@dataclass
class Received:
    """A message read back from a mailbox or the capture server."""

    folder: str
    message: EmailMessage
    envelope_to: tuple[str, ...] = ()

    def header(self, name: str) -> str:
        """A header's value ("" when absent)."""
        value = self.message.get(name)
        return "" if value is None else " ".join(str(value).split())

    @property
    def problems(self) -> list[str]:
        """X-Surety-Problems as a list of codes."""
        return [c for c in self.header("X-Surety-Problems").split(",") if c]

    def text(self) -> str:
        """The first text/plain part, decoded."""
        part = self.message.get_body(preferencelist=("plain",))
        return part.get_content() if part is not None else ""  # type: ignore[no-any-return]

    def attachments(self) -> list[EmailMessage]:
        """The attached parts."""
        return list(self.message.iter_attachments())  # type: ignore[arg-type]

    @property
    def postfix_queue_id(self) -> str:
        """The id of the Postfix queue file this copy was delivered from: one id for
        several copies means one hand-over that Postfix delivered more than once."""
        for received in self.message.get_all("Received") or []:
            one_line = " ".join(str(received).split())
            found = re.search(r"\(Postfix\) with \w+ id ([0-9A-F]+)", one_line)
            if found:
                return found.group(1)
        return ""


def mailbox(user: str, folder: str = "INBOX") -> list[Received]:
    """Every message in a user's folder (empty if the folder does not exist)."""
    client = imap_login(user)
    try:
        status, _ = client.select(f'"{folder}"', readonly=True)
        if status != "OK":
            return []
        _, data = client.uid("SEARCH", "ALL")
        out = []
        for uid in data[0].split():
            _, parts = client.uid("FETCH", uid, "(BODY.PEEK[])")
            raw = next(p[1] for p in parts if isinstance(p, tuple))
            out.append(Received(folder, _parse(raw)))
        return out
    finally:
        client.logout()


def folders(user: str) -> dict[str, int]:
    """Every folder of a user with its message count."""
    client = imap_login(user)
    try:
        _, listing = client.list()
        counts = {}
        for line in listing:
            if b"\\Noselect" in line or b"\\NonExistent" in line:
                continue
            name = line.decode().rsplit(' "/" ', 1)[-1].strip('"')
            _, data = client.status(f'"{name}"', "(MESSAGES)")
            counts[name] = int(data[0].decode().rsplit("MESSAGES ", 1)[1].rstrip(")"))
        return counts
    finally:
        client.logout()


def captured() -> list[Received]:
    """Every message the capture server got (mail to outside domains), oldest first."""
    out = []
    for path in sorted(CAPTURE_DIR.glob("*.eml")):
        message = _parse(path.read_bytes())
        rcpts = tuple(str(v) for v in message.get_all("X-Capture-Rcpt-To", []))
        out.append(Received("capture", message, rcpts))
    return out


def _parse(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


def unfiled(user: str = INTAKE) -> list[Received]:
    """Messages in the intake folder that still await the daemon, not counting its own
    copies of what it sent (filed into Surety/Sent on the next poll)."""
    return [m for m in mailbox(user) if not m.header("X-Surety-Source")]


def filed_counts(user: str = INTAKE) -> dict[str, int]:
    """Folder counts of the contract mailbox without the daemon's own copies."""
    counts = folders(user)
    counts.pop("Surety/Sent", None)
    counts["INBOX"] = len(unfiled(user))
    return counts


POSTFIX_LOG = STACK_DIR / "log" / "postfix.log"
_QUEUE_ID = r"postfix/\w+\[\d+\]: ([0-9A-F]+): "


def postfix_log_offset() -> int:
    """Where Postfix's log ends now: read what it logs from here on with postfix_log."""
    return POSTFIX_LOG.stat().st_size if POSTFIX_LOG.exists() else 0


def postfix_log(since: int) -> str:
    """What Postfix logged since the offset."""
    with POSTFIX_LOG.open("rb") as log:
        log.seek(since)
        return log.read().decode("utf-8", "replace")


def _message_ids(log: str) -> dict[str, str]:
    return dict(re.findall(_QUEUE_ID + r"message-id=(<[^>]+>)", log))


def postfix_queued(log: str, sender: str) -> dict[str, int]:
    """How many mails Postfix took (committed to its queue) per Message-ID from sender."""
    ids = _message_ids(log)
    queued = set(re.findall(_QUEUE_ID + f"from=<{re.escape(sender)}>", log))
    return dict(Counter(ids[q] for q in queued if q in ids))
