"""Registration, colours and overlay (`actionmesh_core.video_fit`) on a held-out synthetic clip, whose true camera
and part colours are known, and on small hand-made cases."""

import logging

import numpy as np
import pytest
import trimesh
from export_checks import validate
from scipy import ndimage

from actionmesh_core.animated_mesh import AnimatedMesh, Material
from actionmesh_core.data.clips import HELD_OUT_SEED, make_clip
from actionmesh_core.errors import InputError, MeshError
from actionmesh_core.export.gltf import write_animated_glb
from actionmesh_core.render.compose import over_background
from actionmesh_core.video_cameras import VideoCameras
from actionmesh_core.video_fit import check_texture_size, colour_from_video, fit_cameras, render_overlay
from actionmesh_core.video_fit.delight import Lighting, fit_lighting, remove_light
from actionmesh_core.video_fit.fill import fill_unseen, vertex_graph
from actionmesh_core.video_fit.observe import Observations
from actionmesh_core.video_fit.quality import flat_renders, pixel_colour_error, rotation_errors
from actionmesh_core.video_fit.scoring import iou

pytestmark = pytest.mark.usefixtures("one_thread")

SEED = HELD_OUT_SEED + 4  # a held-out quadruped: legs, head and tail in five colours


@pytest.fixture(scope="module")
def clip():
    clip = make_clip(SEED, frames=6)
    return clip, clip.animated_mesh(max_edge=0.1), clip.render()


@pytest.fixture(scope="module")
def registered(clip):
    _, truth, rgba = clip
    return fit_cameras(AnimatedMesh(truth.vertices, truth.faces), rgba[..., 3])


def test_registration_finds_the_true_camera(clip, registered):
    _, truth, _ = clip
    anim, fit = registered
    assert fit.mean_iou >= 0.95 and not fit.empty and not fit.poor, fit.summary()
    assert rotation_errors(anim.cameras, truth.cameras).max() < 3.0
    ours, _ = anim.cameras.project(anim.vertices)
    true, _ = truth.cameras.project(truth.vertices)
    assert np.linalg.norm(ours - true, axis=-1).mean() < 2.0  # pixels of a 256 x 256 frame


def test_the_reported_iou_is_the_rasterisers(clip, registered):
    _, _, rgba = clip
    anim, fit = registered
    rendered = flat_renders(anim)[..., 3] > 127
    exact = iou(rendered, (rgba[..., 3] > 127).astype(np.float32))
    np.testing.assert_allclose(fit.iou, exact, atol=0.02)
    np.testing.assert_allclose(anim.cameras.iou, fit.iou, atol=1e-6)


def test_frames_without_a_subject_keep_their_neighbours_cameras(clip, registered, caplog):
    _, truth, rgba = clip
    masks = rgba[..., 3].copy()
    masks[2:4] = 0
    with caplog.at_level(logging.WARNING):
        anim, fit = fit_cameras(AnimatedMesh(truth.vertices, truth.faces), masks)
    assert fit.empty == [2, 3] and "2, 3" in caplog.text and "no subject" in caplog.text
    assert np.isnan(fit.iou[2:4]).all() and np.isfinite(fit.iou[[0, 1, 4, 5]]).all()
    assert rotation_errors(anim.cameras, truth.cameras).max() < 3.0  # a static camera: the neighbours' rotation
    centres = anim.cameras.centres()
    for t in (2, 3):  # on the way between frames 1 and 4
        assert np.linalg.norm(centres[t] - (centres[1] + (t - 1) / 3 * (centres[4] - centres[1]))) < 1e-3


def test_a_mesh_that_cannot_be_aligned_is_named_in_a_warning(caplog):
    ball = trimesh.creation.icosphere(subdivisions=2)
    anim = AnimatedMesh(np.stack([ball.vertices] * 3), ball.faces)
    masks = np.zeros((3, 64, 64), np.uint8)
    masks[:, 8:56, 10:14] = 255  # an L: a long thin bar and a foot, which no view of a ball covers
    masks[:, 52:56, 10:54] = 255
    with caplog.at_level(logging.WARNING):
        result, fit = fit_cameras(anim, masks)
    assert fit.poor == [0, 1, 2] and "0, 1, 2" in caplog.text and "could not be aligned" in caplog.text
    assert result.cameras is not None and (fit.iou < 0.5).all()


@pytest.mark.parametrize("masks, message", [
    (np.zeros((3, 32, 32), np.uint8), "every subject mask is empty"),
    (np.full((2, 32, 32), 255, np.uint8), "2 masks for an animation of 3 frames"),
    (np.zeros((3, 32), np.uint8), "shape \\(frames, height, width\\)"),
])
def test_unusable_masks_are_a_clear_error(masks, message):
    ball = trimesh.creation.icosphere(subdivisions=1)
    with pytest.raises(InputError, match=message):
        fit_cameras(AnimatedMesh(np.stack([ball.vertices] * 3), ball.faces), masks)


