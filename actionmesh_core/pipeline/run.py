"""End-to-end runs: video -> animated mesh, {video + mesh} -> animated mesh (also motion transfer), and
continuing an existing animation with more frames."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..animated_mesh import AnimatedMesh, Continuation
from ..base.log import log
from ..base.option_names import PYTHON_NAMES, OptionNames
from ..errors import InputError, MeshError, WeightsError
from ..geometry.model_frame import ModelFrame
from ..geometry.user_mesh import PreparedMesh, prepare_user_mesh
from ..io.mesh_file import UserMesh, load_user_mesh
from ..inputs.clip import Clip
from ..pipeline.framing import preprocess_clip, union_box, with_subject_masks
from ..inputs.load import load_clip
from ..models.rmbg import predict_alpha
from ..video_fit import VideoFit, colour_from_video, fit_cameras
from .model_set import ModelSet
from .progress import ProgressFn, RunReport, no_progress
from .settings import Settings
from .stages import (ReferenceMesh, decode_animation, encode_frames, encode_mesh, generate_latents,
                     generate_reference)

MeshInput = str | os.PathLike | UserMesh | PreparedMesh
ReferenceInput = MeshInput | ReferenceMesh
"""What an animation can deform: a user's mesh (file, loaded or prepared), or a reference mesh with its latent."""
Box = tuple[int, int, int, int] | np.ndarray
"""(x0, y0, x1, y1) crop in clip pixels, end-exclusive."""


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


def remove_background(frames: np.ndarray, models: ModelSet, progress: ProgressFn = no_progress) -> np.ndarray:
    """RMBG-1.4's subject masks: frames (T, H, W, 3) uint8 -> alpha (T, H, W) uint8 (255 = subject), one progress
    step per frame. Raises WeightsError when the models have no RMBG-1.4."""
    matting = matting_for(models, progress)
    if matting is None:
        raise WeightsError("the RMBG-1.4 background remover is not installed with these models: put briaai/RMBG-1.4 "
                           "(config.json + model.safetensors) in the weights root's RMBG/ folder (`actionmesh "
                           "weights download --only rmbg --root ROOT`), or give subject masks")
    return matting(frames)


def prepare_mesh(mesh: MeshInput, up_axis: str = "+y") -> PreparedMesh:
    """A user's mesh (a file, or loaded) made ready for the model (`prepare_user_mesh`: its `up_axis` turned to +Y
    for the model; the animation comes back in the file's own axes and units). A PreparedMesh is kept as it is."""
    if isinstance(mesh, PreparedMesh):
        return mesh
    return prepare_user_mesh(mesh if isinstance(mesh, UserMesh) else load_user_mesh(mesh), up_axis=up_axis)


@dataclass
class PreparedFrames:
    """A clip with subject masks, its square model frames and their image tokens.

    clip: the Clip (alpha filled in); images: (T, S, S, 3) uint8 on white; features: (T, 257, hidden) float32 on
    the CPU (device memory stays bounded for long clips: each stage moves the frames it works on).
    """

    clip: Clip
    images: np.ndarray
    features: torch.Tensor


def prepare_frames(clip: Clip, models: ModelSet, report: RunReport | None = None,
                   progress: ProgressFn = no_progress, box: Box | None = None,
                   names: OptionNames = PYTHON_NAMES) -> PreparedFrames:
    """Masks (the clip's own, else RMBG-1.4), the square crop on white, and DINOv2 tokens.

    box:   crop to use instead of the clip's union subject box (an extension keeps its first run's framing).
    names: how the user names the options, for the advice in messages (without a report of the caller's)."""
    report = report if report is not None else RunReport(names=names)
    with report.stage("preprocessing"):
        clip = with_subject_masks(clip, matting_for(models, progress), report.names)
        images = preprocess_clip(clip, box=box).images
    with report.stage("image features", models.device):
        features = encode_frames(models, images).cpu()
    return PreparedFrames(clip, images, features)


def make_reference(frames: PreparedFrames, models: ModelSet, settings: Settings, mesh: ReferenceInput | None = None,
                   progress: ProgressFn = no_progress, report: RunReport | None = None) -> ReferenceMesh:
    """The mesh the animation deforms: TripoSG on the anchor frame, or the given mesh (its latent encoded; a
    ReferenceMesh is used as it is)."""
    report = report if report is not None else RunReport(names=settings.names)
    anchor = check_anchor(settings.anchor_frame, len(frames.clip))
    if isinstance(mesh, ReferenceMesh):
        return mesh
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


