"""Options shared by the commands that run the pipeline (video2mesh, batch, demo, extend, bench), and their
summary."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..animated_mesh import AnimatedMesh
from ..base.option_names import OptionNames
from ..errors import InputError, WeightsError
from ..export.outputs import DEFAULT_OUTPUTS
from ..models.attention import BACKENDS
from ..pipeline.model_set import BUNDLED_NAME, ModelSet, load_models, weights_root_from_env
from ..pipeline.progress import RunReport
from ..pipeline.settings import PRESETS, Settings
from ..render.camera import DEFAULT_FOV_DEG
from ..skinning import AUTO, DEFAULT_MAX_ERROR, DEFAULT_WORST_ERROR
from ..video_fit import COLOUR_CHOICES, VideoFit, default_colour

CLI_NAMES = OptionNames({
    "start": "--start", "end": "--end", "stride": "--stride", "max_frames": "--max-frames", "target_fps": "--fps",
    "max_side": "--max-side", "fps": None, "masks": "--masks", "low_vram": "--low-vram", "window": None,
    "mesh_resolution": "--mesh-resolution", "anchor_frame": "--anchor-frame", "seed": "--seed",
})
"""The options' names on the command line, for messages (`OptionNames`): the core's advice names these flags."""


def add_run_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("run")
    group.add_argument("--weights", type=Path, help=f"weights root (default: $ACTIONMESH_WEIGHTS), or "
                                                    f"'{BUNDLED_NAME}' for the small model bundled with the package; "
                                                    "see README 'Weights' (actionmesh weights download)")
    group.add_argument("--preset", choices=PRESETS, default="model default", type=preset_name,
                       help="where the settings you do not give come from: 'model default' (the default) = the "
                            "weights' recommendations (actionmesh.json) over the official values; 'official' = "
                            "100/30 steps, guidance 7.5; 'fast' = 50/15 steps; 'custom' = official values under "
                            "yours. --steps etc. always win")
    group.add_argument("--fast", action="store_true", help="the same as --preset fast (50 prior steps, 15 steps)")
    group.add_argument("--low-vram", action="store_true",
                       help="sequential guidance, one decoded frame at a time, models freed after each stage")
    group.add_argument("--seed", type=int, help="random seed (default 44, the official default)")
    group.add_argument("--steps", type=int, help="temporal diffusion steps (official 30, fast 15)")
    group.add_argument("--prior-steps", type=int, help="image-to-3D steps (official 100, fast 50)")
    group.add_argument("--guidance", type=float, help="guidance scale of both diffusion stages (official 7.5)")
    group.add_argument("--anchor-frame", type=int, help="frame the reference mesh comes from (default 0)")
    group.add_argument("--face-budget", type=int, help="decimate the reference mesh to this many faces (40000)")
    group.add_argument("--mesh-resolution", type=int, help="SDF grid cells per axis for the reference mesh")
    group.add_argument("--decode-memory-mb", type=int,
                       help="memory for temporal decoding's vertex queries at once (default 1024 on CPU, a quarter "
                            "of the free GPU memory): huge meshes are decoded in chunks that fit")
    group.add_argument("--device", help="cuda, cuda:1, mps or cpu (default: the best available)")
    group.add_argument("--dtype", choices=("bf16", "fp16", "fp32"), help="weights precision (default bf16 on GPU)")
    group.add_argument("--attention", choices=BACKENDS, default="auto", help="attention kernel")
    group.add_argument("--outputs", default=",".join(DEFAULT_OUTPUTS),
                       help="comma-separated: glb, frames, npz, usd, usdz, obj, ply, mp4, overlay, skinned_glb, usdskel "
                            "(default glb,frames,npz); overlay: overlay.mp4, the mesh drawn over the video; "
                            "skinned_glb / usdskel: bones and weights fitted to the animation (see --bones)")


def add_skin_options(parser: argparse.ArgumentParser, *, seed: bool = True) -> None:
    """The options of skinned exports (skinned-glb, usdskel): bone count or auto, error target, bone cap, seed."""
    group = parser.add_argument_group("skinned exports (skinned-glb, usdskel)")
    group.add_argument("--bones", type=_bone_count, default=AUTO,
                       help="number of bones, or 'auto' (default): the fewest bones that reach --max-error")
    group.add_argument("--max-error", type=float, default=DEFAULT_MAX_ERROR,
                       help=f"auto: the mean vertex error to reach, in %% of the bounding-box diagonal "
                            f"(default {DEFAULT_MAX_ERROR})")
    group.add_argument("--worst-error", type=_worst_error, default=DEFAULT_WORST_ERROR,
                       help=f"auto: the worst vertex error allowed, in %% of the bounding-box diagonal, or 'none' "
                            f"(the mean alone decides; default {DEFAULT_WORST_ERROR})")
    group.add_argument("--max-bones", type=int, default=64, help="auto: the most bones to try (default 64)")
    if seed:
        group.add_argument("--seed", type=int, default=0, help="seed of the bone placement (default 0)")


def skin_options_from(args: argparse.Namespace, **extra) -> dict:
    """The keyword options of `export_skinned_mesh` given on the command line."""
    return dict(bones=args.bones, max_error=args.max_error, worst_error=args.worst_error, max_bones=args.max_bones,
                **extra)


def _worst_error(text: str) -> float | None:
    return None if text.strip().lower() == "none" else float(text)


def _bone_count(text: str) -> int | str:
    if text.strip().lower() == AUTO:
        return AUTO
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of bones or 'auto', got {text!r}") from None


def add_video_options(parser: argparse.ArgumentParser, colours: tuple[str, ...] = COLOUR_CHOICES) -> None:
    group = parser.add_argument_group("video: cameras and colours")
    group.add_argument("--colour", choices=colours,
                       help="colours from the video: vertex colours, a baked texture, or none (cameras only). Default "
                            "vertex; with --mesh that has a texture or vertex colours, none (it keeps them)")
    group.add_argument("--texture-size", type=int, default=1024,
                       help="--colour texture: texture size in pixels, a power of two from 64 to 4096 (1024)")
    group.add_argument("--camera-fov", type=float, default=DEFAULT_FOV_DEG,
                       help=f"vertical field of view of the video's camera in degrees ({DEFAULT_FOV_DEG:.1f})")
    group.add_argument("--keep-shading", action="store_true",
                       help="keep the video's light in the colours (default: remove it, so viewers can light them)")


def video_fit_from(args: argparse.Namespace, mesh=None) -> VideoFit:
    """The video stage of a run: the colour mode asked for, else `default_colour(mesh)`."""
    return VideoFit(colour=args.colour or default_colour(mesh), texture_size=args.texture_size,
                    fov_deg=args.camera_fov, delight=not args.keep_shading)


def preset_name(value: str) -> str:
    """'model-default' and 'model_default' name 'model default' (no quotes needed in a shell)."""
    return value.replace("-", " ").replace("_", " ")


def add_frame_options(parser: argparse.ArgumentParser, masks: bool = True) -> None:
    group = parser.add_argument_group("frames")
    group.add_argument("--start", type=int, default=0, help="first frame to use")
    group.add_argument("--end", type=int, help="stop before this frame")
    group.add_argument("--stride", type=int, default=1, help="keep every n-th frame")
    group.add_argument("--max-frames", type=int, help="keep at most this many frames (it says how many it drops)")
    group.add_argument("--fps", type=float, dest="target_fps", help="resample to this frame rate")
    group.add_argument("--max-side", type=int, help="shrink frames so their longer side is at most this")
    if masks:
        group.add_argument("--masks", help="folder or glob of subject masks (white = subject), one per frame")


def selection_from(args: argparse.Namespace) -> dict:
    return dict(start=args.start, end=args.end, stride=args.stride, max_frames=args.max_frames,
                target_fps=args.target_fps, max_side=args.max_side)


def settings_from(args: argparse.Namespace, models: ModelSet) -> Settings:
    """The run settings: the options given, else the preset's values (--preset, --fast) for these models."""
    if args.fast and args.preset not in ("model default", "fast"):
        raise InputError(f"--fast is --preset fast; it cannot be combined with --preset {args.preset}")
    return Settings.resolve(
        models.recommended, "fast" if args.fast else args.preset, low_vram=args.low_vram, names=CLI_NAMES, seed=args.seed,
        steps=args.steps, prior_steps=args.prior_steps, guidance=args.guidance, prior_guidance=args.guidance,
        anchor_frame=args.anchor_frame, face_budget=args.face_budget, mesh_resolution=args.mesh_resolution,
        decode_memory_mb=args.decode_memory_mb)


