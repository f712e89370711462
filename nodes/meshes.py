"""Converters between the pack's meshes and core ComfyUI's MESH (Hunyuan3D, Save GLB and other 3D nodes)."""

from __future__ import annotations

from ..actionmesh_core.pipeline import prepare_mesh
from . import comfy_adapter as comfy
from . import inputs
from .comfy_types import anim_frame_to_core, mesh_from_core, model_mesh_to_core
from .sockets import MESH

CORE_MESH_TOOLTIP = "A core MESH (e.g. from Hunyuan3D's VAE Decode / Voxel to Mesh); geometry only."


class MeshFromMESH:
    DESCRIPTION = "Takes one mesh of a core MESH batch as an ActionMesh mesh (prepared for the model), to animate it."
    CATEGORY = "ActionMesh/mesh"
    RETURN_TYPES = (MESH,)
    RETURN_NAMES = ("mesh",)
    FUNCTION = "convert"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"mesh": ("MESH", {"tooltip": CORE_MESH_TOOLTIP}),
                             "index": inputs.integer(0, 0, 4095, "Which mesh of the batch.")}}

    def convert(self, mesh, index):
        return (prepare_mesh(mesh_from_core(mesh, index)),)


class _ToCoreMESH:
    CATEGORY = "ActionMesh/mesh"
    RETURN_TYPES = ("MESH",)
    RETURN_NAMES = ("MESH",)
    FUNCTION = "convert"


class MeshToMESH(_ToCoreMESH):
    DESCRIPTION = ("An ActionMesh mesh as a core MESH (a batch of one), for core Save GLB and other 3D nodes: a "
                   "generated reference in the model's frame, a loaded mesh as its file has it.")

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"mesh": inputs.REFERENCE}}

    def convert(self, mesh):
        return (comfy.core_mesh(model_mesh_to_core(mesh)),)


class AnimationFrameToMESH(_ToCoreMESH):
    DESCRIPTION = "One frame of an animated mesh as a core MESH (a batch of one)."

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"animation": inputs.ANIMATION,
                             "frame": inputs.integer(0, 0, 100_000, "Which frame (0 = the first).")}}

    def convert(self, animation, frame):
        return (comfy.core_mesh(anim_frame_to_core(animation, frame)),)
