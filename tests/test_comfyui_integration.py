"""Opt-in: the pack inside a real ComfyUI server (`python main.py --cpu`) and its real frontend (headless Chromium).

Runs when COMFYUI_PATH names a ComfyUI checkout; COMFYUI_PYTHON is the Python of its environment (default:
this one), which also needs the pack's requirements. The pack is linked into custom_nodes/ under the name a GitHub
ZIP gives it (comfyui-actionmesh-main) and the server is started on a free port with its own input/output/temp
folders, loading this pack only. The browser tests need Node.js, Chromium and playwright-core (tests/js).
ACTIONMESH_SCREENSHOTS=DIR keeps the screenshots of every workflow at fit view (workflows/README.md shows them).
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import numpy as np
import pygltflib
import pytest
import trimesh
from comfy_pack import EXAMPLE_VIDEO, PACK_DIR, load_pack
from workflow_specs import CORE_NODES, INDEX, SPEED, WORKFLOWS, load, required_inputs, template

from actionmesh_core.animated_mesh import AnimatedMesh, Material
from actionmesh_core.export.gltf import write_animated_glb

COMFYUI = os.environ.get("COMFYUI_PATH")
PACK_NAME = "comfyui-actionmesh-main"  # a GitHub ZIP's folder: not the project's name, as users install it
PLAYER = PACK_DIR / "tests" / "js" / "preview_player.mjs"
TIMING = PACK_DIR / "tests" / "js" / "player_timing.mjs"
VIEW = PACK_DIR / "tests" / "js" / "workflow_view.mjs"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
pytestmark = [pytest.mark.comfyui, pytest.mark.skipif(not COMFYUI, reason="set COMFYUI_PATH to a ComfyUI checkout")]


class Server:
    def __init__(self, url: str, log):
        self.url, self.log = url, log

    def request(self, path: str, body=None, headers=None, method=None):
        data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
        request = urllib.request.Request(self.url + path, data=data, headers=headers or {}, method=method)
        with urllib.request.urlopen(request, timeout=60) as response:
            payload = response.read()
        return json.loads(payload) if response.headers.get_content_type() == "application/json" else payload

    def upload(self, path, subfolder: str = "") -> dict:
        boundary = uuid.uuid4().hex
        parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="{path.name}"\r\n'
                 "Content-Type: application/octet-stream\r\n\r\n".encode() + path.read_bytes() + b"\r\n"]
        for name, value in (("subfolder", subfolder), ("type", "input"), ("overwrite", "true")):
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        return self.request("/upload/image", body, {"Content-Type": f"multipart/form-data; boundary={boundary}"})

    def queue(self, prompt: dict, client_id: str | None = None) -> str:
        """Queue an API-format prompt; returns its id."""
        return self.request("/prompt", {"prompt": prompt, "client_id": client_id or uuid.uuid4().hex})["prompt_id"]

    def wait(self, prompt_id: str, timeout: float = 300.0) -> dict:
        """The prompt's /history entry once it has finished (succeeded, failed or been interrupted)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            entry = self.request(f"/history/{prompt_id}").get(prompt_id)
            if entry and (entry["status"]["completed"] or entry["status"]["status_str"] == "error"):
                return entry
            time.sleep(0.5)
        raise TimeoutError(f"prompt {prompt_id} did not finish in {timeout} s")

    def run(self, prompt: dict, timeout: float = 300.0) -> dict:
        return self.wait(self.queue(prompt), timeout)


