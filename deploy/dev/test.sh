#!/usr/bin/env bash
# The whole test suite: lint (ruff), types (mypy), unit tests and the integration tests
# against the real local Postfix + Dovecot. Installs and starts what it needs.
#
# The unit tests (neither `stack` nor `slow`) run in parallel with pytest-xdist: they
# share no files (tmp_path each), no fixed ports and no server. The `stack` and the
# `slow` tests then run one after the other, serially, as before: they share the one
# mail stack and its mailboxes. TEST_WORKERS sets the parallel workers (default 2; 0 runs
# the unit tests serially too).
#
# Extra arguments go to every pytest run (e.g. -k dsure, -x, a test file); a part that
# selects no test says so and is not a failure. A marker expression (-m EXPR) is combined
# with each part's own, so -m "not slow" still runs the unit and the stack tests, apart.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
cd "$PROJECT"

PYTHON="$PYTHON" bash deploy/dev/mailstack.sh up

user_marker=""
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    -m) user_marker="$2"; shift 2 ;;
    -m*) user_marker="${1#-m}"; shift ;;
    *) args+=("$1"); shift ;;
  esac
done

# Print a header, run the command, print how long it took; stop at the first failure.
part() {
  local label=$1; shift
  echo "== $label"
  local start=$SECONDS status=0
  "$@" || status=$?
  if [ "$status" -eq 5 ]; then  # pytest: no test selected
    echo "== $label: no test selected"
    status=0
  fi
  echo "== $label  ... $((SECONDS - start)) s"
  return "$status"
}

# pytest with the part's marker expression and, if given, the caller's.
tests() {
  local marker=$1; shift
  [ -n "$user_marker" ] && marker="($marker) and ($user_marker)"
  "$PYTHON" -m pytest -m "$marker" "$@" ${args[@]+"${args[@]}"}
}

workers="${TEST_WORKERS:-2}"
parallel=()
unit="unit (serial)"
if [ "$workers" != 0 ]; then
  # loadscope: a module's tests go to one worker, so a module-scoped fixture (the
  # labelled set, the sample PDFs) is built once, not once per worker.
  parallel=(-n "$workers" --dist loadscope)
  unit="unit (parallel, $workers workers)"
fi

part "ruff" "$PROJECT/.venv/bin/ruff" check daemon tests deploy bench
part "mypy" "$PROJECT/.venv/bin/mypy"
part "$unit" tests "not stack and not slow" ${parallel[@]+"${parallel[@]}"}
part "stack" tests "stack and not slow"
part "slow" tests "slow"
