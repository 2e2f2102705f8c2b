"""A realistic day's mix of the contract mailbox, for benchmarks: unit ``i`` of a seed is
always the same one or two messages (an encrypted submission and its password mail).

Every unit gets its own 保証契約番号 / 証券番号 / archive password and its own Date, so
every message has its own Message-ID and no submission replaces or duplicates another.
The proportions (:data:`WEIGHTS`) are mostly complete key notices and confirmation forms,
some incomplete submissions (a correction), a few encrypted pairs and wrong documents,
and the noise around them (auto-replies, forwarded system notices, a question). Key
notices come as one page, or two to three pages (the notice with the certificate print
and, for advance payments, the invoice in one PDF, as scanned together).
"""

from __future__ import annotations

import io
import random
import re
from collections.abc import Callable
from datetime import datetime, timedelta

from pypdf import PdfReader, PdfWriter

from samples import mails, pdfs
from samples.parties import CONTRACTORS, GUARANTEE_COMPANIES, ORDERER, PROJECTS

# The insurers the test office takes (tests/stack.py office_config); their sample policy
# numbers end in six digits or more (room for a distinct number per unit up to 10**6).
INSURERS = ("sompo", "tokio", "mitsui")
GUARANTEE_TYPES = ("contract", "advance-payment", "interim-advance-payment")
CHARSETS: tuple[mails.Charset, ...] = ("iso-2022-jp", "outlook", "shift_jis", "utf-8")
BASE_DATE = mails.DEFAULT_DATE

Unit = list[tuple[str, bytes]]  # (kind, raw message)


def contract_number(seed: int, i: int) -> str:
    """A distinct 10-digit 保証契約番号 per unit (the seed only moves the range)."""
    return f"26{(seed * 7_919_993 + i) % 10**8:08d}"


def policy_number(insurer: str, i: int) -> str:
    """The insurer's sample 証券番号 with its trailing digits replaced by the unit's."""
    sample = mails.POLICY_NUMBERS[insurer]
    digits = len(sample) - len(sample.rstrip("0123456789"))
    return sample[: len(sample) - digits] + f"{i % 10**digits:0{digits}d}"


def _pages(*documents: bytes) -> bytes:
    writer = PdfWriter()
    for data in documents:
        for page in PdfReader(io.BytesIO(data)).pages:
            writer.add_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _common(rng: random.Random, i: int) -> dict[str, object]:
    return {
        "contractor": rng.choice(sorted(CONTRACTORS)),
        "project": rng.choice(sorted(PROJECTS)),
        "date": BASE_DATE + timedelta(seconds=37 * i),
    }


def _key_notice(rng: random.Random, seed: int, i: int, **extra: object) -> bytes:
    common = _common(rng, i)
    kind = rng.choices(GUARANTEE_TYPES, weights=(6, 3, 1))[0]
    number = contract_number(seed, i)
    options: dict[str, object] = {
        "company": rng.choice(sorted(GUARANTEE_COMPANIES)),
        "guarantee_type": kind,
        "contract_number": number,
        "charset": rng.choice(CHARSETS),
        "with_invoice": kind != "contract" and rng.random() < 0.5,
        **common,
        **extra,
    }
    if not extra and rng.random() < 0.3:
        options["key_pdf"] = _long_notice(rng, options)
    return mails.dsure_key_mail(**options)  # type: ignore[arg-type]


