"""The receipt (受領確認): what the contractor of a routed message gets when the office sends
one (replies.receipt), and every case where nothing is sent."""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.mime.application import MIMEApplication
from pathlib import Path

import pytest
from samples import mails, parties, pdfs

from daemon.compose import Outgoing, compose, received_label, undeliverable_notice
from daemon.config import Settings
from daemon.decide import decide, receipt_address
from daemon.lifecycle import secrets_of
from daemon.model import Decision, EarlierSubmission, Mail, NoReceipt, Verdict
from daemon.read import read_message
from daemon.store import Store, outgoing
from daemon.store.db import stamp

YAMADA = "t-yamada@yamada-kensetsu.example.co.jp"
ARRIVED = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)  # 10:30 in Japan, before every cut-off
KEY = mails.default_auth_key("2604012345")
VIEW_URL = "https://www.sonpo-hosyou-syouken.jp/view/AbC123xYz"


@pytest.fixture
def on(settings: Settings) -> Settings:
    """The test office with receipts on."""
    return _with(settings, receipt=True)


def _with(settings: Settings, **replies: object) -> Settings:
    return settings.model_copy(update={
        "replies": settings.replies.model_copy(update=replies)})


@dataclass
class History:
    """The state file as the final decision asks it: replies queued before, per address
    (None: to anybody in the last hour), and earlier submissions."""

    sent: dict[str | None, int] = field(default_factory=dict)
    earlier: list[EarlierSubmission] = field(default_factory=list)

    def replies_between(self, address: str | None, start: datetime, end: datetime, *,
                        exclude_sources: tuple[str, ...]) -> int:
        return self.sent.get(address, 0)

    def earlier_submissions(self, *_: object, **__: object) -> list[EarlierSubmission]:
        return self.earlier

    def password_mail_since(self, sender: str, since: datetime) -> bool:
        return False


def _decide(raw: bytes, settings: Settings, history: History | None = None, *,
            can_wait: bool = True) -> tuple[Mail, Decision, list[Outgoing]]:
    mail = read_message(raw, received_at=ARRIVED)
    decision = decide(mail, settings, now=ARRIVED, history=history or History(),
                      can_wait=can_wait)
    return mail, decision, compose(decision, mail, settings, ARRIVED)


def _receipts(mails_out: list[Outgoing]) -> list[Outgoing]:
    return [m for m in mails_out if m.action == "receipt"]


def _parsed(out: Outgoing) -> tuple[EmailMessage, str]:
    msg = email.message_from_bytes(out.to_bytes(), policy=email.policy.default)
    return msg, msg.get_content()  # type: ignore[return-value, attr-defined]


def _two_notices(second_number: str = "2604012399") -> bytes:
    """A contract and an advance-payment key notice in one mail."""
    notices = [("契約保証.pdf", "2604012345", "AbCd1234EfGh", "contract"),
               ("前払金保証.pdf", second_number, "ZyXw9876VuTs", "advance-payment")]
    attachments = [(name, pdfs.key_notice_pdf(
        company="east", contract_number=number, auth_key=key, guarantee_type=kind,
        project_name="令和8年度 市道中央線道路改良工事", contractor="株式会社山田建設"),
        "application/pdf") for name, number, key, kind in notices]
    return mails.build(from_=f"山田 太郎 <{YAMADA}>", to="keiyaku@city.example.jp",
                       subject="【電子保証】契約保証・前払金保証", body="2件お送りします。",
                       attachments=attachments)


