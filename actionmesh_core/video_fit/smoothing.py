"""Cameras of frames without a usable mask: interpolated between their neighbours (spherical for rotations,
linear for translations, over frame times), or held from the nearest one at the ends."""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation, Slerp


def fill_from_neighbours(rotations: np.ndarray, translations: np.ndarray, times: np.ndarray,
                         known: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """rotations (T, 3, 3), translations (T, 3), times (T,), known (T,) bool -> the same with every unknown frame
    interpolated from the known frames around it."""
    rotations, translations = rotations.copy(), translations.copy()
    index = np.flatnonzero(known)
    if len(index) == len(known) or not len(index):
        return rotations, translations
    at = np.clip(times, times[index[0]], times[index[-1]])
    missing = np.flatnonzero(~known)
    if len(index) == 1:
        rotations[missing], translations[missing] = rotations[index[0]], translations[index[0]]
        return rotations, translations
    slerp = Slerp(times[index], Rotation.from_matrix(rotations[index]))
    rotations[missing] = slerp(at[missing]).as_matrix()
    for axis in range(3):
        translations[missing, axis] = np.interp(at[missing], times[index], translations[index, axis])
    return rotations, translations
