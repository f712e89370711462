"""Stage "autoencoder": ActionMesh's temporal 3D autoencoder (Stage II), initialised from the VAE decoder.

Each batch item is a window of `window` latents of a clip (frames `stride` apart), one source frame and
`targets` other frames of the window as targets (the pipeline decodes every frame of a window but its
source). The queries are `queries` tracked surface samples at the
source frame (xyz + normal, the positions jittered by `query_noise` like an imperfect reference mesh);
the model regresses where each sample is at every target frame (MSE on positions). Times are the
pipeline's: alphas = frame / (frames - 1), RoPE on the frame indices.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..errors import InputError
from ..models import build_model, load_model
from .cache import clip_latents, surface_points
from .checkpoint import copy_weights
from .config import TrainConfig
from .loop import DatasetStage, step_generators


@dataclass
class AutoencoderOptions:
    tokens: int = 32
    targets: int = 4
    queries: int = 512
    query_noise: float = 0.005
    window: int = 16  # frames per item (the pipeline's Stage II window, Settings.window)
    max_stride: int = 1  # frames of an item are `stride` apart, stride drawn in 1..max_stride
    source_first: bool = False  # the source is the window's first frame (the pipeline's anchor 0)


def init_from_vae_decoder(autoencoder: torch.nn.Module, vae: torch.nn.Module) -> None:
    """Copy the VAE decoder into the autoencoder (the paper's initialisation). The query projection gains
    3 normal inputs (zero-initialised) and the output layer 3 outputs (zero-initialised: no motion at first
    in residual mode, the origin in direct mode)."""
    decoder = vae.decoder.state_dict()
    state = autoencoder.state_dict()
    for key, value in decoder.items():
        if key == "proj_query.weight":
            state[key].zero_()
            state[key][:, :value.shape[1]] = value
        elif key.startswith("proj_out."):
            state[key].zero_()
        else:
            state[key] = value
    autoencoder.load_state_dict(state)


class AutoencoderStage(DatasetStage):
    options_class = AutoencoderOptions

    def __init__(self, config: TrainConfig, device: torch.device):
        super().__init__(config, device)
        self.latents = clip_latents(self.data, config.inputs["vae"], self.options.tokens, device)
        self.autoencoder = build_model("actionmesh-autoencoder", config.models["actionmesh-autoencoder"], device)
        o = self.options
        if not 2 <= o.window <= self.data.num_frames or (o.window - 1) * o.max_stride >= self.data.num_frames:
            raise InputError(f"a window of {o.window} frames, {o.max_stride} apart at most, does not fit the "
                             f"dataset's {self.data.num_frames}-frame clips")
        if config.inputs.get("autoencoder"):  # continue from an earlier run (e.g. a shorter window)
            copy_weights("actionmesh-autoencoder", config.inputs["autoencoder"], self.autoencoder)
        else:
            init_from_vae_decoder(self.autoencoder, load_model("triposg-vae", config.inputs["vae"], device))
        self.trainable = {"actionmesh-autoencoder": self.autoencoder}

    def batch(self, step: int) -> dict:
        o = self.options
        rng, _ = step_generators(self.config.seed, step)
        clips = np.sort(rng.integers(len(self.data), size=self.config.batch_size))
        stride = int(rng.integers(1, o.max_stride + 1))
        start = int(rng.integers(self.data.num_frames - (o.window - 1) * stride))
        frames = start + stride * np.arange(o.window)
        sources = np.full(len(clips), start) if o.source_first else rng.choice(frames, size=len(clips))
        targets = np.stack([rng.choice(frames[frames != source], size=o.targets, replace=False) for source in sources])
        picks = rng.choice(self.data.points.shape[2], size=o.queries, replace=False)
        tracks = torch.stack([surface_points(self.data, np.full(self.data.num_frames, c),
                                             np.arange(self.data.num_frames))[:, picks] for c in clips])
        queries = tracks[np.arange(len(clips)), sources].clone()  # (B, Q, 6)
        queries[..., :3] += torch.from_numpy(rng.normal(scale=o.query_noise, size=queries[..., :3].shape)).float()
        goal = tracks[torch.arange(len(clips))[:, None], torch.from_numpy(targets)][..., :3]  # (B, K, Q, 3)
        span = float(frames[-1] - start)
        return {"latents": torch.from_numpy(np.array(self.latents[clips][:, frames])).to(self.device),
                "frame_times": torch.from_numpy(frames).float().expand(len(clips), -1).to(self.device),
                "source_alpha": torch.from_numpy((sources - start) / span).float().to(self.device),
                "target_alphas": torch.from_numpy((targets - start) / span).float().to(self.device),
                "queries": queries.to(self.device), "goal": goal.to(self.device)}

    def loss(self, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
        raw = self.autoencoder(batch["latents"], batch["frame_times"], batch["source_alpha"], batch["target_alphas"],
                               batch["queries"], target_chunk=self.options.targets)
        positions = self.autoencoder.to_positions(raw, batch["queries"][..., :3])
        error = (positions - batch["goal"]).square().sum(-1)
        return error.mean(), {"distance": error.sqrt().mean().item()}
