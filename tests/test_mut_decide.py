"""What the verdict, the policy rules, the loop's decisions and the log promise, one
behaviour per test, with the input that must not match beside the one that must.

Written so that a changed rule in daemon.decide, daemon.checks, daemon.problems,
daemon.lifecycle or daemon.log makes a test fail (see bench/mutation_todo.sh).
"""

from __future__ import annotations

import email
import email.policy
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from email.mime.application import MIMEApplication
from typing import Any

import pytest
import structlog
from samples import mails, pdfs

from daemon import log, problems
from daemon.config import Settings
from daemon.decide import decide
from daemon.lifecycle import limit_replies
from daemon.model import Decision, Fields, Kind, Outcome, Verdict
from daemon.problems import Effect
from daemon.read import read_message

JST = timezone(timedelta(hours=9))
BEFORE_CUTOFF = datetime(2026, 3, 10, 10, 0, tzinfo=JST)  # test office: until 2026-03-31
YAMADA = "t-yamada@yamada-kensetsu.example.co.jp"
REVIEW = ("review@city.example.jp",)
CONTRACT_STAFF = ("keiyaku-hosho@city.example.jp",)
ADVANCE_STAFF = ("maebarai@city.example.jp",)
KEY_BODY = "保証契約番号：2604012345\n認証キー：Xq7Rt2Lm9Pz4\n保証の種類：契約保証\n"


def _decide(raw: bytes, settings: Settings, **kwargs: Any) -> Decision:
    return decide(read_message(raw), settings, **kwargs)


def _seen(decision: Decision) -> tuple[str, tuple[str, ...], tuple[str, ...], str]:
    """What a person sees of a decision: verdict, codes, addresses, reason."""
    return (decision.verdict.value, decision.problems, decision.route_to, decision.reason)


def _plain(*headers: tuple[str, str], body: str = "お世話になっております。", from_: str = YAMADA
           ) -> bytes:
    """A hand-written UTF-8 message with exactly these extra headers."""
    lines = [f"From: {from_}", "To: keiyaku@city.example.jp", "Subject: ご連絡",
             "Date: Mon, 06 Apr 2026 09:30:12 +0900", "Message-ID: <plain.1@example.co.jp>",
             "MIME-Version: 1.0", *(f"{k}: {v}" for k, v in headers)]
    if not any(k.lower() == "content-type" for k, _ in headers):
        lines.append("Content-Type: text/plain; charset=utf-8")
    lines += ["Content-Transfer-Encoding: 8bit", "", body, ""]
    return "\r\n".join(lines).encode()


def _with_attachment(raw: bytes, name: str, data: bytes, subtype: str = "pdf") -> bytes:
    """The message with one more attachment at the end."""
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    part = MIMEApplication(data, _subtype=subtype)
    part.add_header("Content-Disposition", "attachment", filename=name)
    msg.attach(part)
    return msg.as_bytes()

# --- the log ----------------------------------------------------------------------------------


@pytest.fixture
def logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A redactor that knows no secret yet; structlog's configuration restored afterwards."""
    monkeypatch.setattr(log, "_secrets", set())
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)
    structlog.contextvars.clear_contextvars()


def _lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return [line for line in capsys.readouterr().out.splitlines() if line]


def _events(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in _lines(capsys)]


def _logger() -> Any:
    return structlog.get_logger("daemon.test")


def test_log_lines_are_json_with_level_utc_timestamp_and_readable_japanese(
        logs: None, capsys: pytest.CaptureFixture[str]) -> None:
    """One JSON object per line: the event, its level, an ISO UTC timestamp, and Japanese
    text as it is (not \\u escapes), so an operator can grep the log for a 工事名."""
    log.configure()
    before = datetime.now(UTC)
    _logger().info("message.fetched", subject="工事名 市道", size=12)
    (line,) = _lines(capsys)
    assert "工事名 市道" in line
    event = json.loads(line)
    assert event["event"] == "message.fetched"
    assert event["level"] == "info"
    assert event["size"] == 12
    assert event["timestamp"].endswith("Z")
    stamp = datetime.fromisoformat(event["timestamp"])
    assert stamp.utcoffset() == timedelta(0)
    assert before - timedelta(seconds=5) <= stamp <= datetime.now(UTC) + timedelta(seconds=5)


def test_default_level_is_info(logs: None, capsys: pytest.CaptureFixture[str]) -> None:
    """Without a level, info and above are written and debug is not."""
    log.configure()
    _logger().debug("chatter")
    _logger().info("message.routed")
    _logger().warning("held.missing")
    assert [e["event"] for e in _events(capsys)] == ["message.routed", "held.missing"]


