"""The pipeline's stages as nodes, each a thin wrapper over one core call, plus the one-node convenience path.

    Remove Background       frames -> MASK                                     (RMBG-1.4)
    Image3D Prior           frames -> reference mesh + its latent              (make_reference, Stage 0)
    Temporal Diffusion      frames + reference -> latent sequence              (generate_latents, Stage I)
    Temporal Autoencoder    latents + reference -> animated mesh               (decode_animation, Stage II)
    AR Extend               animated mesh + more frames -> longer one          (extend)
    Motion Transfer         frames of A + mesh of B -> animation of B          (animate_reference)
    Video to Animated Mesh  frames (+ mesh) -> animated mesh                   (animate_reference)
"""

from __future__ import annotations

from ..actionmesh_core.errors import InputError
from ..actionmesh_core.inputs.clip import DEFAULT_FPS
from ..actionmesh_core.pipeline import (
    RunReport,
    animate_reference,
    assemble,
    check_anchor,
    decode_animation,
    extend,
    generate_latents,
    make_reference,
)
from ..actionmesh_core.pipeline.stages import ReferenceMesh
from . import inputs
from .comfy_types import clip_from_comfy, clip_to_comfy
from .runtime import NodeProgress, as_reference, on_device, prepared_frames, run_settings, subject_alpha, validated
from .sockets import ANIM, LATENT, MESH, LatentSequence


def _check_resolution(mesh_resolution: int) -> None:
    if mesh_resolution and (mesh_resolution < 16 or mesh_resolution & (mesh_resolution - 1)):
        raise InputError(f"mesh_resolution must be 0 (the models' default) or a power of two from 16, "
                         f"got {mesh_resolution}")


class RemoveBackground:
    DESCRIPTION = "Subject masks from RMBG-1.4 (its weights must be in the models folder), 1 = background."
    CATEGORY = "ActionMesh/stages"
    RETURN_TYPES = ("MASK",)
    RETURN_NAMES = ("mask",)
    FUNCTION = "remove"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model": inputs.MODELS, "frames": inputs.FRAMES}}

    def remove(self, model, frames):
        clip = clip_from_comfy(frames)
        with on_device():
            alpha = subject_alpha(model, clip.frames, NodeProgress())
        return (clip_to_comfy(clip.with_alpha(alpha))[1],)


class Image3DPrior:
    DESCRIPTION = ("Stage 0: the reference mesh of the anchor frame from the image-to-3D prior (TripoSG), and its "
                   "shape latent.")
    CATEGORY = "ActionMesh/stages"
    RETURN_TYPES = (MESH, LATENT)
    RETURN_NAMES = ("reference", "latent")
    OUTPUT_TOOLTIPS = ("The reference mesh (the animation deforms it).",
                       "Its shape latent at the anchor frame: feed it to Temporal Diffusion with the mesh.")
    FUNCTION = "generate"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "model": inputs.MODELS, "frames": inputs.FRAMES, "anchor_frame": inputs.ANCHOR,
            "steps": inputs.PRIOR_STEPS, "guidance": inputs.GUIDANCE, "seed": inputs.SEED,
            "face_budget": inputs.FACE_BUDGET, "mesh_resolution": inputs.MESH_RESOLUTION, "low_vram": inputs.LOW_VRAM,
        }, "optional": {"mask": inputs.MASK}}

    @classmethod
    def VALIDATE_INPUTS(cls, mesh_resolution):
        return validated(lambda: _check_resolution(mesh_resolution))

    def generate(self, model, frames, anchor_frame, steps, guidance, seed, face_budget, mesh_resolution, low_vram,
                 mask=None):
        settings = run_settings(model, anchor_frame=anchor_frame, prior_steps=steps, prior_guidance=guidance,
                                seed=seed, face_budget=face_budget, mesh_resolution=mesh_resolution, low_vram=low_vram)
        progress = NodeProgress()
        with on_device():
            prepared = prepared_frames(model, frames, mask, DEFAULT_FPS, progress)
            reference = make_reference(prepared, model.models, settings, progress=progress)
        return reference, LatentSequence({anchor_frame: reference.latent}, anchor_frame, None, settings)


