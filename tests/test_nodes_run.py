"""Every node's function run on small inputs with the small model (random tiny weights, coarse mesh grid):
results, progress, cancellation, and the errors users see."""

from __future__ import annotations

import logging
import shutil
from types import SimpleNamespace

import numpy as np
import pygltflib
import pytest
import torch
from safetensors.torch import save_file
from comfy_pack import EXAMPLE_MESH, EXAMPLE_TARGET, EXAMPLE_VIDEO, run_node, small_models
from export_checks import Glb

QUICK = {"preset": "custom", "guidance": 3.0, "seed": 7, "window": 3, "low_vram": False}  # steps=1: the cheapest run


@pytest.fixture(scope="module")
def model(pack):
    return small_models(pack)


@pytest.fixture(scope="module")
def video(pack, comfy_base):
    (images, mask, fps), _ = run_node(pack, "ActionMeshLoadVideo", video=EXAMPLE_VIDEO, frame_load_cap=3, stride=2,
                                      start_frame=0, max_side=64)
    return images, mask, fps


@pytest.fixture(scope="module")
def prepared(pack, model, video):
    (frames,), _ = run_node(pack, "ActionMeshPrepareFrames", model=model, frames=video[0], mask=video[1], fps=video[2])
    return frames


@pytest.fixture(scope="module")
def prior(pack, model, prepared):
    (reference, latent), _ = run_node(pack, "ActionMeshImage3DPrior", model=model, frames=prepared, anchor_frame=1,
                                      preset="custom", steps=1, guidance=3.0, seed=7, face_budget=500,
                                      mesh_resolution=0, low_vram=False)
    return reference, latent


@pytest.fixture(scope="module")
def animation(pack, model, prepared, prior):
    (latents,), _ = run_node(pack, "ActionMeshTemporalDiffusion", model=model, frames=prepared, reference=prior[0],
                             reference_latent=prior[1], anchor_frame=0, steps=1, **QUICK)
    (anim,), _ = run_node(pack, "ActionMeshTemporalAutoencoder", model=model, latents=latents, reference=prior[0],
                          decode_batch=2)
    return latents, anim


class Interrupted(Exception):
    pass


class ProgressLog(list):
    """(value, total) of every progress-bar update; the interrupt check raises from update `interrupt_after` on."""

    interrupt_after: int | None = None


@pytest.fixture
def progress_log(pack, monkeypatch):
    """Records every progress-bar update (ComfyUI's bar and interrupt flag replaced)."""
    adapter = pack.nodes.comfy_adapter
    log = ProgressLog()

    class Bar:
        def update_absolute(self, value, total=None, preview=None):
            log.append((value, total))

    def check_interrupt():
        if log.interrupt_after is not None and len(log) + 1 >= log.interrupt_after:
            raise Interrupted()

    monkeypatch.setattr(adapter, "progress_bar", lambda total: Bar())
    monkeypatch.setattr(adapter, "check_interrupt", check_interrupt)
    return log


@pytest.fixture
def input_file(comfy_base):
    """write(name, data) -> name: a file in ComfyUI's input folder for one test (removed after it, so the file
    combos of later tests list the shipped inputs only)."""
    written = []

    def write(name: str, data: bytes) -> str:
        written.append(comfy_base / "input" / name)
        written[-1].write_bytes(data)
        return name

    yield write
    for path in written:
        path.unlink()


def test_load_video_gives_frames_masks_and_fps(video):
    images, mask, fps = video
    assert images.shape == (3, 64, 64, 3) and images.dtype == torch.float32 and 0 <= images.min() < images.max() <= 1
    assert mask.shape == (3, 64, 64) and fps == pytest.approx(4.0)  # 8 fps, every 2nd frame
    assert mask[:, 0, 0].min() > 0.9 and mask[:, 32, 32].max() < 0.1  # transparent corners, opaque subject


def test_prior_gives_a_reference_mesh_and_its_anchor_latent(pack, model, prior):
    reference, latent = prior
    assert reference.vertices.shape[1] == 3 and len(reference.faces) <= 500
    assert list(latent.latents) == [1] and latent.anchor == 1 and latent.clip is None
    assert torch.equal(latent.latents[1], reference.latent)
    assert reference.latent.shape[0] == model.models.num_tokens


