"""Every layout contractors send, read; and no field ever guessed.

Each case is written as a contractor, a mail client or an insurer's form writes it:
spaced and bracketed labels, several fields on a line, sentences, tables in Excel, Word
and HTML, values wrapped by a mail client, passwords in every wording. Beside each case
that must give a value stands one that must not (a label in running prose, a note under
a blank cell, a value that may be cut short).
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Sequence
from email.message import EmailMessage
from email.policy import SMTP

import pytest
from samples import mails, parties, pdfs

from daemon import extract
from daemon.config import Settings
from daemon.decide import decide
from daemon.documents import read_office, table_lines
from daemon.japanese import normalize
from daemon.model import Decision, DocumentStatus
from daemon.read import read_message

NUMBER = "2604012345"
KEY = mails.default_auth_key(NUMBER)  # 12 characters, mixed case
POLICY = "SJ26-0412345"
VIEW_URL = parties.viewing_url(POLICY)
VIEW_PASSWORD = parties.viewing_password(POLICY)
PROJECT = "令和8年度 市道中央線道路改良工事"
CONTRACTOR = "株式会社山田建設"
HOSTS = ["sonpo-hosyou-syouken.jp"]
YAMADA = parties.CONTRACTORS["yamada"]


def fields(text: str) -> dict[str, str | None]:
    """What the readers take from a text (normalised first, as classify does)."""
    text = normalize(text)
    return {
        "contract_number": extract.contract_number(text),
        "auth_key": extract.auth_key(text),
        "view_url": extract.view_url(text, HOSTS),
        "view_password": extract.view_password(text),
        "project_name": extract.project_name(text),
        "project_number": extract.project_number(text),
        "contractor_name": extract.contractor_name(text),
        "policy_number": extract.policy_number(text),
    }


def read(text: str, **expected: str | None) -> None:
    """The fields named are read as expected from the text."""
    got = fields(text)
    assert {name: got[name] for name in expected} == expected


# --- 1. labels with blanks between their characters -------------------------------------------

@pytest.mark.parametrize("text", [
    f"保 証 契 約 番 号：{NUMBER}\n認 証 キ ー：{KEY}",  # ASCII blanks
    f"保　証　契　約　番　号　{NUMBER}\n認　証　キ　ー　{KEY}",  # full-width blanks, no colon
    f"保証契約番号 ： {NUMBER}\n認 証 ｷ ｰ : {KEY}",  # half-width katakana, spaced
    f"■ 保 証 番 号\n　{NUMBER}\n■ 認 証 キ ー\n　{KEY}",  # headings, values below
    f"【保 証 契 約 番 号】{NUMBER}　【認 証 キ ー】{KEY}",
])
def test_spaced_labels_give_their_values(text: str) -> None:
    """A label typed letter-spaced, with ASCII or full-width blanks, is its label."""
    read(text, contract_number=NUMBER, auth_key=KEY)


@pytest.mark.parametrize(("text", "name", "value"), [
    ("工 事 名：令和8年度 市道中央線道路改良工事", "project_name", PROJECT),
    ("工　事　名　令和8年度 市道中央線道路改良工事", "project_name", PROJECT),
    ("受 注 者 名：株式会社山田建設", "contractor_name", CONTRACTOR),
    (f"閲 覧 用 U R L：{VIEW_URL}", "view_url", VIEW_URL),
    (f"閲覧用 URL：{VIEW_URL}", "view_url", VIEW_URL),
    (f"閲 覧 用 パ ス ワ ー ド：{VIEW_PASSWORD}", "view_password", VIEW_PASSWORD),
    (f"証 券 番 号　{POLICY}", "policy_number", POLICY),
])
def test_spaced_labels_of_every_field(text: str, name: str, value: str) -> None:
    """Names, URLs and passwords are read beside a spaced label as beside a plain one."""
    assert fields(text)[name] == value


@pytest.mark.parametrize("text", [
    f"本 保 証 契 約 番 号 は {NUMBER} で す",  # spaced, but still inside a sentence
    f"この認 証 キ ー {KEY} は使えません",
    "工 事 名 市 道 改 良 工 事",  # label and value spaced alike: where does the label end?
])
def test_spaced_text_that_is_no_label(text: str) -> None:
    """Closing up spaced letters never makes a label of running text."""
    got = fields(text)
    assert (got["contract_number"], got["auth_key"], got["project_name"]) == (None, None, None)


def test_spaced_capitals_alone_stay_apart() -> None:
    """Capital letters spaced without kana or kanji (A B C) are not closed up."""
    assert normalize("区分 A B C") == "区分 A B C"
    assert normalize("認 証 キ ー") == "認証キー"


def test_spaced_labels_in_a_typed_mail_are_routed(settings: Settings) -> None:
    """A mail typing both values beside letter-spaced labels is a complete submission."""
    body = (f"東都市 契約課 御中\n\n契約保証の電子保証をお知らせします。\n\n"
            f"保　証　契　約　番　号：{NUMBER}\n認　証　キ　ー：{KEY}\n")
    decision = _decide(_plain(body), settings)
    assert (decision.kind.value, decision.verdict.value) == ("dsure-key", "routed")
    assert (decision.fields.contract_number, decision.fields.auth_key) == (NUMBER, KEY)


# --- 2. bracketed labels ------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    (f"【工事名】{PROJECT}", {"project_name": PROJECT}),
    (f"[保証契約番号] {NUMBER}", {"contract_number": NUMBER}),
    (f"［保証契約番号］{NUMBER}", {"contract_number": NUMBER}),
    (f"■認証キー：{KEY}", {"auth_key": KEY}),
    (f"◆認証キー◆{KEY}", {"auth_key": KEY}),
    (f"〈受注者名〉{CONTRACTOR}", {"contractor_name": CONTRACTOR}),
    (f"《受注者名》 {CONTRACTOR}", {"contractor_name": CONTRACTOR}),
    (f"<工事名> {PROJECT}", {"project_name": PROJECT}),
    (f"「工事名」：{PROJECT}", {"project_name": PROJECT}),
    (f"(1)保証契約番号：{NUMBER}　(2)認証キー：{KEY}",
     {"contract_number": NUMBER, "auth_key": KEY}),
    (f"①保証契約番号　{NUMBER}\n②認証キー　{KEY}", {"contract_number": NUMBER, "auth_key": KEY}),
    (f"・閲覧用URL：{VIEW_URL}\n・閲覧用パスワード：{VIEW_PASSWORD}",
     {"view_url": VIEW_URL, "view_password": VIEW_PASSWORD}),
    (f"* 保証契約番号: {NUMBER}\n* 認証キー: {KEY}", {"contract_number": NUMBER, "auth_key": KEY}),
    ("工事番号は R8-0123 です。", {"project_number": "R8-0123"}),
])
def test_bracketed_labels(text: str, expected: dict[str, str]) -> None:
    """A label in brackets, after a bullet or an item number opens its field."""
    read(text, **expected)


@pytest.mark.parametrize("text", [
    "【受注者さまへ】「閲覧用URL」「工事名」「受注者名」を追記のうえ、発注者さまへご提出ください。",
    "「工事名」及び「受注者名」をご記入ください。",
    "【受注者】様式に記入して提出してください",
    "〈お願い〉工事名は正確にご記入ください",
])
def test_quoted_label_words_in_a_sentence_are_no_fields(text: str) -> None:
    """Labels quoted in an instruction (「工事名」を追記) give nothing."""
    got = fields(text)
    assert (got["project_name"], got["contractor_name"], got["view_url"]) == (None, None, None)


# --- 3. several fields on one line --------------------------------------------------------------

@pytest.mark.parametrize("separator", [" ", "　", "\t", "  ", " / ", "　｜　", "、"])
def test_two_codes_on_one_line(separator: str) -> None:
    """Number and key on one line, whatever separates them, each its own value."""
    read(f"保証契約番号：{NUMBER}{separator}認証キー：{KEY}", contract_number=NUMBER, auth_key=KEY)
    read(f"保証番号 {NUMBER}{separator}認証ｷｰ {KEY}", contract_number=NUMBER, auth_key=KEY)


@pytest.mark.parametrize("separator", [" ", "　", "\t", " / "])
def test_a_name_stops_at_the_next_label(separator: str) -> None:
    """A line value (工事名, 受注者名) never swallows the next label and its value."""
    text = f"工事名：市道改良工事{separator}受注者名：株式会社山田建設{separator}工事番号：R8-0123"
    read(text, project_name="市道改良工事", contractor_name=CONTRACTOR, project_number="R8-0123")
    text = f"【工事名】{PROJECT}{separator}【受注者名】{CONTRACTOR}"
    read(text, project_name=PROJECT, contractor_name=CONTRACTOR)


def test_all_fields_of_a_form_on_one_line() -> None:
    """The confirmation form's four values typed on one line are four values."""
    text = (f"閲覧用URL：{VIEW_URL}　閲覧用パスワード：{VIEW_PASSWORD}　工事名：{PROJECT}"
            f"　受注者名：{CONTRACTOR}")
    read(text, view_url=VIEW_URL, view_password=VIEW_PASSWORD, project_name=PROJECT,
         contractor_name=CONTRACTOR)


