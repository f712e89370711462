"""End-to-end runs: video -> animated mesh, {video + mesh} -> animated mesh (also motion transfer), and
continuing an existing animation with more frames."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..animated_mesh import AnimatedMesh
from ..errors import InputError, MeshError
from ..geometry import load_user_mesh, prepare_user_mesh
from ..geometry.user_mesh import PreparedMesh, UserMesh
from ..io.clip import Clip
from ..io.preprocess import preprocess_clip, with_subject_masks
from ..io.video_input import load_clip
from ..models.rmbg import predict_alpha
from .models import ModelSet
from .progress import ProgressFn, RunReport, no_progress
from .settings import Settings
from .stages import (ReferenceMesh, decode_animation, encode_frames, encode_mesh, generate_latents,
                     generate_reference)

MeshInput = str | os.PathLike | UserMesh | PreparedMesh


def matting_for(models: ModelSet, progress: ProgressFn = no_progress):
    """RMBG-1.4 as a matting function (frames (T, H, W, 3) uint8 -> alpha (T, H, W) uint8, one progress step per
    frame) when its weights are available, else None."""
    if not models.has("rmbg"):
        return None

    def matting(frames: np.ndarray) -> np.ndarray:
        alphas = []
        with models.use("rmbg") as rmbg:
            for k, frame in enumerate(frames):
                alphas.append(predict_alpha(rmbg, frame[None])[0])
                progress("background removal", k + 1, len(frames))
        return np.stack(alphas)

    return matting


def prepare_mesh(mesh: MeshInput) -> PreparedMesh:
    if isinstance(mesh, PreparedMesh):
        return mesh
    return prepare_user_mesh(mesh if isinstance(mesh, UserMesh) else load_user_mesh(mesh))


@dataclass
class PreparedFrames:
    """A clip with subject masks, its square model frames and their image tokens.

    clip: the Clip (alpha filled in); images: (T, S, S, 3) uint8 on white; features: (T, 257, hidden) float32.
    """

    clip: Clip
    images: np.ndarray
    features: torch.Tensor


def prepare_frames(clip: Clip, models: ModelSet, report: RunReport | None = None,
                   progress: ProgressFn = no_progress) -> PreparedFrames:
    """Masks (the clip's own, else RMBG-1.4), the union-box square crop on white, and DINOv2 tokens."""
    report = report if report is not None else RunReport()
    with report.stage("preprocessing"):
        clip = with_subject_masks(clip, matting_for(models, progress))
        square = preprocess_clip(clip)
    with report.stage("image features", models.device):
        features = encode_frames(models, square.images)
    return PreparedFrames(clip, square.images, features)


def make_reference(frames: PreparedFrames, models: ModelSet, settings: Settings, mesh: MeshInput | None = None,
                   progress: ProgressFn = no_progress, report: RunReport | None = None) -> ReferenceMesh:
    """The mesh the animation deforms: TripoSG on the anchor frame, or the given mesh (its latent encoded)."""
    report = report if report is not None else RunReport()
    anchor = check_anchor(settings.anchor_frame, len(frames.clip))
    if mesh is None:
        with report.stage("reference mesh", models.device):
            features = frames.features[anchor]
            if models.has("triposg-dinov2"):  # TripoSG conditions on its own DINOv2 copy
                features = encode_frames(models, frames.images[anchor:anchor + 1], "triposg-dinov2")[0]
            reference = generate_reference(models, features, settings, progress)
        stats = reference.stats
        report.notes.append(f"reference mesh: {stats['queries']:,} decoder queries, "
                            f"{stats['queries'] / stats['dense_queries']:.1%} of the {stats['dense_queries']:,} that "
                            f"a dense grid of the same resolution needs; {len(reference.vertices):,} vertices, "
                            f"{len(reference.faces):,} faces")
        return reference
    with report.stage("mesh encoding", models.device):
        return encode_mesh(models, prepare_mesh(mesh), settings)


def check_anchor(anchor: int, frames: int) -> int:
    if not 0 <= anchor < frames:
        raise InputError(f"anchor frame {anchor} is outside the clip's {frames} selected frames (0..{frames - 1})")
    return anchor


def animate_reference(frames: PreparedFrames, reference: ReferenceMesh, models: ModelSet, settings: Settings,
                      progress: ProgressFn = no_progress, report: RunReport | None = None) -> AnimatedMesh:
    """Stages I and II from a reference mesh at `settings.anchor_frame`."""
    report = report if report is not None else RunReport()
    anchor = check_anchor(settings.anchor_frame, len(frames.clip))
    with report.stage("temporal diffusion", models.device):
        latents = generate_latents(models, frames.features, {anchor: reference.latent}, anchor, settings, progress)
    with report.stage("temporal decoding", models.device):
        vertices = decode_animation(models, latents, reference.vertices, reference.faces, anchor, settings, progress)
    return assemble(vertices, latents, reference, frames.clip)


def animate(source: Any, models: ModelSet, settings: Settings | None = None, *, mesh: MeshInput | None = None,
            selection: dict | None = None, masks: Any = None, invert_masks: bool = False,
            progress: ProgressFn = no_progress, report: RunReport | None = None) -> AnimatedMesh:
    """Video (file, frame folder, Clip, or frames in memory) -> AnimatedMesh.

    mesh:      None: make the reference mesh from the anchor frame with the image-to-3D prior (video -> 4D).
               A mesh file / UserMesh / PreparedMesh: animate that mesh instead, keeping its vertex layout,
               UVs and texture ({video + mesh} -> 4D; with a mesh of another object: motion transfer).
               `settings.anchor_frame` is the video frame the mesh corresponds to.
    selection: frame selection for `load_clip` (start, end, stride, max_frames, target_fps, max_side).
    masks:     optional subject masks (see `load_clip`); else the frames' alpha, else RMBG-1.4.
    """
    settings = settings or Settings()
    report = report if report is not None else RunReport()
    clip = source if isinstance(source, Clip) else load_clip(source, masks=masks, invert_masks=invert_masks,
                                                              **(selection or {}))
    check_anchor(settings.anchor_frame, len(clip))
    frames = prepare_frames(clip, models, report, progress)
    reference = make_reference(frames, models, settings, mesh, progress, report)
    return animate_reference(frames, reference, models, settings, progress, report)


def assemble(vertices: np.ndarray, latents: torch.Tensor, reference: ReferenceMesh, clip: Clip) -> AnimatedMesh:
    """Model-frame vertices (T, Vm, 3) -> AnimatedMesh in the reference's own layout and units."""
    last_frame = np.concatenate([clip.frames[-1], clip.alpha[-1][..., None]], axis=-1) if clip.alpha is not None \
        else None
    extra = dict(latents=latents.numpy(), last_frame=last_frame, fps=clip.fps)
    prepared = reference.prepared
    if prepared is None:
        return AnimatedMesh(vertices=vertices, faces=reference.faces, name="ActionMesh", **extra)
    anim = prepared.to_animated_mesh(vertices, fps=clip.fps)
    transform = np.eye(4, dtype=np.float32)
    transform[:3, :3] = prepared.rotation / prepared.scale
    transform[:3, 3] = -(prepared.rotation @ prepared.center) / prepared.scale
    anim.latents, anim.last_frame = extra["latents"], last_frame
    anim.model_transform, anim.merge_map = transform, prepared.merge_map
    return anim


def model_frame_mesh(anim: AnimatedMesh, frame: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """An animation frame as the model sees it: merged vertices (Vm, 3) in the model frame and faces (Fm, 3)."""
    vertices = anim.vertices[frame]
    if anim.model_transform is not None:
        vertices = vertices @ anim.model_transform[:3, :3].T + anim.model_transform[:3, 3]
    if anim.merge_map is None:
        return vertices.astype(np.float32), anim.faces
    merged = np.zeros((anim.merge_map.max() + 1, 3), np.float32)
    merged[anim.merge_map] = vertices
    faces = anim.merge_map[anim.faces]
    faces = faces[(faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 0] != faces[:, 2])]
    return merged, faces


def extend(anim: AnimatedMesh, more_frames: Any, models: ModelSet, settings: Settings | None = None, *,
           selection: dict | None = None, masks: Any = None, invert_masks: bool = False,
           progress: ProgressFn = no_progress, report: RunReport | None = None) -> AnimatedMesh:
    """Continue `anim` over the frames that follow it (autoregressive extension, the paper's extrapolation).

    The last frame's latent and mesh condition the new windows; the result holds the old frames followed by
    one new frame per frame of `more_frames`, with the same faces."""
    settings = (settings or Settings()).replace(anchor_frame=0)
    report = report if report is not None else RunReport()
    if anim.last_frame is None:
        raise InputError("this animated mesh does not store its last input frame, so it cannot be extended; "
                         "re-create it with this version of ActionMesh")
    new = more_frames if isinstance(more_frames, Clip) else load_clip(
        more_frames, masks=masks, invert_masks=invert_masks, **(selection or {"start": 0}))
    last = anim.last_frame
    if new.alpha is None or last.shape[:2] != new.frames.shape[1:3]:
        raise InputError(f"the new frames must have subject masks and the size of the previous clip "
                         f"({last.shape[1]}x{last.shape[0]}); got {new.frames.shape[2]}x{new.frames.shape[1]}"
                         f"{'' if new.alpha is not None else ' without masks'}")
    clip = Clip(frames=np.concatenate([last[None, ..., :3], new.frames]),
                alpha=np.concatenate([last[None, ..., 3], new.alpha]), fps=anim.fps,
                frame_indices=np.arange(len(new) + 1), source_fps=anim.fps, source=new.source)
    features = prepare_frames(clip, models, report).features
    vertices, faces = model_frame_mesh(anim)
    if anim.latents is not None:
        latent = torch.from_numpy(anim.latents[-1])
    else:
        with report.stage("mesh encoding", models.device):
            latent = encode_mesh(models, prepare_user_mesh(UserMesh(vertices, faces)), settings).latent
    with report.stage("temporal diffusion", models.device):
        latents = generate_latents(models, features, {0: latent}, 0, settings, progress)
    with report.stage("temporal decoding", models.device):
        new_vertices = decode_animation(models, latents, vertices, faces, 0, settings, progress)[1:]
    return append_frames(anim, new_vertices, latents[1:].numpy(), clip)


def append_frames(anim: AnimatedMesh, model_vertices: np.ndarray, latents: np.ndarray, clip: Clip) -> AnimatedMesh:
    """anim followed by new frames given in the model frame (T_new, Vm, 3)."""
    if anim.model_transform is not None:
        inverse = np.linalg.inv(anim.model_transform)
        model_vertices = model_vertices @ inverse[:3, :3].T + inverse[:3, 3]
    if anim.merge_map is not None:
        model_vertices = model_vertices[:, anim.merge_map]
    if model_vertices.shape[1] != anim.num_vertices:
        raise MeshError("internal error: extension produced a different vertex count")
    step = anim.frame_times[-1] - anim.frame_times[-2] if anim.num_frames > 1 else 1.0 / anim.fps
    times = anim.frame_times[-1] + step * np.arange(1, len(model_vertices) + 1)
    all_latents = np.concatenate([anim.latents, latents]) if anim.latents is not None else None
    last_frame = np.concatenate([clip.frames[-1], clip.alpha[-1][..., None]], axis=-1)
    return AnimatedMesh(
        vertices=np.concatenate([anim.vertices, model_vertices.astype(np.float32)]), faces=anim.faces, fps=anim.fps,
        frame_times=np.concatenate([anim.frame_times, times]), uvs=anim.uvs, texture=anim.texture,
        base_color=anim.base_color, vertex_colors=anim.vertex_colors, latents=all_latents,
        model_transform=anim.model_transform, merge_map=anim.merge_map, last_frame=last_frame, name=anim.name)
