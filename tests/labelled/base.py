"""What every set builder uses: the set's context, its documents, and the registry.

A *set* is one sender's messages, delivered in order within a minute; its builder gets
a :class:`Ctx` (the moment ``now``, the office, the set's own company, works, numbers
and passwords) and returns the messages' bytes in order. Builders register themselves
with :func:`register`; the registry's order gives each set its company.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from samples import offices, pdfs
from samples.mails import Attachment
from samples.parties import Contractor, Insurer, Project, viewing_password, viewing_url
from samples.parties import insurer as lookup_insurer

from labelled import cast, clients, forms
from labelled.clients import Client
from labelled.office import JST, OFFICES, Office

PDF = "application/pdf"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ZIP = "application/x-zip-compressed"
ORDERERS = {"A": "東都市", "B": "南都県"}
GuaranteeType = Literal["contract", "advance-payment", "interim-advance-payment"]
TYPE_NAMES = {"contract": "契約保証", "advance-payment": "前払金保証",
              "interim-advance-payment": "中間前払金保証"}
FormLayout = Literal["pdf", "xlsx", "docx", "xlsx-header-row", "xlsx-far-right",
                     "xlsx-merged", "pdf-note", "xlsx-note", "docx-note"]


@dataclass(frozen=True)
class Ctx:
    """One set being built: when, where, who."""

    now: datetime
    office: Office
    name: str
    person: Contractor

    def at(self, minutes: float = 0, *, hours: float = 0) -> datetime:
        """The moment that many minutes (and hours) before ``now``, in Japan time, whole
        seconds (a Date header)."""
        moment = self.now - timedelta(minutes=minutes, hours=hours)
        return moment.astimezone(JST).replace(microsecond=0)

    @property
    def today(self) -> date:
        """``now``'s day in Japan."""
        return self.now.astimezone(JST).date()

    @property
    def orderer(self) -> str:
        """The office's body as documents name it (東都市, 南都県)."""
        return ORDERERS[self.office.key]

    def works(self, tag: str = "") -> Project:
        """The set's works (another one for each ``tag``)."""
        return cast.works(self.name + tag)

    def number(self, tag: str = "") -> str:
        """The set's 保証契約番号 (another one for each ``tag``)."""
        return cast.contract_number(self.name + tag)

    def key(self, tag: str = "") -> str:
        """The set's 認証キー."""
        return cast.auth_key(self.name + tag)

    def password(self, tag: str = "") -> str:
        """The set's document password."""
        return cast.password(self.name + tag)

    def policy(self, prefix: str = "SJ", tag: str = "") -> str:
        """The set's 証券番号."""
        return cast.policy_number(self.name + tag, prefix)

    def mail(self, client: Client, subject: str, body: str, *, minutes: float,
             hours: float = 0, attachments: tuple[Attachment, ...] | list[Attachment] = (),
             cc: str | Sequence[str] = (), sender: Contractor | None = None,
             headers: list[tuple[str, str | bytes]] | None = None) -> bytes:
        """A mail from the set's person (or ``sender``) to the office."""
        who = sender or self.person
        return clients.send(client, from_=who.mailbox, to=self.office.address, subject=subject,
                            body=body, date=self.at(minutes, hours=hours),
                            attachments=list(attachments), cc=cc, headers=headers)

    def html(self, subject: str, html: str, *, minutes: float,
             attachments: tuple[Attachment, ...] = (), sender: Contractor | None = None) -> bytes:
        """An HTML-only mail from the set's person."""
        who = sender or self.person
        return clients.html_only(from_=who.mailbox, to=self.office.address, subject=subject,
                                 html=html, date=self.at(minutes), attachments=attachments)


Builder = Callable[[Ctx], list[bytes]]


@dataclass(frozen=True)
class SetDef:
    """A registered set: its name, office and builder."""

    name: str
    office: str
    build: Builder


SETS: dict[str, SetDef] = {}


def register(name: str) -> Callable[[Builder], Builder]:
    """Register a set builder; the office is the name's first letter (A-..., B-...)."""
    office = name.split("-", 1)[0]
    if office not in OFFICES:
        raise ValueError(f"set {name}: no office {office}")

    def wrap(build: Builder) -> Builder:
        if name in SETS:
            raise ValueError(f"set {name} registered twice")
        SETS[name] = SetDef(name, office, build)
        return build

    return wrap


def context(name: str, now: datetime) -> Ctx:
    """The context of a registered set (its company is its place in the registry)."""
    index = list(SETS).index(name)
    return Ctx(now, OFFICES[SETS[name].office], name, cast.company(index))


# --- documents ----------------------------------------------------------------------------

def key_notice(ctx: Ctx, *, company: str = "east", gtype: GuaranteeType = "contract",
               tag: str = "", wide: bool = False) -> bytes:
    """The guarantee company's 認証キー等のお知らせ for the set's works."""
    works = ctx.works(tag)
    return pdfs.key_notice_pdf(
        company=company, contract_number=ctx.number(tag), auth_key=ctx.key(tag),
        guarantee_type=gtype, project_name=works.name, contractor=ctx.person.name,
        orderer=ctx.orderer, project_number=works.number, issued=ctx.today,
        fullwidth_digits=wide)


KEY_NOTICE_NAMES = {"east": "電子保証に係る「認証キー」のお知らせ（{n}）.pdf",
                    "west": "電子証書閲覧用「認証キー」等のお知らせ.pdf",
                    "hokkaido": "NINSHOKEY_{n}.pdf"}


