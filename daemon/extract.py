"""Labelled values out of normalised Japanese text: numbers, keys, names, URLs.

Pure functions over text that went through :func:`daemon.japanese.normalize`. A value is
read only from beside its label, so a number, a name or a note without one is never
picked up:

* A label opens a field where a field can start: at the start of a line, after a blank, a
  bullet, a bracket or an item number ("2.保証契約番号", "【認証キー】", "〈受注者名〉"), never
  inside running text ("この証券記載の保険契約者から..."), and only as a whole word: 受注者
  is not found in 受注者名 or 受注者さま, nor 契約番号 in 保証契約番号. A blank may stand
  between its characters (閲覧用 URL; letter-spaced labels are closed up by normalize).
* Its value is the rest of the line up to the next label on it ("保証契約番号：… 認証キー：…"),
  or, when nothing follows the label, the next line (as PDF tables put it), never past an
  empty line. A label followed by another label is a blank field.
* A sentence gives a code ("認証キーは AbCd1234 です"), a name only when quoted.
* Notes and instructions are never values: a line starting with ※ holds no field, and
  "…をご記入ください" is no name.
* A code or URL that runs to the end of its line may go on on the next one (a mail
  client's wrap): it is read whole when the first line evidently reached the wrap width,
  and not at all when that is unclear. A truncated value is never read.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from bisect import bisect_left
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from daemon.japanese import normalize, normalize_number, parse_date

# Labels, longest and most specific first within each field.
CONTRACT_NUMBER_LABELS = ("保証契約番号", "保証証書番号", "保証番号")
AUTH_KEY_LABELS = ("認証キー", "認証KEY", "認証key")
VIEW_URL_LABELS = ("閲覧用URL", "閲覧URL")
VIEW_PASSWORD_LABELS = ("閲覧用パスワード", "閲覧パスワード", "閲覧用PW")
PROJECT_NAME_LABELS = ("工事名", "工事件名", "件名(工事名)", "案件名", "委託業務名")
PROJECT_NUMBER_LABELS = ("工事番号", "施行番号", "仕様書番号", "案件番号", "契約番号")
CONTRACTOR_LABELS = ("受注者名", "受注者", "保険契約者", "保証契約者", "請負者", "商号又は名称")
POLICY_NUMBER_LABELS = ("証券番号",)
ISSUED_LABELS = ("証券発行日", "発行日", "作成日", "発行年月日")
# Labels of no field read here: they end the value before them and make a field blank.
OTHER_LABELS = (
    "保険会社名", "保険会社", "保証の種類", "保証種類", "保証会社", "発注者名", "発注者",
    "保証金額", "保険金額", "契約金額", "保証期間", "保険期間", "当初契約日", "契約締結日",
    "契約日", "工期", "工事場所", "履行場所", "担当者名", "担当者", "電話番号", "連絡先",
    "TEL", "FAX", "E-mail", "住所", "所在地", "代表者", "備考", "パスワード", "PW",
)
ALL_LABELS = (
    *CONTRACT_NUMBER_LABELS, *AUTH_KEY_LABELS, *VIEW_URL_LABELS, *VIEW_PASSWORD_LABELS,
    *PROJECT_NAME_LABELS, *PROJECT_NUMBER_LABELS, *CONTRACTOR_LABELS, *POLICY_NUMBER_LABELS,
    *ISSUED_LABELS, *OTHER_LABELS,
)

_CJK = "\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff々〆"
_KANJI_KATAKANA = re.compile("[\u30a0-\u30ff\u3400-\u9fff\uf900-\ufaff々〆]")

# A field starts at the start of the text or after a blank, a bullet, a bracket, a quote,
# punctuation or an item number; never inside a word.
_LEAD = r"(?<![^\s■□●○◆◇・※★☆◎▼▽▶→|*【\[(〈《「『<\"'】\])〉》」』>.:、,。0-9])"
_ANNOTATION = r"(?: ?\([^)\n]{0,20}\))?"  # 工事名(変更後), 保険契約者(受注者)
_QUOTES = "「『\"'"


def _label_pattern(label: str) -> str:
    """A label as a pattern: a blank allowed between its characters (閲覧用 URL, 認証 キー),
    and a label ending in a Latin letter never followed by another (PW is not PWC)."""
    # A Latin label (PW, Pass, URL) right after a colon is the start of a value
    # ("閲覧用パスワード：Pw2x9Qw01", "パスワード：Pass1234"), not a label.
    out = ["(?<![:=])"] if label[0].isascii() and label[0].isalpha() else []
    for here, after in zip(label, [*label[1:], ""], strict=True):
        out.append(re.escape(here))
        if after and not (here.isascii() and after.isascii()):
            out.append(" ?")
    if label[-1].isascii() and label[-1].isalpha():
        out.append("(?![A-Za-z])")
    return "".join(out)


def _key(label: str) -> str:
    return label.replace(" ", "").casefold()


class _Field(enum.StrEnum):
    """The field a label opens."""

    CONTRACT_NUMBER = "contract_number"
    AUTH_KEY = "auth_key"
    VIEW_URL = "view_url"
    VIEW_PASSWORD = "view_password"  # noqa: S105 - a field's name, not a secret
    PROJECT_NAME = "project_name"
    PROJECT_NUMBER = "project_number"
    CONTRACTOR = "contractor"
    POLICY_NUMBER = "policy_number"
    ISSUED = "issued"
    OTHER = "other"  # a field not read here


_FIELD_OF: dict[str, _Field] = {}
for _field, _field_labels in (
    (_Field.CONTRACT_NUMBER, CONTRACT_NUMBER_LABELS), (_Field.AUTH_KEY, AUTH_KEY_LABELS),
    (_Field.VIEW_URL, VIEW_URL_LABELS), (_Field.VIEW_PASSWORD, VIEW_PASSWORD_LABELS),
    (_Field.PROJECT_NAME, PROJECT_NAME_LABELS), (_Field.PROJECT_NUMBER, PROJECT_NUMBER_LABELS),
    (_Field.CONTRACTOR, CONTRACTOR_LABELS), (_Field.POLICY_NUMBER, POLICY_NUMBER_LABELS),
    (_Field.ISSUED, ISSUED_LABELS), (_Field.OTHER, OTHER_LABELS),
):
    for _label in _field_labels:
        _FIELD_OF.setdefault(_key(_label), _field)

_LABEL_RE = re.compile(
    rf"{_LEAD}(?P<label>"
    + "|".join(_label_pattern(x) for x in sorted(set(ALL_LABELS), key=len, reverse=True))
    + rf")(?=は|[^{_CJK}]|$)(?P<note>{_ANNOTATION})",
    re.I,
)
# What may stand between a label and its value on the label's line.
_AFTER_LABEL = re.compile(
    r"[\]】)〉》」』>\"'■◆★●]?[ ]*(?:(?P<sep>[:=])|(?P<wa>は)[、,]?)?[ ]*")
# What opens the next field at the end of a value: its bracket, bullet or item number.
_OPENER_CHARS = " 【[〈《「『<\"'■□●○◆◇・※★☆◎▼▽▶→|*/、,;"
_ITEM_NUMBER = re.compile(r"\(?\d{1,2}[).]\Z")
_NEXT_LINE = re.compile(r"[ ]*(?P<sep>[:=])?[ ]*")
_BLANKS = re.compile(r"[ ]*")
_NOTE_LINE = re.compile(r"[ ]*(?:※|\(注|注[):.]|【?注意)")  # a note, not a field


@dataclass(frozen=True)
class _Slot:
    """One labelled field: the text after its label, as far as its value can go."""

    field: _Field
    value: str  # the rest of the label's line up to the next label, or the next line
    start: int  # where the value starts in the text
    sentence: bool  # "認証キーは …": only a code or a quoted value counts
    text: str  # the text the slot is in (for reading a value wrapped onto the next line)


def _label_at(text: str, pos: int) -> re.Match[str] | None:
    return _LABEL_RE.match(text, pos)


def _strong(text: str, m: re.Match[str]) -> bool:
    """A label that opens a field, not a word in a value: followed by a separator, a blank,
    the line's end or a closing bracket (a quoted label 「工事名」 only by a separator)."""
    after = text[m.end():m.end() + 2]
    if _quoted(text, m):
        return after[:1] in ("」", "』", '"', "'") and after[1:2] in ("", "\n", ":", "=", " ")
    return after[:1] in ("", "\n", " ", ":", "=", "]", "】", ")", "〉", "》", ">", "■", "◆",
                         "★", "●", "は")


