"""Opt-in: ComfyUI's CORE Preview 3D node (not the pack's player) shows what the core writes, in a real ComfyUI
server and its frontend in headless Chromium (tests/js/core_preview3d.mjs): a morph-target GLB's vertex colours in
the right colour space (COLOR_0 is linear light; the sRGB bytes shown as linear look washed out), and a skinned
GLB whose bones move the mesh. The server is test_comfyui_integration.py's (COMFYUI_PATH, COMFYUI_PYTHON); also
needs Node.js, Chromium and playwright-core in tests/js. ACTIONMESH_SCREENSHOTS=DIR keeps the pictures."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.parse
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skinning_fixtures import two_part_clip
from test_comfyui_integration import CHROMIUM, COMFYUI, server  # noqa: F401 - `server` is the shared fixture

from actionmesh_core.animated_mesh import AnimatedMesh
from actionmesh_core.base.colour_space import linear_to_srgb, srgb_to_linear
from actionmesh_core.export.formats import export_animated_mesh, export_skinned_mesh

DRIVER = Path(__file__).parent / "js" / "core_preview3d.mjs"
RED, BLUE = (220, 40, 40), (40, 60, 220)  # the two parts' sRGB colours
SWING = 3  # the frame where the two-part clip's arm is furthest from its start


def _missing() -> str | None:
    if not COMFYUI:
        return "COMFYUI_PATH (a ComfyUI checkout)"
    if shutil.which("node") is None:
        return "Node.js"
    if not os.access(CHROMIUM, os.X_OK):
        return "Chromium (apt-get install chromium)"
    if not (DRIVER.parent / "node_modules" / "playwright-core").is_dir():
        return "playwright-core in tests/js (npm install --no-save playwright-core)"
    return None


pytestmark = [pytest.mark.comfyui, pytest.mark.skipif(_missing() is not None, reason=f"needs {_missing()}")]


def red_and_blue(anim: AnimatedMesh) -> AnimatedMesh:
    """The clip with its reddish body painted RED and its bluish arm BLUE (saturated: a washed-out display is far)."""
    colours = np.where((anim.vertex_colors[:, 0] > anim.vertex_colors[:, 2])[:, None], RED, BLUE).astype(np.uint8)
    return AnimatedMesh(anim.vertices, anim.faces, fps=anim.fps, vertex_colors=colours)


@pytest.fixture(scope="module")
def shown(server, tmp_path_factory):  # noqa: F811 - the imported fixture
    """The two GLBs written into the server's output folder, shown by core Preview 3D; the driver's report."""
    output = Path(server.log).parent / "output"  # the fixture's --output-directory, beside its log
    (output / "pv3d").mkdir(exist_ok=True)
    anim = red_and_blue(two_part_clip(num_frames=12).watertight_animation(resolution=32))
    export_animated_mesh(anim, "glb", output / "pv3d" / "colour.glb")
    # the old bug, to prove the colour check fails on it: bytes the writer decodes to our sRGB bytes / 255
    washed = AnimatedMesh(anim.vertices, anim.faces, fps=anim.fps,
                          vertex_colors=linear_to_srgb(anim.vertex_colors / 255.0))
    export_animated_mesh(washed, "glb", output / "pv3d" / "washed.glb")
    export_skinned_mesh(anim, "skinned-glb", output / "pv3d" / "skinned.glb", bones=2)
    for name in ("colour", "washed", "skinned"):  # the server serves them from its output folder
        query = urllib.parse.urlencode({"filename": f"{name}.glb", "subfolder": "pv3d", "type": "output"})
        assert server.request(f"/view?{query}")[:4] == b"glTF", f"{output} is not the server's output folder"
    times = [0.0, float(anim.frame_times[SWING])]
    spec = {"models": [{"name": name, "file": f"pv3d/{name}.glb", "times": times} for name in ("colour", "washed", "skinned")]}
    pictures = Path(os.environ.get("ACTIONMESH_SCREENSHOTS") or tmp_path_factory.mktemp("preview3d"))
    pictures.mkdir(parents=True, exist_ok=True)
    spec_file = pictures / "preview3d_spec.json"
    spec_file.write_text(json.dumps(spec))
    run = subprocess.run(["node", str(DRIVER), server.url, str(spec_file), str(pictures)], capture_output=True,
                         text=True, timeout=400, check=False, cwd=DRIVER.parent)
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["errors"] == [], report["errors"]
    return report["models"]


def pixels(path: str) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB")).astype(np.float64)


def shown_ratio(colour, shading: np.ndarray, linear_input: bool) -> np.ndarray:
    """(green or red)/(strongest channel) as three.js shows `colour` lit by `shading` (a white light, linear
    factors): COLOR_0 read as linear light (linear_input) or, the old bug, our sRGB bytes read as linear."""
    linear = srgb_to_linear(np.asarray(colour, np.uint8)) if linear_input else np.asarray(colour) / 255.0
    srgb = np.sort(linear_to_srgb(shading[:, None] * linear).astype(np.float64), axis=1)
    return srgb[:, 1] / srgb[:, 2]  # the middle channel over the strongest one


def part_colours(path: str) -> dict[str, np.ndarray]:
    """The reddish and the bluish pixels of a picture, (n, 3) sRGB each."""
    image = pixels(path)
    strongest = {"red": 0, "blue": 2}
    parts = {}
    for part, channel in strongest.items():
        others = np.delete(image, channel, axis=2).max(axis=2)
        parts[part] = image[(image[..., channel] > 40) & (image[..., channel] > 1.4 * others)]
    return parts


def shown_in_linear_light(colours: np.ndarray, base) -> tuple[bool, float, np.ndarray, np.ndarray]:
    """Whether pixels of a part coloured `base` show its COLOR_0 as linear light: their median middle channel over
    strongest one (what a washed-out display raises; a white light of any strength keeps it) is in the range of
    `base` lit from dim to bright and well below that of the bytes shown as linear. Also the median and both ranges."""
    shading = np.linspace(0.15, 1.3, 50)
    right, washed = shown_ratio(base, shading, True), shown_ratio(base, shading, False)
    assert right.max() < washed.min()  # the two can be told apart
    channels = np.sort(colours, axis=1)
    measured = float(np.median(channels[:, 1] / channels[:, 2]))
    return right.min() - 0.05 <= measured <= (right.max() + washed.min()) / 2, measured, right, washed


def test_core_preview3d_shows_the_vertex_colours_in_linear_light(shown):
    colour = shown["colour"]
    assert colour["loaded"]["vertexColors"] >= 1 and colour["loaded"]["morphTargets"] > 0, colour["loaded"]
    parts = part_colours(colour["poses"][0]["file"])
    assert len(parts["red"]) > 500 and len(parts["blue"]) > 200, {k: len(v) for k, v in parts.items()}
    for part, base in (("red", RED), ("blue", BLUE)):
        linear, measured, right, washed = shown_in_linear_light(parts[part], base)
        assert linear, (part, measured, right, washed)


def test_the_colour_check_fails_on_washed_out_colours(shown):
    """The old bug (sRGB bytes written as linear COLOR_0) drawn by the same viewer: the check above says no."""
    parts = part_colours(shown["washed"]["poses"][0]["file"])
    for part, base in (("red", RED), ("blue", BLUE)):
        linear, measured, right, washed = shown_in_linear_light(parts[part], base)
        assert not linear and len(parts[part]) > 200, (part, measured, right, washed)


def test_core_preview3d_plays_the_skin(shown):
    skinned = shown["skinned"]
    loaded = skinned["loaded"]
    assert loaded["skinned"] >= 1 and loaded["bones"] == 3 and loaded["morphTargets"] == 0, loaded
    assert skinned["played"]["playing"] and skinned["played"]["time"] > 0, skinned["played"]  # Play in the UI
    start, swung = (pixels(pose["file"]) for pose in skinned["poses"])
    changed = np.abs(start - swung).max(axis=2) > 40
    # the arm (blue) moves: the changed pixels are mostly where the arm is in one of the two pictures
    arm = [(image[..., 2] > 40) & (image[..., 2] > 1.4 * np.maximum(image[..., 0], image[..., 1]))
           for image in (start, swung)]
    assert changed.sum() > 300, changed.sum()
    assert (changed & (arm[0] | arm[1])).sum() > 0.5 * changed.sum(), ((changed & (arm[0] | arm[1])).sum(),
                                                                         changed.sum())
    # the skin's colours are shown too (COLOR_0 in the skinned writer)
    assert arm[0].sum() > 200