def test_a_name_keeps_its_own_blanks_and_label_words() -> None:
    """Blanks inside a name stay; a label word inside a value (no separator after it) does
    not cut it; 契約番号 inside 保証契約番号 is no works number."""
    read("工事名：令和8年度 工事番号123号線 道路改良工事",
         project_name="令和8年度 工事番号123号線 道路改良工事")
    read(f"保証契約番号：{NUMBER}　保証 契約番号：{NUMBER}",
         project_number=None, contract_number=NUMBER)
    read(f"工事名：{PROJECT} 受注者：{CONTRACTOR}", project_name=PROJECT,
         contractor_name=CONTRACTOR)


def test_a_blank_field_between_two_on_one_line() -> None:
    """A label followed directly by the next label is blank, on one line as on two."""
    read(f"工事名：　受注者名：{CONTRACTOR}", project_name=None, contractor_name=CONTRACTOR)
    read(f"保証契約番号：　認証キー：{KEY}", contract_number=None, auth_key=KEY)
    read(f"工事名：\n受注者名：{CONTRACTOR}", project_name=None, contractor_name=CONTRACTOR)


# --- 4. sentences -------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    (f"認証キーは {KEY} です", {"auth_key": KEY}),
    (f"保証契約番号は{NUMBER}です。", {"contract_number": NUMBER}),
    (f"なお、認証キーは、{KEY}となります。", {"auth_key": KEY}),
    (f"保証契約番号は{NUMBER}、認証キーは{KEY}です。",
     {"contract_number": NUMBER, "auth_key": KEY}),
    (f"認証キーは「{KEY}」です。", {"auth_key": KEY}),
    ("保証契約番号は ２６０４０１２３４５ でございます。", {"contract_number": NUMBER}),
    (f"閲覧用パスワードは {VIEW_PASSWORD} です。", {"view_password": VIEW_PASSWORD}),
    (f"閲覧用URLは {VIEW_URL} です。", {"view_url": VIEW_URL}),
    (f"工事名は「{PROJECT}」です。", {"project_name": PROJECT}),
])
def test_sentence_forms(text: str, expected: dict[str, str]) -> None:
    """「…は VALUE です」 gives the value; a name only when it is quoted."""
    read(text, **expected)


@pytest.mark.parametrize("text", [
    "認証キーは別途郵送いたします。",
    "認証キーは2026年4月1日付で発行されています。",  # a date, not a key
    "認証キーはPDFファイルをご確認ください。",
    "認証キーはExcelファイルに記載しております。",
    "この認証キーは AbCd1234 ではありません",  # "この": the label inside prose
    "保証契約番号は下記のとおりです。\n2604012345",  # the sentence goes on, no label by it
    "保証契約番号は10桁の数字です",
])
def test_sentences_about_a_code_give_none(text: str) -> None:
    """A sentence that talks about the key or number gives neither."""
    read(text, contract_number=None, auth_key=None)


@pytest.mark.parametrize("text", [
    "工事名は別紙のとおりです。",
    "受注者名は受注者さまにてご記入ください。",
    "工事名は件名に記載のとおり",
    "受注者名は株式会社山田建設です",  # a name in a sentence only when quoted
])
def test_sentences_about_a_name_give_none(text: str) -> None:
    """「工事名は…」 without quotes is running text, never a name."""
    read(text, project_name=None, contractor_name=None)


