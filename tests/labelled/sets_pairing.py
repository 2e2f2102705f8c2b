"""Point 1: a held message paired with its follow-up by proof (the password opens it, the
works named are the same), never by sender alone."""

from __future__ import annotations

from datetime import timedelta

from samples.mails import Attachment
from samples.parties import Contractor, viewing_url
from samples.parties import insurer as lookup_insurer

from labelled.base import (
    Ctx,
    FormLayout,
    Sealing,
    form_file,
    form_values,
    invoice_file,
    key_notice_file,
    policy_file,
    register,
    sealed,
    widen,
)
from labelled.cast import colleague
from labelled.clients import Client
from labelled.letters import letter


def _form_mail(ctx: Ctx, client: Client, layout: FormLayout, how: Sealing, *, minutes: float,
               tag: str = "", style: int = 0, password: str | None = None) -> bytes:
    """A confirmation-system form, sealed, the password to follow."""
    values = form_values(ctx, tag=tag)
    works = ctx.works(tag)
    attachment = sealed(form_file(ctx, values, layout), password or ctx.password(tag), how)
    body = letter(ctx.person, ctx.office.name, style,
                  "下記工事の契約保証（履行保証保険）につきまして、保証証券等確認システムの"
                  "発注者提出用フォーマットを送付いたします。", "",
                  f"工事名：{works.name}", "",
                  "※添付ファイルにはパスワードを設定しております。パスワードは別途お送りします。")
    return ctx.mail(client, f"【電子保証】{works.name}（履行保証保険）", body, minutes=minutes,
                    attachments=[attachment])


def _key_zip_mail(ctx: Ctx, client: Client, how: Sealing, *, minutes: float, tag: str = "",
                  gtype: str = "contract", company: str = "east", style: int = 1,
                  password: str | None = None, extra: tuple[Attachment, ...] = ()) -> bytes:
    """A D-Sure key notice, sealed, the password to follow."""
    works = ctx.works(tag)
    notice = key_notice_file(ctx, company=company, gtype=gtype, tag=tag)  # type: ignore[arg-type]
    attachments = [sealed(notice, password or ctx.password(tag), how), *extra]
    advance = gtype != "contract"
    kind = {"contract": "契約保証", "advance-payment": "前払金保証",
            "interim-advance-payment": "中間前払金保証"}[gtype]
    tagline = "【請求関係書類】" if advance else "【電子保証】"
    body = letter(ctx.person, ctx.office.name, style,
                  f"{works.name}の{kind}に係る認証キー等のお知らせを送付いたします。",
                  "添付ファイルはパスワード付きZIPです。パスワードは別メールにてお知らせします。"
                  if how.startswith("zip")
                  else "PDFにパスワードを設定しております。パスワードは別メールにて"
                  "お知らせします。")
    return ctx.mail(client, f"{tagline}{works.number or ''} {works.name}", body,
                    minutes=minutes, attachments=attachments)


def _legacy_sealed_mail(ctx: Ctx, client: Client, *, minutes: float, insurer: str = "sompo",
                        prefix: str = "SJ", issued_days: int = 0, style: int = 2) -> bytes:
    ins = lookup_insurer(insurer)
    works = ctx.works()
    policy = policy_file(ctx, insurer=insurer, prefix=prefix, password=ctx.password(),
                         issued=ctx.today - timedelta(days=issued_days))
    body = letter(ctx.person, ctx.office.name, style,
                  f"下記工事の契約保証として、{ins.name}の履行保証保険証券（PDF発行証券）を送付いたします。",
                  f"※{ins.name}指定のアドレスを写しに含めております。", "",
                  f"工事名：{works.name}", f"証券番号：{ctx.policy(prefix)}", "",
                  "証券のパスワードは後ほど別メールでお送りします。")
    return ctx.mail(client, f"【契約保証】{works.name}（履行保証保険証券）", body, minutes=minutes,
                    attachments=[policy], cc=ins.designated_address)


