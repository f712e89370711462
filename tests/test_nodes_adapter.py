"""nodes/comfy_adapter.py inside ComfyUI: the pack imported the way ComfyUI imports it, against fake `comfy`,
`comfy.utils`, `comfy.model_management`, `folder_paths` and `comfy_api.latest` modules that behave like ComfyUI
0.8's (see the conventions doc) and record what the pack asks of them."""

from __future__ import annotations

import enum
import shutil
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from comfy_pack import EXAMPLE_MESH, EXAMPLE_VIDEO, PACK_DIR, PACK_MODULE, import_pack, run_node, small_models


PACK_IN_COMFYUI = PACK_MODULE + "_in_comfyui"  # the copy of the pack imported inside the fake ComfyUI
BUNDLED = "bundled small model"


class VRAMState(enum.Enum):
    """comfy.model_management.VRAMState."""

    DISABLED = 0
    NO_VRAM = 1
    LOW_VRAM = 2
    NORMAL_VRAM = 3
    HIGH_VRAM = 4
    SHARED = 5


class InterruptProcessingException(Exception):
    """comfy.model_management's: what Cancel raises at the next interrupt check."""


class MESH:
    """comfy_api.latest.Types.MESH (comfy_api/latest/_util/geometry_types.py)."""

    def __init__(self, vertices: torch.Tensor, faces: torch.Tensor):
        self.vertices, self.faces = vertices, faces


def module(name: str, **attributes) -> types.ModuleType:
    fake = types.ModuleType(name)
    fake.__dict__.update(attributes)
    return fake


class FakeComfyUI:
    """ComfyUI's services as the pack sees them, under `base` (input/, output/, temp/, models/).

    calls:        the model-management calls made (and the stage markers tests add), in order.
    bars:         the updates [(value, total), ...] of every ProgressBar made, one list per bar.
    cancel_after: the user presses Cancel once this many progress updates were shown (None: never).
    modules:      {module name: fake module}, for sys.modules; comfy_api: "MESH" (Types has MESH), "no MESH"
                  (a V3 API without it) or None (ComfyUI before the V3 API: importing comfy_api fails).
    """

    def __init__(self, base: Path, vram_state: str = "NORMAL_VRAM", comfy_api: str | None = "MESH"):
        self.base, self.calls, self.bars, self.cancel_after = base, [], [], None
        self._cancelled = False
        management = self._model_management(VRAMState[vram_state])
        utils = module("comfy.utils", ProgressBar=self._progress_bar())
        self.folder_paths = self._folder_paths()
        self.modules = {"comfy": module("comfy", __path__=[], utils=utils, model_management=management),
                        "comfy.utils": utils, "comfy.model_management": management, "folder_paths": self.folder_paths,
                        "comfy_api": None, "comfy_api.latest": None}  # None in sys.modules: the import fails
        if comfy_api is not None:
            types_class = type("Types", (), {"MESH": MESH} if comfy_api == "MESH" else {})
            latest = module("comfy_api.latest", Types=types_class)
            self.modules.update({"comfy_api": module("comfy_api", __path__=[], latest=latest),
                                 "comfy_api.latest": latest})

    def _record(self, name: str):
        return lambda *args, **kwargs: self.calls.append(name)

    def _model_management(self, vram_state: VRAMState) -> types.ModuleType:
        def get_torch_device():
            self.calls.append("get_torch_device")
            return torch.device("cpu")

        def throw_exception_if_processing_interrupted():
            if self._cancelled:
                self._cancelled = False
                raise InterruptProcessingException()

        return module("comfy.model_management", VRAMState=VRAMState, vram_state=vram_state,
                      InterruptProcessingException=InterruptProcessingException, get_torch_device=get_torch_device,
                      unload_all_models=self._record("unload_all_models"),
                      soft_empty_cache=self._record("soft_empty_cache"),
                      throw_exception_if_processing_interrupted=throw_exception_if_processing_interrupted)

    def _progress_bar(self) -> type:
        fake = self

        class ProgressBar:
            def __init__(self, total, node_id=None):
                self.total, self.updates = total, []
                fake.bars.append(self.updates)

            def update_absolute(self, value, total=None, preview=None):
                self.total = total if total is not None else self.total
                self.updates.append((value, self.total))
                if len(self.updates) == fake.cancel_after:
                    fake._cancelled = True

        return ProgressBar

    def _folder_paths(self) -> types.ModuleType:
        names: dict[str, tuple[list[str], set[str]]] = {}

        def add_model_folder_path(folder_name: str, full_folder_path: str, is_default: bool = False) -> None:
            paths = names.setdefault(folder_name, ([], set()))[0]
            if full_folder_path not in paths:
                paths.insert(0 if is_default else len(paths), full_folder_path)

        def directory(name: str):
            return lambda: str(self.base / name)

        return module("folder_paths", models_dir=str(self.base / "models"), folder_names_and_paths=names,
                      add_model_folder_path=add_model_folder_path, get_folder_paths=lambda name: names[name][0][:],
                      get_input_directory=directory("input"), get_output_directory=directory("output"),
                      get_temp_directory=directory("temp"))


