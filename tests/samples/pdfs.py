"""PDFs as guarantee companies, insurers, banks and contractors produce them.

Every builder returns the bytes of one PDF, identical for identical arguments.
Text is drawn with the IPA TrueType fonts embedded (reportlab subsets with a
``/ToUnicode`` map), so both pypdf and PDFium can extract it, except where a
builder says otherwise:

* :func:`scan_pdf` has no text layer at all (a raster image).
* :func:`key_notice_pdf_without_tounicode` draws the text with an Adobe-Japan1
  CID font and no ``/ToUnicode``: pypdf gets no Japanese, PDFium does.
* :func:`strip_tounicode` removes the maps from reportlab's simple TrueType
  subsets: then *neither* extractor gets any Japanese.
* :func:`corrupt_pdf` and :func:`not_really_pdf` cannot be opened at all.

The documents:

* :func:`key_notice_pdf` - 電子証書閲覧用「認証キー」等のお知らせ (what must be sent).
* :func:`certificate_pdf` - a print of the 電子証書 screen (the wrong document).
* :func:`reservation_pdf` - 契約保証予約証書 (never electronic).
* :func:`bank_guarantee_pdf` - a bank's 保証書 for a contract guarantee (paper only).
* :func:`policy_pdf` - an insurer's 履行保証保険証券 / 公共工事履行保証証券,
  optionally AES-256 encrypted.
* :func:`submission_form_pdf` - the insurer's 発注者提出用フォーマット.
* :func:`invoice_pdf` - the contractor's 請求書 for an advance payment.
"""

from __future__ import annotations

import functools
import hashlib
import io
import random
import re
from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal

from reportlab.lib.colors import Color, black, white
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from samples._seeded import seeded_randomness
from samples.jtext import fullwidth, wareki, yen
from samples.parties import (
    DSURE_URL,
    ORDERER,
    ORDERER_HEAD,
    GuaranteeCompany,
    Insurer,
    guarantee_company,
)
from samples.parties import (
    insurer as lookup_insurer,
)

GuaranteeType = Literal["contract", "advance-payment", "interim-advance-payment"]

GUARANTEE_TYPE_NAMES: dict[str, str] = {
    "contract": "契約保証",
    "advance-payment": "前払金保証",
    "interim-advance-payment": "中間前払金保証",
}
CERTIFICATE_TITLES: dict[str, str] = {
    "contract": "契約保証証書",
    "advance-payment": "前払金保証証書",
    "interim-advance-payment": "中間前払金保証証書",
}

DEFAULT_ISSUED = date(2026, 4, 6)
DEFAULT_PRICE = 123_420_000  # 請負代金額 used when an amount is derived

# ---------------------------------------------------------------------------
# Fonts
# ---------------------------------------------------------------------------

GOTHIC = "IPAGothic"
MINCHO = "IPAMincho"

FONT_PATHS: dict[str, tuple[str, ...]] = {
    GOTHIC: (
        "/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf",
        "/usr/share/fonts/truetype/fonts-japanese-gothic.ttf",
    ),
    MINCHO: (
        "/usr/share/fonts/truetype/fonts-japanese-mincho.ttf",
        "/usr/share/fonts/opentype/ipafont-mincho/ipam.ttf",
    ),
}


class FontMissingError(RuntimeError):
    """The IPA fonts the sample PDFs embed are not installed."""


@functools.cache
def font_path(name: str) -> Path:
    """Path of the IPA font ``name`` (IPAGothic / IPAMincho), or a clear error."""
    for candidate in FONT_PATHS[name]:
        path = Path(candidate)
        if path.is_file():
            return path
    raise FontMissingError(
        f"{name} not found (looked at {', '.join(FONT_PATHS[name])}); the sample PDFs embed "
        "the IPA fonts: install them with `apt-get install fonts-ipafont-gothic "
        "fonts-ipafont-mincho`"
    )


@functools.cache
def register_fonts() -> None:
    """Register IPAGothic and IPAMincho with reportlab (once per process)."""
    for name in (GOTHIC, MINCHO):
        pdfmetrics.registerFont(TTFont(name, str(font_path(name))))


# ---------------------------------------------------------------------------
# A tiny layout layer over the reportlab canvas (coordinates from the top left)
# ---------------------------------------------------------------------------

PAGE_W, PAGE_H = A4
RED = Color(0.85, 0.1, 0.1)
GREY = Color(0.92, 0.92, 0.92)


class Sheet:
    """One A4 document drawn top-down; :meth:`finish` returns the PDF bytes."""

    def __init__(self, *, title: str, author: str, creator: str, producer: str) -> None:
        register_fonts()
        self._buffer = io.BytesIO()
        self.canvas = Canvas(self._buffer, pagesize=A4, invariant=1, pageCompression=1)
        self.canvas.setTitle(title)
        self.canvas.setAuthor(author)
        self.canvas.setCreator(creator)
        self.canvas.setProducer(producer)

    def text(
        self,
        x: float,
        top: float,
        value: str,
        *,
        size: float = 10.5,
        font: str = MINCHO,
        anchor: Literal["left", "center", "right"] = "left",
        color: Color = black,
    ) -> None:
        """Draw one line with its baseline ``top`` points below the page top."""
        c = self.canvas
        c.setFillColor(color)
        c.setFont(font, size)
        y = PAGE_H - top
        if anchor == "center":
            c.drawCentredString(x, y, value)
        elif anchor == "right":
            c.drawRightString(x, y, value)
        else:
            c.drawString(x, y, value)
        c.setFillColor(black)

    def width(self, value: str, *, size: float = 10.5, font: str = MINCHO) -> float:
        """Width of ``value`` in points."""
        return float(pdfmetrics.stringWidth(value, font, size))

    def wrap(
        self, value: str, width: float, *, size: float = 10.5, font: str = MINCHO
    ) -> list[str]:
        """Break ``value`` into lines no wider than ``width`` (per character, as Japanese does)."""
        lines: list[str] = []
        for paragraph in value.split("\n"):
            line = ""
            for ch in paragraph:
                if line and self.width(line + ch, size=size, font=font) > width:
                    lines.append(line)
                    line = ch
                else:
                    line += ch
            lines.append(line)
        return lines

    def paragraph(
        self,
        x: float,
        top: float,
        value: str,
        width: float,
        *,
        size: float = 10.5,
        font: str = MINCHO,
        leading: float | None = None,
    ) -> float:
        """Draw wrapped text; return the ``top`` of the next line."""
        leading = leading or size * 1.6
        for line in self.wrap(value, width, size=size, font=font):
            self.text(x, top, line, size=size, font=font)
            top += leading
        return top

    def rect(
        self,
        x: float,
        top: float,
        w: float,
        h: float,
        *,
        line_width: float = 0.6,
        fill: Color | None = None,
        stroke: Color = black,
    ) -> None:
        """Draw a rectangle whose upper left corner is ``top`` below the page top."""
        c = self.canvas
        c.setLineWidth(line_width)
        c.setStrokeColor(stroke)
        if fill is not None:
            c.setFillColor(fill)
        c.rect(x, PAGE_H - top - h, w, h, stroke=1, fill=1 if fill is not None else 0)
        c.setFillColor(black)
        c.setStrokeColor(black)

    def hline(self, x1: float, x2: float, top: float, *, line_width: float = 0.6) -> None:
        """Draw a horizontal rule."""
        self.canvas.setLineWidth(line_width)
        self.canvas.line(x1, PAGE_H - top, x2, PAGE_H - top)

    def grid(
        self,
        x: float,
        top: float,
        rows: Sequence[tuple[str, str]],
        *,
        label_width: float,
        width: float,
        row_height: float = 24,
        size: float = 10.5,
        label_font: str = MINCHO,
        value_font: str = MINCHO,
        shade: bool = False,
    ) -> float:
        """A ruled two-column table (label | value); long values wrap; return the next top."""
        for label, value in rows:
            lines = self.wrap(value, width - label_width - 12, size=size, font=value_font)
            height = max(row_height, len(lines) * size * 1.5 + 10)
            self.rect(x, top, label_width, height, fill=GREY if shade else None)
            self.rect(x + label_width, top, width - label_width, height)
            middle = top + height / 2 + size * 0.35
            self.text(x + 6, middle, label, size=size, font=label_font)
            first = middle - (len(lines) - 1) * size * 0.75
            for i, line in enumerate(lines):
                self.text(
                    x + label_width + 6, first + i * size * 1.5, line, size=size, font=value_font
                )
            top += height
        return top

    def seal(self, x: float, top: float, size: float = 46, *, round_: bool = False) -> None:
        """A red seal impression (outline only, no text: seals are not text)."""
        c = self.canvas
        c.setStrokeColor(RED)
        c.setLineWidth(1.6)
        if round_:
            c.circle(x + size / 2, PAGE_H - top - size / 2, size / 2)
            c.circle(x + size / 2, PAGE_H - top - size / 2, size / 2 - 4)
        else:
            c.rect(x, PAGE_H - top - size, size, size)
            c.rect(x + 4, PAGE_H - top - size + 4, size - 8, size - 8)
        c.setStrokeColor(black)

    def finish(self) -> bytes:
        """Close the page and return the PDF."""
        self.canvas.showPage()
        self.canvas.save()
        return self._buffer.getvalue()


