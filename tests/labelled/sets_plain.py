"""Plain single-message submissions of all three routes at both offices, complete and
not, and the wrong documents offices see: the everyday mail around the hard cases."""

from __future__ import annotations

from datetime import timedelta

from samples import mails, pdfs
from samples.parties import insurer as lookup_insurer

from labelled.base import (
    PDF,
    TYPE_NAMES,
    Ctx,
    FormLayout,
    GuaranteeType,
    form_file,
    form_values,
    invoice_file,
    key_notice,
    key_notice_file,
    policy_file,
    register,
)
from labelled.clients import Client
from labelled.letters import letter

# --- D-Sure ------------------------------------------------------------------------------------


def _subject(ctx: Ctx, gtype: GuaranteeType, tag: str = "") -> str:
    works = ctx.works(tag)
    head = "【電子保証】" if gtype == "contract" else "【請求関係書類】"
    return f"{head}{works.number or ''} {works.name}".replace("】 ", "】")


def _dsure_pdf(ctx: Ctx, client: Client, company: str, gtype: GuaranteeType, *,
               invoice: bool = False, style: int = 0, wide: bool = False,
               subject: str | None = None) -> bytes:
    works = ctx.works()
    attachments = [key_notice_file(ctx, company=company, gtype=gtype, wide=wide)]
    if invoice:
        attachments.append(invoice_file(ctx, gtype=gtype))
    body = letter(ctx.person, ctx.office.name, style,
                  f"下記工事の{TYPE_NAMES[gtype]}について、認証キー等のお知らせを送付いたします。",
                  "",
                  f"工事名：{works.name}", f"保証の種類：{TYPE_NAMES[gtype]}")
    return ctx.mail(client, subject or _subject(ctx, gtype), body, minutes=3,
                    attachments=attachments)


def _dsure_typed(ctx: Ctx, client: Client, gtype: GuaranteeType | None, lines: list[str], *,
                 style: int = 0, hours: float = 0, subject: str | None = None) -> bytes:
    works = ctx.works()
    head = [f"工事名：{works.name}"]
    if gtype:
        head.append(f"保証の種類：{TYPE_NAMES[gtype]}")
    body = letter(ctx.person, ctx.office.name, style, "電子保証の認証キー等をお知らせします。", "",
                  *head, *lines)
    return ctx.mail(client, subject or _subject(ctx, gtype or "contract"), body, minutes=3,
                    hours=hours)


@register("A-pl-dsure-east")
def _a_east(ctx: Ctx) -> list[bytes]:
    return [_dsure_pdf(ctx, "outlook", "east", "contract")]


@register("A-pl-dsure-west-advance")
def _a_west(ctx: Ctx) -> list[bytes]:
    return [_dsure_pdf(ctx, "thunderbird", "west", "advance-payment", invoice=True, style=1)]


@register("A-pl-dsure-hokkaido-interim")
def _a_hokkaido(ctx: Ctx) -> list[bytes]:
    return [_dsure_pdf(ctx, "becky", "hokkaido", "interim-advance-payment", invoice=True,
                       style=2)]


@register("A-pl-dsure-fullwidth")
def _a_fullwidth(ctx: Ctx) -> list[bytes]:
    return [_dsure_pdf(ctx, "gmail", "west", "contract", wide=True, style=3)]


@register("A-pl-dsure-typed-kana")
def _a_typed_kana(ctx: Ctx) -> list[bytes]:
    return [_dsure_typed(ctx, "webmail", "advance-payment",
                         [f"保証番号 : {ctx.number()}", f"認証ｷｰ : {ctx.key()}"], style=1)]


@register("A-pl-dsure-typed-heading")
def _a_typed_heading(ctx: Ctx) -> list[bytes]:
    return [_dsure_typed(ctx, "iphone", "contract",
                         ["■保証契約番号", f"　{ctx.number()}", "■認証キー", f"　{ctx.key()}"],
                         style=3)]


