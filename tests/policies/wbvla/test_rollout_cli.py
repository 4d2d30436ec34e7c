"""`wbvla` on the robot through LeRobot's own `lerobot-rollout` (a child process), on the sim-backend `agibot_x2`.

LeRobot 0.6.1's rollout passes a policy only the robot's `.pos`/`.vel` float features as observation.state and sends
the robot only its `.pos`/`.vel` action keys (lerobot/rollout/context.py). For the X2 that leaves out imu.* and
foot_contact.* (66 of the dataset's 80 state entries) and the four loco.* action keys. The policy reads only the
joint entries by default (`--policy.state_entries=pos_vel`; it normalises them itself) and the robot
takes an action without loco.* keys as "arms only, locomotion stopped". Checked here: a trained checkpoint drives
one episode with `--inference.type=sync` and the rollout is recorded as a dataset; `--inference.type=rtc` is refused
before the robot is touched (wbvla has no RTC); the rollout's short state gives the same actions as the full one.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from lerobot.configs.types import FeatureType, PolicyFeature

from lerobot_wbvla.robots.agibot_x2.joints import ACTION_KEYS, ARM_JOINTS, LOCO_KEYS, STATE_KEYS

BIN = Path(sys.executable).parent
TRAIN = str(BIN / "lerobot-train")
ROLLOUT = str(BIN / "lerobot-rollout")
H, W = 48, 64  # tests/conftest.py RECORD_CAMERA
IMG = "observation.images.head"
# What lerobot-rollout builds from the X2's features: the joint entries of the state, the action without loco.*.
ROLLOUT_STATE = [k for k in STATE_KEYS if k.endswith((".pos", ".vel"))]
ROLLOUT_ACTION = [k for k in ACTION_KEYS if k not in LOCO_KEYS]


def pick_place_task() -> str:
    from lerobot_wbvla.robots.agibot_x2.mjcf import build_spec
    from lerobot_wbvla.robots.agibot_x2.scenes import get_scene

    return get_scene("pick_place")(build_spec()).task


def run(args: list[str], env: dict, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        args, env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


def rollout_args(policy: Path, root: Path, inference: str, episode_time_s: float = 6.0) -> list[str]:
    return [
        ROLLOUT,
        "--robot.type=agibot_x2",
        "--robot.scene=pick_place",
        f"--robot.head_camera=[{H},{W}]",
        f"--policy.path={policy}",
        "--policy.device=cpu",
        "--strategy.type=episodic",
        f"--dataset.repo_id=wbvla-tests/rollout_{uuid.uuid4().hex[:8]}",
        f"--dataset.root={root}",
        "--dataset.no_stamp=true",
        f"--dataset.single_task={pick_place_task()}",
        "--dataset.num_episodes=1",
        f"--dataset.episode_time_s={episode_time_s}",
        "--dataset.reset_time_s=0",
        "--dataset.push_to_hub=false",
        # h264: SVT-AV1 (the default) puts its encoding thread on SCHED_FIFO when run as root (realtime.py)
        "--dataset.rgb_encoder.vcodec=h264",
        "--dataset.num_image_writer_threads_per_camera=1",
        "--play_sounds=false",
        # the rollout's way home sends every `.pos` key of the observation, legs included, which the X2's
        # whole-body action does not have: the robot holds its pose at disconnect instead
        "--return_to_initial_position=false",
        f"--inference.type={inference}",
    ]


@pytest.fixture(scope="module")
def rollout_policy(wbvla_checkpoint: Path) -> Path:
    """A tiny wbvla checkpoint trained for a few steps by lerobot-train on a lerobot-record dataset."""
    return wbvla_checkpoint


@pytest.mark.slow
def test_lerobot_rollout_sync_drives_the_sim_x2_and_records_the_episode(
    tmp_path, rollout_policy, subprocess_env
):
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    root = tmp_path / "rollout"
    args = rollout_args(rollout_policy, root, "sync")
    proc = run(args, subprocess_env)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-6000:]
    assert log.count("carry no loco.* keys") == 1, log[-4000:]  # the robot says once that loco stays stopped

    repo_id = next(a for a in args if a.startswith("--dataset.repo_id=")).split("=", 1)[1]
    ds = LeRobotDataset(repo_id, root=root, video_backend="pyav")
    assert ds.meta.total_episodes == 1 and ds.meta.robot_type == "agibot_x2"
    assert ds.num_frames >= 5, ds.num_frames  # wall-clock episode: frames depend on the machine's speed
    feats = ds.meta.features
    assert feats["observation.state"]["names"] == ROLLOUT_STATE
    assert feats["action"]["names"] == ROLLOUT_ACTION
    assert tuple(feats[IMG]["shape"]) == (H, W, 3)
    assert ds.meta.tasks.index.tolist() == [pick_place_task()]

    frames = ds.hf_dataset.with_format("numpy")
    actions, states = np.stack(frames["action"]), np.stack(frames["observation.state"])
    assert actions.shape == (ds.num_frames, len(ROLLOUT_ACTION)) and np.isfinite(actions).all()
    assert states.shape == (ds.num_frames, len(ROLLOUT_STATE)) and np.isfinite(states).all()
    arm = [ROLLOUT_STATE.index(f"{j}.pos") for j in ARM_JOINTS]
    moved = np.abs(states[:, arm] - states[0, arm]).max()
    assert moved > 0.05, moved  # the policy's targets moved the arms (rad)
    assert tuple(ds[ds.num_frames - 1][IMG].shape) == (3, H, W)  # the head camera's video decodes


@pytest.mark.slow
def test_lerobot_rollout_rtc_is_refused_before_the_robot_is_touched(tmp_path, rollout_policy, subprocess_env):
    root = tmp_path / "rollout"
    proc = run(rollout_args(rollout_policy, root, "rtc"), subprocess_env)
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0
    # LeRobot's own message (lerobot/rollout/context.py): wbvla does not implement RTC (supports_rtc() is False)
    assert "RTC inference is not supported by policy type 'wbvla'" in log, log[-3000:]
    assert "Use '--inference.type=sync' instead." in log
    assert "Connecting robot" not in log and not root.exists()


def test_the_rollout_state_gives_the_same_actions_as_the_recorded_state(tiny_qwen2_vl_dir):
    """The 66 joint entries lerobot-rollout passes give the actions of the dataset's 80-entry state; imu.* and
    foot_contact.* never reach the model; a policy trained to read every entry says how to run it there."""
    from lerobot_wbvla.policies.wbvla import WbvlaConfig, WbvlaPolicy
    from lerobot_wbvla.policies.wbvla.processor_wbvla import make_wbvla_pre_post_processors

    g = torch.Generator().manual_seed(0)
    n_s, n_a = len(STATE_KEYS), len(ACTION_KEYS)
    stats = {
        "observation.state": {
            "mean": torch.randn(n_s, generator=g),
            "std": torch.rand(n_s, generator=g) + 0.5,
        },
        "action": {"mean": torch.randn(n_a, generator=g), "std": torch.rand(n_a, generator=g) + 0.5},
    }
    meta = SimpleNamespace(
        root=Path("/nonexistent"),
        fps=30,
        features={
            "observation.state": {"dtype": "float32", "shape": (n_s,), "names": list(STATE_KEYS)},
            "action": {"dtype": "float32", "shape": (n_a,), "names": list(ACTION_KEYS)},
        },
    )

    def policy_and_processors(**kw):
        cfg = WbvlaConfig(
            vlm_model_name=str(tiny_qwen2_vl_dir),
            chunk_size=4,
            n_action_steps=2,
            vlm_image_size=56,
            head_dim=32,
            head_heads=2,
            decoder_layers=1,
            device="cpu",
            push_to_hub=False,
            **kw,
        )
        cfg.input_features = {
            "observation.state": PolicyFeature(type=FeatureType.STATE, shape=(n_s,)),
            IMG: PolicyFeature(type=FeatureType.VISUAL, shape=(3, H, W)),
        }
        cfg.output_features = {"action": PolicyFeature(type=FeatureType.ACTION, shape=(n_a,))}
        torch.manual_seed(0)
        policy = WbvlaPolicy(cfg, dataset_stats=stats, dataset_meta=meta).eval()
        return policy, *make_wbvla_pre_post_processors(cfg, stats)

    policy, pre, post = policy_and_processors()
    assert policy.config.state_names == list(STATE_KEYS) and policy.config.state_dim == len(ROLLOUT_STATE)
    state = torch.randn(n_s, generator=g)
    image = torch.rand(3, H, W, generator=g)
    task = pick_place_task()
    joints = torch.tensor([STATE_KEYS.index(k) for k in ROLLOUT_STATE])

    def act(s: torch.Tensor) -> torch.Tensor:
        policy.reset()
        return post(policy.select_action(pre({"observation.state": s, IMG: image, "task": task})))

    full = act(state)
    other_imu = state.clone()
    other_imu[[STATE_KEYS.index(k) for k in STATE_KEYS if k.startswith(("imu.", "foot_contact."))]] += 3.0
    assert torch.isfinite(full).all() and full.shape == (1, n_a)
    assert torch.equal(act(state[joints]), full)  # the rollout's state
    assert torch.equal(act(other_imu), full)  # the entries it lacks are never read

    policy_all, pre_all, _ = policy_and_processors(state_entries="all")
    assert policy_all.config.state_dim == n_s
    with pytest.raises(ValueError, match=r"--policy\.state_entries=pos_vel"):
        policy_all.select_action(pre_all({"observation.state": state[joints], IMG: image, "task": task}))
