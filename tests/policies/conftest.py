"""Data fixtures of the policy tests: a small random LAM saved like a Hub model, and an agibot_x2 dataset recorded
by `lerobot-record --robot.type=agibot_x2 --teleop.type=x2_scripted` (LeRobot's own CLI, a child process)."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest

LEROBOT_RECORD = str(Path(sys.executable).with_name("lerobot-record"))
RECORD_CAMERA = (48, 64)  # small frames: the VLM resizes them anyway


def save_tiny_lam(path: Path, seed: int = 0, latent_dim: int = 16, codebook_size: int = 32) -> Path:
    """A random (untrained) LAM with the pixel encoder: fast, and a valid frozen teacher of fixed labels."""
    import torch

    from lerobot_wbvla.lam.configuration_lam import LAMConfig, MLPLAMConfig, PixelEncoderConfig
    from lerobot_wbvla.lam.modeling_lam import LatentActionModel

    torch.manual_seed(seed)
    config = LAMConfig(
        encoder=PixelEncoderConfig(image_size=32, patch_size=8),
        model=MLPLAMConfig(
            latent_dim=latent_dim,
            codebook_size=codebook_size,
            token_dim=8,
            inverse_hidden=[64],
            forward_hidden=[64],
        ),
        frame_gap=2,
    )
    return LatentActionModel(config).save_pretrained(path)


@pytest.fixture(scope="session")
def tiny_lam_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_lam(tmp_path_factory.mktemp("tiny_lam") / "lam")


def record_x2_dataset(
    root: Path, env: dict, episodes: int = 2, seed: int = 3, task: str = "pick_place"
) -> Path:
    """Record `episodes` scripted episodes of `task` with lerobot-record (sim-time episodes, any machine load)."""
    from lerobot_wbvla.robots.agibot_x2.mjcf import build_spec
    from lerobot_wbvla.robots.agibot_x2.scenes import get_scene

    task_string = get_scene(task)(build_spec()).task
    h, w = RECORD_CAMERA
    args = [
        LEROBOT_RECORD,
        "--robot.type=agibot_x2",
        f"--robot.scene={task}",
        f"--robot.head_camera=[{h},{w}]",
        "--teleop.type=x2_scripted",
        f"--teleop.seed={seed}",
        f"--dataset.repo_id=wbvla-tests/x2-{task}-{uuid.uuid4().hex[:8]}",
        f"--dataset.root={root}",
        "--dataset.no_stamp=true",
        "--dataset.push_to_hub=false",
        f"--dataset.single_task={task_string}",
        "--dataset.fps=30",
        f"--dataset.num_episodes={episodes}",
        "--dataset.episode_time_s=400",
        "--dataset.reset_time_s=30",
        "--dataset.num_image_writer_threads_per_camera=1",
        "--play_sounds=false",
    ]
    proc = subprocess.run(
        args, env=env, capture_output=True, text=True, timeout=1200, stdin=subprocess.DEVNULL
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return root


@pytest.fixture(scope="session")
def x2_record_dataset(tmp_path_factory: pytest.TempPathFactory, subprocess_env_session: dict) -> Path:
    """Two pick_place episodes recorded by lerobot-record (shared by the policy CLI tests of a session)."""
    return record_x2_dataset(tmp_path_factory.mktemp("x2_rec") / "ds", subprocess_env_session)
