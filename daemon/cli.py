"""The ``surety-intake`` command: run the daemon, classify one message file, or replay
one message of the state file."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from daemon import config
from daemon.config import ConfigError, Settings

if TYPE_CHECKING:
    from daemon.decide import History
    from daemon.metrics import Endpoint
    from daemon.service import Intake
    from daemon.status import Waiting


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="surety-intake",
        description="Takes in electronic guarantee submissions from a contract mailbox.",
    )
    parser.add_argument("--config", required=True, metavar="FILE", help="the office's TOML config")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="poll the mailbox and act on each message")
    run.add_argument("--once", action="store_true", help="process what is waiting, then exit")
    run.add_argument("--dry-run", action="store_true",
                     help="trial mode (as mode = \"trial\"): decide everything, send every "
                          "mail to trial.address only, move nothing")
    classify = commands.add_parser(
        "classify", help="print the verdict on one message file as JSON (sends nothing)"
    )
    classify.add_argument("message", metavar="MESSAGE.eml")
    commands.add_parser("check-config", help="validate the config and exit")
    commands.add_parser(
        "authorize", help="OAuth2 once: print the URL and code to sign in with (device flow),"
                          " wait for the sign-in, store the token (mode 0600)")
    check = commands.add_parser(
        "check", help="validate the config, then connect to the IMAP and SMTP servers and"
                      " log in, each step on one line; the exit status names the failure")
    check.add_argument("--send-test", action="store_true",
                       help="also send one test mail to routing.review")
    summary = commands.add_parser(
        "summary", help="print the daily summary (日次集計) of a day; --send: send it now")
    summary.add_argument("--date", metavar="YYYY-MM-DD", type=date.fromisoformat,
                         help="the day reported, in Japan time (default: yesterday)")
    summary.add_argument("--send", action="store_true",
                         help="send it to summary.to now (even if it went already)")
    replay = commands.add_parser(
        "replay", help="decide one message again with the current config and show both "
                       "decisions; act only with --apply")
    replay.add_argument("message_id", metavar="MESSAGE-ID", help="with or without <>")
    replay.add_argument("--apply", action="store_true",
                        help="send the new decision's mails (once), move the message, "
                             "record the replay")
    status = commands.add_parser(
        "status", help="what the daemon is doing: last poll, waiting, held, outbox, "
                       "quarantine, today's and this month's counts (reads, changes nothing)")
    status.add_argument("--json", action="store_true", help="one JSON object")
    return parser


def classify_file(settings: Settings, path: Path, *, history: History | None = None,
                  now: datetime | None = None) -> dict[str, object]:
    """The JSON ``classify`` prints for one message file: what ``run`` would do with it
    now (``held`` only while its wait runs), with the reply cap and what it replaces
    when the state file (``history``) is given; no secret of the message in clear."""
    # The reading and deciding pipeline, imported by the command that uses it: check-config
    # and a mistyped command line start without it.
    from daemon import log  # noqa: PLC0415
    from daemon.decide import finalize  # noqa: PLC0415
    from daemon.lifecycle import secrets_of  # noqa: PLC0415
    from daemon.sandbox import Reading  # noqa: PLC0415

    now = now or datetime.now(UTC)
    # Read and decide as the daemon does: in one child with the office's limits, so that
    # classify survives whatever the daemon survives. When that child fails, the message
    # is read and decided again in a child each, as the daemon does (a message that
    # cannot be read is decided from its headers; a hostile message ends in review).
    mail, decision, _ = Reading(path.read_bytes(), None, settings, now).result()
    decision = finalize(decision, mail, settings, now=now, history=history)
    result = decision.to_json()
    result["message_id"] = mail.message_id
    result["received_at"] = mail.received_at.isoformat()
    # The fields are masked already; any other string (an attachment's name, a Message-ID)
    # that holds one of the message's secrets, in any form, gets it masked as the log does.
    masked: dict[str, object] = log.masked(result, secrets_of(mail, decision))
    return masked


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        settings = config.load(args.config)
    except ConfigError as err:
        print(f"surety-intake: config error: {err}", file=sys.stderr)
        return 2
    if args.command in ("check-config", "check"):
        for warning in config.warnings(settings):
            print(f"surety-intake: warning: {warning}", file=sys.stderr)
    if args.command == "check-config":
        print("config ok")
        return 0
    if args.command == "classify":
        return _classify(settings, Path(args.message))
    if args.command == "authorize":
        return _authorize(settings)
    if args.command == "check":
        return _check(settings, send_test=args.send_test)
    if args.command == "summary":
        return _summary(settings, args.date, send=args.send)
    if args.command == "replay":
        return _replay(settings, args.message_id, apply=args.apply)
    if getattr(args, "dry_run", False) or settings.mode == "trial":
        try:
            settings = config.for_trial(settings)
        except ConfigError as err:
            print(f"surety-intake: config error: {err}", file=sys.stderr)
            return 2
    if args.command == "status":
        return _status(settings, as_json=args.json)
    return _run(settings, once=args.once)


def _waiting(settings: Settings) -> Waiting:
    """The intake folder's counts from the IMAP server, or why it could not be asked."""
    from daemon import connections  # noqa: PLC0415
    from daemon.log import masked  # noqa: PLC0415
    from daemon.mailbox import MailboxError, waiting  # noqa: PLC0415
    from daemon.status import Waiting  # noqa: PLC0415

    folder = settings.imap.folder
    password = ""
    try:
        password = connections.imap_password(settings)
        tokens = connections.tokens(settings) if settings.imap.auth == "oauth2" else None
        messages, unseen = waiting(settings.imap, password, tokens,
                                   settings.oauth2.mechanism)
    except (ConfigError, MailboxError) as err:
        return Waiting(folder, error=str(masked(str(err), [password] if password else [])))
    return Waiting(folder, messages, unseen)


