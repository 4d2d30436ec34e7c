"""Speed of the agibot_x2 env against raw MuJoCo on the same model, and head-camera render speed.

One run, one process, the same compiled model (the pick_place scene with the X2 twin):
- `env_steps_per_s`: env control steps per second (`AgibotX2Env.step` with state-only observations, a constant
  standing action): robot validation + twin command + physics for 1/fps s + observation + success check;
- `raw_steps_per_s`: bare `mujoco.mj_step` calls per second on the env's own model and data;
- `wrapper_overhead = 1 - (env_steps_per_s * physics_steps_per_env_step) / raw_steps_per_s`, i.e. measured per
  physics step (one env step runs physics_hz / fps = 6.67 physics steps at 200 Hz / 30 fps);
- `render_fps_224`: head camera renders per second at 224 x 224 (offscreen, MUJOCO_GL as set; EGL by default).
`breakdown_us_per_env_step` splits one env step into its parts (each timed alone on the same state), so the
overhead can be attributed: physics (mj_step) vs the twin's Python per physics step vs per-control-step work;
`wrapper_overhead_by_control_fps` repeats the overhead measurement at other control rates (same physics rate).

Usage: python bench/sim_step.py [--env_steps=1500] [--render_frames=200] [--output=bench/results/sim_step.json]
Smoke (the test suite; the figures mean nothing): python bench/sim_step.py --smoke=true --output=/tmp/x.json
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

import draccus  # noqa: E402
import mujoco  # noqa: E402
from _results import RESULTS, machine_description, write_result  # bench/_results.py
from tqdm import tqdm  # noqa: E402

from lerobot_wbvla.envs.agibot_x2.baselines import hold_action  # noqa: E402
from lerobot_wbvla.envs.agibot_x2.env import AgibotX2Env  # noqa: E402


@dataclass
class SimStepConfig:
    # Task scene whose model is timed.
    task: str = "pick_place"
    # "kinematic" or "physical" base mode of the twin.
    base_mode: str = "kinematic"
    # Env control steps timed (after a 60-step warm-up).
    env_steps: int = 1500
    # Head-camera frames timed (after a 10-frame warm-up).
    render_frames: int = 200
    # Also report the overhead at these control rates (fewer Python calls per physics step), e.g. the VLA's 10 Hz.
    extra_fps: list[int] = field(default_factory=lambda: [10])
    # Where the JSON goes.
    output: Path = RESULTS / "sim_step.json"
    # Tiny settings for the test suite (a few dozen steps and frames): the figures mean nothing.
    smoke: bool = False


def _per_call_us(fn, n: int) -> float:
    t = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t) / n * 1e6


def _overhead_at(cfg: SimStepConfig, fps: int, steps: int) -> float:
    """Per-physics-step overhead of the env at control rate `fps` (same method as the main figure)."""
    env = AgibotX2Env(task=cfg.task, obs_type="agent_pos", base_mode=cfg.base_mode, fps=fps)
    env.reset(seed=0)
    action = hold_action(env)
    for _ in range(20):
        env.step(action)
    per_step = (1.0 / fps) / env.sim.model.opt.timestep
    t = time.perf_counter()
    for _ in range(steps):
        env.step(action)
    env_phys_rate = steps * per_step / (time.perf_counter() - t)
    n = int(round(steps * per_step))
    t = time.perf_counter()
    for _ in range(n):
        mujoco.mj_step(env.sim.model, env.sim.data)
    raw = n / (time.perf_counter() - t)
    env.close()
    return round(1.0 - env_phys_rate / raw, 3)


def main(cfg: SimStepConfig) -> dict:
    if cfg.smoke:
        cfg = replace(cfg, env_steps=30, render_frames=3)
    env = AgibotX2Env(task=cfg.task, obs_type="agent_pos", base_mode=cfg.base_mode)
    env.reset(seed=0)
    action = hold_action(env)
    for _ in range(60):
        env.step(action)
    sim = env.sim
    physics_per_env_step = (1.0 / env.fps) / sim.model.opt.timestep

    t = time.perf_counter()
    for _ in tqdm(range(cfg.env_steps), desc="env.step", leave=False):
        env.step(action)
    env_s = time.perf_counter() - t
    env_steps_per_s = cfg.env_steps / env_s

    # Raw physics on the very same model and data (state continues from where the env left it).
    n_raw = int(round(cfg.env_steps * physics_per_env_step))
    model, data = sim.model, sim.data
    t = time.perf_counter()
    for _ in tqdm(range(n_raw), desc="mj_step", leave=False):
        mujoco.mj_step(model, data)
    raw_steps_per_s = n_raw / (time.perf_counter() - t)
    overhead = 1.0 - env_steps_per_s * physics_per_env_step / raw_steps_per_s

    # Breakdown of one env step (each part alone, same state).
    n = max(1, cfg.env_steps // 5)
    # Each part as env.step runs it: the robot's validation/clamp, the twin command the sim backend stores, the
    # env's state observation (agent_pos vector).
    command, _ = env.robot._clamp(env.robot._parse(action))
    breakdown = {
        "mj_step_x_physics_steps": 1e6 / raw_steps_per_s * physics_per_env_step,
        "twin_advance_total": _per_call_us(lambda: sim.advance(1.0 / env.fps), n),
        "twin_set_command": _per_call_us(
            lambda: sim.set_whole_body(command.arm_targets, command.grippers, command.loco), n
        ),
        "robot_validate_and_clamp": _per_call_us(lambda: env.robot._clamp(env.robot._parse(action)), n),
        "observation_state": _per_call_us(env._observation, n),
        "success_check": _per_call_us(lambda: env.success_check(sim.data), n),
    }
    breakdown["twin_python_in_advance"] = (
        breakdown["twin_advance_total"] - breakdown["mj_step_x_physics_steps"]
    )
    breakdown["env_step_total"] = 1e6 / env_steps_per_s
    breakdown = {k: round(v, 1) for k, v in breakdown.items()}

    for _ in range(10):
        sim.render("head")
    h, w = sim.config.head_camera
    t = time.perf_counter()
    for _ in tqdm(range(cfg.render_frames), desc="render", leave=False):
        sim.render("head")
    render_fps = cfg.render_frames / (time.perf_counter() - t)
    env.close()

    overhead_by_fps = {str(env.fps): round(overhead, 3)}
    for fps in cfg.extra_fps:
        steps = max(1, cfg.env_steps // 15, cfg.env_steps * fps // (3 * env.fps))  # 166 at 10 Hz by default
        overhead_by_fps[str(fps)] = _overhead_at(cfg, fps, steps)

    out = {
        "env_steps_per_s": round(env_steps_per_s, 1),
        "raw_steps_per_s": round(raw_steps_per_s, 1),
        "wrapper_overhead": round(overhead, 3),
        "render_fps_224": round(render_fps, 1),
        "physics_steps_per_env_step": round(physics_per_env_step, 3),
        "env_physics_steps_per_s": round(env_steps_per_s * physics_per_env_step, 1),
        "render_resolution": [h, w],
        "breakdown_us_per_env_step": breakdown,
        "wrapper_overhead_by_control_fps": overhead_by_fps,
        "task": cfg.task,
        "base_mode": cfg.base_mode,
        "mujoco": mujoco.__version__,
        "mujoco_gl": os.environ.get("MUJOCO_GL"),
        "machine": machine_description(with_torch=False),
    }
    if (h, w) != (224, 224):
        raise RuntimeError(f"render_fps_224 must be measured at 224x224, the twin renders {h}x{w}")
    write_result(
        cfg.output,
        out,
        measures=["lerobot_wbvla/robots", "lerobot_wbvla/envs", "lerobot_wbvla/teleoperators"],
        smoke=cfg.smoke,
    )
    return out


if __name__ == "__main__":
    main(draccus.parse(SimStepConfig))
