"""Every problem code: what it means, what it does to the verdict, what people read.

Codes are stable identifiers (kebab-case); they appear in X-Surety-Problems, in the log,
in the state database and in ``classify`` output, and the README lists them. Each code
has one effect:

- ``fix``: the contractor can put it right; the message gets a correction reply.
- ``review``: the daemon cannot be sure; a person looks at it, no reply is sent.
- ``warning``: noted for staff on the routed mail; never a reason to reject.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Effect(enum.StrEnum):
    """What a problem does to the verdict."""

    FIX = "fix"
    REVIEW = "review"
    WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    """One problem code with its texts.

    ``to_contractor`` is the sentence the contractor reads in a correction reply (what
    is wrong and how to fix it); ``to_staff`` is the line staff read on a forwarded mail.
    Both may name office settings in braces ({legacy_pdf_until}), filled in by compose.
    """

    code: str
    effect: Effect
    to_staff: str
    to_contractor: str = ""
    # Something not found in the text: possibly only because an attachment was unreadable.
    field_missing: bool = False


_ALL = (
    Problem(
        "contract-number-missing", Effect.FIX,
        "保証契約番号が見つかりません。",
        "保証契約番号の記載が確認できませんでした。保証事業会社から交付された"
        "「認証キー」等のお知らせ（PDF）を添付するか、本文に保証契約番号をご記入のうえ、"
        "再度お送りください。",
        field_missing=True,
    ),
    Problem(
        "auth-key-missing", Effect.FIX,
        "認証キーが見つかりません。",
        "認証キーの記載が確認できませんでした。保証事業会社から交付された"
        "「認証キー」等のお知らせ（PDF）を添付するか、本文に認証キーをご記入のうえ、"
        "再度お送りください。",
        field_missing=True,
    ),
    Problem(
        "view-url-missing", Effect.FIX,
        "閲覧用URLが見つかりません。",
        "閲覧用URLの記載が確認できませんでした。保証証券等確認システムから通知された"
        "閲覧用URLを「発注者提出用フォーマット」に追記のうえ、再度お送りください。",
        field_missing=True,
    ),
    Problem(
        "view-password-missing", Effect.FIX,
        "閲覧用パスワードが見つかりません。",
        "閲覧用パスワードの記載が確認できませんでした。保険会社または代理店から交付された"
        "「発注者提出用フォーマット」（閲覧用パスワード記載のもの）をお送りください。",
        field_missing=True,
    ),
    Problem(
        "project-name-missing", Effect.FIX,
        "工事名が見つかりません。",
        "工事名の記載が確認できませんでした。「発注者提出用フォーマット」に工事名を"
        "追記のうえ、再度お送りください。",
        field_missing=True,
    ),
    Problem(
        "contractor-name-missing", Effect.FIX,
        "受注者名が見つかりません。",
        "受注者名の記載が確認できませんでした。「発注者提出用フォーマット」に受注者名"
        "（商号又は名称）を追記のうえ、再度お送りください。",
        field_missing=True,
    ),
    Problem(
        "insurer-cc-missing", Effect.FIX,
        "証券を発行した保険会社の指定アドレスが宛先（To/Cc）にありません。",
        "PDF発行証券をメールで提出いただく場合は、証券を発行した保険会社があらかじめ"
        "指定するメールアドレスを宛先（CC）に含めていただく必要があります。"
        "保険会社の指定アドレスをCCに加えて、再度お送りください。",
    ),
    Problem(
        "legacy-deadline-passed", Effect.FIX,
        "PDF発行証券のメール提出期限（{legacy_pdf_until}）を過ぎて受信しました。",
        "PDF発行証券のメールによる提出は、{legacy_pdf_until}（受信分）をもって終了しています。"
        "保険会社に保証証券等確認システムへの登録を依頼し、同システムの閲覧用URLと"
        "「発注者提出用フォーマット」（閲覧用パスワード記載のもの）をお送りください。",
    ),
    Problem(
        "not-a-submission", Effect.REVIEW,
        "電子保証の提出とは判断できませんでした。内容をご確認ください。",
    ),
    Problem(
        "not-mime", Effect.REVIEW,
        "MIME形式でないメールのため、文字コードを推定して読み取りました。原文をご確認ください。",
    ),
    Problem(
        "attachment-unreadable", Effect.REVIEW,
        "添付ファイルを開けませんでした（破損、PDFでない、またはパスワード不明）。",
    ),
    Problem(
        "text-unreadable", Effect.REVIEW,
        "添付ファイルから文字を読み取れませんでした（スキャン画像など）。",
    ),
    Problem(
        "guarantee-type-unknown", Effect.REVIEW,
        "保証の種類（契約保証・前払金保証・中間前払金保証）を判別できませんでした。",
        field_missing=True,
    ),
    Problem(
        "system-notice", Effect.REVIEW,
        "保証証券等確認システムからの自動通知（閲覧用URLのご案内）が直接届きました。"
        "閲覧用パスワードは含まれていません。受注者からの提出と照合してください。",
    ),
    Problem(
        "no-reply-address", Effect.REVIEW,
        "差出人のアドレスが無いため、修正依頼を返信できませんでした。",
    ),
    Problem(
        "insurer-unknown", Effect.REVIEW,
        "証券を発行した保険会社を特定できず、指定アドレスの確認ができませんでした。",
    ),
)

CATALOGUE: dict[str, Problem] = {p.code: p for p in _ALL}


def effect(code: str) -> Effect:
    """The effect of a code; an unknown code is treated as needing review."""
    problem = CATALOGUE.get(code)
    return problem.effect if problem else Effect.REVIEW


def get(code: str) -> Problem:
    """The catalogue entry for a code."""
    return CATALOGUE[code]
