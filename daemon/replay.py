"""``replay``: one message decided again with the current config, beside its recorded
decision. Pure: which messages may be replayed, where to look for the original, the two
decisions compared and shown, and the replay's mails (their own Message-IDs, naming the
mails they replace), with the 再判定 notices owed to staff whose earlier mail a changed
verdict voids. The command around it is :mod:`daemon.replayer`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage

from daemon import display
from daemon.compose import Outgoing, Redecision, outgoing_id, redecided_notice
from daemon.config import Settings
from daemon.decide import History
from daemon.model import Action, Decision, EarlierSubmission, Mail, Outcome, Verdict, action_of
from daemon.problems import Code

# What is compared, in the order shown.
FIELDS = ("kind", "verdict", "guarantee_type", "problems", "route_to", "reason")
_LABELS = {"guarantee_type": "guarantee", "route_to": "route_to"}


def message_id(text: str) -> str:
    """A Message-ID as recorded (in angle brackets), typed with or without them."""
    bare = text.strip().removeprefix("<").removesuffix(">").strip()
    return f"<{bare}>"


@dataclass(frozen=True)
class Summary:
    """What a decision says, as the state file records it and ``replay`` compares it."""

    kind: str
    verdict: str
    guarantee_type: str | None
    problems: tuple[str, ...]
    route_to: tuple[str, ...]
    reason: str

    @classmethod
    def of(cls, decision: Decision) -> Summary:
        """A decision's summary."""
        return cls(decision.kind.value, decision.verdict.value,
                   decision.guarantee_type.value if decision.guarantee_type else None,
                   tuple(decision.problems), tuple(decision.route_to), decision.reason)

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Summary:
        """A summary from its JSON (as the state file keeps it)."""
        problems = data.get("problems") or []
        route_to = data.get("route_to") or []
        assert isinstance(problems, list)
        assert isinstance(route_to, list)
        guarantee = data.get("guarantee_type")
        return cls(str(data.get("kind") or ""), str(data.get("verdict") or ""),
                   str(guarantee) if guarantee else None, tuple(map(str, problems)),
                   tuple(map(str, route_to)), str(data.get("reason") or ""))

    def to_json(self) -> dict[str, object]:
        """The summary as JSON."""
        return {"kind": self.kind, "verdict": self.verdict,
                "guarantee_type": self.guarantee_type, "problems": list(self.problems),
                "route_to": list(self.route_to), "reason": self.reason}

    def shown(self, name: str) -> str:
        """One field as ``replay`` prints it ("-" for none), made safe to show."""
        value = getattr(self, name)
        if isinstance(value, tuple):
            value = ", ".join(value)
        return display.for_staff(str(value or ""), escape_breaks=True) or "-"


def changes(old: Summary, new: Summary) -> tuple[str, ...]:
    """The fields in which the two decisions differ (none: no change)."""
    return tuple(name for name in FIELDS if getattr(old, name) != getattr(new, name))


def refusal(state: str, verdict: str | None, *, paired: bool) -> str | None:
    """Why a recorded message cannot be replayed (None: it can). A held message waits for
    its follow-up and a paired one was decided with another mail: deciding either alone
    would not be what ``run`` does; a quarantined one failed the pipeline; one still being
    processed (its mails not all sent) is the daemon's to finish."""
    if paired:
        return ("it was decided together with another mail (a held message and its "
                "follow-up): replaying one of them alone would split the submission")
    if state == "held" or verdict == Verdict.HELD.value:
        return "it is held, waiting for its follow-up: the daemon decides it when that comes"
    if verdict == Code.QUARANTINED.value:
        return "it is in quarantine (the pipeline failed on it): staff handle it by hand"
    if state != "done":
        return "the daemon has not finished with it yet (run the daemon, then replay)"
    if not verdict:
        return "it is the daemon's copy of a mail it sent, not a submission"
    return None


def search_folders(settings: Settings, verdict: str) -> list[str]:
    """Where to look for the original: its verdict's folder first, then the intake and
    held folders and the other verdict folders (a person may have moved it)."""
    folders = settings.imap.folders
    first = folders.for_verdict(Verdict(verdict)) if verdict in tuple(Verdict) else None
    order = [first, settings.imap.folder, folders.held, folders.routed, folders.correction,
             folders.review, folders.ignored]
    return list(dict.fromkeys(f for f in order if f))


