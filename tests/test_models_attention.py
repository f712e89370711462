"""Attention: the fused head layout, inflation, RoPE, backends."""

import math

import pytest
import torch

import reference_impl as ref
from actionmesh_core.errors import ActionMeshError
from actionmesh_core.models.attention import Attention, check_backend, scaled_dot_product, use_attention_backend
from actionmesh_core.models.rope import apply_rope, relative_positions, rope_tables


def reference_self_attention(attn: Attention, x: torch.Tensor) -> torch.Tensor:
    """Written from the spec's words: concatenate [q|k|v] on channels, reshape (B, S, H, 3*D), split in three."""
    B, S, _ = x.shape
    H, D = attn.heads, attn.head_dim
    qkv = torch.cat([attn.to_q(x), attn.to_k(x), attn.to_v(x)], dim=-1).reshape(B, S, H, 3 * D)
    q, k, v = qkv[..., :D], qkv[..., D:2 * D], qkv[..., 2 * D:]
    if attn.norm_q is not None:
        q = q * torch.rsqrt(q.pow(2).mean(-1, keepdim=True) + 1e-6) * attn.norm_q.weight
        k = k * torch.rsqrt(k.pow(2).mean(-1, keepdim=True) + 1e-6) * attn.norm_k.weight
    weights = torch.softmax(torch.einsum("bshd,bthd->bhst", q, k) / math.sqrt(D), dim=-1)
    out = torch.einsum("bhst,bthd->bshd", weights, v).reshape(B, S, H * D)
    return attn.to_out[0](out)


