"""The metrics (``[metrics]``): the Prometheus text read from a state file written by the
real Store, the textfile written whole after each poll and a failure to write it logged
once per kind, ``GET /metrics`` on a local port; and the log's two formats."""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
import stack
import statefile
import structlog
from structlog.testing import capture_logs

from daemon import config, log, metrics
from daemon.store import Store


def _lines(text: str) -> set[str]:
    return {line for line in text.splitlines() if not line.startswith("#")}


def test_the_metrics_of_a_state_file(tmp_path: Path) -> None:
    """Each metric with its labels and value, read with status's queries."""
    store = statefile.build(tmp_path / "state.sqlite3")
    text = metrics.exposition(store, statefile.NOW)
    store.close()
    good = statefile.NOW - timedelta(minutes=2)
    assert _lines(text) == {
        'surety_messages_total{kind="confirmation-system",verdict="correction"} 1',
        'surety_messages_total{kind="dsure-key",verdict="routed"} 1',
        'surety_messages_total{kind="other",verdict="review"} 1',
        'surety_messages_total{kind="unknown",verdict="held"} 1',
        'surety_messages_total{kind="unknown",verdict="quarantined"} 1',
        'surety_outbox{state="pending"} 1',
        'surety_outbox{state="retrying"} 1',
        'surety_outbox{state="awaiting_copy"} 1',
        'surety_outbox{state="failed"} 1',
        "surety_held 1",
        "surety_quarantined 1",
        'surety_polls_total{outcome="ok"} 1',
        'surety_polls_total{outcome="failed"} 1',
        f"surety_last_good_poll_timestamp_seconds {good.timestamp()!r}",
        "surety_seconds_since_last_good_poll 120.0",
    }
    assert "# TYPE surety_polls_total counter" in text
    assert "# TYPE surety_outbox gauge" in text


def test_before_the_first_good_poll_its_time_is_absent(tmp_path: Path) -> None:
    """No made-up timestamp: the series is missing (an alert on absence catches it)."""
    store = Store(tmp_path / "state.sqlite3")
    text = metrics.exposition(store, statefile.NOW)
    store.close()
    assert "last_good_poll" not in text
    assert 'surety_polls_total{outcome="ok"} 0' in text
    assert "surety_held 0" in text


def test_the_textfile_is_replaced_whole(tmp_path: Path) -> None:
    """Written after each poll through a temporary file renamed over it: no temporary file
    left, readable by the collector."""
    store = statefile.build(tmp_path / "state.sqlite3")
    target = tmp_path / "surety.prom"
    target.write_text("old\n", encoding="utf-8")
    write = metrics.Textfile(str(target), store, lambda: statefile.NOW)
    write()
    store.close()
    assert "surety_held 1" in target.read_text(encoding="utf-8")
    assert [p.name for p in tmp_path.iterdir() if "prom" in p.name] == ["surety.prom"]
    assert target.stat().st_mode & 0o777 == 0o644


def test_a_textfile_that_cannot_be_written_is_logged_once_per_kind(tmp_path: Path) -> None:
    """The daemon goes on; the same failure at every poll is said once."""
    store = Store(tmp_path / "state.sqlite3")
    write = metrics.Textfile(str(tmp_path / "missing" / "surety.prom"), store)
    with capture_logs() as logs:
        write()
        write()
        write.path = tmp_path  # a directory: another kind of failure
        write()
    store.close()
    failed = [e for e in logs if e["event"] == "metrics.failed"]
    assert [e["kind"] for e in failed] == ["FileNotFoundError", "IsADirectoryError"]
    assert failed[0]["log_level"] == "error"


def test_the_endpoint_answers_on_localhost(tmp_path: Path, settings: config.Settings) -> None:
    """GET /metrics gives the text; another path 404; bound to 127.0.0.1 only."""
    statefile.build(Path(settings.state.path)).close()
    endpoint = metrics.Endpoint(settings, 0)  # 0: any free port
    endpoint.start()
    try:
        assert endpoint.server.server_address[0] == "127.0.0.1"
        url = f"http://127.0.0.1:{endpoint.port}"
        with urllib.request.urlopen(f"{url}/metrics", timeout=10) as answer:  # noqa: S310
            assert answer.status == 200
            assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            body = answer.read().decode()
        assert "surety_held 1" in body and 'surety_outbox{state="failed"} 1' in body
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"{url}/", timeout=10)  # noqa: S310
        assert missing.value.code == 404
    finally:
        endpoint.close()


