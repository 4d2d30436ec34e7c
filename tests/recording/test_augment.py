"""Camera noise / lighting augmentation: the kernel's numbers, record-time and train-time entry points."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from lerobot.transforms.transforms import ImageTransformConfig, ImageTransforms, ImageTransformsConfig

from lerobot_wbvla.datasets.augment import (
    TRANSFORM_NAME,
    CameraAugmentConfig,
    CameraNoiseLighting,
    Lighting,
    Noise,
    RecordTimeAugmenter,
    augment_image,
)


def gray(value: float, h: int = 64, w: int = 96) -> torch.Tensor:
    return torch.full((3, h, w), value)


def test_identity_parameters_leave_the_image_unchanged():
    img = torch.rand(3, 32, 48)
    assert torch.equal(augment_image(img, Lighting(), Noise()), img)


def test_lighting_terms():
    img = gray(0.4)
    out = augment_image(img, Lighting(brightness=1.5, color_gain=(1.0, 0.5, 2.0)), Noise())
    assert torch.allclose(out[:, 0, 0], torch.tensor([0.6, 0.3, 1.0]))  # blue clipped at 1
    out = augment_image(img, Lighting(gamma=2.0), Noise())
    assert torch.allclose(out, torch.full_like(img, 0.16))
    # Light from the right (angle 0): left edge 0.4 * 0.7, right edge 0.4 * 1.3, linear in between.
    out = augment_image(img, Lighting(gradient=0.3, gradient_angle=0.0), Noise())
    assert out[0, 10, 0].item() == pytest.approx(0.28, abs=1e-6)
    assert out[0, 10, -1].item() == pytest.approx(0.52, abs=1e-6)
    assert torch.allclose(out[:, 0, :], out[:, -1, :])  # no vertical change
    out = augment_image(img, Lighting(gradient=0.3, gradient_angle=math.pi / 2), Noise())
    assert out[0, -1, 5] > out[0, 0, 5]


def test_noise_statistics_and_determinism():
    img = gray(0.25, 256, 256)
    out = augment_image(img, Lighting(), Noise(read=0.02, shot=0.04, seed=7))
    expected_std = math.sqrt(0.02**2 + 0.04**2 * 0.25)
    assert (out - img).std().item() == pytest.approx(expected_std, rel=0.03)
    assert abs((out - img).mean().item()) < 1e-3
    assert torch.equal(out, augment_image(img, Lighting(), Noise(read=0.02, shot=0.04, seed=7)))
    assert not torch.equal(out, augment_image(img, Lighting(), Noise(read=0.02, shot=0.04, seed=8)))


def test_record_time_augmenter_keeps_lighting_per_episode_and_is_seeded():
    frame = np.full((48, 64, 3), 120, np.uint8)
    cfg = CameraAugmentConfig(read_noise=(0.02, 0.02), shot_noise=(0.0, 0.0), gradient=(0.0, 0.0))
    a, b = RecordTimeAugmenter(cfg, seed=3), RecordTimeAugmenter(cfg, seed=3)
    f1, f2 = a(frame), a(frame)
    assert f1.dtype == np.uint8 and f1.shape == frame.shape
    assert np.array_equal(f1, b(frame)) and np.array_equal(f2, b(frame))  # same seed, same frames
    assert not np.array_equal(f1, f2)  # fresh noise each frame
    # Same lighting within the episode: mean brightness equal up to noise; a new episode changes it.
    means = [a(frame).astype(float).mean() for _ in range(5)]
    assert max(means) - min(means) < 0.5
    lighting = a.lighting
    a.new_episode()
    assert a.lighting != lighting
    with pytest.raises(ValueError, match="uint8 \\(H, W, 3\\)"):
        a(frame.astype(np.float32))


def test_train_time_transform_by_name_in_lerobot_image_transforms():
    torch.manual_seed(0)
    cfg = ImageTransformsConfig(
        enable=True,
        max_num_transforms=1,
        tfs={
            "x2": ImageTransformConfig(
                type=TRANSFORM_NAME,
                kwargs={
                    "brightness": (0.5, 0.5),
                    "gradient": (0, 0),
                    "color_gain": (1, 1),
                    "gamma": (1, 1),
                    "read_noise": (0.01, 0.01),
                    "shot_noise": (0, 0),
                },
            )
        },
    )
    tf = ImageTransforms(cfg)
    out = tf(gray(0.6))
    assert out.mean().item() == pytest.approx(0.3, abs=2e-3)
    assert out.std().item() == pytest.approx(0.01, rel=0.1)
    u8 = CameraNoiseLighting(
        brightness=(2.0, 2.0),
        read_noise=(0, 0),
        shot_noise=(0, 0),
        gradient=(0, 0),
        color_gain=(1, 1),
        gamma=(1, 1),
    )(torch.full((3, 4, 4), 100, dtype=torch.uint8))
    assert u8.dtype == torch.uint8 and int(u8[0, 0, 0]) == 200


def test_bad_ranges_are_rejected():
    with pytest.raises(ValueError, match="brightness"):
        CameraAugmentConfig(brightness=(1.2, 0.8))
    with pytest.raises(ValueError, match="gradient"):
        CameraAugmentConfig(gradient=(0.0, 1.5))


def test_observation_step_on_real_twin_observations():
    from lerobot.processor import ProcessorStepRegistry

    from lerobot_wbvla.datasets.augment import CameraAugmentStep, make_camera_augment_pipeline
    from lerobot_wbvla.robots.agibot_x2 import AgibotX2, AgibotX2Config

    robot = AgibotX2(AgibotX2Config(id="aug-twin", head_camera=(48, 64), action_timeout_s=0))
    robot.connect()
    try:
        obs = robot.get_observation()
    finally:
        robot.disconnect()
    ranges = CameraAugmentConfig(read_noise=(0.01, 0.01), shot_noise=(0.0, 0.0))
    pipe = make_camera_augment_pipeline(ranges, seed=5, lighting_period_frames=3)
    outs = [pipe(obs) for _ in range(4)]
    assert all(o["left_elbow.pos"] == obs["left_elbow.pos"] for o in outs)
    head = obs["head"].astype(float)
    ratios = [o["head"].astype(float).mean() / head.mean() for o in outs]
    assert all(not np.array_equal(o["head"], obs["head"]) for o in outs)
    assert ratios[0] == pytest.approx(ratios[1], abs=0.02) == pytest.approx(ratios[2], abs=0.02)
    assert abs(ratios[3] - ratios[0]) > 0.02  # frame 4 starts a new lighting period
    # The step serialises like any LeRobot processor step and rebuilds to the same behaviour.
    step = pipe.steps[0]
    rebuilt = ProcessorStepRegistry.get("x2_camera_augment")(**step.get_config())
    assert isinstance(rebuilt, CameraAugmentStep)
    assert np.array_equal(rebuilt.observation(obs)["head"], outs[0]["head"])
