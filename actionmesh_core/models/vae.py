"""TripoSG's VecSet VAE: point cloud -> 2048 latent tokens -> an SDF you can query anywhere.

The decoder is split in two so geometry extraction pays for the latent self-attention once per
shape: `trunk(latents)` returns the key/value cache of the query head, and `query(cache, points)`
evaluates any number of points against it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn

from .embeddings import fourier_point_features
from .transformer import TransformerBlock


@dataclass
class VAEConfig:
    """Field names follow TripoSG's `vae/config.json`."""

    in_channels: int = 3
    latent_channels: int = 64
    num_attention_heads: int = 8
    width_encoder: int = 512
    width_decoder: int = 1024
    num_layers_encoder: int = 8
    num_layers_decoder: int = 16
    embed_frequency: int = 8
    embed_include_pi: bool = False

    @property
    def point_features(self) -> int:
        return self.in_channels * (1 + 2 * self.embed_frequency)


class DecoderCache(NamedTuple):
    """The query head's keys and values, each (B, tokens, heads, head_dim)."""

    k: torch.Tensor
    v: torch.Tensor


class VecSetDecoder(nn.Module):
    """post_quant -> self-attention stack over latent tokens -> cross-attention query head.

    Used by TripoSG's VAE (queries: Fourier(xyz), output: 1 SDF value) and, with 3 normal channels added
    to the queries and 3 outputs, by ActionMesh's temporal autoencoder.
    """

    def __init__(self, latent_channels: int, width: int, heads: int, num_layers: int, query_channels: int,
                 out_channels: int):
        super().__init__()
        self.post_quant = nn.Linear(latent_channels, width)
        self.proj_query = nn.Linear(query_channels, width)
        self.blocks = nn.ModuleList(TransformerBlock(width, heads) for _ in range(num_layers))
        self.blocks.append(TransformerBlock(width, heads, self_attention=False, cross_attention_dim=width,
                                            cross_norm=True))
        self.norm_out = nn.LayerNorm(width)
        self.proj_out = nn.Linear(width, out_channels)

    @property
    def head(self) -> TransformerBlock:
        return self.blocks[-1]

    def fp32_module_names(self) -> tuple[str, ...]:
        """Modules kept in fp32 whatever the model dtype: the per-query head."""
        return ("proj_query", f"blocks.{len(self.blocks) - 1}", "norm_out", "proj_out")

    def head_cache(self, tokens: torch.Tensor) -> DecoderCache:
        """tokens: (B, L, width) output of the self-attention stack -> the head's cached keys/values (fp32)."""
        with torch.autocast(tokens.device.type, enabled=False):
            return DecoderCache(*self.head.x_attn.context_kv(tokens.float()))

    def query_head(self, cache: DecoderCache, query_features: torch.Tensor, chunk_size: int = 65536) -> torch.Tensor:
        """query_features: (B, M, query_channels) -> (B, M, out_channels) in fp32, NEGATED (TripoSG's sign).

        Queries are independent of each other, so any chunking along M gives the same values."""
        outputs = []
        with torch.autocast(query_features.device.type, enabled=False):
            for chunk in query_features.split(chunk_size, dim=1):
                q = self.head(self.proj_query(chunk.float()), context_kv=(cache.k, cache.v))
                outputs.append(-self.proj_out(self.norm_out(q)))
        return torch.cat(outputs, dim=1)


class VecSetEncoder(nn.Module):
    """Point cloud (xyz + normals) -> latent tokens: one cross-attention from query points, then self-attention."""

    def __init__(self, config: VAEConfig):
        super().__init__()
        c = config
        width = c.width_encoder
        self.config = c
        self.proj_in = nn.Linear(c.point_features + 3, width)
        self.blocks = nn.ModuleList([TransformerBlock(width, c.num_attention_heads, self_attention=False,
                                                      cross_attention_dim=width, cross_norm=True)])
        self.blocks.extend(TransformerBlock(width, c.num_attention_heads) for _ in range(c.num_layers_encoder))
        self.norm_out = nn.LayerNorm(width)

    def embed(self, points: torch.Tensor) -> torch.Tensor:
        """points: (B, N, 6) xyz + normals -> (B, N, width)."""
        xyz, normals = points[..., :3], points[..., 3:]
        features = fourier_point_features(xyz, self.config.embed_frequency, self.config.embed_include_pi)
        return self.proj_in(torch.cat([features, normals], dim=-1))

    def forward(self, points: torch.Tensor, query_points: torch.Tensor) -> torch.Tensor:
        """points: (B, N, 6) surface samples; query_points: (B, M, 6) a subset of them -> (B, M, width)."""
        h = self.embed(query_points)
        h = self.blocks[0](h, context=self.embed(points))
        for block in self.blocks[1:]:
            h = block(h)
        return self.norm_out(h)


class DiagonalGaussian(NamedTuple):
    mean: torch.Tensor
    logvar: torch.Tensor

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        noise = torch.randn(self.mean.shape, generator=generator, device=self.mean.device, dtype=self.mean.dtype)
        return self.mean + torch.exp(0.5 * self.logvar) * noise

    def kl(self) -> torch.Tensor:
        """KL divergence to N(0, I), averaged over tokens and channels: (B,)."""
        return 0.5 * (self.mean.pow(2) + self.logvar.exp() - 1.0 - self.logvar).mean(dim=(1, 2))


class TripoSGVAE(nn.Module):
    """encode: points -> DiagonalGaussian over (B, M, latent_channels); decode: latents -> SDF (inside > 0)."""

    def __init__(self, config: VAEConfig):
        super().__init__()
        c = config
        self.config = c
        self.encoder = VecSetEncoder(c)
        self.quant = nn.Linear(c.width_encoder, 2 * c.latent_channels)
        self.decoder = VecSetDecoder(c.latent_channels, c.width_decoder, c.num_attention_heads,
                                     c.num_layers_decoder, query_channels=c.point_features, out_channels=1)

    def fp32_module_names(self) -> tuple[str, ...]:
        return tuple(f"decoder.{name}" for name in self.decoder.fp32_module_names())

    def encode(self, points: torch.Tensor, query_points: torch.Tensor) -> DiagonalGaussian:
        """points: (B, N, 6), query_points: (B, M, 6) -> posterior over latents (B, M, latent_channels).

        Use `.mean` for a deterministic latent (the default everywhere in this project)."""
        moments = self.quant(self.encoder(points, query_points)).float()
        mean, logvar = moments.chunk(2, dim=-1)
        return DiagonalGaussian(mean, logvar.clamp(-30.0, 20.0))

    def trunk(self, latents: torch.Tensor) -> DecoderCache:
        """latents: (B, M, latent_channels) -> the query head's cache. Compute once per shape."""
        h = self.decoder.post_quant(latents)
        for block in self.decoder.blocks[:-1]:
            h = block(h)
        return self.decoder.head_cache(h)

    def query(self, cache: DecoderCache, points: torch.Tensor, chunk_size: int = 65536) -> torch.Tensor:
        """points: (B, P, 3) -> SDF-like values (B, P), positive inside, zero on the surface."""
        features = fourier_point_features(points.float(), self.config.embed_frequency, self.config.embed_include_pi)
        return self.decoder.query_head(cache, features, chunk_size).squeeze(-1)

    def decode(self, latents: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        """latents: (B, M, C), points: (B, P, 3) -> (B, P). `trunk` + `query` in one call."""
        return self.query(self.trunk(latents), points)
