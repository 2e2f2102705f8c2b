"""Points 4 to 7: never guess a field; mail about guarantees that is no submission; the
checks on the URL, the subject and a sealed policy; auto-replies and a colleague's
submission."""

from __future__ import annotations

from datetime import timedelta

from samples import pdfs
from samples.parties import Contractor, viewing_url
from samples.parties import insurer as lookup_insurer

from labelled.base import (
    PDF,
    Ctx,
    FormLayout,
    form_file,
    form_values,
    key_notice_file,
    policy_file,
    register,
)
from labelled.cast import colleague
from labelled.clients import Client
from labelled.letters import letter, opening

# --- point 4: never guess ------------------------------------------------------------------


def _form_blank(ctx: Ctx, client: Client, layout: FormLayout, *, blank: str = "contractor",
                style: int = 0, subject: str | None = None, body: str | None = None) -> bytes:
    values = form_values(ctx, blank=(blank,))
    text = body or letter(ctx.person, ctx.office.name, style,
                          "保証証券等確認システムの発注者提出用フォーマットを送付いたします。")
    return ctx.mail(client, subject or f"【電子保証】{ctx.works().name}", text, minutes=3,
                    attachments=[form_file(ctx, values, layout)])


@register("A-p4-note-pdf")
def _note_pdf(ctx: Ctx) -> list[bytes]:
    return [_form_blank(ctx, "outlook", "pdf-note")]


@register("A-p4-note-xlsx")
def _note_xlsx(ctx: Ctx) -> list[bytes]:
    return [_form_blank(ctx, "thunderbird", "xlsx-note", style=1)]


@register("A-p4-note-docx")
def _note_docx(ctx: Ctx) -> list[bytes]:
    return [_form_blank(ctx, "becky", "docx-note", style=2)]


@register("A-p4-signature")
def _signature(ctx: Ctx) -> list[bytes]:
    return [_form_blank(ctx, "gmail", "pdf", style=0)]


@register("A-p4-display-name")
def _display_name(ctx: Ctx) -> list[bytes]:
    body = "契約課　御中\n\n発注者提出用フォーマットを送ります。\nよろしくお願いします。"
    return [_form_blank(ctx, "iphone", "xlsx", body=body)]


@register("A-p4-subject")
def _subject(ctx: Ctx) -> list[bytes]:
    return [_form_blank(ctx, "outlook", "pdf", style=3,
                        subject=f"【電子保証】{ctx.works().name}　{ctx.person.name}")]


@register("A-p4-works-subject")
def _works_subject(ctx: Ctx) -> list[bytes]:
    body = letter(ctx.person, ctx.office.name, 1,
                  "件名の工事の発注者提出用フォーマットを送付します。",
                  f"受注者名：{ctx.person.name}")
    return [_form_blank(ctx, "thunderbird", "pdf", blank="project", body=body,
                        subject=f"【電子保証】{ctx.works().number} {ctx.works().name}")]


@register("B-p4-blank-number")
def _b_blank_number(ctx: Ctx) -> list[bytes]:
    body = letter(ctx.person, ctx.office.name, 0, "契約保証の認証キーをお知らせします。", "",
                  f"工事名：{ctx.works().name}", "保証の種類：契約保証", "保証契約番号：",
                  f"認証キー：{ctx.key()}")
    return [ctx.mail("outlook", f"【電子保証】{ctx.works().name}", body, hours=1, minutes=0)]


@register("B-p4-number-in-subject")
def _b_number_in_subject(ctx: Ctx) -> list[bytes]:
    body = letter(ctx.person, ctx.office.name, 2, "件名の保証の認証キーです。",
                  f"認証キー：{ctx.key()}", "保証の種類：前払金保証")
    return [ctx.mail("becky", f"前払金保証 {ctx.number()} 認証キー", body, hours=1, minutes=0)]


# --- point 5: about guarantees, but no submission -------------------------------------------

def _prose(ctx: Ctx, client: Client, subject: str, *lines: str, style: int = 0) -> bytes:
    return ctx.mail(client, subject, letter(ctx.person, ctx.office.name, style, *lines),
                    minutes=4)


@register("A-p5-question-dsure")
def _question_dsure(ctx: Ctx) -> list[bytes]:
    return [_prose(ctx, "outlook", "電子保証の提出方法について",
                   f"{ctx.works().name}の契約保証を電子保証で提出したいと考えております。",
                   "保証契約番号と認証キーはメール本文に記載すればよろしいでしょうか。",
                   "それとも認証キー等のお知らせのPDFを添付する必要がありますでしょうか。")]