@pytest.fixture(scope="module")
def vertex_coloured(clip, registered):
    _, _, rgba = clip
    return colour_from_video(registered[0], rgba[..., :3], rgba[..., 3])


def test_vertex_colours_beat_the_mean_colour_by_half(clip, vertex_coloured):
    _, truth, rgba = clip
    anim, report = vertex_coloured
    assert report.fit is None and report.lighting is not None and 0.1 < report.seen < 1.0
    scores = pixel_colour_error(anim, truth, rgba[..., :3], rgba[..., 3] > 127)
    assert 2.0 * scores["error"] <= scores["baseline"], scores


def test_surface_no_frame_shows_is_filled_from_the_colours_around_it(clip, vertex_coloured):
    anim, report = vertex_coloured
    colours = anim.vertex_colors[:, :3].astype(int)
    assert report.seen < 0.5  # the legs' inner sides, the belly, the far side: more than half is never seen
    assert (colours.max(axis=1) > 20).all() and (colours.min(axis=1) < 240).all()  # no black, no white holes


def test_a_baked_texture_carries_the_colours(clip, registered, tmp_path):
    _, truth, rgba = clip
    anim, report = colour_from_video(registered[0], rgba[..., :3], rgba[..., 3], mode="texture", texture_size=256)
    (validated,) = validate(write_animated_glb(anim, tmp_path / "textured.glb"))  # the textured, registered GLB
    assert validated["issues"]["numErrors"] == validated["issues"]["numWarnings"] == 0, validated["issues"]
    (material,) = anim.materials
    assert material.base_color_texture.shape == (256, 256, 3) and anim.vertex_colors is None
    assert anim.uvs is not None and anim.uvs.min() >= 0.0 and anim.uvs.max() <= 1.0
    np.testing.assert_allclose(anim.vertices, truth.vertices[:, anim.merge_map], atol=1e-6)  # split, not moved
    scores = pixel_colour_error(anim, truth, rgba[..., :3], rgba[..., 3] > 127)
    assert 2.0 * scores["error"] <= scores["baseline"], scores


@pytest.mark.parametrize("size", [100, 8192, 32, 0, True, 1024.0])
def test_texture_size_is_a_bounded_power_of_two(size):
    with pytest.raises(InputError, match="power of two from 64 to 4096"):
        check_texture_size(size)


def test_colours_need_the_animations_own_video(registered):
    anim, _ = registered
    frames = np.zeros((anim.num_frames, 128, 128, 3), np.uint8)
    with pytest.raises(InputError, match="registered to 256x256 frames"):
        colour_from_video(anim, frames, np.full(frames.shape[:3], 255, np.uint8))
    with pytest.raises(InputError, match="video frames for an animation"):
        colour_from_video(anim, frames[:2], np.zeros((2, 128, 128), np.uint8))


def test_recolouring_a_textured_mesh_with_vertex_colours_drops_its_texture(clip, registered):
    _, _, rgba = clip
    anim, _ = registered
    textured = AnimatedMesh(anim.vertices, anim.faces, uvs=np.zeros((anim.num_vertices, 2)), cameras=anim.cameras,
                            materials=[Material(base_color=[0.5, 0.5, 0.5, 0.8],
                                                base_color_texture=np.zeros((4, 4, 3), np.uint8))])
    coloured, _ = colour_from_video(textured, rgba[..., :3], rgba[..., 3], delight=False)
    (material,) = coloured.materials
    assert material.base_color_texture is None and list(material.base_color) == [1.0, 1.0, 1.0, 0.8]
    assert coloured.vertex_colors is not None


def test_unseen_vertices_solve_the_laplace_equation():
    # a path 0 - 1 - 2 - 3 - 4 with the ends seen, and a separate triangle 5 6 7 nobody sees
    faces = np.array([[0, 1, 1], [1, 2, 2], [2, 3, 3], [3, 4, 4], [5, 6, 7]])
    graph = vertex_graph(faces, 8)
    colours = np.zeros((8, 3))
    colours[0], colours[4] = 0.0, 200.0
    seen = np.zeros(8, bool)
    seen[[0, 4]] = True
    filled = fill_unseen(colours, seen, graph)
    np.testing.assert_allclose(filled[:5, 0], [0, 50, 100, 150, 200], atol=0.1)  # linear between the ends
    np.testing.assert_allclose(filled[5:], 100.0, atol=0.1)  # never seen at all: the mean seen colour


