"""Faults and guards through the real stack: reply limits, refused mail, quarantine and its
release, a locked state file, forged senders, oversized mail."""

from __future__ import annotations

import contextlib
import email
import email.policy
import json
import re
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import stack
from conftest import Office, assert_no_secrets
from samples import mails

from daemon.store import Store

pytestmark = pytest.mark.stack

YAMADA = "t-yamada@yamada-kensetsu.example.co.jp"


def _id(raw: bytes) -> str:
    return str(email.message_from_bytes(raw, policy=email.policy.default)["Message-ID"])


def _past() -> datetime:
    """An arrival time past every wait: a typed 保証契約番号 without its 認証キー waits
    policy.rest_wait_minutes for the key; one that arrived longer ago is decided at once."""
    return datetime.now(UTC) - timedelta(hours=2)


def _broken(n: int, sender: str = YAMADA) -> bytes:
    return mails.build(from_=f"山田 太郎 <{sender}>", to=stack.INTAKE,
                       subject=f"【電子保証】契約保証 {n}",
                       body=f"契約保証の認証キーです。\n保証契約番号：26040{n:05d}\n")


@pytest.mark.parametrize("office", ["[replies]\nper_sender_per_day = 2"], indirect=True)
def test_reply_limit_per_sender(office: Office) -> None:
    """At most per_sender_per_day replies to one address; the next goes to review."""
    for n in range(3):
        stack.append(_broken(n), arrived=_past())
    stack.wait_for_queue()
    run = office.run("run", "--once")
    assert run.returncode == 0, run.stderr
    stack.wait_for_queue()
    assert len(stack.captured()) == 2
    [review] = stack.mailbox(stack.REVIEW)
    assert review.problems == ["auth-key-missing", "reply-limit-reached"]
    assert len(run.named("reply.limit_reached")) == 1


def test_refused_reply_is_reported_to_review(office: Office) -> None:
    """A reply the server refuses for good (5xx) is not retried; staff are told, once."""
    raw = _broken(1, sender=f"nobody@{stack.CLOSED_DOMAIN}")  # no such mailbox: 550 at RCPT
    stack.append(raw, arrived=_past())
    run = office.run("run", "--once")
    assert run.returncode == 0, run.stderr
    [event] = run.named("mail.undeliverable")
    assert "550" in event["error"]
    [notice] = stack.mailbox(stack.REVIEW)
    assert notice.header("Subject").startswith("【電子保証 要確認】送信できませんでした")
    assert notice.problems == ["undeliverable"]
    assert notice.header("X-Surety-Source") == _id(raw)
    assert stack.filed_counts()["Surety/Correction"] == 1
    again = office.run("run", "--once")
    assert again.named("mail.sent") == []
    assert len(stack.mailbox(stack.REVIEW)) == 1


def _intake_uid() -> tuple[int, int]:
    client = stack.imap_login(stack.INTAKE)
    try:
        client.select("INBOX")
        uidvalidity = int(client.response("UIDVALIDITY")[1][0])
        _, data = client.uid("SEARCH", "ALL")
        return uidvalidity, int(data[0].split()[0])
    finally:
        client.logout()


def test_quarantine_after_repeated_failures_and_release(office: Office) -> None:
    """A message the daemon died on three times is set aside, staff told once; moved back
    to the inbox by an operator, it is processed normally."""
    raw = mails.dsure_key_mail()
    stack.deliver(raw)
    stack.wait_for_queue()
    uidvalidity, uid = _intake_uid()
    # The state a daemon leaves when it died three times working on this message.
    store = Store(office.state_path)
    row = store.messages.seen(folder="INBOX", uidvalidity=uidvalidity, uid=uid, message_id=_id(raw),
                              content_hash="h", received_at=datetime.now(UTC))
    for _ in range(3):
        store.messages.begin_attempt(row.id)
    store.close()

    run = office.run("run", "--once")
    assert run.returncode == 0, run.stderr
    assert len(run.named("message.quarantined")) == 1
    [notice] = stack.mailbox(stack.REVIEW)
    assert notice.header("Subject").startswith("【電子保証 処理エラー】")
    assert notice.problems == ["quarantined"]
    assert stack.filed_counts()["Surety/Quarantine"] == 1
    assert stack.mailbox(stack.CONTRACT_STAFF) == []
    assert office.run("run", "--once").named("mail.sent") == []
    assert len(stack.mailbox(stack.REVIEW)) == 1

    # Release: the operator moves it back to INBOX (as the README says).
    client = stack.imap_login(stack.INTAKE)
    try:
        client.select('"Surety/Quarantine"')
        _, data = client.uid("SEARCH", "ALL")
        assert client.uid("MOVE", data[0].split()[0].decode(), "INBOX")[0] == "OK"
    finally:
        client.logout()
    released = office.run("run", "--once")
    assert released.returncode == 0, released.stderr
    assert len(stack.mailbox(stack.CONTRACT_STAFF)) == 1