def _password_mail(ctx: Ctx, client: Client, *lines: str, minutes: float, style: int = 3,
                   subject: str | None = None, sender: Contractor | None = None) -> bytes:
    who = sender or ctx.person
    body = letter(who, ctx.office.name, style, *lines)
    return ctx.mail(client, subject or f"【パスワード送付】{ctx.works().name}", body,
                    minutes=minutes, sender=who)


# --- every wording of a password ---------------------------------------------------------

@register("A-p1-pw-colon")
def _pw_colon(ctx: Ctx) -> list[bytes]:
    return [_form_mail(ctx, "outlook", "pdf", "zip-aes", minutes=4),
            _password_mail(ctx, "outlook",
                           "先ほどお送りしたメールの添付ファイルのパスワードをお知らせいたします。",
                           "", f"パスワード：{ctx.password()}", minutes=2)]


@register("A-p1-pw-pw")
def _pw_pw(ctx: Ctx) -> list[bytes]:
    return [_form_mail(ctx, "thunderbird", "xlsx", "zip-crypto", minutes=5, style=1),
            _password_mail(ctx, "thunderbird", "添付ファイルのPWです。", f"PW: {ctx.password()}",
                           minutes=3, style=1, subject="PW")]


@register("A-p1-pw-pass")
def _pw_pass(ctx: Ctx) -> list[bytes]:
    return [_form_mail(ctx, "gmail", "pdf", "pdf", minutes=6, style=3),
            _password_mail(ctx, "gmail", "先程のファイルのパスです。", "", f"Pass {ctx.password()}",
                           minutes=1, subject="Re: 【電子保証】パス")]


@register("A-p1-pw-kaito")
def _pw_kaito(ctx: Ctx) -> list[bytes]:
    return [_form_mail(ctx, "becky", "docx", "zip-aes", minutes=7, style=2),
            _password_mail(ctx, "becky", "ZIPファイルの解凍パスワードをお送りします。", "",
                           f"解凍パスワード：{ctx.password()}", minutes=5, style=2,
                           subject="解凍パスワードのお知らせ")]


@register("A-p1-pw-kaifu")
def _pw_kaifu(ctx: Ctx) -> list[bytes]:
    return [_form_mail(ctx, "iphone", "xlsx", "ooxml", minutes=4, style=3),
            _password_mail(ctx, "iphone", "エクセルの開封パスワードです",
                           f"開封パスワード {ctx.password()}",
                           minutes=2, subject="開封パスワード")]


@register("A-p1-pw-kagi")
def _pw_kagi(ctx: Ctx) -> list[bytes]:
    return [_key_zip_mail(ctx, "thunderbird-jis", "zip-aes", minutes=6, company="west"),
            _password_mail(ctx, "thunderbird-jis",
                           "先ほどの認証キー等のお知らせのZIPファイルについて、",
                           f"パスワードは「{ctx.password()}」です。", minutes=4, style=0)]


@register("A-p1-pw-fullwidth")
def _pw_fullwidth(ctx: Ctx) -> list[bytes]:
    return [_key_zip_mail(ctx, "outlook", "zip-crypto", minutes=5, gtype="advance-payment",
                          company="hokkaido", extra=(invoice_file(ctx),)),
            _password_mail(ctx, "outlook", "パスワードをお送りいたします。", "",
                           f"パスワード：{widen(ctx.password())}", minutes=3, style=1,
                           subject="【請求関係書類】パスワードのご連絡")]


@register("A-p1-pw-bare")
def _pw_bare(ctx: Ctx) -> list[bytes]:
    return [_form_mail(ctx, "webmail", "pdf", "zip-aes", minutes=8, style=0),
            _password_mail(ctx, "webmail", "先ほどお送りしたファイルを開くためのものです。", "",
                           ctx.password(), "", minutes=6, style=0,
                           subject="先ほどのファイルについて")]


