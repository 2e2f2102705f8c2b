"""Secrets masked by value, everywhere: a 認証キー or password read anywhere in a message never
shows in the log or in ``classify``, in whatever form it is written there."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import io
import json
import re
import time
import unicodedata
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import structlog
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from samples import mails, pdfs

from daemon import log
from daemon.cli import classify_file
from daemon.config import Settings
from daemon.decide import decide
from daemon.lifecycle import labelled_secrets, secrets_of
from daemon.process import log_read
from daemon.read import read_message

YAMADA = "山田 太郎 <t-yamada@yamada-kensetsu.example.co.jp>"
JUNK_PDF = b"%PDF-1.4\n% not really a PDF\n"


@functools.cache
def _key_notice() -> bytes:
    """A real key notice (for another contract number), to save under a name showing the
    secret: classify then prints that name as the submission's source."""
    return pdfs.key_notice_pdf(company="east", contract_number="2604012377",
                               auth_key="Hv3Kw8Nb5Jc6", guarantee_type="contract",
                               project_name="令和8年度 市道中央線道路改良工事",
                               contractor="株式会社山田建設")

# --- "the secret, in any form": folded here on its own, not with the daemon's code ---------

_GAPS = re.compile("[\\s\\-\u00ad\u200b-\u200d\u2010-\u2015\u2043\u2060\u2212\u2500\u30fc"
                   "\ufe63\ufeff\uff0d\uff70]+")


def _folded(text: str) -> str:
    text = text.replace("\u301c", "~")  # ～ as ISO-2022-JP and Shift_JIS mail carry it
    return _GAPS.sub("", unicodedata.normalize("NFKC", text).casefold())


def _strings(value: Any) -> Iterator[str]:
    """Every string in a JSON value, keys too."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def shown(secret: str, *texts: str) -> list[str]:
    """The texts that show the secret: as it is, or in any form (full-width, another case,
    blanks or dashes between its characters)."""
    return [t for t in texts if secret in t or _folded(secret) in _folded(t)]


def _leaks(secret: str, lines: list[str]) -> list[str]:
    """The log lines (JSON) that show the secret, in the line or in any string in it."""
    return [line for line in lines
            if shown(secret, line, *_strings(json.loads(line)))]


Lines = Callable[[], list[str]]  # the JSON lines logged so far


@contextlib.contextmanager
def _fresh_log() -> Iterator[None]:
    """The daemon's JSON log on stdout, with a redactor that knows no secret yet; the
    registry and structlog's configuration are restored afterwards."""
    saved = structlog.get_config()
    with mock.patch.object(log, "_secrets", set()), mock.patch.object(log, "_recent", {}):
        log.configure()
        try:
            yield
        finally:
            structlog.configure(**saved)
            structlog.contextvars.clear_contextvars()


def _through_the_daemon(raw: bytes, settings: Settings, tmp: Path) -> tuple[list[str], str]:
    """The log lines the daemon writes on reading this message, and what classify prints."""
    out = io.StringIO()
    with _fresh_log(), contextlib.redirect_stdout(out):
        mail = read_message(raw)
        log_read(mail, decide(mail, settings), uid=7)
    lines = [line for line in out.getvalue().splitlines() if line]
    path = tmp / "message.eml"
    path.write_bytes(raw)
    return lines, json.dumps(classify_file(settings, path), ensure_ascii=False)


# --- the forms a secret takes ----------------------------------------------------------------

