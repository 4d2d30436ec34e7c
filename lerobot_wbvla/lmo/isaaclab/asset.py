"""The X2 as an Isaac Lab articulation, converted from the project's generated MJCF.

The MJCF comes from `robots/agibot_x2/mjcf.py` (the same kinematic tree, inertials, joint ranges and torque limits
as the CPU and warp envs' twin; the robot only: no floor, light or cameras), written to a cache folder and converted
to USD by Isaac Lab's `MjcfConverter`. Outside Isaac Sim (Kit), that converter runs the standalone
`isaacsim-asset-isolated` importer (the `mujoco-usd-converter` library), fully offline; the first conversion takes
a few seconds, later runs reuse the USD (keyed by a hash of the MJCF text).

What the conversion drops (mujoco-usd-converter warns): the MJCF sensors (IMU gyro / accelerometer) and cameras.
The task computes the IMU readings from the articulation's state instead (`mdp.proprio`). The MJCF's position
actuators are replaced by Isaac Lab implicit PD actuators with the same gains and torque limits
(`mjcf.default_gains`, `mjcf.joint_torque_limit`).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import mujoco

from lerobot_wbvla.robots.agibot_x2 import lower_body as lb
from lerobot_wbvla.robots.agibot_x2 import mjcf
from lerobot_wbvla.robots.agibot_x2.joints import BODY_JOINTS, LEG_JOINTS, mjcf_joint_name

# Where the MJCF and its USD are written (default ~/.cache/lerobot_wbvla/isaaclab).
CACHE_ENV = "WBVLA_ISAACLAB_CACHE"
ROBOT_NAME = "agibot_x2"


def cache_dir() -> Path:
    default = Path.home() / ".cache" / "lerobot_wbvla" / "isaaclab"
    return Path(os.environ.get(CACHE_ENV, default))


def robot_mjcf_text(physics_hz: int = 200) -> str:
    """The X2 twin alone (pelvis free body and everything below it) as MJCF text."""
    spec = mujoco.MjSpec()
    spec.modelname = ROBOT_NAME
    spec.compiler.degree = False  # params.py angles are radians
    spec.option.timestep = 1.0 / physics_hz
    mjcf.add_robot(spec, mjcf.MjcfOptions(head_camera=(64, 64), physics_hz=physics_hz))
    spec.compile()
    return spec.to_xml()


def write_robot_mjcf(physics_hz: int = 200) -> Path:
    """Write the MJCF into a folder named by its hash (a changed twin gets a fresh USD conversion)."""
    text = robot_mjcf_text(physics_hz)
    folder = cache_dir() / hashlib.sha256(text.encode()).hexdigest()[:16]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{ROBOT_NAME}.xml"
    if not path.is_file() or path.read_text() != text:
        path.write_text(text)
    return path


def robot_usd(physics_hz: int = 200) -> Path:
    """The converted USD of the robot MJCF (converted on first use, then reused).

    The conversion runs here, when the task's config is built, and not in Isaac Lab's `MjcfFileCfg` spawner during
    scene creation: measured with isaaclab 3.0.0, converting inside the scene creation fails in the importer's
    `add_joint_schemas` ("Cannot find a valid schema for the provided schema identifier 'PhysxJointAPI'": the
    PhysX schema plugin is not registered in the USD runtime Isaac Lab's Newton scene uses), while the same
    converter run beforehand succeeds."""
    from isaaclab.sim.converters import MjcfConverter, MjcfConverterCfg

    path = write_robot_mjcf(physics_hz)
    cfg = MjcfConverterCfg(
        asset_path=str(path),
        usd_dir=str(path.parent / "usd"),
        fix_base=False,
        self_collision=False,
        import_physics_scene=False,
    )
    return Path(MjcfConverter(cfg).usd_path)


def leg_stance() -> dict[str, float]:
    """The stance the legs start in and the policy's PD targets are offsets around (MJCF joint names)."""
    pose = lb.stance_leg_pose()
    return {mjcf_joint_name(j): float(pose[j]) for j in LEG_JOINTS}


def upper_body_stance() -> dict[str, float]:
    """The arms, waist and head of the twin's standing pose (X2Sim's, which the CPU env's arms start from)."""
    from lerobot_wbvla.robots.agibot_x2.sim import X2Sim

    return {mjcf_joint_name(j): float(v) for j, v in X2Sim.stance_upper_body().items()}


def x2_articulation_cfg(physics_hz: int = 200):
    """ArticulationCfg of the X2 at `{ENV_REGEX_NS}/Robot`: spawned from the converted MJCF, legs, arms, waist and head at the twin's stance,
    every body joint driven by an implicit PD actuator with the twin's gains and torque limits."""
    import isaaclab.sim as sim_utils
    from isaaclab.actuators import ImplicitActuatorCfg
    from isaaclab.assets import ArticulationCfg

    gains = mjcf.default_gains()
    names = [mjcf_joint_name(j) for j in BODY_JOINTS]
    stiffness = {mjcf_joint_name(j): float(gains[j][0]) for j in BODY_JOINTS}
    damping = {mjcf_joint_name(j): float(gains[j][1]) for j in BODY_JOINTS}
    effort = {mjcf_joint_name(j): float(mjcf.joint_torque_limit(j)) for j in BODY_JOINTS}
    return ArticulationCfg(
        prim_path="{ENV_REGEX_NS}/Robot",
        spawn=sim_utils.UsdFileCfg(usd_path=str(robot_usd(physics_hz))),
        init_state=ArticulationCfg.InitialStateCfg(
            pos=(0.0, 0.0, lb.nominal_height() + 0.02),
            joint_pos={**{n: 0.0 for n in names}, **upper_body_stance(), **leg_stance()},
        ),
        actuators={
            "body": ImplicitActuatorCfg(
                joint_names_expr=names, stiffness=stiffness, damping=damping, effort_limit_sim=effort
            ),
            # The grippers' fingers (not part of the LMO's MDP) are held where they start.
            "fingers": ImplicitActuatorCfg(
                joint_names_expr=[".*_gripper_finger_.*"], stiffness=200.0, damping=5.0
            ),
        },
    )
