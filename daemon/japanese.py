"""Japanese text as it really arrives: JIS decoding, normalisation, era dates.

Pure functions only. Everything that matches labels or numbers works on text that went
through :func:`normalize` first, so full-width digits, half-width katakana and the many
hyphen look-alikes compare equal to their plain forms.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

_ESC = 0x1B

# Every dash a Japanese document or mail client puts between digits. NFKC leaves most of
# them alone (U+2212 MINUS SIGN, U+2010 HYPHEN, ...), so they are mapped explicitly.
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2043\ufe63\uff0d\u30fc\uff70\u2500"
_DASH_RE = re.compile(f"(?<=[0-9A-Za-z])[{_DASHES}](?=[0-9A-Za-z])")
_SPACE_RE = re.compile(r"[ \t\u3000\u00a0]+")

# A word typed letter-spaced, as form labels often are (保 証 契 約 番 号, 認　証　キ　ー,
# 閲 覧 用 U R L): three or more single kana, kanji or capital letters, one blank apart.
_KANA_KANJI = "\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff々〆"
_SPACED_LETTER = rf"[{_KANA_KANJI}A-Z](?![{_KANA_KANJI}A-Za-z0-9])"
_LETTER_SPACED_RE = re.compile(
    rf"(?<![{_KANA_KANJI}A-Za-z0-9]){_SPACED_LETTER}(?: {_SPACED_LETTER}){{2,}}"
)
_KANA_KANJI_RE = re.compile(f"[{_KANA_KANJI}]")


def normalize(text: str) -> str:
    """NFKC-normalise and map dashes between alphanumerics to an ASCII hyphen.

    Full-width digits and letters become ASCII, half-width katakana become full-width
    (認証ｷｰ -> 認証キー), and ２０２６－０１２３ becomes 2026-0123. Runs of blanks (also the
    ideographic space) fold to one ASCII space; line breaks are kept, as ``\n``. A
    letter-spaced word (保 証 契 約 番 号) is closed up, so labels compare equal however a form
    spaced them.
    """
    text = unicodedata.normalize("NFKC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _DASH_RE.sub("-", text)
    return _LETTER_SPACED_RE.sub(_close_up, _SPACE_RE.sub(" ", text))


def _close_up(m: re.Match[str]) -> str:
    """A letter-spaced run without its blanks; capitals alone (A B C) stay as they are."""
    run = m.group(0)
    if len(_KANA_KANJI_RE.findall(run)) < 2:
        return run
    return run.replace(" ", "")


def normalize_number(value: str) -> str:
    """A number as staff type it into D-Sure: NFKC, ASCII hyphens, no blanks."""
    value = normalize(value)
    value = re.sub(f"[{_DASHES}]", "-", value)
    return re.sub(r"\s+", "", value)


def decode_iso2022jp(data: bytes) -> str:
    """Decode ISO-2022-JP as Outlook and other Windows clients write it.

    Those clients label CP932 text as ISO-2022-JP: the NEC special characters (㈱, ①) and
    the NEC/IBM extensions sit in JIS rows that Python's strict ``iso2022_jp`` codec
    rejects. Each two-byte JIS run is converted to Shift_JIS and decoded as CP932, which
    holds all of them. Bytes that cannot be decoded raise ``UnicodeDecodeError``: a digit
    of a 保証契約番号 is never silently replaced.
    """
    out: list[str] = []
    mode = "ascii"
    i = 0
    n = len(data)
    while i < n:
        b = data[i]
        if b == _ESC:  # a sequence cut short by the end matches none below
            seq = data[i + 1 : i + 3]
            if seq in (b"$B", b"$@"):
                mode, i = "jis", i + 3
                continue
            if seq in (b"(B", b"(J"):
                mode, i = "ascii", i + 3
                continue
            if seq == b"(I":
                mode, i = "kana", i + 3
                continue
            if data[i + 1 : i + 4] == b"$(D":  # JIS X 0212 (補助漢字): not in CP932
                mode, i = "x0212", i + 4
                continue
        if b in (0x0D, 0x0A):
            # Line ends are allowed only in ASCII mode, but broken writers forget to switch
            # back; a line end always ends a double-byte run.
            out.append(chr(b))
            mode = "ascii" if mode in ("jis", "x0212") else mode
            i += 1
            continue
        if mode == "jis":
            if i + 1 >= n:
                raise UnicodeDecodeError("iso2022_jp", data, i, n, "truncated JIS character")
            out.append(_jis_pair_to_text(data, i))
            i += 2
            continue
        if mode == "x0212":
            out.append(_x0212_pair_to_text(data, i))
            i += 2
            continue
        if mode == "kana" and 0x21 <= b <= 0x5F:
            out.append(bytes([b + 0x80]).decode("cp932"))
            i += 1
            continue
        if b >= 0x80:
            raise UnicodeDecodeError("iso2022_jp", data, i, i + 1, "8-bit byte in 7-bit text")
        out.append(chr(b))
        i += 1
    return "".join(out)


def _x0212_pair_to_text(data: bytes, i: int) -> str:
    """One JIS X 0212 code (two bytes at ``data[i]``), through Python's ISO-2022-JP-2."""
    pair = data[i : i + 2]
    if len(pair) < 2 or not all(0x21 <= c <= 0x7E for c in pair):
        raise UnicodeDecodeError("iso2022_jp", data, i, i + 2, "byte outside JIS X 0212")
    try:
        return (b"\x1b$(D" + pair + b"\x1b(B").decode("iso2022_jp_2")
    except UnicodeDecodeError:
        raise UnicodeDecodeError("iso2022_jp", data, i, i + 2, "no JIS X 0212 character") from None


