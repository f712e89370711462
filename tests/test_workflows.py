"""The shipped workflows: every node type exists (in the pack or in core ComfyUI), every link joins matching
types, every widget value is valid and in the frontend's positional order, the UI and API formats agree, and
the workflows made of pack nodes only run end to end with the small model."""

from __future__ import annotations

import graphlib
import json

import pygltflib
import pytest
from test_nodes_support import PACK_DIR, load_pack

pytest_plugins = ["test_nodes_support"]  # fixtures: pack, comfy_base

WORKFLOWS = PACK_DIR / "workflows"
NAMES = sorted(path.stem for path in WORKFLOWS.glob("*.json"))

# The core ComfyUI nodes the workflows rely on, as ComfyUI 0.8.0's /object_info declares them:
# {id: ({input: (type or combo options, {min, max})}, output types)}; FILE = a combo of the user's model/image files.
CORE_NODES = {
    "CLIPLoader": ({"clip_name": ("FILE",), "type": (["stable_diffusion", "stable_cascade", "sd3", "stable_audio",
                   "mochi", "ltxv", "pixart", "cosmos", "lumina2", "wan", "hidream", "chroma", "ace", "omnigen2",
                   "qwen_image", "hunyuan_image", "flux2", "ovis"],), "device": (["default", "cpu"],)}, ("CLIP",)),
    "CLIPTextEncode": ({"text": ("STRING",), "clip": ("CLIP",)}, ("CONDITIONING",)),
    "CreateVideo": ({"images": ("IMAGE",), "fps": ("FLOAT", {"min": 1.0, "max": 120.0}), "audio": ("AUDIO",)},
                    ("VIDEO",)),
    "KSampler": ({"model": ("MODEL",), "seed": ("INT", {"min": 0, "max": 2**64 - 1}),
                  "steps": ("INT", {"min": 1, "max": 10000}), "cfg": ("FLOAT", {"min": 0.0, "max": 100.0}),
                  "sampler_name": (["euler", "euler_ancestral", "heun", "dpmpp_2m", "dpmpp_2m_sde", "ddim", "uni_pc",
                                    "uni_pc_bh2", "lcm", "res_multistep"],),  # a subset of ComfyUI's list
                  "scheduler": (["simple", "sgm_uniform", "karras", "exponential", "ddim_uniform", "beta", "normal",
                                 "linear_quadratic", "kl_optimal"],),
                  "positive": ("CONDITIONING",), "negative": ("CONDITIONING",), "latent_image": ("LATENT",),
                  "denoise": ("FLOAT", {"min": 0.0, "max": 1.0})}, ("LATENT",)),
    "LoadImage": ({"image": ("FILE",)}, ("IMAGE", "MASK")),
    "ModelSamplingSD3": ({"model": ("MODEL",), "shift": ("FLOAT", {"min": 0.0, "max": 100.0})}, ("MODEL",)),
    "Preview3D": ({"model_file": ("STRING",), "camera_info": ("LOAD3D_CAMERA",), "bg_image": ("IMAGE",)}, ()),
    "SaveVideo": ({"video": ("VIDEO",), "filename_prefix": ("STRING",), "format": (["auto", "mp4"],),
                   "codec": (["auto", "h264"],)}, ()),
    "UNETLoader": ({"unet_name": ("FILE",), "weight_dtype": (["default", "fp8_e4m3fn", "fp8_e4m3fn_fast",
                                                              "fp8_e5m2"],)}, ("MODEL",)),
    "VAEDecode": ({"samples": ("LATENT",), "vae": ("VAE",)}, ("IMAGE",)),
    "VAELoader": ({"vae_name": ("FILE",)}, ("VAE",)),
    "Wan22ImageToVideoLatent": ({"vae": ("VAE",), "width": ("INT", {"min": 32, "max": 16384}),
                                 "height": ("INT", {"min": 32, "max": 16384}),
                                 "length": ("INT", {"min": 1, "max": 16384}),
                                 "batch_size": ("INT", {"min": 1, "max": 4096}), "start_image": ("IMAGE",)},
                                ("LATENT",)),
}
UPLOAD_WIDGETS = ("image_upload", "video_upload")  # the frontend adds an upload widget after all the others
EXTRA_UI_WIDGETS = {"Preview3D": ["viewer"]}  # the 3D viewer widget, stored after model_file
WIDGET_KINDS = ("INT", "FLOAT", "STRING", "BOOLEAN", "FILE")


