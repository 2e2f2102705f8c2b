"""The daily summary (日次集計): which day is due, and the mail that reports it.

Pure: the figures of a day (gathered by :class:`daemon.store.summaries.Summaries`), the
settings and the time in, the subject, the text and the mail out. A summary reports one
calendar day in Japan time, 0:00 to 24:00 (the day before it is sent): the messages that
arrived on the server that day (IMAP INTERNALDATE) by kind, guarantee type and verdict,
those that went to review or quarantine, and the mails that could not be delivered;
and what is held at the time it is made, with the end of each wait. Every stranger's
value (a Message-ID, an address, an error) is shown through :mod:`daemon.display`: one
line, controls escaped, a value typed beside a key or password label masked, cut short.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from zoneinfo import ZoneInfo

from daemon import display
from daemon.compose import (
    GUARANTEE_LABELS,
    TEXT_TEMPLATES,
    Outgoing,
    outgoing_id,
    to_header,
)
from daemon.config import Settings
from daemon.model import Action, GuaranteeType, HeldReason, Kind, Verdict
from daemon.problems import Code

JST = ZoneInfo("Asia/Tokyo")
LIST_CAP = 20  # entries shown per list; the rest as 他N件
VALUE_CHARS = 120  # a stranger's value shown at most this long
ACTION = "summary"  # the action in its Message-ID

KINDS = (  # (value in the state file, label); None: not known (yet)
    (Kind.DSURE_KEY.value, "D-Sure 認証キー等のお知らせ"),
    (Kind.CONFIRMATION_SYSTEM.value, "保証証券等確認システム"),
    (Kind.LEGACY_PDF.value, "PDF発行証券"),
    (Kind.OTHER.value, "その他（提出ではない・判別できない）"),
    (None, "種別未確定（保留中、2通目として一緒に処理、処理エラーなど）"),
)
TYPES = (*((t.value, GUARANTEE_LABELS[t]) for t in GuaranteeType), (None, "種類不明"))
QUARANTINED = Code.QUARANTINED.value
VERDICTS = (
    (Verdict.ROUTED.value, "担当課へ回付"),
    (Verdict.CORRECTION.value, "修正依頼を返信"),
    (Verdict.REVIEW.value, "要確認（職員による確認）"),
    (Verdict.IGNORED.value, "対応不要（自動応答など）"),
    (Verdict.HELD.value, "保留中（続きのメール待ち）"),
    (QUARANTINED, "処理エラー（隔離）"),
    (None, "処理中"),
)
WAITING_FOR = {
    HeldReason.PASSWORD.value: "添付ファイルのパスワード",
    HeldReason.REST.value: "提出の残りの部分",
    HeldReason.DOCUMENT.value: "パスワードで開く添付ファイル",
}
ACTIONS = {
    Action.FORWARD.value: "担当課・確認担当への転送",
    Action.REPLY.value: "差出人への修正依頼",
    Action.RECEIPT.value: "差出人への受領確認",
    Action.UNDELIVERABLE.value: "送信できなかった旨の職員への通知",
    Action.QUARANTINE.value: "処理エラーの職員への通知",
    Action.REDECIDED.value: "再判定の職員への通知",
}



@dataclass(frozen=True)
class Listed:
    """A message named in a list of the summary, as the state file has it."""

    message_id: str
    sender: str
    received_at: datetime | None
    reason: str = ""  # problem codes, what it waits for, or the error
    until: datetime | None = None  # a held message: the end of its wait


@dataclass(frozen=True)
class Undelivered:
    """A mail the server refused for good."""

    action: str
    recipients: tuple[str, ...]
    error: str
    source: str  # the Message-ID of the message it was about


@dataclass(frozen=True)
class Figures:
    """What one day's summary reports: counts of the messages that arrived that day (by
    the state file's values: a kind, guarantee type or verdict, or None), and the lists."""

    day: date
    made_at: datetime
    kinds: Counter[str | None] = field(default_factory=Counter)
    types: Counter[str | None] = field(default_factory=Counter)
    verdicts: Counter[str | None] = field(default_factory=Counter)
    held: tuple[Listed, ...] = ()  # held when the summary is made, whenever they came
    review: tuple[Listed, ...] = ()
    quarantine: tuple[Listed, ...] = ()
    undelivered: tuple[Undelivered, ...] = ()

    @property
    def received(self) -> int:
        """Messages that arrived that day."""
        return sum(self.verdicts.values())


def period(day: date) -> tuple[datetime, datetime]:
    """The day in Japan time, [0:00, 24:00), as two aware datetimes."""
    start = datetime.combine(day, time(0), tzinfo=JST)
    return start, datetime.combine(day + timedelta(days=1), time(0), tzinfo=JST)


