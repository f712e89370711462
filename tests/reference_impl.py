"""Independent re-implementations written from the specs' prose (loops, explicit reshapes, complex RoPE),
used to check the optimised modules. Slow and simple on purpose."""

import math

import torch
import torch.nn.functional as F


def attention(q, k, v):
    """q: (B, S, H, D), k, v: (B, T, H, D)."""
    w = torch.softmax(torch.einsum("bshd,bthd->bhst", q, k) / math.sqrt(q.shape[-1]), dim=-1)
    return torch.einsum("bhst,bthd->bshd", w, v)


def rms(x, w):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * w


def rope_complex(x, positions):
    """x: (B, S, H, D); positions: (B, S). Interleaved pairs as complex numbers times e^{i p f_j}."""
    D = x.shape[-1]
    freqs = 1.0 / 10000 ** (torch.arange(0, D, 2).float() / D)
    angles = positions[..., None].float() * freqs  # (B, S, D/2)
    z = torch.view_as_complex(x.float().reshape(*x.shape[:-1], D // 2, 2).contiguous())
    z = z * torch.polar(torch.ones_like(angles), angles)[:, :, None]
    return torch.view_as_real(z).reshape(x.shape)


def self_attn(m, x, positions=None):
    B, S, _ = x.shape
    H, D = m.heads, m.head_dim
    qkv = torch.cat([m.to_q(x), m.to_k(x), m.to_v(x)], -1).reshape(B, S, H, 3 * D)
    q, k, v = qkv[..., :D], qkv[..., D:2 * D], qkv[..., 2 * D:]
    if m.norm_q is not None:
        q, k = rms(q, m.norm_q.weight), rms(k, m.norm_k.weight)
    if positions is not None:
        q, k = rope_complex(q, positions), rope_complex(k, positions)
    return m.to_out[0](attention(q, k, v).reshape(B, S, H * D))


def cross_attn(m, x, c):
    B, S, _ = x.shape
    H, D = m.heads, m.head_dim
    if m.norm_cross is not None:
        c = F.layer_norm(c, c.shape[-1:], m.norm_cross.weight, m.norm_cross.bias, 1e-5)
    q = m.to_q(x).reshape(B, S, H, D)
    kv = torch.cat([m.to_k(c), m.to_v(c)], -1).reshape(B, c.shape[1], H, 2 * D)
    k, v = kv[..., :D], kv[..., D:]
    if m.norm_q is not None:
        q, k = rms(q, m.norm_q.weight), rms(k, m.norm_k.weight)
    return m.to_out[0](attention(q, k, v).reshape(B, S, H * D))


def ln(norm, x):
    return F.layer_norm(x, x.shape[-1:], norm.weight, norm.bias, 1e-5)


def block(b, x, skip=None, context=None, positions=None):
    if skip is not None:
        x = ln(b.norm_skip, b.linear_skip(torch.cat([skip, x], -1)))
    if hasattr(b, "s_attn"):
        x = x + self_attn(b.s_attn, ln(b.norm_s_attn, x), positions)
    if hasattr(b, "x_attn"):
        x = x + cross_attn(b.x_attn, ln(b.norm_x_attn, x), context)
    h = F.gelu(b.ff.net[0].proj(ln(b.norm_ff, x)))
    return x + b.ff.net[2](h)


def timestep_sin_cos(t, dim):
    half = dim // 2
    f = torch.exp(-math.log(10000) * torch.arange(half) / half)
    return torch.cat([torch.sin(t[:, None] * f), torch.cos(t[:, None] * f)], -1)


def denoiser(m, latents, t, context, frame_times, mask):
    """ActionMesh denoiser as §3.3 describes it, inflation done by literally concatenating frames.
    latents (B, T, N, C), t (B,), context (B, T, S, ctx), frame_times (B, T), mask (B, T)."""
    B, T, N, _ = latents.shape
    W, L = m.config.width, m.config.num_layers
    times = t[:, None].repeat(1, T).reshape(-1) * (1 - mask.reshape(-1))  # (b t) order
    temb = m.time_proj.linear_2(F.gelu(m.time_proj.linear_1(timestep_sin_cos(times, W))))
    h = torch.cat([temb[:, None], m.proj_in(latents.reshape(B * T, N, -1))], 1)  # (B*T, N+1, W)
    ctx = context.reshape(B * T, *context.shape[2:])
    pos = (frame_times - frame_times.min(-1, keepdim=True).values)  # (B, T)
    pos_tokens = pos[:, :, None].expand(B, T, N + 1).reshape(B, T * (N + 1))
    stack = []
    for i, b in enumerate(m.blocks):
        skip = stack.pop() if i > L // 2 else None
        if skip is not None:
            h = ln(b.norm_skip, b.linear_skip(torch.cat([skip, h], -1)))
        joint = ln(b.norm_s_attn, h).reshape(B, T * (N + 1), W)
        h = h + self_attn(b.s_attn, joint, pos_tokens).reshape(B * T, N + 1, W)
        h = h + cross_attn(b.x_attn, ln(b.norm_x_attn, h), ctx)
        h = h + b.ff.net[2](F.gelu(b.ff.net[0].proj(ln(b.norm_ff, h))))
        if i < L // 2:
            stack.append(h)
    out = m.proj_out(ln(m.norm_out, h)[:, 1:])
    return out.reshape(B, T, N, -1)


def fourier(p, n=8):
    f = 2.0 ** torch.arange(n)
    cols = [p]
    cols.append(torch.cat([torch.sin(p[..., i:i + 1] * f) for i in range(3)], -1))
    cols.append(torch.cat([torch.cos(p[..., i:i + 1] * f) for i in range(3)], -1))
    return torch.cat(cols, -1)


def autoencoder(m, latents, frame_times, source_alpha, target_alphas, queries):
    """§4.2 with the official per-target loop. Returns (B, T_out, V, 3)."""
    B, T, N, _ = latents.shape
    W = m.config.width
    h = m.post_quant(latents).reshape(B, T * N, W)
    pos = frame_times - frame_times.min(-1, keepdim=True).values
    pos_seq = torch.cat([pos[:, :, None].expand(B, T, N).reshape(B, T * N), pos], 1)
    half = W // 2

    def e(a):
        f = torch.exp(-math.log(10000) * torch.arange(half // 2) / (half // 2))
        return torch.cat([torch.cos(a[:, None] * f), torch.sin(a[:, None] * f)], -1)

    q_feat = torch.cat([fourier(queries[..., :3]), queries[..., 3:]], -1)
    outs = []
    for i in range(target_alphas.shape[1]):
        alpha = torch.cat([e(source_alpha), e(target_alphas[:, i])], -1)  # (B, W)
        seq = torch.cat([h, alpha[:, None].expand(B, T, W)], 1)
        for b in m.blocks[:-1]:
            seq = block(b, seq, positions=pos_seq)
        head = m.blocks[-1]
        x = m.proj_query(q_feat)
        x = x + cross_attn(head.x_attn, ln(head.norm_x_attn, x), seq)
        x = x + head.ff.net[2](F.gelu(head.ff.net[0].proj(ln(head.norm_ff, x))))
        logits = -m.proj_out(ln(m.norm_out, x))
        outs.append(2 * torch.sigmoid(logits) - 1)
    return torch.stack(outs, 1)


def vae_decode(vae, latents, points):
    d = vae.decoder
    h = d.post_quant(latents)
    for b in d.blocks[:-1]:
        h = block(b, h)
    head = d.blocks[-1]
    x = d.proj_query(fourier(points))
    x = x + cross_attn(head.x_attn, ln(head.norm_x_attn, x), h)
    x = x + head.ff.net[2](F.gelu(head.ff.net[0].proj(ln(head.norm_ff, x))))
    return -d.proj_out(ln(d.norm_out, x))[..., 0]
