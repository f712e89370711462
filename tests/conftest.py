"""Fixtures shared by the test modules. Plain helpers that take arguments (inputs, small models, the pack's
loader, export checks) are modules beside this file: pipeline_fixtures.py, comfy_pack.py, export_checks.py,
skinning_fixtures.py, workflow_specs.py, reference_impl.py; no test module imports another."""

import os
import shutil
import sys
from pathlib import Path

import pytest
import torch

TESTS = Path(__file__).resolve().parent
for path in (TESTS.parent, TESTS):  # the repo (actionmesh_core) and the helper modules beside this file
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from comfy_pack import PACK_DIR, load_pack  # noqa: E402 - needs the path above
from pipeline_fixtures import tiny_models, write_tiny_root  # noqa: E402


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


@pytest.fixture(scope="module")
def models():
    """Tiny random-weight models (seed 1), kept on the CPU: one set per test module."""
    return tiny_models()


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory) -> Path:
    """A weights root in the official layout with tiny random models (what `--weights` points at)."""
    root = tmp_path_factory.mktemp("weights")
    write_tiny_root(root)
    return root


@pytest.fixture(scope="session")
def pack():
    """The node pack, imported the way ComfyUI imports it."""
    return load_pack()


@pytest.fixture(scope="session")
def comfy_base(tmp_path_factory):
    """input/ (the workflows' example video and meshes), output/, temp/ and models/actionmesh/ as the adapter's
    stand-in ComfyUI folders."""
    base = tmp_path_factory.mktemp("comfyui")
    shutil.copytree(PACK_DIR / "workflows" / "inputs", base / "input")
    for folder in ("output", "temp", "models/actionmesh"):
        (base / folder).mkdir(parents=True)
    previous = os.environ.get("ACTIONMESH_COMFY_BASE")
    os.environ["ACTIONMESH_COMFY_BASE"] = str(base)
    yield base
    if previous is None:
        del os.environ["ACTIONMESH_COMFY_BASE"]
    else:
        os.environ["ACTIONMESH_COMFY_BASE"] = previous
