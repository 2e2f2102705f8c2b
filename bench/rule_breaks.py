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
    Break("values beside a key or password label not registered with the redactor",
          "daemon/lifecycle.py", "        found += labelled_secrets(text)\n",
          "        found += []\n",
          "tests/test_secrets.py::test_secrets_of_an_auto_reply_that_quotes_a_key"),
    Break("log keys auth_key / view_password no longer masked",
          "daemon/log.py", '_SECRET_KEYS = {"auth_key", "view_password", ',
          "_SECRET_KEYS = {",
          "tests/test_rules.py::test_secret_named_keys_are_masked_whatever_their_value"),
    Break("per-sender reply cap off by one",
          "daemon/lifecycle.py", "if sent + counted[to] >= limit or",
          "if sent + counted[to] > limit or",
          "tests/test_rules.py::test_reply_cap_counts_the_last_24_hours"),
    Break("per-sender reply cap switched off",
          "daemon/lifecycle.py", "if sent + counted[to] >= limit or ", "if ",
          "tests/test_rules.py::test_reply_cap_counts_the_last_24_hours"),
    Break("hourly reply cap switched off",
          "daemon/lifecycle.py", " or hour + counted.total() >= settings.replies.per_hour:",
          ":", "tests/test_rules.py::test_the_office_sends_at_most_per_hour_replies_in_all"),
    Break("閲覧用URL host check without the dot boundary",
          "daemon/extract.py", 'host.endswith("." + d.lower())', "host.endswith(d.lower())",
          "tests/test_rules.py::test_a_host_that_only_resembles_the_system_does_not_pass"),
    Break("閲覧用URL with a user name accepted (the host is what follows the @)",
          "daemon/checks.py", ' or "@" in parts.netloc', "",
          "tests/test_rules.py::test_a_url_staff_must_not_open_is_invalid"),
    Break("a follow-up from another organisation completes a held message",
          "daemon/pairing.py",
          'return waiting.reason in _BY_PASSWORD and _domain(held) == _domain(new) != ""',
          "return True",
          "tests/test_pairing.py::test_another_organisation_never_completes"),
    Break("a password that opens nothing taken as opening the held attachment",
          "daemon/pairing.py", "if opens(candidates, locked, opener) else",
          "if candidates else",
          "tests/test_pairing.py::test_two_zips_of_one_company_each_pair_with_their_own_password"),
    Break("any mail of the same kind accepted as the rest of a form",
          "daemon/pairing.py", "return not new.source and n.view_url is not None",
          "return True", "tests/test_pairing.py::test_what_supplies_the_missing_part"),
    Break("a follow-up naming other works accepted as the rest",
          "daemon/pairing.py",
          "            if _plain(a) != _plain(b):\n                return Proof.NONE\n", "",
          "tests/test_pairing.py::test_a_url_naming_other_works_does_not_complete_it"),
    Break("an auto-reply accepted as the follow-up",
          "daemon/pairing.py",
          "if not eligible(waiting, mail) or ignore_reason(mail, settings):",
          "if not eligible(waiting, mail):",
          "tests/test_pairing.py::test_mails_that_open_nothing_pair_with_nothing"),
    Break("an insurer's mail without an Authentication-Results header trusted (fails open)",
          "daemon/decide.py",
          "        return not _authenticated(text, mail.from_addr)\n    return True",
          "        return not _authenticated(text, mail.from_addr)\n    return False",
          "tests/test_mut_decide.py::test_without_a_pass_from_the_office_server_it_is_not_trusted"),
    Break("a DKIM pass of another domain trusted",
          "daemon/decide.py", "if signer and _organisation(signer.group(1)) == organisation:",
          "if True:",
          "tests/test_mut_decide.py::test_without_a_pass_from_the_office_server_it_is_not_trusted"),
    Break("a correction sent to any Reply-To",
          "daemon/decide.py",
          "if len(mail.reply_to) == 1 and _organisation(mail.reply_to[0]) == _organisation("
          "sender):",
          "if mail.reply_to:",
          "tests/test_rules.py::test_a_correction_goes_to_the_contractor_only"),
    Break("more typed guarantees than the limit each decided",
          "daemon/decide.py", "if len(cls.submissions) > settings.limits.max_submissions:",
          "if False:", "tests/test_rules.py::test_more_submissions_than_the_limit_is_one_review"),
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
        for name in ("tests", "config", "deploy"):
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
