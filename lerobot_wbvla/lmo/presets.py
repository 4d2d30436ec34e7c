"""Named `wbvla-train-lmo` configurations (`--preset=NAME`): one function per preset returning a fresh
TrainLMOConfig; `LMO_PRESETS` is the registry the CLI reads. A preset's values become the defaults and explicit
flags override them (`--preset=walking_gpu --env.num_envs=1024`). The preset's name stays in the config
(`TrainLMOConfig.preset`), so train_config.json, the checkpoint folder and the model card say which one ran.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Sequence

from lerobot_wbvla.lmo.config_train import TrainLMOConfig
from lerobot_wbvla.lmo.curriculum import CurriculumConfig, StageConfig
from lerobot_wbvla.lmo.mdp.rewards import ARTICLE_WEIGHTS

# Stage I (gait): velocity tracking first. J_dir (direction) tracks the yaw rate, the gait term rewards single
# support while walking, J_stand (stand_still) keeps the feet down when the command is zero. angular_velocity
# penalises every body rate (turning included), so it is kept small while the robot must learn to turn.
GAIT_WEIGHTS: dict[str, float] = {
    "linear_velocity": 1.0,
    "direction": 0.5,
    "orientation": 0.25,
    "angular_velocity": 0.02,
    "gait": 0.2,
    "stand_still": 0.2,
    "com_stability": 0.1,
    "energy": 0.05,
    "smoothness": 0.1,
}
# Stage II (loco-manipulation): the article's 8 terms (manipulation_support widens the stance with |z_t|) plus the
# paper's J_dir and J_stand.
LOCO_MANIPULATION_WEIGHTS: dict[str, float] = {**ARTICLE_WEIGHTS, "direction": 0.1, "stand_still": 0.1}


def walking_stages(stage2_iteration: int) -> list[StageConfig]:
    """The paper's two stages: I random-command gait with still arms, no payload and no z_t, joint ranges and
    command ranges widening with the level, pushes growing with it; II the arm clips with their command schedule,
    hand payloads and z_t, the level restarted at 0.3 so arm amplitude and payloads widen again."""
    gait = StageConfig(
        name="gait",
        start_iteration=0,
        commands="random",
        vx=(-0.8, 1.2),
        vy=(-0.5, 0.5),
        yaw_rate=(-0.8, 0.8),
        command_range_start=0.3,
        command_resample_s=4.0,
        stand_fraction=0.1,
        joint_range_start=0.5,
        arm_motion=0.0,
        payload=0.0,
        push=1.0,
        latent=False,
        reward_weights=dict(GAIT_WEIGHTS),
    )
    manipulation = StageConfig(
        name="loco_manipulation",
        start_iteration=stage2_iteration,
        commands="clips",
        joint_range_start=1.0,
        arm_motion=1.0,
        payload=1.0,
        push=1.0,
        latent=True,
        reward_weights=dict(LOCO_MANIPULATION_WEIGHTS),
        level_at_start=0.3,
    )
    return [gait, manipulation]


def walking_gpu() -> TrainLMOConfig:
    """A walking X2 on one GPU: the warp backend at 4096 envs, 3000 PPO iterations x 24 steps (~295M env steps,
    the budget of mjlab's G1 velocity task), stage I (gait) for the first 1500 iterations and stage II
    (loco-manipulation) after. PPO with RSL-RL's KL-adaptive learning rate from 1e-3 and a wider initial action
    noise than the 2-core stander's 0.1 (walking has to be explored). Not tuned on a GPU yet: the figures of
    bench/lmo_gpu.py are its first measurement."""
    cfg = TrainLMOConfig(preset="walking_gpu", backend="warp", iterations=3000, save_every=100)
    cfg.env.num_envs = 4096
    cfg.ppo.learning_rate = 1e-3
    cfg.ppo.schedule = "adaptive"
    cfg.ppo.init_noise_std = 0.3
    cfg.ppo.entropy_coef = 0.005
    cfg.curriculum = CurriculumConfig(mode="adaptive", step=0.01, stages=walking_stages(1500))
    return cfg


LMO_PRESETS: dict[str, Callable[[], TrainLMOConfig]] = {"walking_gpu": walking_gpu}


def lmo_preset(name: str) -> TrainLMOConfig:
    if name not in LMO_PRESETS:
        raise ValueError(f"--preset={name!r} is not an LMO preset; choose one of {', '.join(LMO_PRESETS)}")
    return LMO_PRESETS[name]()


PRESET_FLAG = "--preset"


def preset_args(args: Sequence[str]) -> tuple[list[str], str | None]:
    """Replace `--preset=NAME` in command-line args by a `--config_path` file holding the preset (merged under a
    user's own --config_path file), so LeRobot's parser reads the preset first and the flags override it, as
    `--lam.preset` does for wbvla-train-lam (lam/cli.py). Returns the new args and the temp file to delete after
    parsing (None without a preset). An unknown name raises ValueError (one error line in the CLI)."""
    import draccus

    from lerobot_wbvla.lam.cli import _merge, _read_config_file, flag_value, without_flag

    name = flag_value(args, PRESET_FLAG)
    if name is None:
        return list(args), None
    content = draccus.encode(lmo_preset(name))
    user_file = flag_value(args, "--config_path")
    if user_file:
        content = _merge(content, _read_config_file(user_file))
    fd, path = tempfile.mkstemp(prefix="lmo-preset-", suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump(content, f)
    rest = without_flag(without_flag(args, PRESET_FLAG), "--config_path")
    return [f"--config_path={path}", *rest], path
