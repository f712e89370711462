"""The pack imported the way ComfyUI imports it, its nodes run the way ComfyUI runs them, and small models for
them: plain helpers for the node and workflow tests (their fixtures `pack` and `comfy_base` are in conftest.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

PACK_DIR = Path(__file__).resolve().parents[1]
EXAMPLE_VIDEO = "actionmesh_example.webm"
EXAMPLE_MESH = "3d/actionmesh_example_mesh.glb"
EXAMPLE_TARGET = "3d/actionmesh_example_target.glb"


PACK_MODULE = str(PACK_DIR).replace(".", "_x_")


def load_pack():
    """Import the pack folder's __init__.py by path under a path-derived module name, as ComfyUI's
    nodes.load_custom_node does (so only relative imports work inside the pack); once per session."""
    return sys.modules.get(PACK_MODULE) or import_pack(PACK_MODULE)


def import_pack(name: str):
    """A fresh import of the pack under module `name` (its submodules are `name`.nodes...)."""
    spec = importlib.util.spec_from_file_location(name, PACK_DIR / "__init__.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    module.NODE_CLASS_MAPPINGS  # noqa: B018 - as ComfyUI does: the entry imports the nodes when asked for them
    return module


def run_node(pack, node_id: str, **inputs):
    """Call a node's FUNCTION like ComfyUI does; returns its result tuple (and the ui dict, if any)."""
    cls = pack.NODE_CLASS_MAPPINGS[node_id]
    out = getattr(cls(), cls.FUNCTION)(**inputs)
    return (tuple(out.get("result", ())), out.get("ui")) if isinstance(out, dict) else (out, None)


def small_models(pack, mesh_resolution: int = 16):
    """The bundled small model's architecture with random weights, kept on the CPU, at a coarse mesh grid."""
    model_set = pack.actionmesh_core.pipeline.ModelSet.random("tiny", device="cpu", dtype="fp32", offload="keep",
                                                              mesh_resolution=mesh_resolution)
    return pack.nodes.sockets.LoadedModels(model_set, "tiny test models")
