"""Text out of attached documents: PDFs (pypdf first, PDFium as the fallback), and the
Office files contractors fill in (the 発注者提出用フォーマット as .xlsx or .docx, possibly
with an open password).

pypdf opens and decrypts; its text extraction misses the Japanese in many real PDFs (CID
fonts with odd or missing ToUnicode maps), so when its text holds no Japanese the same
document is read again with PDFium. A document that still yields no text is reported as
such (a scan), never guessed at.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass

import docx
import msoffcrypto
import openpyxl
import pypdfium2
from msoffcrypto.exceptions import DecryptionError, FileFormatError, InvalidKeyError
from pypdf import PdfReader
from pypdf.errors import DependencyError, DeprecationError, PyPdfError

from daemon.japanese import normalize
from daemon.model import DocumentStatus

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


def _decrypt(reader: PdfReader, passwords: list[str]) -> str | None:
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
OFFICE_SUFFIXES = (".xlsx", ".xlsm", ".docx")
MAX_CELLS = 20_000


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
        reader = _docx_text if filename.lower().endswith(".docx") else _xlsx_text
        text = reader(data)
    except Exception as err:  # noqa: BLE001 - the readers raise anything on broken files
        return Extracted(DocumentStatus.UNREADABLE, detail=f"corrupt file ({type(err).__name__})")
    if not text.strip():
        return Extracted(DocumentStatus.NO_TEXT, detail="no text")
    return Extracted(DocumentStatus.TEXT, normalize(text), extractor="office")


def _decrypt_office(data: bytes, passwords: list[str]) -> bytes | None:
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
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    lines: list[str] = []
    cells = 0
    try:
        for sheet in book.worksheets:
            # Read-only mode trusts the sheet's declared dimension, which some writers leave
            # at A1 however far the cells go; forget it and read every row there is.
            sheet.reset_dimensions()
            for row in sheet.iter_rows(values_only=True):
                values = [str(v).strip() for v in row if v is not None and str(v).strip()]
                cells += len(row)
                if values:
                    lines.append(" ".join(values))
                if cells > MAX_CELLS:
                    break
    finally:
        book.close()
    return "\n".join(lines)


def _docx_text(data: bytes) -> str:
    document = docx.Document(io.BytesIO(data))
    lines = [p.text for p in document.paragraphs if p.text.strip()]
    for table in document.tables:
        for row in table.rows:
            values: list[str] = []
            for cell in row.cells:
                text = cell.text.strip()
                if text and (not values or values[-1] != text):  # merged cells repeat
                    values.append(text)
            if values:
                lines.append(" ".join(values))
    return "\n".join(lines)
