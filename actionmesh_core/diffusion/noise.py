"""Initial noise, drawn exactly as the official pipeline draws it so that a seed gives the same latents
on the same device."""

from __future__ import annotations

import torch


def window_noise(seed: int, window_index: int, frames: int, latent_shape: tuple[int, int],
                 device: torch.device | str = "cpu") -> torch.Tensor:
    """(frames, tokens, channels) float32 noise for one Stage I window.

    The official sampler seeds a generator on the device with seed + window_index, draws a (1, 1, N, C)
    "shared" tensor (mixed with weight 0, so unused) and then the (1, T, N, C) tensor it uses."""
    generator = torch.Generator(device=device).manual_seed(seed + window_index)
    torch.randn((1, 1, *latent_shape), generator=generator, device=device)
    return torch.randn((1, frames, *latent_shape), generator=generator, device=device)[0]


def shape_noise(seed: int, latent_shape: tuple[int, int], device: torch.device | str = "cpu",
                dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(tokens, channels) noise for Stage 0 (TripoSG draws (1, N, C) from a generator seeded with `seed`)."""
    generator = torch.Generator(device=device).manual_seed(seed)
    return torch.randn((1, *latent_shape), generator=generator, device=device, dtype=dtype)[0]