def _digits(value: str, wide: bool) -> str:
    return fullwidth(value) if wide else value


def _default_amount(guarantee_type: str) -> int:
    share = {"contract": 0.1, "advance-payment": 0.4, "interim-advance-payment": 0.2}[
        guarantee_type
    ]
    return int(DEFAULT_PRICE * share)


def _default_period(start: date) -> tuple[date, date]:
    end_year = start.year + 1 if start.month >= 4 else start.year
    return start, date(end_year, 3, 31)


def _check_type(guarantee_type: str) -> None:
    if guarantee_type not in GUARANTEE_TYPE_NAMES:
        raise ValueError(
            f"guarantee_type must be one of {list(GUARANTEE_TYPE_NAMES)}, not {guarantee_type!r}"
        )


# ---------------------------------------------------------------------------
# D-Sure key notice (the right document)
# ---------------------------------------------------------------------------

KEY_NOTICE_TITLES: dict[str, str] = {
    "west": "電子証書閲覧用「認証キー」等のお知らせ",
    "east": "電子保証に係る「認証キー」のお知らせ",
    "hokkaido": "認証キー等のお知らせ",
}


def key_notice_pdf(
    *,
    company: str | GuaranteeCompany,
    contract_number: str,
    auth_key: str,
    guarantee_type: GuaranteeType,
    project_name: str,
    contractor: str,
    orderer: str = ORDERER,
    project_number: str | None = None,
    first_contract_date: date | None = None,
    issued: date | None = None,
    fullwidth_digits: bool = False,
    amount: int | None = None,
    period: tuple[date, date] | None = None,
    title: str | None = None,
) -> bytes:
    """The guarantee company's key notice, as downloaded by the contractor.

    ``company`` is the full name (東日本建設業保証株式会社 / 西日本建設業保証株式会社 /
    北海道建設業信用保証株式会社), short name or key (east/west/hokkaido). Each company
    gets its own layout and title:

    * west - 電子証書閲覧用「認証キー」等のお知らせ; ruled table; labels 発注者名,
      受注者名, 保証契約番号, 認証キー, 保証の種類, 工事名, 工事番号, 当初契約日,
      保証金額, 保証期間; plain dates (令和8年4月6日).
    * east - 電子保証に係る「認証キー」のお知らせ; numbered list ``１．保証契約番号　：``
      with full-width colons; 発行日：; 保証期間 as ``令和8年4月6日～令和9年3月31日``.
    * hokkaido - 認証キー等のお知らせ; ASCII colons and half-width katakana labels
      (保証番号, 認証ｷｰ, 保証種類); padded dates (令和 8年 4月 6日); amounts as ￥…-.

    ``fullwidth_digits`` widens the contract number, works number, dates and
    amount (never the 認証キー, which is typed into D-Sure as printed).
    ``amount`` defaults to a share of 123,420,000 yen by type; ``period`` to
    ``issued`` .. the next 31 March. ``issued`` defaults to 2026-04-06.
    """
    _check_type(guarantee_type)
    gc = guarantee_company(company)
    issued = issued or DEFAULT_ISSUED
    amount = _default_amount(guarantee_type) if amount is None else amount
    start, end = period or _default_period(issued)
    kind = GUARANTEE_TYPE_NAMES[guarantee_type]
    wide = fullwidth_digits
    title = title or KEY_NOTICE_TITLES[gc.key]
    sheet = Sheet(
        title=title,
        author=gc.name,
        creator="e-Net保証" if gc.key == "west" else "電子保証サービス",
        producer="SVF for PDF",
    )
    number = _digits(contract_number, wide)
    works_number = _digits(project_number, wide) if project_number else None
    left, right = 60.0, PAGE_W - 60.0

    if gc.key == "west":
        date_style = "fullwidth" if wide else "plain"
        sheet.text(right, 70, wareki(issued, style=date_style), anchor="right")
        sheet.text(left, 110, f"{contractor}　御中", size=12)
        sheet.text(right, 140, gc.name, anchor="right")
        sheet.text(right, 156, gc.branch, anchor="right")
        sheet.text(PAGE_W / 2, 205, title, size=16, font=GOTHIC, anchor="center")
        top = sheet.paragraph(
            left + 10,
            245,
            "平素は格別のお引き立てを賜り、厚く御礼申し上げます。\n"
            "下記保証契約に係る電子証書を、発注者が「D-Sure」で閲覧するための認証キー等を"
            "お知らせいたします。本書を発注者へご提出ください。",
            right - left - 20,
        )
        sheet.text(PAGE_W / 2, top + 8, "記", anchor="center")
        rows: list[tuple[str, str]] = [
            ("発注者名", orderer),
            ("受注者名", contractor),
            ("保証契約番号", number),
            ("認証キー", auth_key),
            ("保証の種類", kind),
            ("工事名", project_name),
        ]
        if works_number:
            rows.append(("工事番号", works_number))
        if first_contract_date:
            rows.append(("当初契約日", wareki(first_contract_date, style=date_style)))
        rows += [
            ("保証金額", _digits(yen(amount), wide)),
            (
                "保証期間",
                f"{wareki(start, style=date_style)}　から　{wareki(end, style=date_style)}　まで",
            ),
        ]
        top = sheet.grid(left, top + 26, rows, label_width=110, width=right - left, shade=True)
        top = sheet.paragraph(
            left,
            top + 30,
            f"D-Sure（発注者用保証確認サービス）　URL：{DSURE_URL}",
            right - left,
            font=GOTHIC,
        )
        top = sheet.paragraph(
            left,
            top + 6,
            "※認証キーは、発注者が電子証書を閲覧するために必要となる暗証番号です。"
            "第三者に知られることのないよう、取扱いには十分ご注意ください。\n"
            "※本書は保証証書ではありません。",
            right - left,
            size=9,
        )
        sheet.text(right, top + 10, "以上", anchor="right")
        sheet.hline(left, right, 770)
        sheet.text(left, 788, f"お問合せ先　{gc.name}　{gc.branch}", size=9)
        sheet.text(left, 802, f"{gc.branch_address}　TEL {gc.branch_phone}", size=9)

    elif gc.key == "east":
        date_style = "fullwidth" if wide else "plain"
        sheet.text(right, 60, f"発行日：{wareki(issued, style=date_style)}", anchor="right")
        sheet.text(left, 100, "受注者", size=9, font=GOTHIC)
        sheet.text(left, 118, f"{contractor}　様", size=12)
        sheet.text(right, 118, gc.name, anchor="right", font=GOTHIC)
        sheet.text(right, 134, f"{gc.branch}　TEL {gc.branch_phone}", anchor="right", size=9)
        sheet.rect(left, 160, right - left, 34, line_width=1.2)
        sheet.text(PAGE_W / 2, 183, title, size=15, font=GOTHIC, anchor="center")
        top = sheet.paragraph(
            left,
            225,
            "下記の保証契約について、電子証書の閲覧に必要な「保証契約番号」及び「認証キー」を"
            "お知らせします。発注者へ電子メール等でご提出ください。",
            right - left,
        )
        items: list[tuple[str, str]] = [
            ("発注者", orderer),
            ("保証契約番号", number),
            ("認証キー", auth_key),
            ("保証の種類", kind),
            ("工事名", project_name),
        ]
        if works_number:
            items.append(("工事番号", works_number))
        if first_contract_date:
            items.append(("当初契約日", wareki(first_contract_date, style=date_style)))
        items += [
            ("保証金額", _digits(yen(amount, style="en"), wide)),
            ("保証期間", f"{wareki(start, style=date_style)}～{wareki(end, style=date_style)}"),
        ]
        top += 16
        for i, (label, value) in enumerate(items, start=1):
            marker = f"{fullwidth(str(i))}．{label}"
            sheet.text(left + 10, top, marker, font=GOTHIC)
            sheet.text(left + 140, top, "：", font=GOTHIC)
            lines = sheet.wrap(value, right - left - 160)
            for line in lines:
                sheet.text(left + 155, top, line, size=11 if label == "認証キー" else 10.5)
                top += 17
            top += 9
        sheet.rect(left, top + 6, right - left, 44, line_width=0.8)
        sheet.text(left + 12, top + 24, "電子証書閲覧サービス（D-Sure）", font=GOTHIC)
        sheet.text(left + 12, top + 40, DSURE_URL, font=GOTHIC)
        sheet.paragraph(
            left,
            top + 76,
            "（注）本お知らせは電子証書そのものではありません。電子証書の内容は、発注者が"
            "D-Sureにログインのうえご確認いただけます。",
            right - left,
            size=9,
        )

    else:  # hokkaido: a plainer, older-looking print
        date_style = "fullwidth" if wide else "padded"
        sheet.text(PAGE_W / 2, 80, title, size=16, font=GOTHIC, anchor="center")
        sheet.text(right, 115, wareki(issued, style=date_style), anchor="right", font=GOTHIC)
        sheet.text(left, 140, f"（受注者）　{contractor}　殿", font=GOTHIC)
        sheet.text(right, 165, f"{gc.name}　{gc.branch}", anchor="right", font=GOTHIC)
        top = 205.0
        entries: list[tuple[str, str]] = [
            ("保証番号", number),
            ("認証ｷｰ", auth_key),
            ("発注者名", orderer),
            ("保証種類", kind),
            ("工事名", project_name),
        ]
        if works_number:
            entries.append(("工事番号", works_number))
        if first_contract_date:
            entries.append(("当初契約日", wareki(first_contract_date, style=date_style)))
        entries += [
            ("保証金額", _digits(yen(amount, style="mark"), wide)),
            ("保証期間", f"{wareki(start, style=date_style)} ～ {wareki(end, style=date_style)}"),
        ]
        for label, value in entries:
            sheet.text(left, top, f"{label}", font=GOTHIC)
            sheet.text(left + 80, top, f": {value}", font=GOTHIC)
            top += 22
        sheet.text(left, top + 20, f"D-Sure URL : {DSURE_URL}", font=GOTHIC)
        sheet.paragraph(
            left,
            top + 50,
            "上記の保証番号及び認証ｷｰを発注者へ提出してください。発注者はD-Sureにより"
            "電子証書を閲覧します。",
            right - left,
            size=9.5,
            font=GOTHIC,
        )
        sheet.text(left, 800, f"{gc.branch_address}  TEL {gc.branch_phone}", size=8, font=GOTHIC)
    return sheet.finish()