def _quoted(text: str, m: re.Match[str]) -> bool:
    return m.start() > 0 and text[m.start() - 1] in _QUOTES


def _labels(text: str) -> list[re.Match[str]]:
    """Every label that opens a field, outside note lines, in order."""
    found = []
    for m in _LABEL_RE.finditer(text):
        line_start = text.rfind("\n", 0, m.start()) + 1
        if _NOTE_LINE.match(text, line_start):
            continue
        if _quoted(text, m) and not _strong(text, m):
            continue  # 「工事名」「受注者名」を追記のうえ: words in a sentence
        found.append(m)
    return found


def _always(pattern: re.Pattern[str], text: str, pos: int) -> re.Match[str]:
    """The match of a pattern that matches anywhere (every part of it optional)."""
    m = pattern.match(text, pos)
    if m is None:  # never: a pattern of optional parts matches the empty string
        raise AssertionError(pattern.pattern)
    return m


def _line_end(text: str, pos: int) -> int:
    end = text.find("\n", pos)
    return len(text) if end == -1 else end


def _value_start(text: str, pos: int, *, alone: bool) -> tuple[int, bool] | None:
    """Where the value after a label (ending at ``pos``) starts, and whether the label opens
    a sentence; None for a blank field. The value is on the label's line, or on the next
    when nothing follows a label ``alone`` on its line ("label:" / "label" / "label\\n:"
    then the value), never past an empty line, never under a line of several labels."""
    m = _always(_AFTER_LABEL, text, pos)
    start = m.end()
    sentence = m.group("wa") is not None
    if text[start:start + 1] not in ("", "\n"):
        return start, sentence
    if sentence or not alone or start >= len(text):
        return None
    m2 = _always(_NEXT_LINE, text, start + 1)
    start = m2.end()
    if m2.group("sep") and m.group("sep") is None and text[start:start + 1] == "\n":
        start = _always(_BLANKS, text, start + 1).end()  # "2.保証契約番号\n:\n2604012345"
    if text[start:start + 1] in ("", "\n"):
        return None
    return start, False


