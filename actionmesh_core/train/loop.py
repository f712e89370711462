"""The one training loop shared by every stage: AdamW with warmup and cosine decay, mixed precision where
the device supports it, gradient clipping, a progress bar, a loss log and resumable checkpoints.

A stage object provides:
    trainable: {model name: module}   the models it trains (saved in every checkpoint)
    batch(step) -> batch              deterministic for (config.seed, step)
    loss(batch) -> (loss, {name: float})
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from ..data.dataset import SyntheticDataset
from ..errors import ActionMeshError, InputError
from ..base.atomic import atomic_path
from ..models.precision import autocast, parse_dtype
from .checkpoint import load_checkpoint, save_checkpoint
from .config import TrainConfig, options_from

LOG_FILE = "log.jsonl"
CHECKPOINT = "checkpoint"


class Stage(Protocol):
    device: torch.device
    trainable: dict[str, nn.Module]

    def batch(self, step: int) -> Any: ...

    def loss(self, batch: Any) -> tuple[torch.Tensor, dict[str, float]]: ...


class DatasetStage:
    """What every stage sets up first: its config, device, options (a dataclass `options_class`, filled
    from config.options) and the synthetic dataset."""

    options_class: type

    def __init__(self, config: TrainConfig, device: torch.device):
        self.config, self.device = config, device
        self.options = options_from(self.options_class, config)
        self.data = SyntheticDataset(config.data)


def step_generators(seed: int, step: int, device: torch.device | str = "cpu") -> tuple[np.random.Generator,
                                                                                        torch.Generator]:
    """The numpy and torch random streams of one training step (independent of everything before it)."""
    rng = np.random.default_rng([seed, step])
    generator = torch.Generator(device=device).manual_seed(int(rng.integers(2**62)))
    return rng, generator


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def resolve_precision(name: str, device: torch.device) -> torch.dtype:
    """"auto": bf16 autocast on CUDA devices with bf16 support, fp32 elsewhere (CPUs gain nothing from it);
    else a name `parse_dtype` knows."""
    if name == "auto":
        return torch.bfloat16 if device.type == "cuda" and torch.cuda.is_bf16_supported() else torch.float32
    return parse_dtype(name)


def learning_rate(config: TrainConfig, step: int) -> float:
    """Linear warmup over `warmup` steps, then cosine decay from lr to lr * min_lr_ratio at the last step."""
    if step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    progress = (step - config.warmup) / max(1, config.steps - config.warmup)
    return config.lr * (config.min_lr_ratio + (1 - config.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def run_training(config: TrainConfig, stage: Stage, *, resume: bool = True, progress: bool = True) -> Path:
    """Train `stage` for config.steps steps (continuing from config.out/checkpoint when `resume`).
    Returns the checkpoint folder, which is a weights root for the trained models."""
    from tqdm import tqdm

    device = stage.device
    dtype = resolve_precision(config.precision, device)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    out = Path(config.out)
    parameters = [p for model in stage.trainable.values() for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(parameters, lr=config.lr, betas=config.betas, weight_decay=config.weight_decay)
    start = 0
    if resume and (out / CHECKPOINT / "state.json").is_file():
        state = load_checkpoint(out / CHECKPOINT, stage.trainable, optimizer)
        if state.get("config", {}).get("models") != config.models or state.get("config", {}).get("stage") != config.stage:
            raise InputError(f"{out} holds a run with another stage or other model sizes; choose another --out "
                             "or delete that folder")
        start = int(state["step"])
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "config.json") as tmp:
        tmp.write_text(json.dumps(config.to_dict(), indent=1))
    log_path = out / LOG_FILE
    _truncate_log(log_path, start)

    for model in stage.trainable.values():
        model.train()
    sums: dict[str, float] = {}
    recent: list[dict[str, float]] = []
    bar = tqdm(total=config.steps, initial=start, desc=f"train {config.stage}", disable=not progress,
               dynamic_ncols=True)
    began = time.time()
    with open(log_path, "a") as log:
        for step in range(start, config.steps):
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(config, step)
            batch = stage.batch(step)
            with autocast(device, dtype):
                loss, metrics = stage.loss(batch)
            if not torch.isfinite(loss):
                raise ActionMeshError(f"the {config.stage} loss became {loss.item()} at step {step}; lower the "
                                      f"learning rate (lr={config.lr}) and resume from {out / CHECKPOINT}")
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
            grad_norm = torch.nn.utils.clip_grad_norm_(parameters, config.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            metrics = {"loss": loss.item(), **metrics, "grad_norm": float(grad_norm)}
            recent = (recent + [metrics])[-100:]
            for key, value in metrics.items():
                sums[key] = sums.get(key, 0.0) + value
            done = step + 1
            if done % config.log_every == 0 or done == config.steps:
                count = config.log_every if done % config.log_every == 0 else done % config.log_every
                line = {"step": done, **{k: v / count for k, v in sums.items()},
                        "lr": optimizer.param_groups[0]["lr"], "seconds": round(time.time() - began, 1)}
                log.write(json.dumps(line) + "\n")
                log.flush()
                bar.set_postfix(loss=f"{line['loss']:.4g}")
                sums = {}
            bar.update(1)
            if done % config.checkpoint_every == 0 or done == config.steps:
                final = {k: float(np.mean([m[k] for m in recent])) for k in recent[0]}
                state = {"step": done, "config": config.to_dict(), "losses": final}
                save_checkpoint(out / CHECKPOINT, stage.trainable, optimizer, state)
    bar.close()
    return out / CHECKPOINT


def _truncate_log(path: Path, step: int) -> None:
    """Drop log lines past `step` (left by a run that stopped after its last checkpoint)."""
    if not path.is_file():
        return
    lines = [line for line in path.read_text().splitlines() if line and json.loads(line)["step"] <= step]
    with atomic_path(path) as tmp:
        tmp.write_text("".join(line + "\n" for line in lines))


def set_threads(threads: int) -> None:
    if threads > 0:
        torch.set_num_threads(threads)