def _widen(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


DASHES = ["-", "\u2010", "\u2212", "\uff0d", "\u30fc"]  # -, ‐, −, －, ー
BLANKS = [" ", "\u3000"]


def _spread(text: str, every: int, gap: str) -> str:
    return gap.join(text[i:i + every] for i in range(0, len(text), every))


@st.composite
def forms(draw: st.DrawFn, secret: str) -> str:
    """The secret as a person or a mail client may write it."""
    text = draw(st.sampled_from([secret, secret, secret.upper(), secret.lower()]))
    gap = draw(st.sampled_from(["", *DASHES, *BLANKS]))
    if gap:
        text = _spread(text, draw(st.sampled_from([1, 3, 4, 6])), gap)
    return _widen(text) if draw(st.booleans()) else text


KEY_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789"
ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def _mixed(value: str) -> bool:
    return any(c.isdigit() for c in value) and any(c.isalpha() for c in value)


keys = st.text(KEY_ALPHABET, min_size=12, max_size=16).filter(_mixed)
passwords = st.builds(str.__add__, st.sampled_from(ALNUM),
                      st.text(ALNUM + "!#$%&*+=?^~_", min_size=7, max_size=15)).filter(_mixed)
KEY_LABELS = ["認証キー", "認証ｷｰ", "【認証キー】", "認 証 キ ー"]
PASSWORD_LABELS = ["パスワード", "閲覧用パスワード", "解凍パスワード", "PW", "Pass",
                   "ZIPパスワード"]
PLACES = ["subject", "body", "body-next-line", "attachment-name", "second-submission", "html"]


def _message(place: str, label: str, given: str, *, subject_echo: str | None,
             name_echo: str | None, charset: str) -> bytes:
    """A contractor's mail giving the secret (``given``) beside its label in ``place``,
    maybe showing it again in the subject or an attachment's name (``*_echo``)."""
    subject = "【電子保証】令和8年度 市道中央線道路改良工事"
    body = "いつもお世話になっております。\n下記のとおりお送りします。\n"
    names: list[str] = []
    if place == "subject":
        subject = f"{label}：{given}"
    elif place == "body":
        body += f"{label}：{given}\n以上\n"
    elif place == "body-next-line":
        body += f"{label}\n{given}\n\n以上\n"
    elif place == "attachment-name":
        names.append(f"{label}_{given}.pdf")
    elif place == "second-submission":
        body += ("\n保証契約番号：2604012345\n認証キー：Xq7Rt2Lm9Pz4\n契約保証\n\n"
                 f"保証契約番号：2604012399\n{label}：{given}\n前払金保証\n")
    if subject_echo:
        subject += f" Re: {subject_echo}"
    attachments = [(name, JUNK_PDF, mails.PDF) for name in names]
    if name_echo:
        attachments.append((f"認証キー等のお知らせ {name_echo}.pdf", _key_notice(), mails.PDF))
    if place == "html":
        return _html_only(subject, body, f"<tr><td>{label}</td><td>{given}</td></tr>",
                          attachments)
    return mails.build(from_=YAMADA, to=mails.OFFICE_ADDRESS, subject=subject, body=body,
                       attachments=attachments, charset=charset)  # type: ignore[arg-type]


def _html_only(subject: str, body: str, row: str,
               attachments: list[tuple[str, bytes, str]]) -> bytes:
    """A mail whose plain-text part says nothing of the secret and whose HTML part holds it
    in a table, as webmail sends."""
    msg = EmailMessage()
    msg["From"] = YAMADA
    msg["To"] = mails.OFFICE_ADDRESS
    msg["Subject"] = subject
    msg["Message-ID"] = "<html-only@yamada-kensetsu.example.co.jp>"
    msg["Date"] = "Mon, 06 Apr 2026 09:30:12 +0900"
    msg.set_content(body + "詳細は表をご覧ください。\n")
    msg.add_alternative(f"<html><body><p>{body}</p><table>{row}</table></body></html>",
                        subtype="html")
    for name, data, _ in attachments:
        msg.add_attachment(data, maintype="application", subtype="pdf", filename=name)
    return msg.as_bytes()


@hypothesis_settings(max_examples=150, deadline=None, derandomize=True, database=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), place=st.sampled_from(PLACES), is_key=st.booleans(),
       charset=st.sampled_from(["utf-8", "iso-2022-jp"]))
