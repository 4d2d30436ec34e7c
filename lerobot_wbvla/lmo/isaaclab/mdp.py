"""The LMO's MDP terms on Isaac Lab's data: thin adapters around the shared array-generic terms (lmo/mdp/).

Every observation, reward and termination term calls the very function the CPU and warp envs call
(`observations.PROPRIO_TERMS`, `observations.conditioning_block`, `rewards.REWARD_TERMS`,
`terminations.TERMINATION_TERMS`) on torch tensors; only the inputs are gathered differently. Where Isaac Lab
provides a quantity differently from MuJoCo, the adapter here says how:
- quaternions: Isaac Lab 3 stores x, y, z, w; the terms take w, x, y, z (reordered);
- gyro: the pelvis angular velocity in the pelvis frame (the MJCF gyro's site has the pelvis orientation);
- accel (the MJCF accelerometer is dropped by the USD conversion): R^T (a - g) with a Isaac Lab's
  `body_com_lin_acc_w` of the pelvis, a finite difference of its centre-of-mass velocity over the last control
  period, where MuJoCo's accelerometer reads the instant value at the IMU site (measured: a settled X2 reads
  9.79-9.83 m/s^2 up, as on the CPU env);
- foot pad positions: the pad boxes' centres from the ankle links' poses and the pads' offsets in the MJCF (the USD
  has no per-geom frames to read); a pad is in contact when its sole is within `PAD_CONTACT_M` of the floor (the
  task's ground is flat at z = 0; MuJoCo's contact list is not available);
- body_on_floor: a link other than the feet (both ankle links) has its origin below `BODY_FLOOR_M`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mujoco
import numpy as np
import torch

from lerobot_wbvla.lmo.layout import ObservationLayout
from lerobot_wbvla.lmo.mdp import observations, rewards, terminations
from lerobot_wbvla.lmo.mdp.state import StepState
from lerobot_wbvla.lmo.proprio import Proprio
from lerobot_wbvla.robots.agibot_x2 import mjcf
from lerobot_wbvla.robots.agibot_x2.joints import ARM_JOINTS, LEG_JOINTS, mjcf_joint_name

if TYPE_CHECKING:
    from isaaclab.envs import ManagerBasedRLEnv

GRAVITY = (0.0, 0.0, -9.81)
PAD_CONTACT_M = 0.01  # sole within 1 cm of the floor counts as contact
BODY_FLOOR_M = 0.08  # a non-foot link origin below this height counts as touching the floor
# The feet: the ankle pitch link's origin sits at the ankle, a few cm above the sole, so both ankle links are excluded
# from the body-on-floor check (measured: with the pitch links included every standing X2 "fell" after 2 steps).
_FEET = ("left_ankle_pitch_link", "left_ankle_roll_link", "right_ankle_pitch_link", "right_ankle_roll_link")


class _Index:
    """Joint / body indices of the articulation and the pads' geometry, resolved once per env."""

    def __init__(self, env: ManagerBasedRLEnv) -> None:
        robot = env.scene["robot"]
        self.leg = robot.find_joints([mjcf_joint_name(j) for j in LEG_JOINTS], preserve_order=True)[0]
        self.arm = robot.find_joints([mjcf_joint_name(j) for j in ARM_JOINTS], preserve_order=True)[0]
        self.pelvis = robot.find_bodies("pelvis")[0][0]
        m = mujoco.MjModel.from_xml_string(_robot_xml())
        pad_bodies, offsets, half_z = [], [], []
        # joints.FOOT_CONTACT_KEYS order: left heel, left toe, right heel, right toe.
        for pad in mjcf.FOOT_PADS:
            g = m.geom(pad)
            pad_bodies.append(robot.find_bodies(m.body(int(g.bodyid[0])).name)[0][0])
            offsets.append(np.array(g.pos))
            half_z.append(float(g.size[2]))
        self.pad_body = pad_bodies
        dev = env.device
        self.pad_offset = torch.tensor(np.stack(offsets), dtype=torch.float32, device=dev)  # (4, 3)
        self.pad_half_z = torch.tensor(half_z, dtype=torch.float32, device=dev)
        feet = {robot.find_bodies(a)[0][0] for a in _FEET}
        self.non_foot = [i for i in range(robot.num_bodies) if i not in feet]
        self.gravity = torch.tensor(GRAVITY, dtype=torch.float32, device=dev)