@lru_cache(maxsize=64)
def _slots(text: str) -> tuple[_Slot, ...]:
    """Every labelled field of the text, in order (a header line of labels over a line of
    as many values read as label-value pairs)."""
    text = _columns(text)
    labels = _labels(text)
    strong = [m.start() for m in labels if _strong(text, m)]
    starts = [m.start() for m in labels]
    out = []
    for m in labels:
        field = _FIELD_OF.get(_key(m.group("label")), _Field.OTHER)
        first, last = text.rfind("\n", 0, m.start()) + 1, _line_end(text, m.start())
        alone = bisect_left(starts, last) - bisect_left(starts, first) == 1
        where = _value_start(text, m.end(), alone=alone)
        if where is None:
            out.append(_Slot(field, "", m.end(), False, text))
            continue
        start, sentence = where
        end = _line_end(text, start)
        after = bisect_left(strong, start)
        cut = min(end, strong[after]) if after < len(strong) else end
        value = text[start:cut]
        if cut < end:
            value = _without_opener(value)  # "… 【受注者名】", "… (2)認証キー", "… / 工事名"
        if _label_at(text, start + len(value) - len(value.lstrip("【[〈《「『<\"' ■・"))):
            value = ""  # the next label: this field is blank
        out.append(_Slot(field, value.rstrip(), start, sentence, text))
    return tuple(out)


