"""Draw the workflows' thumbnails (workflows/<title>.jpg, 320x180, the template browser's cards) from real results of
the bundled small model on the example inputs. Each card shows what its workflow does: its inputs on the left, then
what comes out (the stages of the step-by-step graph and its overlay, the textured mesh of {video + mesh}, the other
object of motion transfer, the frames over time of the long video, the prompt of the text and image graphs).

    python scripts/make_thumbnails.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from actionmesh_core.data.clips import HELD_OUT_SEED, make_clip
from actionmesh_core.inputs.load import load_clip
from actionmesh_core.io.mesh_file import load_user_mesh
from actionmesh_core.pipeline import Settings, animate, bundled_models, prepare_frames
from actionmesh_core.pipeline.run import make_reference
from actionmesh_core.render.compose import over_background
from actionmesh_core.render.preview import render_views
from actionmesh_core.video_fit import VideoFit, render_overlay

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / "workflows"
INPUTS = WORKFLOWS / "inputs"
MESH, TARGET = INPUTS / "3d" / "actionmesh_example_mesh.glb", INPUTS / "3d" / "actionmesh_example_target.glb"
SIZE, TILE = (320, 180), 84
INK, QUIET, ACCENT = (30, 30, 30), (120, 120, 120), (176, 102, 52)


def font(size: int):
    return ImageFont.load_default(size=size)


class Card:
    """A 320x180 card: a title, a row of tiles with arrows and captions, a footer."""

    def __init__(self, title: str):
        self.image = Image.new("RGB", SIZE, "white")
        self.draw = ImageDraw.Draw(self.image)
        self.draw.text((10, 8), title, fill=INK, font=font(17))
        self.draw.text((10, 158), "ActionMesh, bundled small model", fill=QUIET, font=font(11))
        self.x = 10

    def tile(self, rgba: np.ndarray, caption: str = "", size: int = TILE) -> None:
        picture = Image.fromarray(over_background(tight(rgba)[None])[0]).resize((size, size), Image.LANCZOS)
        self.image.paste(picture, (self.x, 50 + (TILE - size) // 2))
        if caption:
            self.draw.text((self.x + size // 2, 50 + TILE + 6), caption, fill=QUIET, font=font(11), anchor="ma")
        self.x += size + 4

    def text_tile(self, text: str, width: int = TILE) -> None:
        self.draw.rounded_rectangle((self.x, 50, self.x + width, 50 + TILE), 6, outline=QUIET, fill=(246, 246, 246))
        words, lines, line = text.split(), [], ""
        for word in words:
            if self.draw.textlength(f"{line} {word}", font=font(11)) > width - 10:
                lines.append(line)
                line = word
            else:
                line = f"{line} {word}".strip()
        self.draw.multiline_text((self.x + 5, 55), "\n".join(lines + [line]), fill=INK, font=font(11), spacing=2)
        self.x += width + 4

    def arrow(self, label: str = "") -> None:
        y = 50 + TILE // 2
        self.draw.line((self.x + 2, y, self.x + 18, y), fill=ACCENT, width=2)
        self.draw.polygon([(self.x + 18, y - 4), (self.x + 24, y), (self.x + 18, y + 4)], fill=ACCENT)
        if label:
            self.draw.text((self.x + 13, y - 18), label, fill=ACCENT, font=font(10), anchor="ma")
        self.x += 28

    def save(self, path: Path) -> None:
        self.image.save(path, quality=90)


def tight(rgba: np.ndarray, margin: float = 0.08) -> np.ndarray:
    """The square around the picture's opaque part, with a margin (transparent where it leaves the picture)."""
    rows, cols = np.nonzero(rgba[..., 3] > 0)
    if len(rows) == 0:
        return rgba
    half = max(rows.max() - rows.min(), cols.max() - cols.min()) / 2 * (1 + 2 * margin) + 1
    centre = ((rows.min() + rows.max()) / 2, (cols.min() + cols.max()) / 2)
    padded = np.pad(rgba, ((int(half) + 1,) * 2, (int(half) + 1,) * 2, (0, 0)))
    top, left = (int(round(c - half)) + int(half) + 1 for c in centre)
    return padded[top:top + int(2 * half), left:left + int(2 * half)]


def views(anim, camera, frames, mode="shaded") -> list[np.ndarray]:
    rendered = render_views(anim, azimuths=(camera.azimuth,), elevation_deg=camera.elevation, size=160, mode=mode)[0]
    return [rendered[k] for k in frames]


