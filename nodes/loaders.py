"""Loader nodes: the models (from ComfyUI's models/actionmesh), a video and a mesh (from ComfyUI's input folder)."""

from __future__ import annotations

from pathlib import Path

from ..actionmesh_core.base.log import log
from ..actionmesh_core.errors import InputError, WeightsError
from ..actionmesh_core.geometry.user_mesh import UP_AXIS_ROTATIONS
from ..actionmesh_core.inputs import load_clip
from ..actionmesh_core.io.mesh_file import SUPPORTED_SUFFIXES
from ..actionmesh_core.models.attention import check_backend
from ..actionmesh_core.models.hub import DEFAULT_FOLDER, download_missing
from ..actionmesh_core.models.registry import resolve_model_folder
from ..actionmesh_core.pipeline import ModelSet, bundled_models, prepare_mesh
from ..actionmesh_core.base.safe_paths import contained_path
from ..actionmesh_core.pipeline.model_set import BUNDLED_WEIGHTS, OFFLOAD_POLICIES, REQUIRED
from . import comfy_adapter as comfy
from .comfy_types import clip_to_comfy
from .files import list_files, signature
from .inputs import LOAD_VIDEO_NAMES, boolean, integer
from .runtime import validated
from .sockets import MESH, MODEL, LoadedModels

BUNDLED = "bundled small model"
VIDEO_SUFFIXES = (".mp4", ".mov", ".webm", ".mkv", ".avi", ".gif", ".m4v")
MESH_FOLDER = "3d"  # input/3d, where core Load 3D uploads meshes
OFFLOAD_CHOICES = ("auto", *OFFLOAD_POLICIES)  # auto: comfy_adapter.offload_policy()


def weight_roots() -> dict[str, Path]:
    """{name: folder} of the subfolders of ComfyUI's models/actionmesh folder(s) that hold every required model."""
    roots = {}
    for base in comfy.model_dirs():
        for folder in sorted(p for p in base.iterdir() if p.is_dir()) if base.is_dir() else ():
            if folder.name not in roots and _holds_models(folder):
                roots[folder.name] = folder
    return roots


def _holds_models(folder: Path) -> bool:
    try:
        for name in REQUIRED:
            resolve_model_folder(name, folder)
    except WeightsError:
        return False
    return True


def weight_choices() -> list[str]:
    """The Load Models combo: the complete weights folders, the bundled model, and the folder the official weights
    download into (models/actionmesh/official) while it is not complete."""
    roots = list(weight_roots())
    return [*roots, BUNDLED] + ([DEFAULT_FOLDER] if DEFAULT_FOLDER not in roots else [])


def _weights_folder(weights: str) -> Path:
    roots = weight_roots()
    if weights not in roots:
        found = ", ".join(roots) or "none"
        fetch = (f"switch download_if_missing on to download the official weights into "
                 f"{comfy.model_dirs()[0] / weights} (about 16 GB from the Hugging Face hub), or run "
                 f"`actionmesh weights download --root {comfy.model_dirs()[0] / weights}`. ")
        raise WeightsError(f"no complete ActionMesh weights folder named {weights!r} in {comfy.model_dirs()[0]} "
                           f"(found: {found}): {fetch}Each folder needs ActionMesh/denoiser, ActionMesh/autoencoder, "
                           "TripoSG/transformer, TripoSG/vae and dinov2; see the README's 'Weights' section")
    return roots[weights]


def _download_folder(weights: str) -> Path:
    """Where download_if_missing puts the weights: the listed folder, or models/actionmesh/<weights>."""
    if weights == BUNDLED:
        raise InputError("download_if_missing fetches the official weights into a folder under models/actionmesh/: "
                         f"choose '{DEFAULT_FOLDER}' (or one of your weights folders) as weights, or switch it off to "
                         "use the bundled small model")
    if weights not in weight_choices():
        raise InputError(f"{weights!r} is not one of the weights folders ({', '.join(weight_choices())})")
    return weight_roots().get(weights) or contained_path(comfy.model_dirs()[0], weights, what="weights folder name",
                                                         error=WeightsError)


class LoadModels:
    DESCRIPTION = ("Loads the ActionMesh models, TripoSG, DINOv2 and (if present) RMBG-1.4 from a folder under "
                   "models/actionmesh/, downloading what it lacks when asked. Each model goes to the GPU only while "
                   "its stage runs. The models carry their recommended settings (preset 'model default').")
    CATEGORY = "ActionMesh/loaders"
    RETURN_TYPES = (MODEL,)
    RETURN_NAMES = ("model",)
    FUNCTION = "load"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "weights": (weight_choices(), {"tooltip": (
                "A folder under models/actionmesh/ holding ActionMesh/, TripoSG/ and dinov2/ (optional RMBG/), the "
                "small model bundled with the pack (for trying the nodes; far below the official quality), or "
                f"'{DEFAULT_FOLDER}': the official weights, downloaded there with download_if_missing.")}),
            "precision": (["auto", "bf16", "fp16", "fp32"], {"tooltip": (
                "Weight precision: auto = bf16 on GPUs that support it, else fp16 on GPU and fp32 on CPU.")}),
            "attention": (["auto", "flash", "sdpa"], {"tooltip": (
                "Attention kernel: flash needs the flash-attn package; auto uses it when it fits, else PyTorch SDPA.")}),
            "offload": (list(OFFLOAD_CHOICES), {"tooltip": (
                "Between stages: auto = free when ComfyUI runs with --lowvram or --novram, else cpu; cpu = park "
                "models in RAM (fast reuse); free = drop them and reload from disk (least memory); keep = leave "
                "them on the GPU (fastest, but ComfyUI cannot move them off it for other nodes).")}),
            "download_if_missing": boolean(False, (
                "Download what the weights folder lacks from the Hugging Face hub (the official weights, about 16 "
                "GB; progress and licences in the server console) into models/actionmesh/<weights>/, then load. "
                "Gated models need `hf auth login` and their licence accepted on the model page.")),
        }}

    @classmethod
    def VALIDATE_INPUTS(cls, weights, attention, download_if_missing):
        def check():
            if download_if_missing:
                _download_folder(weights)
            elif weights != BUNDLED:
                _weights_folder(weights)
            check_backend(attention)
        return validated(check)

    @classmethod
    def IS_CHANGED(cls, weights, download_if_missing=False, **_):
        if weights == BUNDLED:
            return signature(BUNDLED_WEIGHTS)
        return signature(_download_folder(weights) if download_if_missing else _weights_folder(weights))

    def load(self, weights, precision, attention, offload, download_if_missing):
        options = {"device": comfy.torch_device(), "dtype": None if precision == "auto" else precision,
                   "offload": comfy.offload_policy() if offload == "auto" else offload, "attention": attention}
        if download_if_missing:
            folder = _download_folder(weights)
            download_missing(folder, log=log.info)
        else:
            folder = None if weights == BUNDLED else _weights_folder(weights)
        models = bundled_models(**options) if folder is None else ModelSet.from_weights(folder, **options)
        models.verify(REQUIRED)  # headers only: a broken checkpoint fails here, not minutes into a workflow
        return (LoadedModels(models, weights),)