def first_progress(events, prompt_id: str, node_id: str) -> dict:
    """Read websocket messages until the first `progress` event of node `node_id` in prompt `prompt_id`."""
    while True:
        message = events.recv()
        if isinstance(message, str):  # binary messages are preview images
            event = json.loads(message)
            data = event.get("data", {})
            if event["type"] == "progress" and data.get("prompt_id") == prompt_id and data.get("node") == node_id:
                return data


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("comfyui_run")
    link = os.path.join(COMFYUI, "custom_nodes", PACK_NAME)
    assert os.path.islink(link) or not os.path.exists(link), f"{link} is a real folder, not this checkout"
    os.symlink(PACK_DIR, link + ".new")
    os.replace(link + ".new", link)  # a link left by another checkout now points here
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    folders = {name: root / name for name in ("input", "output", "temp", "user")}
    for folder in folders.values():
        folder.mkdir()
    with open(root / "server.log", "w") as log:
        process = subprocess.Popen(
            [os.environ.get("COMFYUI_PYTHON", sys.executable), "main.py", "--cpu", "--listen", "127.0.0.1", "--port",
             str(port), "--disable-auto-launch", "--disable-all-custom-nodes", "--whitelist-custom-nodes", PACK_NAME,
             "--input-directory", str(folders["input"]), "--output-directory", str(folders["output"]),
             "--temp-directory", str(folders["temp"]), "--user-directory", str(folders["user"])],
            cwd=COMFYUI, stdout=log, stderr=subprocess.STDOUT, env=os.environ | {"COMFY_NO_TRACKING": "1"})
    api = Server(f"http://127.0.0.1:{port}", root / "server.log")
    try:
        for _ in range(240):
            try:
                api.request("/system_stats")
                break
            except (urllib.error.URLError, ConnectionError):
                assert process.poll() is None, api.log.read_text()[-3000:]
                time.sleep(0.5)
        yield api
    finally:
        process.terminate()
        process.wait(timeout=30)


def api_workflow(name: str) -> dict:
    return load(name, api=True)


def node_id(workflow: dict, class_type: str, **inputs) -> str:
    """The id of the API workflow's (only) node of `class_type` with these input values."""
    ids = [key for key, entry in workflow.items() if entry["class_type"] == class_type
           and all(entry["inputs"].get(name) == value for name, value in inputs.items())]
    assert len(ids) == 1, (class_type, inputs, ids)
    return ids[0]


def browser_tools() -> str:
    """Node.js, once Chromium and playwright-core are there (else the test is skipped)."""
    node = shutil.which("node")
    if not (node and os.access(CHROMIUM, os.X_OK) and (PLAYER.parent / "node_modules" / "playwright-core").is_dir()):
        pytest.skip("needs Node.js, Chromium (apt-get install chromium) and playwright-core (cd tests/js && "
                    "npm install --no-save playwright-core)")
    return node


def quick(workflow: dict) -> dict:
    """The workflow with the tests' speed settings (few frames and steps)."""
    workflow = copy.deepcopy(workflow)
    for entry in workflow.values():
        entry["inputs"].update(SPEED.get(entry["class_type"], {}))
    return workflow


def test_pack_loads_and_registers_every_node(server):
    timing = [line for line in server.log.read_text().splitlines() if "seconds" in line and PACK_NAME in line]
    assert len(timing) == 1 and "IMPORT FAILED" not in timing[0], timing  # "0.6 seconds: .../comfyui-actionmesh"
    info = server.request("/object_info")
    pack = load_pack()
    for node_id, cls in pack.NODE_CLASS_MAPPINGS.items():
        assert node_id in info, node_id
        assert info[node_id]["output"] == list(cls.RETURN_TYPES)
        assert set(info[node_id]["input"]["required"]) == set(cls.INPUT_TYPES()["required"])
        assert info[node_id]["display_name"] == pack.NODE_DISPLAY_NAME_MAPPINGS[node_id]
    assert "actionmesh" in server.request("/models")


def combo_choices(spec: list) -> list | None:
    """A combo input's choices in /object_info (V1 nodes: [[choices], {...}], V3: ["COMBO", {"options": [...]}])."""
    kind, options = spec[0], spec[1] if len(spec) > 1 else {}
    return kind if isinstance(kind, list) else options.get("options") if kind == "COMBO" else None