def test_temporal_stages_give_one_topology_over_every_frame(animation, prior, video):
    latents, anim = animation
    assert sorted(latents.latents) == [0, 1, 2] and latents.anchor == 1
    assert anim.num_frames == 3 and anim.fps == pytest.approx(video[2])
    assert np.array_equal(anim.faces, prior[0].faces) and anim.num_vertices == len(prior[0].vertices)
    assert np.allclose(anim.vertices[1], prior[0].vertices)  # the anchor frame is the reference
    assert anim.continuation is not None and anim.continuation.last_frame.shape == (64, 64, 4)


def test_each_stage_logs_the_settings_it_runs_with(pack, model, prepared, prior, caplog):
    """The server console says which settings a stage runs with, with the pack's prefix (a preset's name and the
    steps and guidance it chose), so a user can tell the model's recommendations from the official ones."""
    with caplog.at_level(logging.INFO, logger="actionmesh"):
        run_node(pack, "ActionMeshImage3DPrior", model=model, frames=prepared, anchor_frame=2, preset="custom",
                 steps=2, guidance=3.0, seed=7, face_budget=500, mesh_resolution=0, low_vram=False)
        run_node(pack, "ActionMeshTemporalDiffusion", model=model, frames=prepared, reference=prior[0],
                 anchor_frame=1, steps=1, **(QUICK | {"guidance": 1.5}))
    said = [record.getMessage() for record in caplog.records]
    assert "[ActionMesh] reference mesh (frame 2): custom (2/30 steps, guidance 3.0/7.5)" in said, said
    assert "[ActionMesh] temporal diffusion (3 frames from frame 1): custom (100/1 steps, guidance 7.5/1.5)" in said, said


def test_prepared_frames_hold_masks_crops_and_features_on_the_cpu(prepared, video, model):
    assert len(prepared.clip) == 3 and prepared.clip.fps == pytest.approx(video[2])
    assert prepared.clip.alpha is not None and prepared.images.shape[1] == prepared.images.shape[2]
    assert prepared.features.device.type == "cpu" and len(prepared.features) == 3


def test_progress_per_step_and_frame(pack, model, prepared, prior, progress_log):
    run_node(pack, "ActionMeshImage3DPrior", model=model, frames=prepared, anchor_frame=1, preset="custom", steps=3,
             guidance=3.0, seed=7, face_budget=500, mesh_resolution=0, low_vram=False)
    assert progress_log == [(1, 3), (2, 3), (3, 3)]
    progress_log.clear()
    (latents,), _ = run_node(pack, "ActionMeshTemporalDiffusion", model=model, frames=prepared, reference=prior[0],
                             anchor_frame=1, steps=2, **(QUICK | {"window": 2}))
    assert progress_log == [(1, 4), (2, 4), (3, 4), (4, 4)]  # 2 windows x 2 steps
    progress_log.clear()
    run_node(pack, "ActionMeshTemporalAutoencoder", model=model, latents=latents, reference=prior[0], decode_batch=1)
    assert progress_log == [(2, 3), (3, 3)]  # one update per decoded frame (the anchor is given)


LOW_VRAM = QUICK | {"low_vram": True}  # frames decoded one at a time: one progress update each


def test_ar_extend_progress_per_step_and_decoded_frame(pack, model, animation, progress_log, comfy_base):
    (more, mask, _), _ = run_node(pack, "ActionMeshLoadVideo", video=EXAMPLE_VIDEO, frame_load_cap=2, stride=2,
                                  start_frame=6, max_side=64)
    run_node(pack, "ActionMeshARExtend", model=model, animation=animation[1], frames=more, mask=mask, steps=2,
             **LOW_VRAM)
    assert progress_log == [(1, 2), (2, 2), (2, 3), (3, 3)]  # last frame + 2 new: 1 window x 2 steps, 2 frames decoded


def test_motion_transfer_progress_per_step_and_decoded_frame(pack, model, prepared, progress_log, comfy_base):
    (target,), _ = run_node(pack, "ActionMeshLoadMesh", mesh_file=EXAMPLE_TARGET, up_axis="+y")
    run_node(pack, "ActionMeshMotionTransfer", model=model, frames=prepared, mesh=target, anchor_frame=0, steps=2,
             **(LOW_VRAM | {"window": 2}))
    assert progress_log == [(1, 4), (2, 4), (3, 4), (4, 4), (2, 3), (3, 3)]  # 2 windows x 2 steps, 2 frames decoded


