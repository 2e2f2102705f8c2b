"""Text out of attached documents: PDFs (pypdf first, PDFium as the fallback), and the
Office files contractors fill in (the 発注者提出用フォーマット as .xlsx or .docx, possibly
with an open password).

pypdf opens and decrypts; its text extraction misses the Japanese in many real PDFs (CID
fonts with odd or missing ToUnicode maps), so when its text holds no Japanese the same
document is read again with PDFium. A document that still yields no text is reported as
such (a scan), never guessed at.
"""

from __future__ import annotations

import enum
import io
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING

from daemon.extract import is_label, is_note
from daemon.japanese import normalize
from daemon.model import DocumentStatus

# The document libraries are imported where a document needs them, not here: a command
# (classify, check-config) then starts without the ones its message never uses.
if TYPE_CHECKING:
    import pypdf

MAX_PAGES = 10  # submissions are one or two pages; a long PDF is read from its start
_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")

# pypdf logs every oddity of a broken PDF as a warning; the outcome is what matters here.
logging.getLogger("pypdf").setLevel(logging.ERROR)


@dataclass(frozen=True)
class Extracted:
    """What reading one document gave."""

    status: DocumentStatus
    text: str = ""
    detail: str = ""
    extractor: str = ""


def has_japanese(text: str) -> bool:
    """True when the text holds kana or kanji."""
    return bool(_JAPANESE.search(text))


def read_pdf(data: bytes, passwords: Iterable[str] = ()) -> Extracted:
    """Open a PDF (decrypting with the first password that works) and extract its text."""
    if not data.lstrip().startswith(b"%PDF"):
        return Extracted(DocumentStatus.UNREADABLE, detail="not a PDF file")
    from pypdf.errors import DependencyError, DeprecationError, PyPdfError  # noqa: PLC0415

    tried = ["", *passwords]
    try:
        reader = PdfReader(io.BytesIO(data))  # not strict (the default): real PDFs have flaws
        if reader.is_encrypted and _decrypt(reader, tried) is None:
            detail = "encrypted; the password given does not open it" if len(tried) > 1 else (
                "encrypted; no password given")
            return Extracted(DocumentStatus.ENCRYPTED, detail=detail)
        pages = reader.pages[:MAX_PAGES]
        text = "\n".join(page.extract_text() or "" for page in pages)
    except (PyPdfError, DependencyError, DeprecationError, ValueError, KeyError, TypeError,
            AttributeError, IndexError, RecursionError, NotImplementedError, OSError,
            AssertionError) as err:
        # pypdf raises its own errors (limits reached, missing decoders, deprecated
        # filters) and even AssertionError on malformed files.
        # pypdf failed to parse: PDFium is stricter in different places; try it.
        fallback = _read_pdfium(data, tried)
        if fallback is not None:
            return fallback
        return Extracted(DocumentStatus.UNREADABLE, detail=f"corrupt PDF ({type(err).__name__})")
    if has_japanese(text):
        return Extracted(DocumentStatus.TEXT, normalize(text), extractor="pypdf")
    fallback = _read_pdfium(data, tried)
    if fallback is not None and (has_japanese(fallback.text) or not text.strip()):
        return fallback
    if text.strip():
        return Extracted(DocumentStatus.TEXT, normalize(text), extractor="pypdf")
    return Extracted(DocumentStatus.NO_TEXT, detail="no text layer (a scan?)")


def PdfReader(stream: io.BytesIO) -> pypdf.PdfReader:  # noqa: N802 - stands for pypdf's class
    """pypdf's reader over ``stream``, pypdf imported on the first PDF (lazy, see the
    imports)."""
    from pypdf import PdfReader as Reader  # noqa: PLC0415

    return Reader(stream)


def _decrypt(reader: pypdf.PdfReader, passwords: list[str]) -> str | None:
    from pypdf.errors import PyPdfError  # noqa: PLC0415 - lazy, see the imports

    for password in passwords:
        try:
            if reader.decrypt(password):
                return password
        except (PyPdfError, ValueError, NotImplementedError, AssertionError):
            return None
    return None


def _read_pdfium(data: bytes, passwords: list[str]) -> Extracted | None:
    """PDFium's text (the passwords tried in turn), or None when it gives none: the callers
    only ever use PDFium's text, so why it gave none is pypdf's to say."""
    import pypdfium2  # noqa: PLC0415 - lazy, see the imports

    for password in passwords:
        try:
            doc = pypdfium2.PdfDocument(data, password=password or None)
        except pypdfium2.PdfiumError as err:
            if "password" in str(err).lower():
                continue
            return None
        try:
            parts = []
            for index in range(min(len(doc), MAX_PAGES)):
                page = doc[index]
                textpage = page.get_textpage()
                parts.append(textpage.get_text_range())
                textpage.close()
                page.close()
        except pypdfium2.PdfiumError:
            return None
        finally:
            doc.close()
        text = "\n".join(parts)
        if text.strip():
            return Extracted(DocumentStatus.TEXT, normalize(text), extractor="pdfium")
        return None
    return None


