"""The two offices of the labelled set, configured differently, and their TOML.

* ``A`` - 東都市 財政局 契約課 (a city): takes all three routes; PDF policies by email
  until ``now`` + 90 days, counted by the day received; waits 24 hours for a password
  and 60 minutes for the rest of a submission; staff are the stack's own mailboxes;
  advance-payment subjects should say 請求関係書類; four insurers.
* ``B`` - 南都県 県土整備部 契約検査課 (a prefecture): no confirmation system yet (guarantee
  companies and PDF policies only); PDF policies by email until yesterday, counted by
  the policy's issue date; waits 8 hours and 30 minutes; its staff addresses are outside
  the stack's domain (they reach the capture server); three insurers, not 東京海上日動.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import stack
from samples.parties import INSURERS

JST = timezone(timedelta(hours=9))


@dataclass(frozen=True)
class Office:
    """What the tests need to know of an office besides its TOML."""

    key: str
    name: str
    address: str  # where contractors send (To:)
    contract: str  # routing.contract_guarantee
    advance: str  # routing.advance_payment
    review: str  # routing.review
    insurers: tuple[str, ...]  # keys of samples.parties.INSURERS configured
    password_wait_hours: int
    rest_wait_minutes: int

    def staff_for(self, guarantee_type: str) -> str:
        """The staff address a routed submission of this guarantee type goes to."""
        return self.contract if guarantee_type == "contract" else self.advance


A = Office("A", "東都市 財政局 契約課", stack.INTAKE, stack.CONTRACT_STAFF, stack.ADVANCE_STAFF,
           stack.REVIEW, ("sompo", "tokio", "mitsui", "aioi"), 24, 60)
B = Office("B", "南都県 県土整備部 契約検査課", "denshi-hosho@pref.nanto.example.jp",
           "keiyaku-hosho@pref.nanto.example.jp", "maebarai@pref.nanto.example.jp",
           "kakunin@pref.nanto.example.jp", ("sompo", "aioi", "nisshin"), 8, 30)
OFFICES = {"A": A, "B": B}


def legacy_until(key: str, now: datetime) -> str:
    """The office's last day for PDF policies by email (A: in 90 days, B: yesterday)."""
    today = now.astimezone(JST).date()
    return (today + timedelta(days=90) if key == "A" else today - timedelta(days=1)).isoformat()


def _insurers(office: Office) -> str:
    blocks = []
    for key in office.insurers:
        ins = INSURERS[key]
        aliases = ", ".join(f'"{a}"' for a in ins.aliases)
        domains = ", ".join(f'"{d}"' for d in ins.domains)
        blocks.append(f'[[insurers]]\nname = "{ins.name}"\naliases = [{aliases}]\n'
                      f'domains = [{domains}]\nlegacy_cc = ["{ins.designated_address}"]\n')
    return "\n".join(blocks)


def _policy(office: Office, now: datetime) -> str:
    if office.key == "A":
        return (f'accept = ["dsure-key", "confirmation-system", "legacy-pdf"]\n'
                f"legacy_pdf_until = {legacy_until('A', now)}\n"
                'legacy_pdf_basis = "received"\n'
                f"password_wait_hours = {office.password_wait_hours}\n"
                f"rest_wait_minutes = {office.rest_wait_minutes}\n\n"
                "[policy.subject_patterns]\n"
                "advance-payment = '請求関係書類'\n"
                "interim-advance-payment = '請求関係書類'\n")
    return (f'accept = ["dsure-key", "legacy-pdf"]\n'
            f"legacy_pdf_until = {legacy_until('B', now)}\n"
            'legacy_pdf_basis = "issued"\n'
            f"password_wait_hours = {office.password_wait_hours}\n"
            f"rest_wait_minutes = {office.rest_wait_minutes}\n")


def office_toml(key: str, *, now: datetime, state_path: Path) -> str:
    """The office's config for the local mail stack (also fine for ``classify``)."""
    office = OFFICES[key]
    intake = f'intake_address = "{office.address}"\n' if key == "B" else ""
    return f"""
[office]
name = "{office.name}"
contact = "電話 000-000-{'1111' if key == 'A' else '2222'}（{office.name} 電子保証担当）"
{intake}
[imap]
host = "localhost"
port = 143
security = "starttls"
username = "{stack.INTAKE}"
password_env = "SURETY_TEST_IMAP_PASSWORD"
ca_file = "{stack.CA_FILE}"
poll_seconds = 5
timeout_seconds = 20

[smtp]
host = "localhost"
port = 25
security = "starttls"
sender = "{stack.SENDER}"
ca_file = "{stack.CA_FILE}"
timeout_seconds = 20
retry_first_seconds = 1
copy_wait_seconds = 3
copy_to = "{stack.INTAKE}"

[routing]
contract_guarantee = "{office.contract}"
advance_payment = "{office.advance}"
review = "{office.review}"

[policy]
{_policy(office, now)}
[state]
path = "{state_path}"

{_insurers(office)}"""
