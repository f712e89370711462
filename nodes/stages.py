"""The pipeline's stages as nodes, each one call into the core, plus the one-node convenience path.

    Prepare Frames          frames (+ masks) -> prepared frames                (prepare_frames)
    Remove Background       frames -> MASK                                     (remove_background: RMBG-1.4)
    Image3D Prior           prepared frames -> reference mesh + its latent     (make_reference, Stage 0)
    Temporal Diffusion      prepared frames + reference -> latent sequence     (temporal_latents, Stage I)
    Temporal Autoencoder    latents + reference -> animated mesh               (decode_latents, Stage II)
    AR Extend               animated mesh + more frames -> longer one          (extend)
    Motion Transfer         prepared frames of A + mesh of B -> animation of B (animate_reference)
    Video to Animated Mesh  frames (+ mesh) -> animated mesh, registered to the video and coloured (animate)
"""

from __future__ import annotations

from ..actionmesh_core.pipeline import (
    Settings,
    animate,
    animate_reference,
    decode_latents,
    extend,
    make_reference,
    prepare_frames,
    remove_background,
    temporal_latents,
)
from ..actionmesh_core.video_fit import COLOUR_CHOICES, VideoFit, default_colour
from . import inputs
from .comfy_types import clip_from_comfy, clip_to_comfy
from .runtime import NodeProgress, on_device, run_settings, validated
from .sockets import ANIM, FRAMES, LATENT, MESH, LatentSequence


class PrepareFrames:
    DESCRIPTION = ("The frames as the models see them: subject masks (the mask input, the frames' alpha, or "
                   "RMBG-1.4), one square crop on white around the subject, and the image features. Wire the output "
                   "into every stage of a run: ComfyUI encodes the frames again only when they change.")
    CATEGORY = "ActionMesh/stages"
    RETURN_TYPES = (FRAMES,)
    RETURN_NAMES = ("frames",)
    FUNCTION = "prepare"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model": inputs.MODELS, "frames": inputs.IMAGES, "fps": inputs.FPS},
                "optional": {"mask": inputs.MASK}}

    def prepare(self, model, frames, fps, mask=None):
        clip = clip_from_comfy(frames, mask, fps)
        with on_device():
            return (prepare_frames(clip, model.models, progress=NodeProgress(), names=inputs.STAGE_NAMES),)