# --- 5. Office forms: header rows, label left, merged cells -------------------------------------

def workbook(rows: Sequence[Sequence[object]], merges: Sequence[str] = ()) -> bytes:
    """An .xlsx whose first sheet holds these rows from A1, with cells merged."""
    from openpyxl import Workbook  # noqa: PLC0415

    book = Workbook()
    sheet = book.active
    sheet.title = "発注者提出用"
    for row in rows:
        sheet.append(list(row))
    for cells in merges:
        sheet.merge_cells(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def word(rows: Sequence[Sequence[str]], merges: Sequence[tuple[int, int, int, int]] = (),
         paragraphs: Sequence[str] = ()) -> bytes:
    """A .docx with these paragraphs and one table of these rows (merges: r1, c1, r2, c2)."""
    from docx import Document  # noqa: PLC0415

    document = Document()
    for text in paragraphs:
        document.add_paragraph(text)
    table = document.add_table(rows=len(rows), cols=len(rows[0]))
    for r1, c1, r2, c2 in merges:
        table.cell(r1, c1).merge(table.cell(r2, c2))
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            if text:
                table.cell(r, c).text = text
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def office_fields(data: bytes, name: str) -> dict[str, str | None]:
    result = read_office(data, name)
    assert result.status is DocumentStatus.TEXT
    return fields(result.text)


FORM_HEADER = ["閲覧用URL", "閲覧用パスワード", "工事名", "受注者名", "証券番号"]
FORM_VALUES = [VIEW_URL, VIEW_PASSWORD, PROJECT, CONTRACTOR, POLICY]
FORM_READ = {"view_url": VIEW_URL, "view_password": VIEW_PASSWORD, "project_name": PROJECT,
             "contractor_name": CONTRACTOR, "policy_number": POLICY}


def test_xlsx_header_row_over_values() -> None:
    """The insurer's form with its labels in a header row and the values in the row below."""
    data = workbook([
        ["保証証券等確認システム 閲覧用情報のご案内（発注者提出用）"],
        [],
        FORM_HEADER,
        FORM_VALUES,
        [],
        ["※閲覧用パスワードは、証券等の追加アップロード時に変更されます。"],
    ])
    got = office_fields(data, "発注者提出用フォーマット.xlsx")
    assert {k: got[k] for k in FORM_READ} == FORM_READ


def test_xlsx_header_row_with_merged_cells_and_a_number_column() -> None:
    """Labels and values in merged cells of different widths, a 'No.' column on the left:
    each value is the one under its label's columns."""
    data = workbook(
        [
            ["No.", "保証契約番号", None, "認証キー", None, None, "工事名"],
            [1, NUMBER, None, KEY, None, None, PROJECT],
        ],
        merges=["B1:C1", "D1:F1", "B2:C2", "D2:E2"],
    )
    got = office_fields(data, "認証キー一覧.xlsx")
    assert (got["contract_number"], got["auth_key"], got["project_name"]) == (NUMBER, KEY, PROJECT)


def test_xlsx_two_header_blocks_one_under_the_other() -> None:
    """Two header-and-values pairs stacked give all four values."""
    data = workbook([
        ["閲覧用URL", "閲覧用パスワード"],
        [VIEW_URL, VIEW_PASSWORD],
        ["工事名", "受注者名"],
        [PROJECT, CONTRACTOR],
    ])
    got = office_fields(data, "form.xlsx")
    assert (got["view_url"], got["view_password"], got["project_name"],
            got["contractor_name"]) == (VIEW_URL, VIEW_PASSWORD, PROJECT, CONTRACTOR)


def test_xlsx_label_left_value_right_merged() -> None:
    """Labels in column B, values in C:E merged, two pairs on one row for some."""
    data = workbook(
        [
            [None, "工事名", PROJECT, None, None],
            [None, "【受注者名】", CONTRACTOR, None, None],
            [None, "閲覧用URL", VIEW_URL, "閲覧用パスワード", VIEW_PASSWORD],
        ],
        merges=["C1:E1", "C2:E2"],
    )
    got = office_fields(data, "form.xlsx")
    assert {k: got[k] for k in FORM_READ if k != "policy_number"} == {
        k: v for k, v in FORM_READ.items() if k != "policy_number"}


def test_xlsx_labels_spaced_or_with_colons() -> None:
    """Label cells written 工　事　名 or 受注者名： are labels all the same."""
    data = workbook([["工　事　名", PROJECT], ["受注者名：", CONTRACTOR],
                     ["閲 覧 用 パ ス ワ ー ド", VIEW_PASSWORD]])
    got = office_fields(data, "form.xlsx")
    assert (got["project_name"], got["contractor_name"], got["view_password"]) == (
        PROJECT, CONTRACTOR, VIEW_PASSWORD)


def test_xlsx_label_over_its_value_in_one_column() -> None:
    """A lone label with its value right below in the same column (a vertical form)."""
    data = workbook([["受注者名"], [CONTRACTOR], ["工事名"], [PROJECT]])
    got = office_fields(data, "form.xlsx")
    assert (got["contractor_name"], got["project_name"]) == (CONTRACTOR, PROJECT)


def test_xlsx_blank_name_above_the_forms_note_is_missing() -> None:
    """A blank 受注者名 cell followed by the form's printed note gives no contractor: the
    note (※..., ご記入のうえ...) is never a name."""
    data = workbook([
        ["閲覧用URL", VIEW_URL],
        ["閲覧用パスワード", VIEW_PASSWORD],
        ["工事名", PROJECT],
        ["受注者名", None],
        ["※閲覧用URL・工事名・受注者名は受注者さまにてご記入のうえ、発注者さまへご提出ください。"],
    ])
    got = office_fields(data, "form.xlsx")
    assert got["contractor_name"] is None
    assert got["project_name"] == PROJECT


def test_xlsx_blank_name_above_other_text_is_missing() -> None:
    """A blank last field followed by the insurer's name (in the label's column) or an
    instruction without ※ is blank, not that text."""
    footer = workbook([["工事名", PROJECT], ["受注者名", None],
                       ["損害保険ジャパン株式会社 東都支店"]])
    assert office_fields(footer, "form.xlsx")["contractor_name"] is None
    instruction = workbook([["受注者名", None],
                            ["受注者名・工事名を追記のうえご提出ください"]])
    assert office_fields(instruction, "form.xlsx")["contractor_name"] is None


def test_xlsx_header_row_with_blank_values() -> None:
    """Under a header row, an empty value cell is a blank field; its neighbours are read."""
    data = workbook([FORM_HEADER, [VIEW_URL, VIEW_PASSWORD, None, None, POLICY]])
    got = office_fields(data, "form.xlsx")
    assert (got["project_name"], got["contractor_name"]) == (None, None)
    assert (got["view_url"], got["view_password"], got["policy_number"]) == (
        VIEW_URL, VIEW_PASSWORD, POLICY)


def test_xlsx_header_row_without_values_is_blank() -> None:
    """A header row followed by a row of other labels, or by a note, has no values."""
    data = workbook([["工事名", "受注者名"], ["※受注者さまにてご記入ください"]])
    got = office_fields(data, "form.xlsx")
    assert (got["project_name"], got["contractor_name"]) == (None, None)


def test_docx_header_row_over_values() -> None:
    """The Word form with a header row over values; a paragraph note below the table."""
    data = word([FORM_HEADER, FORM_VALUES],
                paragraphs=["保証証券等確認システム 閲覧用情報のご案内（発注者提出用）"])
    got = office_fields(data, "発注者提出用フォーマット.docx")
    assert {k: got[k] for k in FORM_READ} == FORM_READ


def test_docx_merged_cells_across_and_down() -> None:
    """A label merged over two rows with its value beside it, a value merged across columns:
    each cell's text counts once."""
    rows = [["工事名", PROJECT, ""], ["", "", ""], ["受注者名", CONTRACTOR, ""]]
    data = word(rows, merges=[(0, 0, 1, 0), (0, 1, 0, 2), (2, 1, 2, 2)])
    got = office_fields(data, "form.docx")
    assert (got["project_name"], got["contractor_name"]) == (PROJECT, CONTRACTOR)


def test_docx_blank_name_cell_is_missing() -> None:
    """The Word form with a blank 受注者名 cell and the note as the table's last row."""
    rows = [["工事名", PROJECT], ["受注者名", ""],
            ["※受注者名は受注者さまにてご記入のうえ提出してください", ""]]
    got = office_fields(word(rows), "form.docx")
    assert (got["project_name"], got["contractor_name"]) == (PROJECT, None)


def test_table_lines_layouts() -> None:
    """What the layouts become: labels beside values, a blank field followed by an empty
    line, rows of values under one header each a group of their own."""
    assert table_lines([["保証契約番号", "認証キー"], [NUMBER, KEY], ["2604012399", "Xy"]]) == [
        f"保証契約番号 {NUMBER}", f"認証キー {KEY}", "",
        "保証契約番号 2604012399", "認証キー Xy",
    ]
    assert table_lines([["工事名", "", "受注者名", CONTRACTOR]]) == [
        "工事名", "", f"受注者名 {CONTRACTOR}"]
    assert table_lines([["", "発注者 御中"], ["工事名", "市道\n改良工事"]]) == [
        "発注者 御中", "工事名 市道 改良工事"]


def test_a_table_past_max_cells_is_read_row_by_row(monkeypatch: pytest.MonkeyPatch) -> None:
    """A table larger than any form (over MAX_CELLS cells) is its rows as they are."""
    from daemon import documents  # noqa: PLC0415

    monkeypatch.setattr(documents, "MAX_CELLS", 3)
    assert table_lines([["保証契約番号", "認証キー"], [NUMBER, KEY]]) == [
        "保証契約番号 認証キー", f"{NUMBER} {KEY}"]


def test_xlsx_form_mail_with_header_layout_is_routed(settings: Settings) -> None:
    """A confirmation mail whose xlsx form puts its labels in a header row is complete."""
    data = workbook([["保証証券等確認システム 閲覧用情報のご案内（発注者提出用）"],
                     [*FORM_HEADER, "保険会社名"],
                     [*FORM_VALUES, "損害保険ジャパン株式会社"]])
    raw = mails.build(
        from_=YAMADA.mailbox, to=parties.OFFICE_ADDRESS,
        subject="【電子保証】契約保証（保証証券等確認システム）",
        body="東都市 契約課 御中\n\n発注者提出用フォーマットを送付いたします。\n",
        attachments=[("発注者提出用フォーマット.xlsx", data, mails.XLSX)],
    )
    decision = _decide(raw, settings)
    assert (decision.kind.value, decision.verdict.value, decision.problems) == (
        "confirmation-system", "routed", ())
    assert decision.fields.contractor_name == CONTRACTOR


def test_xlsx_form_mail_with_a_blank_name_asks_for_it(settings: Settings) -> None:
    """The same mail with 受注者名 left blank above the form's note, and the contractor's
    name only in the signature and the display name: the name is missing."""
    data = workbook([
        ["閲覧用URL", VIEW_URL], ["閲覧用パスワード", VIEW_PASSWORD], ["工事名", PROJECT],
        ["受注者名", None], ["証券番号", POLICY], ["保険会社名", "損害保険ジャパン株式会社"],
        ["※閲覧用URL・工事名・受注者名は受注者さまにてご記入のうえ、発注者さまへご提出ください。"],
    ])
    raw = mails.build(
        from_=YAMADA.mailbox, to=parties.OFFICE_ADDRESS,
        subject="【電子保証】契約保証（保証証券等確認システム）",
        body=(f"東都市 契約課 御中\n\n発注者提出用フォーマットを送付いたします。\n\n"
              f"――――――――――\n{CONTRACTOR}\n工務部 山田 太郎\nTEL：048-555-0123\n"),
        attachments=[("発注者提出用フォーマット.xlsx", data, mails.XLSX)],
    )
    decision = _decide(raw, settings)
    assert decision.fields.contractor_name is None
    assert decision.problems == ("contractor-name-missing",)


# --- 6. HTML-only mails -------------------------------------------------------------------------

def html_mail(html: str, *, subject: str = "【電子保証】契約保証の認証キーについて",
              charset: str = "iso-2022-jp") -> bytes:
    """A mail with an HTML body and no text/plain part, as some webmail and phones send."""
    msg = EmailMessage()
    msg["From"] = f"{YAMADA.signature_name} {YAMADA.person} <{YAMADA.address_email}>"
    msg["To"] = parties.OFFICE_ADDRESS
    msg["Subject"] = subject
    msg["Date"] = "Mon, 06 Apr 2026 09:30:12 +0900"
    msg["Message-ID"] = f"<{abs(hash(html))}@yamada-kensetsu.example.co.jp>"
    msg.set_content(html, subtype="html", charset=charset)
    return msg.as_bytes(policy=SMTP)


OUTLOOK_TABLE = f"""<html><head>
<meta http-equiv=Content-Type content="text/html; charset=iso-2022-jp">
<style><!-- p.MsoNormal {{margin:0mm; font-family:"游ゴシック";}} --></style></head>
<body lang=JA><div class=WordSection1>
<p class=MsoNormal>東都市 財政局 契約課 御中<o:p></o:p></p>
<p class=MsoNormal><o:p>&nbsp;</o:p></p>
<p class=MsoNormal>契約保証の電子保証について、下記のとおりお知らせいたします。<o:p></o:p></p>
<table class=MsoTableGrid border=1 cellspacing=0 cellpadding=0>
 <tr>
  <td width=150 valign=top><p class=MsoNormal>保証契約番号<o:p></o:p></p></td>
  <td width=300 valign=top><p class=MsoNormal>{NUMBER}<o:p></o:p></p></td>
 </tr>
 <tr>
  <td width=150 valign=top><p class=MsoNormal>認証キー<o:p></o:p></p></td>
  <td width=300 valign=top><p class=MsoNormal>{KEY}<o:p></o:p></p></td>
 </tr>
 <tr>
  <td><p class=MsoNormal>工事名</p></td><td><p class=MsoNormal>{PROJECT}</p></td>
 </tr>
</table>
<p class=MsoNormal><o:p>&nbsp;</o:p></p>
<p class=MsoNormal>{CONTRACTOR}<br>工務部&nbsp;山田 太郎<o:p></o:p></p>
</div></body></html>"""


def test_html_only_outlook_table(settings: Settings) -> None:
    """An Outlook HTML mail with the values in a label | value table is routed."""
    mail = read_message(html_mail(OUTLOOK_TABLE))
    assert "p.MsoNormal" not in mail.body  # the style sheet is no text
    decision = decide(mail, settings)
    assert (decision.kind.value, decision.verdict.value, decision.problems) == (
        "dsure-key", "routed", ())
    assert (decision.fields.contract_number, decision.fields.auth_key,
            decision.fields.project_name) == (NUMBER, KEY, PROJECT)


def test_html_only_header_row_table_in_utf8(settings: Settings) -> None:
    """A webmail table with a header row over the values (th, then td), UTF-8."""
    html = ("<div dir=\"ltr\"><div>契約課 ご担当者様</div><div><br></div>"
            "<div>電子保証の認証キー等を送付します。</div>"
            "<table border=\"1\"><thead><tr><th>保証契約番号</th><th>認証キー</th>"
            "<th>保証の種類</th></tr></thead><tbody><tr><td>" + NUMBER + "</td><td>" + KEY
            + "</td><td>契約保証</td></tr></tbody></table></div>")
    decision = _decide(html_mail(html, charset="utf-8"), settings)
    assert (decision.verdict.value, decision.fields.contract_number,
            decision.fields.auth_key) == ("routed", NUMBER, KEY)


def test_html_gmail_divs_keep_a_value_below_its_label() -> None:
    """<div>label</div><div>value</div> is a value on the next line, not past an empty one;
    <div><br></div> is the one empty line."""
    html = (f"<div>認証キー：</div><div>{KEY}</div><div><br></div>"
            f"<div>保証契約番号：</div><div><br></div><div>{NUMBER}</div>")
    text = read_message(html_mail(html, charset="utf-8")).body
    assert text == f"認証キー：\n{KEY}\n\n保証契約番号：\n\n{NUMBER}"
    read(text, auth_key=KEY, contract_number=None)  # a blank line ends a field


def test_html_link_only_url() -> None:
    """A URL given only as a link's address: "こちら" and a URL shown shortened give way to
    the address; a named link keeps its name and gains the address."""
    href = VIEW_URL.replace("view?", "view?lang=ja&amp;")
    url = VIEW_URL.replace("view?", "view?lang=ja&")
    html = (f'<p>閲覧用URL：<a href="{href}">こちら</a><br>'
            f'閲覧用パスワード：{VIEW_PASSWORD}</p>')
    body = read_message(html_mail(html)).body
    read(body, view_url=url, view_password=VIEW_PASSWORD)
    shortened = f'<p>閲覧用URL：<a href="{href}">https://www.sonpo-hosyou-syouken.jp/…</a></p>'
    read(read_message(html_mail(shortened)).body, view_url=url)
    named = f'<p><a href="{href}">閲覧用URL</a></p>'
    read(read_message(html_mail(named)).body, view_url=url)


def test_html_charset_from_its_meta_tag() -> None:
    """An HTML part whose header names no charset is read by its <meta> tag's (EUC-JP
    here, which a guess would take for CP932)."""
    html = (f'<html><head><meta http-equiv="Content-Type" content="text/html; charset=EUC-JP">'
            f"</head><body>受注者名：{CONTRACTOR}<br>認証キー：{KEY}</body></html>")
    raw = (f"From: {YAMADA.address_email}\r\nTo: {parties.OFFICE_ADDRESS}\r\n"
           "Subject: =?UTF-8?B?6KqN6Ki844Kt44O8?=\r\nMIME-Version: 1.0\r\n"
           "Content-Type: text/html\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
           ).encode() + html.encode("euc_jp")
    read(read_message(raw).body, contractor_name=CONTRACTOR, auth_key=KEY)


def test_html_links_that_give_no_url() -> None:
    """A mailto link keeps its text; a link elsewhere without a label is no 閲覧用URL; a
    signature's company link is no contractor name."""
    html = ('<p>お問合せは<a href="mailto:t-yamada@example.jp">こちら</a>まで</p>'
            '<p>D-Sureは<a href="https://www.d-sure.jp/">こちら</a></p>'
            f'<p><a href="https://yamada-kensetsu.example.co.jp/">{CONTRACTOR}</a></p>')
    body = read_message(html_mail(html)).body
    read(body, view_url=None, contractor_name=None)
    assert "t-yamada@example.jp" not in body


@pytest.mark.parametrize("text", [
    "※保証証券等確認システム（https://www.sonpo-hosyou-syouken.jp/）にてご確認ください。",
    "保証証券等確認システム https://www.sonpo-hosyou-syouken.jp/ をご利用ください。",
    f"※閲覧用URLの例：{VIEW_URL}",
])
def test_no_viewing_url_from_a_note_or_the_top_page(text: str) -> None:
    """The system's top page, or a URL printed in a note, is no 閲覧用URL."""
    read(text, view_url=None)


def test_html_entities_and_breaks() -> None:
    """Entities are decoded (full-width colon, ideographic space, &amp;), <br> breaks lines,
    a source line break between Japanese words adds no blank."""
    html = ("<p>保証契約番号&#65306;" + NUMBER + "<br/>認証&#12288;キー&#xff1a;" + KEY
            + "</p><p>工事名：令和8年度 市道中央線\n道路改良工事</p>")
    body = read_message(html_mail(html, charset="utf-8")).body
    read(body, contract_number=NUMBER, auth_key=KEY, project_name=PROJECT)


def test_html_nested_layout_table() -> None:
    """A mail laid out in a one-cell table holding the values table: both read."""
    html = (f"<table><tr><td><p>下記のとおりです。</p><table><tr><td>保証番号</td>"
            f"<td>{NUMBER}</td></tr><tr><td>認証ｷｰ</td><td>{KEY}</td></tr></table>"
            f"<p>以上</p></td></tr></table>")
    body = read_message(html_mail(html, charset="utf-8")).body
    read(body, contract_number=NUMBER, auth_key=KEY)


def test_html_blank_cell_and_note_row() -> None:
    """A blank 受注者名 cell followed by a note row gives no name."""
    html = (f"<table><tr><td>工事名</td><td>{PROJECT}</td></tr><tr><td>受注者名</td><td></td>"
            "</tr><tr><td colspan=2>※受注者名は受注者さまにてご記入ください</td></tr></table>")
    body = read_message(html_mail(html, charset="utf-8")).body
    read(body, project_name=PROJECT, contractor_name=None)


# --- 7. a value wrapped onto the next line ------------------------------------------------------

def width(line: str) -> int:
    """Columns the line takes in a fixed-width mail client (Japanese characters two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)


def wrap(text: str, columns: int) -> str:
    """Hard-wrap each line at ``columns`` columns, as a mail client does on sending."""
    out = []
    for line in text.split("\n"):
        current = ""
        for char in line:
            if width(current + char) > columns:
                out.append(current)
                current = ""
            current += char
        out.append(current)
    return "\n".join(out)


@pytest.mark.parametrize("columns", [66, 70, 72, 74])
def test_a_url_wrapped_by_the_mail_client_is_read_whole(columns: int) -> None:
    """閲覧用URL：… longer than the client's wrap width, cut onto the next line: read whole."""
    text = wrap(f"閲覧用URL：{VIEW_URL}\n閲覧用パスワード：{VIEW_PASSWORD}", columns)
    assert text.count("\n") == 2  # the URL went over two lines
    read(text, view_url=VIEW_URL, view_password=VIEW_PASSWORD)


def test_an_unlabelled_system_url_wrapped_is_read_whole() -> None:
    """The system's URL pasted without its label and wrapped is read whole as well."""
    line = f"保証証券等確認システムの閲覧用のアドレスは次です。{VIEW_URL}"
    text = wrap(f"{line}\nよろしくお願いします。", 72)
    assert VIEW_URL not in text
    read(text, view_url=VIEW_URL)


def test_a_key_wrapped_at_the_wrap_width_is_read_whole() -> None:
    """A key in a long sentence line cut at 72 columns: the rest on the next line joins it."""
    line = f"お世話になっております。契約保証の電子保証について、認証キーは{KEY}です。"
    text = wrap(line, 72)
    assert KEY not in text
    read(text, auth_key=KEY)


@pytest.mark.parametrize("text", [
    f"認証キー：{KEY[:6]}\n{KEY[6:]}",  # a short line: a wrap, or two values?
    f"■認証キー\n{KEY[:7]}\n{KEY[7:]}",
    f"閲覧用URL：{VIEW_URL[:40]}\n{VIEW_URL[40:]}",
])
def test_a_value_that_may_go_on_is_not_read(text: str) -> None:
    """A value ending a short line, with a line of value characters after it, may be cut
    short: neither part is read (the daemon asks), never the first part as if whole."""
    got = fields(text)
    assert (got["auth_key"], got["view_url"]) == (None, None)


@pytest.mark.parametrize("after", [
    "", "\n", "\n\n以上", "\n2026年4月1日", "\n2026/04/10", "\n保証の種類：契約保証",
    "\n3.保証の種類",
    "\n工事名：市道", "\nよろしくお願いいたします。", "\n――――――――", "\nPW:Ab12Cd34",
])
def test_a_value_followed_by_its_next_line_is_whole(after: str) -> None:
    """What follows a value's line (a date, a label, prose, a rule) does not make it
    unclear: the value is read as it stands."""
    read(f"認証キー：{KEY}{after}", auth_key=KEY)
    read(f"閲覧用URL：{VIEW_URL}{after}", view_url=VIEW_URL)


def test_a_value_in_the_wrap_band_before_a_date_line_is_whole() -> None:
    """A URL line as long as a wrapped one, followed by a date: the date is its own line."""
    line = f"閲覧用URL：{VIEW_URL}"
    assert 64 <= width(line) <= 80
    read(f"{line}\n2026/04/10", view_url=VIEW_URL)


def test_a_value_unclear_in_the_text_part_is_read_from_the_html_copy() -> None:
    """Plain text and HTML of one mail: where the plain text may have cut the key, the
    HTML copy that gives it whole decides; a different later key decides nothing."""
    plain = f"認証キー：{KEY[:6]}\n{KEY[6:]}\n"
    read(plain + f"\n認証キー：{KEY}\n", auth_key=KEY)
    read(plain + f"\n認証キー：{KEY[:6]}\n", auth_key=None)
    read(plain + "\n認証キー：Xy12Zz34Ab56\n", auth_key=None)


def test_an_overlong_viewing_password_is_not_cut() -> None:
    """A 閲覧用パスワード longer than any (65 characters) is not read, not its first 64."""
    read("閲覧用パスワード：" + "Ab1" * 22 + "c", view_password=None)
    read("閲覧用パスワード：" + "Ab1" * 21 + "c", view_password="Ab1" * 21 + "c")


def test_a_wrapped_key_in_a_mail_asks_for_it(settings: Settings) -> None:
    """A mail whose 認証キー may be cut short gets no key: asked, never routed."""
    body = (f"契約課 御中\n\n契約保証の認証キーをお知らせします。\n保証契約番号：{NUMBER}\n"
            f"認証キー：{KEY[:5]}\n{KEY[5:]}\n\n{CONTRACTOR}\n")
    decision = _decide(_plain(body), settings)
    assert decision.fields.auth_key is None
    assert decision.verdict.value != "routed"
    assert "auth-key-missing" in decision.problems


# --- 8. never a guessed field -------------------------------------------------------------------

def test_no_name_from_a_signature_or_display_name(settings: Settings) -> None:
    """A typed key mail without 受注者名 or 工事名 labels: the signature, the display name and
    the subject's unlabelled words give neither."""
    body = (f"東都市 契約課 御中\n\n{CONTRACTOR}の山田です。契約保証の認証キー等です。\n"
            f"保証契約番号：{NUMBER}\n"
            f"認証キー：{KEY}\n\n――――――――――\n{CONTRACTOR}\n工務部 山田 太郎\n")
    raw = _plain(body, subject=f"【電子保証】第R8-土木-0123号 {PROJECT}")
    decision = _decide(raw, settings)
    assert (decision.fields.contractor_name, decision.fields.project_name,
            decision.fields.project_number) == (None, None, None)
    assert decision.verdict.value == "routed"


@pytest.mark.parametrize("text", [
    "受注者名\n※閲覧用URL・工事名・受注者名は受注者さまにてご記入のうえ、ご提出ください。",
    "受注者名：\n※受注者さまにてご記入ください",
    "受注者名：ご記入ください",
    "受注者名：(受注者さまにて記入)",
    "受注者名：別紙のとおり",
    "受注者名：同上",
    "受注者名：―",
    "受注者名：なし",
    "受注者名：\n\n株式会社山田建設",  # past an empty line
    "受注者名：\n工事名：市道改良工事",
    "【受注者名】【工事名】市道改良工事",
    "※受注者名：株式会社山田建設 (記入例)",
    "受注者名は受注者さまにてご記入のうえご提出ください",
])
def test_no_contractor_from_notes_blanks_or_instructions(text: str) -> None:
    """A blank field, a note or an instruction never gives a 受注者名."""
    assert fields(text)["contractor_name"] is None


@pytest.mark.parametrize(("text", "name"), [
    ("受注者名：\n株式会社山田建設", CONTRACTOR),  # the value on the next line (a PDF table)
    ("受注者名：株式会社山田建設 御中", CONTRACTOR),
    ("受注者名：ひまわり建設株式会社", "ひまわり建設株式会社"),
    ("受注者名：株式会社山田建設　※JV代表者", "株式会社山田建設　※JV代表者"),
])
def test_contractor_beside_its_label(text: str, name: str) -> None:
    """Beside the note cases: a name beside or under its label is read."""
    assert extract.contractor_name(normalize(text)) == normalize(name)


def test_a_key_notice_pdf_still_reads_every_field() -> None:
    """The guarantee companies' notices (values below their labels, notes with labels in
    them) keep giving every field and nothing from their notes."""
    for company in ("east", "west", "hokkaido"):
        data = pdfs.key_notice_pdf(company=company, contract_number=NUMBER, auth_key=KEY,
                                   guarantee_type="contract", project_name=PROJECT,
                                   contractor=CONTRACTOR, project_number="20260012345")
        text = read_message(mails.build(
            from_=YAMADA.mailbox, to=parties.OFFICE_ADDRESS, subject="認証キー", body="",
            attachments=[("notice.pdf", data, mails.PDF)])).attachments[0].text
        read(text, contract_number=NUMBER, auth_key=KEY, project_name=PROJECT,
             project_number="20260012345")


def test_a_blank_form_pdf_gives_no_name(settings: Settings) -> None:
    """The insurer's PDF form with 工事名 and 受注者名 blank, and a body that names neither
    beside a label: both missing, nothing taken from the notes."""
    data = pdfs.submission_form_pdf(insurer="sompo", policy_number=POLICY,
                                    view_password=VIEW_PASSWORD, view_url=VIEW_URL)
    raw = mails.build(from_=YAMADA.mailbox, to=parties.OFFICE_ADDRESS,
                      subject="【電子保証】発注者提出用フォーマット",
                      body=f"契約課 御中\n\nフォーマットを送付します。\n\n{CONTRACTOR}\n",
                      attachments=[("発注者提出用フォーマット.pdf", data, mails.PDF)])
    decision = _decide(raw, settings)
    assert (decision.fields.project_name, decision.fields.contractor_name) == (None, None)
    assert decision.problems == ("project-name-missing", "contractor-name-missing")


# --- 9. passwords for attached documents --------------------------------------------------------

@pytest.mark.parametrize(("body", "passwords"), [
    ("パスワード：Ab12Cd34", ["Ab12Cd34"]),
    ("パスワード Ab12Cd34", ["Ab12Cd34"]),
    ("PW：Ab12Cd34", ["Ab12Cd34"]),
    ("PW Ab12Cd34", ["Ab12Cd34"]),
    ("pw:ab12cd34", ["ab12cd34"]),
    ("Pass：Ab12Cd34", ["Ab12Cd34"]),
    ("PASS Ab12Cd34", ["Ab12Cd34"]),
    ("Password: Ab12Cd34", ["Ab12Cd34"]),
    ("P/W：Ab12Cd34", ["Ab12Cd34"]),
    ("解凍パスワード：Ab12Cd34", ["Ab12Cd34"]),
    ("開封パスワード　Ab12Cd34", ["Ab12Cd34"]),
    ("ZIPパスワード：Ab12Cd34", ["Ab12Cd34"]),
    ("ＺＩＰパスワード：Ａｂ１２Ｃｄ３４", ["Ab12Cd34"]),
    ("ﾊﾟｽﾜｰﾄﾞ：Ab12Cd34", ["Ab12Cd34"]),
    ("パスワードは「Ab12Cd34」です。", ["Ab12Cd34"]),
    ("パスワードは Ab12Cd34 となります。", ["Ab12Cd34"]),
    ("添付ファイルのパスワードは、Ab12Cd34です。", ["Ab12Cd34"]),
    ("パスワード（半角英数字）：Ab12Cd34（大文字・小文字を区別します）", ["Ab12Cd34"]),
    ("パスワード：Ab12#Cd34!", ["Ab12#Cd34!"]),
    ("【パスワード】\nAb12Cd34", ["Ab12Cd34"]),
    ("■解凍パスワード\n　Ab12Cd34", ["Ab12Cd34"]),
    ("ZIPパスワード：\nAb12Cd34", ["Ab12Cd34"]),
    ("パスワード：Ab12Cd34\n閲覧用パスワード：Xy98Zw76", ["Ab12Cd34"]),
])
def test_document_passwords_in_every_wording(body: str, passwords: list[str]) -> None:
    """Every way people give an attachment's password is read, full-width as ASCII."""
    assert extract.document_passwords(body) == passwords


@pytest.mark.parametrize("body", [
    "閲覧用パスワード：Xy98Zw76",
    "閲覧用 パスワード：Xy98Zw76",
    "閲覧パスワード Xy98Zw76",
    "閲覧用PW：Xy98Zw76",
    "閲覧用のパスワードは Xy98Zw76 です",
    "ワンタイムパスワード：123456",
    "パスワードは別途メールにてお送りいたします。",
    "パスワード付きZIPファイルにて送付します",
    "パスワード：Excelファイルと同じです",
    "パスワード：PDF",
    "パスワードは\nAb12Cd34",  # a sentence broken off: the next line is no value of it
    "Pass the file to the contract section",
    "パスワード：\n\nAb12Cd34",
    "パスワード：" + "Ab12" * 17,  # longer than any password: no part of it is
    "Ab12Cd34",  # alone on its line: tried elsewhere, not read here
])
def test_not_document_passwords(body: str) -> None:
    """The 閲覧用パスワード, a one-time password, sentences about a password and a word after
    the label are no document password."""
    assert extract.document_passwords(body) == []


@pytest.mark.parametrize("subject", [
    "電子保証認証キー：令和8年度 市道中央線道路改良工事",  # an office's subject format
    "【電子保証】令和8年度 市道中央線道路改良工事",
    "RE: 工事名の件",
])
def test_subject_words_are_no_fields(subject: str) -> None:
    """A subject that names the works without a label gives no 工事名 and no key."""
    read(subject, project_name=None, auth_key=None)


def test_a_header_line_over_two_value_lines_is_not_paired() -> None:
    """Labels over one line of as many values are paired; over two such lines (a list of
    guarantees) they are not, so no value goes to the wrong guarantee."""
    one = f"保証契約番号\t認証キー\n{NUMBER}\t{KEY}\n"
    read(one, contract_number=NUMBER, auth_key=KEY)
    two = f"保証契約番号　認証キー\n{NUMBER}　{KEY}\n2604012399　Xy12Zz34Ab56\n"
    read(two, contract_number=None, auth_key=None)
    prose = "工事名　受注者名\nご確認　ください\n"
    read(prose, project_name=None, contractor_name=None)


def test_a_password_follow_up_in_a_new_wording_opens_the_zip(settings: Settings) -> None:
    """An encrypted form's password given as 「解凍パスワードは『…』です」 in full-width opens
    the zip: the pair is read as one complete submission."""
    first = read_message(mails.confirmation_mail(form="xlsx", encrypt="zip-aes"))
    password = "Kk2604#tot"
    wide = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in password)
    follow = mails.build(from_=YAMADA.mailbox, to=parties.OFFICE_ADDRESS,
                         subject="【パスワード送付】", body=f"解凍パスワードは『{wide}』です。\n")
    both = read_message(first.raw, first.received_at,
                        passwords=extract.document_passwords(read_message(follow).body))
    assert all(a.status is DocumentStatus.TEXT for a in both.attachments)
    assert decide(both, settings).verdict.value == "routed"


