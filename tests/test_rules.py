"""Each rule beside the case that must not match it: tests that fail when a rule breaks.

For every rule a user would notice breaking (an address that must count and one that must
not, a host that must pass and one that must not, a follow-up that must pair and one that
must not, a header that must be trusted and one that must not) both sides are asserted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from samples import mails, parties, pdfs

from daemon import log
from daemon.checks import view_url_valid
from daemon.config import Settings
from daemon.decide import decide
from daemon.extract import host_in, url_on_hosts
from daemon.japanese import decode_iso2022jp, decode_text
from daemon.lifecycle import (
    Own,
    limit_replies,
    own_by_headers,
    own_mail,
    quarantine_due,
    secrets_of,
)
from daemon.model import Decision, EarlierSubmission, Fields, Kind, Mail, Outcome, Verdict
from daemon.process import log_read
from daemon.read import ReadLimits, read_message

JST = timezone(timedelta(hours=9))
BEFORE_CUTOFF = datetime(2026, 3, 10, 10, 0, tzinfo=JST)
SYSTEM = "sonpo-hosyou-syouken.jp"
YAMADA = "t-yamada@yamada-kensetsu.example.co.jp"
DESIGNATED = parties.INSURERS["sompo"].designated_address


def _with_insurer_cc(settings: Settings, legacy_cc: list[str]) -> Settings:
    insurers = [i.model_copy(update={"legacy_cc": legacy_cc})
                if i.name == "損害保険ジャパン株式会社" else i for i in settings.insurers]
    return settings.model_copy(update={"insurers": insurers})


def _codes(raw: bytes, settings: Settings) -> tuple[str, tuple[str, ...]]:
    decision = decide(read_message(raw), settings)
    return decision.verdict.value, decision.problems


# --- the insurer's designated address ---------------------------------------------------------

@pytest.mark.parametrize("configured", [
    "Denshi-Hosho@sompo-japan.example.jp", "DENSHI-HOSHO@SOMPO-JAPAN.EXAMPLE.JP", DESIGNATED,
])
@pytest.mark.parametrize("copied", [DESIGNATED, DESIGNATED.upper(),
                                    "Denshi-Hosho@Sompo-Japan.Example.JP"])
def test_designated_address_counts_whatever_its_case(configured: str, copied: str,
                                                     settings: Settings) -> None:
    """The designated address in the config and in Cc compare without regard to case."""
    office = _with_insurer_cc(settings, [configured])
    raw = mails.legacy_pdf_mail(cc=copied, date=BEFORE_CUTOFF)
    assert _codes(raw, office) == ("routed", ())


@pytest.mark.parametrize("cc", [
    None,  # not copied at all
    "x-denshi-hosho@sompo-japan.example.jp",  # a longer address ending the same
    "denshi-hosho@sompo-japan.example.jp.evil.example",  # the right address as a prefix
    "denshi-hosho@ms-ins.example.jp",  # the right local part at another insurer
])
def test_an_address_that_is_not_the_designated_one_does_not_count(cc: str | None,
                                                                   settings: Settings) -> None:
    """Only the designated address itself counts, not one that merely resembles it."""
    raw = mails.legacy_pdf_mail(cc=cc, date=BEFORE_CUTOFF)
    assert _codes(raw, settings) == ("correction", ("insurer-cc-missing",))


def test_the_designated_address_written_in_the_text_does_not_count(settings: Settings) -> None:
    """An address in the body, in Reply-To or as the sender is not a recipient."""
    raw = mails.legacy_pdf_mail(cc=None, date=BEFORE_CUTOFF)
    raw = raw.replace(b"\r\n\r\n", f"\r\nReply-To: {DESIGNATED}\r\n\r\n".encode(), 1)
    mail = read_message(raw)
    mail = mail.__class__(**{**mail.__dict__, "body": f"{mail.body}\nCc: {DESIGNATED}\n"})
    assert DESIGNATED in mail.reply_to
    decision = decide(mail, settings)
    assert (decision.verdict.value, decision.problems) == ("correction", ("insurer-cc-missing",))


# --- ISO-2022-JP as Windows writes it --------------------------------------------------------

# In-range JIS X 0208 codes (both bytes 0x21-0x7E) that CP932 does not define: row 2's gap,
# the empty rows 9-12 and 14-15, and rows 85-88.
UNDEFINED_PAIRS = [b"\x22\x2f", b"\x29\x21", b"\x2c\x7e", b"\x2f\x21", b"\x75\x21", b"\x78\x7e"]


@pytest.mark.parametrize("pair", UNDEFINED_PAIRS)
def test_a_jis_code_cp932_lacks_is_never_replaced(pair: bytes) -> None:
    """A code with no character is an error, never a silent U+FFFD in a number."""
    data = b"\x1b$B#2#0" + pair + b"#1\x1b(B"  # ２０?１
    with pytest.raises(UnicodeDecodeError):
        decode_iso2022jp(data)
    assert "\ufffd" not in decode_text(data, "iso-2022-jp")


def test_defined_neighbours_of_the_gaps_decode() -> None:
    """The codes beside the gaps are characters and decode (the check is not too wide)."""
    assert decode_iso2022jp(b"\x1b$B\x22\x2e\x1b(B") == "〓"
    assert decode_iso2022jp(b"\x1b$B\x2d\x21\x1b(B") == "①"  # NEC row 13
    assert decode_iso2022jp(b"\x1b$B\x79\x21\x1b(B") == "纊"  # NEC-selected IBM, row 89


# --- the log's redactor -----------------------------------------------------------------------

@pytest.fixture
def redactor(monkeypatch: pytest.MonkeyPatch) -> None:
    """A redactor that knows no secret yet, and JSON logs on stdout."""
    monkeypatch.setattr(log, "_secrets", set())
    log.configure()


def _logged(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]


def test_every_key_is_masked_in_the_log_through_the_daemons_path(
        redactor: None, capsys: pytest.CaptureFixture[str], settings: Settings) -> None:
    """message.fetched logs the subject: each submission's 認証キー in it is masked, and the
    保証契約番号 beside it stays readable."""
    keys = ["Xq7Rt2Lm9Pz4", "Hv3Kw8Nb5Jc6"]
    body = (f"保証契約番号：2604012345\n認証キー：{keys[0]}\n契約保証\n\n"
            f"保証契約番号：2604012399\n認証キー：{keys[1]}\n前払金保証\n")
    raw = mails.build(from_=YAMADA, to=mails.OFFICE_ADDRESS, body=body,
                      subject=f"【電子保証】認証キー {keys[0]} / {keys[1]}")
    mail = read_message(raw)
    decision = decide(mail, settings)
    assert len(decision.outcomes) == 2
    log_read(mail, decision, uid=7)
    events = _logged(capsys)
    text = json.dumps(events, ensure_ascii=False)
    assert [e["event"] for e in events] == ["message.fetched", "message.classified"]
    for key in keys:
        assert key not in text
    assert "2604012345" in text  # not a secret: staff find the message by it


def test_viewing_and_document_passwords_are_masked(
        redactor: None, capsys: pytest.CaptureFixture[str], settings: Settings) -> None:
    """The 閲覧用パスワード and a document's password, read through the daemon's path."""
    raw = mails.confirmation_mail()
    mail = read_message(raw)
    decision = decide(mail, settings)
    view = parties.viewing_password("SJ26-0412345")
    assert decision.fields.view_password == view
    follow = read_message(mails.password_followup(password="Zp4Wq8Lk2"))
    assert secrets_of(follow, decide(follow, settings)) == ["Zp4Wq8Lk2"]
    log_read(mail, decision)
    log_read(follow, decide(follow, settings))
    structlog_logger().info("later", subject=f"pw {view} and Zp4Wq8Lk2")
    text = json.dumps(_logged(capsys), ensure_ascii=False)
    assert view not in text
    assert "Zp4Wq8Lk2" not in text


def structlog_logger() -> Any:
    """A logger as the daemon's modules get one."""
    import structlog  # noqa: PLC0415

    return structlog.get_logger("test")


