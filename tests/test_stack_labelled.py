"""The labelled set (tests/labelled) through the real mail stack: every set of an office
delivered in order within a minute (or appended with its old arrival time), one
``run --once``, then, for every row of tests/labelled/expected.tsv, the folder its
original ended in and the mails sent about it (to staff, to the contractor, to review)
with their X-Surety-Problems.

Sets of different senders do not interfere, so all of an office's sets go in one run:
office A first, then (the stack emptied) office B, whose staff addresses are outside the
stack's domain and reach the capture server. Every mismatch of an office is listed in
one failure.
"""

from __future__ import annotations

import email.utils
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import labelled
import pytest
import stack
from conftest import Office
from labelled import table
from labelled.office import OFFICES, office_toml
from labelled.table import Row

pytestmark = pytest.mark.stack

FOLDERS = {"routed": "Surety/Routed", "correction": "Surety/Correction",
           "review": "Surety/Review", "ignored": "Surety/Ignored", "held": "Surety/Held"}
_SEVERITY = ("review", "correction", "routed")


@dataclass(frozen=True)
class Sent:
    """A mail the daemon sent, as it arrived: to whom, and its X-Surety headers."""

    to: tuple[str, ...]
    sources: tuple[str, ...]
    verdict: str
    kind: str
    gtype: str
    problems: tuple[str, ...]


def _message_id(raw: bytes) -> str:
    parsed = email.message_from_bytes(raw)
    return " ".join(str(parsed["Message-ID"]).split())


def _sender(raw: bytes) -> str:
    return email.utils.parseaddr(str(email.message_from_bytes(raw)["From"]))[1]


def _deliver(rows: list[Row], messages: dict[str, bytes], now: datetime) -> None:
    """Deliver the rows' messages order by order (each order after the previous one has
    arrived); those with an ``arrived`` offset appended with that old arrival time."""
    for order in sorted({r.order for r in rows}):
        for row in (r for r in rows if r.order == order):
            raw = messages[row.id]
            if row.arrived is None:
                stack.deliver(raw, sender=_sender(raw))
            else:
                stack.append(raw, arrived=now - row.arrived)
        stack.wait_for_queue()


def _filed() -> dict[str, str]:
    """Message-ID -> the folder of the contract mailbox it is in (the daemon's own copies
    of what it sent left out)."""
    where: dict[str, str] = {}
    for folder in ("INBOX", *FOLDERS.values(), "Surety/Quarantine"):
        for got in stack.mailbox(stack.INTAKE, folder):
            if got.header("X-Surety-Source"):
                continue
            where[got.header("Message-ID")] = folder
    return where


def _sent(key: str) -> list[Sent]:
    """Every mail the daemon sent for this office: the staff mailboxes on the stack, and
    what the capture server got (replies to contractors; office B's staff)."""
    office = OFFICES[key]
    found = []
    local = {a for a in (office.contract, office.advance, office.review)
             if a.endswith("@" + stack.DOMAIN)}
    for user in sorted(local):
        found += [_as_sent((user,), got) for got in stack.mailbox(user)]
    found += [_as_sent(got.envelope_to, got) for got in stack.captured()]
    return found


def _as_sent(to: Iterable[str], got: stack.Received) -> Sent:
    return Sent(tuple(a.lower() for a in to), tuple(got.header("X-Surety-Source").split()),
                got.header("X-Surety-Verdict"), got.header("X-Surety-Kind"),
                got.header("X-Surety-Guarantee-Type"), tuple(got.problems))


def _each_mail(row: Row, about: list[Sent], key: str, senders: set[str]) -> list[str]:
    """Each mail's kind and addressee: routed to the staff of its guarantee type, review
    to review, a correction to the set's sender."""
    office = OFFICES[key]
    wrong = []
    for m in about:
        if m.kind not in row.kinds:
            wrong.append(f"X-Surety-Kind {m.kind}, expected {'+'.join(row.kinds)}")
        if m.verdict == "routed" and m.to != (office.staff_for(m.gtype),):
            wrong.append(f"routed {m.gtype} mail to {m.to}")
        if m.verdict == "review" and m.to != (office.review,):
            wrong.append(f"review mail to {m.to}")
        if m.verdict == "correction" and not set(m.to) <= senders:
            wrong.append(f"correction to {m.to}, not the set's sender")
    return wrong


