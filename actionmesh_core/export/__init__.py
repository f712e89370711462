"""Writing an `AnimatedMesh`: animated GLB, USD/USDZ, per-frame mesh files, npz and preview mp4, behind one
dispatcher (`export_animated_mesh`). Exporters may use `render` (previews); nothing below imports them."""

from .formats import FORMATS, export_animated_mesh

__all__ = ["FORMATS", "export_animated_mesh"]
