"""Gather trained stages into one weights root in the official layout, the form the pipeline loads
(`ModelSet.from_weights`, `bundled_models`), with `actionmesh.json` describing it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from ..errors import InputError
from ..base.atomic import atomic_dir
from ..models import load_model, save_model
from ..pipeline.model_set import RUN_INFO_FILE
from .checkpoint import OFFICIAL_FOLDERS


def bundle_weights(checkpoints: dict[str, str | os.PathLike], out: str | os.PathLike, *, num_tokens: int,
                   mesh_resolution: int, description: str, decode_window: int = 16, decode_anchored: bool = False,
                   settings: dict | None = None, dtype: torch.dtype = torch.float16) -> Path:
    """checkpoints: {model name: checkpoint folder holding it} for the five models of the pipeline.
    Writes every model (stored in `dtype`; loading casts back) and actionmesh.json
    {"num_tokens", "mesh_resolution", "decode_window", "decode_anchored", "description", "settings"} into
    `out`, atomically (`decode_window`, `decode_anchored`: the Stage II windows the model was trained for,
    see `ModelSet`)."""
    missing = sorted(set(OFFICIAL_FOLDERS) - set(checkpoints))
    if missing:
        raise InputError(f"the bundle needs a checkpoint for {', '.join(missing)}")
    out = Path(out)
    with atomic_dir(out) as tmp:
        for name, folder in OFFICIAL_FOLDERS.items():
            save_model(name, load_model(name, checkpoints[name]), tmp / folder, dtype=dtype)
        info = {"num_tokens": num_tokens, "mesh_resolution": mesh_resolution, "decode_window": decode_window,
                "decode_anchored": decode_anchored, "description": description, "settings": settings or {}}
        (tmp / RUN_INFO_FILE).write_text(json.dumps(info, indent=1) + "\n")
        readme = out / "README.md"
        if readme.is_file():  # keep the hand-written notes
            (tmp / "README.md").write_text(readme.read_text())
    return out