def reference_cross_attention(attn: Attention, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    B, S, _ = x.shape
    H, D = attn.heads, attn.head_dim
    if attn.norm_cross is not None:
        c = attn.norm_cross(c)
    q = attn.to_q(x).reshape(B, S, H, D)
    kv = torch.cat([attn.to_k(c), attn.to_v(c)], dim=-1).reshape(B, c.shape[1], H, 2 * D)
    k, v = kv[..., :D], kv[..., D:]
    weights = torch.softmax(torch.einsum("bshd,bthd->bhst", q, k) / math.sqrt(D), dim=-1)
    return attn.to_out[0](torch.einsum("bhst,bthd->bshd", weights, v).reshape(B, S, H * D))


def standard_split_self_attention(attn: Attention, x: torch.Tensor) -> torch.Tensor:
    """What a port that ignored the layout would compute."""
    B, S, _ = x.shape
    H, D = attn.heads, attn.head_dim
    q, k, v = (p(x).reshape(B, S, H, D).transpose(1, 2) for p in (attn.to_q, attn.to_k, attn.to_v))
    out = torch.nn.functional.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(B, S, H * D)
    return attn.to_out[0](out)


@pytest.mark.parametrize("qk_norm", [False, True])
def test_self_attention_uses_the_fused_per_head_layout(qk_norm):
    attn = Attention(64, 4, qk_norm=qk_norm)
    if qk_norm:
        torch.nn.init.normal_(attn.norm_q.weight, 1.0, 0.3)
        torch.nn.init.normal_(attn.norm_k.weight, 1.0, 0.3)
    x = torch.randn(2, 10, 64)
    torch.testing.assert_close(attn(x), reference_self_attention(attn, x), atol=1e-5, rtol=1e-4)
    # the silent error the layout quirk invites: a standard split gives clearly different outputs
    assert (attn(x) - standard_split_self_attention(attn, x)).abs().max() > 1e-2


def test_cross_attention_uses_the_fused_kv_layout_and_context_norm():
    attn = Attention(64, 4, kv_dim=48, norm_cross=True)
    x, c = torch.randn(2, 7, 64), torch.randn(2, 11, 48)
    torch.testing.assert_close(attn(x, c), reference_cross_attention(attn, x, c), atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(attn(x, kv=attn.context_kv(c)), attn(x, c))


def qk_norm_attention():
    attn = Attention(64, 4, qk_norm=True)
    torch.nn.init.normal_(attn.norm_q.weight, 1.0, 0.3)
    torch.nn.init.normal_(attn.norm_k.weight, 1.0, 0.3)
    return attn


def test_inflated_attention_over_one_frame_equals_plain_attention():
    """One frame at any position: every token shares the rotation, so RoPE cancels in the scores."""
    attn = qk_norm_attention()
    x = torch.randn(3, 9, 64)
    tables = rope_tables(torch.tensor([[0.0], [7.0], [30.0]]), 16)  # (3, 1, 1, 16): one position per frame
    torch.testing.assert_close(attn(x, frames=1, rope=tables), ref.self_attn(attn, x), atol=1e-5, rtol=1e-4)


def test_inflated_attention_over_frames_equals_plain_attention_over_their_concatenated_tokens():
    attn = qk_norm_attention()
    batch, frames, tokens = 2, 3, 5
    x = torch.randn(batch * frames, tokens, 64)  # (b t) folded
    positions = relative_positions(torch.tensor([[4.0, 5, 7], [10, 8, 9]]))  # (B, T)
    tables = rope_tables(positions.flatten()[:, None], 16)  # (B*T, 1, 1, 16)
    inflated = attn(x, frames=frames, rope=tables)
    joint_positions = positions[:, :, None].expand(batch, frames, tokens).reshape(batch, frames * tokens)
    joint = ref.self_attn(attn, x.reshape(batch, frames * tokens, 64), joint_positions)
    torch.testing.assert_close(inflated, joint.reshape(batch * frames, tokens, 64), atol=1e-5, rtol=1e-4)
    assert (inflated - attn(x, rope=tables)).abs().max() > 1e-3  # frames do see each other


def test_rope_scores_depend_only_on_relative_frame_offsets():
    q, k = torch.randn(1, 1, 2, 16), torch.randn(1, 1, 2, 16)

    def score(p, r):
        qr = apply_rope(q, rope_tables(torch.tensor([[float(p)]]), 16))
        kr = apply_rope(k, rope_tables(torch.tensor([[float(r)]]), 16))
        return (qr * kr).sum(-1)

    torch.testing.assert_close(score(3, 1), score(10, 8))
    torch.testing.assert_close(score(0, 5), score(7, 12))
    assert (score(3, 1) - score(3, 2)).abs().max() > 1e-3


def test_rope_rotates_interleaved_pairs_and_keeps_norms():
    x = torch.randn(2, 4, 3, 8)
    tables = rope_tables(torch.tensor([[0.0, 1.0, 2.0, 5.0]] * 2), 8)
    y = apply_rope(x, tables)
    torch.testing.assert_close(y.norm(dim=-1), x.norm(dim=-1))
    # pair 0 uses frequency 1: rotation by the position angle; pair (0, 1) are channels 0 and 1
    angle = torch.tensor(5.0)
    expected0 = x[0, 3, :, 0] * angle.cos() - x[0, 3, :, 1] * angle.sin()
    torch.testing.assert_close(y[0, 3, :, 0], expected0)


def test_relative_positions_subtract_the_window_minimum():
    assert relative_positions(torch.tensor([[15.0, 16, 17], [30, 29, 28]])).tolist() == [[0, 1, 2], [2, 1, 0]]


@pytest.mark.parametrize("backend", ["sdpa", "auto"])
def test_backends_agree_with_the_math_path(backend):
    q, k, v = torch.randn(2, 33, 4, 16), torch.randn(2, 17, 4, 16), torch.randn(2, 17, 4, 16)
    reference = scaled_dot_product(q, k, v, "math")
    torch.testing.assert_close(scaled_dot_product(q, k, v, backend), reference, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(reference, ref.attention(q, k, v), atol=1e-5, rtol=1e-4)


def test_the_backend_belongs_to_each_model_not_to_the_process(monkeypatch):
    """Two models with different kernels side by side: each Attention runs its own, nothing global changes."""
    used = []
    real = scaled_dot_product

    def spy(q, k, v, backend="auto"):
        used.append(backend)
        return real(q, k, v, backend)

    monkeypatch.setattr("actionmesh_core.models.attention.scaled_dot_product", spy)
    first = use_attention_backend(torch.nn.Sequential(Attention(64, 4), Attention(64, 4)), "math")
    second = Attention(64, 4)
    x = torch.randn(1, 5, 64)
    first(x)
    second(x)
    assert used == ["math", "math", "auto"]


def test_bf16_attention_matches_fp32_within_dtype_tolerance():
    q, k, v = torch.randn(1, 64, 2, 32), torch.randn(1, 64, 2, 32), torch.randn(1, 64, 2, 32)
    full = scaled_dot_product(q, k, v)
    low = scaled_dot_product(q.bfloat16(), k.bfloat16(), v.bfloat16()).float()
    assert (full - low).abs().max() < 3e-2


def test_unknown_backend_is_a_clear_error():
    with pytest.raises(ActionMeshError, match="unknown attention backend"):
        check_backend("xformers")
    with pytest.raises(ActionMeshError, match="unknown attention backend"):
        use_attention_backend(Attention(64, 4), "xformers")
