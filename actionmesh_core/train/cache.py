"""What frozen models make of a dataset, computed once and cached in the dataset folder:

    clip_latents(data, vae_root, tokens)   (C, T, tokens, channels) VAE posterior means of every frame
    clip_features(data, dinov2_root)       (C, T, S, hidden) image tokens of every frame

Latents follow the paper's recipe: the encoder's query points are chosen once per clip (farthest point
sampling on frame 0) and carried along with the tracked surface, so the latents of a clip vary smoothly.
Cache files are named after a hash of the weights, so new weights never reuse stale values.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import torch

from ..data.dataset import SyntheticDataset
from ..geometry import farthest_point_sampling
from ..base.atomic import atomic_path
from ..models import load_model
from ..models.dinov2 import normalize_pixels
from ..models.registry import resolve_model_folder


def weights_hash(name: str, root: str | os.PathLike) -> str:
    """A short hash of a model's weight files under a weights root."""
    _, files = resolve_model_folder(name, root)
    digest = hashlib.sha1()
    for path in files:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def surface_points(data: SyntheticDataset, clips: np.ndarray, frames: np.ndarray) -> torch.Tensor:
    """(B, P, 6) float32 tracked samples with renormalised unit normals (stored in float16)."""
    points = torch.from_numpy(np.array(data.points[clips, frames], dtype=np.float32))
    return torch.cat([points[..., :3], torch.nn.functional.normalize(points[..., 3:], dim=-1)], dim=-1)


def _cached(path: Path, compute) -> np.ndarray:
    if not path.is_file():
        values = compute()
        with atomic_path(path) as tmp:
            np.save(tmp, values)
    return np.load(path, mmap_mode="r")


@torch.no_grad()
def clip_latents(data: SyntheticDataset, vae_root: str | os.PathLike, tokens: int,
                 device: torch.device | str = "cpu") -> np.ndarray:
    """(C, T, tokens, channels) float32 posterior means, memory-mapped from the cache."""
    path = data.folder / "cache" / f"latents-{weights_hash('triposg-vae', vae_root)}-{tokens}.npy"

    def compute() -> np.ndarray:
        from tqdm import tqdm

        vae = load_model("triposg-vae", vae_root, device)
        frames = np.arange(data.num_frames)
        out = []
        for clip in tqdm(range(len(data)), desc="encoding latents"):
            points = surface_points(data, np.full_like(frames, clip), frames).to(device)
            queries = points[:, farthest_point_sampling(points[0, :, :3], tokens)]
            out.append(vae.encode(points, queries).mean.cpu().numpy())
        return np.stack(out).astype(np.float32)

    return _cached(path, compute)


@torch.no_grad()
def clip_features(data: SyntheticDataset, dinov2_root: str | os.PathLike, device: torch.device | str = "cpu",
                  batch_size: int = 64) -> np.ndarray:
    """(C, T, S, hidden) float32 image tokens (`last_hidden_state`), memory-mapped from the cache."""
    path = data.folder / "cache" / f"features-{weights_hash('dinov2', dinov2_root)}.npy"

    def compute() -> np.ndarray:
        from tqdm import tqdm

        encoder = load_model("dinov2", dinov2_root, device)
        images = data.images.reshape(-1, *data.images.shape[2:])
        out = [encoder(pixel_values=normalize_pixels(torch.from_numpy(np.array(images[i:i + batch_size])))
                       .to(device)).last_hidden_state.cpu().numpy()
               for i in tqdm(range(0, len(images), batch_size), desc="encoding images")]
        return np.concatenate(out).reshape(len(data), data.num_frames, *out[0].shape[1:]).astype(np.float32)

    return _cached(path, compute)
