"""Arm inverse kinematics on the twin: joint targets that put a gripper's TCP at a point (and optionally point the
fingers along a direction). Damped least squares on the arm's 7 joints over a scratch copy of the state, so the
live simulation is untouched. Used by tests (reachability of a table top) and available to scripted operators.
"""

from __future__ import annotations

import mujoco
import numpy as np

from .joints import LEFT_ARM_JOINTS, RIGHT_ARM_JOINTS, mjcf_joint_name


def solve_arm_ik(
    model: mujoco.MjModel,
    data: mujoco.MjData,
    side: str,
    target_pos: np.ndarray,
    approach: np.ndarray | None = None,
    iters: int = 200,
    damping: float = 0.05,
    rot_weight: float = 0.3,
) -> tuple[dict[str, float], float]:
    """Return ({arm joint: angle}, position error in m) for the `side` ("left"/"right") gripper TCP to reach
    `target_pos` (world frame). `approach` (unit vector, world) is the direction the fingers should point
    (e.g. (0, 0, -1) for a top-down grasp); None = position only. The rest of the robot stays as in `data`."""
    if side not in ("left", "right"):
        raise ValueError(f"side must be 'left' or 'right', got {side!r}")
    joints = LEFT_ARM_JOINTS if side == "left" else RIGHT_ARM_JOINTS
    jids = [model.joint(mjcf_joint_name(j)).id for j in joints]
    qadr = np.array([model.jnt_qposadr[j] for j in jids])
    dadr = np.array([model.jnt_dofadr[j] for j in jids])
    lo, hi = model.jnt_range[jids, 0], model.jnt_range[jids, 1]
    site = model.site(f"{side}_gripper_tcp").id
    scratch = mujoco.MjData(model)
    scratch.qpos[:] = data.qpos
    scratch.mocap_pos[:] = data.mocap_pos
    scratch.mocap_quat[:] = data.mocap_quat
    target = np.asarray(target_pos, float)
    want = None if approach is None else np.asarray(approach, float) / np.linalg.norm(approach)
    jacp = np.zeros((3, model.nv))
    jacr = np.zeros((3, model.nv))
    err = np.inf
    for _ in range(iters):
        mujoco.mj_kinematics(model, scratch)
        mujoco.mj_comPos(model, scratch)
        pos = scratch.site_xpos[site]
        e = target - pos
        err = float(np.linalg.norm(e))
        mujoco.mj_jacSite(model, scratch, jacp, jacr, site)
        jac = jacp[:, dadr]
        if want is not None:
            a = -scratch.site_xmat[site].reshape(3, 3)[:, 2]  # fingers point along -z of the TCP frame
            e = np.concatenate([e, rot_weight * np.cross(a, want)])
            jac = np.vstack([jac, rot_weight * jacr[:, dadr]])
        if err < 1e-4 and (want is None or np.linalg.norm(e[3:]) < 1e-3):
            break
        dq = jac.T @ np.linalg.solve(jac @ jac.T + damping**2 * np.eye(jac.shape[0]), e)
        scratch.qpos[qadr] = np.clip(scratch.qpos[qadr] + np.clip(dq, -0.2, 0.2), lo, hi)
    return {j: float(scratch.qpos[a]) for j, a in zip(joints, qadr, strict=True)}, err