# ---------------------------------------------------------------------------
# Wrong documents from guarantee companies
# ---------------------------------------------------------------------------


def certificate_pdf(
    *,
    company: str | GuaranteeCompany,
    contract_number: str,
    guarantee_type: GuaranteeType,
    project_name: str,
    contractor: str,
    orderer: str = ORDERER,
    contractor_address: str = "東都市中央区本町一丁目2番3号",
    project_place: str = "東都市中央区本町二丁目地内",
    price: int = DEFAULT_PRICE,
    amount: int | None = None,
    period: tuple[date, date] | None = None,
    issued: date | None = None,
    printed_at: str = "2026/04/06 10:15",
) -> bytes:
    """A browser print of the electronic certificate screen (電子証書), not the key notice.

    Title 前払金保証証書 / 契約保証証書 / 中間前払金保証証書 with （電子証書）, the
    certificate's fields (保証契約番号, 保証契約締結日, 保証債権者, 保証申込者, 工事名,
    工事場所, 請負代金額, 前払金額 or 契約保証金額, 保証金額, 保証期間) and the
    browser's print header and footer. It carries the 保証契約番号 but **no 認証キー**.
    """
    _check_type(guarantee_type)
    gc = guarantee_company(company)
    issued = issued or DEFAULT_ISSUED
    amount = _default_amount(guarantee_type) if amount is None else amount
    start, end = period or _default_period(issued)
    title = CERTIFICATE_TITLES[guarantee_type]
    sheet = Sheet(
        title=f"{title}（電子証書） - 電子証書の確認",
        author="",
        creator="Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/124.0",
        producer="Skia/PDF m124",
    )
    left, right = 40.0, PAGE_W - 40.0
    # Browser print header and footer.
    sheet.text(left, 24, printed_at, size=8, font=GOTHIC)
    sheet.text(PAGE_W / 2, 24, "電子証書の確認", size=8, font=GOTHIC, anchor="center")
    sheet.text(left, 826, f"{gc.web}enet/densi/shosho?no={contract_number}", size=8, font=GOTHIC)
    sheet.text(right, 826, "1/1", size=8, font=GOTHIC, anchor="right")
    # Screen chrome.
    sheet.rect(left, 40, right - left, 30, fill=Color(0.12, 0.3, 0.55))
    sheet.text(left + 10, 60, f"{gc.short_name}　電子証書の確認", size=11, font=GOTHIC, color=white)
    sheet.text(right - 10, 60, "ログアウト", size=9, font=GOTHIC, color=white, anchor="right")
    sheet.text(left, 92, "この画面は、印刷・保存が可能です。", size=9, font=GOTHIC)
    sheet.text(PAGE_W / 2, 130, f"{title}（電子証書）", size=17, font=MINCHO, anchor="center")
    law = (
        "公共工事の前払金保証事業に関する法律に基づき、前払金保証約款により"
        if guarantee_type != "contract"
        else "契約保証約款により"
    )
    top = sheet.paragraph(
        left + 10,
        165,
        f"{gc.name}（以下「保証事業会社」という。）は、{law}、下記のとおり保証します。",
        right - left - 20,
    )
    amount_label = "契約保証金額" if guarantee_type == "contract" else "前払金額"
    rows = [
        ("保証契約番号", contract_number),
        ("保証契約締結日", wareki(issued)),
        ("保証債権者（発注者）", orderer),
        ("保証申込者（受注者）", f"{contractor_address}\n{contractor}"),
        ("工事名", project_name),
        ("工事場所", project_place),
        ("請負代金額", yen(price)),
        (amount_label, yen(amount)),
        ("保証金額", yen(amount)),
        ("保証期間", f"{wareki(start)}から{wareki(end)}まで"),
    ]
    top = sheet.grid(left, top + 16, rows, label_width=150, width=right - left, shade=True, size=10)
    sheet.text(right, top + 40, gc.name, anchor="right")
    sheet.text(right, top + 56, gc.branch, anchor="right")
    sheet.seal(right - 50, top + 64, round_=True)
    return sheet.finish()