@register("A-pl-dsure-nokey-3h")
def _a_nokey(ctx: Ctx) -> list[bytes]:
    return [_dsure_typed(ctx, "outlook", "contract", [f"保証契約番号：{ctx.number()}"], hours=3)]


@register("A-pl-dsure-notype")
def _a_notype(ctx: Ctx) -> list[bytes]:
    return [_dsure_typed(ctx, "thunderbird", None,
                         [f"保証契約番号：{ctx.number()}", f"認証キー：{ctx.key()}"], style=1,
                         subject="電子保証の認証キー")]


@register("A-pl-dsure-scan")
def _a_scan(ctx: Ctx) -> list[bytes]:
    body = letter(ctx.person, ctx.office.name, 2,
                  "認証キー等のお知らせをスキャンして送付いたします。")
    return [ctx.mail("becky", _subject(ctx, "contract"), body, minutes=3,
                     attachments=[("認証キー等のお知らせ.pdf", pdfs.scan_pdf(), PDF)])]


@register("A-pl-dsure-two")
def _a_two(ctx: Ctx) -> list[bytes]:
    works = ctx.works()
    body = letter(ctx.person, ctx.office.name, 0,
                  f"{works.name}の契約保証と前払金保証の認証キー等のお知らせを送付いたします。")
    return [ctx.mail("outlook", f"【電子保証】【請求関係書類】{works.name}", body, minutes=3,
                     attachments=[key_notice_file(ctx, company="east", gtype="contract"),
                                  key_notice_file(ctx, company="east", gtype="advance-payment",
                                                  tag="advance"),
                                  invoice_file(ctx)])]


@register("A-pl-dsure-sample")
def _a_sample(ctx: Ctx) -> list[bytes]:
    return [mails.dsure_key_mail(contractor=ctx.person, project=ctx.works(), company="west",
                                 guarantee_type="advance-payment", contract_number=ctx.number(),
                                 auth_key=ctx.key(), with_invoice=True, charset="outlook",
                                 filename_style="rfc2047", date=ctx.at(3))]


@register("B-pl-dsure-east")
def _b_east(ctx: Ctx) -> list[bytes]:
    return [_dsure_pdf(ctx, "becky", "east", "contract", style=2)]


@register("B-pl-dsure-west-advance")
def _b_west(ctx: Ctx) -> list[bytes]:
    return [_dsure_pdf(ctx, "outlook", "west", "advance-payment", invoice=True)]


@register("B-pl-dsure-hokkaido-interim")
def _b_hokkaido(ctx: Ctx) -> list[bytes]:
    return [_dsure_pdf(ctx, "iphone", "hokkaido", "interim-advance-payment", style=3,
                       subject=f"中間前払金保証 {ctx.works().name}")]


@register("B-pl-dsure-typed")
def _b_typed(ctx: Ctx) -> list[bytes]:
    return [_dsure_typed(ctx, "thunderbird", "contract",
                         [f"保証契約番号：{ctx.number()}", f"認証キー：{ctx.key()}"], style=1)]


@register("B-pl-dsure-typed-brackets")
def _b_typed_brackets(ctx: Ctx) -> list[bytes]:
    return [_dsure_typed(ctx, "gmail", "advance-payment",
                         [f"【保証契約番号】{ctx.number()}　【認証キー】{ctx.key()}"], style=3)]


@register("B-pl-dsure-nonumber-2h")
def _b_nonumber(ctx: Ctx) -> list[bytes]:
    return [_dsure_typed(ctx, "outlook", "contract", [f"認証キー：{ctx.key()}"], hours=2)]


@register("B-pl-dsure-notype")
def _b_notype(ctx: Ctx) -> list[bytes]:
    return [_dsure_typed(ctx, "becky", None,
                         [f"保証契約番号：{ctx.number()}", f"認証キー：{ctx.key()}"], style=2,
                         subject="認証キー送付")]


