"""The OpenGL preview renderer (moderngl on EGL), checked on pictures of known meshes."""

from __future__ import annotations

import math

import imageio_ffmpeg
import numpy as np
import pytest
import trimesh
from export_checks import wobbling_sphere

from actionmesh_core.animated_mesh import AnimatedMesh
from actionmesh_core.errors import ActionMeshError, InputError, MeshError
from actionmesh_core.export.formats import export_animated_mesh
from actionmesh_core.render import (
    DEFAULT_FOV_DEG,
    Shading,
    context,
    preview,
    rasterizer,
    render_animation,
    render_rgba,
    render_turntable,
    side_by_side,
    turntable_azimuths,
)
from actionmesh_core.export.mp4 import write_mp4

SIZE = 128
SPHERE = trimesh.creation.icosphere(4)  # radius 1 at the origin


def coverage_of_unit_sphere(distance: float = 3.0) -> float:
    """Fraction of a square picture that a unit sphere fills, seen from `distance` (perspective)."""
    radius_ndc = math.tan(math.asin(1.0 / distance)) / math.tan(math.radians(DEFAULT_FOV_DEG) / 2)
    return math.pi * radius_ndc**2 / 4


def centroid(image: np.ndarray) -> tuple[float, float]:
    """(row, column) of the covered pixels."""
    rows, columns = np.nonzero(image[..., 3] > 127)
    return rows.mean(), columns.mean()


def read_mp4(path) -> tuple[tuple[int, int], list[np.ndarray]]:
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    width, height = meta["size"]
    return (width, height), [np.frombuffer(f, np.uint8).reshape(height, width, 3) for f in reader]


