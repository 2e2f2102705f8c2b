"""How fast the daemon takes in mail on the real local stack (issue 11): latency, backlog,
the floor under it, growth with the mailbox's size, and start-up.

* latency - ``run`` as a process (poll_seconds 300, so IMAP IDLE is what wakes it);
  complete one-page key notices (contract guarantees) are APPENDed to the intake INBOX one
  at a time, 0.5-1 s apart (seeded). Each one's latency runs from the moment the APPEND
  returned OK to the moment a watcher polling the contract staff's INBOX over IMAP (NOOP +
  UID SEARCH every 20 ms) first sees the forward whose X-Surety-Source is its Message-ID.
* backlog - N messages of the realistic mix (tests/samples/mix.py, fixed seed) APPENDed
  over one IMAP connection, then one ``run --once`` timed from start to exit, with the peak
  RSS of its process tree (the sum over the daemon and its sandbox children, sampled every
  50 ms; shared pages counted once per process) and of the main process alone.
* floor - before that run, in this process: one ``UID FETCH 1:* (BODY.PEEK[])`` of the
  same N messages, ``mailparser.parse_from_bytes`` on each and pypdf's extract_text of
  every page of every PDF attachment (an encrypted PDF is counted, not opened): the least
  any daemon could spend on them. Printed with the ratio backlog / floor.
* growth - the backlog again at each size (a size equal to --backlog reuses that run):
  ms per message and the state database's size (with its -wal) after the run. A size
  whose run would hold the shared stack longer than --max-hold-minutes (default 10, at
  the rate of the largest run so far) is skipped with its estimate printed.
* start - bench/start.py if it exists, else the median of ``surety-intake --config FILE
  classify`` on a one-page key-notice mail beside ``python -c pass``.

Every use of the stack (reset, APPEND, the daemon) holds /tmp/stack.lock (flock, as
``flock -o``: the daemons do not inherit it), one hold per part and per growth size;
it is released in between. Each part resets the stack first (every mailbox emptied).

Usage (PYTHONPATH so that ``daemon`` is this tree's):
  PYTHONPATH=. .venv/bin/python bench/throughput.py [--seed 11] [--backlog 5000]
      [--latency-count 100] [--growth 1000,5000,20000] [--skip latency,floor,...]
A small run: --backlog 300 --latency-count 30 --growth 300,600. --growth "" skips growth.
On a 2-core machine shared with other test runs the daemon took 3.5-4 messages a second
(2026-12): a backlog of 5,000 holds the stack about 25 minutes, 20,000 about 95; pick
--backlog and --growth to suit the other users of the stack.
Prints figures, never asserts timing; numbers depend on the machine and its load, which
it prints: quote them with it.
"""

from __future__ import annotations

import argparse
import base64
import fcntl
import imaplib
import io
import json
import math
import os
import platform
import random
import resource
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

import _corpus  # noqa: E402
import stack  # noqa: E402
from _rss import Peak, Sampler  # noqa: E402
from samples import mails  # noqa: E402

LOCK = Path("/tmp/stack.lock")  # noqa: S108 - the shared stack's lock, by convention
PARTS = ("latency", "backlog", "floor", "growth", "start")
MB = 1 << 20


@contextmanager
def stack_lock(what: str) -> Iterator[None]:
    """Hold the shared stack's lock (the fd is not inherited by the daemons started)."""
    with LOCK.open("a") as handle:
        waited = time.monotonic()
        fcntl.flock(handle, fcntl.LOCK_EX)
        held = time.monotonic()
        if held - waited > 1:
            print(f"  ({what}: waited {held - waited:.0f} s for {LOCK})", flush=True)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
            print(f"  ({what}: held {LOCK} {time.monotonic() - held:.0f} s)", flush=True)


@dataclass
class Office:
    """A config and state file in a directory of their own."""

    directory: Path
    poll_seconds: int = 5

    @property
    def config(self) -> Path:
        return self.directory / "office.toml"

    @property
    def state(self) -> Path:
        return self.directory / "state.sqlite3"

    def write(self) -> Office:
        text = stack.office_config(self.state)
        self.config.write_text(text.replace("poll_seconds = 5",
                                            f"poll_seconds = {self.poll_seconds}"),
                               encoding="utf-8")
        return self

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "daemon.cli", "--config", str(self.config), *args]

    def state_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.directory.glob("state.sqlite3*"))


