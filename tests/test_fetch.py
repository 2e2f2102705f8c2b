"""Mailbox.fetch_new against a scripted IMAP client: every new message once, oldest first,
the daemon's own copies by their headers only, and the bodies of large messages fetched
a few at a time (the real server: tests/test_stack*.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from daemon import mailbox
from daemon.config import Settings
from daemon.mailbox import Mailbox

ARRIVED = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
MB = 1 << 20


class ScriptedClient:
    """The intake folder: UID -> message; each FETCH noted."""

    def __init__(self, messages: dict[int, bytes]) -> None:
        self.messages = messages
        self.fetches: list[tuple[list[int], list[str]]] = []
        self._imap = SimpleNamespace(untagged_responses={})

    def search(self, criteria: list[str]) -> list[int]:
        return list(self.messages)

    def fetch(self, uids: list[int], items: list[str]) -> dict[int, dict[bytes, Any]]:
        self.fetches.append((list(uids), list(items)))
        out: dict[int, dict[bytes, Any]] = {}
        for uid in uids:
            raw = self.messages.get(uid)
            if raw is None:
                continue
            item: dict[bytes, Any] = {}
            for name in items:
                if name == "RFC822.SIZE":
                    item[b"RFC822.SIZE"] = len(raw)
                elif name.startswith("BODY.PEEK[HEADER.FIELDS"):
                    item[b"BODY[HEADER.FIELDS (FROM)]"] = raw.split(b"\r\n\r\n")[0]
                elif name == "BODY.PEEK[]":
                    item[b"BODY[]"] = raw
                elif name == "INTERNALDATE":
                    item[b"INTERNALDATE"] = ARRIVED
            out[uid] = item
        return out


def _message(sender: str, size: int) -> bytes:
    return f"From: {sender}\r\nSubject: test\r\n\r\n".encode() + b"x" * size


def _mailbox(settings: Settings, client: ScriptedClient) -> Mailbox:
    box = Mailbox(settings.imap, "unused")
    box._client = client  # type: ignore[assignment]
    return box


def _own(head: bytes) -> bool:
    return b"daemon@" in head


def test_large_messages_are_fetched_a_few_at_a_time_in_order(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mailbox, "FETCH_BYTES", 10 * MB)
    messages = {1: _message("a@x.jp", 1 * MB), 2: _message("b@x.jp", 8 * MB),
                3: _message("daemon@city.jp", 100), 4: _message("c@x.jp", 30 * MB),
                5: _message("d@x.jp", 2 * MB), 6: _message("e@x.jp", 3 * MB)}
    client = ScriptedClient(messages)
    fetched = list(_mailbox(settings, client).fetch_new(
        lambda uids: {6} & set(uids), headers=("From",), body_unwanted=_own))
    assert [(f.uid, f.whole) for f in fetched] == [
        (1, True), (2, True), (3, False), (4, True), (5, True)]
    assert [f.raw for f in fetched if f.whole] == [messages[uid] for uid in (1, 2, 4, 5)]
    assert fetched[2].raw == messages[3].split(b"\r\n\r\n")[0]
    assert all(f.internaldate == ARRIVED for f in fetched if f.whole)
    bodies = [uids for uids, items in client.fetches if "BODY.PEEK[]" in items]
    assert bodies == [[1, 2], [4], [5]]  # at most 10 MB a fetch, a larger message alone


def test_a_message_expunged_meanwhile_is_left_out(settings: Settings) -> None:
    client = ScriptedClient({1: _message("a@x.jp", 10), 2: _message("b@x.jp", 10)})
    real = client.fetch

    def fetch(uids: list[int], items: list[str]) -> dict[int, dict[bytes, Any]]:
        if "BODY.PEEK[]" in items:
            client.messages.pop(1, None)  # gone between the sizes and the bodies
        return real(uids, items)

    client.fetch = fetch  # type: ignore[method-assign]
    assert [f.uid for f in _mailbox(settings, client).fetch_new(lambda uids: set())] == [2]


def test_what_the_server_said_in_passing_is_not_kept(settings: Settings) -> None:
    """imaplib keeps every untagged response until the next SELECT; the ones each filed
    message brings are dropped with each batch."""
    client = ScriptedClient({1: _message("a@x.jp", 10)})
    client._imap.untagged_responses = {"EXPUNGE": [b"1"] * 1000, "RECENT": [b"0"] * 1000,
                                       "COPYUID": [b"1 2 3"] * 1000,
                                       "CAPABILITY": [b"IMAP4rev1 MOVE"]}
    assert len(list(_mailbox(settings, client).fetch_new(lambda uids: set()))) == 1
    assert client._imap.untagged_responses == {"CAPABILITY": [b"IMAP4rev1 MOVE"]}


def test_a_message_is_found_by_its_whole_message_id() -> None:
    """IMAP SEARCH HEADER matches a substring; what find takes is compared whole: a mail
    whose Message-ID header only contains the one asked for is not it (else a replay or
    a pairing would act on a stranger's mail), and an encoded one is compared decoded."""
    from daemon.mailbox import _message_ids_of  # noqa: PLC0415

    assert "<a@b>" in _message_ids_of(b"Message-ID: <a@b>\r\nSubject: x\r\n\r\nbody")
    assert "<a@b>" in _message_ids_of(b"Message-ID:\r\n  <a@b>\r\n\r\n")  # folded
    assert "<a@b>" not in _message_ids_of(b"Message-ID: <a@b> <victim@x>\r\n\r\n")
    assert "<a@b>" not in _message_ids_of(b"Message-ID: <xa@b>\r\n\r\n")
    assert "<a\u3042@b>" in _message_ids_of(b"Message-ID: =?utf-8?b?PGHjgYJAYj4=?=\r\n\r\n")
    assert _message_ids_of(b"Subject: none\r\n\r\n") == set()
