"""Reading safetensors checkpoints: headers without loading tensors, shards, key renaming, and strict
comparison with what a model expects. Never unpickles anything."""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import WeightsError

DTYPE_NAMES = {"F32": "float32", "F16": "float16", "BF16": "bfloat16", "F64": "float64", "I64": "int64",
               "I32": "int32", "I16": "int16", "I8": "int8", "U8": "uint8", "BOOL": "bool"}


@dataclass(frozen=True)
class TensorInfo:
    dtype: str
    shape: tuple[int, ...]
    file: Path


def read_header(path: Path) -> dict[str, TensorInfo]:
    """The tensors listed in one .safetensors file, checked against the file size (no tensor is read)."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        prefix = f.read(8)
        if len(prefix) < 8:
            raise WeightsError(f"{path} is truncated or not a safetensors file ({size} bytes); download it again")
        (header_len,) = struct.unpack("<Q", prefix)
        if header_len > size - 8 or header_len > 100_000_000:
            raise WeightsError(f"{path} is truncated or not a safetensors file (header of {header_len} bytes in a "
                               f"{size}-byte file); download it again")
        try:
            header = json.loads(f.read(header_len))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise WeightsError(f"{path} has a corrupt safetensors header; download it again") from None
    if not isinstance(header, dict):
        raise WeightsError(f"{path} has a corrupt safetensors header (not a JSON object); download it again")
    data_size = size - 8 - header_len
    return {key: _tensor_info(path, key, entry, data_size) for key, entry in header.items() if key != "__metadata__"}


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _tensor_info(path: Path, key: str, entry, data_size: int) -> TensorInfo:
    """One header entry {"dtype": str, "shape": [int], "data_offsets": [start, end]} -> TensorInfo.
    A malformed entry, or one past the end of the file, is a WeightsError naming the file."""
    try:
        dtype, shape, (start, end) = entry["dtype"], entry["shape"], entry["data_offsets"]
        valid = isinstance(dtype, str) and isinstance(shape, list) and all(map(_is_count, [*shape, start, end]))
    except (KeyError, TypeError, ValueError):
        valid = False
    if not valid or start > end:
        raise WeightsError(f"{path} has a malformed safetensors header: the entry for {key!r} is {entry!r:.200}, "
                           f"not {{dtype, shape, data_offsets}}; download the file again")
    if end > data_size:
        raise WeightsError(f"{path} is truncated: tensor {key!r} ends at byte {end} of the data section, which "
                           f"holds only {data_size} bytes; download the file again")
    return TensorInfo(DTYPE_NAMES.get(dtype, dtype), tuple(shape), path)


def find_weight_files(folder: Path, names: tuple[str, ...]) -> list[Path]:
    """The checkpoint files of a model folder: the first of `names` present, or the shards its
    `<name>.index.json` lists. Empty when none is there."""
    for name in names:
        index = folder / f"{name}.index.json"
        if index.is_file():
            try:
                weight_map = json.loads(index.read_text())["weight_map"]
            except (json.JSONDecodeError, KeyError):
                raise WeightsError(f"{index} is not a valid shard index (no 'weight_map')") from None
            shards = [folder / shard for shard in sorted(set(weight_map.values()))]
            missing = [s.name for s in shards if not s.is_file()]
            if missing:
                raise WeightsError(f"{index} lists shards that are not in {folder}: {', '.join(missing)}")
            return shards
        if (folder / name).is_file():
            return [folder / name]
    return []


def read_headers(files: list[Path]) -> dict[str, TensorInfo]:
    tensors: dict[str, TensorInfo] = {}
    for path in files:
        tensors.update(read_header(path))
    return tensors


def rename_key(key: str, renames: tuple[tuple[str, str], ...], reverse: bool = False) -> str:
    """Apply (file_fragment, module_fragment) replacements to a key, or their reverse.
    Fragments start and end with '.', matched against '.' + key + '.'."""
    padded = f".{key}."
    for file_fragment, module_fragment in renames:
        old, new = (module_fragment, file_fragment) if reverse else (file_fragment, module_fragment)
        padded = padded.replace(old, new)
    return padded[1:-1]


@dataclass
class KeyReport:
    """How a checkpoint's tensors compare with the expected manifest (file key names)."""

    expected: int
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    misshaped: list[tuple[str, tuple, tuple]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.misshaped)

    def summary(self, limit: int = 5) -> str:
        lines = [f"{len(self.missing)} missing, {len(self.unexpected)} unexpected and {len(self.misshaped)} "
                 f"mis-shaped tensors (of {self.expected} expected)"]
        if self.missing:
            lines.append("  missing: " + ", ".join(self.missing[:limit]) + (" ..." if len(self.missing) > limit else ""))
        if self.unexpected:
            lines.append("  unexpected: " + ", ".join(self.unexpected[:limit])
                         + (" ..." if len(self.unexpected) > limit else ""))
        for key, found, want in self.misshaped[:limit]:
            lines.append(f"  mis-shaped: {key} is {list(found)} in the file, expected {list(want)}")
        return "\n".join(lines)


def compare_keys(found: dict[str, TensorInfo], expected: dict[str, tuple[int, ...]],
                 optional_suffixes: tuple[str, ...] = ()) -> KeyReport:
    report = KeyReport(expected=len(expected))
    for key, shape in expected.items():
        if key not in found:
            if not (optional_suffixes and key.endswith(optional_suffixes)):
                report.missing.append(key)
        elif tuple(found[key].shape) != tuple(shape):
            report.misshaped.append((key, found[key].shape, tuple(shape)))
    report.unexpected = [key for key in found if key not in expected]
    report.missing.sort()
    report.unexpected.sort()
    return report
