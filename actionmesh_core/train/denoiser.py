"""Stage "denoiser": ActionMesh's temporal 3D denoiser (Stage I), initialised from the image-to-3D DiT.

Each batch item is a whole clip: the 16 latents of its frames and their image tokens (from the frozen
image encoder). 1 to 3 frames are sources: clean, at flow time 0 (the model's `mask`), and left out of
the loss; the others are noised at one flow time per clip and the model learns their velocity. The first
source is frame 0 with probability `anchor_first` (the pipeline's usual anchor), otherwise any frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..models import build_model
from .cache import clip_features, clip_latents
from .checkpoint import copy_weights
from .config import TrainConfig
from .flow import drop_context, noisy_latents, sample_sigmas
from .loop import DatasetStage, step_generators


@dataclass
class DenoiserOptions:
    tokens: int = 32
    shift: float = 3.0  # the Stage I sampler's shift
    context_dropout: float = 0.1
    max_sources: int = 3
    anchor_first: float = 0.5


def source_masks(rng: np.random.Generator, batch: int, frames: int, max_sources: int,
                 anchor_first: float) -> np.ndarray:
    """(batch, frames) float32: 1 for the 1..max_sources clean source frames of each item."""
    mask = np.zeros((batch, frames), np.float32)
    for row in mask:
        count = int(rng.integers(1, max_sources + 1))
        chosen = rng.choice(frames, size=count, replace=False)
        if rng.uniform() < anchor_first and 0 not in chosen:
            chosen[0] = 0
        row[chosen] = 1.0
    return mask


class DenoiserStage(DatasetStage):
    options_class = DenoiserOptions

    def __init__(self, config: TrainConfig, device: torch.device):
        super().__init__(config, device)
        self.latents = clip_latents(self.data, config.inputs["vae"], self.options.tokens, device)
        self.features = clip_features(self.data, config.inputs["dit"], device)
        self.denoiser = build_model("actionmesh-denoiser", config.models["actionmesh-denoiser"], device)
        if config.inputs.get("denoiser"):  # continue from an earlier run
            copy_weights("actionmesh-denoiser", config.inputs["denoiser"], self.denoiser)
        elif config.inputs.get("dit"):  # the paper starts Stage I from the image-to-3D DiT
            copy_weights("triposg-dit", config.inputs["dit"], self.denoiser)
        self.trainable = {"actionmesh-denoiser": self.denoiser}

    def batch(self, step: int) -> dict:
        o = self.options
        rng, generator = step_generators(self.config.seed, step, self.device)
        clips = np.sort(rng.integers(len(self.data), size=self.config.batch_size))
        mask = source_masks(rng, len(clips), self.data.num_frames, o.max_sources, o.anchor_first)
        return {"latents": torch.from_numpy(np.array(self.latents[clips])).to(self.device),
                "context": torch.from_numpy(np.array(self.features[clips])).to(self.device),
                "mask": torch.from_numpy(mask).to(self.device), "generator": generator}

    def loss(self, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
        generator, x0, mask = batch["generator"], batch["latents"], batch["mask"]
        context = drop_context(batch["context"], self.options.context_dropout, generator)
        sigma = sample_sigmas(len(x0), self.options.shift, generator)
        noisy, velocity = noisy_latents(x0, sigma, generator)
        known = mask[..., None, None] > 0
        noisy = torch.where(known, x0, noisy)
        prediction = self.denoiser(noisy, sigma * 1000.0, context, mask=mask)
        weight = (1.0 - mask)[..., None, None]
        error = ((prediction - velocity).square() * weight).sum() / (weight.sum() * x0.shape[2] * x0.shape[3])
        return error, {}
