"""Training checkpoints: the models in the official folder layout (so a checkpoint is a weights root the
pipeline can load) plus the optimizer state in safetensors and the step in state.json. No pickle.

    checkpoint/
      TripoSG/vae/ TripoSG/transformer/ dinov2/ ActionMesh/denoiser/ ActionMesh/autoencoder/   (those trained)
      optimizer.safetensors   state.json
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from torch import nn

from ..errors import ActionMeshError
from ..base.atomic import atomic_dir
from ..models import load_model, save_model

OFFICIAL_FOLDERS = {
    "triposg-vae": "TripoSG/vae",
    "triposg-dit": "TripoSG/transformer",
    "dinov2": "dinov2",
    "actionmesh-denoiser": "ActionMesh/denoiser",
    "actionmesh-autoencoder": "ActionMesh/autoencoder",
}
STATE_FILE = "state.json"
OPTIMIZER_FILE = "optimizer.safetensors"


def copy_weights(name: str, root: str | os.PathLike, model: nn.Module) -> nn.Module:
    """Load the checkpoint of `name` under the weights root `root` into `model` (same config), in place."""
    model.load_state_dict(load_model(name, root).state_dict())
    return model


def save_checkpoint(folder: str | os.PathLike, models: dict[str, nn.Module], optimizer: torch.optim.Optimizer,
                    state: dict) -> Path:
    """Write models (official layout), optimizer state and `state` (JSON: step, losses...) atomically."""
    from safetensors.torch import save_file

    optimizer_state = optimizer.state_dict()
    tensors = {f"{index}.{key}": value.detach().cpu().contiguous()
               for index, values in optimizer_state["state"].items() for key, value in values.items()}
    with atomic_dir(folder) as tmp:
        for name, model in models.items():
            save_model(name, model, tmp / OFFICIAL_FOLDERS[name])
        save_file(tensors, str(tmp / OPTIMIZER_FILE))
        (tmp / STATE_FILE).write_text(json.dumps({**state, "param_groups": optimizer_state["param_groups"]},
                                                 indent=1))
    return Path(folder)


def load_checkpoint(folder: str | os.PathLike, models: dict[str, nn.Module],
                    optimizer: torch.optim.Optimizer) -> dict:
    """Restore models and optimizer from `save_checkpoint`'s folder. Returns its state dict."""
    from safetensors.torch import load_file

    folder = Path(folder)
    if not (folder / STATE_FILE).is_file():
        raise ActionMeshError(f"{folder} is not a training checkpoint (no {STATE_FILE})")
    state = json.loads((folder / STATE_FILE).read_text())
    for name, model in models.items():
        copy_weights(name, folder, model)
    tensors = load_file(str(folder / OPTIMIZER_FILE))
    per_param: dict[int, dict] = {}
    for key, value in tensors.items():
        index, name = key.split(".", 1)
        per_param.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": per_param, "param_groups": state.pop("param_groups")})
    return state