ROUTES = {
    "dsure-pdf": (mails.dsure_key_mail,
                  "保証事業会社の電子保証（D-Sure 認証キー等のお知らせ）", "契約保証",
                  ["保証契約番号: 2604012345"], [KEY]),
    "dsure-typed": (lambda: mails.dsure_key_mail(in_body=True, guarantee_type="advance-payment",
                                                 style=1, charset="utf-8"),
                    "保証事業会社の電子保証（D-Sure 認証キー等のお知らせ）", "前払金保証",
                    ["保証契約番号: 2604012345"], [KEY]),
    "confirmation-system": (
        lambda: mails.confirmation_mail(view_url=VIEW_URL),
        "保証証券等確認システム（閲覧用URL・発注者提出用フォーマット）", "契約保証",
        [f"証券番号: {mails.POLICY_NUMBERS['sompo']}"],
        [parties.viewing_password(mails.POLICY_NUMBERS["sompo"]), VIEW_URL, "AbC123xYz",
         "sonpo-hosyou-syouken"]),
    "legacy-pdf": (lambda: mails.legacy_pdf_mail(date=ARRIVED - timedelta(minutes=5),
                                                 policy_number="LP-2603-0042"),
                   "保険会社のPDF発行証券（メール提出）", "契約保証", ["証券番号: LP-2603-0042"],
                   ["Rk7v2Lm9"]),
}


@pytest.mark.parametrize("route", list(ROUTES))
def test_the_receipt_names_what_was_received_and_no_secret(route: str, on: Settings) -> None:
    """For each route: one receipt to the sender, threaded to the submission, naming the
    route, the guarantee, the 工事名, the number and the arrival (JST); no key, password,
    or viewing URL anywhere in it, and no original attached."""
    make, route_label, guarantee, numbers, secrets = ROUTES[route]
    raw = make()
    mail, decision, out = _decide(raw, on)
    assert decision.verdict is Verdict.ROUTED, decision.problems
    [receipt] = _receipts(out)
    assert [m.action for m in out] == ["forward", "receipt"]  # staff first
    msg, text = _parsed(receipt)
    assert receipt.recipients == (YAMADA,)
    assert msg["To"] == YAMADA
    assert msg["Subject"] == f"【電子保証 受領確認】Re: {mail.subject}"
    assert msg["In-Reply-To"] == mail.message_id
    assert msg["References"].split()[-1] == mail.message_id
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["Reply-To"] == "keiyaku@city.example.jp"
    assert msg["From"].endswith("<surety-intake@city.example.jp>")
    assert f"提出方法: {route_label}" in text
    assert f"保証の種類: {guarantee}" in text
    assert "工事名: 令和8年度 市道中央線道路改良工事" in text
    assert all(n in text for n in numbers), text
    assert f"受信日時: {received_label(mail)}" in text
    assert "2026年3月2日 10時30分" in text  # the arrival, in Japan time
    assert "このメールへのご返信は不要です" in text
    assert "電話 000-000-0000（契約課 電子保証担当）" in text  # the office's contact
    assert text.rstrip().endswith("テスト市 財政局 契約課")
    wire = receipt.to_bytes().decode("ascii") + str(msg["Subject"]) + text
    leaked = [s for s in [*secrets, *secrets_of(mail, decision)] if s in wire]
    assert leaked == []
    assert list(msg.iter_attachments()) == []
    assert "認証キー:" not in text and "パスワード" not in text
    assert decision.to_json()["receipt_to"] == YAMADA  # classify says a receipt goes


def test_no_receipt_unless_the_office_sends_them(settings: Settings) -> None:
    """replies.receipt is off by default: a routed message sends only the staff mail."""
    assert settings.replies.receipt is False
    _, decision, out = _decide(mails.dsure_key_mail(), settings)
    assert decision.verdict is Verdict.ROUTED
    assert decision.receipt_to is None
    assert "receipt_to" not in decision.to_json()
    assert [m.action for m in out] == ["forward"]


@pytest.mark.parametrize("header", [
    b"Auto-Submitted: auto-generated", b"List-Id: <keiyaku.yamada-kensetsu.example.co.jp>",
    b"Precedence: bulk", b"X-Autoreply: yes",
])
def test_never_to_machine_mail(header: bytes, on: Settings) -> None:
    """A complete submission sent by a machine (auto-submitted, a list, bulk, an
    auto-responder) gets no receipt: the same rule that keeps corrections from machines."""
    raw = header + b"\r\n" + mails.dsure_key_mail()
    mail, decision, out = _decide(raw, on)
    assert receipt_address(mail, on) is None
    assert _receipts(out) == []
    assert decision.receipt_to is None
    person = read_message(mails.dsure_key_mail(), received_at=ARRIVED)
    assert receipt_address(person, on) == YAMADA


