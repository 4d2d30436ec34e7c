"""The LMO's domain randomization as Isaac Lab event terms (Newton physics), with the CPU env's ranges.

The ranges are `LMOEnvConfig().domain_rand` (env/config_env.py), imported, never retyped; each term draws what the
CPU env's `_randomize` / `_schedule_pushes` draw, at the ranges' full extent (the CPU env scales them with its
curriculum level; this task has no curriculum yet). What each env drew is kept on the env (`dr_state(env)`), so
the critic's privileged blocks (`payload_kg`, `push_force`, `friction`, `motor_strength`) report the live values.

- friction: one coefficient per env on the foot shapes (the pads' ankle links). The CPU env sets the ground and
  the pads to it; here the ground is one static box shared by all envs, so it is given the range's low end and
  the feet the drawn value: Newton's MuJoCo solver, like MuJoCo, takes the larger of the two shapes' friction.
- payload: a mass added to each gripper palm, drawn per hand (Isaac Lab's `randomize_rigid_body_mass`, which
  scales the palm's inertia with its mass; the CPU env puts the mass at the tool point, moving the palm's CoM).
  This is the CPU env's `payload_split=per_hand`, not its default (one load shared at a random split): not ported.
- motor strength: one factor per env scales the 12 leg joints' PD gains and torque limits together.
- CoM: the torso's centre of mass moved horizontally by up to `com_displacement_m` in a random direction.
- pushes: a horizontal force of the drawn magnitude and direction on the torso for `push_duration_s`, the next
  one `push_interval_s` after the last ended (checked every control step).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import torch
from isaaclab.envs import mdp
from isaaclab.managers import ManagerTermBase, SceneEntityCfg

from lerobot_wbvla.lmo.env.config_env import LMOEnvConfig
from lerobot_wbvla.robots.agibot_x2 import mjcf
from lerobot_wbvla.robots.agibot_x2.joints import LEG_JOINTS, mjcf_joint_name

if TYPE_CHECKING:
    from isaaclab.envs import ManagerBasedEnv
    from isaaclab.managers import EventTermCfg

DR = LMOEnvConfig().domain_rand
TORSO = "torso_link"
PALMS = ("left_gripper_palm", "right_gripper_palm")


def foot_bodies() -> list[str]:
    """The bodies that carry the foot pads (mjcf.FOOT_PADS), from the robot's MJCF."""
    import mujoco

    from lerobot_wbvla.lmo.isaaclab.asset import robot_mjcf_text

    m = mujoco.MjModel.from_xml_string(robot_mjcf_text())
    return sorted({m.body(int(m.geom(p).bodyid[0])).name for p in mjcf.FOOT_PADS})


class DRState:
    """What each env drew, on the env's device (nominal values until an event fires)."""

    def __init__(self, num_envs: int, device: str) -> None:
        def full(*shape: int, value: float = 0.0) -> torch.Tensor:
            return torch.full((num_envs, *shape), value, dtype=torch.float32, device=device)

        self.friction = full(value=1.0)
        self.payload_kg = full(2)
        self.motor_strength = full(value=1.0)
        self.com_offset = full(2)
        self.push_force = full(3)
        self.push_start = full(value=math.inf)
        self.push_end = full()


def dr_state(env: ManagerBasedEnv) -> DRState:
    state = getattr(env, "_wbvla_dr", None)
    if state is None:
        state = env._wbvla_dr = DRState(env.num_envs, env.device)
    return state


def _ids(env: ManagerBasedEnv, env_ids) -> torch.Tensor:
    if env_ids is None:
        return torch.arange(env.num_envs, device=env.device)
    if isinstance(env_ids, slice):
        return torch.arange(env.num_envs, device=env.device)[env_ids]
    return env_ids.to(env.device)


def _uniform(lo: float, hi: float, n: int, device) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, device=device)


