"""Every rule of the domain on realistic messages: per-office policy, wrong documents,
waiting for a password, several submissions in one mail, and the three example offices.
"""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import docx
import pytest
from samples import mails, parties, pdfs

from daemon import config, pairing
from daemon.config import Settings
from daemon.decide import decide
from daemon.model import Decision, Mail
from daemon.read import read_message

JST = timezone(timedelta(hours=9))
ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "config" / "examples"
YAMADA = "t-yamada@yamada-kensetsu.example.co.jp"
IN_TIME = datetime(2026, 3, 10, 10, 0, tzinfo=JST)


def _policy(settings: Settings, **changes: Any) -> Settings:
    return settings.model_copy(update={"policy": settings.policy.model_copy(update=changes)})


def _decide(raw: bytes, settings: Settings, **kwargs: Any) -> Decision:
    return decide(read_message(raw), settings, **kwargs)


def _open(mail: Mail, passwords: tuple[str, ...]) -> Mail:
    return read_message(mail.raw, mail.received_at, passwords=passwords)


def combine(first: Mail, follow: Mail) -> Mail:
    """A held message and its follow-up read as one, as the daemon reads them."""
    return pairing.combined(first, follow, _open)


def _verdict(decision: Decision) -> tuple[str, tuple[str, ...]]:
    return decision.verdict.value, decision.problems


# --- wrong documents ----------------------------------------------------------------------

def test_printed_certificate_instead_of_key_notice(settings: Settings) -> None:
    """A print of the 電子証書 screen is a dsure-key submission with only that code."""
    decision = _decide(mails.certificate_instead_of_key(), settings)
    assert decision.kind.value == "dsure-key"
    assert _verdict(decision) == ("correction", ("certificate-not-key-notice",))


def test_reservation_is_not_eligible(settings: Settings) -> None:
    """A 契約保証予約 is never electronic: a correction asks for paper."""
    decision = _decide(mails.reservation(), settings)
    assert decision.kind.value == "dsure-key"
    assert _verdict(decision) == ("correction", ("reservation-not-eligible",))


@pytest.mark.parametrize("sent_by", ["contractor", "bank"])
def test_bank_guarantee_is_not_eligible(sent_by: str, settings: Settings) -> None:
    """A bank's guarantee by email: kind other, but a correction (paper only)."""
    decision = _decide(mails.bank_guarantee(sent_by=sent_by), settings)  # type: ignore[arg-type]
    assert decision.kind.value == "other"
    assert _verdict(decision) == ("correction", ("bank-guarantee-not-eligible",))


def _policy_as_docx() -> bytes:
    document = docx.Document()
    for line in ("履行保証保険証券", "証券番号 SJ26-0412345", "保険契約者(受注者) 株式会社山田建設",
                 "損害保険ジャパン株式会社"):
        document.add_paragraph(line)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


@pytest.mark.parametrize(("name", "data", "ctype"), [
    ("履行保証保険証券.jpg", pdfs.not_really_pdf("png"), "image/jpeg"),
    ("履行保証保険証券.docx", _policy_as_docx(), "application/vnd.openxmlformats-"
                                             "officedocument.wordprocessingml.document"),
])
def test_policy_not_as_pdf(name: str, data: bytes, ctype: str, settings: Settings) -> None:
    """A policy sent as an image or an office file must be sent as the insurer's PDF."""
    raw = mails.build(from_=YAMADA, to="keiyaku@city.example.jp",
                      cc="denshi-hosho@sompo-japan.example.jp", date=IN_TIME,
                      subject="【契約保証】履行保証保険証券の送付",
                      body="損害保険ジャパン株式会社の履行保証保険証券を送付いたします。",
                      attachments=[(name, data, ctype)])
    decision = _decide(raw, settings)
    assert decision.kind.value == "legacy-pdf"
    assert _verdict(decision) == ("correction", ("not-pdf",))


def test_view_url_off_the_system_host(settings: Settings) -> None:
    """A 閲覧用URL that is not on the confirmation system's host is refused."""
    raw = mails.confirmation_mail(view_url="https://sonpo-hosyou-syouken.example.net/view?k=1")
    assert _verdict(_decide(raw, settings)) == ("correction", ("view-url-invalid",))


