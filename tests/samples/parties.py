"""The cast of the samples: office, contractors, guarantee companies, insurers, banks.

Company names of the three guarantee companies and of the insurers are the real
ones (they are what the documents print); every address, domain, phone number
and person is fictional (``example`` domains, made-up names).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import date

# ---------------------------------------------------------------------------
# The orderer (発注者) and its contract mailbox
# ---------------------------------------------------------------------------

OFFICE_ADDRESS = "keiyaku@city.example.jp"
OFFICE_DOMAIN = "city.example.jp"
OFFICE_MX = "mail.city.example.jp"
OFFICE_NAME = "東都市 財政局 契約課"
OFFICE_WORKS_ADDRESS = "doboku@city.example.jp"  # 工事担当課 (section in charge of the works)
ORDERER = "東都市"
ORDERER_HEAD = "東都市長　山本　一郎"


@dataclass(frozen=True)
class Contractor:
    """A contractor (受注者) and the person who writes its mails."""

    key: str
    name: str  # registered name, as printed on guarantees
    signature_name: str  # how the person writes it in mail (may use ㈱)
    domain: str
    local_part: str
    person: str  # family and given name, separated by a space
    department: str
    phone: str
    fax: str
    postcode: str
    address: str
    representative: str

    @property
    def address_email(self) -> str:
        """The person's mail address."""
        return f"{self.local_part}@{self.domain}"

    @property
    def mailbox(self) -> str:
        """``Display Name <address>`` as the person's mail client sends it."""
        return f"{self.signature_name} {self.person} <{self.address_email}>"


CONTRACTORS: dict[str, Contractor] = {
    "yamada": Contractor(
        key="yamada",
        name="株式会社山田建設",
        signature_name="株式会社山田建設",
        domain="yamada-kensetsu.example.co.jp",
        local_part="t-yamada",
        person="山田 太郎",
        department="工務部",
        phone="048-555-0123",
        fax="048-555-0124",
        postcode="〒330-0000",
        address="東都市中央区本町一丁目2番3号",
        representative="代表取締役　山田　一男",
    ),
    "sato": Contractor(
        key="sato",
        name="有限会社佐藤工務店",
        signature_name="有限会社佐藤工務店",
        domain="sato-koumuten.example.jp",
        local_part="sato",
        person="佐藤 花子",
        department="総務課",
        phone="048-555-0456",
        fax="048-555-0457",
        postcode="〒331-0000",
        address="東都市北区宮原町四丁目5番6号",
        representative="取締役　佐藤　健二",
    ),
    "hokuto": Contractor(
        key="hokuto",
        name="株式会社北斗土木",
        signature_name="㈱北斗土木",  # ㈱ (NEC special character): matters for the Outlook charset
        domain="hokuto-doboku.example.co.jp",
        local_part="kitamura",
        person="北村 健",
        department="工事部",
        phone="048-555-0789",
        fax="048-555-0790",
        postcode="〒332-0000",
        address="東都市南区大字辻七丁目8番地9",
        representative="代表取締役　北村　昭",
    ),
    "takahashi": Contractor(
        key="takahashi",
        name="髙橋建設工業株式会社",  # 髙 (IBM extension): another CP932-only character
        signature_name="髙橋建設工業㈱",
        domain="takahashi-kk.example.co.jp",
        local_part="keiri",
        person="髙橋 由美",
        department="経理部",
        phone="048-555-0321",
        fax="048-555-0322",
        postcode="〒336-0000",
        address="東都市緑区原山二丁目10番11号",
        representative="代表取締役社長　髙橋　誠",
    ),
}


# ---------------------------------------------------------------------------
# Guarantee companies (保証事業会社)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class GuaranteeCompany:
    """One of the three guarantee companies under the 前払金保証事業法."""

    key: str
    name: str
    short_name: str
    domain: str
    branch: str
    branch_address: str
    branch_phone: str
    web: str  # the company's own site (fictional ``example`` host)


