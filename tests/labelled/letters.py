"""How different companies word the same letter: openings, closings, signatures.

``style`` picks one company's habit (0..3); the same style always gives the same words.
"""

from __future__ import annotations

from samples.parties import Contractor

_CLOSINGS = (
    "ご確認のほど、よろしくお願いいたします。",
    "ご査収のほど、よろしくお願い申し上げます。",
    "お手数をおかけしますが、よろしくお願いします。",
    "以上、よろしくお願いいたします。",
)


def opening(person: Contractor, office: str, style: int) -> str:
    """The addressee and the greeting, ending with a blank line."""
    family = person.person.split()[0]
    company = person.signature_name
    lines = {
        0: [office, "ご担当者様", "", "いつも大変お世話になっております。",
            f"{company}の{family}です。"],
        1: [f"{office}　御中", "", f"お世話になります。{company}　{person.department}の"
            f"{person.person.replace(' ', '')}でございます。"],
        2: ["契約ご担当　様", "", "平素より格別のご高配を賜り、厚く御礼申し上げます。",
            f"{company}{person.department}の{family}と申します。"],
        3: ["ご担当者様", "", f"お疲れ様です。{company}の{family}です。"],
    }[style % 4]
    return "\n".join([*lines, ""])


def closing(style: int) -> str:
    """The closing sentence."""
    return _CLOSINGS[style % len(_CLOSINGS)]


def signature(person: Contractor, style: int) -> str:
    """The signature block (the company name appears here: it is not a field)."""
    if style % 3 == 0:
        return "\n".join([
            "――――――――――――――――――――", person.signature_name,
            f"{person.department}　{person.person}", f"{person.postcode} {person.address}",
            f"TEL：{person.phone}　FAX：{person.fax}", f"E-mail：{person.address_email}",
            "――――――――――――――――――――"])
    if style % 3 == 1:
        return "\n".join([
            "-- ", f"{person.signature_name}　{person.department}", person.person,
            f"TEL {person.phone} / FAX {person.fax}"])
    return "\n".join([
        "****************************************", f"  {person.signature_name}",
        f"  {person.department}　{person.person}", f"  {person.address}",
        f"  電話 {person.phone}", "****************************************"])


def letter(person: Contractor, office: str, style: int, *lines: str) -> str:
    """A whole letter: opening, the lines, closing and signature."""
    return "\n".join([opening(person, office, style), *lines, "", closing(style), "",
                      signature(person, style)])
