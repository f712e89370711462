"""Write the shipped workflows from one description each: the template in ComfyUI's UI format
(`workflows/<title>.json`, laid out in titled groups), its API-format twin (`workflows/api/<id>.json`) and the index
that pairs them (`workflows/api/index.json`).

    python scripts/make_workflows.py

ComfyUI 0.8.0 lists a pack's templates by file name (no titles or order of their own), so a template's file name is
its title, numbered in the order a creator would try them. Node sizes follow the frontend's own rule for a node's
smallest size (slots and widgets; `tests/js/workflow_view.mjs` checks them in the real frontend), and every node is
at least as wide as its title needs, so no title is cut. The saved view is the frontend's "fit view" on a 1600 x 1000
window.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the workflows' node declarations, shared with the tests

from workflow_specs import declaration, is_widget, ui_widget_names  # noqa: E402

WORKFLOWS = ROOT / "workflows"
WINDOW = (1600, 1000)  # the window the saved view fits
FIT_ZOOM = 0.75  # the share of the window the frontend's "fit view" fills
TITLE_HEIGHT, SLOT_HEIGHT, WIDGET_HEIGHT = 30, 20, 24  # LiteGraph's title bar, slot row and widget row
TITLE_CHAR_WIDTH = 8.0  # an upper bound of the frontend's 14 px title font per character
GROUP_PAD, GROUP_TITLE, NODE_GAP, GROUP_GAP = 20, 44, 30, 40
BLUE, GREEN, ORANGE, PURPLE, GREY = "#3f789e", "#88aa88", "#b06634", "#a1309b", "#444444"
MULTILINE = {"CLIPTextEncode": 110}  # a multiline text box instead of one widget row
SCRIPT_WIDGETS = {"ActionMeshLoadMesh": 1}  # widgets web/actionmesh_preview.js adds (the mesh upload button)

WAN_MODELS = {  # as ComfyUI's own "Wan 2.2 5B" template names them: shown before Run when missing
    "wan2.2_ti2v_5B_fp16.safetensors": ("diffusion_models", "https://huggingface.co/Comfy-Org/Wan_2.2_ComfyUI_Repackaged/"
                                        "resolve/main/split_files/diffusion_models/wan2.2_ti2v_5B_fp16.safetensors"),
    "umt5_xxl_fp8_e4m3fn_scaled.safetensors": ("text_encoders", "https://huggingface.co/Comfy-Org/Wan_2.1_ComfyUI_"
                                               "repackaged/resolve/main/split_files/text_encoders/"
                                               "umt5_xxl_fp8_e4m3fn_scaled.safetensors"),
    "wan2.2_vae.safetensors": ("vae", "https://huggingface.co/Comfy-Org/Wan_2.2_ComfyUI_Repackaged/resolve/main/"
                               "split_files/vae/wan2.2_vae.safetensors"),
}


@dataclass
class Node:
    """key: the name links use; widgets: values by widget name (the rest: declared defaults); links: {input: "key.
    output"}; size: (width, height) for nodes that show a picture (else the smallest that fits)."""

    key: str
    type: str
    title: str
    widgets: dict = field(default_factory=dict)
    links: dict = field(default_factory=dict)
    size: tuple[int, int] | None = None


@dataclass
class Group:
    """A titled box of nodes: `columns` of nodes stacked top to bottom, side by side."""

    title: str
    color: str
    columns: list[list[Node]]


@dataclass
class Workflow:
    """id: the API twin's name; title: the template's file name; layout: columns of groups, each column's groups
    stacked top to bottom."""

    id: str
    title: str
    layout: list[list[Group]]


def models(weights: str = "bundled small model") -> Node:
    return Node("models", "ActionMeshLoadModels", "Load Models", {"weights": weights})


def video(key: str = "video", title: str = "Load Video", **widgets) -> Node:
    """ActionMesh Load Video; the frontend shows the video under its widgets (hence the height)."""
    return Node(key, "ActionMeshLoadVideo", title, {"video": "actionmesh_example.webm", "frame_load_cap": 16,
                                                    "max_side": 512, **widgets}, size=(300, 530))


def prepare(source: str = "video") -> Node:
    return Node("frames", "ActionMeshPrepareFrames", "Prepare Frames", {},
                {"model": "models.model", "frames": f"{source}.frames", "mask": f"{source}.mask",
                 "fps": f"{source}.fps"})


def result(source: str, name: str, step: int) -> Group:
    """The in-node player above Export."""
    return Group(f"{step} · Result", ORANGE, [[
        Node("preview", "ActionMeshPreviewAnimatedMesh", "Preview (drag to turn)", links={"animation": source},
             size=(500, 500)),
        Node("export", "ActionMeshExport", "Export", {"filename_prefix": f"actionmesh/{name}"}, {"animation": source})]])


def game_engines(source: str, name: str, step: int) -> Group:
    """A second Export that writes a skinned GLB (bones, weights and bone animation, for game engines)."""
    return Group(f"{step} · Game engines", ORANGE, [[
        Node("skinned", "ActionMeshExport", "Export skinned GLB (game engines)",
             {"format": "skinned-glb", "filename_prefix": f"actionmesh/{name}_skinned"}, {"animation": source})]])


def on_the_video(source: str, step: int) -> Group:
    """Fit Camera -> Colour from Video (the result) and Overlay on Video -> an mp4 of the mesh over the video."""
    masks = {"frames": "video.frames", "mask": "video.mask", "prepared_frames": "frames.frames"}
    return Group(f"{step} · On the video", GREEN, [[
        Node("fit", "ActionMeshFitCamera", "Fit Camera", {}, {"animation": source} | masks),
        Node("colour", "ActionMeshColourFromVideo", "Colour from Video", {}, {"animation": "fit.animation"} | masks),
        Node("overlay", "ActionMeshOverlayOnVideo", "Overlay on Video", {"wireframe": True},
             {"animation": "colour.animation", "frames": "video.frames"}),
        Node("overlay_video", "CreateVideo", "Make overlay video", {"fps": 8.0},
             {"images": "overlay.frames", "fps": "video.fps"}),
        Node("save_overlay", "SaveVideo", "Save overlay video", {"filename_prefix": "actionmesh/overlay"},
             {"video": "overlay_video.VIDEO"}, size=(300, 250))]])


def generated_to_4d(name: str, image: bool) -> list[list[Group]]:
    """Wan 2.2 TI2V 5B makes 25 frames at 24 fps from a prompt (and a start image), as ComfyUI's own template runs it;
    Video to Animated Mesh turns them into an animated mesh (they have no alpha: RMBG-1.4 masks them)."""
    loaders = [Node("unet", "UNETLoader", "Load Wan 2.2 TI2V 5B", {"unet_name": "wan2.2_ti2v_5B_fp16.safetensors"}),
               Node("clip", "CLIPLoader", "Load text encoder",
                    {"clip_name": "umt5_xxl_fp8_e4m3fn_scaled.safetensors", "type": "wan"}),
               Node("vae", "VAELoader", "Load Wan 2.2 VAE", {"vae_name": "wan2.2_vae.safetensors"})]
    what = "The object from the image moves naturally in place" if image else \
        "A colourful toy bird with flat green wings and a round teal head flaps its wings in place, full body in view"
    prompts = [Node("positive", "CLIPTextEncode", "Prompt",
                    {"text": f"{what}, one whole object, plain white background, static camera, no camera movement."},
                    {"clip": "clip.CLIP"}, size=(300, 130)),
               Node("negative", "CLIPTextEncode", "Negative prompt",
                    {"text": "camera movement, zoom, pan, cluttered background, several objects, cut off, blurry, "
                             "text, watermark"}, {"clip": "clip.CLIP"}, size=(300, 130))]
    size = Node("latent", "Wan22ImageToVideoLatent", "Video size and length",
                {"width": 704, "height": 704, "length": 25, "batch_size": 1}, {"vae": "vae.VAE"}
                | ({"start_image": "image.IMAGE"} if image else {}))
    sampling = [Node("shift", "ModelSamplingSD3", "Model sampling", {"shift": 8.0}, {"model": "unet.MODEL"}),
                Node("sampler", "KSampler", "Sampler", {"seed": 44, "steps": 20, "cfg": 5.0, "sampler_name": "uni_pc",
                                                        "scheduler": "simple", "denoise": 1.0},
                     {"model": "shift.MODEL", "positive": "positive.CONDITIONING",
                      "negative": "negative.CONDITIONING", "latent_image": "latent.LATENT"}),
                Node("decode", "VAEDecode", "Decode frames", links={"samples": "sampler.LATENT", "vae": "vae.VAE"})]
    steps = 1 if image else 0  # the image graph has one group more before these
    generated = Group(f"{4 + steps} · The generated video", GREY, [[
        Node("create", "CreateVideo", "Make video", {"fps": 24.0}, {"images": "decode.IMAGE"}),
        Node("save", "SaveVideo", "Save the generated video", {"filename_prefix": "actionmesh/wan_video"},
             {"video": "create.VIDEO"}, size=(300, 280))]])
    animate = Group(f"{5 + steps} · Video to 4D", GREEN, [[
        Node("models", "ActionMeshLoadModels", "Load Models (+ RMBG-1.4)", {"weights": "bundled small model"}),
        Node("animate", "ActionMeshVideoToAnimatedMesh", "Video to Animated Mesh", {"fps": 24.0},
             {"model": "models.model", "frames": "decode.IMAGE"})]])
    view = Group(f"{6 + steps} · Result", ORANGE, [[
        Node("view", "Preview3D", "Preview 3D", links={"model_file": "export.path"}, size=(500, 480)),
        Node("export", "ActionMeshExport", "Export", {"filename_prefix": f"actionmesh/{name}"},
             {"animation": "animate.animation"})]])
    first = [Group("1 · Video model", PURPLE, [loaders]), Group("2 · Prompt", PURPLE, [prompts])]
    if not image:
        return [first, [Group("3 · Size and sampling", PURPLE, [[size] + sampling])], [generated, animate], [view]]
    start = Group("3 · Start image and size", PURPLE, [[
        Node("image", "LoadImage", "Start image", {"image": "actionmesh_example_subject.png"}, size=(280, 330)),
        size]])
    return [first, [start, animate], [Group("4 · Sampling", PURPLE, [sampling]), generated], [view]]


def build() -> list[Workflow]:
    stages = [
        Node("prior", "ActionMeshImage3DPrior", "Image3D Prior (reference mesh)", {},
             {"model": "models.model", "frames": "frames.frames"}),
        Node("diffusion", "ActionMeshTemporalDiffusion", "Temporal Diffusion", {},
             {"model": "models.model", "frames": "frames.frames", "reference": "prior.reference",
              "reference_latent": "prior.latent"}),
        Node("decoder", "ActionMeshTemporalAutoencoder", "Temporal Autoencoder", {},
             {"model": "models.model", "latents": "diffusion.latents", "reference": "prior.reference"}),
    ]
    return [
        Workflow("video_to_4d_simple", "1. Video to 4D (one node)", [
            [Group("1 · Load", BLUE, [[models(), video()]])],
            [Group("2 · Animate", GREEN, [[Node("animate", "ActionMeshVideoToAnimatedMesh", "Video to Animated Mesh",
                                                {}, {"model": "models.model", "frames": "video.frames",
                                                     "mask": "video.mask", "fps": "video.fps"})]]),
             Group("4 · Turntable video", GREY, [[
                 Node("render", "ActionMeshRender", "Render turntable", {}, {"animation": "animate.animation"}),
                 Node("create", "CreateVideo", "Make video", {"fps": 8.0}, {"images": "render.frames"})], [
                 Node("save", "SaveVideo", "Save video", {"filename_prefix": "actionmesh/turntable"},
                      {"video": "create.VIDEO"}, size=(300, 330))]])],
            [Group("3 · Result", ORANGE, [[
                Node("view", "Preview3D", "Preview 3D", links={"model_file": "export.path"}, size=(500, 480)),
                Node("export", "ActionMeshExport", "Export", {"filename_prefix": "actionmesh/video_to_4d_simple"},
                     {"animation": "animate.animation"})]])],
        ]),
        Workflow("video_to_4d", "2. Video to 4D, stage by stage", [
            [Group("1 · Load", BLUE, [[models(), video()]]), game_engines("colour.animation", "video_to_4d", 6)],
            [Group("2 · Frames and reference mesh", GREEN, [[prepare(), stages[0]]]),
             Group("3 · Animation", GREEN, [[stages[1], stages[2]]])],
            [on_the_video("decoder.animation", 4)],
            [result("colour.animation", "video_to_4d", 5)],
        ]),
        Workflow("video_mesh_to_4d", "3. Video and your mesh to 4D", [
            [Group("1 · Load", BLUE, [[models(), video(), Node("mesh", "ActionMeshLoadMesh", "Load your mesh",
                                                                {"mesh_file": "3d/actionmesh_example_mesh.glb"})]])],
            [Group("2 · Animate your mesh", GREEN, [[prepare(), Node(
                "diffusion", "ActionMeshTemporalDiffusion", "Temporal Diffusion", {},
                {"model": "models.model", "frames": "frames.frames", "reference": "mesh.mesh"})], [Node(
                    "decoder", "ActionMeshTemporalAutoencoder", "Temporal Autoencoder", {},
                    {"model": "models.model", "latents": "diffusion.latents", "reference": "mesh.mesh"})]])],
            [result("decoder.animation", "video_mesh_to_4d", 3)],
        ]),
        Workflow("motion_transfer", "4. Motion transfer", [
            [Group("1 · Load", BLUE, [[models(), video(title="Load Video (object A)"),
                                       Node("mesh", "ActionMeshLoadMesh", "Load Mesh (object B)",
                                            {"mesh_file": "3d/actionmesh_example_target.glb"})]])],
            [Group("2 · A's motion on B", GREEN, [[prepare(), Node(
                "transfer", "ActionMeshMotionTransfer", "Motion Transfer", {},
                {"model": "models.model", "frames": "frames.frames", "mesh": "mesh.mesh"})]])],
            [result("transfer.animation", "motion_transfer", 3)],
        ]),
        Workflow("long_video_ar_extend", "5. Long video (AR Extend)", [
            [Group("1 · Load", BLUE, [[models(), video(title="Load Video (frames 0-7)", frame_load_cap=8)]])],
            [Group("2 · First part", GREEN, [[prepare()] + stages])],
            [Group("3 · What follows", GREEN, [[
                video("more", "Load Video (frames 8-15)", frame_load_cap=8, start_frame=8),
                Node("extend", "ActionMeshARExtend", "AR Extend", {},
                     {"model": "models.model", "animation": "decoder.animation", "frames": "more.frames",
                      "mask": "more.mask"})]])],
            [result("extend.animation", "long_video_ar_extend", 4)],
        ]),
        Workflow("text_to_4d", "6. Text to 4D (Wan 2.2)", generated_to_4d("text_to_4d", image=False)),
        Workflow("image_text_to_4d", "7. Image and text to 4D (Wan 2.2)",
                 generated_to_4d("image_text_to_4d", image=True)),
    ]


# ---------------------------------------------------------------- sizes and places


def node_size(node: Node) -> tuple[int, int]:
    """The frontend's smallest size for the node (slot rows, widget rows), widened so its title is never cut (the
    frontend truncates a title wider than the node less two title heights)."""
    inputs, outputs = declaration(node.type)
    slots = max(sum(not is_widget(kind) for kind, _ in inputs.values()), len(outputs))
    widgets = len(ui_widget_names(node.type)) - (1 if node.type == "Preview3D" else 0) + SCRIPT_WIDGETS.get(node.type, 0)
    height = slots * SLOT_HEIGHT + 6 + (widgets * WIDGET_HEIGHT + 8 if widgets else 0) + MULTILINE.get(node.type, 0)
    width = max(270, round(len(node.title) * TITLE_CHAR_WIDTH) + 2 * TITLE_HEIGHT + 20)
    if node.size is not None:
        return max(node.size[0], width), max(node.size[1], height)
    return width, height


def place(workflow: Workflow) -> tuple[dict[str, tuple], list[dict]]:
    """{node key: (x, y, w, h)} (y below the title bar, as LiteGraph's pos) and the groups' boxes."""
    boxes, groups, x = {}, [], 0
    for column in workflow.layout:
        y, width = 0, 0
        for group in column:
            gx, inner_x, tallest = x, x + GROUP_PAD, 0
            for nodes in group.columns:
                sizes = [node_size(node) for node in nodes]
                col_width = max(w for w, _ in sizes)
                ny = y + GROUP_TITLE
                for node, (_, h) in zip(nodes, sizes):
                    boxes[node.key] = (inner_x, ny + TITLE_HEIGHT, col_width, h)
                    ny += TITLE_HEIGHT + h + NODE_GAP
                tallest = max(tallest, ny - NODE_GAP - y)
                inner_x += col_width + NODE_GAP
            title_width = len(group.title) * 14 + 2 * GROUP_PAD  # 24 px group title font
            group_width = max(inner_x - NODE_GAP + GROUP_PAD - gx, title_width)
            group_height = tallest + GROUP_PAD
            groups.append({"title": group.title, "bounding": [gx, y, group_width, group_height], "color": group.color,
                           "font_size": 24, "flags": {}})
            width = max(width, group_width)
            y += group_height + GROUP_GAP
        x += width + GROUP_GAP
    return boxes, groups


def fit_view(groups: list[dict]) -> dict:
    """The frontend's fit view (`fitToBounds`, zoom 0.75) of every group on a WINDOW-sized canvas."""
    x0 = min(g["bounding"][0] for g in groups)
    y0 = min(g["bounding"][1] for g in groups)
    x1 = max(g["bounding"][0] + g["bounding"][2] for g in groups)
    y1 = max(g["bounding"][1] + g["bounding"][3] for g in groups)
    width, height = x1 - x0, y1 - y0
    scale = min(FIT_ZOOM * WINDOW[0] / max(width, 300), FIT_ZOOM * WINDOW[1] / max(height, 300))
    offset = [-x0 - width / 2 + WINDOW[0] / scale / 2, -y0 - height / 2 + WINDOW[1] / scale / 2]
    return {"scale": round(scale, 4), "offset": [round(offset[0], 1), round(offset[1], 1)]}


# ---------------------------------------------------------------- the two formats


def widget_values(node: Node) -> dict:
    """Every widget's value: the node's own, else the declared default (a combo's first choice)."""
    inputs, _ = declaration(node.type)
    values = {}
    for name in ui_widget_names(node.type):
        if name == "control_after_generate":
            values[name] = "fixed"
        elif name in node.widgets:
            values[name] = node.widgets[name]
        elif name in inputs:
            kind, options = inputs[name]
            if "default" in options:
                values[name] = options["default"]
            elif isinstance(kind, list) or kind == "STRING":
                values[name] = kind[0] if kind else ""
            else:
                raise ValueError(f"{node.type}.{name} has no declared default here: give the node its value")
        else:  # the frontend's own widgets: an upload button (its value is the file's), Preview 3D's viewer
            values[name] = values.get("image", "") if name == "upload" else ""
    if node.type == "LoadImage":
        values["upload"] = "image"
    return values


def build_formats(workflow: Workflow) -> tuple[dict, dict]:
    boxes, groups = place(workflow)
    nodes = [node for column in workflow.layout for group in column for nodes in group.columns for node in nodes]
    ids = {node.key: k + 1 for k, node in enumerate(nodes)}
    by_key = {node.key: node for node in nodes}
    links, ui_nodes, api = [], {}, {}
    sockets = {}
    for node in nodes:
        inputs, outputs = declaration(node.type)
        names = [name for name, (kind, _) in inputs.items() if not is_widget(kind)]
        names += [name for name, (kind, _) in inputs.items() if is_widget(kind) and name in node.links]
        sockets[node.key] = names
    out_links: dict[tuple[str, int], list[int]] = {}
    for node in nodes:
        for name, source in node.links.items():
            key, output = source.split(".")
            src = by_key[key]
            src_outputs = output_names(src)
            slot = src_outputs.index(output)
            kind = declaration(src.type)[1][slot]
            links.append([len(links) + 1, ids[key], slot, ids[node.key], sockets[node.key].index(name), kind])
            out_links.setdefault((key, slot), []).append(len(links))
    order = {node.key: k for k, node in enumerate(topological(nodes))}
    for node in nodes:
        inputs, outputs = declaration(node.type)
        x, y, w, h = boxes[node.key]
        values = widget_values(node)
        link_of = {link[4]: link[0] for link in links if link[3] == ids[node.key]}
        ui_inputs = []
        for slot, name in enumerate(sockets[node.key]):
            kind = inputs[name][0]
            entry = {"name": name, "type": "COMBO" if isinstance(kind, list) else kind, "link": link_of.get(slot)}
            if is_widget(kind):
                entry["widget"] = {"name": name}
            ui_inputs.append(entry)
        properties = {"Node name for S&R": node.type}
        wanted = [value for value in node.widgets.values() if value in WAN_MODELS]
        if wanted:
            properties["models"] = [{"name": name, "url": WAN_MODELS[name][1], "directory": WAN_MODELS[name][0]}
                                    for name in wanted]
        ui_nodes[node.key] = {
            "id": ids[node.key], "type": node.type, "pos": [x, y], "size": [w, h], "flags": {},
            "order": order[node.key], "mode": 0, "inputs": ui_inputs,
            "outputs": [{"name": name, "type": kind, "links": out_links.get((node.key, slot), []), "slot_index": slot}
                        for slot, (name, kind) in enumerate(zip(output_names(node), outputs))],
            "title": node.title, "properties": properties, "widgets_values": list(values.values()),
        }
        api_inputs = {name: value for name, value in values.items() if name in inputs and name not in node.links}
        for name, source in node.links.items():
            key, output = source.split(".")
            api_inputs[name] = [str(ids[key]), output_names(by_key[key]).index(output)]
        ordered = {name: api_inputs[name] for name in inputs if name in api_inputs}
        api[str(ids[node.key])] = {"class_type": node.type, "inputs": ordered, "_meta": {"title": node.title}}
    ui = {"last_node_id": len(nodes), "last_link_id": len(links), "nodes": list(ui_nodes.values()), "links": links,
          "groups": [dict(group, id=k + 1) for k, group in enumerate(groups)], "config": {},
          "extra": {"ds": fit_view(groups), "title": workflow.title}, "version": 0.4}
    return ui, api


def output_names(node: Node) -> list[str]:
    """The node's output names as links name them: RETURN_NAMES for pack nodes, the types for core nodes."""
    from workflow_specs import load_pack

    cls = load_pack().NODE_CLASS_MAPPINGS.get(node.type)
    outputs = declaration(node.type)[1]
    return list(getattr(cls, "RETURN_NAMES", outputs)) if cls is not None else list(outputs)


def topological(nodes: list[Node]) -> list[Node]:
    done, order = set(), []
    while len(order) < len(nodes):
        for node in nodes:
            if node.key not in done and all(src.split(".")[0] in done for src in node.links.values()):
                done.add(node.key)
                order.append(node)
    return order


def main() -> None:
    index, written = [], set()
    for workflow in build():
        ui, api = build_formats(workflow)
        (WORKFLOWS / f"{workflow.title}.json").write_text(json.dumps(ui, indent=1) + "\n")
        (WORKFLOWS / "api" / f"{workflow.id}.json").write_text(json.dumps(api, indent=1) + "\n")
        index.append({"id": workflow.id, "title": workflow.title})
        written |= {WORKFLOWS / f"{workflow.title}.json", WORKFLOWS / "api" / f"{workflow.id}.json"}
        print(f"workflows/{workflow.title}.json, workflows/api/{workflow.id}.json: {len(api)} nodes, "
              f"fit view {ui['extra']['ds']['scale']:.2f}")
    (WORKFLOWS / "api" / "index.json").write_text(json.dumps(index, indent=1) + "\n")
    for stale in {*WORKFLOWS.glob("*.json"), *(WORKFLOWS / "api").glob("*.json")} - written - {WORKFLOWS / "api" /
                                                                                              "index.json"}:
        stale.unlink()
        print(f"removed {stale.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
