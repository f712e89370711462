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
from .vae import DecoderCache, VecSetDecoder


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
        since the alpha tokens change the whole sequence): `target_caches`, then `decode_queries`."""
        outputs = []
        for alphas in target_alphas.split(target_chunk, dim=1):
            cache = self.target_caches(latents, frame_times, source_alpha, alphas)
            outputs.append(self.decode_queries(cache, queries, query_chunk))
        return torch.cat(outputs, dim=1)

    def target_caches(self, latents: torch.Tensor, frame_times: torch.Tensor, source_alpha: torch.Tensor,
                      target_alphas: torch.Tensor) -> DecoderCache:
        """The query head's keys and values for each target: the self-attention stack over the window's latent
        tokens and the target's alpha tokens. Shapes as in `forward`; returns a cache of batch B * T_out
        (target-major within each batch element). Independent of the queries, so compute it once per target."""
        batch, frames, tokens, _ = latents.shape
        n = target_alphas.shape[1]
        h = self.post_quant(latents).flatten(1, 2)  # (B, T*N, W)
        alphas = self.alpha_tokens(source_alpha, target_alphas)  # (B, n, W) fp32
        rope = self.sequence_rope(frame_times, tokens)
        seq = torch.cat([h[:, None].expand(-1, n, -1, -1), alphas[:, :, None].expand(-1, -1, frames, -1)], dim=2)
        seq = seq.flatten(0, 1)  # (B*n, T*N+T, W); fp32 because the alpha tokens are
        chunk_rope = RopeTables(*(t.repeat_interleave(n, dim=0) for t in rope))
        for block in self.blocks[:-1]:
            seq = block(seq, rope=chunk_rope)
        return self.head_cache(seq)

    def decode_queries(self, cache: DecoderCache, queries: torch.Tensor, query_chunk: int = 65536) -> torch.Tensor:
        """cache: `target_caches` for B * n targets; queries: (B, V, 6) -> raw predictions (B, n, V, 3) in (-1, 1).
        Queries are independent of each other: any split of V gives the same values (`query_bytes` sizes one)."""
        batch = queries.shape[0]
        n = cache.k.shape[0] // batch
        features = self.query_features(queries).repeat_interleave(n, dim=0)  # (B*n, V, 54)
        out = self.query_head(cache, features, query_chunk).unflatten(0, (batch, n))
        return 2.0 * torch.sigmoid(out) - 1.0

    def query_bytes(self, targets: int) -> int:
        """About how many bytes of activations one query vertex costs in `decode_queries` for `targets` targets:
        its features, and the fp32 query head's widest moment (input, normed, attention and residual copies of
        width W, plus the 4 W feed-forward hidden layer and its GELU)."""
        c = self.config
        return 4 * targets * (c.query_channels + 16 * c.width + 2 * c.out_dim)

    def to_positions(self, raw: torch.Tensor, source_vertices: torch.Tensor) -> torch.Tensor:
        """raw: (B, T_out, V, 3) from forward; source_vertices: (B, V, 3) -> vertex positions (B, T_out, V, 3)."""
        if self.config.prediction_mode == "residual":
            return (source_vertices[:, None].float() + raw).clamp(-1.0, 1.0)
        return raw.clamp(-1.0, 1.0)