@register("B-pl-dsure-cid")
def _b_cid(ctx: Ctx) -> list[bytes]:
    works = ctx.works()
    data = pdfs.key_notice_pdf_without_tounicode(
        company="east", contract_number=ctx.number(), auth_key=ctx.key(),
        guarantee_type="contract", project_name=works.name, contractor=ctx.person.name,
        orderer=ctx.orderer, project_number=works.number, issued=ctx.today)
    body = letter(ctx.person, ctx.office.name, 1, "認証キー等のお知らせを送付いたします。")
    return [ctx.mail("thunderbird", _subject(ctx, "contract"), body, minutes=3,
                     attachments=[("認証キー等のお知らせ.pdf", data, PDF)])]


@register("B-pl-dsure-two-typed")
def _b_two_typed(ctx: Ctx) -> list[bytes]:
    works = ctx.works()
    body = letter(ctx.person, ctx.office.name, 0,
                  f"{works.name}の契約保証及び前払金保証の認証キー等をお知らせいたします。", "",
                  "1. 契約保証", f"保証契約番号：{ctx.number()}", f"認証キー：{ctx.key()}", "",
                  "2. 前払金保証", f"保証契約番号：{ctx.number('advance')}",
                  f"認証キー：{ctx.key('advance')}")
    return [ctx.mail("outlook", f"【電子保証】契約保証・前払金保証 {works.name}", body, minutes=3)]


# --- the confirmation system ------------------------------------------------------------------


def _conf(ctx: Ctx, client: Client, layout: FormLayout, *, insurer: str = "sompo",
          prefix: str = "SJ", blank: tuple[str, ...] = (), style: int = 0,
          body_works: bool = True) -> bytes:
    values = form_values(ctx, insurer=insurer, prefix=prefix, blank=blank)
    lines = ["下記工事の契約保証について、発注者提出用フォーマットを送付いたします。"]
    if body_works:
        lines += ["", f"工事名：{ctx.works().name}"]
    body = letter(ctx.person, ctx.office.name, style, *lines)
    subject = f"【電子保証】{ctx.works().name}" if body_works else "【電子保証】確認システム"
    return ctx.mail(client, subject, body, minutes=3, attachments=[form_file(ctx, values, layout)])


@register("A-pl-conf-pdf")
def _a_conf_pdf(ctx: Ctx) -> list[bytes]:
    return [_conf(ctx, "iphone", "pdf", style=3)]


@register("A-pl-conf-docx")
def _a_conf_docx(ctx: Ctx) -> list[bytes]:
    return [_conf(ctx, "outlook", "docx", insurer="aioi", prefix="AD")]


@register("A-pl-conf-xlsx-tokio")
def _a_conf_xlsx(ctx: Ctx) -> list[bytes]:
    return [_conf(ctx, "becky", "xlsx", insurer="tokio", prefix="TK", style=2)]


@register("A-pl-conf-sample")
def _a_conf_sample(ctx: Ctx) -> list[bytes]:
    return [mails.confirmation_mail(contractor=ctx.person, project=ctx.works(), insurer="mitsui",
                                    policy_number=ctx.policy("MS"), url_in_body=True,
                                    charset="utf-8", date=ctx.at(3))]


@register("A-pl-conf-nopw")
def _a_conf_nopw(ctx: Ctx) -> list[bytes]:
    return [_conf(ctx, "thunderbird", "pdf", blank=("password",), style=1)]


@register("A-pl-conf-noworks")
def _a_conf_noworks(ctx: Ctx) -> list[bytes]:
    return [_conf(ctx, "gmail", "xlsx", blank=("project",), style=3, body_works=False)]


@register("A-pl-conf-secom")
def _a_conf_secom(ctx: Ctx) -> list[bytes]:
    return [_conf(ctx, "outlook", "pdf", insurer="secom", prefix="SC")]


@register("A-pl-conf-nisshin")
def _a_conf_nisshin(ctx: Ctx) -> list[bytes]:
    return [_conf(ctx, "becky", "pdf", insurer="nisshin", prefix="NS", style=2)]


@register("B-pl-conf-pdf")
def _b_conf_pdf(ctx: Ctx) -> list[bytes]:
    return [_conf(ctx, "outlook", "pdf")]


