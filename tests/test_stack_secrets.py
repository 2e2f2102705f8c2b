"""Secrets in other forms, end to end: the daemon run as a process on the real mail stack
writes no 認証キー or password in any form, whichever path a message takes (held, paired,
ignored, two submissions in one mail)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import stack
from conftest import Office
from samples import mails
from test_secrets import shown

pytestmark = pytest.mark.stack

JST = timezone(timedelta(hours=9))
YAMADA = "山田 太郎 <t-yamada@yamada-kensetsu.example.co.jp>"
ZIP_PASSWORD = "Qw8Er7Ty6z"
AUTO_REPLY_KEY = "Hv3Kw8Nb5Jc6"
SECOND_KEY = "Zp4Wq8Lk2Mn7"


def _password_in_the_subject_only() -> bytes:
    """A password mail sent before its attachment, the password full-width in the subject
    and nowhere else."""
    return mails.build(from_=YAMADA, to=stack.INTAKE, subject="ＰＷ：Ｑｗ８Ｅｒ７Ｔｙ６ｚ",
                       body="この後お送りする添付ファイルのパスワードは件名のとおりです。\n")


def _encrypted_form() -> bytes:
    """The zipped form it opens; its subject shows the password spaced out."""
    return mails.confirmation_mail(encrypt="zip-aes", archive_password=ZIP_PASSWORD,
                                   subject="【電子保証】発注者提出用フォーマット Qw8E r7Ty 6z",
                                   to=stack.INTAKE)


def _auto_reply_quoting_a_key() -> bytes:
    """An auto-reply (ignored, no submission) whose subject quotes a key with full-width
    dashes."""
    return mails.build(from_=YAMADA, to=stack.INTAKE,
                       subject="自動応答: Re: 認証キー Ｈｖ３Ｋ－ｗ８Ｎｂ－５Ｊｃ６",
                       body="ただいま不在にしております。\n",
                       headers={"Auto-Submitted": "auto-replied"})


def _two_typed_submissions() -> bytes:
    """Two guarantees typed in one mail; the second's key, dashed with ー in the body, is
    in the subject in lower case with blanks."""
    body = ("いつもお世話になっております。\n\n"
            "保証契約番号：2604012345\n認証キー：Xq7Rt2Lm9Pz4\n契約保証\n\n"
            "保証契約番号：2604012399\n認証キー：Zp4Wーq8Lkー2Mn7\n前払金保証\n")
    return mails.build(from_=YAMADA, to=stack.INTAKE, body=body,
                       subject="【電子保証】2604012399 zp4w q8lk 2mn7", charset="utf-8")


def test_no_form_of_a_secret_in_the_daemons_log(office: Office) -> None:
    """One run over the four mails: the password mail held then paired with the form it
    opens, the auto-reply ignored, the two typed guarantees routed; no log line shows the
    zip password, the quoted key or the second key in any form."""
    now = datetime.now(JST)
    for minutes, raw in enumerate([_password_in_the_subject_only(), _encrypted_form(),
                                   _auto_reply_quoting_a_key(), _two_typed_submissions()]):
        stack.append(raw, arrived=now - timedelta(minutes=10 - minutes))
    run = office.run("run", "--once")
    assert run.returncode == 0, run.stderr
    assert len(run.named("message.held")) == 1
    assert len(run.named("message.paired")) == 1
    assert len(run.named("message.ignored")) == 1
    for secret in (ZIP_PASSWORD, AUTO_REPLY_KEY, SECOND_KEY):
        assert shown(secret, *run.stdout.splitlines(), run.stderr) == [], secret
