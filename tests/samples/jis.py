"""ISO-2022-JP the way Microsoft Outlook (and Windows code page 50220) writes it.

Outlook does not use a strict JIS X 0208 encoder. It converts the text to CP932
(Microsoft's Shift_JIS) and then shifts every double-byte CP932 code into the
7-bit JIS range, whatever it is. The result is labelled ``iso-2022-jp`` but can
carry codes that JIS X 0208 never assigned:

* NEC special characters (CP932 row 13: ``①`` ``㈱`` ``№`` ``Ⅰ`` ...) come out
  as JIS row 13 (``ESC $ B`` ``0x2D21`` ...), which Python's strict
  ``iso2022_jp`` codec refuses to decode.
* NEC-selected IBM extensions (``髙`` ``ⅰ`` ...) come out as rows 89-92
  (``0x79xx``-``0x7Cxx``), also undecodable by the strict codec.
* CP932 mappings of compatibility characters (``～`` U+FF5E, ``－`` U+FF0D,
  ``∥`` U+2225, ``￢`` U+FFE2 ...) come out as the plain JIS X 0208 codes, so a
  strict decoder *does* decode them, but to the JIS X 0208 reference characters
  (``〜`` U+301C, ``−`` U+2212, ``‖`` U+2016, ``¬`` U+00AC): a silent change.
* Half-width katakana (``ｶﾞｲｼﾞ``) are converted to full-width before encoding,
  as Outlook does, so no ``ESC ( I`` runs appear.

Decoding it back correctly means undoing the shift (JIS -> Shift_JIS) and then
decoding as CP932; :func:`decode_outlook_iso2022jp` does exactly that.
"""

from __future__ import annotations

import base64
import functools
import re
import unicodedata
from collections.abc import Callable

ESC_JIS0208 = b"\x1b$B"
ESC_ASCII = b"\x1b(B"

_HALFWIDTH_KANA = re.compile("[\uff61-\uff9f]+")


def halfwidth_kana_to_fullwidth(text: str) -> str:
    """Convert runs of half-width katakana to full-width, composing voiced marks.

    ``ｶﾞｲｼﾞ`` becomes ``ガイジ`` and ``ｰ`` becomes ``ー``; everything else is
    left untouched (NFKC is applied to the katakana runs only, so full-width
    digits and ``㈱`` survive).
    """
    return _HALFWIDTH_KANA.sub(lambda m: unicodedata.normalize("NFKC", m.group()), text)


def sjis_to_jis(lead: int, trail: int) -> tuple[int, int]:
    """Shift a double-byte Shift_JIS code to its 7-bit JIS row/cell bytes."""
    row_pair = lead - 0x81 if lead <= 0x9F else lead - 0xC1
    if trail >= 0x9F:
        return row_pair * 2 + 0x22, trail - 0x7E
    return row_pair * 2 + 0x21, trail - 0x1F if trail < 0x7F else trail - 0x20


def jis_to_sjis(first: int, second: int) -> tuple[int, int]:
    """Shift a 7-bit JIS row/cell pair back to the Shift_JIS double-byte code."""
    lead = ((first - 0x21) >> 1) + 0x81
    if lead > 0x9F:
        lead += 0x40
    if first & 1:
        trail = second + 0x1F
        if trail >= 0x7F:
            trail += 1
    else:
        trail = second + 0x7E
    return lead, trail


@functools.cache
def _ibm_to_nec_selected() -> dict[bytes, bytes]:
    """Map CP932 IBM extension codes (0xFA40-0xFC4B) to NEC-selected ones (0xED40-0xEEFC).

    Rows 0xFA-0xFC shift beyond JIS row 94, so Windows writes their NEC-selected
    twins (JIS rows 89-92) instead. Python's CP932 encoder already prefers the
    NEC-selected codes; this table catches the rest.
    """

    def codes(first: int, last: int) -> dict[str, bytes]:
        table: dict[str, bytes] = {}
        for lead in range(first, last + 1):
            for trail in [*range(0x40, 0x7F), *range(0x80, 0xFD)]:
                raw = bytes((lead, trail))
                try:
                    table.setdefault(raw.decode("cp932"), raw)
                except UnicodeDecodeError:
                    continue
        return table

    nec = codes(0xED, 0xEE)
    return {raw: nec[ch] for ch, raw in codes(0xFA, 0xFC).items() if ch in nec}


