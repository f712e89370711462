"""Optional parts of the package and the PyPI extras that install what they need (pyproject.toml
`[project.optional-dependencies]`). The ComfyUI node pack needs none of them."""

from __future__ import annotations

import importlib.util

from ..errors import MissingExtraError

EXTRAS = {"eval": ("pykdtree",), "train": ("pykdtree",), "ray": ("ray",)}
"""{extra: modules it provides}: `eval` (ActionBench metrics), `train` (training and held-out scores), `ray`
(`--ray`: batches and evaluations on a Ray cluster)."""


def require_extra(extra: str, what: str | None = None) -> None:
    """Raise a MissingExtraError that says how to install `extra` when any of its modules is missing.

    what: the part that needs it, for the message (default: the extra's name)."""
    missing = [module for module in EXTRAS[extra] if importlib.util.find_spec(module) is None]
    if missing:
        raise MissingExtraError(
            f"{what or extra} needs the optional '{extra}' dependencies ({', '.join(missing)} missing): "
            f"pip install \"comfyui-actionmesh[{extra}]\" (in a clone of the repository: pip install -e \".[{extra}]\")"
        )
