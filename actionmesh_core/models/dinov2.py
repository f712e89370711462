"""DINOv2-large image features through `transformers.Dinov2Model`, with its exact preprocessing.

Preprocessing (the dinov2-large `preprocessor_config.json`, BitImageProcessor): resize the shortest
edge to 256 with PIL's bicubic filter, centre-crop 224, scale to [0, 1], normalise with the ImageNet
mean and std. The resize runs in PIL, as the official processor does, so the pixel values are
identical to it (a torch resize differs by one 8-bit level on 10-20 % of the values). Features are
`last_hidden_state`: the CLS token plus 16x16 patch tokens, (T, 257, 1024).
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
RESIZE_SHORTEST_EDGE = 256
CROP_SIZE = 224

# dinov2-large as published (facebook/dinov2-large config.json).
DINOV2_LARGE_CONFIG = dict(
    hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096, mlp_ratio=4,
    patch_size=14, image_size=518, num_channels=3, layerscale_value=1.0, layer_norm_eps=1e-6, qkv_bias=True,
    use_swiglu_ffn=False, hidden_act="gelu", drop_path_rate=0.0, hidden_dropout_prob=0.0,
    attention_probs_dropout_prob=0.0,
)


def build_dinov2(config: dict | None = None):
    """A `transformers.Dinov2Model` with the given official config.json dict (None: dinov2-large)."""
    from transformers import Dinov2Config, Dinov2Model

    values = dict(DINOV2_LARGE_CONFIG)
    if config:
        values.update({k: v for k, v in config.items() if not k.startswith("_")})
    values.pop("architectures", None)
    return Dinov2Model(Dinov2Config(**values)).eval()


def resized_size(height: int, width: int) -> tuple[int, int]:
    """(H, W) after resizing the shortest edge to 256; the long edge is truncated as transformers does."""
    short, long = min(height, width), max(height, width)
    new_long = int(RESIZE_SHORTEST_EDGE * long / short)
    return (RESIZE_SHORTEST_EDGE, new_long) if height <= width else (new_long, RESIZE_SHORTEST_EDGE)


def resize_and_crop(frame: np.ndarray) -> np.ndarray:
    """frame: (H, W, 3) uint8 -> (224, 224, 3) uint8: PIL bicubic shortest-edge resize, then the centre crop."""
    height, width = resized_size(*frame.shape[:2])
    resized = np.asarray(Image.fromarray(frame).resize((width, height), Image.BICUBIC))
    top, left = (height - CROP_SIZE) // 2, (width - CROP_SIZE) // 2
    return resized[top:top + CROP_SIZE, left:left + CROP_SIZE]


def preprocess_images(images: torch.Tensor) -> torch.Tensor:
    """images: (T, H, W, 3) uint8, or float in [0, 1] (rounded to 8 bits first) -> pixel values
    (T, 3, 224, 224) float32 on the input's device, equal to BitImageProcessor's.

    The work runs on the CPU (frames on a GPU are copied to host): PIL needs it, and the rescale is done in
    float64 like the processor's, which not every accelerator supports."""
    if images.dtype.is_floating_point:
        images = (images * 255.0).round().clamp(0, 255).to(torch.uint8)
    crops = np.stack([resize_and_crop(frame) for frame in images.cpu().numpy()])
    return normalize_pixels(torch.from_numpy(crops)).to(images.device)


def normalize_pixels(images: torch.Tensor) -> torch.Tensor:
    """(..., 224, 224, 3) uint8 crops (`resize_and_crop`) on the CPU -> (..., 3, 224, 224) float32 pixel
    values: rescaled in float64 like BitImageProcessor, then normalised with the ImageNet statistics."""
    x = (images.movedim(-1, -3).double() * (1 / 255)).float()
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return (x - mean) / std


@torch.inference_mode()
def encode_images(model, images: torch.Tensor, batch_size: int = 16) -> torch.Tensor:
    """images: (T, H, W, 3) square frames on white -> DINOv2 tokens (T, 257, hidden) in the model's dtype."""
    device, dtype = model.embeddings.cls_token.device, model.embeddings.cls_token.dtype
    features = []
    for chunk in images.split(batch_size):
        pixels = preprocess_images(chunk).to(device, dtype)
        features.append(model(pixel_values=pixels).last_hidden_state)
    return torch.cat(features)
