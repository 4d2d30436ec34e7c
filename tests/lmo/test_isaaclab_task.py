"""The Isaac Lab 3 task of the LMO (`WBVLA-LMO-X2-v0`, lerobot_wbvla/lmo/isaaclab) against the CPU env, by name.

The task lives in its own venv (`scripts/setup_isaaclab.sh` -> .venv-isaaclab: isaaclab pins mujoco 3.x and
transformers 5.10, outside this project's environment), so this test runs `scripts/isaaclab_smoke.py` there in a
subprocess: 3 PPO iterations at 16 envs on CPU with Newton physics, for the `none` and `command` conditionings. It then checks that the task's policy and critic
observation terms, reward terms (with the article's weights) and termination terms carry the CPU env's names, sizes
and order. Skipped when .venv-isaaclab is absent (CI's fresh clone: the venv is ~8.7 GB and ~3 min to install, and
the first run compiles Newton's Warp kernels for ~2-3 min on 2 cores).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from lerobot_wbvla.lmo.controller import LMOController
from lerobot_wbvla.lmo.env.config_env import LMOEnvConfig
from lerobot_wbvla.lmo.env.x2_vec_env import PRIVILEGED_BLOCKS
from lerobot_wbvla.lmo.evaluate import EvalEnvConfig, EvalLMOConfig, PerturbationConfig, evaluate
from lerobot_wbvla.lmo.isaaclab.export import TASK_SPEC_FILE, export_isaaclab_checkpoint, load_task_spec
from lerobot_wbvla.lmo.layout import ObservationLayout
from lerobot_wbvla.lmo.mdp.rewards import ARTICLE_WEIGHTS, RewardManager
from lerobot_wbvla.lmo.mdp.terminations import TERMINATION_TERMS
from lerobot_wbvla.lmo.policy import LMOPolicy
from lerobot_wbvla.robots.agibot_x2.agibot_x2 import AgibotX2
from lerobot_wbvla.robots.agibot_x2.config_agibot_x2 import AgibotX2Config
from lerobot_wbvla.robots.agibot_x2.joints import LEG_JOINTS, mjcf_joint_name
from lerobot_wbvla.robots.agibot_x2.sim import X2Sim, X2SimConfig

ROOT = Path(__file__).resolve().parents[2]
ISAACLAB_PYTHON = ROOT / ".venv-isaaclab" / "bin" / "python"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not ISAACLAB_PYTHON.is_file(),
        reason=f"{ISAACLAB_PYTHON.parent.parent} is absent: the Isaac Lab task needs its own venv; create it with "
        "scripts/setup_isaaclab.sh (~3 min, ~8.7 GB)",
    ),
]


def _cpu_env_names(conditioning: str) -> dict:
    """What the CPU env (X2LMOVecEnv) builds for this conditioning: its layout and its RewardManager's terms."""
    cfg = LMOEnvConfig(conditioning=conditioning)
    layout = ObservationLayout(conditioning=conditioning, privileged=PRIVILEGED_BLOCKS)
    rewards = RewardManager(cfg.reward_weights, cfg.rewards, num_envs=1)
    return {"layout": layout, "rewards": rewards.weights}


