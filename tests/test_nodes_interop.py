"""nodes/comfy_types.py: ComfyUI IMAGE / MASK / core MESH <-> Clip, UserMesh, AnimatedMesh (the pack imported the
way ComfyUI imports it, so its core classes are the pack's own)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from comfy_pack import load_pack

PACK = load_pack()
AnimatedMesh = PACK.actionmesh_core.animated_mesh.AnimatedMesh
InputError, MeshError = PACK.actionmesh_core.errors.InputError, PACK.actionmesh_core.errors.MeshError
CoreMesh = PACK.nodes.comfy_types.CoreMesh
anim_frame_to_core, clip_from_comfy = PACK.nodes.comfy_types.anim_frame_to_core, PACK.nodes.comfy_types.clip_from_comfy
clip_to_comfy, mesh_from_core = PACK.nodes.comfy_types.clip_to_comfy, PACK.nodes.comfy_types.mesh_from_core
mesh_to_core = PACK.nodes.comfy_types.mesh_to_core


def frames_with_square(t: int = 3, size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """IMAGE (T, S, S, 3) with a grey square and MASK (T, S, S), 1 outside the square (transparent)."""
    images = torch.full((t, size, size, 3), 0.2)
    masks = torch.ones(t, size, size)
    for k in range(t):
        images[k, 8:24, 4 + k:20 + k] = 0.6
        masks[k, 8:24, 4 + k:20 + k] = 0.0
    return images, masks


def test_image_and_mask_round_trip_with_comfyui_mask_convention():
    images, masks = frames_with_square()
    clip = clip_from_comfy(images, masks, fps=12.0)
    assert clip.frames.shape == (3, 32, 32, 3) and clip.fps == 12.0
    assert clip.alpha[1, 16, 10] == 255 and clip.alpha[1, 0, 0] == 0  # subject = 255 = MASK 0
    back_images, back_masks = clip_to_comfy(clip)
    assert back_images.dtype == torch.float32 and back_images.shape == images.shape
    assert torch.allclose(back_images, images, atol=1 / 255) and torch.equal(back_masks, masks)


def test_one_mask_serves_every_frame_and_counts_must_match():
    images, masks = frames_with_square()
    clip = clip_from_comfy(images, masks[0])
    assert all(np.array_equal(clip.alpha[k], clip.alpha[0]) for k in range(3))
    with pytest.raises(InputError, match="2 masks for 3 frames"):
        clip_from_comfy(images, masks[:2])


def test_mask_of_another_size_is_resized_and_rgba_frames_keep_alpha():
    images, masks = frames_with_square()
    small = torch.nn.functional.interpolate(masks[:, None], size=(16, 16), mode="nearest")[:, 0]
    assert clip_from_comfy(images, small).alpha.shape == (3, 32, 32)
    rgba = torch.cat([images, 1.0 - masks[..., None]], dim=-1)
    assert np.array_equal(clip_from_comfy(rgba).alpha, clip_from_comfy(images, masks).alpha)


def test_a_single_image_is_one_line_without_command_line_names():
    """An IMAGE batch has no frame-selection widgets: the message must not advise start/end/stride/target_fps."""
    with pytest.raises(InputError) as error:
        clip_from_comfy(torch.rand(1, 32, 32, 3))
    message = str(error.value)
    assert "needs at least 2" in message and "\n" not in message
    assert not any(name in message for name in ("start", "stride", "end", "target_fps", "--")), message


def test_an_all_opaque_mask_means_no_mask():
    """core Load Image gives a zero MASK for images without alpha: that is no subject information."""
    images, _ = frames_with_square()
    assert clip_from_comfy(images, torch.zeros(1, 64, 64)).alpha is None
    assert clip_to_comfy(clip_from_comfy(images))[1].abs().sum() == 0


def test_core_mesh_batch_to_user_mesh_and_back():
    vertices = torch.rand(2, 4, 3)
    faces = torch.tensor([[[0, 1, 2], [0, 2, 3]], [[0, 1, 3], [1, 2, 3]]])
    mesh = mesh_from_core(CoreMesh(vertices, faces), index=1)
    assert np.allclose(mesh.vertices, vertices[1].numpy()) and np.array_equal(mesh.faces, faces[1].numpy())
    core = mesh_to_core(mesh.vertices, mesh.faces)
    assert core.vertices.shape == (1, 4, 3) and core.faces.dtype == torch.int64
    assert torch.equal(core.faces[0], faces[1])
    with pytest.raises(InputError, match="outside the batch of 2"):
        mesh_from_core(CoreMesh(vertices, faces), index=2)
    with pytest.raises(InputError, match="expected a core MESH"):
        mesh_from_core(np.zeros((4, 3)))
    with pytest.raises(MeshError, match="no faces"):
        mesh_from_core(CoreMesh(vertices[:1], torch.zeros(1, 0, 3, dtype=torch.long)))


def test_animation_frame_to_core_mesh():
    vertices = np.random.default_rng(0).random((3, 4, 3)).astype(np.float32)
    anim = AnimatedMesh(vertices, np.array([[0, 1, 2], [0, 2, 3]]))
    core = anim_frame_to_core(anim, 2)
    assert np.array_equal(core.vertices[0].numpy(), vertices[2]) and core.faces.shape == (1, 2, 3)
    with pytest.raises(InputError, match="outside the animation's 3 frames"):
        anim_frame_to_core(anim, 3)
