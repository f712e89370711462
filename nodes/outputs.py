"""Output nodes: export files, preview the animation inside the node, render frames for video nodes."""

from __future__ import annotations

from pathlib import Path

from ..actionmesh_core.base.atomic import atomic_dir
from ..actionmesh_core.export.formats import FORMATS, export_animated_mesh, export_skinned_mesh, log_skin_report
from ..actionmesh_core.render import CAMERAS, MODES, render_animation
from ..actionmesh_core.skinning import AUTO, DEFAULT_MAX_ERROR
from . import comfy_adapter as comfy
from . import inputs
from .comfy_types import rgba_to_comfy
from .files import numbered_path, output_stem
from .runtime import NodeProgress, validated

EXPORT_SUFFIXES = {"glb": ".glb", "usdz": ".usdz", "usd": ".usd", "npz": ".npz", "frames": "", "obj": "", "ply": "",
                   "skinned-glb": ".glb", "usdskel": ".usd"}
BONES = inputs.integer(0, 0, 256, "Skinned formats: the number of bones; 0 = auto, the fewest bones whose mean "
                                  "error reaches max_error.")
MAX_ERROR = inputs.number(DEFAULT_MAX_ERROR, 0.01, 10.0, 0.01, "Skinned formats with bones = 0 (auto): the mean "
                          "vertex error to reach, in % of the bounding-box diagonal.")


def _file_entry(path: Path, root: Path, kind: str) -> dict:
    """How ComfyUI's /view names a file: {"filename", "subfolder", "type"}."""
    subfolder = path.parent.relative_to(root.resolve()).as_posix()
    return {"filename": path.name, "subfolder": "" if subfolder == "." else subfolder, "type": kind}


class Export:
    DESCRIPTION = ("Writes the animated mesh under ComfyUI's output folder (numbered like core savers) and returns "
                   "its path relative to output/: wire it into core Preview 3D to view a GLB. skinned-glb and "
                   "usdskel fit bones and weights to the animation (for game engines) and report the bone count, "
                   "error and file size.")
    CATEGORY = "ActionMesh/output"
    RETURN_TYPES = ("STRING",)
    RETURN_NAMES = ("path",)
    OUTPUT_TOOLTIPS = ("The file (or folder) written, relative to ComfyUI's output folder.",)
    OUTPUT_NODE = True
    FUNCTION = "export"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "animation": inputs.ANIMATION,
            "format": (list(EXPORT_SUFFIXES), {"tooltip": (
                "glb: one animated GLB (morph targets; plays in Preview 3D, Blender, three.js); usdz/usd: "
                "time-sampled USD; npz: raw arrays; frames/obj/ply: a folder of per-frame meshes; skinned-glb: a "
                "GLB with a skeleton, skin weights and bone animation (Unity, Unreal, Godot, Blender); usdskel: the "
                "same as a UsdSkel layer.")}),
            "filename_prefix": ("STRING", {"default": "actionmesh/ActionMesh", "tooltip": (
                "Subfolder(s) and file name under ComfyUI's output folder; a counter is added.")}),
        }, "optional": {"bones": BONES, "max_error": MAX_ERROR}}

    @classmethod
    def VALIDATE_INPUTS(cls, filename_prefix):
        return validated(lambda: output_stem(comfy.output_dir(), filename_prefix))

    def export(self, animation, format, filename_prefix, bones=0, max_error=DEFAULT_MAX_ERROR):
        root = comfy.output_dir()
        target = numbered_path(root, filename_prefix, EXPORT_SUFFIXES[format])
        ui = {}
        if FORMATS[format].skinned:
            report = log_skin_report(export_skinned_mesh(animation, format, target, bones=bones or AUTO,
                                                         max_error=max_error, progress=NodeProgress()))
            written, ui["text"] = report.path, [report.summary()]
        elif EXPORT_SUFFIXES[format]:
            written = export_animated_mesh(animation, format, target)
        else:
            with atomic_dir(target) as folder:
                export_animated_mesh(animation, format, folder)
            written = target
        entry = _file_entry(written, root, "output") | {"format": format}
        return {"ui": {"3d": [entry], **ui}, "result": (written.relative_to(root.resolve()).as_posix(),)}


class PreviewAnimatedMesh:
    DESCRIPTION = "Plays the animated mesh inside the node (play/pause, frame slider, drag to orbit)."
    CATEGORY = "ActionMesh/output"
    RETURN_TYPES = ()
    OUTPUT_NODE = True
    FUNCTION = "preview"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"animation": inputs.ANIMATION}}

    def preview(self, animation):
        root = comfy.temp_dir()
        path = export_animated_mesh(animation, "glb", numbered_path(root, "actionmesh/preview", ".glb"))
        entry = _file_entry(path, root, "temp") | {"frames": animation.num_frames, "fps": float(animation.fps)}
        return {"ui": {"actionmesh_preview": [entry]}}


class Render:
    DESCRIPTION = "Renders every frame of the animated mesh to images (and masks) for video nodes."
    CATEGORY = "ActionMesh/output"
    RETURN_TYPES = ("IMAGE", "MASK")
    RETURN_NAMES = ("frames", "mask")
    OUTPUT_TOOLTIPS = ("Renders on white, [T, size, size, 3].", "1 = background.")
    FUNCTION = "render"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "animation": inputs.ANIMATION,
            "camera": (list(CAMERAS), {"tooltip": "turntable: one full turn over the clip; fixed: one view."}),
            "mode": (list(MODES), {"tooltip": "shaded: grey (or the mesh's colours/texture) lit from the camera; "
                                              "normals: normal directions as colours."}),
            "size": inputs.integer(512, 64, 2048, "Width and height of the images in pixels."),
            "azimuth": inputs.number(0.0, -360.0, 360.0, 1.0, "Camera angle around the vertical axis (start of "
                                                              "the turntable), degrees."),
            "elevation": inputs.number(20.0, -89.0, 89.0, 1.0, "Camera height angle, degrees."),
        }}

    def render(self, animation, camera, mode, size, azimuth, elevation):
        return rgba_to_comfy(render_animation(animation, camera=camera, azimuth_deg=azimuth, elevation_deg=elevation,
                                              size=size, mode=mode, progress=NodeProgress()))