def main() -> None:
    models = bundled_models(device="cpu", dtype="fp32")
    settings = Settings.resolve(models.recommended)
    camera = make_clip(HELD_OUT_SEED + 3).camera  # the example clip's (scripts/make_example_clip.py)
    clip = load_clip(INPUTS / "actionmesh_example.webm")
    rgba, last = clip.rgba, len(clip) - 1
    video = animate(clip, models, settings, video=VideoFit())  # registered and coloured, as the video workflows
    overlay = render_overlay(video, over_background(rgba), opacity=0.85)
    textured = animate(clip, models, settings, mesh=MESH)
    transfer = animate(clip, models, settings, mesh=TARGET)
    reference = make_reference(prepare_frames(clip, models), models, settings)
    normals = render_views(type(video)(vertices=reference.vertices[None], faces=reference.faces),
                           azimuths=(camera.azimuth,), elevation_deg=camera.elevation, size=160, mode="normals")[0][0]
    target_mesh = load_user_mesh(TARGET)
    subject = np.asarray(Image.open(INPUTS / "actionmesh_example_subject.png").convert("RGBA"))
    index = {entry["id"]: entry["title"] for entry in json.loads((WORKFLOWS / "api" / "index.json").read_text())}
    third, two_thirds = last // 3, 2 * last // 3

    cards = {}
    card = cards["video_to_4d_simple"] = Card("Video to 4D, one node")
    card.tile(rgba[third], "video")
    card.arrow()
    for k, view in zip((0, third, two_thirds), views(video, camera, (0, third, two_thirds))):
        card.tile(view, f"frame {k}", size=62)

    card = cards["video_to_4d"] = Card("Video to 4D, stage by stage")
    card.tile(rgba[0], "video", size=60)
    card.arrow("0")
    card.tile(normals, "reference", size=60)
    card.arrow("I-II")
    card.tile(views(video, camera, (two_thirds,))[0], "coloured", size=60)
    card.tile(np.dstack([overlay[two_thirds], rgba[two_thirds][..., 3:]]), "on video", size=60)

    card = cards["video_mesh_to_4d"] = Card("Video + your mesh to 4D")
    card.tile(rgba[third], "video", size=62)
    card.tile(views(textured, camera, (0,))[0], "your mesh", size=62)
    card.arrow()
    for view in views(textured, camera, (third, two_thirds)):
        card.tile(view, size=62)

    card = cards["motion_transfer"] = Card("Motion transfer: A's motion on B")
    card.tile(rgba[third], "A moves", size=62)
    target_view = render_views(type(video)(vertices=target_mesh.vertices[None], faces=target_mesh.faces,
                                           uvs=target_mesh.uvs, materials=target_mesh.materials,
                                           face_materials=target_mesh.face_materials),
                               azimuths=(camera.azimuth,), elevation_deg=camera.elevation, size=160)[0][0]
    card.tile(target_view, "mesh of B", size=62)
    card.arrow()
    for view in views(transfer, camera, (third, two_thirds)):
        card.tile(view, size=62)

    card = cards["long_video_ar_extend"] = Card("Long video: AR Extend")
    picks = np.linspace(0, last, 6).round().astype(int)
    for k, view in zip(picks, views(video, camera, picks)):
        card.tile(view, f"{k}", size=46)
    half = 10 + 3 * 50
    card.draw.line((12, 168 - 30, half - 4, 168 - 30), fill=(63, 120, 158), width=3)
    card.draw.line((half, 168 - 30, 10 + 6 * 50 - 4, 168 - 30), fill=ACCENT, width=3)
    card.draw.text((12, 168 - 48), "first part", fill=(63, 120, 158), font=font(10))
    card.draw.text((half, 168 - 48), "extended", fill=ACCENT, font=font(10))

    card = cards["text_to_4d"] = Card("Text to video to 4D (Wan 2.2)")
    card.text_tile("A colourful toy bird flaps its wings in place, plain white background", width=100)
    card.arrow("video")
    for view in views(video, camera, (third, two_thirds)):
        card.tile(view, size=70)

    card = cards["image_text_to_4d"] = Card("Image + text to 4D (Wan 2.2)")
    card.tile(subject, "image", size=66)
    card.text_tile("moves naturally in place", width=66)
    card.arrow("video")
    for view in views(video, camera, (third, two_thirds)):
        card.tile(view, size=66)

    for name, card in cards.items():
        card.save(WORKFLOWS / f"{index[name]}.jpg")
        print(f"workflows/{index[name]}.jpg")


if __name__ == "__main__":
    main()
