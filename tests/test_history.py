"""The verdict is final in the pure middle: ``decide`` reads the state file's history
(the reply cap, the earlier submission a re-sent one replaces), so ``classify`` with the
state file says exactly what ``run`` does, and reads the file without writing it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import stack
from samples import mails

from daemon import config
from daemon.cli import classify_file, main
from daemon.config import Settings
from daemon.decide import decide, replaced
from daemon.model import EarlierSubmission, Fields, Kind, Outcome, Verdict
from daemon.read import read_message
from daemon.store import Store

YAMADA = "t-yamada@yamada-kensetsu.example.co.jp"


def _typed_without_key(n: int) -> bytes:
    return mails.build(from_=f"山田 太郎 <{YAMADA}>", to=mails.OFFICE_ADDRESS,
                       subject=f"【電子保証】契約保証 {n}",
                       message_id=f"<typed-{n}@yamada.example>",
                       body=f"契約保証の認証キーです。\n保証契約番号：26040{n:05d}\n")


def _record(store: Store, settings: Settings, raw: bytes, uid: int, at: datetime) -> None:
    """What run records for a message it decided alone: its verdict and queued mails."""
    mail = read_message(raw, at)
    row = store.messages.seen(folder="INBOX", uidvalidity=1, uid=uid, message_id=mail.message_id,
                              content_hash=hashlib.sha256(raw).hexdigest(), received_at=at,
                              sender=mail.from_addr)
    decision = decide(mail, settings, can_wait=False, now=at, history=store)
    planned = [(("reply" if o.verdict.value == "correction" else "forward") + f"-{i}",
                f"<out-{uid}-{i}@x>", o.route_to) for i, o in enumerate(decision.outcomes)]
    store.record_decision(row.id, decision, at, planned)


@pytest.fixture
def state(tmp_path: Path) -> tuple[Settings, Path]:
    path = tmp_path / "office.toml"
    path.write_text(stack.office_config(tmp_path / "state.sqlite3"), encoding="utf-8")
    return config.load(path), path


def test_the_reply_cap_is_part_of_the_verdict(state: tuple[Settings, Path],
                                              tmp_path: Path) -> None:
    settings, _ = state
    now = datetime.now(UTC)
    store = Store(settings.state.path)
    limit = settings.replies.per_sender_per_day
    for n in range(limit):
        _record(store, settings, _typed_without_key(n), n + 1, now - timedelta(hours=3))
    message = tmp_path / "next.eml"
    message.write_bytes(_typed_without_key(99))
    capped = classify_file(settings, message, history=store, now=now + timedelta(hours=20))
    assert (capped["verdict"], capped["problems"]) == (
        "review", ["auth-key-missing", "reply-limit-reached"])
    # A day after those replies the cap is free again; and without the history it is
    # not applied at all.
    later = classify_file(settings, message, history=store,
                          now=now + timedelta(days=1, minutes=5))
    assert (later["verdict"], later["problems"]) == ("correction", ["auth-key-missing"])
    alone = classify_file(settings, message, now=now)
    assert alone["verdict"] == "correction"
    store.close()


def test_a_resent_submission_names_the_one_it_replaces(state: tuple[Settings, Path]) -> None:
    settings, _ = state
    now = datetime.now(UTC)
    store = Store(settings.state.path)
    first = mails.dsure_key_mail()
    _record(store, settings, first, 1, now - timedelta(hours=1))
    again = read_message(mails.dsure_key_mail(subject="【再送】契約保証 認証キー等のお知らせ"))
    decision = decide(again, settings, now=now, history=store)
    assert decision.verdict.value == "routed"
    assert decision.outcomes[0].replaces == read_message(first).message_id
    assert decide(again, settings, now=now).outcomes[0].replaces is None
    store.close()


def test_classify_reads_the_state_file_without_writing_it(
        state: tuple[Settings, Path], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    settings, config_path = state
    store = Store(settings.state.path)
    first = mails.dsure_key_mail()
    _record(store, settings, first, 1, datetime.now(UTC) - timedelta(hours=1))
    store.close()
    db_file = Path(settings.state.path)
    before = db_file.read_bytes()
    message = tmp_path / "again.eml"
    message.write_bytes(mails.dsure_key_mail(subject="【再送】契約保証 認証キー等のお知らせ"))
    assert main(["--config", str(config_path), "classify", str(message)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["submissions"][0]["replaces"] == read_message(first).message_id
    assert db_file.read_bytes() == before


def test_the_hourly_cap_counts_replies_to_everybody(state: tuple[Settings, Path],
                                                    tmp_path: Path) -> None:
    """With replies.per_hour = 2, two corrections to two contractors in the last hour
    leave none for a third contractor: review."""
    settings, _ = state
    office = settings.model_copy(update={
        "replies": settings.replies.model_copy(update={"per_hour": 2})})
    now = datetime.now(UTC)
    store = Store(settings.state.path)
    for uid, sender in enumerate(("a@one.example.co.jp", "b@two.example.co.jp"), 1):
        raw = mails.build(from_=sender, to=mails.OFFICE_ADDRESS, subject="【電子保証】",
                          body=f"契約保証\n保証契約番号：260400000{uid}\n",
                          message_id=f"<c-{uid}@x>")
        _record(store, office, raw, uid, now - timedelta(minutes=30))
    message = tmp_path / "third.eml"
    message.write_bytes(_typed_without_key(7))
    # (The state file stamps a reply when it is queued: just now.)
    third = classify_file(office, message, history=store, now=now + timedelta(minutes=1))
    assert (third["verdict"], third["problems"]) == (
        "review", ["auth-key-missing", "reply-limit-reached"])
    later = classify_file(office, message, history=store,
                          now=now + timedelta(hours=1, minutes=2))
    assert later["verdict"] == "correction"
    store.close()


def test_a_password_set_aside_turns_the_question_into_the_right_password(
        state: tuple[Settings, Path]) -> None:
    """A zip whose wait is over, from a sender whose password mail (after the zip) opened
    nothing and was set aside: asked for the right password, not for a password."""
    settings, _ = state
    store = Store(settings.state.path)
    zipped = read_message(mails.confirmation_mail(encrypt="zip-aes"))
    over = zipped.received_at + timedelta(hours=25)
    assert decide(zipped, settings, can_wait=False, now=over, history=store).problems == (
        "attachment-password-missing",)
    wrong = mails.build(from_=f"山田 太郎 <{YAMADA}>", to=mails.OFFICE_ADDRESS,
                        subject="パスワード", body="パスワード：Nope12345\n",
                        message_id="<wrong-pw@yamada.example>")
    _record(store, settings, wrong, 1, zipped.received_at + timedelta(minutes=70))
    assert decide(zipped, settings, can_wait=False, now=over, history=store).problems == (
        "attachment-password-wrong",)
    earlier = zipped.received_at + timedelta(minutes=71)
    assert decide(replace(zipped, received_at=earlier), settings, can_wait=False, now=over,
                  history=store).problems == ("attachment-password-missing",)
    store.close()


# --- what a re-sent submission replaces (decide.replaced: the policy the store answers for)

def _outcome(**fields: str) -> Outcome:
    return Outcome(Verdict.ROUTED, Kind.DSURE_KEY, None, (), ("staff@x",), Fields(**fields))


def _earlier(source: str, *, sender: str = YAMADA, verdict: Verdict = Verdict.ROUTED,
             **numbers: str) -> EarlierSubmission:
    return EarlierSubmission(source, sender, verdict, **numbers)


@pytest.mark.parametrize(("outcome", "earlier", "replaces"), [
    # The same 保証契約番号, or the same 証券番号: the same guarantee sent again.
    (_outcome(contract_number="2604012345"),
     [_earlier("<a>", contract_number="2604012399"), _earlier("<b>", contract_number="2604012345")],
     "<b>"),
    (_outcome(policy_number="P-1"), [_earlier("<a>", policy_number="P-1")], "<a>"),
    # The newest of several that match.
    (_outcome(policy_number="P-1"),
     [_earlier("<new>", policy_number="P-1"), _earlier("<old>", policy_number="P-1")], "<new>"),
    # After a correction, the same sender's submission for the same works.
    (_outcome(project_name="市道改良工事"),
     [_earlier("<a>", verdict=Verdict.CORRECTION, project_name="市道改良工事")], "<a>"),
    (_outcome(project_name="市道改良工事"),
     [_earlier("<a>", sender=YAMADA.upper(), verdict=Verdict.CORRECTION,
               project_name="市道改良工事")], None),  # stored lower-case: never upper
    # The same works routed before (not corrected), or from another sender: not replaced.
    (_outcome(project_name="市道改良工事"),
     [_earlier("<a>", project_name="市道改良工事")], None),
    (_outcome(project_name="市道改良工事"),
     [_earlier("<a>", sender="other@x.example.jp", verdict=Verdict.CORRECTION,
               project_name="市道改良工事")], None),
    # A field both lack is never a match.
    (_outcome(project_name="市道改良工事"),
     [_earlier("<a>", verdict=Verdict.CORRECTION)], None),
    (_outcome(), [_earlier("<a>")], None),
    (_outcome(contract_number="2604012345"), [], None),
])
def test_a_resent_submission_replaces_the_same_guarantee_or_corrected_works(
        outcome: Outcome, earlier: list[EarlierSubmission], replaces: str | None) -> None:
    assert replaced(outcome, YAMADA, earlier) == replaces


def test_the_sender_is_compared_without_letter_case() -> None:
    earlier = [_earlier("<a>", verdict=Verdict.CORRECTION, project_name="市道改良工事")]
    assert replaced(_outcome(project_name="市道改良工事"), YAMADA.upper(), earlier) == "<a>"
