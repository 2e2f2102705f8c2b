"""The loop's decisions about one message, kept pure so they are tested without a server.

The loop (:mod:`daemon.service`) asks these questions and acts on the answers; none of
them touches the network or the disk (what they need from the state file comes in through
:class:`ReplyHistory`):

- is this mail the daemon's own copy of something it sent? (:func:`is_own_copy`)
- has this message failed often enough to be set aside? (:func:`quarantine_due`)
- may this correction still go, or has its address had enough replies? (:func:`limit_replies`)
- which values must never appear in the log? (:func:`secrets_of`)
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from daemon.classify import password_candidates
from daemon.config import Settings
from daemon.model import Decision, Mail, Verdict, overall

REPLY_WINDOW = timedelta(hours=24)
HOUR = timedelta(hours=1)


def is_own_copy(mail: Mail, settings: Settings) -> bool:
    """The daemon's own copy of a mail it sent (it comes back through smtp.copy_to): from
    the daemon's sender address and naming its source message. A contractor's mail that
    quotes the daemon's headers, or the daemon's address without them, is not one."""
    return mail.from_addr == settings.smtp.sender.lower() and bool(
        mail.header("X-Surety-Source"))


def quarantine_due(failed_attempts: int, settings: Settings) -> bool:
    """A message that made the pipeline fail ``limits.max_attempts`` times is set aside."""
    return failed_attempts >= settings.limits.max_attempts


class ReplyHistory(Protocol):
    """What the reply cap needs to know of earlier replies (the state file answers)."""

    def replies_between(self, address: str | None, start: datetime, end: datetime, *,
                        exclude_sources: tuple[str, ...]) -> int:
        """Replies to ``address`` (None: to anybody) queued in [start, end), for other
        messages than these (by Message-ID)."""
        ...  # pragma: no cover


@dataclass(frozen=True)
class Capped:
    """A decision after the reply cap, and the addresses whose cap it reached."""

    decision: Decision
    limited: tuple[str, ...] = ()


def limit_replies(decision: Decision, history: ReplyHistory, *, sources: tuple[str, ...],
                  decided_at: datetime, settings: Settings) -> Capped:
    """At most replies.per_sender_per_day replies to one address in 24 hours, and
    replies.per_hour replies in all in an hour: a correction beyond either goes to review
    instead (an auto-responder loop, or a sender cycling addresses, must not make the
    office flood anybody)."""
    limit = settings.replies.per_sender_per_day
    counted: Counter[str] = Counter()
    outcomes = []
    limited: list[str] = []
    hour: int | None = None  # replies to anybody in the last hour, asked once
    for outcome in decision.outcomes:
        if outcome.verdict is not Verdict.CORRECTION:
            outcomes.append(outcome)
            continue
        to = outcome.route_to[0]
        sent = history.replies_between(to, decided_at - REPLY_WINDOW, decided_at,
                                       exclude_sources=sources)
        if hour is None:
            hour = history.replies_between(None, decided_at - HOUR, decided_at,
                                           exclude_sources=sources)
        if sent + counted[to] >= limit or hour + counted.total() >= settings.replies.per_hour:
            limited.append(to)
            outcomes.append(replace(outcome, verdict=Verdict.REVIEW,
                                    route_to=tuple(settings.routing.review),
                                    problems=(*outcome.problems, "reply-limit-reached")))
        else:
            counted[to] += 1
            outcomes.append(outcome)
    if not decision.outcomes:
        return Capped(decision)
    verdict = overall([o.verdict for o in outcomes])
    return Capped(replace(decision, outcomes=tuple(outcomes), verdict=verdict), tuple(limited))


def secrets_of(mail: Mail, decision: Decision) -> list[str]:
    """Every secret value this message carries: the 認証キー and 閲覧用パスワード of each of
    its submissions, and everything that may be a password it gives for an attached
    document (labelled, in the subject or the body, or alone on a line)."""
    found: list[str] = []
    for outcome in decision.outcomes:
        found += [v for v in (outcome.fields.auth_key, outcome.fields.view_password) if v]
    found += password_candidates(mail)
    return list(dict.fromkeys(found))
