"""Opt-in: Blender imports the coloured, registered GLB with its vertex colours (a colour attribute) and the video
camera as an animated camera object that sits, frame by frame, where our cameras are. Skipped without `blender`
on PATH (Debian: `apt-get install blender python3-numpy`)."""

import json
import shutil
import subprocess
import textwrap

import numpy as np
import pytest

from actionmesh_core.base.colour_space import srgb_to_linear
from actionmesh_core.data.clips import HELD_OUT_SEED, make_clip
from actionmesh_core.export.gltf import write_animated_glb

BLENDER = shutil.which("blender")
pytestmark = pytest.mark.skipif(BLENDER is None, reason="blender is not installed")

SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy
    numpy.bool = bool  # Blender 3.4's glTF importer still uses the alias numpy 1.24 removed
    import bpy
    glb, out = sys.argv[sys.argv.index("--") + 1:]
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.import_scene.gltf(filepath=glb)
    mesh = next(o for o in bpy.context.scene.objects if o.type == "MESH")
    camera = next(o for o in bpy.context.scene.objects if o.type == "CAMERA")
    attributes = mesh.data.color_attributes
    colours = [list(value.color) for value in attributes[0].data] if len(attributes) else []
    action = camera.animation_data.action if camera.animation_data else None
    start, end = (int(v) for v in action.frame_range) if action else (0, 0)
    poses = []
    for frame in range(start, end + 1):
        bpy.context.scene.frame_set(frame)
        poses.append([list(row) for row in camera.matrix_world])
    json.dump({"camera": camera.name, "lens_type": camera.data.type, "sensor_fit": camera.data.sensor_fit,
               "angle_y": camera.data.angle_y, "angle_x": camera.data.angle_x, "action": action is not None,
               "colour_attributes": [a.name for a in attributes], "colours": colours, "poses": poses,
               "fps": bpy.context.scene.render.fps, "loops": len(mesh.data.loops)}, open(out, "w"))
""")

BLENDER_FROM_GLTF = np.array([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]])
"""Blender's importer turns glTF's +Y up into Blender's +Z up: (x, y, z) -> (x, -z, y)."""


def test_blender_imports_the_colours_and_the_animated_video_camera(tmp_path):
    anim = make_clip(HELD_OUT_SEED + 4, frames=4).animated_mesh(max_edge=0.3)
    glb = write_animated_glb(anim, tmp_path / "registered.glb")
    (tmp_path / "script.py").write_text(SCRIPT)
    run = subprocess.run([BLENDER, "-b", "--factory-startup", "--python", str(tmp_path / "script.py"), "--", str(glb),
                          str(tmp_path / "out.json")], capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0 and (tmp_path / "out.json").is_file(), run.stdout[-3000:] + run.stderr[-3000:]
    found = json.loads((tmp_path / "out.json").read_text())
    assert found["camera"] == "video_camera" and found["lens_type"] == "PERSP" and found["action"]
    assert found["angle_y"] == pytest.approx(anim.cameras.yfov, rel=1e-3)
    colours = np.array(found["colours"])
    assert found["colour_attributes"] and len(colours) in (anim.num_vertices, found["loops"])
    # Blender's colours are linear light: the parts' sRGB colours decoded (sRGB bytes written as they are would
    # come out washed out), every part's colour present
    parts = srgb_to_linear(np.unique(anim.vertex_colors[:, :3], axis=0))
    distance = np.linalg.norm(colours[:, None, :3] - parts[None], axis=-1)
    assert distance.min(axis=1).max() < 0.01 and (distance.min(axis=0) < 0.01).all()
    poses = np.array(found["poses"])
    assert len(poses) >= anim.num_frames
    ours = anim.cameras.camera_to_world()
    for k in range(anim.num_frames):  # frame k of the clip is Blender frame k + 1 at the clip's fps
        pose = poses[int(round(anim.frame_times[k] * found["fps"]))]
        np.testing.assert_allclose(pose[:3, 3], BLENDER_FROM_GLTF @ ours[k][:3, 3], atol=1e-4)
        for axis in (1, 2):  # up (+Y) and backward (+Z: the camera looks down -Z) in both
            np.testing.assert_allclose(pose[:3, axis], BLENDER_FROM_GLTF @ ours[k][:3, axis], atol=1e-4)
