"""Model names -> how to build them, where their official files live, and how their keys are named.

    build_model(name, config=None, device="cpu", dtype=torch.float32)
    load_model(name, folder, device="cpu", dtype=torch.float32)
    checkpoint_manifest(name, config=None) -> {file key: shape}

Names: triposg-vae, triposg-dit, actionmesh-denoiser, actionmesh-autoencoder, dinov2, rmbg.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from ..errors import WeightsError
from .checkpoints import compare_keys, find_weight_files, read_headers, rename_key
from .dinov2 import build_dinov2
from .dit import DiT, DiTConfig
from .rmbg import BriaRMBG
from .temporal_autoencoder import AutoencoderConfig, TemporalAutoencoder
from .vae import TripoSGVAE, VAEConfig

# TripoSG's block names -> ours (which are ActionMesh's checkpoint names).
TRIPOSG_BLOCK_RENAMES = (
    (".norm1.", ".norm_s_attn."), (".attn1.", ".s_attn."), (".norm2.", ".norm_x_attn."), (".attn2.", ".x_attn."),
    (".norm3.", ".norm_ff."), (".skip_norm.", ".norm_skip."), (".skip_linear.", ".linear_skip."),
)
# TripoSG keeps post_quant outside the decoder; our VecSetDecoder owns it.
TRIPOSG_VAE_RENAMES = TRIPOSG_BLOCK_RENAMES + ((".post_quant.", ".decoder.post_quant."),)
# The dinov2 files keep transformers 4.x attention names; transformers 5 renamed them.
DINOV2_V5_RENAMES = (
    (".attention.attention.query.", ".attention.q_proj."), (".attention.attention.key.", ".attention.k_proj."),
    (".attention.attention.value.", ".attention.v_proj."), (".attention.output.dense.", ".attention.o_proj."),
)


def _config_from(cls, config: dict | None, **overrides):
    """Build a config dataclass from an official config.json dict, ignoring keys it does not know."""
    names = {f.name for f in dataclasses.fields(cls)}
    values = {k: (tuple(v) if isinstance(v, list) else v) for k, v in (config or {}).items() if k in names}
    values.update(overrides)
    return cls(**values)


@dataclass(frozen=True)
class ModelSpec:
    name: str
    source: str  # where users get the files
    folders: tuple[str, ...]  # where the model folder may sit under a weights root
    weight_files: tuple[str, ...]
    build: Callable[[dict | None], nn.Module]
    renames: tuple[tuple[str, str], ...] = ()
    optional_suffixes: tuple[str, ...] = ()

    def renames_for(self, model: nn.Module) -> tuple[tuple[str, str], ...]:
        if self.name == "dinov2":  # only transformers >= 5 needs the renames
            has_v5 = any(".q_proj." in f".{key}." for key in model.state_dict())
            return DINOV2_V5_RENAMES if has_v5 else ()
        return self.renames


SPECS = {spec.name: spec for spec in (
    ModelSpec("triposg-vae", "VAST-AI/TripoSG, subfolder vae/", ("vae", "TripoSG/vae"),
              ("diffusion_pytorch_model.safetensors", "model.safetensors"),
              lambda c: TripoSGVAE(_config_from(VAEConfig, c)), TRIPOSG_VAE_RENAMES),
    ModelSpec("triposg-dit", "VAST-AI/TripoSG, subfolder transformer/", ("transformer", "TripoSG/transformer"),
              ("diffusion_pytorch_model.safetensors", "model.safetensors"),
              lambda c: DiT(_config_from(DiTConfig, c, temporal=False)), TRIPOSG_BLOCK_RENAMES),
    ModelSpec("actionmesh-denoiser", "facebook/ActionMesh, subfolder denoiser/", ("denoiser", "ActionMesh/denoiser"),
              ("model.safetensors", "diffusion_pytorch_model.safetensors"),
              lambda c: DiT(_config_from(DiTConfig, c, temporal=True))),
    ModelSpec("actionmesh-autoencoder", "facebook/ActionMesh, subfolder autoencoder/",
              ("autoencoder", "ActionMesh/autoencoder"), ("model.safetensors",),
              lambda c: TemporalAutoencoder(_config_from(AutoencoderConfig, c))),
    ModelSpec("dinov2", "facebook/dinov2-large", ("dinov2", "dinov2-large", "TripoSG/image_encoder_dinov2"),
              ("model.safetensors",), build_dinov2),
    ModelSpec("rmbg", "briaai/RMBG-1.4", ("RMBG", "RMBG-1.4", "rmbg"), ("model.safetensors",),
              lambda c: BriaRMBG(**{k: v for k, v in (c or {}).items() if k in ("in_ch", "out_ch")}),
              optional_suffixes=(".num_batches_tracked",)),
)}
MODEL_NAMES = tuple(SPECS)


def get_spec(name: str) -> ModelSpec:
    if name not in SPECS:
        raise WeightsError(f"unknown model {name!r}; known models: {', '.join(MODEL_NAMES)}")
    return SPECS[name]


def fp32_module_names(model: nn.Module) -> tuple[str, ...]:
    method = getattr(model, "fp32_module_names", None)
    return method() if method else ()


def cast_model(model: nn.Module, dtype: torch.dtype) -> nn.Module:
    """Cast floating parameters to `dtype`, except the model's fp32 modules (precision-critical heads)."""
    model.to(dtype)
    modules = dict(model.named_modules())
    for name in fp32_module_names(model):
        modules[name].float()
    return model