def _status(settings: Settings, *, as_json: bool) -> int:
    """Print what the daemon is doing, from the state file (read only) and the IMAP
    server (STATUS). 0; 1 no state file (or unreadable); 3 the server could not be asked."""
    import sqlite3  # noqa: PLC0415

    from daemon import log, status  # noqa: PLC0415
    from daemon.store import StateUnavailableError, StateVersionError, Store  # noqa: PLC0415

    # Anything logged on the way (an OAuth2 refresh) goes to stderr, masked: stdout holds
    # the status alone (--json output stays one JSON object).
    log.configure(stderr=True)
    state = Path(settings.state.path)
    if not state.exists():
        print(f"surety-intake: no state file yet ({state}): the daemon has not run",
              file=sys.stderr)
        return 1
    try:
        store = Store(state, busy_timeout=settings.state.busy_timeout_seconds, read_only=True)
        try:
            snap = status.snapshot(store, datetime.now(UTC))
        finally:
            store.close()
    except (StateUnavailableError, StateVersionError, sqlite3.Error) as err:
        print(f"surety-intake: cannot read the state file {state}: {err}", file=sys.stderr)
        return 1
    waiting = _waiting(settings)
    result = status.to_json(snap, waiting, mode=settings.mode, state_file=str(state))
    if as_json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        print(status.render(result), end="")
    return 3 if waiting.error else 0


def _classify(settings: Settings, path: Path) -> int:
    """Print what ``run`` would do with one message file, reading (never writing) the
    state file when there is one."""
    store = None
    state = Path(settings.state.path)
    state_errors: tuple[type[Exception], ...] = ()  # none without a state file
    try:
        if state.exists():
            # The store only when there is a state file to read: importing it imports
            # what its gateways need to send mail (the templates, the logging library).
            import sqlite3  # noqa: PLC0415

            from daemon.store import (  # noqa: PLC0415
                StateUnavailableError,
                StateVersionError,
                Store,
            )

            state_errors = (StateUnavailableError, StateVersionError, sqlite3.Error)
            store = Store(state, busy_timeout=settings.state.busy_timeout_seconds,
                          read_only=True)
        result = classify_file(settings, path, history=store)
    except OSError as err:
        print(f"surety-intake: cannot read {path}: {err.strerror}", file=sys.stderr)
        return 1
    except state_errors as err:
        print(f"surety-intake: cannot read the state file {state}: {err}", file=sys.stderr)
        return 1
    finally:
        if store is not None:
            store.close()
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