def _without_opener(value: str) -> str:
    """A value cut before the next label, without that label's bracket, bullet or number."""
    while True:
        shorter = value.rstrip(_OPENER_CHARS)
        m = _ITEM_NUMBER.search(shorter)
        shorter = shorter[:m.start()] if m else shorter
        if shorter == value:
            return value
        value = shorter


def _columns(text: str) -> str:
    """A line of two or more labels over one line of as many blank-separated values
    (a table copied from a spreadsheet) as one line of label-value pairs."""
    lines = text.split("\n")
    changed = False
    for i in range(len(lines) - 1):
        labels = _header(lines[i])
        if len(labels) < 2:
            continue
        values = lines[i + 1].split()
        following = lines[i + 2].split() if i + 2 < len(lines) else []
        if len(values) != len(labels) or len(following) == len(labels):
            continue  # not one row of values: a list of several, or no table at all
        if any(_label_at(v, 0) for v in values):
            continue
        lines[i] = " ".join(f"{label}: {value}" for label, value in zip(labels, values,
                                                                           strict=True))
        lines[i + 1] = ""
        changed = True
    return "\n".join(lines) if changed else text


def _header(line: str) -> list[str]:
    """The labels of a line that holds nothing but labels (each maybe bracketed, with a
    colon), else none."""
    labels: list[str] = []
    pos = 0
    while pos < len(line):
        pos += len(line[pos:]) - len(line[pos:].lstrip(" 【[〈《■・"))
        m = _label_at(line, pos)
        if m is None:
            return [] if pos < len(line) else labels
        labels.append(m.group(0))
        pos = m.end() + len(line[m.end():]) - len(line[m.end():].lstrip("】]〉》:= "))
    return labels


def is_label(cell: str) -> bool:
    """True when a table cell holds a label and nothing else ("【工事名】", "認 証 キ ー：")."""
    text = normalize(cell).strip().strip("【[〈《■・*").strip()
    m = _label_at(text, 0)
    return m is not None and not text[m.end():].strip("】]〉》:= ")


def is_note(cell: str) -> bool:
    """True when a text is a note or an instruction (※…, …をご記入ください), never a value."""
    text = normalize(cell).strip()
    return bool(_NOTE_LINE.match(text)) or _instruction(text)


# --- codes: numbers, keys, passwords, URLs ---------------------------------------------------

_NUMBER = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{3,39}")
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{3,63}")
_PASSWORD = re.compile(r"[!-~]+?(?=[\"'」』]?(?:[ \n]|$|[^\x00-\x7f]|\((?=[^\x00-\x7f])))")
_URL = re.compile(r"https?://[A-Za-z0-9\-._~:/?#\[\]@!$&*+,;=%]+", re.I)
_URL_END = ".,;:!?"
_SITE_ROOT = re.compile(r"https?://[^/?#]+/?\Z", re.I)  # the system's top page: no 閲覧用URL
_CODE_CHARS = re.compile(r"[A-Za-z0-9-]+")
_URL_CHARS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&*+,;=%]+")
# After a value wrapped onto the next line, that line may end a sentence.
_SENTENCE_END = re.compile(r"(?:[。、」』\"')\]】]|です|でした|でございます|となり|になり|$)")
# Mail clients wrap at 72 to 76 columns by default (a Japanese character two), some count
# characters: a line of 64 to 80 was cut there, a shorter one ended where its writer did.
WRAP_COLUMNS = (64, 80)


# A code typed in short groups with single blanks, and nothing else on the line after it.
_GROUPED = re.compile(r"[A-Za-z0-9]{2,6}(?: [A-Za-z0-9]{2,6}){1,5}(?=[ ]*(?:\n|$|[^\x00-\x7f]))")


