#!/usr/bin/env python3
"""Start, stop, wait for and report on the local mail stack that mailstack.sh configured.

mailstack.sh installs and configures (bash); this module runs the three services, each
with its own tools where it has them:

- Postfix: ``postfix start | stop | status | reload`` (``stop`` waits for the master).
- Dovecot, a separate instance: ``dovecot -c``, ``doveadm -c ... reload``, and
  start-stop-daemon on its master.pid, matched by executable (a stale pid file or a
  zombie master counts as stopped).
- The capture server (capture.py): started by start-stop-daemon in the background; it is
  ours, so it is recognised by its pid file and its command line (the executable is
  whichever Python ran it).

Standard library only, Python >= 3.11, so it runs before the project's virtualenv exists
(Debian's ``python3``). Only the capture server needs aiosmtpd: ``start`` runs it with
``--python`` (default: the interpreter running this; mailstack.sh passes ``$PYTHON``).
The tests import it (tests/stack.py) for the same waits and checks.

Usage: stackctl.py start|stop|status|wait [--timeout S] [--python PY] [SERVICE ...]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
STACK_DIR = Path(os.environ.get("MAILSTACK_DIR", "/var/lib/surety-mailstack"))
LOG_DIR = STACK_DIR / "log"
RUN_DIR = STACK_DIR / "run"
CAPTURE_DIR = STACK_DIR / "capture"
CAPTURE_PID = STACK_DIR / "capture.pid"
DOVECOT_CONF = STACK_DIR / "dovecot.conf"
DOVECOT_PID = RUN_DIR / "dovecot" / "master.pid"
# The listener settings Postfix was last started with: they change only on a restart.
POSTFIX_LISTEN = RUN_DIR / "postfix-listen"
CAPTURE_PY = Path(__file__).resolve().parent / "capture.py"
CAPTURE_PORT = 2526
WAIT_SECONDS = 30.0
STOP_SECONDS = 5.0
STOPPED = 3  # exit status of "status" when a service is not running (as in LSB)


class StackError(Exception):
    """A service of the mail stack did not start, stop or come up."""


@dataclass(frozen=True)
class Port:
    """A TCP port on 127.0.0.1 that one of the stack's services listens on."""

    number: int
    service: str
    what: str

    def __str__(self) -> str:
        return f"{self.number} ({self.what})"


PORTS = (
    Port(25, "postfix", "Postfix SMTP"),
    Port(2527, "postfix", "Postfix SMTP that holds mail, for tests"),
    Port(143, "dovecot", "Dovecot IMAP"),
    Port(993, "dovecot", "Dovecot IMAPS"),
    Port(24, "dovecot", "Dovecot LMTP"),
    Port(CAPTURE_PORT, "capture", "capture server"),
    Port(2528, "postfix", "Postfix SMTP with AUTH, for tests"),
    Port(2529, "dovecot", "Dovecot auth for Postfix"),
)
SERVICES = ("postfix", "dovecot", "capture")


def ports_of(services: Iterable[str]) -> list[Port]:
    """The ports of the named services."""
    wanted = set(services)
    return [port for port in PORTS if port.service in wanted]


# --------------------------------------------------------------------------- ports

def listening(port: int, timeout: float = 1.0) -> bool:
    """True if something accepts a TCP connection on 127.0.0.1:port."""
    try:
        with socket.create_connection((HOST, port), timeout=timeout):
            return True
    except OSError:
        return False


def not_listening(ports: Iterable[Port], probe: Callable[[int], bool] = listening
                  ) -> list[Port]:
    """The ports nothing listens on now."""
    return [port for port in ports if not probe(port.number)]


def not_up_message(missing: Sequence[Port], seconds: float) -> str:
    """The error for ports that did not open in time: which ones, and whose they are."""
    services = ", ".join(dict.fromkeys(port.service for port in missing))
    ports = ", ".join(str(port) for port in missing)
    return (f"mail stack not up after {seconds:g} s ({services}): "
            f"nothing listens on {HOST} port {ports}")


def wait(ports: Sequence[Port] = PORTS, timeout: float = WAIT_SECONDS, *,
         probe: Callable[[int], bool] = listening,
         clock: Callable[[], float] = time.monotonic,
         pause: Callable[[float], None] = time.sleep,
         check: Callable[[], None] = lambda: None) -> None:
    """Return once every port has answered; StackError naming the ones that did not
    within ``timeout`` seconds. A port is probed until it answers once (every probe is a
    connection the servers log); ``check`` may raise to give up early."""
    deadline = clock() + timeout
    missing = list(ports)
    while missing := not_listening(missing, probe):
        if clock() >= deadline:
            raise StackError(not_up_message(missing, timeout))
        check()
        pause(0.1)