def test_sphere_silhouette_and_shading_match_the_camera_model():
    (image,) = render_rgba(SPHERE.vertices, SPHERE.faces, size=SIZE, elevation_deg=0.0)
    assert image.shape == (SIZE, SIZE, 4) and image.dtype == np.uint8
    assert (image[..., 3] / 255).mean() == pytest.approx(coverage_of_unit_sphere(), abs=0.01)
    assert image[0, 0, 3] == 0 and image[SIZE // 2, SIZE // 2, 3] == 255
    lit = np.float32(rasterizer.DEFAULT_COLOR) * (
        rasterizer.AMBIENT + (1 - rasterizer.AMBIENT) * rasterizer.LIGHT_DIRECTION[2]
    )  # normal = +Z(camera)
    np.testing.assert_allclose(image[SIZE // 2, SIZE // 2, :3], lit * 255, atol=3)


def test_normal_colours_face_the_camera_point_right_and_up():
    (image,) = render_rgba(SPHERE.vertices, SPHERE.faces, size=SIZE, elevation_deg=0.0, mode="normals")
    middle = SIZE // 2
    np.testing.assert_allclose(image[middle, middle, :3], [128, 128, 255], atol=3)
    assert image[middle, SIZE // 5, 0] < 64 and image[middle, SIZE - SIZE // 5, 0] > 192  # left / right
    assert image[SIZE // 5, middle, 1] > 192 and image[SIZE - SIZE // 5, middle, 1] < 64  # top / bottom


def test_model_axes_appear_where_they_should_without_mirror():
    """+X is to the right and +Y up at azimuth 0; the camera turns toward +X as azimuth grows."""
    box = trimesh.creation.box(extents=(0.4, 0.4, 0.4))
    shifted = box.vertices + [0.6, 0.5, 0.0]
    views = render_turntable(shifted, box.faces, num_views=4, size=SIZE, elevation_deg=0.0)
    middle = SIZE / 2
    (row, column0), (_, column90), (_, column180), (_, column270) = map(centroid, views)
    assert row < middle - 10
    assert column0 > middle + 10 and column180 < middle - 10
    assert abs(column90 - middle) < 4 and abs(column270 - middle) < 4
    np.testing.assert_allclose(turntable_azimuths(4), [0, 90, 180, 270])


def test_each_face_group_has_its_own_colour_and_texture():
    """Left half of the sphere a red factor, right half a green texture under a blue-less factor."""
    middle, quarter = SIZE // 2, SIZE // 4
    right = (SPHERE.triangles_center[:, 0] > 0).astype(np.int64)
    green = np.zeros((4, 4, 3), np.uint8)
    green[..., 1] = 255
    uvs = np.full((len(SPHERE.vertices), 2), 0.5, np.float32)
    shadings = [Shading(color=(1.0, 0.0, 0.0)), Shading(texture=green, color=(1.0, 1.0, 0.0))]
    (image,) = render_rgba(SPHERE.vertices, SPHERE.faces, size=SIZE, elevation_deg=0.0, uvs=uvs,
                           shadings=shadings, face_shadings=right)
    left_pixel, right_pixel = image[middle, middle - quarter, :3], image[middle, middle + quarter, :3]
    assert left_pixel[0] > 100 and left_pixel[1:].max() < 5
    assert right_pixel[1] > 100 and right_pixel[[0, 2]].max() < 5
    with pytest.raises(InputError, match="face_shadings"):
        render_rgba(SPHERE.vertices, SPHERE.faces, size=32, shadings=shadings, face_shadings=right + 1)


def test_vertex_colours_and_texture_reach_the_picture():
    middle = SIZE // 2
    red = np.tile(np.uint8([[255, 0, 0]]), (len(SPHERE.vertices), 1))
    (image,) = render_rgba(SPHERE.vertices, SPHERE.faces, size=SIZE, elevation_deg=0.0, vertex_colors=red)
    assert image[middle, middle, 0] > 150 and image[middle, middle, 1:3].max() < 5

    # Quadrant texture: red top-left, green top-right, blue bottom-left, yellow bottom-right,
    # mapped with glTF-style uvs (v down) so the picture shows the same layout.
    texture = np.zeros((64, 64, 3), np.uint8)
    texture[:32, :32], texture[:32, 32:] = [255, 0, 0], [0, 255, 0]
    texture[32:, :32], texture[32:, 32:] = [0, 0, 255], [255, 255, 0]
    uvs = np.stack([(SPHERE.vertices[:, 0] + 1) / 2, (1 - SPHERE.vertices[:, 1]) / 2], axis=1)
    (image,) = render_rgba(SPHERE.vertices, SPHERE.faces, size=SIZE, elevation_deg=0.0, uvs=uvs,
                           shadings=[Shading(texture)])
    quarter, three_quarters = SIZE // 3, SIZE - SIZE // 3
    dominant = [
        np.argmax(image[r, c, :3])
        for r, c in [(quarter, quarter), (quarter, three_quarters), (three_quarters, quarter)]
    ]
    assert dominant == [0, 1, 2]
    yellow = image[three_quarters, three_quarters, :3].astype(int)
    assert min(yellow[0], yellow[1]) > 3 * yellow[2] + 20


def test_animation_frames_and_views():
    anim = wobbling_sphere(num_frames=3)
    frames = render_rgba(anim.vertices, anim.faces, size=64, azimuth_deg=turntable_azimuths(3))
    assert frames.shape == (3, 64, 64, 4)
    # the mesh drifts along +X over the frames: seen from azimuth 0 it moves right
    still = render_rgba(anim.vertices, anim.faces, size=64, elevation_deg=0.0)
    assert centroid(still[0])[1] < centroid(still[2])[1] - 2
    with pytest.raises(InputError, match="one azimuth or one per frame"):
        render_rgba(anim.vertices, anim.faces, size=64, azimuth_deg=[0.0, 90.0])


def test_render_animation_turns_or_stays_and_reports_each_chunk(monkeypatch):
    monkeypatch.setattr(preview, "RENDER_CHUNK", 2)
    anim = wobbling_sphere(num_frames=5, subdivisions=1)
    calls = []
    turning = render_animation(anim, camera="turntable", size=32, progress=lambda *args: calls.append(args))
    fixed = render_animation(anim, camera="fixed", size=32)
    assert turning.shape == fixed.shape == (5, 32, 32, 4)
    assert calls == [("rendering", 2, 5), ("rendering", 4, 5), ("rendering", 5, 5)]
    assert np.array_equal(turning[0], fixed[0]) and not np.array_equal(turning[3], fixed[3])  # frame 0 at azimuth 0
    by_frame = render_rgba(preview.fit_to_unit_cube(anim.vertices), anim.faces, size=32,
                           azimuth_deg=turntable_azimuths(5))  # the chunks join into one clip-long render
    assert np.abs(turning.astype(int) - by_frame).max() <= 1
    with pytest.raises(InputError, match="unknown camera 'orbit'"):
        render_animation(anim, camera="orbit")


@pytest.mark.parametrize(
    "vertices, faces, error",
    [
        (np.full((3, 3), np.nan), [[0, 1, 2]], MeshError),
        (np.zeros((3, 3)), [[0, 1, 5]], MeshError),
        (np.zeros((3, 2)), [[0, 1, 2]], MeshError),
    ],
)
def test_bad_meshes_are_refused(vertices, faces, error):
    with pytest.raises(error):
        render_rgba(vertices, faces, size=32)


def test_bad_options_are_refused():
    with pytest.raises(InputError, match="mode"):
        render_rgba(SPHERE.vertices, SPHERE.faces, mode="wireframe")
    with pytest.raises(InputError, match="size"):
        render_rgba(SPHERE.vertices, SPHERE.faces, size=0)


def test_missing_egl_gives_an_install_hint(monkeypatch):
    import moderngl

    def no_egl(**kwargs):
        raise RuntimeError("eglGetDisplay failed")

    monkeypatch.setattr(context, "_CONTEXT", None)
    monkeypatch.setattr(moderngl, "create_standalone_context", no_egl)
    with pytest.raises(ActionMeshError, match="apt-get install libegl1"):
        render_rgba(SPHERE.vertices, SPHERE.faces, size=32)


class FakeContext:
    def __init__(self, renderer):
        self.info, self.released = {"GL_RENDERER": renderer}, False

    def release(self):
        self.released = True


@pytest.mark.parametrize("renderers, chosen", [
    (["NVIDIA H200/PCIe/SSE2"], 0),
    (["llvmpipe (LLVM 15.0.6, 256 bits)", "NVIDIA H200/PCIe/SSE2"], 1),  # Mesa's device listed first
    (["llvmpipe (LLVM 15.0.6, 256 bits)"], 0),  # a CPU-only machine
])
def test_the_context_prefers_a_hardware_egl_device(monkeypatch, renderers, chosen):
    import moderngl

    made = []

    def create(backend, require, device_index):
        if device_index >= len(renderers):
            raise RuntimeError(f"requested device index {device_index}, but found {len(renderers)} devices")
        made.append(FakeContext(renderers[device_index]))
        return made[-1]

    monkeypatch.delenv("GLCONTEXT_DEVICE_INDEX", raising=False)
    monkeypatch.setattr(moderngl, "create_standalone_context", create)
    ctx = context._create()
    assert ctx is made[chosen] and not ctx.released
    assert all(other.released for other in made if other is not ctx)


def test_side_by_side_puts_the_input_first_on_white():
    renders = np.zeros((2, 64, 64, 4), np.uint8)
    renders[:, 16:48, 16:48] = [0, 0, 255, 255]
    inputs = np.zeros((2, 100, 50, 3), np.float32)
    inputs[..., 1] = 1.0  # green, float frames in [0, 1] as ComfyUI passes them
    strip = side_by_side(inputs, [renders, renders])
    assert strip.shape == (2, 64, 32 + 64 + 64, 3)
    np.testing.assert_array_equal(strip[0, 10, 10], [0, 255, 0])
    np.testing.assert_array_equal(strip[0, 5, 40], [255, 255, 255])
    np.testing.assert_array_equal(strip[1, 32, 32 + 32], [0, 0, 255])
    with pytest.raises(InputError, match="same frame count"):
        side_by_side(inputs[:1], renders)


def test_mp4_round_trip_with_odd_size(tmp_path):
    frames = np.zeros((5, 33, 47, 4), np.uint8)
    frames[..., 0] = 255
    frames[:, :, :20, 3] = 255  # red on the left, transparent (white) on the right
    path = write_mp4(frames, tmp_path / "clip.mp4", fps=8)
    size, decoded = read_mp4(path)
    assert size == (48, 34) and len(decoded) == 5
    np.testing.assert_allclose(decoded[2][16, 8], [255, 0, 0], atol=12)
    np.testing.assert_allclose(decoded[2][16, 40], [255, 255, 255], atol=12)
    assert [p.name for p in tmp_path.iterdir()] == ["clip.mp4"]


def test_mp4_export_of_an_animation_beside_its_input(tmp_path):
    anim = wobbling_sphere(num_frames=4)
    inputs = np.full((4, 80, 80, 3), 200, np.uint8)
    path = export_animated_mesh(
        anim, "mp4", tmp_path / "preview", size=64, azimuths=(0.0, 90.0), input_frames=inputs, mode="normals"
    )
    size, decoded = read_mp4(path)
    assert size == (64 * 3, 64) and len(decoded) == 4
    assert decoded[0][32, 64 + 32, 2] > 200  # the sphere's middle faces the camera: blue in normal colours


def test_textured_animated_mesh_renders_through_the_preview(tmp_path):
    anim = AnimatedMesh(
        SPHERE.vertices[None],
        SPHERE.faces,
        vertex_colors=np.tile(np.uint8([[0, 255, 0, 255]]), (len(SPHERE.vertices), 1)),
    )
    path = export_animated_mesh(anim, "mp4", tmp_path / "green.mp4", size=64, elevation_deg=0.0)
    _, (frame,) = read_mp4(path)
    assert frame[32, 32, 1] > 120 and frame[32, 32, 0] < 40


def test_the_shared_context_renders_from_another_thread():
    """ComfyUI runs nodes in a worker thread: the process-wide context must follow the caller."""
    import threading

    first = render_rgba(SPHERE.vertices, SPHERE.faces, size=32)
    results = []
    worker = threading.Thread(target=lambda: results.append(render_rgba(SPHERE.vertices, SPHERE.faces, size=32)))
    worker.start()
    worker.join()
    np.testing.assert_array_equal(results[0], first)