GUARANTEE_COMPANIES: dict[str, GuaranteeCompany] = {
    "east": GuaranteeCompany(
        key="east",
        name="東日本建設業保証株式会社",
        short_name="東日本建設業保証",
        domain="ejcs.example.co.jp",
        branch="東都支店",
        branch_address="〒330-0001 東都市中央区本町三丁目1番1号 東都建設会館5階",
        branch_phone="048-555-1100",
        web="https://www.ejcs.example.co.jp/",
    ),
    "west": GuaranteeCompany(
        key="west",
        name="西日本建設業保証株式会社",
        short_name="西日本建設業保証",
        domain="wjcs.example.co.jp",
        branch="大阪支店",
        branch_address="〒550-0000 大阪市西区立売堀二丁目1番2号 建設交流館4階",
        branch_phone="06-6555-2700",
        web="https://www.wjcs.example.co.jp/",
    ),
    "hokkaido": GuaranteeCompany(
        key="hokkaido",
        name="北海道建設業信用保証株式会社",
        short_name="北海道建設業信用保証",
        domain="hokkaido-cs.example.co.jp",
        branch="本店",
        branch_address="〒060-0000 札幌市中央区北四条西三丁目1番地",
        branch_phone="011-555-3300",
        web="https://www.hokkaido-cs.example.co.jp/",
    ),
}

DSURE_URL = "https://www.d-sure.jp/"


def guarantee_company(company: str | GuaranteeCompany) -> GuaranteeCompany:
    """Look a guarantee company up by key (east/west/hokkaido), full or short name."""
    if isinstance(company, GuaranteeCompany):
        return company
    for gc in GUARANTEE_COMPANIES.values():
        if company in (gc.key, gc.name, gc.short_name):
            return gc
    raise KeyError(f"unknown guarantee company {company!r}; one of {list(GUARANTEE_COMPANIES)}")


# ---------------------------------------------------------------------------
# Insurers (損害保険会社)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Insurer:
    """A non-life insurer issuing performance bonds and guarantee insurance."""

    key: str
    name: str
    aliases: tuple[str, ...]  # short names as written in mail and forms
    domains: tuple[str, ...]
    designated_address: str  # address to include among recipients (PDF policy route)
    on_system: bool  # on the 保証証券等確認システム
    branch: str
    agent: str  # 取扱代理店 that usually handles the contractor
    agent_domain: str


INSURERS: dict[str, Insurer] = {
    "sompo": Insurer(
        key="sompo",
        name="損害保険ジャパン株式会社",
        aliases=("損保ジャパン", "損害保険ジャパン", "ＳＯＭＰＯ", "SOMPO"),
        domains=("sompo-japan.example.jp",),
        designated_address="denshi-hosho@sompo-japan.example.jp",
        on_system=True,
        branch="東都支店 東都中央支社",
        agent="有限会社東都保険サービス",
        agent_domain="toto-hoken.example.jp",
    ),
    "tokio": Insurer(
        key="tokio",
        name="東京海上日動火災保険株式会社",
        aliases=("東京海上日動", "東京海上", "東京海上日動火災"),
        domains=("tokiomarine-nichido.example.jp",),
        designated_address="hosho-pdf@tokiomarine-nichido.example.jp",
        on_system=True,
        branch="東都支店",
        agent="株式会社中央リスクコンサルティング",
        agent_domain="chuo-risk.example.co.jp",
    ),
    "mitsui": Insurer(
        key="mitsui",
        name="三井住友海上火災保険株式会社",
        aliases=("三井住友海上", "三井住友海上火災"),
        domains=("ms-ins.example.jp",),
        designated_address="e-shoken@ms-ins.example.jp",
        on_system=True,
        branch="東都支店 営業第一課",
        agent="株式会社みらい保険企画",
        agent_domain="mirai-hoken.example.jp",
    ),
    "aioi": Insurer(
        key="aioi",
        name="あいおいニッセイ同和損害保険株式会社",
        aliases=("あいおいニッセイ同和損保", "あいおいニッセイ同和", "ＡＤ損保"),
        domains=("aioinissaydowa.example.jp",),
        designated_address="pdf-shoken@aioinissaydowa.example.jp",
        on_system=True,
        branch="東都支店",
        agent="株式会社東都保険サービス",
        agent_domain="toto-hoken.example.jp",
    ),
    "aig": Insurer(
        key="aig",
        name="AIG損害保険株式会社",
        aliases=("ＡＩＧ損保", "AIG損保", "ＡＩＧ損害保険", "A I G損害保険"),
        domains=("aig.example.co.jp",),
        designated_address="bond-pdf@aig.example.co.jp",
        on_system=True,
        branch="東都支店",
        agent="株式会社みらい保険企画",
        agent_domain="mirai-hoken.example.jp",
    ),
    "kyoei": Insurer(
        key="kyoei",
        name="共栄火災海上保険株式会社",
        aliases=("共栄火災", "共栄火災海上"),
        domains=("kyoeikasai.example.co.jp",),
        designated_address="hosho@kyoeikasai.example.co.jp",
        on_system=True,
        branch="東都支店",
        agent="東都建設協同組合",
        agent_domain="toto-kyodo.example.or.jp",
    ),
    "daido": Insurer(
        key="daido",
        name="大同火災海上保険株式会社",
        aliases=("大同火災", "大同火災海上"),
        domains=("daidokasai.example.co.jp",),
        designated_address="hosho@daidokasai.example.co.jp",
        on_system=True,
        branch="東京支店",
        agent="株式会社みらい保険企画",
        agent_domain="mirai-hoken.example.jp",
    ),
    "nisshin": Insurer(
        key="nisshin",
        name="日新火災海上保険株式会社",
        aliases=("日新火災", "日新火災海上"),
        domains=("nisshinfire.example.co.jp",),
        designated_address="pdf-hosho@nisshinfire.example.co.jp",
        on_system=True,
        branch="東都支店",
        agent="有限会社東都保険サービス",
        agent_domain="toto-hoken.example.jp",
    ),
    # Not on the confirmation system: its guarantees must come on paper.
    "secom": Insurer(
        key="secom",
        name="セコム損害保険株式会社",
        aliases=("セコム損保",),
        domains=("secom-sonpo.example.co.jp",),
        designated_address="bond@secom-sonpo.example.co.jp",
        on_system=False,
        branch="東都営業所",
        agent="株式会社中央リスクコンサルティング",
        agent_domain="chuo-risk.example.co.jp",
    ),
}