@register("A-p5-question-conf")
def _question_conf(ctx: Ctx) -> list[bytes]:
    return [_prose(ctx, "gmail", "保証証券等確認システムについての質問",
                   "履行保証保険を保証証券等確認システムで提出する予定です。",
                   "閲覧用URLと閲覧用パスワードは、発注者提出用フォーマットに記入して送付すれば"
                   "よいでしょうか。", "また、閲覧用パスワードは別メールにした方がよいでしょうか。",
                   style=3)]


@register("A-p5-posted")
def _posted(ctx: Ctx) -> list[bytes]:
    return [_prose(ctx, "becky", f"契約保証証書の郵送について（{ctx.works().name}）",
                   f"{ctx.works().name}の契約保証につきまして、保証証書の原本を本日郵送いたしました。",
                   "到着まで今しばらくお待ちください。", style=2)]


@register("A-p5-key-later")
def _key_later(ctx: Ctx) -> list[bytes]:
    return [_prose(ctx, "thunderbird", f"電子保証の提出時期について（{ctx.works().name}）",
                   "前払金保証の認証キー等のお知らせは、保証会社から届き次第お送りいたします。",
                   "保証契約番号もその際にあわせてお知らせします。", style=1)]


@register("A-p5-thanks")
def _thanks(ctx: Ctx) -> list[bytes]:
    return [_prose(ctx, "iphone", "Re: 【電子保証 受付】",
                   "電子保証の受付のご連絡ありがとうございました。",
                   "今後ともよろしくお願いいたします。",
                   style=3)]


@register("B-p5-posted")
def _b_posted(ctx: Ctx) -> list[bytes]:
    return [_prose(ctx, "outlook", "前払金保証証書の送付について",
                   "前払金保証証書（書面）を本日、書留郵便にて郵送いたしました。",
                   "電子保証ではなく書面での提出となりますので、よろしくお願いいたします。")]


@register("B-p5-question")
def _b_question(ctx: Ctx) -> list[bytes]:
    return [_prose(ctx, "thunderbird-jis", "認証キーの有効期限について",
                   "電子保証の認証キーに有効期限はありますでしょうか。",
                   "保証会社から受け取った認証キー等のお知らせをいつまでに提出すればよいか教えてください。",
                   style=1)]


@register("B-p5-leaflet")
def _b_leaflet(ctx: Ctx) -> list[bytes]:
    body = letter(ctx.person, ctx.office.name, 2,
                  "保証会社から添付の案内をもらいました。この手順で貴課へ提出すればよいでしょうか。")
    return [ctx.mail("outlook", "電子保証の手続きについて（質問）", body, minutes=4,
                     attachments=[("電子保証のご案内.pdf", pdfs.leaflet_pdf(), PDF)])]


# --- point 6: the URL, the subject, a sealed policy ------------------------------------------

def _form_url(ctx: Ctx, client: Client, url: str, *, layout: FormLayout = "pdf",
              in_body: bool = False, style: int = 0) -> bytes:
    values = form_values(ctx, url=url, blank=("url",) if in_body else ())
    lines = ["発注者提出用フォーマットを送付いたします。"]
    if in_body:
        lines += ["", f"閲覧用URL：{url}"]
    body = letter(ctx.person, ctx.office.name, style, *lines)
    return ctx.mail(client, f"【電子保証】{ctx.works().name}", body, minutes=3,
                    attachments=[form_file(ctx, values, layout)])


def _url(ctx: Ctx, pattern: str) -> str:
    token = viewing_url(ctx.policy()).rsplit("=", 1)[1]
    return pattern.format(token=token)


@register("A-p6-url-http")
def _url_http(ctx: Ctx) -> list[bytes]:
    return [_form_url(ctx, "outlook", _url(ctx, "http://www.sonpo-hosyou-syouken.jp/view?k={token}"))]


@register("A-p6-url-host")
def _url_host(ctx: Ctx) -> list[bytes]:
    return [_form_url(ctx, "thunderbird",
                      _url(ctx, "https://www.sonpo-hosyo-syouken.jp/view?k={token}"), style=1)]


@register("A-p6-url-lookalike")
def _url_lookalike(ctx: Ctx) -> list[bytes]:
    return [_form_url(ctx, "gmail",
                      _url(ctx, "https://sonpo-hosyou-syouken.jp.view-shoken.example.net/v?k={token}"),
                      layout="xlsx", style=3)]