@register("B-pl-conf-xlsx")
def _b_conf_xlsx(ctx: Ctx) -> list[bytes]:
    return [_conf(ctx, "gmail", "xlsx", insurer="aioi", prefix="AD", style=3)]


# --- PDF policies by email ----------------------------------------------------------------------


def _legacy(ctx: Ctx, client: Client, *, insurer: str = "sompo", prefix: str = "SJ",
            issued_days: int = 0, cc: str | None = "designated", bond: bool = False,
            style: int = 0) -> bytes:
    ins = lookup_insurer(insurer)
    password = ctx.password()
    policy = policy_file(ctx, insurer=insurer, prefix=prefix, password=password, bond=bond,
                         issued=ctx.today - timedelta(days=issued_days))
    kind = "公共工事履行保証証券" if bond else "履行保証保険証券"
    body = letter(ctx.person, ctx.office.name, style,
                  f"下記工事の契約保証として、{ins.name}の{kind}（PDF）を送付いたします。", "",
                  f"工事名：{ctx.works().name}", f"証券番号：{ctx.policy(prefix)}",
                  f"証券開封用パスワード：{password}")
    copies = ins.designated_address if cc == "designated" else (cc or ())
    return ctx.mail(client, f"【契約保証】{ctx.works().name}（{kind}）", body, minutes=3,
                    attachments=[policy], cc=copies)


@register("A-pl-legacy-sompo")
def _a_legacy(ctx: Ctx) -> list[bytes]:
    return [_legacy(ctx, "outlook")]


@register("A-pl-legacy-tokio-agent")
def _a_legacy_agent(ctx: Ctx) -> list[bytes]:
    return [mails.legacy_pdf_mail(contractor=ctx.person, project=ctx.works(), insurer="tokio",
                                  policy_number=ctx.policy("TK"), kind="公共工事履行保証証券",
                                  password=ctx.password(), sender="agent", date=ctx.at(3))]


@register("A-pl-legacy-nocc")
def _a_legacy_nocc(ctx: Ctx) -> list[bytes]:
    return [_legacy(ctx, "thunderbird", cc=None, style=1)]


@register("A-pl-legacy-wrongcc")
def _a_legacy_wrongcc(ctx: Ctx) -> list[bytes]:
    return [_legacy(ctx, "gmail", insurer="mitsui", prefix="MS",
                    cc=lookup_insurer("sompo").designated_address, style=3)]


@register("B-pl-legacy-before")
def _b_legacy_before(ctx: Ctx) -> list[bytes]:
    return [_legacy(ctx, "outlook", issued_days=20)]


@register("B-pl-legacy-after")
def _b_legacy_after(ctx: Ctx) -> list[bytes]:
    return [_legacy(ctx, "thunderbird", issued_days=0, style=1)]


@register("B-pl-legacy-aioi-bond")
def _b_legacy_bond(ctx: Ctx) -> list[bytes]:
    return [_legacy(ctx, "becky", insurer="aioi", prefix="AD", issued_days=5, bond=True,
                    style=2)]


@register("B-pl-legacy-tokio")
def _b_legacy_tokio(ctx: Ctx) -> list[bytes]:
    return [_legacy(ctx, "outlook", insurer="tokio", prefix="TK", issued_days=10)]


@register("B-pl-legacy-nocc")
def _b_legacy_nocc(ctx: Ctx) -> list[bytes]:
    return [_legacy(ctx, "gmail", insurer="nisshin", prefix="NS", issued_days=9, cc=None,
                    style=3)]


@register("B-pl-legacy-after-nocc")
def _b_legacy_after_nocc(ctx: Ctx) -> list[bytes]:
    return [_legacy(ctx, "thunderbird-jis", cc=None, style=1)]


# --- documents that may not be sent ---------------------------------------------------------


def _wrong(ctx: Ctx, client: Client, subject: str, text: str, name: str, data: bytes,
           style: int = 0) -> bytes:
    body = letter(ctx.person, ctx.office.name, style, text, "", f"工事名：{ctx.works().name}")
    return ctx.mail(client, subject, body, minutes=3, attachments=[(name, data, PDF)])


