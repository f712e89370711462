"""Opt-in: `comfy node validate` (comfy-cli, in the dev extras), the registry's check of pyproject.toml plus its
security lint of the pack's code. Skipped when comfy-cli is not installed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from comfy_pack import PACK_DIR

COMFY = shutil.which("comfy", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")


@pytest.mark.skipif(COMFY is None, reason="comfy-cli is not installed (pip install -e '.[dev]')")
def test_comfy_node_validate_passes():
    result = subprocess.run([COMFY, "--skip-prompt", "--no-enable-telemetry", "node", "validate"], cwd=PACK_DIR,
                            capture_output=True, text=True, timeout=300, check=False,
                            env=os.environ | {"COMFY_NO_TRACKING": "1"})
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "All validation checks passed" in output and "Security warnings" not in output, output