def _long_notice(rng: random.Random, options: dict[str, object]) -> bytes:
    """The key notice with the certificate print (and the invoice) behind it: 2-3 pages."""
    person = CONTRACTORS[str(options["contractor"])]
    works = PROJECTS[str(options["project"])]
    number = str(options["contract_number"])
    kind = options["guarantee_type"]
    issued = options["date"].date()  # type: ignore[attr-defined]
    company = str(options["company"])
    notice = pdfs.key_notice_pdf(
        company=company, contract_number=number, auth_key=mails.default_auth_key(number),
        guarantee_type=kind, project_name=works.name, contractor=person.name,  # type: ignore[arg-type]
        orderer=ORDERER, project_number=works.number, issued=issued)
    documents = [notice, pdfs.certificate_pdf(
        company=company, contract_number=number, guarantee_type=kind,  # type: ignore[arg-type]
        project_name=works.name, contractor=person.name, issued=issued)]
    if kind != "contract" and rng.random() < 0.5:
        documents.append(pdfs.invoice_pdf(contractor=person.name, project_name=works.name,
                                          amount=works.price * 2 // 5, issued=issued))
    return _pages(*documents)


def _confirmation(rng: random.Random, seed: int, i: int, **extra: object) -> bytes:
    insurer = rng.choice(INSURERS)
    return mails.confirmation_mail(  # type: ignore[arg-type]
        insurer=insurer, policy_number=policy_number(insurer, i),
        charset=rng.choice(CHARSETS), **{**_common(rng, i), **extra})


def _encrypted_pair(rng: random.Random, seed: int, i: int) -> Unit:
    form, encrypt = rng.choice([("pdf", "zip-aes"), ("xlsx", "zip-crypto"), ("xlsx", "ooxml"),
                                ("pdf", "pdf"), ("docx", "ooxml")])
    password = f"Pw{i:06d}#{rng.randrange(100, 999)}"
    common = _common(rng, i)
    insurer = rng.choice(INSURERS)
    first = mails.confirmation_mail(  # type: ignore[arg-type]
        insurer=insurer, policy_number=policy_number(insurer, i), form=form, encrypt=encrypt,
        archive_password=password, **common)
    follow = mails.password_followup(
        contractor=common["contractor"], project=common["project"],  # type: ignore[arg-type]
        password=password, date=common["date"] + timedelta(minutes=3))  # type: ignore[operator]
    return [("encrypted-confirmation", first), ("password-followup", follow)]


def _one(kind: str, make: Callable[[random.Random, int, int], bytes]
         ) -> Callable[[random.Random, int, int], Unit]:
    return lambda rng, seed, i: [(kind, make(rng, seed, i))]


def _insurer_mail(make: Callable[..., bytes], **extra: object
                  ) -> Callable[[random.Random, int, int], bytes]:
    def build(rng: random.Random, seed: int, i: int) -> bytes:
        insurer = rng.choice(INSURERS)
        return make(insurer=insurer, policy_number=policy_number(insurer, i),
                    date=BASE_DATE + timedelta(seconds=37 * i), **extra)
    return build


def _plain(make: Callable[..., bytes], numbered: bool = False
           ) -> Callable[[random.Random, int, int], bytes]:
    def build(rng: random.Random, seed: int, i: int) -> bytes:
        extra = {"contract_number": contract_number(seed, i)} if numbered else {}
        return make(**_common(rng, i), **extra)
    return build


# (kind, weight, unit maker): weights in units per 1,000.
WEIGHTS: list[tuple[str, int, Callable[[random.Random, int, int], Unit]]] = [
    ("key-notice", 430, _one("key-notice", _key_notice)),
    ("key-typed", 50, _one("key-typed", lambda r, s, i: _key_notice(
        r, s, i, in_body=True, style=r.randrange(4)))),
    ("confirmation-pdf", 150, _one("confirmation-pdf", _confirmation)),
    ("confirmation-xlsx", 50, _one("confirmation-xlsx", lambda r, s, i: _confirmation(
        r, s, i, form="xlsx"))),
    ("confirmation-docx", 30, _one("confirmation-docx", lambda r, s, i: _confirmation(
        r, s, i, form="docx"))),
    ("confirmation-url-in-body", 20, _one("confirmation-url-in-body",
                                          lambda r, s, i: _confirmation(r, s, i,
                                                                        url_in_body=True))),
    ("encrypted-pair", 25, _encrypted_pair),
    ("incomplete-key-no-pdf", 40, _one("incomplete-key-no-pdf", lambda r, s, i: _key_notice(
        r, s, i, omit=("attachment",)))),
    ("incomplete-key-no-auth", 15, _one("incomplete-key-no-auth", lambda r, s, i: _key_notice(
        r, s, i, in_body=True, omit=("auth_key",)))),
    ("incomplete-confirmation", 30, _one("incomplete-confirmation",
                                         lambda r, s, i: _confirmation(
                                             r, s, i, omit=("view_password",)))),
    ("legacy-pdf", 25, _one("legacy-pdf", _insurer_mail(mails.legacy_pdf_mail))),
    ("system-url-notice", 20, _one("system-url-notice", _insurer_mail(
        mails.system_url_notice, forwarded=True))),
    ("certificate-instead", 30, _one("certificate-instead", _plain(
        mails.certificate_instead_of_key, numbered=True))),
    ("reservation", 15, _one("reservation", _plain(mails.reservation))),
    ("bank-guarantee", 20, _one("bank-guarantee", _plain(mails.bank_guarantee))),
    ("auto-reply", 50, _one("auto-reply", lambda r, s, i: mails.auto_reply(
        contractor=r.choice(sorted(CONTRACTORS)), style=r.choice(("outlook", "sieve")),
        original_message_id=f"<ack-{s}-{i}@city.example.jp>",
        date=BASE_DATE + timedelta(seconds=37 * i)))),
]


def unit(seed: int, i: int) -> Unit:
    """The messages of unit ``i`` (one, or two for an encrypted pair): the same bytes for
    the same (seed, i), whatever else is generated."""
    rng = random.Random(f"{seed}:{i}")
    _, _, make = rng.choices(WEIGHTS, weights=[w for _, w, _ in WEIGHTS])[0]
    messages = make(rng, seed, i)
    return [(kind, _unique(raw, seed, i, n)) for n, (kind, raw) in enumerate(messages)]


def _unique(raw: bytes, seed: int, i: int, n: int) -> bytes:
    """The generators derive the Message-ID from the content; a reservation or a bank
    guarantee carries no number of the unit, so every Message-ID is made the unit's."""
    new = f"<bench-{seed}-{i}-{n}@mix.example.jp>".encode()
    return re.sub(rb"^Message-ID: <[^>\r\n]*>", b"Message-ID: " + new, raw, count=1,
                  flags=re.MULTILINE | re.IGNORECASE)


def unit_date(i: int) -> datetime:
    """The Date of unit ``i``'s first message."""
    return BASE_DATE + timedelta(seconds=37 * i)
