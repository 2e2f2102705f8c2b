"""Point 3: layouts of complete submissions that must be routed: spaced labels, 【】
brackets, several fields on one line, Excel forms laid out otherwise, HTML-only mails
with a table, and values given in sentences."""

from __future__ import annotations

from samples.parties import insurer as lookup_insurer
from samples.parties import viewing_password, viewing_url

from labelled.base import (
    Ctx,
    FormLayout,
    form_file,
    form_values,
    invoice_file,
    register,
)
from labelled.clients import Client
from labelled.letters import letter


def _typed(ctx: Ctx, client: Client, subject: str, *lines: str, style: int = 0,
           minutes: float = 3, invoice: bool = False) -> bytes:
    body = letter(ctx.person, ctx.office.name, style, *lines)
    attachments = [invoice_file(ctx)] if invoice else []
    return ctx.mail(client, subject, body, minutes=minutes, attachments=attachments)


@register("A-p3-spaced-dsure")
def _spaced(ctx: Ctx) -> list[bytes]:
    works = ctx.works()
    return [_typed(ctx, "becky", f"【電子保証】{works.name}",
                   "契約保証の電子保証について、下記のとおりお知らせします。", "",
                   f"工 事 名：{works.name}", "保 証 の 種 類：契約保証",
                   f"保 証 契 約 番 号：{ctx.number()}", f"認 証 キ ー：{ctx.key()}", style=2)]


@register("B-p3-spaced-dsure")
def _b_spaced(ctx: Ctx) -> list[bytes]:
    works = ctx.works()
    return [_typed(ctx, "outlook", f"前払金保証　認証キー送付（{works.name}）",
                   "前払金保証の認証キー等をお知らせいたします。", "",
                   f"工　事　名　　{works.name}", "種　　　類　　前払金保証",
                   f"保　証　番　号　　{ctx.number()}", f"認　証　キ　ー　　{ctx.key()}", style=1)]


@register("A-p3-brackets-conf")
def _brackets_conf(ctx: Ctx) -> list[bytes]:
    policy = ctx.policy()
    return [_typed(ctx, "outlook", f"【電子保証】{ctx.works().name}（保証証券等確認システム）",
                   "保証証券等確認システムの閲覧用情報を下記のとおりお知らせいたします。", "",
                   f"【工事名】{ctx.works().name}", f"【受注者名】{ctx.person.name}",
                   f"【閲覧用URL】{viewing_url(policy)}",
                   f"【閲覧用パスワード】{viewing_password(policy)}",
                   f"【証券番号】{policy}", "【保険会社】損害保険ジャパン株式会社", style=0)]


@register("A-p3-brackets-dsure")
def _brackets_dsure(ctx: Ctx) -> list[bytes]:
    works = ctx.works()
    return [_typed(ctx, "thunderbird-jis", f"【請求関係書類】{works.number} {works.name}",
                   "前払金の請求書類を送付します。", "",
                   f"【工事名】{works.name}", "【保証の種類】前払金保証",
                   f"【保証契約番号】{ctx.number()}", f"【認証キー】{ctx.key()}",
                   style=1, invoice=True)]


@register("A-p3-oneline-spaces")
def _oneline_spaces(ctx: Ctx) -> list[bytes]:
    works = ctx.works()
    return [_typed(ctx, "gmail", f"【請求関係書類】{works.name}",
                   "前払金請求書と電子保証の情報をお送りします。", "",
                   f"工事名 {works.name}",
                   f"保証契約番号 {ctx.number()}　認証キー {ctx.key()}　保証の種類 前払金保証",
                   style=3, invoice=True)]


@register("A-p3-oneline-tabs")
def _oneline_tabs(ctx: Ctx) -> list[bytes]:
    policy = ctx.policy("TK")
    return [_typed(ctx, "thunderbird", f"【電子保証】{ctx.works().name}",
                   "確認システムの閲覧用情報です（発注者提出用フォーマットの内容）。", "",
                   f"工事名\t{ctx.works().name}\t受注者名\t{ctx.person.name}",
                   f"閲覧用URL\t{viewing_url(policy)}\t閲覧用パスワード\t{viewing_password(policy)}",
                   f"証券番号\t{policy}\t保険会社名\t東京海上日動火災保険株式会社", style=1)]


@register("B-p3-oneline")
def _b_oneline(ctx: Ctx) -> list[bytes]:
    works = ctx.works()
    return [_typed(ctx, "iphone", f"中間前払金 {works.name}",
                   f"{works.name}の中間前払金保証です。",
                   f"保証番号：{ctx.number()}　認証ｷｰ：{ctx.key()}　種類：中間前払金保証", style=3)]


def _form_layout(ctx: Ctx, client: Client, layout: FormLayout, *, insurer: str = "sompo",
                 prefix: str = "SJ", style: int = 0) -> bytes:
    values = form_values(ctx, insurer=insurer, prefix=prefix)
    body = letter(ctx.person, ctx.office.name, style,
                  "保証証券等確認システムの発注者提出用フォーマット（Excel）を送付いたします。")
    return ctx.mail(client, f"【電子保証】{ctx.works().name}", body, minutes=3,
                    attachments=[form_file(ctx, values, layout)])


@register("A-p3-xlsx-header-row")
def _xlsx_header_row(ctx: Ctx) -> list[bytes]:
    return [_form_layout(ctx, "outlook", "xlsx-header-row")]


