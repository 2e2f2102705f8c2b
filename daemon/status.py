"""What ``surety-intake status`` shows: the state file's account of the daemon's work
(the last poll and the last good one, held messages, the outbox, the quarantine, today's
and this month's messages by kind and verdict), beside how many messages wait in the
intake folder (asked of the IMAP server). :func:`snapshot` reads, :func:`to_json` gives
the stable JSON (every stranger's value made safe to show), :func:`render` the text.
Times are shown in Japan time; days and months are the office's (JST)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from daemon import display
from daemon.store import Poll, PollOutcome, Store
from daemon.store.report import OUTBOX_STATES, HeldRow, OutboxRow, QuarantinedRow

JST = ZoneInfo("Asia/Tokyo")
Counts = dict[str, dict[str, int]]


@dataclass(frozen=True)
class Waiting:
    """The intake folder as the IMAP server counts it (``error``: it could not be asked)."""

    folder: str
    messages: int | None = None
    unseen: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class Snapshot:
    """What the state file says now."""

    now: datetime
    last_poll: Poll | None
    last_good_poll: Poll | None
    polls: dict[str, int]
    held: list[HeldRow]
    outbox_counts: dict[str, int]
    outbox: dict[str, list[OutboxRow]]
    quarantined_count: int
    quarantined: list[QuarantinedRow]
    today: Counts
    month: Counts


def day_and_month(now: datetime) -> tuple[datetime, datetime, datetime, datetime]:
    """The office's day and month around ``now``: (day start, day end, month start,
    month end), in Japan time."""
    local = now.astimezone(JST)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    month = day.replace(day=1)
    next_month = (month + timedelta(days=32)).replace(day=1)
    return day, day + timedelta(days=1), month, next_month


def snapshot(store: Store, now: datetime) -> Snapshot:
    """Everything ``status`` shows from the state file, as of ``now``."""
    report = store.report
    day, day_end, month, month_end = day_and_month(now)
    return Snapshot(
        now=now,
        last_poll=store.polls.last(),
        last_good_poll=store.polls.last(PollOutcome.OK),
        polls=store.polls.totals(),
        held=report.held(),
        outbox_counts=report.outbox_counts(),
        outbox={name: report.outbox(name) for name in OUTBOX_STATES},
        quarantined_count=report.quarantined_count(),
        quarantined=report.quarantined(),
        today=report.counts(day, day_end),
        month=report.counts(month, month_end),
    )


# --- JSON -----------------------------------------------------------------------------


def _safe(text: str | None) -> str:
    """A stranger's text as an operator may see it: one line, controls escaped, any value
    after a key or password label masked."""
    return display.masked(display.for_staff(text or ""))


def _time(moment: datetime | None) -> str | None:
    return moment.astimezone(JST).isoformat() if moment is not None else None


def _poll(poll: Poll | None) -> dict[str, object] | None:
    if poll is None:
        return None
    return {"started_at": _time(poll.started_at), "finished_at": _time(poll.finished_at),
            "outcome": poll.outcome.value, "counts": dict(poll.counts),
            "error": _safe(poll.error) if poll.error else None}


def _error_kind(error: str) -> str:
    """The kind of an error (its exception's name), not its text, which may quote the
    message it failed on."""
    return _safe(error.split(":", 1)[0])[:80]


def _mail(row: OutboxRow) -> dict[str, object]:
    return {"source": _safe(row.source), "action": row.action,
            "recipients": [_safe(r) for r in row.recipients], "attempts": row.attempts,
            "next_attempt_at": _time(row.next_attempt_at),
            "confirm_after": _time(row.confirm_after), "error": _safe(row.error)[:300]}


def _counts(counts: Counts) -> dict[str, object]:
    return {"total": sum(n for verdicts in counts.values() for n in verdicts.values()),
            "by_kind": {kind: dict(verdicts) for kind, verdicts in counts.items()}}


def to_json(snap: Snapshot, waiting: Waiting, *, mode: str, state_file: str
            ) -> dict[str, object]:
    """The object ``status --json`` prints (its keys are documented in the README)."""
    day, _, month, _ = day_and_month(snap.now)
    return {
        "mode": mode,
        "state_file": state_file,
        "now": _time(snap.now),
        "last_poll": _poll(snap.last_poll),
        "last_good_poll": _poll(snap.last_good_poll),
        "polls": dict(snap.polls),
        "intake": {"folder": waiting.folder, "messages": waiting.messages,
                   "unseen": waiting.unseen, "error": waiting.error},
        "held": [{"message_id": _safe(h.message_id), "sender": _safe(h.sender),
                  "reason": _safe(h.reason), "held_until": _time(h.held_until),
                  "received_at": _time(h.received_at)} for h in snap.held],
        "outbox": {name: {"count": snap.outbox_counts[name],
                          "mails": [_mail(m) for m in snap.outbox[name]]}
                   for name in OUTBOX_STATES},
        "quarantine": {"count": snap.quarantined_count,
                       "messages": [{"message_id": _safe(q.message_id),
                                     "sender": _safe(q.sender),
                                     "quarantined_at": _time(q.quarantined_at),
                                     "attempts": q.attempts, "error": _error_kind(q.error)}
                                    for q in snap.quarantined]},
        "today": {"date": day.date().isoformat(), **_counts(snap.today)},
        "month": {"month": month.strftime("%Y-%m"), **_counts(snap.month)},
    }


# --- text -----------------------------------------------------------------------------


def _shown(iso: object) -> str:
    """A time of the JSON as a person reads it: 2026-12-02 10:31 JST."""
    if not isinstance(iso, str):
        return "-"
    return datetime.fromisoformat(iso).astimezone(JST).strftime("%Y-%m-%d %H:%M JST")


def _poll_line(poll: object) -> str:
    if not isinstance(poll, dict):
        return "none yet"
    counts = ", ".join(f"{k} {n}" for k, n in sorted(poll["counts"].items())) or "nothing new"
    line = f"{_shown(poll['finished_at'])}, {poll['outcome']}: {counts}"
    return f"{line} ({poll['error']})" if poll.get("error") else line


def _intake_lines(intake: dict[str, object]) -> list[str]:
    folder = intake["folder"]
    if intake["error"]:
        return [f"Intake folder {folder}: the IMAP server could not be asked"
                f" ({intake['error']})"]
    return [f"Intake folder {folder}: {intake['messages']} messages waiting"
            f" ({intake['unseen']} unseen)"]


def _held_lines(held: list[dict[str, object]]) -> list[str]:
    lines = [f"Held: {len(held)}"]
    lines += [f"  {h['message_id']} from {h['sender'] or '-'}: {h['reason'] or '-'},"
              f" held until {_shown(h['held_until'])}" for h in held]
    return lines


def _outbox_lines(outbox: dict[str, dict[str, object]]) -> list[str]:
    names = {"pending": "pending", "retrying": "retrying", "awaiting_copy": "awaiting copy",
             "failed": "failed"}
    lines = ["Outbox: " + ", ".join(f"{outbox[k]['count']} {v}" for k, v in names.items())]
    for key, name in names.items():
        for mail in outbox[key]["mails"]:  # type: ignore[attr-defined]
            when = ""
            if key == "retrying":
                when = f", next attempt {_shown(mail['next_attempt_at'])}"
            elif key == "awaiting_copy" and mail["confirm_after"]:
                when = f", copy awaited until {_shown(mail['confirm_after'])}"
            error = f" ({mail['error']})" if mail["error"] else ""
            lines.append(f"  {name}: {mail['action']} to {', '.join(mail['recipients'])}"
                         f" about {mail['source']}{when}{error}")
    return lines


def _quarantine_lines(quarantine: dict[str, object]) -> list[str]:
    lines = [f"Quarantine: {quarantine['count']}"]
    lines += [f"  {q['message_id']} from {q['sender'] or '-'}: quarantined"
              f" {_shown(q['quarantined_at'])} after {q['attempts']} failed attempts"
              f" ({q['error'] or 'error'})"
              for q in quarantine["messages"]]  # type: ignore[attr-defined]
    return lines


def _count_lines(title: str, counts: dict[str, object]) -> list[str]:
    lines = [f"{title}: {counts['total']} messages"]
    for kind, verdicts in counts["by_kind"].items():  # type: ignore[attr-defined]
        shown = ", ".join(f"{verdict} {n}" for verdict, n in verdicts.items())
        lines.append(f"  {kind}: {shown}")
    return lines


def render(status: dict[str, object]) -> str:
    """The text ``status`` prints: the JSON's values, for a person."""
    mode = " (trial mode)" if status["mode"] == "trial" else ""
    today: dict[str, object] = status["today"]  # type: ignore[assignment]
    month: dict[str, object] = status["month"]  # type: ignore[assignment]
    lines = [
        f"surety-intake status{mode}, {_shown(status['now'])}; state file {status['state_file']}",
        f"Last poll: {_poll_line(status['last_poll'])}",
        f"Last good poll: {_poll_line(status['last_good_poll'])}",
        *_intake_lines(status["intake"]),  # type: ignore[arg-type]
        *_held_lines(status["held"]),  # type: ignore[arg-type]
        *_outbox_lines(status["outbox"]),  # type: ignore[arg-type]
        *_quarantine_lines(status["quarantine"]),  # type: ignore[arg-type]
        *_count_lines(f"Today ({today['date']})", today),
        *_count_lines(f"This month ({month['month']})", month),
    ]
    return "\n".join(lines) + "\n"