def _certificate(ctx: Ctx, gtype: GuaranteeType) -> bytes:
    works = ctx.works()
    return pdfs.certificate_pdf(company="east", contract_number=ctx.number(),
                                guarantee_type=gtype, project_name=works.name,
                                contractor=ctx.person.name, orderer=ctx.orderer,
                                contractor_address=ctx.person.address, project_place=works.place,
                                price=works.price, issued=ctx.today)


@register("A-pl-certificate")
def _a_certificate(ctx: Ctx) -> list[bytes]:
    return [_wrong(ctx, "outlook", _subject(ctx, "contract"),
                   "契約保証証書（電子証書）を送付いたします。",
                   "契約保証証書（電子証書）.pdf", _certificate(ctx, "contract"))]


@register("B-pl-certificate")
def _b_certificate(ctx: Ctx) -> list[bytes]:
    return [_wrong(ctx, "becky", "【電子保証】前払金保証証書",
                   "前払金保証証書を電子でお送りします。",
                   "前払金保証証書.pdf", _certificate(ctx, "advance-payment"), style=2)]


@register("A-pl-reservation")
def _a_reservation(ctx: Ctx) -> list[bytes]:
    data = pdfs.reservation_pdf(company="west", reservation_number=f"Y-{ctx.number()[-6:]}",
                                project_name=ctx.works().name, contractor=ctx.person.name,
                                orderer=ctx.orderer, issued=ctx.today)
    return [_wrong(ctx, "becky", f"【契約保証】{ctx.works().name}（予約証書）",
                   "契約保証予約証書をお送りします。", "契約保証予約証書.pdf", data, style=2)]


@register("B-pl-reservation")
def _b_reservation(ctx: Ctx) -> list[bytes]:
    data = pdfs.reservation_pdf(company="east", reservation_number=f"E-{ctx.number()[-6:]}",
                                project_name=ctx.works().name, contractor=ctx.person.name,
                                orderer=ctx.orderer, issued=ctx.today)
    return [_wrong(ctx, "thunderbird", "契約保証予約証書の提出",
                   "入札に係る契約保証予約証書を提出します。",
                   "予約証書.pdf", data, style=1)]


def _bank(ctx: Ctx, bank: str, branch: str) -> bytes:
    works = ctx.works()
    return pdfs.bank_guarantee_pdf(bank=bank, branch=branch, project_name=works.name,
                                   contractor=ctx.person.name, orderer=ctx.orderer,
                                   amount=works.price // 10, issued=ctx.today)


@register("A-pl-bank")
def _a_bank(ctx: Ctx) -> list[bytes]:
    return [_wrong(ctx, "thunderbird", _subject(ctx, "contract"),
                   "契約保証として株式会社東都銀行の保証書を提出いたします。",
                   "保証書（契約保証）.pdf",
                   _bank(ctx, "株式会社東都銀行", "本町支店"), style=1)]


@register("B-pl-bank")
def _b_bank(ctx: Ctx) -> list[bytes]:
    return [_wrong(ctx, "outlook", f"【契約保証】{ctx.works().name}",
                   "南都信用金庫の保証書（契約保証）をPDFで送付いたします。", "保証書.pdf",
                   _bank(ctx, "南都信用金庫", "県庁前支店"))]


@register("A-pl-system-notice")
def _a_system_notice(ctx: Ctx) -> list[bytes]:
    return [mails.system_url_notice(contractor=ctx.person, policy_number=ctx.policy(),
                                    date=ctx.at(2))]


@register("A-pl-key-pdf-only")
def _a_key_pdf_only(ctx: Ctx) -> list[bytes]:
    """A key notice with no words at all: the PDF is the submission."""
    return [ctx.mail("iphone", "", "", minutes=2,
                     attachments=[("認証キー.pdf", key_notice(ctx, company="west",
                                                             gtype="contract"), PDF)])]