def test_system_domains_are_configurable_with_subdomains(settings: Settings) -> None:
    """policy.confirmation_system_domains says where a 閲覧用URL may point."""
    raw = mails.confirmation_mail(view_url="https://view.kakunin.example.org/v?k=abc")
    assert _verdict(_decide(raw, settings)) == ("correction", ("view-url-invalid",))
    other = _policy(settings, confirmation_system_domains=["kakunin.example.org"])
    assert _verdict(_decide(raw, other)) == ("routed", ())


# --- insurers -------------------------------------------------------------------------------

def test_insurer_not_on_the_system(settings: Settings) -> None:
    """A configured insurer marked confirmation_system = false is not supported there."""
    off = settings.model_copy(update={"insurers": [
        i.model_copy(update={"confirmation_system": False}) if i.name.startswith("損害")
        else i for i in settings.insurers]})
    decision = _decide(mails.confirmation_mail(), off)
    assert _verdict(decision) == ("correction", ("insurer-not-supported",))


def test_unconfigured_insurer_on_the_confirmation_system(settings: Settings) -> None:
    """An insurer the office has not configured is not supported (its name is told)."""
    decision = _decide(mails.confirmation_mail(insurer="aioi"), settings)
    assert _verdict(decision) == ("correction", ("insurer-not-supported",))
    assert decision.fields.insurer == "あいおいニッセイ同和損害保険株式会社"


def test_insurer_found_by_alias(settings: Settings) -> None:
    """An insurer written by its short name (東京海上日動) is the configured insurer."""
    raw = mails.build(from_=YAMADA, to="keiyaku@city.example.jp", subject="【電子保証】",
                      body="東京海上日動の発注者提出用フォーマットの内容です。\n"
                           f"閲覧用URL：{parties.viewing_url('TM26-1')}\n"
                           "閲覧用パスワード：Ab12Cd34Ef56\n工事名：令和8年度 市道改良工事\n"
                           "受注者名：株式会社山田建設\n")
    decision = _decide(raw, settings)
    assert decision.fields.insurer == "東京海上日動火災保険株式会社"
    assert _verdict(decision) == ("routed", ())


# --- office policy --------------------------------------------------------------------------

def test_route_not_accepted(settings: Settings) -> None:
    """An office that takes only D-Sure answers an insurer's form with the route to use."""
    only_dsure = _policy(settings, accept=["dsure-key"])
    decision = _decide(mails.confirmation_mail(), only_dsure)
    assert _verdict(decision) == ("correction", ("route-not-accepted",))
    assert _verdict(_decide(mails.dsure_key_mail(), only_dsure)) == ("routed", ())


@pytest.mark.parametrize(("first", "expected"), [
    (date(2023, 5, 31), ("correction", ("before-electronic-start",))),
    (date(2023, 6, 1), ("routed", ())),
])
def test_electronic_start(first: date, expected: tuple[str, tuple[str, ...]],
                          settings: Settings) -> None:
    """Contracts first concluded before policy.electronic_start stay on paper."""
    started = _policy(settings, electronic_start=date(2023, 6, 1))
    raw = mails.dsure_key_mail(first_contract_date=first)
    assert _verdict(_decide(raw, started)) == expected


def test_electronic_start_without_a_stated_date(settings: Settings) -> None:
    """Where no first contract date is stated, nothing is rejected."""
    started = _policy(settings, electronic_start=date(2030, 1, 1))
    assert _verdict(_decide(mails.dsure_key_mail(), started)) == ("routed", ())


def test_invoice_needed_for_advance_payments(settings: Settings) -> None:
    """With advance_payment_needs_invoice, an advance notice without 請求書 is returned."""
    needs = _policy(settings, advance_payment_needs_invoice=True)
    bare = mails.dsure_key_mail(guarantee_type="advance-payment")
    with_invoice = mails.dsure_key_mail(guarantee_type="advance-payment", with_invoice=True)
    assert _verdict(_decide(bare, needs)) == ("correction", ("invoice-missing",))
    assert _verdict(_decide(with_invoice, needs)) == ("routed", ())
    assert _verdict(_decide(bare, settings)) == ("routed", ())
    assert _verdict(_decide(mails.dsure_key_mail(), needs)) == ("routed", ())  # contract


