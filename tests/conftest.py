import sys
from pathlib import Path

import pytest
import torch

TESTS = Path(__file__).resolve().parent
for path in (TESTS.parent, TESTS):  # the repo (actionmesh_core) and tests/helpers.py
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))


@pytest.fixture(autouse=True)
def _deterministic():
    torch.manual_seed(0)
    yield
