#!/usr/bin/env bash
# The main job: installs everything into ./.venv (first run only), then turns the bundled example
# clip into an animated mesh under ./outputs/demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
exec .venv/bin/actionmesh demo --out outputs/demo "$@"
