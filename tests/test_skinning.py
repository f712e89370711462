"""Skinning decomposition on animations with a known answer: a rigid motion (one bone, zero error), a two-part
articulated shape from the data generator (two bones), a generator clip; the properties of every skin (sparse
non-negative weights summing to 1, rigid bones, the rest frame exact); error never growing with bones;
determinism; bad input."""

from __future__ import annotations

import numpy as np
import pytest

from skinning_fixtures import NUM_FRAMES, rigid_motion, two_part_clip

from actionmesh_core.data import make_clip
from actionmesh_core.errors import InputError, MeshError
from actionmesh_core.skinning import WEIGHT_LEVELS, SkinningConfig, decompose
pytestmark = pytest.mark.usefixtures("one_thread")  # small tensors: threads only wait on each other on busy cores


@pytest.fixture(scope="module")
def two_part():
    return two_part_clip().watertight_animation(resolution=32).vertices


@pytest.fixture(scope="module")
def biped():
    """A five-part-plus generator clip (non-rigid: parts blend at the joints)."""
    return make_clip(1_000_001, frames=NUM_FRAMES).watertight_animation(resolution=32).vertices


def errors_in_percent(positions: np.ndarray, vertices: np.ndarray) -> tuple[float, float]:
    distance = np.linalg.norm(positions - vertices, axis=-1)
    diagonal = np.linalg.norm(vertices[0].max(0) - vertices[0].min(0))
    return distance.mean() / diagonal * 100, distance.max() / diagonal * 100


def test_a_rigid_motion_is_one_bone_with_zero_error():
    vertices = rigid_motion()
    fit = decompose(vertices, SkinningConfig(bones="auto"))
    assert fit.rig.num_bones == 1 and fit.target_met
    assert fit.max_error < 1e-5
    assert errors_in_percent(fit.rig.positions(), vertices)[1] < 1e-5  # the rig itself, not only its report
    np.testing.assert_allclose(fit.rig.rotations[-1] @ fit.rig.rotations[-1].transpose(0, 2, 1), np.eye(3)[None],
                               atol=1e-12)


def test_a_two_part_articulated_shape_takes_two_bones(two_part):
    fit = decompose(two_part, SkinningConfig(bones="auto", max_error=0.5))
    assert fit.rig.num_bones <= 2 and fit.mean_error < 0.5
    mean, largest = errors_in_percent(fit.rig.positions(), two_part)
    assert mean == pytest.approx(fit.mean_error, rel=1e-6) and largest == pytest.approx(fit.max_error, rel=1e-6)
    assert decompose(two_part, SkinningConfig(bones=1)).mean_error > 1.0  # one bone cannot do it


def test_a_generator_clip_reaches_the_target_with_a_few_bones(biped):
    fit = decompose(biped, SkinningConfig(bones="auto", max_error=0.3))
    assert fit.target_met and fit.mean_error <= 0.3 and fit.rig.num_bones <= 8
    assert [bones for bones, _, _ in fit.history] == list(range(1, fit.rig.num_bones + 1))


def test_auto_also_bounds_the_worst_vertex(biped):
    """A low mean can hide a limb left on another bone: auto goes on until the worst vertex is within its bound."""
    mean_only = decompose(biped, SkinningConfig(bones="auto", max_error=0.3, worst_error=None))
    bound = mean_only.max_error / 2
    bounded = decompose(biped, SkinningConfig(bones="auto", max_error=0.3, worst_error=bound))
    assert mean_only.target_met and mean_only.max_error > bound
    assert bounded.target_met and bounded.max_error <= bound and bounded.mean_error <= 0.3
    assert bounded.rig.num_bones > mean_only.rig.num_bones
    assert [bones for bones, _, _ in bounded.history] == list(range(1, bounded.rig.num_bones + 1))
    with pytest.raises(InputError, match="worst_error must be a positive percentage"):
        decompose(biped, SkinningConfig(worst_error=0.0))


def test_error_never_grows_when_bones_are_added(biped):
    fit = decompose(biped, SkinningConfig(bones=6))
    means = [mean for _, mean, _ in fit.history]
    assert all(later <= earlier for earlier, later in zip(means, means[1:])), means
    assert means[-1] < means[0] / 4
    # a run asked for fewer bones is the same skin as that step of a longer run, so separate runs never grow either
    fewer = decompose(biped, SkinningConfig(bones=4))
    assert fewer.mean_error == means[3] and fewer.mean_error >= fit.mean_error
    # past what the shape needs, extra bones keep the error (they are warm-started at weight 0)
    rigid = decompose(rigid_motion(), SkinningConfig(bones=3))
    assert [mean for _, mean, _ in rigid.history] == sorted((mean for _, mean, _ in rigid.history), reverse=True)