def test_the_metrics_keys_are_checked(tmp_path: Path) -> None:
    """A bad port is one line naming the key; an unknown key is refused."""
    base = stack.office_config(tmp_path / "s.sqlite3")
    with pytest.raises(config.ConfigError, match=r"^metrics\.port:"):
        config.parse(base + "\n[metrics]\nport = -1\n")
    with pytest.raises(config.ConfigError, match=r"metrics\.file"):
        config.parse(base + '\n[metrics]\nfile = "x"\n')
    assert config.parse(base).metrics == config.Metrics(textfile="", port=0)  # off


# --- the log's formats ------------------------------------------------------------------


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


SECRET = "Kp4Wz8Qr"


def _logged(monkeypatch: pytest.MonkeyPatch, out: io.StringIO) -> str:
    """One event logged as the daemon configures the log, with ``out`` as stdout; the
    configuration before is restored (other tests read the log as it was)."""
    before = structlog.get_config()
    monkeypatch.setattr("sys.stdout", out)
    try:
        log.configure()
        log.register_secret(SECRET)
        structlog.get_logger("test").info("poll.done", folder="INBOX", routed=1,
                                          error=f"LOGIN {SECRET} refused", password="hunter22",
                                          subject="請求書\x1b]0;pwned\x07\x1b[2J\u202e")
    finally:
        structlog.configure(**before)
    return out.getvalue()


def test_on_a_terminal_each_event_is_one_readable_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """Time, level, event, then key=value; the secrets masked as in JSON; a stranger's
    controls (an ESC sequence in a subject would retitle or clear the operator's
    terminal) shown escaped, never as themselves."""
    line = _logged(monkeypatch, _Terminal())
    assert line.count("\n") == 1 and not line.startswith("{")
    # The event padded to 24 columns, so that the fields of one event after another line
    # up for an operator reading them.
    assert "[info     ] poll.done" + " " * (24 - len("poll.done")) + " error=" in line
    assert "folder='INBOX'" in line and "routed=1" in line
    assert "error='LOGIN [REDACTED] refused'" in line and "password='[REDACTED]'" in line
    assert SECRET not in line and "hunter22" not in line
    assert "\x1b" not in line and "\x07" not in line  # no colour codes, no raw controls
    assert "請求書\\x1b]0;pwned\\x07\\x1b[2J" in line


@pytest.mark.parametrize(("stderr_tty", "stdout_tty", "readable"), [
    (True, False, True), (False, True, False)])
def test_a_command_logging_on_stderr_asks_stderr_whether_it_is_a_terminal(
        monkeypatch: pytest.MonkeyPatch, stderr_tty: bool, stdout_tty: bool,
        readable: bool) -> None:
    """A command whose output is on stdout (status, classify) logs on stderr: readable
    lines when stderr is a terminal, whatever stdout is (piped to a file or to jq); JSON
    when stderr is redirected, even with stdout on a terminal."""
    err = _Terminal() if stderr_tty else io.StringIO()
    out = _Terminal() if stdout_tty else io.StringIO()
    before = structlog.get_config()
    monkeypatch.setattr("sys.stderr", err)
    monkeypatch.setattr("sys.stdout", out)
    try:
        log.configure(stderr=True)
        structlog.get_logger("test").info("poll.done", folder="INBOX")
    finally:
        structlog.configure(**before)
    assert out.getvalue() == ""
    line = err.getvalue()
    assert line.count("\n") == 1
    if readable:
        assert "[info     ] poll.done" in line and "folder='INBOX'" in line
    else:
        assert json.loads(line)["event"] == "poll.done"


def test_otherwise_json(monkeypatch: pytest.MonkeyPatch) -> None:
    """Redirected to a file or journald: one JSON object, masked the same."""
    event = json.loads(_logged(monkeypatch, io.StringIO()))
    assert (event["event"], event["folder"], event["routed"]) == ("poll.done", "INBOX", 1)
    assert event["error"] == "LOGIN [REDACTED] refused" and event["password"] == "[REDACTED]"


def test_a_port_already_taken_is_logged_and_the_daemon_goes_on(
        tmp_path: Path, settings: config.Settings) -> None:
    """metrics.failed (kind port), and no endpoint: the intake goes on without it."""
    import socket  # noqa: PLC0415
    from types import SimpleNamespace  # noqa: PLC0415

    from daemon import cli  # noqa: PLC0415

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        metered = settings.model_copy(update={"metrics": config.Metrics(port=port)})
        with capture_logs() as logs:
            endpoint = cli._metrics(metered, SimpleNamespace(), serve=True)  # type: ignore[arg-type]
    assert endpoint is None
    [failed] = [e for e in logs if e["event"] == "metrics.failed"]
    assert (failed["kind"], failed["address"]) == ("port", f"127.0.0.1:{port}")
