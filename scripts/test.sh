#!/usr/bin/env bash
# The test command: installs everything into ./.venv (first run only), then runs the suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
export COMFY_NO_TRACKING=1
exec .venv/bin/python -m pytest "$@"
