"""The loop's decisions about one message, kept pure so they are tested without a server.

The loop (:mod:`daemon.service`) asks these questions and acts on the answers; none of
them touches the network or the disk (what they need from the state file comes in through
:class:`ReplyHistory`):

- did the daemon write this mail, and is it the copy of one it sent? (:func:`own_mail`)
- has this message failed often enough to be set aside? (:func:`quarantine_due`)
- may this correction still go, or has its address had enough replies? (:func:`limit_replies`)
- may a receipt still go within the same caps? (:func:`reply_allowed`)
- which values must never appear in the log? (:func:`secrets_of`)
"""

from __future__ import annotations

import enum
import re
from collections import Counter, deque
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import parseaddr
from typing import Protocol

from daemon.classify import password_candidates
from daemon.config import Settings
from daemon.documents import OFFICE_SUFFIXES
from daemon.japanese import normalize
from daemon.log import MIN_CHARS, skeleton
from daemon.model import Decision, DocumentStatus, Mail, Verdict, overall
from daemon.problems import Code
from daemon.read import read_headers_only

REPLY_WINDOW = timedelta(hours=24)
HOUR = timedelta(hours=1)


class Own(enum.Enum):
    """Which of the daemon's own mails a message is."""

    COPY = "copy"    # the copy of a mail it sent (smtp.copy_to): the proof it went out
    OTHER = "other"  # anything else it wrote, or sent from its address: never answered


def own_mail(mail: Mail, settings: Settings) -> Own | None:
    """Whether the daemon wrote this mail, the one answer to "is this ours?".

    The copy of a mail it sent comes from its sender address and names its source message
    (X-Surety-Source). Anything else from that address, or carrying the verdict header
    every mail it writes has (one of its mails forwarded back, a bounce quoting it whole),
    is its own too, and never answered. A contractor's mail that quotes the daemon's
    headers in its text, or names the daemon's address elsewhere, is neither.
    """
    return _own(mail.from_addr, mail.header("X-Surety-Source"),
                mail.header("X-Surety-Verdict"), settings)


# The headers own_mail looks at: fetched alone, they tell an own copy without its body.
OWN_HEADERS = ("From", "X-Surety-Source", "X-Surety-Verdict")


def own_by_headers(head: bytes, settings: Settings) -> Own | None:
    """:func:`own_mail` on a message's headers alone (its body not fetched)."""
    headers = BytesHeaderParser(policy=compat32).parsebytes(head)
    from_addr = parseaddr(str(headers.get("From", "")))[1].lower()
    return _own(from_addr, _text(headers.get("X-Surety-Source")),
                _text(headers.get("X-Surety-Verdict")), settings)


def _text(value: object) -> str | None:
    return None if value is None else str(value).strip()


def _own(from_addr: str, source: str | None, verdict: str | None,
         settings: Settings) -> Own | None:
    from_daemon = from_addr == settings.smtp.sender.lower()
    if from_daemon and source:
        return Own.COPY
    if from_daemon or verdict:
        return Own.OTHER
    return None


def quarantine_due(failed_attempts: int, settings: Settings) -> bool:
    """A message that made the pipeline fail ``limits.max_attempts`` times is set aside."""
    return failed_attempts >= settings.limits.max_attempts


class ReplyHistory(Protocol):
    """What the reply cap needs to know of earlier replies (the state file answers)."""

    def replies_between(self, address: str | None, start: datetime, end: datetime, *,
                        exclude_sources: tuple[str, ...]) -> int:
        """Replies to ``address`` (None: to anybody) queued in [start, end), for other
        messages than these (by Message-ID)."""
        ...  # pragma: no cover


@dataclass(frozen=True)
class Capped:
    """A decision after the reply cap, and the addresses whose cap it reached."""

    decision: Decision
    limited: tuple[str, ...] = ()


def limit_replies(decision: Decision, history: ReplyHistory, *, sources: tuple[str, ...],
                  decided_at: datetime, settings: Settings) -> Capped:
    """At most replies.per_sender_per_day replies to one address in 24 hours, and
    replies.per_hour replies in all in an hour: a correction beyond either goes to review
    instead (an auto-responder loop, or a sender cycling addresses, must not make the
    office flood anybody)."""
    limit = settings.replies.per_sender_per_day
    counted: Counter[str] = Counter()
    outcomes = []
    limited: list[str] = []
    hour: int | None = None  # replies to anybody in the last hour, asked once
    for outcome in decision.outcomes:
        if outcome.verdict is not Verdict.CORRECTION:
            outcomes.append(outcome)
            continue
        to = outcome.route_to[0]
        sent = history.replies_between(to, decided_at - REPLY_WINDOW, decided_at,
                                       exclude_sources=sources)
        if hour is None:
            hour = history.replies_between(None, decided_at - HOUR, decided_at,
                                           exclude_sources=sources)
        if sent + counted[to] >= limit or hour + counted.total() >= settings.replies.per_hour:
            limited.append(to)
            outcomes.append(replace(outcome, verdict=Verdict.REVIEW,
                                    route_to=tuple(settings.routing.review),
                                    problems=(*outcome.problems, Code.REPLY_LIMIT_REACHED)))
        else:
            counted[to] += 1
            outcomes.append(outcome)
    if not decision.outcomes:
        return Capped(decision)
    verdict = overall([o.verdict for o in outcomes])
    return Capped(replace(decision, outcomes=tuple(outcomes), verdict=verdict), tuple(limited))


