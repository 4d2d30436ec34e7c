"""Config of the teleoperator `x2_scripted` (`--teleop.type=x2_scripted`): a scripted operator that records X2
twin demos with no person present.

Recommended lerobot-record flags (the operator cannot see lerobot-record's settings, so the timing ones are
repeated here and must match):

    lerobot-record --robot.type=agibot_x2 --robot.backend=sim --robot.scene=pick_place --robot.seed=0 \\
      --robot.control_fps=30 --dataset.fps=30 \\
      --teleop.type=x2_scripted --teleop.seed=0 \\
      --dataset.episode_time_s=20 --teleop.episode_time_s=20 \\
      --dataset.reset_time_s=2 --teleop.reset_time_s=2 \\
      --dataset.single_task="pick up the red box and place it on the green square" ...

- `episode_time_s` >= the task's script length (pick_place ~10 s, cart_push ~9 s, walk_carry/shelf_place ~23 s;
  the env's defaults in lerobot_wbvla/envs/agibot_x2/tasks.py leave room for a grasp retry).
- `reset_time_s` > 0, 2 s recommended: during lerobot-record's (unrecorded) reset phase the operator brings the
  arms back to the standing pose and then resets the scene with the next seed, so every recorded episode starts
  from a fresh, seeded scene. Episode k uses scene seed `seed + k` (episode 0: the scene the robot built at
  connect with `--robot.seed`; pass the same value to both).
- `--robot.id` and `--teleop.robot_id` must name the same robot when not the default.
"""

from __future__ import annotations

from dataclasses import dataclass

from lerobot.teleoperators.config import TeleoperatorConfig


@TeleoperatorConfig.register_subclass("x2_scripted")
@dataclass(kw_only=True)
class X2ScriptedConfig(TeleoperatorConfig):
    # --robot.id of the agibot_x2 (sim backend) whose twin the operator reads and resets; None = the robot's
    # default id.
    robot_id: str | None = None
    # Must equal --dataset.episode_time_s (seconds of one recorded episode).
    episode_time_s: float = 60.0
    # Must equal --dataset.reset_time_s (> 0; the operator resets the scene in this unrecorded phase).
    reset_time_s: float = 60.0
    # Scene seed of episode k >= 1 is seed + k; set it to --robot.seed (which seeds episode 0).
    seed: int = 0

    def __post_init__(self) -> None:
        if self.episode_time_s <= 0:
            raise ValueError(f"--teleop.episode_time_s must be > 0, got {self.episode_time_s}")
        if self.reset_time_s <= 0:
            raise ValueError(
                f"--teleop.reset_time_s must be > 0 (got {self.reset_time_s}): x2_scripted resets the scene during "
                "lerobot-record's reset phase. Set --dataset.reset_time_s and --teleop.reset_time_s to the same "
                "value, 2 s or more."
            )
