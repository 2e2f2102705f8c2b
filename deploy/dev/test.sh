#!/usr/bin/env bash
# The whole test suite: lint (ruff), types (mypy), unit tests and the integration tests
# against the real local Postfix + Dovecot. Installs and starts what it needs.
# Extra arguments go to pytest (e.g. -k dsure, -m "not slow").
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
cd "$PROJECT"

PYTHON="$PYTHON" bash deploy/dev/mailstack.sh up

echo "== ruff"
"$PROJECT/.venv/bin/ruff" check daemon tests deploy bench
echo "== mypy"
"$PROJECT/.venv/bin/mypy"
echo "== pytest"
"$PYTHON" -m pytest "$@"