def reply_allowed(history: ReplyHistory, to: str, *, sources: tuple[str, ...],
                  decided_at: datetime, settings: Settings) -> bool:
    """Whether one more mail to the contractor (a receipt) stays within the reply caps
    the corrections count against: replies.per_sender_per_day to ``to`` in 24 hours and
    replies.per_hour in all, the corrections and receipts queued for other messages
    counted."""
    replies = settings.replies
    sent = history.replies_between(to, decided_at - REPLY_WINDOW, decided_at,
                                   exclude_sources=sources)
    if sent >= replies.per_sender_per_day:
        return False
    return history.replies_between(None, decided_at - HOUR, decided_at,
                                   exclude_sources=sources) < replies.per_hour


def secrets_of(mail: Mail, decision: Decision) -> list[str]:
    """Every secret value this message carries: the 認証キー and passwords of each of its
    submissions, every value beside a key or password label anywhere in it (the subject,
    the body and its HTML part, each attachment's text and name, a follow-up's subject),
    and everything that may be a password it gives for an attached document (labelled,
    or alone on a line; a lone token that is the message's 保証契約番号, 工事番号 or 証券番号
    is not one)."""
    found: list[str] = [*mail.passwords]
    public: set[str] = set()
    for outcome in decision.outcomes:
        fields = outcome.fields
        found += [v for v in (fields.auth_key, fields.view_password, fields.document_password)
                  if v]
        public.update(skeleton(v) for v in (fields.contract_number, fields.project_number,
                                            fields.policy_number) if v)
    found += _labelled(mail)
    labelled = set(found)
    found += [c for c in password_candidates(mail)
              if c in labelled or skeleton(c) not in public]
    return list(dict.fromkeys(found))


# The last messages' labelled values: a message's secrets are asked for several times
# (before anything is logged about it, then with its decision), its texts scanned once.
_scanned: deque[tuple[Mail, list[str]]] = deque(maxlen=4)


def _labelled(mail: Mail) -> list[str]:
    """Every value beside a key or password label anywhere in the message."""
    for known, values in _scanned:
        if known is mail:
            return values
    values = [value for text in _texts(mail) for value in labelled_secrets(text)]
    _scanned.append((mail, values))
    return values


def _texts(mail: Mail) -> list[str]:
    """Everything of a message that may hold a labelled value: subject, body (the HTML part
    read as text is in it), each attachment's name and text, each follow-up's subject."""
    texts = [mail.subject, mail.body]
    for att in mail.attachments:
        texts += [att.filename, att.text]
    for raw in mail.companions:
        texts.append(read_headers_only(raw, status=DocumentStatus.SKIPPED, detail="").subject)
    return [t for t in texts if t]


# A label beside which a value is a secret: the 認証キー, any password (閲覧用, 解凍, 開封, ZIP,
# PW, PASS, ...), a PIN. A Latin label is a whole word (PW is not PWC, KEY not NINSHOKEY),
# and not a value itself (spf=pass, a host or an address).
_SECRET_LABEL = re.compile(
    r"認証 ?(?:キー|key|コード)|キー|パスワ[-ー]?ド|暗証番号|(?<![A-Za-z0-9_=./@])(?:auth ?key|key"
    r"|password|passcode|passwd|pass|pwd|pw|p/w)(?![A-Za-z])", re.I)
# What may stand between a label and its value: a Japanese annotation ("(半角)"), closing
# brackets, a separator (:, =, _ in a file name, は), an opening bracket or quote.
_AFTER_SECRET_LABEL = re.compile(
    r"(?:[ ]?\((?=[^)\n]*[^\x00-\x7f])[^)\n]{0,20}\))?[ \]】)〉》>」』\"'”’]*"
    r"(?P<sep>[:=_]|は)?[、, ]*(?P<open>[「『\"'“‘(【\[〈《<]?)")
