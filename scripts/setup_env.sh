#!/usr/bin/env bash
# Create ./.venv with everything the pack needs (idempotent). Used by test.sh and demo.sh.
# TORCH_SPEC picks the torch build (default: the CPU build 2.13.0 these machines carry).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0}"
PY="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
stamp="$VENV/.actionmesh-installed"
want="$(cat pyproject.toml requirements.txt | sha1sum | cut -d' ' -f1) $TORCH_SPEC"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q "$TORCH_SPEC"
  "$VENV/bin/python" -m pip install -q -e ".[dev]"
  echo "$want" > "$stamp"
fi
# The Khronos glTF-Validator used by the export tests (Node.js, tests/js); skipped without npm.
if command -v npm >/dev/null 2>&1 && [ ! -d tests/js/node_modules/gltf-validator ]; then
  npm ci --prefix tests/js --no-audit --no-fund --silent \
    || echo "setup_env: npm could not install tests/js; the glTF validator tests will fail until it does" >&2
fi
