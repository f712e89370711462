"""DINOv2 preprocessing against transformers' reference processor, and the 224-pixel position table."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from actionmesh_core.models import build_model
from actionmesh_core.models.dinov2 import encode_images, preprocess_images
from actionmesh_core.models.presets import TINY_CONFIGS


def reference_processor():
    import transformers

    cls = getattr(transformers, "BitImageProcessorPil", None) or transformers.BitImageProcessor
    return cls(do_resize=True, size={"shortest_edge": 256}, resample=3, do_center_crop=True,
               crop_size={"height": 224, "width": 224}, do_rescale=True, rescale_factor=1 / 255, do_normalize=True,
               image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225], do_convert_rgb=True)


@pytest.mark.parametrize("size", [(300, 300), (517, 517), (480, 640), (640, 480), (1000, 1000), (1080, 1000)])
def test_preprocessing_equals_the_dinov2_processor(size):
    rng = np.random.default_rng(1)
    small = (rng.random((size[0] // 8, size[1] // 8, 3)) * 255).astype(np.uint8)
    smooth = np.array(Image.fromarray(small).resize((size[1], size[0]), Image.BICUBIC))
    image = np.clip(smooth.astype(int) + rng.integers(-20, 21, smooth.shape), 0, 255).astype(np.uint8)
    expected = reference_processor()(images=image, return_tensors="pt")["pixel_values"]
    ours = preprocess_images(torch.from_numpy(image)[None])
    assert ours.shape == expected.shape == (1, 3, 224, 224) and ours.dtype == torch.float32
    torch.testing.assert_close(ours, expected, atol=1e-6, rtol=0)


def test_float_and_uint8_inputs_agree():
    image = torch.randint(0, 256, (2, 260, 260, 3), dtype=torch.uint8)
    torch.testing.assert_close(preprocess_images(image), preprocess_images(image.float() / 255))


def test_position_table_for_224_inputs_is_the_pinned_bicubic_resize():
    """Pins the 37x37 -> 16x16 interpolation (bicubic, align_corners=False) that the features depend on."""
    model = build_model("dinov2", dict(TINY_CONFIGS["dinov2"], image_size=518))
    with torch.no_grad():
        model.embeddings.position_embeddings.normal_()
        table = model.embeddings.position_embeddings
        grid = table[:, 1:].reshape(1, 37, 37, -1).permute(0, 3, 1, 2)
        expected = F.interpolate(grid, size=(16, 16), mode="bicubic", align_corners=False)
        expected = torch.cat([table[:, :1], expected.permute(0, 2, 3, 1).reshape(1, 256, -1)], dim=1)
        got = model.embeddings.interpolate_pos_encoding(torch.zeros(1, 257, table.shape[-1]), 224, 224)
    torch.testing.assert_close(got, expected)


def test_encode_images_gives_cls_plus_patch_tokens():
    model = build_model("dinov2", TINY_CONFIGS["dinov2"])
    features = encode_images(model, torch.randint(0, 256, (3, 230, 230, 3), dtype=torch.uint8), batch_size=2)
    assert features.shape == (3, 257, 32)
    single = encode_images(model, torch.randint(0, 256, (1, 230, 230, 3), dtype=torch.uint8))
    assert torch.isfinite(single).all()