def reservation_pdf(
    *,
    company: str | GuaranteeCompany,
    reservation_number: str,
    project_name: str,
    contractor: str,
    orderer: str = ORDERER,
    bid_date: date = date(2026, 3, 24),
    amount: int = 12_342_000,
    issued: date | None = None,
) -> bytes:
    """A 契約保証予約証書: the reservation of a contract guarantee (never electronic).

    Labels: 予約番号, 入札（開札）日, 発注者, 入札参加者, 工事名, 予約保証金額, 予約期間.
    """
    gc = guarantee_company(company)
    issued = issued or date(2026, 3, 16)
    sheet = Sheet(title="契約保証予約証書", author=gc.name, creator="", producer="SVF for PDF")
    left, right = 60.0, PAGE_W - 60.0
    sheet.text(right, 70, f"予約番号　{reservation_number}", anchor="right")
    sheet.text(right, 88, wareki(issued), anchor="right")
    sheet.text(PAGE_W / 2, 140, "契約保証予約証書", size=18, font=MINCHO, anchor="center")
    sheet.text(
        left, 180, f"{orderer}長　様" if not orderer.endswith("長") else f"{orderer}　様", size=12
    )
    top = sheet.paragraph(
        left,
        215,
        f"当社は、下記工事の入札について、入札参加者 {contractor} が落札者となり請負契約を"
        "締結する場合には、当該契約に係る契約保証を引き受けることを予約します。",
        right - left,
    )
    rows = [
        ("予約番号", reservation_number),
        ("入札（開札）日", wareki(bid_date)),
        ("発注者", orderer),
        ("入札参加者", contractor),
        ("工事名", project_name),
        ("予約保証金額", yen(amount)),
        ("予約期間", f"{wareki(issued)}から{wareki(bid_date + timedelta(days=60))}まで"),
    ]
    top = sheet.grid(left, top + 20, rows, label_width=120, width=right - left)
    sheet.paragraph(
        left,
        top + 24,
        "※本予約証書は、契約保証証書ではありません。契約締結時には、別途契約保証証書を"
        "発行いたします。",
        right - left,
        size=9,
    )
    sheet.text(right, top + 90, gc.name, anchor="right")
    sheet.text(right, top + 106, gc.branch, anchor="right")
    sheet.seal(right - 46, top + 112)
    return sheet.finish()


def bank_guarantee_pdf(
    *,
    bank: str = "株式会社東都銀行",
    branch: str = "本町支店",
    manager: str = "支店長　中村　浩",
    guarantee_number: str = "第2026-0417号",
    project_name: str,
    contractor: str,
    orderer: str = ORDERER,
    amount: int = 12_342_000,
    period: tuple[date, date] = (date(2026, 4, 20), date(2027, 3, 19)),
    issued: date | None = None,
) -> bytes:
    """A bank's 保証書 (契約保証): paper only, never accepted by email.

    Labels: 保証番号, 債権者, 債務者, 工事名, 保証金額, 保証期間; signed by the branch manager.
    """
    issued = issued or date(2026, 4, 10)
    sheet = Sheet(title="保証書", author=bank, creator="", producer="Canon iR-ADV C5840 PDF")
    left, right = 60.0, PAGE_W - 60.0
    sheet.text(right, 70, guarantee_number, anchor="right")
    sheet.text(PAGE_W / 2, 130, "保　証　書", size=20, anchor="center")
    sheet.text(PAGE_W / 2, 152, "（契約保証）", size=11, anchor="center")
    sheet.text(
        left, 195, f"{orderer}長　様" if not orderer.endswith("長") else f"{orderer}　様", size=12
    )
    top = sheet.paragraph(
        left,
        230,
        f"当行は、{contractor}（以下「債務者」という。）が貴殿との間に締結する下記工事の"
        "請負契約に基づく債務の履行について、保証金額を限度として債務者と連帯して保証いたします。",
        right - left,
    )
    rows = [
        ("保証番号", guarantee_number),
        ("債権者", orderer),
        ("債務者", contractor),
        ("工事名", project_name),
        ("保証金額", yen(amount)),
        ("保証期間", f"{wareki(period[0])}から{wareki(period[1])}まで"),
    ]
    top = sheet.grid(left, top + 20, rows, label_width=100, width=right - left)
    sheet.text(right - 70, top + 60, wareki(issued), anchor="right")
    sheet.text(right - 70, top + 90, bank, anchor="right", size=12)
    sheet.text(right - 70, top + 108, branch, anchor="right")
    sheet.text(right - 70, top + 126, manager, anchor="right")
    sheet.seal(right - 60, top + 84)
    return sheet.finish()


# ---------------------------------------------------------------------------
# Insurers
# ---------------------------------------------------------------------------

PolicyKind = Literal["履行保証保険証券", "公共工事履行保証証券"]


