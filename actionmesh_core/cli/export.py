"""`actionmesh export RESULT.npz --format glb|usd|usdz|frames|obj|ply|npz|mp4 --out PATH`."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..animated_mesh import AnimatedMesh
from ..errors import InputError
from ..export.formats import FORMATS, export_animated_mesh


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "export",
        help="write a saved result (.npz) as GLB, USD, per-frame meshes or a preview video",
        description="Write an animated mesh saved earlier (.npz) in another format. Without --format "
        "the format follows the suffix of --out.",
    )
    parser.add_argument("result", type=Path, help="an animated mesh saved as .npz")
    parser.add_argument("--out", type=Path, required=True, help="output file (a folder for frames/obj/ply)")
    parser.add_argument("--format", choices=sorted(FORMATS), help="output format")
    parser.add_argument(
        "--interpolation",
        choices=("smooth", "hold"),
        help="glb: cross-fade between frames (smooth, default) or hold each frame",
    )
    parser.add_argument(
        "--normals",
        action=argparse.BooleanOptionalAction,
        help="glb/usd: write vertex normals (default: off for glb, on for usd)",
    )
    parser.add_argument("--size", type=int, help="mp4: render size in pixels (default 256)")
    parser.add_argument("--mode", choices=("shaded", "normals"), help="mp4: shading (default shaded)")
    parser.add_argument(
        "--views",
        type=_angles,
        dest="azimuths",
        help="mp4: comma-separated camera azimuths in degrees, e.g. 0,90,180 (default 0)",
    )
    parser.add_argument("--elevation", type=float, dest="elevation_deg", help="mp4: camera elevation in degrees")
    parser.add_argument("--fps", type=float, help="mp4: playback rate (default: the result's fps)")
    parser.set_defaults(func=run)


def _angles(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def run(args: argparse.Namespace) -> int:
    fmt = args.format or args.out.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise InputError(f"give --format (one of {', '.join(FORMATS)}); the suffix of {args.out} does not name one")
    option_names = ("interpolation", "normals", "size", "mode", "azimuths", "elevation_deg", "fps")
    options = {name: getattr(args, name) for name in option_names if getattr(args, name) is not None}
    path = export_animated_mesh(AnimatedMesh.load(args.result), fmt, args.out, **options)
    print(path)
    return 0