def _robot_xml() -> str:
    from lerobot_wbvla.lmo.isaaclab.asset import robot_mjcf_text

    return robot_mjcf_text()


def _index(env: ManagerBasedRLEnv) -> _Index:
    ix = getattr(env, "_wbvla_index", None)
    if ix is None:
        ix = env._wbvla_index = _Index(env)
    return ix


def _t(x) -> torch.Tensor:
    """A ProxyArray (Isaac Lab 3's warp-backed data) or tensor as a torch tensor."""
    return x.torch if hasattr(x, "torch") else x


def _wxyz(q_xyzw: torch.Tensor) -> torch.Tensor:
    return q_xyzw[..., [3, 0, 1, 2]]


def _rotate(q_wxyz: torch.Tensor, v: torch.Tensor, inverse: bool = False) -> torch.Tensor:
    """Rotate vectors v (..., 3) by unit quaternions (..., 4) w x y z (or by their inverse)."""
    w, u = q_wxyz[..., :1], q_wxyz[..., 1:]
    if inverse:
        u = -u
    t = 2.0 * torch.cross(u, v, dim=-1)
    return v + w * t + torch.cross(u, t, dim=-1)


def _pads(env: ManagerBasedRLEnv) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 4, 3) pad centres in the world and (N, 4) contacts (0/1)."""
    ix = _index(env)
    data = env.scene["robot"].data
    pos = _t(data.body_link_pos_w)[:, ix.pad_body]  # (N, 4, 3)
    quat = _wxyz(_t(data.body_link_quat_w)[:, ix.pad_body])
    centres = pos + _rotate(quat, ix.pad_offset.expand_as(pos))
    contacts = (centres[..., 2] - ix.pad_half_z < PAD_CONTACT_M).to(pos.dtype)
    return centres, contacts


def proprio(env: ManagerBasedRLEnv) -> Proprio:
    """The LMO's proprioceptive readings of the N robots (no IMU lag: see the README)."""
    ix = _index(env)
    data = env.scene["robot"].data
    quat = _wxyz(_t(data.root_link_quat_w))
    acc_w = _t(data.body_com_lin_acc_w)[:, ix.pelvis]
    _, contacts = _pads(env)
    return Proprio(
        joint_pos=_t(data.joint_pos)[:, ix.leg],
        joint_vel=_t(data.joint_vel)[:, ix.leg],
        quat=quat,
        gyro=_t(data.root_link_ang_vel_b),
        accel=_rotate(quat, acc_w - ix.gravity, inverse=True),
        contacts=contacts,
    )


def clip_player(env: ManagerBasedRLEnv):
    """The ClipPlayer of the task's clip command (commands.py), or None when the task plays no clips."""
    return getattr(env.command_manager.get_term("loco"), "player", None)


def loco_command(env: ManagerBasedRLEnv) -> torch.Tensor:
    """(N, 4) the locomotion command vx, vy, yaw_rate and height (0 = nominal): the clip's schedule when the task
    plays clips (the CPU env's `current_loco`), else Isaac Lab's velocity command with height 0."""
    cmd = env.command_manager.get_command("loco")
    if cmd.shape[1] == 4:
        return cmd
    return torch.cat([cmd[:, :3], torch.zeros_like(cmd[:, :1])], dim=1)


def clip_latent(env: ManagerBasedRLEnv, conditioning: str, noisy: bool = False) -> torch.Tensor | None:
    """The clip's z_t for latent conditioning (None otherwise, as the CPU env's `_clean_latent`): with the
    policy's latent noise when `noisy`."""
    player = clip_player(env)
    if conditioning != "latent" or player is None:
        return None
    return player.noisy_latent() if noisy else player.clean_latent()


