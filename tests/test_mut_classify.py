"""What classify and extract read out of a submission, each rule beside the case it must refuse.

The documents are the samples' own (key notice, printed e-certificate, reservation, bank
guarantee, the insurer's form, a PDF policy), read once and reused; where one field or one
word must move, the document's text is given as the reader would have extracted it. Every
value is asserted as staff would see it: the kind, the guarantee type, the fields, the
verdict and its problem codes.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from functools import cache

import pytest
from samples import mails, parties

from daemon import classify as cl
from daemon import extract
from daemon.config import Settings
from daemon.decide import decide
from daemon.japanese import normalize
from daemon.model import (
    Attachment,
    DocumentStatus,
    GuaranteeType,
    Kind,
    Mail,
)
from daemon.read import read_message

JST = timezone(timedelta(hours=9))
BEFORE_CUTOFF = datetime(2026, 3, 10, 10, 0, tzinfo=JST)
YAMADA = "山田 太郎 <t-yamada@yamada-kensetsu.example.co.jp>"
NUMBER = "2604012345"
KEY = mails.default_auth_key(NUMBER)
OTHER_NUMBER = "2604012399"
OTHER_KEY = mails.default_auth_key(OTHER_NUMBER)
PROJECT = "令和8年度 市道中央線道路改良工事"
CONTRACTOR = "株式会社山田建設"
POLICY = "SJ26-0412345"
SOMPO = "損害保険ジャパン株式会社"
SYSTEM_URL = parties.viewing_url(POLICY)
VIEW_PASSWORD = parties.viewing_password(POLICY)
GREETING = ("東都市 財政局 契約課\nご担当者様\n\n"
            "いつもお世話になっております。株式会社山田建設の山田です。\n")
SIGNATURE = "\n――――\n株式会社山田建設\n工務部　山田 太郎\nTEL：048-555-0123\n"


# --- building messages ------------------------------------------------------------------------

@cache
def _read(name: str) -> Mail:
    """One of the samples' messages, read once."""
    makers = {
        "key": mails.dsure_key_mail,
        "key-advance": lambda: mails.dsure_key_mail(guarantee_type="advance-payment"),
        "certificate": mails.certificate_instead_of_key,
        "reservation": mails.reservation,
        "bank": mails.bank_guarantee,
        "form": mails.confirmation_mail,
        "legacy": lambda: mails.legacy_pdf_mail(date=BEFORE_CUTOFF),
        "notice": mails.system_url_notice,
    }
    return read_message(makers[name]())


def _text(name: str) -> str:
    """The text of the one document a sample message carries."""
    (att,) = _read(name).attachments
    assert att.status is DocumentStatus.TEXT
    return att.text


def _mail(body: str, *, subject: str = "【電子保証】令和8年度 市道中央線道路改良工事",
          docs: tuple[Attachment, ...] = (), from_: str = YAMADA) -> Mail:
    """A contractor's message with this body and these already-read attachments."""
    raw = mails.build(from_=from_, to=mails.OFFICE_ADDRESS, subject=subject,
                      body=GREETING + body + SIGNATURE)
    return replace(read_message(raw), attachments=docs)


def _doc(name: str, text: str, *, status: DocumentStatus = DocumentStatus.TEXT,
         content_type: str = "application/pdf") -> Attachment:
    """An attachment as the reader leaves it: its name, type, status and normalised text."""
    return Attachment(name, content_type, b"", status, normalize(text) if text else "")


def _subs(mail: Mail, settings: Settings) -> list[tuple[str, str | None, str | None]]:
    """(kind, guarantee type, wrong document) of each submission found."""
    return [(s.kind.value, s.guarantee_type.value if s.guarantee_type else None,
             s.wrong_document) for s in cl.classify(mail, settings).submissions]


def _one(mail: Mail, settings: Settings) -> cl.Submission:
    (sub,) = cl.classify(mail, settings).submissions
    return sub


def _needs_invoice(settings: Settings) -> Settings:
    """The office that wants the 請求書 with every advance-payment guarantee."""
    policy = settings.policy.model_copy(update={"advance_payment_needs_invoice": True})
    return settings.model_copy(update={"policy": policy})


def _verdict(mail: Mail, settings: Settings) -> tuple[str, tuple[str, ...]]:
    """The verdict on the mail alone (as once any wait for a follow-up is over)."""
    decision = decide(mail, settings, can_wait=False)
    return decision.verdict.value, decision.problems


def _key_notice(number: str = NUMBER, key: str | None = KEY, *, kind: str = "契約保証",
                project: str | None = PROJECT, contractor: str | None = CONTRACTOR,
                extra: str = "") -> str:
    """A key notice's text as PDFium gives it (labels and values on lines of their own)."""
    lines = ["発行日:令和8年4月6日"]
    if contractor:
        lines += ["受注者", f"{contractor} 様"]
    lines += ["東日本建設業保証株式会社", " 東都支店 TEL 048-555-1100",
              "電子保証に係る「認証キー」のお知らせ", "1.発注者", ":", "東都市",
              "2.保証契約番号", ":", number]
    if key:
        lines += ["3.認証キー", ":", key]
    lines += ["4.保証の種類", ":", kind]
    if project:
        lines += ["5.工事名", ":", project]
    lines += ["6.工事番号", ":", "第R8-土木-0123号"]
    return "\n".join(lines) + "\n" + extra


# --- extract: labelled values -----------------------------------------------------------------

@pytest.mark.parametrize(("text", "number"), [
    ("保証契約番号：２６０４０１２３４５", NUMBER),
    ("2.保証契約番号\n:\n2604012345", NUMBER),
    ("【保証番号】2604-012345", "2604-012345"),
    ("■保証証書番号\n　2604012345", NUMBER),
    ("保証契約番号（電子証書）：2604012345", NUMBER),
])
def test_contract_number_beside_its_label(text: str, number: str) -> None:
    """The 保証契約番号 is read beside any of its labels, whatever the layout and digits."""
    assert extract.contract_number(normalize(text)) == number


@pytest.mark.parametrize("text", [
    "契約番号：2604012345",  # the works' contract number, not the guarantee's
    "本保証契約番号は2604012345です",  # the label inside running text
    "保証契約番号：",
    "保証契約番号：工事名",
    "2604012345",
])
def test_contract_number_not_read_without_its_label(text: str) -> None:
    """A number without its label, or a blank field, gives no 保証契約番号."""
    assert extract.contract_number(normalize(text)) is None


def test_first_labelled_value_wins() -> None:
    """Of two labelled numbers the first is the submission's."""
    text = normalize(f"保証契約番号：{NUMBER}\n保証契約番号：{OTHER_NUMBER}")
    assert extract.contract_number(text) == NUMBER
    assert extract.auth_key(normalize(f"認証キー：{KEY}\n認証キー：{OTHER_KEY}")) == KEY


@pytest.mark.parametrize(("text", "key"), [
    (f"認証キー：{KEY}", KEY),
    (f"認証ｷｰ : {KEY}", KEY),
    (f"認証KEY={KEY}", KEY),
    (f"認証key「{KEY}」", KEY),
    (f"3.認証キー\n:\n{KEY}", KEY),
    ("【認証キー】AbCd-1234-EfGh", "AbCd-1234-EfGh"),
])
def test_auth_key_beside_its_label(text: str, key: str) -> None:
    """The 認証キー keeps its case and hyphens, beside any spelling of its label."""
    assert extract.auth_key(normalize(text)) == key


@pytest.mark.parametrize("text", [
    "認証キーは別途お送りします",
    "認証キー：",
    "認証キー：\n保証契約番号：2604012345",
    "電子証書の認証キー等のお知らせ",
])
def test_auth_key_absent(text: str) -> None:
    """No key is read from a sentence about the key, nor from the next label."""
    assert extract.auth_key(normalize(text)) is None