def _env() -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return dict(os.environ, SURETY_TEST_IMAP_PASSWORD=stack.PASSWORD, PYTHONPATH=path)


def _now() -> str:
    return imaplib.Time2Internaldate(datetime.now(UTC))


def bulk_append(messages: list[bytes]) -> float:
    """APPEND every message to the intake INBOX over one connection; seconds taken."""
    return bulk_append_to(stack.INTAKE, messages)


def bulk_append_to(user: str, messages: list[bytes]) -> float:
    """APPEND every message to ``user``'s INBOX over one connection; seconds taken."""
    client = stack.imap_login(user)
    start = time.perf_counter()
    try:
        for raw in messages:
            status, _ = client.append("INBOX", "", _now(), raw)
            if status != "OK":
                raise RuntimeError(f"APPEND failed: {status}")
    finally:
        client.logout()
    return time.perf_counter() - start


def _events(path: Path) -> list[dict[str, object]]:
    out = []
    for line in path.read_text(encoding="utf-8", errors="replace").split("\n"):
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
    return out


# ---------------------------------------------------------------------------
# latency
# ---------------------------------------------------------------------------


class StaffWatcher:
    """Polls the contract staff's INBOX and notes when each X-Surety-Source first shows."""

    def __init__(self) -> None:
        self.seen: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._client = stack.imap_login(stack.CONTRACT_STAFF)
        self._client.select("INBOX")
        self._next_uid = 1

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._client.logout()

    def _loop(self) -> None:
        client = self._client
        while not self._stop.is_set():
            client.noop()
            _, data = client.uid("SEARCH", f"UID {self._next_uid}:*")
            uids = [int(u) for u in data[0].split() if int(u) >= self._next_uid]
            if uids:
                now = time.monotonic()
                spec = ",".join(str(u) for u in uids)
                _, parts = client.uid("FETCH", spec,
                                      "(BODY.PEEK[HEADER.FIELDS (X-SURETY-SOURCE)])")
                for part in parts:
                    if isinstance(part, tuple):
                        value = part[1].decode("ascii", "replace").partition(":")[2].strip()
                        self.seen.setdefault(value, now)
                self._next_uid = max(uids) + 1
            self._stop.wait(0.02)


class IdleWatcher:
    """An IMAP IDLE session of its own on the intake INBOX: when the server announces each
    new message (EXISTS), i.e. the earliest any IDLE client (the daemon too) can hear of
    it. Dovecot holds such news back to group changes (2.3: 500 ms), a floor under the
    latency that no client can go below through IDLE."""

    def __init__(self) -> None:
        import ssl  # noqa: PLC0415

        from imapclient import IMAPClient  # noqa: PLC0415

        context = ssl.create_default_context(cafile=str(stack.CA_FILE))
        self._client = IMAPClient(stack.HOST, port=993, ssl=True, ssl_context=context)
        self._client.login(stack.INTAKE, stack.PASSWORD)
        self._client.select_folder("INBOX")
        self.announced: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> None:
        self._client.idle()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._client.idle_done()
        self._client.logout()

    def _loop(self) -> None:
        while not self._stop.is_set():
            for response in self._client.idle_check(timeout=0.2):
                if len(response) > 1 and response[1] == b"EXISTS":
                    self.announced.append(time.monotonic())


def _latency_mail(seed: int, k: int) -> tuple[str, bytes]:
    number = f"27{(seed * 7_919_993 + k) % 10**8:08d}"
    raw = mails.dsure_key_mail(contract_number=number,
                               date=datetime.now(mails.JST) - timedelta(minutes=5))
    message_id = f"<latency-{seed}-{k}-{time.time_ns()}@mix.example.jp>"
    head, sep, rest = raw.partition(b"\r\nMessage-ID: ")
    rest = rest.split(b"\r\n", 1)[1]
    return message_id, head + sep + message_id.encode() + b"\r\n" + rest