def wait_closed(ports: Sequence[Port], timeout: float = STOP_SECONDS) -> list[Port]:
    """Wait until nothing listens on the ports (children of a stopped master may hold
    them a moment longer); the ones still open after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while (still := [p for p in ports if listening(p.number)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    return still


# --------------------------------------------------------------------------- processes

def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - the stack's own tools, fixed arguments, no shell
        command, capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL)


def _must(*command: str) -> None:
    done = _run(*command)
    if done.returncode != 0:
        raise StackError(f"{' '.join(command)} failed ({done.returncode}): "
                         f"{(done.stdout + done.stderr).strip()}")


def _alive(pid: int) -> bool:
    """True if the process exists and is not a zombie (the init of some containers reaps
    orphans only now and then, and signal 0 reaches a zombie too)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(") ", 1)[-1][:1] not in ("Z", "X")


def capture_pid() -> int | None:
    """The running capture server's process id, from its pid file."""
    try:
        pid = int(CAPTURE_PID.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if _alive(pid) and CAPTURE_PY.name.encode() in cmdline else None


def _dovecot() -> str:
    return shutil.which("dovecot") or "/usr/sbin/dovecot"


def running(service: str) -> bool:
    """True if the service's master process runs."""
    if service == "postfix":
        return _run("postfix", "status").returncode == 0
    if service == "dovecot":
        return _run("start-stop-daemon", "--status", "--pidfile", str(DOVECOT_PID),
                    "--exec", _dovecot()).returncode == 0
    return capture_pid() is not None


def _postfix_listen() -> str:
    done = _run("postconf", "-h", "inet_interfaces", "inet_protocols")
    return " ".join(done.stdout.split())


def start_postfix() -> None:
    """Start Postfix, or reload it; restart it when its listener settings changed
    (inet_interfaces and inet_protocols take effect only on a start)."""
    want = _postfix_listen()
    have = POSTFIX_LISTEN.read_text().strip() if POSTFIX_LISTEN.exists() else ""
    if running("postfix") and have == want:
        _must("postfix", "reload")
    else:
        if running("postfix"):
            print("stackctl: restarting Postfix (listener settings changed)", file=sys.stderr)
            stop_postfix()
        _must("postfix", "start")
    POSTFIX_LISTEN.write_text(want + "\n")


def start_dovecot() -> None:
    """Start the stack's Dovecot instance, or make it re-read its configuration."""
    if running("dovecot"):
        _must("doveadm", "-c", str(DOVECOT_CONF), "reload")
        return
    DOVECOT_PID.parent.mkdir(parents=True, exist_ok=True)
    DOVECOT_PID.unlink(missing_ok=True)  # left from before a reboot, it may name anything
    # What it prints while starting goes to a log: it keeps no hold on our stdout.
    log = LOG_DIR / "dovecot-start.log"
    with log.open("ab") as out:
        done = subprocess.run(  # noqa: S603 - dovecot with our configuration file
            [_dovecot(), "-c", str(DOVECOT_CONF)], stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        raise StackError(f"dovecot did not start\n{tail(log)}")
    # Its master writes master.pid a moment after the command returned.
    deadline = time.monotonic() + STOP_SECONDS
    while not running("dovecot") and time.monotonic() < deadline:
        time.sleep(0.05)


def start_capture(python: str) -> None:
    """Start the capture server in the background with ``python`` (needs aiosmtpd)."""
    if running("capture"):
        return
    if _run(python, "-c", "import aiosmtpd").returncode != 0:
        raise StackError(f"{python} cannot import aiosmtpd (use the project's venv, "
                         "e.g. PYTHON=.venv/bin/python)")
    CAPTURE_PID.unlink(missing_ok=True)
    CAPTURE_DIR.mkdir(parents=True, exist_ok=True)
    _must("start-stop-daemon", "--start", "--background", "--make-pidfile",
          "--pidfile", str(CAPTURE_PID), "--output", str(LOG_DIR / "capture.log"),
          "--startas", python, "--", str(CAPTURE_PY), "--host", HOST,
          "--port", str(CAPTURE_PORT), "--dir", str(CAPTURE_DIR), "--pidfile", str(CAPTURE_PID))


def stop_postfix() -> None:
    """Stop Postfix (``postfix stop`` waits up to 5 s for its master, then kills it)."""
    if running("postfix"):
        _must("postfix", "stop")


# The process titles of the stack's Dovecot (instance_name in dovecot.conf.in).
DOVECOT_TITLE = "dovecot-surety-mailstack/"


def stop_dovecot() -> None:
    """Stop the stack's Dovecot instance (TERM, up to 5 s), and with it the sessions of
    its clients: a master that stops leaves a logged-in imap process (and the imap-login
    that carries its TLS) serving its client for up to half a minute more, so a test
    taking the server away would see the client go on as if nothing happened."""
    done = _run("start-stop-daemon", "--stop", "--quiet", "--oknodo", "--retry", "TERM/5",
                "--pidfile", str(DOVECOT_PID), "--exec", _dovecot())
    if done.returncode != 0:
        raise StackError(f"Dovecot (pid file {DOVECOT_PID}) did not stop")
    for sig in (signal.SIGTERM, signal.SIGKILL):
        left = _titled(DOVECOT_TITLE)
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + STOP_SECONDS
        while (left := [pid for pid in left if _alive(pid)]) and time.monotonic() < deadline:
            time.sleep(0.05)
        if not left:
            break


def _titled(prefix: str) -> list[int]:
    """The live processes whose title (command line) begins with ``prefix``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().split(b"\0", 1)[0].decode(errors="replace")
        except OSError:
            continue
        if title.startswith(prefix) and _alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def stop_capture() -> None:
    """Stop the capture server (TERM, then KILL after 5 s)."""
    pid = capture_pid()
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if pid is None:
            break
        os.kill(pid, sig)
        deadline = time.monotonic() + STOP_SECONDS
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        pid = pid if _alive(pid) else None
    CAPTURE_PID.unlink(missing_ok=True)


def _capture_gave_up() -> None:
    if not running("capture"):
        raise StackError(f"the capture server exited at start\n{tail(LOG_DIR / 'capture.log')}")


def start(services: Sequence[str] = SERVICES, *, python: str = sys.executable,
          timeout: float = WAIT_SECONDS) -> None:
    """Start (or reload) the services and wait until all their ports answer."""
    for service in services:
        if service == "postfix":
            start_postfix()
        elif service == "dovecot":
            start_dovecot()
        else:
            start_capture(python)
    check = _capture_gave_up if "capture" in services else (lambda: None)
    try:
        wait(ports_of(services), timeout, check=check)
    except StackError as err:
        logs = [tail(LOG_DIR / f"{name}.log") for name in services]
        raise StackError("\n".join([str(err), *logs])) from err


def stop(services: Sequence[str] = SERVICES) -> None:
    """Stop the services and wait until their ports are closed."""
    for service in services:
        {"postfix": stop_postfix, "dovecot": stop_dovecot, "capture": stop_capture}[service]()
    if still := wait_closed(ports_of(services)):
        raise StackError(f"still in use after stopping: {HOST} port "
                         f"{', '.join(str(port) for port in still)}")


def tail(path: Path, lines: int = 15) -> str:
    """The last lines of a log, headed by its name ("" if it is missing or empty)."""
    try:
        text = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return ""
    return "\n".join([f"--- tail {path}", *text]) if text else ""


# --------------------------------------------------------------------------- status

def status_lines() -> tuple[list[str], bool]:
    """One line per service, "<name> <running|stopped> <ports>", and whether all run."""
    lines: list[str] = []
    all_up = True
    for service in SERVICES:
        up = running(service)
        all_up = all_up and up
        ports = " ".join(f"{p.number}:{'open' if listening(p.number) else 'closed'}"
                         for p in ports_of([service]))
        lines.append(f"{service:<8} {'running' if up else 'stopped':<8} {ports}{_detail(service)}")
    return lines, all_up


def _detail(service: str) -> str:
    if service == "dovecot":
        return f" (-c {DOVECOT_CONF})"
    if service == "capture":
        return f" -> {CAPTURE_DIR} ({len(list(CAPTURE_DIR.glob('*.eml')))} messages)"
    return ""


# --------------------------------------------------------------------------- command line

def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; 1 with the reason on stderr if it failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("start", "stop", "status", "wait"))
    parser.add_argument("services", nargs="*", metavar="SERVICE",
                        help=f"some of {', '.join(SERVICES)} (default: all)")
    parser.add_argument("--timeout", type=float, default=WAIT_SECONDS,
                        help="seconds to wait for the ports (start, wait)")
    parser.add_argument("--python", default=sys.executable,
                        help="interpreter with aiosmtpd for the capture server")
    args = parser.parse_intermixed_args(argv)
    services: list[str] = args.services or list(SERVICES)
    if unknown := sorted(set(services) - set(SERVICES)):
        parser.error(f"unknown service {', '.join(unknown)} (choose from {', '.join(SERVICES)})")
    try:
        if args.command == "start":
            start(services, python=args.python, timeout=args.timeout)
        elif args.command == "stop":
            stop(services)
        elif args.command == "wait":
            wait(ports_of(services), args.timeout)
        else:
            lines, all_up = status_lines()
            print("\n".join(lines))
            return 0 if all_up else STOPPED
    except StackError as err:
        print(f"stackctl: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