@register("A-p1-pw-subject")
def _pw_subject(ctx: Ctx) -> list[bytes]:
    return [_form_mail(ctx, "gmail", "xlsx", "zip-aes", minutes=3, style=3),
            _password_mail(ctx, "gmail", "件名のとおりです。よろしくお願いします。", minutes=1,
                           subject=f"パスワード：{ctx.password()}")]


@register("A-p1-pw-html")
def _pw_html(ctx: Ctx) -> list[bytes]:
    html = (f"<p>{ctx.office.name}<br>ご担当者様</p>"
            f"<p>{ctx.person.signature_name}の{ctx.person.person.split()[0]}です。</p>"
            "<p>先ほど送付しました添付ファイルのパスワードをお知らせします。</p>"
            f'<p style="font-size:14pt">パスワード：<b>{ctx.password()}</b></p>'
            "<p>よろしくお願いいたします。</p>")
    return [_form_mail(ctx, "outlook", "pdf", "zip-crypto", minutes=5, style=1),
            ctx.html("パスワードのお知らせ", html, minutes=2)]


@register("A-p1-pw-space")
def _pw_space(ctx: Ctx) -> list[bytes]:
    return [_legacy_sealed_mail(ctx, "becky", minutes=6),
            _password_mail(ctx, "becky",
                           "履行保証保険証券（PDF）のパスワードは下記のとおりです。", "",
                           f"パスワード　{ctx.password()}", minutes=4, style=2,
                           subject="【契約保証】証券パスワード")]


@register("B-p1-pw-dsure")
def _b_pw_dsure(ctx: Ctx) -> list[bytes]:
    return [_key_zip_mail(ctx, "outlook", "zip-aes", minutes=5),
            _password_mail(ctx, "outlook", "ZIPファイルの解凍用パスワードをお知らせします。", "",
                           f"解凍用パスワード：{ctx.password()}", minutes=3,
                           subject="【電子保証】解凍用パスワード")]


@register("B-p1-pw-legacy")
def _b_pw_legacy(ctx: Ctx) -> list[bytes]:
    return [_legacy_sealed_mail(ctx, "thunderbird", minutes=7, issued_days=20, style=1),
            _password_mail(ctx, "thunderbird", "証券PDFのPWをお知らせいたします。",
                           f"PW：{ctx.password()}", minutes=5, style=1, subject="証券PDFのPW")]


@register("B-p1-pw-form")
def _b_pw_form(ctx: Ctx) -> list[bytes]:
    return [_form_mail(ctx, "outlook", "pdf", "zip-aes", minutes=4),
            _password_mail(ctx, "outlook", f"パスワード：{ctx.password()}", minutes=2)]


# --- who may send the follow-up, and in which order ----------------------------------------

@register("A-p1-samedomain")
def _samedomain(ctx: Ctx) -> list[bytes]:
    jimu = colleague(ctx.person, "m-nakagawa", "中川 美穂")
    return [_form_mail(ctx, "outlook", "pdf", "zip-aes", minutes=9, style=0),
            _password_mail(ctx, "outlook",
                           f"{ctx.person.person.split()[0]}に代わり、先ほどのメールの"
                           "パスワードをお送りします。", "", f"パスワード：{ctx.password()}",
                           minutes=7, style=0, sender=jimu)]


@register("B-p1-samedomain")
def _b_samedomain(ctx: Ctx) -> list[bytes]:
    somu = colleague(ctx.person, "somu-bu", "総務部 高野 恵")
    return [_key_zip_mail(ctx, "becky", "zip-crypto", minutes=6, gtype="advance-payment",
                          company="west", style=2),
            _password_mail(ctx, "becky", "工事部から送付したファイルのパスワードです。",
                           f"PW：{ctx.password()}", minutes=4, style=2, sender=somu,
                           subject="パスワードのお知らせ")]


@register("A-p1-pw-first")
def _pw_first(ctx: Ctx) -> list[bytes]:
    return [_password_mail(ctx, "outlook",
                           "このあとお送りするメールの添付ファイルのパスワードです。", "",
                           f"パスワード：{ctx.password()}", minutes=6, style=0),
            _form_mail(ctx, "outlook", "xlsx", "zip-aes", minutes=5, style=0)]


