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


def vae_encode(vae, points, query_points):
    """TripoSG spec §2.2-2.3. points (B, N, 6), query_points (B, M, 6) xyz + normals -> (mean, logvar), each
    (B, M, C): proj_in shared by queries and points, a cross-attention block, self-attention blocks,
    LayerNorm, quant = [mean | logvar], logvar clamped to [-30, 20]."""
    e = vae.encoder

    def tokens(p):
        return e.proj_in(torch.cat([fourier(p[..., :3]), p[..., 3:]], -1))

    x = block(e.blocks[0], tokens(query_points), context=tokens(points))
    for b in e.blocks[1:]:
        x = block(b, x)
    moments = vae.quant(ln(e.norm_out, x))
    channels = moments.shape[-1] // 2
    return moments[..., :channels], moments[..., channels:].clamp(-30, 20)


def rebnconv(m, x, dilation=1):
    """RMBG's REBNCONV: 3x3 conv (padding = dilation) -> BatchNorm with running statistics -> ReLU."""
    bn = m.bn_s1
    y = F.conv2d(x, m.conv_s1.weight, m.conv_s1.bias, padding=dilation, dilation=dilation)
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return torch.relu((y - bn.running_mean[:, None, None]) * scale[:, None, None] + bn.bias[:, None, None])


def upsample_like(x, like):
    return F.interpolate(x, size=like.shape[2:], mode="bilinear", align_corners=False)


def pool(x):
    return F.max_pool2d(x, 2, stride=2, ceil_mode=True)


def rsu(m, x, depth):
    """RSU-L: hx1 = conv1(conv_in(x)), pool before each further level, a dilation-2 bottom conv on the
    last level, then conv{k}d([upsampled deeper, hx_k]) back up, plus conv_in(x)."""
    x_in = rebnconv(m.rebnconvin, x)
    levels = [rebnconv(m.rebnconv1, x_in)]
    for k in range(2, depth):
        levels.append(rebnconv(getattr(m, f"rebnconv{k}"), pool(levels[-1])))
    h = rebnconv(getattr(m, f"rebnconv{depth}"), levels[-1], dilation=2)
    for k in range(depth - 1, 0, -1):
        h = rebnconv(getattr(m, f"rebnconv{k}d"), torch.cat([upsample_like(h, levels[k - 1]), levels[k - 1]], 1))
    return h + x_in


def rsu4f(m, x):
    """RSU-4F: no pooling, dilations 1, 2, 4, 8 down and 4, 2, 1 up."""
    x_in = rebnconv(m.rebnconvin, x)
    hx1 = rebnconv(m.rebnconv1, x_in)
    hx2 = rebnconv(m.rebnconv2, hx1, dilation=2)
    hx3 = rebnconv(m.rebnconv3, hx2, dilation=4)
    hx4 = rebnconv(m.rebnconv4, hx3, dilation=8)
    hx3d = rebnconv(m.rebnconv3d, torch.cat([hx4, hx3], 1), dilation=4)
    hx2d = rebnconv(m.rebnconv2d, torch.cat([hx3d, hx2], 1), dilation=2)
    return rebnconv(m.rebnconv1d, torch.cat([hx2d, hx1], 1)) + x_in


def rmbg(m, x):
    """TripoSG spec §7: stride-2 stem; stages 1-6 (RSU7, 6, 5, 4, 4F, 4F) with pools between; decoder
    stages 5d-1d on [upsampled deeper, skip]; sides on hx1d..hx5d, hx6, upsampled to x, sigmoid."""
    hx = F.conv2d(x, m.conv_in.weight, m.conv_in.bias, stride=2, padding=1)
    hx1 = rsu(m.stage1, hx, 7)
    hx2 = rsu(m.stage2, pool(hx1), 6)
    hx3 = rsu(m.stage3, pool(hx2), 5)
    hx4 = rsu(m.stage4, pool(hx3), 4)
    hx5 = rsu4f(m.stage5, pool(hx4))
    hx6 = rsu4f(m.stage6, pool(hx5))
    hx5d = rsu4f(m.stage5d, torch.cat([upsample_like(hx6, hx5), hx5], 1))
    hx4d = rsu(m.stage4d, torch.cat([upsample_like(hx5d, hx4), hx4], 1), 4)
    hx3d = rsu(m.stage3d, torch.cat([upsample_like(hx4d, hx3), hx3], 1), 5)
    hx2d = rsu(m.stage2d, torch.cat([upsample_like(hx3d, hx2), hx2], 1), 6)
    hx1d = rsu(m.stage1d, torch.cat([upsample_like(hx2d, hx1), hx1], 1), 7)
    sides = [m.side1, m.side2, m.side3, m.side4, m.side5, m.side6]
    maps = [hx1d, hx2d, hx3d, hx4d, hx5d, hx6]
    return [torch.sigmoid(upsample_like(F.conv2d(h, s.weight, s.bias, padding=1), x)) for s, h in zip(sides, maps)]


def gradient_icp(source, target, starts, steps=200, lr=0.01):
    """ActionBench's ICP loop for one fit (spec §10.3, with the loop order of the official evaluator): every
    start's parameters (translation 0, 6-D rotation (1, 0, 0, 0, 1, 0), per-axis scale 1) optimised together
    by one Adam on the mean float32 loss over the starts, p' = (s * p) @ (start @ R6d) + T. The loss is the
    squared-distance Chamfer (each direction's mean, both added) with brute-force nearest neighbours on the
    full distance matrix. After each step: if the lowest loss of this step is strictly below the best so far,
    keep that start's rotation (the one the loss used) and its translation and scale as they are now, after
    the step. source (M, 3), target (N, 3), starts (S, 3, 3) -> (rotation (3, 3), translation (3,), scale (3,)).
    Like PyTorch3D's chamfer_distance, each direction's distances are taken between the moved points and their
    nearest neighbours (differentiable in both), summed, divided by the count.
    """
    count = len(starts)
    translation = torch.zeros(count, 3, requires_grad=True)
    d6 = torch.tensor([[1.0, 0.0, 0.0, 0.0, 1.0, 0.0]]).repeat(count, 1).requires_grad_()
    scale = torch.ones(count, 3, requires_grad=True)
    optimizer = torch.optim.Adam([translation, d6, scale], lr=lr)
    best, best_loss = None, math.inf
    for _ in range(steps):
        optimizer.zero_grad()
        a1, a2 = d6[:, :3], d6[:, 3:]
        b1 = F.normalize(a1, dim=-1)
        b2 = F.normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1, dim=-1)
        rotation = starts @ torch.stack([b1, b2, torch.linalg.cross(b1, b2)], dim=-2)
        moved = scale[:, None] * source @ rotation + translation[:, None]  # (S, M, 3)
        with torch.no_grad():
            squared = (moved[:, :, None] - target[None, None]).square().sum(-1)  # (S, M, N)
            nearest_target, nearest_source = squared.argmin(2), squared.argmin(1)  # (S, M), (S, N)
        forward = (moved - target[nearest_target]).square().sum(-1)  # (S, M)
        backward = (target[None] - torch.stack([m[i] for m, i in zip(moved, nearest_source)])).square().sum(-1)
        loss = forward.sum(1) / source.shape[0] + backward.sum(1) / target.shape[0]
        loss.mean().backward()
        optimizer.step()
        value, start = loss.detach().min(0)
        if value.item() < best_loss:
            best_loss = value.item()
            best = (rotation[start].detach().clone(), translation[start].detach().clone(),
                    scale[start].detach().clone())
    return best
