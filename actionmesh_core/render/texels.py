"""Which surface point each texel of a texture shows: the UV layout rasterised on the shared EGL context."""

from __future__ import annotations

import contextlib

import numpy as np

from ..errors import InputError
from .context import gl_context

VERTEX_SHADER = """
#version 330
in vec2 in_uv;
in vec3 in_bary;
out vec3 v_bary;
void main() {
    v_bary = in_bary;
    gl_Position = vec4(in_uv.x * 2.0 - 1.0, 1.0 - in_uv.y * 2.0, 0.0, 1.0);  // v down: row 0 is v = 0
}
"""

FRAGMENT_SHADER = """
#version 330
in vec3 v_bary;
out vec4 texel;
void main() {
    texel = vec4(float(gl_PrimitiveID), v_bary);
}
"""

_PROGRAMS: dict[int, object] = {}


def rasterize_uv(uvs: np.ndarray, faces: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The face and barycentric coordinates under the centre of every texel of a size x size texture.

    uvs: (V, 2) texture coordinates (glTF convention: v down, row 0 of the image is v = 0); faces: (F, 3).
    Returns face (size, size) int64 (-1 where no face covers the texel's centre) and barycentric
    coordinates (size, size, 3) float32 of the texel centre in that face (zeros where none).
    """
    uvs = np.asarray(uvs, np.float32)
    faces = np.asarray(faces, np.int64)
    if uvs.ndim != 2 or uvs.shape[1] != 2 or faces.ndim != 2 or faces.shape[1] != 3:
        raise InputError(f"rasterize_uv needs (V, 2) uvs and (F, 3) faces, got {uvs.shape} and {faces.shape}")
    if len(faces) >= 2**24:
        raise InputError(f"{len(faces)} faces are too many to bake (at most {2**24 - 1})")
    corners = np.ascontiguousarray(uvs[faces].reshape(-1, 2))
    barys = np.ascontiguousarray(np.tile(np.eye(3, dtype=np.float32), (len(faces), 1)))
    with gl_context() as ctx, contextlib.ExitStack() as owned:

        def own(resource):
            owned.callback(resource.release)
            return resource

        if id(ctx) not in _PROGRAMS:
            _PROGRAMS[id(ctx)] = ctx.program(vertex_shader=VERTEX_SHADER, fragment_shader=FRAGMENT_SHADER)
        program = _PROGRAMS[id(ctx)]
        vao = own(ctx.vertex_array(program, [(own(ctx.buffer(corners.tobytes())), "2f", "in_uv"),
                                             (own(ctx.buffer(barys.tobytes())), "3f", "in_bary")]))
        target = own(ctx.framebuffer(own(ctx.renderbuffer((size, size), 4, dtype="f4"))))
        target.use()
        target.clear(-1.0, 0.0, 0.0, 0.0)
        ctx.disable(ctx.DEPTH_TEST)
        vao.render()
        ctx.enable(ctx.DEPTH_TEST)
        texels = np.frombuffer(target.read(components=4, dtype="f4"), np.float32).reshape(size, size, 4)[::-1]
    face = np.rint(texels[..., 0]).astype(np.int64)
    bary = np.where(face[..., None] >= 0, texels[..., 1:], 0.0).astype(np.float32)
    return face, bary
