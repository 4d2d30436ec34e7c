"""Config of the teleoperator `x2_scripted` (`--teleop.type=x2_scripted`): a scripted operator that records X2
twin demos with no person present.

For many demos use `wbvla-record-sim` (record_sim.py): the same operator and robot, paced by sim time, success
stored in the dataset. Inside lerobot-record:

    lerobot-record --robot.type=agibot_x2 --robot.scene=pick_place \\
      --teleop.type=x2_scripted --teleop.seed=0 \\
      --dataset.episode_time_s=300 --dataset.reset_time_s=10 \\
      --dataset.repo_id=local/x2_pick_place --dataset.root=outputs/x2_pick_place --dataset.push_to_hub=false \\
      --dataset.num_episodes=10 --dataset.single_task="pick up the red box and place it on the green square"

The operator ends each episode itself through lerobot-record's own `events` (x2_scripted.py explains the hook):
a short settle after the task is solved, or when its sim-time budget (`episode_time_s` here) is spent, and it
resets the scene (the next seed) at the start of every episode. `--dataset.episode_time_s` then only bounds the
wall-clock time of an episode: set it well above the sim-time budget (the loop runs below 30 Hz on a busy machine),
since an episode it cuts short is flagged and re-recorded. `--dataset.reset_time_s` only bounds the (unrecorded)
reset phase, which the operator ends at its first call.
"""

from __future__ import annotations

from dataclasses import dataclass

from lerobot.teleoperators.config import TeleoperatorConfig

from .episode import DEFAULT_SETTLE_S


@TeleoperatorConfig.register_subclass("x2_scripted")
@dataclass(kw_only=True)
class X2ScriptedConfig(TeleoperatorConfig):
    # --robot.id of the agibot_x2 (sim backend) whose twin the operator reads and resets; None = the robot's
    # default id.
    robot_id: str | None = None
    # Scene seed of the first episode; every episode attempt (re-recorded ones too) takes the next seed.
    seed: int = 0
    # Sim-time budget of one episode (seconds of twin time): an episode still unsolved then ends as a failure.
    # None = the task's episode length in lerobot_wbvla/envs/agibot_x2/tasks.py (pick_place 20 s, walk_carry and
    # shelf_place 40 s, cart_push 25 s; the scripts take ~9-23 s).
    episode_time_s: float | None = None
    # Sim seconds an episode goes on once the task counts as solved, so it ends on a solved, resting scene.
    settle_s: float = DEFAULT_SETTLE_S
    # Re-record an episode that ends unsolved (budget spent, or cut by lerobot-record's wall clock), with the next
    # scene seed, up to `max_attempts` attempts; after that the last attempt is kept and flagged in the log.
    rerecord_failed: bool = True
    max_attempts: int = 3
    # Fallback only, when x2_scripted runs in a loop other than lerobot-record's `record()` (it then cannot end
    # episodes and infers them from the wall clock, episode_clock.py): that loop's episode and reset lengths (s).
    fallback_episode_time_s: float = 60.0
    fallback_reset_time_s: float = 60.0

    def __post_init__(self) -> None:
        if self.episode_time_s is not None and not self.episode_time_s > 0:
            raise ValueError(
                f"--teleop.episode_time_s (the sim-time budget of an episode) must be > 0 or left unset for the "
                f"task's default, got {self.episode_time_s}"
            )
        if not self.settle_s >= 0:
            raise ValueError(f"--teleop.settle_s must be >= 0, got {self.settle_s}")
        if self.max_attempts < 1:
            raise ValueError(f"--teleop.max_attempts must be >= 1, got {self.max_attempts}")
        if not self.fallback_episode_time_s > 0:
            raise ValueError(
                f"--teleop.fallback_episode_time_s must be > 0, got {self.fallback_episode_time_s}"
            )
        if not self.fallback_reset_time_s > 0:
            raise ValueError(
                f"--teleop.fallback_reset_time_s must be > 0 (got {self.fallback_reset_time_s}): without "
                "lerobot-record's hook, x2_scripted resets the scene during the loop's reset phase."
            )
