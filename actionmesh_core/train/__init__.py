"""Training code for every model of the pipeline, as the paper describes it (supplementary C).

    config = load_config("configs/train/tiny_vae.json")
    checkpoint = train(config)        # resumes from config.out/checkpoint when it exists

Stages, in order: "vae" (SDF reconstruction + KL), "dit" (image-to-3D rectified flow, with the small image
encoder), then "denoiser" (Stage I, from the DiT) and "autoencoder" (Stage II, from the VAE decoder).
`bundle` gathers the four runs into one weights root (the official layout) for the pipeline.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..errors import InputError
from .autoencoder import AutoencoderStage
from .bundle import bundle_weights
from .config import TrainConfig, config_from_dict, load_config
from .denoiser import DenoiserStage
from .image_to_3d import ImageTo3DStage
from .loop import resolve_device, run_training, set_threads
from .vae import VAEStage

STAGES = {"vae": VAEStage, "dit": ImageTo3DStage, "denoiser": DenoiserStage, "autoencoder": AutoencoderStage}


def train(config: TrainConfig, *, resume: bool = True, progress: bool = True) -> Path:
    """Run one stage's recipe. Returns its checkpoint folder (a weights root for the models it trained)."""
    if config.stage not in STAGES:
        raise InputError(f"unknown training stage {config.stage!r}; choose one of {', '.join(STAGES)}")
    set_threads(config.threads)
    torch.manual_seed(config.seed)  # model initialisation
    stage = STAGES[config.stage](config, resolve_device(config.device))
    return run_training(config, stage, resume=resume, progress=progress)


__all__ = ["STAGES", "TrainConfig", "bundle_weights", "config_from_dict", "load_config", "train"]
