"""The staff mail's HTML part: beside the text, the same fields as a table, the viewing
URL as a link only when it passed the checks, every value the sender wrote escaped."""

from __future__ import annotations

import email
import email.policy
import re
import shutil
import struct
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path

import pytest
import stack
from samples import mails

from daemon.checks import shown_url, view_url_valid
from daemon.compose import (
    NEXT_STEPS,
    Outgoing,
    about,
    compose,
    crlf_lines,
    quarantine_notice,
    undeliverable_notice,
)
from daemon.config import Settings
from daemon.decide import decide
from daemon.model import Attachment, Decision, Fields, GuaranteeType, Kind, Mail, Outcome, Verdict
from daemon.read import read_message

JST = timezone(timedelta(hours=9))
NOW = datetime(2026, 4, 6, 1, 0, tzinfo=UTC)
IN_TIME = datetime(2026, 3, 10, 10, 0, tzinfo=JST)  # before the office's PDF cut-off
ROOT = Path(__file__).resolve().parents[1]
STAFF = "keiyaku-hosho@city.example.jp"
KEY = "AbCd1234EfGh"
VOID = {"meta", "br", "hr", "img", "link", "input", "col", "wbr"}
HOSTILE = '<script>alert("x")</script>\'"><img src=x onerror=alert(1)>&amp;'


# (name, submission, its staff mail's kind and verdict)
KINDS: dict[str, tuple[Callable[[], bytes], Kind, Verdict]] = {
    "routed D-Sure": (mails.dsure_key_mail, Kind.DSURE_KEY, Verdict.ROUTED),
    "routed confirmation system": (mails.confirmation_mail, Kind.CONFIRMATION_SYSTEM,
                                   Verdict.ROUTED),
    "routed PDF": (lambda: mails.legacy_pdf_mail(date=IN_TIME), Kind.LEGACY_PDF,
                   Verdict.ROUTED),
    "review": (mails.unreadable_key_notice_mail, Kind.DSURE_KEY, Verdict.REVIEW),
}