@pytest.mark.parametrize(("text", "password"), [
    ("閲覧用パスワード：s7mF3DEzqTTE", "s7mF3DEzqTTE"),
    ("閲覧パスワード\ns7mF3DEzqTTE", "s7mF3DEzqTTE"),
    ("閲覧用PW=s7mF3DEzqTTE", "s7mF3DEzqTTE"),
    ("閲覧用pw：s7mF3DEzqTTE", "s7mF3DEzqTTE"),
])
def test_view_password_beside_its_label(text: str, password: str) -> None:
    """The 閲覧用パスワード is read beside each of its labels (any case)."""
    assert extract.view_password(normalize(text)) == password


def test_view_password_is_not_any_password() -> None:
    """A document's password is not the 閲覧用パスワード, and a blank one is none."""
    assert extract.view_password(normalize("パスワード：Rk7v2Lm9")) is None
    assert extract.view_password(normalize("閲覧用パスワード：\n工事名：市道")) is None


HOSTS = ["sonpo-hosyou-syouken.jp"]


def test_view_url_beside_its_label_whatever_its_host() -> None:
    """A labelled 閲覧用URL is read even on another host (the checks call it invalid)."""
    text = normalize("閲覧用URL：https://evil.example/view?k=1\n閲覧URL：" + SYSTEM_URL)
    assert extract.view_url(text, HOSTS) == "https://evil.example/view?k=1"
    assert extract.view_url(normalize("閲覧url：" + SYSTEM_URL), HOSTS) == SYSTEM_URL


def test_view_url_without_label_only_on_the_system() -> None:
    """Without its label a URL counts only on the system's host; another host's is skipped."""
    text = normalize(f"D-Sure: https://www.d-sure.jp/ \nこちら {SYSTEM_URL} からご確認ください")
    assert extract.view_url(text, HOSTS) == SYSTEM_URL
    assert extract.view_url(normalize("https://www.d-sure.jp/ をご覧ください"), HOSTS) is None
    assert extract.view_url("", HOSTS) is None


@pytest.mark.parametrize(("url", "ok"), [
    (SYSTEM_URL, True),
    ("HTTPS://WWW.SONPO-HOSYOU-SYOUKEN.JP/view?k=1", True),
    ("http://sonpo-hosyou-syouken.jp:8443/view", True),
    ("https://sonpo-hosyou-syouken.jp?k=1", True),
    ("https://sonpo-hosyou-syouken.jp#k", True),
    ("https://sonpo-hosyou-syouken.jp.evil.example/view", False),
    ("https://evil.example/sonpo-hosyou-syouken.jp", False),
    ("ftp://sonpo-hosyou-syouken.jp/view", False),
    ("sonpo-hosyou-syouken.jp/view", False),
])
def test_url_on_hosts(url: str, ok: bool) -> None:
    """A URL passes on the system's host (any case, with a port or query) and nowhere else."""
    assert extract.url_on_hosts(url, HOSTS) is ok


@pytest.mark.parametrize(("host", "ok"), [
    ("sonpo-hosyou-syouken.jp", True),
    ("Mail.Sonpo-Hosyou-Syouken.JP.", True),
    ("sonpo-hosyou-syouken.jp..", True),
    ("evilsonpo-hosyou-syouken.jp", False),
    ("sonpo-hosyou-syouken.jp.example", False),
    ("", False),
])
def test_host_in(host: str, ok: bool) -> None:
    """A host is a domain or its subdomain, without regard to case or a final dot."""
    assert extract.host_in(host, ["Sonpo-Hosyou-Syouken.jp"]) is ok
    assert extract.host_in(host, []) is False


@pytest.mark.parametrize(("text", "name"), [
    ("工事名：令和8年度 市道中央線道路改良工事", PROJECT),
    ("5.工事名\n:\n令和8年度 市道中央線道路改良工事 ", PROJECT),
    ("工事件名「令和8年度 市道中央線道路改良工事」", PROJECT),
    ("件名(工事名)：令和8年度 市道中央線道路改良工事", PROJECT),
    ("案件名：『令和8年度 市道中央線道路改良工事』", PROJECT),
    ("委託業務名：令和8年度 道路台帳整備業務委託", "令和8年度 道路台帳整備業務委託"),
    ("工事名（変更後）：令和8年度 市道中央線道路改良工事", PROJECT),
])
def test_project_name(text: str, name: str) -> None:
    """The 工事名 is the rest of its line, quotes and blanks removed."""
    assert extract.project_name(normalize(text)) == name


@pytest.mark.parametrize("text", [
    "工事名：\n受注者名：株式会社山田建設",
    "工事名：「受注者名：株式会社山田建設」",
    "工事名：「工事番号 R8-0123」",
    "工事名：'受注者名：株式会社山田建設'",
    "工事名：'工事番号 R8-0123'",
    "工事名：「」",
    "下記工事名をご確認ください",
])
def test_project_name_absent(text: str) -> None:
    """A blank 工事名 never takes the next label's line, and running text is no label."""
    assert extract.project_name(normalize(text)) is None


def test_project_name_after_a_blank_one() -> None:
    """A blank first 工事名 field is skipped for the next one that has a name."""
    text = normalize("工事名：「」\n工事件名：令和8年度 市道中央線道路改良工事")
    assert extract.project_name(text) == PROJECT


@pytest.mark.parametrize(("text", "number"), [
    ("工事番号：第R8-土木-0123号", "第R8-土木-0123号"),
    ("6.工事番号\n:\n第R8-土木-0123号", "第R8-土木-0123号"),
    ("施行番号：20260123456 工事名：市道", "20260123456"),
    ("仕様書番号=R8-0042", "R8-0042"),
    ("契約番号：第２０２６－０１２３号", "第2026-0123号"),
])
def test_project_number(text: str, number: str) -> None:
    """The works number is read as written, up to the next blank."""
    assert extract.project_number(normalize(text)) == number


@pytest.mark.parametrize("text", ["工事番号：未定", "保証契約番号：2604012345", "工事番号："])
def test_project_number_absent(text: str) -> None:
    """No works number from a word, nor from the guarantee's 保証契約番号."""
    assert extract.project_number(normalize(text)) is None


@pytest.mark.parametrize(("text", "name"), [
    ("受注者名：株式会社山田建設", CONTRACTOR),
    ("受注者\n株式会社山田建設 様", CONTRACTOR),
    ("保険契約者(受注者)\n株式会社山田建設", CONTRACTOR),
    ("請負者：株式会社山田建設　御中", CONTRACTOR),
    ("商号又は名称：「株式会社山田建設」殿", CONTRACTOR),
    ("受注者名：\"株式会社山田建設\"", CONTRACTOR),
    ("受注者名：'株式会社山田建設'", CONTRACTOR),
    ("受注者名：殿町建設株式会社", "殿町建設株式会社"),
    ("受注者名：株式会社TEX", "株式会社TEX"),
    ("受注者名：XX建設株式会社", "XX建設株式会社"),
    ("受注者名：「 」\n保証契約者：株式会社山田建設", CONTRACTOR),
    ("保険契約者 ( 受注者 )\n株式会社山田建設", CONTRACTOR),
])
def test_contractor_name(text: str, name: str) -> None:
    """The contractor's name beside its label, without 様/御中/殿, quotes or blanks."""
    assert extract.contractor_name(normalize(text)) == name


@pytest.mark.parametrize("text", [
    "受注者名：\n工事名：市道",
    "この証券記載の保険契約者から保険料を領収し",
    "受注者さまへ：ご提出ください",
    "受注者名：様",
])
def test_contractor_name_absent(text: str) -> None:
    """No contractor from running text, a longer word, a blank field or an honorific alone."""
    assert extract.contractor_name(normalize(text)) is None


