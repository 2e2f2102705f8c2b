"""Render one staff mail of each kind as HTML and take a PNG of each with headless Chromium.

Run through deploy/dev/screenshot.sh (which installs Chromium from Debian's packages).
The four mails are composed by the daemon from realistic sample submissions, exactly as
they would be sent: a routed D-Sure key notice, a routed confirmation-system form, a
routed PDF policy and a review (a key notice whose PDF cannot be opened). Each HTML part
is taken from the composed mail's bytes, written to OUT/<kind>.html, and shot to
OUT/<kind>.png. Exit 0 when every PNG was made, 1 when a mail was not of its kind or
Chromium failed (said on stderr), 2 when Chromium is missing.
"""

from __future__ import annotations

import email
import email.policy
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

import stack  # noqa: E402
from samples import mails  # noqa: E402

from daemon import config  # noqa: E402
from daemon.compose import compose  # noqa: E402
from daemon.decide import decide  # noqa: E402
from daemon.read import read_message  # noqa: E402

JST = timezone(timedelta(hours=9))
IN_TIME = datetime(2026, 3, 10, 10, 0, tzinfo=JST)  # before the office's PDF cut-off
WIDTH, HEIGHT = 900, 1200


# (file name, the verdict its staff mail must have, the submission)
KINDS: list[tuple[str, str, Callable[[], bytes]]] = [
    ("routed-dsure", "routed", mails.dsure_key_mail),
    ("routed-confirmation-system", "routed", mails.confirmation_mail),
    ("routed-pdf", "routed", lambda: mails.legacy_pdf_mail(date=IN_TIME)),
    ("review", "review", mails.unreadable_key_notice_mail),
]


def staff_html(raw: bytes, verdict: str, settings: config.Settings) -> str:
    """The HTML part of the staff mail composed for this submission, as sent."""
    mail = read_message(raw)
    decision = decide(mail, settings)
    [out] = compose(decision, mail, settings, IN_TIME)
    sent = email.message_from_bytes(out.to_bytes(), policy=email.policy.default)
    assert isinstance(sent, EmailMessage)
    if sent["X-Surety-Verdict"] != verdict:
        raise SystemExit(f"screenshot: expected a {verdict} mail, got {sent['X-Surety-Verdict']}")
    part = sent.get_body(("html",))
    if part is None:
        raise SystemExit("screenshot: the staff mail has no HTML part")
    html: str = part.get_content()
    return html


def shoot(chromium: str, html: Path, png: Path) -> None:
    """A PNG of one HTML file, by headless Chromium (its own throwaway profile)."""
    with tempfile.TemporaryDirectory(prefix="surety-chromium-") as profile:
        done = subprocess.run(  # noqa: S603 - chromium found on PATH, fixed arguments
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             "--no-first-run", "--disable-extensions", "--disable-dev-shm-usage",
             "--disable-background-networking", f"--user-data-dir={profile}",
             f"--window-size={WIDTH},{HEIGHT}", f"--screenshot={png}", html.as_uri()],
            capture_output=True, text=True, timeout=180, check=False)
    if done.returncode != 0 or not png.exists():
        raise SystemExit(f"screenshot: chromium failed on {html.name}: {done.stderr[-1000:]}")


def main(argv: list[str]) -> int:
    """Render every kind into the folder given (default var/screenshots)."""
    out = Path(argv[0]) if argv else ROOT / "var" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("screenshot: chromium is not installed (apt-get install chromium)",
              file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as state:
        settings = config.parse(stack.office_config(Path(state) / "state.sqlite3"))
        for name, verdict, make in KINDS:
            html = out / f"{name}.html"
            html.write_text(staff_html(make(), verdict, settings), encoding="utf-8")
            png = out / f"{name}.png"
            png.unlink(missing_ok=True)
            shoot(chromium, html, png)
            print(png)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