def key_notice_file(ctx: Ctx, *, company: str = "east", gtype: GuaranteeType = "contract",
                    tag: str = "", wide: bool = False) -> Attachment:
    """The key notice as an attachment, named as the company names it."""
    name = KEY_NOTICE_NAMES[company].format(n=ctx.number(tag))
    return name, key_notice(ctx, company=company, gtype=gtype, tag=tag, wide=wide), PDF


def invoice_file(ctx: Ctx, *, gtype: GuaranteeType = "advance-payment",
                 tag: str = "") -> Attachment:
    """The contractor's 請求書 for an advance."""
    works = ctx.works(tag)
    kind = "中間前払金" if gtype == "interim-advance-payment" else "前払金"
    data = pdfs.invoice_pdf(
        contractor=ctx.person.name, project_name=works.name, amount=works.price * 4 // 10,
        project_number=works.number, issued=ctx.today, contractor_address=ctx.person.address,
        representative=ctx.person.representative,
        in_charge=(f"{ctx.person.department}　{ctx.person.person}", ctx.person.phone), kind=kind)
    return f"請求書（{kind}）.pdf", data, PDF


@dataclass(frozen=True)
class FormValues:
    """What a filled 発注者提出用フォーマット says (None: left blank)."""

    insurer: Insurer
    policy: str
    password: str
    url: str | None
    project: str | None
    contractor: str | None


def form_values(ctx: Ctx, *, insurer: str = "sompo", prefix: str = "SJ", tag: str = "",
                blank: tuple[str, ...] = (), url: str | None = None) -> FormValues:
    """The set's form values; ``blank`` any of url, password, project, contractor."""
    ins = lookup_insurer(insurer)
    policy = ctx.policy(prefix, tag)
    return FormValues(
        insurer=ins, policy=policy,
        password="" if "password" in blank else viewing_password(policy),
        url=None if "url" in blank else (url or viewing_url(policy)),
        project=None if "project" in blank else ctx.works(tag).name,
        contractor=None if "contractor" in blank else ctx.person.name)


_LAYOUTS: dict[str, tuple[Callable[..., bytes], str, str]] = {
    "xlsx-header-row": (forms.xlsx_header_row, XLSX, "xlsx"),
    "xlsx-far-right": (forms.xlsx_far_right, XLSX, "xlsx"),
    "xlsx-merged": (forms.xlsx_merged, XLSX, "xlsx"),
    "xlsx-note": (forms.xlsx_note_after_blank, XLSX, "xlsx"),
    "pdf-note": (forms.pdf_note_after_blank, PDF, "pdf"),
    "docx-note": (forms.docx_note_after_blank, DOCX, "docx"),
}


def form_file(ctx: Ctx, values: FormValues, layout: FormLayout = "pdf",
              name: str | None = None) -> Attachment:
    """The filled form as an attachment, in one of the layouts."""
    issued = ctx.today - timedelta(days=3)
    if layout in _LAYOUTS:
        make, mimetype, extension = _LAYOUTS[layout]
        fields = forms.rows(values.insurer, policy=values.policy, password=values.password,
                            url=values.url, project=values.project, contractor=values.contractor)
        data = make(values.insurer, fields, issued=issued)
    else:
        standard = {"pdf": (pdfs.submission_form_pdf, PDF), "xlsx": (offices.form_xlsx, XLSX),
                    "docx": (offices.form_docx, DOCX)}
        build, mimetype = standard[layout]
        extension = layout
        data = build(insurer=values.insurer, policy_number=values.policy,
                     view_password=values.password, view_url=values.url,
                     project_name=values.project, contractor=values.contractor, issued=issued)
    return name or f"発注者提出用フォーマット_{values.policy}.{extension}", data, mimetype


def policy_file(ctx: Ctx, *, insurer: str = "sompo", prefix: str = "SJ", issued: date | None = None,
                password: str | None = None, bond: bool = False, tag: str = "") -> Attachment:
    """An insurer's PDF policy for the set's works, encrypted with ``password``."""
    ins = lookup_insurer(insurer)
    works = ctx.works(tag)
    kind: pdfs.PolicyKind = "公共工事履行保証証券" if bond else "履行保証保険証券"
    number = ctx.policy(prefix, tag)
    data = pdfs.policy_pdf(
        insurer=ins, policy_number=number, project_name=works.name, contractor=ctx.person.name,
        orderer=ctx.orderer, issued=issued or ctx.today, kind=kind, password=password,
        contract_price=works.price, project_place=works.place)
    return f"{kind}_{number}.pdf", data, PDF


Sealing = Literal["zip-aes", "zip-crypto", "pdf", "ooxml"]


def sealed(attachment: Attachment, password: str, how: Sealing) -> Attachment:
    """The attachment protected by ``password``: in a zip, or the file's own encryption."""
    name, data, mimetype = attachment
    if how == "zip-aes":
        return name.rsplit(".", 1)[0] + ".zip", offices.aes_zip({name: data}, password), ZIP
    if how == "zip-crypto":
        return name.rsplit(".", 1)[0] + ".zip", offices.zipcrypto_zip({name: data}, password), ZIP
    if how == "pdf":
        return name, pdfs.encrypt_pdf(data, user_password=password, owner_password=password,
                                      seed=f"labelled:{name}"), mimetype
    return name, offices.encrypt_ooxml(data, password), mimetype


def widen(text: str) -> str:
    """Every ASCII character full-width (ＡＢｃ１２＃), as some people type passwords."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)