def declaration(node_type: str) -> tuple[dict, tuple]:
    """({input: (type, options)}, output types) of a pack or core node."""
    cls = load_pack().NODE_CLASS_MAPPINGS.get(node_type)
    if cls is not None:
        declared = cls.INPUT_TYPES()
        return {**declared["required"], **declared.get("optional", {})}, cls.RETURN_TYPES
    assert node_type in CORE_NODES, f"{node_type} is neither a pack node nor a core node the workflows may use"
    inputs, outputs = CORE_NODES[node_type]
    return {name: (spec[0], spec[1] if len(spec) > 1 else {}) for name, spec in inputs.items()}, outputs


def is_widget(kind) -> bool:
    return isinstance(kind, list) or kind in WIDGET_KINDS


def ui_widget_names(node_type: str) -> list[str]:
    """The widgets the frontend makes for a node, in its positional `widgets_values` order."""
    names, uploads = [], []
    for name, (kind, options) in declaration(node_type)[0].items():
        if is_widget(kind):
            names.append(name)
            if kind == "INT" and (options.get("control_after_generate") or name in ("seed", "noise_seed")):
                names.append("control_after_generate")
            if any(options.get(flag) for flag in UPLOAD_WIDGETS) or (node_type, name) == ("LoadImage", "image"):
                uploads.append("upload")
    return names + uploads + EXTRA_UI_WIDGETS.get(node_type, [])


def check_value(node_type: str, name: str, value) -> None:
    """The checks ComfyUI's validate_inputs makes on a widget value (and that our input files ship)."""
    kind, options = declaration(node_type)[0][name]
    where = f"{node_type}.{name}={value!r}"
    if isinstance(kind, list):
        assert value in kind, where
    elif kind == "FILE":
        assert isinstance(value, str) and value, where
    elif kind == "INT":
        assert isinstance(value, int) and not isinstance(value, bool), where
    elif kind == "FLOAT":
        assert isinstance(value, (int, float)) and not isinstance(value, bool), where
    elif kind == "BOOLEAN":
        assert isinstance(value, bool), where
    elif kind == "STRING":
        assert isinstance(value, str), where
    assert options.get("min", value) <= value <= options.get("max", value), where
    if (node_type, name) in (("ActionMeshLoadVideo", "video"), ("ActionMeshLoadMesh", "mesh_file")):
        assert (WORKFLOWS / "inputs" / value).is_file(), f"{where}: the example input is not shipped"
    if (node_type, name) == ("ActionMeshLoadModels", "weights"):
        assert value == "bundled small model", "shipped workflows use the weights every install has"


def load(name: str, api: bool = False) -> dict:
    return json.loads((WORKFLOWS / ("api" if api else "") / f"{name}.json").read_text())


def test_every_template_has_an_api_twin_a_thumbnail_and_a_note():
    assert NAMES == ["image_text_to_4d", "long_video_ar_extend", "motion_transfer", "text_to_4d",
                     "video_mesh_to_4d", "video_to_4d", "video_to_4d_simple"]
    readme = (WORKFLOWS / "README.md").read_text()
    for name in NAMES:
        assert (WORKFLOWS / "api" / f"{name}.json").is_file() and (WORKFLOWS / f"{name}.jpg").is_file()
        assert f"`{name}`" in readme


@pytest.mark.parametrize("name", NAMES)
def test_ui_workflow_nodes_links_and_widgets(name, comfy_base):
    workflow = load(name)
    assert workflow["version"] == 0.4
    nodes = {node["id"]: node for node in workflow["nodes"]}
    for node in nodes.values():
        inputs, outputs = declaration(node["type"])
        assert [o["type"] for o in node["outputs"]] == list(outputs)
        for socket in node["inputs"]:
            kind = inputs[socket["name"]][0]
            assert socket["type"] == (kind if isinstance(kind, str) and kind != "FILE" else "COMBO")
            assert is_widget(kind) == ("widget" in socket)
        names = ui_widget_names(node["type"])
        assert len(node["widgets_values"]) == len(names), node["type"]
        for widget, value in zip(names, node["widgets_values"]):
            if widget == "control_after_generate":
                assert value in ("fixed", "increment", "decrement", "randomize")
            elif widget in inputs:
                check_value(node["type"], widget, value)
        required = [n for n, (k, _) in inputs.items() if not is_widget(k) and n in required_inputs(node["type"])]
        linked = {s["name"] for s in node["inputs"] if s["link"] is not None}
        assert set(required) <= linked, f"{node['type']} misses a required link"
    for link_id, source, slot, target, target_slot, kind in workflow["links"]:
        assert nodes[source]["outputs"][slot]["type"] == kind and link_id in nodes[source]["outputs"][slot]["links"]
        socket = nodes[target]["inputs"][target_slot]
        assert socket["link"] == link_id and socket["type"] == kind, f"link {link_id} joins {kind} to {socket}"
    assert workflow["last_link_id"] == max(link[0] for link in workflow["links"])
    assert workflow["last_node_id"] == max(nodes)