def _wait_for(path: Path, event: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(e.get("event") == event for e in _events(path)):
            return True
        time.sleep(0.1)
    return False


def latency(seed: int, count: int, work: Path) -> dict[str, object]:
    """Arrival (APPEND returned) to forward seen in the staff mailbox, per message."""
    office = Office(work / "latency", poll_seconds=300)
    office.directory.mkdir()
    office.write()
    mails_to_send = [_latency_mail(seed, k) for k in range(count)]
    rng = random.Random(seed)
    gaps = [rng.uniform(0.5, 1.0) for _ in range(count)]
    log = office.directory / "daemon.log"
    with stack_lock("latency"):
        stack.mailstack("reset")
        with log.open("w") as out:
            daemon = subprocess.Popen(office.command("run"), stdout=out,  # noqa: S603
                                      stderr=subprocess.STDOUT, env=_env())
        try:
            if not _wait_for(log, "poll.done", 60):
                raise RuntimeError(f"the daemon never polled: {log.read_text()[-2000:]}")
            watcher = StaffWatcher()
            watcher.start()
            news = IdleWatcher()
            news.start()
            arrived: dict[str, float] = {}
            client = stack.imap_login(stack.INTAKE)
            for (message_id, raw), gap in zip(mails_to_send, gaps, strict=True):
                status, _ = client.append("INBOX", "", _now(), raw)
                arrived[message_id] = time.monotonic()
                if status != "OK":
                    raise RuntimeError(f"APPEND failed: {status}")
                time.sleep(gap)
            client.logout()
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and not arrived.keys() <= watcher.seen.keys():
                time.sleep(0.1)
            watcher.stop()
            news.stop()
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(timeout=60)
    seconds = sorted(watcher.seen[m] - t for m, t in arrived.items() if m in watcher.seen)
    # The server's news of each APPEND: the first EXISTS after it (the daemon's own
    # filing also makes the folder change, but never adds a message: no EXISTS).
    times = sorted(arrived.values())
    server = sorted(next((n - t for n in news.announced if n >= t), float("nan"))
                    for t in times)
    return {"sent": count, "seen": len(seconds), "seconds": seconds, "server": server,
            "poll.done": sum(e.get("event") == "poll.done" for e in _events(log))}


def _quantile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


# ---------------------------------------------------------------------------
# backlog and floor
# ---------------------------------------------------------------------------


@dataclass
class Backlog:
    """One timed ``run --once`` over a backlog."""

    count: int
    append_s: float
    run_s: float
    returncode: int
    peak: Peak
    state_bytes: int
    outcomes: dict[str, int]
    drain_s: float
    floor: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)  # seconds: see _machine_busy_s