def test_the_receipt_goes_where_a_correction_would(on: Settings) -> None:
    """Reply-To of the sender's own organisation is used; one elsewhere is not (From is);
    the office's own addresses never get one, though the message is still routed."""
    own_org = mails.dsure_key_mail().replace(
        b"\r\nSubject:", b"\r\nReply-To: keiri@yamada-kensetsu.example.co.jp\r\nSubject:", 1)
    elsewhere = mails.dsure_key_mail().replace(
        b"\r\nSubject:", b"\r\nReply-To: someone@elsewhere.example.com\r\nSubject:", 1)
    assert _receipts(_decide(own_org, on)[2])[0].recipients == (
        "keiri@yamada-kensetsu.example.co.jp",)
    assert _receipts(_decide(elsewhere, on)[2])[0].recipients == (YAMADA,)
    staff = mails.dsure_key_mail().replace(
        YAMADA.encode(), b"keiyaku-hosho@city.example.jp")
    _, decision, out = _decide(staff, on)
    assert decision.verdict is Verdict.ROUTED
    assert [m.action for m in out] == ["forward"]


def test_no_receipt_for_correction_or_review(on: Settings) -> None:
    """Only a routed message is acknowledged: a correction gets its reply only, review
    and a message with one routed and one incomplete guarantee get no receipt."""
    _, correction, out = _decide(mails.dsure_key_mail(in_body=True, omit=("auth_key",)), on,
                                     can_wait=False)  # not waiting for the key
    assert correction.verdict is Verdict.CORRECTION
    assert [m.action for m in out] == ["reply"]
    _, review, out = _decide(mails.unrelated(), on)
    assert review.verdict is Verdict.REVIEW
    assert [m.action for m in out] == ["forward"]
    mixed = mails.build(from_=YAMADA, to="keiyaku@city.example.jp",
                        subject="【電子保証】認証キーの送付", body=(
                            "契約保証\n保証契約番号：２６０４０１２３４５\n認証キー：AbCd1234EfGh\n\n"
                            "前払金保証\n保証契約番号：２６０４０１２３９９\n"))
    _, decision, out = _decide(mixed, on)
    assert [o.verdict.value for o in decision.outcomes] == ["routed", "correction"]
    assert [m.action for m in out] == ["forward-1", "reply-2"]
    assert decision.receipt_to is None


@pytest.mark.parametrize(("sent", "hour", "expected"), [
    (4, 0, True), (5, 0, False), (0, 29, True), (0, 30, False),
])
def test_at_a_reply_cap_the_receipt_is_not_sent_and_the_message_still_routed(
        sent: int, hour: int, expected: bool, on: Settings) -> None:
    """The receipt counts against replies.per_sender_per_day (5) and per_hour (30) with
    the corrections: at either cap it is simply not sent, and the submission is routed
    all the same (never review)."""
    history = History(sent={YAMADA: sent, None: hour})
    _, decision, out = _decide(mails.dsure_key_mail(), on, history)
    assert decision.verdict is Verdict.ROUTED
    assert decision.problems == ()
    assert out[0].action == "forward"
    assert out[0].recipients == ("keiyaku-hosho@city.example.jp",)
    assert bool(_receipts(out)) is expected
    assert decision.no_receipt is (None if expected else NoReceipt.LIMIT_REACHED)
    # The decision names as acknowledged only what a receipt sent names.
    assert [o.acknowledged for o in decision.outcomes] == [expected]
    assert decision.receipt_to == (YAMADA if expected else None)


def test_several_submissions_one_receipt_listing_each(on: Settings) -> None:
    """A contract and an advance payment in one mail: two staff mails, one receipt that
    lists both, each with its guarantee and number."""
    out = _decide(_two_notices(), on)[2]
    assert [m.action for m in out] == ["forward-1", "forward-2", "receipt"]
    _, text = _parsed(out[-1])
    assert "1. 提出方法:" in text and "2. 提出方法:" in text
    first, second = text.split("2. 提出方法:")
    assert "保証の種類: 契約保証" in first and "保証契約番号: 2604012345" in first
    assert "保証の種類: 前払金保証" in second and "保証契約番号: 2604012399" in second
    assert "AbCd1234EfGh" not in text and "ZyXw9876VuTs" not in text


