"""Training recipes: one JSON file per stage (see configs/train/).

    {"stage": "vae", "data": "data/train", "out": "runs/tiny/vae",
     "models": {"triposg-vae": {...config.json values...}},
     "inputs": {"vae": "runs/tiny/vae/checkpoint"},          # checkpoints of earlier stages
     "steps": 3000, "batch_size": 16, "lr": 5e-4, ...,
     "options": {...stage-specific knobs, see each stage's Options...}}
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError


@dataclass
class TrainConfig:
    """Everything one training run depends on (with the data and the input checkpoints).

    stage:      "vae", "dit", "denoiser" or "autoencoder".
    data:       folder written by `build_dataset`.
    out:        run folder: checkpoint/ (official layout + optimizer state), log.jsonl, config.json.
    models:     {model name: config.json dict} of the models this stage trains.
    inputs:     {role: checkpoint folder (a weights root in the official layout)} from earlier stages.
    steps, batch_size, lr, weight_decay, betas, warmup, min_lr_ratio (cosine decay to lr * ratio), grad_clip.
    seed:       every batch and every noise draw is a function of (seed, step), so resuming is exact.
    precision:  "auto" (bf16 autocast on GPUs that support it, else fp32), "bf16", "fp16" or "fp32".
    device:     "auto", "cpu", "cuda", ...; threads: CPU threads for torch (0: torch's default).
    log_every, checkpoint_every: steps between loss-log lines and between checkpoints.
    options:    stage-specific settings (unknown keys are an error).
    """

    stage: str
    data: str
    out: str
    models: dict = field(default_factory=dict)
    inputs: dict = field(default_factory=dict)
    steps: int = 1000
    batch_size: int = 8
    lr: float = 1e-4
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.999)
    warmup: int = 100
    min_lr_ratio: float = 0.1
    grad_clip: float = 1.0
    seed: int = 0
    precision: str = "auto"
    device: str = "auto"
    threads: int = 0
    log_every: int = 10
    checkpoint_every: int = 200
    options: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def replace(self, **changes) -> TrainConfig:
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})


def load_config(path: str | os.PathLike) -> TrainConfig:
    """Read a recipe; an InputError names any unknown or missing field."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no training config at {path}; see configs/train/ for the recipes")
    try:
        values = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(f"{path} is not valid JSON ({exc})") from None
    return config_from_dict(values, str(path))


def config_from_dict(values: dict, where: str = "the config") -> TrainConfig:
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise InputError(f"{where}: unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}")
    missing = [n for n in ("stage", "data", "out") if n not in values]
    if missing:
        raise InputError(f"{where}: missing field(s) {', '.join(missing)}")
    if "betas" in values:
        values = {**values, "betas": tuple(values["betas"])}
    return TrainConfig(**values)


def options_from(cls, config: TrainConfig):
    """The stage's options dataclass from `config.options` (defaults for what is not given)."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(config.options) - names)
    if unknown:
        raise InputError(f"unknown option(s) {', '.join(unknown)} for stage {config.stage!r}; "
                         f"known: {', '.join(sorted(names))}")
    return cls(**config.options)
