"""The demo of the main job: submissions of every kind in, one daemon run, inboxes out.

Run through deploy/dev/demo.sh, which prepares the machine and the mail stack first.
Puts realistic Japanese submissions (complete, broken and noise) into the contract
mailbox of the demo office (config/demo.toml), runs ``surety-intake run --once`` as an
operator would, then shows what reached each staff inbox and each contractor.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

import stack  # noqa: E402
from samples import mails, pdfs  # noqa: E402

JST = timezone(timedelta(hours=9))
CONFIG = ROOT / "config" / "demo.toml"
STATE = ROOT / "var" / "demo"


def _corrupt_pdf_mail() -> bytes:
    return mails.build(
        from_="株式会社山田建設 山田 太郎 <t-yamada@yamada-kensetsu.example.co.jp>",
        to=stack.INTAKE, subject="【電子保証】認証キー等のお知らせ",
        body="認証キー等のお知らせを添付します。よろしくお願いいたします。",
        attachments=[("認証キー等のお知らせ.pdf", pdfs.corrupt_pdf(), "application/pdf")],
    )


# (what it is, how it is made); delivered by SMTP through Postfix, arriving now.
DELIVERED: list[tuple[str, Callable[[], bytes]]] = [
    ("D-Sure 契約保証 (ISO-2022-JP, PDF)", mails.dsure_key_mail),
    ("D-Sure 前払金保証 + 請求書 (Outlook, ㈱)",
     lambda: mails.dsure_key_mail(contractor="hokuto", guarantee_type="advance-payment",
                                  with_invoice=True, charset="outlook")),
    ("D-Sure 中間前払金保証, typed in the body (Shift_JIS)",
     lambda: mails.dsure_key_mail(contractor="sato", guarantee_type="interim-advance-payment",
                                  in_body=True, style=1, charset="shift_jis")),
    ("確認システム 発注者提出用フォーマット (PDF)", mails.confirmation_mail),
    ("確認システム 発注者提出用フォーマット (Excel)",
     lambda: mails.confirmation_mail(contractor="takahashi", insurer="tokio", form="xlsx")),
    ("確認システム form without 閲覧用URL and 受注者名 (waits in Surety/Held for the URL)",
     lambda: mails.confirmation_mail(contractor="sato", omit=("view_url", "contractor"))),
    ("D-Sure key typed in the body, 認証キー forgotten",
     lambda: mails.dsure_key_mail(contractor="takahashi", in_body=True, omit=("auth_key",),
                                  charset="utf-8")),
    ("A question about a tender", mails.unrelated),
    ("A key notice PDF that is corrupt", _corrupt_pdf_mail),
    ("確認システム form zipped with AES (password to follow)",
     lambda: mails.confirmation_mail(contractor="hokuto", insurer="tokio", encrypt="zip-aes")),
    ("... and its password, in a second mail",
     lambda: mails.password_followup(contractor="hokuto")),
    ("A print of the 電子証書 screen instead of the key notice",
     mails.certificate_instead_of_key),
    ("An out-of-office auto reply", mails.auto_reply),
    ("A bounce from MAILER-DAEMON", mails.bounce),
]
# Legacy PDF policies, appended with the day they arrived (the office's cut-off: 2026-03-31).
APPENDED: list[tuple[str, Callable[[], bytes], datetime]] = [
    ("PDF発行証券, insurer CC'd, 2026-03-10",
     lambda: mails.legacy_pdf_mail(date=datetime(2026, 3, 10, 10, tzinfo=JST)),
     datetime(2026, 3, 10, 10, 0, 5, tzinfo=JST)),
    ("PDF発行証券 without the insurer's address, 2026-03-12",
     lambda: mails.legacy_pdf_mail(contractor="hokuto", cc=None,
                                   date=datetime(2026, 3, 12, 15, tzinfo=JST)),
     datetime(2026, 3, 12, 15, 0, 5, tzinfo=JST)),
    ("PDF発行証券 after the cut-off, 2026-04-10",
     lambda: mails.legacy_pdf_mail(contractor="sato", date=datetime(2026, 4, 10, 9, tzinfo=JST)),
     datetime(2026, 4, 10, 9, 0, 5, tzinfo=JST)),
]

STAFF = [
    (stack.CONTRACT_STAFF, "契約課 契約保証担当"),
    (stack.ADVANCE_STAFF, "工事担当課（前払金）"),
    (stack.REVIEW, "契約課 確認担当 (review)"),
]


def rule(title: str) -> None:
    """A section heading."""
    print(f"\n{'=' * 78}\n{title}\n{'=' * 78}")


def main() -> int:
    """Load, run, show."""
    stack.mailstack("reset")
    shutil.rmtree(STATE, ignore_errors=True)
    STATE.mkdir(parents=True)

    rule(f"1. {len(DELIVERED) + len(APPENDED)} mails put into {stack.INTAKE}")
    for title, make in DELIVERED:
        stack.deliver(make())
        print(f"  SMTP    {title}")
    for title, make_a, arrived in APPENDED:
        stack.append(make_a(), arrived=arrived)
        print(f"  APPEND  {title}")
    stack.wait_for_queue()

    rule("2. surety-intake --config config/demo.toml run --once")
    env = dict(os.environ, MAILSTACK_PASSWORD=stack.PASSWORD)
    log_path = STATE / "daemon.log"
    with log_path.open("w", encoding="utf-8") as log:
        proc = subprocess.run(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "daemon.cli", "--config", str(CONFIG), "run", "--once"],
            stdout=log, stderr=subprocess.PIPE, text=True, env=env, check=False,
        )
    lines = log_path.read_text(encoding="utf-8").splitlines()
    print(f"  exit status {proc.returncode}; {len(lines)} JSON log lines in {log_path}")
    print(f"  last line: {lines[-1] if lines else proc.stderr}")
    if proc.returncode != 0:
        print(proc.stderr)
        return proc.returncode
    stack.wait_for_queue()
    # Every mail the daemon sends also comes back to the contract mailbox (smtp.copy_to):
    # the proof it went out. The next poll files those copies in Surety/Sent.
    with log_path.open("a", encoding="utf-8") as log:
        again = subprocess.run(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "daemon.cli", "--config", str(CONFIG), "run", "--once"],
            stdout=log, stderr=subprocess.PIPE, text=True, env=env, check=False,
        )
    last = log_path.read_text(encoding="utf-8").splitlines()[-1]
    print(f"  a second run (exit status {again.returncode}) files the daemon's own copies "
          f"in Surety/Sent and sends nothing new:\n  last line: {last}")

    rule("3. What each staff inbox received")
    example_staff = None
    for user, label in STAFF:
        inbox = stack.mailbox(user)
        print(f"\n  {label} <{user}>: {len(inbox)} mail(s)")
        for got in inbox:
            print(f"    - {got.header('Subject')}")
            print(f"      X-Surety-Kind: {got.header('X-Surety-Kind')}  "
                  f"X-Surety-Verdict: {got.header('X-Surety-Verdict')}  "
                  f"X-Surety-Problems: {got.header('X-Surety-Problems') or '(none)'}")
            example_staff = example_staff or got

    rule("4. Correction replies to contractors (outside mail, caught by the capture server)")
    replies = stack.captured()
    for got in replies:
        print(f"  - to {', '.join(got.envelope_to)}: {got.header('Subject')}")
        print(f"    X-Surety-Problems: {got.header('X-Surety-Problems')}")

    rule(f"5. The contract mailbox afterwards ({stack.INTAKE}): nothing deleted")
    for folder, count in sorted(stack.folders(stack.INTAKE).items()):
        print(f"  {folder:24} {count}")

    if example_staff is not None:
        rule(f"6. One mail to staff, as read in {example_staff.header('To')}")
        print(example_staff.text())
    if replies:
        rule(f"7. One correction reply, as the contractor reads it ({replies[0].header('To')})")
        print(replies[0].text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