_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # encrypted OOXML is an OLE file
MAX_CELLS = 20_000


class OfficeFormat(enum.Enum):
    """How an Office file is stored, and whether :func:`read_office` reads it."""

    WORKBOOK = "workbook"  # Office Open XML spreadsheet: read with openpyxl
    DOCUMENT = "document"  # Office Open XML word-processing file: read with python-docx
    # Office Open XML not read: a template, a macro-enabled document (python-docx refuses
    # its content type), slides.
    OPEN_XML = "open-xml"
    BINARY = "binary"  # the older binary format (an OLE file, not a zip): not read

    @property
    def read(self) -> bool:
        """read_office reads it."""
        return self in (OfficeFormat.WORKBOOK, OfficeFormat.DOCUMENT)

    @property
    def zipped(self) -> bool:
        """Stored as a zip (an archive to read as a document, not to unpack)."""
        return self is not OfficeFormat.BINARY


# Every Office file the daemon knows, by suffix: the one list. The reader, the classifier
# (a policy sent as an Office file), the zip unpacker (zips that are documents), the
# secret finder (a file name's suffix) and the URL finder (not a top-level domain) all
# take theirs from it.
OFFICE_SUFFIXES: dict[str, OfficeFormat] = {
    ".xlsx": OfficeFormat.WORKBOOK,
    ".xlsm": OfficeFormat.WORKBOOK,
    ".docx": OfficeFormat.DOCUMENT,
    ".xltx": OfficeFormat.OPEN_XML,
    ".docm": OfficeFormat.OPEN_XML,
    ".dotx": OfficeFormat.OPEN_XML,
    ".pptx": OfficeFormat.OPEN_XML,
    ".pptm": OfficeFormat.OPEN_XML,
    ".xls": OfficeFormat.BINARY,
    ".doc": OfficeFormat.BINARY,
}


def office_format(filename: str) -> OfficeFormat | None:
    """The Office format a file name's suffix says (in any case); None for no Office file."""
    _, dot, suffix = filename.rpartition(".")
    return OFFICE_SUFFIXES.get(f".{suffix.lower()}") if dot else None


def read_office(data: bytes, filename: str, passwords: Iterable[str] = ()) -> Extracted:
    """Text of an .xlsx or .docx, decrypting an Office open password if one is given."""
    if data[:8] == _OLE_MAGIC:
        candidates = list(passwords)  # once: a generator given would be empty the second time
        plain = _decrypt_office(data, candidates)
        if plain is None:
            detail = "encrypted; the password given does not open it" if candidates else (
                "encrypted; no password given")
            return Extracted(DocumentStatus.ENCRYPTED, detail=detail)
        data = plain
    if not data.startswith(b"PK"):
        return Extracted(DocumentStatus.UNREADABLE, detail="not an Office file")
    try:
        document = office_format(filename) is OfficeFormat.DOCUMENT
        reader = _docx_text if document else _xlsx_text
        text = reader(data)
    except Exception as err:  # noqa: BLE001 - the readers raise anything on broken files
        return Extracted(DocumentStatus.UNREADABLE, detail=f"corrupt file ({type(err).__name__})")
    if not text.strip():
        return Extracted(DocumentStatus.NO_TEXT, detail="no text")
    return Extracted(DocumentStatus.TEXT, normalize(text), extractor="office")


def _decrypt_office(data: bytes, passwords: list[str]) -> bytes | None:
    import msoffcrypto  # noqa: PLC0415 - lazy, see the imports
    from msoffcrypto.exceptions import (  # noqa: PLC0415
        DecryptionError,
        FileFormatError,
        InvalidKeyError,
    )

    for password in passwords:
        try:
            office = msoffcrypto.OfficeFile(io.BytesIO(data))
            office.load_key(password=password)
            out = io.BytesIO()
            office.decrypt(out)
            return out.getvalue()
        except (DecryptionError, InvalidKeyError, FileFormatError, ValueError, KeyError,
                OSError):
            continue
    return None


def _xlsx_text(data: bytes) -> str:
    import openpyxl  # noqa: PLC0415 - lazy, see the imports

    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    lines: list[str] = []
    cells = 0
    try:
        for sheet in book.worksheets:
            # Read-only mode trusts the sheet's declared dimension, which some writers leave
            # at A1 however far the cells go; forget it and read every row there is.
            sheet.reset_dimensions()
            rows: list[list[str]] = []
            for row in sheet.iter_rows(values_only=True):
                rows.append([_cell_text(v) for v in row])
                cells += len(row)
                if cells > MAX_CELLS:
                    break
            lines += table_lines(rows)
    finally:
        book.close()
    return "\n".join(lines)


def _cell_text(value: object) -> str:
    return "" if value is None else str(value).strip()