def check_known_latents(known: dict[int, torch.Tensor], frames: int, models: ModelSet) -> None:
    """Known latents ({frame: (N, C)}) must fall inside the clip and come from models with the same token count."""
    if not known:
        raise InputError("Stage I needs at least one known latent (the reference's, at the anchor frame)")
    for frame, latent in known.items():
        check_anchor(frame, frames)
        if latent.shape[0] != models.num_tokens:
            raise InputError(f"the reference latent has {latent.shape[0]} tokens but these models use "
                             f"{models.num_tokens}: make the reference with the same models")


def temporal_latents(frames: PreparedFrames, reference: ReferenceInput, models: ModelSet, settings: Settings,
                     known: dict[int, torch.Tensor] | None = None, progress: ProgressFn = no_progress,
                     report: RunReport | None = None) -> torch.Tensor:
    """Stage I over the whole clip: (T, N, C) latents, one per frame.

    known: clean latents by frame (e.g. the image-to-3D prior's at its anchor frame); default: the reference's
           latent at `settings.anchor_frame` (a user's mesh is encoded first). Windows slide from the anchor."""
    report = report if report is not None else RunReport(names=settings.names)
    anchor = check_anchor(settings.anchor_frame, len(frames.clip))
    if known is None:
        known = {anchor: make_reference(frames, models, settings, reference, progress, report).latent}
    check_known_latents(known, len(frames.clip), models)
    with report.stage("temporal diffusion", models.device):
        return generate_latents(models, frames.features, known, anchor, settings, progress)


def decode_latents(latents: torch.Tensor, reference: ReferenceInput, clip: Clip, models: ModelSet, settings: Settings,
                   progress: ProgressFn = no_progress, report: RunReport | None = None) -> AnimatedMesh:
    """Stage II: (T, N, C) latents of `clip` + the mesh at `settings.anchor_frame` -> the AnimatedMesh (in a user
    mesh's own layout and units)."""
    report = report if report is not None else RunReport(names=settings.names)
    anchor = check_anchor(settings.anchor_frame, len(latents))
    if not isinstance(reference, ReferenceMesh):  # the mesh's geometry; its latent is the anchor's
        prepared = prepare_mesh(reference)
        reference = ReferenceMesh(prepared.vertices, prepared.faces, latents[anchor], prepared=prepared)
    with report.stage("temporal decoding", models.device):
        vertices = decode_animation(models, latents, reference.vertices, reference.faces, anchor, settings, progress)
    return assemble(vertices, latents, reference, clip)


def fit_to_video(anim: AnimatedMesh, clip: Clip, video: VideoFit, report: RunReport | None = None) -> AnimatedMesh:
    """The stage after Stage II: the camera of every frame (`fit_cameras`: the per-frame silhouette IoU goes into
    the report's notes), then the colours from the video unless `video.colour` is "none". clip: with masks."""
    report = report if report is not None else RunReport()
    with report.stage("camera fitting"):
        anim, fit = fit_cameras(anim, clip.alpha, fov_deg=video.fov_deg)
    report.notes.append(fit.summary())
    if video.colour != "none":
        with report.stage("colour from video"):
            anim, colours = colour_from_video(anim, clip.frames, clip.alpha, mode=video.colour,
                                              texture_size=video.texture_size, delight=video.delight)
        report.notes.append(colours.summary())
    return anim


def animate_reference(frames: PreparedFrames, reference: ReferenceInput, models: ModelSet, settings: Settings,
                      progress: ProgressFn = no_progress, report: RunReport | None = None,
                      video: VideoFit | None = None) -> AnimatedMesh:
    """Stages I and II from a reference mesh at `settings.anchor_frame` (a user's mesh is encoded first), then
    `fit_to_video` when `video` is given."""
    report = report if report is not None else RunReport(names=settings.names)
    reference = make_reference(frames, models, settings, reference, progress, report)
    latents = temporal_latents(frames, reference, models, settings, progress=progress, report=report)
    anim = decode_latents(latents, reference, frames.clip, models, settings, progress, report)
    return anim if video is None else fit_to_video(anim, frames.clip, video, report)