class RemoveBackground:
    DESCRIPTION = "Subject masks from RMBG-1.4 (its weights must be in the models folder), 1 = background."
    CATEGORY = "ActionMesh/stages"
    RETURN_TYPES = ("MASK",)
    RETURN_NAMES = ("mask",)
    FUNCTION = "remove"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model": inputs.MODELS, "frames": inputs.IMAGES}}

    def remove(self, model, frames):
        clip = clip_from_comfy(frames)
        with on_device():
            alpha = remove_background(clip.frames, model.models, NodeProgress())
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
            "model": inputs.MODELS, "frames": inputs.PREPARED, "anchor_frame": inputs.ANCHOR, "preset": inputs.PRESET,
            "steps": inputs.PRIOR_STEPS, "guidance": inputs.GUIDANCE, "seed": inputs.SEED,
            "face_budget": inputs.FACE_BUDGET, "mesh_resolution": inputs.MESH_RESOLUTION, "low_vram": inputs.LOW_VRAM,
        }}

    @classmethod
    def VALIDATE_INPUTS(cls, mesh_resolution):
        return validated(lambda: Settings.resolve(mesh_resolution=mesh_resolution or None, names=inputs.STAGE_NAMES))

    def generate(self, model, frames, anchor_frame, preset, steps, guidance, seed, face_budget, mesh_resolution,
                 low_vram):
        settings = run_settings(model, preset, custom=dict(prior_steps=steps, prior_guidance=guidance),
                                anchor_frame=anchor_frame, seed=seed, face_budget=face_budget,
                                mesh_resolution=mesh_resolution, low_vram=low_vram)
        with on_device():
            reference = make_reference(frames, model.models, settings, progress=NodeProgress())
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
            "model": inputs.MODELS, "frames": inputs.PREPARED, "reference": inputs.REFERENCE,
            "anchor_frame": inputs.ANCHOR, "preset": inputs.PRESET, "steps": inputs.STEPS, "guidance": inputs.GUIDANCE,
            "seed": inputs.SEED, "window": inputs.WINDOW, "low_vram": inputs.LOW_VRAM,
        }, "optional": {
            "reference_latent": (LATENT, {"tooltip": (
                "Known latents, e.g. the Image3D Prior's: they and their anchor frame replace anchor_frame and the "
                "reference's own latent.")}),
        }}

    def generate(self, model, frames, reference, anchor_frame, preset, steps, guidance, seed, window, low_vram,
                 reference_latent=None):
        known = reference_latent.latents if reference_latent is not None else None
        anchor = reference_latent.anchor if reference_latent is not None else anchor_frame
        settings = run_settings(model, preset, custom=dict(steps=steps, guidance=guidance), anchor_frame=anchor,
                                seed=seed, window=window, low_vram=low_vram)
        with on_device():
            latents = temporal_latents(frames, reference, model.models, settings, known, NodeProgress())
        return (LatentSequence(dict(enumerate(latents)), anchor, frames.clip, settings),)


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
        settings = latents.settings.replace(decode_batch=decode_batch)
        with on_device():
            return (decode_latents(latents.stacked(), reference, latents.clip, model.models, settings,
                                   NodeProgress()),)


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
            "preset": inputs.PRESET, "steps": inputs.STEPS, "guidance": inputs.GUIDANCE, "seed": inputs.SEED,
            "window": inputs.WINDOW, "low_vram": inputs.LOW_VRAM,
        }, "optional": {"mask": inputs.MASK}}

    def extend(self, model, animation, frames, preset, steps, guidance, seed, window, low_vram, mask=None):
        settings = run_settings(model, preset, custom=dict(steps=steps, guidance=guidance), seed=seed, window=window,
                                low_vram=low_vram)
        with on_device():
            return (extend(animation, clip_from_comfy(frames, mask, animation.fps), model.models, settings,
                           progress=NodeProgress()),)


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
            "model": inputs.MODELS, "frames": inputs.PREPARED,
            "mesh": (MESH, {"tooltip": "The mesh of object B (its layout, UVs and texture are kept)."}),
            "anchor_frame": inputs.ANCHOR, "preset": inputs.PRESET, "steps": inputs.STEPS, "guidance": inputs.GUIDANCE,
            "seed": inputs.SEED, "window": inputs.WINDOW, "low_vram": inputs.LOW_VRAM,
        }}

    def transfer(self, model, frames, mesh, anchor_frame, preset, steps, guidance, seed, window, low_vram):
        settings = run_settings(model, preset, custom=dict(steps=steps, guidance=guidance), anchor_frame=anchor_frame,
                                seed=seed, window=window, low_vram=low_vram)
        with on_device():
            return (animate_reference(frames, mesh, model.models, settings, NodeProgress()),)


class VideoToAnimatedMesh:
    DESCRIPTION = ("Video -> animated mesh in one node: the prior makes the reference mesh (or your mesh is used), "
                   "then the temporal stages animate it, with the settings the weights recommend (or a preset).")
    CATEGORY = "ActionMesh"
    RETURN_TYPES = (ANIM,)
    RETURN_NAMES = ("animation",)
    FUNCTION = "animate"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "model": inputs.MODELS, "frames": inputs.IMAGES, "preset": inputs.ONE_NODE_PRESET,
            "seed": inputs.SEED, "anchor_frame": inputs.ANCHOR, "fps": inputs.FPS, "low_vram": inputs.LOW_VRAM,
        }, "optional": {
            "mask": inputs.MASK,
            "mesh": (MESH, {"tooltip": "Optional: animate this mesh instead of making one (textures kept)."}),
            "colour": (["auto", *COLOUR_CHOICES], {"default": "auto", "tooltip": (
                "Then register the result to the video (a camera per frame) and colour it from the frames. auto: "
                "vertex colours, or none for a mesh of yours with a texture or colours of its own; texture: a "
                "baked 1024 x 1024 texture (pip install xatlas).")}),
        }}

    def animate(self, model, frames, preset, seed, anchor_frame, fps, low_vram, mask=None, mesh=None, colour="auto"):
        settings = run_settings(model, preset, seed=seed, anchor_frame=anchor_frame, low_vram=low_vram,
                                names=inputs.ONE_NODE_NAMES)
        video = VideoFit(colour=default_colour(mesh) if colour == "auto" else colour)
        with on_device():
            return (animate(clip_from_comfy(frames, mask, fps), model.models, settings, mesh=mesh,
                            progress=NodeProgress(), video=video),)
