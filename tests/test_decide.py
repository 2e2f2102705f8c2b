"""The pure middle on realistic submissions: kind, verdict, guarantee type, codes, fields.

Every case is a whole message as a contractor, insurer or mail client writes it (see
tests/samples), read and decided without any server.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from samples import mails, parties, pdfs

from daemon.config import Settings
from daemon.decide import decide
from daemon.model import Decision
from daemon.read import read_message

JST = timezone(timedelta(hours=9))
BEFORE_CUTOFF = datetime(2026, 3, 10, 10, 0, tzinfo=JST)  # test office: until 2026-03-31

NUMBER = "2604012345"
KEY = mails.default_auth_key(NUMBER)
POLICY = "SJ26-0412345"
PROJECT = "令和8年度 市道中央線道路改良工事"
CONTRACTOR = "株式会社山田建設"

Case = tuple[Callable[[], bytes], str, str, str | None, tuple[str, ...]]

CASES: dict[str, Case] = {
    # name: (message, kind, verdict, guarantee type, problems)
    "key notice PDF, contract, east, ISO-2022-JP":
        (mails.dsure_key_mail, "dsure-key", "routed", "contract", ()),
    "key notice, advance payment with invoice":
        (lambda: mails.dsure_key_mail(guarantee_type="advance-payment", with_invoice=True),
         "dsure-key", "routed", "advance-payment", ()),
    "key notice, interim advance, west, Outlook charset":
        (lambda: mails.dsure_key_mail(guarantee_type="interim-advance-payment", company="west",
                                      charset="outlook"),
         "dsure-key", "routed", "interim-advance-payment", ()),
    "key notice, hokkaido (保証番号, 認証ｷｰ), Shift_JIS, RFC 2047 file name":
        (lambda: mails.dsure_key_mail(company="hokkaido", charset="shift_jis",
                                      filename_style="rfc2047"),
         "dsure-key", "routed", "contract", ()),
    "key notice, full-width digits, raw UTF-8 file name":
        (lambda: mails.dsure_key_mail(fullwidth=True, charset="utf-8",
                                      filename_style="raw-utf8"),
         "dsure-key", "routed", "contract", ()),
    "key typed in the body, 4 layouts": (lambda: b"", "", "", None, ()),  # expanded below
    "key notice without 認証キー (typed in body)":
        (lambda: mails.dsure_key_mail(in_body=True, omit=("auth_key",)),
         "dsure-key", "held", "contract", ("auth-key-missing",)),
    "key notice without 保証契約番号 (typed in body)":
        (lambda: mails.dsure_key_mail(in_body=True, omit=("contract_number",)),
         "dsure-key", "held", "contract", ("contract-number-missing",)),
    "confirmation form PDF, complete":
        (mails.confirmation_mail, "confirmation-system", "routed", "contract", ()),
    "confirmation form as xlsx":
        (lambda: mails.confirmation_mail(form="xlsx"),
         "confirmation-system", "routed", "contract", ()),
    "confirmation form as docx":
        (lambda: mails.confirmation_mail(form="docx"),
         "confirmation-system", "routed", "contract", ()),
    "confirmation, URL in the body":
        (lambda: mails.confirmation_mail(url_in_body=True),
         "confirmation-system", "routed", "contract", ()),
    "confirmation form without 閲覧用URL waits for the URL":
        (lambda: mails.confirmation_mail(omit=("view_url",)),
         "confirmation-system", "held", "contract", ("view-url-missing",)),
    "confirmation without 閲覧用パスワード":
        (lambda: mails.confirmation_mail(omit=("view_password",)),
         "confirmation-system", "correction", "contract", ("view-password-missing",)),
    "confirmation without 工事名":
        (lambda: mails.confirmation_mail(omit=("project_name",)),
         "confirmation-system", "correction", "contract", ("project-name-missing",)),
    "confirmation without 受注者名":
        (lambda: mails.confirmation_mail(omit=("contractor",)),
         "confirmation-system", "correction", "contract", ("contractor-name-missing",)),
    "confirmation without 閲覧用パスワード nor 受注者名":
        (lambda: mails.confirmation_mail(omit=("view_password", "contractor")),
         "confirmation-system", "correction", "contract",
         ("view-password-missing", "contractor-name-missing")),
    "legacy PDF, insurer CC, before the cut-off":
        (lambda: mails.legacy_pdf_mail(date=BEFORE_CUTOFF),
         "legacy-pdf", "routed", "contract", ()),
    "legacy PDF sent by the insurer's agent":
        (lambda: mails.legacy_pdf_mail(sender="agent", date=BEFORE_CUTOFF),
         "legacy-pdf", "routed", "contract", ()),
    "legacy PDF without the insurer CC":
        (lambda: mails.legacy_pdf_mail(cc=None, date=BEFORE_CUTOFF),
         "legacy-pdf", "correction", "contract", ("insurer-cc-missing",)),
    "legacy PDF copying another insurer's address":
        (lambda: mails.legacy_pdf_mail(cc=parties.INSURERS["tokio"].designated_address,
                                       date=BEFORE_CUTOFF),
         "legacy-pdf", "correction", "contract", ("insurer-cc-missing",)),
    "legacy PDF after the cut-off, no CC":
        (lambda: mails.legacy_pdf_mail(cc=None),
         "legacy-pdf", "correction", "contract", ("insurer-cc-missing", "legacy-deadline-passed")),
    "legacy PDF without its password waits for it":
        (lambda: mails.legacy_pdf_mail(password_in_body=False, date=BEFORE_CUTOFF),
         "legacy-pdf", "held", "contract", ("attachment-unreadable",)),
    "out-of-office auto reply":
        (mails.auto_reply, "other", "ignored", None, ()),
    "read receipt (MDN)": (mails.read_receipt, "other", "ignored", None, ()),
    "bounce from MAILER-DAEMON": (mails.bounce, "other", "ignored", None, ()),
    "mailing list": (mails.mailing_list, "other", "ignored", None, ()),
    "a question about a tender":
        (mails.unrelated, "other", "review", None, ("not-a-submission",)),
    "a message that is not MIME (raw Shift_JIS), saying the notice went by post":
        (mails.not_mime, "other", "review", None, ("not-mime", "not-a-submission")),
    "the system's URL notice sent to the office directly":
        (mails.system_url_notice, "confirmation-system", "review", "contract",
         ("system-notice",)),
    "the system's URL notice forwarded without the form waits for the form":
        (lambda: mails.system_url_notice(forwarded=True), "confirmation-system", "held",
         "contract", ("view-password-missing", "project-name-missing",
                      "contractor-name-missing")),
}
del CASES["key typed in the body, 4 layouts"]
for style in range(4):
    CASES[f"key typed in the body, layout {style}"] = (
        lambda style=style: mails.dsure_key_mail(in_body=True, style=style, fullwidth=style == 3),
        "dsure-key", "routed", "contract", (),
    )


def _decide(raw: bytes, settings: Settings) -> Decision:
    return decide(read_message(raw), settings)


@pytest.mark.parametrize("name", list(CASES))
def test_verdict(name: str, settings: Settings) -> None:
    """Each realistic message gets the kind, verdict, guarantee type and codes a clerk would."""
    make, kind, verdict, guarantee, problems = CASES[name]
    decision = _decide(make(), settings)
    assert decision.kind.value == kind
    assert decision.verdict.value == verdict
    assert (decision.guarantee_type.value if decision.guarantee_type else None) == guarantee
    assert decision.problems == problems


@pytest.mark.parametrize("company", ["east", "west", "hokkaido"])
@pytest.mark.parametrize("fullwidth", [False, True])
def test_key_notice_fields(company: str, fullwidth: bool, settings: Settings) -> None:
    """The key notice's number and key come out exactly, whatever the layout and digits."""
    decision = _decide(mails.dsure_key_mail(company=company, fullwidth=fullwidth), settings)
    fields = decision.fields
    assert fields.contract_number == NUMBER
    assert fields.auth_key == KEY
    assert fields.project_name == PROJECT
    assert fields.contractor_name == CONTRACTOR
    assert fields.guarantor == parties.guarantee_company(company).name


