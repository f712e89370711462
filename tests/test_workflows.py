"""The shipped workflows: every node type exists (in the pack or in core ComfyUI), every link joins matching
types, every widget value is valid and in the frontend's positional order, the UI and API formats agree, and
the workflows made of pack nodes only run end to end with the small model."""

from __future__ import annotations

import pygltflib
import pytest
from export_checks import validate
from workflow_specs import (CORE_NODES, INDEX, NAMES, PACK_ONLY, RANDOM_WEIGHTS_SETTINGS, WORKFLOWS, check_value,
                            declaration, execute, is_widget, load, load_pack, recommended_settings, required_inputs,
                            speed_overrides, ui_widget_names)


def test_every_template_has_an_api_twin_a_thumbnail_and_a_note():
    assert NAMES == ["image_text_to_4d", "long_video_ar_extend", "motion_transfer", "text_to_4d",
                     "video_mesh_to_4d", "video_to_4d", "video_to_4d_simple"]
    titles = list(INDEX.values())
    assert titles == sorted(titles) and [title.split(".")[0] for title in titles] == [str(k) for k in range(1, 8)]
    assert sorted(path.stem for path in WORKFLOWS.glob("*.json")) == titles  # the template browser lists these
    assert sorted(path.stem for path in (WORKFLOWS / "api").glob("*.json")) == sorted(NAMES + ["index"])
    readme = (WORKFLOWS / "README.md").read_text()
    for name, title in INDEX.items():
        assert (WORKFLOWS / f"{title}.jpg").is_file() and load(name)["extra"]["title"] == title
        assert f"`{name}`" in readme and title in readme


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


def test_speed_overrides_are_valid_widget_values():
    for settings in (RANDOM_WEIGHTS_SETTINGS, recommended_settings()):
        for node_type, values in speed_overrides(settings).items():
            for name, value in values.items():
                check_value(node_type, name, value)


@pytest.mark.parametrize("name", PACK_ONLY)
def test_pack_workflow_runs_end_to_end(name, pack, comfy_base):
    assert PACK_ONLY == ["long_video_ar_extend", "motion_transfer", "video_mesh_to_4d", "video_to_4d"]
    ui = execute(pack, load(name, api=True))
    exported = [entry for out in ui.values() for entry in out.get("3d", []) if entry["format"] == "glb"]
    previews = [entry for out in ui.values() for entry in out.get("actionmesh_preview", [])]
    assert len(exported) == len(previews) == 1
    skinned = [(entry, out["text"][0]) for out in ui.values() for entry in out.get("3d", [])
               if entry["format"] == "skinned-glb"]
    assert len(skinned) == (name == "video_to_4d")  # the stage-by-stage graph also exports a skinned GLB
    for entry, report in skinned:
        path = comfy_base / "output" / entry["subfolder"] / entry["filename"]
        assert path.name == f"{name}_skinned_00001_.glb" and report.startswith(f"{path.name}: ") and "bone" in report
        gltf = pygltflib.GLTF2().load(str(path))
        assert len(gltf.skins) == 1 and len(gltf.animations) == 1 and not gltf.meshes[0].primitives[0].targets
        (report,) = validate(path)
        assert report["issues"]["numErrors"] == 0
    glb = comfy_base / "output" / exported[0]["subfolder"] / exported[0]["filename"]
    assert glb.name == f"{name}_00001_.glb" and glb.is_file()
    gltf = pygltflib.GLTF2().load(str(glb))
    frames = 6 if name == "long_video_ar_extend" else 3
    assert gltf.extras["frames"] == frames == previews[0]["frames"]
    assert len(gltf.meshes[0].primitives[0].targets) == frames and len(gltf.animations) == 1
    assert (comfy_base / "temp" / previews[0]["subfolder"] / previews[0]["filename"]).is_file()
    if "mesh" in name or "transfer" in name:
        assert len(gltf.images) == 1  # the user mesh's texture is kept
    saved = [entry for out in ui.values() for entry in out.get("saved_video", [])]
    if name == "video_to_4d":  # registered, coloured, and drawn over the video (the overlay mp4)
        assert gltf.meshes[0].primitives[0].attributes.COLOR_0 is not None
        assert [node.name for node in gltf.nodes if node.camera is not None] == ["video_camera"]
        assert len(saved) == 1 and saved[0]["frames"].shape[0] == frames and saved[0]["prefix"] == "actionmesh/overlay"
    else:
        assert not saved


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
