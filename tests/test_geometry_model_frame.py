"""ModelFrame: a mesh's units and up axis <-> the model frame, and its (4, 4) matrix in saved results."""

import numpy as np
import pytest

from actionmesh_core.errors import MeshError
from actionmesh_core.geometry import ModelFrame
from actionmesh_core.geometry.user_mesh import UP_AXIS_ROTATIONS

POINTS = np.array([[2.0, -1.0, 0.5], [6.0, 1.0, 0.5], [4.0, 0.0, 2.5], [3.0, -0.5, 1.0]])  # box 4 x 2 x 2


def test_fitting_centres_the_box_and_scales_its_longest_side_to_one():
    frame = ModelFrame.fitting(POINTS)
    np.testing.assert_allclose(frame.center, [4.0, 0.0, 1.5])
    assert frame.scale == 2.0
    model = frame.to_model(POINTS)
    np.testing.assert_allclose(model.min(0), [-1.0, -0.5, -0.5])
    np.testing.assert_allclose(model.max(0), [1.0, 0.5, 0.5])


def test_z_up_turns_to_y_up_and_back():
    frame = ModelFrame.fitting(POINTS, UP_AXIS_ROTATIONS["+z"])
    model = frame.to_model(POINTS)
    np.testing.assert_allclose(model[2], [0.0, 0.5, 0.0], atol=1e-12)  # the highest point along +Z is up in +Y
    np.testing.assert_allclose(frame.from_model(model), POINTS, atol=1e-6)


@pytest.mark.parametrize("axis", list(UP_AXIS_ROTATIONS))
def test_the_matrix_maps_like_to_model_and_gives_the_frame_back(axis):
    frame = ModelFrame.fitting(POINTS, UP_AXIS_ROTATIONS[axis])
    matrix = frame.matrix
    assert matrix.shape == (4, 4) and matrix.dtype == np.float32
    np.testing.assert_allclose(POINTS @ matrix[:3, :3].T + matrix[:3, 3], frame.to_model(POINTS), atol=1e-6)
    again = ModelFrame.from_matrix(matrix)
    np.testing.assert_allclose(again.center, frame.center, atol=1e-5)
    np.testing.assert_allclose(again.rotation, frame.rotation, atol=1e-6)
    assert again.scale == pytest.approx(frame.scale, rel=1e-6)
    np.testing.assert_allclose(again.from_model(frame.to_model(POINTS)), POINTS, atol=1e-5)


def test_a_mirroring_or_flat_matrix_is_a_mesh_error():
    with pytest.raises(MeshError, match="determinant"):
        ModelFrame.from_matrix(np.diag([-1.0, 1.0, 1.0, 1.0]))
    with pytest.raises(MeshError, match="positive scale"):
        ModelFrame.fitting(np.zeros((3, 3)))