@register("B-p1-pw-first")
def _b_pw_first(ctx: Ctx) -> list[bytes]:
    return [_password_mail(ctx, "gmail",
                           "続けてお送りするZIPファイルのパスワードを先にお知らせします。",
                           f"パスワード: {ctx.password()}", minutes=5, style=3),
            _key_zip_mail(ctx, "gmail", "zip-aes", minutes=4, gtype="advance-payment",
                          company="hokkaido", style=3)]


@register("A-p1-two-zips")
def _two_zips(ctx: Ctx) -> list[bytes]:
    return [_form_mail(ctx, "outlook", "pdf", "zip-aes", minutes=9, tag="1", style=1),
            _form_mail(ctx, "outlook", "xlsx", "zip-aes", minutes=8, tag="2", style=1),
            _password_mail(ctx, "outlook", f"{ctx.works('2').name}のファイルのパスワードです。",
                           f"パスワード：{ctx.password('2')}", minutes=6, style=1,
                           subject=f"パスワード（{ctx.works('2').name}）"),
            _password_mail(ctx, "outlook", f"{ctx.works('1').name}のファイルのパスワードです。",
                           f"パスワード：{ctx.password('1')}", minutes=5, style=1,
                           subject=f"パスワード（{ctx.works('1').name}）")]


@register("B-p1-two-zips")
def _b_two_zips(ctx: Ctx) -> list[bytes]:
    return [_key_zip_mail(ctx, "thunderbird", "zip-aes", minutes=9, tag="1"),
            _key_zip_mail(ctx, "thunderbird", "zip-crypto", minutes=8, tag="2",
                          gtype="advance-payment", company="west"),
            _password_mail(ctx, "thunderbird", "1通目（契約保証）のパスワード",
                           f"パスワード：{ctx.password('1')}", minutes=7, subject="パスワード(1)"),
            _password_mail(ctx, "thunderbird", "2通目（前払金保証）のパスワード",
                           f"パスワード：{ctx.password('2')}", minutes=6, subject="パスワード(2)")]


@register("A-p1-wrong-pw")
def _wrong_pw(ctx: Ctx) -> list[bytes]:
    return [_form_mail(ctx, "outlook", "pdf", "zip-aes", minutes=5, style=2),
            _password_mail(ctx, "outlook", "先ほどの添付ファイルのパスワードです。",
                           f"パスワード：{ctx.password('wrong')}", minutes=3, style=2)]


@register("B-p1-wrong-pw")
def _b_wrong_pw(ctx: Ctx) -> list[bytes]:
    return [_key_zip_mail(ctx, "becky", "pdf", minutes=6, company="west", style=0),
            _password_mail(ctx, "becky", "PDFを開くパスワードをお知らせします。",
                           f"パスワード：{ctx.password('typo')}", minutes=4, style=0)]


# --- the 認証キー and the 閲覧用URL in a second mail ------------------------------------------

def _typed_number(ctx: Ctx, client: Client, kind: str, note: str, *, minutes: float,
                  style: int, subject: str) -> bytes:
    body = letter(ctx.person, ctx.office.name, style,
                  f"下記工事の{kind}について、電子保証の保証契約番号をお知らせいたします。", "",
                  f"工事名：{ctx.works().name}", f"保証の種類：{kind}",
                  f"保証契約番号：{ctx.number()}", "", note)
    return ctx.mail(client, subject, body, minutes=minutes)


@register("A-p1-key-follows-same")
def _key_follows_same(ctx: Ctx) -> list[bytes]:
    works = ctx.works()
    second = letter(ctx.person, ctx.office.name, 0,
                    "先ほどの契約保証の認証キーをお送りします。", "",
                    f"工事名：{works.name}", "保証の種類：契約保証",
                    f"保証契約番号：{ctx.number()}", f"認証キー：{ctx.key()}")
    return [_typed_number(ctx, "outlook", "契約保証", "認証キーは別途お送りします。", minutes=8,
                          style=0, subject=f"【電子保証】{works.name}"),
            ctx.mail("outlook", f"【電子保証】{works.name}（認証キー）", second, minutes=6)]