class TemporalDiffusion:
    DESCRIPTION = ("Stage I: one shape latent per frame, denoised in sliding windows from the reference's latent "
                   "and the frames. A mesh of your own is encoded first ({video + mesh} -> 4D).")
    CATEGORY = "ActionMesh/stages"
    RETURN_TYPES = (LATENT,)
    RETURN_NAMES = ("latents",)
    FUNCTION = "generate"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "model": inputs.MODELS, "frames": inputs.FRAMES, "reference": inputs.REFERENCE,
            "anchor_frame": inputs.ANCHOR, "steps": inputs.STEPS, "guidance": inputs.GUIDANCE, "seed": inputs.SEED,
            "window": inputs.WINDOW, "fps": inputs.FPS, "low_vram": inputs.LOW_VRAM,
        }, "optional": {
            "mask": inputs.MASK,
            "reference_latent": (LATENT, {"tooltip": (
                "Known latents, e.g. the Image3D Prior's: they and their anchor frame replace anchor_frame and the "
                "reference's own latent.")}),
        }}

    def generate(self, model, frames, reference, anchor_frame, steps, guidance, seed, window, fps, low_vram,
                 mask=None, reference_latent=None):
        anchor = reference_latent.anchor if reference_latent is not None else anchor_frame
        settings = run_settings(model, anchor_frame=anchor, steps=steps, guidance=guidance, seed=seed, window=window,
                                low_vram=low_vram)
        progress, report, models = NodeProgress(), RunReport(), model.models
        with on_device():
            prepared = prepared_frames(model, frames, mask, fps, progress)
            check_anchor(anchor, len(prepared.clip))
            if reference_latent is not None:
                known = reference_latent.latents
            elif isinstance(reference, ReferenceMesh):
                known = {anchor: reference.latent}
            else:
                known = {anchor: make_reference(prepared, models, settings, reference, progress, report).latent}
            for frame, latent in known.items():
                check_anchor(frame, len(prepared.clip))
                if latent.shape[0] != models.num_tokens:
                    raise InputError(f"the reference latent has {latent.shape[0]} tokens but these models use "
                                     f"{models.num_tokens}: make the reference with the same Load Models node")
            with report.stage("temporal diffusion", models.device):
                latents = generate_latents(models, prepared.features, known, anchor, settings, progress)
        return (LatentSequence(dict(enumerate(latents)), anchor, prepared.clip, settings),)


class TemporalAutoencoder:
    DESCRIPTION = ("Stage II: decodes the latent sequence into the reference mesh's vertex positions in every frame "
                   "(one topology, moving vertices).")
    CATEGORY = "ActionMesh/stages"
    RETURN_TYPES = (ANIM,)
    RETURN_NAMES = ("animation",)
    FUNCTION = "decode"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "model": inputs.MODELS,
            "latents": (LATENT, {"tooltip": "The latent sequence from Temporal Diffusion."}),
            "reference": inputs.REFERENCE,
            "decode_batch": inputs.integer(4, 1, 64, "Frames decoded at once; 1 = least GPU memory."),
        }}

    def decode(self, model, latents, reference, decode_batch):
        stacked = latents.stacked()
        mesh = as_reference(reference, latents.latents[latents.anchor])
        settings = latents.settings.replace(decode_batch=decode_batch)
        models = model.models
        with on_device(), RunReport().stage("temporal decoding", models.device):
            vertices = decode_animation(models, stacked, mesh.vertices, mesh.faces, latents.anchor, settings,
                                        NodeProgress())
        return (assemble(vertices, stacked, mesh, latents.clip),)