def _code(slot: _Slot, pattern: re.Pattern[str], chars: re.Pattern[str]) -> tuple[str, bool]:
    """The code at the start of the slot's value ("" when there is none), and whether it is
    whole: False when it may go on on the next line and that is unclear."""
    value = slot.value
    lead = len(value) - len(value.lstrip(_QUOTES + "<"))
    m = pattern.match(value, lead)
    if m is None:
        return "", True
    after = value[m.end():]
    if after and _KANJI_KATAKANA.match(after) and pattern is not _URL:
        return "", True  # part of a word or a date ("2026年", "PDFファイル")
    code = m.group(0)
    if pattern is _URL:
        code = code.rstrip(_URL_END)
        if len(code) < len(m.group(0)):
            return code, True
    grouped = _GROUPED.match(value, lead)
    if pattern is not _URL and grouped and grouped.end() > m.end():
        # Typed in groups ("Ab3d E5fG 7hJk"): the whole, never the first group alone.
        return grouped.group(0).replace(" ", ""), True
    if after or slot.start + m.end() != _line_end(slot.text, slot.start):
        return code, True
    rest = _wrapped_rest(slot.text, slot.start + m.end(), chars)
    return (code, False) if rest is None else (code + rest, True)


def _wrapped_rest(text: str, end: int, chars: re.Pattern[str]) -> str | None:
    """What of a value ending its line at ``end`` goes on on the next line: "" when it does
    not, the rest when the line was cut at the wrap width, None when it may or may not."""
    if end >= len(text):
        return ""
    line = text[text.rfind("\n", 0, end) + 1:end]
    nxt = text[end + 1:_line_end(text, end + 1)]
    m = chars.match(nxt)
    if m is None or _label_at(nxt, 0) or nxt[:4].lower() == "http":
        return ""
    if not _SENTENCE_END.match(nxt, m.end()) or parse_date(m.group(0)):
        return ""  # the next line's own word: "2026年4月1日", "3.認証キー", "2026/04/10"
    if not _cut_at_wrap(line):
        return None
    if m.end() < len(nxt):
        return m.group(0)
    more = _wrapped_rest(text, end + 1 + m.end(), chars)
    return None if more is None else m.group(0) + more


def _cut_at_wrap(line: str) -> bool:
    low, high = WRAP_COLUMNS
    columns = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)
    return low <= columns <= high or low <= len(line) <= high


def _first_code(text: str, field: _Field, pattern: re.Pattern[str],
                chars: re.Pattern[str] = _CODE_CHARS,
                valid: Callable[[str], str] = str) -> tuple[str | None, bool]:
    """The first labelled field's code, and whether any was labelled at all.

    A blank field or a word is skipped. A value that may be cut short is read only when
    the same text gives it whole further on (the HTML copy of a wrapped plain-text body);
    any other value after it is another's, and nothing is read."""
    prefix: str | None = None
    for slot in _slots(text):
        if slot.field != field or not slot.value:
            continue
        code, whole = _code(slot, pattern, chars)
        code = valid(code) if code else ""
        if not code:
            continue
        if prefix is None and whole:
            return code, True
        if prefix is None:
            prefix = code
        elif whole and code.startswith(prefix) and len(code) > len(prefix):
            return code, True
        else:
            return None, True
    return None, prefix is not None


def contract_number(text: str) -> str | None:
    """The 保証契約番号, normalised (ASCII digits and hyphens)."""
    value, _ = _first_code(text, _Field.CONTRACT_NUMBER, _NUMBER)
    return normalize_number(value) if value else None


def auth_key(text: str) -> str | None:
    """The 認証キー as printed (letters keep their case)."""
    value, _ = _first_code(text, _Field.AUTH_KEY, _KEY)
    return normalize_number(value) if value else None


