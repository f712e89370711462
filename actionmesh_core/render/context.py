"""One headless OpenGL context per process (creating an EGL context takes seconds).

EGL gives the NVIDIA driver on a GPU machine and Mesa's llvmpipe rasteriser on a CPU-only one.
Use it as `with gl_context() as ctx: ...`: the lock makes one thread render at a time and the
context is made current in that thread.
"""

from __future__ import annotations

import contextlib
import itertools
import os
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


SOFTWARE_RENDERERS = ("llvmpipe", "softpipe", "swrast")


def _create():
    """A context on the first EGL device that is not a software rasteriser, else on device 0.

    EGL lists the devices of every installed driver (the NVIDIA driver's GPUs, Mesa's software
    device), in the order libglvnd finds the drivers, so device 0 need not be the GPU. The search
    stops at the first index that gives no context (past the last device). GLCONTEXT_DEVICE_INDEX,
    when set, picks the device instead.
    """
    if os.environ.get("GLCONTEXT_DEVICE_INDEX"):
        return _context_on(None)
    first = _context_on(0)
    if not is_software_renderer(first.info["GL_RENDERER"]):
        return first
    for index in itertools.count(1):
        try:
            ctx = _context_on(index)
        except ActionMeshError:
            return first
        if not is_software_renderer(ctx.info["GL_RENDERER"]):
            first.release()
            return ctx
        ctx.release()


def _context_on(device_index: int | None):
    import moderngl

    try:
        ctx = moderngl.create_standalone_context(backend="egl", require=330, device_index=device_index)
    except Exception as exc:  # noqa: BLE001 - glcontext raises bare Exceptions for every EGL failure
        raise ActionMeshError(f"could not create an OpenGL context ({exc}): {EGL_HELP}") from None
    ctx.gc_mode = "auto"
    return ctx


def is_software_renderer(name: str) -> bool:
    """Whether an OpenGL renderer string names a CPU rasteriser (Mesa's llvmpipe and kin)."""
    return any(software in name.lower() for software in SOFTWARE_RENDERERS)


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