def required_inputs(node_type: str) -> set[str]:
    cls = load_pack().NODE_CLASS_MAPPINGS.get(node_type)
    if cls is not None:
        return set(cls.INPUT_TYPES()["required"])
    optional = {("CLIPLoader", "device"), ("CreateVideo", "audio"), ("Preview3D", "camera_info"),
                ("Preview3D", "bg_image"), ("Wan22ImageToVideoLatent", "start_image")}
    return {n for n in CORE_NODES[node_type][0] if (node_type, n) not in optional}


@pytest.mark.parametrize("name", NAMES)
def test_api_workflow_matches_the_ui_one(name):
    ui, api = load(name), load(name, api=True)
    nodes = {str(node["id"]): node for node in ui["nodes"]}
    assert set(api) == set(nodes)
    links = {link[0]: link for link in ui["links"]}
    for node_id, entry in api.items():
        node = nodes[node_id]
        assert entry["class_type"] == node["type"] and entry["_meta"]["title"] == node["title"]
        wired = {s["name"]: [str(links[s["link"]][1]), links[s["link"]][2]] for s in node["inputs"] if s["link"]}
        assert {k: v for k, v in entry["inputs"].items() if isinstance(v, list)} == wired
        widgets = dict(zip(ui_widget_names(node["type"]), node["widgets_values"]))
        for key, value in entry["inputs"].items():
            if not isinstance(value, list):
                assert widgets[key] == value, f"{name} node {node_id} {key}"


def test_core_nodes_relied_on_are_the_documented_ones():
    used = {node["type"] for name in NAMES for node in load(name)["nodes"]} - set(load_pack().NODE_CLASS_MAPPINGS)
    assert used == set(CORE_NODES)
    readme = (WORKFLOWS / "README.md").read_text()
    assert all(f"`{node_id}`" in readme for node_id in CORE_NODES)


PACK_ONLY = [name for name in NAMES if all(node["type"].startswith("ActionMesh") for node in load(name)["nodes"])]
RANDOM_WEIGHTS_SETTINGS = {"prior_steps": 1, "steps": 1, "mesh_resolution": 16}  # any surface will do


def recommended_settings() -> dict:
    """The bundled small model's recommended settings (its actionmesh.json "settings": a trained prior gives no
    surface with 1 step on a coarse grid), or {} for the random-weight stand-in."""
    models = load_pack().actionmesh_core.pipeline.models
    info = models.BUNDLED_WEIGHTS / models.RUN_INFO_FILE
    return json.loads(info.read_text()).get("settings", {}) if info.is_file() else {}


def speed_overrides(settings: dict | None) -> dict:
    """{node type: widget values} for quick runs of the workflows: few small frames, the models kept in place, and
    `settings` (keys as in actionmesh.json) for the steps, guidance and grid through the "custom" preset. None: the
    workflows' own preset ("model default": the bundled model's recommended settings) decides."""
    def widgets(**keys) -> dict:
        if settings is None:
            return {}
        return {"preset": "custom", **{widget: settings[key] for widget, key in keys.items() if key in settings}}

    temporal = widgets(steps="steps", guidance="guidance")
    return {
        "ActionMeshLoadModels": {"offload": "keep"},
        "ActionMeshLoadVideo": {"frame_load_cap": 3, "max_side": 64},
        "ActionMeshImage3DPrior": widgets(steps="prior_steps", guidance="prior_guidance",
                                          mesh_resolution="mesh_resolution"),
        "ActionMeshTemporalDiffusion": temporal,
        "ActionMeshARExtend": temporal,
        "ActionMeshMotionTransfer": temporal,
    }


# The workflows' wiring is what is tested, not the quality: the bundled model runs as shipped ("model default").
SPEED = speed_overrides(None if recommended_settings() else RANDOM_WEIGHTS_SETTINGS)


def test_speed_overrides_are_valid_widget_values():
    for settings in (RANDOM_WEIGHTS_SETTINGS, recommended_settings()):
        for node_type, values in speed_overrides(settings).items():
            for name, value in values.items():
                check_value(node_type, name, value)


