"""Guards of the pure middle: forged senders, size limits, loops, secrets at rest."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from samples import mails, parties, pdfs

from daemon.config import Settings
from daemon.decide import decide
from daemon.read import ReadLimits, read_message
from daemon.store import Store

INSURER = "agent@sompo-japan.example.jp"


def _secured(settings: Settings) -> Settings:
    security = settings.security.model_copy(update={"authserv_id": "mail.city.example.jp",
                                                    "guarantor_domains": ["ejcs.example.co.jp"]})
    return settings.model_copy(update={"security": security})


def _form_from(sender: str, results: str | None) -> bytes:
    headers = {"Authentication-Results": results} if results else None
    form = pdfs.submission_form_pdf(insurer="sompo", policy_number="SJ26-0412345",
                                    view_password="Zz9876543210",
                                    view_url="https://www.sonpo-hosyou-syouken.jp/view?k=abc",
                                    project_name="令和8年度 市道改良工事",
                                    contractor="株式会社山田建設")
    return mails.build(from_=sender, to="keiyaku@city.example.jp",
                       subject="【電子保証】発注者提出用フォーマット", body="送付します。",
                       attachments=[("form.pdf", form, "application/pdf")], headers=headers)


@pytest.mark.parametrize(("sender", "results", "verdict"), [
    (INSURER, "mail.city.example.jp; dkim=fail header.d=sompo-japan.example.jp; dmarc=fail",
     "review"),
    (INSURER, "mail.city.example.jp; dkim=pass header.d=sompo-japan.example.jp; dmarc=pass",
     "routed"),
    (INSURER, "mail.city.example.jp; dkim=fail header.d=x; dkim=pass header.d=y; dmarc=none",
     "review"),  # a passing signature of another domain proves nothing
    (INSURER, "forger.example; dmarc=pass", "review"),  # not the office's server: not read
    ("t-yamada@yamada-kensetsu.example.co.jp", "mail.city.example.jp; dmarc=fail", "routed"),
    (INSURER, None, "review"),  # fails closed
])
def test_authentication_results(sender: str, results: str | None, verdict: str,
                                settings: Settings) -> None:
    """An insurer's domain needs the office server's own DMARC (or aligned DKIM) pass."""
    decision = decide(read_message(_form_from(sender, results)), _secured(settings))
    assert decision.verdict.value == verdict
    if verdict == "review":
        assert decision.problems == ("sender-not-authenticated",)


def test_forged_header_above_a_real_one_is_not_trusted(settings: Settings) -> None:
    """A pass written by the sender with another server's id does not hide our fail."""
    raw = _form_from(INSURER, "mail.city.example.jp; dmarc=fail header.from=sompo-japan.example.jp")
    raw = b"Authentication-Results: evil.example; dmarc=pass\r\n" + raw
    assert decide(read_message(raw), _secured(settings)).verdict.value == "review"


def test_message_over_the_limits(settings: Settings) -> None:
    """Over the size or count limits nothing is opened; the message goes to review."""
    raw = mails.dsure_key_mail(with_invoice=True, guarantee_type="advance-payment")
    big = read_message(raw, limits=ReadLimits(message_bytes=10_000))
    assert [a.status.value for a in big.attachments] == ["too-large"]
    assert big.body == ""
    assert decide(big, settings).problems == ("too-large",)
    many = read_message(raw, limits=ReadLimits(attachments=1))
    assert [a.status.value for a in many.attachments] == ["text", "too-large"]


def test_state_database_holds_no_secret(tmp_path: Path, settings: Settings) -> None:
    """The key, the passwords and the URL's password never reach the state database."""
    store = Store(tmp_path / "s.sqlite3")
    now = datetime(2026, 4, 10, tzinfo=UTC)
    for n, raw in enumerate([mails.dsure_key_mail(), mails.confirmation_mail(),
                             mails.legacy_pdf_mail()]):
        decision = decide(read_message(raw), settings)
        row = store.messages.seen(folder="INBOX", uidvalidity=1, uid=n,
                                  message_id=decision.sources[0], content_hash=str(n),
                                  received_at=now)
        store.record_decision(row.id, decision, now, [("forward", f"<o{n}@x>", ("a@b.c",))])
    store.close()
    dump = "\n".join(sqlite3.connect(tmp_path / "s.sqlite3").iterdump())
    for secret in (mails.default_auth_key("2604012345"), "s7mF3DEzqTTE", "Rk7v2Lm9"):
        assert secret not in dump