@register("A-p1-key-follows-none")
def _key_follows_none(ctx: Ctx) -> list[bytes]:
    works = ctx.works()
    second = letter(ctx.person, ctx.office.name, 1,
                    "先ほどお知らせした保証契約番号の認証キーです。", "",
                    f"認証キー：{ctx.key()}")
    return [_typed_number(ctx, "thunderbird", "前払金保証", "認証キーは追ってお送りします。",
                          minutes=7, style=1, subject=f"【請求関係書類】{works.name}"),
            ctx.mail("thunderbird", f"【請求関係書類】{works.name} 認証キー", second, minutes=5)]


@register("B-p1-key-follows-sentence")
def _b_key_follows_sentence(ctx: Ctx) -> list[bytes]:
    works = ctx.works()
    first = letter(ctx.person, ctx.office.name, 2,
                   f"{works.name}の前払金保証につき、保証契約番号は {ctx.number()} です。",
                   "認証キーは別途メールにてお送りいたします。")
    second = letter(ctx.person, ctx.office.name, 2, "先ほどの前払金保証の件です。",
                    f"認証キーは {ctx.key()} です。")
    return [ctx.mail("becky", "前払金保証の保証契約番号", first, minutes=6),
            ctx.mail("becky", "Re: 前払金保証の保証契約番号", second, minutes=4)]


def _url_mail(ctx: Ctx, client: Client, *lines: str, minutes: float, style: int = 3) -> bytes:
    body = letter(ctx.person, ctx.office.name, style, *lines)
    return ctx.mail(client, f"閲覧用URLの送付（{ctx.works().name}）", body, minutes=minutes)


def _form_without_url(ctx: Ctx, client: Client, layout: FormLayout, *, minutes: float,
                      style: int, with_number: bool = False) -> bytes:
    values = form_values(ctx, blank=("url",))
    works = ctx.works()
    lines = ["保証証券等確認システムの発注者提出用フォーマットを送付いたします。", "",
             f"工事名：{works.name}"]
    if with_number:
        lines.insert(2, f"工事番号：{works.number}")
    body = letter(ctx.person, ctx.office.name, style, *lines)
    return ctx.mail(client, f"【電子保証】{works.name}", body, minutes=minutes,
                    attachments=[form_file(ctx, values, layout)])


@register("A-p1-url-works")
def _url_works(ctx: Ctx) -> list[bytes]:
    url = viewing_url(ctx.policy())
    return [_form_without_url(ctx, "outlook", "xlsx", minutes=9, style=0),
            _url_mail(ctx, "outlook", "先ほどのメールで閲覧用URLの記載が漏れておりました。", "",
                      f"工事名：{ctx.works().name}", f"閲覧用URL：{url}", minutes=5, style=0)]


@register("A-p1-url-number")
def _url_number(ctx: Ctx) -> list[bytes]:
    url = viewing_url(ctx.policy())
    return [_form_without_url(ctx, "thunderbird", "pdf", minutes=8, style=1, with_number=True),
            _url_mail(ctx, "thunderbird", "閲覧用URLをお送りします。", "",
                      f"工事番号：{ctx.works().number}", f"閲覧用URL：{url}", minutes=6, style=1)]


@register("A-p1-url-notice")
def _url_notice(ctx: Ctx) -> list[bytes]:
    from samples import mails  # noqa: PLC0415

    notice = mails.system_url_notice(contractor=ctx.person, policy_number=ctx.policy(),
                                     forwarded=True, date=ctx.at(3))
    return [_form_without_url(ctx, "outlook", "pdf", minutes=7, style=2), notice]


