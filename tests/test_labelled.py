"""The labelled set (tests/labelled): each message alone through ``classify``, and the set's
own promises (deterministic, dated from ``now``, one sender per set, the two offices
configured differently).

``classify`` decides a message alone, right after it arrived: what waits for a follow-up
is ``held`` (with the reason the spec names), everything else gets its verdict and
problem codes. The whole sets through the daemon: tests/test_stack_labelled.py.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import inspect
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import labelled
import pytest
from labelled import table
from labelled.office import JST, office_toml
from labelled.table import Row

from daemon import config
from daemon.cli import classify_file
from daemon.config import Settings

NOW = datetime.now(UTC).replace(microsecond=0)
ROWS = table.load()


@pytest.fixture(scope="module")
def messages() -> dict[str, bytes]:
    """Every message of the set, built once for the module."""
    return labelled.build(NOW)


@pytest.fixture(scope="module")
def offices(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Settings]:
    """The two offices' settings."""
    folder = tmp_path_factory.mktemp("offices")
    return {key: config.parse(office_toml(key, now=NOW, state_path=folder / f"{key}.sqlite3"))
            for key in ("A", "B")}


def _header(raw: bytes, name: str) -> str:
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    return str(parsed[name] or "")


def _classify_on_arrival(settings: Settings, path: Path, raw: bytes) -> dict[str, Any]:
    """classify as of a minute after the message arrived (its Date: no Received header),
    where the command takes the moment; else as it is (a classify that ignores the time
    treats every wait as running)."""
    command: Any = classify_file
    if "now" not in inspect.signature(command).parameters:
        return dict(command(settings, path))
    arrival = email.utils.parsedate_to_datetime(_header(raw, "Date"))
    return dict(command(settings, path, now=arrival + timedelta(minutes=1)))


def _observed(result: dict[str, Any], held_reason: bool) -> tuple[str, list[str]]:
    verdict = str(result["verdict"])
    if verdict == "held":
        return verdict, [str(result["reason"])] if held_reason else []
    return verdict, sorted({str(c) for c in result["problems"]})


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_each_message_alone(row: Row, messages: dict[str, bytes], offices: dict[str, Settings],
                            tmp_path: Path) -> None:
    """classify on the message alone gives the row's alone_verdict and alone_codes (for a
    held message, the reason where the spec names one), and a decided submission the
    row's kind."""
    path = tmp_path / f"{row.id}.eml"
    path.write_bytes(messages[row.id])
    result = _classify_on_arrival(offices[row.office], path, messages[row.id])
    named_reason = row.alone_verdict == "held" and bool(row.alone_codes)
    expected = (row.alone_verdict, list(row.alone_codes))
    assert _observed(result, named_reason) == expected, f"{row.id}: {row.note}"
    if row.alone_verdict in ("routed", "correction", "review"):
        kinds = {str(s["kind"]) for s in result["submissions"]} or {str(result["kind"])}
        assert kinds <= set(row.kinds), f"{row.id}: kinds {kinds}, expected {row.kinds}"


def test_the_table_names_every_message_once(messages: dict[str, bytes]) -> None:
    """One row per message, and every message has a row; sets are numbered 1..n."""
    ids = [r.id for r in ROWS]
    assert len(ids) == len(set(ids))
    assert sorted(ids) == sorted(messages)
    orders: dict[str, list[int]] = {}
    for row in ROWS:
        orders.setdefault(row.set, []).append(row.order)
    assert all(o == list(range(1, len(o) + 1)) for o in orders.values())


def test_the_set_is_large_and_covers_every_point() -> None:
    """At least 150 messages; several rows for each point of the issue, at both offices."""
    assert len(ROWS) >= 150
    points = Counter(r.point for r in ROWS)
    assert all(points[str(p)] >= 5 for p in range(1, 8)), points
    assert points["plain"] >= 30
    assert {r.office for r in ROWS} == {"A", "B"}
    verdicts = Counter(r.run_verdict for r in ROWS)
    assert all(verdicts[v] >= 5 for v in table.VERDICTS), verdicts


def test_pairs_name_each_other() -> None:
    """A pair is two rows of the same set, each naming the other, with the same outcome."""
    by_id = {r.id: r for r in ROWS}
    for row in ROWS:
        if not row.pair:
            continue
        other = by_id[row.pair]
        assert other.set == row.set and other.pair == row.id, row.id
        assert (other.run_verdict, other.run_codes, other.kinds, other.gtypes) == (
            row.run_verdict, row.run_codes, row.kinds, row.gtypes), row.id


def test_same_moment_same_bytes(messages: dict[str, bytes]) -> None:
    """build(now) twice gives byte-identical messages; another moment, other Date headers."""
    assert labelled.build(NOW) == messages
    later = labelled.build(NOW + timedelta(minutes=1))
    assert all(later[k] != v for k, v in messages.items())


def test_dates_are_minutes_before_now(messages: dict[str, bytes]) -> None:
    """Every Date header is before ``now``: by the row's ``arrived`` offset where it has
    one, else by a few minutes."""
    for row in ROWS:
        sent = email.utils.parsedate_to_datetime(_header(messages[row.id], "Date"))
        age = NOW - sent
        if row.arrived is None:
            assert timedelta(0) < age <= timedelta(minutes=15), row.id
        else:
            assert abs(age - row.arrived) <= timedelta(minutes=5), row.id


def test_message_ids_are_unique(messages: dict[str, bytes]) -> None:
    """No two messages share a Message-ID (the daemon would take one for a copy)."""
    ids = Counter(_header(raw, "Message-ID") for raw in messages.values())
    assert [i for i, n in ids.items() if n > 1 or not i] == []


def test_each_set_has_its_own_sender_domain(messages: dict[str, bytes]) -> None:
    """Sets never share a sender's domain, so one set's follow-up cannot pair with
    another's held message in a run."""
    owner: dict[str, str] = {}
    for row in ROWS:
        address = email.utils.parseaddr(_header(messages[row.id], "From"))[1]
        domain = address.rpartition("@")[2].lower()
        assert owner.setdefault(domain, row.set) == row.set, f"{domain}: {owner[domain]}, {row.set}"


def test_the_offices_differ(offices: dict[str, Settings]) -> None:
    """The two offices differ in routing, routes, insurers, the legacy basis and cut-off
    (one ahead of now, one past, both counted in the office's days), and the waits."""
    a, b = offices["A"], offices["B"]
    today = NOW.astimezone(JST).date()
    assert set(a.routing.contract_guarantee).isdisjoint(b.routing.contract_guarantee)
    assert set(a.routing.review).isdisjoint(b.routing.review)
    assert set(a.policy.accept) != set(b.policy.accept)
    assert {i.name for i in a.insurers} != {i.name for i in b.insurers}
    assert (a.policy.legacy_pdf_basis, b.policy.legacy_pdf_basis) == ("received", "issued")
    assert a.policy.legacy_pdf_until and a.policy.legacy_pdf_until > today + timedelta(days=60)
    assert b.policy.legacy_pdf_until and b.policy.legacy_pdf_until < today
    assert a.policy.password_wait_hours != b.policy.password_wait_hours
    waits = [getattr(o.policy, "rest_wait_minutes", None) for o in (a, b)]
    assert None not in waits and waits[0] != waits[1]