# --- helpers ------------------------------------------------------------------------------------

def _plain(body: str, *, subject: str = "【電子保証】契約保証の認証キーについて") -> bytes:
    return mails.build(from_=YAMADA.mailbox, to=parties.OFFICE_ADDRESS, subject=subject,
                       body=body)


def _decide(raw: bytes, settings: Settings) -> Decision:
    return decide(read_message(raw), settings)


@pytest.mark.parametrize(("text", "view", "document"), [
    ("閲覧用パスワード：Pw2x9Qw01\n", "Pw2x9Qw01", []),
    ("閲覧用パスワード：Pass5678\n", "Pass5678", []),
    ("パスワード：Pass1234\n", None, ["Pass1234"]),
    ("（パスワード：Zx98Yw76Vu）\n", None, ["Zx98Yw76Vu"]),
    ("パスワード：(Ab12)Cd34\n", None, ["(Ab12)Cd34"]),
    ("Key-pw12345\n", None, []),
])
def test_a_value_that_begins_like_a_label_is_a_value(text: str, view: str | None,
                                                     document: list[str]) -> None:
    """A password starting with Pw or Pass after the colon is the value, not a new label;
    a closing bracket of an aside is no part of it."""
    assert extract.view_password(normalize(text)) == view
    assert extract.document_passwords(text) == document


@pytest.mark.parametrize(("text", "key"), [
    ("認証キー：Ab3d E5fG 7hJk\n", "Ab3dE5fG7hJk"),
    ("認証キー：Ab3d E5fG 7hJk です\n", "Ab3dE5fG7hJk"),
    ("認証キーは Ab3d E5fG 7hJk です。\n", "Ab3dE5fG7hJk"),
    ("認証キー：Ab3dE5fG7hJk abc\n", "Ab3dE5fG7hJk"),
    ("認証キー：Ab3dE5fG7hJk (大文字小文字を区別)\n", "Ab3dE5fG7hJk"),
])
def test_a_key_typed_in_groups_is_read_whole(text: str, key: str) -> None:
    """A key typed in groups of a few characters is read whole, never its first group
    alone (a cut key routed to staff looks complete)."""
    assert extract.auth_key(normalize(text)) == key