def render(shown_id: str, folder: str, old: Summary, new: Summary) -> list[str]:
    """The two decisions side by side, and what changed ("no change" when nothing)."""
    names = [_LABELS.get(n, n) for n in FIELDS]
    left = max(len("before (state file)"), *(len(old.shown(n)) for n in FIELDS))
    label = max(map(len, names))
    lines = [f"message {display.for_staff(shown_id, escape_breaks=True)}",
             f"found in {display.for_staff(folder, escape_breaks=True)}", "",
             f"  {'':{label}}  {'before (state file)':{left}}  now (current config)"]
    changed = changes(old, new)
    for name, shown in zip(FIELDS, names, strict=True):
        mark = "  *" if name in changed else ""
        lines.append(f"  {shown:{label}}  {old.shown(name):{left}}  {new.shown(name)}{mark}")
    lines.append("")
    lines.append(f"changed: {', '.join(changed)}" if changed else "no change")
    return lines


def replay_id(sources: Sequence[str], number: int, action: str, sender: str) -> str:
    """The Message-ID of a replay's mail: from the source message(s), the replay's number
    and the action, so the same replay gives the same ID and none is the original's."""
    return outgoing_id([*sources, f"replay-{number}"], action, sender)


def as_replay(mails: Sequence[Outgoing], sources: Sequence[str], number: int,
              replaces: Sequence[str], sender: str) -> list[Outgoing]:
    """The mails of a replayed decision: each with its replay Message-ID and
    ``X-Surety-Replaces`` naming the earlier mails it replaces (beside the earlier
    submission a routed one may replace already)."""
    out = []
    for mail in mails:
        msg: EmailMessage = mail.message
        earlier = msg.get("X-Surety-Replaces")
        named = list(dict.fromkeys([*replaces, *([str(earlier)] if earlier else [])]))
        del msg["Message-ID"], msg["X-Surety-Replaces"]
        msg["Message-ID"] = replay_id(sources, number, mail.action, sender)
        if named:
            msg["X-Surety-Replaces"] = display.for_staff(" ".join(named))
        out.append(Outgoing(mail.action, mail.recipients, msg, originals=mail.originals))
    return out


def staff_notices(decision: Decision, mail: Mail, settings: Settings, at: datetime, *,
                  earlier: Redecision, sent: Sequence[Outgoing], number: int
                  ) -> list[Outgoing]:
    """The 再判定 notices of a replay that changed the decision: each staff address an
    earlier staff mail went to is told once, threaded under that mail, unless one of the
    replay's own staff mails (``sent``) goes to it (so a replay that changed only where a
    routed submission goes tells the section that no longer has it)."""
    told = {a.lower() for out in sent if action_of(out.action) is Action.FORWARD
            for a in out.recipients}
    groups: list[tuple[str, tuple[str, ...]]] = []
    for out_id, recipients in earlier.earlier_staff:
        left = tuple(a for a in dict.fromkeys(recipients) if a.lower() not in told)
        told |= {a.lower() for a in left}
        if left:
            groups.append((out_id, left))
    notices = []
    for index, (out_id, left) in enumerate(groups):
        action = (f"{Action.REDECIDED}-{index + 1}" if len(groups) > 1
                  else str(Action.REDECIDED))
        notices.append(redecided_notice(
            decision, mail, settings, at, earlier_verdict=earlier.earlier_verdict,
            earlier_id=out_id, recipients=left, sent=list(sent), action=action,
            message_id=replay_id(decision.sources, number, action, settings.smtp.sender)))
    return notices


class AsOf:
    """The history as a replay asks it: earlier submissions as of the message's first
    decision (a submission sent after it is not one it replaces); the reply cap as of
    now (a reply sent now counts now)."""

    def __init__(self, history: History, decided_at: datetime) -> None:
        self._history = history
        self._decided_at = decided_at

    def replies_between(self, address: str | None, start: datetime, end: datetime, *,
                        exclude_sources: tuple[str, ...]) -> int:
        """As the state file answers it."""
        return self._history.replies_between(address, start, end,
                                             exclude_sources=exclude_sources)

    def password_mail_since(self, sender: str, since: datetime) -> bool:
        """As the state file answers it."""
        return self._history.password_mail_since(sender, since)

    def earlier_submissions(self, outcome: Outcome, *, sender: str, source: str,
                            before: datetime) -> Sequence[EarlierSubmission]:
        """Those decided before the message was first decided."""
        return self._history.earlier_submissions(
            outcome, sender=sender, source=source, before=min(before, self._decided_at))
