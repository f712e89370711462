"""RMBG-1.4 (BriaRMBG): a nested U-Net (U^2-Net / IS-Net style) that predicts a foreground matte.

Only used when frames come without alpha or masks. The weights (briaai/RMBG-1.4) are under BRIA's
own non-commercial licence; users download them themselves.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

INPUT_SIZE = 1024


def _resize_like(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, size=like.shape[2:], mode="bilinear", align_corners=False)


class ConvBNReLU(nn.Module):
    """3x3 conv (padding = dilation) -> BatchNorm -> ReLU, keyed `conv_s1` / `bn_s1`."""

    def __init__(self, cin: int, cout: int, dilation: int = 1, stride: int = 1):
        super().__init__()
        self.conv_s1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=dilation, dilation=dilation)
        self.bn_s1 = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn_s1(self.conv_s1(x)))


class ResidualUBlock(nn.Module):
    """RSU-L: an L-level U-Net inside a residual block.

    With pooling (RSU7/6/5/4): levels 1..L-1 are separated by 2x max-pooling and level L is a dilation-2
    conv at the bottom. Without pooling (RSU4F): the resolution stays and levels use dilations 1, 2, 4, 8.
    Decoder convs `rebnconv{k}d` take [deeper, skip_k] and the output is added to `rebnconvin(x)`.
    """

    def __init__(self, depth: int, cin: int, mid: int, cout: int, pooled: bool = True):
        super().__init__()
        self.depth, self.pooled = depth, pooled
        dilations = [1] * (depth - 1) + [2] if pooled else [2 ** k for k in range(depth)]
        self.rebnconvin = ConvBNReLU(cin, cout)
        for k in range(1, depth + 1):
            setattr(self, f"rebnconv{k}", ConvBNReLU(cout if k == 1 else mid, mid, dilations[k - 1]))
        for k in range(1, depth):
            setattr(self, f"rebnconv{k}d", ConvBNReLU(2 * mid, cout if k == 1 else mid, dilations[k - 1]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x_in = self.rebnconvin(x)
        skips, h = [], x_in
        for k in range(1, self.depth):
            h = getattr(self, f"rebnconv{k}")(h)
            skips.append(h)
            if self.pooled and k < self.depth - 1:
                h = F.max_pool2d(h, 2, stride=2, ceil_mode=True)
        h = getattr(self, f"rebnconv{self.depth}")(h)
        for k in range(self.depth - 1, 0, -1):
            skip = skips[k - 1]
            h = getattr(self, f"rebnconv{k}d")(torch.cat([_resize_like(h, skip), skip], dim=1))
        return h + x_in


class BriaRMBG(nn.Module):
    """(B, 3, 1024, 1024) RGB in [0, 1] minus 0.5 -> list of 6 sigmoid mattes at input size (the first is used)."""

    def __init__(self, in_ch: int = 3, out_ch: int = 1):
        super().__init__()
        self.conv_in = nn.Conv2d(in_ch, 64, 3, stride=2, padding=1)
        spec = {  # name: (depth, in, mid, out, pooled)
            "stage1": (7, 64, 32, 64, True), "stage2": (6, 64, 32, 128, True), "stage3": (5, 128, 64, 256, True),
            "stage4": (4, 256, 128, 512, True), "stage5": (4, 512, 256, 512, False),
            "stage6": (4, 512, 256, 512, False),
            "stage5d": (4, 1024, 256, 512, False), "stage4d": (4, 1024, 128, 256, True),
            "stage3d": (5, 512, 64, 128, True), "stage2d": (6, 256, 32, 64, True), "stage1d": (7, 128, 16, 64, True),
        }
        for name, (depth, cin, mid, cout, pooled) in spec.items():
            setattr(self, name, ResidualUBlock(depth, cin, mid, cout, pooled))
        for k, cin in enumerate((64, 64, 128, 256, 512, 512), start=1):
            setattr(self, f"side{k}", nn.Conv2d(cin, out_ch, 3, padding=1))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        h = self.conv_in(x)
        encoded = []
        for k in range(1, 7):
            if k > 1:
                h = F.max_pool2d(h, 2, stride=2, ceil_mode=True)
            h = getattr(self, f"stage{k}")(h)
            encoded.append(h)
        decoded = [encoded[-1]]  # hx6, then hx5d .. hx1d
        for k in range(5, 0, -1):
            skip = encoded[k - 1]
            decoded.append(getattr(self, f"stage{k}d")(torch.cat([_resize_like(decoded[-1], skip), skip], dim=1)))
        features = decoded[::-1]  # hx1d, hx2d, ..., hx5d, hx6
        return [torch.sigmoid(_resize_like(getattr(self, f"side{k}")(f), x)) for k, f in enumerate(features, 1)]


@torch.inference_mode()
def predict_alpha(model: BriaRMBG, frames: np.ndarray, min_object_size: int = 200) -> np.ndarray:
    """frames: (T, H, W, 3) uint8 RGB -> binary alpha (T, H, W) uint8 in {0, 255}.

    Per frame: resize to 1024^2, subtract 0.5, take the first matte, resize back, min-max normalise,
    Otsu threshold, drop connected blobs smaller than `min_object_size` pixels."""
    from scipy import ndimage
    from skimage.filters import threshold_otsu

    device = next(model.parameters()).device
    alphas = []
    for frame in frames:
        image = torch.from_numpy(frame).to(device).permute(2, 0, 1)[None].float() / 255.0
        pixels = F.interpolate(image, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False,
                               antialias=True) - 0.5
        matte = model(pixels.to(next(model.parameters()).dtype))[0].float()
        matte = F.interpolate(matte, size=frame.shape[:2], mode="bilinear", align_corners=False, antialias=True)[0, 0]
        matte = (matte - matte.min()) / (matte.max() - matte.min()).clamp_min(1e-8)
        matte = (matte * 255).to(torch.uint8).cpu().numpy()
        binary = matte > threshold_otsu(matte) if matte.min() != matte.max() else np.zeros_like(matte, bool)
        labels, _ = ndimage.label(binary, structure=np.ones((3, 3)))
        sizes = np.bincount(labels.ravel())
        binary = (sizes >= min_object_size)[labels] & binary
        alphas.append(binary.astype(np.uint8) * 255)
    return np.stack(alphas)
