#!/usr/bin/env bash
# Re-run mutmut on the mutants not yet killed (survived, no tests, not checked) whose names
# match the given globs, keeping every other result (mutants/ from an earlier run).
# Usage: bash bench/mutation_todo.sh 'daemon.read.*' ['daemon.japanese.*' ...]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
MUTMUT="${MUTMUT:-.venv/bin/mutmut}"
[ -x "$MUTMUT" ] || MUTMUT=/work/main/.venv/bin/mutmut
todo=()
while read -r name status; do
  for glob in "$@"; do
    # shellcheck disable=SC2053
    if [[ $name == $glob ]]; then todo+=("$name"); break; fi
  done
done < <("$MUTMUT" results --all true 2>/dev/null | sed -n 's/^ *\([^:]*\): \(.*\)$/\1 \2/p' | grep -v ' killed$' || true)
if [ ${#todo[@]} -eq 0 ]; then
  echo "nothing left to test for: $*"
  exit 0
fi
echo "testing ${#todo[@]} mutants" >&2
"$MUTMUT" run --max-children "${MAX_CHILDREN:-1}" "${todo[@]}" > mutants.log 2>&1 || true
sed -n '/^Mutant results/,$p' mutants.log | grep -v '^🎉' || true
