"""発注者提出用フォーマット in the layouts insurers and contractors really use.

:mod:`samples.offices` and :mod:`samples.pdfs` give the standard layouts (label left,
value right). These are the others: an Excel sheet with the labels in a header row and
the values in the row below, a sheet whose values sit far to the right, one with
merged label and value cells, and forms whose blank 受注者名 is followed by the printed
note 「※閲覧用URL・工事名・受注者名は受注者さまにてご記入のうえ…」 (PDF, Excel, Word).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date, datetime

from samples import offices, pdfs
from samples.jtext import wareki
from samples.parties import Insurer

FormRows = Sequence[tuple[str, str]]

NOTE = ("※閲覧用URL・工事名・受注者名は受注者さまにてご記入のうえ、発注者さまへご提出ください。"
        "メールで提出する場合、暗号化パスワードは別送してください。")
TITLE = "保証証券等確認システム　閲覧用情報のご案内（発注者提出用）"


def rows(ins: Insurer, *, policy: str, password: str, url: str | None, project: str | None,
         contractor: str | None) -> list[tuple[str, str]]:
    """The form's six fields in the insurers' order; None leaves one blank."""
    return [("閲覧用URL", url or ""), ("閲覧用パスワード", password), ("工事名", project or ""),
            ("受注者名", contractor or ""), ("証券番号", policy), ("保険会社名", ins.name)]


def _workbook(issued: date, author: str):  # type: ignore[no-untyped-def]  # openpyxl
    from openpyxl import Workbook  # noqa: PLC0415

    book = Workbook()
    sheet = book.active
    sheet.title = "発注者提出用"
    moment = datetime(issued.year, issued.month, issued.day, 9, 0, 0)
    book.properties.creator = author
    book.properties.lastModifiedBy = author
    book.properties.created = moment
    book.properties.modified = moment
    return book, sheet


def _save(book) -> bytes:  # type: ignore[no-untyped-def]
    out = io.BytesIO()
    book.save(out)
    return offices.normalize_zip(out.getvalue())  # fixed entry times and core.xml stamps


def xlsx_header_row(ins: Insurer, fields: FormRows, *, issued: date) -> bytes:
    """Labels across row 6 (a header row), the values in row 7 below them."""
    from openpyxl.styles import Font, PatternFill  # noqa: PLC0415

    book, sheet = _workbook(issued, ins.agent)
    sheet["A1"] = wareki(issued)
    sheet["A2"] = "発注者　御中"
    sheet["A4"] = TITLE
    sheet["A4"].font = Font(bold=True, size=14)
    for column, (label, value) in enumerate(fields, start=1):
        head = sheet.cell(row=6, column=column, value=label)
        head.fill = PatternFill("solid", fgColor="DDEBF7")
        sheet.cell(row=7, column=column, value=value or None)
        sheet.column_dimensions[head.column_letter].width = 28
    sheet["A10"] = "※閲覧用パスワードは、証券等の追加アップロード時に変更されます。"
    sheet["D12"] = f"{ins.name}　{ins.branch}"
    return _save(book)


def xlsx_far_right(ins: Insurer, fields: FormRows, *, issued: date) -> bytes:
    """Labels in column B, values in column F with empty columns between."""
    book, sheet = _workbook(issued, ins.agent)
    sheet["F2"] = wareki(issued)
    sheet["B3"] = "発注者　御中"
    sheet["B5"] = TITLE
    for offset, (label, value) in enumerate(fields):
        sheet.cell(row=8 + offset * 2, column=2, value=label)
        sheet.cell(row=8 + offset * 2, column=6, value=value or None)
    sheet["F22"] = f"{ins.name}　{ins.branch}"
    return _save(book)


def xlsx_merged(ins: Insurer, fields: FormRows, *, issued: date) -> bytes:
    """Each label merged over B:C and two rows, each value merged over D:H and two rows."""
    from openpyxl.styles import Alignment  # noqa: PLC0415

    book, sheet = _workbook(issued, ins.agent)
    sheet["H1"] = wareki(issued)
    sheet["B3"] = "発注者　御中"
    sheet["B5"] = TITLE
    sheet.merge_cells("B5:H5")
    for offset, (label, value) in enumerate(fields):
        row = 8 + offset * 2
        sheet.cell(row=row, column=2, value=label).alignment = Alignment(vertical="center")
        sheet.merge_cells(start_row=row, start_column=2, end_row=row + 1, end_column=3)
        sheet.cell(row=row, column=4, value=value or None)
        sheet.merge_cells(start_row=row, start_column=4, end_row=row + 1, end_column=8)
    sheet["B22"] = "【受注者さまへ】閲覧用URL・工事名・受注者名を追記のうえご提出ください。"
    sheet["F24"] = f"{ins.name}　{ins.branch}"
    return _save(book)


def xlsx_note_after_blank(ins: Insurer, fields: FormRows, *, issued: date) -> bytes:
    """The standard sheet (label B, value C), the printed note in the row under the last
    field (受注者名 last, left blank by the contractor)."""
    book, sheet = _workbook(issued, ins.agent)
    sheet["D2"] = wareki(issued)
    sheet["B4"] = "発注者　御中"
    sheet["B6"] = TITLE
    ordered = [f for f in fields if f[0] != "受注者名"] + [f for f in fields if f[0] == "受注者名"]
    for offset, (label, value) in enumerate(ordered):
        sheet.cell(row=9 + offset, column=2, value=label)
        sheet.cell(row=9 + offset, column=3, value=value or None)
    sheet.cell(row=9 + len(ordered), column=2, value=NOTE)
    sheet["D19"] = f"{ins.name}　{ins.branch}"
    return _save(book)


def pdf_note_after_blank(ins: Insurer, fields: FormRows, *, issued: date) -> bytes:
    """The PDF form with 受注者名 the last row of the table and the note printed under it."""
    sheet = pdfs.Sheet(title="発注者提出用フォーマット", author=ins.name,
                       creator="Microsoft® Excel® 2021", producer="Microsoft® Excel® 2021")
    left, right = 50.0, pdfs.PAGE_W - 50.0
    sheet.text(right, 60, wareki(issued), anchor="right")
    sheet.text(left, 90, "発注者　御中", size=12)
    sheet.text(pdfs.PAGE_W / 2, 135, TITLE, size=13, font=pdfs.GOTHIC, anchor="center")
    ordered = [f for f in fields if f[0] != "受注者名"] + [f for f in fields if f[0] == "受注者名"]
    top = sheet.grid(left, 170, ordered, label_width=130, width=right - left, row_height=30,
                     size=10, label_font=pdfs.GOTHIC, shade=True)
    sheet.paragraph(left, top + 16, NOTE, right - left, size=9)
    sheet.text(right, 760, f"{ins.name}　{ins.branch}", anchor="right", size=9)
    return sheet.finish()


def docx_note_after_blank(ins: Insurer, fields: FormRows, *, issued: date) -> bytes:
    """The Word form: the table (受注者名 last, blank), then the note as the next paragraph."""
    from docx import Document  # noqa: PLC0415

    document = Document()
    document.add_paragraph(wareki(issued))
    document.add_paragraph("発注者　御中")
    document.add_paragraph(TITLE)
    ordered = [f for f in fields if f[0] != "受注者名"] + [f for f in fields if f[0] == "受注者名"]
    table = document.add_table(rows=len(ordered), cols=2)
    for row, (label, value) in zip(table.rows, ordered, strict=True):
        row.cells[0].text = label
        row.cells[1].text = value
    document.add_paragraph(NOTE)
    moment = datetime(issued.year, issued.month, issued.day, 9, 0, 0)
    properties = document.core_properties
    properties.author = ins.agent
    properties.created = moment
    properties.modified = moment
    properties.revision = 1
    out = io.BytesIO()
    document.save(out)
    return offices.normalize_zip(out.getvalue())