def test_policy_number() -> None:
    """The 証券番号 beside its label, normalised; none without it."""
    assert extract.policy_number(normalize("証券番号：ＳＪ２６－０４１２３４５")) == POLICY
    assert extract.policy_number(normalize(" 証券番号 SJ26-0412345")) == POLICY
    assert extract.policy_number(normalize("証券番号：（別紙参照）")) is None


@pytest.mark.parametrize(("text", "day"), [
    ("証券発行日 令和8年4月6日", date(2026, 4, 6)),
    ("発行日:令和8年4月6日", date(2026, 4, 6)),
    ("作成日：2026年3月1日", date(2026, 3, 1)),
    ("発行年月日\n令和8年3月2日", date(2026, 3, 2)),
    ("証券発行日：追って通知\n作成日：令和8年3月3日", date(2026, 3, 3)),
    ("証券発行日：未定", None),
    ("発行されました", None),
])
def test_issued_on(text: str, day: date | None) -> None:
    """The policy's issue date: the first of its labels that holds a date."""
    assert extract.issued_on(normalize(text)) == day


@pytest.mark.parametrize(("body", "passwords"), [
    ("証券開封用パスワード：Rk7v2Lm9", ["Rk7v2Lm9"]),
    ("パスワードは「Rk7v2Lm9」です。", ["Rk7v2Lm9"]),
    ("PW：'Rk7v2Lm9'", ["Rk7v2Lm9"]),
    ("パスワード：Rk7v2Lm9\n再送：パスワード：Rk7v2Lm9\nPASS：Zp4Wq8Lk", ["Rk7v2Lm9", "Zp4Wq8Lk"]),
    ("パスワード：Abcd123X", ["Abcd123X"]),
    ("パスワード：''''", []),
    ("閲覧用パスワード：s7mF3DEzqTTE", []),
    ("パスワードは別途お送りします", []),
])
def test_document_passwords(body: str, passwords: list[str]) -> None:
    """Passwords for an attached document, once each; never the 閲覧用パスワード."""
    assert extract.document_passwords(body) == passwords


# --- document_kind ----------------------------------------------------------------------------

@pytest.mark.parametrize(("sample", "kind"), [
    ("key", "key-notice"),
    ("certificate", "certificate"),
    ("reservation", "reservation"),
    ("bank", "bank"),
    ("form", "form"),
    ("legacy", "policy"),
])
def test_each_sample_document_is_recognised(sample: str, kind: str) -> None:
    """Each document a contractor sends is told apart by its own text."""
    (att,) = _read(sample).attachments
    assert cl.document_kind(att.text, att.filename) == kind


def test_invoice_by_text_or_by_name() -> None:
    """An invoice is known by 請求書 in its head (even spaced) or in its file name."""
    invoice = normalize("請 求 書\n東都市長 様\n金49,368,000円")
    assert cl.document_kind(invoice, "scan.pdf") == "invoice"
    assert cl.document_kind(_key_notice(), "請求書（前払金）.pdf") == "invoice"
    assert cl.document_kind(_key_notice(), "認証キー.pdf") == "key-notice"


def _padded(word: str, end: int, rest: str = "") -> str:
    """Text whose ``word`` ends at character ``end`` (1-based), after a notice's lines."""
    filler = "下記のとおりお知らせします。" * 40
    return filler[: end - len(word)] + word + "\n" + rest


@pytest.mark.parametrize(("end", "kind"), [(400, "reservation"), (401, None)])
def test_reservation_only_in_the_head(end: int, kind: str | None) -> None:
    """予約番号 counts within the first 400 characters and not after them."""
    assert cl.document_kind(_padded("予約番号", end), "a.pdf") == kind


@pytest.mark.parametrize(("end", "kind"), [(400, "invoice"), (401, "key-notice")])
def test_invoice_word_only_in_the_head(end: int, kind: str) -> None:
    """A key notice that mentions the invoice late in its text is still a key notice."""
    assert cl.document_kind(_padded("請求書", end, _key_notice()), "a.pdf") == kind


@pytest.mark.parametrize(("end", "kind"), [(400, "certificate"), (401, None)])
def test_certificate_title_only_in_the_head(end: int, kind: str | None) -> None:
    """電子証書 makes a certificate only in its head."""
    text = _padded("電子証書", end, f"保証契約番号\n{NUMBER}")
    assert cl.document_kind(text, "a.pdf") == kind


def test_key_notice_needs_both_values() -> None:
    """A notice with the key but no number, or the number but no key, is no key notice."""
    assert cl.document_kind(normalize(f"お知らせ\n認証キー：{KEY}"), "a.pdf") is None
    assert cl.document_kind(normalize(f"お知らせ\n保証契約番号：{NUMBER}"), "a.pdf") is None
    certificate = normalize(f"電子証書\n保証契約番号：{NUMBER}\n認証キーは別紙")
    assert cl.document_kind(certificate, "a.pdf") is None


@pytest.mark.parametrize(("text", "kind"), [
    ("株式会社東都銀行\n保 証 書\n保証番号 第2026-0417号", "bank"),
    ("東都信用金庫\n保証書\n", "bank"),
    ("東都信用組合 保証書", "bank"),
    ("中央労働金庫 保証書", "bank"),
    ("東都農業協同組合 保証書", "bank"),
    ("株式会社東都銀行\n振込先のご案内", None),
    ("保証書\n東都建設株式会社", None),
    ("履行保証保険証券\n保険料は東都銀行から口座振替\n保証書の代わり", "policy"),
    ("保険証券\n東都銀行\n保証書", "policy"),
    ("公共工事履行保証証券\n東都銀行\n保証書", "policy"),
    ("履行保証保険\n東都銀行\n保証書", "policy"),
])
def test_bank_guarantee_document(text: str, kind: str | None) -> None:
    """A bank's 保証書 is a bank guarantee; a policy that names a bank is still a policy."""
    assert cl.document_kind(normalize(text), "a.pdf") == kind


@pytest.mark.parametrize(("text", "kind"), [
    ("閲覧用URL\nhttps://x", "form"),
    ("閲覧用パスワード\nabcd1234", "form"),
    ("発注者提出用フォーマット", "form"),
    ("保証証券等確認システムのご案内", "policy"),
    ("証券番号 SJ26-0412345", "policy"),
    ("公共工事履行保証証券", "policy"),
    ("保険証券", "policy"),
    ("保証証券", "policy"),
    ("履行保証保険", "policy"),
    ("工事のお知らせ", None),
])
def test_form_and_policy_signs(text: str, kind: str | None) -> None:
    """The insurer's form by its fields; a policy by its words; the system's name alone is not
    the form."""
    assert cl.document_kind(normalize(text), "a.pdf") == kind


def test_certificate_needs_its_number() -> None:
    """A printed certificate without a 保証契約番号 is not recognised as one."""
    assert cl.document_kind(normalize("電子証書の確認\nログアウト"), "a.pdf") is None
    printed = normalize("保証証書\n保証契約番号 2604012345")
    assert cl.document_kind(printed, "a.pdf") == "certificate"


# --- classify: which submissions a message holds ---------------------------------------------