def test_subject_pattern_is_only_a_warning(settings: Settings) -> None:
    """A subject off the office's pattern is routed, with subject-format for staff."""
    patterned = _policy(settings, subject_patterns={"contract": "^【契約保証】"})
    decision = _decide(mails.dsure_key_mail(), patterned)
    assert _verdict(decision) == ("routed", ("subject-format",))
    fine = mails.dsure_key_mail(subject="【契約保証】第R8-土木-0123号 市道中央線")
    assert _verdict(_decide(fine, patterned)) == ("routed", ())


@pytest.mark.parametrize(("issued", "arrived", "expected"), [
    (date(2026, 3, 31), datetime(2026, 5, 20, 9, tzinfo=JST), ("routed", ())),
    (date(2026, 4, 1), datetime(2026, 4, 2, 9, tzinfo=JST),
     ("correction", ("legacy-deadline-passed",))),
])
def test_legacy_basis_issued(issued: date, arrived: datetime,
                             expected: tuple[str, tuple[str, ...]], settings: Settings) -> None:
    """With legacy_pdf_basis = issued, the policy's issue date counts, not the arrival."""
    by_issue = _policy(settings, legacy_pdf_basis="issued")
    raw = mails.legacy_pdf_mail(date=datetime.combine(issued, datetime.min.time(), JST))
    mail = read_message(raw, received_at=arrived)
    assert mail.attachments[0].text  # the policy was opened
    assert _verdict(decide(mail, by_issue)) == expected


def test_legacy_basis_issued_without_a_readable_date(settings: Settings) -> None:
    """With basis issued and no issue date in the policy, a person decides."""
    by_issue = _policy(settings, legacy_pdf_basis="issued")
    sheet = pdfs.Sheet(title="証券", author="x", creator="x", producer="x")
    sheet.text(40, 60, "履行保証保険証券", size=18)
    sheet.text(40, 100, "証券番号 SJ26-0400001", size=11)
    sheet.text(40, 120, "保険契約者(受注者) 株式会社山田建設", size=11)
    sheet.text(40, 140, "損害保険ジャパン株式会社", size=11)
    raw = mails.build(from_=YAMADA, to="keiyaku@city.example.jp",
                      cc="denshi-hosho@sompo-japan.example.jp", date=IN_TIME,
                      subject="【契約保証】履行保証保険証券", body="証券を送付します。",
                      attachments=[("証券.pdf", sheet.finish(), "application/pdf")])
    assert _verdict(_decide(raw, by_issue)) == ("review", ("issue-date-unreadable",))


# --- waiting for a password, and submissions in two mails ----------------------------------

@pytest.mark.parametrize("encrypt", ["zip-aes", "zip-crypto", "pdf"])
def test_encrypted_form_waits_then_pairs_with_the_password(encrypt: str,
                                                           settings: Settings) -> None:
    """An encrypted form is held; with the password mail it is decided as one."""
    first = read_message(mails.confirmation_mail(encrypt=encrypt))  # type: ignore[arg-type]
    held = decide(first, settings)
    assert (held.verdict.value, held.reason) == ("held", "waiting-for-password")
    follow = read_message(mails.password_followup())
    waiting = pairing.Waiting(1, first.from_addr, held.reason, held.held_until, first)
    assert pairing.proof(waiting, follow, settings, _open) is pairing.Proof.OPENED
    both = decide(combine(first, follow), settings, can_wait=False,
                  sources=(first.message_id, follow.message_id))
    assert _verdict(both) == ("routed", ())
    assert both.sources == (first.message_id, follow.message_id)
    assert both.fields.view_password == parties.viewing_password("SJ26-0412345")


def test_encrypted_office_form_pairs_too(settings: Settings) -> None:
    """A password-protected xlsx form opens with the password from the second mail."""
    first = read_message(mails.confirmation_mail(form="xlsx", encrypt="ooxml"))
    assert decide(first, settings).verdict.value == "held"
    both = decide(combine(first, read_message(mails.password_followup())), settings,
                  can_wait=False)
    assert _verdict(both) == ("routed", ())