def _password(code: str) -> str:
    code = code.strip(_QUOTES)
    return code if 4 <= len(code) <= 64 else ""


def view_password(text: str) -> str | None:
    """The 閲覧用パスワード."""
    return _first_code(text, _Field.VIEW_PASSWORD, _PASSWORD, valid=_password)[0]


def view_url(text: str, hosts: Iterable[str]) -> str | None:
    """The 閲覧用URL: beside its label, else a URL on the confirmation system's host that
    leads somewhere (not its top page) outside a note. A URL wrapped onto the next line is
    read whole, or not at all when that is unclear."""
    url, labelled = _first_code(text, _Field.VIEW_URL, _URL, _URL_CHARS)
    if labelled:
        return url
    for m in _URL.finditer(text):
        url = m.group(0).rstrip(_URL_END)
        if _NOTE_LINE.match(text, text.rfind("\n", 0, m.start()) + 1):
            continue  # a form's printed note: "※保証証券等確認システム（https://…）"
        rest: str | None = ""
        if len(url) == len(m.group(0)) and m.end() == _line_end(text, m.start()):
            rest = _wrapped_rest(text, m.end(), _URL_CHARS)  # its host may be cut, too
        if rest is None and url_on_hosts(url, hosts):
            return None
        if rest is not None and url_on_hosts(url + rest, hosts) and not _SITE_ROOT.match(
                url + rest):
            return url + rest
    return None


def url_on_hosts(url: str, hosts: Iterable[str]) -> bool:
    """True when the URL's host is one of ``hosts`` or a subdomain of one."""
    m = re.match(r"https?://([^/:?#\s]+)", url, re.I)
    if not m:
        return False
    return host_in(m.group(1), hosts)


def host_in(host: str, domains: Iterable[str]) -> bool:
    """True when ``host`` is one of ``domains`` or a subdomain of one (case-insensitive)."""
    host = host.lower().rstrip(".")
    return any(host == d.lower() or host.endswith("." + d.lower()) for d in domains)


def policy_number(text: str) -> str | None:
    """The insurer's 証券番号."""
    value, _ = _first_code(text, _Field.POLICY_NUMBER, _NUMBER)
    return normalize_number(value) if value else None


# --- names: the rest of the line ---------------------------------------------------------------

# Words of an instruction or a reference, never of a name: "ご記入ください", "別紙のとおり".
_INSTRUCTION = re.compile(
    r"ください|下さい|記入|入力|追記|のとおり|の通り|別紙|下記|上記|添付|参照|お願い|ご確認"
    r"|未定|未記入|空欄|同上"
)
_PLACEHOLDER = re.compile(r"[-ー―—−_×/・.]*|なし|無し|N/?A", re.I)
_PROSE_START = re.compile("[をがにへやも]")


def _instruction(value: str) -> bool:
    return bool(_INSTRUCTION.search(value))


def _clean_name(value: str) -> str | None:
    value = re.sub(r"\s+https?://\S*$", "", value.strip())  # a link's address after its text
    value = re.sub(r"\s*(御中|様|殿)\s*$", "", value)
    value = value.strip(" 「」『』\"'")
    if not value or _PLACEHOLDER.fullmatch(value) or _instruction(value):
        return None
    if _NOTE_LINE.match(value) or _PROSE_START.match(value):
        return None
    return value


def _line_value(slot: _Slot) -> str | None:
    """A name-like value: the slot's text, or in a sentence only what is quoted."""
    if slot.sentence:
        m = re.match(r"[「『]([^」』\n]+)[」』]", slot.value)
        return _clean_name(m.group(1)) if m else None
    return _clean_name(slot.value)


def _first_line_value(text: str, field: _Field) -> str | None:
    for slot in _slots(text):
        if slot.field == field and slot.value:
            value = _line_value(slot)
            if value:
                return value
    return None


def project_name(text: str) -> str | None:
    """The 工事名, the rest of its line."""
    return _first_line_value(text, _Field.PROJECT_NAME)