class Page(HTMLParser):
    """An HTML part as html.parser reads it: its tags, table rows, paragraphs, links."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.rows: list[tuple[str, str]] = []  # (th, td) as text
        self.paragraphs: list[str] = []
        self.links: list[tuple[str, str]] = []  # (href, text)
        self.unbalanced: list[str] = []
        self.open: list[str] = []
        self._cells: list[str] = []
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID:
            self.open.append(tag)
        if tag in ("th", "td", "p", "a", "li"):
            self._text = []
        if tag == "tr":
            self._cells = []

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open.pop() != tag:
            self.unbalanced.append(tag)
        text = "".join(self._text)
        if tag in ("th", "td"):
            self._cells.append(text)
        elif tag == "tr" and len(self._cells) == 2:
            self.rows.append((self._cells[0], self._cells[1]))
        elif tag == "p":
            self.paragraphs.append(text)
        elif tag == "a":
            href = next(a for t, a in reversed(self.tags) if t == "a").get("href") or ""
            self.links.append((href, text))

    def handle_data(self, data: str) -> None:
        self._text.append(data)


def parse_html(html: str) -> Page:
    """The page, every tag closed in order (valid enough for a mail reader)."""
    page = Page()
    page.feed(html)
    page.close()
    assert page.unbalanced == []
    assert page.open == []
    return page


def text_rows(text: str) -> list[tuple[str, str]]:
    """The "  label: value" rows of the text part (labels padded with ideographic spaces)."""
    return [(m[1], m[2]) for m in re.finditer(r"^  ([^:\s（・]+)　*: (.*)$", text, re.MULTILINE)]


def parts(out: Outgoing) -> tuple[EmailMessage, str, str]:
    """The mail as sent, its text part and its HTML part."""
    msg = email.message_from_bytes(out.to_bytes(), policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    text = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert text is not None
    assert html is not None
    return msg, text.get_content(), html.get_content()


def staff_mail(raw: bytes, settings: Settings, now: datetime = NOW) -> tuple[Mail, Outgoing]:
    mail = read_message(raw)
    [out] = compose(decide(mail, settings), mail, settings, now)
    return mail, out


def _assert_safe(page: Page, html: str) -> None:
    """No script, no remote resource, no event handler; only inline styles."""
    names = {tag for tag, _ in page.tags}
    assert names <= {"html", "head", "meta", "title", "body", "div", "p", "br", "h2", "table",
                     "tr", "th", "td", "ul", "li", "a"}
    for tag, attrs in page.tags:
        assert set(attrs) <= {"lang", "charset", "http-equiv", "content", "name", "style",
                              "scope", "colspan", "href"}
        assert "href" not in attrs or tag == "a"
    assert "url(" not in html.lower()
    assert "@import" not in html.lower()


@pytest.mark.parametrize("name", list(KINDS))
def test_each_kind_has_an_html_part_with_the_text_parts_fields(
        settings: Settings, name: str) -> None:
    """Each kind's staff mail is multipart/mixed[alternative[text, html], original]; the
    HTML (lang ja, UTF-8) has a table row for every "label: value" row of the text, in
    the same order, and the next step for staff as a paragraph."""
    make, kind, verdict = KINDS[name]
    raw = make()
    _, out = staff_mail(raw, settings, IN_TIME if kind is Kind.LEGACY_PDF else NOW)
    msg, text, html = parts(out)
    assert msg["X-Surety-Verdict"] == verdict.value
    assert msg["X-Surety-Kind"] == kind.value
    assert msg.get_content_type() == "multipart/mixed"
    alternative, *attached = msg.iter_parts()
    assert alternative.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in alternative.iter_parts()] == ["text/plain",
                                                                        "text/html"]
    html_part = list(alternative.iter_parts())[1]
    assert html_part.get_content_charset() == "utf-8"
    assert [p.get_content_type() for p in attached] == ["message/rfc822"]
    assert crlf_lines(raw) in out.to_bytes()  # the original, whole
    page = parse_html(html)
    assert ("html", {"lang": "ja"}) in page.tags
    assert ("meta", {"charset": "utf-8"}) in page.tags
    rows = text_rows(text)
    assert len(rows) >= 8
    assert page.rows == rows
    next_step = NEXT_STEPS.get(kind) if verdict is Verdict.ROUTED else None
    if next_step:
        assert next_step in page.paragraphs
        assert f"■ 次の作業\n  {next_step}\n" in text
    else:
        assert "次の作業" not in html
    _assert_safe(page, html)


def test_a_validated_viewing_url_is_the_only_link(settings: Settings) -> None:
    """The confirmation-system mail links its 閲覧用URL: href exactly the validated URL,
    the link text the URL shown in the text part; nothing else is linked."""
    mail, out = staff_mail(mails.confirmation_mail(), settings)
    _, text, html = parts(out)
    page = parse_html(html)
    url = decide(mail, settings).outcomes[0].fields.view_url
    assert url is not None
    assert view_url_valid(url, settings.policy.confirmation_system_domains)
    assert page.links == [(shown_url(url), shown_url(url))]
    assert f"閲覧用URL: {shown_url(url)}\n" in text


@pytest.mark.parametrize("name", ["routed D-Sure", "routed PDF", "review"])
def test_no_link_without_a_viewing_url(settings: Settings, name: str) -> None:
    """A mail without a 閲覧用URL has no link (the D-Sure address in the next step is text)."""
    make, kind, _ = KINDS[name]
    _, out = staff_mail(make(), settings, IN_TIME if kind is Kind.LEGACY_PDF else NOW)
    page = parse_html(parts(out)[2])
    assert page.links == []
    assert not any(tag == "a" for tag, _ in page.tags)


def _hostile_outcome(url: str, problems: tuple[str, ...] = (),
                     verdict: Verdict = Verdict.ROUTED) -> tuple[Decision, Mail]:
    mail = Mail(message_id=f"<m{len(url)}@yamada.example.co.jp>", subject=HOSTILE,
                from_addr="t-yamada@yamada-kensetsu.example.co.jp", from_name=HOSTILE,
                reply_to=(), to=(), cc=(), received_at=NOW, body="",
                attachments=(Attachment(f"{HOSTILE}.pdf", "application/pdf", b""),))
    fields = Fields(project_name=HOSTILE, contractor_name=HOSTILE, insurer=HOSTILE,
                    policy_number=HOSTILE, view_url=url, view_password=KEY)
    outcome = Outcome(verdict, Kind.CONFIRMATION_SYSTEM, GuaranteeType.CONTRACT,
                      problems, (STAFF,), fields, source=f"{HOSTILE}.pdf",  # type: ignore[arg-type]
                      replaces=HOSTILE)
    return Decision(verdict, (outcome,), sources=(mail.message_id,)), mail


@pytest.mark.parametrize(("url", "linked"), [
    ("javascript:alert(1)", False),
    ("JaVaScRiPt:alert(document.cookie)//https://www.sonpo-hosyou-syouken.jp/", False),
    ("http://www.sonpo-hosyou-syouken.jp/view?k=1", False),
    ("https://evil.example/view?k=1", False),
    ("https://www.sonpo-hosyou-syouken.jp@evil.example/", False),
    ("https://www.sonpo-hosyou-syouken.jp:8443/view", False),
    ("https://www.sonpo-hosyou-syouken.jp\\@evil.example/", False),
    ("https://www.sonpo-hosyou-syouken.jp/view?k=1\u202e", False),  # shown escaped: no link
    ('https://www.sonpo-hosyou-syouken.jp/view?k="><script>alert(1)</script>', True),
    ("https://WWW.Sonpo-Hosyou-Syouken.jp/view?k=2FscuRHn", True),
])
def test_hostile_values_are_escaped_and_bad_urls_never_linked(
        settings: Settings, url: str, linked: bool) -> None:
    """Every value the sender wrote (<script>, quotes, a tag) is escaped in the HTML, and a
    viewing URL that fails the checks is shown as text, never as a link; a link that is
    made has exactly the validated URL as its href."""
    for verdict, problems in ((Verdict.ROUTED, ()), (Verdict.REVIEW, ("view-url-invalid",))):
        decision, mail = _hostile_outcome(url, problems, verdict)
        [out] = compose(decision, mail, settings, NOW)
        _, text, html = parts(out)
        page = parse_html(html)
        assert "<script" not in html
        assert "<img" not in html
        _assert_safe(page, html)
        assert ("工事名", HOSTILE) in page.rows
        assert ("受注者名", HOSTILE) in page.rows
        assert ("書類", f"{HOSTILE}.pdf") in page.rows
        assert any(HOSTILE in p for p in page.paragraphs)  # the 再提出 Message-ID
        assert page.rows == text_rows(text)
        if linked:
            assert view_url_valid(url, settings.policy.confirmation_system_domains)
            assert page.links == [(shown_url(url), shown_url(url))]
        else:
            assert page.links == []
            assert not any(tag == "a" for tag, _ in page.tags)


def test_a_valid_url_is_linked_and_its_quotes_stay_in_the_attribute(settings: Settings) -> None:
    """A valid URL whose query holds a quote and angle brackets: linked, the href exactly
    the URL (the attribute not broken out of), the page still safe."""
    url = 'https://www.sonpo-hosyou-syouken.jp/view?k=a"b<c>&d=\'e'
    assert view_url_valid(url, settings.policy.confirmation_system_domains)
    decision, mail = _hostile_outcome(url)
    [out] = compose(decision, mail, settings, NOW)
    html = parts(out)[2]
    page = parse_html(html)
    assert page.links == [(url, url)]
    assert "&#34;b&lt;c&gt;&amp;d=&#39;e" in html
    _assert_safe(page, html)


def test_secrets_in_the_html_exactly_as_in_the_text(settings: Settings) -> None:
    """The key and the viewing password appear in the HTML where the text shows them (the
    table), as often, and never in the page's title."""
    for make, secret in ((mails.dsure_key_mail, mails.default_auth_key("2604012345")),
                         (mails.confirmation_mail, "s7mF3DEzqTTE")):
        _, out = staff_mail(make(), settings)
        msg, text, html = parts(out)
        assert text.count(secret) == 1
        assert html.count(secret) == text.count(secret)
        title = re.search(r"<title>(.*)</title>", html)
        assert title is not None
        assert secret not in title[1]
        assert secret not in str(msg["Subject"])