@register("A-p3-xlsx-header-row-tokio")
def _xlsx_header_row_tokio(ctx: Ctx) -> list[bytes]:
    return [_form_layout(ctx, "becky", "xlsx-header-row", insurer="tokio", prefix="TK", style=2)]


@register("A-p3-xlsx-far-right")
def _xlsx_far_right(ctx: Ctx) -> list[bytes]:
    return [_form_layout(ctx, "thunderbird", "xlsx-far-right", insurer="mitsui", prefix="MS",
                         style=1)]


@register("A-p3-xlsx-merged")
def _xlsx_merged(ctx: Ctx) -> list[bytes]:
    return [_form_layout(ctx, "gmail", "xlsx-merged", insurer="aioi", prefix="AD", style=3)]


def _html_intro(ctx: Ctx, text: str) -> str:
    return (f"<p>{ctx.office.name}<br>ご担当者様</p><p>いつもお世話になっております。<br>"
            f"{ctx.person.signature_name}の{ctx.person.person.split()[0]}です。</p><p>{text}</p>")


def _html_outro(ctx: Ctx) -> str:
    return (f"<p>よろしくお願いいたします。</p><hr><p>{ctx.person.signature_name}<br>"
            f"{ctx.person.department} {ctx.person.person}<br>TEL {ctx.person.phone}</p>")


def _html_table(rows: list[tuple[str, str]]) -> str:
    cells = "".join(f'<tr><th style="background:#ddebf7">{label}</th><td>{value}</td></tr>'
                    for label, value in rows)
    return f'<table border="1" cellspacing="0" cellpadding="4">{cells}</table>'


@register("A-p3-html-table-url")
def _html_table_url(ctx: Ctx) -> list[bytes]:
    policy = ctx.policy()
    url = viewing_url(policy)
    table = _html_table([("工事名", ctx.works().name), ("受注者名", ctx.person.name),
                         ("閲覧用URL", f'<a href="{url}">{url}</a>'),
                         ("閲覧用パスワード", viewing_password(policy)), ("証券番号", policy),
                         ("保険会社名", "損害保険ジャパン株式会社")])
    intro = _html_intro(ctx, "保証証券等確認システムの閲覧用情報をお送りします。")
    html = intro + table + _html_outro(ctx)
    return [ctx.html(f"【電子保証】{ctx.works().name}", html, minutes=3)]


@register("A-p3-html-link-text")
def _html_link_text(ctx: Ctx) -> list[bytes]:
    policy = ctx.policy("MS")
    url = viewing_url(policy)
    table = _html_table([("工事名", ctx.works().name), ("受注者名", ctx.person.name),
                         ("閲覧用URL", f'<a href="{url}">証券等閲覧ページを開く</a>'),
                         ("閲覧用パスワード", viewing_password(policy)), ("証券番号", policy),
                         ("保険会社名", "三井住友海上火災保険株式会社")])
    html = _html_intro(ctx, "閲覧用情報は下表のとおりです。") + table + _html_outro(ctx)
    return [ctx.html(f"【電子保証】{ctx.works().name}", html, minutes=2)]


@register("B-p3-html-dsure")
def _b_html_dsure(ctx: Ctx) -> list[bytes]:
    table = _html_table([("工事名", ctx.works().name), ("保証の種類", "契約保証"),
                         ("保証契約番号", ctx.number()), ("認証キー", ctx.key())])
    html = _html_intro(ctx, "電子保証の認証キー等をお知らせいたします。") + table + _html_outro(ctx)
    return [ctx.html(f"【電子保証】{ctx.works().name}", html, minutes=4)]


@register("A-p3-html-dsure-dl")
def _html_dsure_dl(ctx: Ctx) -> list[bytes]:
    works = ctx.works()
    items = "".join(f"<dt><b>{label}</b></dt><dd>{value}</dd>" for label, value in (
        ("工事名", works.name), ("保証の種類", "契約保証"), ("保証契約番号", ctx.number()),
        ("認証キー", ctx.key())))
    html = _html_intro(ctx, "契約保証の電子保証について") + f"<dl>{items}</dl>" + _html_outro(ctx)
    return [ctx.html(f"【電子保証】{works.name}", html, minutes=2)]


@register("A-p3-sentence-dsure")
def _sentence_dsure(ctx: Ctx) -> list[bytes]:
    works = ctx.works()
    return [_typed(ctx, "iphone", f"【電子保証】{works.name}",
                   f"{works.name}の契約保証の件です。",
                   f"保証契約番号は {ctx.number()} です。", f"認証キーは {ctx.key()} です。",
                   style=3)]


@register("B-p3-sentence-dsure")
def _b_sentence_dsure(ctx: Ctx) -> list[bytes]:
    works = ctx.works()
    return [_typed(ctx, "becky", f"前払金保証（{works.name}）",
                   f"{works.name}の前払金保証につきまして、保証契約番号は{ctx.number()}、"
                   f"認証キーは{ctx.key()}となります。", style=2)]


@register("A-p3-sentence-url")
def _sentence_url(ctx: Ctx) -> list[bytes]:
    values = form_values(ctx, insurer="tokio", prefix="TK", blank=("url",))
    ins = lookup_insurer("tokio")
    body = letter(ctx.person, ctx.office.name, 1,
                  f"{ins.name}の発注者提出用フォーマットを添付いたします。",
                  f"閲覧用URLは {viewing_url(values.policy)} です。")
    return [ctx.mail("outlook", f"【電子保証】{ctx.works().name}", body, minutes=3,
                     attachments=[form_file(ctx, values, "pdf")])]
