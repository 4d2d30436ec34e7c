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

import pytest

from lerobot_wbvla.lmo.env.config_env import LMOEnvConfig
from lerobot_wbvla.lmo.env.x2_vec_env import PRIVILEGED_BLOCKS
from lerobot_wbvla.lmo.layout import ObservationLayout
from lerobot_wbvla.lmo.mdp.rewards import ARTICLE_WEIGHTS, RewardManager
from lerobot_wbvla.lmo.mdp.terminations import TERMINATION_TERMS

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


@pytest.mark.timeout(1500)
@pytest.mark.parametrize("conditioning", ["none", "command"])
def test_isaaclab_task_matches_cpu_env_by_name(tmp_path: Path, conditioning: str) -> None:
    out = tmp_path / "smoke.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("PYTHONPATH", None)  # the venv has this checkout installed (editable)
    proc = subprocess.run(
        [str(ISAACLAB_PYTHON), str(ROOT / "scripts" / "isaaclab_smoke.py"), "--num_envs", "16", "--iterations",
         "3", "--conditioning", conditioning, "--out", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1400,
    )  # fmt: skip
    assert proc.returncode == 0, f"isaaclab_smoke.py failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    result = json.loads(out.read_text())
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
