"""Record-time camera augmentation on the sim backend (`--robot.camera_augment=true`): the head frames that
`lerobot-record` stores carry the article's lighting changes and camera noise, one lighting per episode."""

from __future__ import annotations

from pathlib import Path

import draccus
import numpy as np
from lerobot.robots.utils import make_robot_from_config

from lerobot_wbvla.datasets.augment import CameraAugmentConfig
from lerobot_wbvla.robots.agibot_x2 import AgibotX2Config


def _robot(tmp_path: Path, name: str, **kw):
    cfg = AgibotX2Config(
        id=f"x2-aug-{name}-{tmp_path.name}",
        calibration_dir=tmp_path / "calib",
        action_timeout_s=0.0,
        head_camera=(64, 64),
        seed=3,
        **kw,
    )
    robot = make_robot_from_config(cfg)
    robot.connect()
    return robot


def test_augmented_frames_differ_from_clean_frames_and_relight_per_episode(tmp_path):
    clean = _robot(tmp_path, "clean")
    augmented = _robot(
        tmp_path,
        "aug",
        camera_augment=True,
        camera_augment_ranges=CameraAugmentConfig(brightness=(0.5, 0.6), read_noise=(0.02, 0.03)),
    )
    try:
        base = clean.get_observation()["head"].astype(np.float64)
        first = augmented.get_observation()["head"].astype(np.float64)
        again = augmented.get_observation()["head"].astype(np.float64)
        assert base.shape == first.shape == (64, 64, 3)
        # Same scene and seed: the only difference is the augmentation (exposure 0.5-0.6 darkens it clearly).
        assert first.mean() < 0.75 * base.mean()
        # Fresh noise every frame, same lighting within an episode.
        assert np.abs(first - again).mean() > 0.5
        assert abs(first.mean() - again.mean()) < 0.02 * base.mean()

        # A scene reset is a new episode: the lighting is drawn again (colour gain / gamma / gradient change the
        # per-channel means by more than the frame-to-frame noise does).
        sim = augmented.backend.sim
        sim.reset(3)
        relit = augmented.get_observation()["head"].astype(np.float64)
        per_channel = lambda img: img.reshape(-1, 3).mean(0)  # noqa: E731
        assert (
            np.abs(per_channel(relit) - per_channel(first)).max()
            > np.abs(per_channel(again) - per_channel(first)).max()
        )
    finally:
        clean.disconnect()
        augmented.disconnect()


def test_augmentation_is_off_by_default_and_parses_from_the_cli():
    assert AgibotX2Config().camera_augment is False
    cfg = draccus.parse(
        AgibotX2Config,
        args=["--camera_augment=true", "--camera_augment_ranges.brightness=[0.7,1.3]"],
    )
    assert cfg.camera_augment is True and tuple(cfg.camera_augment_ranges.brightness) == (0.7, 1.3)