def test_no_secret_in_any_form_reaches_the_log_or_classify(
        data: st.DataObject, place: str, is_key: bool, charset: str, settings: Settings,
        tmp_path: Path) -> None:
    """A random key or password, given beside its label in a random place (subject, body,
    next line, attachment name, a typed second submission, an HTML part) in a random form
    (full-width, another case, dashes or blanks between its characters), and shown again
    in other forms in the subject and an attachment name: no log line the daemon writes on
    reading it, and nothing ``classify`` prints, shows it in any form."""
    secret = data.draw(keys if is_key else passwords, label="secret")
    label = data.draw(st.sampled_from(KEY_LABELS if is_key else PASSWORD_LABELS), label="label")
    given_as = data.draw(forms(secret), label="given as")
    subject_echo = data.draw(st.none() | forms(secret), label="in the subject")
    name_echo = data.draw(st.none() | forms(secret), label="as a file name")
    raw = _message(place, label, given_as, subject_echo=subject_echo, name_echo=name_echo,
                   charset=charset)
    lines, printed = _through_the_daemon(raw, settings, tmp_path)
    assert [json.loads(line)["event"] for line in lines] == ["message.fetched",
                                                             "message.classified"]
    assert _leaks(secret, lines) == []
    assert shown(secret, printed, *_strings(json.loads(printed))) == []


def test_the_property_sees_a_secret_the_daemon_does_not_know(settings: Settings,
                                                           tmp_path: Path) -> None:
    """The control: a value the message gives beside no label is no secret to the daemon,
    and the check above does see it in the log (the property is not vacuous)."""
    raw = _message("body", "工事番号", "Ab3dE5fG7hJk", subject_echo="ＡＢ３Ｄ－ｅ５ｆｇ７ｈｊｋ",
                   name_echo=None, charset="utf-8")
    lines, _ = _through_the_daemon(raw, settings, tmp_path)
    assert [json.loads(line)["event"] for line in _leaks("Ab3dE5fG7hJk", lines)] == [
        "message.fetched", "message.classified"]


# --- the redactor ----------------------------------------------------------------------------

@pytest.fixture
def logged(capsys: pytest.CaptureFixture[str]) -> Iterator[Lines]:
    """The JSON lines logged in the test so far, with a redactor that knows no secret yet
    (pytest's capture, since it takes stdout back between a fixture and its test)."""
    seen: list[str] = []

    def lines() -> list[str]:
        seen.extend(line for line in capsys.readouterr().out.splitlines() if line)
        return seen

    with _fresh_log():
        yield lines


def _log(**values: Any) -> None:
    structlog.get_logger("daemon.test").info("x", **values)


@pytest.mark.parametrize("shown", [
    "Ab3dE5fG7hJk", "Ａｂ３ｄＥ５ｆＧ７ｈＪｋ", "AB3DE5FG7HJK", "ab3de5fg7hjk",
    "Ab3d-E5fG-7hJk", "Ab3d‐E5fG‐7hJk", "Ab3d−E5fG−7hJk", "Ａｂ３ｄ－Ｅ５ｆＧ－７ｈＪｋ",
    "Ab3dーE5fGー7hJk", "Ab3d E5fG 7hJk", "A b 3 d E 5 f G 7 h J k", "Ａｂ３ｄ　Ｅ５ｆＧ　７ｈＪｋ",
    "Ab3d\nE5fG7hJk", "Ab3d\u200bE5fG7hJk", "Ab3d - E5fG - 7hJk",
])
def test_a_registered_secret_is_masked_in_every_form(shown: str, logged: Lines) -> None:
    """As registered, full-width, in another case, with any dash or blank between its
    characters: the secret is replaced, and the words around it stay."""
    log.register_message_secrets(["Ab3dE5fG7hJk"])
    _log(subject=f"【電子保証】認証キー {shown} 送付")
    (line,) = logged()
    assert json.loads(line)["subject"] == "【電子保証】認証キー [REDACTED] 送付"