def _jis_pair_to_text(data: bytes, i: int) -> str:
    """One JIS X 0208 code (two bytes at ``data[i]``) as text, through Shift_JIS/CP932."""
    j1, j2 = data[i], data[i + 1]
    if not (0x21 <= j1 <= 0x7E and 0x21 <= j2 <= 0x7E):
        raise UnicodeDecodeError("iso2022_jp", data, i, i + 2, "byte outside JIS X 0208")
    s1 = (j1 + 1) // 2 + (0x70 if j1 <= 0x5E else 0xB0)
    s2 = j2 + (0x1F if j1 % 2 else 0x7E)
    if j1 % 2 and s2 >= 0x7F:
        s2 += 1
    try:
        return bytes([s1, s2]).decode("cp932")
    except UnicodeDecodeError as err:
        raise UnicodeDecodeError("iso2022_jp", data, i, i + 2, err.reason) from err


_CHARSET_ALIASES = {
    "iso-2022-jp": "iso2022jp-ms",
    "iso2022-jp": "iso2022jp-ms",
    "iso-2022-jp-ms": "iso2022jp-ms",
    "csiso2022jp": "iso2022jp-ms",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "ms_kanji": "cp932",
    "windows-31j": "cp932",
    "cp932": "cp932",
    "euc-jp": "euc_jis_2004",
    "x-euc-jp": "euc_jis_2004",
    "ks_c_5601-1987": "cp949",
    "gb2312": "gb18030",
    "gbk": "gb18030",
}


def decode_text(data: bytes, charset: str | None) -> str:
    """Decode a text part by its declared charset, Japanese labels done right.

    ``Shift_JIS`` is read as CP932 (what every Windows client writes), ``ISO-2022-JP`` with
    :func:`decode_iso2022jp`. An unknown or wrong label, or none, falls back to a guess
    among the JIS escape form (text with ESC sequences, as pre-MIME Japanese mail is),
    UTF-8, CP932 and EUC-JP; only when none fits strictly is text replaced, and then the
    caller sees the replacement character, never a silently different digit.
    """
    declared: list[str] = []
    if charset:
        label = charset.strip().strip('"').lower()
        declared.append(_CHARSET_ALIASES.get(label, label))
    for name in [*declared, "iso2022jp-ms", "utf-8", "cp932", "euc_jis_2004"]:
        try:
            if name == "iso2022jp-ms":
                if b"\x1b" not in data:
                    continue  # no escape sequence: the same as ASCII, read as UTF-8
                return decode_iso2022jp(data)
            return data.decode(name)
        except (UnicodeDecodeError, LookupError, ValueError):  # ValueError: a NUL in the label
            continue
    return data.decode(errors="replace")


# --- dates -------------------------------------------------------------------------------

_ERAS = {"令和": 2018, "平成": 1988, "昭和": 1925, "R": 2018, "H": 1988}
_DATE_RE = re.compile(
    r"(?P<era>令和|平成|昭和|R|H)?\s*(?P<y>元|\d{1,4})\s*(?:年|[./-])\s*(?P<m>\d{1,2})\s*"
    r"(?:月|[./-])\s*(?P<d>\d{1,2})\s*日?"
)


def parse_date(text: str) -> date | None:
    """The first date in normalised text: 令和8年4月1日, R8.4.1, 2026年4月1日, 2026/04/01."""
    for m in _DATE_RE.finditer(text):
        era = m.group("era")
        y_text = m.group("y")
        year = 1 if y_text == "元" else int(y_text)
        if era:
            if year > 99:
                continue
            year += _ERAS[era]
        elif year < 1900:
            continue
        try:
            return date(year, int(m.group("m")), int(m.group("d")))
        except ValueError:
            continue
    return None