def project_number(text: str) -> str | None:
    """The 工事番号 (or 施行番号, 仕様書番号, ...), as written, up to the next blank."""
    for slot in _slots(text):
        if slot.field is not _Field.PROJECT_NUMBER or not slot.value:
            continue
        m = re.match(r"[「『\"']?((?:第)?[A-Za-z0-9][^\s「」『』\"']{0,39})", slot.value)
        if m:
            return re.sub("[\u3040-\u309f。、,.]+$", "", m.group(1))  # "…です。"
    return None


def contractor_name(text: str) -> str | None:
    """The 受注者名 (or 保険契約者, 請負者, ...) beside its label."""
    return _first_line_value(text, _Field.CONTRACTOR)


def issued_on(text: str) -> date | None:
    """The policy's issue date (証券発行日, 発行日, 作成日)."""
    for slot in _slots(text):
        if slot.field is _Field.ISSUED and slot.value:
            when = parse_date(slot.value)
            if when:
                return when
    return None


# --- passwords for attached documents -----------------------------------------------------------

# パスワード however prefixed (解凍, 開封, ZIP, 添付ファイルの ...), PW, PASS, Password;
# never the 閲覧用パスワード nor a one-time login password.
_PASSWORD_LABEL = (
    r"(?<!閲覧用)(?<!閲覧用 )(?<!閲覧用の)(?<!閲覧)(?<!閲覧 )(?<!ワンタイム)(?<!ワンタイム )"  # noqa: S105
    r"(?:パスワード|パスワ-ド|(?<![A-Za-z0-9:=_-])(?:password|passcode|pass|pwd|pw|p/w)(?![A-Za-z]))"
)
_DOCUMENT_PASSWORD_RE = re.compile(
    rf"{_PASSWORD_LABEL}{_ANNOTATION}[ ]*[\]】)〉》>]?[ ]*"
    r"(?:(?P<sep>[:=])|(?P<wa>は)[、,]?)?[ ]*(?P<nl>\n[ ]*(?:[:=][ ]*)?)?"
    r"(?P<open>[「『\"'“‘]?)(?P<value>[!-~]+?)[」』\"'”’]?"
    r"(?=[ \n]|$|[^\x00-\x7f]|\((?=[^\x00-\x7f]))",
    re.I,
)


def document_passwords(text: str) -> list[str]:
    """Passwords given for an attached document (not the 閲覧用パスワード), once each.

    Beside any of their labels (パスワード, 解凍パスワード, ZIPパスワード, PW, PASS, ...), with
    or without a colon, in a sentence ("パスワードは「Ab12Cd34」です") or on the line after a
    label that stands alone. Full-width characters are read as ASCII.
    """
    seen: list[str] = []
    text = normalize(text)
    for m in _DOCUMENT_PASSWORD_RE.finditer(text):
        value = m.group("value").strip("「」『』\"'“”‘’。、")
        if value.endswith(")") and "(" not in value:
            value = value[:-1]  # "（パスワード：Zx98Yw76Vu）": the bracket closes the aside
        if not _document_password(text, m, value):
            continue
        if value not in seen:
            seen.append(value)
    return seen


def _document_password(text: str, m: re.Match[str], value: str) -> bool:
    """A value beside a password label is one unless it is too short, part of a word
    ("Excelファイル"), or, after a Latin label and a blank alone, has no digit ("Pass the")."""
    if len(value) < 4 or len(value) > 64:
        return False
    if m.group("nl") is not None and m.group("wa") is not None:
        return False  # "パスワードは\n…": a sentence goes on, the next line is no value
    after = text[m.end():m.end() + 1]
    if after and _KANJI_KATAKANA.match(after) and not m.group("open"):
        return False
    separated = m.group("sep") or m.group("wa") or m.group("nl") or m.group("open")
    latin_label = m.group(0)[:1].isascii()
    return bool(separated) or not latin_label or any(c.isdigit() for c in value)
