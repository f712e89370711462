"""Conversions between ComfyUI's data types and the core's (`Clip`, `UserMesh`, `AnimatedMesh`), usable without
ComfyUI itself. The core reads generic numpy / torch frames; ComfyUI's conventions live here, with the nodes.

ComfyUI's types (see the conventions doc):
    IMAGE      (T, H, W, 3) float32 in 0..1, one image per frame.
    MASK       (T, H, W) or (H, W) float32 in 0..1, 1 = transparent (core Load Image gives 1 - alpha).
    core MESH  an object with .vertices (B, N, 3) float and .faces (B, M, 3) int tensors, batched.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..actionmesh_core.animated_mesh import AnimatedMesh
from ..actionmesh_core.base.option_names import OptionNames
from ..actionmesh_core.errors import InputError, MeshError
from ..actionmesh_core.geometry.user_mesh import PreparedMesh
from ..actionmesh_core.inputs import DEFAULT_FPS, Clip, load_clip
from ..actionmesh_core.io.mesh_file import UserMesh
from ..actionmesh_core.pipeline import ReferenceMesh
from ..actionmesh_core.render import over_background


IMAGE_BATCH_NAMES = OptionNames({"start": None, "end": None, "stride": None, "max_frames": None, "target_fps": None,
                                 "fps": None, "max_side": None})
"""An IMAGE batch comes whole: no widget selects its frames, so messages about it give no frame-selection advice."""


@dataclass
class CoreMesh:
    """The fields of ComfyUI's core MESH: vertices (B, N, 3) float32 and faces (B, M, 3) int64 tensors."""

    vertices: torch.Tensor
    faces: torch.Tensor


def clip_from_comfy(images, masks=None, fps: float = DEFAULT_FPS) -> Clip:
    """IMAGE (T, H, W, 3|4) float 0..1 (+ MASK, 1 = transparent) -> Clip with uint8 frames and subject alpha.

    masks: (T, H', W'), (1, H', W') or (H', W'), resized to the frames; a single mask serves every frame.
    A mask without any transparent pixel is what core Load Image gives for an image without alpha, so it
    counts as no mask (the pipeline then needs RMBG-1.4 or the frames' own alpha).
    """
    if masks is not None:
        masks = torch.as_tensor(masks)
        masks = masks[None] if masks.ndim == 2 else masks
        if masks.ndim != 3:
            raise InputError(f"the mask must be (frames, height, width), got shape {tuple(masks.shape)}")
        frames = len(images)
        if len(masks) == 1 and frames > 1:
            masks = masks.expand(frames, -1, -1)
        elif len(masks) != frames:
            raise InputError(f"{len(masks)} masks for {frames} frames: give one mask per frame, or a single mask")
        if not bool((masks > 0).any()):
            masks = None
    return load_clip(images, masks=masks, invert_masks=True, fps=fps, names=IMAGE_BATCH_NAMES)


def clip_to_comfy(clip: Clip) -> tuple[torch.Tensor, torch.Tensor]:
    """Clip -> (IMAGE (T, H, W, 3) float32, MASK (T, H, W) float32 with 1 = transparent; zeros without alpha)."""
    images = torch.from_numpy(clip.frames).float().div_(255.0)
    if clip.alpha is None:
        return images, torch.zeros(images.shape[:3])
    return images, 1.0 - torch.from_numpy(clip.alpha).float().div_(255.0)


def mesh_from_core(mesh, index: int = 0, name: str = "mesh") -> UserMesh:
    """Mesh `index` of a core MESH batch -> UserMesh (geometry only: core MESH has no UVs or colours)."""
    if not (hasattr(mesh, "vertices") and hasattr(mesh, "faces")):
        raise InputError(f"expected a core MESH (with .vertices and .faces), got {type(mesh).__name__}")
    vertices, faces = _numpy(mesh.vertices), _numpy(mesh.faces)
    vertices = vertices[None] if vertices.ndim == 2 else vertices
    faces = faces[None] if faces.ndim == 2 else faces
    if vertices.ndim != 3 or faces.ndim != 3 or len(vertices) != len(faces):
        raise MeshError(f"a core MESH needs vertices (B, N, 3) and faces (B, M, 3); got {vertices.shape} and "
                        f"{faces.shape}")
    if not 0 <= index < len(vertices):
        raise InputError(f"mesh index {index} is outside the batch of {len(vertices)} mesh(es) (0..{len(vertices) - 1})")
    return UserMesh(vertices=vertices[index], faces=faces[index], name=name)


def mesh_to_core(vertices, faces) -> CoreMesh:
    """One mesh, vertices (V, 3) and faces (F, 3), -> a batch of one as core MESH fields."""
    return CoreMesh(torch.as_tensor(np.asarray(vertices, dtype=np.float32))[None],
                    torch.as_tensor(np.asarray(faces, dtype=np.int64))[None])


def model_mesh_to_core(mesh: PreparedMesh | ReferenceMesh) -> CoreMesh:
    """An ACTIONMESH_MESH as core MESH fields: a user's mesh as its file has it (layout, units, axes), a generated
    reference in the model frame."""
    if isinstance(mesh, PreparedMesh):
        return mesh_to_core(mesh.source.vertices, mesh.source.faces)
    if isinstance(mesh, ReferenceMesh):
        return mesh_to_core(mesh.vertices, mesh.faces)
    raise InputError(f"expected an ActionMesh mesh (ACTIONMESH_MESH), got {type(mesh).__name__}")


def rgba_to_comfy(rgba: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Renders (T, H, W, 4) uint8 with straight alpha -> (IMAGE (T, H, W, 3) on white, MASK (T, H, W), 1 = background)."""
    return (torch.from_numpy(over_background(rgba)).float().div_(255.0),
            1.0 - torch.from_numpy(rgba[..., 3]).float().div_(255.0))


def anim_frame_to_core(anim: AnimatedMesh, frame: int) -> CoreMesh:
    """Frame `frame` of an animation as core MESH fields (the animation's own vertex layout and units)."""
    if not 0 <= frame < anim.num_frames:
        raise InputError(f"frame {frame} is outside the animation's {anim.num_frames} frames (0..{anim.num_frames - 1})")
    return mesh_to_core(anim.vertices[frame], anim.faces)


def _numpy(values) -> np.ndarray:
    return values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)
