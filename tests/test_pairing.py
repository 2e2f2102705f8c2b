"""Pairing by proof: which held message a new mail completes, and what the pair becomes.

Pure (no server): the held messages are read as the daemon reads them, a password is
tried by reading the held message again, and the pair is decided as ``run`` decides it.
Each rule is shown with the case that must pair beside the one that must not.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from samples import mails, parties

from daemon import pairing
from daemon.config import Settings
from daemon.decide import (
    WAITING_FOR_DOCUMENT,
    WAITING_FOR_PASSWORD,
    WAITING_FOR_REST,
    decide,
    wait_for,
)
from daemon.model import Decision, DocumentStatus, EarlierSubmission, Fields, Kind, Mail, Submission
from daemon.pairing import Proof, Waiting
from daemon.read import read_message

YAMADA = "t-yamada@yamada-kensetsu.example.co.jp"
SUZUKI = "h-suzuki@yamada-kensetsu.example.co.jp"  # a colleague: same organisation
OTHER = "k-sato@sato-gumi.example.co.jp"
OFFICE = mails.OFFICE_ADDRESS
ZIP_PASSWORD = "Kk2604#tot"
LATER = datetime(2030, 1, 1).astimezone()


def _read(raw: bytes) -> Mail:
    return read_message(raw)


def _open(mail: Mail, passwords: tuple[str, ...]) -> Mail:
    """Read a message again with passwords, as the daemon does (here without a sandbox)."""
    return read_message(mail.raw, mail.received_at, passwords=passwords)


def _held(mail: Mail, reason: str, *, key: int = 1, until: datetime = LATER) -> Waiting:
    return Waiting(key, mail.from_addr, reason, until, mail)


def _plain(body: str, *, sender: str = YAMADA, subject: str = "Re: 電子保証の送付",
           minutes: int = 5) -> Mail:
    return _read(mails.build(from_=sender, to=OFFICE, subject=subject, body=body,
                             date=mails.DEFAULT_DATE + timedelta(minutes=minutes)))


def _pair(held: Mail, follow: Mail, settings: Settings) -> Decision:
    both = pairing.combined(held, follow, _open)
    return decide(both, settings, can_wait=False)


def _verdict(decision: Decision) -> tuple[str, tuple[str, ...]]:
    return decision.verdict.value, decision.problems


@pytest.fixture
def locked() -> Mail:
    """A confirmation-system form in a password zip (the password follows)."""
    mail = _read(mails.confirmation_mail(encrypt="zip-aes"))
    assert [a.status for a in mail.attachments] == [DocumentStatus.ENCRYPTED]
    return mail


# --- a password, in every way people write it -------------------------------------------

PASSWORD_WORDINGS = {
    "label and colon": f"パスワード：{ZIP_PASSWORD}",
    "PW": f"PW: {ZIP_PASSWORD}",
    "Pass": f"Pass {ZIP_PASSWORD}",
    "解凍パスワード": f"解凍パスワード：{ZIP_PASSWORD}",
    "開封パスワード in brackets": f"開封パスワードは「{ZIP_PASSWORD}」です。",
    "full-width": "パスワード：Ｋｋ２６０４＃ｔｏｔ",
    "next line": f"添付ファイルのパスワード\n{ZIP_PASSWORD}",
    "alone on a line": f"先ほどのファイルの件です。\n\n{ZIP_PASSWORD}\n\nよろしくお願いします。",
    "no colon": f"ZIPパスワード {ZIP_PASSWORD}",
}


@pytest.mark.parametrize("wording", PASSWORD_WORDINGS)
def test_a_password_in_any_wording_opens_the_held_zip(wording: str, locked: Mail,
                                                      settings: Settings) -> None:
    follow = _plain(f"山田建設の山田です。\n{PASSWORD_WORDINGS[wording]}\n")
    assert pairing.proof(_held(locked, WAITING_FOR_PASSWORD), follow, settings,
                         _open) is Proof.OPENED
    assert _verdict(_pair(locked, follow, settings)) == ("routed", ())


def test_a_password_in_the_subject_opens_it(locked: Mail, settings: Settings) -> None:
    follow = _plain("よろしくお願いいたします。", subject=f"パスワード：{ZIP_PASSWORD}")
    assert pairing.proof(_held(locked, WAITING_FOR_PASSWORD), follow, settings,
                         _open) is Proof.OPENED


def test_a_password_in_an_html_only_mail_opens_it(locked: Mail, settings: Settings) -> None:
    raw = (f"From: {YAMADA}\r\nTo: {OFFICE}\r\nSubject: =?UTF-8?B?44OR44K544Ov44O844OJ?=\r\n"
           "Date: Mon, 06 Apr 2026 09:40:00 +0900\r\nMessage-ID: <html-pw@example.co.jp>\r\n"
           "MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n"
           "Content-Transfer-Encoding: 8bit\r\n\r\n"
           f"<html><body><p>お世話になります。</p><table><tr><td>パスワード</td>"
           f"<td>{ZIP_PASSWORD.replace('#', '&#35;')}</td></tr></table></body></html>\r\n")
    follow = _read(raw.encode())
    assert pairing.proof(_held(locked, WAITING_FOR_PASSWORD), follow, settings,
                         _open) is Proof.OPENED


def test_a_colleague_at_the_same_domain_may_send_the_password(locked: Mail,
                                                              settings: Settings) -> None:
    follow = _plain(f"山田の代わりにお送りします。\nパスワード：{ZIP_PASSWORD}", sender=SUZUKI)
    assert pairing.proof(_held(locked, WAITING_FOR_PASSWORD), follow, settings,
                         _open) is Proof.OPENED


def test_another_organisation_never_completes(locked: Mail, settings: Settings) -> None:
    follow = _plain(f"パスワード：{ZIP_PASSWORD}", sender=OTHER)
    assert pairing.proof(_held(locked, WAITING_FOR_PASSWORD), follow, settings,
                         _open) is Proof.NONE


def test_a_late_password_completes_nothing(locked: Mail, settings: Settings) -> None:
    follow = _plain(f"パスワード：{ZIP_PASSWORD}")
    held = _held(locked, WAITING_FOR_PASSWORD, until=follow.received_at - timedelta(seconds=1))
    assert pairing.proof(held, follow, settings, _open) is Proof.NONE
    on_time = replace(held, until=follow.received_at)
    assert pairing.proof(on_time, follow, settings, _open) is Proof.OPENED


@pytest.mark.parametrize("follow_up", ["no password", "question", "auto-reply"])
def test_mails_that_open_nothing_pair_with_nothing(follow_up: str, locked: Mail,
                                                   settings: Settings) -> None:
    """A mail with no password, a question with a stray token, an auto-reply quoting the
    password: none completes the held zip."""
    raw = {
        "no password": mails.build(from_=YAMADA, to=OFFICE, subject="Re: 電子保証",
                                   body="よろしくお願いします。"),
        "question": mails.build(from_=YAMADA, to=OFFICE, subject="電子保証について",
                                body="保証契約番号と認証キーはどこに書けばよいですか。\n"
                                     "TEL:03-1234-5678\n03-1234-5678"),
        "auto-reply": mails.build(from_=YAMADA, to=OFFICE, subject="自動応答: 電子保証",
                                  body=f"不在にしております。\nパスワード：{ZIP_PASSWORD}",
                                  headers={"Auto-Submitted": "auto-replied"}),
    }[follow_up]
    assert pairing.proof(_held(locked, WAITING_FOR_PASSWORD), _read(raw), settings,
                         _open) is Proof.NONE


class _Asked:
    """A state file that saw (or did not see) a password mail set aside."""

    def __init__(self, seen: bool) -> None:
        self.seen = seen

    def replies_between(self, address: str | None, start: datetime, end: datetime, *,
                        exclude_sources: tuple[str, ...]) -> int:
        return 0

    def earlier_submissions(self, *_: object, **__: object) -> list[EarlierSubmission]:
        return []

    def password_mail_since(self, sender: str, since: datetime) -> bool:
        return self.seen


def test_a_wrong_password_pairs_with_nothing_and_is_asked_for_again(
        locked: Mail, settings: Settings) -> None:
    """A password that opens nothing never pairs (a zip sent next may be the one it
    opens); once the held attachment's wait is over, a sender who did send a password is
    asked for the right one, a sender who sent none for the password."""
    wrong = _plain("先ほどのファイルのパスワード：Nope12345\n")
    assert pairing.proof(_held(locked, WAITING_FOR_PASSWORD), wrong, settings,
                         _open) is Proof.NONE
    asked = decide(locked, settings, can_wait=False, history=_Asked(True))  # type: ignore[arg-type]
    assert _verdict(asked) == ("correction", ("attachment-password-wrong",))
    missing = decide(locked, settings, can_wait=False, history=_Asked(False))  # type: ignore[arg-type]
    assert _verdict(missing) == ("correction", ("attachment-password-missing",))


def test_a_wrong_password_from_a_colleague_pairs_with_nothing(locked: Mail,
                                                              settings: Settings) -> None:
    wrong = _plain("パスワード：Nope12345\n", sender=SUZUKI)
    assert pairing.proof(_held(locked, WAITING_FOR_PASSWORD), wrong, settings,
                         _open) is Proof.NONE


def test_a_complete_submission_with_a_stray_token_is_no_wrong_password(
        locked: Mail, settings: Settings) -> None:
    """A typed key notice whose key sits alone on its line is its own submission, not a
    (wrong) password for the held zip."""
    typed = _plain("保証契約番号：2604019999\n認証キー\nZx9Yw8Vu7Ts6\n工事名：市道改良工事\n")
    assert pairing.proof(_held(locked, WAITING_FOR_PASSWORD), typed, settings,
                         _open) is Proof.NONE


def test_two_zips_of_one_company_each_pair_with_their_own_password(
        settings: Settings) -> None:
    road = _read(mails.confirmation_mail(encrypt="zip-aes", archive_password="Road2604a"))
    bridge = _read(mails.confirmation_mail(
        encrypt="zip-aes", archive_password="Brdg2604b", project="bridge",
        policy_number="SJ26-0412399"))
    waiting = [_held(road, WAITING_FOR_PASSWORD, key=1),
               _held(bridge, WAITING_FOR_PASSWORD, key=2)]
    for password, key in (("Brdg2604b", 2), ("Road2604a", 1)):
        match = pairing.partner(waiting, _plain(f"パスワード：{password}"), settings, _open)
        assert match is not None and match.key == key
    # A wrong password could be for either: it pairs with neither.
    assert pairing.partner(waiting, _plain("パスワード：Nope12345"), settings, _open) is None


# --- the password first, the attachment next ---------------------------------------------

def test_a_password_mail_alone_waits_briefly_for_what_it_opens(settings: Settings) -> None:
    password = _read(mails.password_followup())
    held = decide(password, settings)
    assert (held.verdict.value, held.reason) == ("held", WAITING_FOR_DOCUMENT)
    assert held.held_until == password.received_at + timedelta(minutes=60)
    alone = decide(password, settings, can_wait=False)
    assert _verdict(alone) == ("review", ("unpaired-password",))


def test_the_order_does_not_change_the_pair(locked: Mail, settings: Settings) -> None:
    password = _read(mails.password_followup())
    assert pairing.proof(_held(password, WAITING_FOR_DOCUMENT), locked, settings,
                         _open) is Proof.OPENED
    one = pairing.combined(locked, password, _open)
    other = pairing.combined(password, locked, _open)
    assert one.message_id == other.message_id == locked.message_id
    assert (one.body, one.attachments, one.received_at) == (
        other.body, other.attachments, other.received_at)
    assert _verdict(decide(other, settings, can_wait=False)) == ("routed", ())


# --- the rest of a submission ---------------------------------------------------------------

@pytest.fixture
def form_without_url() -> Mail:
    return _read(mails.confirmation_mail(omit=("view_url",)))


def test_the_url_for_the_same_works_completes_the_form(form_without_url: Mail,
                                                       settings: Settings) -> None:
    url = parties.viewing_url("SJ26-0412345")
    follow = _plain(f"閲覧用URLをお送りします。\n証券番号：SJ26-0412345\n閲覧用URL：{url}\n")
    assert pairing.proof(_held(form_without_url, WAITING_FOR_REST), follow, settings,
                         _open) is Proof.NAMED
    both = _pair(form_without_url, follow, settings)
    assert _verdict(both) == ("routed", ())
    assert both.fields.view_url == url


def test_a_url_naming_other_works_does_not_complete_it(form_without_url: Mail,
                                                       settings: Settings) -> None:
    url = parties.viewing_url("SJ26-0477777")
    follow = _plain(f"証券番号：SJ26-0477777\n閲覧用URL：{url}\n")
    assert pairing.proof(_held(form_without_url, WAITING_FOR_REST), follow, settings,
                         _open) is Proof.NONE


def test_a_whole_submission_is_never_the_rest_of_another(form_without_url: Mail,
                                                         settings: Settings) -> None:
    """An unrelated complete submission from the same sender is decided on its own."""
    whole = _read(mails.confirmation_mail(project="bridge", policy_number="SJ26-0412399"))
    assert pairing.proof(_held(form_without_url, WAITING_FOR_REST), whole, settings,
                         _open) is Proof.NONE
    assert pairing.proof(_held(form_without_url, WAITING_FOR_REST), _read(mails.unrelated()),
                         settings, _open) is Proof.NONE


def test_the_rest_must_come_from_the_same_address(form_without_url: Mail,
                                                  settings: Settings) -> None:
    url = parties.viewing_url("SJ26-0412345")
    follow = _plain(f"閲覧用URL：{url}\n", sender=SUZUKI)
    assert pairing.proof(_held(form_without_url, WAITING_FOR_REST), follow, settings,
                         _open) is Proof.NONE


def test_a_url_that_fits_two_held_forms_pairs_with_neither(settings: Settings) -> None:
    road = _read(mails.confirmation_mail(omit=("view_url",)))
    bridge = _read(mails.confirmation_mail(omit=("view_url",), project="bridge",
                                           policy_number="SJ26-0412399"))
    waiting = [_held(road, WAITING_FOR_REST, key=1), _held(bridge, WAITING_FOR_REST, key=2)]
    bare = _plain(f"閲覧用URL：{parties.viewing_url('SJ26-0412345')}\n")
    assert pairing.partner(waiting, bare, settings, _open) is None
    named = _plain(f"証券番号：SJ26-0412399\n閲覧用URL：{parties.viewing_url('SJ26-0412399')}\n")
    match = pairing.partner(waiting, named, settings, _open)
    assert match is not None and match.key == 2


KEY_LATER = ("お世話になっております。下記工事の前払金保証の保証契約番号をお知らせします。\n"
             "保証契約番号：2604012345\n工事名：令和8年度 市道中央線道路改良工事\n"
             "認証キーは別途お送りします。\n")


@pytest.mark.parametrize(("second", "expected"), [
    ("保証契約番号：2604012345\n認証キー：AbCd1234EfGh\n", Proof.NAMED),
    ("先ほどの件、認証キーをお送りします。\n認証キー：AbCd1234EfGh\n", Proof.FITS),
    ("保証契約番号：2604099999\n認証キー：AbCd1234EfGh\n", Proof.NONE),
    ("先ほどの件、よろしくお願いします。\n", Proof.NONE),
])
def test_a_key_notice_split_over_two_mails(second: str, expected: Proof,
                                           settings: Settings) -> None:
    first = _plain(KEY_LATER, minutes=0)
    held = decide(first, settings)
    assert (held.verdict.value, held.reason) == ("held", WAITING_FOR_REST)
    assert held.held_until == first.received_at + timedelta(hours=24)  # "別途お送りします"
    follow = _plain(second)
    assert pairing.proof(_held(first, WAITING_FOR_REST), follow, settings, _open) is expected
    if expected is not Proof.NONE:
        both = _pair(first, follow, settings)
        assert _verdict(both) == ("routed", ())
        assert len(both.outcomes) == 1
        assert (both.fields.contract_number, both.fields.auth_key) == (
            "2604012345", "AbCd1234EfGh")


# --- waits -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("body", "hours"), [
    ("フォーマットを送付します。", 1.0),
    ("閲覧用URLは追ってお送りします。", 24.0),
    ("URLは別途メールにてご連絡いたします。", 24.0),
    ("認証キーは別送とさせていただきます。", 24.0),
])
def test_the_rest_waits_long_only_when_the_mail_says_it_follows(
        body: str, hours: float, settings: Settings) -> None:
    form = _read(mails.build(
        from_=YAMADA, to=OFFICE, subject="【電子保証】発注者提出用フォーマット", body=body,
        attachments=[("form.pdf", b"", "application/pdf")]))
    assert wait_for(WAITING_FOR_REST, form, settings) == timedelta(hours=hours)
    assert wait_for(WAITING_FOR_PASSWORD, form, settings) == timedelta(hours=24)


def test_held_only_while_the_wait_runs(form_without_url: Mail, settings: Settings) -> None:
    arrived = form_without_url.received_at
    soon = decide(form_without_url, settings, now=arrived + timedelta(minutes=59))
    assert (soon.verdict.value, soon.held_until) == ("held", arrived + timedelta(minutes=60))
    over = decide(form_without_url, settings, now=arrived + timedelta(minutes=60))
    assert _verdict(over) == ("correction", ("view-url-missing",))


def test_a_sealed_policy_past_its_wait_asks_for_the_password(settings: Settings) -> None:
    sealed = _read(mails.confirmation_mail(encrypt="pdf"))
    arrived = sealed.received_at
    assert decide(sealed, settings, now=arrived + timedelta(hours=23)).verdict.value == "held"
    assert _verdict(decide(sealed, settings, now=arrived + timedelta(hours=24))) == (
        "correction", ("attachment-password-missing",))


def test_no_rest_wait_when_the_office_says_so(form_without_url: Mail,
                                              settings: Settings) -> None:
    never = settings.model_copy(update={
        "policy": settings.policy.model_copy(update={"rest_wait_minutes": 0})})
    assert _verdict(decide(form_without_url, never)) == ("correction", ("view-url-missing",))


def test_a_password_mail_with_its_own_submission_waits_then_decides_it(
        settings: Settings) -> None:
    """A mail giving a password and typing a complete key notice of its own waits briefly
    for the attachment (so the order does not matter); alone after that, its own
    submission is routed and the password set aside."""
    both = _plain(f"パスワード：{ZIP_PASSWORD}\n\n前払金保証\n保証契約番号：2604019999\n"
                  "認証キー：Zx9Yw8Vu7Ts6\n")
    assert decide(both, settings).reason == WAITING_FOR_DOCUMENT
    alone = decide(both, settings, can_wait=False)
    assert _verdict(alone) == ("routed", ())
    assert alone.outcomes[0].fields.contract_number == "2604019999"


# --- the rules themselves, on submissions ----------------------------------------------------

URL = "https://www.sonpo-hosyou-syouken.jp/view?k=1"
OTHER_URL = "https://www.sonpo-hosyou-syouken.jp/view?k=2"


def _sub(kind: str, source: str = "", **fields: str) -> Submission:
    return Submission(Kind(kind), None, Fields(**fields), source)  # type: ignore[arg-type]


FORM = "form.pdf"
CASES = {
    # confirmation system: a form waits for its URL, a URL for its form
    "form, then its URL": (_sub("confirmation-system", FORM),
                           _sub("confirmation-system", view_url=URL), True),
    "form, then a mail without URL": (_sub("confirmation-system", FORM),
                                      _sub("confirmation-system", view_password="pw12"), False),
    "form, then another form with a URL": (_sub("confirmation-system", FORM),
                                           _sub("confirmation-system", FORM, view_url=URL),
                                           False),
    "a complete form waits for nothing": (_sub("confirmation-system", FORM, view_url=URL),
                                          _sub("confirmation-system", view_url=OTHER_URL),
                                          False),
    "URL, then its form": (_sub("confirmation-system", view_url=URL),
                           _sub("confirmation-system", FORM), True),
    "URL, then its form with the same URL": (_sub("confirmation-system", view_url=URL),
                                             _sub("confirmation-system", FORM, view_url=URL),
                                             True),
    "URL, then a form with another URL": (_sub("confirmation-system", view_url=URL),
                                          _sub("confirmation-system", FORM,
                                               view_url=OTHER_URL), False),
    "URL, then another typed URL": (_sub("confirmation-system", view_url=URL),
                                    _sub("confirmation-system", view_url=URL), False),
    "typed without URL waits for no form": (_sub("confirmation-system", view_password="pw12"),
                                            _sub("confirmation-system", FORM), False),
    "another kind": (_sub("confirmation-system", FORM),
                     _sub("dsure-key", view_url=URL, auth_key="AbCd1234"), False),
    # D-Sure typed in two mails
    "number, then its key": (_sub("dsure-key", contract_number="2604012345"),
                             _sub("dsure-key", auth_key="AbCd1234EfGh"), True),
    "number, then no key": (_sub("dsure-key", contract_number="2604012345"),
                            _sub("dsure-key", project_name="市道改良工事"), False),
    "number and key wait for nothing": (_sub("dsure-key", contract_number="2604012345",
                                             auth_key="AbCd1234EfGh"),
                                        _sub("dsure-key", auth_key="Zz9Yy8Xx7Ww6"), False),
    "key, then its number": (_sub("dsure-key", auth_key="AbCd1234EfGh"),
                             _sub("dsure-key", contract_number="2604012345"), True),
    "key, then its number and the same key": (
        _sub("dsure-key", auth_key="AbCd1234EfGh"),
        _sub("dsure-key", contract_number="2604012345", auth_key="AbCd1234EfGh"), True),
    "key, then a number with another key": (
        _sub("dsure-key", auth_key="AbCd1234EfGh"),
        _sub("dsure-key", contract_number="2604012345", auth_key="Zz9Yy8Xx7Ww6"), False),
    "key, then no number": (_sub("dsure-key", auth_key="AbCd1234EfGh"),
                            _sub("dsure-key", project_name="市道改良工事"), False),
    "a notice document waits for nothing": (_sub("dsure-key", "notice.pdf",
                                                 contract_number="2604012345"),
                                            _sub("dsure-key", auth_key="AbCd1234EfGh"), False),
    "a typed number is not completed by a document": (
        _sub("dsure-key", contract_number="2604012345"),
        _sub("dsure-key", "notice.pdf", auth_key="AbCd1234EfGh"), False),
    "a policy waits for nothing": (_sub("legacy-pdf", "policy.pdf"),
                                   _sub("legacy-pdf", "policy2.pdf"), False),
}


@pytest.mark.parametrize("case", CASES)
def test_what_supplies_the_missing_part(case: str) -> None:
    held, new, expected = CASES[case]
    assert pairing.supplies(held, new) is expected


@pytest.mark.parametrize(("held", "new", "expected"), [
    (Fields(project_name="市道 改良工事"), Fields(project_name="市道改良工事"), Proof.NAMED),
    (Fields(project_name="市道改良工事"), Fields(project_name="橋梁補修工事"), Proof.NONE),
    (Fields(policy_number="SJ26-0412345"), Fields(policy_number="sj26-0412345"), Proof.NAMED),
    (Fields(contract_number="2604012345", project_name="市道改良工事"),
     Fields(contract_number="2604012345", project_name="橋梁補修工事"), Proof.NONE),
    (Fields(project_number="R8-1"), Fields(contract_number="2604012345"), Proof.FITS),
    (Fields(), Fields(), Proof.FITS),
])
def test_the_same_works(held: Fields, new: Fields, expected: Proof) -> None:
    """Where both name the works (spaces and case aside), they must agree."""
    assert pairing.same_works(held, new) is expected


def test_the_best_part_among_several_counts() -> None:
    """A follow-up whose first submission is something else and whose second is the
    missing part completes the held one."""
    held = [_sub("dsure-key", contract_number="2604012345")]
    new = [_sub("confirmation-system", view_url=URL),
           _sub("dsure-key", auth_key="AbCd1234EfGh")]
    assert pairing.rest_proof(held, new) is Proof.FITS
    assert pairing.rest_proof([*held, *held], new) is Proof.NONE  # not waiting for a part
    assert pairing.rest_proof(held, []) is Proof.NONE


def test_nothing_held_pairs_with_nothing(settings: Settings) -> None:
    assert pairing.partner([], _plain(f"パスワード：{ZIP_PASSWORD}"), settings, _open) is None


def test_the_domain_is_what_follows_the_last_at(locked: Mail, settings: Settings) -> None:
    """A colleague's mail pairs by domain; a quoted local part holding an @ does not
    change which domain the held message came from."""
    follow = _plain(f"パスワード：{ZIP_PASSWORD}", sender=SUZUKI)
    quoted = Waiting(1, '"a@evil.example"@yamada-kensetsu.example.co.jp',
                     WAITING_FOR_PASSWORD, LATER, locked)
    assert pairing.eligible(quoted, follow)


def test_a_mail_with_an_attachment_is_not_a_wrong_password(locked: Mail,
                                                           settings: Settings) -> None:
    """A password that opens nothing, in a mail that also attaches a file: not the
    password mail the held zip waits for (no correction asking for the right one)."""
    raw = mails.build(from_=YAMADA, to=OFFICE, subject="Re: 電子保証",
                      body="パスワード：Nope12345\n",
                      attachments=[("送付状.txt", "送付状です".encode(), "text/plain")])
    assert pairing.proof(_held(locked, WAITING_FOR_PASSWORD), _read(raw), settings,
                         _open) is Proof.NONE


def test_opening_is_tried_only_when_there_is_something_to_open(locked: Mail) -> None:
    """No password, or nothing encrypted: nothing is read again (bounded work), and
    nothing is opened."""
    calls: list[tuple[str, ...]] = []

    def spy(mail: Mail, passwords: tuple[str, ...]) -> Mail:
        calls.append(passwords)
        return _open(mail, passwords)

    plain = _read(mails.confirmation_mail())
    assert pairing.opens((), locked, spy) is False
    assert pairing.opens([ZIP_PASSWORD], plain, spy) is False
    assert calls == []
    assert pairing.opens(["Nope12345", ZIP_PASSWORD], locked, spy) is True
    assert calls == [("Nope12345", ZIP_PASSWORD)]


def test_a_zip_of_several_files_opens(settings: Settings) -> None:
    """Opened, a zip becomes its files (more parts than before): still proof."""
    from samples import offices  # noqa: PLC0415

    archive = offices.aes_zip({"form.pdf": b"%PDF-1.4 x", "note.txt": "メモ".encode()},
                              "Zz9Yy8Xx")
    mail = _read(mails.build(from_=YAMADA, to=OFFICE, subject="【電子保証】", body="添付します。",
                             attachments=[("forms.zip", archive, "application/zip")]))
    assert [a.status for a in mail.attachments] == [DocumentStatus.ENCRYPTED]
    assert pairing.opens(["Zz9Yy8Xx"], mail, _open) is True


def test_a_password_mail_first_and_a_zip_it_does_not_open(locked: Mail,
                                                          settings: Settings) -> None:
    """Reversed order, wrong password, same address: no pair either."""
    password = _plain("パスワード：Nope12345\n")
    assert pairing.proof(_held(password, WAITING_FOR_DOCUMENT), locked, settings,
                         _open) is Proof.NONE


def test_an_unknown_reason_waits_for_nothing(settings: Settings) -> None:
    form = _read(mails.confirmation_mail(omit=("view_url",)))
    url = _plain(f"証券番号：SJ26-0412345\n閲覧用URL：{parties.viewing_url('SJ26-0412345')}\n")
    assert pairing.proof(_held(form, "waiting-for-something-else"), url, settings,
                         _open) is Proof.NONE


def test_no_address_is_no_organisation(locked: Mail) -> None:
    """A held message or a mail without a usable address pairs with nothing."""
    nobody = replace(_plain(f"パスワード：{ZIP_PASSWORD}"), from_addr="")
    assert not pairing.eligible(Waiting(1, "", WAITING_FOR_PASSWORD, LATER, locked), nobody)
    domainless = replace(_plain(f"パスワード：{ZIP_PASSWORD}"), from_addr="someone@")
    assert not pairing.eligible(Waiting(1, "keiyaku@", WAITING_FOR_PASSWORD, LATER, locked),
                                domainless)


def test_a_part_that_supplies_nothing_counts_for_nothing() -> None:
    """The same number again without its key names the same works but supplies nothing."""
    held = [_sub("dsure-key", contract_number="2604012345")]
    assert pairing.rest_proof(held, [_sub("dsure-key", contract_number="2604012345")]) is (
        Proof.NONE)
    neither = _sub("dsure-key", project_name="市道改良工事")
    assert not pairing.supplies(neither, _sub("dsure-key", contract_number="2604012345"))


def test_a_pair_keeps_every_password_given(settings: Settings) -> None:
    """The leading message opens nothing; the password the other gives for its own
    attachment is kept as given (a wrong one then asks for the right one)."""
    files = [(f"写真{n}.jpg", b"\xff\xd8\xff\xe0 jpeg", "image/jpeg") for n in range(2)]
    first = _read(mails.build(from_=YAMADA, to=OFFICE, subject="写真", body="現場写真です。",
                              attachments=files))
    sealed = _read(mails.confirmation_mail(encrypt="zip-aes"))
    wrong = replace(sealed, body=f"{sealed.body}\nパスワード：Nope12345")
    both = pairing.combined(first, wrong, _open)
    assert both.message_id == first.message_id  # more attachments lead
    assert "Nope12345" in both.passwords


def _samples() -> list[Mail]:
    """Held messages and new mails of every kind pairing meets, from two addresses of one
    organisation and one other."""
    raws = [
        mails.confirmation_mail(encrypt="zip-aes"),
        mails.confirmation_mail(encrypt="pdf"),
        mails.confirmation_mail(omit=("view_url",)),
        mails.confirmation_mail(),
        mails.confirmation_mail(project="bridge", policy_number="SJ26-0412399"),
        mails.password_followup(),
        mails.dsure_key_mail(),
        mails.unrelated(),
        mails.auto_reply(),
        mails.build(from_=YAMADA, to=OFFICE, subject="Re: 電子保証", body="よろしくお願いします。"),
        mails.build(from_=SUZUKI, to=OFFICE, subject="パスワード",
                    body=f"パスワード：{ZIP_PASSWORD}"),
        mails.build(from_=OTHER, to=OFFICE, subject="PW", body=f"PW: {ZIP_PASSWORD}"),
        mails.build(from_=YAMADA, to=OFFICE, subject="Re: 電子保証",
                    body=f"証券番号：SJ26-0412345\n"
                         f"閲覧用URL：{parties.viewing_url('SJ26-0412345')}\n{ZIP_PASSWORD}"),
        mails.dsure_key_mail(in_body=True, omit=("auth_key",)),
        mails.dsure_key_mail(in_body=True, omit=("contract_number",)),
        mails.build(from_=YAMADA, to=OFFICE, subject="認証キー",
                    body="先ほどの件、認証キーは次のとおりです。\n認証キー：Xk3pQ9rT2mW7"),
    ]
    return [_read(raw) for raw in raws]


def test_a_held_message_skipped_unread_is_one_the_mail_could_never_complete(
        settings: Settings) -> None:
    """Before a held message is fetched and read, the new mail alone may show that it
    cannot complete it; whenever that check says so, the full proof says NONE too (so
    skipping the read never loses a pair), and it does skip some."""
    samples = _samples()
    skipped = 0
    for held in samples:
        for reason in (WAITING_FOR_PASSWORD, WAITING_FOR_DOCUMENT, WAITING_FOR_REST):
            waiting = _held(held, reason)
            for new in samples:
                if pairing.may_complete(waiting, pairing.NewMail(new, settings)):
                    continue
                skipped += 1
                assert pairing.proof(waiting, new, settings, _open) is Proof.NONE, (
                    reason, held.subject, new.subject)
    assert skipped > len(samples) * 3


def test_what_is_kept_of_a_held_message_proves_what_the_message_proves(
        settings: Settings) -> None:
    """A held message read once is not read again for each new mail: what pairing asks
    of it (pairing.known) stands for it. Over every held message, reason and new mail,
    the proof from what is kept is the proof from the message; only a message waiting
    for a password is needed itself (its attachment is what is tried)."""
    samples = _samples()
    proofs: set[Proof] = set()
    for held in samples:
        for reason in (WAITING_FOR_PASSWORD, WAITING_FOR_DOCUMENT, WAITING_FOR_REST):
            kept = pairing.known(reason, held, settings)
            if reason == WAITING_FOR_PASSWORD:
                assert kept is None
                continue
            assert kept is not None
            read = _held(held, reason)
            unread = replace(read, mail=None, known=kept)
            for new in samples:
                expected = pairing.proof(read, new, settings, _open)
                assert pairing.proof(unread, new, settings, _open) is expected, (
                    reason, held.subject, new.subject)
                proofs.add(expected)
    assert proofs >= {Proof.NONE, Proof.FITS, Proof.OPENED}  # the matrix reaches them


def test_a_held_message_waiting_for_a_password_is_needed_read(locked: Mail,
                                                              settings: Settings) -> None:
    unread = Waiting(1, locked.from_addr, WAITING_FOR_PASSWORD, LATER)
    with pytest.raises(ValueError, match="needed read"):
        pairing.proof(unread, _plain(f"パスワード：{ZIP_PASSWORD}"), settings, _open)