def test_routes_by_guarantee_type(settings: Settings) -> None:
    """Contract guarantees go to the contract section, advances to the works section."""
    contract = _decide(mails.dsure_key_mail(), settings)
    advance = _decide(mails.dsure_key_mail(guarantee_type="advance-payment"), settings)
    interim = _decide(mails.dsure_key_mail(guarantee_type="interim-advance-payment"), settings)
    assert contract.route_to == tuple(settings.routing.contract_guarantee)
    assert advance.route_to == tuple(settings.routing.advance_payment)
    assert interim.route_to == tuple(settings.routing.advance_payment)


def test_confirmation_fields(settings: Settings) -> None:
    """The form's URL, password, works and contractor are read; the insurer is named."""
    fields = _decide(mails.confirmation_mail(), settings).fields
    assert fields.view_url == parties.viewing_url(POLICY)
    assert fields.view_password == parties.viewing_password(POLICY)
    assert fields.project_name == PROJECT
    assert fields.contractor_name == CONTRACTOR
    assert fields.policy_number == POLICY
    assert fields.insurer == "損害保険ジャパン株式会社"


def test_correction_goes_to_reply_to(settings: Settings) -> None:
    """A correction is addressed to Reply-To when the sender set one, else to From."""
    plain = _decide(mails.confirmation_mail(omit=("view_password",)), settings)
    assert plain.route_to == (parties.CONTRACTORS["yamada"].address_email,)
    raw = mails.build(from_="山田 太郎 <t-yamada@yamada-kensetsu.example.co.jp>",
                      reply_to="keiri@yamada-kensetsu.example.co.jp",
                      to="keiyaku@city.example.jp", subject="【電子保証】契約保証",
                      body=f"契約保証の認証キーです。\n保証契約番号：{NUMBER}\n")
    decision = decide(read_message(raw), settings, can_wait=False)
    assert decision.problems == ("auth-key-missing",)
    assert decision.route_to == ("keiri@yamada-kensetsu.example.co.jp",)


