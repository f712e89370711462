"""The video nodes (Fit Camera, Colour from Video, Overlay on Video) run as ComfyUI runs them, on a held-out synthetic
clip whose true camera and part colours are known, with ComfyUI's IMAGE and MASK types; and the one-node path's
colours."""

from __future__ import annotations

import importlib
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from comfy_pack import EXAMPLE_TARGET, run_node

from actionmesh_core.data.clips import HELD_OUT_SEED
from actionmesh_core.render.compose import over_background
from actionmesh_core.video_fit.quality import flat_renders, pixel_colour_error

pytestmark = pytest.mark.usefixtures("one_thread")

SEED = HELD_OUT_SEED + 4  # the quadruped of test_video_fit.py


def bare(pack, anim):
    """The animation's geometry alone, as the pack's own AnimatedMesh (no cameras, no colours)."""
    return pack.actionmesh_core.animated_mesh.AnimatedMesh(anim.vertices, anim.faces)


@pytest.fixture(scope="module")
def clip(pack):
    """(truth with cameras and part colours, RGBA frames, IMAGE on white, MASK with 1 = background)."""
    clip = importlib.import_module(f"{pack.__name__}.actionmesh_core.data.clips").make_clip(SEED, frames=4)
    truth, rgba = clip.animated_mesh(max_edge=0.1), clip.render()
    images = torch.from_numpy(over_background(rgba)).float() / 255.0
    return truth, rgba, images, 1.0 - torch.from_numpy(rgba[..., 3]).float() / 255.0


@pytest.fixture(scope="module")
def fitted(pack, clip):
    truth, _, images, mask = clip
    with torch.inference_mode():  # as ComfyUI runs every node: the refinement's autograd must still work
        return run_node(pack, "ActionMeshFitCamera", animation=bare(pack, truth), frames=images,
                        camera_fov=49.1, mask=mask)[0]


def test_fit_camera_registers_the_animation_to_the_mask(clip, fitted):
    truth, rgba, _, _ = clip
    anim, mean_iou, report = fitted
    assert anim.cameras is not None and anim.cameras.image_size == (rgba.shape[2], rgba.shape[1])
    assert mean_iou >= 0.95 and mean_iou == pytest.approx(float(np.mean(anim.cameras.iou)))
    first, per_frame = report.splitlines()
    assert first.startswith("silhouette IoU of the registered mesh: mean")
    assert [float(v) for v in per_frame.removeprefix("per frame: ").split()] == pytest.approx(anim.cameras.iou, abs=1e-3)
    ours, true = flat_renders(anim)[..., 3] > 127, flat_renders(truth)[..., 3] > 127  # the true camera's silhouette
    assert (ours & true).sum() / (ours | true).sum() > 0.95


def test_colour_from_video_paints_the_parts_colours(pack, clip, fitted):
    truth, rgba, images, mask = clip
    with torch.inference_mode():  # the light's fit uses autograd too
        (anim, report), _ = run_node(pack, "ActionMeshColourFromVideo", animation=fitted[0], frames=images,
                                     mode="vertex", texture_size=1024, remove_light=True, camera_fov=49.1, mask=mask)
    assert anim.vertex_colors is not None and np.array_equal(anim.cameras.world_to_camera,
                                                             fitted[0].cameras.world_to_camera)
    assert report.startswith("colours from the video (vertex)") and "light removed" in report
    scores = pixel_colour_error(anim, truth, rgba[..., :3], rgba[..., 3] > 127)
    assert 2.0 * scores["error"] <= scores["baseline"], scores


def test_colour_from_video_checks_the_texture_size(pack):
    node = pack.NODE_CLASS_MAPPINGS["ActionMeshColourFromVideo"]
    assert node.VALIDATE_INPUTS(mode="texture", texture_size=2048) is True
    assert "power of two" in node.VALIDATE_INPUTS(mode="texture", texture_size=1000)
    assert node.VALIDATE_INPUTS(mode="vertex", texture_size=1000) is True  # no texture: the size plays no part


def test_masks_come_from_the_mask_then_prepare_frames_then_alpha(pack, clip):
    _, rgba, images, mask = clip
    video_clip, errors = pack.nodes.video_fit.video_clip, pack.actionmesh_core.errors
    subject = rgba[..., 3] > 127
    assert np.array_equal(video_clip(images, mask).alpha > 127, subject)
    prepared = SimpleNamespace(clip=pack.actionmesh_core.inputs.load_clip(rgba))
    assert np.array_equal(video_clip(images, None, prepared).alpha > 127, subject)
    assert np.array_equal(video_clip(torch.from_numpy(rgba).float() / 255.0).alpha > 127, subject)  # RGBA frames
    with pytest.raises(errors.InputError, match="no subject masks: wire a mask"):
        video_clip(images)
    with pytest.raises(errors.InputError, match="wire the same frames into both"):
        video_clip(images[:2], None, prepared)


def test_overlay_on_video_gives_image_frames(pack, clip, fitted):
    truth, _, images, _ = clip
    (frames,), _ = run_node(pack, "ActionMeshOverlayOnVideo", animation=fitted[0], frames=images, opacity=1.0,
                            wireframe=True, mode="shaded")
    assert frames.shape == images.shape and frames.dtype == torch.float32 and 0.0 <= frames.min() <= frames.max() <= 1.0
    silhouette = flat_renders(fitted[0])[..., 3] > 127
    changed = (frames - images).abs().amax(dim=-1).numpy() > 1e-3
    assert changed[silhouette].mean() > 0.9 and changed[~silhouette].mean() < 0.02
    (plain,), _ = run_node(pack, "ActionMeshOverlayOnVideo", animation=fitted[0], frames=images, opacity=0.0,
                           wireframe=False, mode="shaded")
    assert torch.allclose(plain, images, atol=1 / 255)
    with pytest.raises(pack.actionmesh_core.errors.InputError, match="no video cameras"):
        run_node(pack, "ActionMeshOverlayOnVideo", animation=bare(pack, truth), frames=images,
                 opacity=0.6, wireframe=False, mode="shaded")


def test_the_one_node_path_keeps_the_look_of_a_mesh_that_has_one(pack, comfy_base):
    default_colour = pack.actionmesh_core.video_fit.default_colour
    (textured,), _ = run_node(pack, "ActionMeshLoadMesh", mesh_file=EXAMPLE_TARGET, up_axis="+y")
    source = textured.source
    (plain,), _ = run_node(pack, "ActionMeshMeshFromMESH", index=0,  # a core MESH: geometry only
                           mesh=pack.nodes.comfy_types.mesh_to_core(source.vertices, source.faces))
    assert textured.source.materials[0].base_color_texture is not None
    assert (default_colour(textured), default_colour(plain), default_colour(None)) == ("none", "vertex", "vertex")
    assert pack.NODE_CLASS_MAPPINGS["ActionMeshVideoToAnimatedMesh"].INPUT_TYPES()["optional"]["colour"][1][
        "default"] == "auto"