def test_a_guarantee_routed_before_gets_no_second_receipt(on: Settings) -> None:
    """A submission whose 保証契約番号 was routed before (a re-send) is not acknowledged
    again; one that was only asked to be corrected before is; of two, only the new one
    is listed."""
    earlier = EarlierSubmission("<first@yamada-kensetsu.example.co.jp>", YAMADA,
                                Verdict.ROUTED, contract_number="2604012345")
    _, decision, out = _decide(mails.dsure_key_mail(), on, History(earlier=[earlier]))
    assert decision.verdict is Verdict.ROUTED
    assert [m.action for m in out] == ["forward"]
    assert decision.no_receipt is NoReceipt.ALREADY_ROUTED
    assert decision.receipt_to is None
    assert not any(o.acknowledged for o in decision.outcomes)
    corrected = replace(earlier, verdict=Verdict.CORRECTION)
    _, _, out = _decide(mails.dsure_key_mail(), on, History(earlier=[corrected]))
    assert [m.action for m in out] == ["forward", "receipt"]
    _, _, out = _decide(_two_notices(), on, History(earlier=[earlier]))
    _, text = _parsed(_receipts(out)[0])
    assert "2604012399" in text
    assert "2604012345" not in text
    assert "2. 提出方法" not in text


def test_the_receipt_is_the_same_mail_when_composed_again(on: Settings) -> None:
    """Its Message-ID depends only on the message and the action (exactly once: a run
    that stops and composes it again sends the mail it recorded), and differs from the
    staff mail's."""
    raw = mails.dsure_key_mail()
    first = _receipts(_decide(raw, on)[2])[0]
    mail = read_message(raw, received_at=ARRIVED)
    again = compose(decide(mail, on, now=ARRIVED, history=History()), mail, on,
                    ARRIVED + timedelta(minutes=10))
    assert _receipts(again)[0].message_id == first.message_id
    assert first.message_id.startswith("<surety.receipt.")
    assert first.message_id != again[0].message_id


def test_a_refused_receipt_is_named_as_such_to_staff(on: Settings) -> None:
    """A receipt the server refuses for good: staff are told it was the receipt."""
    mail, decision, _ = _decide(mails.dsure_key_mail(), on)
    notice = undeliverable_notice(decision, mail, on, ARRIVED, failed_action="receipt",
                                  recipients=[YAMADA], error="550 no such user")
    msg = email.message_from_bytes(notice.to_bytes(), policy=email.policy.default)
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "差出人への受領確認" in text


def test_receipts_count_against_the_corrections_cap_in_the_state_file(
        tmp_path: Path, on: Settings) -> None:
    """A receipt queued in the state file is a reply to its address: with one reply a
    day allowed, the same sender's next incomplete submission goes to review instead of
    a second mail (reply-limit-reached)."""
    one = _with(on, per_sender_per_day=1)
    store = Store(tmp_path / "state.sqlite3")
    now = datetime.now(UTC)
    first = read_message(mails.dsure_key_mail(), received_at=now)
    decision = decide(first, one, now=now, history=store)
    out = compose(decision, first, one, now)
    row = store.messages.seen(folder="INBOX", uidvalidity=1, uid=1,
                              message_id=first.message_id, content_hash="1",
                              received_at=now, sender=first.from_addr)
    store.record_decision(row.id, decision, now,
                          [(m.action, m.message_id, m.recipients) for m in out])
    assert [m.action for m in out] == ["forward", "receipt"]
    later = now + timedelta(seconds=1)
    assert store.replies_between(YAMADA, now - timedelta(hours=1), later,
                                 exclude_sources=()) == 1
    second = read_message(mails.dsure_key_mail(in_body=True, omit=("auth_key",),
                                               contract_number="2604077777"), received_at=later)
    capped = decide(second, one, now=later, history=store, can_wait=False)
    assert capped.verdict is Verdict.REVIEW
    assert "reply-limit-reached" in capped.problems
    store.close()