def test_cutoff_day_is_inclusive_in_japan_time(settings: Settings) -> None:
    """Received 2026-03-31 23:59 JST is in time; 2026-04-01 00:00 JST (15:00 UTC) is late."""
    last = datetime(2026, 3, 31, 23, 59, tzinfo=JST)
    raw = mails.legacy_pdf_mail(date=last)
    assert _decide(raw, settings).problems == ()
    late = read_message(raw, received_at=datetime(2026, 3, 31, 15, 0, tzinfo=UTC))
    assert decide(late, settings).problems == ("legacy-deadline-passed",)


def test_arrival_time_beats_the_date_header(settings: Settings) -> None:
    """The server's arrival time decides the deadline, not the sender's Date header."""
    raw = mails.legacy_pdf_mail(date=BEFORE_CUTOFF)
    arrived_late = read_message(raw, received_at=datetime(2026, 4, 2, 9, 0, tzinfo=JST))
    assert decide(arrived_late, settings).problems == ("legacy-deadline-passed",)


def test_own_mail_is_ignored(settings: Settings) -> None:
    """A mail the daemon sent (its sender, or X-Surety-* headers) gets no answer."""
    raw = mails.build(from_=settings.smtp.sender, to="keiyaku@city.example.jp",
                      subject="【電子保証 受付】", body="テスト")
    assert _decide(raw, settings).reason == "own-mail"
    raw = mails.build(from_="someone@example.jp", to="keiyaku@city.example.jp",
                      subject="Re: 【電子保証 再提出のお願い】", body="テスト",
                      headers={"X-Surety-Verdict": "correction"})
    assert _decide(raw, settings).verdict.value == "ignored"


@pytest.mark.parametrize(
    ("headers", "subject", "reason"),
    [
        ({"Auto-Submitted": "auto-generated"}, "お知らせ", "auto-submitted"),
        ({"X-Auto-Response-Suppress": "All"}, "お知らせ", "auto-submitted"),
        ({"Precedence": "junk"}, "お知らせ", "mailing-list"),
        ({"List-Id": "<news.example.jp>"}, "お知らせ", "mailing-list"),
        ({}, "自動返信: 【電子保証】", "auto-reply-subject"),
        ({}, "Automatic reply: 電子保証", "auto-reply-subject"),
    ],
)
def test_machine_mail_is_ignored(headers: dict[str, str], subject: str, reason: str,
                                 settings: Settings) -> None:
    """Auto-submitted, list and auto-reply mail is ignored, even if it quotes a submission."""
    raw = mails.build(from_="t-yamada@yamada-kensetsu.example.co.jp",
                      to="keiyaku@city.example.jp", subject=subject,
                      body=f"保証契約番号：{NUMBER}\n認証キー：{KEY}\n", headers=headers)
    decision = _decide(raw, settings)
    assert decision.verdict.value == "ignored"
    assert decision.reason == reason


def test_auto_submitted_no_is_a_person(settings: Settings) -> None:
    """Auto-Submitted: no marks a person's mail, which is decided as usual."""
    raw = mails.build(from_="t-yamada@yamada-kensetsu.example.co.jp",
                      to="keiyaku@city.example.jp", subject="【電子保証】契約保証",
                      body=f"契約保証の認証キーです。\n保証契約番号：{NUMBER}\n認証キー：{KEY}\n",
                      headers={"Auto-Submitted": "no"})
    assert _decide(raw, settings).verdict.value == "routed"


def test_classify_json_masks_secrets(settings: Settings) -> None:
    """The JSON shape names the fields, with the key and the password masked."""
    key = _decide(mails.dsure_key_mail(), settings).to_json()
    assert key["fields"]["auth_key"] == KEY[:2] + "*" * (len(KEY) - 2)  # type: ignore[index]
    assert KEY not in str(key)
    conf = _decide(mails.confirmation_mail(), settings).to_json()
    password = parties.viewing_password(POLICY)
    assert password not in str(conf)
    assert set(conf) >= {"kind", "verdict", "guarantee_type", "problems", "route_to", "fields"}