def outlook_iso2022jp(text: str) -> bytes:
    """Encode ``text`` as Outlook does for a message labelled ISO-2022-JP.

    ``text`` -> half-width katakana widened -> CP932 bytes -> every double-byte
    code shifted to JIS and wrapped in ``ESC $ B`` ... ``ESC ( B`` runs.
    The result always ends in ASCII mode. Line endings are kept as given.

    Raises ``UnicodeEncodeError`` for characters CP932 cannot represent, and
    ``ValueError`` for CP932 user-defined characters (rows 0xF0-0xF9), which
    have no 7-bit form.
    """
    raw = halfwidth_kana_to_fullwidth(text).encode("cp932")
    out = bytearray()
    in_jis = False
    i = 0
    while i < len(raw):
        byte = raw[i]
        if byte < 0x80:
            if in_jis:
                out += ESC_ASCII
                in_jis = False
            out.append(byte)
            i += 1
            continue
        pair = raw[i : i + 2]
        if len(pair) != 2:
            raise ValueError(f"truncated CP932 sequence at byte {i}")
        pair = _ibm_to_nec_selected().get(pair, pair)
        if 0xF0 <= pair[0] <= 0xF9:
            raise ValueError(f"CP932 user-defined character {pair.hex()} has no ISO-2022-JP form")
        if not in_jis:
            out += ESC_JIS0208
            in_jis = True
        out += bytes(sjis_to_jis(pair[0], pair[1]))
        i += 2
    if in_jis:
        out += ESC_ASCII
    return bytes(out)


def decode_outlook_iso2022jp(data: bytes) -> str:
    """Decode Outlook-style ISO-2022-JP: JIS runs shifted back to Shift_JIS, then CP932.

    Understands ``ESC ( B`` / ``ESC ( J`` (ASCII / JIS-Roman), ``ESC $ B`` /
    ``ESC $ @`` (JIS X 0208) and ``ESC ( I`` (JIS X 0201 katakana).
    """
    out = bytearray()
    mode = "ascii"
    i = 0
    while i < len(data):
        if data[i] == 0x1B:
            seq = data[i : i + 3]
            if seq in (b"\x1b(B", b"\x1b(J"):
                mode = "ascii"
            elif seq in (b"\x1b$B", b"\x1b$@"):
                mode = "jis"
            elif seq == b"\x1b(I":
                mode = "kana"
            else:
                raise ValueError(f"unknown escape sequence {seq!r} at byte {i}")
            i += 3
            continue
        byte = data[i]
        if byte in (0x0A, 0x0D):
            out.append(byte)
            i += 1
        elif mode == "jis":
            out += bytes(jis_to_sjis(byte, data[i + 1]))
            i += 2
        elif mode == "kana":
            out.append(byte | 0x80)
            i += 1
        else:
            out.append(byte)
            i += 1
    return out.decode("cp932")


def b_encoded_words(
    text: str, *, label: str, encode: Callable[[str], bytes], limit: int = 75
) -> list[str]:
    """Split ``text`` into RFC 2047 B-encoded words of at most ``limit`` characters.

    Each word is encoded on its own (so each ISO-2022-JP word returns to ASCII
    at its end, as RFC 1468 requires) and never splits a character.
    """
    words: list[str] = []
    chunk = ""
    for ch in text:
        candidate = chunk + ch
        word = f"=?{label}?B?{base64.b64encode(encode(candidate)).decode('ascii')}?="
        if len(word) > limit and chunk:
            words.append(f"=?{label}?B?{base64.b64encode(encode(chunk)).decode('ascii')}?=")
            chunk = ch
        else:
            chunk = candidate
    if chunk or not words:
        words.append(f"=?{label}?B?{base64.b64encode(encode(chunk)).decode('ascii')}?=")
    return words


def outlook_header(text: str) -> str:
    """RFC 2047 value as Outlook writes it: ``=?iso-2022-jp?B?...?=`` words, folded.

    The words are joined with CRLF + space, ready to follow ``Subject: `` in a
    raw header block. ASCII-only text is returned unchanged.
    """
    if text.isascii():
        return text
    return "\r\n ".join(b_encoded_words(text, label="iso-2022-jp", encode=outlook_iso2022jp))