def test_core_node_declarations_match_the_servers(server):
    """workflow_specs.CORE_NODES (hand-copied) against this ComfyUI: outputs, input order (= widgets_values
    order), required inputs, types, combo choices and ranges."""
    info = server.request("/object_info")
    for node_id, (inputs, outputs) in CORE_NODES.items():
        order, declared = info[node_id]["input_order"], info[node_id]["input"]
        assert info[node_id]["output"] == list(outputs), node_id
        assert list(inputs) == order["required"] + order.get("optional", []), node_id
        assert required_inputs(node_id) == set(order["required"]), node_id
        for name, (kind, *options) in inputs.items():
            spec, where = (declared["required"] | declared.get("optional", {}))[name], f"{node_id}.{name}"
            if kind == "FILE":
                assert combo_choices(spec) is not None, where
            elif isinstance(kind, list):
                assert set(kind) <= set(combo_choices(spec)), where
            else:
                assert spec[0] == kind, where
            for key, value in (options[0] if options else {}).items():
                assert spec[1][key] == value, where


def test_workflow_templates_are_listed_and_served(server):
    names = server.request("/workflow_templates")[PACK_NAME]
    assert sorted(names) == sorted(INDEX.values())  # titled: the template browser shows the file names
    for title in INDEX.values():
        served = urllib.parse.quote(f"/api/workflow_templates/{PACK_NAME}/{title}")
        assert server.request(f"{served}.json")["extra"]["title"] == title
        assert server.request(f"{served}.jpg")[:2] == b"\xff\xd8"  # the thumbnail, a JPEG


def test_the_player_script_is_served_once(server):
    """The folder's name is not the project's: the web folder must still be declared (and served) once."""
    scripts = [path for path in server.request("/extensions") if path.endswith("actionmesh_preview.js")]
    assert scripts == [f"/extensions/{PACK_NAME}/actionmesh_preview.js"], scripts


def test_video_to_4d_runs_and_its_glb_downloads(server):
    assert server.upload(PACK_DIR / "workflows" / "inputs" / EXAMPLE_VIDEO)["name"] == EXAMPLE_VIDEO
    workflow = quick(api_workflow("video_to_4d"))
    entry = server.run(workflow)
    assert entry["status"]["status_str"] == "success", entry["status"]["messages"]
    exported = entry["outputs"][node_id(workflow, "ActionMeshExport", format="glb")]["3d"][0]
    assert exported["type"] == "output" and exported["filename"].endswith(".glb")
    glb = server.request("/view?" + urllib.parse.urlencode(exported))
    gltf = pygltflib.GLTF2.load_from_bytes(glb)
    assert gltf.extras["frames"] == 3 and len(gltf.animations) == 1
    preview = entry["outputs"][node_id(workflow, "ActionMeshPreviewAnimatedMesh")]["actionmesh_preview"][0]
    assert preview["type"] == "temp" and server.request("/view?" + urllib.parse.urlencode(
        {k: preview[k] for k in ("filename", "subfolder", "type")}))[:4] == b"glTF"


