"""Stage "dit": the image-to-3D prior of Stage 0 (TripoSG's DiT) and the small image encoder.

Each batch item is one frame: its model image (the pipeline's framing) goes through the image encoder
(a small DINOv2, trained here end to end with the DiT because no pretrained one fits the budget), and the
DiT learns the rectified flow from noise to the frame's VAE latent, conditioned on the image tokens.
A `context_dropout` share of items gets an all-zero context, the unconditional branch of guidance.

With `inputs["dit"]` the run continues from that weights root's DiT and image encoder (or the encoder of
`inputs["encoder"]` when given); with `train_encoder` false the encoder stays frozen (its tokens are cached
once), so the temporal denoiser, which conditions on the same encoder, stays valid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..models import build_model
from ..models.dinov2 import normalize_pixels
from .cache import clip_features, clip_latents
from .checkpoint import copy_weights
from .config import TrainConfig
from .flow import drop_context, noisy_latents, sample_sigmas
from .loop import DatasetStage, step_generators


@dataclass
class ImageTo3DOptions:
    tokens: int = 32
    shift: float = 1.0  # flow-time shift of the training times (TripoSG's sampler uses 1)
    context_dropout: float = 0.1
    train_encoder: bool = True


class ImageTo3DStage(DatasetStage):
    options_class = ImageTo3DOptions

    def __init__(self, config: TrainConfig, device: torch.device):
        super().__init__(config, device)
        self.latents = clip_latents(self.data, config.inputs["vae"], self.options.tokens, device)
        self.dit = build_model("triposg-dit", config.models["triposg-dit"], device)
        encoder_root = config.inputs.get("encoder") or config.inputs.get("dit")
        if config.inputs.get("dit"):  # continue from an earlier run
            copy_weights("triposg-dit", config.inputs["dit"], self.dit)
        self.trainable = {"triposg-dit": self.dit}
        if self.options.train_encoder:
            self.encoder = build_model("dinov2", config.models["dinov2"], device)
            if encoder_root:
                copy_weights("dinov2", encoder_root, self.encoder)
            self.trainable["dinov2"] = self.encoder
        else:  # a frozen encoder's tokens, computed once for the whole dataset
            self.features = clip_features(self.data, encoder_root, device)

    def batch(self, step: int) -> dict:
        rng, generator = step_generators(self.config.seed, step, self.device)
        clips = rng.integers(len(self.data), size=self.config.batch_size)
        frames = rng.integers(self.data.num_frames, size=self.config.batch_size)
        order = np.lexsort((frames, clips))  # memory-map reads in file order
        clips, frames = clips[order], frames[order]
        batch = {"latents": torch.from_numpy(np.array(self.latents[clips, frames])).to(self.device),
                 "generator": generator}
        if self.options.train_encoder:
            images = torch.from_numpy(np.array(self.data.images[clips, frames]))
            batch["pixels"] = normalize_pixels(images).to(self.device)
        else:
            batch["context"] = torch.from_numpy(np.array(self.features[clips, frames])).to(self.device)
        return batch

    def loss(self, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
        generator = batch["generator"]
        context = batch["context"] if "context" in batch else \
            self.encoder(pixel_values=batch["pixels"]).last_hidden_state
        context = drop_context(context, self.options.context_dropout, generator)
        x0 = batch["latents"]
        sigma = sample_sigmas(len(x0), self.options.shift, generator)
        noisy, velocity = noisy_latents(x0, sigma, generator)
        prediction = self.dit(noisy, sigma * 1000.0, context)
        return (prediction - velocity).square().mean(), {}