@register("A-p6-url-body")
def _url_body(ctx: Ctx) -> list[bytes]:
    return [_form_url(ctx, "becky", _url(ctx, "http://sonpo-hosyou-syouken.jp/view?k={token}"),
                      layout="xlsx", in_body=True, style=2)]


@register("A-p6-subject-routed")
def _subject_routed(ctx: Ctx) -> list[bytes]:
    body = letter(ctx.person, ctx.office.name, 0,
                  "前払金保証の認証キー等のお知らせを送付いたします。")
    return [ctx.mail("outlook", "前払金保証の認証キー等送付", body, minutes=3,
                     attachments=[key_notice_file(ctx, gtype="advance-payment")])]


@register("A-p6-subject-certificate")
def _subject_certificate(ctx: Ctx) -> list[bytes]:
    works = ctx.works()
    pdf = pdfs.certificate_pdf(company="west", contract_number=ctx.number(),
                               guarantee_type="advance-payment", project_name=works.name,
                               contractor=ctx.person.name, orderer=ctx.orderer,
                               contractor_address=ctx.person.address, project_place=works.place,
                               price=works.price, issued=ctx.today)
    body = letter(ctx.person, ctx.office.name, 1, "前払金保証証書（電子証書）を送付いたします。")
    return [ctx.mail("thunderbird", "前払金保証証書の送付", body, minutes=3,
                     attachments=[("前払金保証証書（電子証書）.pdf", pdf, PDF)])]


@register("A-p6-subject-nokey-3h")
def _subject_nokey(ctx: Ctx) -> list[bytes]:
    body = letter(ctx.person, ctx.office.name, 3, "前払金保証の保証契約番号をお知らせします。",
                  f"工事名：{ctx.works().name}", "保証の種類：前払金保証",
                  f"保証契約番号：{ctx.number()}")
    return [ctx.mail("gmail", "前払金の件", body, hours=3, minutes=0)]


def _sealed_policy(ctx: Ctx, client: Client, *, hours: float, cc: bool = True,
                   insurer: str = "sompo", prefix: str = "SJ", style: int = 0) -> bytes:
    ins = lookup_insurer(insurer)
    issued = ctx.today - timedelta(days=14 if ctx.office.key == "B" else 0)
    policy = policy_file(ctx, insurer=insurer, prefix=prefix, password=ctx.password(),
                         issued=issued)
    body = letter(ctx.person, ctx.office.name, style,
                  f"{ctx.works().name}の契約保証として、{ins.name}の履行保証保険証券を送付いたします。",
                  "証券のパスワードは別途ご連絡いたします。")
    return ctx.mail(client, f"【契約保証】{ctx.works().name}", body, hours=hours, minutes=3,
                    attachments=[policy], cc=ins.designated_address if cc else ())


@register("A-p6-sealed-26h")
def _sealed_26h(ctx: Ctx) -> list[bytes]:
    return [_sealed_policy(ctx, "becky", hours=26, style=2)]


@register("A-p6-sealed-10h")
def _sealed_10h(ctx: Ctx) -> list[bytes]:
    return [_sealed_policy(ctx, "outlook", hours=10, insurer="tokio", prefix="TK")]


@register("B-p6-sealed-10h")
def _b_sealed_10h(ctx: Ctx) -> list[bytes]:
    return [_sealed_policy(ctx, "outlook", hours=10)]


@register("B-p6-sealed-fresh")
def _b_sealed_fresh(ctx: Ctx) -> list[bytes]:
    return [_sealed_policy(ctx, "thunderbird", hours=0, insurer="aioi", prefix="AD", style=1)]


@register("B-p6-sealed-30h-nocc")
def _b_sealed_nocc(ctx: Ctx) -> list[bytes]:
    return [_sealed_policy(ctx, "becky", hours=30, cc=False, insurer="nisshin", prefix="NS",
                           style=2)]


# --- point 7: auto-replies, and a colleague standing in -------------------------------------

def _auto(ctx: Ctx, client: Client, subject: str, body: str,
          headers: list[tuple[str, str | bytes]] | None = None) -> bytes:
    return ctx.mail(client, subject, body, minutes=2, headers=headers)


@register("A-p7-x-autoreply")
def _x_autoreply(ctx: Ctx) -> list[bytes]:
    body = (f"お世話になっております。{ctx.person.signature_name}です。\n"
            "ただいま外出しており、4月20日に帰社予定です。\n帰社後に確認のうえご連絡いたします。")
    return [_auto(ctx, "outlook", "Re: 【電子保証 再提出のお願い】", body,
                  [("X-Autoreply", "yes")])]