def test_key_notice_mail(settings: Settings) -> None:
    """The key notice PDF gives one D-Sure submission with its number, key, names and company."""
    mail = _read("key")
    sub = _one(mail, settings)
    assert (sub.kind, sub.guarantee_type, sub.wrong_document) == (
        Kind.DSURE_KEY, GuaranteeType.CONTRACT, None)
    assert sub.source == mail.attachments[0].filename
    f = sub.fields
    assert (f.contract_number, f.auth_key, f.project_name, f.project_number, f.contractor_name,
            f.guarantor) == (NUMBER, KEY, PROJECT, "第R8-土木-0123号", CONTRACTOR,
                             "東日本建設業保証株式会社")
    assert (f.view_url, f.view_password, f.policy_number, f.insurer) == (None, None, None, None)
    assert _verdict(mail, settings) == ("routed", ())


def test_certificate_instead_of_the_key_notice(settings: Settings) -> None:
    """A printed 電子証書 is a D-Sure submission marked as the wrong document, typed by its
    own title; its 保証契約締結日 is no first contract date."""
    mail = _read("certificate")
    sub = _one(mail, settings)
    assert (sub.kind, sub.guarantee_type, sub.wrong_document) == (
        Kind.DSURE_KEY, GuaranteeType.ADVANCE_PAYMENT, "certificate-not-key-notice")
    assert sub.source == mail.attachments[0].filename
    assert (sub.fields.contract_number, sub.fields.auth_key) == (NUMBER, None)
    assert sub.fields.first_contract_date is None
    verdict, problems = _verdict(mail, settings)
    assert verdict == "correction"
    assert "certificate-not-key-notice" in problems


def test_reservation(settings: Settings) -> None:
    """A 契約保証予約証書 is a contract guarantee that may not be sent."""
    mail = _read("reservation")
    sub = _one(mail, settings)
    assert (sub.kind, sub.guarantee_type, sub.wrong_document) == (
        Kind.DSURE_KEY, GuaranteeType.CONTRACT, "reservation-not-eligible")
    assert sub.source == "契約保証予約証書.pdf"
    assert sub.fields.project_name == PROJECT
    assert sub.fields.guarantor == "西日本建設業保証株式会社"


def test_reservation_is_a_contract_guarantee_whatever_the_mail_says(settings: Settings) -> None:
    """A reservation is a contract guarantee even when the mail speaks of the advance."""
    mail = _mail("前払金保証の書類を送ります。", docs=(
        _doc("予約.pdf", "契約保証予約証書\n予約番号 Y-2603-00871\n前払金保証"),))
    assert _subs(mail, settings) == [("dsure-key", "contract", "reservation-not-eligible")]


def test_bank_guarantee(settings: Settings) -> None:
    """A bank's 保証書 is a contract guarantee the office does not take by email."""
    mail = _read("bank")
    sub = _one(mail, settings)
    assert (sub.kind, sub.guarantee_type, sub.wrong_document) == (
        Kind.OTHER, GuaranteeType.CONTRACT, "bank-guarantee-not-eligible")
    assert sub.source == "保証書（契約保証）.pdf"
    assert sub.fields.project_name == PROJECT
    assert _verdict(mail, settings) == ("correction", ("bank-guarantee-not-eligible",))


def test_confirmation_form(settings: Settings) -> None:
    """The insurer's form gives the URL, the password, the works, the contractor, the insurer."""
    mail = _read("form")
    sub = _one(mail, settings)
    assert (sub.kind, sub.guarantee_type, sub.wrong_document) == (
        Kind.CONFIRMATION_SYSTEM, GuaranteeType.CONTRACT, None)
    assert sub.source == mail.attachments[0].filename
    f = sub.fields
    assert (f.view_url, f.view_password, f.project_name, f.contractor_name, f.policy_number,
            f.insurer) == (SYSTEM_URL, VIEW_PASSWORD, PROJECT, CONTRACTOR, POLICY, SOMPO)


def test_form_takes_the_url_typed_in_the_mail(settings: Settings) -> None:
    """A form whose URL is pasted in the mail takes it (and its password) from there."""
    form = _doc("発注者提出用フォーマット.pdf",
                f"発注者提出用フォーマット\n工事名\n{PROJECT}\n受注者名\n{CONTRACTOR}")
    mail = _mail(f"閲覧用URL：{SYSTEM_URL}\n閲覧用パスワード：{VIEW_PASSWORD}\n"
                 f"証券番号：{POLICY}", docs=(form,))
    f = _one(mail, settings).fields
    assert (f.view_url, f.view_password, f.policy_number) == (SYSTEM_URL, VIEW_PASSWORD, POLICY)
    assert _verdict(mail, settings) == ("routed", ())


def test_legacy_policy(settings: Settings) -> None:
    """A PDF policy is a legacy contract guarantee with its number, insurer and issue date."""
    mail = _read("legacy")
    sub = _one(mail, settings)
    assert (sub.kind, sub.guarantee_type, sub.wrong_document) == (
        Kind.LEGACY_PDF, GuaranteeType.CONTRACT, None)
    assert sub.source == mail.attachments[0].filename
    f = sub.fields
    assert (f.policy_number, f.insurer, f.issued_on, f.project_name, f.contractor_name) == (
        POLICY, SOMPO, date(2026, 3, 10), PROJECT, CONTRACTOR)


def test_policy_that_is_not_a_pdf(settings: Settings) -> None:
    """A policy sent as a Word file is a legacy policy in the wrong format."""
    policy = _doc("履行保証保険証券.docx", _text("legacy"),
                  content_type="application/vnd.openxmlformats-officedocument"
                               ".wordprocessingml.document")
    mail = _mail("履行保証保険証券を送付します。", docs=(policy,))
    sub = _one(mail, settings)
    assert (sub.kind, sub.wrong_document, sub.fields.issued_on) == (
        Kind.LEGACY_PDF, "not-pdf", date(2026, 3, 10))


def test_invoice_is_no_submission_but_is_noted(settings: Settings) -> None:
    """An invoice (known by its text) is not a submission; the advance's notice beside it is,
    and no invoice is asked for."""
    invoice = _doc("scan_0001.pdf", "請 求 書\n東都市長 様\n前払金として下記のとおり請求します。")
    notice = _doc("お知らせ.pdf", _key_notice(kind="前払金保証"))
    for docs in ((invoice, notice), (notice, invoice)):
        mail = _mail("前払金の請求書類を送付します。", docs=docs)
        result = cl.classify(mail, settings)
        assert result.has_invoice is True
        assert [s.source for s in result.submissions] == ["お知らせ.pdf"]
        assert result.submissions[0].guarantee_type is GuaranteeType.ADVANCE_PAYMENT
        assert _verdict(mail, _needs_invoice(settings)) == ("routed", ())


def test_invoice_known_by_its_name_even_unread(settings: Settings) -> None:
    """An invoice scan without text counts by its file name (an empty file does not)."""
    scan = replace(_doc("請求書（前払金）.pdf", "", status=DocumentStatus.NO_TEXT),
                   data=b"%PDF-1.4 scanned page")
    empty = _mail("", docs=(replace(scan, data=b""),
                            _doc("お知らせ.pdf", _key_notice(kind="前払金保証"))))
    assert cl.classify(empty, settings).has_invoice is False
    mail = _mail("", docs=(scan, _doc("お知らせ.pdf", _key_notice(kind="前払金保証"))))
    assert cl.classify(mail, settings).has_invoice is True
    alone = _mail("", docs=(_doc("お知らせ.pdf", _key_notice(kind="前払金保証")),))
    assert cl.classify(alone, settings).has_invoice is False
    assert _verdict(alone, _needs_invoice(settings)) == ("correction", ("invoice-missing",))


def test_unrecognised_document_beside_the_notice(settings: Settings) -> None:
    """A cover letter PDF that is no submission does not hide the key notice after it."""
    letter = _doc("送付状.pdf", "送付状\n下記のとおり書類を送付します。")
    mail = _mail("", docs=(letter, _doc("お知らせ.pdf", _key_notice())))
    assert [s.source for s in cl.classify(mail, settings).submissions] == ["お知らせ.pdf"]


