"""The teleoperator `x2_scripted`: solves the X2 twin's task scene while lerobot-record drives the robot.

It finds the twin of the robot `agibot_x2` (sim backend) through robots/agibot_x2/sim_registry.py by robot id
and, per `get_action` call (lerobot-record: get_observation -> get_action -> send_action):

- in a recorded episode: runs the scene's task script (operator.py); once the task is done it holds still;
- when the recorded part is over (episode_clock.py tells from the call times): brings the arms back to the standing
  pose within the robot's per-tick limits, opens the grippers, stops walking, then resets the scene with the next
  seed, and holds still until the next episode starts. Resetting in the unrecorded reset phase means the first
  recorded observation of every episode already shows the fresh scene, and bringing the commands home first means
  the robot's own per-tick clamp (relative to its last target) starts the episode from the standing pose.
"""

from __future__ import annotations

import logging
import time
from functools import cached_property

from lerobot.teleoperators.teleoperator import Teleoperator

from lerobot_wbvla.robots.agibot_x2 import sim_registry
from lerobot_wbvla.robots.agibot_x2.joints import ACTION_KEYS, ARM_JOINTS, GRIPPERS
from lerobot_wbvla.robots.agibot_x2.sim import X2Sim

from .config_x2_scripted import X2ScriptedConfig
from .episode_clock import EpisodeClock, RecordPhase
from .operator import ScriptedOperator
from .skills import MAX_GRIPPER_STEP, MAX_JOINT_STEP

logger = logging.getLogger(__name__)

# Twin time at or below which a twin counts as just reset (no control period has run yet).
FRESH_SIM_TIME = 1e-9
# Locomotion command decay per call while going home (m/s or rad/s per call).
LOCO_HOME_STEP = 0.05


class X2Scripted(Teleoperator):
    """Scripted demonstrator for the X2 twin's task scenes (see the module docstring)."""

    config_class = X2ScriptedConfig
    name = "x2_scripted"

    def __init__(self, config: X2ScriptedConfig) -> None:
        super().__init__(config)
        self.config = config
        self.clock = EpisodeClock(config.episode_time_s, config.reset_time_s)
        self._connected = False
        self._sim: X2Sim | None = None
        self._operator: ScriptedOperator | None = None
        self._last_action: dict[str, float] | None = None
        self._scene_reset_done = False
        self._pending_seed: int | None = None
        self.episode_seeds: list[
            int | None
        ] = []  # scene seed of each recorded episode (None: the robot's own)
        self.phase: RecordPhase | None = None

    # ------------------------------------------------------------------ Teleoperator API
    @cached_property
    def action_features(self) -> dict[str, type]:
        return dict.fromkeys(ACTION_KEYS, float)

    @cached_property
    def feedback_features(self) -> dict[str, type]:
        return {}

    @property
    def is_connected(self) -> bool:
        return self._connected

    def connect(self, calibrate: bool = True) -> None:
        # Nothing to open: the twin is looked up on the first get_action (lerobot-record connects the teleop
        # before the robot, so the twin does not exist yet here).
        if self._connected:
            raise ConnectionError(f"{self} is already connected")
        self._connected = True

    @property
    def is_calibrated(self) -> bool:
        return True

    def calibrate(self) -> None:
        pass

    def configure(self) -> None:
        pass

    def send_feedback(self, feedback: dict) -> None:
        pass

    def disconnect(self) -> None:
        self._connected = False
        self._sim = None
        self._operator = None

    def get_action(self, now: float | None = None) -> dict[str, float]:
        """The next whole-body action. `now` (monotonic seconds) is for tests; lerobot-record leaves it None."""
        if not self._connected:
            raise ConnectionError(f"{self} is not connected; call connect() first")
        sim = self._live_sim()
        self.phase = self.clock.tick(time.monotonic() if now is None else now)
        if self.phase is RecordPhase.EPISODE_START:
            action = self._start_episode(sim)
        elif self.phase is RecordPhase.EPISODE:
            action = self._operator.act()
        else:  # RESET_START / RESET: go home, then reset the scene once, then hold
            action = self._reset_phase(sim)
        self._last_action = dict(action)
        return action

    # ------------------------------------------------------------------ phases
    def _live_sim(self) -> X2Sim:
        sim = sim_registry.lookup(self.config.robot_id)
        if sim is not self._sim:  # first call, or the robot reconnected with a new twin
            self._sim = sim
            self._operator = None
            self._last_action = None
        return sim

    def _start_episode(self, sim: X2Sim) -> dict[str, float]:
        k = self.clock.episode_index
        if k == 0 and self._operator is None and sim.sim_time <= FRESH_SIM_TIME:
            seed = None  # the twin the robot just built and reset at connect (--robot.seed)
        elif self._scene_reset_done:
            seed = self._pending_seed
        else:
            # The reset phase was too short to go home and reset (or the twin was not fresh): reset now. The first
            # frame of this episode was observed before the reset.
            seed = self.config.seed + k
            logger.warning(
                "x2_scripted: episode %d started before the scene could be reset in the reset phase; resetting "
                "now (its first frame shows the old scene). Use --dataset.reset_time_s = --teleop.reset_time_s "
                ">= 2.",
                k,
            )
            sim.reset(seed)
        self.episode_seeds.append(seed)
        self._scene_reset_done = False
        self._operator = ScriptedOperator(sim)
        return self._operator.act()

    def _reset_phase(self, sim: X2Sim) -> dict[str, float]:
        if self.phase is RecordPhase.RESET_START:
            self._scene_reset_done = False
        if self._scene_reset_done:
            return self._home_action()
        action, at_home = self._step_home()
        if at_home:
            self._pending_seed = self.config.seed + self.clock.episode_index + 1
            sim.reset(self._pending_seed)
            self._scene_reset_done = True
            action = self._home_action()
        return action

    def _home_action(self) -> dict[str, float]:
        """Standing pose, grippers open, no locomotion: what the robot holds right after a twin reset."""
        stance = X2Sim.stance_upper_body()
        out = {f"{j}.pos": float(stance[j]) for j in ARM_JOINTS}
        out.update({f"{g}.pos": 0.0 for g in GRIPPERS})
        out.update({"loco.vx": 0.0, "loco.vy": 0.0, "loco.yaw_rate": 0.0, "loco.height": 0.0})
        return out

    def _step_home(self) -> tuple[dict[str, float], bool]:
        """One call's worth of motion from the last action toward `_home_action` (within the robot's per-tick
        limits); True once there."""
        home = self._home_action()
        last = self._last_action or home
        out: dict[str, float] = {}
        at_home = True
        for key, goal in home.items():
            prev = last[key]
            if key.startswith("loco.") and key != "loco.height":
                limit = LOCO_HOME_STEP
            elif key.endswith("gripper.pos"):
                limit = MAX_GRIPPER_STEP
            elif key == "loco.height":
                limit = float("inf")
            else:
                limit = MAX_JOINT_STEP
            step = min(max(goal - prev, -limit), limit)
            out[key] = prev + step
            at_home = at_home and abs(goal - out[key]) < 1e-9
        # The base must have stopped too before the scene is reset under it.
        at_home = at_home and max(abs(v) for v in self._sim.base_vel) < 1e-3
        return out, at_home
