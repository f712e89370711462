"""Opt-in: the pack inside a real ComfyUI server (`python main.py --cpu`).

Runs when COMFYUI_PATH names a ComfyUI checkout; COMFYUI_PYTHON is the Python of its environment (default:
this one), which also needs the pack's requirements. The pack is linked into custom_nodes/ and the server is
started on a free port with its own input/output/temp folders, loading this pack only.
"""

from __future__ import annotations

import copy
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pygltflib
import pytest
from test_nodes_support import EXAMPLE_VIDEO, PACK_DIR, load_pack
from test_workflows import SPEED

COMFYUI = os.environ.get("COMFYUI_PATH")
PACK_NAME = "comfyui-actionmesh"
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

    def run(self, prompt: dict, timeout: float = 300.0) -> dict:
        """Queue an API-format prompt and wait for its /history entry."""
        prompt_id = self.request("/prompt", {"prompt": prompt, "client_id": uuid.uuid4().hex})["prompt_id"]
        deadline = time.time() + timeout
        while time.time() < deadline:
            entry = self.request(f"/history/{prompt_id}").get(prompt_id)
            if entry and (entry["status"]["completed"] or entry["status"]["status_str"] == "error"):
                return entry
            time.sleep(0.5)
        raise TimeoutError(f"prompt {prompt_id} did not finish in {timeout} s")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("comfyui_run")
    link = os.path.join(COMFYUI, "custom_nodes", PACK_NAME)
    if not os.path.lexists(link):
        os.symlink(PACK_DIR, link)
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
    return json.loads((PACK_DIR / "workflows" / "api" / f"{name}.json").read_text())


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


def test_workflow_templates_are_listed_and_served(server):
    names = server.request("/workflow_templates")[PACK_NAME]
    assert sorted(names) == sorted(p.stem for p in (PACK_DIR / "workflows").glob("*.json"))
    assert server.request(f"/api/workflow_templates/{PACK_NAME}/video_to_4d.json")["version"] == 0.4


def test_video_to_4d_runs_and_its_glb_downloads(server):
    assert server.upload(PACK_DIR / "workflows" / "inputs" / EXAMPLE_VIDEO)["name"] == EXAMPLE_VIDEO
    entry = server.run(quick(api_workflow("video_to_4d")))
    assert entry["status"]["status_str"] == "success", entry["status"]["messages"]
    exported = entry["outputs"]["6"]["3d"][0]
    assert exported["type"] == "output" and exported["filename"].endswith(".glb")
    glb = server.request("/view?" + urllib.parse.urlencode(exported))
    gltf = pygltflib.GLTF2.load_from_bytes(glb)
    assert gltf.extras["frames"] == 3 and len(gltf.animations) == 1
    preview = entry["outputs"]["7"]["actionmesh_preview"][0]
    assert preview["type"] == "temp" and server.request("/view?" + urllib.parse.urlencode(
        {k: preview[k] for k in ("filename", "subfolder", "type")}))[:4] == b"glTF"


def test_bad_widget_values_are_node_errors(server):
    workflow = quick(api_workflow("video_to_4d"))
    workflow["6"]["inputs"]["filename_prefix"] = "../outside"
    workflow["3"]["inputs"]["steps"] = 0
    with pytest.raises(urllib.error.HTTPError) as error:
        server.request("/prompt", {"prompt": workflow})
    errors = json.loads(error.value.read())["node_errors"]
    assert "leads outside" in json.dumps(errors["6"]) and "value_smaller_than_min" in json.dumps(errors["3"])


def test_interrupt_cancels_a_running_stage(server):
    server.upload(PACK_DIR / "workflows" / "inputs" / EXAMPLE_VIDEO)
    workflow = quick(api_workflow("video_to_4d"))
    workflow["3"]["inputs"].update(steps=500, seed=1)  # a long prior, so there is time to cancel
    prompt_id = server.request("/prompt", {"prompt": workflow})["prompt_id"]
    while not server.request("/queue")["queue_running"]:
        time.sleep(0.2)
    time.sleep(2.0)
    server.request("/interrupt", {}, method="POST")
    deadline = time.time() + 60
    while not (entry := server.request(f"/history/{prompt_id}").get(prompt_id)) and time.time() < deadline:
        time.sleep(0.5)
    events = [event for event, _ in entry["status"]["messages"]]
    assert entry["status"]["status_str"] == "error" and "execution_interrupted" in events
