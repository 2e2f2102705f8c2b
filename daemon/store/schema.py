"""The state file's tables, and the migrations that bring an older file up to date."""

from __future__ import annotations

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id            INTEGER PRIMARY KEY,
    folder        TEXT NOT NULL,
    uidvalidity   INTEGER NOT NULL,
    uid           INTEGER NOT NULL,
    message_id    TEXT NOT NULL,
    content_hash  TEXT NOT NULL,
    received_at   TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('seen', 'held', 'decided', 'done')),
    sender        TEXT NOT NULL DEFAULT '',
    held_reason   TEXT,
    held_until    TEXT,
    paired_with   INTEGER REFERENCES messages(id),
    kind          TEXT,
    verdict       TEXT,
    guarantee_type TEXT,
    problems      TEXT,
    route_to      TEXT,
    reason        TEXT,
    duplicate_of  INTEGER REFERENCES messages(id),
    attempts      INTEGER NOT NULL DEFAULT 0,   -- failed attempts (exceptions, deaths)
    in_progress   INTEGER NOT NULL DEFAULT 0,   -- 1 while a run works on it
    last_error    TEXT,
    seen_at       TEXT NOT NULL,
    decided_at    TEXT,
    done_at       TEXT,
    UNIQUE (folder, uidvalidity, uid)
);
CREATE INDEX IF NOT EXISTS messages_identity ON messages (message_id, content_hash);
CREATE INDEX IF NOT EXISTS messages_held ON messages (state, sender);
CREATE TABLE IF NOT EXISTS submissions (
    id              INTEGER PRIMARY KEY,
    message         INTEGER NOT NULL REFERENCES messages(id),
    source          TEXT NOT NULL,   -- Message-ID of the message it came in
    sender          TEXT NOT NULL,
    kind            TEXT NOT NULL,
    guarantee_type  TEXT,
    contract_number TEXT,
    policy_number   TEXT,
    project_name    TEXT,
    verdict         TEXT NOT NULL,
    decided_at      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS submissions_sender ON submissions (sender, kind);
CREATE TABLE IF NOT EXISTS outgoing (
    id             INTEGER PRIMARY KEY,
    message        INTEGER NOT NULL REFERENCES messages(id),
    action         TEXT NOT NULL,
    out_message_id TEXT NOT NULL UNIQUE,
    recipients     TEXT NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('queued', 'sending', 'sent', 'failed')),
    attempts       INTEGER NOT NULL DEFAULT 0,
    last_error     TEXT,
    next_attempt_at TEXT,
    queued_at      TEXT NOT NULL,
    sent_at        TEXT
);
"""

# Changes to a state file made by an earlier version, in order: MIGRATIONS[i] takes a file
# from version i + 1 to i + 2 (files from before versions were recorded are version 1).
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 2: a mail whose hand-over was cut off (the server may have it) and, once the server
    # was seen up again, until when its copy is waited for before it is sent again.
    ("ALTER TABLE outgoing ADD COLUMN uncertain INTEGER NOT NULL DEFAULT 0",
     "ALTER TABLE outgoing ADD COLUMN confirm_after TEXT"),
    # 3: the address a reply went to, lower-cased, in a column of its own (the reply cap
    # counts by it), rather than read out of the JSON list of recipients.
    ("ALTER TABLE outgoing ADD COLUMN reply_to TEXT",
     "UPDATE outgoing SET reply_to=lower(json_extract(recipients, '$[0]'))"
     " WHERE action LIKE 'reply%'",
     "CREATE INDEX IF NOT EXISTS outgoing_replies ON outgoing (reply_to, queued_at)"),
    # 4: what a re-sent submission may replace is looked up by its numbers and works, not
    # by reading every earlier submission of its kind.
    ("CREATE INDEX IF NOT EXISTS submissions_contract ON submissions (contract_number)",
     "CREATE INDEX IF NOT EXISTS submissions_policy ON submissions (policy_number)",
     "CREATE INDEX IF NOT EXISTS submissions_works ON submissions (sender, project_name)"),
    # 5: the daily summaries sent (one row per day reported, the guard that it is sent
    # once): 'sending' before the hand-over, 'sent' after; 'failed' when the server
    # certainly did not take it (tried again). Finding the arrivals of a day by time.
    ("CREATE TABLE IF NOT EXISTS summaries ("
     " day TEXT PRIMARY KEY, out_message_id TEXT NOT NULL,"
     " state TEXT NOT NULL CHECK (state IN ('sending', 'sent', 'failed')),"
     " attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT, sent_at TEXT)",
     "CREATE INDEX IF NOT EXISTS messages_received ON messages (julianday(received_at))"),
    # 6: each message decided again with ``replay --apply``: when, the decision before and
    # after (kind, verdict, guarantee type, problems, route_to, reason, as JSON), the mails
    # it sent, and whether it is finished (0 while its mails are being sent and the
    # message moved: a second --apply finishes it).
    ("CREATE TABLE IF NOT EXISTS replays ("
     " id INTEGER PRIMARY KEY,"
     " message INTEGER NOT NULL REFERENCES messages(id),"
     " at TEXT NOT NULL,"
     " old_decision TEXT NOT NULL,"
     " new_decision TEXT NOT NULL,"
     " out_message_ids TEXT NOT NULL,"
     " applied INTEGER NOT NULL DEFAULT 0)",
     "CREATE INDEX IF NOT EXISTS replays_message ON replays (message)"),
    # 7: each poll (when, how it ended, its counts per outcome), the latest KEPT of
    # them, and how many polls ended each way in all (for `status` and the metrics).
    ("CREATE TABLE IF NOT EXISTS polls (id INTEGER PRIMARY KEY, started_at TEXT NOT NULL,"
     " finished_at TEXT NOT NULL, outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'failed')),"
     " counts TEXT NOT NULL, error TEXT)",
     "CREATE INDEX IF NOT EXISTS polls_outcome ON polls (outcome, id)",
     "CREATE TABLE IF NOT EXISTS poll_totals (outcome TEXT PRIMARY KEY,"
     " count INTEGER NOT NULL)"),
)
SCHEMA_VERSION = 1 + len(MIGRATIONS)
