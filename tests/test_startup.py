"""Commands start without the document libraries; a daemon can load them once for its children."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import stack
from samples import mails

import daemon
from daemon import log, sandbox
from daemon.cli import classify_file, main
from daemon.config import Settings
from daemon.lifecycle import secrets_of

# The document libraries, each a tenth of a second or more to import.
READERS = ("docx", "msoffcrypto", "openpyxl", "pypdf", "pypdfium2", "pyzipper")
ROOT = Path(daemon.__file__).resolve().parents[1]
NOW = datetime(2026, 4, 20, 9, 0, tzinfo=UTC)


def imported_after(code: str, modules: tuple[str, ...] = READERS) -> list[str]:
    """Which of ``modules`` (READERS) a fresh interpreter holds after running ``code``
    (this checkout's daemon package)."""
    probe = f"{code}\nimport sys\nprint(' '.join(m for m in {modules!r} if m in sys.modules))"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            env=env, check=True, timeout=120)
    return result.stdout.splitlines()[-1].split()  # the last line: the probe's


def test_commands_start_without_the_document_libraries() -> None:
    """Importing the command line and the whole reading pipeline imports no reader."""
    assert imported_after("import daemon.cli\nimport daemon.sandbox") == []


def test_check_config_starts_without_the_pipeline(tmp_path: Path) -> None:
    """check-config validates the config without importing the reading and deciding
    pipeline (nor the sandbox that runs it)."""
    config = tmp_path / "office.toml"
    config.write_text(stack.office_config(tmp_path / "state.sqlite3"), encoding="utf-8")
    code = f"from daemon.cli import main\nmain(['--config', {str(config)!r}, 'check-config'])"
    assert imported_after(code, ("daemon.read", "daemon.decide", "daemon.sandbox",
                                 "mailparser", "multiprocessing")) == []


def test_inherit_readers_imports_every_document_library() -> None:
    """inherit_readers() leaves every reader imported, for the children forked after it."""
    assert imported_after("from daemon.sandbox import inherit_readers\ninherit_readers()") == (
        list(READERS))


def test_classify_without_a_state_file_starts_without_the_store(tmp_path: Path) -> None:
    """classify with no state file to read imports neither the store nor what its
    gateways need to send mail (the templates, the logging library)."""
    config = tmp_path / "office.toml"
    config.write_text(stack.office_config(tmp_path / "state.sqlite3"), encoding="utf-8")
    message = tmp_path / "key-notice.eml"
    message.write_bytes(mails.dsure_key_mail())
    code = (f"from daemon.cli import main\n"
            f"main(['--config', {str(config)!r}, 'classify', {str(message)!r}])")
    assert imported_after(code, ("daemon.store", "jinja2", "structlog", "sqlite3")) == []


def _children(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the functions run in sandboxed children from now on (in this test)."""
    started: list[str] = []
    start = sandbox.start_limited

    def counted(func: Callable[..., Any], *args: Any, **kwargs: Any) -> sandbox.Job[Any]:
        started.append(getattr(func, "func", func).__name__)  # a partial: its function
        return start(func, *args, **kwargs)

    monkeypatch.setattr(sandbox, "start_limited", counted)
    return started


def _apart(settings: Settings, path: Path) -> dict[str, object]:
    """What classify printed when it read the message in one child and decided it in
    another (no state file)."""
    mail, _ = sandbox.read_in_child(path.read_bytes(), None, settings.limits, now=NOW)
    decision, _ = sandbox.decide_in_child(mail, settings, now=NOW)
    result = decision.to_json()
    result["message_id"] = mail.message_id
    result["received_at"] = mail.received_at.isoformat()
    masked: dict[str, object] = log.masked(result, secrets_of(mail, decision))
    return masked


@pytest.mark.parametrize("make", [mails.dsure_key_mail, mails.confirmation_mail])
def test_classify_reads_and_decides_in_one_child(
        make: Callable[[], bytes], settings: Settings, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """classify forks one sandboxed child for a message, not one to read it and one to
    decide it, and prints what reading and deciding apart gives."""
    message = tmp_path / "submission.eml"
    message.write_bytes(make())
    children = _children(monkeypatch)
    result = classify_file(settings, message, now=NOW)
    assert children == ["_read_and_decide"]
    assert result["verdict"] == "routed"
    assert result == _apart(settings, message)


def _boom(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("hostile input")


def test_classify_of_a_message_that_kills_its_reading_is_a_review(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """When the one child dies reading the message, the message is read again alone
    (dying again) and decided from its headers: the command prints review, it does not
    crash."""
    message = tmp_path / "hostile.eml"
    message.write_bytes(mails.dsure_key_mail())
    config = tmp_path / "office.toml"
    config.write_text(stack.office_config(tmp_path / "state.sqlite3"), encoding="utf-8")
    monkeypatch.setattr(sandbox, "read_message", _boom)  # the children are forks: they see it
    children = _children(monkeypatch)
    assert main(["--config", str(config), "classify", str(message)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["verdict"], result["problems"]) == ("review", ["attachment-unreadable"])
    assert children == ["_read_and_decide", "_boom", "decide"]  # then one to read, one to decide


def test_classify_of_a_message_that_kills_its_deciding_is_a_review(
        settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """When the one child dies deciding, the message read alone is decided alone (dying
    again): review, too-large, to the review address."""
    message = tmp_path / "hostile.eml"
    message.write_bytes(mails.dsure_key_mail())
    monkeypatch.setattr(sandbox, "decide", _boom)
    children = _children(monkeypatch)
    result = classify_file(settings, message, now=NOW)
    assert (result["verdict"], result["problems"], result["route_to"]) == (
        "review", ["too-large"], list(settings.routing.review))
    assert children == ["_read_and_decide", "read_message", "_boom"]