def test_wrong_password_in_the_follow_up(settings: Settings) -> None:
    """A password that does not open the form: the sender is asked for the right one."""
    first = read_message(mails.confirmation_mail(encrypt="zip-aes"))
    wrong = read_message(mails.build(from_=YAMADA, to="keiyaku@city.example.jp",
                                     subject="パスワードのお知らせ",
                                     body="先ほどのファイルのパスワード：Nope12345\n"))
    both = decide(combine(first, wrong), settings, can_wait=False)
    assert _verdict(both) == ("correction", ("attachment-password-wrong",))


def test_no_password_in_time(settings: Settings) -> None:
    """Once the wait is over, the sender is asked for the password."""
    first = read_message(mails.confirmation_mail(encrypt="zip-aes"))
    decision = decide(first, settings, can_wait=False)
    assert _verdict(decision) == ("correction", ("attachment-password-missing",))


def test_password_mail_alone_goes_to_review(settings: Settings) -> None:
    """A password mail with nothing to pair with waits briefly for what it opens, then
    goes to a person."""
    assert _decide(mails.password_followup(), settings).verdict.value == "held"
    decision = _decide(mails.password_followup(), settings, can_wait=False)
    assert _verdict(decision) == ("review", ("unpaired-password",))


def test_form_and_url_in_two_mails(settings: Settings) -> None:
    """The form in one mail and the 閲覧用URL (the system's notice, forwarded) in the next."""
    form = read_message(mails.confirmation_mail(omit=("view_url",)))
    held = decide(form, settings)
    assert (held.verdict.value, held.reason) == ("held", "waiting-for-rest")
    url = read_message(mails.system_url_notice(forwarded=True))
    waiting = pairing.Waiting(1, form.from_addr, held.reason, held.held_until, form)
    assert pairing.proof(waiting, url, settings, _open) is pairing.Proof.NAMED
    both = decide(combine(form, url), settings, can_wait=False)
    assert _verdict(both) == ("routed", ())
    assert both.fields.view_url == parties.viewing_url("SJ26-0412345")


def test_no_waiting_when_the_office_says_so(settings: Settings) -> None:
    """password_wait_hours = 0: nothing is held; the sender is asked at once."""
    never = _policy(settings, password_wait_hours=0)
    raw = mails.confirmation_mail(encrypt="zip-aes")
    assert _verdict(_decide(raw, never)) == ("correction", ("attachment-password-missing",))


# --- several submissions in one mail --------------------------------------------------------

def test_two_key_notices_in_one_mail(settings: Settings) -> None:
    """A contract and an advance-payment notice in one mail: two submissions, two routes."""
    contract = pdfs.key_notice_pdf(company="east", contract_number="2604012345",
                                   auth_key="AbCd1234EfGh", guarantee_type="contract",
                                   project_name="令和8年度 市道中央線道路改良工事",
                                   contractor="株式会社山田建設")
    advance = pdfs.key_notice_pdf(company="east", contract_number="2604012399",
                                  auth_key="ZyXw9876VuTs", guarantee_type="advance-payment",
                                  project_name="令和8年度 市道中央線道路改良工事",
                                  contractor="株式会社山田建設")
    raw = mails.build(from_=YAMADA, to="keiyaku@city.example.jp",
                      subject="【電子保証】契約保証・前払金保証", body="2件お送りします。",
                      attachments=[("契約保証.pdf", contract, "application/pdf"),
                                   ("前払金保証.pdf", advance, "application/pdf")])
    decision = _decide(raw, settings)
    assert decision.verdict.value == "routed"
    got = [(o.guarantee_type.value if o.guarantee_type else None, o.fields.contract_number,
            o.route_to) for o in decision.outcomes]
    assert got == [
        ("contract", "2604012345", ("keiyaku-hosho@city.example.jp",)),
        ("advance-payment", "2604012399", ("maebarai@city.example.jp",)),
    ]
    assert [s["fields"]["contract_number"] for s in decision.to_json()["submissions"]] == [  # type: ignore[index]
        "2604012345", "2604012399"]