class ARExtend:
    DESCRIPTION = ("Continues an animated mesh over the frames that follow its clip (autoregressive extension): "
                   "its last frame conditions the new windows. Same faces, more frames.")
    CATEGORY = "ActionMesh/stages"
    RETURN_TYPES = (ANIM,)
    RETURN_NAMES = ("animation",)
    FUNCTION = "extend"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "model": inputs.MODELS, "animation": inputs.ANIMATION,
            "frames": ("IMAGE", {"tooltip": "The frames that follow the animation's clip, at the same size (e.g. "
                                            "Load Video with start_frame after the first part)."}),
            "steps": inputs.STEPS, "guidance": inputs.GUIDANCE, "seed": inputs.SEED, "window": inputs.WINDOW,
            "low_vram": inputs.LOW_VRAM,
        }, "optional": {"mask": inputs.MASK}}

    def extend(self, model, animation, frames, steps, guidance, seed, window, low_vram, mask=None):
        settings = run_settings(model, steps=steps, guidance=guidance, seed=seed, window=window, low_vram=low_vram)
        progress = NodeProgress()
        clip = clip_from_comfy(frames, mask, animation.fps)
        with on_device():
            if clip.alpha is None:
                clip = clip.with_alpha(subject_alpha(model, clip.frames, progress))
            return (extend(animation, clip, model.models, settings, progress=progress),)


def _animate(model, frames, mask, fps, settings, mesh) -> tuple:
    """Prepared frames -> reference (the prior, or `mesh`) -> Stages I and II, as one node's work."""
    progress, report = NodeProgress(), RunReport()
    with on_device():
        prepared = prepared_frames(model, frames, mask, fps, progress)
        reference = mesh if isinstance(mesh, ReferenceMesh) else \
            make_reference(prepared, model.models, settings, mesh, progress, report)
        return (animate_reference(prepared, reference, model.models, settings, progress, report),)


class MotionTransfer:
    DESCRIPTION = ("Animates the mesh of object B with the motion of object A in the frames. The mesh should face "
                   "and stand like A in the anchor frame.")
    CATEGORY = "ActionMesh/stages"
    RETURN_TYPES = (ANIM,)
    RETURN_NAMES = ("animation",)
    FUNCTION = "transfer"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "model": inputs.MODELS, "frames": inputs.FRAMES,
            "mesh": (MESH, {"tooltip": "The mesh of object B (its layout, UVs and texture are kept)."}),
            "anchor_frame": inputs.ANCHOR, "steps": inputs.STEPS, "guidance": inputs.GUIDANCE, "seed": inputs.SEED,
            "window": inputs.WINDOW, "fps": inputs.FPS, "low_vram": inputs.LOW_VRAM,
        }, "optional": {"mask": inputs.MASK}}

    def transfer(self, model, frames, mesh, anchor_frame, steps, guidance, seed, window, fps, low_vram, mask=None):
        settings = run_settings(model, anchor_frame=anchor_frame, steps=steps, guidance=guidance, seed=seed,
                                window=window, low_vram=low_vram)
        return _animate(model, frames, mask, fps, settings, mesh)


class VideoToAnimatedMesh:
    DESCRIPTION = ("Video -> animated mesh in one node: the prior makes the reference mesh (or your mesh is used), "
                   "then the temporal stages animate it. Official settings; 'fast' halves the steps.")
    CATEGORY = "ActionMesh"
    RETURN_TYPES = (ANIM,)
    RETURN_NAMES = ("animation",)
    FUNCTION = "animate"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "model": inputs.MODELS, "frames": inputs.FRAMES,
            "fast": inputs.boolean(False, "Official fast preset: 50 prior steps and 15 temporal steps."),
            "seed": inputs.SEED, "anchor_frame": inputs.ANCHOR, "fps": inputs.FPS, "low_vram": inputs.LOW_VRAM,
        }, "optional": {
            "mask": inputs.MASK,
            "mesh": (MESH, {"tooltip": "Optional: animate this mesh instead of making one (textures kept)."}),
        }}

    def animate(self, model, frames, fast, seed, anchor_frame, fps, low_vram, mask=None, mesh=None):
        settings = run_settings(model, fast=fast, seed=seed, anchor_frame=anchor_frame, low_vram=low_vram)
        return _animate(model, frames, mask, fps, settings, mesh)