def test_cancel_stops_at_the_next_step(pack, model, prepared, prior, progress_log):
    progress_log.interrupt_after = 2
    with pytest.raises(Interrupted):
        run_node(pack, "ActionMeshTemporalDiffusion", model=model, frames=prepared, reference=prior[0],
                 anchor_frame=1, steps=5, **QUICK)
    assert len(progress_log) == 1


def test_user_mesh_keeps_layout_and_texture_through_export(pack, model, prepared, comfy_base):
    (mesh,), _ = run_node(pack, "ActionMeshLoadMesh", mesh_file=EXAMPLE_MESH, up_axis="+y")
    user = mesh.source
    assert user.uvs is not None and user.materials[0].base_color_texture is not None
    (latents,), _ = run_node(pack, "ActionMeshTemporalDiffusion", model=model, frames=prepared, reference=mesh,
                             anchor_frame=0, steps=1, **QUICK)
    (anim,), _ = run_node(pack, "ActionMeshTemporalAutoencoder", model=model, latents=latents, reference=mesh,
                          decode_batch=4)
    assert np.array_equal(anim.faces, user.faces) and np.array_equal(anim.uvs, user.uvs)
    assert np.allclose(anim.vertices[0], user.vertices, atol=1e-4)  # the anchor frame is the mesh, in its units
    (path,), ui = run_node(pack, "ActionMeshExport", animation=anim, format="glb", filename_prefix="actionmesh/tex")
    assert path == "actionmesh/tex_00001_.glb" and ui["3d"][0]["subfolder"] == "actionmesh"
    gltf = pygltflib.GLTF2().load(str(comfy_base / "output" / path))
    assert len(gltf.images) == 1 and len(gltf.animations) == 1


def test_z_up_mesh_stands_up_for_the_model_and_keeps_its_axes(pack, comfy_base):
    (y_up,), _ = run_node(pack, "ActionMeshLoadMesh", mesh_file=EXAMPLE_TARGET, up_axis="+y")
    (z_up,), _ = run_node(pack, "ActionMeshLoadMesh", mesh_file=EXAMPLE_TARGET, up_axis="+z")
    assert np.allclose(z_up.vertices[:, 1], y_up.vertices[:, 2], atol=1e-5)  # the file's +Z is the model's +Y
    assert np.allclose(z_up.vertices[:, 2], -y_up.vertices[:, 1], atol=1e-5)
    back = z_up.restore_original_layout(z_up.vertices)  # results come back in the file's own axes
    assert np.allclose(back, z_up.source.vertices, atol=1e-5)


def test_ar_extend_appends_the_next_frames(pack, model, animation, comfy_base):
    anim = animation[1]
    (more, mask, _), _ = run_node(pack, "ActionMeshLoadVideo", video=EXAMPLE_VIDEO, frame_load_cap=2, stride=2,
                                  start_frame=6, max_side=64)
    (longer,), _ = run_node(pack, "ActionMeshARExtend", model=model, animation=anim, frames=more, mask=mask, steps=1,
                            **QUICK)
    assert longer.num_frames == 5 and np.array_equal(longer.faces, anim.faces)
    assert np.array_equal(longer.vertices[:3], anim.vertices)
    assert np.all(np.diff(longer.frame_times) > 0)


def test_motion_transfer_animates_the_other_mesh(pack, model, prepared, comfy_base):
    (target,), _ = run_node(pack, "ActionMeshLoadMesh", mesh_file=EXAMPLE_TARGET, up_axis="+y")
    (anim,), _ = run_node(pack, "ActionMeshMotionTransfer", model=model, frames=prepared, mesh=target, anchor_frame=0,
                          steps=1, **QUICK)
    assert anim.num_frames == 3 and anim.num_vertices == len(target.source.vertices)
    assert np.array_equal(anim.faces, target.source.faces) and anim.materials[0].base_color_texture is not None