def _authorize(settings: Settings) -> int:
    """The OAuth2 device flow: the sign-in URL and code printed, the token stored."""
    from daemon import log, oauth  # noqa: PLC0415 - the HTTP stack, only for this command

    log.configure()
    for key in ("client_id", "scope", "token_path", "token_url", "device_url"):
        if not getattr(settings.oauth2, key):
            print(f"surety-intake: config error: oauth2.{key}: required for authorize",
                  file=sys.stderr)
            return 2
    try:
        code = oauth.start_device_flow(settings.oauth2)
        print(f"次のページを開き、コードを入力してサインインしてください / Open this page and"
              f" enter the code to sign in: {code.verification_uri}  コード / code:"
              f" {code.user_code}", flush=True)
        oauth.poll_device_flow(settings.oauth2, code)
    except ConfigError as err:
        print(f"surety-intake: config error: {err}", file=sys.stderr)
        return 2
    except oauth.OAuthError as err:
        print(f"surety-intake: authorize failed: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"surety-intake: cannot write the token file {settings.oauth2.token_path}:"
              f" {err.strerror}", file=sys.stderr)
        return 1
    print(f"トークンを保存しました / token stored: {settings.oauth2.token_path} (mode 0600)")
    return 0


def _check(settings: Settings, *, send_test: bool) -> int:
    """Connect to the servers as ``run`` would, each step on one line (daemon.check)."""
    from daemon import check, log  # noqa: PLC0415 - the network libraries, for this command only

    log.configure(stderr=True)  # stdout holds the steps (oauth2.refreshed and such: stderr)
    try:
        return int(check.run(settings, send_test=send_test, now=datetime.now(UTC)))
    except ConfigError as err:
        print(f"surety-intake: config error: {err}", file=sys.stderr)
        return int(check.Exit.CONFIG)


def _summary(settings: Settings, day: date | None, *, send: bool) -> int:
    """Print the summary of ``day`` (default yesterday, Japan time); with ``send``, send
    it to summary.to now (in trial mode: to trial.address, from the trial's state file)."""
    import sqlite3  # noqa: PLC0415

    from daemon import log, summary  # noqa: PLC0415
    from daemon.daily import DailySummary, Outcome  # noqa: PLC0415
    from daemon.store import StateUnavailableError, StateVersionError, Store  # noqa: PLC0415

    try:
        if settings.mode == "trial":
            settings = config.for_trial(settings)
        if send and not settings.summary.to:
            raise ConfigError("summary.to: not set (nobody to send the summary to)")
        daily = DailySummary.for_office(settings) if send else None
    except ConfigError as err:
        print(f"surety-intake: config error: {err}", file=sys.stderr)
        return 2
    now = datetime.now(UTC)
    day = day or summary.yesterday(now)
    state = Path(settings.state.path)
    if not send and not state.exists():
        print(f"surety-intake: no state file {state} (the daemon has not run)", file=sys.stderr)
        return 1
    try:
        store = Store(state, busy_timeout=settings.state.busy_timeout_seconds,
                      read_only=not send)
        try:
            mail = summary.mail(store.summaries.figures(day, now), settings)
        finally:
            store.close()
        print(f"件名: {mail.message['Subject']}\n")
        print(mail.message.get_content(), end="")
        if daily is None:
            return 0
        log.configure()
        return 0 if daily.send(day, again=True) is Outcome.SENT else 1
    except (StateUnavailableError, StateVersionError, sqlite3.Error, OSError) as err:
        print(f"surety-intake: cannot use the state file {state}: {err}", file=sys.stderr)
        return 1