def test_two_notices_two_submissions(settings: Settings) -> None:
    """A contract notice and an advance notice in one message are two submissions."""
    mail = _mail("", docs=(
        _doc("契約.pdf", _key_notice()),
        _doc("前払.pdf", _key_notice(OTHER_NUMBER, OTHER_KEY, kind="前払金保証"))))
    result = cl.classify(mail, settings).submissions
    assert [(s.fields.contract_number, s.fields.auth_key, s.guarantee_type) for s in result] == [
        (NUMBER, KEY, GuaranteeType.CONTRACT),
        (OTHER_NUMBER, OTHER_KEY, GuaranteeType.ADVANCE_PAYMENT)]


# --- unreadable attachments, passwords ------------------------------------------------------

def test_unreadable_problems_in_order_once_each() -> None:
    """Each reading problem is named once, in the order of the attachments."""
    def att(status: DocumentStatus) -> Attachment:
        return _doc(f"{status.value}.pdf", "", status=status)
    mail = _mail("", docs=tuple(att(s) for s in (
        DocumentStatus.TEXT, DocumentStatus.SKIPPED, DocumentStatus.NO_TEXT,
        DocumentStatus.UNREADABLE, DocumentStatus.TOO_LARGE, DocumentStatus.ENCRYPTED,
        DocumentStatus.NO_TEXT)))
    assert cl.unreadable_problems(mail) == ("text-unreadable", "attachment-unreadable",
                                            "too-large")
    encrypted = _mail("", docs=(att(DocumentStatus.ENCRYPTED),))
    assert cl.unreadable_problems(encrypted) == ("attachment-unreadable",)
    skipped = _mail("", docs=(att(DocumentStatus.SKIPPED), att(DocumentStatus.TEXT)))
    assert cl.unreadable_problems(skipped) == ()


def test_sealed_until_a_password_is_given(settings: Settings) -> None:
    """An encrypted attachment is sealed unless the mail gives a password for it."""
    locked = _doc("証券.pdf", "", status=DocumentStatus.ENCRYPTED)
    sealed = cl.classify(_mail("履行保証保険証券を送付します。", docs=(locked,)), settings)
    assert (sealed.sealed, sealed.password_given) == (True, False)
    given = cl.classify(_mail("パスワード：Rk7v2Lm9", docs=(locked,)), settings)
    assert (given.sealed, given.password_given) == (False, True)
    plain = cl.classify(_mail("パスワード：Rk7v2Lm9", docs=(_doc("a.pdf", "送付状"),)), settings)
    assert (plain.sealed, plain.password_given) == (False, True)
    unread = cl.classify(_mail("送付します", docs=(
        _doc("a.pdf", "", status=DocumentStatus.UNREADABLE),)), settings)
    assert (unread.sealed, unread.unreadable) == (False, ("attachment-unreadable",))


# --- values typed into the mail ---------------------------------------------------------------

def _typed(number: str, key: str | None, kind: str) -> str:
    key_line = f"認証キー：{key}\n" if key else ""
    return f"保証契約番号：{number}\n{key_line}保証の種類：{kind}\n"


def test_typed_guarantees_one_submission_each(settings: Settings) -> None:
    """Three guarantees typed in one mail are three submissions, each with its own values and
    its own type."""
    body = ("下記のとおり認証キー等をお知らせします。\n\n" + _typed(NUMBER, KEY, "契約保証") + "\n"
            + _typed(OTHER_NUMBER, OTHER_KEY, "前払金保証") + "\n"
            + _typed("2604012377", "Hv3Kw8Nb5Jc6", "中間前払金保証"))
    subs = cl.classify(_mail(body, subject="【電子保証】"), settings).submissions
    assert [(s.kind, s.guarantee_type, s.fields.contract_number, s.fields.auth_key, s.source)
            for s in subs] == [
        (Kind.DSURE_KEY, GuaranteeType.CONTRACT, NUMBER, KEY, ""),
        (Kind.DSURE_KEY, GuaranteeType.ADVANCE_PAYMENT, OTHER_NUMBER, OTHER_KEY, ""),
        (Kind.DSURE_KEY, GuaranteeType.INTERIM_ADVANCE_PAYMENT, "2604012377", "Hv3Kw8Nb5Jc6", "")]


def test_first_typed_block_keeps_the_greeting(settings: Settings) -> None:
    """What precedes the first 保証契約番号 (the sentence naming the type) belongs to it."""
    body = (f"前払金保証の認証キーをお知らせします。\n保証契約番号：{NUMBER}\n認証キー：{KEY}\n\n"
            + _typed(OTHER_NUMBER, OTHER_KEY, "契約保証"))
    subs = cl.classify(_mail(body, subject="【電子保証】"), settings).submissions
    assert [(s.fields.contract_number, s.guarantee_type) for s in subs] == [
        (NUMBER, GuaranteeType.ADVANCE_PAYMENT), (OTHER_NUMBER, GuaranteeType.CONTRACT)]


def test_a_label_inside_a_word_does_not_cut_a_block(settings: Settings) -> None:
    """本保証契約番号 in a sentence starts no new guarantee: the type after it stays with the
    values before it."""
    body = (f"保証契約番号：{NUMBER}\n認証キー：{KEY}\n"
            "※本保証契約番号は前払金保証のものです。\n")
    mail = _mail(body, subject="【電子保証】契約保証")
    assert _subs(mail, settings) == [("dsure-key", "advance-payment", None)]


def test_typed_block_without_a_readable_number_is_skipped(settings: Settings) -> None:
    """A 保証契約番号 left blank gives nothing; the typed guarantees after it are still read."""
    body = ("保証契約番号：（後日送付）\n\n" + _typed(NUMBER, KEY, "契約保証") + "\n"
            + _typed(OTHER_NUMBER, OTHER_KEY, "前払金保証"))
    subs = cl.classify(_mail(body), settings).submissions
    assert [(s.fields.contract_number, s.fields.auth_key) for s in subs] == [
        (NUMBER, KEY), (OTHER_NUMBER, OTHER_KEY)]


def test_typed_guarantee_never_takes_anothers_key(settings: Settings) -> None:
    """The first typed guarantee without its key stays without one, though the next has one."""
    body = _typed(NUMBER, None, "契約保証") + "\n" + _typed(OTHER_NUMBER, OTHER_KEY, "前払金保証")
    mail = _mail(body)
    subs = cl.classify(mail, settings).submissions
    assert [(s.fields.contract_number, s.fields.auth_key) for s in subs] == [
        (NUMBER, None), (OTHER_NUMBER, OTHER_KEY)]
    assert decide(mail, settings).problems == ("auth-key-missing",)


def test_typed_block_without_a_type_takes_the_subjects_then_the_mails(
        settings: Settings) -> None:
    """A typed guarantee that names no type takes the subject's, else any the mail names."""
    body = (f"前払金保証\n保証契約番号：{NUMBER}\n認証キー：{KEY}\n\n"
            f"保証契約番号：{OTHER_NUMBER}\n認証キー：{OTHER_KEY}\n")
    assert _subs(_mail(body, subject="【電子保証】契約保証"), settings) == [
        ("dsure-key", "advance-payment", None), ("dsure-key", "contract", None)]
    assert _subs(_mail(body, subject="【電子保証】"), settings) == [
        ("dsure-key", "advance-payment", None), ("dsure-key", "advance-payment", None)]


