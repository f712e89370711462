"""What a batch runs: its items, from a folder of videos / frame folders or from a manifest (CSV or JSONL).

Manifest columns (CSV header, or JSONL keys; every column but `input` is optional, an empty cell or null
takes the command line's value):

    input            video file, frame folder or glob, relative to the manifest's folder (absolute paths too)
    name             the item's output folder under --out (default: the input's name); unique, and only
                     letters, digits, '.', '_' and '-'
    mesh, masks      animate this mesh ({video + mesh} -> 4D); subject masks, one per source frame
    anchor_frame, seed, steps, prior_steps, guidance, face_budget, mesh_resolution      run settings
    start, end, stride, max_frames, fps, max_side                                       frame selection
    outputs          e.g. "glb,npz" (commas, semicolons or spaces)

The whole manifest is checked before anything runs; each problem is named with its line number.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..inputs.clip import FrameSelection
from ..inputs.image_files import IMAGE_SUFFIXES, natural_key
from ..export.outputs import parse_outputs
from ..inputs.video import VIDEO_SUFFIXES
from .job import Job
from ..pipeline.settings import Settings
from ..video_fit import VideoFit

MANIFEST_SUFFIXES = (".csv", ".jsonl")
SETTING_COLUMNS = ("anchor_frame", "seed", "steps", "prior_steps", "guidance", "face_budget", "mesh_resolution")
SELECTION_COLUMNS = {"start": "start", "end": "end", "stride": "stride", "max_frames": "max_frames",
                     "fps": "target_fps", "max_side": "max_side"}
"""Manifest column -> `load_clip` argument."""
COLUMNS = ("input", "name", "mesh", "masks", *SETTING_COLUMNS, *SELECTION_COLUMNS, "outputs")
FLOAT_COLUMNS = ("guidance", "fps")
PATH_COLUMNS = ("input", "mesh", "masks")
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
RESERVED_NAMES = {"con", "prn", "aux", "nul", *(f"com{k}" for k in range(1, 10)), *(f"lpt{k}" for k in range(1, 10))}
"""Names Windows cannot use for a folder."""


@dataclass(frozen=True)
class BatchItem:
    """One clip of a batch and what it changes from the command line's run options.

    settings:  `Settings` fields (guidance sets both stages' guidance, as --guidance does).
    selection: `load_clip` frame selection arguments.
    where:     where it was listed ("clips.csv line 4", or the folder entry), for messages.
    """

    name: str
    source: Path
    where: str
    mesh: Path | None = None
    masks: Path | None = None
    settings: dict = field(default_factory=dict)
    selection: dict = field(default_factory=dict)
    outputs: tuple[str, ...] | None = None

    def job(self, out_root: Path, base: Settings, outputs: tuple[str, ...], selection: dict,
            video: VideoFit | None = None) -> Job:
        """The run of this item: the base settings, outputs and selection with this item's values on top."""
        changes = dict(self.settings)
        if "guidance" in changes:
            changes["prior_guidance"] = changes["guidance"]
        return Job(self.source, Path(out_root) / self.name, base.replace(**changes), self.outputs or outputs,
                   mesh=self.mesh, masks=self.masks, selection={**selection, **self.selection}, video=video)


def collect_items(inputs: str | Path, *, skip: Path | None = None) -> list[BatchItem]:
    """The items of a manifest (.csv / .jsonl) or of a folder (its videos and frame folders, in natural order).

    skip: a folder not to list as an item (the batch's own output folder when it lies inside `inputs`).
    Raises InputError naming every bad line, or when nothing is found."""
    inputs = Path(inputs)
    if inputs.is_file():
        if inputs.suffix.lower() not in MANIFEST_SUFFIXES:
            raise InputError(f"{inputs} is neither a folder of videos / frame folders nor a manifest "
                             f"({', '.join(MANIFEST_SUFFIXES)}); for one video use `actionmesh video2mesh`")
        return read_manifest(inputs)
    if not inputs.is_dir():
        raise InputError(f"{inputs} does not exist: give a folder of videos / frame folders or a .csv / .jsonl "
                         "manifest")
    return _folder_items(inputs, skip)


def _folder_items(folder: Path, skip: Path | None) -> list[BatchItem]:
    entries = sorted((p for p in folder.iterdir() if not p.name.startswith(".")), key=natural_key)
    skip = skip.resolve() if skip is not None else None
    items, loose_frames = [], 0
    for path in entries:
        if path.is_dir() and path.resolve() != skip and _holds_images(path):
            items.append(BatchItem(_derived_name(path.name), path, where=f"{path.name}/"))
        elif path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES:
            items.append(BatchItem(_derived_name(path.stem), path, where=path.name))
        elif path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
            loose_frames += 1
    if not items:
        hint = (" It holds image files: if they are the frames of one clip, run `actionmesh video2mesh` on it, or "
                "put each clip's frames in its own subfolder.") if loose_frames else ""
        raise InputError(f"{folder} holds no videos ({', '.join(VIDEO_SUFFIXES)}) and no frame folders.{hint}")
    _check_unique(items)
    return items


def _holds_images(folder: Path) -> bool:
    return any(p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".") for p in folder.iterdir())


