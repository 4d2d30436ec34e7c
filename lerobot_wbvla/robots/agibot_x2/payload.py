"""Put a mass in the twin's hands: an object held in the gripper, for balance tests and benchmarks.

`set_hand_payload(model, "left", 2.0)` adds a 2 kg solid sphere (radius `PAYLOAD_RADIUS`) centred on the gripper's
tool point (`<side>_gripper_tcp`, between the fingertips) to the palm body: the palm's mass, centre of mass and
inertia are replaced by those of palm + payload, so the arm, the waist, the legs and the feet carry it as they
would a grasped object, without contact geometry (nothing can drop). Mass 0 restores the palm of params.py.

It edits the compiled `MjModel` in place (body_mass/ipos/inertia/iquat of `<side>_gripper_palm`) and refreshes the
model's derived constants, so it works on any twin: `set_hand_payload(sim.model, side, kg)`. Call it after
`X2Sim(...)` / `reset()`; a reset keeps it (the model is not rebuilt). The lower-body controllers are not told:
they see the load only through the measured state, as on the robot.
"""

from __future__ import annotations

import mujoco
import numpy as np

from . import params as P

PAYLOAD_RADIUS = 0.04  # m: a 8 cm ball, about a bottle or a box corner in the grip
_PALM_IPOS = np.array([0.0, 0.0, -0.025])  # mjcf._add_gripper: palm inertial frame
_PALM_INERTIA = np.array([4e-4, 3e-4, 3e-4])


def set_hand_payload(model: mujoco.MjModel, side: str, mass: float) -> None:
    """Make the `side` ("left" | "right") gripper hold a `mass` kg ball at its tool point (0 = empty hand)."""
    if side not in ("left", "right"):
        raise ValueError(f"side must be 'left' or 'right', got {side!r}")
    if not np.isfinite(mass) or mass < 0:
        raise ValueError(f"payload mass must be a finite number >= 0 kg, got {mass!r}")
    body = model.body(f"{side}_gripper_palm").id
    tcp = np.array(model.site(f"{side}_gripper_tcp").pos)
    m_palm = P.GRIPPER_PALM_MASS
    total = m_palm + mass
    com = (m_palm * _PALM_IPOS + mass * tcp) / total
    inertia = np.diag(_PALM_INERTIA) + np.eye(3) * 0.4 * mass * PAYLOAD_RADIUS**2
    for m, p in ((m_palm, _PALM_IPOS), (mass, tcp)):  # parallel-axis terms about the combined centre of mass
        r = p - com
        inertia += m * (np.dot(r, r) * np.eye(3) - np.outer(r, r))
    principal, axes = np.linalg.eigh(inertia)
    if np.linalg.det(axes) < 0:  # a proper rotation for the quaternion
        axes[:, 0] = -axes[:, 0]
    quat = np.zeros(4)
    mujoco.mju_mat2Quat(quat, axes.reshape(-1))
    model.body_mass[body] = total
    model.body_ipos[body] = com
    model.body_inertia[body] = principal
    model.body_iquat[body] = quat
    # Subtree masses and the solver's inverse weights depend on the masses (scratch data: the caller's is untouched).
    mujoco.mj_setConst(model, mujoco.MjData(model))


def hand_payload(model: mujoco.MjModel, side: str) -> float:
    """The payload (kg) now in the `side` gripper."""
    return float(model.body_mass[model.body(f"{side}_gripper_palm").id] - P.GRIPPER_PALM_MASS)
