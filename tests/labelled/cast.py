"""The people and works of the labelled set: one company (own mail domain) per set.

Sets of different senders must not interfere in one daemon run (a follow-up may pair
with a held message of the same domain), so every set takes its own company from
:func:`company`. Works, numbers and passwords are derived from the set's name, so the
same name always gives the same values and two sets never share one.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import date

from samples.parties import Contractor, Project

# (family name, its romaji) for company and person names.
_FAMILIES = (
    ("青木", "aoki"), ("石井", "ishii"), ("上田", "ueda"), ("大野", "ohno"),
    ("岡本", "okamoto"), ("加藤", "kato"), ("金子", "kaneko"), ("木村", "kimura"),
    ("小林", "kobayashi"), ("斎藤", "saito"), ("坂本", "sakamoto"), ("清水", "shimizu"),
    ("杉山", "sugiyama"), ("鈴木", "suzuki"), ("高木", "takagi"), ("田中", "tanaka"),
    ("千葉", "chiba"), ("中島", "nakajima"), ("中村", "nakamura"), ("西村", "nishimura"),
    ("野口", "noguchi"), ("橋本", "hashimoto"), ("林", "hayashi"), ("原田", "harada"),
    ("平野", "hirano"), ("藤田", "fujita"), ("前田", "maeda"), ("松本", "matsumoto"),
    ("三浦", "miura"), ("宮崎", "miyazaki"), ("村上", "murakami"), ("森", "mori"),
    ("山口", "yamaguchi"), ("山本", "yamamoto"), ("吉田", "yoshida"), ("渡辺", "watanabe"),
    ("池田", "ikeda"), ("石川", "ishikawa"), ("内田", "uchida"), ("遠藤", "endo"),
    ("菊地", "kikuchi"), ("久保", "kubo"), ("後藤", "goto"), ("近藤", "kondo"),
    ("佐々木", "sasaki"), ("柴田", "shibata"), ("須藤", "sudo"), ("関", "seki"),
    ("竹内", "takeuchi"), ("谷口", "taniguchi"), ("土屋", "tsuchiya"), ("永井", "nagai"),
    ("新田", "nitta"), ("野村", "nomura"), ("長谷川", "hasegawa"), ("樋口", "higuchi"),
    ("福田", "fukuda"), ("堀", "hori"), ("増田", "masuda"), ("丸山", "maruyama"),
)
# (business word, romaji, company form: "pre" 株式会社○○, "post" ○○株式会社, "yu" 有限会社○○)
_TRADES = (
    ("建設", "kensetsu", "pre"), ("組", "gumi", "pre"), ("工業", "kogyo", "post"),
    ("土木", "doboku", "pre"), ("建工", "kenko", "post"), ("興業", "kogyo", "pre"),
    ("工務店", "koumuten", "yu"), ("技建", "giken", "pre"), ("建設工業", "kensetsukogyo", "post"),
    ("開発", "kaihatsu", "pre"), ("舗道", "hodo", "pre"), ("設備工業", "setsubi", "post"),
)
_GIVEN = (
    "太郎", "一郎", "健", "誠", "大輔", "翔太", "花子", "由美", "恵子", "美咲", "直樹", "拓也",
    "愛", "亮", "和也", "彩", "智子", "浩二", "聡", "真由美",
)
_DEPARTMENTS = ("工務部", "工事部", "総務部", "業務課", "経理部", "営業部", "総務課", "工事課")
_LOCAL_PARTS = ("{g}-{f}", "{f}", "{f}.{g}", "koumu", "jimu", "info", "{f}{n}", "somu")
_GIVEN_ROMAJI = (
    "taro", "ichiro", "ken", "makoto", "daisuke", "shota", "hanako", "yumi", "keiko",
    "misaki", "naoki", "takuya", "ai", "ryo", "kazuya", "aya", "tomoko", "koji", "satoshi",
    "mayumi",
)
_WARDS = ("中央区本町", "北区宮原町", "南区大字辻", "緑区原山", "西区桜木町", "東区新田")


def _number(name: str, salt: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{salt}:{name}".encode()).digest()[:6], "big")


def company(index: int) -> Contractor:
    """The ``index``-th company of the cast (0 .. 719): its own domain and person."""
    family, romaji = _FAMILIES[index % len(_FAMILIES)]
    trade, trade_romaji, form = _TRADES[(index // len(_FAMILIES) * 5 + index) % len(_TRADES)]
    base = f"{family}{trade}"
    name = {"pre": f"株式会社{base}", "post": f"{base}株式会社", "yu": f"有限会社{base}"}[form]
    short = {"pre": f"㈱{base}", "post": f"{base}㈱", "yu": f"㈲{base}"}[form]
    signature = short if index % 3 == 0 else name
    given = _GIVEN[index % len(_GIVEN)]
    given_romaji = _GIVEN_ROMAJI[index % len(_GIVEN_ROMAJI)]
    person_family, person_romaji = _FAMILIES[(index * 7 + 3) % len(_FAMILIES)]
    if index % 4 == 0:  # family businesses: the person shares the company's name
        person_family, person_romaji = family, romaji
    local = _LOCAL_PARTS[index % len(_LOCAL_PARTS)].format(
        g=given_romaji[0], f=person_romaji, n=index % 10)
    phone = f"048-{555 + index % 40:03d}-{1000 + index * 37 % 9000:04d}"
    return Contractor(
        key=f"labelled-{index}",
        name=name,
        signature_name=signature,
        domain=f"{romaji}-{trade_romaji}{index:03d}.example.co.jp",
        local_part=local,
        person=f"{person_family} {given}",
        department=_DEPARTMENTS[index % len(_DEPARTMENTS)],
        phone=phone,
        fax=phone[:-1] + str((int(phone[-1]) + 1) % 10),
        postcode=f"〒33{index % 9}-00{index % 100:02d}",
        address=f"東都市{_WARDS[index % len(_WARDS)]}{index % 9 + 1}丁目{index % 20 + 1}番"
                f"{index % 15 + 1}号",
        representative=f"代表取締役　{family}　{_GIVEN[(index + 5) % len(_GIVEN)]}",
    )


def colleague(person: Contractor, local_part: str, name: str) -> Contractor:
    """Another person of the same company (same domain)."""
    return replace(person, local_part=local_part, person=name)


# Works: (name, number style); a works number only where the office numbers them.
_WORKS = (
    "市道{n}号線道路改良工事", "{p}川河川改修工事", "{p}橋橋梁補修工事",
    "市立{p}小学校体育館改築工事", "{p}地区下水道管渠布設工事", "{p}公園整備工事",
    "市道{n}号線舗装補修工事", "{p}浄水場機械設備更新工事",
    "{p}排水機場ポンプ設備修繕工事", "{p}中学校校舎耐震補強工事", "{p}地区農道整備工事",
    "{p}団地外壁改修工事", "県道{p}線交差点改良工事", "{p}砂防堰堤工事",
    "{p}トンネル照明設備更新工事",
)
_PLACES = ("宮原", "本町", "辻", "原山", "桜木", "新田", "北野", "南台", "東雲", "若葉",
           "緑丘", "川端")


def works(name: str, *, numbered: bool = True, fiscal: int = 8) -> Project:
    """The works of a set (name, number), derived from the set's name."""
    n = _number(name, "works")
    title = _WORKS[n % len(_WORKS)].format(n=n % 900 + 100, p=_PLACES[(n >> 8) % len(_PLACES)])
    suffix = ("", "（その2）", "（第1工区）", "")[(n >> 12) % 4]
    styles = (f"第R{fiscal}-土木-{n % 9000 + 1000:04d}号", f"0{fiscal}1{n % 10**8:08d}"[:11],
              f"R{fiscal}建第{n % 900 + 100}号")
    number = styles[(n >> 16) % len(styles)] if numbered else None
    return Project(
        name=f"令和{fiscal}年度 {title}{suffix}",
        number=number,
        place=f"東都市{_PLACES[(n >> 8) % len(_PLACES)]}地内",
        price=(n % 300 + 20) * 1_000_000 + 420_000,
        start=date(2026, 5, 1),
        end=date(2027, 2, 26),
    )


def contract_number(name: str) -> str:
    """A 保証契約番号 (10 digits) unique to the name."""
    return f"{2600000000 + _number(name, 'contract') % 99_999_999:010d}"


def policy_number(name: str, prefix: str = "SJ") -> str:
    """An insurer's 証券番号 unique to the name."""
    n = _number(name, "policy")
    return f"{prefix}26-{n % 9_000_000 + 1_000_000:07d}"


_PASSWORD_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789"


def password(name: str, length: int = 10) -> str:
    """A document password as contractors make them (letters, digits, one symbol)."""
    digest = hashlib.sha256(f"password:{name}".encode()).digest()
    chars = "".join(_PASSWORD_ALPHABET[b % len(_PASSWORD_ALPHABET)] for b in digest[:length - 1])
    return chars[:4] + "#!$%"[digest[-1] % 4] + chars[4:]


def auth_key(name: str) -> str:
    """A 認証キー (12 characters, mixed case)."""
    digest = hashlib.sha256(f"key:{name}".encode()).digest()
    return "".join(_PASSWORD_ALPHABET[b % len(_PASSWORD_ALPHABET)] for b in digest[:12])