def test_the_senders_text_is_quoted_as_a_reply_quotes_it(on: Settings) -> None:
    """A hostile subject and 工事名: the key typed in the subject masked, its URL and the
    invisible bidi override removed, in the Subject and the body alike."""
    raw = mails.build(
        from_=f"山田 <{YAMADA}>", to="keiyaku@city.example.jp", charset="utf-8",
        subject="【電子保証】認証キー：AbCd1234EfGh https://evil.example.com/x",
        body="契約保証\n工事名：市道\u202e工事 https://evil.example.com/phish\n"
             "保証契約番号：2604012345\n認証キー：AbCd1234EfGh\n")
    _, decision, out = _decide(raw, on)
    assert decision.verdict is Verdict.ROUTED
    msg, text = _parsed(_receipts(out)[0])
    assert msg["Subject"] == ("【電子保証 受領確認】Re: "
                              "【電子保証】認証キー:Ab********** （URL省略）")
    assert "工事名: 市道工事" in text
    wire = out[-1].to_bytes().decode("ascii") + text
    assert "AbCd1234EfGh" not in wire
    assert "evil.example.com" not in wire
    assert "\u202e" not in wire and "\\u202e" not in wire


_REPLY_STYLES = {
    # Thunderbird, Gmail: the receipt quoted line by line.
    "quoted": lambda text: "ご連絡ありがとうございます。承知しました。\n\n"
              + "\n".join(f"> {line}" for line in text.splitlines()),
    # Outlook: the receipt below a header block, not quoted.
    "outlook": lambda text: "ご連絡ありがとうございます。\n\n-----Original Message-----\n"
               "From: 電子保証受付（自動送信） <surety-intake@city.example.jp>\n\n" + text,
    # A mobile client: a line of thanks, the quotation dropped.
    "bare": lambda _text: "承知いたしました。よろしくお願いいたします。",
}


@pytest.mark.parametrize("route", list(ROUTES))
@pytest.mark.parametrize("style", list(_REPLY_STYLES))
@pytest.mark.parametrize("threading", ["both", "In-Reply-To", "References"])
def test_a_reply_to_the_receipt_is_never_answered_with_a_correction(
        route: str, style: str, threading: str, on: Settings) -> None:
    """A contractor answering the receipt quotes its 保証契約番号 and 工事名: that is no
    submission to complete. Threaded to the receipt (by In-Reply-To, or by References
    only, as some clients write), it gets no correction, never a receipt, and goes to a
    person only when it would have drawn a correction; the same text not threaded to a
    receipt is decided as any mail (here: a correction, or review)."""
    make = ROUTES[route][0]
    mail, _, out = _decide(make(), on)
    [receipt] = _receipts(out)
    receipt_id = _parsed(receipt)[0]["Message-ID"]
    body = _REPLY_STYLES[style](_parsed(receipt)[1])
    both = {"In-Reply-To": receipt_id, "References": f"{mail.message_id} {receipt_id}"}
    headers = both if threading == "both" else {threading: both[threading]}
    answer = mails.build(from_=f"山田 太郎 <{YAMADA}>", to="keiyaku@city.example.jp",
                         subject=f"Re: {_parsed(receipt)[0]['Subject']}", body=body,
                         headers=headers)
    _, again, replies = _decide(answer, on, can_wait=False)
    assert again.verdict is not Verdict.CORRECTION
    assert [m.action for m in replies if m.action != "forward"] == []
    assert again.verdict in (Verdict.REVIEW, Verdict.IGNORED), again.problems
    unthreaded = mails.build(from_=f"山田 太郎 <{YAMADA}>", to="keiyaku@city.example.jp",
                             subject="Re: 受領確認", body=body)
    _, alone, _ = _decide(unthreaded, on, can_wait=False)
    if alone.verdict is Verdict.CORRECTION:  # what the threading rule turns to review
        assert again.verdict is Verdict.REVIEW
        assert "reply-to-receipt" in again.problems


def _threaded(raw: bytes, in_reply_to: str, references: str) -> bytes:
    """A sample mail sent as a reply: In-Reply-To and References put before its headers."""
    return (f"In-Reply-To: {in_reply_to}\r\nReferences: {references}\r\n".encode()
            + raw)


