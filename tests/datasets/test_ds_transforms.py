"""The article's preprocessing (resize shorter side, center crop, ImageNet norm) as a batched torch function."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import transforms as T

from lerobot_wbvla.datasets.transforms import IMAGENET_MEAN, IMAGENET_STD, FrameTransform, to_uint8_bchw


def _smooth_image(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A smooth random RGB image (resampling filters agree on smooth content, not on pixel noise)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (max(2, h // 16), max(2, w // 16), 3), dtype=np.uint8)
    return np.array(Image.fromarray(small).resize((w, h), Image.BICUBIC))


def test_matches_the_articles_pil_pipeline() -> None:
    article = T.Compose(
        [T.Resize(224), T.CenterCrop(224), T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
    )
    img = _smooth_image(240, 320)
    ours = FrameTransform()(torch.from_numpy(img))  # single HWC frame -> (3, 224, 224)
    ref = article(Image.fromarray(img))
    assert ours.shape == ref.shape == (3, 224, 224) and ours.dtype == torch.float32
    assert (ours - ref).abs().mean() < 0.01  # PIL and torch bilinear+antialias differ only by rounding
    assert (ours - ref).abs().max() < 0.05


def test_batched_equals_per_frame_and_layouts_agree() -> None:
    frames = torch.from_numpy(np.stack([_smooth_image(90, 120, seed=s) for s in range(4)]))  # (4, 90, 120, 3)
    tf = FrameTransform.of_size(64)
    batch = tf(frames)
    assert batch.shape == (4, 3, 64, 64)
    for i in range(4):
        torch.testing.assert_close(batch[i], tf(frames[i]))
    torch.testing.assert_close(batch, tf(frames.permute(0, 3, 1, 2).contiguous()))


def test_resize_uses_the_shorter_side_and_crop_centres() -> None:
    img = torch.zeros(100, 300, 3, dtype=torch.uint8)
    img[:, 140:160] = 255  # a white bar in the middle of a wide frame
    out = FrameTransform(resize=50, crop=50, mean=(0, 0, 0), std=(1, 1, 1))(img)
    assert out.shape == (3, 50, 50)
    col = out[0].mean(0)
    assert col[22:28].min() > 0.9 and col[:15].max() < 0.05 and col[-15:].max() < 0.05  # bar at the centre


def test_normalisation_values() -> None:
    grey = torch.full((8, 8, 3), 128, dtype=torch.uint8)
    out = FrameTransform(resize=None, crop=None)(grey)
    expected = (128 / 255 - torch.tensor(IMAGENET_MEAN)) / torch.tensor(IMAGENET_STD)
    torch.testing.assert_close(out[:, 0, 0], expected)


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="Ambiguous"):
        to_uint8_bchw(torch.zeros(2, 3, 5, 3, dtype=torch.uint8))
    assert to_uint8_bchw(torch.zeros(2, 3, 5, 3, dtype=torch.uint8), layout="HWC").shape == (2, 3, 3, 5)
    with pytest.raises(TypeError, match="uint8"):
        FrameTransform()(torch.zeros(4, 4, 3))
    with pytest.raises(ValueError, match="larger than the resized frame"):
        FrameTransform(resize=None, crop=32)(torch.zeros(16, 16, 3, dtype=torch.uint8))


def test_identity_round_trips_through_dict() -> None:
    tf = FrameTransform(resize=256, crop=224)
    assert FrameTransform.from_dict(tf.to_dict()) == tf
    assert tf.to_dict() != FrameTransform().to_dict()