def test_preview_player_plays_the_glb_in_the_browser(server, tmp_path):
    """web/actionmesh_preview.js in ComfyUI's frontend (headless Chromium): the GLB loads and is drawn, play/pause
    and the slider change the frame. ACTIONMESH_SCREENSHOT=file.png keeps a screenshot to look at."""
    node = browser_tools()
    server.upload(PACK_DIR / "workflows" / "inputs" / EXAMPLE_VIDEO)
    prompt = tmp_path / "prompt.json"
    workflow = quick(api_workflow("video_to_4d"))
    prompt.write_text(json.dumps(workflow))
    screenshot = os.environ.get("ACTIONMESH_SCREENSHOT", str(tmp_path / "preview_player.png"))
    materials = server.upload(two_material_animation(tmp_path / "two_materials.glb"), subfolder="3d")
    materials_view = "/view?" + urllib.parse.urlencode({"filename": materials["name"], "subfolder": "3d", "type": "input"})
    result = subprocess.run([node, str(PLAYER), server.url, str(template("video_to_4d")), str(prompt),
                             node_id(workflow, "ActionMeshPreviewAnimatedMesh"), screenshot, materials_view],
                            capture_output=True, text=True,
                            timeout=400, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    shown = json.loads(result.stdout.splitlines()[-1])
    assert shown["queued"] == 200 and shown["loaded"]["webgl2"] and shown["loaded"]["frames"] == 3, shown
    assert shown["drawnPixels"] > 100, shown  # the mesh, not only the background
    assert shown["playing"]["playing"] and shown["playing"]["time"] > 0, shown
    assert not shown["paused"]["playing"] and shown["stillPaused"]["time"] == shown["paused"]["time"], shown
    assert shown["resumed"]["playing"], shown
    assert not shown["first"]["playing"] and shown["first"]["label"] == "frame 1 / 3", shown
    assert not shown["last"]["playing"] and shown["last"]["label"] == "frame 3 / 3", shown
    # both boxes (8 vertices, 12 faces each), every frame's targets joined; the red box by its colour factor,
    # the other by its green texture under a white factor, and both are drawn
    reports = {entry["format"]: entry for entry in shown["reports"]}  # the skinned Export's line, on the node
    assert reports["glb"]["report"] is None, reports
    assert re.search(r"\d+ bones?, error mean [\d.]+ % / max [\d.]+ %", reports["skinned-glb"]["report"] or ""), reports
    materials = shown["materials"]
    assert {key: materials[key] for key in ("vertices", "faces", "frames", "targetLengths", "red", "white", "grey",
                                            "maxIndex", "textured")} == {
        "vertices": 16, "faces": 24, "frames": 2, "targetLengths": [48], "red": 8, "white": 0, "grey": 8,
        "maxIndex": 15, "textured": [False, True]}, shown
    assert materials["redPixels"] > 100 and materials["greenPixels"] > 100, shown
    assert shown["errors"] == [], shown


def two_material_animation(path):
    """A red box (white vertex colours) and a box with a green texture and sRGB grey 128 vertex colours, 2 frames, as
    an animated GLB with one primitive per material (COLOR_0 in linear light, as the writer stores it)."""
    boxes = [trimesh.creation.box().apply_translation((1.2 * i - 0.6, 0, 0)) for i in range(2)]
    vertices = np.concatenate([box.vertices for box in boxes]).astype(np.float32)
    faces = np.concatenate([boxes[0].faces, boxes[1].faces + 8])
    green = np.zeros((4, 4, 3), np.uint8)
    green[..., 1] = 255
    colours = np.concatenate([np.full((8, 3), 255), np.full((8, 3), 128)]).astype(np.uint8)
    anim = AnimatedMesh(np.stack([vertices, vertices + 0.1]), faces, uvs=np.full((16, 2), 0.5), vertex_colors=colours,
                        face_materials=[0] * 12 + [1] * 12,
                        materials=[Material(name="red", base_color=[1, 0, 0, 1], metallic=0.0),
                                   Material(name="green", base_color_texture=green, metallic=0.0)])
    return write_animated_glb(anim, path)


def test_bad_widget_values_are_node_errors(server):
    workflow = quick(api_workflow("video_to_4d"))
    export, prior = node_id(workflow, "ActionMeshExport", format="glb"), node_id(workflow, "ActionMeshImage3DPrior")
    workflow[export]["inputs"]["filename_prefix"] = "../outside"
    workflow[prior]["inputs"]["steps"] = 0
    with pytest.raises(urllib.error.HTTPError) as error:
        server.request("/prompt", {"prompt": workflow})
    errors = json.loads(error.value.read())["node_errors"]
    assert "leads outside" in json.dumps(errors[export]) and "value_smaller_than_min" in json.dumps(errors[prior])


def test_interrupt_cancels_a_running_stage(server):
    websocket = pytest.importorskip("websocket")  # websocket-client, installed with comfy-cli (the dev extras)
    server.upload(PACK_DIR / "workflows" / "inputs" / EXAMPLE_VIDEO)
    workflow = quick(api_workflow("video_to_4d"))
    prior = node_id(workflow, "ActionMeshImage3DPrior")
    workflow[prior]["inputs"].update(preset="custom", steps=500, seed=1)  # a long prior, so there is time to cancel
    client_id = uuid.uuid4().hex
    events = websocket.create_connection(f"{server.url.replace('http', 'ws', 1)}/ws?clientId={client_id}", timeout=120)
    try:
        prompt_id = server.queue(workflow, client_id)
        first_progress(events, prompt_id, prior)
        server.request("/interrupt", {}, method="POST")
    finally:
        events.close()
    entry = server.wait(prompt_id, timeout=60)
    messages = dict(entry["status"]["messages"])
    assert entry["status"]["status_str"] == "error" and messages["execution_interrupted"]["node_id"] == prior


def upload_example_inputs(server) -> None:
    """The templates' inputs, as the workflows README says to copy them into ComfyUI's input folder."""
    inputs = WORKFLOWS / "inputs"
    for path in sorted(inputs.glob("*.*")):
        server.upload(path)
    for path in sorted((inputs / "3d").glob("*.glb")):
        server.upload(path, subfolder="3d")


CPU_RUNNABLE = ["video_to_4d_simple", "video_to_4d", "video_mesh_to_4d", "motion_transfer", "long_video_ar_extend"]


@pytest.mark.parametrize("name", CPU_RUNNABLE)
def test_workflow_runs_end_to_end_with_the_recommended_settings(server, name):
    """Every workflow that needs no video model runs as shipped (the tests' speed settings: 3 small frames); a fresh
    Load Models with the preset 'model default' runs the bundled model's recommended settings (the console says so,
    with the pack's prefix)."""
    upload_example_inputs(server)
    workflow = quick(api_workflow(name))
    entry = server.run(workflow, timeout=900)
    assert entry["status"]["status_str"] == "success", entry["status"]["messages"]
    outputs = entry["outputs"]
    exported = outputs[node_id(workflow, "ActionMeshExport", format="glb")]["3d"][0]
    assert exported["filename"].startswith(name) and exported["filename"].endswith(".glb")
    if name == "video_to_4d_simple":  # core Preview 3D gets the GLB, core Save Video the turntable
        assert outputs[node_id(workflow, "Preview3D")]["result"][0] == f"{exported['subfolder']}/{exported['filename']}"
        assert outputs[node_id(workflow, "SaveVideo")]["images"][0]["filename"].endswith(".mp4")
    recommended = load_pack().actionmesh_core.pipeline.bundled_models().recommended
    said = f"[ActionMesh] temporal diffusion (3 frames from frame 0): model default ({recommended['prior_steps']}/" \
           f"{recommended['steps']} steps, guidance {recommended['guidance']:.1f})"
    assert said in server.log.read_text()


def test_every_workflow_reads_well_at_fit_to_screen(server, tmp_path):
    """Each template in the real frontend, fitted to a 1600 x 1000 window by the frontend's own 'fit view': every
    node type known, the zoom above the one below which the frontend stops drawing text, no two nodes overlapping,
    every title as wide as the canvas's measureText says it needs, no node shorter than its content, nothing under
    the frontend's panels, every group title whole and every node in a group; steps and guidance disabled unless the
    preset is custom, an Export's bones and max_error unless its format is skinned (also when either is switched);
    the video-model graphs name their missing model files before Run."""
    node = browser_tools()
    upload_example_inputs(server)  # the loaders show their files (the video's preview sizes its node)
    shots = Path(os.environ.get("ACTIONMESH_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    templates = [str(template(name)) for name in INDEX]
    result = subprocess.run([node, str(VIEW), server.url, str(shots), *templates], capture_output=True, text=True,
                            timeout=900, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    shown = json.loads(result.stdout.splitlines()[-1])
    assert shown["errors"] == [] and len(shown["results"]) == len(INDEX), shown["errors"]
    print("fit-view zoom:", {title: round(shown["results"][f"{title}.json"]["scale"], 3) for title in INDEX.values()},
          "text drawn above:", {round(view["lowQualityBelow"], 3) for view in shown["results"].values()})
    for title in INDEX.values():
        view = shown["results"][f"{title}.json"]
        assert view["nodeTypesMissing"] == [], title
        assert view["scale"] >= view["lowQualityBelow"] and not view["lowQuality"], (title, view["scale"])
        nodes = view["nodes"]
        for k, a in enumerate(nodes):
            where = f"{title}: {a['title']}"
            assert a["titleWidth"] <= a["titleRoom"], where  # the frontend would cut it ("...")
            assert a["size"][1] >= a["smallest"][1] - 1, where
            assert a["covered"] == {"hidden": 0, "outside": 0}, where
            for b in nodes[k + 1:]:
                (ax, ay, aw, ah), (bx, by, bw, bh) = a["box"], b["box"]
                assert not (ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah), f"{where} / {b['title']}"
            assert any(g["box"][0] <= a["box"][0] and g["box"][1] <= a["box"][1]
                       and a["box"][0] + a["box"][2] <= g["box"][0] + g["box"][2]
                       and a["box"][1] + a["box"][3] <= g["box"][1] + g["box"][3] for g in view["groups"]), where
        assert all(g["titleWidth"] <= g["titleRoom"] for g in view["groups"]), title
        for a in nodes:  # steps and guidance are shown (and used) only with preset custom
            numbers = {"steps", "guidance"} & set(a["widgets"])
            assert numbers & set(a["disabled"]) == (numbers if a["preset"] not in (None, "custom") else set()), \
                (title, a["title"], a["preset"], a["disabled"])
        for a in nodes:  # bones and max_error are shown (and used) only for the skinned formats
            rig = {"bones", "max_error"} & set(a["widgets"])
            skinned = a["format"] in ("skinned-glb", "usdskel")
            assert rig & set(a["disabled"]) == (set() if skinned or a["format"] is None else rig), \
                (title, a["title"], a["format"], a["disabled"])
        switch = view["formatSwitch"]
        if switch is not None:
            assert not {"bones", "max_error"} & set(switch["skinned"]), switch
            assert {"bones", "max_error"} <= set(switch["back"]), switch
        switch = view["presetSwitch"]
        if switch is not None:
            assert switch["before"] == "model default" and not {"steps", "guidance"} & set(switch["custom"]), switch
            assert {"steps", "guidance"} <= set(switch["back"]), switch
        wan = {"wan2.2_ti2v_5B_fp16.safetensors", "umt5_xxl_fp8_e4m3fn_scaled.safetensors", "wan2.2_vae.safetensors"}
        listed = {file for line in view["missingModels"] for file in wan if file in line}
        assert listed == (wan if "Wan" in title else set()), title
        assert (shots / f"{title}.jpg").is_file()


def test_the_player_keeps_time_across_reruns(server, tmp_path):
    """Three runs in a row load three GLBs into one player: it still plays at the animation's own frame rate (each
    load used to start one more loop: 8, 16, 24 frames/s). Removing the node, loading the graph again or opening
    another workflow stops its loop; the Load Mesh upload button is neither in the prompt nor saved."""
    node = browser_tools()
    upload_example_inputs(server)
    workflow = quick(api_workflow("video_to_4d"))
    prompt = tmp_path / "prompt.json"
    prompt.write_text(json.dumps(workflow))
    result = subprocess.run([node, str(TIMING), server.url, str(template("video_to_4d")), str(prompt),
                             node_id(workflow, "ActionMeshPreviewAnimatedMesh"),
                             node_id(workflow, "ActionMeshTemporalAutoencoder"), str(template("video_mesh_to_4d"))],
                            capture_output=True, text=True, timeout=900, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    shown = json.loads(result.stdout.splitlines()[-1])
    assert shown["errors"] == [] and shown["extensions"] == 1, shown
    assert len(shown["runs"]) == 3 and all(run["status"] == 200 for run in shown["runs"]), shown
    print("player frames/s over three re-runs:", [round(run["rate"], 2) for run in shown["runs"]])  # -rP shows it
    for run in shown["runs"]:
        assert run["fps"] == pytest.approx(8.0) and run["rate"] == pytest.approx(8.0, rel=0.15), shown["runs"]
    for case in ("removed", "reloaded", "switched"):
        assert shown[case]["loop"] is False and shown[case]["advanced"] == 0, (case, shown[case])
    assert shown["reloaded"]["playingBefore"] and shown["switched"]["playingBefore"]
    assert sorted(shown["prompt"]["inputs"]) == ["mesh_file", "up_axis"], shown["prompt"]
    assert len(shown["prompt"]["widgetsValues"]) == 2, shown["prompt"]