def policy_pdf(
    *,
    insurer: str | Insurer,
    policy_number: str,
    project_name: str,
    contractor: str,
    orderer: str = ORDERER,
    issued: date | None = None,
    kind: PolicyKind = "履行保証保険証券",
    password: str | None = None,
    contract_price: int = DEFAULT_PRICE,
    amount: int | None = None,
    period: tuple[date, date] = (date(2026, 4, 20), date(2027, 3, 19)),
    project_place: str = "東都市中央区本町二丁目地内",
) -> bytes:
    """An insurer's PDF-issued policy (PDF発行証券).

    ``kind`` 履行保証保険証券 - labels 証券番号, 証券発行日, 保険契約者（受注者）,
    被保険者（発注者）, 工事名, 工事場所, 契約金額, 保険金額, 保険期間, 保険料.
    ``kind`` 公共工事履行保証証券 - labels 証券番号, 証券発行日, 債権者（発注者）,
    主たる債務者（受注者）, 保証人, 工事名, 工事場所, 契約金額, 保証金額, 保証期間.
    Dates in 令和. ``amount`` defaults to 10% (guarantee insurance) or 30% (bond)
    of ``contract_price``. With ``password``, the PDF is AES-256 encrypted with
    that user password and an owner password derived from the policy number
    (printing and copying allowed, changes not), as insurers issue them.
    """
    ins = lookup_insurer(insurer)
    issued = issued or date(2026, 4, 10)
    bond = kind == "公共工事履行保証証券"
    amount = amount if amount is not None else contract_price * (3 if bond else 1) // 10
    sheet = Sheet(title=kind, author=ins.name, creator="証券発行システム", producer="SVF for PDF")
    left, right = 50.0, PAGE_W - 50.0
    sheet.rect(left - 10, 40, right - left + 20, 740, line_width=2.0, stroke=Color(0.2, 0.35, 0.2))
    sheet.text(PAGE_W / 2, 100, kind, size=20, anchor="center")
    sheet.text(right, 130, f"証券番号　{policy_number}", anchor="right", font=GOTHIC)
    sheet.text(right, 148, f"証券発行日　{wareki(issued)}", anchor="right")
    if bond:
        preamble = (
            f"保証人 {ins.name} は、主たる債務者が下記の工事の請負契約に基づく債務を"
            "履行しない場合に、"
            "公共工事履行保証契約約款に従い、保証金額を限度として債権者に保証債務を履行します。"
        )
        rows = [
            ("債権者（発注者）", orderer),
            ("主たる債務者（受注者）", contractor),
            ("保証人", ins.name),
            ("工事名", project_name),
            ("工事場所", project_place),
            ("契約金額", yen(contract_price)),
            ("保証金額", yen(amount)),
            ("保証期間", f"{wareki(period[0])}から{wareki(period[1])}まで"),
        ]
    else:
        preamble = (
            "当会社は、この証券記載の保険契約者から保険料を領収し、履行保証保険普通保険約款及び"
            "特約条項に従い、保険金を支払うことを約束します。"
        )
        rows = [
            ("保険契約者（受注者）", contractor),
            ("被保険者（発注者）", orderer),
            ("工事名", project_name),
            ("工事場所", project_place),
            ("契約金額", yen(contract_price)),
            ("保険金額", yen(amount)),
            ("保険期間", f"{wareki(period[0])}から{wareki(period[1])}まで"),
            ("保険料", yen(max(amount // 400, 5_000))),
        ]
    top = sheet.paragraph(left, 185, preamble, right - left, size=10)
    top = sheet.grid(left, top + 14, rows, label_width=150, width=right - left, size=10)
    sheet.text(right - 60, top + 50, ins.name, anchor="right", size=12)
    sheet.text(right - 60, top + 68, ins.branch, anchor="right")
    sheet.seal(right - 52, top + 36)
    sheet.text(left, top + 120, f"取扱代理店　{ins.agent}", size=9)
    sheet.text(
        left,
        top + 136,
        "この証券はPDF形式で電子発行されたものです。内容の改ざんを防止するため、パスワードにより"
        "保護されています。",
        size=8,
    )
    data = sheet.finish()
    if password is None:
        return data
    owner = hashlib.sha256(f"owner:{policy_number}".encode()).hexdigest()[:20]
    return encrypt_pdf(data, user_password=password, owner_password=owner, seed=policy_number)


def encrypt_pdf(data: bytes, *, user_password: str, owner_password: str, seed: str) -> bytes:
    """Encrypt ``data`` with AES-256 (pypdf), deterministically for a given ``seed``."""
    from pypdf import PdfReader, PdfWriter  # noqa: PLC0415
    from pypdf.constants import UserAccessPermissions as Perm  # noqa: PLC0415

    permissions = (
        Perm.PRINT | Perm.PRINT_TO_REPRESENTATION | Perm.EXTRACT | Perm.EXTRACT_TEXT_AND_GRAPHICS
    )
    with seeded_randomness(f"pdf-encrypt:{seed}:{user_password}"):
        writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
        writer.encrypt(
            user_password=user_password,
            owner_password=owner_password,
            permissions_flag=permissions,
            algorithm="AES-256",
        )
        out = io.BytesIO()
        writer.write(out)
    return out.getvalue()


def submission_form_pdf(
    *,
    insurer: str | Insurer,
    policy_number: str,
    view_password: str,
    view_url: str | None = None,
    project_name: str | None = None,
    contractor: str | None = None,
    issued: date | None = None,
) -> bytes:
    """The insurer's 発注者提出用フォーマット, as filled in by the contractor.

    A ruled table with, in order: 閲覧用URL, 閲覧用パスワード, 工事名, 受注者名,
    証券番号, 保険会社名. The insurer prints the password, policy number and
    its name; the contractor adds URL, works name and contractor name: pass
    ``None`` to leave a field blank (an incomplete submission). Title:
    保証証券等確認システム 閲覧用情報のご案内（発注者提出用）.
    """
    ins = lookup_insurer(insurer)
    issued = issued or date(2026, 4, 10)
    title = "保証証券等確認システム　閲覧用情報のご案内（発注者提出用）"
    sheet = Sheet(
        title="発注者提出用フォーマット",
        author=ins.name,
        creator="Microsoft® Excel® 2021",
        producer="Microsoft® Excel® 2021",
    )
    left, right = 50.0, PAGE_W - 50.0
    sheet.text(right, 60, wareki(issued), anchor="right")
    sheet.text(left, 90, "発注者　御中", size=12)
    sheet.text(PAGE_W / 2, 135, title, size=13, font=GOTHIC, anchor="center")
    top = sheet.paragraph(
        left,
        170,
        "保証証券等確認システムに登録された証券等の閲覧に必要な情報は以下のとおりです。"
        "閲覧用URL及び閲覧用パスワードを入力のうえ、証券等の内容をご確認ください。",
        right - left,
        size=10,
    )
    rows = [
        ("閲覧用URL", view_url or ""),
        ("閲覧用パスワード", view_password),
        ("工事名", project_name or ""),
        ("受注者名", contractor or ""),
        ("証券番号", policy_number),
        ("保険会社名", ins.name),
    ]
    top = sheet.grid(
        left,
        top + 14,
        rows,
        label_width=130,
        width=right - left,
        row_height=30,
        size=10,
        label_font=GOTHIC,
        shade=True,
    )
    sheet.paragraph(
        left,
        top + 24,
        "【受注者さまへ】「閲覧用URL」「工事名」「受注者名」を追記のうえ、発注者さまへご提出ください。"
        "メールに添付して提出する場合、暗号化パスワードは別送してください。\n"
        "※閲覧用URLは、保証証券等確認システムから受注者さま宛に自動送信されます。\n"
        "※閲覧用パスワードは、証券等の追加アップロード時に変更されます。",
        right - left,
        size=9,
    )
    sheet.text(right, 760, f"{ins.name}　{ins.branch}", anchor="right", size=9)
    sheet.text(right, 774, f"取扱代理店　{ins.agent}", anchor="right", size=9)
    return sheet.finish()


# ---------------------------------------------------------------------------
# Contractor documents
# ---------------------------------------------------------------------------


def invoice_pdf(
    *,
    contractor: str,
    project_name: str,
    amount: int,
    orderer_head: str = ORDERER_HEAD,
    project_number: str | None = None,
    issued: date | None = None,
    contractor_address: str = "東都市中央区本町一丁目2番3号",
    representative: str = "代表取締役　山田　一男",
    responsible: tuple[str, str] = ("工務部長　鈴木　一郎", "048-555-0123"),
    in_charge: tuple[str, str] = ("工務部　山田　太郎", "048-555-0123"),
    kind: str = "前払金",
    bank_account: str = "東都銀行　本町支店　普通預金　1234567",
) -> bytes:
    """The contractor's 請求書 for an advance (前払金 / 中間前払金).

    金額 as ``金 12,340,000 円``, 但し書き with the works name; no seal, but
    本件責任者 and 本件担当者 with phone numbers, as offices allow.
    """
    issued = issued or date(2026, 4, 22)
    sheet = Sheet(
        title="請求書",
        author=contractor,
        creator="Microsoft® Word 2019",
        producer="Microsoft® Word 2019",
    )
    left, right = 60.0, PAGE_W - 60.0
    sheet.text(PAGE_W / 2, 100, "請　求　書", size=20, anchor="center")
    sheet.text(right, 140, wareki(issued), anchor="right")
    sheet.text(left, 170, f"（請求先）{orderer_head}　様", size=12)
    sheet.text(right, 205, contractor_address, anchor="right", size=10)
    sheet.text(right, 222, contractor, anchor="right", size=12)
    sheet.text(right, 240, representative, anchor="right", size=10)
    sheet.rect(left + 40, 270, right - left - 80, 44, line_width=1.2)
    sheet.text(PAGE_W / 2, 299, f"金　{amount:,}　円", size=18, anchor="center")
    rows = [("工事名", project_name)]
    if project_number:
        rows.append(("工事番号", project_number))
    rows += [
        ("請求内容", f"{kind}（公共工事の前払金保証事業に関する法律に基づく保証付）"),
        ("振込先", bank_account),
    ]
    sheet.text(left, 345, f"但し、下記工事の{kind}として", size=10.5)
    top = sheet.grid(left, 360, rows, label_width=90, width=right - left)
    sheet.text(left, top + 40, f"本件責任者　{responsible[0]}　（電話　{responsible[1]}）", size=10)
    sheet.text(left, top + 58, f"本件担当者　{in_charge[0]}　（電話　{in_charge[1]}）", size=10)
    return sheet.finish()


def leaflet_pdf() -> bytes:
    """A guarantee company's leaflet 電子保証のご案内: the labels, but no values.

    Mentions 保証契約番号, 認証キー, D-Sure and 電子証書閲覧用「認証キー」等のお知らせ
    in running text (a trap for keyword matching), with no number or key.
    """
    sheet = Sheet(
        title="電子保証のご案内",
        author="",
        creator="Adobe InDesign 19.0",
        producer="Adobe PDF Library 17.0",
    )
    left, right = 50.0, PAGE_W - 50.0
    sheet.rect(0, 0, PAGE_W, 90, fill=Color(0.1, 0.3, 0.6), stroke=Color(0.1, 0.3, 0.6))
    sheet.text(
        PAGE_W / 2, 55, "電子保証のご案内", size=26, font=GOTHIC, anchor="center", color=white
    )
    top = sheet.paragraph(
        left,
        130,
        "電子保証とは、書面の「保証証書」に代わり「電子証書」を受発注者がインターネットを通じて"
        "確認することができる仕組みです。受注者は、発注者が電子証書を閲覧するために必要な"
        "「保証契約番号」と「認証キー」を提出します。この２つの情報は、電子証書閲覧用「認証キー」等の"
        "お知らせ（PDF）に記載しています。",
        right - left,
        size=11,
        font=GOTHIC,
    )
    steps = [
        "STEP1　保証申込（受取方法は「電子交付」を選択）",
        "STEP2　お知らせメールを確認",
        "STEP3　電子証書の内容を確認（この画面は発注者へ提出しないでください）",
        "STEP4　「認証キー等のお知らせ」をダウンロードし、発注者へ提出",
    ]
    top += 20
    for step in steps:
        sheet.rect(left, top, right - left, 30, fill=GREY)
        sheet.text(left + 10, top + 20, step, size=11, font=GOTHIC)
        top += 40
    sheet.paragraph(
        left,
        top + 20,
        "発注者はD-Sure（発注者用保証確認サービス）を通じて電子証書を閲覧します。"
        "対象は前払金保証（中間前払金を含む）及び契約保証です。※契約保証予約は対象外",
        right - left,
        size=10,
        font=GOTHIC,
    )
    return sheet.finish()


# ---------------------------------------------------------------------------
# PDFs without usable text, and things that are not PDFs
# ---------------------------------------------------------------------------

DEFAULT_SCAN_LINES: tuple[str, ...] = (
    "電子証書閲覧用「認証キー」等のお知らせ",
    "",
    "発注者名　　東都市",
    "保証契約番号　2604012345",
    "認証キー　　Ab3dE5fG7hJ9",
    "保証の種類　前払金保証",
    "工事名　令和8年度 市道中央線道路改良工事",
)


def scan_pdf(
    *, lines: Sequence[str] = DEFAULT_SCAN_LINES, dpi: int = 100, skew: float = 0.6
) -> bytes:
    """An image-only PDF, as a multifunction printer scans a paper: no text layer.

    The ``lines`` are rasterised (grey, slightly skewed, JPEG) so a human sees
    them, but no extractor finds any text.
    """
    from PIL import Image, ImageDraw, ImageFont  # noqa: PLC0415

    width, height = int(8.27 * dpi), int(11.69 * dpi)
    image = Image.new("L", (width, height), 250)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(str(font_path(MINCHO)), size=int(dpi * 0.17))
    title_font = ImageFont.truetype(str(font_path(GOTHIC)), size=int(dpi * 0.24))
    y = int(dpi * 1.0)
    for i, line in enumerate(lines):
        draw.text((int(dpi * 0.9), y), line, fill=30, font=title_font if i == 0 else font)
        y += int(dpi * (0.5 if i == 0 else 0.32))
    rng = random.Random(f"scan:{len(lines)}:{dpi}")
    for _ in range(width * height // 400):  # toner specks
        image.putpixel((rng.randrange(width), rng.randrange(height)), rng.randrange(120, 220))
    image = image.rotate(skew, fillcolor=250, resample=Image.Resampling.BILINEAR)
    jpeg = io.BytesIO()
    image.save(jpeg, format="JPEG", quality=70)
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=1)
    canvas.setCreator("RICOH IM C3000")
    canvas.setProducer("RICOH IM C3000")
    from reportlab.lib.utils import ImageReader  # noqa: PLC0415

    canvas.drawImage(ImageReader(io.BytesIO(jpeg.getvalue())), 0, 0, PAGE_W, PAGE_H)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def corrupt_pdf() -> bytes:
    """Bytes that start like a PDF but that neither pypdf nor PDFium can open.

    A header, the start of an object, then binary noise and no trailer, as an
    attachment truncated and mangled in transit.
    """
    noise = (
        random.Random("corrupt").randbytes(1500).replace(b"obj", b"o\x00j").replace(b"%%EOF", b"")
    )
    return b"%PDF-1.7\r\n%\xe2\xe3\xcf\xd3\r\n1 0 obj\r\n<< /Type /Catal" + noise


NotPdfKind = Literal["png", "zip", "html", "docx"]


def not_really_pdf(kind: NotPdfKind = "png") -> bytes:
    """Content that is not a PDF, for the caller to attach under a ``.pdf`` name.

    ``png`` a screenshot-like image; ``zip`` an archive holding a PDF; ``html``
    a web page saved with the wrong extension; ``docx`` a Word file.
    """
    if kind == "png":
        from PIL import Image, ImageDraw  # noqa: PLC0415

        image = Image.new("RGB", (320, 200), (255, 255, 255))
        ImageDraw.Draw(image).rectangle((10, 10, 310, 50), fill=(30, 76, 140))
        out = io.BytesIO()
        image.save(out, format="PNG")
        return out.getvalue()
    if kind == "zip":
        import zipfile  # noqa: PLC0415

        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as archive:
            info = zipfile.ZipInfo("認証キー等のお知らせ.pdf", date_time=(2026, 4, 6, 9, 0, 0))
            archive.writestr(info, b"%PDF-1.4\n% placeholder\n")
        return out.getvalue()
    if kind == "html":
        return (
            '<!DOCTYPE html>\n<html lang="ja"><head><meta charset="UTF-8">'
            "<title>D-Sure ログイン</title></head><body><h1>セッションの有効期限が切れました"
            "</h1></body></html>\n"
        ).encode()
    if kind == "docx":
        from samples.offices import form_docx  # noqa: PLC0415

        return form_docx(insurer="sompo", policy_number="SJ-26-000123", view_password="x")
    raise ValueError(f"unknown kind {kind!r}")


# ---------------------------------------------------------------------------
# Text without ToUnicode maps
# ---------------------------------------------------------------------------


def _pdf_objects(reader: Any) -> Iterator[Any]:
    for page in reader.pages:
        fonts = page.get("/Resources", {}).get("/Font", {})
        for ref in fonts.values():
            yield ref.get_object()


def strip_tounicode(data: bytes) -> bytes:
    """Remove every font's ``/ToUnicode`` map (pypdf), nothing else.

    reportlab writes simple TrueType subsets whose character codes are 1, 2, 3...
    in order of first use; without the map, neither pypdf nor PDFium can tell
    which character a code is (both return control characters), so this PDF
    has no extractable Japanese at all (ASCII survives, its codes are ASCII).
    """
    from pypdf import PdfReader, PdfWriter  # noqa: PLC0415

    with seeded_randomness(hashlib.sha256(data).hexdigest()):
        writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
        for font in _pdf_objects(writer):
            if "/ToUnicode" in font:
                del font["/ToUnicode"]
        out = io.BytesIO()
        writer.write(out)
    return out.getvalue()


_PROBE_PER_LINE = 40
_PROBE_X, _PROBE_Y, _PROBE_ADVANCE, _PROBE_LEADING = 20, 800, 10, 12


def _probe_pdf(codes: Sequence[int]) -> bytes:
    """A bare PDF showing ``codes`` as Adobe-Japan1 CIDs with a non-embedded CID font.

    40 CIDs a line, each 10 pt wide (``/DW 1000`` at 10 pt), lines 12 pt apart,
    so a character's origin tells which CID it came from.
    """
    hexes = "".join(f"{code:04X}" for code in codes)
    step = _PROBE_PER_LINE * 4
    lines = [f"BT /F1 10 Tf {_PROBE_LEADING} TL {_PROBE_X} {_PROBE_Y} Td"]
    lines += [f"<{hexes[i : i + step]}> Tj T*" for i in range(0, len(hexes), step)]
    lines.append("ET")
    stream = "\n".join(lines).encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type0 /BaseFont /Probe /Encoding /Identity-H "
        b"/DescendantFonts [6 0 R] >>",
        b"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /Probe /CIDSystemInfo "
        b"<< /Registry (Adobe) /Ordering (Japan1) /Supplement 6 >> "
        b"/FontDescriptor 7 0 R /DW 1000 >>",
        b"<< /Type /FontDescriptor /FontName /Probe /Flags 4 /FontBBox [0 -141 1000 859] "
        b"/ItalicAngle 0 /Ascent 859 /Descent -141 /CapHeight 700 /StemV 80 >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


AJ1_MAX_CID = 23057  # Adobe-Japan1-6


@functools.cache
def adobe_japan1_cids() -> dict[str, int]:
    """Unicode character -> lowest Adobe-Japan1 CID, as PDFium maps CIDs to Unicode.

    No CMap files are installed, so the table is read back from PDFium itself:
    a probe page shows every CID and PDFium's text layer says which character
    each one is; the character's origin on the page identifies the CID (some
    CIDs, such as ligatures, give several characters and are left out).
    Takes about 0.1 s, once per process.
    """
    import ctypes  # noqa: PLC0415

    import pypdfium2  # noqa: PLC0415
    import pypdfium2.raw as pdfium_c  # noqa: PLC0415

    document = pypdfium2.PdfDocument(_probe_pdf(range(1, AJ1_MAX_CID + 1)))
    texts: dict[int, str] = {}
    try:
        textpage = document[0].get_textpage()  # keep a reference: closing it frees .raw
        raw = textpage.raw
        x, y = ctypes.c_double(), ctypes.c_double()
        for i in range(pdfium_c.FPDFText_CountChars(raw)):
            if pdfium_c.FPDFText_IsGenerated(raw, i) == 1:
                continue
            pdfium_c.FPDFText_GetCharOrigin(raw, i, ctypes.byref(x), ctypes.byref(y))
            row = round((_PROBE_Y - y.value) / _PROBE_LEADING)
            column = round((x.value - _PROBE_X) / _PROBE_ADVANCE)
            cid = row * _PROBE_PER_LINE + column + 1
            texts[cid] = texts.get(cid, "") + chr(pdfium_c.FPDFText_GetUnicode(raw, i))
    finally:
        document.close()
    table: dict[str, int] = {}
    for cid in sorted(texts):
        text = texts[cid]
        if len(text) != 1 or (ord(text) == cid and cid >= 0x80):  # ligature, or no mapping known
            continue
        table.setdefault(text, cid)
    if len(table) < 7000:
        raise RuntimeError(f"PDFium mapped only {len(table)} Adobe-Japan1 CIDs to Unicode")
    return table


def _fonts_of(page: Any) -> Any:
    """The page's font resource dictionary."""
    return page["/Resources"]["/Font"]


def _tounicode_map(font: Any) -> dict[int, str]:
    """Parse the bfchar entries of a reportlab ToUnicode CMap."""
    text = font["/ToUnicode"].get_object().get_data().decode("latin-1")
    mapping: dict[int, str] = {}
    for code, target in re.findall(r"<([0-9A-Fa-f]{2})>\s*<([0-9A-Fa-f]{4,})>", text):
        value = bytes.fromhex(target).decode("utf-16-be")
        if value != "\x00":
            mapping[int(code, 16)] = value
    return mapping


def _string_bytes(operand: Any) -> bytes:
    if isinstance(operand, bytes):
        return bytes(operand)
    return bytes(operand.get_original_bytes())


def _type0_font(writer: Any, family: str, chars: set[str], cid_of: dict[str, int]) -> Any:
    """Add a Type0 / CIDFontType2 font for ``chars`` (Adobe-Japan1 CIDs, no ToUnicode)."""
    from pypdf.generic import (  # noqa: PLC0415
        ArrayObject,
        DecodedStreamObject,
        DictionaryObject,
        NameObject,
        NumberObject,
        TextStringObject,
    )

    ordered = sorted(ch for ch in chars if ch in cid_of)  # the subset map also lists ASCII controls
    face = pdfmetrics.getFont(family).face
    # Glyph indexes as reportlab's makeSubset numbers them: first use of each original glyph.
    glyph_of: dict[int, int] = {}
    seen: dict[int, int] = {0: 0}
    for code_point in (ord(ch) for ch in ordered):
        original = face.charToGlyph.get(code_point, 0)
        seen.setdefault(original, len(seen))
        glyph_of[code_point] = seen[original]

    def stream(data: bytes) -> Any:
        obj = DecodedStreamObject()
        obj.set_data(data)
        return writer._add_object(obj.flate_encode())

    gid_table = bytearray(2 * (max(cid_of[ch] for ch in ordered) + 1))
    widths = ArrayObject()
    for ch in sorted(ordered, key=lambda c: cid_of[c]):
        cid = cid_of[ch]
        gid_table[2 * cid : 2 * cid + 2] = glyph_of[ord(ch)].to_bytes(2, "big")
        width = round(pdfmetrics.stringWidth(ch, family, 1000))
        widths += [NumberObject(cid), ArrayObject([NumberObject(width)])]
    name = NameObject(f"/{family}")
    descriptor = {
        "/Type": NameObject("/FontDescriptor"),
        "/FontName": name,
        "/Flags": NumberObject(4),
        "/FontBBox": ArrayObject([NumberObject(v) for v in (-455, -279, 1000, 930)]),
        "/ItalicAngle": NumberObject(0),
        "/Ascent": NumberObject(880),
        "/Descent": NumberObject(-120),
        "/CapHeight": NumberObject(751),
        "/StemV": NumberObject(87),
        "/FontFile2": stream(face.makeSubset([ord(ch) for ch in ordered])),
    }
    system_info = {
        "/Registry": TextStringObject("Adobe"),
        "/Ordering": TextStringObject("Japan1"),
        "/Supplement": NumberObject(6),
    }
    descendant = {
        "/Type": NameObject("/Font"),
        "/Subtype": NameObject("/CIDFontType2"),
        "/BaseFont": name,
        "/CIDSystemInfo": DictionaryObject(_names(system_info)),
        "/FontDescriptor": writer._add_object(DictionaryObject(_names(descriptor))),
        "/DW": NumberObject(1000),
        "/W": widths,
        "/CIDToGIDMap": stream(bytes(gid_table)),
    }
    font = {
        "/Type": NameObject("/Font"),
        "/Subtype": NameObject("/Type0"),
        "/BaseFont": name,
        "/Encoding": NameObject("/Identity-H"),
        "/DescendantFonts": ArrayObject([writer._add_object(DictionaryObject(_names(descendant)))]),
    }
    return writer._add_object(DictionaryObject(_names(font)))


def _names(entries: dict[str, Any]) -> dict[Any, Any]:
    from pypdf.generic import NameObject  # noqa: PLC0415

    return {NameObject(key): value for key, value in entries.items()}


def _rewrite_text(
    writer: Any,
    page: Any,
    subsets: dict[str, tuple[str, dict[int, str]]],
    cid_of: dict[str, int],
) -> None:
    """Point ``Tf`` at the Type0 fonts and re-encode ``Tj`` strings as two-byte CIDs."""
    from pypdf.generic import ByteStringObject, ContentStream, FloatObject, NameObject  # noqa: PLC0415

    content = ContentStream(page.get_contents(), writer)
    current: dict[int, str] | None = None
    operations = []
    for operands, operator in content.operations:
        new_operands = operands
        if operator == b"Tf":
            entry = subsets.get(str(operands[0]))
            current = entry[1] if entry else None
            if entry:
                new_operands = [NameObject(f"/CJ{entry[0]}"), FloatObject(operands[1])]
        elif operator == b"Tj" and current is not None:
            text = "".join(current.get(b, "") for b in _string_bytes(operands[0]))
            missing = sorted({ch for ch in text if ch not in cid_of})
            if missing:
                raise ValueError(f"characters without an Adobe-Japan1 CID: {missing!r}")
            cids = b"".join(cid_of[ch].to_bytes(2, "big") for ch in text)
            new_operands = [ByteStringObject(cids)]
        operations.append((new_operands, operator))
    content.operations = operations
    page.replace_contents(content)


def to_cid_without_tounicode(data: bytes) -> bytes:
    """Rewrite a reportlab PDF so its text uses an Adobe-Japan1 CID font without ToUnicode.

    Every reportlab TrueType subset is replaced by one Type0 font per family
    (``/Encoding /Identity-H``, ``/CIDSystemInfo (Adobe)(Japan1) 6``), whose
    descendant ``CIDFontType2`` embeds an IPA subset and maps the Adobe-Japan1
    CIDs to its glyphs through a ``/CIDToGIDMap`` stream; the text operators
    are rewritten from subset codes to two-byte CIDs. There is no ``/ToUnicode``.
    This is how PDFs look that were produced from CID-keyed Japanese fonts
    without a ToUnicode map: the page renders normally; PDFium maps the
    CIDs to Unicode with its built-in Adobe-Japan1 table and extracts the
    Japanese; pypdf decodes Identity-H as UTF-16BE and gets unrelated symbols.
    """
    from pypdf import PdfReader, PdfWriter  # noqa: PLC0415
    from pypdf.generic import NameObject  # noqa: PLC0415

    register_fonts()
    cid_of = adobe_japan1_cids()
    with seeded_randomness(hashlib.sha256(b"cid" + data).hexdigest()):
        writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
        subsets: dict[str, tuple[str, dict[int, str]]] = {}  # resource -> (family, code map)
        used: dict[str, set[str]] = {}
        for page in writer.pages:
            for name, ref in _fonts_of(page).items():
                font = ref.get_object()
                if font.get("/Subtype") == "/TrueType" and "/ToUnicode" in font:
                    family = str(font["/BaseFont"]).split("+", 1)[-1]
                    subsets[name] = (family, _tounicode_map(font))
                    used.setdefault(family, set()).update(subsets[name][1].values())
        type0 = {
            family: _type0_font(writer, family, chars, cid_of) for family, chars in used.items()
        }
        for page in writer.pages:
            _rewrite_text(writer, page, subsets, cid_of)
            fonts = _fonts_of(page)
            for name in [n for n in fonts if n in subsets]:
                del fonts[name]
            for family, ref in type0.items():
                fonts[NameObject(f"/CJ{family}")] = ref
        writer.compress_identical_objects()
        out = io.BytesIO()
        writer.write(out)
    return out.getvalue()


def key_notice_pdf_without_tounicode(**kwargs: Any) -> bytes:
    """:func:`key_notice_pdf` rewritten by :func:`to_cid_without_tounicode`.

    Same layout and text; pypdf extracts no Japanese from it, PDFium does.
    """
    return to_cid_without_tounicode(key_notice_pdf(**kwargs))
