#!/usr/bin/env bash
# Screenshots of the HTML part of the staff mail: one of each kind (routed D-Sure, routed
# confirmation system, routed PDF, review), composed by the daemon from sample
# submissions, written as HTML and shot to PNG by headless Chromium (Debian's `chromium`,
# installed by bootstrap.sh from packages.txt). No mail server needed.
#
#   bash deploy/dev/screenshot.sh [OUT]     # default OUT: var/screenshots
#
# Prints each PNG's path. Exit 0 when all four were made, 1 when one failed, 2 when
# Chromium is missing.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
cd "$PROJECT"
exec "$PYTHON" deploy/dev/screenshot.py "$@"
