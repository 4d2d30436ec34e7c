"""Arm inverse kinematics on the X2 twin: damped least squares with MuJoCo's site Jacobians.

The solver works on its own `MjData` (a scratch copy of the live state), so solving never disturbs the simulation
that lerobot-record or the env is stepping. Only the 7 joints of one arm move; the base, legs and waist keep the
live values, so targets are plain world-frame poses of the gripper site.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from lerobot_wbvla.robots.agibot_x2.joints import LEFT_ARM_JOINTS, RIGHT_ARM_JOINTS, mjcf_joint_name


@dataclass(frozen=True)
class IKSettings:
    """Damped-least-squares parameters (Nakamura/Wampler style update dq = J^T (J J^T + lambda^2 I)^-1 e)."""

    damping: float = 0.05  # lambda
    max_iters: int = 60
    pos_tol: float = 2e-3  # m
    rot_tol: float = 2e-2  # rad
    rot_weight: float = 0.35  # m per rad: how much orientation error counts against position error
    max_step: float = 0.25  # rad per iteration per joint
    posture_gain: float = 0.05  # pull toward `q_rest` in the Jacobian's null space


class ArmIK:
    """IK for one arm of a model. `site` is the MJCF site at the gripper's grasp point."""

    def __init__(self, model: mujoco.MjModel, side: str, site: str, settings: IKSettings | None = None):
        if side not in ("left", "right"):
            raise ValueError(f"ArmIK side must be 'left' or 'right', got {side!r}")
        self.model = model
        self.side = side
        self.settings = settings or IKSettings()
        self.site_id = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, site)
        if self.site_id < 0:
            raise KeyError(f"ArmIK: the model has no site {site!r} (needed as the {side} grasp point)")
        self.joints = LEFT_ARM_JOINTS if side == "left" else RIGHT_ARM_JOINTS
        jids = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, mjcf_joint_name(j)) for j in self.joints]
        missing = [j for j, i in zip(self.joints, jids, strict=True) if i < 0]
        if missing:
            raise KeyError(f"ArmIK: the model lacks arm joints {missing}")
        self.qadr = np.array([model.jnt_qposadr[i] for i in jids])
        self.dadr = np.array([model.jnt_dofadr[i] for i in jids])
        self.lo = np.array([model.jnt_range[i][0] for i in jids])
        self.hi = np.array([model.jnt_range[i][1] for i in jids])
        self._data = mujoco.MjData(model)
        self._jacp = np.zeros((3, model.nv))
        self._jacr = np.zeros((3, model.nv))

    def site_pose(self, qpos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """World position and rotation matrix of the grasp site for a full `qpos`."""
        d = self._data
        d.qpos[:] = qpos
        mujoco.mj_kinematics(self.model, d)
        return d.site_xpos[self.site_id].copy(), d.site_xmat[self.site_id].reshape(3, 3).copy()

    def solve(
        self,
        qpos: np.ndarray,
        target_pos: np.ndarray,
        target_rot: np.ndarray | None = None,
        q_init: np.ndarray | None = None,
        q_rest: np.ndarray | None = None,
    ) -> tuple[np.ndarray, float]:
        """Arm joint angles (7, in joints.py order) that put the site at `target_pos` (and `target_rot`, a 3x3
        world rotation, if given). `qpos` is the live full state; `q_init` the starting arm angles (default: the
        live ones). Returns (angles, remaining position error in m)."""
        s = self.settings
        d = self._data
        d.qpos[:] = qpos
        q = np.array(qpos[self.qadr] if q_init is None else q_init, dtype=float)
        rest = q.copy() if q_rest is None else np.asarray(q_rest, dtype=float)
        pos_err = np.inf
        n_rows = 6 if target_rot is not None else 3
        for _ in range(s.max_iters):
            d.qpos[self.qadr] = q
            mujoco.mj_kinematics(self.model, d)
            mujoco.mj_comPos(self.model, d)
            err_p = target_pos - d.site_xpos[self.site_id]
            pos_err = float(np.linalg.norm(err_p))
            if target_rot is not None:
                err_r = _rotation_error(target_rot, d.site_xmat[self.site_id].reshape(3, 3))
                if pos_err < s.pos_tol and np.linalg.norm(err_r) < s.rot_tol:
                    break
                err = np.concatenate([err_p, s.rot_weight * err_r])
            else:
                if pos_err < s.pos_tol:
                    break
                err = err_p
            mujoco.mj_jacSite(self.model, d, self._jacp, self._jacr, self.site_id)
            jac = self._jacp[:, self.dadr]
            if target_rot is not None:
                jac = np.vstack([jac, s.rot_weight * self._jacr[:, self.dadr]])
            jjt = jac @ jac.T + (s.damping**2) * np.eye(n_rows)
            dq = jac.T @ np.linalg.solve(jjt, err)
            # Null-space posture term keeps the elbow where the rest posture puts it.
            null = np.eye(7) - np.linalg.pinv(jac) @ jac
            dq += null @ (s.posture_gain * (rest - q))
            dq = np.clip(dq, -s.max_step, s.max_step)
            q = np.clip(q + dq, self.lo, self.hi)
        return q, pos_err


def _rotation_error(target: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Axis-angle vector (world frame) rotating `current` onto `target`."""
    r = target @ current.T
    quat = np.zeros(4)
    mujoco.mju_mat2Quat(quat, r.reshape(-1))
    vel = np.zeros(3)
    mujoco.mju_quat2Vel(vel, quat, 1.0)
    return vel