def read_manifest(path: str | Path) -> list[BatchItem]:
    """The items of a CSV or JSONL manifest (see the module docstring); paths are relative to its folder."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the manifest {path}: {exc}") from None
    rows = _jsonl_rows(text, path.name) if path.suffix.lower() == ".jsonl" else _csv_rows(text, path.name)
    items, problems = [], []
    for line, row in rows:
        where = f"{path.name} line {line}"
        try:
            items.append(_item_from_row(row, path.parent, where))
        except InputError as exc:
            problems.append(f"{where}: {exc}")
    if not items and not problems:
        raise InputError(f"the manifest {path} lists no items (it needs an 'input' column and one row per clip)")
    try:
        _check_unique(items)
    except InputError as exc:
        problems.append(str(exc))
    if problems:
        raise InputError(f"{len(problems)} problem(s) in the manifest {path}; nothing was run:\n  "
                         + "\n  ".join(problems))
    return items


def _csv_rows(text: str, name: str) -> list[tuple[int, dict]]:
    reader = csv.reader(text.splitlines())
    header, rows = None, []
    for cells in reader:
        if not any(cell.strip() for cell in cells) or cells[0].lstrip().startswith("#"):
            continue
        if header is None:
            header = [_column(cell) for cell in cells]
            _check_columns(header, f"{name} line {reader.line_num}")
            continue
        if len(cells) > len(header):
            raise InputError(f"{name} line {reader.line_num}: {len(cells)} cells but {len(header)} columns (quote "
                             "values that hold commas, such as outputs: \"glb,npz\")")
        rows.append((reader.line_num, {key: cell.strip() for key, cell in zip(header, cells) if cell.strip()}))
    return rows


def _jsonl_rows(text: str, name: str) -> list[tuple[int, dict]]:
    rows = []
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        try:
            row = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InputError(f"{name} line {line} is not JSON ({exc.msg}): one object per line") from None
        if not isinstance(row, dict):
            raise InputError(f"{name} line {line}: expected an object such as {{\"input\": \"clip.mp4\"}}")
        row = {_column(key): value for key, value in row.items()}
        _check_columns(list(row), f"{name} line {line}")
        rows.append((line, {key: value for key, value in row.items() if value is not None and value != ""}))
    return rows


def _column(name: str) -> str:
    return str(name).strip().lower().replace("-", "_").replace(" ", "_")


def _check_columns(columns: list[str], where: str) -> None:
    unknown = [c for c in columns if c not in COLUMNS]
    if unknown:
        raise InputError(f"{where}: unknown column {unknown[0]!r}; the columns are {', '.join(COLUMNS)}")
    if "input" not in columns:
        raise InputError(f"{where}: the 'input' column is missing (the video or frame folder of each item)")


def _item_from_row(row: dict, base: Path, where: str) -> BatchItem:
    if "input" not in row:
        raise InputError("no input given")
    paths = {key: _path(row[key], base, key) for key in PATH_COLUMNS if key in row}
    source = paths["input"]
    _check_source(source)
    if "mesh" in paths and not paths["mesh"].is_file():
        raise InputError(f"mesh {paths['mesh']} does not exist")
    if "masks" in paths and not paths["masks"].exists() and not any(ch in str(row["masks"]) for ch in "*?["):
        raise InputError(f"masks {paths['masks']} do not exist")
    settings = {key: _number(row[key], key) for key in SETTING_COLUMNS if key in row}
    selection = {arg: _number(row[key], key) for key, arg in SELECTION_COLUMNS.items() if key in row}
    Settings.preset(**settings)  # each value checked now, not after other items ran
    FrameSelection(**{k: v for k, v in selection.items() if k != "max_side"})
    if selection.get("max_side") is not None and selection["max_side"] < 1:
        raise InputError(f"max_side must be a positive whole number of pixels, got {selection['max_side']}")
    outputs = parse_outputs(row["outputs"]) if "outputs" in row else None
    if "name" in row:
        name = str(row["name"]).strip()
        _check_name(name)
    else:
        name = _derived_name(source.stem if source.is_file() else source.name)
    return BatchItem(name, source, where, mesh=paths.get("mesh"), masks=paths.get("masks"), settings=settings,
                     selection=selection, outputs=outputs)


def _path(value: Any, base: Path, key: str) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{key} must be a path, got {value!r}")
    path = Path(value.strip()).expanduser()
    return path if path.is_absolute() else base / path


def _check_source(source: Path) -> None:
    if source.is_file() and source.suffix.lower() in IMAGE_SUFFIXES:
        raise InputError(f"{source.name} is a single image; an item needs a video, a folder of frames or a glob")
    if not source.exists() and not (any(ch in str(source) for ch in "*?[") and any(source.parent.glob(source.name))):
        raise InputError(f"input {source} does not exist")


def _number(value: Any, key: str) -> int | float:
    kind: Callable = float if key in FLOAT_COLUMNS else int
    if isinstance(value, bool):
        raise InputError(f"{key} must be a number, got {value!r}")
    if isinstance(value, str):
        try:
            value = kind(value.strip())
        except ValueError:
            raise InputError(f"{key} must be a {'number' if kind is float else 'whole number'}, got "
                             f"{value.strip()!r}") from None
    if kind is int and isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, (int, float)) or (kind is int and not isinstance(value, int)) \
            or not math.isfinite(value):
        raise InputError(f"{key} must be a {'number' if kind is float else 'whole number'}, got {value!r}")
    return kind(value)


def _check_name(name: str) -> None:
    if not SAFE_NAME.fullmatch(name) or name.lower().split(".")[0] in RESERVED_NAMES or name.endswith("."):
        raise InputError(f"item name {name!r} cannot be a folder name: use up to 100 letters, digits, '.', '_' "
                         "and '-', starting with a letter or digit")


def _derived_name(stem: str) -> str:
    """A safe folder name from a file or folder name: each run of other characters becomes one '_'."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).lstrip("._-")[:100].rstrip(".") or "item"
    return f"{name}_" if name.lower().split(".")[0] in RESERVED_NAMES else name


def _check_unique(items: list[BatchItem]) -> None:
    """Names must differ, also ignoring case (macOS and Windows folders do)."""
    seen: dict[str, BatchItem] = {}
    for item in items:
        other = seen.setdefault(item.name.lower(), item)
        if other is not item:
            raise InputError(f"{other.where} and {item.where} both give the item name {item.name!r}: give each a "
                             "unique 'name' in a manifest")
