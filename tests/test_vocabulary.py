"""The vocabularies are stated once: problem codes, reasons, actions, Office suffixes.

A code or a reason is an enum member that equals its text, so what the daemon writes
(headers, JSON, the log, the state file) is the text as before; a code the catalogue does
not know raises instead of meaning something by default.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from samples import mails

from daemon import display, lifecycle, problems
from daemon.archives import is_zip
from daemon.compose import compose
from daemon.config import Settings
from daemon.decide import decide, ignore_reason
from daemon.documents import OFFICE_SUFFIXES, OfficeFormat, office_format
from daemon.model import (
    Action,
    Decision,
    Fields,
    HeldReason,
    IgnoredReason,
    Kind,
    Outcome,
    Verdict,
    action_of,
)
from daemon.problems import CATALOGUE, CatalogueError, Code, Effect, Problem
from daemon.read import read_message

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)

# --- problem codes ------------------------------------------------------------------------------


def test_each_code_is_its_kebab_case_text_and_has_one_entry() -> None:
    """A Code equals its text (what headers, JSON and the state file show), and the
    catalogue is keyed by every Code, once."""
    for code in Code:
        assert code == code.value and str(code) == code.value
        assert re.fullmatch(r"[a-z]+(?:-[a-z]+)*", code.value)
        assert CATALOGUE[code].code is code
    assert set(CATALOGUE) == set(Code)
    assert all(isinstance(key, Code) for key in CATALOGUE)


def test_an_unknown_code_raises_a_key_error_naming_it() -> None:
    """A typo or a newer daemon's code is an error, never review by default."""
    with pytest.raises(problems.UnknownCodeError, match="reply-limit-reched"):
        problems.get("reply-limit-reched")
    with pytest.raises(KeyError):
        problems.effect("")
    assert problems.effect("reply-limit-reached") is Effect.REVIEW  # its text still works


def test_the_catalogue_check_names_a_code_without_its_entry() -> None:
    """A Code left out of the list of problems is caught when the catalogue is built."""
    entries = [p for p in CATALOGUE.values() if p.code is not Code.NOT_MIME]
    with pytest.raises(CatalogueError, match="'not-mime' has no Problem entry"):
        problems.catalogue(entries)


def test_the_catalogue_check_names_an_entry_without_its_code() -> None:
    """A problem whose code is no Code (a typo, a code never added to the enum) is caught."""
    stray = Problem("not-mine", Effect.REVIEW, "?")  # type: ignore[arg-type]
    with pytest.raises(CatalogueError, match="'not-mine' has no Code"):
        problems.catalogue([*CATALOGUE.values(), stray])


def test_the_catalogue_check_names_a_code_listed_twice() -> None:
    """Two entries for one code are caught (which one would count?)."""
    twice = replace(CATALOGUE[Code.TOO_LARGE], to_staff="another text")
    with pytest.raises(CatalogueError, match="'too-large' is listed twice"):
        problems.catalogue([*CATALOGUE.values(), twice])
    assert problems.catalogue(CATALOGUE.values()) == CATALOGUE


def test_a_mail_about_an_unknown_code_is_not_written(settings: Settings) -> None:
    """Compose asks the catalogue for every code's text: an unknown one raises rather
    than reaching staff as a bare code."""
    outcome = Outcome(Verdict.REVIEW, Kind.OTHER, None, ("no-such-code",),
                      tuple(settings.routing.review), Fields())
    mail = read_message(mails.unrelated())
    with pytest.raises(problems.UnknownCodeError):
        compose(Decision(Verdict.REVIEW, (outcome,)), mail, settings, NOW)


def test_codes_are_written_as_their_text(settings: Settings) -> None:
    """Headers and JSON hold the codes' text, exactly as plain strings would give it."""
    mail = read_message(mails.dsure_key_mail(in_body=True, omit=("auth_key",)))
    decision = decide(mail, settings, can_wait=False)
    assert decision.problems == (Code.AUTH_KEY_MISSING,)
    plain = replace(decision, outcomes=tuple(
        replace(o, problems=tuple(str.__str__(c) for c in o.problems))
        for o in decision.outcomes))
    assert {type(c) for c in plain.problems} == {str}
    assert json.dumps(decision.to_json()) == json.dumps(plain.to_json())
    (reply,) = compose(decision, mail, settings, NOW)
    assert reply.message["X-Surety-Problems"] == "auth-key-missing"
    assert reply.to_bytes() == compose(plain, mail, settings, NOW)[0].to_bytes()


