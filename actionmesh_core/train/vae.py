"""Stage "vae": the VecSet VAE (TripoSG's), trained to reconstruct the objects' signed fields.

Encoder input: the tracked surface samples of one frame (xyz + normals); its query points are `tokens`
of them picked by farthest point sampling. Decoder target: the exact field at query points, half near
the surface and half uniform in the cube, truncated at `truncation` and divided by it, so the field runs
from -1 to 1 and is positive inside (what `extract_mesh` expects, with its default band). Loss: MSE of
the field decoded from a posterior sample, plus `kl_weight` times the KL divergence to N(0, I). The
posterior starts narrow (`initial_logvar`): a posterior as wide as the prior hides the latents from the
decoder, and a small model then takes many steps to find them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..geometry import farthest_point_sampling
from ..models import build_model
from .cache import surface_points
from .config import TrainConfig
from .loop import DatasetStage, step_generators


@dataclass
class VAEOptions:
    tokens: int = 32
    sdf_queries: int = 2048
    near_fraction: float = 0.5
    near_noise: float = 0.05
    bounds: float = 1.05
    truncation: float = 0.25
    kl_weight: float = 1e-3
    initial_logvar: float = -6.0  # start with a narrow posterior, so the decoder can use the latents at once


def field_target(sdf: torch.Tensor, truncation: float) -> torch.Tensor:
    """Exact signed distances -> the decoder's target field in [-1, 1] (positive inside)."""
    return (sdf / truncation).clamp(-1.0, 1.0)


class VAEStage(DatasetStage):
    options_class = VAEOptions

    def __init__(self, config: TrainConfig, device: torch.device):
        super().__init__(config, device)
        self.vae = build_model("triposg-vae", config.models["triposg-vae"], device)
        with torch.no_grad():  # quant's second half of outputs is the log-variance
            self.vae.quant.bias[self.vae.config.latent_channels:] = self.options.initial_logvar
        self.trainable = {"triposg-vae": self.vae}

    def batch(self, step: int) -> dict[str, torch.Tensor]:
        o, size = self.options, self.config.batch_size
        rng, generator = step_generators(self.config.seed, step, self.device)
        clips = rng.integers(len(self.data), size=size)
        frames = rng.integers(self.data.num_frames, size=size)
        points = surface_points(self.data, clips, frames)
        queries = torch.stack([p[farthest_point_sampling(p[:, :3], o.tokens, int(rng.integers(len(p))))]
                               for p in points])
        near_count = int(o.sdf_queries * o.near_fraction)
        picks = rng.integers(points.shape[1], size=(size, near_count))
        near = np.take_along_axis(points[..., :3].numpy(), picks[..., None], axis=1)
        near = near + rng.normal(scale=o.near_noise, size=near.shape)
        uniform = rng.uniform(-o.bounds, o.bounds, size=(size, o.sdf_queries - near_count, 3))
        xyz = np.concatenate([near, uniform], axis=1).astype(np.float32)
        sdf = self.data.sdf(clips, frames, xyz)
        return {"points": points.to(self.device), "queries": queries.to(self.device),
                "xyz": torch.from_numpy(xyz).to(self.device),
                "target": field_target(torch.from_numpy(sdf), o.truncation).to(self.device),
                "generator": generator}

    def loss(self, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
        posterior = self.vae.encode(batch["points"], batch["queries"])
        field = self.vae.decode(posterior.sample(batch["generator"]), batch["xyz"])
        reconstruction = (field - batch["target"]).square().mean()
        kl = posterior.kl().mean()
        sign_error = ((field > 0) != (batch["target"] > 0)).float().mean()
        return reconstruction + self.options.kl_weight * kl, {"recon": reconstruction.item(), "kl": kl.item(),
                                                               "sign_error": sign_error.item()}
