"""The daily summary (日次集計): the figures read from a real state file (the loop run on
an in-memory mailbox and SMTP server, tests/fakes.py), the text that names each count,
held messages with the end of their wait, capped lists, no secret, the day in Japan time,
and sending it once a day (the guard in the state file, a restart, a failure)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
import stack
from conftest import known_secrets
from fakes import FakeMailbox, FakeOutbox
from samples import mails
from structlog.testing import capture_logs

from daemon import config, summary
from daemon.cli import main
from daemon.compose import copy_address
from daemon.config import ConfigError, Settings
from daemon.daily import DailySummary, Outcome
from daemon.model import Decision, Verdict
from daemon.outbox import SendError
from daemon.service import Intake
from daemon.store import Store, SummaryState

JST = summary.JST
ARRIVED = mails.DEFAULT_DATE + timedelta(minutes=5)  # 2026-04-06 09:35 JST
DAY = ARRIVED.date()
SUMMARY_TO = "kacho@city.example.jp"


def _plain(subject: str, body: str, *, message_id: str, sender: str,
           headers: dict[str, str] | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = stack.INTAKE
    msg["Subject"] = subject
    msg["Date"] = "Mon, 06 Apr 2026 09:00:00 +0900"
    msg["Message-ID"] = message_id
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    return bytes(msg)


@dataclass
class Office:
    settings: Settings
    store: Store
    box: FakeMailbox
    outbox: FakeOutbox
    intake: Intake


@pytest.fixture
def office(settings: Settings) -> Iterator[Office]:
    settings = settings.model_copy(update={"summary": config.Summary(to=[SUMMARY_TO])})
    store = Store(settings.state.path)
    box = FakeMailbox(settings.imap.folder, ARRIVED)
    outbox = FakeOutbox(box, copy_address(settings))
    intake = Intake(settings, store, connect=lambda: box, outbox=outbox, clock=lambda: ARRIVED)
    yield Office(settings, store, box, outbox, intake)
    intake.close()
    store.close()


def _a_day(office: Office) -> None:
    """One day's mail: two complete key notices (the first one's forward refused for
    good), a confirmation form, a key notice without its 認証キー (held for the rest), a
    question (review, its Message-ID carrying a typed key), an out-of-office reply; one
    complete notice a minute before the day began (Japan time), one at its first second."""
    office.outbox.failures.append(SendError("SMTP 550: 5.1.1 no such user", permanent=True))
    office.box.deliver(mails.dsure_key_mail())
    office.box.deliver(mails.dsure_key_mail(contract_number="2604012399"))
    office.box.deliver(mails.confirmation_mail())
    office.box.deliver(mails.dsure_key_mail(in_body=True, omit=("auth_key",), charset="utf-8",
                                            contract_number="2604077777"))
    office.box.deliver(_plain("電子保証について", "提出方法を教えてください。",
                              message_id="<q.PW=Zq81Wm55Pk@contractor.example.co.jp>",
                              sender="q@contractor.example.co.jp"))
    office.box.deliver(_plain("不在のお知らせ", "不在にしております。",
                              message_id="<oof@contractor.example.co.jp>",
                              sender="oof@contractor.example.co.jp",
                              headers={"Auto-Submitted": "auto-replied"}))
    before = datetime.combine(DAY, time(0), tzinfo=JST) - timedelta(minutes=1)
    office.box.deliver(mails.dsure_key_mail(contract_number="2604055555"), arrived=before)
    office.box.deliver(mails.dsure_key_mail(contract_number="2604066666"),
                       arrived=datetime.combine(DAY, time(0), tzinfo=JST))
    office.intake.run_once()


def test_the_figures_of_a_day_count_what_arrived_that_day_in_japan_time(
        office: Office) -> None:
    """Counts by kind, guarantee type and verdict of the messages that arrived between
    0:00 and 24:00 Japan time; one that arrived a minute earlier counts on the day before."""
    _a_day(office)
    figures = office.store.summaries.figures(DAY, ARRIVED)
    assert figures.received == 7
    assert figures.verdicts == {"routed": 4, "held": 1, "review": 1, "ignored": 1}
    assert figures.kinds == {"dsure-key": 3, "confirmation-system": 1, "other": 2, None: 1}
    assert figures.types["contract"] == 4
    [held] = figures.held
    assert held.until == ARRIVED + timedelta(minutes=60)
    assert [r.message_id for r in figures.review] == [
        "<q.PW=Zq81Wm55Pk@contractor.example.co.jp>"]
    [refused] = figures.undelivered
    assert refused.recipients == (stack.CONTRACT_STAFF,)
    before = office.store.summaries.figures(DAY - timedelta(days=1), ARRIVED)
    assert (before.received, before.verdicts) == (1, {"routed": 1})
    assert office.store.summaries.figures(DAY + timedelta(days=1), ARRIVED).received == 0


def test_the_text_names_each_count_the_held_with_their_deadline_and_no_secret(
        office: Office) -> None:
    """The mail staff read: the period in Japan time, every count, the held message with
    the end of its wait, the review and the refused mail named, and none of the
    messages' keys or passwords (the typed key in a Message-ID masked)."""
    _a_day(office)
    mail = summary.mail(office.store.summaries.figures(DAY, ARRIVED), office.settings)
    text = mail.message.get_content()
    assert mail.message["Subject"] == "【電子保証 日次集計】2026年4月6日"
    assert mail.recipients == (SUMMARY_TO,)
    assert mail.message["From"].addresses[0].addr_spec == stack.SENDER
    assert "対象期間: 2026年4月6日 0時00分 から 2026年4月7日 0時00分 まで（日本時間" in text
    for line in ("受信したメール: 7件", "D-Sure 認証キー等のお知らせ: 3件",
                 "保証証券等確認システム: 1件", "PDF発行証券: 0件",
                 "その他（提出ではない・判別できない）: 2件", "種別未確定", "契約保証: 4件",
                 "前払金保証: 0件", "担当課へ回付: 4件", "修正依頼を返信: 0件",
                 "要確認（職員による確認）: 1件", "対応不要（自動応答など）: 1件",
                 "保留中（続きのメール待ち）: 1件", "処理エラー（隔離）: 0件",
                 "現在保留中のメール: 1件", "要確認となったメール: 1件",
                 "送信できなかったメール: 1件"):
        assert line in text, line
    assert "待っているもの: 提出の残りの部分　期限: 2026年4月6日 10時35分" in text
    assert f"宛先 {stack.CONTRACT_STAFF}（担当課・確認担当への転送）" in text
    assert "種類不明" not in text  # the question and the auto-reply are no guarantees
    assert "SMTP 550: 5.1.1 no such user" in text
    assert "q@contractor.example.co.jp" in text
    assert "Zq81Wm55Pk" not in text and "<q.PW=Zq" in text
    leaked = [s for s in known_secrets() if s in text or s in str(mail.message["Subject"])]
    assert leaked == []