@pytest.fixture
def comfyui(tmp_path, monkeypatch):
    """start(**FakeComfyUI options) -> (the fake, the pack imported inside it). The fake's modules go into sys.modules
    and the pack is imported afresh under another module name, so the session's pack (no ComfyUI) is left alone."""
    shutil.copytree(PACK_DIR / "workflows" / "inputs", tmp_path / "input")

    def start(**options):
        fake = FakeComfyUI(tmp_path, **options)
        for name, fake_module in fake.modules.items():
            monkeypatch.setitem(sys.modules, name, fake_module)
        return fake, import_pack(PACK_IN_COMFYUI)

    yield start
    for name in [n for n in sys.modules if n == PACK_IN_COMFYUI or n.startswith(PACK_IN_COMFYUI + ".")]:
        del sys.modules[name]


def diffusion_inputs(fake, pack) -> dict:
    """Temporal Diffusion's inputs: the example video's first 3 frames (prepared) and mesh, small models, one window
    of 3. What preparing them did is cleared from the fake's records."""
    (frames, mask, fps), _ = run_node(pack, "ActionMeshLoadVideo", video=EXAMPLE_VIDEO, frame_load_cap=3, stride=2,
                                      start_frame=0, max_side=64)
    (mesh,), _ = run_node(pack, "ActionMeshLoadMesh", mesh_file=EXAMPLE_MESH, up_axis="+y")
    model = small_models(pack)
    (prepared,), _ = run_node(pack, "ActionMeshPrepareFrames", model=model, frames=frames, mask=mask, fps=fps)
    fake.calls.clear()
    fake.bars.clear()
    return {"model": model, "frames": prepared, "reference": mesh, "anchor_frame": 0, "preset": "custom",
            "guidance": 3.0, "seed": 7, "window": 3, "low_vram": False}


def test_models_folder_is_registered_and_the_folders_are_comfyuis(comfyui):
    fake, pack = comfyui()
    adapter, base = pack.nodes.comfy_adapter, fake.base
    models = str(base / "models" / "actionmesh")
    assert adapter.IN_COMFYUI and fake.folder_paths.folder_names_and_paths["actionmesh"] == ([models], set())
    fake.folder_paths.add_model_folder_path("actionmesh", "/data/weights")  # as an extra_model_paths.yaml entry
    assert adapter.model_dirs() == [Path(models), Path("/data/weights")]
    assert (adapter.input_dir(), adapter.output_dir(), adapter.temp_dir()) == (base / "input", base / "output",
                                                                               base / "temp")
    assert pack.NODE_CLASS_MAPPINGS["ActionMeshLoadVideo"].INPUT_TYPES()["required"]["video"][0] == [EXAMPLE_VIDEO]