def insurer(value: str | Insurer) -> Insurer:
    """Look an insurer up by key, full name or alias."""
    if isinstance(value, Insurer):
        return value
    for ins in INSURERS.values():
        if value in (ins.key, ins.name, *ins.aliases):
            return ins
    raise KeyError(f"unknown insurer {value!r}; one of {list(INSURERS)}")


# The confirmation system (保証証券等確認システム) of the General Insurance Association.
# Sender and subject as published in the association's manual.
CONFIRMATION_SYSTEM_SENDER = "info@mail.sonpo-hosyou-syouken.jp"
CONFIRMATION_SYSTEM_HOST = "www.sonpo-hosyou-syouken.jp"


def viewing_url(policy_number: str) -> str:
    """A plausible 閲覧用URL of the confirmation system, deterministic per policy number."""
    digest = hashlib.sha256(f"view:{policy_number}".encode()).digest()
    token = base64.urlsafe_b64encode(digest).decode("ascii")[:22]
    return f"https://{CONFIRMATION_SYSTEM_HOST}/view?k={token}"


def viewing_password(policy_number: str, revision: int = 0) -> str:
    """A plausible 閲覧用パスワード (changes with each upload revision)."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789"
    digest = hashlib.sha256(f"pw:{policy_number}:{revision}".encode()).digest()
    return "".join(alphabet[b % len(alphabet)] for b in digest[:12])


# ---------------------------------------------------------------------------
# Banks (paper only)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Bank:
    """A bank that gives contract guarantees (never electronically)."""

    name: str
    branch: str
    domain: str
    manager: str


BANKS: dict[str, Bank] = {
    "toto": Bank(
        name="株式会社東都銀行",
        branch="本町支店",
        domain="toto-bank.example.co.jp",
        manager="支店長　中村　浩",
    ),
    "shinkin": Bank(
        name="東都信用金庫",
        branch="北支店",
        domain="toto-shinkin.example.jp",
        manager="支店長　小林　隆",
    ),
}


# ---------------------------------------------------------------------------
# Projects (工事)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Project:
    """A public work: name, number, place, price and term."""

    name: str
    number: str | None
    place: str
    price: int  # 請負代金額 (yen, tax included)
    start: date
    end: date


PROJECTS: dict[str, Project] = {
    "road": Project(
        name="令和8年度 市道中央線道路改良工事",
        number="第R8-土木-0123号",
        place="東都市中央区本町二丁目地内",
        price=123_420_000,
        start=date(2026, 4, 20),
        end=date(2027, 3, 19),
    ),
    "bridge": Project(
        name="令和8年度 宮原橋橋梁補修工事（その2）",
        number="08110200345",  # 11 digits, no hyphens, as some offices number works
        place="東都市北区宮原町地内",
        price=58_960_000,
        start=date(2026, 5, 11),
        end=date(2026, 12, 25),
    ),
    "school": Project(
        name="東都市立第三小学校校舎外壁改修工事",
        number=None,
        place="東都市南区大字辻1234番地",
        price=34_650_000,
        start=date(2026, 6, 1),
        end=date(2026, 11, 30),
    ),
}