@pytest.mark.parametrize(("level", "written"), [
    ("warning", ["held.missing", "state.unavailable"]),
    ("WARNING", ["held.missing", "state.unavailable"]),
    ("debug", ["chatter", "message.routed", "held.missing", "state.unavailable"]),
])
def test_the_level_given_filters_the_log(level: str, written: list[str], logs: None,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """The level named (in any case) is the lowest written."""
    log.configure(level)
    _logger().debug("chatter")
    _logger().info("message.routed")
    _logger().warning("held.missing")
    _logger().error("state.unavailable")
    assert [e["event"] for e in _events(capsys)] == written


def test_a_new_level_applies_to_loggers_already_used(
        logs: None, capsys: pytest.CaptureFixture[str]) -> None:
    """A module's logger (got once, at import) follows a later configure(), also when
    structlog was set up before otherwise (key=value lines, cached loggers, printing
    nowhere): every line is the daemon's JSON on stdout."""
    structlog.configure(processors=[structlog.processors.KeyValueRenderer()],
                        cache_logger_on_first_use=True,
                        logger_factory=structlog.ReturnLoggerFactory())
    logger = _logger()
    log.configure()
    logger.info("first")
    log.configure("warning")
    logger.info("second")
    logger.warning("third")
    assert [e["event"] for e in _events(capsys)] == ["first", "third"]


def test_bound_context_and_exceptions_are_in_the_line(
        logs: None, capsys: pytest.CaptureFixture[str]) -> None:
    """The message's uid bound for the loop appears in every line, and a failure's
    traceback is written as text in the line."""
    log.configure()
    structlog.contextvars.bind_contextvars(uid=7)
    try:
        raise ValueError("boom in reader")
    except ValueError:
        _logger().exception("message.failed")
    (event,) = _events(capsys)
    assert event["uid"] == 7
    assert event["level"] == "error"
    assert "ValueError: boom in reader" in event["exception"]
    assert "Traceback" in event["exception"]


def test_other_libraries_log_only_warnings_bare_on_stderr(
        logs: None, capsys: pytest.CaptureFixture[str]) -> None:
    """A library's own logging (imapclient, aiosmtplib) goes to stderr as the bare message,
    warnings and above only, even when something set the root logger to debug."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    root.handlers.clear()
    root.setLevel(logging.DEBUG)
    try:
        log.configure()
        logging.getLogger("imapclient").info("> a0001 LOGIN")
        logging.getLogger("imapclient").warning("server closed the connection")
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    captured = capsys.readouterr()
    assert captured.err == "server closed the connection\n"
    assert captured.out == ""


def test_secret_values_are_replaced_wherever_they_appear(
        logs: None, capsys: pytest.CaptureFixture[str]) -> None:
    """A registered secret is replaced in every string, every time it occurs, nested in
    dicts, lists and tuples, the event name too; other values stay as they were."""
    log.configure()
    log.register_secret("Xq7Rt2Lm9Pz4")
    log.register_secret("Zp4Wq8Lk2")
    _logger().info("got Xq7Rt2Lm9Pz4", subject="Xq7Rt2Lm9Pz4 / Xq7Rt2Lm9Pz4 and Zp4Wq8Lk2",
                   nested={"a": ["x Zp4Wq8Lk2", 3], "b": ("Xq7Rt2Lm9Pz4",), "c": {"d": "ok"}},
                   items=("2604012345", "Zp4Wq8Lk2"), count=2, flag=None)
    (event,) = _events(capsys)
    assert event["event"] == "got [REDACTED]"
    assert event["subject"] == "[REDACTED] / [REDACTED] and [REDACTED]"
    assert event["nested"] == {"a": ["x [REDACTED]", 3], "b": ["[REDACTED]"], "c": {"d": "ok"}}
    assert event["items"] == ["2604012345", "[REDACTED]"]
    assert event["count"] == 2
    assert event["flag"] is None


def test_text_without_a_secret_is_unchanged(logs: None,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """Strings that contain no registered secret are written exactly as given."""
    log.configure()
    log.register_secret("Xq7Rt2Lm9Pz4")
    _logger().info("message.fetched", subject="【電子保証】2604012345", sender="a@b.example")
    (event,) = _events(capsys)
    assert event["subject"] == "【電子保証】2604012345"
    assert event["sender"] == "a@b.example"


@pytest.mark.parametrize("name", ["auth_key", "view_password", "password",
                                  "document_password", "secret"])
def test_secret_named_keys_are_masked_nested_in_lists_too(
        name: str, logs: None, capsys: pytest.CaptureFixture[str]) -> None:
    """A secret-named key is masked at the top, in a nested dict and in a dict in a list,
    whatever its value (a number too); the same value under another key stays."""
    log.configure()
    _logger().info("x", **{name: 12345678}, submissions=[{name: "Unregistered9",
                                                         "contract_number": "2604012345"}],
                   other="Unregistered9")
    (event,) = _events(capsys)
    assert event[name] == "[REDACTED]"
    assert event["submissions"] == [{name: "[REDACTED]", "contract_number": "2604012345"}]
    assert event["other"] == "Unregistered9"


@pytest.mark.parametrize(("value", "masked"), [
    ("abcd", True), ("abcde", True), ("abc", False), ("", False), (None, False),
])
def test_only_values_of_four_characters_or_more_are_registered(
        value: str | None, masked: bool, logs: None,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Four characters and more are masked from then on; shorter ones (and nothing) are
    not registered, so ordinary short words stay readable."""
    log.configure()
    log.register_secret(value)
    _logger().info("x", subject="key abcde end")
    (event,) = _events(capsys)
    expected = {"abcd": "key [REDACTED]e end", "abcde": "key [REDACTED] end"}
    assert event["subject"] == (expected[value] if masked and value else "key abcde end")


# --- mail that gets no answer -----------------------------------------------------------------

NOT_A_SUBMISSION = ("review", ("not-a-submission",), REVIEW, "not-a-submission")


def test_a_plain_question_is_a_person_s_mail(settings: Settings) -> None:
    """The control for the rules below: a person's mail with none of their headers."""
    assert _seen(_decide(_plain(("Return-Path", f"<{YAMADA}>")), settings)) == NOT_A_SUBMISSION


@pytest.mark.parametrize(("headers", "from_", "reason"), [
    ((), "surety-intake@city.example.jp", "own-mail"),
    ((("X-Surety-Verdict", "correction"),), YAMADA, "own-mail"),
    ((("Auto-Submitted", "auto-replied"),), YAMADA, "auto-submitted"),
    ((("Auto-Submitted", "Auto-Generated"),), YAMADA, "auto-submitted"),
    ((("X-Auto-Response-Suppress", "All"),), YAMADA, "auto-submitted"),
    ((("Content-Type", 'multipart/report; report-type=delivery-status; boundary="b"'),),
     YAMADA, "bounce"),
    ((("Content-Type", 'Multipart/Report; report-type=Disposition-Notification; boundary="b"'),),
     YAMADA, "read-receipt"),
    ((("Return-Path", "<>"),), YAMADA, "bounce"),
    ((("Return-Path", ""),), YAMADA, "bounce"),
    ((), "mailer-daemon@yamada-kensetsu.example.co.jp", "bounce"),
    ((), "postmaster@yamada-kensetsu.example.co.jp", "bounce"),
    ((("List-Id", "<news.kensetsu.example.jp>"),), YAMADA, "mailing-list"),
    ((("List-Unsubscribe", "<mailto:leave@kensetsu.example.jp>"),), YAMADA, "mailing-list"),
    ((("Precedence", "bulk"),), YAMADA, "mailing-list"),
    ((("Precedence", "Junk"),), YAMADA, "mailing-list"),
    ((("Precedence", "LIST"),), YAMADA, "mailing-list"),
])
def test_machine_mail_is_ignored_with_its_reason(headers: tuple[tuple[str, str], ...],
                                                 from_: str, reason: str,
                                                 settings: Settings) -> None:
    """Each sign of mail no person wrote makes it ignored, with the reason logged."""
    raw = _plain(*headers, body="添付のとおり送付します。\n" + KEY_BODY, from_=from_)
    assert _seen(_decide(raw, settings)) == ("ignored", (), (), reason)


@pytest.mark.parametrize(("headers", "from_"), [
    ((("Auto-Submitted", "no"),), YAMADA),
    ((("Auto-Submitted", "No"),), YAMADA),
    ((("Precedence", "first-class"),), YAMADA),
    ((("Return-Path", f"<{YAMADA}>"),), YAMADA),
    ((("Content-Type", "text/plain; charset=utf-8"),), YAMADA),
    ((("X-Surety-Source", "<a@b>"),), YAMADA),
    ((), "xpostmaster@yamada-kensetsu.example.co.jp"),
    ((), "surety-intake@city.example.jp.evil.example"),
])
def test_mail_that_only_resembles_machine_mail_is_decided(
        headers: tuple[tuple[str, str], ...], from_: str, settings: Settings) -> None:
    """Auto-Submitted: no, a person's Precedence, a real Return-Path, a sender that only
    contains a bounce name or the daemon's address: a person's submission, routed."""
    raw = _plain(*headers, body="添付のとおり送付します。\n" + KEY_BODY, from_=from_)
    assert _seen(_decide(raw, settings)) == ("routed", (), CONTRACT_STAFF, "")


def test_an_auto_reply_subject_alone_is_ignored(settings: Settings) -> None:
    """A subject saying 自動返信, with no header saying so, is still a machine's."""
    raw = mails.build(from_=YAMADA, to=mails.OFFICE_ADDRESS, subject="自動返信：不在のお知らせ",
                      body=KEY_BODY)
    assert _seen(_decide(raw, settings)) == ("ignored", (), (), "auto-reply-subject")
    raw = mails.build(from_=YAMADA, to=mails.OFFICE_ADDRESS, subject="【電子保証】提出",
                      body=KEY_BODY)
    assert _seen(_decide(raw, settings)) == ("routed", (), CONTRACT_STAFF, "")


# --- Authentication-Results -------------------------------------------------------------------

INSURER = "hosho@sompo-japan.example.jp"
GUARANTOR = "info@guarantor-east.example.jp"
FORGED = ("review", ("sender-not-authenticated",), REVIEW, "sender-not-authenticated")
TRUSTED = ("routed", (), CONTRACT_STAFF, "")


def _checking(settings: Settings, authserv_id: str = " MX.City.Example.JP ") -> Settings:
    security = settings.security.model_copy(update={
        "authserv_id": authserv_id, "guarantor_domains": ["guarantor-east.example.jp"]})
    return settings.model_copy(update={"security": security})


def _claiming(from_: str, *results: str) -> bytes:
    return mails.build(from_=from_, to=mails.OFFICE_ADDRESS, subject="【電子保証】提出",
                       body=KEY_BODY, headers=[("Authentication-Results", r) for r in results])


@pytest.mark.parametrize("results", [
    ("mx.city.example.jp; dmarc=fail header.from=sompo-japan.example.jp",),
    ("mx.city.example.jp; dkim=fail header.d=sompo-japan.example.jp",),
    ("mx.city.example.jp; spf=pass; dkim = fail; dmarc = fail",),
    ("mx.city.example.jp 1; dmarc=fail",),  # with the version
    ("mx.city.example.jp 1 (office relay); dmarc=fail",),  # and a comment
    ("mx.city.example.jp;dmarc=fail",),  # no space before the first ;
    ("MX.City.Example.JP; DMARC=Fail",),
    ("mx.city.example.jp; dkim=pass; dmarc=fail",),
    ("evil.example; dmarc=pass", "mx.city.example.jp; dmarc=fail"),  # another's is skipped
])
@pytest.mark.parametrize("from_", [INSURER, GUARANTOR, "hosho@mail.sompo-japan.example.jp"])
def test_a_failed_check_by_the_office_server_is_forged(results: tuple[str, ...], from_: str,
                                                      settings: Settings) -> None:
    """A mail claiming an insurer's or guarantee company's domain (a subdomain too) that
    the office's server failed on DMARC, or on DKIM with no passing signature, goes to
    review and is never routed."""
    assert _seen(_decide(_claiming(from_, *results), _checking(settings))) == FORGED


@pytest.mark.parametrize("results", [
    ("mx.city.example.jp; spf=fail",),  # no DMARC or DKIM result at all
    ("mx.city.example.jp; dmarc=none",),
    ("mx.city.example.jp; dmarc=permerror",),
    ("mx.city.example.jp; dmarc=temperror; dkim=temperror",),
    ("mx.city.example.jp; dkim=pass header.d=unrelated.example; dmarc=none",),
    ("mx.city.example.jp; dkim=pass; dmarc=none",),  # a signature of nobody known
    ("mx.city.example.jp; dkim=pass header.d=evil.example.jp; dmarc=none",),
    ("evil.example; dmarc=pass",),  # another server's word only
    ("evil.example mx.city.example.jp; dmarc=pass",),
    ("relay.mx.city.example.jp; dmarc=pass",),
    ("x-dmarc=pass; mx.city.example.jp",),
    (),  # no header at all
])
def test_without_a_pass_from_the_office_server_it_is_not_trusted(
        results: tuple[str, ...], settings: Settings) -> None:
    """Authentication fails closed: no header from the office's server, no DMARC or DKIM
    result, an error, or a passing signature of another domain only: review."""
    assert _seen(_decide(_claiming(INSURER, *results), _checking(settings))) == FORGED


@pytest.mark.parametrize("results", [
    ("mx.city.example.jp; dmarc=pass; dkim=pass",),
    ("mx.city.example.jp; dkim=fail; dkim=pass; dmarc=pass",),  # one good signature
    ("mx.city.example.jp; dkim=pass header.d=sompo-japan.example.jp; dmarc=none",),
    ("mx.city.example.jp; dkim=pass header.i=@mail.sompo-japan.example.jp",),
    ("mx.city.example.jp 1 (relay); spf=pass; dmarc=pass header.from=sompo-japan.example.jp",),
    ("mx.city.example.jp; dmarc=pass", "mx.city.example.jp; dmarc=fail"),  # topmost counts
    ("evil.example; dmarc=fail", "mx.city.example.jp; dmarc=pass"),
    ("mx.city.example.jp; =broken; x; dmarc=pass",),  # an unreadable part is skipped
])
def test_a_pass_from_the_office_server_is_trusted(
        results: tuple[str, ...], settings: Settings) -> None:
    """DMARC passed, or DKIM passed for the insurer's own domain, in the office server's
    newest header: routed."""
    assert _seen(_decide(_claiming(INSURER, *results), _checking(settings))) == TRUSTED


def test_two_from_headers_are_never_trusted(settings: Settings) -> None:
    raw = _claiming(INSURER, "mx.city.example.jp; dmarc=pass")
    raw = b"From: someone@evil.example\r\n" + raw
    assert _seen(_decide(raw, _checking(settings)))[0] == "review"
    other = _claiming(YAMADA, "mx.city.example.jp; dmarc=pass")
    other = f"From: {INSURER}\r\n".encode() + other
    assert _seen(_decide(other, _checking(settings)))[0] == "review"


def test_failed_checks_of_other_domains_or_without_an_authserv_id_do_not_count(
        settings: Settings) -> None:
    """A contractor's own domain is not watched; and with no authserv_id configured no
    header is trusted at all."""
    failed = "mx.city.example.jp; dmarc=fail; dkim=fail"
    assert _seen(_decide(_claiming(YAMADA, failed), _checking(settings))) == TRUSTED
    assert _seen(_decide(_claiming(INSURER, failed), _checking(settings, ""))) == TRUSTED
    assert _seen(_decide(_claiming(INSURER, failed), _checking(settings, "  "))) == TRUSTED


def test_the_sender_domain_is_what_follows_the_last_at(settings: Settings) -> None:
    """A quoted local part holding an @ does not hide (nor fake) the domain."""
    failed = "mx.city.example.jp; dmarc=fail"
    office = _checking(settings)
    hidden = '"a@b"@sompo-japan.example.jp'
    assert _seen(_decide(_claiming(hidden, failed), office)) == FORGED
    faked = 'x@yamada-kensetsu.example.co.jp'
    assert _seen(_decide(_claiming(faked, failed), office)) == TRUSTED


def test_every_submission_of_a_forged_mail_goes_to_review(settings: Settings) -> None:
    """Two submissions in a forged mail: both set aside, each with its kind and fields."""
    body = (KEY_BODY + "\n保証契約番号：2604012399\n認証キー：Hv3Kw8Nb5Jc6\n前払金保証\n")
    raw = mails.build(from_=INSURER, to=mails.OFFICE_ADDRESS, subject="【電子保証】提出",
                      body=body, headers={"Authentication-Results":
                                          "mx.city.example.jp; dmarc=fail"})
    decision = _decide(raw, _checking(settings))
    assert [(o.verdict.value, o.problems, o.route_to, o.fields.contract_number,
             o.guarantee_type) for o in decision.outcomes] == [
        ("review", ("sender-not-authenticated",), REVIEW, "2604012345", "contract"),
        ("review", ("sender-not-authenticated",), REVIEW, "2604012399", "advance-payment")]
    assert decision.reason == "sender-not-authenticated"


# --- one submission's codes -------------------------------------------------------------------

BROKEN = [("broken.pdf", pdfs.corrupt_pdf(), "application/pdf")]


def _typed(body: str, attachments: Any = (), **kwargs: Any) -> bytes:
    return mails.build(from_=YAMADA, to=mails.OFFICE_ADDRESS, subject="【電子保証】提出",
                       body=body, attachments=attachments, **kwargs)


def _office(settings: Settings, **policy: Any) -> Settings:
    return settings.model_copy(update={"policy": settings.policy.model_copy(update=policy)})


def test_a_mail_with_no_submission_asks_a_person_or_says_what_was_unreadable(
        settings: Settings) -> None:
    """No submission at all: not-a-submission; with an attachment that could not be
    opened, that is the reason instead (the submission may be in it)."""
    question = "入札日程について教えてください。"
    assert _seen(_decide(_typed(question), settings)) == NOT_A_SUBMISSION
    assert _seen(_decide(_typed(question, BROKEN), settings)) == (
        "review", ("attachment-unreadable",), REVIEW, "attachment-unreadable")


def test_a_wrong_document_of_no_known_route_gets_its_correction(settings: Settings) -> None:
    """A bank's guarantee (no electronic route at all) is told it is not eligible, not
    treated as no submission."""
    assert _seen(_decide(mails.bank_guarantee(), settings)) == (
        "correction", ("bank-guarantee-not-eligible",), (YAMADA,), "")


def test_a_missing_field_is_not_asked_for_while_an_attachment_was_unreadable(
        settings: Settings) -> None:
    """A key typed without its 認証キー asks for it; with an unreadable attachment (which
    may hold it) a person looks instead."""
    body = "保証契約番号：2604012345\n契約保証\n"
    assert _seen(_decide(_typed(body), settings, can_wait=False)) == (
        "correction", ("auth-key-missing",), (YAMADA,), "")
    assert _seen(_decide(_typed(body, BROKEN), settings, can_wait=False)) == (
        "review", ("attachment-unreadable",), REVIEW, "attachment-unreadable")


def test_an_unreadable_extra_attachment_does_not_stop_a_complete_notice(
        settings: Settings) -> None:
    """A key notice read from its own PDF keeps its verdict and codes beside a broken
    attachment: routed, or its own correction (invoice-missing, not a missing field)."""
    assert _seen(_decide(_with_attachment(mails.dsure_key_mail(), "broken.pdf",
                                          pdfs.corrupt_pdf()), settings)) == TRUSTED
    office = _office(settings, advance_payment_needs_invoice=True)
    raw = _with_attachment(mails.dsure_key_mail(guarantee_type="advance-payment"),
                           "broken.pdf", pdfs.corrupt_pdf())
    assert _seen(_decide(raw, office)) == ("correction", ("invoice-missing",), (YAMADA,), "")


def test_a_sealed_policy_whose_password_never_came_is_asked_for(settings: Settings) -> None:
    """Once the wait is over, an encrypted policy with no password asks for it, beside the
    other corrections it has (the insurer's address not copied)."""
    raw = mails.legacy_pdf_mail(password_in_body=False, date=BEFORE_CUTOFF)
    assert _seen(_decide(raw, settings, can_wait=False)) == (
        "correction", ("attachment-password-missing",), (YAMADA,), "")
    raw = mails.legacy_pdf_mail(password_in_body=False, date=BEFORE_CUTOFF, cc=None)
    assert _seen(_decide(raw, settings, can_wait=False)) == (
        "correction", ("insurer-cc-missing", "attachment-password-missing"), (YAMADA,), "")


def test_only_the_sealed_attachment_is_asked_for_not_a_scan_beside_it(
        settings: Settings) -> None:
    """A scan without text beside the sealed policy stays text-unreadable (review); only
    the encrypted attachment becomes attachment-password-missing."""
    raw = _with_attachment(mails.legacy_pdf_mail(password_in_body=False, date=BEFORE_CUTOFF),
                           "scan.pdf", pdfs.scan_pdf())
    assert _seen(_decide(raw, settings, can_wait=False)) == (
        "review", ("attachment-password-missing", "text-unreadable"), REVIEW, "text-unreadable")


def test_the_guarantee_type_matters_only_when_nothing_is_to_be_corrected(
        settings: Settings) -> None:
    """Without a guarantee type a complete key goes to review; with a correction to make
    as well, only the correction is asked for."""
    assert _seen(_decide(_typed("保証契約番号：2604012345\n認証キー：Xq7Rt2Lm9Pz4\n"),
                         settings)) == (
        "review", ("guarantee-type-unknown",), REVIEW, "guarantee-type-unknown")
    assert _seen(_decide(_typed("保証契約番号：2604012345\n"), settings, can_wait=False)) == (
        "correction", ("auth-key-missing",), (YAMADA,), "")


def test_a_correction_goes_to_the_reply_to_address(settings: Settings) -> None:
    """The first Reply-To address gets the correction; without one, the sender."""
    body = "保証契約番号：2604012345\n契約保証\n"
    raw = _typed(body, reply_to="jimu@yamada-kensetsu.example.co.jp")
    assert _seen(_decide(raw, settings, can_wait=False)) == (
        "correction", ("auth-key-missing",), ("jimu@yamada-kensetsu.example.co.jp",), "")


def _no_from(body: str, *headers: str, mime: bool = True) -> bytes:
    top = ["To: keiyaku@city.example.jp", "Subject: =?utf-8?b?6Zu75a2Q5L+d6Ki8?=",
           "Date: Mon, 06 Apr 2026 09:30:12 +0900", *headers]
    if mime:
        top += ["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8",
                "Content-Transfer-Encoding: 8bit"]
    return ("\r\n".join([*top, "", body, ""])).encode("utf-8" if mime else "shift_jis")


def test_a_correction_with_nobody_to_reply_to_goes_to_review(settings: Settings) -> None:
    """No From and no Reply-To: a correction cannot be sent, so a person looks; a complete
    submission is routed all the same; a Reply-To alone is not enough (it is trusted only
    within the From's organisation)."""
    body = "保証契約番号：2604012345\n契約保証\n"
    assert _seen(_decide(_no_from(body), settings, can_wait=False)) == (
        "review", ("auth-key-missing", "no-reply-address"), REVIEW, "no-reply-address")
    assert _seen(_decide(_no_from(KEY_BODY), settings, can_wait=False)) == TRUSTED
    raw = _no_from(body, "Reply-To: jimu@yamada-kensetsu.example.co.jp")
    assert _seen(_decide(raw, settings, can_wait=False)) == (
        "review", ("auth-key-missing", "no-reply-address"), REVIEW, "no-reply-address")


def test_a_mail_already_for_review_gets_no_no_reply_address(settings: Settings) -> None:
    """Not MIME and no sender: review for the encoding; no-reply-address is not added to
    a message no reply was going to be sent for."""
    raw = _no_from("保証契約番号：2604012345\n契約保証\n", mime=False)
    assert _seen(_decide(raw, settings, can_wait=False)) == (
        "review", ("not-mime", "auth-key-missing"), REVIEW, "not-mime")


def test_the_reason_lists_each_review_code_once_in_order(settings: Settings) -> None:
    """The reason names every code that sent the message to review, once each, joined by
    commas; codes that only ask for a correction are not in it."""
    body = "保証契約番号：2604012345\n認証キー：Xq7Rt2Lm9Pz4\n"
    raw = _no_from(body + "\n保証契約番号：2604012399\n認証キー：Hv3Kw8Nb5Jc6\n", mime=False)
    decision = _decide(raw, settings)
    assert [o.problems for o in decision.outcomes] == [
        ("not-mime", "guarantee-type-unknown")] * 2
    assert decision.reason == "not-mime,guarantee-type-unknown"


@pytest.mark.parametrize(("gtype", "staff"), [
    ("contract", CONTRACT_STAFF), ("advance-payment", ADVANCE_STAFF),
    ("interim-advance-payment", ADVANCE_STAFF),
])
def test_each_guarantee_goes_to_its_section_with_its_source(gtype: str, staff: tuple[str, ...],
                                                            settings: Settings) -> None:
    """A complete notice goes to the section of its guarantee type; the outcome names the
    attachment it came from, and a typed one names none."""
    decision = _decide(mails.dsure_key_mail(guarantee_type=gtype, with_invoice=True),
                       settings)
    assert _seen(decision) == ("routed", (), staff, "")
    assert decision.outcomes[0].source.endswith(".pdf")
    typed = _decide(_typed(KEY_BODY), settings)
    assert typed.outcomes[0].source == ""
    assert typed.outcomes[0].to_json()["source"] == ""


# --- waiting for a follow-up ------------------------------------------------------------------

WAITING = ("held", ("attachment-unreadable",), (), "waiting-for-password")


def test_a_sealed_policy_waits_for_its_password(settings: Settings) -> None:
    """Held (every submission held, nowhere to go yet) while the office waits for the
    password, half an hour of waiting too; not when the office never waits or the wait
    is over."""
    raw = mails.legacy_pdf_mail(password_in_body=False, date=BEFORE_CUTOFF)
    decision = _decide(raw, settings)
    assert _seen(decision) == WAITING
    assert [(o.verdict.value, o.route_to) for o in decision.outcomes] == [("held", ())]
    assert _seen(_decide(raw, _office(settings, password_wait_hours=0.5))) == WAITING
    asked = ("correction", ("attachment-password-missing",), (YAMADA,), "")
    assert _seen(_decide(raw, _office(settings, password_wait_hours=0))) == asked
    assert _seen(_decide(raw, settings, can_wait=False)) == asked


def test_a_form_waits_for_its_url_only_when_it_is_the_message_s_one_submission(
        settings: Settings) -> None:
    """A form without 閲覧用URL waits for it; the same form beside a key notice is decided
    at once (the contractor is asked for the URL), and so is a form typed in the mail."""
    form = mails.confirmation_mail(omit=("view_url",))
    assert _seen(_decide(form, settings)) == (
        "held", ("view-url-missing",), (), "waiting-for-rest")
    notice = pdfs.key_notice_pdf(
        company="east", contract_number="2604012399",
        auth_key=mails.default_auth_key("2604012399"), guarantee_type="advance-payment",
        project_name="市道改良工事", contractor="株式会社山田建設")
    decision = _decide(_with_attachment(form, "key.pdf", notice), settings)
    assert [(o.kind.value, o.verdict.value, o.problems, o.route_to)
            for o in decision.outcomes] == [
        ("confirmation-system", "correction", ("view-url-missing",), (YAMADA,)),
        ("dsure-key", "routed", (), ADVANCE_STAFF)]
    assert decision.verdict.value == "correction"
    typed = ("閲覧用パスワード：Ab3dEf7h\n工事名：市道改良工事\n受注者名：株式会社山田建設\n"
             "保険会社：損害保険ジャパン株式会社\n証券番号：SJ26-0412345\n")
    assert _seen(_decide(_typed(typed), settings)) == (
        "correction", ("view-url-missing",), (YAMADA,), "")


def test_a_password_alone_goes_to_review(settings: Settings) -> None:
    """A password mail decided on its own (its partner not found) is set aside for a
    person, with that reason only."""
    decision = _decide(mails.password_followup(), settings, can_wait=False)
    assert _seen(decision) == ("review", ("unpaired-password",), REVIEW, "unpaired-password")
    assert len(decision.outcomes) == 1


def test_the_systems_own_notice_goes_to_review(settings: Settings) -> None:
    """The confirmation system's notice, from its host itself or a subdomain, is set aside
    (never answered), with its reason and its message recorded."""
    for sender in ("info@sonpo-hosyou-syouken.jp", "info@mail.sonpo-hosyou-syouken.jp",
                   '"a@b"@sonpo-hosyou-syouken.jp'):
        raw = mails.system_url_notice(sender=sender)
        mail = read_message(raw)
        decision = decide(mail, settings)
        assert _seen(decision) == ("review", ("system-notice",), REVIEW, "system-notice")
        assert decision.sources == (mail.message_id,)
        assert decision.outcomes[0].kind.value == "confirmation-system"
    raw = mails.system_url_notice(sender='"x@sonpo-hosyou-syouken.jp"@yamada.example.co.jp')
    assert _decide(raw, settings).reason != "system-notice"


@pytest.mark.parametrize("raw", [
    pytest.param(mails.dsure_key_mail, id="routed"),
    pytest.param(mails.auto_reply, id="ignored"),
    pytest.param(lambda: mails.legacy_pdf_mail(password_in_body=False, date=BEFORE_CUTOFF),
                 id="held"),
    pytest.param(lambda: _claiming(INSURER, "mx.city.example.jp; dmarc=fail"), id="forged"),
])
def test_a_decision_records_the_messages_it_was_made_on(raw: Any, settings: Settings) -> None:
    """The message's own Message-ID, or the ones given when decided together."""
    mail = read_message(raw())
    office = _checking(settings)
    assert decide(mail, office).sources == (mail.message_id,)
    assert decide(mail, office, sources=("<a@x>", "<b@x>")).sources == ("<a@x>", "<b@x>")


# --- the catalogue and the reply cap ----------------------------------------------------------

def test_an_unknown_code_raises_and_known_ones_keep_their_effect() -> None:
    """A code the catalogue does not know (a newer daemon's, a typo) means nothing by
    default (it used to mean review): asking about it raises; known codes keep theirs."""
    with pytest.raises(KeyError, match="no-such-code"):
        problems.effect("no-such-code")
    with pytest.raises(problems.UnknownCodeError):
        problems.get("auth-key-mising")
    assert problems.effect("auth-key-missing") is Effect.FIX
    assert problems.effect("subject-format") is Effect.WARNING
    assert problems.get("not-mime").effect is Effect.REVIEW


class _History:
    """Earlier replies per address, as the state file would count them."""

    def __init__(self, sent: dict[str, int]) -> None:
        self.sent = sent

    def replies_between(self, address: str | None, start: datetime, end: datetime, *,
                        exclude_sources: tuple[str, ...]) -> int:
        if address is None:
            return sum(self.sent.values())
        return self.sent.get(address, 0)


def _outcome(verdict: Verdict, to: str) -> Outcome:
    return Outcome(verdict, Kind.DSURE_KEY, None, ("auth-key-missing",), (to,), Fields())


def test_the_reply_cap_counts_each_reply_of_the_message(settings: Settings) -> None:
    """Three earlier replies and a cap of five: of three corrections in one message to the
    same address two go and the third goes to review; a routed outcome before them is
    kept as it is."""
    decision = Decision(Verdict.CORRECTION, (
        _outcome(Verdict.ROUTED, "staff@city.example.jp"),
        *[_outcome(Verdict.CORRECTION, YAMADA)] * 3))
    capped = limit_replies(decision, _History({YAMADA: 3}), sources=("<m@x>",),
                           decided_at=datetime(2026, 4, 6, tzinfo=UTC), settings=settings)
    assert [(o.verdict.value, o.route_to) for o in capped.decision.outcomes] == [
        ("routed", ("staff@city.example.jp",)), ("correction", (YAMADA,)),
        ("correction", (YAMADA,)), ("review", REVIEW)]
    assert capped.limited == (YAMADA,)
    assert capped.decision.verdict is Verdict.REVIEW


def test_set_aside_submissions_name_the_attachment_they_came_from(settings: Settings) -> None:
    """A forged mail's key notice set aside still names its PDF; the system's notice,
    written in the mail itself, names none."""
    notice = pdfs.key_notice_pdf(
        company="east", contract_number="2604012345",
        auth_key=mails.default_auth_key("2604012345"), guarantee_type="contract",
        project_name="市道改良工事", contractor="株式会社山田建設")
    raw = mails.build(from_=INSURER, to=mails.OFFICE_ADDRESS, subject="【電子保証】提出",
                      body="送付します。",
                      attachments=[("認証キー.pdf", notice, "application/pdf")],
                      headers={"Authentication-Results": "mx.city.example.jp; dmarc=fail"})
    decision = _decide(raw, _checking(settings))
    assert _seen(decision) == FORGED
    assert [o.source for o in decision.outcomes] == ["認証キー.pdf"]
    system = _decide(mails.system_url_notice(), settings)
    assert [o.to_json()["source"] for o in system.outcomes] == [""]
