"""The pipeline's stages, each one function over a `ModelSet` (the ComfyUI nodes wrap these one to one).

    encode_frames       frames -> DINOv2 tokens                                   (T, 257, 1024)
    generate_reference  Stage 0: one frame -> reference mesh + latent (TripoSG)
    encode_mesh         {video + mesh}: a user mesh -> reference mesh + latent (TripoSG VAE encoder)
    generate_latents    Stage I: tokens + known latents -> one latent per frame   (T, N, 64)
    decode_animation    Stage II: latents + reference vertices -> vertices per frame (T, V, 3)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import trimesh

from ..errors import MeshError
from ..geometry import encoder_point_cloud, extract_mesh, postprocess_mesh
from ..geometry.user_mesh import PreparedMesh
from ..models.dinov2 import encode_images
from ..models.precision import autocast
from ..diffusion.flow import flow_sample
from ..diffusion.noise import shape_noise, window_noise
from ..diffusion.schedule import actionmesh_timesteps, triposg_timesteps
from ..diffusion.windows import anchored_windows, plan_windows
from .model_set import ModelSet
from .progress import ProgressFn, no_progress
from .settings import Settings


@dataclass
class ReferenceMesh:
    """The mesh every frame deforms, in the model frame, and its shape latent.

    vertices: (V, 3) float32, faces: (F, 3) int64, latent: (N, C) float32 (CPU).
    prepared: the user mesh it came from ({video + mesh} and motion transfer), else None.
    stats:    extraction statistics (decoder queries, ...) for generated meshes.
    """

    vertices: np.ndarray
    faces: np.ndarray
    latent: torch.Tensor
    prepared: PreparedMesh | None = None
    stats: dict = field(default_factory=dict)


def encode_frames(models: ModelSet, images: np.ndarray, encoder: str = "dinov2") -> torch.Tensor:
    """images: (T, S, S, 3) uint8 square frames on white -> (T, 257, hidden) tokens on the compute device.
    encoder: "dinov2", or "triposg-dinov2" (TripoSG's own copy, for Stage 0, when the weights root has it)."""
    with models.use(encoder) as dino, autocast(models.device, models.dtype):
        return encode_images(dino, torch.from_numpy(np.ascontiguousarray(images))).float()


def generate_reference(models: ModelSet, features: torch.Tensor, settings: Settings,
                       progress: ProgressFn = no_progress) -> ReferenceMesh:
    """Stage 0. features: (257, hidden) tokens of the anchor frame -> TripoSG's mesh and final latent.

    The mesh is extracted coarse-to-fine from the decoder field (its latent self-attention computed once),
    cleaned, decimated to the face budget and stripped of floaters."""
    device = models.device
    with models.use("triposg-dit") as dit, torch.inference_mode(), autocast(device, models.dtype):
        # TripoSG draws its noise in fp16 on the device generator
        noise = shape_noise(settings.seed, (models.num_tokens, dit.config.in_channels), device, torch.float16)
        latent = flow_sample(dit, noise.float()[None], triposg_timesteps(settings.prior_steps), features[None].to(device),
                             guidance=settings.prior_guidance, batch_cfg=not settings.low_vram,
                             cache_context=not settings.low_vram,
                             on_step=lambda i, n: progress("reference mesh", i, n))[0]
    with models.use("triposg-vae") as vae, torch.inference_mode(), autocast(device, models.dtype):
        cache = vae.trunk(latent[None])
        resolution = settings.mesh_resolution or models.mesh_resolution
        try:
            vertices, faces, stats = extract_mesh(lambda points: vae.query(cache, points[None])[0],
                                                  resolution=resolution, coarse_resolution=min(64, resolution),
                                                  device=device)
        except MeshError as exc:
            advice = settings.names.advice(("another", "anchor_frame"), ("another", "seed"))
            raise MeshError(f"the image-to-3D prior gave no usable surface for the anchor frame ({exc}); try "
                            f"{advice + ', or ' if advice else ''}check the subject mask") from None
    vertices, faces = postprocess_mesh(vertices, faces, settings.face_budget, settings.floaters_threshold)
    return ReferenceMesh(vertices, faces, latent.float().cpu(), stats=stats)


def encode_mesh(models: ModelSet, prepared: PreparedMesh, settings: Settings) -> ReferenceMesh:
    """{video + mesh}: a prepared user mesh -> its latent (posterior mean: deterministic for a seed)."""
    tokens = models.num_tokens
    surface, queries = encoder_point_cloud(prepared.encoder_vertices, prepared.encoder_faces, settings.seed,
                                           num_candidates=4 * tokens, num_queries=tokens)
    with models.use("triposg-vae") as vae, torch.inference_mode(), autocast(models.device, models.dtype):
        posterior = vae.encode(surface[None].to(models.device), queries[None].to(models.device))
    return ReferenceMesh(prepared.vertices, prepared.faces, posterior.mean[0].float().cpu(), prepared=prepared)


def generate_latents(models: ModelSet, features: torch.Tensor, known: dict[int, torch.Tensor], anchor: int,
                     settings: Settings, progress: ProgressFn = no_progress) -> torch.Tensor:
    """Stage I. features: (T, 257, hidden); known: {frame: (N, C) clean latent} (the anchor at least).

    Windows of `settings.window` frames slide from the anchor; in each, every frame already generated is
    known (kept clean at flow time 0) and the rest is denoised with guidance on the image. Returns
    (T, N, C) float32 on the CPU."""
    frames, device = len(features), models.device
    bank = {f: latent.to(device, torch.float32) for f, latent in known.items()}
    shape = tuple(next(iter(bank.values())).shape)
    windows = plan_windows(frames, anchor, settings.window, settings.slide, known=set(bank))
    timesteps = actionmesh_timesteps(settings.steps)
    total, done = len(windows) * settings.steps, 0
    with models.use("actionmesh-denoiser") as denoiser, torch.inference_mode(), autocast(device, models.dtype):
        for index, window in enumerate(windows):
            order = torch.tensor(window, device=device)
            mask = torch.tensor([f in bank for f in window], device=device, dtype=torch.float32)
            clean = torch.stack([bank.get(f, torch.zeros(shape, device=device)) for f in window])
            latents = flow_sample(
                denoiser, window_noise(settings.seed, index, len(window), shape, device), timesteps,
                features[order].to(device), guidance=settings.guidance, known=clean, mask=mask,
                frame_times=order.float(), batch_cfg=not settings.low_vram, cache_context=not settings.low_vram,
                on_step=lambda i, n, done=done: progress("temporal diffusion", done + i, total))
            done += settings.steps
            for frame, latent in zip(window, latents):
                bank.setdefault(frame, latent)
    return torch.stack([bank[f] for f in range(frames)]).cpu()


def query_normals(vertices: np.ndarray | torch.Tensor, faces: np.ndarray) -> np.ndarray:
    """Unit vertex normals as the official Stage II queries use them (trimesh's angle-weighted normals)."""
    vertices = vertices.cpu().numpy() if isinstance(vertices, torch.Tensor) else vertices
    return np.asarray(trimesh.Trimesh(vertices, faces, process=False).vertex_normals, dtype=np.float32)


DECODE_MEMORY_MB_CPU = 1024
"""Stage II's default budget for query activations on a CPU (or MPS), in MiB."""
DECODE_MEMORY_GPU_SHARE = 0.25
"""On CUDA the default budget is this share of the device memory that is free when decoding starts."""


def decode_budget(device: torch.device, megabytes: int | None = None) -> int:
    """Bytes Stage II's query activations may take at once: `megabytes` (Settings.decode_memory_mb) when set,
    else DECODE_MEMORY_MB_CPU, or on CUDA a DECODE_MEMORY_GPU_SHARE of the free memory (at least 256 MiB)."""
    if megabytes:
        return int(megabytes) * 2**20
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return max(256 * 2**20, int(free * DECODE_MEMORY_GPU_SHARE))
    return DECODE_MEMORY_MB_CPU * 2**20


def decode_animation(models: ModelSet, latents: torch.Tensor, vertices: np.ndarray, faces: np.ndarray, anchor: int,
                     settings: Settings, progress: ProgressFn = no_progress) -> np.ndarray:
    """Stage II. latents: (T, N, C); vertices (V, 3), faces (F, 3): the mesh at the anchor frame.

    Windows of `settings.decode_window` frames are chained: each deforms a frame already decoded in it (the
    anchor, or an overlap frame) to all its other frames, with (source, target) times normalised to the
    window; anchored windows (`settings.decode_anchored`) all deform the anchor itself. None in either
    setting means the model set's default. Every frame is decoded, whatever the anchor.

    Memory stays bounded whatever the vertex count: the self-attention over the window runs once per group of
    `settings.decode_batch` targets, then the vertices are queried in chunks sized so that their activations
    fit `decode_budget` (the same values as one pass: queries are independent), each chunk written straight
    into the result. Returns (T, V, 3) float32 vertices in the model frame."""
    frames, device = len(latents), models.device
    positions = np.empty((frames, len(vertices), 3), np.float32)  # the result: the only (T, V) array
    positions[anchor] = vertices
    decoded = {anchor}
    size = settings.decode_window or models.decode_window
    anchored = models.decode_anchored if settings.decode_anchored is None else settings.decode_anchored
    windows = anchored_windows(frames, anchor, size) if anchored else plan_windows(frames, anchor, size, size - 1)
    normals_of = None  # the source frame whose query normals are in `normals` (anchored windows share one)
    with models.use("actionmesh-autoencoder") as autoencoder, torch.inference_mode(), \
            autocast(device, models.dtype):
        budget = decode_budget(device, settings.decode_memory_mb)
        for window in windows:
            source = next(f for f in window if f in decoded)
            targets = [f for f in window if f not in decoded]
            times = torch.tensor(window, dtype=torch.float32)
            low, span = times.min(), times.max() - times.min()
            if normals_of != source:
                normals, normals_of = query_normals(positions[source], faces), source
            queries = torch.from_numpy(np.concatenate([positions[source], normals], axis=-1)).to(device)  # (V, 6)
            window_latents, window_times = latents[window][None].to(device), times[None].to(device)
            source_alpha = ((source - low) / span)[None].to(device)
            for chunk in [targets[i:i + settings.decode_batch] for i in range(0, len(targets), settings.decode_batch)]:
                target_alphas = ((torch.tensor(chunk, dtype=torch.float32) - low) / span)[None].to(device)
                cache = autoencoder.target_caches(window_latents, window_times, source_alpha, target_alphas)
                step = max(1, budget // autoencoder.query_bytes(len(chunk)))
                for start in range(0, len(queries), step):
                    part = queries[start:start + step][None]
                    raw = autoencoder.decode_queries(cache, part, query_chunk=step)
                    moved = autoencoder.to_positions(raw, part[..., :3])[0]
                    positions[chunk, start:start + step] = moved.float().cpu().numpy()
                decoded.update(chunk)
                progress("temporal decoding", len(decoded), frames)
    return positions
