"""How long a command takes to start: ``surety-intake --config FILE classify MESSAGE``.

The message is a one-page D-Sure key-notice mail made with the tests' generators
(``samples.mails.dsure_key_mail``) in a temporary directory; the config is
``config/examples/city.toml`` with its state file moved into that directory (so no state
file is read). Beside the command, the same number of runs of ``python -c pass`` (the
interpreter alone) and ``python -c "import daemon.cli"`` (what every command imports
before it knows what it needs). Each is run N times (default 10, after one warm-up run)
in a fresh process; the wall time of each run is measured here, around the process. The
checkout's modules are compiled first, as pip compiles an installed package (so a
session with PYTHONDONTWRITEBYTECODE=1 does not measure compiling them on every start).

Usage: .venv/bin/python bench/start.py [N]
Prints the machine (cores, load average, Python), then one line per command with the
median and the minimum in seconds. It asserts nothing about timing: the figures depend
on the machine and on what else runs on it; quote them with the machine line.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests")]

from samples import mails  # noqa: E402

CONFIG = ROOT / "config" / "examples" / "city.toml"


def _command() -> list[str]:
    """The installed entry point beside this interpreter, else ``python -m daemon.cli``."""
    script = Path(sys.executable).with_name("surety-intake")
    return [str(script)] if script.exists() else [sys.executable, "-m", "daemon.cli"]


def _prepare(workdir: Path) -> tuple[Path, Path]:
    """The config (state file in ``workdir``) and the key-notice message, written there."""
    text = CONFIG.read_text(encoding="utf-8")
    state = workdir / "state.sqlite3"
    text = re.sub(r'(?m)^path = ".*"$', f'path = "{state}"', text, count=1)
    config = workdir / "city.toml"
    config.write_text(text, encoding="utf-8")
    message = workdir / "key-notice.eml"
    message.write_bytes(mails.dsure_key_mail(company="west"))
    return config, message


def _time(argv: list[str], runs: int, env: dict[str, str]) -> list[float]:
    """Wall seconds of ``runs`` runs of ``argv`` (after one unmeasured warm-up run)."""
    times: list[float] = []
    for i in range(runs + 1):
        start = time.perf_counter()
        subprocess.run(argv, check=True, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)  # noqa: S603
        if i:
            times.append(time.perf_counter() - start)
    return times


def _machine() -> str:
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"machine: {os.cpu_count()} cores, load average {load}, "
            f"Python {platform.python_version()} ({sys.executable}), {platform.platform()}")


def main() -> None:
    """Print the machine and the start-up figures."""
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    workdir = Path(tempfile.mkdtemp(prefix="surety-start-"))
    # The checkout's daemon package, whatever the interpreter has installed, with its
    # bytecode made first (daemon/__pycache__, ignored by git), as an installed package
    # has it: pip compiles what it installs, and a checkout run with
    # PYTHONDONTWRITEBYTECODE=1 would compile every module again on every start.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(ROOT)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "daemon")],  # noqa: S603
                   check=True, env=env, stdout=subprocess.DEVNULL)
    try:
        config, message = _prepare(workdir)
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            'python -c "import daemon.cli"': [sys.executable, "-c", "import daemon.cli"],
            "surety-intake --config FILE classify MESSAGE":
                [*_command(), "--config", str(config), "classify", str(message)],
        }
        print(_machine())
        print(f"runs: {runs} each (after one warm-up); message: one-page key notice, "
              f"{message.stat().st_size} bytes; command: {' '.join(_command())}")
        for label, argv in commands.items():
            times = _time(argv, runs, env)
            print(f"{label:48} median {statistics.median(times):.3f} s  "
                  f"min {min(times):.3f} s")
        print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
