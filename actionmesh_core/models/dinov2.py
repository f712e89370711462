"""DINOv2-large image features through `transformers.Dinov2Model`, with its preprocessing in torch.

Preprocessing (the dinov2-large `preprocessor_config.json`, BitImageProcessor): resize the shortest
edge to 256 (bicubic, antialiased like PIL, then rounded to 8-bit as PIL does), centre-crop 224,
scale to [0, 1], normalise with the ImageNet mean and std. Features are `last_hidden_state`: the CLS
token plus 16x16 patch tokens, (T, 257, 1024).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

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


def preprocess_images(images: torch.Tensor) -> torch.Tensor:
    """images: (T, H, W, 3) uint8 or float in [0, 1] -> pixel values (T, 3, 224, 224) float32."""
    x = images.permute(0, 3, 1, 2).float()
    if not images.dtype.is_floating_point:
        x = x / 255.0
    height, width = x.shape[-2:]
    short, long = min(height, width), max(height, width)
    new_long = int(RESIZE_SHORTEST_EDGE * long / short)
    size = (RESIZE_SHORTEST_EDGE, new_long) if height <= width else (new_long, RESIZE_SHORTEST_EDGE)
    x = F.interpolate(x * 255.0, size=size, mode="bicubic", align_corners=False, antialias=True)
    x = x.round().clamp(0, 255) / 255.0
    top, left = (size[0] - CROP_SIZE) // 2, (size[1] - CROP_SIZE) // 2
    x = x[..., top:top + CROP_SIZE, left:left + CROP_SIZE]
    mean = torch.tensor(IMAGENET_MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std


@torch.inference_mode()
def encode_images(model, images: torch.Tensor, batch_size: int = 16) -> torch.Tensor:
    """images: (T, H, W, 3) square frames on white -> DINOv2 tokens (T, 257, hidden) in the model's dtype."""
    device, dtype = model.embeddings.cls_token.device, model.embeddings.cls_token.dtype
    features = []
    for chunk in images.split(batch_size):
        pixels = preprocess_images(chunk.to(device)).to(dtype)
        features.append(model(pixel_values=pixels).last_hidden_state)
    return torch.cat(features)
