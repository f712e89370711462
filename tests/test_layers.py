"""The package's layers point only down: the import-linter contract in pyproject.toml, checked here with grimp
(import-linter's graph library) so the ordinary test run catches an upward import too."""

import ast
import tomllib
from pathlib import Path

import grimp
import pytest

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
(CONTRACT,) = [c for c in tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]["contracts"]
               if c["type"] == "layers"]
LAYERS = [grimp.Layer(*(name.strip() for name in line.split("|"))) for line in CONTRACT["layers"]]
CONTAINER = CONTRACT["containers"][0]


@pytest.fixture(scope="module")
def graph():
    return grimp.build_graph(CONTAINER, cache_dir=None)


def upward_imports(graph) -> list[str]:
    """'package -> package (via module -> module)' for every import chain that breaks the layers."""
    found = graph.find_illegal_dependencies_for_layers(layers=LAYERS, containers={CONTAINER})
    return sorted(f"{dependency.importer} -> {dependency.imported} (via {min(route.heads)} -> {min(route.tails)})"
                  for dependency in found for route in dependency.routes)


def test_no_package_imports_a_layer_above_it(graph):
    assert upward_imports(graph) == []


def test_every_package_of_the_core_has_a_layer(graph):
    declared = {tail for layer in LAYERS for tail in layer.module_tails}
    children = {module.removeprefix(CONTAINER + ".") for module in graph.find_children(CONTAINER)}
    assert children == declared


@pytest.mark.parametrize("importer, imported", [
    ("actionmesh_core.base.atomic", "actionmesh_core.export.gltf"),  # the bottom layer reaching up
    ("actionmesh_core.render.preview", "actionmesh_core.export.mp4"),  # render must not use its exporters
    ("actionmesh_core.inputs.load", "actionmesh_core.pipeline.framing"),  # input reading under the pipeline
    ("actionmesh_core.pipeline.run", "actionmesh_core.export.formats"),  # independent siblings
])
def test_an_upward_import_is_caught(graph, importer, imported):
    graph.add_import(importer=importer, imported=imported, line_number=1, line_contents="import")
    try:
        assert any(f"(via {importer} -> {imported})" in line for line in upward_imports(graph))
    finally:
        graph.remove_import(importer=importer, imported=imported)
    assert upward_imports(graph) == []


def test_the_node_pack_reaches_no_command_line_only_package(graph):
    """nodes/ imports core modules (relatively, so grimp cannot follow it from there); nothing they import, however
    indirectly, is in eval/, train/ or data/, which ComfyUI users need not install (see the eval and train extras)."""
    pack = Path(__file__).resolve().parents[1]
    imported = set()
    for path in (pack / "nodes").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 2 and (node.module or "").startswith(CONTAINER):
                module = node.module
                names = [f"{module}.{alias.name}" for alias in node.names]
                imported |= {name for name in names if name in graph.modules} or {module}
    assert imported, "nodes/ imports nothing from the core?"
    reached = imported | {upstream for module in imported for upstream in graph.find_upstream_modules(module)}
    optional = sorted(m for m in reached if m.split(".")[1] in ("eval", "train", "data"))
    assert optional == []