@pytest.mark.parametrize("which", ["undeliverable", "quarantine"])
def test_notices_to_review_have_the_same_html_part(settings: Settings, which: str) -> None:
    """The notices to the review address are text + HTML as well: the message they are
    about as a table, the sentences as paragraphs, the sender's subject escaped."""
    raw = mails.build(from_="山田 太郎 <t-yamada@yamada-kensetsu.example.co.jp>",
                      to=stack.INTAKE, subject=f"【電子保証】{HOSTILE}", body="本文")
    mail = read_message(raw)
    if which == "undeliverable":
        out = undeliverable_notice(decide(mail, settings), mail, settings, NOW,
                                   failed_action="forward", recipients=[STAFF],
                                   error="550 5.1.1 <x> unknown")
    else:
        out = quarantine_notice(raw, about(mail), settings, NOW, error="<boom>", attempts=3)
    msg, text, html = parts(out)
    page = parse_html(html)
    _assert_safe(page, html)
    assert page.links == []
    assert page.rows == text_rows(text)
    assert ("件名", f"【電子保証】{HOSTILE}") in page.rows
    assert any("<" in p for p in page.paragraphs)  # the server's answer, escaped
    assert [p.get_content_type() for p in msg.iter_attachments()] == ["message/rfc822"]


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("chromium") is None,
                    reason="Debian's chromium is not installed (deploy/dev/packages.txt)")
def test_screenshot_script_shoots_each_kind(tmp_path: Path) -> None:
    """deploy/dev/screenshot.sh renders one staff mail of each kind and headless Chromium
    makes a PNG of each: a real image, of the window's size, not a blank page."""
    done = subprocess.run(["bash", str(ROOT / "deploy/dev/screenshot.sh"), str(tmp_path)],
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    names = ["routed-dsure", "routed-confirmation-system", "routed-pdf", "review"]
    assert done.stdout.split() == [str(tmp_path / f"{n}.png") for n in names]
    for name in names:
        html = (tmp_path / f"{name}.html").read_text(encoding="utf-8")
        assert '<html lang="ja">' in html
        png = (tmp_path / f"{name}.png").read_bytes()
        assert len(png) > 20_000  # text and tables, not an empty white page
        width, height = _png_size(png)
        assert 600 <= width <= 2000
        assert 600 <= height <= 3000