def _machine_busy_s() -> float:
    """CPU seconds the machine spent busy so far, over all cores (/proc/stat: user, nice,
    system, irq, softirq, steal)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def floor_read(raws: list[bytes]) -> tuple[int, int, int]:
    """The floor's reading: mail-parser on each message and pypdf's text of every page
    of every PDF attachment (an encrypted PDF is counted, not opened). The pages read,
    the encrypted PDFs and those pypdf could not read."""
    import mailparser  # noqa: PLC0415
    from pypdf import PdfReader  # noqa: PLC0415

    pages = encrypted = failed = 0
    for raw in raws:
        parsed = mailparser.parse_from_bytes(raw)
        for attachment in parsed.attachments:
            if not str(attachment.get("mail_content_type", "")).endswith("pdf"):
                continue
            payload = attachment["payload"]
            data = (base64.b64decode(payload) if attachment.get("binary")
                    else payload.encode("latin-1", "replace"))
            try:
                reader = PdfReader(io.BytesIO(data))
                if reader.is_encrypted:
                    encrypted += 1
                    continue
                for page in reader.pages:
                    page.extract_text()
                    pages += 1
            except Exception:  # noqa: BLE001 - the floor counts what it cannot read
                failed += 1
    return pages, encrypted, failed


def floor(count: int) -> dict[str, float]:
    """One bulk fetch of the INBOX, mail-parser and pypdf text on each, in this process."""
    start = time.perf_counter()
    client = stack.imap_login(stack.INTAKE)
    client.select("INBOX", readonly=True)
    _, parts = client.uid("FETCH", "1:*", "(BODY.PEEK[])")
    client.logout()
    raws = [p[1] for p in parts if isinstance(p, tuple)]
    fetched = time.perf_counter()
    pages, encrypted, failed = floor_read(raws)
    done = time.perf_counter()
    if len(raws) != count:
        print(f"  floor: fetched {len(raws)} messages, expected {count}", flush=True)
    return {"messages": len(raws), "fetch_s": fetched - start, "parse_s": done - fetched,
            "total_s": done - start, "pages": pages, "encrypted_pdfs": encrypted,
            "unreadable_pdfs": failed}


def backlog(seed: int, count: int, work: Path, *, with_floor: bool) -> Backlog:
    """APPEND ``count`` mixed messages, (floor), then one timed ``run --once``."""
    messages = [raw for _, raw in _corpus.messages(seed, count)]
    (work / f"backlog-{count}").mkdir()
    office = Office(work / f"backlog-{count}").write()
    log = office.directory / "daemon.log"
    with stack_lock(f"backlog {count}"):
        stack.mailstack("reset")
        append_s = bulk_append(messages)
        del messages
        measured_floor = floor(count) if with_floor else {}
        with log.open("w") as out:
            busy, tree = _machine_busy_s(), _children_cpu_s()
            start = time.perf_counter()
            daemon = subprocess.Popen(office.command("run", "--once"),  # noqa: S603
                                      stdout=out, stderr=subprocess.STDOUT, env=_env())
            with Sampler(daemon.pid) as peak:
                returncode = daemon.wait()
            run_s = time.perf_counter() - start
            # The daemon's tree: itself and the reader processes it waited for.
            cpu = {"machine": _machine_busy_s() - busy, "tree": _children_cpu_s() - tree,
                   "main": peak.main_cpu_s, "sampler": peak.sampler_cpu_s}
        drained = time.perf_counter()
        stack.wait_for_queue(timeout=600)
        drain_s = time.perf_counter() - drained
    outcomes: Counter[str] = Counter()
    for event in _events(log):
        if event.get("event") == "poll.done":
            outcomes.update({k: int(v) for k, v in event.items()  # type: ignore[call-overload]
                             if isinstance(v, int) and not isinstance(v, bool)})
    return Backlog(count, append_s, run_s, returncode, peak, office.state_bytes(),
                   dict(outcomes), drain_s, measured_floor, cpu)


# ---------------------------------------------------------------------------
# start
# ---------------------------------------------------------------------------


def _median_run(command: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, env=_env(), capture_output=True, check=True)  # noqa: S603
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def start_up(work: Path, runs: int) -> dict[str, object]:
    """bench/start.py's figures if it exists, else classify beside ``python -c pass``."""
    for candidate in (ROOT / "bench" / "start.py", Path("/work/main/bench/start.py")):
        if candidate.exists():
            done = subprocess.run([sys.executable, str(candidate)], env=_env(),  # noqa: S603
                                  capture_output=True, text=True, check=False)
            return {"script": str(candidate), "output": done.stdout + done.stderr}
    office = Office(work / "start")
    office.directory.mkdir()
    office.write()
    message = office.directory / "key-notice.eml"
    message.write_bytes(mails.dsure_key_mail())
    script = Path(sys.executable).with_name("surety-intake")
    entry = [str(script)] if script.exists() else [sys.executable, "-m", "daemon.cli"]
    classify = [*entry, "--config", str(office.config), "classify", str(message)]
    return {"classify_s": _median_run(classify, runs),
            "python_s": _median_run([sys.executable, "-c", "pass"], runs),
            "runs": runs, "command": shlex.join(classify)}


# ---------------------------------------------------------------------------
# printing
# ---------------------------------------------------------------------------


def _machine(label: str) -> str:
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"[{label}] {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC, {os.cpu_count()} cores,"
            f" load {load}, Python {platform.python_version()}, {platform.machine()}")