def test_seams_join_the_copies_of_a_vertex():
    faces = np.array([[0, 1, 2], [3, 4, 5]])
    graph = vertex_graph(faces, 6, merge_map=np.array([0, 1, 2, 2, 3, 4]))
    assert graph[2, 3] == 1 and graph[3, 2] == 1 and graph[0, 3] == 0


def test_the_light_is_divided_out():
    sphere = trimesh.creation.icosphere(subdivisions=4)
    normals = np.asarray(sphere.vertex_normals)
    albedo = np.where(normals[:, :1] > 0.3, [200.0, 60.0, 40.0], [50.0, 90.0, 210.0])  # two materials
    light = Lighting(0.4, np.array([0.2, 0.5, 0.3]))
    shading = light.ambient + np.maximum(normals @ light.light, 0.0)
    seen_colours = albedo * (shading / shading.max())[:, None]
    weights = np.ones(len(normals))
    observed = Observations(seen_colours * weights[:, None], weights, normals * weights[:, None])
    fitted = fit_lighting(observed, vertex_graph(np.asarray(sphere.faces), len(normals)))
    assert fitted is not None
    recovered = remove_light(observed.colours(), observed.normals(), fitted)
    lit = normals @ light.light > 0.05  # where the light's direction is observable
    assert np.abs(recovered - albedo)[lit].mean() < 8.0 < np.abs(seen_colours - albedo)[lit].mean()


def test_flat_light_is_left_alone():
    sphere = trimesh.creation.icosphere(subdivisions=3)
    normals = np.asarray(sphere.vertex_normals)
    colours = np.where(normals[:, :1] > 0.0, [200.0, 60.0, 40.0], [50.0, 90.0, 210.0])
    weights = np.ones(len(normals))
    observed = Observations(colours, weights, normals)
    assert fit_lighting(observed, vertex_graph(np.asarray(sphere.faces), len(normals))) is None


def test_overlay_draws_the_mesh_where_the_video_shows_it(clip, vertex_coloured):
    _, _, rgba = clip
    anim, _ = vertex_coloured
    frames = over_background(rgba)
    overlay = render_overlay(anim, frames, opacity=1.0, mode="flat")
    assert overlay.shape == frames.shape and overlay.dtype == np.uint8
    silhouette = ndimage.binary_dilation(flat_renders(anim)[..., 3] > 0, np.ones((1, 3, 3), bool))  # + anti-aliasing
    np.testing.assert_array_equal(overlay[~silhouette], frames[~silhouette])  # the video where there is no mesh
    assert (overlay[silhouette] != frames[silhouette]).any(axis=-1).mean() > 0.5
    np.testing.assert_array_equal(render_overlay(anim, frames, opacity=0.0), frames)
    wire = render_overlay(anim, frames, opacity=1.0, mode="flat", wireframe=True)
    assert (wire != overlay).any(axis=-1).sum() > 100


def test_overlay_needs_cameras_and_the_same_frames(clip, vertex_coloured):
    _, truth, rgba = clip
    with pytest.raises(InputError, match="no video cameras"):
        render_overlay(AnimatedMesh(truth.vertices, truth.faces), rgba)
    with pytest.raises(InputError, match="video frames of 256x256"):
        render_overlay(vertex_coloured[0], rgba[:3])
    with pytest.raises(InputError, match="opacity"):
        render_overlay(vertex_coloured[0], rgba, opacity=2.0)


def test_cameras_must_be_rigid_and_cover_every_frame():
    pose = np.eye(4)[None].repeat(3, 0)
    ball = trimesh.creation.icosphere(subdivisions=1)
    with pytest.raises(MeshError, match="cover 3 frames"):
        AnimatedMesh(np.stack([ball.vertices] * 2), ball.faces, cameras=VideoCameras(pose, 1.0, (64, 64)))
    skewed = pose.copy()
    skewed[:, 0, 0] = 2.0
    with pytest.raises(MeshError, match="rigid"):
        VideoCameras(skewed, 1.0, (64, 64))


def test_cameras_survive_the_npz(registered, tmp_path):
    anim, _ = registered
    loaded = AnimatedMesh.load(anim.save(tmp_path / "anim.npz"))
    np.testing.assert_array_equal(loaded.cameras.world_to_camera, anim.cameras.world_to_camera)
    np.testing.assert_array_equal(loaded.cameras.iou, anim.cameras.iou)
    assert (loaded.cameras.yfov, loaded.cameras.image_size) == (anim.cameras.yfov, anim.cameras.image_size)
    arrays = dict(np.load(tmp_path / "anim.npz"))
    arrays["camera_world_to_camera"] = arrays["camera_world_to_camera"][:, :3]
    np.savez(tmp_path / "broken.npz", **arrays)
    with pytest.raises(MeshError, match="camera poses must have shape"):
        AnimatedMesh.load(tmp_path / "broken.npz")