def test_what_is_not_a_reply_to_a_receipt_is_decided_as_before(on: Settings) -> None:
    """The rule reaches only mails threaded to a receipt: an incomplete submission sent
    in reply to a correction (its In-Reply-To the correction's) still gets its
    correction, and a complete submission sent in reply to a receipt is routed."""
    incomplete = mails.dsure_key_mail(in_body=True, omit=("auth_key",), charset="utf-8")
    _, first, out = _decide(incomplete, on, can_wait=False)
    assert first.verdict is Verdict.CORRECTION
    [correction] = [m for m in out if m.action.startswith("reply")]
    correction_id = _parsed(correction)[0]["Message-ID"]
    assert "surety.reply." in correction_id
    again = _threaded(mails.dsure_key_mail(in_body=True, omit=("auth_key",), charset="utf-8"),
                      correction_id, correction_id)
    _, second, _ = _decide(again, on, can_wait=False)
    assert second.verdict is Verdict.CORRECTION
    assert "reply-to-receipt" not in second.problems

    mail, _, out = _decide(mails.dsure_key_mail(), on)
    [receipt] = _receipts(out)
    receipt_id = _parsed(receipt)[0]["Message-ID"]
    resent = _threaded(mails.dsure_key_mail(contract_number="2604012399"), receipt_id,
                       f"{mail.message_id} {receipt_id}")
    _, complete, _ = _decide(resent, on)
    assert complete.verdict is Verdict.ROUTED


def _record(store: Store, raw: bytes, settings: Settings, at: datetime, uid: int,
            monkeypatch: pytest.MonkeyPatch) -> tuple[Decision, list[str]]:
    """A message decided at ``at`` against the state file and recorded there with its
    mails (queued at ``at``: the state file's clock), as the daemon does; the decision
    and the mails' actions."""
    monkeypatch.setattr(outgoing, "now", lambda: stamp(at))
    mail = read_message(raw, received_at=at)
    decision = decide(mail, settings, now=at, history=store)
    out = compose(decision, mail, settings, at)
    row = store.messages.seen(folder="INBOX", uidvalidity=1, uid=uid,
                              message_id=mail.message_id, content_hash=str(uid),
                              received_at=at, sender=mail.from_addr)
    store.record_decision(row.id, decision, at,
                          [(m.action, m.message_id, m.recipients) for m in out])
    return decision, [m.action for m in out]


def _key_mail(number: str, contractor: str = "yamada") -> bytes:
    return mails.dsure_key_mail(contract_number=number, contractor=contractor)