def test_a_held_message_that_keeps_failing_is_quarantined(office: Office) -> None:
    """A held message whose wait is over but whose handling failed three times is set
    aside from Surety/Held like any other, staff told once; the contractor gets nothing."""
    stack.deliver(mails.confirmation_mail(encrypt="zip-crypto"))
    stack.wait_for_queue()
    assert office.run("run", "--once").named("message.held")
    # The wait is over, and a daemon died three times working on it.
    db = sqlite3.connect(office.state_path)
    with db:
        db.execute("UPDATE messages SET held_until='2000-01-01T00:00:00+00:00',"
                   " attempts=3 WHERE state='held'")
    db.close()

    run = office.run("run", "--once")
    assert run.returncode == 0, run.stderr
    assert len(run.named("message.quarantined")) == 1
    assert run.named("message.wait_over") == []
    [notice] = stack.mailbox(stack.REVIEW)
    assert notice.header("Subject").startswith("【電子保証 処理エラー】")
    folders = stack.filed_counts()
    assert (folders["Surety/Quarantine"], folders.get("Surety/Held", 0)) == (1, 0)
    assert stack.captured() == []
    assert stack.mailbox(stack.CONTRACT_STAFF) == []
    again = office.run("run", "--once")
    assert again.named("message.quarantined") == [] and again.named("mail.sent") == []