def _replay(settings: Settings, message_id: str, *, apply: bool) -> int:
    """``replay``: in trial mode, on the trial's state file, and never with --apply."""
    if settings.mode == "trial":
        if apply:
            print("surety-intake: config error: mode: replay --apply is refused in trial"
                  " mode (a trial sends and moves nothing)", file=sys.stderr)
            return 2
        try:
            settings = config.for_trial(settings)
        except ConfigError as err:
            print(f"surety-intake: config error: {err}", file=sys.stderr)
            return 2
    from daemon import log  # noqa: PLC0415
    from daemon.replayer import command  # noqa: PLC0415

    log.configure(stderr=True)  # stdout holds the two decisions
    return command(settings, message_id, apply=apply)


def _run(settings: Settings, *, once: bool) -> int:
    # Imported here so that classify and check-config start without the network stack
    # and the logging library.
    import sqlite3  # noqa: PLC0415

    import structlog  # noqa: PLC0415

    from daemon import log  # noqa: PLC0415
    from daemon.mailbox import MailboxError  # noqa: PLC0415
    from daemon.schedule import run_forever  # noqa: PLC0415
    from daemon.service import Intake  # noqa: PLC0415
    from daemon.store import StateUnavailableError, StateVersionError, Store  # noqa: PLC0415

    log.configure()
    logger = structlog.get_logger("daemon.cli")
    if settings.mode == "trial":
        logger.info("trial.mode", to=settings.trial.address, state=settings.state.path)
    try:
        config.check_for_run(settings)
        store = Store(settings.state.path, busy_timeout=settings.state.busy_timeout_seconds)
        intake = Intake.for_office(settings, store)
    except ConfigError as err:
        print(f"surety-intake: config error: {err}", file=sys.stderr)
        return 2
    except StateVersionError as err:
        # A newer daemon wrote the state file: restarting this one cannot help.
        logger.error("state.too_new", error=str(err), path=settings.state.path)
        print(f"surety-intake: {err}", file=sys.stderr)
        return 2
    except (StateUnavailableError, sqlite3.OperationalError, OSError) as err:
        # Disk full, file locked or unwritable: nothing was taken; systemd starts the
        # daemon again later (Restart=on-failure), a cron'd --once runs again.
        logger.error("state.unavailable", error=str(err), path=settings.state.path)
        return 1
    endpoint = _metrics(settings, intake, serve=not once)
    try:
        from daemon.sandbox import warm_up  # noqa: PLC0415

        warm_up(settings)  # before the first child is forked: every child inherits it
        if once:
            intake.run_once()
        else:
            from daemon.daily import DailySummary  # noqa: PLC0415

            daily = DailySummary.for_office(settings) if settings.summary.to else None
            run_forever(intake, daily=daily)
    except MailboxError as err:
        logger.error("imap.unavailable", error=str(err))
        return 1
    finally:
        if endpoint is not None:
            endpoint.close()
        intake.close()
        store.close()
    return 0


def _metrics(settings: Settings, intake: Intake, *, serve: bool) -> Endpoint | None:
    """The metrics as configured: the textfile written after each poll; the endpoint
    started (``serve``: a daemon that keeps running), or None."""
    import structlog  # noqa: PLC0415

    from daemon.metrics import Endpoint, Textfile  # noqa: PLC0415

    if settings.metrics.textfile:
        intake.after_poll = Textfile(settings.metrics.textfile, intake.store, intake.clock)
    if not (serve and settings.metrics.port):
        return None
    try:
        endpoint = Endpoint(settings, settings.metrics.port)
    except OSError as err:  # the port is taken: the daemon runs on without it
        structlog.get_logger("daemon.metrics").error(
            "metrics.failed", kind="port", address=f"127.0.0.1:{settings.metrics.port}",
            error=str(err))
        return None
    endpoint.start()
    return endpoint


if __name__ == "__main__":
    sys.exit(main())