def test_two_typed_guarantees_one_incomplete(settings: Settings) -> None:
    """Two guarantees typed in one mail, the second without its key: one routed, one reply."""
    raw = mails.build(from_=YAMADA, to="keiyaku@city.example.jp",
                      subject="【電子保証】認証キーの送付", body=(
                          "契約保証\n保証契約番号：２６０４０１２３４５\n認証キー：AbCd1234EfGh\n\n"
                          "前払金保証\n保証契約番号：２６０４０１２３９９\n"))
    decision = _decide(raw, settings)
    assert [(o.verdict.value, o.problems) for o in decision.outcomes] == [
        ("routed", ()), ("correction", ("auth-key-missing",))]
    assert decision.verdict.value == "correction"  # the message is filed with its worst


# --- the three example offices --------------------------------------------------------------

def _example(name: str) -> Settings:
    return config.load(EXAMPLES / f"{name}.toml")


@pytest.mark.parametrize(("arrived", "expected"), [
    (datetime(2025, 6, 30, 23, 59, tzinfo=JST), ("routed", ())),
    (datetime(2025, 7, 1, 0, 0, tzinfo=JST), ("correction", ("legacy-deadline-passed",))),
])
def test_national_bureau_cutoff(arrived: datetime, expected: tuple[str, tuple[str, ...]]
                                ) -> None:
    """The MLIT bureau took PDF policies by email until 2025-06-30 (arrival, Japan time)."""
    bureau = _example("national-bureau")
    raw = mails.legacy_pdf_mail(date=arrived - timedelta(minutes=5))
    assert _verdict(decide(read_message(raw, received_at=arrived), bureau)) == expected
    assert _verdict(_decide(mails.confirmation_mail(), bureau)) == ("routed", ())


@pytest.mark.parametrize(("first", "expected"), [
    (date(2023, 5, 31), ("correction", ("before-electronic-start",))),
    (date(2023, 6, 1), ("routed", ())),
])
def test_prefecture_start_date(first: date, expected: tuple[str, tuple[str, ...]]) -> None:
    """The prefecture's contracts first concluded before 2023-06-01 stay on paper."""
    pref = _example("prefecture")
    raw = mails.dsure_key_mail(first_contract_date=first, subject="【電子保証(契約)】R8-0123")
    assert _verdict(_decide(raw, pref)) == expected


def test_prefecture_takes_only_guarantee_companies() -> None:
    """The prefecture answers insurers' submissions with route-not-accepted, needs invoices
    with advances, and warns about subjects off its pattern."""
    pref = _example("prefecture")
    assert _verdict(_decide(mails.confirmation_mail(), pref)) == (
        "correction", ("route-not-accepted",))
    assert _verdict(_decide(mails.legacy_pdf_mail(), pref)) == (
        "correction", ("route-not-accepted",))
    advance = mails.dsure_key_mail(guarantee_type="advance-payment",
                                   subject="【電子保証(前払金)】R8-0123")
    assert _verdict(_decide(advance, pref)) == ("correction", ("invoice-missing",))
    off_pattern = mails.dsure_key_mail(subject="認証キー送付")
    assert _verdict(_decide(off_pattern, pref)) == ("routed", ("subject-format",))


@pytest.mark.parametrize(("issued", "expected"), [
    (date(2026, 3, 31), ("routed", ("subject-format",))),
    (date(2026, 4, 1), ("correction", ("legacy-deadline-passed",))),  # no warning on a fix
])
def test_city_grandfathering_by_issue_date(issued: date,
                                           expected: tuple[str, tuple[str, ...]]) -> None:
    """The city takes PDF policies issued by 2026-03-31, even when they arrive later."""
    city = _example("city")
    sent = datetime.combine(issued, datetime.min.time(), JST) + timedelta(hours=10)
    raw = mails.legacy_pdf_mail(date=sent)  # subject 【契約保証】…: off the city's pattern
    late_arrival = read_message(raw, received_at=datetime(2026, 4, 20, 9, tzinfo=JST))
    assert _verdict(decide(late_arrival, city)) == expected