# ------------------------------------------------------------------ observation terms
def proprio_term(env: ManagerBasedRLEnv, name: str) -> torch.Tensor:
    """One proprioceptive block of the layout (observations.PROPRIO_TERMS[name])."""
    return observations.PROPRIO_TERMS[name](proprio(env))


def conditioning_term(env: ManagerBasedRLEnv, conditioning: str, noisy: bool = False) -> torch.Tensor:
    """The conditioning block: the clip's z_t (latent; the policy's with noise, the critic's clean, as the CPU
    env's), the command flags or the plain locomotion command."""
    latent = clip_latent(env, conditioning, noisy)
    if conditioning == "latent" and latent is None:
        raise ValueError("conditioning='latent' needs the task's clip library with latents (LMOEnvCfg.clips)")
    dim = 0 if latent is None else int(latent.shape[1])
    layout = ObservationLayout(conditioning=conditioning, latent_dim=dim)
    return observations.conditioning_block(layout, loco_command(env), latent)


def arm_joint_pos(env: ManagerBasedRLEnv) -> torch.Tensor:
    return _t(env.scene["robot"].data.joint_pos)[:, _index(env).arm]


def base_lin_vel(env: ManagerBasedRLEnv) -> torch.Tensor:
    """vx, vy in the heading frame and vz (the critic's privileged base velocity, observations.privileged_state)."""
    data = env.scene["robot"].data
    vel = _t(data.root_link_lin_vel_w)
    from lerobot_wbvla.lmo.mdp.state import heading_frame_xy, yaw_of

    xy = heading_frame_xy(vel, yaw_of(_wxyz(_t(data.root_link_quat_w))))
    return torch.cat([xy, vel[:, 2:3]], dim=1)


def dr_block(env: ManagerBasedRLEnv, name: str) -> torch.Tensor:
    """A privileged block of the domain randomization each env drew (events.py; nominal values without it):
    payload_kg (2), push_force (3, the force acting now), friction (1), motor_strength (1)."""
    from lerobot_wbvla.lmo.isaaclab import events

    if name == "push_force":
        return events.push_force_now(env)
    value = getattr(events.dr_state(env), name)
    return value if value.ndim == 2 else value[:, None]


# ------------------------------------------------------------------ the step state of rewards and terminations
def step_state(env: ManagerBasedRLEnv) -> StepState:
    """The StepState of this control step (gathered once per step, shared by every reward and termination)."""
    key = int(env.common_step_counter)
    cached = getattr(env, "_wbvla_state", None)
    if cached is not None and cached[0] == key:
        return cached[1]
    ix = _index(env)
    data = env.scene["robot"].data
    pads, contacts = _pads(env)
    mass = _t(data.body_mass).to(env.device)
    com = (mass[..., None] * _t(data.body_com_pos_w)).sum(dim=1) / mass.sum(dim=1, keepdim=True)
    low = _t(data.body_link_pos_w)[:, ix.non_foot, 2].amin(dim=1) < BODY_FLOOR_M
    quat = _wxyz(_t(data.root_link_quat_w))
    state = StepState(
        proprio=proprio(env),
        base_pos=_t(data.root_link_pos_w) - env.scene.env_origins,
        base_quat=quat,
        base_lin_vel=_t(data.root_link_lin_vel_w),
        base_ang_vel=_t(data.root_link_ang_vel_b),
        com=com,
        pad_pos=pads,
        contacts=contacts,
        action=env.action_manager.action,
        prev_action=env.action_manager.prev_action,
        loco=loco_command(env),
        latent=clip_latent(env, env.cfg.conditioning),
        body_floor_contact=low,
    )
    env._wbvla_state = (key, state)
    return state


def reward_term(env: ManagerBasedRLEnv, name: str, params: rewards.RewardParams) -> torch.Tensor:
    """rewards.REWARD_TERMS[name] on this step's state."""
    return rewards.REWARD_TERMS[name](step_state(env), params)


def termination_term(
    env: ManagerBasedRLEnv, name: str, params: terminations.TerminationParams
) -> torch.Tensor:
    """terminations.TERMINATION_TERMS[name] on this step's state."""
    return terminations.TERMINATION_TERMS[name](step_state(env), params)
