"""The mails the daemon writes: headers staff filter on, Japanese texts, the original."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from email.message import EmailMessage

from samples import mails

from daemon.compose import Outgoing, compose
from daemon.config import Settings
from daemon.decide import decide
from daemon.read import read_message

NOW = datetime(2026, 4, 6, 1, 0, tzinfo=UTC)


def _out(raw: bytes, settings: Settings) -> tuple[Outgoing, EmailMessage]:
    mail = read_message(raw)
    [out] = compose(decide(mail, settings), mail, settings, NOW)
    parsed = email.message_from_bytes(out.to_bytes(), policy=email.policy.default)
    return out, parsed  # type: ignore[return-value]


def test_staff_mail_headers_summary_and_original(settings: Settings) -> None:
    """A routed mail names kind, verdict, source; shows the key to staff; carries the original."""
    raw = mails.dsure_key_mail(guarantee_type="advance-payment", charset="shift_jis")
    out, msg = _out(raw, settings)
    assert msg["X-Surety-Kind"] == "dsure-key"
    assert msg["X-Surety-Verdict"] == "routed"
    assert msg["X-Surety-Problems"] == ""
    assert msg["X-Surety-Source"].strip() == read_message(raw).message_id  # folded: long
    assert msg["To"] == "maebarai@city.example.jp"
    assert msg["Subject"].startswith("【電子保証 受付】前払金保証 令和8年度")
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "認証キー: " + mails.default_auth_key("2604012345") in text
    assert "保証契約番号: 2604012345" in text
    [original] = list(msg.iter_attachments())
    assert original.get_content_type() == "message/rfc822"
    assert raw in out.to_bytes()  # byte for byte, Shift_JIS and all


def test_correction_reply_is_polite_names_codes_and_keeps_secrets(settings: Settings) -> None:
    """A reply goes to the sender, threads, is marked auto-replied, names each code and
    never echoes the key the contractor sent."""
    raw = mails.confirmation_mail(omit=("contractor",))
    key = "s7mF3DEzqTTE"  # the 閲覧用パスワード in the form
    _, msg = _out(raw, settings)
    source = read_message(raw)
    assert msg["To"] == source.from_addr
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["In-Reply-To"] == source.message_id
    assert msg["X-Surety-Problems"] == "contractor-name-missing"
    assert msg["Reply-To"] == "keiyaku@city.example.jp"
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert text.startswith("株式会社山田建設 山田 太郎 様")
    assert "受注者名の記載が確認できませんでした" in text
    assert "確認コード: contractor-name-missing" in text
    assert key not in text
    assert list(msg.iter_attachments()) == []


def test_deadline_reply_names_the_office_date(settings: Settings) -> None:
    """The deadline sentence names the office's own cut-off date."""
    _, msg = _out(mails.legacy_pdf_mail(), settings)
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "2026年3月31日（受信分）をもって終了" in text


def test_message_id_depends_only_on_source_and_action(settings: Settings) -> None:
    """Composing the same decision twice gives the same Message-ID (no double send)."""
    raw = mails.dsure_key_mail()
    first, _ = _out(raw, settings)
    again, _ = _out(raw, settings)
    other, _ = _out(mails.dsure_key_mail(guarantee_type="advance-payment"), settings)
    assert first.message_id == again.message_id
    assert first.message_id != other.message_id
    assert first.message_id.endswith("@city.example.jp>")


def test_every_document_status_has_a_label_for_staff() -> None:
    """Staff mails can name how each attachment was read, whatever its status."""
    from daemon.compose import STATUS_LABELS  # noqa: PLC0415
    from daemon.model import DocumentStatus  # noqa: PLC0415

    assert set(STATUS_LABELS) == set(DocumentStatus)
