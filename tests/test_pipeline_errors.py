"""Bad input gets a clear error, and nothing half-written is left behind."""

import logging

import numpy as np
import pytest
import torch
import trimesh

from actionmesh_core.cli.run_options import CLI_NAMES
from actionmesh_core.errors import InputError, MeshError, StageOutOfMemoryError, WeightsError
from actionmesh_core.geometry import prepare_user_mesh, user_mesh
from actionmesh_core.io.mesh_file import UserMesh
from actionmesh_core.pipeline import ModelSet, RunReport, animate
from pipeline_fixtures import fast_settings, moving_disc, write_tiny_root


def test_corrupt_video(models, tmp_path):
    path = tmp_path / "broken.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 100)
    with pytest.raises(InputError):
        animate(path, models, fast_settings())


def test_not_a_video(models, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(InputError):
        animate(path, models, fast_settings())


def test_one_frame_is_not_enough(models):
    with pytest.raises(InputError, match="2"):
        animate(moving_disc(1), models, fast_settings())


def test_empty_mask_in_one_frame_is_named(models):
    frames = moving_disc(4)
    frames[2, ..., 3] = 0
    with pytest.raises(InputError, match="2"):
        animate(frames, models, fast_settings())


def test_frames_without_masks_and_without_rmbg(models):
    with pytest.raises(InputError, match="mask"):
        animate(moving_disc(3)[..., :3], models, fast_settings())


def test_anchor_outside_the_clip(models):
    with pytest.raises(InputError, match="anchor frame 7"):
        animate(moving_disc(3), models, fast_settings(anchor_frame=7))


def test_mesh_without_faces_or_with_nan(models, tmp_path):
    cloud = tmp_path / "cloud.ply"
    trimesh.PointCloud(np.random.rand(20, 3)).export(cloud)
    with pytest.raises(MeshError):
        animate(moving_disc(3), models, fast_settings(), mesh=cloud)
    sphere = trimesh.creation.icosphere(subdivisions=1)
    vertices = sphere.vertices.copy()
    vertices[3] = np.nan
    with pytest.raises(MeshError, match="NaN"):
        animate(moving_disc(3), models, fast_settings(), mesh=UserMesh(vertices, sphere.faces))


def test_huge_mesh_is_decimated_for_the_encoder_and_says_so(caplog):
    sphere = trimesh.creation.icosphere(subdivisions=4)  # 5120 faces stand in for 5 million
    with caplog.at_level(logging.WARNING):
        prepared = prepare_user_mesh(UserMesh(sphere.vertices, sphere.faces), face_limit=1000)
    assert len(prepared.encoder_faces) <= 1000 < len(prepared.faces)
    assert len(prepared.vertices) == len(sphere.vertices)  # every vertex is still animated
    assert "only the copy the shape encoder samples is simplified" in caplog.text


def test_a_mesh_at_the_face_limit_is_simplified_for_the_encoder(caplog, monkeypatch):
    sphere = trimesh.creation.icosphere(subdivisions=3)  # 1280 faces, 642 vertices
    mesh = UserMesh(sphere.vertices, sphere.faces, name="ball")
    monkeypatch.setattr(user_mesh, "ENCODER_FACE_LIMIT", 1280)  # stands in for 5 million
    with caplog.at_level(logging.WARNING):
        at_limit = prepare_user_mesh(mesh)
    assert len(at_limit.encoder_faces) < 1280 and at_limit.faces.shape == (1280, 3)
    assert "only the copy the shape encoder samples is simplified" in caplog.text
    assert "every one of its 642 vertices is still animated" in caplog.text
    caplog.clear()
    monkeypatch.setattr(user_mesh, "ENCODER_FACE_LIMIT", 1281)
    with caplog.at_level(logging.WARNING):
        below = prepare_user_mesh(mesh)
    assert len(below.encoder_faces) == 1280 and not caplog.records


def test_missing_weights_point_to_the_checker(tmp_path):
    write_tiny_root(tmp_path)
    for f in (tmp_path / "ActionMesh/autoencoder").iterdir():
        f.unlink()
    with pytest.raises(WeightsError, match="actionmesh weights check"):
        ModelSet.from_weights(tmp_path)
    with pytest.raises(WeightsError, match="does not exist"):
        ModelSet.from_weights(tmp_path / "nothing")


@pytest.mark.parametrize("error", [torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
                                   RuntimeError("MPS backend out of memory (MPS allocated: 17.00 GB)")],
                         ids=["cuda", "mps"])
def test_out_of_memory_names_the_stage_and_suggests_low_vram(models, monkeypatch, error):
    import actionmesh_core.pipeline.run as run

    def oom(*args, **kwargs):
        raise error

    monkeypatch.setattr(run, "generate_latents", oom)
    with pytest.raises(StageOutOfMemoryError, match="temporal diffusion; try low_vram, a smaller window or a "
                                                    "smaller mesh_resolution$"):  # the Python API's names
        animate(moving_disc(3), models, fast_settings(), mesh=UserMesh(*_sphere()))
    cli = fast_settings(names=CLI_NAMES)  # the command line's flags; it has no window option
    with pytest.raises(StageOutOfMemoryError, match="temporal diffusion; try --low-vram or a smaller --mesh-resolution$"):
        animate(moving_disc(3), models, cli, mesh=UserMesh(*_sphere()))


def test_mps_out_of_memory_names_the_device_and_other_errors_pass_through():
    stage = RunReport(names=CLI_NAMES).stage
    with pytest.raises(StageOutOfMemoryError, match="out of MPS memory during temporal decoding; try --low-vram"), \
            stage("temporal decoding", "mps"):
        raise RuntimeError("MPS backend out of memory (MPS allocated: 17.00 GB, other allocations: 1.00 GB)")
    with pytest.raises(RuntimeError, match="shape mismatch"), stage("temporal decoding", "mps"):
        raise RuntimeError("shape mismatch")


def _sphere():
    sphere = trimesh.creation.icosphere(subdivisions=1)
    return sphere.vertices, sphere.faces


def test_settings_are_validated():
    with pytest.raises(InputError, match="slide"):
        fast_settings(slide=16)
    with pytest.raises(InputError, match="power of two"):
        fast_settings(mesh_resolution=100)


def test_triposg_own_image_encoder_is_used_for_stage0_when_present(tmp_path):
    from actionmesh_core.models import build_model, save_model
    from actionmesh_core.models.presets import TINY_CONFIGS

    write_tiny_root(tmp_path)
    assert not ModelSet.from_weights(tmp_path).has("triposg-dinov2")
    save_model("dinov2", build_model("dinov2", TINY_CONFIGS["dinov2"]), tmp_path / "TripoSG/image_encoder_dinov2")
    models = ModelSet.from_weights(tmp_path, offload="keep")
    assert models.has("triposg-dinov2") and models.num_tokens == 64
    anim = animate(moving_disc(3), models, fast_settings())
    assert anim.num_frames == 3 and "triposg-dinov2" in models._cache
