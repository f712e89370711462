"""One headless OpenGL context per process (creating an EGL context takes seconds).

EGL gives the NVIDIA driver on a GPU machine and Mesa's llvmpipe rasteriser on a CPU-only one.
Use it as `with gl_context() as ctx: ...`: the lock makes one thread render at a time and the
context is made current in that thread.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from ..errors import ActionMeshError

_LOCK = threading.RLock()
_CONTEXT = None

EGL_HELP = (
    "rendering needs OpenGL 3.3 through EGL (no display is used). Install the EGL and Mesa libraries: "
    "`apt-get install libegl1 libegl-mesa0 libgl1-mesa-dri` on Debian/Ubuntu, or "
    "`dnf install mesa-libEGL mesa-dri-drivers` on Fedora/RHEL; on a GPU machine the NVIDIA driver's "
    "EGL library (libEGL_nvidia) serves as well"
)


def _create():
    import moderngl

    try:
        ctx = moderngl.create_standalone_context(backend="egl", require=330)
    except Exception as exc:  # noqa: BLE001 - glcontext raises bare Exceptions for every EGL failure
        raise ActionMeshError(f"could not create an OpenGL context ({exc}): {EGL_HELP}") from None
    ctx.gc_mode = "auto"
    return ctx


@contextlib.contextmanager
def gl_context() -> Iterator[moderngl.Context]:  # noqa: F821 - moderngl is imported lazily
    """The process-wide moderngl context, current and locked for the calling thread."""
    global _CONTEXT
    with _LOCK:
        if _CONTEXT is None:
            _CONTEXT = _create()
        with _CONTEXT as ctx:
            yield ctx


def renderer_name() -> str:
    """The OpenGL renderer string, e.g. 'llvmpipe (LLVM 15.0.6, 256 bits)' or an NVIDIA GPU name."""
    with gl_context() as ctx:
        return ctx.info["GL_RENDERER"]
