"""The config: defaults laid under the office's file, and errors that name the key."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
import stack

from daemon import config
from daemon.config import ConfigError


def _office(tmp_path: Path) -> str:
    return stack.office_config(tmp_path / "s.sqlite3")


def test_office_file_overrides_defaults(tmp_path: Path) -> None:
    """The office's values win; unnamed keys take the documented defaults."""
    settings = config.parse(_office(tmp_path))
    assert settings.imap.port == 143
    assert settings.imap.folder == "INBOX"
    assert settings.imap.folders.review == "Surety/Review"
    assert settings.policy.legacy_pdf_until == date(2026, 3, 31)
    assert settings.routing.contract_guarantee == [stack.CONTRACT_STAFF]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("port = 143", 'port = "imap"'), "imap.port: Input should be a valid integer"),
        (('security = "starttls"', 'security = "ssl"'), "imap.security: Input should be"),
        (("legacy_pdf_until = 2026-03-31", 'legacy_pdf_until = "March"'),
         "policy.legacy_pdf_until: Input should be a valid date"),
        ((f'review = "{stack.REVIEW}"', 'review = "nobody"'),
         "routing.review.0: Value error, not an email address"),
        (("poll_seconds = 5", "poll_secs = 5"), "imap.poll_secs: unknown key"),
        (("[state]", "[stat]"), "stat: unknown key"),
        (("legacy_pdf_until = 2026-03-31", ""),
         'policy.legacy_pdf_until: required while policy.accept takes "legacy-pdf"'),
        (("[state]", "[policy.subject_patterns]\ncontract = '(['\n[state]"),
         "policy.subject_patterns.contract: Value error, not a valid regular expression"),
        (("[state]", "[policy.subject_patterns]\nbond = 'x'\n[state]"),
         "policy.subject_patterns.bond.[key]: Input should be 'contract'"),
        (("domains = [\"sompo-japan.example.jp\"]", ""), "insurers.0.domains: required key"),
    ],
)
def test_bad_config_names_the_key(tmp_path: Path, edit: tuple[str, str], message: str) -> None:
    """Each kind of mistake is reported with the dotted name of the key."""
    text = _office(tmp_path).replace(*edit, 1)
    with pytest.raises(ConfigError) as err:
        config.parse(text)
    assert message in str(err.value)


def test_missing_secret_names_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                           ) -> None:
    """run refuses to start when the password's environment variable is empty."""
    monkeypatch.delenv("SURETY_TEST_IMAP_PASSWORD", raising=False)
    settings = config.parse(_office(tmp_path))
    with pytest.raises(ConfigError) as err:
        config.check_for_run(settings)
    assert str(err.value) == ("imap.password_env: environment variable "
                              "SURETY_TEST_IMAP_PASSWORD is not set or empty")


def test_cli_stops_with_one_clear_line(tmp_path: Path) -> None:
    """A bad config stops the command with exit 2 and one line naming the key."""
    path = tmp_path / "office.toml"
    path.write_text(_office(tmp_path).replace("port = 25", "port = 70000"), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "daemon.cli", "--config", str(path), "run", "--once"],
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "surety-intake: config error: smtp.port: Input should be less than 65536 (got 70000)"
    ]


def test_toml_syntax_error_is_reported(tmp_path: Path) -> None:
    """A file that is not TOML says so, with the line."""
    with pytest.raises(ConfigError, match="not valid TOML"):
        config.parse("[imap\nhost = 1")


def test_check_config_warns_when_sender_authentication_is_off(tmp_path: Path) -> None:
    """Without security.authserv_id the config is valid, but check-config says what is
    left unchecked; with it, no warning."""
    path = tmp_path / "office.toml"
    for extra, warned in (("", True), ('\n[security]\nauthserv_id = "mx.city.example.jp"\n',
                                       False)):
        path.write_text(_office(tmp_path) + extra, encoding="utf-8")
        proc = subprocess.run(
            [sys.executable, "-m", "daemon.cli", "--config", str(path), "check-config"],
            capture_output=True, text=True, check=False,
        )
        assert (proc.returncode, proc.stdout) == (0, "config ok\n")
        assert ("warning: security.authserv_id is not set" in proc.stderr) is warned
