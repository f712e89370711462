"""A skinned GLB played in headless Chromium: by three.js (GLTFLoader + AnimationMixer, the library of ComfyUI's
core Preview 3D), whose skinned vertices must land where our linear blend skinning puts them and whose bones
must move; and by the pack's in-node player (web/actionmesh_preview.js, skinning in its vertex shader), whose
drawings must match its drawings of a morph-target GLB of the same motion. Opt-in: skipped without Node.js,
Chromium and the npm packages of tests/js (`npm install` there, plus `npm install --no-save playwright-core`)."""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest
from skinning_fixtures import two_part_clip

from actionmesh_core.animated_mesh import AnimatedMesh
from actionmesh_core.export.formats import export_animated_mesh, export_skinned_mesh

JS = Path(__file__).parent / "js"
PLAYER = Path(__file__).parents[1] / "web" / "actionmesh_preview.js"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
PAGE = """<!doctype html><html><body style="margin:0">
<script type="importmap">{"imports": {"three": "/three/build/three.module.js", "three/addons/": "/three/examples/jsm/"}}
</script>
<script type="module">
import * as THREE from "three";
import { GLTFLoader } from "three/addons/loaders/GLTFLoader.js";
await import("/extensions/actionmesh/actionmesh_preview.js");  // registers itself through /scripts/app.js
const extension = window.registeredExtension;
function NodeType() {}
NodeType.prototype.addDOMWidget = function (name, type, element) {
  element.style.width = "400px";
  element.style.height = "400px";
  document.body.append(element);
  return {};
};
NodeType.prototype.setSize = function () {};
await extension.beforeRegisterNodeDef(NodeType, { name: "ActionMeshPreviewAnimatedMesh" });
window.harness = {
  THREE, GLTFLoader,
  newPlayer() { const node = new NodeType(); node.onNodeCreated(); return node.actionmeshViewer; },
};
window.harnessReady = true;
</script></body></html>"""
STAND_INS = {  # ComfyUI's frontend modules, as far as the player uses them
    "scripts/app.js": "export const app = { registerExtension(extension) { window.registeredExtension = extension; } };",
    "scripts/api.js": "export const api = { apiURL: (path) => path, fetchApi: (path, options) => fetch(path, options) };",
}


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        return None


def _missing() -> str | None:
    if shutil.which("node") is None:
        return "Node.js"
    if not os.access(CHROMIUM, os.X_OK):
        return "Chromium (apt-get install chromium)"
    for package in ("playwright-core", "three"):
        if not (JS / "node_modules" / package).is_dir():
            return f"the npm package {package} in tests/js (npm install; npm install --no-save playwright-core)"
    return None


pytestmark = pytest.mark.skipif(_missing() is not None, reason=f"needs {_missing()}")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A folder served on localhost: the page, the player, the stand-ins, three.js and the two GLBs."""
    root = tmp_path_factory.mktemp("site")
    (root / "index.html").write_text(PAGE)
    (root / "favicon.ico").write_bytes(b"")
    for name, text in STAND_INS.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    (root / "extensions" / "actionmesh").mkdir(parents=True)
    shutil.copy(PLAYER, root / "extensions" / "actionmesh" / PLAYER.name)
    (root / "three").symlink_to(JS / "node_modules" / "three")
    anim = two_part_clip(num_frames=12).watertight_animation(resolution=32)
    report = export_skinned_mesh(anim, "skinned-glb", root / "skinned.glb", bones=2)
    played = AnimatedMesh(report.fit.rig.positions(), anim.faces, fps=anim.fps, vertex_colors=anim.vertex_colors)
    export_animated_mesh(played, "glb", root / "morph.glb")
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", anim, report
    server.shutdown()


@pytest.fixture(scope="module")
def played(served, tmp_path_factory):
    url, anim, report = served
    frames = [0, 3, 6, anim.num_frames - 1]  # the arm swings up (3), back (6), then home (11)
    spec = {"skinned": "/skinned.glb", "morph": "/morph.glb", "frames": frames,
            "times": anim.frame_times[frames].tolist(), "vertices": list(range(0, anim.num_vertices, 7)),
            "distance": 3.0}
    spec_file = tmp_path_factory.mktemp("spec") / "spec.json"
    spec_file.write_text(json.dumps(spec))
    run = subprocess.run(["node", str(JS / "skinned_players.mjs"), f"{url}/index.html", str(spec_file)],
                         capture_output=True, text=True, timeout=600, check=False, cwd=JS)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["errors"] == []
    return spec, result, anim, report


def test_three_js_moves_the_bones_and_the_vertices_as_ours(played):
    spec, result, anim, report = played
    three = result["three"]
    assert three["skinned"] and three["clips"] == 1
    assert three["boneNames"] == ["root"] + report.fit.rig.bone_names()
    assert three["duration"] == pytest.approx(anim.frame_times[-1], abs=1e-6)
    expected = report.fit.rig.positions()[spec["frames"]][:, spec["vertices"]]
    vertices = np.array([frame["vertices"] for frame in three["frames"]])
    np.testing.assert_allclose(vertices, expected, atol=1e-4)
    bones = np.array([frame["bones"] for frame in three["frames"]])  # (frames, joints, 3)
    assert np.abs(bones[1:, 1:] - bones[:1, 1:]).max() > 0.05  # the bone joints move (the root does not)
    np.testing.assert_allclose(bones[:, 0], 0.0, atol=1e-7)


def test_the_in_node_player_plays_the_skin_as_the_same_motion_in_morph_targets(played):
    spec, result, anim, _ = played
    info, compared = result["player"]["info"], result["player"]["compared"]
    assert info["skinned"]["skinned"] and not info["morph"]["skinned"]
    assert info["skinned"]["frames"] == info["morph"]["frames"] == anim.num_frames
    assert len(compared) == len(spec["frames"])
    assert min(shot["drawn"] for shot in compared) > 0.02  # the mesh is drawn in every shot
    assert max(shot["differs"] for shot in compared) < 0.005, compared  # the shader's skinning: the same motion
    assert compared[1]["moved"] > 0.01  # and it does move (frame 3 against frame 0)