def _docx_text(data: bytes) -> str:
    import docx  # noqa: PLC0415 - lazy, see the imports

    document = docx.Document(io.BytesIO(data))
    lines = [p.text for p in document.paragraphs if p.text.strip()]
    for table in document.tables:
        rows: list[list[str]] = []
        above: list[object] = []
        for row in table.rows:
            # Word's model repeats a merged cell in every grid column and row it covers:
            # the text counts in its first one, as in a workbook.
            tcs = [cell._tc for cell in row.cells]
            rows.append([
                "" if (j and tc is tcs[j - 1]) or (j < len(above) and tc is above[j])
                else cell.text.strip()
                for j, (tc, cell) in enumerate(zip(tcs, row.cells, strict=True))
            ])
            above = list(tcs)
        lines += table_lines(rows)
    return "\n".join(lines)


# Words that head a column of a table without being a field's label.
_COLUMN_HEADS = ("No", "No.", "NO.", "番号", "項目", "区分", "備考", "摘要")


def table_lines(rows: Sequence[Sequence[str]]) -> list[str]:
    """A table (rows of cell texts, a merged cell's text in its first cell) as lines of text
    whose labels sit beside their values, as the readers of :mod:`daemon.extract` expect.

    * A row of labels over rows of values (the header layout) gives one line per label
      and value, each row of values a group of its own; a value is what its label's
      columns (up to the next label's) hold in that row.
    * A row with labels and values (label left, value right) gives one line per label
      with the cells up to the next label; cells before the first label a line of their
      own. A row without labels is one line, its cells joined by a blank.
    * A label whose cells are empty is a blank field: its line is followed by an empty
      line, so what comes next is never read as its value.
    * A lone label over a value in its own column below is that value's label.
    """
    if sum(len(row) for row in rows) > MAX_CELLS:  # no form: its rows as they are
        return [" ".join(c for c in row if c) for row in rows if any(row)]
    lines: list[str] = []
    strict = any(_label_left(row) for row in rows)
    i = 0
    while i < len(rows):
        heads = _heads(rows[i])
        values = _value_rows(rows, i + 1, heads, strict=strict) if heads else []
        if values:
            for row in values:
                for k, (column, label) in enumerate(heads):
                    stop = heads[k + 1][0] if k + 1 < len(heads) else len(row)
                    lines += _field(label, [c for c in row[column:stop] if c])
                lines.append("")
            i += 1 + len(values)
            continue
        lines += _row_lines(rows[i])
        i += 1
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _heads(row: Sequence[str]) -> list[tuple[int, str]]:
    """The labels of a header row (every filled cell a label or a column heading, at least
    one a label) with their columns; none for any other row."""
    cells = [(j, text) for j, text in enumerate(row) if text]
    heads = [(j, text) for j, text in cells if is_label(text)]
    if len(heads) < len(cells) and any(t not in _COLUMN_HEADS for _, t in cells
                                       if not is_label(t)):
        return []
    return heads


def _label_left(row: Sequence[str]) -> bool:
    """True when a row holds a label with a value to its right (the label-left layout)."""
    filled = [text for text in row if text]
    return any(is_label(a) and not is_label(b) for a, b in pairwise(filled))


def _value_rows(rows: Sequence[Sequence[str]], start: int, heads: list[tuple[int, str]], *,
                strict: bool) -> list[Sequence[str]]:
    """The rows of values right under a header row: filled, with no label and no note,
    nothing left of the header's columns, and (under a lone label) starting in its column.

    In a table laid out label-left (``strict``), a label whose value cells are empty is a
    blank field: a lone label takes no value from below, and a row of labels takes only a
    row that fills two of their columns (not a footer under a row of blank fields)."""
    first = min(j for j, text in enumerate(rows[start - 1]) if text)
    spans = [(j, heads[k + 1][0] if k + 1 < len(heads) else 1 << 30)
             for k, (j, _) in enumerate(heads)]
    found: list[Sequence[str]] = []
    for row in rows[start:]:
        filled = [(j, text) for j, text in enumerate(row) if text]
        if not filled or filled[0][0] < first:
            break
        if any(is_label(t) or is_note(t) for _, t in filled):
            break
        if len(heads) == 1 and (strict or filled[0][0] != heads[0][0]):
            break
        if strict and sum(any(a <= j < b for j, _ in filled) for a, b in spans) < 2:
            break
        found.append(row)
        if len(heads) == 1:
            break  # a lone label has one value
    return found


def _row_lines(row: Sequence[str]) -> list[str]:
    """A row that is no header: one line per label and its values, the rest one line; a
    note in a cell (※...) ends the field before it and is a line of its own."""
    lines: list[str] = []
    label: str | None = None
    cells: list[str] = []

    def flush() -> None:
        if label:
            lines.extend(_field(label, cells))
        elif cells:
            lines.append(" ".join(cells))

    for text in (t for t in row if t):
        if is_label(text) or (label and is_note(text)):
            flush()
            label, cells = (text, []) if is_label(text) else (None, [text])
        else:
            cells.append(text)
    flush()
    return lines


def _field(label: str, values: list[str]) -> list[str]:
    """A label and its values on one line; a blank field followed by an empty line."""
    if not values:
        return [label, ""]
    return [" ".join([label, *(" ".join(v.split()) for v in values)])]