def execute(pack, workflow: dict) -> dict:
    """Run an API-format workflow the way ComfyUI's executor does (topological order, links resolved to the
    producing node's outputs); returns {node id: ui dict} of the nodes that have one."""
    graph = {node_id: {v[0] for v in entry["inputs"].values() if isinstance(v, list)}
             for node_id, entry in workflow.items()}
    results, ui = {}, {}
    for node_id in graphlib.TopologicalSorter(graph).static_order():
        entry = workflow[node_id]
        cls = pack.NODE_CLASS_MAPPINGS[entry["class_type"]]
        inputs = {k: results[v[0]][v[1]] if isinstance(v, list) else v for k, v in entry["inputs"].items()}
        inputs |= SPEED.get(entry["class_type"], {})
        if hasattr(cls, "VALIDATE_INPUTS"):
            names = cls.VALIDATE_INPUTS.__code__.co_varnames[1:cls.VALIDATE_INPUTS.__code__.co_argcount]
            assert cls.VALIDATE_INPUTS(**{n: inputs[n] for n in names}) is True
        out = getattr(cls(), cls.FUNCTION)(**inputs)
        results[node_id] = out["result"] if isinstance(out, dict) and "result" in out else \
            () if isinstance(out, dict) else out
        assert len(results[node_id]) == len(cls.RETURN_TYPES)
        if isinstance(out, dict) and "ui" in out:
            ui[node_id] = out["ui"]
    return ui


@pytest.mark.parametrize("name", PACK_ONLY)
def test_pack_workflow_runs_end_to_end(name, pack, comfy_base):
    assert PACK_ONLY == ["long_video_ar_extend", "motion_transfer", "video_mesh_to_4d", "video_to_4d"]
    ui = execute(pack, load(name, api=True))
    exported = [entry for out in ui.values() for entry in out.get("3d", [])]
    previews = [entry for out in ui.values() for entry in out.get("actionmesh_preview", [])]
    assert len(exported) == len(previews) == 1
    glb = comfy_base / "output" / exported[0]["subfolder"] / exported[0]["filename"]
    assert glb.name == f"{name}_00001_.glb" and glb.is_file()
    gltf = pygltflib.GLTF2().load(str(glb))
    frames = 6 if name == "long_video_ar_extend" else 3
    assert gltf.extras["frames"] == frames == previews[0]["frames"]
    assert len(gltf.meshes[0].primitives[0].targets) == frames and len(gltf.animations) == 1
    assert (comfy_base / "temp" / previews[0]["subfolder"] / previews[0]["filename"]).is_file()
    if "mesh" in name or "transfer" in name:
        assert len(gltf.images) == 1  # the user mesh's texture is kept


SETTINGS_NODES = ("ActionMeshImage3DPrior", "ActionMeshTemporalDiffusion", "ActionMeshARExtend",
                  "ActionMeshMotionTransfer", "ActionMeshVideoToAnimatedMesh")


@pytest.mark.parametrize("name", NAMES)
def test_shipped_workflows_take_the_models_recommended_settings(name):
    """Every node that runs a diffusion stage uses the preset "model default", in both formats, so a fresh Load
    Models + workflow runs with what the loaded weights recommend (not the official 100/30 steps at 7.5)."""
    ui, api = load(name), load(name, api=True)
    presets = [dict(zip(ui_widget_names(node["type"]), node["widgets_values"]))["preset"]
               for node in ui["nodes"] if node["type"] in SETTINGS_NODES]
    presets += [entry["inputs"]["preset"] for entry in api.values() if entry["class_type"] in SETTINGS_NODES]
    assert presets and set(presets) == {"model default"}
    for node in ui["nodes"]:
        if node["type"] == "ActionMeshLoadModels":
            assert dict(zip(ui_widget_names(node["type"]), node["widgets_values"]))["download_if_missing"] is False


def test_fresh_workflow_runs_with_the_models_recommended_settings(pack, comfy_base, monkeypatch):
    recommended = recommended_settings()
    if not recommended:
        pytest.skip("no trained small model is bundled")
    stages, used = pack.nodes.stages, []

    def spy(*args, **kwargs):
        used.append(run_settings(*args, **kwargs))
        return used[-1]

    run_settings = stages.run_settings
    monkeypatch.setattr(stages, "run_settings", spy)
    execute(pack, load("video_to_4d", api=True))
    prior, temporal = used  # Image3D Prior, then Temporal Diffusion
    assert (prior.prior_steps, prior.prior_guidance, prior.mesh_resolution) == \
        (recommended["prior_steps"], recommended["prior_guidance"], recommended["mesh_resolution"])
    assert (temporal.steps, temporal.guidance) == (recommended["steps"], recommended["guidance"])
    assert prior.source == temporal.source == "model default"
