"""Small helpers for Japanese document text: era dates, full-width digits, yen."""

from __future__ import annotations

from datetime import date

_FULLWIDTH = str.maketrans(
    "0123456789-,.:/()ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "０１２３４５６７８９－，．：／（）ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺ",
)
_FULLWIDTH_DIGITS = str.maketrans("0123456789", "０１２３４５６７８９")

_ERAS: tuple[tuple[date, str], ...] = (
    (date(2019, 5, 1), "令和"),
    (date(1989, 1, 8), "平成"),
    (date(1926, 12, 25), "昭和"),
)


def fullwidth(text: str, *, digits_only: bool = False) -> str:
    """Widen ASCII digits (and, unless ``digits_only``, hyphens, commas, capitals...)."""
    return text.translate(_FULLWIDTH_DIGITS if digits_only else _FULLWIDTH)


def era_year(day: date) -> tuple[str, int]:
    """The era name and year of ``day`` (令和8 for 2026)."""
    for start, name in _ERAS:
        if day >= start:
            return name, day.year - start.year + 1
    raise ValueError(f"{day} is before 昭和")


def wareki(day: date, *, style: str = "plain", gannen: bool = True) -> str:
    """Format ``day`` in the Japanese era calendar.

    Styles: ``plain`` 令和8年4月6日 · ``padded`` 令和 8年 4月 6日 (forms with
    fixed columns) · ``fullwidth`` 令和８年４月６日 · ``spaced`` 令和　８年　４月　６日
    (full-width digits and spaces). With ``gannen``, year 1 is written 元年.
    """
    era, year = era_year(day)
    year_text = "元" if year == 1 and gannen else str(year)
    if style == "plain":
        return f"{era}{year_text}年{day.month}月{day.day}日"
    if style == "padded":
        return f"{era}{year_text:>2}年{day.month:>2}月{day.day:>2}日"
    if style == "fullwidth":
        return fullwidth(f"{era}{year_text}年{day.month}月{day.day}日", digits_only=True)
    if style == "spaced":
        return fullwidth(f"{era}　{year_text}年　{day.month}月　{day.day}日", digits_only=True)
    raise ValueError(f"unknown wareki style {style!r}")


def yen(amount: int, *, style: str = "kin") -> str:
    """Format an amount of yen.

    Styles: ``kin`` 金12,340,000円 · ``en`` 12,340,000円 · ``mark`` ￥12,340,000-.
    """
    if style == "kin":
        return f"金{amount:,}円"
    if style == "en":
        return f"{amount:,}円"
    if style == "mark":
        return f"￥{amount:,}-"
    raise ValueError(f"unknown yen style {style!r}")
