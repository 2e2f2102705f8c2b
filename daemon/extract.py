"""Labelled values out of normalised Japanese text: numbers, keys, names, URLs.

Pure functions over text that went through :func:`daemon.japanese.normalize`. A value is
taken from beside its label (same line, or the next line where a PDF table put it), so a
number that appears without its label is never picked up by accident.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date

from daemon.japanese import normalize, normalize_number, parse_date

# Between a label and its value: a closing bracket, blanks, a colon (or は), at most two
# line breaks (PDF tables often put the colon and the value on lines of their own), an
# opening quote.
_SEP = r"[\]】)）]?[ \t]*(?:\n[ \t]*)?(?:[:：=]|は)?[ \t]*(?:\n[ \t]*)?[「『\"]?[ \t]*"

# Labels, longest and most specific first. A label never matches inside a longer word:
# 契約番号 is not found in 保証契約番号, nor パスワード in 閲覧用パスワード.
CONTRACT_NUMBER_LABELS = ("保証契約番号", "保証証書番号", "保証番号")
AUTH_KEY_LABELS = ("認証キー", "認証KEY", "認証key")
VIEW_URL_LABELS = ("閲覧用URL", "閲覧URL")
VIEW_PASSWORD_LABELS = ("閲覧用パスワード", "閲覧パスワード", "閲覧用PW")
PROJECT_NAME_LABELS = ("工事名", "工事件名", "件名(工事名)", "案件名", "委託業務名")
PROJECT_NUMBER_LABELS = ("工事番号", "施行番号", "仕様書番号", "案件番号", "契約番号")
CONTRACTOR_LABELS = ("受注者名", "受注者", "保険契約者", "保証契約者", "請負者", "商号又は名称")
POLICY_NUMBER_LABELS = ("証券番号",)
ISSUED_LABELS = ("証券発行日", "発行日", "作成日", "発行年月日")
ALL_LABELS = (
    *CONTRACT_NUMBER_LABELS, *AUTH_KEY_LABELS, *VIEW_URL_LABELS, *VIEW_PASSWORD_LABELS,
    *PROJECT_NAME_LABELS, *PROJECT_NUMBER_LABELS, *CONTRACTOR_LABELS, *POLICY_NUMBER_LABELS,
    *ISSUED_LABELS, "保険会社名", "保険会社", "保証の種類", "保証会社", "発注者",
)

# A label starts a field: at the start of a line or after a blank, a bullet, a bracket or
# an item number ("2.保証契約番号", "【認証キー】"), never inside running text ("この証券記載の
# 保険契約者から..."); and it is a whole word: 受注者 is not found in 受注者名 or 受注者さま.
_LEAD = r"(?<![^\s■□●○◆◇・※【\[(（.．:：、,0-9])"
_TAIL = r"(?![\u3040-\u30ff\u3400-\u9fff])"

_NUMBER = r"([A-Za-z0-9][A-Za-z0-9-]{3,39})"
_KEY = r"([A-Za-z0-9][A-Za-z0-9-]{3,63})"
_URL = r"(https?://[^\s<>\"'「」()（）]+)"
_LINE_VALUE = r"([^\n]{1,120})"

def _labelled(text: str, labels: Iterable[str], value: str) -> list[str]:
    found: list[str] = []
    for label in labels:
        pattern = re.compile(
            rf"{_LEAD}(?:{re.escape(label)}){_TAIL}"
            rf"(?:\s*\([^)\n]{{0,20}}\))?{_SEP}{value}",
            re.I,
        )
        for m in pattern.finditer(text):
            got = m.group(1).strip()
            if not _is_label(got):
                found.append(got)
    return found


def _first(values: list[str]) -> str | None:
    return values[0] if values else None


def _is_label(value: str) -> bool:
    """True when a "value" is really the next label (the field was left blank)."""
    return value.startswith((*ALL_LABELS, ")"))


def contract_number(text: str) -> str | None:
    """The 保証契約番号, normalised (ASCII digits and hyphens)."""
    return _first([normalize_number(v) for v in _labelled(text, CONTRACT_NUMBER_LABELS, _NUMBER)])


def auth_key(text: str) -> str | None:
    """The 認証キー as printed (letters keep their case)."""
    return _first([normalize_number(v) for v in _labelled(text, AUTH_KEY_LABELS, _KEY)])


def view_password(text: str) -> str | None:
    """The 閲覧用パスワード."""
    return _first(_labelled(text, VIEW_PASSWORD_LABELS, r"([!-~]{4,64})"))


def view_url(text: str, hosts: Iterable[str]) -> str | None:
    """The 閲覧用URL: beside its label, else any URL on the confirmation system's host."""
    labelled = _labelled(text, VIEW_URL_LABELS, _URL)
    if labelled:
        return labelled[0]
    for m in re.finditer(_URL, text):
        if url_on_hosts(m.group(1), hosts):
            return m.group(1)
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


def _clean_name(value: str) -> str | None:
    value = re.sub(r"\s*(御中|様|殿)\s*$", "", value.strip())
    value = value.strip(" 「」『』\"'")
    return value or None


def project_name(text: str) -> str | None:
    """The 工事名, the rest of its line."""
    for value in _labelled(text, PROJECT_NAME_LABELS, _LINE_VALUE):
        name = _clean_name(value)
        if name and not name.startswith(("受注者", "工事番号")):
            return name
    return None


def project_number(text: str) -> str | None:
    """The 工事番号 (or 施行番号, 仕様書番号, ...), as written."""
    values = _labelled(text, PROJECT_NUMBER_LABELS, r"((?:第)?[A-Za-z0-9][^\s\n]{0,39})")
    return _first([v.strip() for v in values])


def contractor_name(text: str) -> str | None:
    """The 受注者名 (or 保険契約者, 請負者, ...) beside its label."""
    for value in _labelled(text, CONTRACTOR_LABELS, _LINE_VALUE):
        name = _clean_name(value)
        if name:
            return name
    return None


def policy_number(text: str) -> str | None:
    """The insurer's 証券番号."""
    return _first([normalize_number(v) for v in _labelled(text, POLICY_NUMBER_LABELS, _NUMBER)])


def issued_on(text: str) -> date | None:
    """The policy's issue date (証券発行日, 発行日, 作成日)."""
    for value in _labelled(text, ISSUED_LABELS, _LINE_VALUE):
        when = parse_date(value)
        if when:
            return when
    return None


_PASSWORD_RE = re.compile(
    r"(?<!閲覧用)(?<!閲覧)(?:パスワード|PASSWORD|Password|password|PW|PASS)"
    r"(?:\s*\([^)\n]{0,20}\))?[ \t]*(?:[:：=]|は)?[ \t]*[「『\"]?"
    r"([!-~]{4,64}?)[」』\"]?(?=\s|$|です|となり)",
    re.M,
)


def document_passwords(text: str) -> list[str]:
    """Passwords given for an attached document (not the 閲覧用パスワード)."""
    seen: list[str] = []
    for m in _PASSWORD_RE.finditer(normalize(text)):
        value = m.group(1).strip("「」『』\"'。、")
        if value and value not in seen:
            seen.append(value)
    return seen