def _review_rows(store: Store, count: int, *, received: datetime) -> None:
    for n in range(count):
        row = store.messages.seen(folder="INBOX", uidvalidity=1, uid=n + 1,
                                  message_id=f"<q{n}@x.example.jp>", content_hash=str(n),
                                  received_at=received, sender=f"s{n}@x.example.jp")
        store.record_decision(row.id, Decision(Verdict.REVIEW, (), "not-a-submission",
                                               (f"<q{n}@x.example.jp>",)), received, [])


def test_the_lists_are_capped_with_the_rest_counted(settings: Settings) -> None:
    """Twenty-five reviews: twenty named, 他5件 for the rest; the count says 25."""
    store = Store(settings.state.path)
    _review_rows(store, 25, received=ARRIVED)
    text = summary.body(store.summaries.figures(DAY, ARRIVED), settings)
    store.close()
    assert "要確認となったメール: 25件" in text
    assert text.count("理由: not-a-submission") == summary.LIST_CAP == 20
    assert "<q19@x.example.jp>" in text and "<q20@x.example.jp>" not in text
    assert "  他5件" in text


def test_a_value_from_a_stranger_is_shown_on_one_line_escaped_and_cut_short(
        settings: Settings) -> None:
    """A sender with a line break and a bidi override, a Message-ID of 500 characters."""
    store = Store(settings.state.path)
    row = store.messages.seen(folder="INBOX", uidvalidity=1, uid=1,
                              message_id="<" + "m" * 500 + "@x>", content_hash="h",
                              received_at=ARRIVED, sender="evil\r\nBcc: x@y\u202e@x.example.jp")
    store.record_decision(row.id, Decision(Verdict.REVIEW, (), "not-a-submission"), ARRIVED, [])
    text = summary.body(store.summaries.figures(DAY, ARRIVED), settings)
    store.close()
    assert "\nbcc: x@y" not in text
    assert "evil\\x0d\\x0abcc: x@y\\u202e@x.example.jp" in text
    assert "<" + "m" * (summary.VALUE_CHARS - 1) + "…" in text
    assert "m" * summary.VALUE_CHARS not in text