def test_one_node_video_to_animated_mesh(pack, model, video, monkeypatch):
    stages, used = pack.nodes.stages, []
    run_settings = stages.run_settings

    def fewer_steps(*args, **kwargs):  # the fast preset's 50 + 15 steps, cut to 2 + 1 for the test
        used.append(run_settings(*args, **kwargs))
        return used[-1].replace(prior_steps=2, steps=1)

    monkeypatch.setattr(stages, "run_settings", fewer_steps)
    (anim,), _ = run_node(pack, "ActionMeshVideoToAnimatedMesh", model=model, frames=video[0][:2], mask=video[1][:2],
                          preset="fast", seed=3, anchor_frame=0, fps=5.0, low_vram=True)
    assert (used[0].prior_steps, used[0].steps, used[0].seed, used[0].low_vram) == (50, 15, 3, True)
    assert anim.num_frames == 2 and anim.fps == 5.0 and anim.num_faces > 0
    assert anim.cameras is not None and anim.vertex_colors is not None  # registered and coloured by default


def test_remove_background_runs_rmbg_frame_by_frame(pack, model, video, progress_log, monkeypatch):
    errors = pack.actionmesh_core.errors
    with pytest.raises(errors.WeightsError, match="RMBG-1.4 background remover is not installed"):
        run_node(pack, "ActionMeshRemoveBackground", model=model, frames=video[0])
    monkeypatch.setattr(model.models, "has", lambda name: True)
    monkeypatch.setattr(model.models, "use", lambda name: _Nothing())
    monkeypatch.setattr(pack.actionmesh_core.pipeline.run, "predict_alpha",
                        lambda rmbg, frames: (frames[..., 2] > 100).astype(np.uint8) * 255)
    (mask,), _ = run_node(pack, "ActionMeshRemoveBackground", model=model, frames=video[0])
    expected = (video[0][..., 2] * 255).round() <= 100
    assert torch.equal(mask, expected.float()) and progress_log == [(1, 3), (2, 3), (3, 3)]


def test_the_bundled_model_with_rmbg_beside_it_masks_frames_without_alpha(pack, video, comfy_base):
    """The workflows README's recipe for the Wan graphs: a copy of the bundled model with RMBG-1.4 in its RMBG/
    folder is a weights choice of Load Models, and its frames without alpha get RMBG's masks (random RMBG weights
    here: the masks' values are not checked, only that RMBG-1.4 ran on every frame)."""
    core = pack.actionmesh_core
    folder = comfy_base / "models" / "actionmesh" / "tiny_rmbg"
    shutil.copytree(core.pipeline.model_set.BUNDLED_WEIGHTS, folder)
    try:
        rmbg = core.models.build_model("rmbg")
        (folder / "RMBG").mkdir()
        save_file({k: v for k, v in rmbg.state_dict().items() if not k.endswith("num_batches_tracked")},
                  str(folder / "RMBG" / "model.safetensors"))
        loaders = pack.NODE_CLASS_MAPPINGS["ActionMeshLoadModels"]
        assert "tiny_rmbg" in loaders.INPUT_TYPES()["required"]["weights"][0]
        assert loaders.VALIDATE_INPUTS(weights="tiny_rmbg", attention="sdpa", download_if_missing=False) is True
        (model,), _ = run_node(pack, "ActionMeshLoadModels", weights="tiny_rmbg", precision="fp32", attention="sdpa",
                               offload="free", download_if_missing=False)
        assert model.models.has("rmbg") and model.models.recommended["steps"] == 15
        (mask,), _ = run_node(pack, "ActionMeshRemoveBackground", model=model, frames=video[0][:2])
        assert mask.shape == (2, 64, 64) and set(mask.unique().tolist()) <= {0.0, 1.0}
    finally:
        shutil.rmtree(folder)


class _Nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def test_frames_without_masks_need_rmbg(pack, model, video):
    errors = pack.actionmesh_core.errors
    opaque = torch.zeros_like(video[1])  # what core Load Image gives for images without alpha
    with pytest.raises(errors.InputError, match=r"no subject masks: .* subject masks \(mask\), or install the RMBG-1.4"):
        run_node(pack, "ActionMeshPrepareFrames", model=model, frames=video[0], mask=opaque, fps=8.0)