# A problem code's text may still appear as a literal only here: the same text meaning
# something else, and the modules another change converts (see the README of that change).
_ALLOWED_LITERALS = {
    # DocumentStatus.TOO_LARGE, a status of its own; Action.UNDELIVERABLE
    "model.py": {"too-large", "undeliverable"},
    "checks.py": {"subject-format"},  # the rule's name
    "problems.py": {c.value for c in Code},  # where the codes are named
    "process.py": {"quarantined"},  # Result.QUARANTINED, the loop's outcome
    "metrics.py": {"quarantined"},  # the metric surety_quarantined, a name of its own
    "messages.py": set(),
    "outgoing.py": set(),
}


def test_no_problem_code_is_written_as_a_string_literal() -> None:
    """Outside the catalogue a code is written as a Code member, so a misspelt one fails
    at import (a code inside a longer literal, such as SQL, is not looked for)."""
    codes = set(Code)
    found = []
    for path in sorted((ROOT / "daemon").rglob("*.py")):
        allowed = _ALLOWED_LITERALS.get(path.name, set())
        found += [f"{path.name}:{node.lineno}: {node.value}"
                  for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                  if isinstance(node, ast.Constant) and node.value in codes
                  and node.value not in allowed]
    assert found == []


# --- reasons and actions ------------------------------------------------------------------------


def test_ignored_and_held_reasons_are_enum_members(settings: Settings) -> None:
    """An ignored message's reason is an IgnoredReason; a held one's a HeldReason; both
    equal their text (the state file's and the log's)."""
    auto = read_message(mails.auto_reply())
    assert ignore_reason(auto, settings) in set(IgnoredReason)
    assert decide(auto, settings).reason in set(IgnoredReason)
    held = decide(read_message(mails.confirmation_mail(encrypt="zip-aes")), settings)
    assert (held.verdict, held.reason) == (Verdict.HELD, HeldReason.PASSWORD)
    assert held.reason == "waiting-for-password"


@pytest.mark.parametrize(("name", "action"), [
    ("forward", Action.FORWARD), ("reply-2", Action.REPLY), ("quarantine", Action.QUARANTINE),
    ("undeliverable-reply-2", Action.UNDELIVERABLE),
    ("undeliverable-forward", Action.UNDELIVERABLE),
])
def test_an_action_name_says_its_action(name: str, action: Action) -> None:
    """The state file's action names are read back as the action they perform."""
    assert action_of(name) is action


def test_an_unknown_action_name_raises() -> None:
    """A name no mail of the daemon has raises, not taken for a forward."""
    with pytest.raises(ValueError, match="replied"):
        action_of("replied-2")


# --- Office suffixes ----------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "expected"), [
    ("発注者提出用フォーマット.XLSX", OfficeFormat.WORKBOOK),
    ("様式.xlsm", OfficeFormat.WORKBOOK),
    ("様式.docx", OfficeFormat.DOCUMENT),
    ("証券.xls", OfficeFormat.BINARY),
    ("資料.pptx", OfficeFormat.OPEN_XML),
    ("証券.pdf", None), ("xlsx", None), ("様式.xlsx.pdf", None),
])
def test_an_office_file_is_known_by_its_suffix(name: str, expected: OfficeFormat | None) -> None:
    """One table of Office suffixes says which files are Office files and which are read."""
    assert office_format(name) is expected


def test_the_suffix_patterns_are_built_from_the_one_list() -> None:
    """Every Office suffix: not a zip to unpack when it is a zip-based format, stripped
    from a value as a file name, never taken for a top-level domain."""
    zip_magic = b"PK\x03\x04"
    for suffix, office in OFFICE_SUFFIXES.items():
        name = f"様式{suffix}"
        assert is_zip(zip_magic, name) is not office.zipped, suffix
        assert lifecycle._FILE_SUFFIX.sub("", f"Ab3dE5fG{suffix.upper()}") == "Ab3dE5fG"
        assert display.for_contractor(f"添付 {name} をご確認") == f"添付 {name} をご確認"
    assert display.for_contractor("city.example.jp") == display.URL_NOTE
