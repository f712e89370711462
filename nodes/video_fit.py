"""The animation on its video as nodes, each one call into the core's video stage (`actionmesh_core.video_fit`).

    Fit Camera          animation + frames (+ masks) -> animation with a camera per frame, its IoU  (fit_cameras)
    Colour from Video   animation + frames (+ masks) -> animation with the video's colours         (colour_from_video)
    Overlay on Video    animation with cameras + frames -> IMAGE frames, the mesh over the video   (render_overlay)

The masks come from the mask input (1 = background, as core Load Image gives), else from Prepare Frames' output
(its masks: the clip's own or RMBG-1.4's), else from the frames' alpha.
"""

from __future__ import annotations

import numpy as np
import torch

from ..actionmesh_core.base.log import log
from ..actionmesh_core.errors import InputError
from ..actionmesh_core.inputs.clip import Clip
from ..actionmesh_core.render.camera import DEFAULT_FOV_DEG
from ..actionmesh_core.render.rasterizer import MODES as RENDER_MODES
from ..actionmesh_core.video_fit import COLOUR_MODES, check_texture_size, colour_from_video, fit_cameras, render_overlay
from . import inputs
from .comfy_types import clip_from_comfy
from .runtime import validated
from .sockets import ANIM, FRAMES

VIDEO_FRAMES = ("IMAGE", {"tooltip": "The frames of the video the animation was made from, with the same frame "
                                     "selection (e.g. ActionMesh Load Video's frames)."})
SUBJECT_MASK = ("MASK", {"tooltip": "Optional subject masks of those frames, 1 = background (e.g. ActionMesh Load "
                                    "Video's or Remove Background's mask). Without them: Prepare Frames' masks."})
PREPARED_MASKS = (FRAMES, {"tooltip": "Optional: Prepare Frames' output, whose subject masks (the clip's own or "
                                      "RMBG-1.4's) are used when no mask is wired."})
CAMERA_FOV = inputs.number(DEFAULT_FOV_DEG, 1.0, 170.0, 0.1, (
    "The video camera's vertical field of view in degrees (a silhouette cannot tell it; the default is the paper's "
    "preview camera). Used only when the animation has no cameras yet."))


def video_clip(frames, mask=None, prepared_frames=None) -> Clip:
    """The video's frames with subject alpha: the mask input first, else Prepare Frames' masks, else the frames'
    own alpha (an error naming the inputs when there is none)."""
    clip = clip_from_comfy(frames, mask)
    if clip.alpha is None and prepared_frames is not None:
        masks = prepared_frames.clip.alpha
        if masks.shape != clip.frames.shape[:3]:
            raise InputError(f"Prepare Frames' masks are {len(masks)} frames of {masks.shape[2]}x{masks.shape[1]}, "
                             f"the frames {len(clip)} of {clip.frames.shape[2]}x{clip.frames.shape[1]}: wire the "
                             "same frames into both")
        clip = clip.with_alpha(masks)
    if clip.alpha is None:
        raise InputError("no subject masks: wire a mask (e.g. Load Video's or Remove Background's) or Prepare "
                         "Frames' output (prepared_frames) into this node")
    return clip


class FitCamera:
    DESCRIPTION = ("Registers the animation to its video: a camera for every frame that puts the mesh on the subject, "
                   "in the video's own pixels (exported as the GLB's video_camera and USD's camera). Also gives the "
                   "silhouette IoU of the registered mesh against the masks: a quality signal without ground truth.")
    CATEGORY = "ActionMesh/video"
    RETURN_TYPES = (ANIM, "FLOAT", "STRING")
    RETURN_NAMES = ("animation", "mean_iou", "iou_report")
    OUTPUT_TOOLTIPS = ("The animation with its video cameras.",
                       "Mean silhouette IoU over the frames with a subject (1 = a perfect fit; below 0.5 is poor).",
                       "The mean and worst IoU, then every frame's.")
    FUNCTION = "fit"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"animation": inputs.ANIMATION, "frames": VIDEO_FRAMES, "camera_fov": CAMERA_FOV},
                "optional": {"mask": SUBJECT_MASK, "prepared_frames": PREPARED_MASKS}}

    def fit(self, animation, frames, camera_fov, mask=None, prepared_frames=None):
        anim, fit = fit_cameras(animation, video_clip(frames, mask, prepared_frames).alpha, fov_deg=camera_fov)
        log.info(fit.summary())
        per_frame = " ".join("-" if np.isnan(value) else f"{value:.3f}" for value in fit.iou)
        return anim, fit.mean_iou, f"{fit.summary()}\nper frame: {per_frame}"