def yesterday(now: datetime) -> date:
    """The day before ``now``'s day in Japan time: the day a summary made now reports."""
    return now.astimezone(JST).date() - timedelta(days=1)


def due(now: datetime, at: time) -> date | None:
    """The day whose summary is due at ``now`` (sent at ``at`` Japan time on the day
    after it): yesterday once ``at`` has passed today, else none."""
    local = now.astimezone(JST)
    return yesterday(now) if local.time().replace(tzinfo=None) >= at else None


def day_label(day: date) -> str:
    """2026年12月1日."""
    return f"{day.year}年{day.month}月{day.day}日"


def time_label(when: datetime | None) -> str:
    """2026年12月1日 10時05分 (Japan time)."""
    if when is None:
        return "不明"
    local = when.astimezone(JST)
    return f"{day_label(local.date())} {local.hour}時{local.minute:02d}分"


def subject(day: date) -> str:
    """The summary's Subject: 【電子保証 日次集計】2026年12月1日."""
    return f"【電子保証 日次集計】{day_label(day)}"


def shown(value: str | None) -> str:
    """A stranger's value on one line, escaped, labelled secrets masked, cut short."""
    text = display.masked(display.for_staff(value, escape_breaks=True))
    return text if len(text) <= VALUE_CHARS else f"{text[:VALUE_CHARS]}…"


def _counts(counter: Counter[str | None], labels: tuple[tuple[str | None, str], ...]
            ) -> list[tuple[str, int]]:
    """Each label with its count; the "not known" row (None) only when there are some."""
    return [(label, counter.get(key, 0)) for key, label in labels
            if key is not None or counter.get(key, 0)]


def _capped(items: tuple[Listed, ...]) -> tuple[list[dict[str, str]], int]:
    """The first LIST_CAP entries as the template shows them, and how many more."""
    rows = [{"received": time_label(item.received_at), "sender": shown(item.sender),
             "message_id": shown(item.message_id), "reason": shown(item.reason),
             "until": time_label(item.until)} for item in items[:LIST_CAP]]
    return rows, max(len(items) - LIST_CAP, 0)


def body(figures: Figures, settings: Settings) -> str:
    """The summary's text."""
    start, end = period(figures.day)
    held, held_more = _capped(tuple(
        Listed(i.message_id, i.sender, i.received_at, WAITING_FOR.get(i.reason, i.reason),
               i.until) for i in figures.held))
    review, review_more = _capped(figures.review)
    quarantine, quarantine_more = _capped(figures.quarantine)
    undelivered = [{"action": ACTIONS.get(u.action.split("-", 1)[0], shown(u.action)),
                    "source": shown(u.source), "error": shown(u.error),
                    "recipients": ", ".join(shown(r) for r in u.recipients)}
                   for u in figures.undelivered[:LIST_CAP]]
    return TEXT_TEMPLATES.get_template("summary.txt.j2").render(
        office=display.for_staff(settings.office.name), day=day_label(figures.day),
        start=time_label(start), end=time_label(end), made=time_label(figures.made_at),
        received=figures.received, kinds=_counts(figures.kinds, KINDS),
        types=_counts(figures.types, TYPES), verdicts=_counts(figures.verdicts, VERDICTS),
        held=held, held_count=len(figures.held), held_more=held_more,
        review=review, review_count=len(figures.review), review_more=review_more,
        quarantine=quarantine, quarantine_count=len(figures.quarantine),
        quarantine_more=quarantine_more, quarantine_folder=settings.imap.folders.quarantine,
        undelivered=undelivered, undelivered_count=len(figures.undelivered),
        undelivered_more=max(len(figures.undelivered) - LIST_CAP, 0),
    )


def message_id(day: date, settings: Settings) -> str:
    """The summary's Message-ID: one per day and office sender, the same each time."""
    return outgoing_id([f"summary:{day.isoformat()}"], ACTION, settings.smtp.sender)


def mail(figures: Figures, settings: Settings) -> Outgoing:
    """The summary as a mail to ``summary.to``, from ``smtp.sender``."""
    msg = EmailMessage()
    msg["From"] = Address(settings.smtp.sender_name, addr_spec=settings.smtp.sender)
    msg["To"] = to_header(settings.summary.to)
    msg["Subject"] = subject(figures.day)
    msg["Date"] = format_datetime(figures.made_at.astimezone(JST))
    msg["Message-ID"] = message_id(figures.day, settings)
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: never answered automatically
    msg["X-Surety-Summary"] = figures.day.isoformat()
    msg.set_content(body(figures, settings))
    return Outgoing(ACTION, tuple(settings.summary.to), msg)