def _outcome(row: Row, about: list[Sent]) -> list[str]:
    """The most serious verdict of the mails, their codes, the routed guarantee types."""
    wrong = []
    verdict = min((m.verdict for m in about),
                  key=lambda v: _SEVERITY.index(v) if v in _SEVERITY else -1)
    codes = tuple(sorted({c for m in about for c in m.problems}))
    if (verdict, codes) != (row.run_verdict, row.run_codes):
        wrong.append(f"mails say {verdict} {','.join(codes) or '-'}, expected "
                     f"{row.run_verdict} {','.join(row.run_codes) or '-'}")
    if row.run_verdict == "routed":
        gtypes = {m.gtype for m in about if m.verdict == "routed"}
        if gtypes != set(row.gtypes):
            wrong.append(f"routed as {sorted(gtypes)}, expected {list(row.gtypes)}")
    return wrong


def _check_row(row: Row, ids: dict[str, str], folder: str | None, mails: list[Sent],
               senders: set[str], key: str) -> list[str]:
    """What is wrong with one row's outcome (empty: as expected)."""
    mid = ids[row.id]
    wrong = []
    expected_folder = FOLDERS[row.run_verdict]
    if folder != expected_folder:
        wrong.append(f"filed in {folder}, expected {expected_folder}")
    # A pair is one submission (or more): every mail citing either message is the pair's.
    partner = ids[row.pair] if row.pair else None
    about = [m for m in mails if mid in m.sources or (partner and partner in m.sources)]
    if row.run_verdict in ("held", "ignored"):
        if about:
            wrong.append(f"mails sent: {[(m.verdict, m.problems) for m in about]}")
        return wrong
    if not about:
        return [*wrong, "no mail sent about it"]
    wrong += _outcome(row, about) + _each_mail(row, about, key, senders)
    if partner and not any({mid, partner} <= set(m.sources) for m in about):
        wrong.append(f"not decided together with {row.pair}")
    if not partner and any(len(m.sources) > 1 for m in about):
        wrong.append(f"decided together with {[m.sources for m in about]}")
    return wrong


@pytest.mark.parametrize("key", ["A", "B"])
def test_every_set_through_the_stack(key: str, office: Office, tmp_path: Path) -> None:
    """Each message of the office's sets ends in its row's folder, with the mails its
    run_verdict and run_codes say (routed to the staff of its guarantee type, corrections
    to the sender, review to review); nothing else gets a correction."""
    now = datetime.now(UTC).replace(microsecond=0)
    rows = [r for r in table.load() if r.office == key]
    messages = labelled.build(now)
    state = tmp_path / f"state-{key}.sqlite3"
    config = tmp_path / f"office-{key}.toml"
    config.write_text(office_toml(key, now=now, state_path=state), encoding="utf-8")
    runner = Office(config, state)
    _deliver(rows, messages, now)

    run = runner.run("run", "--once")
    assert run.returncode == 0, run.stderr

    ids = {r.id: _message_id(messages[r.id]) for r in rows}
    by_set: dict[str, set[str]] = {}
    for row in rows:
        by_set.setdefault(row.set, set()).add(_sender(messages[row.id]).lower())
    filed = _filed()
    mails = _sent(key)
    failures = []
    for row in rows:
        wrong = _check_row(row, ids, filed.get(ids[row.id]), mails, by_set[row.set], key)
        failures += [f"{row.id}: {w}   # {row.note}" for w in wrong]

    # Only rows that expect a correction get one: never a complete submission, never a
    # mail that is no submission.
    correction_rows = {ids[r.id] for r in rows if r.run_verdict == "correction"}
    for m in mails:
        if m.verdict == "correction" and not set(m.sources) <= correction_rows:
            names = [i for i, mid in ids.items() if mid in m.sources]
            failures.append(f"{'+'.join(names) or m.sources}: a correction went to a row "
                            f"that expects none ({','.join(m.problems)})")
    known = set(ids.values())
    strays = [m.sources for m in mails if not set(m.sources) & known]
    assert strays == [], f"mails about no row: {strays}"
    assert not failures, f"{len(failures)} mismatches at office {key}:\n" + "\n".join(failures)