class ColourFromVideo:
    DESCRIPTION = ("Colours the animated mesh from its video: every surface point takes the colour the frames show "
                   "where it is in front and faces the camera, with the video's light removed; surface no frame shows "
                   "is filled from its neighbours. Registers the cameras first when the animation has none.")
    CATEGORY = "ActionMesh/video"
    RETURN_TYPES = (ANIM, "STRING")
    RETURN_NAMES = ("animation", "report")
    OUTPUT_TOOLTIPS = ("The coloured animation (vertex colours, or a baked texture with new UVs).",
                       "How much of the surface the video showed, and whether the light was removed.")
    FUNCTION = "colour"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "animation": inputs.ANIMATION, "frames": VIDEO_FRAMES,
            "mode": (list(COLOUR_MODES), {"default": COLOUR_MODES[0], "tooltip": (
                "vertex: vertex colours (the mesh's base-colour textures are dropped); texture: new UVs (xatlas, "
                "pip install xatlas) and one baked texture.")}),
            "texture_size": inputs.integer(1024, 64, 4096, "With mode texture: width and height of the texture, a "
                                                           "power of two."),
            "remove_light": inputs.boolean(True, "Divide out the light the video shows, so the colours are the "
                                                 "object's own (a viewer lights them again)."),
            "camera_fov": CAMERA_FOV,
        }, "optional": {"mask": SUBJECT_MASK, "prepared_frames": PREPARED_MASKS}}

    @classmethod
    def VALIDATE_INPUTS(cls, mode, texture_size):
        return validated(lambda: check_texture_size(texture_size)) if mode == "texture" else True

    def colour(self, animation, frames, mode, texture_size, remove_light, camera_fov, mask=None,
               prepared_frames=None):
        clip = video_clip(frames, mask, prepared_frames)
        anim, report = colour_from_video(animation, clip.frames, clip.alpha, mode=mode, texture_size=texture_size,
                                         delight=remove_light, fov_deg=camera_fov)
        log.info(report.summary())
        return anim, report.summary()


class OverlayOnVideo:
    DESCRIPTION = ("Draws the animated mesh over its video through the registered cameras (Fit Camera): IMAGE frames "
                   "for core Create Video -> Save Video, or any image node.")
    CATEGORY = "ActionMesh/video"
    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("frames",)
    OUTPUT_TOOLTIPS = ("The video frames with the mesh over them, [T, H, W, 3].",)
    FUNCTION = "overlay"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "animation": (ANIM, {"tooltip": "An animated mesh with video cameras (from Fit Camera or "
                                                           "Colour from Video)."}),
            "frames": VIDEO_FRAMES,
            "opacity": inputs.number(0.6, 0.0, 1.0, 0.05, "Of the mesh over the video: 0 = the video only, 1 = the "
                                                          "mesh hides it."),
            "wireframe": inputs.boolean(False, "Draw the mesh's edges too."),
            "mode": (list(RENDER_MODES), {"default": RENDER_MODES[0], "tooltip": (
                "shaded: the mesh's colours (orange without any) lit; flat: the colours unlit; normals: normal "
                "directions as colours.")}),
        }}

    def overlay(self, animation, frames, opacity, wireframe, mode):
        images = render_overlay(animation, frames, opacity=opacity, wireframe=wireframe, mode=mode)
        return (torch.from_numpy(images).float().div_(255.0),)
