"""Point 2: how long a message waits for the rest (policy.rest_wait_minutes) or for what
it says will follow (policy.password_wait_hours), and what it gets once the wait is over.

The ``arrived`` sets are appended with their old arrival time; their Date header says
the same.
"""

from __future__ import annotations

from labelled.base import Ctx, form_file, form_values, key_notice_file, register, sealed
from labelled.clients import Client
from labelled.letters import letter


def _form_without_url(ctx: Ctx, client: Client, *, minutes: float = 0, hours: float = 0,
                      layout: str = "pdf", note: str = "", style: int = 0) -> bytes:
    values = form_values(ctx, blank=("url",))
    works = ctx.works()
    lines = ["下記工事の契約保証につき、発注者提出用フォーマットを送付いたします。", "",
             f"工事名：{works.name}", f"受注者名：{ctx.person.name}"]
    if note:
        lines += ["", note]
    body = letter(ctx.person, ctx.office.name, style, *lines)
    return ctx.mail(client, f"【電子保証】{works.name}", body, minutes=minutes, hours=hours,
                    attachments=[form_file(ctx, values, layout)])  # type: ignore[arg-type]


def _number_without_key(ctx: Ctx, client: Client, *, minutes: float = 0, hours: float = 0,
                        note: str = "", style: int = 1) -> bytes:
    works = ctx.works()
    lines = ["下記のとおり、契約保証の保証契約番号をお知らせします。", "", f"工事名：{works.name}",
             "保証の種類：契約保証", f"保証契約番号：{ctx.number()}"]
    if note:
        lines += ["", note]
    body = letter(ctx.person, ctx.office.name, style, *lines)
    return ctx.mail(client, f"【電子保証】{works.number or ''} {works.name}", body,
                    minutes=minutes, hours=hours)


def _password_only(ctx: Ctx, *, minutes: float = 0, hours: float = 0) -> bytes:
    body = letter(ctx.person, ctx.office.name, 3, "添付ファイルのパスワードをお送りします。",
                  f"パスワード：{ctx.password()}")
    return ctx.mail("outlook", "パスワードのお知らせ", body, minutes=minutes, hours=hours)


@register("A-p2-form-nourl")
def _form_nourl(ctx: Ctx) -> list[bytes]:
    return [_form_without_url(ctx, "outlook", minutes=3)]


@register("A-p2-form-nourl-docx")
def _form_nourl_docx(ctx: Ctx) -> list[bytes]:
    return [_form_without_url(ctx, "thunderbird", minutes=2, layout="docx", style=1)]


@register("A-p2-form-nourl-90m")
def _form_nourl_90m(ctx: Ctx) -> list[bytes]:
    return [_form_without_url(ctx, "becky", minutes=90, style=2)]


@register("A-p2-form-nourl-40m")
def _form_nourl_40m(ctx: Ctx) -> list[bytes]:
    return [_form_without_url(ctx, "gmail", minutes=40, layout="xlsx", style=3)]


@register("A-p2-url-follows-2h")
def _url_follows_2h(ctx: Ctx) -> list[bytes]:
    return [_form_without_url(ctx, "outlook", hours=2, note="閲覧用URLは追ってお送りします。")]


@register("A-p2-url-follows-30h")
def _url_follows_30h(ctx: Ctx) -> list[bytes]:
    return [_form_without_url(ctx, "iphone", hours=30, layout="xlsx",
                              note="※閲覧用URLは別途お送りします。", style=3)]


@register("A-p2-key-follows-2h")
def _key_follows_2h(ctx: Ctx) -> list[bytes]:
    return [_number_without_key(ctx, "outlook", hours=2, note="認証キーは別送いたします。")]


@register("A-p2-nokey-40m")
def _nokey_40m(ctx: Ctx) -> list[bytes]:
    return [_number_without_key(ctx, "thunderbird", minutes=40)]


@register("A-p2-nokey-90m")
def _nokey_90m(ctx: Ctx) -> list[bytes]:
    return [_number_without_key(ctx, "becky", minutes=90, style=2)]


@register("A-p2-pw-alone-30h")
def _pw_alone_30h(ctx: Ctx) -> list[bytes]:
    return [_password_only(ctx, hours=30)]


@register("A-p2-pw-alone-fresh")
def _pw_alone_fresh(ctx: Ctx) -> list[bytes]:
    return [_password_only(ctx, minutes=2)]


@register("A-p2-zip-26h")
def _zip_26h(ctx: Ctx) -> list[bytes]:
    values = form_values(ctx)
    body = letter(ctx.person, ctx.office.name, 0, "発注者提出用フォーマットを送付いたします。",
                  "パスワードは別途お送りします。")
    return [ctx.mail("outlook", f"【電子保証】{ctx.works().name}", body, hours=26, minutes=0,
                     attachments=[sealed(form_file(ctx, values), ctx.password(), "zip-aes")])]


@register("B-p2-form-nourl")
def _b_form_nourl(ctx: Ctx) -> list[bytes]:
    return [_form_without_url(ctx, "outlook", minutes=3)]


@register("B-p2-nokey-40m")
def _b_nokey_40m(ctx: Ctx) -> list[bytes]:
    return [_number_without_key(ctx, "thunderbird", minutes=40)]


@register("B-p2-key-follows-10h")
def _b_key_follows_10h(ctx: Ctx) -> list[bytes]:
    return [_number_without_key(ctx, "becky", hours=10, note="※認証キーは別送します。", style=2)]


@register("B-p2-key-follows-2h")
def _b_key_follows_2h(ctx: Ctx) -> list[bytes]:
    return [_number_without_key(ctx, "gmail", hours=2, note="キーは別送します。", style=3)]


def _zip_key_notice(ctx: Ctx, *, hours: float) -> bytes:
    body = letter(ctx.person, ctx.office.name, 1,
                  "認証キー等のお知らせを送付します（パスワード付きZIP）。",
                  "解凍パスワードは後ほどお送りします。")
    notice = sealed(key_notice_file(ctx, company="west"), ctx.password(), "zip-crypto")
    return ctx.mail("outlook", f"【電子保証】{ctx.works().name}", body, hours=hours, minutes=0,
                    attachments=[notice])


@register("B-p2-zip-10h")
def _b_zip_10h(ctx: Ctx) -> list[bytes]:
    return [_zip_key_notice(ctx, hours=10)]


@register("B-p2-zip-2h")
def _b_zip_2h(ctx: Ctx) -> list[bytes]:
    return [_zip_key_notice(ctx, hours=2)]