class randomize_foot_friction(ManagerTermBase):
    """One friction coefficient per env on the foot shapes (Newton's per-shape `shape_material_mu`)."""

    def __init__(self, cfg: EventTermCfg, env: ManagerBasedEnv) -> None:
        super().__init__(cfg, env)
        asset_cfg: SceneEntityCfg = cfg.params["asset_cfg"]
        self.asset = env.scene[asset_cfg.name]
        self._manager = env.sim.physics_manager
        binding = self.asset._root_view.get_attribute("shape_material_mu", self._manager.get_model())[:, 0]
        self._mu = binding
        body_shapes = self.asset._root_view.body_shapes
        bodies = self.asset.map_body_ids_to_backend(asset_cfg.body_ids)
        self._shapes = torch.tensor([s for b in bodies for s in body_shapes[b]], dtype=torch.long)

    def __call__(
        self, env: ManagerBasedEnv, env_ids, friction_range: tuple[float, float], asset_cfg: SceneEntityCfg
    ) -> None:
        import warp as wp
        from newton import ModelFlags

        ids = _ids(env, env_ids)
        mu = _uniform(*friction_range, len(ids), env.device)
        view = wp.to_torch(self._mu)
        view[ids[:, None], self._shapes.to(env.device)] = mu[:, None]
        self._manager.add_model_change(ModelFlags.SHAPE_PROPERTIES)
        dr_state(env).friction[ids] = mu


class randomize_payload(mdp.randomize_rigid_body_mass):
    """Isaac Lab's mass randomization of the palms ('add'), remembering each hand's payload."""

    def __call__(
        self,
        env: ManagerBasedEnv,
        env_ids,
        asset_cfg: SceneEntityCfg,
        mass_distribution_params: tuple[float, float],
        operation: str = "add",
        distribution: str = "uniform",
        recompute_inertia: bool = True,
        min_mass: float = 1e-6,
    ) -> None:
        super().__call__(
            env,
            env_ids,
            asset_cfg,
            mass_distribution_params,
            operation,
            distribution,
            recompute_inertia,
            min_mass,
        )
        ids = _ids(env, env_ids)
        body_ids = asset_cfg.body_ids
        mass = self.asset.data.body_mass.torch.to(env.device)
        default = self.default_mass.to(env.device)
        dr_state(env).payload_kg[ids] = (mass[ids][:, body_ids] - default[ids][:, body_ids]).float()


class randomize_motor_strength(ManagerTermBase):
    """One factor per env on the leg joints' stiffness, damping and effort limits (the twin's motors)."""

    def __init__(self, cfg: EventTermCfg, env: ManagerBasedEnv) -> None:
        super().__init__(cfg, env)
        self.asset = env.scene["robot"]
        self.legs = self.asset.find_joints([mjcf_joint_name(j) for j in LEG_JOINTS], preserve_order=True)[0]
        data = self.asset.data
        self.kp = data.joint_stiffness.torch[:, self.legs].clone()
        self.kd = data.joint_damping.torch[:, self.legs].clone()
        self.effort = data.joint_effort_limits.torch[:, self.legs].clone()

    def __call__(self, env: ManagerBasedEnv, env_ids, strength_range: tuple[float, float]) -> None:
        ids = _ids(env, env_ids)
        k = _uniform(*strength_range, len(ids), env.device)[:, None]
        legs = self.legs
        self.asset.write_joint_stiffness_to_sim_index(stiffness=self.kp[ids] * k, joint_ids=legs, env_ids=ids)
        self.asset.write_joint_damping_to_sim_index(damping=self.kd[ids] * k, joint_ids=legs, env_ids=ids)
        self.asset.write_joint_effort_limit_to_sim_index(
            limits=self.effort[ids] * k, joint_ids=legs, env_ids=ids
        )
        dr_state(env).motor_strength[ids] = k[:, 0]


class randomize_torso_com(ManagerTermBase):
    """The torso's CoM moved horizontally by r ~ U(0, max_offset) in a uniformly random direction."""

    def __init__(self, cfg: EventTermCfg, env: ManagerBasedEnv) -> None:
        super().__init__(cfg, env)
        self.asset = env.scene["robot"]
        self.body = self.asset.find_bodies(TORSO)[0]
        self.default = None

    def __call__(self, env: ManagerBasedEnv, env_ids, max_offset_m: float) -> None:
        if self.default is None:
            self.default = self.asset.data.body_com_pose_b.torch.clone()
        ids = _ids(env, env_ids)
        r = _uniform(0.0, max_offset_m, len(ids), env.device)
        angle = _uniform(-np.pi, np.pi, len(ids), env.device)
        offset = torch.stack([r * torch.cos(angle), r * torch.sin(angle)], dim=1)
        coms = self.default[ids][:, self.body].clone()
        coms[..., :2] += offset[:, None, :].to(coms.dtype)
        self.asset.set_coms_index(coms=coms, body_ids=self.body, env_ids=ids)
        dr_state(env).com_offset[ids] = offset


