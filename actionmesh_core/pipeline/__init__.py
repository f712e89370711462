"""The ActionMesh pipeline: video (+ optional mesh) -> AnimatedMesh.

    models = ModelSet.from_weights("pretrained_weights")      # or bundled_models(), or load_models("bundled")
    anim = animate("clip.mp4", models)                          # the weights' recommended settings
    anim = animate("clip.mp4", models, Settings.resolve(models.recommended, "fast", seed=3))
    anim = extend(anim, "next_clip.mp4", models)
"""

from .model_set import ModelSet, bundled_models, load_models
from .progress import RunReport, TqdmProgress
from .run import (PreparedFrames, ReferenceInput, animate, animate_reference, assemble, check_anchor,
                  decode_latents, extend, fit_to_video, make_reference, matting_for, prepare_frames, prepare_mesh,
                  remove_background, run_models, temporal_latents)
from .settings import Settings
from .stages import ReferenceMesh, decode_animation, encode_frames, encode_mesh, generate_latents, generate_reference

__all__ = ["ModelSet", "PreparedFrames", "ReferenceInput", "ReferenceMesh", "RunReport", "Settings", "TqdmProgress",
           "animate", "animate_reference", "assemble", "bundled_models", "check_anchor", "decode_animation",
           "decode_latents", "encode_frames", "encode_mesh", "extend", "fit_to_video", "generate_latents",
           "generate_reference", "load_models", "make_reference", "matting_for", "prepare_frames", "prepare_mesh",
           "remove_background", "run_models", "temporal_latents"]
