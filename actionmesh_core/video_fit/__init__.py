"""The animation on its video: a camera for every frame (registration), the object's colours from the frames,
and the mesh drawn over the video.

    anim, fit = fit_cameras(anim, masks)                               # cameras + per-frame silhouette IoU
    anim, report = colour_from_video(anim, frames, masks, mode="vertex")  # or "texture"
    frames = render_overlay(anim, frames)                              # (T, H, W, 3) uint8
"""

from .colour import MODES as COLOUR_MODES
from .colour import ColourReport, colour_from_video
from .options import COLOUR_CHOICES, VideoFit, default_colour
from .overlay import overlay_chunks, render_overlay
from .register import CameraFit, fit_cameras
from .texture import check_texture_size

__all__ = ["COLOUR_CHOICES", "COLOUR_MODES", "CameraFit", "ColourReport", "VideoFit", "check_texture_size",
           "colour_from_video", "default_colour", "fit_cameras", "overlay_chunks", "render_overlay"]
