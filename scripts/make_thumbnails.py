"""Draw the workflows' thumbnails (workflows/<name>.jpg, 320x180) from real results of the bundled small model
on the example inputs: an input frame, then the animated mesh at two frames (the camera of the clip).

    python scripts/make_thumbnails.py
"""

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from actionmesh_core.data.clips import HELD_OUT_SEED, make_clip
from actionmesh_core.inputs.load import load_clip
from actionmesh_core.pipeline import Settings, animate, bundled_models
from actionmesh_core.render.compose import over_background
from actionmesh_core.render.preview import render_views

ROOT = Path(__file__).resolve().parents[1]
INPUTS = ROOT / "workflows" / "inputs"
TITLES = {"video_to_4d": "Video -> 4D", "video_to_4d_simple": "Video -> 4D (one node)",
          "video_mesh_to_4d": "{Video + mesh} -> 4D", "long_video_ar_extend": "Long video, AR Extend",
          "motion_transfer": "Motion transfer", "image_text_to_4d": "Image + text -> video -> 4D",
          "text_to_4d": "Text -> video -> 4D"}
MESHES = {"video_mesh_to_4d": INPUTS / "3d" / "actionmesh_example_mesh.glb",
          "motion_transfer": INPUTS / "3d" / "actionmesh_example_target.glb"}


def thumbnail(title: str, frame: np.ndarray, renders: list[np.ndarray]) -> Image.Image:
    """A 320x180 card: the title, the input frame, an arrow and the renders (each 100x100, on white)."""
    card = Image.new("RGB", (320, 180), "white")
    draw = ImageDraw.Draw(card)
    draw.text((8, 6), title, fill=(30, 30, 30))
    draw.text((8, 162), "ActionMesh (bundled small model)", fill=(120, 120, 120))
    tiles = [over_background(frame[None])[0]] + [over_background(r[None])[0] for r in renders]
    for k, tile in enumerate(tiles):
        card.paste(Image.fromarray(tile).resize((96, 96), Image.LANCZOS), (8 + k * 104 + (8 if k else 0), 42))
    draw.text((104, 84), "->", fill=(30, 30, 30))
    return card


def main() -> None:
    models = bundled_models(device="cpu", dtype="fp32")
    settings = Settings.resolve(models.recommended)
    camera = make_clip(HELD_OUT_SEED + 3).camera  # the example clip's (scripts/make_example_clip.py)
    clip = load_clip(INPUTS / "actionmesh_example.webm")
    rgba = clip.rgba
    results = {}
    for name, title in TITLES.items():
        mesh = MESHES.get(name)
        if mesh not in results:
            results[mesh] = animate(clip, models, settings, mesh=mesh)
        views = render_views(results[mesh], azimuths=(camera.azimuth,), elevation_deg=camera.elevation, size=128)[0]
        picks = [len(views) // 3, 2 * len(views) // 3]
        thumbnail(title, rgba[picks[0]], [views[k] for k in picks]).save(ROOT / "workflows" / f"{name}.jpg", quality=90)
        print(f"workflows/{name}.jpg")


if __name__ == "__main__":
    main()