@pytest.fixture(scope="module", params=["none", "command"])
def smoke(request, tmp_path_factory) -> tuple[str, dict, Path]:
    """The smoke's JSON for one conditioning and the folder of its checkpoint, task spec and actor reference."""
    conditioning = request.param
    folder = tmp_path_factory.mktemp(f"isaaclab_{conditioning}")
    out, save_dir = folder / "smoke.json", folder / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("PYTHONPATH", None)  # the venv has this checkout installed (editable)
    proc = subprocess.run(
        [str(ISAACLAB_PYTHON), str(ROOT / "scripts" / "isaaclab_smoke.py"), "--num_envs", "16", "--iterations",
         "3", "--conditioning", conditioning, "--out", str(out), "--save_dir", str(save_dir)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1400,
    )  # fmt: skip
    assert proc.returncode == 0, f"isaaclab_smoke.py failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    return conditioning, json.loads(out.read_text()), save_dir


@pytest.mark.timeout(1500)
def test_isaaclab_task_matches_cpu_env_by_name(smoke) -> None:
    conditioning, result, _ = smoke
    cpu = _cpu_env_names(conditioning)
    layout: ObservationLayout = cpu["layout"]

    assert result["iterations"] == 3 and result["num_envs"] == 16
    assert result["env_steps_per_s"] > 0
    # Policy observation: the layout's blocks, in order, with their sizes.
    assert result["observation_names"]["policy"] == [name for name, _ in layout.blocks]
    assert [d[0] for d in result["observation_dims"]["policy"]] == [size for _, size in layout.blocks]
    # Critic: the same, then the privileged blocks.
    critic = layout.blocks + list(layout.privileged)
    assert result["observation_names"]["critic"] == [name for name, _ in critic]
    assert [d[0] for d in result["observation_dims"]["critic"]] == [size for _, size in critic]
    # Rewards: the CPU env's terms in its order, with the article's weights.
    assert result["reward_names"] == list(cpu["rewards"])
    assert result["reward_weights"] == pytest.approx(cpu["rewards"])
    assert cpu["rewards"] == pytest.approx(ARTICLE_WEIGHTS)
    # Terminations: the falls in order, then the time-out.
    assert result["termination_names"] == [*TERMINATION_TERMS, "time_out"]
    # The physics and the adapters are sane: the untrained policy (small actions around the stance) keeps the
    # nominal X2 standing on its 4 pads, the IMU reads gravity up, and nothing falls in 3 iterations.
    check = result["state_check"]
    assert 0.55 < check["base_height_m"] < 0.75, check
    assert 7.0 < check["accel_z"] < 12.5, check
    assert check["pads_in_contact"] >= 3.0, check
    assert check["falls_per_env_step"] < 0.01, check
    assert check["reward_terms"]["foot_contact"] == 1.0 and check["reward_terms"]["orientation"] > 0.8, check


@pytest.mark.timeout(1500)
def test_isaaclab_checkpoint_exports_as_the_same_lmo(smoke, tmp_path: Path) -> None:
    """The smoke's 3-iteration checkpoint, exported (lmo/isaaclab/export.py) and loaded here, in the main venv:
    LMOPolicy gives the Isaac Lab actor's actions on the observations Isaac Lab built (joint by joint, by name,
    within 1e-5), the targets Isaac Lab's action term set for out-of-range actions, and it runs in the robot's
    `lmo` controller and in wbvla-eval-lmo."""
    conditioning, _, save_dir = smoke
    (checkpoint,) = save_dir.glob("model_*.pt")
    spec = load_task_spec(save_dir / TASK_SPEC_FILE)
    out = export_isaaclab_checkpoint(checkpoint, tmp_path / "export")
    policy = LMOPolicy.from_pretrained(out)
    policy.check_layout(ObservationLayout(conditioning=conditioning))
    # The task's action term lists the legs in LEG_JOINTS order (preserve_order); the conversion maps by name
    # anyway (a permuted order is tested without Isaac Lab in test_isaaclab_export.py).
    assert spec["action_joints"] == [mjcf_joint_name(j) for j in LEG_JOINTS]

    ref = np.load(save_dir / "reference.npz")
    obs_legs = [n.removesuffix("_joint") for n in spec["observation_leg_joints"]]
    act_legs = [n.removesuffix("_joint") for n in spec["action_joints"]]
    # Isaac Lab's observation -> the project's (leg blocks by name; the other blocks are the same terms).
    x = ref["obs"].copy()
    for block in ("joint_pos", "joint_vel"):
        start = policy.layout.slices()[block].start
        for k, joint in enumerate(obs_legs):
            x[:, start + LEG_JOINTS.index(joint)] = ref["obs"][:, start + k]
    want = np.stack([ref["actions"][:, act_legs.index(j)] for j in LEG_JOINTS], axis=1)
    assert np.abs(policy.act(x) - want).max() < 1e-5
    assert np.abs(policy.act(x[:1]) - want[:1]).max() < 1e-5

    keep = ~ref["done"]
    assert keep.sum() >= 8
    raw = np.stack([ref["raw"][:, act_legs.index(j)] for j in LEG_JOINTS], axis=1)
    targets = policy.targets_from_actions(raw)
    assert np.abs(targets[keep] - ref["targets"][keep]).max() < 1e-5
    assert (
        np.abs(raw).max() > policy.clip_actions
    )  # the raw clip and the joint-range clip were both exercised

    sim = X2Sim(
        X2SimConfig(base_mode="physical", lower_body_controller="lmo", lower_body_options={"path": str(out)})
    )
    assert isinstance(sim.lower_body, LMOController)
    sim.set_command({"loco.vx": 0.2, "loco.height": 0.6})
    sim.advance(0.5)
    assert np.isfinite(sim.data.qpos).all() and sim.lower_body.nonfinite_ticks == 0
    # `--robot.lower_body_controller=lmo --robot.lmo_path=<export>`
    robot = AgibotX2(
        AgibotX2Config(
            id="isaaclab_lmo", base_mode="physical", lower_body_controller="lmo", lmo_path=str(out), seed=0
        )
    )
    robot.connect()
    try:
        assert isinstance(robot.backend.sim.lower_body, LMOController)
        state = robot.backend.read_state()
        for _ in range(3):
            robot.send_action({k: state.get(k, 0.0) for k in robot.action_features})
        assert np.isfinite(robot.backend.sim.data.qpos).all()
    finally:
        robot.disconnect()

    results = evaluate(
        EvalLMOConfig(
            policies=[f"isaaclab={out}"],
            output_dir=tmp_path / "eval",
            scenarios=["perturbation"],
            env=EvalEnvConfig(num_envs=2, terrain=False),
            perturbation=PerturbationConfig(episodes=2, episode_s=1.0, clips=2),
            videos=0,
            progress=False,
        )
    )
    assert results["perturbation"]["per_policy"]["isaaclab"]["episodes"] == 2


@pytest.mark.timeout(1500)
def test_domain_randomization_events_change_the_sim(tmp_path: Path) -> None:
    """One PPO iteration with the task's domain randomization (lmo/isaaclab/events.py, actions.py): every
    randomized quantity, read back from the sim per env, is what the env drew, lies in the CPU env's range
    (LMOEnvConfig().domain_rand) and differs across envs; a forced push puts the drawn force on the torso; the IMU
    blocks are delayed; the critic's friction block is the drawn friction."""
    out = tmp_path / "smoke.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(
        [str(ISAACLAB_PYTHON), str(ROOT / "scripts" / "isaaclab_smoke.py"), "--num_envs", "16", "--iterations",
         "1", "--domain_rand", "--out", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1400,
    )  # fmt: skip
    assert proc.returncode == 0, f"isaaclab_smoke.py failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    dr = json.loads(out.read_text())["domain_rand"]
    for name in ("friction", "payload_kg", "motor_strength", "effort_limit_scale", "torso_com_offset_m"):
        assert dr[name]["matches_drawn"] and dr[name]["in_range"], (name, dr[name])
        assert dr[name]["std_across_envs"] > 0.01 * (dr[name]["max"] + 1e-9), (name, dr[name])
    assert dr["action_lag_steps"]["in_range"] and dr["action_lag_steps"]["std_across_envs"] > 0, dr
    assert dr["imu_delay_terms"] == ["accel", "base_quat", "gyro"]
    assert dr["push"]["envs"] >= 8 and dr["push"]["max_abs_error_n"] < 1e-3 and dr["push"]["max_force_n"] > 30
    assert dr["critic_friction_matches"]