def build_model(name: str, config: dict | None = None, device: str | torch.device = "cpu",
                dtype: torch.dtype = torch.float32) -> nn.Module:
    """A freshly initialised model (`config`: the official config.json dict; None: official full size).
    With device="meta" nothing is allocated."""
    with torch.device(device):
        model = get_spec(name).build(config)
    return cast_model(model, dtype).eval()


def checkpoint_manifest(name: str, config: dict | None = None) -> dict[str, tuple[int, ...]]:
    """{key in the official safetensors file: shape} that `load_model` expects for this config."""
    spec = get_spec(name)
    model = build_model(name, config, device="meta")
    renames = spec.renames_for(model)
    return {rename_key(key, renames, reverse=True): tuple(t.shape) for key, t in model.state_dict().items()}


def resolve_model_folder(name: str, folder: str | Path) -> tuple[Path, list[Path]]:
    """Find the model's folder given the folder itself or a weights root. Returns (folder, weight files)."""
    spec = get_spec(name)
    folder = Path(folder).expanduser()
    candidates = [folder] + [folder / sub for sub in spec.folders]
    for candidate in candidates:
        files = find_weight_files(candidate, spec.weight_files)
        if files:
            return candidate, files
    looked = ", ".join(str(c) for c in candidates)
    if not folder.exists():
        raise WeightsError(f"weights folder {folder} does not exist. {name} comes from {spec.source}; "
                           f"see the README's 'Weights' section for where to put it")
    raise WeightsError(f"no {name} checkpoint found (looked for {' or '.join(spec.weight_files)} in {looked}). "
                       f"It comes from {spec.source}; see the README's 'Weights' section for the layout")


def read_config(folder: Path) -> dict | None:
    path = folder / "config.json"
    if not path.is_file():
        return None
    try:
        config = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WeightsError(f"{path} is not valid JSON ({exc}); download it again") from None
    if not isinstance(config, dict):
        raise WeightsError(f"{path} holds a JSON {type(config).__name__}, not an object of model settings; "
                           f"download it again")
    return config


def config_manifest(name: str, config: dict | None, path: Path) -> dict[str, tuple[int, ...]]:
    """`checkpoint_manifest` for the settings read from `path`. Settings no model can be built from (wrong
    types, impossible sizes: whatever torch or transformers raise on them) are a WeightsError naming the file."""
    try:
        return checkpoint_manifest(name, config)
    except Exception as exc:  # any failure here comes from the file's settings
        raise WeightsError(f"{path} is not a usable {name} config ({type(exc).__name__}: {exc}); download it "
                           f"again from {get_spec(name).source}") from None


def _key_patterns(keys) -> set[str]:
    return {re.sub(r"\.\d+\.", ".#.", key) for key in keys}


def _matching_model(keys: set[str]) -> str | None:
    """The name of a model whose official key names (layer indices aside) match these: explains a wrong folder."""
    found = _key_patterns(keys)
    for other in MODEL_NAMES:
        expected = _key_patterns(checkpoint_manifest(other))
        if len(found & expected) >= 0.9 * len(expected | found):
            return other
    return None