def test_every_skin_is_sparse_normalised_rigid_and_exact_at_the_rest_frame(biped):
    fit = decompose(biped, SkinningConfig(bones=5, rest_frame=3))
    rig = fit.rig
    assert rig.joints.shape == rig.weights.shape == (biped.shape[1], 4)
    assert (rig.weights >= 0).all() and (rig.joints >= 0).all() and (rig.joints < rig.num_bones).all()
    levels = rig.weights * WEIGHT_LEVELS
    np.testing.assert_array_equal(np.rint(levels).sum(1), WEIGHT_LEVELS)  # exactly 1 in what files store
    np.testing.assert_allclose(levels, np.rint(levels), atol=1e-6)
    assert (rig.weights > 0).sum(1).max() > 1  # joints blend bones
    rotations = rig.rotations.reshape(-1, 3, 3)
    np.testing.assert_allclose(rotations @ rotations.transpose(0, 2, 1), np.broadcast_to(np.eye(3), rotations.shape),
                               atol=1e-10)
    np.testing.assert_allclose(np.linalg.det(rotations), 1.0, atol=1e-10)
    np.testing.assert_array_equal(rig.rest, biped[3].astype(np.float64))
    np.testing.assert_allclose(rig.positions()[3], biped[3], atol=1e-6)  # identity bones at the rest frame
    joints, uint16 = rig.influences()
    assert uint16.dtype == np.uint16 and (uint16.astype(int).sum(1) == WEIGHT_LEVELS).all()
    quats = rig.joint_quaternions()
    np.testing.assert_allclose(np.linalg.norm(quats, axis=-1), 1.0, atol=1e-12)
    assert ((quats[1:] * quats[:-1]).sum(-1) >= 0).all()  # sign-continuous


def test_the_same_seed_gives_the_same_skin(two_part):
    first, second = (decompose(two_part, SkinningConfig(bones=3, seed=7)) for _ in range(2))
    for name in ("joints", "weights", "rotations", "translations", "pivots"):
        np.testing.assert_array_equal(getattr(first.rig, name), getattr(second.rig, name))


def test_a_missed_target_says_so_and_keeps_the_best_skin(biped):
    fit = decompose(biped, SkinningConfig(bones="auto", max_error=0.01, max_bones=2))
    assert fit.rig.num_bones == 2 and not fit.target_met
    assert "MISSED the target error (mean 0.01 % and worst 2 %)" in fit.summary()
    assert fit.mean_error == min(mean for _, mean, _ in fit.history)


@pytest.mark.parametrize("config, message", [
    (SkinningConfig(bones=0), "bones must be between 1 and"),
    (SkinningConfig(bones=10_000), "bones must be between 1 and the mesh's"),
    (SkinningConfig(bones=2.5), "whole number"),
    (SkinningConfig(bones=True), "whole number"),
    (SkinningConfig(max_error=0.0), "max_error must be a positive"),
    (SkinningConfig(max_error=float("nan")), "max_error must be a positive"),
    (SkinningConfig(influences=5), "influences must be 1 to 4"),
    (SkinningConfig(rest_frame=NUM_FRAMES), "rest frame"),
    (SkinningConfig(max_bones=0), "max_bones must be at least 1"),
])
def test_bad_settings_are_clear_errors(config, message):
    with pytest.raises(InputError, match=message):
        decompose(rigid_motion(), config)


def test_one_frame_or_a_point_is_not_skinned():
    with pytest.raises(InputError, match="at least 2 frames"):
        decompose(rigid_motion()[:1])
    with pytest.raises(MeshError, match="same point"):
        decompose(np.zeros((3, 8, 3), np.float32))
    with pytest.raises(MeshError, match="shape"):
        decompose(np.zeros((3, 8, 2), np.float32))


def test_fewer_influences_per_vertex():
    fit = decompose(two_part_clip().watertight_animation(resolution=32).vertices, SkinningConfig(bones=3, influences=2))
    assert fit.rig.joints.shape[1] == 2
    assert fit.rig.influences()[1].shape == (fit.rig.rest.shape[0], 4)  # files still get 4 slots
