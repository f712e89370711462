"""Run inside Blender: import a skinned GLB and write, for every key of its action, the evaluated (armature-
deformed) mesh's world-space vertex positions in glTF coordinates, plus what was imported.

    blender -b --factory-startup --python tests/blender_skinned_glb.py -- IN.glb OUT.npz

OUT.npz: positions (K, V, 3) float64 (glTF axes: +Y up), frames (K,) the Blender frames evaluated,
bones (the armature's bone names, JSON), rest (V, 3) the imported rest pose (glTF axes).
"""

import json
import sys

import numpy

numpy.bool = bool  # Blender 3.4's glTF importer still uses the alias numpy >= 1.24 removed

import bpy  # noqa: E402 - Blender's module, available only inside Blender

source, target = sys.argv[sys.argv.index("--") + 1:][:2]
bpy.ops.wm.read_factory_settings(use_empty=True)
bpy.ops.import_scene.gltf(filepath=source)
armatures = [obj for obj in bpy.context.scene.objects if obj.type == "ARMATURE"]
meshes = [obj for obj in bpy.context.scene.objects if obj.type == "MESH"]
assert len(armatures) == 1 and len(meshes) == 1, (armatures, meshes)
armature, mesh = armatures[0], meshes[0]
assert any(modifier.type == "ARMATURE" for modifier in mesh.modifiers), "the mesh is not skinned"
action = armature.animation_data.action
frames = sorted({round(point.co[0], 4) for curve in action.fcurves for point in curve.keyframe_points})


def gltf_axes(points):
    """Blender's +Z-up world back to glTF's +Y-up (the importer maps glTF (x, y, z) to (x, -z, y))."""
    return numpy.stack([points[:, 0], points[:, 2], -points[:, 1]], axis=1)


def world_vertices(obj):
    depsgraph = bpy.context.evaluated_depsgraph_get()
    evaluated = obj.evaluated_get(depsgraph)
    data = evaluated.to_mesh()
    local = numpy.array([vertex.co[:] for vertex in data.vertices], numpy.float64)
    evaluated.to_mesh_clear()
    matrix = numpy.array(obj.matrix_world, numpy.float64)
    return gltf_axes(local @ matrix[:3, :3].T + matrix[:3, 3])


positions = []
for frame in frames:
    whole = int(numpy.floor(frame))
    bpy.context.scene.frame_set(whole, subframe=frame - whole)
    positions.append(world_vertices(mesh))
rest = gltf_axes(numpy.array([vertex.co[:] for vertex in mesh.data.vertices], numpy.float64))
numpy.savez(target, positions=numpy.stack(positions), frames=numpy.array(frames), rest=rest,
            bones=numpy.array(json.dumps([bone.name for bone in armature.data.bones])))