def _input_file(name: str, suffixes: tuple[str, ...], what: str) -> Path:
    path = contained_path(comfy.input_dir(), name, what=f"{what} file name")
    if path.suffix.lower() not in suffixes:
        raise InputError(f"{name} is not a {what} file ({', '.join(suffixes)})")
    if not path.is_file():
        raise InputError(f"no file {name} in ComfyUI's input folder; upload it again")
    if path.stat().st_size == 0:
        raise InputError(f"{name} in ComfyUI's input folder is empty (0 bytes); upload it again")
    return path


class LoadVideo:
    DESCRIPTION = ("Reads frames from a video in ComfyUI's input folder, one at a time: only the selected frames "
                   "are kept, shrunk while decoding. Outputs the frames, their mask (from the video's alpha, if "
                   "any) and the frame rate.")
    CATEGORY = "ActionMesh/loaders"
    RETURN_TYPES = ("IMAGE", "MASK", "FLOAT")
    RETURN_NAMES = ("frames", "mask", "fps")
    OUTPUT_TOOLTIPS = ("The selected frames [T, H, W, 3].",
                       "1 = transparent, from the video's alpha channel (all 0 when it has none).",
                       "Frame rate of the selected frames (the video's rate / stride).")
    FUNCTION = "load"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "video": (list_files(comfy.input_dir(), "", VIDEO_SUFFIXES), {
                "video_upload": True, "tooltip": "A video in ComfyUI's input folder (mp4, mov, webm, mkv, gif, avi)."}),
            "frame_load_cap": integer(31, 0, 100_000, "Keep at most this many frames (0 = all). Official runs use "
                                                      "16-31 frames; continue longer videos with AR Extend."),
            "stride": integer(1, 1, 1000, "Keep every n-th frame."),
            "start_frame": integer(0, 0, 10_000_000, "The first frame to read."),
            "max_side": integer(1024, 0, 8192, "Shrink frames while decoding so that their longer side is at most "
                                               "this many pixels (0 = full size)."),
        }}

    @classmethod
    def VALIDATE_INPUTS(cls, video):
        return validated(lambda: _input_file(video, VIDEO_SUFFIXES, "video"))

    @classmethod
    def IS_CHANGED(cls, video, **_):
        return signature(_input_file(video, VIDEO_SUFFIXES, "video"))

    def load(self, video, frame_load_cap, stride, start_frame, max_side):
        clip = load_clip(_input_file(video, VIDEO_SUFFIXES, "video"), start=start_frame, stride=stride,
                         max_frames=frame_load_cap or None, max_side=max_side or None, names=LOAD_VIDEO_NAMES)
        return (*clip_to_comfy(clip), clip.fps)


class LoadMesh:
    DESCRIPTION = ("Reads a GLB, glTF, OBJ or PLY mesh from ComfyUI's input/3d folder and prepares it for the model, "
                   "for {video + mesh} -> 4D and motion transfer. The animation keeps its vertex layout, UVs, "
                   "texture and colours, in the file's own units and axes.")
    CATEGORY = "ActionMesh/loaders"
    RETURN_TYPES = (MESH,)
    RETURN_NAMES = ("mesh",)
    FUNCTION = "load"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "mesh_file": (list_files(comfy.input_dir(), MESH_FOLDER, SUPPORTED_SUFFIXES), {"tooltip": (
                "A mesh in ComfyUI's input/3d folder (core Load 3D's upload puts files there). It must face the "
                "way the subject faces in the anchor frame.")}),
            "up_axis": (list(UP_AXIS_ROTATIONS), {"tooltip": (
                "The file's up axis: +y for glTF and most exports, +z for Z-up files (e.g. many scans). The model "
                "sees the mesh standing up; the animation comes back in the file's own axes.")}),
        }}

    @classmethod
    def VALIDATE_INPUTS(cls, mesh_file):
        return validated(lambda: _input_file(mesh_file, SUPPORTED_SUFFIXES, "mesh"))

    @classmethod
    def IS_CHANGED(cls, mesh_file, **_):
        return signature(_input_file(mesh_file, SUPPORTED_SUFFIXES, "mesh"))

    def load(self, mesh_file, up_axis):
        return (prepare_mesh(_input_file(mesh_file, SUPPORTED_SUFFIXES, "mesh"), up_axis=up_axis),)
