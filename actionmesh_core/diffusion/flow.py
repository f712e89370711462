"""The one denoising loop: rectified flow with classifier-free guidance and masked (known) latents.

Stage 0 (TripoSG, one frame, nothing known) and Stage I (a window of frames, the anchor and earlier
frames known and kept clean at flow time 0) both run `flow_sample`.
"""

from __future__ import annotations

from typing import Callable

import torch

from ..models.dit import DiT

StepCallback = Callable[[int, int], None]


def flow_sample(model: DiT, noise: torch.Tensor, timesteps: torch.Tensor, context: torch.Tensor, *,
                guidance: float = 7.5, known: torch.Tensor | None = None, mask: torch.Tensor | None = None,
                frame_times: torch.Tensor | None = None, batch_cfg: bool = True, cache_context: bool = True,
                on_step: StepCallback | None = None) -> torch.Tensor:
    """Integrate the flow from noise to latents.

    noise:       (T, N, C) float32 starting noise (T frames; T = 1 for a single shape).
    timesteps:   (K + 1,) descending on the 0..1000 scale; the model runs at the first K.
    context:     (T, S, ctx) image tokens per frame; the unconditional branch uses zeros.
    known:       (T, N, C) clean latents where `mask` (T,) is 1; they are never updated.
    frame_times: (T,) frame indices for the temporal RoPE (temporal models only).
    batch_cfg:   run both guidance branches as one batch of 2 (False: one after the other, less memory).
    cache_context: compute the image keys/values once for all steps (False: recompute, less memory).
    on_step:     called as on_step(step, steps) after every step (progress; may raise to cancel).
    Returns (T, N, C) float32 latents.
    """
    frames = noise.shape[0]
    mask = torch.zeros(frames, device=noise.device) if mask is None else mask.float()
    latents = noise.float() if known is None else torch.where(mask[:, None, None] > 0, known.float(), noise.float())
    guided = guidance > 1.0
    contexts = [torch.zeros_like(context), context] if guided else [context]  # [uncond, cond]
    times = (torch.arange(frames, device=noise.device) if frame_times is None else frame_times).float()
    rope = model.rope(times[None]) if model.config.temporal else None

    if batch_cfg:
        branches = [(torch.stack(contexts), len(contexts))]
    else:
        branches = [(c[None], 1) for c in contexts]
    branch_kv = [model.context_kv(c) if cache_context else None for c, _ in branches]
    branch_rope = [None if rope is None else type(rope)(*(r.repeat(n, 1, 1, 1) for r in rope)) for _, n in branches]

    steps = len(timesteps) - 1
    step_sizes = ((timesteps[:-1] - timesteps[1:]) / 1000.0).tolist()  # host floats: no syncs in the loop
    device_times = timesteps.to(noise.device)
    for i in range(steps):
        t = device_times[i]
        velocities = []
        for (ctx, n), kv, r in zip(branches, branch_kv, branch_rope):
            velocities.append(model(latents.expand(n, -1, -1, -1), t.expand(n), None if cache_context else ctx,
                                    context_kv=kv, mask=mask.expand(n, -1), rope=r).float())
        v = torch.cat(velocities)
        v = v[0] + guidance * (v[1] - v[0]) if guided else v[0]
        latents = torch.where(mask[:, None, None] > 0, latents, latents + step_sizes[i] * v)
        if on_step is not None:
            on_step(i + 1, steps)
    return latents
