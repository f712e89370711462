"""Writing an `AnimatedMesh`: animated GLB, USD/USDZ, per-frame mesh files, npz and preview mp4, behind one
dispatcher (`export_animated_mesh`), and skinned GLB / UsdSkel (`export_skinned_mesh`: bones fitted to the
animation first). Exporters may use `render` (previews); nothing below imports them."""

from .formats import FORMATS, SkinnedExport, export_animated_mesh, export_skinned_mesh

__all__ = ["FORMATS", "SkinnedExport", "export_animated_mesh", "export_skinned_mesh"]
