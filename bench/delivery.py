"""What the local mail stack (Postfix + Dovecot) spends delivering one mail into a mailbox,
by the mailbox's size: the part of the daemon's backlog cost that is the server's.

Every mail the daemon sends is delivered by Postfix over LMTP into Dovecot: a forward or
review mail into a staff mailbox (and, with smtp.copy_to, its copy into the contract mailbox).
``bench/throughput.py`` counts that work under "mail stack and all else"; this measures it
alone, with no daemon running:

* for each size N (default 1,000 and 20,000): the stack is reset, the contract staff's
  INBOX filled with N small messages (IMAP APPEND over one connection), then K mails
  (default 200) of ``--kb`` kilobytes (default 60: a forward with a one-page PDF and the
  original attached is 40-90 KB) are sent to it over one SMTP connection (STARTTLS), and
  the run waits until the INBOX holds all N + K (IMAP STATUS every 0.2 s);
* printed: the machine's CPU time from the first mail handed over to the last one
  delivered (/proc/stat, all cores), less this process's own, per delivered mail; and the
  wall time per mail.

The stack is used under /tmp/stack.lock, as by every test and benchmark. Figures depend
on the machine and its load (printed with them); this asserts nothing.

Usage: PYTHONPATH=. .venv/bin/python bench/delivery.py [--sizes 1000,20000] [--count 200]
[--kb 60]
"""

from __future__ import annotations

import argparse
import imaplib
import os
import platform
import smtplib
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

import stack  # noqa: E402
from throughput import _machine_busy_s, bulk_append_to, stack_lock  # noqa: E402

FILLER = (b"From: filler@contractor.example.co.jp\r\nTo: %s\r\nSubject: filler %d\r\n"
          b"Message-ID: <filler-%d@contractor.example.co.jp>\r\n\r\nfiller\r\n")


def _mail(k: int, kb: int) -> bytes:
    head = (f"From: {stack.SENDER}\r\nTo: {stack.CONTRACT_STAFF}\r\n"
            f"Subject: delivery {k}\r\nMessage-ID: <delivery-{k}@city.example.jp>\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n")
    line = b"0123456789abcdef" * 4 + b"\r\n"
    return head.encode() + line * (kb * 1024 // len(line))


def _messages(client: imaplib.IMAP4_SSL) -> int:
    _, data = client.status("INBOX", "(MESSAGES)")
    return int(data[0].decode().rsplit(" ", 1)[1].rstrip(")"))


def measure(size: int, count: int, kb: int) -> tuple[float, float]:
    """CPU ms and wall ms per mail delivered into a mailbox of ``size`` messages."""
    with stack_lock(f"delivery {size}"):
        stack.mailstack("reset")
        to = stack.CONTRACT_STAFF.encode()
        bulk_append_to(stack.CONTRACT_STAFF, [FILLER % (to, n, n) for n in range(size)])
        mails = [_mail(k, kb) for k in range(count)]
        watcher = stack.imap_login(stack.CONTRACT_STAFF)
        try:
            busy, own = _machine_busy_s(), time.process_time()
            start = time.perf_counter()
            with smtplib.SMTP(stack.HOST, 25, timeout=60) as smtp:
                smtp.starttls(context=stack._context())
                for mail in mails:
                    smtp.sendmail(stack.SENDER, [stack.CONTRACT_STAFF], mail)
            deadline = time.monotonic() + 600
            while _messages(watcher) < size + count:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{count} mails not delivered in 600 s")
                time.sleep(0.2)
            wall = time.perf_counter() - start
            cpu = _machine_busy_s() - busy - (time.process_time() - own)
        finally:
            watcher.logout()
    return cpu / count * 1000, wall / count * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", default="1000,20000")
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--kb", type=int, default=60)
    args = parser.parse_args()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}, {os.cpu_count()} cores, "
          f"load {load}, Python {platform.python_version()}", flush=True)
    for size in (int(s) for s in args.sizes.split(",") if s):
        cpu, wall = measure(size, args.count, args.kb)
        print(f"mailbox of {size} messages: {args.count} mails of {args.kb} KB delivered, "
              f"machine CPU {cpu:.1f} ms a mail, wall {wall:.1f} ms a mail", flush=True)


if __name__ == "__main__":
    main()
