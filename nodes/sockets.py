"""The pack's socket types: their wire names and the values that travel on them.

ACTIONMESH_MODEL   `LoadedModels`: a core ModelSet (with its attention kernel) and the weights' name.
ACTIONMESH_FRAMES  a core `PreparedFrames`: the clip with its subject masks, square-cropped, and its image tokens
                   (Prepare Frames). An explicit socket, so ComfyUI's own cache decides when frames are encoded again.
ACTIONMESH_MESH    a mesh ready for the model: a core `PreparedMesh` (Load Mesh, Mesh from MESH: a user's mesh) or
                   `ReferenceMesh` (Image3D Prior: a generated mesh with its latent).
ACTIONMESH_LATENT  `LatentSequence`: shape latents of some or all frames of a clip.
ACTIONMESH_ANIM    a core `AnimatedMesh`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..actionmesh_core.errors import InputError
from ..actionmesh_core.inputs.clip import Clip
from ..actionmesh_core.pipeline import ModelSet, Settings

MODEL, FRAMES, MESH, LATENT, ANIM = ("ACTIONMESH_MODEL", "ACTIONMESH_FRAMES", "ACTIONMESH_MESH", "ACTIONMESH_LATENT",
                                     "ACTIONMESH_ANIM")


@dataclass
class LoadedModels:
    """models: the lazily loaded ModelSet (its `attention` is the kernel chosen); name: the weights."""

    models: ModelSet
    name: str


@dataclass
class LatentSequence:
    """Shape latents by frame: every frame 0..T-1 of `clip` after Temporal Diffusion, the anchor alone after the
    prior.

    latents:  {frame: (N, C) float32 CPU tensor}.
    anchor:   the frame the reference mesh shows.
    clip:     the frames they were made from (fps and last frame for the animation), None for the prior's.
    settings: the run settings that made them (Stage II decodes the same windows).
    """

    latents: dict[int, torch.Tensor]
    anchor: int
    clip: Clip | None
    settings: Settings

    def stacked(self) -> torch.Tensor:
        """(T, N, C) latents of every frame of the clip, in order."""
        frames = len(self.clip) if self.clip is not None else 0
        if frames < 2 or sorted(self.latents) != list(range(frames)):
            raise InputError("Temporal Autoencoder needs the latent sequence of a whole clip, from Temporal Diffusion; "
                             "this one holds only the latent(s) of frame(s) "
                             f"{sorted(self.latents)} (the Image3D Prior's output goes into Temporal Diffusion)")
        return torch.stack([self.latents[f] for f in range(frames)])
