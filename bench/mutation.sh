#!/usr/bin/env bash
# Mutation testing of the code that decides: every rule broken one edit at a time (mutmut),
# each mutant run against the unit tests that reach it. Not part of .ci/run (it takes
# about half an hour on 2 cores). Prints as its last line:
#   mutation: K killed of N (S survived, E equivalent)
# Survivors listed in bench/mutation-equivalent.txt (with the reason they cannot change
# behaviour) count as equivalent; any other survivor is printed and makes the exit status 1.
#
# What is mutated, and what is left out, is set in pyproject.toml under [tool.mutmut].
# Usage: bash bench/mutation.sh [--resume] [MUTANT-GLOB ...]
#   --resume    keep mutmut's results from the last run (mutants/) and test only what changed
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../deploy/dev/bootstrap.sh"
cd "$PROJECT"
"$PYTHON" -m pip install -q -e ".[mutation]" >&2
if [ "${1:-}" = "--resume" ]; then
  shift
else
  rm -rf mutants
fi
start=$(date +%s)
# mutmut draws a progress line; only its end matters here.
"$PROJECT/.venv/bin/mutmut" run --max-children "$(nproc)" "$@" > mutants.log 2>&1 || {
  tail -n 40 mutants.log >&2
  echo "mutation: mutmut failed (see mutants.log)" >&2
  exit 2
}
echo "mutmut took $(( $(date +%s) - start )) s on $(nproc) cores" >&2
exec "$PYTHON" bench/mutation_summary.py