@pytest.mark.parametrize("name", ["auth_key", "view_password", "password", "document_password",
                                  "secret"])
def test_secret_named_keys_are_masked_whatever_their_value(
        name: str, redactor: None, capsys: pytest.CaptureFixture[str]) -> None:
    """A key named as a secret is masked, at the top and nested in fields."""
    structlog_logger().info("x", **{name: "Unregistered1"}, fields={name: "Unregistered2"},
                            contract_number="2604012345")
    (event,) = _logged(capsys)
    assert event[name] == "[REDACTED]"
    assert event["fields"][name] == "[REDACTED]"
    assert event["contract_number"] == "2604012345"


def test_short_values_are_not_registered(redactor: None,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """A value under four characters is not a secret worth masking everywhere (it would
    blank out ordinary words); four and more are."""
    log.register_secret("abc")
    log.register_secret("Wxyz")
    structlog_logger().info("x", subject="abc Wxyz")
    (event,) = _logged(capsys)
    assert event["subject"] == "abc [REDACTED]"


# --- the reply cap ----------------------------------------------------------------------------

@dataclass
class History:
    """Earlier replies per address, as the state file would count them."""

    sent: dict[str, int] = field(default_factory=dict)
    asked: list[tuple[str, datetime, datetime, tuple[str, ...]]] = field(
        default_factory=list)

    hour: int = 0  # replies to anybody in the last hour
    asked_all: list[tuple[datetime, datetime]] = field(default_factory=list)
    password_mail: bool = False  # a password mail was set aside

    def earlier_submissions(self, *_: object, **__: object) -> list[EarlierSubmission]:
        return []

    def password_mail_since(self, sender: str, since: datetime) -> bool:
        return self.password_mail

    def replies_between(self, address: str | None, start: datetime, end: datetime, *,
                        exclude_sources: tuple[str, ...]) -> int:
        if address is None:
            self.asked_all.append((start, end))
            return self.hour
        self.asked.append((address, start, end, exclude_sources))
        return self.sent.get(address, 0)


def _correction(to: str, code: str = "auth-key-missing") -> Outcome:
    return Outcome(Verdict.CORRECTION, Kind.DSURE_KEY, None, (code,), (to,), Fields())


def _decision(*outcomes: Outcome) -> Decision:
    return Decision(Verdict.CORRECTION, outcomes, "", ("<m@x>",))


NOW = datetime(2026, 4, 6, 1, 0, tzinfo=UTC)


@pytest.mark.parametrize(("earlier", "verdict"), [(0, "correction"), (4, "correction"),
                                                  (5, "review"), (9, "review")])
def test_reply_cap_counts_the_last_24_hours(earlier: int, verdict: str,
                                            settings: Settings) -> None:
    """Five replies a day to one address (the test office's cap), the sixth goes to review."""
    assert settings.replies.per_sender_per_day == 5
    history = History({YAMADA: earlier})
    capped = limit_replies(_decision(_correction(YAMADA)), history, sources=("<m@x>",),
                           decided_at=NOW, settings=settings)
    assert capped.decision.verdict.value == verdict
    assert history.asked == [(YAMADA, NOW - timedelta(hours=24), NOW, ("<m@x>",))]
    if verdict == "review":
        (outcome,) = capped.decision.outcomes
        assert outcome.problems == ("auth-key-missing", "reply-limit-reached")
        assert outcome.route_to == tuple(settings.routing.review)
        assert capped.limited == (YAMADA,)
    else:
        assert capped.decision.outcomes[0].route_to == (YAMADA,)
        assert capped.limited == ()


@pytest.mark.parametrize(("hour", "verdicts"), [
    (0, ["correction", "correction"]), (28, ["correction", "correction"]),
    (29, ["correction", "review"]), (30, ["review", "review"]), (99, ["review", "review"]),
])
def test_the_office_sends_at_most_per_hour_replies_in_all(
        hour: int, verdicts: list[str], settings: Settings) -> None:
    """replies.per_hour (30 here) counts replies to anybody in the last hour, and this
    message's own: a sender cycling through addresses cannot make the office write more."""
    assert settings.replies.per_hour == 30
    history = History(hour=hour)
    other = "someone@other.example.jp"
    capped = limit_replies(_decision(_correction(YAMADA), _correction(other)), history,
                           sources=("<m@x>",), decided_at=NOW, settings=settings)
    assert [o.verdict.value for o in capped.decision.outcomes] == verdicts
    assert history.asked_all == [(NOW - timedelta(hours=1), NOW)]
    for outcome in capped.decision.outcomes:
        assert ("reply-limit-reached" in outcome.problems) is (outcome.verdict.value == "review")


def test_reply_cap_counts_replies_within_one_message(settings: Settings) -> None:
    """Two corrections in one message to an address with four earlier: one goes, one not;
    another address is counted apart."""
    other = "someone@other.example.jp"
    history = History({YAMADA: 4})
    decision = _decision(_correction(YAMADA), _correction(YAMADA, "view-url-missing"),
                         _correction(other))
    capped = limit_replies(decision, history, sources=("<m@x>",), decided_at=NOW, settings=settings)
    assert [o.verdict.value for o in capped.decision.outcomes] == [
        "correction", "review", "correction"]
    assert capped.decision.verdict is Verdict.REVIEW
    assert capped.limited == (YAMADA,)


def test_reply_cap_of_zero_sends_no_reply(settings: Settings) -> None:
    """replies.per_sender_per_day = 0: every correction goes to review."""
    office = settings.model_copy(update={"replies": settings.replies.model_copy(
        update={"per_sender_per_day": 0})})
    capped = limit_replies(_decision(_correction(YAMADA)), History(), sources=("<m@x>",),
                           decided_at=NOW, settings=office)
    assert capped.decision.verdict is Verdict.REVIEW


def test_reply_cap_leaves_other_verdicts_alone(settings: Settings) -> None:
    """A routed submission and a message with no submission are not capped."""
    routed = Outcome(Verdict.ROUTED, Kind.DSURE_KEY, None, (), ("staff@x.jp",), Fields())
    history = History({YAMADA: 99})
    capped = limit_replies(Decision(Verdict.ROUTED, (routed,)), history, sources=("<m@x>",),
                           decided_at=NOW, settings=settings)
    assert capped.decision.verdict is Verdict.ROUTED
    assert history.asked == []
    empty = Decision(Verdict.IGNORED, (), "bounce")
    assert limit_replies(empty, history, sources=("<m@x>",), decided_at=NOW,
                         settings=settings).decision == empty


# --- the confirmation system's host -----------------------------------------------------------

@pytest.mark.parametrize("host", [SYSTEM, f"www.{SYSTEM}", f"WWW.{SYSTEM.upper()}",
                                  f"a.b.{SYSTEM}.", f"www.{SYSTEM}."])
def test_the_systems_host_and_its_subdomains_pass(host: str) -> None:
    """The configured domain, any subdomain, any case, with the root dot."""
    assert host_in(host, [SYSTEM])
    assert url_on_hosts(f"https://{host}/view?k=abc", [SYSTEM])


@pytest.mark.parametrize("host", [f"evil-{SYSTEM}", f"x{SYSTEM}", f"{SYSTEM}.evil.example",
                                  f"www.{SYSTEM}-evil.example", "sonpo-hosyou-syouken.jp.evil",
                                  "evil.example", ""])
def test_a_host_that_only_resembles_the_system_does_not_pass(host: str) -> None:
    """No dot boundary, the domain as a prefix, or another host: not the system."""
    assert not host_in(host, [SYSTEM])
    assert not url_on_hosts(f"https://{host}/view?k=abc", [SYSTEM])


@pytest.mark.parametrize("url", [
    f"https://{SYSTEM}/view?k=abc", f"https://www.{SYSTEM}/view", f"HTTPS://{SYSTEM.upper()}/v",
    f"https://{SYSTEM}:443/view", f"https://{SYSTEM}./view",
])
def test_a_system_url_over_https_is_valid(url: str) -> None:
    assert view_url_valid(url, [SYSTEM])


@pytest.mark.parametrize("url", [
    f"http://{SYSTEM}/view", f"https://user@{SYSTEM}/view", f"https://user:pw@{SYSTEM}/v",
    f"https://{SYSTEM}:8443/view", f"https://{SYSTEM}\\@evil.example/view",
    f"https://evil.example\\{SYSTEM}/view", f"https://{SYSTEM}:99999/view",
    f"https://{SYSTEM}@evil.example/view", f"ftp://{SYSTEM}/view", "https:///view",
    f"https://evil.example/{SYSTEM}", "https://[::1/view",
])
def test_a_url_staff_must_not_open_is_invalid(url: str) -> None:
    """Plain http, a user name (the host is what follows the @), another port, a
    backslash, another host: view-url-invalid."""
    assert not view_url_valid(url, [SYSTEM])


def test_a_form_pointing_elsewhere_gets_view_url_invalid(settings: Settings) -> None:
    """A form whose 閲覧用URL is on a look-alike host asks for the system's URL."""
    raw = mails.confirmation_mail(view_url=f"https://evil-{SYSTEM}/view?k=abc")
    assert _codes(raw, settings) == ("correction", ("view-url-invalid",))


def _mail(raw: bytes) -> Mail:
    return read_message(raw)


# --- the loop's own decisions -----------------------------------------------------------------

def test_own_copy_needs_the_daemons_sender_and_its_header(settings: Settings) -> None:
    """Only a mail from the daemon's sender that names its source is its own copy."""
    sender = settings.smtp.sender

    def mail(from_: str, source: bool) -> Mail:
        headers = {"X-Surety-Source": "<a@b>"} if source else None
        return _mail(mails.build(from_=from_, to=mails.OFFICE_ADDRESS, subject="x", body="y",
                                 headers=headers))

    assert own_mail(mail(sender, source=True), settings) is Own.COPY
    assert own_mail(mail(sender.upper(), source=True), settings) is Own.COPY
    assert own_mail(mail(sender, source=False), settings) is Own.OTHER
    assert own_mail(mail(YAMADA, source=True), settings) is None


@pytest.mark.parametrize(("from_", "headers", "own"), [
    ("{sender}", {"X-Surety-Source": "<a@b>"}, Own.COPY),
    ("Surety Intake <{upper}>", {"X-Surety-Source": "<a@b>"}, Own.COPY),
    ("{sender}", None, Own.OTHER),
    ("{sender}", {"X-Surety-Verdict": "routed"}, Own.OTHER),
    (YAMADA, {"X-Surety-Verdict": "routed", "X-Surety-Source": "<a@b>"}, Own.OTHER),
    (YAMADA, {"X-Surety-Source": "<a@b>"}, None),
    (YAMADA, None, None),
])
def test_the_headers_alone_tell_an_own_copy_as_the_whole_message_does(
        settings: Settings, from_: str, headers: dict[str, str] | None, own: Own | None) -> None:
    """A copy is filed without fetching its body: its headers give the same answer."""
    sender = settings.smtp.sender
    raw = mails.build(from_=from_.format(sender=sender, upper=sender.upper()),
                      to=mails.OFFICE_ADDRESS, subject="x", body="y", headers=headers)
    head = raw.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
    assert own_mail(_mail(raw), settings) is own
    assert own_by_headers(head, settings) is own


def test_quarantine_after_the_configured_number_of_failures(settings: Settings) -> None:
    """limits.max_attempts failures set a message aside; one fewer does not."""
    most = settings.limits.max_attempts
    assert quarantine_due(most, settings)
    assert quarantine_due(most + 1, settings)
    assert not quarantine_due(most - 1, settings)
    assert not quarantine_due(0, settings)


# --- authentication results and machine mail ------------------------------------------------

def _secured(settings: Settings) -> Settings:
    security = settings.security.model_copy(update={"authserv_id": "mail.city.example.jp"})
    return settings.model_copy(update={"security": security})


@pytest.mark.parametrize(("results", "verdict"), [
    ("mail.city.example.jp; dkim=fail header.d=sompo-japan.example.jp; dmarc=none", "review"),
    ("mail.city.example.jp; dkim=fail header.d=sompo-japan.example.jp", "review"),
    ("mail.city.example.jp; dkim=pass header.d=sompo-japan.example.jp; dmarc=none", "routed"),
    ("mail.city.example.jp; dmarc=pass header.from=sompo-japan.example.jp", "routed"),
    ("mail.city.example.jp; dmarc=fail header.from=sompo-japan.example.jp", "review"),
])
def test_dkim_and_dmarc_results_of_the_office_server(results: str, verdict: str,
                                                     settings: Settings) -> None:
    """A failed DKIM signature counts even when DMARC has no policy (dmarc=none)."""
    raw = mails.confirmation_mail()
    raw = raw.replace(b"From: ", b"X-Original-From: ", 1)
    raw = (f"From: agent@sompo-japan.example.jp\r\nAuthentication-Results: {results}\r\n"
           ).encode() + raw
    decision = decide(read_message(raw), _secured(settings))
    assert decision.verdict.value == verdict
    if verdict == "review":
        assert decision.problems == ("sender-not-authenticated",)


@pytest.mark.parametrize(("precedence", "verdict"), [
    ("bulk", "ignored"), ("junk", "ignored"), ("list", "ignored"), ("Bulk", "ignored"),
    ("first-class", "routed"), ("normal", "routed"),
])
def test_precedence_header(precedence: str, verdict: str, settings: Settings) -> None:
    """Precedence: bulk, junk or list is machine mail; other values are a person's."""
    raw = b"Precedence: " + precedence.encode() + b"\r\n" + mails.dsure_key_mail()
    decision = decide(read_message(raw), settings)
    assert decision.verdict.value == verdict


def _plain(body: str, headers: dict[str, str] | None = None,
           subject: str = "Re: 【電子保証】提出について") -> Mail:
    return read_message(mails.build(from_=YAMADA, to=mails.OFFICE_ADDRESS, subject=subject,
                                    body=body, headers=headers))


@pytest.mark.parametrize("header", [("X-Autoreply", "yes"), ("X-Autorespond", "vacation"),
                                    ("Precedence", "auto_reply"), ("Precedence", "Auto_Reply")])
def test_auto_responder_headers_are_machine_mail(header: tuple[str, str],
                                                 settings: Settings) -> None:
    """Headers auto-responders set without Auto-Submitted mark the mail as machine mail,
    even when it quotes a submission's values."""
    body = "保証契約番号：2604012345\n認証キー：Xq7Rt2Lm9Pz4\n"
    decision = decide(_plain(body, {header[0]: header[1]}), settings)
    assert (decision.verdict.value, decision.reason) == ("ignored", "auto-reply")


@pytest.mark.parametrize("opening", [
    "このメールは自動応答です。", "【自動返信】お問い合わせありがとうございます。",
    "ただいま不在にしております。4月10日に戻ります。",
])
def test_an_auto_reply_by_its_opening_words(opening: str, settings: Settings) -> None:
    """A mail whose first lines say it is an auto-reply gets no answer."""
    body = f"\n\n \n\u3000\n{opening}\n\n山田建設 工事部 山田\n"  # blank lines do not count
    decision = decide(_plain(body, subject="Re: 電子保証"), settings)
    assert (decision.verdict.value, decision.reason) == ("ignored", "auto-reply")


def test_a_persons_mail_mentioning_an_auto_reply_further_down(settings: Settings) -> None:
    """Auto-reply words below the opening lines, or beside attached documents, are a
    person's words: the mail is decided as usual."""
    body = ("契約課 御中\n\n株式会社山田建設の山田です。\n下記のとおり提出いたします。\n"
            "保証契約番号：2604012345\n認証キー：Xq7Rt2Lm9Pz4\n契約保証\n"
            "※担当者が不在にしております場合は、工事部までご連絡ください。\n")
    assert decide(_plain(body), settings).verdict.value == "routed"
    mail = read_message(mails.dsure_key_mail())
    top = mail.__class__(**{**mail.__dict__, "body": "不在にしております\n" + mail.body})
    assert decide(top, settings).verdict.value == "routed"
    other = _plain(body, {"X-Autoreply-Note": "x", "Precedence": "first-class"})
    assert decide(other, settings).verdict.value == "routed"


# --- one cause, one code; a correction lists only what to fix --------------------------------

def _with_policy(settings: Settings, **changes: object) -> Settings:
    return settings.model_copy(update={"policy": settings.policy.model_copy(update=changes)})


def test_a_subject_warning_goes_on_routed_mail_not_on_a_correction(settings: Settings) -> None:
    """subject-format is shown to staff on a routed submission, and left off a correction
    (the contractor fixes what is missing, not the subject)."""
    office = _with_policy(settings, subject_patterns={"contract": "^【契約保証】"})
    routed = decide(read_message(mails.dsure_key_mail()), office)
    assert (routed.verdict.value, routed.problems) == ("routed", ("subject-format",))
    fix = decide(read_message(mails.dsure_key_mail(in_body=True, omit=("auth_key",))), office,
                 can_wait=False)
    assert (fix.verdict.value, fix.problems) == ("correction", ("auth-key-missing",))
    right = mails.dsure_key_mail(in_body=True, omit=("auth_key",))
    right = right.replace(b"Subject: ", b"Subject: =?UTF-8?B?44CQ5aWR57SE5L+d6Ki844CR?= ", 1)
    assert decide(read_message(right), office, can_wait=False).problems == (
        "auth-key-missing",)


@pytest.mark.parametrize("basis", ["received", "issued"])
def test_a_sealed_policy_whose_password_never_came(basis: str, settings: Settings) -> None:
    """Once the wait is over, a password-protected PDF policy asks for its password, also
    where the cut-off counts by issue date (the date is unread, not missing); a readable
    policy with no date still goes to review under that basis."""
    office = _with_policy(settings, legacy_pdf_basis=basis)
    sealed = read_message(mails.legacy_pdf_mail(password_in_body=False, date=BEFORE_CUTOFF))
    decision = decide(sealed, office, can_wait=False)
    assert (decision.verdict.value, decision.problems) == (
        "correction", ("attachment-password-missing",))
    assert decide(sealed, office).verdict.value == "held"


@pytest.mark.parametrize("body", [
    "担当の山田は本日不在にしておりますので、代理で送付します。\n保証契約番号：2604012345\n"
    "認証キー：Xq7Rt2Lm9Pz4\n契約保証\n",
    "担当者が不在にしておりますため代理でお送りします。\n閲覧用パスワード：Zz9876543210\n",
    "担当者が不在にしておりますため代理でお送りします。\n閲覧用URL：https://www.sonpo-hosyou-syouken.jp/v\n",
    "担当者が不在にしておりますため代理でお送りします。\nパスワード：Kk2604#tot\n",
])
def test_a_person_away_who_types_values_is_not_an_auto_reply(body: str,
                                                             settings: Settings) -> None:
    """"不在にしております" opening a mail that types a number, key, URL or password is a
    colleague submitting on someone's behalf, never machine mail."""
    assert decide(_plain(body, subject="電子保証"), settings).reason != "auto-reply"


# --- who a correction may go to ---------------------------------------------------------------

def _typed_from(from_: str, reply_to: str | None = None) -> Mail:
    raw = mails.build(from_=from_, to=mails.OFFICE_ADDRESS, reply_to=reply_to,
                      subject="【電子保証】契約保証", body="契約保証\n保証契約番号：2604012345\n")
    return read_message(raw)


@pytest.mark.parametrize(("from_", "reply_to", "expected"), [
    (YAMADA, None, YAMADA),
    (YAMADA, "jimu@yamada-kensetsu.example.co.jp", "jimu@yamada-kensetsu.example.co.jp"),
    (YAMADA, "Jimu@Mail.Yamada-Kensetsu.example.co.jp", "jimu@mail.yamada-kensetsu.example.co.jp"),
    (YAMADA, "someone@attacker.example.com", YAMADA),
    (YAMADA, "someone@attacker.example.co.jp", YAMADA),  # another company, same example suffix
    (YAMADA, "keiyaku-hosho@city.example.jp", YAMADA),
    (YAMADA, "a@yamada-kensetsu.example.co.jp, b@yamada-kensetsu.example.co.jp", YAMADA),
    ("yamada@gmail.com", "other@gmail.com", "other@gmail.com"),
    ("t-yamada@example.co.jp", "x@other.co.jp", "t-yamada@example.co.jp"),
])
def test_a_correction_goes_to_the_contractor_only(from_: str, reply_to: str | None,
                                                  expected: str, settings: Settings) -> None:
    """Reply-To counts only as one address of the sender's own organisation (the same
    registrable domain); otherwise the correction goes to From."""
    decision = decide(_typed_from(from_, reply_to), settings, can_wait=False)
    assert (decision.verdict.value, decision.route_to) == ("correction", (expected,))


@pytest.mark.parametrize("from_", [
    "keiyaku-hosho@city.example.jp", "review@city.example.jp", "somebody@city.example.jp",
    "keiyaku@city.example.jp", "KEIYAKU@CITY.EXAMPLE.JP",
    "staff@sub.city.example.jp", "nobody@localhost", "",
])
def test_the_office_never_writes_to_itself(from_: str, settings: Settings) -> None:
    """A mail from the office's own domain, staff, intake or the daemon's sender, or with
    no usable address, is never answered: a person looks (no-reply-address)."""
    mail = _typed_from(from_ or "x", None)
    if not from_:
        mail = mail.__class__(**{**mail.__dict__, "from_addr": ""})
    decision = decide(mail, settings, can_wait=False)
    assert decision.verdict.value == "review"
    assert "no-reply-address" in decision.problems
    assert decision.route_to == tuple(settings.routing.review)


# --- too many submissions in one mail ----------------------------------------------------------

def _flood(blocks: int) -> Mail:
    body = "".join(f"保証契約番号：26040{n:05d}\n認証キー：Kx{n:06d}Qz\n契約保証\n\n"
                   for n in range(blocks))
    return read_message(mails.build(from_=YAMADA, to=mails.OFFICE_ADDRESS,
                                    subject="【電子保証】契約保証", body=body))


@pytest.mark.parametrize("blocks", [11, 12, 1600])
def test_more_submissions_than_the_limit_is_one_review(blocks: int,
                                                       settings: Settings) -> None:
    """limits.max_submissions (10): more typed guarantees in one mail give one review
    outcome (one mail to a person), never a mail per guarantee."""
    assert settings.limits.max_submissions == 10
    mail = _flood(blocks)
    decision = decide(mail, settings)
    assert (decision.verdict.value, decision.problems) == ("review", ("too-many-submissions",))
    assert decision.reason == "too-many-submissions"
    assert decision.sources == (mail.message_id,)
    [outcome] = decision.outcomes
    assert decision.route_to == tuple(settings.routing.review)
    # The one outcome shows staff the mail's first guarantee, as typed.
    assert (outcome.kind.value, outcome.fields.contract_number, outcome.fields.auth_key) == (
        "dsure-key", "2604000000", "Kx000000Qz")


def test_up_to_the_limit_each_submission_is_decided(settings: Settings) -> None:
    decision = decide(_flood(10), settings)
    assert decision.verdict.value == "routed"
    assert len(decision.outcomes) == 10


def test_text_beyond_the_limit_is_not_read_and_goes_to_review(settings: Settings) -> None:
    """A body of megabytes (PW PW PW ...) is read only up to limits.text_chars: the work
    stays bounded and a person looks (too-large); a normal body is read whole."""
    raw = mails.build(from_=YAMADA, to=mails.OFFICE_ADDRESS, subject="【電子保証】",
                      body="PW" * 300_000, charset="utf-8")
    mail = read_message(raw, limits=ReadLimits(text_chars=100_000))
    assert len(mail.body) == 100_000
    assert (mail.attachments[-1].filename, mail.attachments[-1].status.value) == (
        "(text)", "too-large")
    decision = decide(mail, settings)
    assert (decision.verdict.value, decision.problems) == ("review", ("too-large",))
    normal = read_message(mails.dsure_key_mail(), limits=ReadLimits(text_chars=100_000))
    assert [a.filename for a in normal.attachments if a.status.value == "too-large"] == []


# --- the promises about attachments hold --------------------------------------------------------

def _needs_invoice(settings: Settings) -> Settings:
    return settings.model_copy(update={"policy": settings.policy.model_copy(
        update={"advance_payment_needs_invoice": True})})


def _advance_with(invoice: tuple[str, bytes, str] | None) -> Mail:
    notice = pdfs.key_notice_pdf(company="east", contract_number="2604012345",
                                 auth_key="AbCd1234EfGh", guarantee_type="advance-payment",
                                 project_name="令和8年度 市道中央線道路改良工事",
                                 contractor="株式会社山田建設")
    files = [("認証キー等のお知らせ.pdf", notice, "application/pdf")]
    if invoice:
        files.append(invoice)
    return read_message(mails.build(from_=YAMADA, to=mails.OFFICE_ADDRESS,
                                    subject="【請求関係書類】前払金", body="送付します。",
                                    attachments=files))


@pytest.mark.parametrize("invoice", [
    ("請求書.pdf", b"", "application/pdf"),  # empty
    ("請求書.pdf", b"%PDF-1.4 garbage", "application/pdf"),  # broken
    ("請求書.pdf", b"   \r\n", "application/pdf"),
    None,
])
def test_an_empty_or_broken_invoice_does_not_count(invoice: tuple[str, bytes, str] | None,
                                                    settings: Settings) -> None:
    """A file named 請求書 that is empty or cannot be opened is no invoice."""
    decision = decide(_advance_with(invoice), _needs_invoice(settings))
    assert "invoice-missing" in decision.problems


def test_a_real_or_scanned_invoice_counts(settings: Settings) -> None:
    typed = pdfs.invoice_pdf(contractor="株式会社山田建設",
                             project_name="令和8年度 市道中央線道路改良工事", amount=12_340_000)
    for data in (typed, pdfs.scan_pdf(lines=("請求書", "金 12,340,000 円"))):
        decision = decide(_advance_with(("請求書.pdf", data, "application/pdf")),
                          _needs_invoice(settings))
        assert "invoice-missing" not in decision.problems


def test_parts_over_the_limits_send_a_complete_typed_submission_to_review(
        settings: Settings) -> None:
    """Typed values complete, but attachments over limits.attachments were never opened:
    a person looks (too-large), it is not routed as if nothing else came."""
    files = [(f"file{n}.txt", b"x", "text/plain") for n in range(5)]
    raw = mails.build(from_=YAMADA, to=mails.OFFICE_ADDRESS, subject="【電子保証】契約保証",
                      body="契約保証\n保証契約番号：2604012345\n認証キー：AbCd1234EfGh\n",
                      attachments=files)
    within = decide(read_message(raw, limits=ReadLimits(attachments=5)), settings)
    assert within.verdict.value == "routed"
    over = decide(read_message(raw, limits=ReadLimits(attachments=4)), settings)
    assert (over.verdict.value, over.problems) == ("review", ("too-large",))


@pytest.mark.parametrize(("url", "shown"), [
    (f"HTTPS://WWW.{SYSTEM.upper()}/view?k=AbC", f"https://www.{SYSTEM}/view?k=AbC"),
    ("https://ѕonpo-hosyou-syouken.jp/v", "https://xn--onpo-hosyou-syouken-u9p.jp/v"),
    ("https://user:pw@evil.example:8443/v", "https://(user)@evil.example:8443/v"),
    ("http://[::1/x", "http://[::1/x"),
    ("https:///view", "https:///view"),  # no host: nothing made up
])
def test_staff_see_a_url_as_parsed(url: str, shown: str) -> None:
    """The staff mail shows the host a browser would reach: lower case, IDNA-encoded (a
    Cyrillic look-alike shows as xn--), a user name marked, never hidden."""
    from daemon.checks import shown_url  # noqa: PLC0415

    assert shown_url(url) == shown


def test_only_the_missing_password_code_becomes_the_wrong_one(settings: Settings) -> None:
    """With a password mail set aside, attachment-password-missing becomes
    attachment-password-wrong; the outcome's other codes stay as they are."""
    from daemon.decide import finalize  # noqa: PLC0415

    outcome = Outcome(Verdict.CORRECTION, Kind.LEGACY_PDF, None,
                      ("insurer-cc-missing", "attachment-password-missing"), (YAMADA,), Fields())
    mail = read_message(mails.build(from_=YAMADA, to=mails.OFFICE_ADDRESS, subject="x",
                                    body="y"))
    final = finalize(Decision(Verdict.CORRECTION, (outcome,), "", ("<m@x>",)), mail, settings,
                     now=NOW, history=History(password_mail=True))
    assert final.problems == ("insurer-cc-missing", "attachment-password-wrong")