def test_subject_type_before_the_bodys_for_the_mail_alone(settings: Settings) -> None:
    """With nothing read but the mail (the notice attached could not be opened), the
    subject's type wins over a word in the body."""
    unread = _doc("認証キー等のお知らせ.pdf", "", status=DocumentStatus.UNREADABLE)
    mail = _mail("認証キー等のお知らせを添付します。前払金の請求書は別途提出します。",
                 subject="【電子保証】契約保証", docs=(unread,))
    assert _subs(mail, settings) == [("dsure-key", "contract", None)]


@pytest.mark.parametrize("status", [DocumentStatus.ENCRYPTED, DocumentStatus.NO_TEXT,
                                    DocumentStatus.SKIPPED])
def test_naming_the_route_beside_an_unread_attachment_is_a_submission(
        status: DocumentStatus, settings: Settings) -> None:
    """An attachment that could not be read may be the document the mail names: the mail
    is that route's submission; the same words with everything read are not."""
    unread = _doc("発注者提出用フォーマット.pdf", "", status=status)
    words = "発注者提出用フォーマットを送付します。"
    assert _subs(_mail(words, docs=(unread,)), settings) == [
        ("confirmation-system", "contract", None)]
    read = _doc("案内.pdf", "工事のご案内")
    assert _subs(_mail(words, docs=(read,)), settings) == [("other", None, None)]


def test_subject_opening_with_the_type_belongs_to_the_first_block(settings: Settings) -> None:
    """The subject's first word is part of the first typed guarantee (interim, not advance)."""
    body = (f"保証契約番号：{NUMBER}\n認証キー：{KEY}\n\n"
            f"保証契約番号：{OTHER_NUMBER}\n認証キー：{OTHER_KEY}\n")
    mail = _mail(body, subject="中間前払金保証の認証キー（第R8-土木-0123号）")
    assert _subs(mail, settings) == [("dsure-key", "interim-advance-payment", None)] * 2


def test_repeated_number_merges_its_key(settings: Settings) -> None:
    """The same 保証契約番号 typed twice, the key with the second, is one complete guarantee."""
    body = (f"契約保証\n保証契約番号：{NUMBER}（下記のとおり）\n\n"
            f"保証契約番号：{NUMBER}\n認証キー：{KEY}\n")
    mail = _mail(body)
    subs = cl.classify(mail, settings).submissions
    assert [(s.fields.contract_number, s.fields.auth_key) for s in subs] == [(NUMBER, KEY)]
    assert _verdict(mail, settings) == ("routed", ())


def test_repeated_number_keeps_the_first_key(settings: Settings) -> None:
    """A key already read is not replaced by what a later block with the same number says."""
    body = (f"保証契約番号：{NUMBER}\n認証キー：{KEY}\n契約保証\n\n"
            f"（再掲）保証契約番号：{NUMBER}\n認証キー：{OTHER_KEY}\n")
    subs = cl.classify(_mail(body), settings).submissions
    assert [(s.fields.contract_number, s.fields.auth_key) for s in subs] == [(NUMBER, KEY)]


def test_typed_key_merges_into_the_notice_missing_nothing(settings: Settings) -> None:
    """A notice and the same number typed in the mail stay one submission, the notice's key
    kept; the next typed guarantee is still read."""
    body = f"保証契約番号：{NUMBER}\n認証キー：{OTHER_KEY}\n\n" + _typed(OTHER_NUMBER, OTHER_KEY,
                                                                   "前払金保証")
    mail = _mail(body, docs=(_doc("お知らせ.pdf", _key_notice()),))
    subs = cl.classify(mail, settings).submissions
    assert [(s.fields.contract_number, s.fields.auth_key, s.source) for s in subs] == [
        (NUMBER, KEY, "お知らせ.pdf"), (OTHER_NUMBER, OTHER_KEY, "")]


def test_typed_key_is_not_given_to_a_printed_certificate(settings: Settings) -> None:
    """The wrong document keeps no key from the mail: it stays a certificate to be replaced."""
    cert = _doc("電子証書.pdf", _text("certificate"))
    mail = _mail(f"保証契約番号：{NUMBER}\n認証キー：{KEY}\n", docs=(cert,))
    (sub,) = cl.classify(mail, settings).submissions
    assert (sub.wrong_document, sub.fields.auth_key) == ("certificate-not-key-notice", None)


def test_number_quoted_about_an_attached_notice_is_no_submission(settings: Settings) -> None:
    """A number mentioned without a key beside an attached notice is not a second guarantee;
    with its key it is."""
    notice = _doc("お知らせ.pdf", _key_notice())
    quoted = _mail(f"保証契約番号：{OTHER_NUMBER}（前回分）は取下げます。", docs=(notice,))
    assert [s.source for s in cl.classify(quoted, settings).submissions] == ["お知らせ.pdf"]
    both = _mail(f"保証契約番号：{OTHER_NUMBER}（前回分）は取下げます。\n\n"
                 + _typed("2604012377", "Hv3Kw8Nb5Jc6", "前払金保証"), docs=(notice,))
    assert [s.fields.contract_number for s in cl.classify(both, settings).submissions] == [
        NUMBER, "2604012377"]
    typed = _mail(_typed(OTHER_NUMBER, OTHER_KEY, "前払金保証"), docs=(notice,))
    subs = cl.classify(typed, settings).submissions
    assert [(s.fields.contract_number, s.guarantee_type) for s in subs] == [
        (NUMBER, GuaranteeType.CONTRACT), (OTHER_NUMBER, GuaranteeType.ADVANCE_PAYMENT)]


@pytest.mark.parametrize("label", ["保証契約番号", "保証番号"])
def test_typed_number_beside_a_form_is_its_own_guarantee(label: str, settings: Settings) -> None:
    """A D-Sure number typed beside the insurer's form is a second submission (its key
    missing), not part of the form."""
    mail = _mail(f"前払金保証分\n{label}：{OTHER_NUMBER}\n", docs=(
        _doc("発注者提出用フォーマット.pdf", _text("form")),))
    subs = cl.classify(mail, settings).submissions
    assert [(s.kind, s.fields.contract_number, s.fields.auth_key) for s in subs] == [
        (Kind.CONFIRMATION_SYSTEM, None, None), (Kind.DSURE_KEY, OTHER_NUMBER, None)]
    assert (subs[1].fields.contract_number, subs[1].guarantee_type) == (
        OTHER_NUMBER, GuaranteeType.ADVANCE_PAYMENT)


def test_typed_certificate_number_and_key_beside_a_form(settings: Settings) -> None:
    """A 保証証書番号 and its 認証キー typed beside the insurer's form are a second submission."""
    mail = _mail(f"前払金保証分\n保証証書番号：{OTHER_NUMBER}\n認証キー：{OTHER_KEY}\n", docs=(
        _doc("発注者提出用フォーマット.pdf", _text("form")),))
    subs = cl.classify(mail, settings).submissions
    assert [(s.kind, s.fields.contract_number, s.fields.auth_key) for s in subs] == [
        (Kind.CONFIRMATION_SYSTEM, None, None), (Kind.DSURE_KEY, OTHER_NUMBER, OTHER_KEY)]
    form = decide(mail, settings).outcomes[0]
    assert (form.kind, form.fields.contract_number, form.fields.auth_key) == (
        Kind.CONFIRMATION_SYSTEM, None, None)


def test_certificate_number_alone_is_read_from_the_mail(settings: Settings) -> None:
    """A 保証証書番号 typed alone makes a D-Sure submission that lacks its key."""
    mail = _mail(f"契約保証\n保証証書番号：{NUMBER}\n")
    sub = _one(mail, settings)
    assert (sub.kind, sub.guarantee_type, sub.fields.contract_number) == (
        Kind.DSURE_KEY, GuaranteeType.CONTRACT, NUMBER)
    assert _verdict(mail, settings) == ("correction", ("auth-key-missing",))


