"""The models a run uses, where they come from, and where they live between stages.

Each model is on the compute device only while its stage runs (`with models.use(name) as model:`);
afterwards it is moved to the CPU ("cpu" offload, the default), dropped and reloaded when next needed
("free", low-VRAM), or left in place ("keep").
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
from pathlib import Path
from typing import Callable, Iterator

import torch
from torch import nn

from ..errors import InputError, WeightsError
from ..models.precision import parse_dtype
from ..models.presets import TINY_CONFIGS
from ..models.attention import check_backend, use_attention_backend
from ..models.checkpoints import find_weight_files
from ..models.registry import build_model, load_model, resolve_model_folder, verify_checkpoint

REQUIRED = ("dinov2", "triposg-dit", "triposg-vae", "actionmesh-denoiser", "actionmesh-autoencoder")
OFFLOAD_POLICIES = ("cpu", "free", "keep")
TRIPOSG_DINOV2 = "TripoSG/image_encoder_dinov2"  # Stage 0's own image encoder, used when present
RUN_INFO_FILE = "actionmesh.json"  # optional, in a weights root: {"num_tokens": ..., "mesh_resolution": ...}
Loader = Callable[[str, torch.device, torch.dtype], nn.Module]
Verifier = Callable[[str], object]


def default_device() -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def default_dtype(device: torch.device) -> torch.dtype:
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


BUNDLED_WEIGHTS = Path(__file__).resolve().parents[1] / "assets" / "tiny_model"
BUNDLED_NAME = "bundled"  # names the bundled small model wherever a weights root is asked for


def bundled_models(**kwargs) -> "ModelSet":
    """The small model trained in this repository (assets/tiny_model), or tiny random weights until it exists."""
    if (BUNDLED_WEIGHTS / RUN_INFO_FILE).is_file():
        return ModelSet.from_weights(BUNDLED_WEIGHTS, **kwargs)
    return ModelSet.random("tiny", **kwargs)


def load_models(weights: str | os.PathLike, **kwargs) -> "ModelSet":
    """The models a user names: "bundled" (the small model of this package) or a weights root."""
    if str(weights) == BUNDLED_NAME:
        return bundled_models(**kwargs)
    return ModelSet.from_weights(weights, **kwargs)


def weights_root_from_env(explicit: str | os.PathLike | None = None) -> Path | None:
    """The weights root: an explicit path, else $ACTIONMESH_WEIGHTS, else None."""
    value = explicit or os.environ.get("ACTIONMESH_WEIGHTS")
    return Path(value).expanduser() if value else None


class ModelSet:
    """Lazily loaded models for one device, dtype and attention kernel.

    num_tokens:      latent tokens per shape (2048 for the official models).
    mesh_resolution: the default SDF grid for reference meshes made with these models.
    decode_window:   the default frames per Stage II window (16 for the official models; a Stage II model
                     trained on shorter sequences decodes in shorter windows, paper Tab. 5).
    decode_anchored: whether Stage II windows all deform the anchor itself (`anchored_windows`) instead of
                     chaining from the previous window's last frame (the official way, False).
    description:     what the weights are, for summaries ("official weights in ...", "random weights").
    recommended:     the `Settings` the weights were tuned with (`actionmesh.json` "settings"; {} when none).
    attention:       the attention kernel of every model it loads ("auto", "flash", "sdpa" or "math").
    """

    def __init__(self, loader: Loader, available: set[str], *, device: torch.device | str | None = None,
                 dtype: torch.dtype | str | None = None, offload: str = "cpu", num_tokens: int = 2048,
                 mesh_resolution: int = 512, decode_window: int = 16, decode_anchored: bool = False,
                 description: str = "", recommended: dict | None = None, attention: str = "auto",
                 verifier: Verifier | None = None):
        if offload not in OFFLOAD_POLICIES:
            raise InputError(f"offload must be one of {', '.join(OFFLOAD_POLICIES)}, got {offload!r}")
        self.device = torch.device(device) if device is not None else default_device()
        self.dtype = parse_dtype(dtype) if dtype is not None else default_dtype(self.device)
        self.offload = offload
        self.attention = check_backend(attention)
        self.num_tokens, self.mesh_resolution, self.description = num_tokens, mesh_resolution, description
        self.decode_window, self.decode_anchored = decode_window, decode_anchored
        self.recommended = dict(recommended or {})
        self._loader, self._available, self._verifier = loader, set(available), verifier
        self._cache: dict[str, nn.Module] = {}
        self._verified: set[str] = set()

    @classmethod
    def from_weights(cls, root: str | os.PathLike, **kwargs) -> "ModelSet":
        """Models from a weights root in the official layout (see README 'Weights'). Checks that every
        required model is there (headers only) before anything is loaded."""
        root = Path(root).expanduser()
        if not root.is_dir():
            raise WeightsError(f"weights root {root} does not exist; see the README's 'Weights' section")
        available = set()
        for name in REQUIRED + ("rmbg",):
            try:
                resolve_model_folder(name, root)
                available.add(name)
            except WeightsError as exc:
                if name in REQUIRED:
                    raise WeightsError(f"{exc}\nRun `actionmesh weights check {root}` to see every model's state.") \
                        from None
        prior_encoder = root / TRIPOSG_DINOV2
        if find_weight_files(prior_encoder, ("model.safetensors",)):
            available.add("triposg-dinov2")
        info = json.loads((root / RUN_INFO_FILE).read_text()) if (root / RUN_INFO_FILE).is_file() else {}
        for key in ("num_tokens", "mesh_resolution", "decode_window", "decode_anchored"):
            if key in info:
                kwargs.setdefault(key, info[key])
        kwargs.setdefault("description", info.get("description", f"weights in {root}"))
        kwargs.setdefault("recommended", info.get("settings"))
        def loader(name: str, device: torch.device, dtype: torch.dtype) -> nn.Module:
            if name == "triposg-dinov2":
                return load_model("dinov2", prior_encoder, device, dtype)
            return load_model(name, root, device, dtype)

        def verifier(name: str):
            if name == "triposg-dinov2":
                return verify_checkpoint("dinov2", prior_encoder)
            return verify_checkpoint(name, root)

        return cls(loader, available, verifier=verifier, **kwargs)

    @classmethod
    def random(cls, size: str = "tiny", seed: int = 0, **kwargs) -> "ModelSet":
        """Every model with random weights (same seed, same weights), "tiny" (presets) or "full" (official
        sizes): for tests, smoke runs and benchmarks. Models are built directly on the compute device."""
        if size not in ("tiny", "full"):
            raise InputError(f"size must be 'tiny' or 'full', got {size!r}")
        configs = TINY_CONFIGS if size == "tiny" else dict.fromkeys(TINY_CONFIGS)

        def loader(name: str, device: torch.device, dtype: torch.dtype) -> nn.Module:
            with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
                torch.manual_seed(seed + sum(map(ord, name)))
                return build_model(name, configs[name], device=device, dtype=dtype)

        kwargs.setdefault("num_tokens", 64 if size == "tiny" else 2048)
        kwargs.setdefault("mesh_resolution", 64 if size == "tiny" else 512)
        kwargs.setdefault("description", f"{size} models with RANDOM weights")
        return cls(loader, set(REQUIRED), **kwargs)

    def has(self, name: str) -> bool:
        return name in self._available

    def verify(self, names) -> None:
        """Check, from the file headers alone, that the checkpoints of `names` are complete and fit their
        config.json, so that a broken file stops a run before any model runs rather than minutes into it.
        Raises the WeightsError of the first broken one; names not available here are skipped (the stage that
        needs one says so), and each checkpoint is checked once."""
        if self._verifier is None:
            return
        for name in names:
            if name in self._available and name not in self._verified:
                self._verifier(name)
                self._verified.add(name)

    @property
    def resident(self) -> dict[str, torch.device]:
        """{name: device} of the models held between stages: parked in RAM ("cpu"), left on the compute device
        ("keep"); none with "free"."""
        return {name: next(model.parameters()).device for name, model in self._cache.items()}

    @contextlib.contextmanager
    def use(self, name: str) -> Iterator[nn.Module]:
        """The model on the compute device for the duration of a stage."""
        if name not in self._available:
            raise WeightsError(f"model {name!r} is not available in {self.description}")
        model = self._cache.pop(name, None)
        model = self._loader(name, self.device, self.dtype) if model is None else model.to(self.device)
        use_attention_backend(model, self.attention)
        try:
            yield model
        finally:
            if self.offload == "keep":
                self._cache[name] = model
            elif self.offload == "cpu":
                self._cache[name] = model.to("cpu")
            del model
            if self.offload != "keep":
                release_memory(self.device)


def release_memory(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