def animate(source: Any, models: ModelSet, settings: Settings | None = None, *, mesh: ReferenceInput | None = None,
            selection: dict | None = None, masks: Any = None, invert_masks: bool = False,
            progress: ProgressFn = no_progress, report: RunReport | None = None,
            video: VideoFit | None = None) -> AnimatedMesh:
    """Video (file, frame folder, Clip, or frames in memory) -> AnimatedMesh.

    mesh:      None: make the reference mesh from the anchor frame with the image-to-3D prior (video -> 4D).
               A mesh file / UserMesh / PreparedMesh: animate that mesh instead, keeping its vertex layout,
               UVs and texture ({video + mesh} -> 4D; with a mesh of another object: motion transfer).
               `settings.anchor_frame` is the video frame the mesh corresponds to. A ReferenceMesh (with its
               latent) is animated as it is.
    selection: frame selection for `load_clip` (start, end, stride, max_frames, target_fps, max_side).
    masks:     optional subject masks (see `load_clip`); else the frames' alpha, else RMBG-1.4.
    settings:  None: the weights' recommended settings over the official ones (`Settings.resolve`).
    video:     register the result to the video and colour it from the frames (`fit_to_video`); None: neither
               (the official pipeline's grey mesh in its own frame).
    """
    settings = settings or Settings.resolve(models.recommended)
    report = report if report is not None else RunReport(names=settings.names)
    clip = source if isinstance(source, Clip) else load_clip(source, masks=masks, invert_masks=invert_masks,
                                                              names=report.names, **(selection or {}))
    check_anchor(settings.anchor_frame, len(clip))
    if mesh is not None and not isinstance(mesh, ReferenceMesh):  # a broken mesh file is found before any model runs
        with report.stage("mesh loading"):
            mesh = prepare_mesh(mesh)
    models.verify(run_models(prior=mesh is None, mesh_encoder=isinstance(mesh, PreparedMesh),
                             matting=clip.alpha is None))
    frames = prepare_frames(clip, models, report, progress)
    reference = make_reference(frames, models, settings, mesh, progress, report)
    return animate_reference(frames, reference, models, settings, progress, report, video)


def run_models(*, prior: bool, mesh_encoder: bool, matting: bool) -> list[str]:
    """The models a run uses, for `ModelSet.verify` before the first one runs. prior: Stage 0 makes the
    reference mesh (TripoSG; its own DINOv2 when the weights have it); mesh_encoder: a given mesh is encoded
    (the TripoSG VAE); matting: the frames need RMBG-1.4's masks."""
    names = ["dinov2", "actionmesh-denoiser", "actionmesh-autoencoder"]
    names += ["triposg-dinov2", "triposg-dit", "triposg-vae"] if prior else ["triposg-vae"] if mesh_encoder else []
    return names + (["rmbg"] if matting else [])


def assemble(vertices: np.ndarray, latents: torch.Tensor, reference: ReferenceMesh, clip: Clip) -> AnimatedMesh:
    """Model-frame vertices (T, Vm, 3) -> AnimatedMesh in the reference's own layout and units.

    Frame times are the clip's source times from its first frame (so start / stride / fps selections keep
    their timing). The latents, the last frame and the union crop box go into the animation's `Continuation`,
    for `extend` (none when the clip has no subject mask)."""
    times = clip.times - clip.times[0]
    prepared = reference.prepared
    if prepared is None:
        anim = AnimatedMesh(vertices=vertices, faces=reference.faces, fps=clip.fps, frame_times=times)
    else:
        anim = prepared.to_animated_mesh(vertices, fps=clip.fps, frame_times=times)
    if clip.alpha is None:
        return anim
    return dataclasses.replace(anim, continuation=Continuation(last_frame=clip[-1:].rgba[0], latents=latents.numpy(),
                                                                crop_box=union_box(clip.alpha)))


