"""Reading safetensors checkpoints: headers without loading tensors, shards, key renaming, and strict
comparison with what a model expects. Never unpickles anything."""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import WeightsError

DTYPE_NAMES = {"F32": "float32", "F16": "float16", "BF16": "bfloat16", "F64": "float64", "I64": "int64",
               "I32": "int32", "I16": "int16", "I8": "int8", "U8": "uint8", "BOOL": "bool"}
DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U64": 8, "U32": 4,
               "U16": 2, "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}
"""Bytes per element of every safetensors dtype."""


@dataclass(frozen=True)
class TensorInfo:
    dtype: str
    shape: tuple[int, ...]
    file: Path


def read_header(path: Path) -> dict[str, TensorInfo]:
    """The tensors listed in one .safetensors file, checked against the file size (no tensor is read): every
    tensor's bytes (dtype size x shape) fill exactly its offsets, and the tensors tile the data section with
    no gap, no overlap and nothing past its end, as the safetensors library requires when it loads the file."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            prefix = f.read(8)
            header_len = struct.unpack("<Q", prefix)[0] if len(prefix) == 8 else None
            raw = f.read(header_len) if header_len is not None and header_len <= min(size - 8, 100_000_000) else None
    except OSError as exc:
        raise WeightsError(f"cannot read {path} ({exc.strerror}); check the file's permissions") from None
    if header_len is None:
        raise WeightsError(f"{path} is truncated or not a safetensors file ({size} bytes); download it again")
    if raw is None:
        raise WeightsError(f"{path} is truncated or not a safetensors file (header of {header_len} bytes in a "
                           f"{size}-byte file); download it again")
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise WeightsError(f"{path} has a corrupt safetensors header; download it again") from None
    if not isinstance(header, dict):
        raise WeightsError(f"{path} has a corrupt safetensors header (not a JSON object); download it again")
    data_size = size - 8 - header_len
    entries = {key: _entry(path, key, value) for key, value in header.items() if key != "__metadata__"}
    _check_layout(path, entries, data_size)
    return {key: TensorInfo(DTYPE_NAMES.get(dtype, dtype.lower()), shape, path)
            for key, (dtype, shape, _, _) in entries.items()}


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _entry(path: Path, key: str, entry) -> tuple[str, tuple[int, ...], int, int]:
    """One header entry {"dtype": str, "shape": [int], "data_offsets": [start, end]} -> (dtype, shape, start,
    end). A malformed entry is a WeightsError naming the file."""
    try:
        dtype, shape, (start, end) = entry["dtype"], entry["shape"], entry["data_offsets"]
        valid = isinstance(dtype, str) and isinstance(shape, list) and all(map(_is_count, [*shape, start, end]))
    except (KeyError, TypeError, ValueError):
        valid = False
    if not valid or start > end:
        raise WeightsError(f"{path} has a malformed safetensors header: the entry for {key!r} is {entry!r:.200}, "
                           f"not {{dtype, shape, data_offsets}}; download the file again")
    if dtype not in DTYPE_BYTES:
        raise WeightsError(f"{path}: tensor {key!r} has the unknown dtype {dtype!r}; download the file again")
    return dtype, tuple(shape), start, end


def _check_layout(path: Path, entries: dict[str, tuple], data_size: int) -> None:
    """Every tensor's offsets span exactly dtype size x elements; the tensors tile [0, data_size)."""
    for key, (dtype, shape, start, end) in entries.items():
        expected = DTYPE_BYTES[dtype] * math.prod(shape)
        if end - start != expected:
            raise WeightsError(f"{path}: the header says tensor {key!r} ({dtype} {list(shape)}, {expected} bytes) "
                               f"fills bytes {start}..{end} ({end - start} bytes): the header does not match the data; "
                               "download the file again")
        if end > data_size:
            raise WeightsError(f"{path} is truncated: tensor {key!r} ends at byte {end} of the data section, which "
                               f"holds only {data_size} bytes; download the file again")
    covered = 0
    for key, (_, _, start, end) in sorted(entries.items(), key=lambda item: (item[1][2], item[1][3])):
        if start != covered:
            what = "overlaps the tensor before it" if start < covered else f"leaves a gap of {start - covered} bytes"
            raise WeightsError(f"{path}: tensor {key!r} starts at byte {start} and {what}: the header does not match "
                               "the data; download the file again")
        covered = end
    if covered != data_size:
        raise WeightsError(f"{path}: the tensors fill {covered} bytes but the data section holds {data_size}: the "
                           "header does not match the data; download the file again")


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