@pytest.mark.parametrize(("later", "expected"), [
    (timedelta(hours=23, minutes=59), ["forward"]),
    (timedelta(hours=24, minutes=1), ["forward", "receipt"]),
])
def test_a_receipt_counts_against_the_senders_cap_for_24_hours(
        tmp_path: Path, on: Settings, later: timedelta, expected: list[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """With one reply a day allowed, a sender's second routed submission within 24 hours
    of the first one's receipt is routed without a receipt; after 24 hours it has one."""
    one = _with(on, per_sender_per_day=1)
    store = Store(tmp_path / "state.sqlite3")
    try:
        _, first = _record(store, _key_mail("2604011111"), one, ARRIVED, 1, monkeypatch)
        assert first == ["forward", "receipt"]
        decision, second = _record(store, _key_mail("2604022222"), one, ARRIVED + later, 2,
                                   monkeypatch)
        assert decision.verdict is Verdict.ROUTED
        assert second == expected
        assert decision.no_receipt is (None if "receipt" in expected
                                       else NoReceipt.LIMIT_REACHED)
    finally:
        store.close()


@pytest.mark.parametrize(("later", "expected"), [
    (timedelta(minutes=59), ["forward"]),
    (timedelta(minutes=61), ["forward", "receipt"]),
])
def test_a_receipt_counts_against_the_offices_cap_for_an_hour(
        tmp_path: Path, on: Settings, later: timedelta, expected: list[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """With one reply an hour allowed in all, another sender's routed submission within
    the hour after a receipt is routed without one; after the hour it has one."""
    one = _with(on, per_hour=1)
    store = Store(tmp_path / "state.sqlite3")
    try:
        _, first = _record(store, _key_mail("2604011111"), one, ARRIVED, 1, monkeypatch)
        assert first == ["forward", "receipt"]
        decision, second = _record(store, _key_mail("2604022222", "sato"), one,
                                   ARRIVED + later, 2, monkeypatch)
        assert second == expected
        assert decision.no_receipt is (None if "receipt" in expected
                                       else NoReceipt.LIMIT_REACHED)
    finally:
        store.close()


def test_a_message_decided_again_is_not_capped_by_its_own_receipt(
        tmp_path: Path, on: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """A message decided again (a run that stopped half-way, a replay) keeps its receipt:
    the receipt recorded for it is not counted against it, even with one reply a day."""
    one = _with(on, per_sender_per_day=1, per_hour=1)
    store = Store(tmp_path / "state.sqlite3")
    try:
        raw = _key_mail("2604011111")
        _, first = _record(store, raw, one, ARRIVED, 1, monkeypatch)
        assert first == ["forward", "receipt"]
        mail = read_message(raw, received_at=ARRIVED)
        again = decide(mail, one, now=ARRIVED + timedelta(minutes=5), history=store)
        assert again.no_receipt is None
        assert [m.action for m in compose(again, mail, one, ARRIVED)] == [
            "forward", "receipt"]
    finally:
        store.close()


def test_a_policy_routed_before_gets_no_second_receipt(on: Settings) -> None:
    """A confirmation-system submission whose 証券番号 was routed before (a re-send) is
    not acknowledged again; one whose 証券番号 only went to review before, or that shares
    nothing but an empty 保証契約番号 with a routed one, is."""
    policy = mails.POLICY_NUMBERS["sompo"]
    raw = mails.confirmation_mail(view_url=VIEW_URL)
    routed = EarlierSubmission("<first@yamada-kensetsu.example.co.jp>", YAMADA,
                               Verdict.ROUTED, policy_number=policy)
    _, decision, out = _decide(raw, on, History(earlier=[routed]))
    assert decision.verdict is Verdict.ROUTED
    assert [m.action for m in out] == ["forward"]
    assert decision.no_receipt is NoReceipt.ALREADY_ROUTED
    for earlier in (replace(routed, verdict=Verdict.REVIEW),
                    replace(routed, policy_number="other-policy-0001")):
        _, decision, out = _decide(raw, on, History(earlier=[earlier]))
        assert [m.action for m in out] == ["forward", "receipt"], earlier
        assert decision.no_receipt is None


def test_in_a_reply_to_a_receipt_only_what_would_be_corrected_goes_to_a_person(
        on: Settings) -> None:
    """A mail threaded to a receipt with a new complete key notice and a form without its
    閲覧用URL: the key notice is routed to its section as in any mail; only the form, which
    would have drawn a correction, goes to review (reply-to-receipt), and nobody gets a
    correction."""
    mail, _, out = _decide(mails.dsure_key_mail(), on)
    [receipt] = _receipts(out)
    receipt_id = _parsed(receipt)[0]["Message-ID"]
    notice = pdfs.key_notice_pdf(
        company="east", contract_number="2604012399",
        auth_key=mails.default_auth_key("2604012399"), guarantee_type="advance-payment",
        project_name="市道改良工事", contractor="株式会社山田建設")
    form = mails.confirmation_mail(omit=("view_url",))
    msg = email.message_from_bytes(form, policy=email.policy.compat32)
    part = MIMEApplication(notice, _subtype="pdf")
    part.add_header("Content-Disposition", "attachment", filename="key.pdf")
    msg.attach(part)
    both = _threaded(msg.as_bytes(), receipt_id, f"{mail.message_id} {receipt_id}")
    _, decision, replies = _decide(both, on, can_wait=False)
    assert [(o.kind.value, o.verdict.value, o.problems) for o in decision.outcomes] == [
        ("confirmation-system", "review", ("reply-to-receipt", "view-url-missing")),
        ("dsure-key", "routed", ())]
    assert [o.route_to for o in decision.outcomes] == [
        tuple(on.routing.review), tuple(on.routing.advance_payment)]
    assert not [m for m in replies if m.action.startswith("reply")]