def test_typed_values_beside_a_policy_stay_apart(settings: Settings) -> None:
    """The policy does not take the D-Sure number and key typed for another guarantee."""
    policy = _doc("履行保証保険証券.pdf", _text("legacy"))
    mail = _mail(_typed(OTHER_NUMBER, OTHER_KEY, "前払金保証") + f"閲覧用URL：{SYSTEM_URL}\n"
                 f"閲覧用パスワード：{VIEW_PASSWORD}\n", docs=(policy,))
    legacy, typed = cl.classify(mail, settings).submissions
    assert legacy.kind is Kind.LEGACY_PDF
    f = legacy.fields
    assert (f.contract_number, f.auth_key, f.view_url, f.view_password, f.policy_number) == (
        None, None, None, None, POLICY)
    assert (typed.fields.contract_number, typed.fields.auth_key, typed.fields.policy_number) == (
        OTHER_NUMBER, OTHER_KEY, None)


def test_bank_guarantee_takes_no_typed_values(settings: Settings) -> None:
    """A bank's guarantee does not take the D-Sure values typed in the mail."""
    mail = _mail(_typed(OTHER_NUMBER, OTHER_KEY, "前払金保証"), docs=(
        _doc("保証書.pdf", _text("bank")),))
    bank, typed = cl.classify(mail, settings).submissions
    assert (bank.wrong_document, bank.fields.contract_number, bank.fields.auth_key) == (
        "bank-guarantee-not-eligible", None, None)
    assert typed.fields.contract_number == OTHER_NUMBER


def test_policy_insurer_by_the_senders_domain(settings: Settings) -> None:
    """A policy that names no insurer, sent from the insurer's domain, is that insurer's."""
    policy = _doc("証券.pdf", f"履行保証保険証券\n証券番号 {POLICY}\n工事名\n{PROJECT}")
    mail = _mail("証券を送付します。", docs=(policy,),
                 from_="保険事務 <jimu@sompo-japan.example.jp>")
    assert _one(mail, settings).fields.insurer == SOMPO


def test_notice_does_not_take_the_policy_number_in_the_mail(settings: Settings) -> None:
    """A key notice never takes the 証券番号 written in the mail for another guarantee."""
    mail = _mail(f"証券番号：{POLICY}\n", docs=(_doc("お知らせ.pdf", _key_notice()),))
    assert _one(mail, settings).fields.policy_number is None


# --- the mail alone --------------------------------------------------------------------------

@pytest.mark.parametrize(("body", "kind", "gtype"), [
    (f"認証キー：{KEY}\n前払金保証分です。", "dsure-key", "advance-payment"),
    (f"保証契約番号：{NUMBER}\n認証キーは後ほどお送りします。", "dsure-key", None),
    ("閲覧用パスワード：Zz9876543210\n", "confirmation-system", "contract"),
    (f"こちらからご確認ください。\n{SYSTEM_URL}", "confirmation-system", "contract"),
    # Words alone are no submission: a question, a notice that the rest follows.
    ("認証キーは後ほどお送りします。前払金保証分です。", "other", None),
    ("保証契約番号と認証キーはどこに書けばよいでしょうか。", "other", None),
    ("閲覧用URLは別途お知らせします。", "other", None),
    ("閲覧用パスワードは別途お知らせします。", "other", None),
    ("発注者提出用フォーマットは別途お送りします。", "other", None),
    ("保証証券等確認システムに登録済みです。", "other", None),
    ("入札参加資格についてお尋ねします。", "other", None),
])
def test_mail_without_documents(body: str, kind: str, gtype: str | None,
                                settings: Settings) -> None:
    """With nothing attached, values typed beside their labels make a submission; the words
    alone (a question, a promise of the rest) do not."""
    mail = _mail(body, subject="お問い合わせ")
    assert _subs(mail, settings) == [(kind, gtype, None)]


def test_unrecognised_words_make_no_submission(settings: Settings) -> None:
    """A mail about something else is not a submission; a bare URL elsewhere is not the system."""
    mail = _mail("資料は https://www.city.example.jp/nyusatsu/ にあります。",
                 subject="お問い合わせ")
    sub = _one(mail, settings)
    assert (sub.kind, sub.guarantee_type, sub.source) == (Kind.OTHER, None, "")
    assert _verdict(mail, settings) == ("review", ("not-a-submission",))


@pytest.mark.parametrize(("name", "ctype", "status", "wrong"), [
    ("履行保証保険証券.JPG", "application/octet-stream", DocumentStatus.SKIPPED, "not-pdf"),
    ("IMG_0412", "image/jpeg", DocumentStatus.SKIPPED, "not-pdf"),
    ("履行保証保険証券.xlsx", "application/octet-stream", DocumentStatus.TEXT, "not-pdf"),
    ("履行保証保険証券.pdf", "application/pdf", DocumentStatus.ENCRYPTED, None),
])
def test_policy_the_reader_could_not_read(name: str, ctype: str, status: DocumentStatus,
                                          wrong: str | None, settings: Settings) -> None:
    """A mail that says it sends a policy, with a photo or an Office file, is a legacy policy in
    the wrong format; with a locked PDF it is a policy that waits for its password."""
    doc = _doc(name, "写真を添付します" if status is DocumentStatus.TEXT else "",
               status=status, content_type=ctype)
    mail = _mail("履行保証保険の証券を送付します。", docs=(doc,))
    assert _subs(mail, settings) == [("legacy-pdf", "contract", wrong)]


def test_photo_beside_the_locked_policy_pdf_is_no_wrong_format(settings: Settings) -> None:
    """A photo next to the policy PDF does not make the submission not-pdf."""
    mail = _mail("証券を送付します。", docs=(
        _doc("証券.pdf", "", status=DocumentStatus.ENCRYPTED),
        _doc("photo.png", "", status=DocumentStatus.SKIPPED, content_type="image/png")))
    assert _subs(mail, settings) == [("legacy-pdf", "contract", None)]


@pytest.mark.parametrize(("body", "docs"), [
    ("証券を送付します。", ()),
    ("書類を送付します。", ("photo.jpg", "image/jpeg", DocumentStatus.SKIPPED)),
    ("証券を送付します。", ("送付状.pdf", "application/pdf", DocumentStatus.TEXT)),
])
def test_not_a_policy_mail(body: str, docs: tuple[str, str, DocumentStatus] | tuple[()],
                           settings: Settings) -> None:
    """The word 証券 with nothing unread attached, or a photo without it, is no policy."""
    atts = (_doc(docs[0], "送付状", status=docs[2], content_type=docs[1]),) if docs else ()
    mail = _mail(body, subject="お知らせ", docs=atts)
    assert _subs(mail, settings) == [("other", None, None)]


# --- fields: the document over the mail -------------------------------------------------------

def test_document_names_over_the_mails(settings: Settings) -> None:
    """The notice's works and contractor win over other ones written in the mail."""
    mail = _mail("工事名：令和8年度 別件工事\n工事番号：R8-9999\n受注者名：別件建設株式会社\n",
                 docs=(_doc("お知らせ.pdf", _key_notice()),))
    f = _one(mail, settings).fields
    assert (f.project_name, f.project_number, f.contractor_name) == (
        PROJECT, "第R8-土木-0123号", CONTRACTOR)


def test_names_missing_from_the_document_come_from_the_mail(settings: Settings) -> None:
    """A notice without works name, number or contractor takes them from the mail."""
    text = _key_notice(project=None, contractor=None).replace("6.工事番号\n:\n第R8-土木-0123号\n",
                                                             "")
    mail = _mail(f"工事名：{PROJECT}\n工事番号：R8-0123\n受注者名：{CONTRACTOR}\n",
                 docs=(_doc("お知らせ.pdf", text),))
    f = _one(mail, settings).fields
    assert (f.contract_number, f.auth_key) == (NUMBER, KEY)
    assert (f.project_name, f.project_number, f.contractor_name) == (
        PROJECT, "R8-0123", CONTRACTOR)


