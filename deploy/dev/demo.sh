#!/usr/bin/env bash
# The demo of the main job: starts the local mail stack, puts sample submissions of every
# kind (broken ones too) into the contract mailbox, runs the daemon once and shows what
# reached each inbox. Installs what it needs on a fresh Debian machine (root).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
cd "$PROJECT"
PYTHON="$PYTHON" bash deploy/dev/mailstack.sh up
exec "$PYTHON" deploy/dev/demo.py
