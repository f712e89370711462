"""ActionMesh's temporal 3D autoencoder (Stage II): a window of shape latents -> where every
reference-mesh vertex is at each target time.

It is TripoSG's VAE decoder (+ post_quant) with queries = Fourier(xyz) + vertex normal (54 channels),
3 outputs, RoPE on the frame axis, and one extra token per frame carrying the (source, target) alphas.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .embeddings import fourier_point_features, sinusoidal_embedding
from .rope import RopeTables, relative_positions, rope_tables
from .vae import VecSetDecoder


@dataclass
class AutoencoderConfig:
    """Field names follow ActionMesh's `autoencoder/config.json`."""

    temporal_context_size: int = 16
    in_channels: int = 3
    in_extra_channels: int = 3
    out_dim: int = 3
    latent_channels: int = 64
    width: int = 1024
    num_layers: int = 16
    num_attention_heads: int = 8
    embed_frequency: int = 8
    embed_include_pi: bool = False
    prediction_mode: str = "direct"  # "direct": absolute positions; "residual": source + offset

    @property
    def query_channels(self) -> int:
        return self.in_channels * (1 + 2 * self.embed_frequency) + self.in_extra_channels


class TemporalAutoencoder(VecSetDecoder):
    """forward(latents, frame_times, source_alpha, target_alphas, queries) -> (B, T_out, V, 3) in (-1, 1)."""

    def __init__(self, config: AutoencoderConfig):
        c = config
        super().__init__(c.latent_channels, c.width, c.num_attention_heads, c.num_layers, c.query_channels,
                         c.out_dim)
        self.config = c

    def query_features(self, queries: torch.Tensor) -> torch.Tensor:
        """queries: (B, V, 6) xyz + unit normals -> (B, V, 54) in fp32."""
        queries = queries.float()
        xyz_features = fourier_point_features(queries[..., :3], self.config.embed_frequency,
                                              self.config.embed_include_pi)
        return torch.cat([xyz_features, queries[..., 3:]], dim=-1)

    def alpha_tokens(self, source_alpha: torch.Tensor, target_alphas: torch.Tensor) -> torch.Tensor:
        """source_alpha: (B,), target_alphas: (B, T_out) in [0, 1] -> (B, T_out, width): [e(src), e(tgt)]."""
        half = self.config.width // 2
        source = sinusoidal_embedding(source_alpha, half, sin_first=False)[:, None].expand(-1, target_alphas.shape[1], -1)
        return torch.cat([source, sinusoidal_embedding(target_alphas, half, sin_first=False)], dim=-1)

    def sequence_rope(self, frame_times: torch.Tensor, tokens: int) -> RopeTables:
        """frame_times: (B, T) -> tables for the sequence [T*tokens latent tokens (frame-major), T alpha tokens]."""
        positions = relative_positions(frame_times)
        positions = torch.cat([positions.repeat_interleave(tokens, dim=1), positions], dim=1)
        return rope_tables(positions, self.config.width // self.config.num_attention_heads)

    def forward(self, latents: torch.Tensor, frame_times: torch.Tensor, source_alpha: torch.Tensor,
                target_alphas: torch.Tensor, queries: torch.Tensor, target_chunk: int = 4,
                query_chunk: int = 65536) -> torch.Tensor:
        """latents: (B, T, N, C) a window in window order; frame_times: (B, T) frame indices;
        source_alpha: (B,); target_alphas: (B, T_out); queries: (B, V, 6) source vertices + normals.
        Returns raw predictions (B, T_out, V, 3) in (-1, 1); see `to_positions`.

        The T_out targets are batched `target_chunk` at a time (each needs its own self-attention pass,
        since the alpha tokens change the whole sequence)."""
        batch, frames, tokens, _ = latents.shape
        h = self.post_quant(latents).flatten(1, 2)  # (B, T*N, W)
        alphas = self.alpha_tokens(source_alpha, target_alphas)  # (B, T_out, W) fp32
        rope = self.sequence_rope(frame_times, tokens)
        features = self.query_features(queries)

        outputs = []
        for alpha in alphas.split(target_chunk, dim=1):
            n = alpha.shape[1]
            seq = torch.cat([h[:, None].expand(-1, n, -1, -1), alpha[:, :, None].expand(-1, -1, frames, -1)], dim=2)
            seq = seq.flatten(0, 1)  # (B*n, T*N+T, W); fp32 because the alpha tokens are
            chunk_rope = RopeTables(*(t.repeat_interleave(n, dim=0) for t in rope))
            for block in self.blocks[:-1]:
                seq = block(seq, rope=chunk_rope)
            cache = self.head_cache(seq)
            out = self.query_head(cache, features.repeat_interleave(n, dim=0), query_chunk)
            outputs.append(out.unflatten(0, (batch, n)))
        return 2.0 * torch.sigmoid(torch.cat(outputs, dim=1)) - 1.0

    def to_positions(self, raw: torch.Tensor, source_vertices: torch.Tensor) -> torch.Tensor:
        """raw: (B, T_out, V, 3) from forward; source_vertices: (B, V, 3) -> vertex positions (B, T_out, V, 3)."""
        if self.config.prediction_mode == "residual":
            return (source_vertices[:, None].float() + raw).clamp(-1.0, 1.0)
        return raw.clamp(-1.0, 1.0)