def _set_push(env: ManagerBasedEnv, ids: torch.Tensor, force: torch.Tensor) -> None:
    robot = env.scene["robot"]
    body = robot.find_bodies(TORSO)[0]
    robot.permanent_wrench_composer.set_forces_and_torques_index(
        forces=force[:, None, :],
        torques=torch.zeros_like(force)[:, None, :],
        body_ids=body,
        env_ids=ids,
        is_global=True,
    )


def schedule_pushes(
    env: ManagerBasedEnv,
    env_ids,
    force_range: tuple[float, float],
    duration_s: float,
    interval_s: tuple[float, float],
) -> None:
    """Every control step (an `interval` event at the step dt): end the pushes whose time is over and draw the
    next one (start after U(interval_s), magnitude U(force_range), random horizontal direction); start the pushes
    whose time has come. The force acts from the next physics step on (Isaac Lab's permanent wrench)."""
    state = dr_state(env)
    t = env.episode_length_buf.to(torch.float32) * env.step_dt
    over = torch.nonzero(t >= state.push_end).flatten()
    if len(over):
        n = len(over)
        state.push_start[over] = t[over] + _uniform(*interval_s, n, env.device)
        state.push_end[over] = state.push_start[over] + duration_s
        magnitude = _uniform(*force_range, n, env.device)
        angle = _uniform(-np.pi, np.pi, n, env.device)
        state.push_force[over] = torch.stack(
            [magnitude * torch.cos(angle), magnitude * torch.sin(angle), torch.zeros_like(angle)], dim=1
        )
        _set_push(env, over, torch.zeros(n, 3, device=env.device))
    active = (t >= state.push_start) & (t < state.push_end)
    start = torch.nonzero(active).flatten()
    if len(start):
        _set_push(env, start, state.push_force[start])


def reset_pushes(env: ManagerBasedEnv, env_ids) -> None:
    """A new episode starts without a push (the articulation's reset clears its wrenches)."""
    state = dr_state(env)
    ids = _ids(env, env_ids)
    state.push_start[ids] = math.inf
    state.push_end[ids] = 0.0


def push_force_now(env: ManagerBasedEnv) -> torch.Tensor:
    """(N, 3) the push force acting in this control step (0 between pushes)."""
    state = dr_state(env)
    t = env.episode_length_buf.to(torch.float32) * env.step_dt
    active = (t >= state.push_start) & (t < state.push_end)
    return state.push_force * active[:, None]


def event_terms(foot_body_names: list[str] | None = None) -> dict:
    """The DR event terms (EventTermCfg by name) with the CPU env's ranges."""
    from isaaclab.managers import EventTermCfg as EventTerm

    feet = foot_body_names or foot_bodies()
    return {
        "foot_friction": EventTerm(
            func=randomize_foot_friction,
            mode="reset",
            params={"friction_range": DR.friction, "asset_cfg": SceneEntityCfg("robot", body_names=feet)},
        ),
        "payload": EventTerm(
            func=randomize_payload,
            mode="reset",
            params={
                "asset_cfg": SceneEntityCfg("robot", body_names=list(PALMS), preserve_order=True),
                "mass_distribution_params": DR.payload_kg,
                "operation": "add",
                "distribution": "uniform",
                "recompute_inertia": True,
                "min_mass": 1e-6,
            },
        ),
        "motor_strength": EventTerm(
            func=randomize_motor_strength, mode="reset", params={"strength_range": DR.motor_strength}
        ),
        "torso_com": EventTerm(
            func=randomize_torso_com, mode="reset", params={"max_offset_m": DR.com_displacement_m}
        ),
        "reset_pushes": EventTerm(func=reset_pushes, mode="reset"),
        "pushes": EventTerm(
            func=schedule_pushes,
            mode="interval",
            is_global_time=True,
            interval_range_s=(0.0, 0.0),
            params={
                "force_range": DR.push_force_n,
                "duration_s": DR.push_duration_s,
                "interval_s": DR.push_interval_s,
            },
        ),
    }
