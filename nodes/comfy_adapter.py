"""The only module that touches ComfyUI (`comfy`, `folder_paths`): its folders, progress bar, interrupt
flag, devices and memory management. Without ComfyUI every service falls back to a stand-in, so the pack
imports and its tests run anywhere; the stand-in folders live under $ACTIONMESH_COMFY_BASE (default: the
working directory) as input/, output/, temp/ and models/actionmesh/.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

try:
    import comfy.utils
    import folder_paths
    from comfy import model_management
except ImportError:
    model_management = folder_paths = None
try:
    from comfy_api.latest import Types
    CoreMESH = getattr(Types, "MESH", None)  # ComfyUI's MESH class; V3 APIs before it have no MESH
except ImportError:  # ComfyUI before the V3 API (< 0.3.4x), or no ComfyUI
    CoreMESH = None

IN_COMFYUI = folder_paths is not None
MODEL_FOLDER = "actionmesh"


def _base() -> Path:
    return Path(os.environ.get("ACTIONMESH_COMFY_BASE", os.getcwd()))


def register_model_folder() -> None:
    """Make models/actionmesh a model folder (listed by /models, extendable in extra_model_paths.yaml)."""
    if IN_COMFYUI:
        folder_paths.add_model_folder_path(MODEL_FOLDER, os.path.join(folder_paths.models_dir, MODEL_FOLDER))


def model_dirs() -> list[Path]:
    """Every folder registered for ActionMesh weights (models/actionmesh and extra_model_paths entries)."""
    if IN_COMFYUI:
        return [Path(p) for p in folder_paths.get_folder_paths(MODEL_FOLDER)]
    return [_base() / "models" / MODEL_FOLDER]


def input_dir() -> Path:
    return Path(folder_paths.get_input_directory()) if IN_COMFYUI else _base() / "input"


def output_dir() -> Path:
    return Path(folder_paths.get_output_directory()) if IN_COMFYUI else _base() / "output"


def temp_dir() -> Path:
    return Path(folder_paths.get_temp_directory()) if IN_COMFYUI else _base() / "temp"


def torch_device() -> torch.device:
    """ComfyUI's compute device (cpu under --cpu); standalone: CUDA when there is one, else the CPU."""
    if IN_COMFYUI:
        return model_management.get_torch_device()
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class _NoProgressBar:
    def update_absolute(self, value, total=None, preview=None) -> None:
        return None


def progress_bar(total: int):
    """ComfyUI's progress bar of the running node (each update also checks the interrupt flag)."""
    return comfy.utils.ProgressBar(total) if IN_COMFYUI else _NoProgressBar()


def check_interrupt() -> None:
    """Raise ComfyUI's InterruptProcessingException when the user pressed Cancel."""
    if IN_COMFYUI:
        model_management.throw_exception_if_processing_interrupted()


def free_memory() -> None:
    """Before a stage: let ComfyUI move the models it manages off the device to make room."""
    if IN_COMFYUI:
        model_management.unload_all_models()
        model_management.soft_empty_cache()


def offload_policy() -> str:
    """The Load Models offload that follows ComfyUI's VRAM mode: "free" (drop each model after its stage, reload
    it from disk) under --lowvram / --novram, else "cpu" (park it in RAM); "cpu" without ComfyUI."""
    if IN_COMFYUI and model_management.vram_state in (model_management.VRAMState.LOW_VRAM,
                                                      model_management.VRAMState.NO_VRAM):
        return "free"
    return "cpu"


def release_cache() -> None:
    """After a stage: return the freed device memory (CUDA cache) to ComfyUI and other processes."""
    if IN_COMFYUI:
        model_management.soft_empty_cache()


def core_mesh(mesh):
    """ComfyUI's own MESH object with the fields of `mesh` (.vertices (B, N, 3), .faces (B, M, 3)); where
    ComfyUI has no MESH class, `mesh` itself (nodes read only those two fields)."""
    return CoreMESH(mesh.vertices, mesh.faces) if CoreMESH is not None else mesh
