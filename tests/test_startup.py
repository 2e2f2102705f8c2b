"""Commands start without the document libraries; a daemon can load them once for its children."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import daemon

# The document libraries, each a tenth of a second or more to import.
READERS = ("docx", "msoffcrypto", "openpyxl", "pypdf", "pypdfium2", "pyzipper")
ROOT = Path(daemon.__file__).resolve().parents[1]


def imported_after(code: str) -> list[str]:
    """Which of READERS a fresh interpreter holds after running ``code`` (this checkout's
    daemon package)."""
    probe = f"{code}\nimport sys\nprint(' '.join(m for m in {READERS!r} if m in sys.modules))"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            env=env, check=True, timeout=120)
    return result.stdout.split()


def test_commands_start_without_the_document_libraries() -> None:
    """Importing the command line (and so the whole reading pipeline) imports no reader."""
    assert imported_after("import daemon.cli") == []


def test_inherit_readers_imports_every_document_library() -> None:
    """inherit_readers() leaves every reader imported, for the children forked after it."""
    assert imported_after("from daemon.sandbox import inherit_readers\ninherit_readers()") == (
        list(READERS))
