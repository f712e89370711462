"""Render the bundled example clip: one held-out synthetic clip (`actionmesh_core.data`) as 16 RGBA frames.

    python scripts/make_example_clip.py [--seed SEED] [--out OUT_DIR]

The default seed is a held-out clip (seeds from HELD_OUT_SEED on are never trained on).
"""

import argparse
from pathlib import Path

from PIL import Image

from actionmesh_core.data.clips import HELD_OUT_SEED, make_clip
from actionmesh_core.io.atomic import atomic_dir

DEFAULT_SEED = HELD_OUT_SEED + 4
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "actionmesh_core" / "assets" / "example_clip"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"clip seed (default {DEFAULT_SEED})")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: the bundled clip)")
    args = parser.parse_args()
    clip = make_clip(args.seed)
    readme = args.out / "README.md"
    notes = readme.read_text() if readme.is_file() else None
    with atomic_dir(args.out) as tmp:
        for k, rgba in enumerate(clip.render()):
            Image.fromarray(rgba).save(tmp / f"frame_{k:02d}.png")
        if notes is not None:
            (tmp / "README.md").write_text(notes)
    print(f"wrote {clip.num_frames} frames of clip {args.seed} ({clip.category}) to {args.out}")


if __name__ == "__main__":
    main()