def test_log_redacts_the_secrets_of_a_read_message(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str],
                                                  settings: Settings) -> None:
    """Through the daemon's own path (log_read registers what the message carries), every
    key and password of a real submission is masked wherever it appears later, nested or
    not; secret-named keys are masked whatever their value."""
    import structlog  # noqa: PLC0415

    from daemon import log  # noqa: PLC0415
    from daemon.process import log_read  # noqa: PLC0415

    monkeypatch.setattr(log, "_secrets", set())
    log.configure()
    secrets = [mails.default_auth_key("2604012345"), parties.viewing_password("SJ26-0412345"),
               "Rk7v2Lm9"]  # the key notice's key, a form's viewing password, a PDF's password
    for raw in (mails.dsure_key_mail(), mails.confirmation_mail(),
                mails.legacy_pdf_mail(date=datetime(2026, 3, 10, tzinfo=UTC))):
        mail = read_message(raw)
        log_read(mail, decide(mail, settings))
    logger: Any = structlog.get_logger("test")
    logger.info("x", subject=" ".join(secrets), nested={"a": [*secrets]}, password="anything")
    out = capsys.readouterr().out
    assert [s for s in secrets if s in out] == []
    line = json.loads(out.strip().splitlines()[-1])
    assert line["password"] == "[REDACTED]"
    assert line["subject"] == "[REDACTED] [REDACTED] [REDACTED]"


def test_classify_survives_what_the_daemon_survives(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """A multipart nested a thousand levels deep: classify reads in the same sandboxed
    child as the daemon and prints a verdict (review), it does not die of recursion."""
    import json  # noqa: PLC0415

    import stack  # noqa: PLC0415

    from daemon.cli import main  # noqa: PLC0415

    depth = 1000
    head = "From: t-yamada@yamada-kensetsu.example.co.jp\r\nTo: keiyaku@city.example.jp\r\n" \
           "Subject: deep\r\nMIME-Version: 1.0\r\n"
    parts = [f'Content-Type: multipart/mixed; boundary="b{n}"\r\n\r\n--b{n}\r\n'
             for n in range(depth)]
    tail = "Content-Type: text/plain\r\n\r\n保証契約番号：2604012345\r\n" + "".join(
        f"--b{n}--\r\n" for n in reversed(range(depth)))
    message = tmp_path / "deep.eml"
    message.write_bytes((head + "".join(parts) + tail).encode())
    config = tmp_path / "office.toml"
    config.write_text(stack.office_config(tmp_path / "state.sqlite3"), encoding="utf-8")
    assert main(["--config", str(config), "classify", str(message)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["verdict"], result["problems"]) == ("review", ["attachment-unreadable"])


def test_the_office_s_limits_are_the_ones_a_message_is_read_with(settings: Settings) -> None:
    """limits.* of the config reach the reader whole: each of the four reading limits set
    to its own value is the one a message is read with in a sandboxed child (one
    attachment of two read, the second named as over the limit)."""
    from daemon.sandbox import read_in_child  # noqa: PLC0415

    limits = settings.limits.model_copy(update={
        "message_bytes": 3 << 20, "attachments": 1, "attachment_bytes": 2 << 20,
        "text_chars": 20_000})
    assert ReadLimits.of(limits) == ReadLimits(message_bytes=3 << 20, attachments=1,
                                               attachment_bytes=2 << 20, text_chars=20_000)
    raw = mails.build(from_="t-yamada@yamada-kensetsu.example.co.jp", to=mails.OFFICE_ADDRESS,
                      subject="二件", body="添付します。",
                      attachments=[("a.pdf", pdfs.corrupt_pdf(), "application/pdf"),
                                   ("b.pdf", pdfs.corrupt_pdf(), "application/pdf")])
    mail, error = read_in_child(raw, None, limits)
    assert error is None
    assert [a.filename for a in mail.attachments] == ["a.pdf", "(1 more)"]
