"""The optional parts: `actionmesh eval` and `actionmesh train` need their PyPI extras; without them each says,
in one line with exit code 2, which extra to install. What ComfyUI installs (requirements.txt) has none of them."""

import importlib.util
import re
import tomllib
from pathlib import Path

import pytest

from actionmesh_core.base import extras
from actionmesh_core.cli import main

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=!~;\[ ]", line.strip(), maxsplit=1)[0].lower() for line in requirements
            if line.strip() and not line.startswith("#")}


def test_the_extras_table_is_pyprojects_and_the_node_pack_needs_none_of_it():
    optional = PYPROJECT["optional-dependencies"]
    for extra, modules in extras.EXTRAS.items():
        assert names(optional[extra]) == set(modules), extra  # here each distribution is named like its module
        assert set(modules) <= names(optional["dev"]), "the dev install (tests, CI) has every extra"
    only_optional = {module for modules in extras.EXTRAS.values() for module in modules}
    assert not only_optional & names((ROOT / "requirements.txt").read_text().splitlines())
    assert not only_optional & names(PYPROJECT["dependencies"])


@pytest.fixture
def without_pykdtree(monkeypatch):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pykdtree" else find_spec(name, *a))


@pytest.mark.parametrize("command, extra", [
    (["eval", "--gt-root", "gt", "--pred-root", "preds"], "eval"),
    (["train", "score", "--bench", "b", "--preds", "p"], "train"),
])
def test_a_missing_extra_is_one_line_that_names_it(without_pykdtree, capsys, command, extra):
    assert main(command) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and f'pip install "comfyui-actionmesh[{extra}]"' in error and "pykdtree" in error


def test_the_evaluator_itself_says_so_when_used_from_python(without_pykdtree):
    import torch

    from actionmesh_core.errors import MissingExtraError
    from actionmesh_core.eval.neighbours import NearestIndex

    with pytest.raises(MissingExtraError, match=r"comfyui-actionmesh\[eval\]"):
        NearestIndex(torch.zeros(1, 4, 3))