def test_progress_bar_per_step_and_memory_freed_around_the_stage(comfyui, monkeypatch):
    fake, pack = comfyui()
    inputs, run = diffusion_inputs(fake, pack), pack.actionmesh_core.pipeline.run
    generate_latents = run.generate_latents

    def marked(*args, **kwargs):
        fake.calls.append("temporal diffusion")
        return generate_latents(*args, **kwargs)

    monkeypatch.setattr(run, "generate_latents", marked)
    (latents,), _ = run_node(pack, "ActionMeshTemporalDiffusion", steps=2, **inputs)
    assert sorted(latents.latents) == [0, 1, 2]
    assert fake.bars == [[(1, 2), (2, 2)]]  # one bar for the node, one update per denoising step
    assert fake.calls == ["unload_all_models", "soft_empty_cache", "temporal diffusion", "soft_empty_cache"]


def test_cancel_raises_comfyuis_interrupt_and_the_node_stops_at_the_next_step(comfyui):
    fake, pack = comfyui()
    inputs = diffusion_inputs(fake, pack)
    fake.cancel_after = 2
    with pytest.raises(InterruptProcessingException):
        run_node(pack, "ActionMeshTemporalDiffusion", steps=5, **inputs)
    assert fake.bars == [[(1, 5), (2, 5)]]  # step 3 ran, then the interrupt check stopped the node
    assert fake.calls[-1] == "soft_empty_cache"  # the freed memory went back to ComfyUI all the same


@pytest.mark.parametrize("vram_state, offload", [("LOW_VRAM", "free"), ("NO_VRAM", "free"), ("NORMAL_VRAM", "cpu"),
                                                 ("HIGH_VRAM", "cpu"), ("DISABLED", "cpu")])
def test_auto_offload_follows_comfyuis_vram_state(comfyui, vram_state, offload):
    fake, pack = comfyui(vram_state=vram_state)
    assert pack.NODE_CLASS_MAPPINGS["ActionMeshLoadModels"].INPUT_TYPES()["required"]["offload"][0][0] == "auto"
    options = {"weights": BUNDLED, "precision": "fp32", "attention": "sdpa", "download_if_missing": False}
    (auto,), _ = run_node(pack, "ActionMeshLoadModels", offload="auto", **options)
    (kept,), _ = run_node(pack, "ActionMeshLoadModels", offload="keep", **options)
    assert auto.models.offload == offload and kept.models.offload == "keep"
    assert auto.models.device == torch.device("cpu") and fake.calls == ["get_torch_device"] * 2


def test_auto_offload_without_comfyui_parks_models_in_ram(pack):
    (auto,), _ = run_node(pack, "ActionMeshLoadModels", weights=BUNDLED, precision="fp32", attention="sdpa",
                          offload="auto", download_if_missing=False)
    assert auto.models.resident == {}
    with auto.models.use("dinov2"):  # one stage: afterwards the model waits in RAM for the next one
        pass
    assert auto.models.offload == "cpu" and auto.models.resident == {"dinov2": torch.device("cpu")}


@pytest.mark.parametrize("comfy_api", ["MESH", "no MESH", None])
def test_core_mesh_is_comfyuis_mesh_where_it_has_one(comfyui, comfy_api):
    _, pack = comfyui(comfy_api=comfy_api)
    (mesh,), _ = run_node(pack, "ActionMeshLoadMesh", mesh_file=EXAMPLE_MESH, up_axis="+y")
    (core,), _ = run_node(pack, "ActionMeshMeshToMESH", mesh=mesh)
    assert type(core) is (MESH if comfy_api == "MESH" else pack.nodes.comfy_types.CoreMesh)
    assert core.vertices.shape == (1, len(mesh.vertices), 3) and core.faces.dtype == torch.int64
    (back,), _ = run_node(pack, "ActionMeshMeshFromMESH", mesh=core, index=0)
    assert np.allclose(back.vertices, mesh.vertices) and np.array_equal(back.faces, mesh.faces)