def test_a_secret_registered_in_another_form_is_masked_as_typed(logged: Lines) -> None:
    """A key read with its dashes (Ab3d-E5fG) is masked where it is written without them,
    full-width or spaced, and the other way round."""
    log.register_message_secrets(["Ab3d-E5fG-7hJk", "Ｑｗ８Ｅｒ７Ｔｙ６"])
    _log(a="Ab3dE5fG7hJk", b="Ａｂ３ｄ　Ｅ５ｆＧ　７ｈＪｋ", c="pw Qw8Er7Ty6.", d="qw8-er7-ty6")
    event = json.loads(logged()[0])
    assert [event[k] for k in "abcd"] == ["[REDACTED]", "[REDACTED]", "pw [REDACTED].",
                                          "[REDACTED]"]


def test_a_tilde_that_mail_turned_into_a_wave_dash_is_still_the_secret(
        logged: Lines) -> None:
    """A password with ~ typed full-width (～) arrives from an ISO-2022-JP mail as 〜: it is
    masked in that form too."""
    log.register_message_secrets(["A00~0000"])
    _log(subject="pw Ａ００〜００００ and A00～0000")
    assert json.loads(logged()[0])["subject"] == "pw [REDACTED] and [REDACTED]"


def test_overlapping_secrets_are_masked_as_one(logged: Lines) -> None:
    """Two secrets that overlap in a text leave nothing of either."""
    log.register_message_secrets(["Ab3dE5fG", "E5fG7hJk"])
    _log(subject="x Ab3dE5fG7hJk y Ab3dE5fG E5fG7hJk")
    assert json.loads(logged()[0])["subject"] == "x [REDACTED] y [REDACTED] [REDACTED]"


@pytest.mark.parametrize(("secrets", "subject", "expected"), [
    (["Ab3dE5fG", "Ab3dE5fG7hJk"], "x Ab3dE5fG7hJk y", "x [REDACTED] y"),
    (["Ab3dE5fG7hJk", "E5fG"], "x Ab3dE5fG7hJk y", "x [REDACTED] y"),
    (["Ab3dE5fG", "Zp4Wq8Lk2"], "Ab3dE5fGZp4Wq8Lk2", "[REDACTED][REDACTED]"),
    (["Wxyz"], "Wxyz", "[REDACTED]"),
    (["Wxyz"], "Wxy", "Wxy"),
])
def test_secrets_that_share_characters(secrets: list[str], subject: str, expected: str,
                                       logged: Lines) -> None:
    """A secret that begins another is masked to the end of the longer; one inside another
    leaves nothing of the outer; two side by side are two masks; a secret of four
    characters is masked where it is the whole text."""
    log.register_message_secrets(secrets)
    _log(subject=subject)
    assert json.loads(logged()[0])["subject"] == expected


def test_what_holds_no_secret_is_written_as_it_is(logged: Lines) -> None:
    """Japanese text, full-width digits, the 保証契約番号 and the masked field stay as they
    were; only the secret goes."""
    log.register_message_secrets(["Ab3dE5fG7hJk", "2604"])
    subject = "【電子保証】第R8-土木-0123号 令和８年度　市道中央線 Ab3d"
    _log(subject=subject, fields={"contract_number": "2604-012345x", "auth_key": "Ab******"})
    event = json.loads(logged()[0])
    assert event["subject"] == subject
    assert event["fields"] == {"contract_number": "[REDACTED]-012345x",
                               "auth_key": "[REDACTED]"}


def test_a_secret_that_folds_to_too_little_is_masked_as_written(logged: Lines) -> None:
    """A password of dashes and one letter (``a---``) is masked where it is written so, and
    does not mask every ``a``."""
    log.register_message_secrets(["a---", "-Zp4Wq8Lk2-"])
    _log(subject="a--- and a, -Zp4Wq8Lk2- and zp4wq8lk2")
    assert json.loads(logged()[0])["subject"] == "[REDACTED] and a, [REDACTED] and [REDACTED]"