def test_the_due_day_and_the_period_are_in_japan_time() -> None:
    """Sent on the day after the day it reports, once ``at`` (Japan time) has passed;
    15:00 UTC is already the next day in Japan."""
    at = time(8, 30)
    assert summary.due(datetime(2026, 4, 6, 23, 29, tzinfo=UTC), at) is None  # 08:29 JST
    assert summary.due(datetime(2026, 4, 6, 23, 30, tzinfo=UTC), at) == date(2026, 4, 6)
    assert summary.due(datetime(2026, 4, 6, 14, 59, tzinfo=UTC), at) == date(2026, 4, 5)
    assert summary.yesterday(datetime(2026, 4, 6, 15, 0, tzinfo=UTC)) == date(2026, 4, 6)
    start, end = summary.period(date(2026, 4, 6))
    assert (start.astimezone(UTC), end.astimezone(UTC)) == (
        datetime(2026, 4, 5, 15, tzinfo=UTC), datetime(2026, 4, 6, 15, tzinfo=UTC))


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _daily(office: Office, clock: Clock) -> DailySummary:
    return DailySummary(office.settings, lambda: Store(office.settings.state.path),
                        office.outbox, clock)


def _summaries(office: Office) -> list[str]:
    return [str(m["Subject"]) for m in office.outbox.to(SUMMARY_TO)]


def test_the_summary_is_sent_once_a_day_even_across_restarts(office: Office) -> None:
    """Before ``at`` nothing; after it, the day before's summary once, also from a new
    daemon (a restart's catch-up); the next day, the next day's."""
    _a_day(office)
    clock = Clock(datetime.combine(DAY + timedelta(days=1), time(8, 29), tzinfo=JST))
    with capture_logs() as logs:
        assert _daily(office, clock).run_due() is None
        assert _summaries(office) == []
        clock.now += timedelta(minutes=1)
        assert _daily(office, clock).run_due() is None
        assert _daily(office, clock).run_due() is None  # a restart: not again
        clock.now += timedelta(hours=5)
        assert _daily(office, clock).run_due() is None
    assert _summaries(office) == ["【電子保証 日次集計】2026年4月6日"]
    sent = [e for e in logs if e["event"] == "summary.sent"]
    assert sent == [{"event": "summary.sent", "log_level": "info", "day": "2026-04-06",
                     "recipients": 1, "out_message_id": summary.message_id(DAY, office.settings)}]
    assert office.store.summaries.state(DAY) is SummaryState.SENT
    clock.now += timedelta(days=1)
    _daily(office, clock).run_due()
    assert _summaries(office) == ["【電子保証 日次集計】2026年4月6日",
                                  "【電子保証 日次集計】2026年4月7日"]


def test_a_failure_is_tried_again_and_a_cut_off_hand_over_is_never_repeated(
        office: Office) -> None:
    """No connection: failed, tried again after the retry pause, then sent. A hand-over
    cut off before the answer may have been taken: not sent again, said in the log."""
    clock = Clock(datetime.combine(DAY + timedelta(days=1), time(9, 0), tzinfo=JST))
    daily = _daily(office, clock)
    office.outbox.failures.append(SendError("SMTP failed: connection refused", permanent=False))
    with capture_logs() as logs:
        retry = daily.run_due()
    assert retry == clock.now + timedelta(seconds=office.settings.smtp.retry_first_seconds)
    assert [e["event"] for e in logs] == ["summary.failed"]
    assert office.store.summaries.state(DAY) is SummaryState.FAILED
    assert daily.run_due() is None
    assert len(_summaries(office)) == 1

    clock.now += timedelta(days=1)
    office.outbox.failures.append(SendError("SMTP failed: reset", permanent=False,
                                            uncertain=True))
    with capture_logs() as logs:
        assert daily.run_due() is None
        assert _daily(office, clock).run_due() is None  # a restart: still not again
    assert [(e["event"], e["uncertain"]) for e in logs] == [("summary.failed", True)] * 2
    assert len(_summaries(office)) == 1
    assert office.store.summaries.state(DAY + timedelta(days=1)) is SummaryState.SENDING
    assert daily.send(DAY + timedelta(days=1), again=True) is Outcome.SENT  # summary --send
    assert len(_summaries(office)) == 2


def test_no_summary_without_an_address(office: Office) -> None:
    """summary.to empty (the default): the daily summary is off."""
    settings = office.settings.model_copy(update={"summary": config.Summary()})
    clock = Clock(datetime.combine(DAY + timedelta(days=1), time(9, 0), tzinfo=JST))
    daily = DailySummary(settings, lambda: Store(settings.state.path), office.outbox, clock)
    assert daily.run_due() is None
    assert office.outbox.taken == []