@register("B-p7-x-autorespond")
def _x_autorespond(ctx: Ctx) -> list[bytes]:
    body = ("メールありがとうございます。\n担当者より追ってご連絡いたします。\n"
            + ctx.person.signature_name)
    return [_auto(ctx, "thunderbird", "Re: 電子保証の受付について", body,
                  [("X-Autorespond", "Thank you for your message")])]


@register("A-p7-precedence")
def _precedence(ctx: Ctx) -> list[bytes]:
    body = (f"{ctx.person.signature_name}　{ctx.person.person}\n\n"
            "本日は休暇をいただいております。明日以降に順次対応いたします。")
    return [_auto(ctx, "becky", "Re: 【電子保証 受付】", body, [("Precedence", "auto_reply")])]


@register("B-p7-body-jido-outo")
def _body_jido_outo(ctx: Ctx) -> list[bytes]:
    body = ("【自動応答】このメールは自動応答により送信しています。\n"
            f"{ctx.person.signature_name}の{ctx.person.person}は、現在出張中です。\n"
            "お急ぎの方は代表電話までご連絡ください。")
    return [_auto(ctx, "gmail", f"Re: 【電子保証】{ctx.works().name}", body)]


@register("A-p7-body-jido-henshin")
def _body_jido_henshin(ctx: Ctx) -> list[bytes]:
    body = ("※本メールは自動返信です。\n"
            "メールを受け付けました。内容を確認のうえ、担当者よりご連絡します。\n"
            f"{ctx.person.signature_name}")
    return [_auto(ctx, "webmail", "Re: 【電子保証 再提出のお願い】", body)]


@register("A-p7-body-fuzai")
def _body_fuzai(ctx: Ctx) -> list[bytes]:
    body = ("ただいま不在にしております。\n4月13日（月）より順次対応いたします。\n"
            f"{ctx.person.signature_name}　{ctx.person.person}")
    return [_auto(ctx, "outlook", "Re: 電子保証の件", body)]


@register("B-p7-body-fuzai")
def _b_body_fuzai(ctx: Ctx) -> list[bytes]:
    body = ("お世話になっております。\n"
            "誠に勝手ながら、夏季休暇のため8月13日から8月16日まで不在にしております。\n"
            "8月17日以降にご連絡いたします。")
    return [_auto(ctx, "becky", "Re: 【電子保証】", body)]


def _stand_in(ctx: Ctx) -> tuple[Contractor, str]:
    deputy = colleague(ctx.person, "s-kondo", "近藤 聡")
    lead = (f"{ctx.office.name}　ご担当者様\n\nお世話になっております。"
            "担当者が不在にしておりますので代わりにお送りします。\n")
    return deputy, lead


@register("A-p7-colleague-typed")
def _colleague_typed(ctx: Ctx) -> list[bytes]:
    deputy, lead = _stand_in(ctx)
    body = "\n".join([lead, f"工事名：{ctx.works().name}", "保証の種類：契約保証",
                      f"保証契約番号：{ctx.number()}", f"認証キー：{ctx.key()}", "",
                      "よろしくお願いいたします。"])
    return [ctx.mail("outlook", f"【電子保証】{ctx.works().name}", body, minutes=3,
                     sender=deputy)]


@register("B-p7-colleague-pdf")
def _b_colleague_pdf(ctx: Ctx) -> list[bytes]:
    deputy, lead = _stand_in(ctx)
    body = "\n".join([lead, "前払金保証の認証キー等のお知らせを添付します。", "",
                      "よろしくお願いいたします。"])
    return [ctx.mail("thunderbird", f"【電子保証】前払金 {ctx.works().name}", body, minutes=3,
                     sender=deputy,
                     attachments=[key_notice_file(ctx, gtype="advance-payment", company="west")])]


@register("A-p7-colleague-form")
def _colleague_form(ctx: Ctx) -> list[bytes]:
    deputy = colleague(ctx.person, "t-ono", "小野 拓也")
    body = "\n".join([
        opening(deputy, ctx.office.name, 3),
        f"工事担当の{ctx.person.person.split()[0]}が不在にしておりますので、代わりに私からお送りいたします。",
        "発注者提出用フォーマットを添付しております。", "", "よろしくお願いいたします。"])
    values = form_values(ctx)
    return [ctx.mail("gmail", f"【電子保証】{ctx.works().name}", body, minutes=3, sender=deputy,
                     attachments=[form_file(ctx, values, "pdf")])]
