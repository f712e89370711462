"""The rectified-flow training objective, with the sampler's conventions (`diffusion/schedule.py`):
x_sigma = (1 - sigma) x0 + sigma * noise, the model predicts v = x0 - noise at timestep 1000 * sigma."""

from __future__ import annotations

import torch

from ..diffusion.schedule import shift_sigma


def sample_sigmas(count: int, shift: float, generator: torch.Generator) -> torch.Tensor:
    """(count,) flow times in (0, 1): uniform, shifted toward noise like the sampler's schedule."""
    u = torch.rand(count, generator=generator, device=generator.device).clamp(1e-4, 1.0 - 1e-4)
    return torch.from_numpy(shift_sigma(u.cpu().double().numpy(), shift)).float().to(u.device)


def noisy_latents(x0: torch.Tensor, sigma: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor,
                                                                                               torch.Tensor]:
    """x0: (B, ...) clean latents, sigma: (B,) -> (x_sigma, velocity target x0 - noise), both like x0."""
    noise = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
    s = sigma.view(-1, *([1] * (x0.dim() - 1)))
    return (1.0 - s) * x0 + s * noise, x0 - noise


def drop_context(context: torch.Tensor, probability: float, generator: torch.Generator) -> torch.Tensor:
    """Zero the whole image context of a random `probability` of the batch items (for guidance at sampling,
    whose unconditional branch uses zeros). context: (B, ...)."""
    keep = torch.rand(context.shape[0], generator=generator, device=generator.device) >= probability
    return context * keep.to(context.dtype).view(-1, *([1] * (context.dim() - 1)))