def test_dict_keys_and_other_objects_are_masked_too(logged: Lines) -> None:
    """A secret in a dict key, in a set, in bytes or in any object written as its repr is
    masked there too."""
    log.register_message_secrets(["Zp4Wq8Lk2"])

    class Thing:
        def __repr__(self) -> str:
            return "Thing(Zp4Wq8Lk2)"

    class Structured:
        def __structlog__(self) -> str:
            return "structured Zp4Wq8Lk2"

    _log(names={"Zp4Wq8Lk2.pdf": 1}, raw=b"pw Zp4Wq8Lk2", thing=Thing(), tags={"Zp4Wq8Lk2"},
         structured=Structured(), plain=(1, 2.5, True, None))
    assert "Zp4Wq8Lk2" not in logged()[0]
    event = json.loads(logged()[0])
    assert event["names"] == {"[REDACTED].pdf": 1}
    assert event["thing"] == "Thing([REDACTED])"
    assert event["structured"] == "structured [REDACTED]"
    assert event["raw"] == "b'pw [REDACTED]'"
    assert event["plain"] == [1, 2.5, True, None]


def test_the_registry_keeps_the_latest_messages_and_the_server_password(
        logged: Lines, monkeypatch: pytest.MonkeyPatch) -> None:
    """Older messages' secrets are forgotten beyond KEEP_RECENT; the current message's are
    kept whole even when there are more, and the server password stays for good."""
    monkeypatch.setattr(log, "KEEP_RECENT", 10)
    log.register_secret("ImapPass99")
    for n in range(5):
        log.register_message_secrets([f"Msg{n}Key{i}x" for i in range(4)])
    assert len(log._recent) == 10
    assert log._secrets == {"ImapPass99", *(f"Msg{n}Key{i}x" for n in (3, 4) for i in range(4)),
                            "Msg2Key2x", "Msg2Key3x"}
    big = [f"Big{i}Secret" for i in range(25)]
    log.register_message_secrets(big)
    assert log._secrets == {"ImapPass99", *big}
    log.register_message_secrets(["ImapPass99", "Next1Key"])  # a server password stays one
    log.register_message_secrets([f"Later{i}Key" for i in range(10)])
    _log(subject="ImapPass99 Big24Secret Next1Key Later9Key")
    assert json.loads(logged()[0])["subject"] == "[REDACTED] Big24Secret Next1Key [REDACTED]"