def model_frame_mesh(anim: AnimatedMesh, frame: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """An animation frame as the model sees it: merged vertices (Vm, 3) in the model frame and faces (Fm, 3)."""
    vertices = anim.vertices[frame]
    if anim.model_transform is not None:
        vertices = ModelFrame.from_matrix(anim.model_transform).to_model(vertices)
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

    The last frame's latent and mesh condition the new windows (from `anim.continuation`); the result holds the
    old frames followed by one new frame per frame of `more_frames`, with the same faces, and the continuation
    of the longer run. New frames without masks get them as in `animate` (RMBG-1.4); every frame is cropped to
    the first run's box, so the subject keeps its framing."""
    settings = (settings or Settings.resolve(models.recommended)).replace(anchor_frame=0)
    report = report if report is not None else RunReport(names=settings.names)
    state = anim.continuation
    if state is None:
        raise InputError("this animated mesh does not store its last input frame, so it cannot be extended; "
                         "re-create it with this version of ActionMesh")
    new = more_frames if isinstance(more_frames, Clip) else load_clip(
        more_frames, masks=masks, invert_masks=invert_masks, names=report.names, **(selection or {"start": 0}))
    last = state.last_frame
    if last.shape[:2] != new.frames.shape[1:3]:
        raise InputError(f"the new frames must have the size of the previous clip ({last.shape[1]}x{last.shape[0]}); "
                         f"got {new.frames.shape[2]}x{new.frames.shape[1]}")
    models.verify(run_models(prior=False, mesh_encoder=state.latents is None, matting=new.alpha is None))
    if new.alpha is None:
        with report.stage("background removal", models.device):
            new = with_subject_masks(new, matting_for(models, progress), report.names)
    clip = Clip(frames=np.concatenate([last[None, ..., :3], new.frames]),
                alpha=np.concatenate([last[None, ..., 3], new.alpha]), fps=new.fps,
                frame_indices=np.arange(len(new) + 1), source_fps=new.fps, source=new.source)
    box = state.crop_box if state.crop_box is not None else union_box(clip.alpha)  # older results lack the box
    features = prepare_frames(clip, models, report, box=box).features
    warn_if_outside(new, box)
    vertices, faces = model_frame_mesh(anim)
    if state.latents is not None:
        latent = torch.from_numpy(state.latents[-1])
    else:
        with report.stage("mesh encoding", models.device):
            latent = encode_mesh(models, prepare_user_mesh(UserMesh(vertices, faces)), settings).latent
    with report.stage("temporal diffusion", models.device):
        latents = generate_latents(models, features, {0: latent}, 0, settings, progress)
    with report.stage("temporal decoding", models.device):
        new_vertices = decode_animation(models, latents, vertices, faces, 0, settings, progress)[1:]
    return append_frames(anim, new_vertices, latents[1:].numpy(), new, box)


def warn_if_outside(clip: Clip, box: Box) -> None:
    """Log a warning when the subject of `clip` reaches outside `box` (that part is cropped off)."""
    x0, y0, x1, y1 = union_box(clip.alpha)
    if x0 < box[0] or y0 < box[1] or x1 > box[2] or y1 > box[3]:
        log.warning("%s: the subject reaches outside the framing of the clip being extended (box %s); the part "
                    "outside is cropped off so that the subject keeps its scale", clip.source,
                    tuple(int(v) for v in box))


def append_frames(anim: AnimatedMesh, model_vertices: np.ndarray, latents: np.ndarray, new: Clip,
                  box: Box) -> AnimatedMesh:
    """anim followed by the frames of `new`, given in the model frame (T_new, Vm, 3), with their latents
    (T_new, N, C) and the crop `box` in the continuation.

    The new frames keep their own spacing in time and start one frame interval after anim's last frame."""
    if anim.model_transform is not None:
        model_vertices = ModelFrame.from_matrix(anim.model_transform).from_model(model_vertices)
    if anim.merge_map is not None:
        model_vertices = model_vertices[:, anim.merge_map]
    if model_vertices.shape[1] != anim.num_vertices:
        raise MeshError("internal error: extension produced a different vertex count")
    times = anim.frame_times[-1] + 1.0 / new.fps + (new.times - new.times[0])
    known = anim.continuation.latents
    continuation = Continuation(last_frame=new[-1:].rgba[0], crop_box=box,
                                latents=None if known is None else np.concatenate([known, latents]))
    return dataclasses.replace(  # the video cameras covered the first clip only
        anim, vertices=np.concatenate([anim.vertices, model_vertices.astype(np.float32)]),
        frame_times=np.concatenate([anim.frame_times, times]), continuation=continuation, cameras=None)