def check_checkpoint(name: str, folder: str | Path):
    """Compare a checkpoint's headers with the expected keys and shapes (no tensor is read).
    Returns (folder, files, config, tensors, report). A folder without config.json whose tensors do not fit the
    official full-size settings (which it then implies) is a WeightsError naming the missing file."""
    spec = get_spec(name)
    model_folder, files = resolve_model_folder(name, folder)
    config = read_config(model_folder)
    tensors = read_headers(files)
    expected = config_manifest(name, config, model_folder / "config.json")
    report = compare_keys(tensors, expected, spec.optional_suffixes)
    if config is None and not report.ok:
        raise WeightsError(f"{model_folder} has no config.json, so the official full-size {name} is assumed, and "
                           f"its tensors do not fit it ({len(report.missing)} missing, {len(report.misshaped)} "
                           f"mis-shaped of {report.expected}). Put the config.json that came with "
                           f"{files[0].name} beside it (from {spec.source})")
    return model_folder, files, config, tensors, report


def verify_checkpoint(name: str, folder: str | Path):
    """`check_checkpoint`, raising one WeightsError (folder, counts, first bad keys, a hint when the files look
    like another model) unless the checkpoint is complete and compatible. Returns (folder, files, config)."""
    spec = get_spec(name)
    model_folder, files, config, tensors, report = check_checkpoint(name, folder)
    if not report.ok:
        other = _matching_model(set(tensors)) if report.missing else None
        hint = f"\nThese files look like a {other!r} checkpoint." if other and other != name else ""
        raise WeightsError(
            f"{model_folder} is not a complete {name} checkpoint: {report.summary()}{hint}\n"
            f"Expected: {model_folder}/config.json + {' or '.join(spec.weight_files)} from {spec.source}. "
            f"Run `actionmesh weights check {folder}` for a full report.")
    return model_folder, files, config


def model_config_dict(model: nn.Module) -> dict:
    """The config.json content that rebuilds `model`."""
    if isinstance(model, BriaRMBG):
        return {"in_ch": model.conv_in.in_channels, "out_ch": model.side1.out_channels}
    config = model.config
    return config.to_dict() if hasattr(config, "to_dict") else dataclasses.asdict(config)


def save_model(name: str, model: nn.Module, folder: str | Path, dtype: torch.dtype | None = None) -> Path:
    """Write `model` in the official folder layout (config.json + safetensors with the official key names),
    atomically. Returns the folder."""
    from safetensors.torch import save_file

    from ..base.atomic import atomic_dir

    spec = get_spec(name)
    renames = spec.renames_for(model)
    state = {}
    for key, tensor in model.state_dict().items():
        tensor = tensor.detach()
        if dtype is not None and tensor.is_floating_point():
            tensor = tensor.to(dtype)
        state[rename_key(key, renames, reverse=True)] = tensor.contiguous().cpu()
    with atomic_dir(folder) as tmp:
        (tmp / "config.json").write_text(json.dumps(model_config_dict(model), indent=2, default=list))
        save_file(state, str(tmp / spec.weight_files[0]))
    return Path(folder)


def load_model(name: str, folder: str | Path, device: str | torch.device = "cpu",
               dtype: torch.dtype = torch.float32) -> nn.Module:
    """Load an official checkpoint folder (or a weights root holding it), strictly: every expected tensor
    must be present with its shape and nothing else may be there. Tensors are cast to `dtype` one by one
    as they are read (fp32 heads stay fp32)."""
    from safetensors import SafetensorError, safe_open

    spec = get_spec(name)
    model_folder, files, config = verify_checkpoint(name, folder)
    with torch.device("meta"):
        model = spec.build(config)
    renames = spec.renames_for(model)
    fp32_prefixes = tuple(f"{n}." for n in fp32_module_names(model))
    state = {}
    for path in files:
        try:
            with safe_open(str(path), framework="pt", device="cpu") as f:
                for file_key in f.keys():
                    key = rename_key(file_key, renames)
                    tensor = f.get_tensor(file_key)
                    if tensor.is_floating_point():
                        tensor = tensor.to(torch.float32 if key.startswith(fp32_prefixes) else dtype)
                    state[key] = tensor.to(device)
        except (SafetensorError, OSError) as exc:  # the header passed, so the data itself is unreadable
            raise WeightsError(f"cannot read the tensors of {path} ({exc}); download the file again") from None
    for key, value in model.state_dict().items():  # optional counters absent from some files
        if key not in state:
            state[key] = torch.zeros(value.shape, dtype=value.dtype, device=device)
    model.load_state_dict(state, strict=True, assign=True)
    return model.eval()