def test_masking_a_line_does_not_grow_with_the_secrets_registered(
        logged: Lines, monkeypatch: pytest.MonkeyPatch) -> None:
    """With 50,000 secrets registered a log line is masked about as fast as with one: the
    secrets are looked up by their first characters, never gone through one by one."""
    monkeypatch.setattr(log, "KEEP_RECENT", 50_000)
    subject = "【電子保証】第R8-土木-0123号 令和8年度 市道中央線道路改良工事 2604012345"

    def seconds_per_line() -> float:
        found = log._registered()
        start = time.perf_counter()
        for _ in range(200):
            log.mask_text(subject, found)
        return (time.perf_counter() - start) / 200

    log.register_message_secrets(["Zp4Wq8Lk2"])
    one = seconds_per_line()
    # 50,000 secrets that begin differently (so many first characters to look up)
    log.register_message_secrets("".join(ALNUM[i // 62 ** k % 62] for k in range(4)) + "Yz9x"
                                 for i in range(0, 50_000 * 97, 97))
    full = seconds_per_line()
    assert full < one * 3 + 0.0001


# --- what counts as a secret -----------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("認証キー：Ab3dE5fG7hJk", ["Ab3dE5fG7hJk"]),
    ("認証ｷｰ : Ａｂ３ｄ－Ｅ５ｆＧ", ["Ab3d-E5fG"]),
    ("【認証キー】Ab3d E5fG 7hJk です", ["Ab3d", "Ab3d E5fG", "Ab3d E5fG 7hJk"]),
    ("パスワードは「Qw8Er7Ty6」です", ["Qw8Er7Ty6"]),
    ("PW Qw8Er7Ty6", ["Qw8Er7Ty6"]),
    ("Pass the documents to me", []),
    ("3.認証キー\n:\nNTiMnD2GV9qJ\n4.保証の種類", ["NTiMnD2GV9qJ"]),
    ("■閲覧用パスワード\n　s7mF3DEzqTTE\n", ["s7mF3DEzqTTE"]),
    ("閲覧用パスワード\nA 0 0 0 0", ["A 0 0 0", "A 0 0 0 0"]),
    ("保証契約番号　閲覧用パスワード\n2604012345 s7mF3DEzqTTE", ["s7mF3DEzqTTE"]),
    ("保証契約番号 認証キー\n2604012345 NTiMnD2GV9qJ", ["NTiMnD2GV9qJ"]),
    ("認証キー_Zz9Yy8Xx7.pdf", ["Zz9Yy8Xx7.pdf", "Zz9Yy8Xx7"]),
    ("暗号化パスワードは別送してください。", []),
    ("電子保証に係る「認証キー」のお知らせ（2604012345）.pdf", []),
    ("NINSHOKEY_2604012345.pdf", []),
    ("認証キー：A b 3 d E 5", ["A b 3 d", "A b 3 d E", "A b 3 d E 5"]),
    ("PW A b 3 d", ["A b 3 d"]),
    ("認証KEY=Ab3dE5fG", ["Ab3dE5fG"]),
    ("閲覧用PW：s7mF3DEzqTTE", ["s7mF3DEzqTTE"]),
    ("暗証番号：4821", ["4821"]),
    ("password=hunter22;", ["hunter22;", "hunter22"]),
    ("パスワ－ド（半角）：Kk2604#tot", ["Kk2604#tot"]),
    ("p/w: 'Rk7v2Lm9'", ["Rk7v2Lm9"]),
    ("key points of the notice", []),
    ("Received-SPF: pass (mail.example.jp: domain of x@example.jp)", []),
    ("search_by_key: invalid format found in block 0.", []),
    ("パスワード：(Ab12Cd34)", ["Ab12Cd34"]),
    ("ZIPパスワード：Ab12Cd34.zip", ["Ab12Cd34.zip", "Ab12Cd34"]),
    ("パスワード：Ａ００〜００００", ["A00~0000"]),
])
def test_values_beside_a_key_or_password_label(text: str, expected: list[str]) -> None:
    """Every layout gives its value (on the label's line, on the next, under a header line
    of labels, in a file name), in groups or spaced out; no label, no value."""
    assert labelled_secrets(text) == expected


def test_secrets_of_an_auto_reply_that_quotes_a_key(settings: Settings) -> None:
    """An auto-reply is ignored (no submission), yet the key it quotes in its subject and
    body is a secret of it."""
    raw = mails.build(from_=YAMADA, to=mails.OFFICE_ADDRESS,
                      subject="自動応答: Re: 認証キー Ab3dE5fG7hJk", body="不在にしております。\n",
                      headers={"Auto-Submitted": "auto-replied"})
    mail = read_message(raw)
    decision = decide(mail, settings)
    assert decision.outcomes == ()
    assert secrets_of(mail, decision) == ["Ab3dE5fG7hJk"]


def test_a_long_spaced_value_is_read_up_to_its_limit() -> None:
    """A value spaced out is read whole up to MAX_VALUE_CHARS characters, and no further
    (a line of prose after a label is not one long secret)."""
    spaced = " ".join("Ab3dE5fG7hJk" * 6)  # 72 characters
    values = labelled_secrets(f"認証キー：{spaced}")
    assert max(len(log.skeleton(v)) for v in values) == 64


def test_secrets_of_the_whole_message(settings: Settings) -> None:
    """The key of a key notice's text, a password in a follow-up's subject (a pair read as
    one), a password the message was opened with, and the values beside labels anywhere
    are the message's secrets, once each."""
    raw = mails.dsure_key_mail(subject="【電子保証】パスワード：Zp4Wq8Lk2")
    follow_up = mails.build(from_=YAMADA, to=mails.OFFICE_ADDRESS,
                            subject="PW：Ｑｗ８Ｅｒ７Ｔｙ６", body="よろしくお願いします。\n")
    mail = dataclasses.replace(read_message(raw), companions=(follow_up,),
                               passwords=("Tried4Pass",))
    decision = decide(mail, settings)
    key = mails.default_auth_key("2604012345")
    assert secrets_of(mail, decision) == ["Tried4Pass", key, "Zp4Wq8Lk2", "Qw8Er7Ty6"]


