"""The pack as ComfyUI sees it before running anything: registration, declarations, validation, file handling."""

from __future__ import annotations

import ast
import inspect
import sys

import pytest
from comfy_pack import EXAMPLE_VIDEO, PACK_DIR, load_pack


WIDGET_TYPES = ("INT", "FLOAT", "STRING", "BOOLEAN")
NODE_IDS = sorted(load_pack().NODE_CLASS_MAPPINGS)


def test_pack_imports_like_comfyui_without_comfyui(pack):
    assert "comfy" not in sys.modules and "folder_paths" not in sys.modules
    assert not pack.nodes.comfy_adapter.IN_COMFYUI
    assert set(pack.NODE_CLASS_MAPPINGS) == set(pack.NODE_DISPLAY_NAME_MAPPINGS)
    assert all(node_id.startswith("ActionMesh") for node_id in pack.NODE_CLASS_MAPPINGS)
    assert len(set(pack.NODE_DISPLAY_NAME_MAPPINGS.values())) == len(pack.NODE_CLASS_MAPPINGS) == 20
    web = PACK_DIR / pack.WEB_DIRECTORY
    assert any(web.glob("*.js"))


def test_only_the_adapter_imports_comfyui():
    comfy_modules = {"comfy", "folder_paths", "server", "comfy_api", "comfy_execution", "nodes"}
    importers = set()
    for path in [PACK_DIR / "__init__.py", *sorted((PACK_DIR / "nodes").glob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else []
            if any(name.split(".")[0] in comfy_modules for name in names):
                importers.add(path.name)
    assert importers == {"comfy_adapter.py"}


def _inputs(cls) -> dict:
    declared = cls.INPUT_TYPES()
    assert set(declared) <= {"required", "optional", "hidden"}
    return {**declared.get("required", {}), **declared.get("optional", {})}


@pytest.mark.parametrize("node_id", NODE_IDS)
def test_declaration(pack, comfy_base, node_id):
    cls = pack.NODE_CLASS_MAPPINGS[node_id]
    inputs = _inputs(cls)
    for name, (kind, options) in inputs.items():
        assert isinstance(kind, (str, list)), name
        assert options.get("tooltip"), f"{node_id}.{name} has no tooltip"
        if kind in ("INT", "FLOAT"):
            assert options["min"] <= options["default"] <= options["max"], name
            assert isinstance(options["default"], int if kind == "INT" else float), name
        if kind == "BOOLEAN":
            assert isinstance(options["default"], bool)
    assert cls.CATEGORY.startswith("ActionMesh") and cls.DESCRIPTION
    assert isinstance(cls.RETURN_TYPES, tuple)
    for names in ("RETURN_NAMES", "OUTPUT_TOOLTIPS"):
        assert len(getattr(cls, names, cls.RETURN_TYPES)) == len(cls.RETURN_TYPES)
    assert cls.RETURN_TYPES or getattr(cls, "OUTPUT_NODE", False)
    function = inspect.signature(getattr(cls, cls.FUNCTION))
    required = set(cls.INPUT_TYPES()["required"])
    parameters = {n: p for n, p in function.parameters.items() if n != "self"}
    assert set(parameters) == set(inputs)
    assert {n for n, p in parameters.items() if p.default is inspect.Parameter.empty} == required
    for hook in ("VALIDATE_INPUTS", "IS_CHANGED"):
        if hasattr(cls, hook):
            named = [n for n, p in inspect.signature(getattr(cls, hook)).parameters.items() if p.kind == p.POSITIONAL_OR_KEYWORD]
            assert set(named) <= {n for n, (kind, _) in inputs.items() if kind in WIDGET_TYPES or isinstance(kind, list)}
    if "seed" in inputs:
        assert inputs["seed"][1]["control_after_generate"] is True


def test_file_inputs_have_change_and_validation_hooks(pack):
    for node_id in ("ActionMeshLoadModels", "ActionMeshLoadVideo", "ActionMeshLoadMesh"):
        cls = pack.NODE_CLASS_MAPPINGS[node_id]
        assert hasattr(cls, "IS_CHANGED") and hasattr(cls, "VALIDATE_INPUTS")


def test_combos_list_input_files_and_weight_roots(pack, comfy_base):
    video = pack.NODE_CLASS_MAPPINGS["ActionMeshLoadVideo"].INPUT_TYPES()["required"]["video"]
    assert video[0] == [EXAMPLE_VIDEO] and video[1]["video_upload"] is True
    meshes = pack.NODE_CLASS_MAPPINGS["ActionMeshLoadMesh"].INPUT_TYPES()["required"]["mesh_file"][0]
    assert meshes == ["3d/actionmesh_example_mesh.glb", "3d/actionmesh_example_target.glb"]
    weights = pack.NODE_CLASS_MAPPINGS["ActionMeshLoadModels"].INPUT_TYPES()["required"]["weights"][0]
    assert weights == ["bundled small model", "official"]  # nothing installed: the bundled model, or download


def test_validate_inputs_report_bad_paths_and_values(pack, comfy_base):
    nodes = pack.NODE_CLASS_MAPPINGS
    assert nodes["ActionMeshLoadVideo"].VALIDATE_INPUTS(EXAMPLE_VIDEO) is True
    assert "no file gone.mp4" in nodes["ActionMeshLoadVideo"].VALIDATE_INPUTS("gone.mp4")
    assert "leads outside" in nodes["ActionMeshLoadVideo"].VALIDATE_INPUTS("../secret.mp4")
    assert "not a video" in nodes["ActionMeshLoadVideo"].VALIDATE_INPUTS("3d/actionmesh_example_mesh.glb")
    assert "not a mesh" in nodes["ActionMeshLoadMesh"].VALIDATE_INPUTS(EXAMPLE_VIDEO)
    assert nodes["ActionMeshExport"].VALIDATE_INPUTS("actionmesh/run") is True
    assert "leads outside" in nodes["ActionMeshExport"].VALIDATE_INPUTS("../../etc/passwd")
    assert "is an absolute path" in nodes["ActionMeshExport"].VALIDATE_INPUTS("/abs/name")
    prior = nodes["ActionMeshImage3DPrior"]
    assert prior.VALIDATE_INPUTS(0) is True and prior.VALIDATE_INPUTS(128) is True
    assert "power of two" in prior.VALIDATE_INPUTS(48)
    models = nodes["ActionMeshLoadModels"]
    assert models.VALIDATE_INPUTS("bundled small model", "sdpa", False) is True
    message = models.VALIDATE_INPUTS("official", "auto", False)
    assert "no complete ActionMesh weights folder named 'official'" in message
    assert "switch download_if_missing on" in message and "actionmesh weights download --root" in message
    assert models.VALIDATE_INPUTS("official", "auto", True) is True  # downloaded when the node runs
    assert "choose 'official'" in models.VALIDATE_INPUTS("bundled small model", "auto", True)
    assert "not one of the weights folders" in models.VALIDATE_INPUTS("../../elsewhere", "auto", True)
    flash = pack.actionmesh_core.models.attention.flash_attn_installed()
    assert (models.VALIDATE_INPUTS("bundled small model", "flash", False) is True) == flash


def test_is_changed_follows_the_file(pack, comfy_base):
    node = pack.NODE_CLASS_MAPPINGS["ActionMeshLoadMesh"]
    path = comfy_base / "input" / "3d" / "changing.obj"
    path.write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
    before = node.IS_CHANGED("3d/changing.obj", up_axis="+y")
    assert node.IS_CHANGED("3d/changing.obj", up_axis="+y") == before
    path.write_text("v 0 0 0\nv 2 0 0\nv 0 2 0\nv 0 0 2\nf 1 2 3\nf 1 2 4\n")
    assert node.IS_CHANGED("3d/changing.obj", up_axis="+y") != before
    path.unlink()


def test_weights_folders_under_models_actionmesh_are_listed_and_loaded(pack, comfy_base):
    core = pack.actionmesh_core
    root = comfy_base / "models" / "actionmesh" / "tiny"
    for name in core.pipeline.model_set.REQUIRED:
        folder = root / core.models.registry.get_spec(name).folders[-1]
        core.models.registry.save_model(name, core.models.registry.build_model(
            name, core.models.presets.TINY_CONFIGS[name]), folder)
    (comfy_base / "models" / "actionmesh" / "incomplete" / "dinov2").mkdir(parents=True)
    node = pack.NODE_CLASS_MAPPINGS["ActionMeshLoadModels"]
    assert node.INPUT_TYPES()["required"]["weights"][0] == ["tiny", "bundled small model", "official"]
    assert node.VALIDATE_INPUTS("tiny", "auto", False) is True
    signature = node.IS_CHANGED("tiny", precision="fp32", download_if_missing=False)
    model, = node().load("tiny", "fp32", "sdpa", "free", False)
    assert model.name == "tiny" and model.models.attention == "sdpa"
    with model.models.use("triposg-vae") as vae:  # "free": nothing stays loaded after a stage
        kernels = {module.backend for module in vae.modules() if type(module).__name__ == "Attention"}
    assert kernels == {"sdpa"} and model.models.resident == {}
    assert model.models.has("triposg-vae") and not model.models.has("rmbg")
    core.models.registry.resolve_model_folder("dinov2", root)[1][0].unlink()
    assert node.INPUT_TYPES()["required"]["weights"][0] == ["bundled small model", "official"]
    assert node.VALIDATE_INPUTS("tiny", "auto", False) is not True and signature


def test_output_names_are_numbered_and_stay_inside(pack, tmp_path):
    files = pack.nodes.files
    first = files.numbered_path(tmp_path, "actionmesh/run", ".glb")
    assert first == tmp_path.resolve() / "actionmesh" / "run_00001_.glb"
    first.write_bytes(b"x")
    (tmp_path / "actionmesh" / "run_00007_").mkdir()  # a folder export counts too
    (tmp_path / "actionmesh" / "other_00050_.glb").write_bytes(b"x")
    assert files.numbered_path(tmp_path, "actionmesh/run", ".glb").name == "run_00008_.glb"
    errors = pack.actionmesh_core.errors
    for bad in ("../run", "actionmesh/../../run", "", "/tmp/run"):
        with pytest.raises(errors.InputError):
            files.numbered_path(tmp_path, bad, ".glb")