_OPEN = "「『\"'“‘(【[〈《<"
_CLOSE = "」』\"'”’)】]〉》>"
# A value: printable ASCII words one blank or dash apart (a key typed in groups, a key
# spaced out), up to the first word of another script.
_VALUE_RUN = re.compile(r"[!-~]+(?:[ \u2010-\u2015\u2212\u30fc]+[!-~]+)*")
_RUN_GAP = re.compile(r"[ \u2010-\u2015\u2212\u30fc]+")
_ATTACHED = re.compile(r"[^\s【】\[\]〈〉《》■□●○◆◇・※★☆◎▼▽▶→|*:=]+$")
_LABEL_LINE_REST = re.compile(r"[ ■□●○◆◇・※★☆◎▼▽▶→|*【】\[\]〈〉《》()「」『』:=0-9.]*")
# The suffix of a file sent (a password may be given as the file's name).
_FILE_SUFFIXES = (".pdf", ".zip", ".7z", ".lzh", *OFFICE_SUFFIXES, ".txt")
_FILE_SUFFIX = re.compile(
    "(?:" + "|".join(re.escape(s) for s in _FILE_SUFFIXES) + ")$", re.I)
MAX_VALUE_CHARS = 64


def labelled_secrets(text: str) -> list[str]:
    """Every value beside a key or password label in a text (normalised first): on the
    label's line, or on the next when the label stands alone on its line, or, under a line
    of several labels, each word of the next line that mixes letters and digits. A value
    typed in groups or spaced out is given whole (and as each longer run of its words), a
    value in brackets up to its closing one, a file name also without its suffix."""
    text = normalize(text).replace("\u301c", "~")  # ～ as JIS mail turns it: 〜
    found: list[str] = []
    for m in _SECRET_LABEL.finditer(text):
        after = _AFTER_SECRET_LABEL.match(text, m.end())
        if after is None:  # never: every part of the pattern is optional
            continue
        line_end = _line_end(text, after.end())
        rest = text[after.end():line_end]
        if rest.strip():
            quoted = after.group("open") not in ("", "(")
            found += _run_values(rest, bracketed=bool(after.group("open")),
                                 need_digit=m.group(0).isascii() and not (
                                     after.group("sep") or quoted))
        elif not _LABEL_LINE_REST.fullmatch(_label_line(text, m)):
            found += _column_values(_next_line(text, line_end))
        else:
            value = _next_line(text, line_end)
            if value.strip(" :=") == "":  # "label" / ":" / value, as some PDFs put it
                value = _next_line(text, _line_end(text, line_end + 1))
            value = value.lstrip(" :=")
            found += _run_values(value.lstrip(_OPEN), bracketed=value[:1] in _OPEN)
    return list(dict.fromkeys(found))


def _line_end(text: str, pos: int) -> int:
    end = text.find("\n", pos)
    return len(text) if end == -1 else end


def _next_line(text: str, line_end: int) -> str:
    """The line after the one ending at ``line_end`` ("" at the end of the text)."""
    if line_end >= len(text):
        return ""
    return text[line_end + 1:_line_end(text, line_end + 1)]


def _label_line(text: str, m: re.Match[str]) -> str:
    """The label's line without the label and the word it ends (閲覧用パスワード,
    ZIPパスワード, 3.認証キー)."""
    first = text.rfind("\n", 0, m.start()) + 1
    before = _ATTACHED.sub("", text[first:m.start()])
    return before + text[m.end():_line_end(text, m.end())]


def _run_values(rest: str, *, bracketed: bool = False, need_digit: bool = False) -> list[str]:
    """The value at the start of ``rest``: its first word and each run of its first words
    (the whole value typed in groups or spaced out), MAX_VALUE_CHARS characters at most;
    in brackets, up to the closing one. With ``need_digit`` (after a Latin label without a
    colon or a quote) a value with no digit near its start is none ("Pass the ...", "key
    points", "pass (domain of ...)")."""
    run = _VALUE_RUN.match(rest[:MAX_VALUE_CHARS * 4])
    if run is None:
        return []
    value = run.group(0)
    if bracketed:
        value = re.split(f"[{re.escape(_CLOSE)}]", value, maxsplit=1)[0]
    if need_digit and not any(c.isdigit() for c in skeleton(value)[:16]):
        return []
    words = _RUN_GAP.split(value)
    out: list[str] = []
    size = 0
    for n, word in enumerate(words, 1):
        size += len(skeleton(word))
        if size > MAX_VALUE_CHARS:
            break
        whole = " ".join(words[:n])
        trimmed = whole.strip(_OPEN + _CLOSE + ".,;:")
        out += [whole, trimmed, _FILE_SUFFIX.sub("", trimmed)]
    return [v for v in dict.fromkeys(out) if len(skeleton(v)) >= MIN_CHARS]


def _column_values(line: str) -> list[str]:
    """Under a line of labels (a table copied from a spreadsheet): each word of the next
    line that mixes letters and digits may be the value under the label."""
    return [w for w in (w.strip(_OPEN + _CLOSE) for w in line.split())
            if len(w) >= MIN_CHARS and any(c.isdigit() for c in w)
            and any(c.isalpha() for c in w)]