def test_a_key_wrapped_by_the_mail_client_is_registered_whole(settings: Settings,
                                                              tmp_path: Path) -> None:
    """A typed key that the mail client wrapped onto the next line is read whole by the
    extractor (the line reached the wrap width): the whole key is a secret, so the subject
    that shows it is masked, not only its first line's part."""
    body = ("保証契約番号：2604012345\n"
            "株式会社山田建設の山田です。いつもお世話になっております。認証キー：Ab3dE5\n"
            "fG7hJk\n契約保証\n")
    raw = mails.build(from_=YAMADA, to=mails.OFFICE_ADDRESS, body=body,
                      subject="【電子保証】Ab3dE5fG7hJk", charset="utf-8")
    assert labelled_secrets(body) == ["Ab3dE5"]
    lines, printed = _through_the_daemon(raw, settings, tmp_path)
    assert json.loads(lines[0])["subject"] == "【電子保証】[REDACTED]"
    assert shown("Ab3dE5fG7hJk", *lines, printed) == []


def test_a_lone_contract_number_is_no_password(settings: Settings) -> None:
    """A 保証契約番号 on a line of its own (under its label) is not taken for a password sent
    without its label, so staff still find the message by it in the log."""
    body = "■保証契約番号\n　2604012345\n■認証キー\n　Ab3dE5fG7hJk\n契約保証\n"
    mail = read_message(mails.build(from_=YAMADA, to=mails.OFFICE_ADDRESS,
                                    subject="【電子保証】2604012345", body=body))
    decision = decide(mail, settings)
    assert decision.fields.contract_number == "2604012345"
    assert secrets_of(mail, decision) == ["Ab3dE5fG7hJk"]


def test_classify_masks_a_key_in_the_notice_s_file_name(settings: Settings,
                                                        tmp_path: Path) -> None:
    """A key notice saved under a name holding the key: the submission's ``source`` in the
    classify JSON shows the name with the key masked, the fields as AB******."""
    key = mails.default_auth_key("2604012345")
    raw = mails.dsure_key_mail(filename=f"認証キー（{_widen(key)}）.pdf")
    path = tmp_path / "notice.eml"
    path.write_bytes(raw)
    result = classify_file(settings, path)
    printed = json.dumps(result, ensure_ascii=False)
    assert shown(key, printed, *_strings(result)) == []
    assert result["fields"]["auth_key"] == key[:2] + "*" * 10  # type: ignore[index]
    assert result["submissions"][0]["source"] == "認証キー（[REDACTED]）.pdf"  # type: ignore[index]


_VALUES = st.text(alphabet="Ab3-ｂ３ 　ー", min_size=0, max_size=7)


@hypothesis_settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.lists(_VALUES, max_size=5)), max_size=12))
def test_the_matcher_kept_up_to_date_is_the_one_built_afresh(
        calls: list[tuple[bool, list[str]]]) -> None:
    """The redactor's matcher is updated for the secrets that came and went, message by
    message; after any sequence it masks exactly what one built from scratch masks."""
    with mock.patch.object(log, "_secrets", set()), mock.patch.object(log, "_recent", {}), \
            mock.patch.object(log, "_changed", set()), mock.patch.object(log, "KEEP_RECENT", 6):
        for server, values in calls:
            if server:
                for value in values:
                    log.register_secret(value)
            else:
                log.register_message_secrets(values)
            kept = log._registered()
            fresh = log.matcher(log._secrets)
            assert kept.by_start == fresh.by_start
            assert set(kept.literal) == set(fresh.literal)