def weights_from(args: argparse.Namespace, fallback: str | None = None) -> str | Path:
    """What --weights names, else `fallback` (when given), else $ACTIONMESH_WEIGHTS: a weights root or
    "bundled"."""
    root = args.weights or fallback or weights_root_from_env()
    if root is None:
        raise WeightsError(f"no weights configured: pass --weights DIR (a weights root, see the README's 'Weights' "
                           f"section and `actionmesh weights download`), --weights {BUNDLED_NAME} for the small "
                           f"bundled model, or set ACTIONMESH_WEIGHTS")
    return root


def models_from(args: argparse.Namespace, fallback: str | None = None) -> ModelSet:
    """The models `weights_from` names (loaded lazily: only headers are read now)."""
    return load_models(weights_from(args, fallback), device=args.device, dtype=args.dtype, attention=args.attention,
                       offload="free" if args.low_vram else "cpu")


def print_summary(anim: AnimatedMesh, report: RunReport, models: ModelSet, settings: Settings,
                  written: list[Path]) -> None:
    print(f"\n{anim.num_frames} frames, {anim.num_vertices} vertices, {anim.num_faces} faces, {anim.fps:g} fps "
          f"({models.description}, {models.device}, {str(models.dtype).replace('torch.', '')})")
    print(f"settings: {settings.describe()}")
    print(report.table())
    for path in written:
        print(f"wrote {path}")
