"""A state file written with the real Store, as the daemon leaves it after some work:
for the tests of ``status`` and the metrics (tests/test_status.py, tests/test_metrics.py).

``NOW`` is 2026-12-02 10:00 in Japan (01:00 UTC). In it:

- a dsure-key message routed, arrived 00:30 JST today (15:30 UTC the day before: the
  office's day, not UTC's), its forward pending;
- a confirmation-system message sent a correction, arrived 00:10 JST on the 1st (this
  month, not today), its reply retrying, a forward awaiting its copy, one failed;
- a message held (a Message-ID and sender with a bidi override and a line break), until
  2026-12-03 09:30 JST;
- a message quarantined (its error quotes a 認証キー);
- an other/review message from November (23:59 JST on the 30th: neither today nor this
  month);
- two polls: one ok at 09:58 JST, then one failed at 09:59 JST.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from daemon.model import Decision, Fields, Kind, Outcome, Verdict
from daemon.store import PollOutcome, Store

NOW = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)
HELD_UNTIL = datetime(2026, 12, 3, 0, 30, tzinfo=UTC)  # 09:30 JST
RETRY_AT = datetime(2026, 12, 2, 1, 5, tzinfo=UTC)  # 10:05 JST
SECRET = "Zq7Xk9Pw"  # a 認証キー quoted by an error
HOSTILE_ID = "<held\u202e@evil\nx>"
HOSTILE_SENDER = "a\u202eb@contractor.example.co.jp"
STAFF = "keiyaku-hosho@city.example.jp"
CONTRACTOR = "sekkei@kensetsu.example.co.jp"


def _outcome(verdict: Verdict, kind: Kind) -> Outcome:
    return Outcome(verdict, kind, None, (), (), Fields())


def _message(store: Store, uid: int, message_id: str, received_at: datetime,
             sender: str = CONTRACTOR) -> int:
    return store.messages.seen(folder="INBOX", uidvalidity=1, uid=uid, message_id=message_id,
                               content_hash=f"h{uid}", received_at=received_at,
                               sender=sender).id


def _decided(store: Store, message: int, verdict: Verdict, kind: Kind,
             planned: list[tuple[str, str, tuple[str, ...]]]) -> None:
    decision = Decision(verdict, (_outcome(verdict, kind),))
    store.record_decision(message, decision, NOW - timedelta(minutes=30), planned)
    store.messages.mark_done(message)


def build(path: Path) -> Store:
    """The state file described above, open (the caller closes it)."""
    store = Store(path)
    routed = _message(store, 1, "<routed@x>", datetime(2026, 12, 1, 15, 30, tzinfo=UTC))
    _decided(store, routed, Verdict.ROUTED, Kind.DSURE_KEY,
             [("forward", "<fwd1@city>", (STAFF,))])
    corrected = _message(store, 2, "<corrected@x>", datetime(2026, 11, 30, 15, 10, tzinfo=UTC))
    _decided(store, corrected, Verdict.CORRECTION, Kind.CONFIRMATION_SYSTEM,
             [("reply", "<reply2@city>", (CONTRACTOR,)),
              ("forward", "<fwd2@city>", (STAFF,)),
              ("forward-2", "<gone2@city>", ("nobody@closed.example.co.jp",))])
    store.outgoing.mark_sending("<reply2@city>")
    store.outgoing.defer("<reply2@city>", "451 4.3.0 try later", RETRY_AT)
    store.outgoing.mark_sending("<fwd2@city>")
    store.outgoing.await_copy("<fwd2@city>", NOW + timedelta(minutes=3))
    store.outgoing.mark_sending("<gone2@city>")
    store.outgoing.mark_undeliverable("<gone2@city>", "550 5.1.1 no such user")
    held = _message(store, 3, HOSTILE_ID, NOW - timedelta(minutes=30), HOSTILE_SENDER)
    store.messages.hold(held, "password", HELD_UNTIL)
    broken = _message(store, 4, "<broken@x>", NOW - timedelta(minutes=20))
    for _ in range(3):
        store.messages.begin_attempt(broken)
        store.messages.end_attempt(broken, f"SandboxError: 認証キー {SECRET} broke the reader")
    store.messages.quarantine(broken)
    old = _message(store, 5, "<november@x>", datetime(2026, 11, 30, 14, 59, tzinfo=UTC))
    _decided(store, old, Verdict.REVIEW, Kind.OTHER, [])
    store.polls.record(NOW - timedelta(minutes=2, seconds=5), NOW - timedelta(minutes=2),
                       PollOutcome.OK, {"routed": 1, "held": 1})
    store.polls.record(NOW - timedelta(minutes=1, seconds=5), NOW - timedelta(minutes=1),
                       PollOutcome.FAILED, {}, "MailboxError: IMAP connection lost")
    return store