class _Lines:
    """The JSON log lines of a running daemon, read as they come."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.events: list[dict[str, object]] = []
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.events.append(json.loads(line))

    def wait_for(self, event: str, timeout: float = 60) -> dict[str, object]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for seen in self.events:
                if seen.get("event") == event:
                    return seen
            time.sleep(0.2)
        raise AssertionError(f"no {event} in {[e.get('event') for e in self.events]}")


def test_locked_state_pauses_and_resumes(office: Office) -> None:
    """While the state file is locked the daemon takes no work and says so; once the lock
    is gone, it resumes by itself."""
    text = office.config_path.read_text(encoding="utf-8")
    office.config_path.write_text(text.replace("[state]\n", "[state]\nbusy_timeout_seconds = 1\n"),
                                  encoding="utf-8")
    daemon = office.start()
    lines = _Lines(daemon)
    try:
        lines.wait_for("poll.done")
        holder = sqlite3.connect(office.state_path, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            stack.deliver(mails.dsure_key_mail())
            stack.wait_for_queue()
            event = lines.wait_for("state.unavailable")
            assert "locked" in str(event["error"])
            assert stack.mailbox(stack.CONTRACT_STAFF) == []
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        lines.wait_for("message.routed")
        assert len(stack.mailbox(stack.CONTRACT_STAFF)) == 1
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=15)
    assert daemon.returncode == 0
    assert_no_secrets(json.dumps(lines.events, ensure_ascii=False))


@pytest.mark.parametrize("office", ['[security]\nauthserv_id = "mail.city.example.jp"'],
                         indirect=True)
def test_forged_insurer_domain_goes_to_review(office: Office) -> None:
    """A form from an insurer's domain failing DMARC at the office's server is not routed."""
    raw = mails.confirmation_mail()
    forged = mails.build(
        from_="損保ジャパン 代理店 <agent@sompo-japan.example.jp>", to=stack.INTAKE,
        subject="【電子保証】発注者提出用フォーマット", body="フォーマットを送付します。",
        attachments=[(p.get_filename() or "form.pdf", p.get_content(), p.get_content_type())
                     for p in email.message_from_bytes(raw, policy=email.policy.default)
                     .iter_attachments()],  # type: ignore[attr-defined]
        headers={"Authentication-Results": "mail.city.example.jp; dkim=fail "
                 "header.d=sompo-japan.example.jp; dmarc=fail header.from=sompo-japan.example.jp"},
    )
    stack.deliver(forged)
    stack.wait_for_queue()
    assert office.run("run", "--once").returncode == 0
    [review] = stack.mailbox(stack.REVIEW)
    assert review.problems == ["sender-not-authenticated"]
    assert stack.mailbox(stack.CONTRACT_STAFF) == []


@pytest.mark.parametrize("office", ["[limits]\nattachment_bytes = 50000"], indirect=True)
def test_oversized_attachment_is_not_opened(office: Office) -> None:
    """An attachment over limits.attachment_bytes is not opened: review, too-large."""
    raw = mails.dsure_key_mail()  # its key notice PDF is bigger than 50 kB
    stack.deliver(raw)
    stack.wait_for_queue()
    assert office.run("run", "--once").returncode == 0
    [review] = stack.mailbox(stack.REVIEW)
    assert review.problems == ["too-large"]


def _crashed_while_sending(office: Office, *, really_sent: bool) -> str:
    """The state a daemon leaves when it died while handing a mail to the SMTP server:
    the message decided, its mail marked sending; the server took it or not."""
    from daemon import config  # noqa: PLC0415
    from daemon.compose import compose, copy_address  # noqa: PLC0415
    from daemon.decide import decide  # noqa: PLC0415
    from daemon.outbox import Outbox  # noqa: PLC0415
    from daemon.read import read_message  # noqa: PLC0415

    raw = mails.dsure_key_mail()
    stack.deliver(raw)
    stack.wait_for_queue()
    uidvalidity, uid = _intake_uid()
    settings = config.load(office.config_path)
    mail = read_message(stack.unfiled()[0].message.as_bytes(), datetime.now(UTC))
    decision = decide(mail, settings)
    decided_at = datetime.now(UTC)
    [out] = compose(decision, mail, settings, decided_at)
    store = Store(office.state_path)
    row = store.messages.seen(folder="INBOX", uidvalidity=uidvalidity, uid=uid,
                              message_id=mail.message_id, content_hash="h", received_at=decided_at)
    store.record_decision(row.id, decision, decided_at,
                          [(out.action, out.message_id, out.recipients)])
    store.outgoing.mark_sending(out.message_id)
    store.close()
    if really_sent:  # the server said 250, then the process died before writing it down
        Outbox(settings.smtp, None).send(out.to_bytes(), out.recipients,
                                         copy_to=copy_address(settings))
        stack.wait_for_queue()
    return out.message_id


@pytest.mark.parametrize("really_sent", [True, False])
def test_uncertain_send_after_a_crash_is_checked(office: Office, really_sent: bool) -> None:
    """A mail left 'sending' by a crash is looked for in the mailbox: found, it is not sent
    again; not found, the daemon waits smtp.copy_wait_seconds for it, then sends it. Either
    way staff get it exactly once."""
    out_id = _crashed_while_sending(office, really_sent=really_sent)
    run = office.run("run", "--once")
    assert run.returncode == 0, run.stderr
    if not really_sent:
        # No copy yet: the server is up, so its copy is waited for; nothing is sent yet.
        assert [e["out_message_id"] for e in run.named("mail.awaiting_copy")] == [out_id]
        assert run.named("mail.sent") == []
        assert len(stack.unfiled()) == 1
        time.sleep(3.5)  # copy_wait_seconds = 3
        run = office.run("run", "--once")
        assert run.returncode == 0, run.stderr
        assert [e["out_message_id"] for e in run.named("mail.copy_missing")] == [out_id]
    stack.wait_for_queue()
    [got] = stack.mailbox(stack.CONTRACT_STAFF)
    assert got.header("Message-ID") == out_id
    assert len(run.named("mail.already_sent")) == (1 if really_sent else 0)
    assert len(run.named("mail.sent")) == (0 if really_sent else 1)
    assert stack.unfiled() == []


class CutBeforeAnswer:
    """Relays SMTP to the stack's Postfix and, the first time, cuts the connection when
    Postfix answers the end of the data: the server took the mail, the daemon never hears
    so. That first mail goes to the hold listener (taken, not yet delivered), as when a
    server goes down right after taking a mail; later connections go to port 25."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.queue_id = ""
        self.cut = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _ = self.listener.accept()
                threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        first = not self.cut.is_set()
        upstream = socket.create_connection(("127.0.0.1", 2527 if first else 25))

        def to_server() -> None:
            with contextlib.suppress(OSError):
                while data := client.recv(65536):
                    upstream.sendall(data)
            with contextlib.suppress(OSError):
                upstream.shutdown(socket.SHUT_WR)

        threading.Thread(target=to_server, daemon=True).start()
        with client, upstream, contextlib.suppress(OSError):
            while data := upstream.recv(65536):
                queued = re.search(rb"250 [\d.]+ Ok: queued as (\w+)", data)
                if first and queued:
                    self.queue_id = queued.group(1).decode()
                    self.cut.set()
                    client.shutdown(socket.SHUT_RDWR)
                    return
                client.sendall(data)

    def close(self) -> None:
        self.listener.close()