def _print_backlog(result: Backlog, label: str) -> str:
    n, run_s = result.count, result.run_s
    print(f"{label} {n}: APPEND {result.append_s:.1f} s ({n / result.append_s:.0f} msg/s);"
          f" run --once {run_s:.1f} s (exit {result.returncode}), {n / run_s:.1f} msg/s,"
          f" {1000 * run_s / n:.1f} ms/msg", flush=True)
    peak = result.peak
    print(f"  peak RSS: tree {peak.tree_bytes / MB:.0f} MB (up to {peak.processes} processes;"
          f" PSS {peak.tree_pss_bytes / MB:.0f} MB),"
          f" main {peak.main_bytes / MB:.0f} MB ({peak.samples} samples);"
          f" state db {result.state_bytes / MB:.1f} MB;"
          f" Postfix drained {result.drain_s:.1f} s after exit", flush=True)
    print(f"  outcomes: {json.dumps(result.outcomes, sort_keys=True)}", flush=True)
    cpu = result.cpu
    if cpu:
        readers = cpu["tree"] - cpu["main"]
        rest = cpu["machine"] - cpu["tree"] - cpu["sampler"]
        per = 1000 / n
        print(f"  CPU during the run: machine {cpu['machine']:.1f} s"
              f" ({per * cpu['machine']:.1f} ms/msg of {os.cpu_count()} cores)"
              f" = daemon {cpu['main']:.1f} s ({per * cpu['main']:.1f} ms/msg)"
              f" + readers {readers:.1f} s ({per * readers:.1f} ms/msg)"
              f" + mail stack and all else {rest:.1f} s ({per * rest:.1f} ms/msg)"
              f" + this sampler {cpu['sampler']:.1f} s", flush=True)
    return (f"{n} msgs in {run_s:.1f} s = {n / run_s:.1f} msg/s, {1000 * run_s / n:.1f} ms/msg,"
            f" peak RSS tree {peak.tree_bytes / MB:.0f} MB (PSS {peak.tree_pss_bytes / MB:.0f} MB)"
            f" / main {peak.main_bytes / MB:.0f} MB")


def _print_floor(result: Backlog) -> str:
    f = result.floor
    print(f"floor {int(f['messages'])}: FETCH {f['fetch_s']:.1f} s + mail-parser/pypdf"
          f" {f['parse_s']:.1f} s = {f['total_s']:.1f} s ({int(f['pages'])} PDF pages,"
          f" {int(f['encrypted_pdfs'])} encrypted, {int(f['unreadable_pdfs'])} unreadable);"
          f" backlog / floor = {result.run_s / f['total_s']:.1f}", flush=True)
    return (f"{f['total_s']:.1f} s for {int(f['messages'])} msgs"
            f" ({1000 * f['total_s'] / f['messages']:.1f} ms/msg);"
            f" backlog/floor {result.run_s / f['total_s']:.1f}x")


def _print_latency(result: dict[str, object]) -> str:
    seconds: list[float] = result["seconds"]  # type: ignore[assignment]
    if not seconds:
        print(f"latency: nothing arrived of {result['sent']}", flush=True)
        return "no forward seen"
    p50, p95, worst = (_quantile(seconds, 0.5), _quantile(seconds, 0.95), seconds[-1])
    print(f"latency over {len(seconds)} of {result['sent']} (APPEND, poll_seconds 300,"
          f" {result['poll.done']} polls): p50 {p50:.2f} s, p95 {p95:.2f} s,"
          f" max {worst:.2f} s, min {seconds[0]:.2f} s", flush=True)
    server = [s for s in result.get("server", []) if not math.isnan(s)]  # type: ignore[attr-defined]
    told = ""
    if server:
        told = (f"; the server's IDLE news of each APPEND (EXISTS): p50"
                f" {_quantile(server, 0.5):.2f} s, p95 {_quantile(server, 0.95):.2f} s")
        print(f"  {told[2:]}", flush=True)
    return f"p50 {p50:.2f} s, p95 {p95:.2f} s, max {worst:.2f} s (n={len(seconds)}){told}"


