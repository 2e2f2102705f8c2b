"""Every problem code: what it means, what it does to the verdict, what people read.

Codes are stable identifiers (kebab-case), named once by :class:`Code`; they appear in
X-Surety-Problems, in the log, in the state database and in ``classify`` output, and the
README lists them. The catalogue holds one entry per code (checked at import), and asking
it about a code it does not know raises. Each code has one effect:

- ``fix``: the contractor can put it right; the message gets a correction reply.
- ``review``: the daemon cannot be sure; a person looks at it, no reply is sent.
- ``warning``: noted for staff on the routed mail; never a reason to reject.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass


class Effect(enum.StrEnum):
    """What a problem does to the verdict."""

    FIX = "fix"
    REVIEW = "review"
    WARNING = "warning"


class Code(enum.StrEnum):
    """Every problem code. A member equals its kebab-case text, so headers, JSON, the log
    and the state file show the text; a code misspelt in the source is an AttributeError
    at import, not a code nobody knows."""

    CONTRACT_NUMBER_MISSING = "contract-number-missing"
    AUTH_KEY_MISSING = "auth-key-missing"
    VIEW_URL_MISSING = "view-url-missing"
    VIEW_PASSWORD_MISSING = "view-password-missing"  # noqa: S105 - a code, not a secret
    PROJECT_NAME_MISSING = "project-name-missing"
    CONTRACTOR_NAME_MISSING = "contractor-name-missing"
    INSURER_CC_MISSING = "insurer-cc-missing"
    LEGACY_DEADLINE_PASSED = "legacy-deadline-passed"
    CERTIFICATE_NOT_KEY_NOTICE = "certificate-not-key-notice"
    RESERVATION_NOT_ELIGIBLE = "reservation-not-eligible"
    BANK_GUARANTEE_NOT_ELIGIBLE = "bank-guarantee-not-eligible"
    INSURER_NOT_SUPPORTED = "insurer-not-supported"
    NOT_PDF = "not-pdf"
    VIEW_URL_INVALID = "view-url-invalid"
    ROUTE_NOT_ACCEPTED = "route-not-accepted"
    BEFORE_ELECTRONIC_START = "before-electronic-start"
    INVOICE_MISSING = "invoice-missing"
    ATTACHMENT_PASSWORD_MISSING = "attachment-password-missing"  # noqa: S105 - a code, not a secret
    ATTACHMENT_PASSWORD_WRONG = "attachment-password-wrong"  # noqa: S105 - a code, not a secret
    SUBJECT_FORMAT = "subject-format"
    ISSUE_DATE_UNREADABLE = "issue-date-unreadable"
    UNPAIRED_PASSWORD = "unpaired-password"  # noqa: S105 - a code, not a secret
    REPLY_LIMIT_REACHED = "reply-limit-reached"
    SENDER_NOT_AUTHENTICATED = "sender-not-authenticated"
    TOO_LARGE = "too-large"
    UNDELIVERABLE = "undeliverable"
    QUARANTINED = "quarantined"
    TOO_MANY_SUBMISSIONS = "too-many-submissions"
    NOT_A_SUBMISSION = "not-a-submission"
    NOT_MIME = "not-mime"
    ATTACHMENT_UNREADABLE = "attachment-unreadable"
    TEXT_UNREADABLE = "text-unreadable"
    GUARANTEE_TYPE_UNKNOWN = "guarantee-type-unknown"
    SYSTEM_NOTICE = "system-notice"
    NO_REPLY_ADDRESS = "no-reply-address"
    INSURER_UNKNOWN = "insurer-unknown"
    REPLY_TO_RECEIPT = "reply-to-receipt"


@dataclass(frozen=True)
class Problem:
    """One problem code with its texts.

    ``to_contractor`` is the sentence the contractor reads in a correction reply (what
    is wrong and how to fix it); ``to_staff`` is the line staff read on a forwarded mail.
    Both may name office settings and the submission's values in braces
    ({legacy_pdf_until}, {insurer}), filled in by compose.
    """

    code: Code
    effect: Effect
    to_staff: str
    to_contractor: str = ""
    # Something not found in the text: possibly only because an attachment was unreadable.
    field_missing: bool = False


_ALL = (
    Problem(
        Code.CONTRACT_NUMBER_MISSING, Effect.FIX,
        "保証契約番号が見つかりません。",
        "保証契約番号の記載が確認できませんでした。保証事業会社から交付された"
        "「認証キー」等のお知らせ（PDF）を添付するか、本文に保証契約番号をご記入のうえ、"
        "再度お送りください。",
        field_missing=True,
    ),
    Problem(
        Code.AUTH_KEY_MISSING, Effect.FIX,
        "認証キーが見つかりません。",
        "認証キーの記載が確認できませんでした。保証事業会社から交付された"
        "「認証キー」等のお知らせ（PDF）を添付するか、本文に認証キーをご記入のうえ、"
        "再度お送りください。",
        field_missing=True,
    ),
    Problem(
        Code.VIEW_URL_MISSING, Effect.FIX,
        "閲覧用URLが見つかりません。",
        "閲覧用URLの記載が確認できませんでした。保証証券等確認システムから通知された"
        "閲覧用URLを「発注者提出用フォーマット」に追記のうえ、再度お送りください。",
        field_missing=True,
    ),
    Problem(
        Code.VIEW_PASSWORD_MISSING, Effect.FIX,
        "閲覧用パスワードが見つかりません。",
        "閲覧用パスワードの記載が確認できませんでした。保険会社または代理店から交付された"
        "「発注者提出用フォーマット」（閲覧用パスワード記載のもの）をお送りください。",
        field_missing=True,
    ),
    Problem(
        Code.PROJECT_NAME_MISSING, Effect.FIX,
        "工事名が見つかりません。",
        "工事名の記載が確認できませんでした。「発注者提出用フォーマット」に工事名を"
        "追記のうえ、再度お送りください。",
        field_missing=True,
    ),
    Problem(
        Code.CONTRACTOR_NAME_MISSING, Effect.FIX,
        "受注者名が見つかりません。",
        "受注者名の記載が確認できませんでした。「発注者提出用フォーマット」に受注者名"
        "（商号又は名称）を追記のうえ、再度お送りください。",
        field_missing=True,
    ),
    Problem(
        Code.INSURER_CC_MISSING, Effect.FIX,
        "証券を発行した保険会社の指定アドレスが宛先（To/Cc）にありません。",
        "PDF発行証券をメールで提出いただく場合は、証券を発行した保険会社があらかじめ"
        "指定するメールアドレスを宛先（CC）に含めていただく必要があります。"
        "保険会社の指定アドレスをCCに加えて、再度お送りください。",
    ),
    Problem(
        Code.LEGACY_DEADLINE_PASSED, Effect.FIX,
        "PDF発行証券のメール提出期限（{legacy_pdf_until}）を過ぎて受信しました。",
        "PDF発行証券のメールによる提出は、{legacy_pdf_until}（受信分）をもって終了しています。"
        "保険会社に保証証券等確認システムへの登録を依頼し、同システムの閲覧用URLと"
        "「発注者提出用フォーマット」（閲覧用パスワード記載のもの）をお送りください。",
    ),
    Problem(
        Code.CERTIFICATE_NOT_KEY_NOTICE, Effect.FIX,
        "電子証書（保証証書）の画面の印刷・PDFが送られており、「認証キー」等のお知らせがありません。",
        "お送りいただいたのは電子証書（保証証書）の画面を印刷またはPDFにしたもので、"
        "提出書類としてお受けできません。D-Sure からダウンロードした"
        "「電子証書閲覧用「認証キー」等のお知らせ」（PDF）をお送りください。",
    ),
    Problem(
        Code.RESERVATION_NOT_ELIGIBLE, Effect.FIX,
        "契約保証予約が送られています（電子保証の対象外）。",
        "契約保証予約は電子保証の対象外のため、メールでの提出はお受けできません。"
        "従来どおり書面（紙）でご提出ください。",
    ),
    Problem(
        Code.BANK_GUARANTEE_NOT_ELIGIBLE, Effect.FIX,
        "金融機関の保証書が送られています（電子保証の対象外）。",
        "金融機関（銀行等）の保証は電子保証の対象外のため、メールでの提出はお受けできません。"
        "保証書の原本（書面）をご提出ください。",
    ),
    Problem(
        Code.INSURER_NOT_SUPPORTED, Effect.FIX,
        "保険会社（{insurer}）は当課で電子的に受け付けていない保険会社です。",
        "証券を発行した保険会社（{insurer}）は、当課で電子的な提出をお受けしている保険会社"
        "（保証証券等確認システムの対象）ではありません。証券の原本（書面）をご提出いただくか、"
        "下記の担当までご相談ください。",
    ),
    Problem(
        Code.NOT_PDF, Effect.FIX,
        "証券がPDFではなく画像やOfficeファイルで送られています。",
        "保険会社の証券は、保険会社が発行したPDFファイルのままお送りください。"
        "画像やWord・Excelなどに変換したものはお受けできません。",
    ),
    Problem(
        Code.VIEW_URL_INVALID, Effect.FIX,
        "閲覧用URLが保証証券等確認システムのアドレス（{system_domains}）ではありません。",
        "記載の閲覧用URLは保証証券等確認システムのアドレスではありません。"
        "同システムから通知された閲覧用URL（{system_domains} のアドレス）をそのまま記載のうえ、"
        "再度お送りください。",
    ),
    Problem(
        Code.ROUTE_NOT_ACCEPTED, Effect.FIX,
        "当課で受け付けていない提出方法（{route}）です。",
        "当課では、{route}による提出はお受けしておりません。{instead}",
    ),
    Problem(
        Code.BEFORE_ELECTRONIC_START, Effect.FIX,
        "当初契約日（{first_contract_date}）が電子保証の運用開始日（{electronic_start}）より前の契約です。",
        "当初契約日（{first_contract_date}）が当課の電子保証の運用開始日（{electronic_start}）"
        "より前の契約は、変更契約を含め、従来どおり書面（紙）の保証証書でご提出ください。",
    ),
    Problem(
        Code.INVOICE_MISSING, Effect.FIX,
        "前払金の請求書が添付されていません。",
        "前払金（中間前払金）の保証には請求書の添付が必要です。請求書（PDF）を添付のうえ、"
        "「認証キー」等のお知らせとあわせて再度お送りください。",
    ),
    Problem(
        Code.ATTACHMENT_PASSWORD_MISSING, Effect.FIX,
        "添付ファイルがパスワード保護されており、パスワードのお知らせが届きませんでした。",
        "添付ファイルがパスワードで保護されていますが、{wait_hours}時間以内にパスワードの"
        "お知らせが届かなかったため、内容を確認できませんでした。添付ファイルをあらためてお送りいただき、"
        "パスワードは別のメールでお知らせください。",
    ),
    Problem(
        Code.ATTACHMENT_PASSWORD_WRONG, Effect.FIX,
        "添付ファイルが、送られたパスワードでは開けませんでした。",
        "お送りいただいたパスワードでは、添付ファイルを開くことができませんでした。"
        "正しいパスワードをお知らせいただくか、パスワードを設定せずに再度お送りください。",
    ),
    Problem(
        Code.SUBJECT_FORMAT, Effect.WARNING,
        "件名が当課の指定する形式と異なります（受付には影響しません）。",
    ),
    Problem(
        Code.ISSUE_DATE_UNREADABLE, Effect.REVIEW,
        "証券の発行日を読み取れず、提出期限（発行日基準）を確認できませんでした。",
        field_missing=True,  # a sealed policy's date is unread, not missing
    ),
    Problem(
        Code.UNPAIRED_PASSWORD, Effect.REVIEW,
        "パスワードのみのメールですが、対応する添付ファイル付きのメールが見つかりませんでした。",
    ),
    Problem(
        Code.REPLY_LIMIT_REACHED, Effect.REVIEW,
        "この差出人への自動返信が24時間の上限に達したため、返信していません"
        "（自動応答との往復を防ぐため）。内容をご確認のうえ、必要なら職員から連絡してください。",
    ),
    Problem(
        Code.SENDER_NOT_AUTHENTICATED, Effect.REVIEW,
        "保険会社または保証事業会社のドメインを名乗るメールですが、当課のメールサーバーによる"
        "送信元認証（DMARC/DKIM）で確認できませんでした。なりすましの可能性があります。",
    ),
    Problem(
        Code.TOO_LARGE, Effect.REVIEW,
        "メールまたは添付ファイルが大きすぎる（または添付ファイルが多すぎる）ため、"
        "自動では開いていません。",
    ),
    Problem(
        Code.UNDELIVERABLE, Effect.REVIEW,
        "送信すべきメールを宛先のメールサーバーが受け付けませんでした。",
    ),
    Problem(
        Code.QUARANTINED, Effect.REVIEW,
        "自動処理が繰り返し失敗したため、隔離しました。手作業で処理してください。",
    ),
    Problem(
        Code.TOO_MANY_SUBMISSIONS, Effect.REVIEW,
        "1通のメールに含まれる保証の数が上限（limits.max_submissions）を超えています。"
        "内容をご確認ください。",
    ),
    Problem(
        Code.NOT_A_SUBMISSION, Effect.REVIEW,
        "電子保証の提出とは判断できませんでした。内容をご確認ください。",
    ),
    Problem(
        Code.NOT_MIME, Effect.REVIEW,
        "MIME形式でないメールのため、文字コードを推定して読み取りました。原文をご確認ください。",
    ),
    Problem(
        Code.ATTACHMENT_UNREADABLE, Effect.REVIEW,
        "添付ファイルを開けませんでした（破損、PDFでない、またはパスワード不明）。",
    ),
    Problem(
        Code.TEXT_UNREADABLE, Effect.REVIEW,
        "添付ファイルから文字を読み取れませんでした（スキャン画像など）。",
    ),
    Problem(
        Code.GUARANTEE_TYPE_UNKNOWN, Effect.REVIEW,
        "保証の種類（契約保証・前払金保証・中間前払金保証）を判別できませんでした。",
        field_missing=True,
    ),
    Problem(
        Code.SYSTEM_NOTICE, Effect.REVIEW,
        "保証証券等確認システムからの自動通知（閲覧用URLのご案内）が直接届きました。"
        "閲覧用パスワードは含まれていません。受注者からの提出と照合してください。",
    ),
    Problem(
        Code.NO_REPLY_ADDRESS, Effect.REVIEW,
        "返信先にできる差出人のアドレスが無い（または当課自身のアドレスである）ため、修正依頼を返信できませんでした。",
    ),
    Problem(
        Code.REPLY_TO_RECEIPT, Effect.REVIEW,
        "当課がお送りした受領確認への返信です。引用された受領確認の記載は提出と見なさず、"
        "修正依頼は返信していません。内容をご確認ください。",
    ),
    Problem(
        Code.INSURER_UNKNOWN, Effect.REVIEW,
        "証券を発行した保険会社を特定できず、指定アドレスの確認ができませんでした。",
        field_missing=True,
    ),
)


class CatalogueError(Exception):
    """The catalogue and the codes disagree: a code without its entry, an entry without
    its code, or a code listed twice."""


class UnknownCodeError(KeyError):
    """A code that is no Code: a typo, or a newer daemon's code in an older one."""


def catalogue(entries: Iterable[Problem]) -> dict[Code, Problem]:
    """The entries keyed by their Code, checked: every Code has exactly one entry and
    every entry is of a Code (else :class:`CatalogueError`, naming the code)."""
    codes = set(Code)
    found: dict[Code, Problem] = {}
    for problem in entries:
        if problem.code not in codes:
            raise CatalogueError(f"problem '{problem.code}' has no Code")
        if problem.code in found:
            raise CatalogueError(f"code '{problem.code}' is listed twice")
        found[Code(problem.code)] = problem
    missing = [c for c in Code if c not in found]
    if missing:
        raise CatalogueError(f"code '{missing[0]}' has no Problem entry")
    return found


CATALOGUE: dict[Code, Problem] = catalogue(_ALL)


def get(code: str) -> Problem:
    """The catalogue entry for a code (a Code, or its text as the state file holds it);
    an unknown code raises :class:`UnknownCodeError`, never means anything by default."""
    try:
        return CATALOGUE[Code(code)]
    except ValueError:
        raise UnknownCodeError(f"unknown problem code {code!r}") from None


def effect(code: str) -> Effect:
    """The effect of a code; an unknown code raises :class:`UnknownCodeError`."""
    return get(code).effect
