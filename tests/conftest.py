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


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for a module (the training recipes' setting): small ops crawl when threads wait on
    busy cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