@register("A-p1-url-other-works")
def _url_other_works(ctx: Ctx) -> list[bytes]:
    other = ctx.works("other")
    url = viewing_url(ctx.policy(tag="other"))
    return [_form_without_url(ctx, "becky", "pdf", minutes=8, style=2),
            _url_mail(ctx, "becky", "閲覧用URLをお送りします。", "", f"工事名：{other.name}",
                      f"閲覧用URL：{url}", minutes=6, style=2)]


@register("A-p1-url-other-number")
def _url_other_number(ctx: Ctx) -> list[bytes]:
    other = ctx.works("other")
    url = viewing_url(ctx.policy(tag="other"))
    return [_form_without_url(ctx, "gmail", "xlsx", minutes=8, style=3, with_number=True),
            _url_mail(ctx, "gmail", "閲覧用URLです。", f"工事番号：{other.number}",
                      f"閲覧用URL：{url}", minutes=7, style=3)]


# --- a follow-up with more in it, and a submission that is not a follow-up -----------------

@register("A-p1-carries-own")
def _carries_own(ctx: Ctx) -> list[bytes]:
    other = ctx.works("own")
    body = letter(ctx.person, ctx.office.name, 0,
                  "先ほどお送りしたファイルのパスワードは以下のとおりです。",
                  f"パスワード：{ctx.password()}", "",
                  f"あわせて、{other.name}の前払金保証に係る認証キー等のお知らせと請求書を送付いたします。")
    return [_form_mail(ctx, "outlook", "pdf", "zip-aes", minutes=9),
            ctx.mail("outlook", f"【請求関係書類】{other.name}（パスワード送付を兼ねて）", body,
                     minutes=6, attachments=[
                         key_notice_file(ctx, gtype="advance-payment", tag="own", company="west"),
                         invoice_file(ctx, tag="own")])]


@register("B-p1-carries-own")
def _b_carries_own(ctx: Ctx) -> list[bytes]:
    other = ctx.works("own")
    body = letter(ctx.person, ctx.office.name, 1,
                  f"先ほどのPDFのパスワード：{ctx.password()}", "",
                  f"また、{other.name}の中間前払金保証の認証キー等は以下のとおりです。",
                  "保証の種類：中間前払金保証", f"工事名：{other.name}",
                  f"保証契約番号：{ctx.number('own')}", f"認証キー：{ctx.key('own')}")
    return [_key_zip_mail(ctx, "thunderbird", "pdf", minutes=8, company="east"),
            ctx.mail("thunderbird", "パスワードと中間前払金保証の認証キー", body, minutes=6)]


@register("A-p1-unrelated-after")
def _unrelated_after(ctx: Ctx) -> list[bytes]:
    other = ctx.works("next")
    body = letter(ctx.person, ctx.office.name, 2,
                  f"{other.name}の契約保証に係る認証キー等のお知らせを送付いたします。")
    return [_form_mail(ctx, "becky", "pdf", "zip-aes", minutes=9, style=2),
            ctx.mail("becky", f"【電子保証】{other.name}", body, minutes=7,
                     attachments=[key_notice_file(ctx, tag="next", company="hokkaido")])]


@register("B-p1-unrelated-after")
def _b_unrelated_after(ctx: Ctx) -> list[bytes]:
    ins = lookup_insurer("aioi")
    other = ctx.works("next")
    policy = policy_file(ctx, insurer="aioi", prefix="AD", password="Ad2604pdf", tag="next",
                         issued=ctx.today - timedelta(days=12))
    body = letter(ctx.person, ctx.office.name, 0,
                  f"{other.name}の契約保証として、{ins.name}の履行保証保険証券を送付いたします。",
                  f"工事名：{other.name}", "証券開封用パスワード：Ad2604pdf")
    return [_key_zip_mail(ctx, "outlook", "zip-aes", minutes=8, style=0),
            ctx.mail("outlook", f"【契約保証】{other.name}", body, minutes=6, attachments=[policy],
                     cc=ins.designated_address)]