def _estimate(results: dict[int, Backlog], size: int) -> float:
    """Seconds a backlog of ``size`` would hold the stack, from the largest run so far."""
    if not results:
        return 0.0
    largest = results[max(results)]
    per_message = (largest.append_s + largest.run_s + largest.drain_s) / largest.count
    return per_message * size


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--backlog", type=int, default=5000)
    parser.add_argument("--latency-count", type=int, default=100)
    parser.add_argument("--growth", default="1000,5000,20000",
                        help='comma-separated sizes; "" skips')
    parser.add_argument("--start-runs", type=int, default=10)
    parser.add_argument("--max-hold-minutes", type=float, default=10,
                        help="skip a growth size that would hold the shared stack longer")
    parser.add_argument("--skip", default="", help=f"comma-separated parts of {PARTS}")
    return parser.parse_args()


def _growth(args: argparse.Namespace, sizes: list[int], results: dict[int, Backlog],
            work: Path) -> str:
    """The backlog at each size (reusing a run of the same size), skipping a size whose
    run would hold the stack too long."""
    rows = []
    for size in sizes:
        estimate = _estimate(results, size)
        if size not in results and estimate > 60 * args.max_hold_minutes:
            print(f"growth {size}: skipped, would hold the stack ~{estimate / 60:.0f} min"
                  f" at the rate measured so far (--max-hold-minutes"
                  f" {args.max_hold_minutes:g})", flush=True)
            rows.append(f"{size}: skipped (~{estimate / 60:.0f} min)")
            continue
        if size not in results:
            results[size] = backlog(args.seed, size, work, with_floor=False)
            _print_backlog(results[size], "growth")
            print(_machine(f"after growth {size}"), flush=True)
        r = results[size]
        rows.append(f"{size}: {1000 * r.run_s / size:.1f} ms/msg, db {r.state_bytes / MB:.1f} MB")
    print("growth: " + "; ".join(rows), flush=True)
    return "; ".join(rows)


def _start(work: Path, runs: int) -> str:
    start = start_up(work, runs)
    if "output" in start:
        print(f"start ({start['script']}):\n{start['output']}", flush=True)
        return f"see {start['script']} above"
    print(f"start: {start['command']}: median {start['classify_s']:.2f} s;"
          f" python -c pass {start['python_s']:.3f} s (of {start['runs']})", flush=True)
    return (f"classify {start['classify_s']:.2f} s vs python -c pass"
            f" {start['python_s']:.3f} s (median of {start['runs']})")


def _generate(args: argparse.Namespace, sizes: list[int]) -> None:
    wanted = max(args.backlog, *sizes, 0)
    if wanted:
        began = time.perf_counter()
        _corpus.messages(args.seed, wanted)
        print(f"messages: seed {args.seed}, up to {wanted} (cache {_corpus.cache_root()}),"
              f" ready in {time.perf_counter() - began:.0f} s", flush=True)


def main() -> None:
    args = _arguments()
    skip = {s for s in args.skip.split(",") if s}
    if "backlog" in skip:
        args.backlog = 0
    sizes = [int(s) for s in args.growth.split(",") if s.strip() and "growth" not in skip]
    work = Path(tempfile.mkdtemp(prefix="throughput-"))
    print(f"command: {shlex.join([sys.executable, *sys.argv])}", flush=True)
    print(f"tree: {ROOT}; daemon from {__import__('daemon').__file__}; work dir {work}")
    print(_machine("before"), flush=True)
    summary: dict[str, str] = {}
    started = time.perf_counter()
    _generate(args, sizes)
    if "latency" not in skip and args.latency_count:
        summary["latency"] = _print_latency(latency(args.seed, args.latency_count, work))
        print(_machine("after latency"), flush=True)
    results: dict[int, Backlog] = {}
    if args.backlog:
        result = backlog(args.seed, args.backlog, work, with_floor="floor" not in skip)
        results[args.backlog] = result
        summary["backlog"] = _print_backlog(result, "backlog")
        if result.floor:
            summary["floor"] = _print_floor(result)
        print(_machine("after backlog"), flush=True)
    if sizes:
        summary["growth"] = _growth(args, sizes, results, work)
    if "start" not in skip:
        summary["start"] = _start(work, args.start_runs)
    print(_machine("after"), flush=True)
    print(f"--- summary (seed {args.seed}, {time.perf_counter() - started:.0f} s in all)")
    for part, line in summary.items():
        print(f"{part}: {line}")


if __name__ == "__main__":
    main()
