#!/usr/bin/env bash
# Make this machine ready for the demo and the tests: Debian packages (packages.txt), the
# project's virtualenv (.venv) with the project installed editable. Idempotent and quick
# when done.
# Sourced by demo.sh and test.sh; sets PROJECT and PYTHON.
set -euo pipefail

PROJECT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# Debian packages: the one list in packages.txt (mailstack.sh installs from it too).
source "$PROJECT/deploy/dev/packages.sh"
install_packages

PY_BASE="${PYTHON_BASE:-$(command -v python3.11 || command -v python3)}"
if [ ! -x "$PROJECT/.venv/bin/python" ]; then
  echo "bootstrap: creating .venv with $PY_BASE" >&2
  "$PY_BASE" -m venv "$PROJECT/.venv"
fi
PYTHON="$PROJECT/.venv/bin/python"
stamp="$PROJECT/.venv/.surety-installed"
want="$(sha256sum "$PROJECT/pyproject.toml" | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "bootstrap: installing the project and its test tools into .venv" >&2
  "$PYTHON" -m pip install -q --upgrade pip >&2
  "$PYTHON" -m pip install -q -e "$PROJECT[test]" >&2
  echo "$want" > "$stamp"
fi
export PROJECT PYTHON
