"""Break each of the rules that once went unguarded, one at a time, and see a test fail.

Each entry is one edit to the daemon's code that changes what a user sees (a correction
sent for a valid PDF policy, a key in the log, a reply loop, a look-alike host accepted,
a held message completed by the wrong mail, a forged sender routed) and the test that
must fail on it. The edit is made in a copy of the project (daemon/ and tests/ under a
temporary folder), never in the working tree. Prints one line per edit and, last,
``rule breaks: K caught of N``; exit status 1 when any edit went unnoticed.

Usage: .venv/bin/python bench/rule_breaks.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Break:
    """One rule-breaking edit and the test that must notice it."""

    behaviour: str
    path: str
    old: str
    new: str
    test: str


BREAKS = (
    Break("insurer's designated address written in mixed case in the config",
          "daemon/checks.py", "{a.lower() for a in insurer.legacy_cc}",
          "{a for a in insurer.legacy_cc}",
          "tests/test_rules.py::test_designated_address_counts_whatever_its_case"),
    Break("a JIS pair CP932 lacks decoded with errors='replace'",
          "daemon/japanese.py", 'return bytes([s1, s2]).decode("cp932")',
          'return bytes([s1, s2]).decode("cp932", errors="replace")',
          "tests/test_rules.py::test_a_jis_code_cp932_lacks_is_never_replaced"),
    Break("a 認証キー not registered with the redactor",
          "daemon/lifecycle.py", "(outcome.fields.auth_key, outcome.fields.view_password)",
          "(outcome.fields.view_password,)",
          "tests/test_rules.py::test_every_key_is_masked_in_the_log_through_the_daemons_path"),
    Break("log keys auth_key / view_password no longer masked",
          "daemon/log.py", '_SECRET_KEYS = {"auth_key", "view_password", ',
          "_SECRET_KEYS = {",
          "tests/test_rules.py::test_secret_named_keys_are_masked_whatever_their_value"),
    Break("per-sender reply cap off by one",
          "daemon/lifecycle.py", "if sent + counted[to] >= limit:",
          "if sent + counted[to] > limit:",
          "tests/test_rules.py::test_reply_cap_counts_the_last_24_hours"),
    Break("per-sender reply cap switched off",
          "daemon/lifecycle.py", "if sent + counted[to] >= limit:", "if False:",
          "tests/test_rules.py::test_reply_cap_counts_the_last_24_hours"),
    Break("閲覧用URL host check without the dot boundary",
          "daemon/extract.py", 'host.endswith("." + d.lower())', "host.endswith(d.lower())",
          "tests/test_rules.py::test_a_host_that_only_resembles_the_system_does_not_pass"),
    Break("a follow-up from any sender completes a held message",
          "daemon/lifecycle.py",
          "return held_sender.lower() == mail.from_addr.lower() and mail.received_at",
          "return mail.received_at",
          "tests/test_rules.py::test_a_follow_up_that_must_not_complete"),
    Break("a mail with no password accepted as the password follow-up",
          "daemon/decide.py", "return bool(document_passwords(mail.body))", "return True",
          "tests/test_rules.py::test_mails_that_must_not_pair_with_a_held_encrypted_form"),
    Break("an unrelated mail accepted as the rest of a form",
          "daemon/decide.py",
          "return any(s.kind is Kind.CONFIRMATION_SYSTEM for s in cls.submissions)",
          "return True",
          "tests/test_rules.py::test_the_rest_of_a_form_pairs_and_other_mail_does_not"),
    Break("an auto-reply accepted as the follow-up",
          "daemon/decide.py", "    if ignore_reason(mail, settings):\n        return False\n"
          "    if held_reason == WAITING_FOR_PASSWORD:",
          "    if held_reason == WAITING_FOR_PASSWORD:",
          "tests/test_rules.py::test_mails_that_must_not_pair_with_a_held_encrypted_form"),
    Break("dkim=fail with dmarc=none no longer sent to review",
          "daemon/decide.py",
          'return "fail" in dmarc or ("fail" in dkim and "pass" not in dkim)',
          'return "fail" in dmarc',
          "tests/test_rules.py::test_dkim_and_dmarc_results_of_the_office_server"),
    Break("Precedence: bulk no longer ignored",
          "daemon/decide.py", 'if precedence in ("bulk", "junk", "list"):',
          'if precedence in ("junk", "list"):',
          "tests/test_rules.py::test_precedence_header"),
)


def _pytest(work: Path, *tests: str) -> int:
    done = subprocess.run(  # noqa: S603 - our own interpreter and tests
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests],
        cwd=work, capture_output=True, text=True, check=False,
        env={"PYTHONPATH": f"{work}:{work / 'tests'}", "PATH": "/usr/bin:/bin"},
    )
    return done.returncode


def caught(item: Break, work: Path) -> bool:
    """Apply the edit in a fresh copy of daemon/ and run its test: True when it fails."""
    shutil.rmtree(work / "daemon", ignore_errors=True)
    shutil.copytree(ROOT / "daemon", work / "daemon")
    target = work / item.path
    text = target.read_text(encoding="utf-8")
    if text.count(item.old) != 1:
        sys.exit(f"{item.path}: the text to break is not there once: {item.old!r}")
    target.write_text(text.replace(item.old, item.new), encoding="utf-8")
    return _pytest(work, item.test) == 1


def main() -> int:
    """Try every edit; print what each one did."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name in ("tests", "config"):
            shutil.copytree(ROOT / name, work / name)
        shutil.copy(ROOT / "pyproject.toml", work)
        shutil.copytree(ROOT / "daemon", work / "daemon")
        if _pytest(work, *sorted({b.test for b in BREAKS})) != 0:
            sys.exit("the tests fail on the unbroken code: nothing to learn from breaking it")
        results = []
        for item in BREAKS:
            ok = caught(item, work)
            results.append(ok)
            print(f"{'caught' if ok else 'MISSED'}: {item.behaviour} -> {item.test}")
    print(f"rule breaks: {sum(results)} caught of {len(results)}")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
