"""Text out of attached documents: PDFs (pypdf first, PDFium as the fallback).

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

import pypdfium2
from pypdf import PdfReader
from pypdf.errors import PdfReadError

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
    if not data.lstrip()[:5].startswith(b"%PDF"):
        return Extracted(DocumentStatus.UNREADABLE, detail="not a PDF file")
    tried = ["", *passwords]
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        password: str | None = None
        if reader.is_encrypted:
            password = _decrypt(reader, tried)
            if password is None:
                detail = "encrypted; the password given does not open it" if len(tried) > 1 else (
                    "encrypted; no password given")
                return Extracted(DocumentStatus.ENCRYPTED, detail=detail)
        pages = reader.pages[:MAX_PAGES]
        text = "\n".join(page.extract_text() or "" for page in pages)
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError,
            RecursionError, NotImplementedError, OSError) as err:
        # pypdf failed to parse: PDFium is stricter in different places; try it.
        fallback = _read_pdfium(data, tried)
        if fallback.status is DocumentStatus.TEXT:
            return fallback
        return Extracted(DocumentStatus.UNREADABLE, detail=f"corrupt PDF ({type(err).__name__})")
    if has_japanese(text):
        return Extracted(DocumentStatus.TEXT, normalize(text), extractor="pypdf")
    fallback = _read_pdfium(data, [password or ""])
    if fallback.status is DocumentStatus.TEXT and (has_japanese(fallback.text) or not text.strip()):
        return fallback
    if text.strip():
        return Extracted(DocumentStatus.TEXT, normalize(text), extractor="pypdf")
    return Extracted(DocumentStatus.NO_TEXT, detail="no text layer (a scan?)")


def _decrypt(reader: PdfReader, passwords: list[str]) -> str | None:
    for password in passwords:
        try:
            if reader.decrypt(password):
                return password
        except (PdfReadError, ValueError, NotImplementedError):
            return None
    return None


def _read_pdfium(data: bytes, passwords: list[str]) -> Extracted:
    for password in passwords:
        try:
            doc = pypdfium2.PdfDocument(data, password=password or None)
        except pypdfium2.PdfiumError as err:
            if "password" in str(err).lower():
                continue
            return Extracted(DocumentStatus.UNREADABLE, detail="corrupt PDF (PDFium)")
        try:
            parts = []
            for index in range(min(len(doc), MAX_PAGES)):
                page = doc[index]
                textpage = page.get_textpage()
                parts.append(textpage.get_text_range())
                textpage.close()
                page.close()
        except pypdfium2.PdfiumError:
            return Extracted(DocumentStatus.UNREADABLE, detail="corrupt PDF (PDFium)")
        finally:
            doc.close()
        text = "\n".join(parts)
        if text.strip():
            return Extracted(DocumentStatus.TEXT, normalize(text), extractor="pdfium")
        return Extracted(DocumentStatus.NO_TEXT, detail="no text layer (a scan?)")
    return Extracted(DocumentStatus.ENCRYPTED, detail="encrypted; no password opens it")