def test_mail_only_submission_reads_everything_from_the_mail(settings: Settings) -> None:
    """Without a document every field comes from the mail, first contract date included."""
    body = (f"閲覧用URL：{SYSTEM_URL}\n閲覧用パスワード：{VIEW_PASSWORD}\n工事名：{PROJECT}\n"
            f"工事番号：R8-0123\n受注者名：{CONTRACTOR}\n証券番号：{POLICY}\n"
            "保険会社：損保ジャパン\n当初契約日：令和8年4月1日\n")
    f = _one(_mail(body), settings).fields
    assert (f.view_url, f.view_password, f.project_name, f.project_number, f.contractor_name,
            f.policy_number, f.insurer, f.first_contract_date) == (
        SYSTEM_URL, VIEW_PASSWORD, PROJECT, "R8-0123", CONTRACTOR, POLICY, SOMPO,
        date(2026, 4, 1))


@pytest.mark.parametrize(("doc", "mail", "when"), [
    ("当初契約日：令和8年4月1日", "契約日：令和8年5月1日", date(2026, 4, 1)),
    ("お知らせ", "契約日\n令和8年5月1日", date(2026, 5, 1)),
    ("当初契約締結日 令和7年12月1日", "", date(2025, 12, 1)),
    ("契約締結日:2026年4月2日", "", date(2026, 4, 2)),
    ("当初契約日：未定\n契約日：令和8年4月3日", "", date(2026, 4, 3)),
    ("保証契約締結日\n令和8年4月6日", "", None),
    ("変更契約日：令和8年6月1日", "", None),
])
def test_first_contract_date(doc: str, mail: str, when: date | None,
                             settings: Settings) -> None:
    """The first contract date beside its labels, from the document first; never the guarantee's
    own 保証契約締結日."""
    notice = _doc("お知らせ.pdf", _key_notice(extra=doc))
    sub = _one(_mail(mail, docs=(notice,)), settings)
    assert sub.fields.first_contract_date == when


# --- insurers, guarantee companies, guarantee types ---------------------------------------------

def test_insurer_named_in_the_document(settings: Settings) -> None:
    """The form's insurer is given by its configured name, also when written by its alias."""
    form = _doc("f.pdf", "発注者提出用フォーマット\n保険会社名\n損保ジャパン")
    assert _one(_mail("", docs=(form,)), settings).fields.insurer == SOMPO


def test_document_insurer_over_the_mail(settings: Settings) -> None:
    """The insurer in the document wins over another named in the mail."""
    form = _doc("f.pdf", "発注者提出用フォーマット\n保険会社名\n東京海上日動火災保険株式会社")
    mail = _mail("保険会社：損害保険ジャパン株式会社\n", docs=(form,))
    assert _one(mail, settings).fields.insurer == "東京海上日動火災保険株式会社"


def test_unconfigured_insurer_by_its_written_name(settings: Settings) -> None:
    """An insurer the office has not configured is named as written (in the doc, then mail)."""
    form = _doc("f.pdf", "発注者提出用フォーマット\n保険会社名：東都火災海上保険株式会社 東都支店")
    assert _one(_mail("", docs=(form,)), settings).fields.insurer == "東都火災海上保険株式会社"
    bare = _doc("f.pdf", "発注者提出用フォーマット")
    mail = _mail("保険会社：大東海上火災保険株式会社\n", docs=(bare,))
    assert _one(mail, settings).fields.insurer == "大東海上火災保険株式会社"


def test_a_bank_is_no_insurer(settings: Settings) -> None:
    """A bank's agency name that ends like an insurer is skipped for the insurer the mail
    names."""
    form = _doc("f.pdf", "発注者提出用フォーマット\n取扱：東都銀行代理店東都火災保険株式会社")
    mail = _mail("保険会社：損保ジャパン\n", docs=(form,))
    assert _one(mail, settings).fields.insurer == SOMPO
    alone = _mail("", docs=(form,))
    assert _one(alone, settings).fields.insurer is None


def test_insurer_known_by_the_senders_domain(settings: Settings) -> None:
    """With no insurer named, the sender's domain names it; an unknown domain names none."""
    form = _doc("f.pdf", "発注者提出用フォーマット")
    for sender in ("保険事務 <jimu@agency.sompo-japan.example.jp>",
                   "保険事務 <jimu@sompo-japan.example.jp>"):
        assert _one(_mail("", docs=(form,), from_=sender), settings).fields.insurer == SOMPO
    quoted = replace(_mail("", docs=(form,)), from_addr='"jimu@agency"@sompo-japan.example.jp')
    assert _one(quoted, settings).fields.insurer == SOMPO
    assert _one(_mail("", docs=(form,)), settings).fields.insurer is None
    assert cl.find_insurer(replace(_mail(""), from_addr=""), "", "", settings.insurers) is None


def test_configured_insurer(settings: Settings) -> None:
    """The configured insurer is found by its configured name only."""
    assert cl.configured_insurer(SOMPO, settings.insurers).name == SOMPO  # type: ignore[union-attr]
    assert cl.configured_insurer("損保ジャパン", settings.insurers) is None
    assert cl.configured_insurer(None, settings.insurers) is None


@pytest.mark.parametrize(("text", "name"), [
    ("東日本建設業保証株式会社 東都支店", "東日本建設業保証株式会社"),
    ("東日本保証", "東日本建設業保証株式会社"),
    ("西日本建設業保証", "西日本建設業保証株式会社"),
    ("保証会社：西日本保証", "西日本建設業保証株式会社"),
    ("北海道建設業信用保証株式会社", "北海道建設業信用保証株式会社"),
    ("東都建設業協会", None),
])
def test_guarantee_company(text: str, name: str | None, settings: Settings) -> None:
    """Each guarantee company by its full or short name; none for anyone else."""
    mail = _mail(f"保証会社：{text}\n保証契約番号：{NUMBER}\n認証キー：{KEY}\n")
    assert _one(mail, settings).fields.guarantor == name


@pytest.mark.parametrize(("doc", "subject", "body", "gtype"), [
    ("中間前払金保証", "【電子保証】契約保証", "契約保証", "interim-advance-payment"),
    ("前払保証", "【電子保証】契約保証", "", "advance-payment"),
    ("契約の保証", "【電子保証(前払金)】", "前払金", "contract"),
    ("", "【電子保証(中間前払金)】", "契約保証", "interim-advance-payment"),
    ("", "【電子保証】履行保証", "前払金", "contract"),
    ("", "【電子保証】", "前払金保証の認証キーです", "advance-payment"),
    ("", "【電子保証】", "", None),
])
def test_guarantee_type_document_then_subject_then_body(doc: str, subject: str, body: str,
                                                        gtype: str | None,
                                                        settings: Settings) -> None:
    """The type is the document's, else the subject's, else the body's; interim before advance
    before contract within each."""
    notice = _doc("お知らせ.pdf", _key_notice(kind=doc))
    mail = _mail(body, subject=subject, docs=(notice,))
    assert _subs(mail, settings) == [("dsure-key", gtype, None)]


def test_mail_text_is_subject_and_body_normalised() -> None:
    """The mail's text is its subject and body, full-width folded."""
    mail = _mail("保証契約番号：２６０４０１２３４５", subject="【電子保証】ＡＢＣ")
    text = cl.mail_text(mail)
    assert text.startswith("【電子保証】ABC\n")
    assert "保証契約番号:2604012345" in text
