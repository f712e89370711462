"""Baked textures: new UVs from xatlas (a maintained unwrapper; optional extra `.[texture]`), the surface point
under every texel, and the finished image (seen colours blended over the filled vertex colours, the empty texels
around the charts filled from their nearest chart texel so mipmaps and bilinear filtering never show a seam)."""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import ndimage

from ..animated_mesh import AnimatedMesh, Material
from ..errors import ActionMeshError, InputError
from ..render.texels import rasterize_uv

MIN_SIZE, MAX_SIZE = 64, 4096
CHART_PADDING = 2
"""Texels left between the charts of the atlas."""
VERTEX_PRIOR = 0.05
"""Weight of the (filled) vertex colour in each texel, against the summed trust of the frames that see it: a texel
seen well keeps the video's colour, one never seen takes the vertex colours around it."""


def check_texture_size(size) -> int:
    """`size` if it is a power of two in [MIN_SIZE, MAX_SIZE], else an InputError saying what to give."""
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not MIN_SIZE <= size <= MAX_SIZE \
            or size & (size - 1):
        raise InputError(f"texture size must be a power of two from {MIN_SIZE} to {MAX_SIZE} pixels (e.g. 1024), "
                         f"got {size!r}")
    return int(size)


def unwrap(anim: AnimatedMesh, size: int) -> AnimatedMesh:
    """`anim` with new UVs from xatlas, packed for a size x size texture: vertices split along the new seams
    (vertices (T, V', 3), faces, `merge_map` to the model's vertices, vertex colours carried), no materials."""
    try:
        import xatlas
    except ImportError:
        raise ActionMeshError("a baked texture needs xatlas: pip install xatlas (or the pack's extra: "
                              "pip install 'comfyui-actionmesh[texture]'), or colour the vertices instead") from None
    atlas = xatlas.Atlas()
    atlas.add_mesh(anim.vertices[0], anim.faces.astype(np.uint32))
    pack = xatlas.PackOptions()
    pack.resolution, pack.padding, pack.bilinear = size, CHART_PADDING, True
    atlas.generate(pack_options=pack)
    vmapping, indices, uvs = atlas[0]
    vmapping = np.asarray(vmapping, np.int64)
    merge_map = vmapping if anim.merge_map is None else anim.merge_map[vmapping]
    colors = None if anim.vertex_colors is None else anim.vertex_colors[vmapping]
    return dataclasses.replace(anim, vertices=anim.vertices[:, vmapping], faces=np.asarray(indices, np.int64),
                               uvs=np.asarray(uvs, np.float32), vertex_colors=colors, merge_map=merge_map,
                               materials=None, face_materials=None)


@dataclasses.dataclass
class Texels:
    """The texels of a size x size texture that a face covers: row, col (N,), their face (N,) and barycentric
    coordinates (N, 3) in it."""

    size: int
    row: np.ndarray
    col: np.ndarray
    face: np.ndarray
    bary: np.ndarray

    def positions(self, vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
        """(N, 3) points under the texels of one frame's vertices (V, 3)."""
        return np.einsum("nkc,nk->nc", vertices[faces[self.face]], self.bary)

    def normals(self, vertex_normals: np.ndarray, faces: np.ndarray) -> np.ndarray:
        """(N, 3) unit normals interpolated from one frame's vertex normals (V, 3)."""
        normals = self.positions(vertex_normals, faces)
        return normals / np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)


def texels_of(uvs: np.ndarray, faces: np.ndarray, size: int) -> Texels:
    face, bary = rasterize_uv(uvs, faces, size)
    row, col = np.nonzero(face >= 0)
    return Texels(size, row, col, face[row, col], bary[row, col])


def bake(texels: Texels, seen_colours: np.ndarray, seen_weights: np.ndarray, vertex_colours: np.ndarray,
         faces: np.ndarray) -> np.ndarray:
    """The (size, size, 3) uint8 texture: each covered texel's seen colour (N, 3), by its trust (N,), blended with
    the filled vertex colours (V, 3) interpolated there; every other texel takes its nearest covered one."""
    prior = texels.positions(vertex_colours, faces)
    colours = (seen_colours * seen_weights[:, None] + VERTEX_PRIOR * prior) / (seen_weights + VERTEX_PRIOR)[:, None]
    image = np.zeros((texels.size, texels.size, 3), np.float64)
    covered = np.zeros((texels.size, texels.size), bool)
    image[texels.row, texels.col] = colours
    covered[texels.row, texels.col] = True
    if covered.any():
        _, (rows, cols) = ndimage.distance_transform_edt(~covered, return_indices=True)
        image = image[rows, cols]
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def baked_material(anim: AnimatedMesh, texture: np.ndarray) -> Material:
    """A plain double-sided material whose base colour is `texture`."""
    return Material(name=f"{anim.name}_video", base_color=np.ones(4), metallic=0.0, roughness=0.8, double_sided=True,
                    base_color_texture=texture)