POINT_CLOUD_PLY = (b"ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\n"
                   b"end_header\n0 0 0\n1 0 0\n0 1 0\n")
PRIOR = {"preset": "custom", "steps": 1, "guidance": 3.0, "seed": 7, "face_budget": 500, "mesh_resolution": 0,
         "low_vram": False}
BAD_INPUTS = {  # case: (error class, message, the node call given the run's context)
    "anchor outside the clip": ("InputError", "anchor frame 5 is outside the clip's 3", lambda c: run_node(
        c.pack, "ActionMeshTemporalDiffusion", anchor_frame=5, **c.stage)),
    "latent of other models": ("InputError", "has 16 tokens but these models use 64", lambda c: run_node(
        c.pack, "ActionMeshTemporalDiffusion", anchor_frame=0, **c.stage, reference_latent=c.pack.nodes.sockets
        .LatentSequence({1: torch.zeros(16, 16)}, 1, None, c.prior[1].settings))),
    "the prior's latent decoded": ("InputError", "latent sequence of a whole clip", lambda c: run_node(
        c.pack, "ActionMeshTemporalAutoencoder", model=c.model, latents=c.prior[1], reference=c.prior[0],
        decode_batch=1)),
    "a mask that hides everything": ("InputError", "empty: the subject is not visible", lambda c: run_node(
        c.pack, "ActionMeshPrepareFrames", model=c.model, frames=c.images, mask=torch.ones_like(c.mask), fps=c.fps)),
    "one frame": ("InputError", "at least 2", lambda c: run_node(
        c.pack, "ActionMeshPrepareFrames", model=c.model, frames=c.images[:1], mask=c.mask[:1], fps=c.fps)),
    "extension frames of another size": ("InputError", "size of the previous clip", lambda c: run_node(
        c.pack, "ActionMeshARExtend", model=c.model, animation=c.animation[1], frames=c.images[:, :32],
        mask=c.mask[:, :32], steps=1, **QUICK)),
    "a video that is not one": ("InputError", "broken.mp4", lambda c: run_node(
        c.pack, "ActionMeshLoadVideo", video=c.input_file("broken.mp4", b"not a video"), frame_load_cap=3, stride=1,
        start_frame=0, max_side=64)),
    "a mesh without faces": ("MeshError", "no faces", lambda c: run_node(
        c.pack, "ActionMeshLoadMesh", mesh_file=c.input_file("3d/points.ply", POINT_CLOUD_PLY), up_axis="+y")),
    "a frame past the animation": ("InputError", "outside the animation's 3 frames", lambda c: run_node(
        c.pack, "ActionMeshAnimationFrameToMESH", animation=c.animation[1], frame=3)),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_gives_a_clear_node_error(case, pack, model, video, prepared, prior, animation, input_file):
    error, message, call = BAD_INPUTS[case]
    images, mask, fps = video
    context = SimpleNamespace(pack=pack, model=model, images=images, mask=mask, fps=fps, prior=prior,
                              animation=animation, input_file=input_file,
                              stage=dict(model=model, frames=prepared, reference=prior[0], steps=1, **QUICK))
    with pytest.raises(getattr(pack.actionmesh_core.errors, error), match=message):
        call(context)


def test_bad_videos_give_clear_node_errors(pack, comfy_base, input_file):
    errors, node = pack.actionmesh_core.errors, pack.NODE_CLASS_MAPPINGS["ActionMeshLoadVideo"]
    selection = {"frame_load_cap": 3, "stride": 1, "start_frame": 0, "max_side": 64}
    input_file("empty.mp4", b"")  # an upload that never arrived
    assert "empty.mp4 in ComfyUI's input folder is empty" in node.VALIDATE_INPUTS("empty.mp4")
    with pytest.raises(errors.InputError, match="empty.mp4 in ComfyUI's input folder is empty"):
        run_node(pack, "ActionMeshLoadVideo", video="empty.mp4", **selection)
    input_file("cut.webm", (comfy_base / "input" / EXAMPLE_VIDEO).read_bytes()[:200])  # the header cut short
    with pytest.raises(errors.InputError, match="cannot read cut.webm as a video.*damaged or not a video"):
        run_node(pack, "ActionMeshLoadVideo", video="cut.webm", **selection)


def test_bad_meshes_give_clear_node_errors(pack, input_file):
    errors, interop = pack.actionmesh_core.errors, pack.nodes.comfy_types
    input_file("3d/nan.obj", b"v nan 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
    with pytest.raises(errors.MeshError, match="mesh 'nan' has NaN or infinite vertex coordinates"):
        run_node(pack, "ActionMeshLoadMesh", mesh_file="3d/nan.obj", up_axis="+y")
    vertices, faces = torch.tensor([[[0.0, 0, 0], [1, 0, 0], [0, 1, 0]]]), torch.tensor([[[0, 1, 2]]])
    broken = vertices.clone()
    broken[0, 0, 0] = float("nan")
    with pytest.raises(errors.MeshError, match="NaN or infinite vertex coordinates"):
        run_node(pack, "ActionMeshMeshFromMESH", mesh=interop.CoreMesh(broken, faces), index=0)
    with pytest.raises(errors.MeshError, match="has no faces"):
        run_node(pack, "ActionMeshMeshFromMESH", mesh=interop.CoreMesh(vertices, faces[:, :0]), index=0)


def test_out_of_memory_names_the_stage_and_the_widgets_to_change(pack, model, video, prepared, prior, monkeypatch):
    def out_of_memory(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(pack.actionmesh_core.pipeline.run, "generate_latents", out_of_memory)
    with pytest.raises(pack.actionmesh_core.errors.StageOutOfMemoryError) as error:
        run_node(pack, "ActionMeshTemporalDiffusion", model=model, frames=prepared, reference=prior[0],
                 anchor_frame=1, steps=1, **QUICK)
    assert str(error.value) == ("out of CPU memory during temporal diffusion; try low_vram, a smaller window or a "
                                "smaller mesh_resolution")
    with pytest.raises(pack.actionmesh_core.errors.StageOutOfMemoryError) as error:  # no window widget there
        run_node(pack, "ActionMeshVideoToAnimatedMesh", model=model, frames=video[0], mask=video[1], preset="fast",
                 seed=3, anchor_frame=0, fps=5.0, low_vram=False, mesh=prior[0])
    assert str(error.value) == "out of CPU memory during temporal diffusion; try low_vram"


def test_export_formats_paths_and_counters(pack, animation, comfy_base):
    anim = animation[1]
    for fmt, name in [("glb", "fmt_00001_.glb"), ("usdz", "fmt_00002_.usdz"), ("npz", "fmt_00003_.npz"),
                      ("obj", "fmt_00004_")]:
        (path,), ui = run_node(pack, "ActionMeshExport", animation=anim, format=fmt, filename_prefix="actionmesh/fmt")
        assert path == f"actionmesh/{name}" and ui["3d"] == [
            {"filename": name, "subfolder": "actionmesh", "type": "output", "format": fmt}]
        assert (comfy_base / "output" / path).exists()
    frames = sorted(p.name for p in (comfy_base / "output" / "actionmesh" / "fmt_00004_").glob("mesh_*"))
    assert frames == ["mesh_00.obj", "mesh_01.obj", "mesh_02.obj"]
    npz = pack.actionmesh_core.animated_mesh.AnimatedMesh.load(comfy_base / "output" / "actionmesh" / "fmt_00003_.npz")
    assert np.array_equal(npz.vertices, anim.vertices)
    with pytest.raises(pack.actionmesh_core.errors.InputError, match="leads outside"):
        run_node(pack, "ActionMeshExport", animation=anim, format="glb", filename_prefix="../escape")


def test_preview_writes_a_temp_glb_for_the_viewer(pack, animation, comfy_base):
    result, ui = run_node(pack, "ActionMeshPreviewAnimatedMesh", animation=animation[1])
    entry = ui["actionmesh_preview"][0]
    assert result == () and entry["type"] == "temp" and entry["frames"] == 3
    gltf = pygltflib.GLTF2().load(str(comfy_base / "temp" / entry["subfolder"] / entry["filename"]))
    assert len(gltf.meshes[0].primitives[0].targets) >= 2 and len(gltf.animations) == 1


def test_render_turntable_and_fixed_views(pack, animation):
    anim = animation[1]
    (turn, turn_mask), _ = run_node(pack, "ActionMeshRender", animation=anim, camera="turntable", mode="shaded",
                                    size=64, azimuth=0.0, elevation=20.0)
    (fixed, _), _ = run_node(pack, "ActionMeshRender", animation=anim, camera="fixed", mode="shaded", size=64,
                             azimuth=0.0, elevation=20.0)
    (normals, _), _ = run_node(pack, "ActionMeshRender", animation=anim, camera="fixed", mode="normals", size=64,
                               azimuth=0.0, elevation=20.0)
    assert turn.shape == (3, 64, 64, 3) and turn_mask.shape == (3, 64, 64) and turn.dtype == torch.float32
    assert turn_mask[:, 0, 0].min() == 1.0 and turn_mask[:, 32, 32].max() < 1.0  # background = 1
    assert torch.equal(turn[0], fixed[0]) and not torch.equal(turn[2], fixed[2])
    assert not torch.equal(normals, fixed)


def test_core_mesh_converters(pack, prior, animation):
    (core,), _ = run_node(pack, "ActionMeshAnimationFrameToMESH", animation=animation[1], frame=2)
    assert core.vertices.shape == (1, animation[1].num_vertices, 3)
    assert np.array_equal(core.vertices[0].numpy(), animation[1].vertices[2])
    (mesh,), _ = run_node(pack, "ActionMeshMeshFromMESH", mesh=core, index=0)
    assert np.array_equal(mesh.source.faces, animation[1].faces)  # prepared for the model, the file's layout kept
    assert np.abs(mesh.vertices).max() == pytest.approx(1.0, abs=1e-5)  # in the model frame
    (back,), _ = run_node(pack, "ActionMeshMeshToMESH", mesh=prior[0])
    assert np.allclose(back.vertices[0].numpy(), prior[0].vertices)
    (loaded,), _ = run_node(pack, "ActionMeshMeshToMESH", mesh=mesh)  # a user's mesh goes out as its file has it
    assert np.allclose(loaded.vertices[0].numpy(), animation[1].vertices[2])


@pytest.mark.parametrize("fmt, bones, suffix", [("skinned-glb", 2, ".glb"), ("usdskel", 0, ".usd")])
def test_export_skinned_formats_report_bones_error_and_size(pack, animation, comfy_base, caplog, fmt, bones, suffix):
    anim = animation[1]
    with caplog.at_level(logging.INFO, logger="actionmesh"):
        (path,), ui = run_node(pack, "ActionMeshExport", animation=anim, format=fmt, filename_prefix="actionmesh/rig",
                               bones=bones, max_error=0.5)
    file = comfy_base / "output" / path
    assert path.startswith("actionmesh/rig_") and path.endswith(suffix) and file.is_file()
    assert ui["3d"] == [{"filename": file.name, "subfolder": "actionmesh", "type": "output", "format": fmt}]
    (text,) = ui["text"]  # file, size, bones and error, also in the pack's log
    assert text.startswith(f"{file.name}: {file.stat().st_size / 1e6:.2f} MB, ") and "error mean" in text
    assert f"[ActionMesh] {text}" in caplog.text
    if fmt == "skinned-glb":  # the bones asked for, and the file plays the animation to the reported error
        assert f", {bones} bones, " in text
        times, positions = Glb(file).skinned_positions()
        diagonal = np.linalg.norm(np.ptp(anim.vertices[0], axis=0))
        mean_error = (np.linalg.norm(positions - anim.vertices, axis=-1) / diagonal * 100).mean()
        assert f"error mean {mean_error:.3f} %" in text
    else:  # auto: the fewest bones that reach max_error (or the report says it missed)
        assert "bone" in text and ("MISSED" in text or float(text.split("error mean ")[1].split(" %")[0]) <= 0.5)


def test_export_without_the_skin_widgets_keeps_its_defaults(pack, animation, comfy_base):
    (path,), ui = run_node(pack, "ActionMeshExport", animation=animation[1], format="skinned-glb",
                           filename_prefix="actionmesh/old")  # a workflow saved before the widgets existed
    assert path.endswith(".glb") and "text" in ui and ui["3d"][0]["format"] == "skinned-glb"