@pytest.mark.parametrize(("lines", "error"), [
    ('at = "8:30"', "summary.at: Value error, not a time of day as HH:MM"),
    ('at = "24:00"', "summary.at: Value error, not a time of day as HH:MM"),
    ('to = "not-an-address"', "summary.to.0: Value error, not an email address"),
    ('cc = "x@y.jp"', "summary.cc: unknown key (misspelt?)"),
])
def test_a_bad_summary_key_is_one_line_naming_it(tmp_path: Path, lines: str,
                                                 error: str) -> None:
    """A malformed time, a bad address or a misspelt key stops the start, naming it."""
    text = stack.office_config(tmp_path / "s.sqlite3") + f"\n[summary]\n{lines}\n"
    with pytest.raises(ConfigError) as err:
        config.parse(text)
    assert str(err.value).startswith(error)


def test_the_summary_keys_accept_one_address_or_a_list(tmp_path: Path) -> None:
    """``to`` takes one address or a list, and is empty (off) by default."""
    base = stack.office_config(tmp_path / "s.sqlite3")
    one = config.parse(base + '\n[summary]\nto = "a@x.jp"\nat = "07:05"\n')
    assert (one.summary.to, one.summary.time_of_day) == (["a@x.jp"], time(7, 5))
    assert config.parse(base + '\n[summary]\nto = ["a@x.jp", "b@x.jp"]\n').summary.to == [
        "a@x.jp", "b@x.jp"]
    assert config.parse(base).summary.to == []


def _config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "office.toml"
    path.write_text(stack.office_config(tmp_path / "state.sqlite3") + extra, encoding="utf-8")
    return path


def test_the_summary_command_prints_a_day(tmp_path: Path, settings: Settings,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """``summary --date`` prints that day's summary; exit 0. No state file: exit 1."""
    path = _config(tmp_path)
    assert main(["--config", str(path), "summary", "--date", "2026-04-06"]) == 1
    assert "no state file" in capsys.readouterr().err
    store = Store(tmp_path / "state.sqlite3")
    _review_rows(store, 2, received=ARRIVED)
    store.close()
    assert main(["--config", str(path), "summary", "--date", "2026-04-06"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("件名: 【電子保証 日次集計】2026年4月6日\n")
    assert "要確認となったメール: 2件" in out
    assert main(["--config", str(path), "summary", "--date", "2026-04-05"]) == 0
    assert "受信したメール: 0件" in capsys.readouterr().out


def test_summary_send_without_an_address_is_a_config_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``summary --send`` with summary.to unset: exit 2, one line naming the key."""
    path = _config(tmp_path)
    assert main(["--config", str(path), "summary", "--send"]) == 2
    assert capsys.readouterr().err == (
        "surety-intake: config error: summary.to: not set (nobody to send the summary to)\n")


def test_the_state_file_records_each_day_once(settings: Settings) -> None:
    """The summaries table: one row per day (the guard), added by a migration."""
    store = Store(settings.state.path)
    assert store.summaries.claim(DAY, "<a@x>")
    assert not store.summaries.claim(DAY, "<a@x>")
    store.summaries.mark_sent(DAY)
    store.close()
    db = sqlite3.connect(settings.state.path)
    assert db.execute("SELECT day, out_message_id, state FROM summaries").fetchall() == [
        ("2026-04-06", "<a@x>", "sent")]
    db.close()


def test_a_summary_still_failing_at_midnight_is_sent_once_the_server_is_back(
        office: Office) -> None:
    """The server down from summary.at until after midnight: the day's summary is tried
    again past midnight (when no day is due yet) and sent, then the next day's at its
    time; neither twice."""
    _a_day(office)
    clock = Clock(datetime.combine(DAY + timedelta(days=1), time(8, 30), tzinfo=JST))
    daily = _daily(office, clock)
    office.outbox.failures.append(SendError("SMTP failed: connection refused", permanent=False))
    assert daily.run_due() is not None  # to be tried again
    clock.now = datetime.combine(DAY + timedelta(days=2), time(0, 5), tzinfo=JST)
    assert daily.run_due() is None
    assert _summaries(office) == ["【電子保証 日次集計】2026年4月6日"]
    clock.now = datetime.combine(DAY + timedelta(days=2), time(8, 30), tzinfo=JST)
    assert daily.run_due() is None
    assert daily.run_due() is None
    assert _summaries(office) == ["【電子保証 日次集計】2026年4月6日",
                                  "【電子保証 日次集計】2026年4月7日"]