@pytest.mark.parametrize("server_kept_it", [True, False])
def test_hand_over_cut_before_the_answer(office: Office, server_kept_it: bool) -> None:
    """The server takes a staff mail but the connection breaks before its 250 reaches the
    daemon, and the server delivers it only later. The daemon must neither send it again
    while the copy may still come, nor lose it when the server never had it."""
    proxy = CutBeforeAnswer()
    try:
        text = office.config_path.read_text(encoding="utf-8")
        office.config_path.write_text(text.replace(
            'port = 25\nsecurity = "starttls"', f'port = {proxy.port}\nsecurity = "none"'),
            encoding="utf-8")
        stack.deliver(mails.dsure_key_mail())
        stack.wait_for_queue()

        run = office.run("run", "--once")
        assert run.returncode == 0, run.stderr
        assert proxy.cut.is_set() and proxy.queue_id
        [deferred] = run.named("mail.send_deferred")
        assert deferred["uncertain"] is True
        out_id = deferred["out_message_id"]
        assert stack.mailbox(stack.CONTRACT_STAFF) == []  # held by the server

        time.sleep(1.5)  # retry_first_seconds = 1
        run = office.run("run", "--once")
        assert run.returncode == 0, run.stderr
        assert [e["out_message_id"] for e in run.named("mail.awaiting_copy")] == [out_id]
        assert run.named("mail.sent") == []  # not sent again while its copy may come

        # The server comes back and delivers what it took, or it had lost it.
        action = "-H" if server_kept_it else "-d"
        subprocess.run(["postsuper", action, proxy.queue_id, "hold"], check=True,
                       capture_output=True)
        stack.wait_for_queue()
        time.sleep(3.5)  # copy_wait_seconds = 3
        run = office.run("run", "--once")
        assert run.returncode == 0, run.stderr
        stack.wait_for_queue()
        if server_kept_it:
            assert [e["out_message_id"] for e in run.named("mail.already_sent")] == [out_id]
            assert run.named("mail.sent") == []
        else:
            assert [e["out_message_id"] for e in run.named("mail.copy_missing")] == [out_id]
            assert [e["out_message_id"] for e in run.named("mail.sent")] == [out_id]
        [got] = stack.mailbox(stack.CONTRACT_STAFF)
        assert got.header("Message-ID") == out_id
        assert stack.unfiled() == []
        assert stack.filed_counts()["Surety/Routed"] == 1
    finally:
        proxy.close()


def test_a_message_copied_twice_acts_once(office: Office) -> None:
    """The same message twice in the inbox (same Message-ID and bytes): one mail to staff,
    both copies filed, nothing deleted."""
    raw = mails.dsure_key_mail()
    stack.append(raw, arrived=datetime.now(UTC))
    stack.append(raw, arrived=datetime.now(UTC))
    run = office.run("run", "--once")
    assert run.returncode == 0, run.stderr
    assert len(stack.mailbox(stack.CONTRACT_STAFF)) == 1
    assert len(run.named("message.duplicate")) == 1
    assert stack.filed_counts()["Surety/Routed"] == 2


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB file system of its own (tmpfs), to fill up."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
                          capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_disk_full_pauses_and_resumes(office: Office, small_disk: Path) -> None:
    """With the state's disk full the daemon takes no work and says so; once there is
    room again, it goes on where it stopped."""
    state = small_disk / "state.sqlite3"
    text = office.config_path.read_text(encoding="utf-8")
    office.config_path.write_text(text.replace(str(office.state_path), str(state)),
                                  encoding="utf-8")
    assert office.run("run", "--once").returncode == 0  # the state file exists
    filler = small_disk / "filler"
    with filler.open("wb") as out, contextlib.suppress(OSError):
        while True:
            out.write(b"\0" * 65536)
            out.flush()
    stack.deliver(mails.dsure_key_mail())
    stack.wait_for_queue()
    full = office.run("run", "--once")
    assert full.named("state.unavailable"), (full.returncode, full.stderr[-1500:])
    assert "full" in str(full.named("state.unavailable")[0]["error"]) or "I/O" in str(
        full.named("state.unavailable")[0]["error"])
    assert stack.mailbox(stack.CONTRACT_STAFF) == []
    assert len(stack.unfiled()) == 1
    filler.unlink()
    resumed = office.run("run", "--once")
    assert resumed.returncode == 0, resumed.stderr
    assert len(stack.mailbox(stack.CONTRACT_STAFF)) == 1
    assert stack.unfiled() == []
