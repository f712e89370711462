"""sRGB <-> linear light (the sRGB transfer function, IEC 61966-2-1).

The pack's colours (`vertex_colors`, texture images, video pixels) are sRGB bytes, as shown on screen. glTF's
COLOR_0 (like its baseColorFactor) is linear light, which viewers (three.js, Blender) encode to sRGB for the screen:
sRGB bytes written there unconverted look washed out.
"""

from __future__ import annotations

import numpy as np


def srgb_to_linear(colours: np.ndarray) -> np.ndarray:
    """float32 linear light in [0, 1] from sRGB uint8 colours (any shape)."""
    values = np.asarray(colours, dtype=np.float32) / 255.0
    return np.where(values <= 0.04045, values / 12.92, ((values + 0.055) / 1.055) ** 2.4).astype(np.float32)


def linear_to_srgb(values: np.ndarray) -> np.ndarray:
    """sRGB uint8 colours from linear light (any shape; clipped to [0, 1])."""
    values = np.clip(np.asarray(values, dtype=np.float64), 0.0, 1.0)
    encoded = np.where(values <= 0.0031308, values * 12.92, 1.055 * values ** (1.0 / 2.4) - 0.055)
    return np.round(encoded * 255.0).astype(np.uint8)
