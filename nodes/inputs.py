"""Input declarations shared by several nodes (INPUT_TYPES entries, each with its tooltip), and the names these
widgets give the core's options in messages."""

from __future__ import annotations

from ..actionmesh_core.base.option_names import OptionNames
from ..actionmesh_core.pipeline.settings import PRESETS
from .sockets import ANIM, FRAMES, MESH, MODEL


def integer(default: int, low: int, high: int, tooltip: str, **options) -> tuple:
    return ("INT", {"default": default, "min": low, "max": high, "tooltip": tooltip, **options})


def number(default: float, low: float, high: float, step: float, tooltip: str) -> tuple:
    return ("FLOAT", {"default": default, "min": low, "max": high, "step": step, "tooltip": tooltip})


def boolean(default: bool, tooltip: str) -> tuple:
    return ("BOOLEAN", {"default": default, "tooltip": tooltip})


MODELS = (MODEL, {"tooltip": "The models, from ActionMesh Load Models."})
IMAGES = ("IMAGE", {"tooltip": "Video frames (a batch of images): from ActionMesh Load Video, core Load Video -> Get "
                               "Video Components, another video pack, or a video model's output."})
PREPARED = (FRAMES, {"tooltip": "The frames with their subject masks and image features, from ActionMesh Prepare "
                                "Frames (wire the same output into every stage of a run)."})
MASK = ("MASK", {"tooltip": "Optional subject masks, one per frame or one for all, 1 = background (as core Load "
                            "Image gives). Masks from packs that mark the subject with 1 need core InvertMask first. "
                            "Without masks, RMBG-1.4 computes them (its weights must be installed)."})
ANIMATION = (ANIM, {"tooltip": "An animated mesh (one topology, moving vertices)."})
REFERENCE = (MESH, {"tooltip": "The mesh the animation deforms: the Image3D Prior's reference, or your own mesh "
                               "(ActionMesh Load Mesh, Mesh from MESH), which keeps its layout, UVs and texture."})

ANCHOR = integer(0, 0, 4095, "The frame (counted in the loaded frames) that the reference mesh shows.")
SEED = integer(44, 0, 0xFFFFFFFF, "Random seed (44 is the official default).", control_after_generate=True)
PRESET = (list(PRESETS), {"default": PRESETS[0], "tooltip": (
    "Where the steps and guidance come from. model default: what the loaded weights recommend (their "
    "actionmesh.json; the official values for the official weights), official: 100/30 steps at guidance 7.5, fast: "
    "50/15 steps, custom: the numbers below.")})
ONE_NODE_PRESET = (list(PRESETS[:3]), {"default": PRESETS[0], "tooltip": (
    "The settings. model default: what the loaded weights recommend (their actionmesh.json; the official values "
    "for the official weights), official: 100 prior and 30 temporal steps at guidance 7.5, fast: 50/15 steps.")})
PRIOR_STEPS = integer(100, 1, 500, "With preset custom: denoising steps of the image-to-3D prior (TripoSG); 100 "
                                   "official, 50 fast.")
STEPS = integer(30, 1, 500, "With preset custom: temporal denoising steps; 30 official, 15 fast.")
GUIDANCE = number(7.5, 0.0, 30.0, 0.1, "With preset custom: classifier-free guidance scale on the video frames (7.5 "
                                       "official).")
WINDOW = integer(16, 2, 64, "Frames per temporal-diffusion window; windows slide by window - 1 frames (16 official). "
                 "Temporal decoding uses the windows its weights were trained for.")
FPS = number(8.0, 0.1, 240.0, 0.01, "Playback rate of the animation in frames per second (wire Load Video's fps "
                                    "here).")
FACE_BUDGET = integer(40_000, 100, 2_000_000, "The reference mesh is decimated to at most this many faces.")
MESH_RESOLUTION = integer(0, 0, 1024, "Grid cells per axis when extracting the reference surface: a power of two "
                                      "from 16; 0 = the models' default (512 for the official weights).")
LOW_VRAM = boolean(False, "Lower peak GPU memory: guidance branches one after the other, one frame decoded at a "
                          "time. Slower.")

# How the nodes name the core's options in messages (`OptionNames`): what a node has no widget for is left out.
LOAD_VIDEO_NAMES = OptionNames({"start": "start_frame", "end": None, "max_frames": "frame_load_cap",
                                "target_fps": None, "fps": None})
STAGE_NAMES = OptionNames({"masks": "mask", "seed": "seed", "anchor_frame": "anchor_frame", "low_vram": "low_vram",
                           "window": "window", "mesh_resolution": "mesh_resolution"})
ONE_NODE_NAMES = OptionNames({**STAGE_NAMES.names, "window": None, "mesh_resolution": None})
