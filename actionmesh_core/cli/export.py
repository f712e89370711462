"""`actionmesh export RESULT.npz --format glb|usd|usdz|frames|obj|ply|npz|mp4|skinned-glb|usdskel --out PATH`."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..animated_mesh import AnimatedMesh
from ..errors import InputError
from ..export.formats import FORMATS, export_animated_mesh, export_skinned_mesh
from .run_options import add_skin_options, skin_options_from


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "export",
        help="write a saved result (.npz) as GLB, USD, per-frame meshes, a skinned GLB/UsdSkel or a preview video",
        description="Write an animated mesh saved earlier (.npz) in another format. Without --format "
        "the format follows the suffix of --out. skinned-glb and usdskel fit bones and weights to the animation "
        "(linear blend skinning, for game engines) and print the bone count, error and file size.",
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
        help="glb/usd: write vertex normals (default: off for glb, on for usd and the skinned formats)",
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
    add_skin_options(parser)
    parser.add_argument("--device", help="skinned formats: torch device of the bone fit (default cpu; e.g. cuda)")
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
    anim = AnimatedMesh.load(args.result)
    if FORMATS[fmt].skinned:
        report = export_skinned_mesh(anim, fmt, args.out, **options, **skin_options_from(args, seed=args.seed,
                                                                                           device=args.device))
        print(report.summary())
        print(report.path)
        return 0
    print(export_animated_mesh(anim, fmt, args.out, **options))
    return 0
