"""Simulated X2 leader arm (servo layout of `x2_leader`) for tests, CI and hardware-free demos.

`dxlsim://<name>?preset=x2_leader_arm` opens one arm: seven joint servos (ids 1-7) and a gripper trigger (id 8),
all at 1 Mbps with their shafts at mid-turn (the calibration pose).
"""

from __future__ import annotations

from ..dxl_sim import ServoChain, SimulatedServo, register_preset

PRESET = "x2_leader_arm"


def make_leader_arm_chain(joint_model: str = "xl330-m288", gripper_model: str = "xl330-m077") -> ServoChain:
    servos = [SimulatedServo(i, joint_model) for i in range(1, 8)]
    servos.append(SimulatedServo(8, gripper_model))
    return ServoChain(servos)


register_preset(PRESET, make_leader_arm_chain)