def test_scan_only_submission_goes_to_review(settings: Settings) -> None:
    """A key notice sent as a scan (no text layer) goes to a person, never a guess."""
    raw = mails.build(from_="山田 太郎 <t-yamada@yamada-kensetsu.example.co.jp>",
                      to="keiyaku@city.example.jp", subject="【電子保証】認証キー等のお知らせ",
                      body="認証キー等のお知らせをスキャンして添付します。",
                      attachments=[("認証キー等のお知らせ.pdf", pdfs.scan_pdf(),
                                    "application/pdf")])
    decision = _decide(raw, settings)
    assert decision.verdict.value == "review"
    assert decision.problems == ("text-unreadable",)


def test_unknown_guarantee_type_goes_to_review(settings: Settings) -> None:
    """Complete key values but no word of which guarantee: a person routes it."""
    raw = mails.build(from_="山田 太郎 <t-yamada@yamada-kensetsu.example.co.jp>",
                      to="keiyaku@city.example.jp", subject="【電子保証】",
                      body=f"保証契約番号：{NUMBER}\n認証キー：{KEY}\n")
    decision = _decide(raw, settings)
    assert (decision.verdict.value, decision.problems) == ("review", ("guarantee-type-unknown",))
    assert decision.route_to == tuple(settings.routing.review)


def test_unknown_insurer_goes_to_review(settings: Settings) -> None:
    """A PDF policy naming no insurer, from an unknown domain, cannot be CC-checked."""
    nameless = replace(parties.INSURERS["sompo"], name="東都建設共済会", aliases=(),
                       domains=("kyosai.example.jp",), agent_domain="kyosai.example.jp")
    raw = mails.legacy_pdf_mail(insurer=nameless, sender="agent", date=BEFORE_CUTOFF)
    decision = _decide(raw, settings)
    assert decision.kind.value == "legacy-pdf"
    assert (decision.verdict.value, decision.problems) == ("review", ("insurer-unknown",))


def test_unconfigured_insurer_is_not_supported(settings: Settings) -> None:
    """A PDF policy from an insurer the office has not configured gets a correction."""
    raw = mails.legacy_pdf_mail(insurer="nisshin", date=BEFORE_CUTOFF)
    decision = _decide(raw, settings)
    assert decision.kind.value == "legacy-pdf"
    assert (decision.verdict.value, decision.problems) == ("correction",
                                                           ("insurer-not-supported",))
    assert decision.fields.insurer == "日新火災海上保険株式会社"


def test_no_reply_address_goes_to_review(settings: Settings) -> None:
    """A fixable submission with no sender address cannot be answered: a person looks."""
    raw = (
        "To: keiyaku@city.example.jp\r\nSubject: =?UTF-8?B?44CQ6Zu75a2Q5L+d6Ki844CR?=\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
        f"契約保証の認証キーです。\r\n保証契約番号：{NUMBER}\r\n"
    ).encode()
    decision = decide(read_message(raw), settings, can_wait=False)
    assert decision.verdict.value == "review"
    assert decision.problems == ("auth-key-missing", "no-reply-address")


@pytest.mark.parametrize(("from_", "headers"), [
    ("t-yamada@yamada-kensetsu.example.co.jp", {"Return-Path": "<>"}),
    ("MAILER-DAEMON@mail.yamada-kensetsu.example.co.jp", {}),
    ("postmaster@yamada-kensetsu.example.co.jp", {}),
])
def test_bounces_are_never_answered(from_: str, headers: dict[str, str],
                                    settings: Settings) -> None:
    """A null return path or a MAILER-DAEMON sender is a bounce, even as plain text."""
    raw = mails.build(from_=from_, to="keiyaku@city.example.jp", subject="Undelivered Mail",
                      body=f"保証契約番号：{NUMBER}\n", headers=headers)
    decision = _decide(raw, settings)
    assert (decision.verdict.value, decision.reason) == ("ignored", "bounce")


def test_reply_never_goes_to_an_address_in_the_text(settings: Settings) -> None:
    """An address written in the body or an attachment is never a reply's recipient."""
    raw = mails.build(from_="山田 太郎 <t-yamada@yamada-kensetsu.example.co.jp>",
                      to="keiyaku@city.example.jp", subject="【電子保証】契約保証",
                      body=f"契約保証です。返信は victim@elsewhere.example.jp へ。\n"
                           f"保証契約番号：{NUMBER}\n")
    decision = decide(read_message(raw), settings, can_wait=False)
    assert decision.verdict.value == "correction"
    assert decision.route_to == ("t-yamada@yamada-kensetsu.example.co.jp",)