def test_city_confirmation_system_and_subjects() -> None:
    """The city routes confirmation-system forms; subjects off its pattern are warned."""
    city = _example("city")
    ok = mails.confirmation_mail(subject="【電子保証】第R8-土木-0123号 市道中央線")
    assert _verdict(_decide(ok, city)) == ("routed", ())
    assert _verdict(_decide(mails.confirmation_mail(subject="証券の件"), city)) == (
        "routed", ("subject-format",))
    assert city.policy.password_wait_hours == 48


def test_examples_are_valid_and_complete() -> None:
    """Each example names the eight insurers on the system (or none, for D-Sure only)."""
    for path in EXAMPLES.glob("*.toml"):
        office = config.load(path)
        names = {i.name for i in office.insurers}
        assert len(names) in (0, 8), path


# --- classify alone, forwarded mail, a new 閲覧用パスワード ------------------------------

def test_classify_on_a_held_message_alone(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """classify on the first mail of an encrypted submission prints held while its wait
    runs, what run would do once it is over, and writes nothing."""
    import json  # noqa: PLC0415

    import stack  # noqa: PLC0415

    from daemon.cli import main  # noqa: PLC0415

    path = tmp_path / "office.toml"
    path.write_text(stack.office_config(tmp_path / "state.sqlite3"), encoding="utf-8")
    message = tmp_path / "form.eml"
    sent = (datetime.now(JST) - timedelta(hours=2)).replace(microsecond=0)
    message.write_bytes(mails.confirmation_mail(encrypt="zip-aes", date=sent))
    assert main(["--config", str(path), "classify", str(message)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["verdict"], result["reason"]) == ("held", "waiting-for-password")
    assert result["held_until"] == (sent + timedelta(hours=24)).isoformat()
    message.write_bytes(mails.confirmation_mail(encrypt="zip-aes",
                                                date=sent - timedelta(hours=23)))
    assert main(["--config", str(path), "classify", str(message)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["verdict"], result["problems"]) == (
        "correction", ["attachment-password-missing"])
    assert not (tmp_path / "state.sqlite3").exists()


def test_submission_forwarded_as_an_attached_message(settings: Settings) -> None:
    """A key notice mail forwarded as message/rfc822 is read through the forward."""
    inner = mails.dsure_key_mail(guarantee_type="advance-payment")
    raw = mails.build(from_="総務課 <somu@yamada-kensetsu.example.co.jp>",
                      to="keiyaku@city.example.jp", subject="Fw: 【請求関係書類】",
                      body="担当者から預かったメールを転送します。",
                      attachments=[("forward.eml", inner, "message/rfc822")])
    decision = _decide(raw, settings)
    assert _verdict(decision) == ("routed", ())
    assert decision.guarantee_type is not None
    assert decision.guarantee_type.value == "advance-payment"
    assert decision.fields.contract_number == "2604012345"


def test_new_view_password_replaces_the_routed_one(tmp_path: Path, settings: Settings) -> None:
    """After an additional upload, the same policy with a new 閲覧用パスワード is linked to the
    earlier routed submission."""
    from daemon.decide import replaced  # noqa: PLC0415
    from daemon.store import Store  # noqa: PLC0415

    store = Store(tmp_path / "s.sqlite3")
    now = datetime(2026, 4, 10, 9, tzinfo=JST)
    first_raw = mails.confirmation_mail()
    first = _decide(first_raw, settings)
    row = store.messages.seen(folder="INBOX", uidvalidity=1, uid=1, message_id=first.sources[0],
                              content_hash="a", received_at=now, sender=YAMADA)
    store.record_decision(row.id, first, now, [])
    second = _decide(mails.confirmation_mail(view_password="NewPass12345",
                                             subject="【電子保証】閲覧用パスワード変更"), settings)
    assert second.sources != first.sources
    outcome = second.outcomes[0]
    earlier = replaced(outcome, YAMADA, store.earlier_submissions(
        outcome, sender=YAMADA, source=second.sources[0], before=now + timedelta(hours=1)))
    assert earlier == first.sources[0]
    store.close()
