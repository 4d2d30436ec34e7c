"""`ScriptedOperator`: runs the task script of a live twin's scene and yields whole-body actions.

Shared by the teleoperator `x2_scripted` (inside lerobot-record) and by anything that drives the gym env
directly (benchmarks, tests): bind it to a twin with `restart(sim)` after every scene reset, then call `act()` once
per control period, before the robot's action is sent.
"""

from __future__ import annotations

import numpy as np

from lerobot_wbvla.robots.agibot_x2.joints import ACTION_KEYS, ARM_JOINTS, GRIPPERS
from lerobot_wbvla.robots.agibot_x2.params import joint_params
from lerobot_wbvla.robots.agibot_x2.sim import X2Sim

from .skills import Controller
from .task_scripts import SCRIPTS, build_script


class ScriptedOperator:
    """The scripted demonstrator for one twin (see module docstring)."""

    def __init__(self, sim: X2Sim) -> None:
        self.restart(sim)

    def restart(self, sim: X2Sim) -> None:
        """Start the scene's script from the beginning on `sim` (just reset)."""
        scene = sim.config.scene
        if scene not in SCRIPTS:
            raise ValueError(
                f"x2_scripted cannot solve scene {scene!r}; start the robot with --robot.scene set to one of "
                f"{', '.join(SCRIPTS)}"
            )
        self.sim = sim
        self.controller = Controller(sim)
        self.script = build_script(scene)

    @property
    def done(self) -> bool:
        """The script has run to its end (the task is done, or was given up); the operator now holds."""
        return self.script.done

    @property
    def phase(self) -> str:
        return self.script.current

    def act(self) -> dict[str, float]:
        """Advance the script by one control period and return the whole-body action.

        The values are float32 numbers (held in Python floats): a LeRobot dataset stores actions as float32, so the
        action a recording executes is exactly the one it stores, and replaying the stored actions repeats the
        recording bit for bit instead of drifting from rounding."""
        self.script.tick(self.controller)
        return {
            k: _float32_inside(v, *_RANGES.get(k, (-np.inf, np.inf)))
            for k, v in self.controller.action().items()
        }


# Bounds the robot clamps actions to (joint ranges, gripper closure): a float32 rounding must not cross them.
_RANGES = {f"{j}.pos": joint_params(j).range for j in ARM_JOINTS} | {f"{g}.pos": (0.0, 1.0) for g in GRIPPERS}


def _float32_inside(value: float, lo: float, hi: float) -> float:
    """`value` (inside [lo, hi]) rounded to the nearest float32 that is still inside [lo, hi]."""
    f = np.float32(value)
    if float(f) < lo:  # compared in float64 (numpy would compare a float32 with a Python float in float32)
        f = np.nextafter(f, np.float32(np.inf))
    elif float(f) > hi:
        f = np.nextafter(f, np.float32(-np.inf))
    return float(f)


def action_vector(action: dict[str, float]) -> np.ndarray:
    """Whole-body action dict -> vector in joints.ACTION_KEYS order (the env's action)."""
    return np.array([action[k] for k in ACTION_KEYS], dtype=np.float32)


def scripted_episode(env, seed: int, max_steps: int) -> tuple[bool, int]:
    """Run one episode of the agibot_x2 gym env (`env.reset(seed=)`, `env.sim`, `env.step(vector)`) with the
    scripted operator; returns (success, steps taken). Used by the tests and bench/scripted_success.py."""
    env.reset(seed=seed)
    op = ScriptedOperator(env.sim)
    info: dict = {"is_success": False}
    for step in range(max_steps):
        _, _, terminated, truncated, info = env.step(action_vector(op.act()))
        if terminated or truncated:
            return bool(info["is_success"]), step + 1
    return bool(info["is_success"]), max_steps
