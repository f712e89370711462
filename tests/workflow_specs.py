"""The shipped workflows as data: their files, the core ComfyUI nodes they rely on (as ComfyUI 0.8.0 declares them),
the widgets the frontend makes, quick settings for test runs, and a small executor (plain helpers for
test_workflows.py and test_comfyui_integration.py)."""

from __future__ import annotations

import graphlib
import json
from pathlib import Path
from types import SimpleNamespace

from comfy_pack import PACK_DIR, load_pack

WORKFLOWS = PACK_DIR / "workflows"
# api/index.json pairs each workflow's id (its API twin's name) with its title (the template's file name), in the
# order of the template browser; scripts/make_workflows.py writes all three.
INDEX_FILE = WORKFLOWS / "api" / "index.json"
INDEX = {entry["id"]: entry["title"] for entry in json.loads(INDEX_FILE.read_text())} if INDEX_FILE.is_file() else {}
NAMES = sorted(INDEX)

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
    if (node_type, name) in (("ActionMeshLoadVideo", "video"), ("ActionMeshLoadMesh", "mesh_file"), ("LoadImage", "image")):
        assert (WORKFLOWS / "inputs" / value).is_file(), f"{where}: the example input is not shipped"
    if (node_type, name) == ("ActionMeshLoadModels", "weights"):
        assert value == "bundled small model", "shipped workflows use the weights every install has"


def template(name: str) -> Path:
    """The UI-format template of workflow `name` (an id of api/index.json)."""
    return WORKFLOWS / f"{INDEX[name]}.json"


def load(name: str, api: bool = False) -> dict:
    return json.loads((WORKFLOWS / "api" / f"{name}.json" if api else template(name)).read_text())


def required_inputs(node_type: str) -> set[str]:
    cls = load_pack().NODE_CLASS_MAPPINGS.get(node_type)
    if cls is not None:
        return set(cls.INPUT_TYPES()["required"])
    optional = {("CLIPLoader", "device"), ("CreateVideo", "audio"), ("Preview3D", "camera_info"),
                ("Preview3D", "bg_image"), ("Wan22ImageToVideoLatent", "start_image")}
    return {n for n in CORE_NODES[node_type][0] if (node_type, n) not in optional}


def _create_video(images, fps, audio=None):
    return (SimpleNamespace(images=images, fps=fps),)


def _save_video(video, filename_prefix, format="auto", codec="auto"):
    return {"ui": {"saved_video": [{"frames": video.images, "fps": video.fps, "prefix": filename_prefix}]}}


# Core nodes the executor stands in for (what they get is recorded in the ui dict): the video savers.
CORE_STAND_INS = {"CreateVideo": _create_video, "SaveVideo": _save_video}
PACK_ONLY = [name for name in NAMES if all(node["type"].startswith("ActionMesh") or node["type"] in CORE_STAND_INS
                                           for node in load(name)["nodes"])]
RANDOM_WEIGHTS_SETTINGS = {"prior_steps": 1, "steps": 1, "mesh_resolution": 16}  # any surface will do


def recommended_settings() -> dict:
    """The bundled small model's recommended settings (its actionmesh.json "settings": a trained prior gives no
    surface with 1 step on a coarse grid), or {} for the random-weight stand-in."""
    models = load_pack().actionmesh_core.pipeline.model_set
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


def execute(pack, workflow: dict) -> dict:
    """Run an API-format workflow the way ComfyUI's executor does (topological order, links resolved to the
    producing node's outputs); returns {node id: ui dict} of the nodes that have one."""
    graph = {node_id: {v[0] for v in entry["inputs"].values() if isinstance(v, list)}
             for node_id, entry in workflow.items()}
    results, ui = {}, {}
    for node_id in graphlib.TopologicalSorter(graph).static_order():
        entry = workflow[node_id]
        inputs = {k: results[v[0]][v[1]] if isinstance(v, list) else v for k, v in entry["inputs"].items()}
        if entry["class_type"] in CORE_STAND_INS:
            out = CORE_STAND_INS[entry["class_type"]](**inputs)
            results[node_id] = out if isinstance(out, tuple) else ()
            ui |= {node_id: out["ui"]} if isinstance(out, dict) else {}
            continue
        cls = pack.NODE_CLASS_MAPPINGS[entry["class_type"]]
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
