"""The staff mail's HTML part end to end: a routed submission delivered through Postfix,
decided by the daemon run as a process, read back from the staff mailbox in Dovecot."""

from __future__ import annotations

import pytest
import stack
from conftest import Office
from samples import mails
from test_html import parse_html, text_rows

from daemon.checks import shown_url
from daemon.config import Settings
from daemon.decide import decide
from daemon.read import read_message

pytestmark = pytest.mark.stack


def test_routed_staff_mail_arrives_with_text_and_html(office: Office, settings: Settings
                                                      ) -> None:
    """A routed confirmation-system submission reaches the contract staff as
    multipart/mixed[alternative[text/plain, text/html], original]: the HTML (lang ja)
    has the text's rows, the 閲覧用URL as its one link and the next step."""
    raw = mails.confirmation_mail(to=stack.INTAKE)
    url = decide(read_message(raw), settings).outcomes[0].fields.view_url
    assert url is not None
    stack.deliver(raw)
    stack.wait_for_queue()
    run = office.run("run", "--once")
    assert run.returncode == 0, run.stderr
    source = read_message(raw).message_id
    [got] = [g for g in stack.mailbox(stack.CONTRACT_STAFF)
             if g.header("X-Surety-Source") == source]
    assert got.header("X-Surety-Verdict") == "routed"
    msg = got.message
    assert msg.get_content_type() == "multipart/mixed"
    alternative, original = msg.iter_parts()
    assert alternative.get_content_type() == "multipart/alternative"
    text_part, html_part = alternative.iter_parts()
    assert text_part.get_content_type() == "text/plain"
    assert html_part.get_content_type() == "text/html"
    assert html_part.get_content_charset() == "utf-8"
    assert original.get_content_type() == "message/rfc822"
    text, html = text_part.get_content(), html_part.get_content()
    assert text == got.text()
    page = parse_html(html)
    assert ("html", {"lang": "ja"}) in page.tags
    assert page.rows == text_rows(text)
    assert ("閲覧用URL", shown_url(url)) in page.rows
    assert page.links == [(shown_url(url), shown_url(url))]
    assert "閲覧用URLを開き、閲覧用パスワードで証券等のPDFをご確認ください。" in page.paragraphs
