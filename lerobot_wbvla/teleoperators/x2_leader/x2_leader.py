"""`x2_leader`: two 7-DoF leader arms (one Dynamixel bus each) that produce the X2 arm and gripper targets.

Each arm has seven joint servos (ids 1-7) laid out like the X2 arm (shoulder pitch, roll, yaw, elbow, wrist yaw,
pitch, roll), so a leader joint angle is the X2 joint target, and a gripper trigger (id 8). The buses are LeRobot's
`DynamixelMotorsBus` (through `UrlDynamixelMotorsBus`, which also opens simulated ports); calibration follows
LeRobot's leader-arm pattern (KochLeader): half-turn homing in a known pose, then the trigger's range of motion.

Action keys (docs/CONTRACTS.md): `<arm joint>.pos` in rad for the 14 arm joints, then `left_gripper.pos`,
`right_gripper.pos` in [0 = open, 1 = closed].
"""

from __future__ import annotations

import logging
import math

import serial
from lerobot.motors import Motor, MotorCalibration, MotorNormMode
from lerobot.motors.dynamixel import OperatingMode
from lerobot.teleoperators.teleoperator import Teleoperator
from lerobot.utils.decorators import check_if_already_connected, check_if_not_connected

from ...robots.agibot_x2.joints import ARM_JOINTS, GRIPPERS, LEFT_ARM_JOINTS, RIGHT_ARM_JOINTS
from .bus import UrlDynamixelMotorsBus
from .config_x2_leader import X2LeaderConfig

logger = logging.getLogger(__name__)

SIDES = ("left", "right")
ARM_OF_SIDE = {"left": LEFT_ARM_JOINTS, "right": RIGHT_ARM_JOINTS}
GRIPPER_ID = 8
HALF_TURN = 2047  # present position of every servo in the calibration pose after half-turn homing
# Joint servos are normalised in degrees around the middle of their range; with (0, 4094) that middle is exactly
# HALF_TURN, so the calibration pose reads 0 deg.
JOINT_RANGE = (0, 2 * HALF_TURN)


class LeaderArmDisconnectedError(ConnectionError):
    """A leader arm stopped answering (USB cable pulled, servo power lost)."""


def arm_motors(side: str, joint_model: str, gripper_model: str) -> dict[str, Motor]:
    """Bus motor table of one arm: X2 joint names -> servo ids 1-7, `<side>_gripper` -> id 8."""
    motors = {
        joint: Motor(i + 1, joint_model, MotorNormMode.DEGREES) for i, joint in enumerate(ARM_OF_SIDE[side])
    }
    motors[f"{side}_gripper"] = Motor(GRIPPER_ID, gripper_model, MotorNormMode.RANGE_0_100)
    return motors


class X2Leader(Teleoperator):
    """Two leader arms with gripper triggers for the AgiBot X2 (arm part of the whole-body action)."""

    config_class = X2LeaderConfig
    name = "x2_leader"

    def __init__(self, config: X2LeaderConfig):
        super().__init__(config)
        self.config = config
        self.buses: dict[str, UrlDynamixelMotorsBus] = {}
        for side in SIDES:
            motors = arm_motors(side, config.joint_model, config.gripper_model)
            calibration = {m: c for m, c in self.calibration.items() if m in motors}
            self.buses[side] = UrlDynamixelMotorsBus(getattr(config, f"{side}_port"), motors, calibration)
        self._lost: set[str] = set()  # arms that stopped answering

    # --- features -----------------------------------------------------------------------------------------
    @property
    def action_features(self) -> dict[str, type]:
        return {f"{joint}.pos": float for joint in ARM_JOINTS + GRIPPERS}

    @property
    def feedback_features(self) -> dict[str, type]:
        return {}

    # --- lifecycle ----------------------------------------------------------------------------------------
    @property
    def is_connected(self) -> bool:
        return not self._lost and all(bus.is_connected for bus in self.buses.values())

    @check_if_already_connected
    def connect(self, calibrate: bool = True) -> None:
        self._lost.clear()
        for side, bus in self.buses.items():
            try:
                bus.connect()
            except (ConnectionError, RuntimeError) as e:
                self._close_all()
                raise ConnectionError(
                    f"Could not reach the {side} leader arm on port '{bus.port}': {e}\nCheck its USB cable, "
                    f"the servo power supply and --teleop.{side}_port."
                ) from e
        if not self.is_calibrated and calibrate:
            logger.info("No calibration file for %s, or it does not match the servos: calibrating.", self)
            self.calibrate()
        self.configure()
        logger.info("%s connected.", self)

    @property
    def is_calibrated(self) -> bool:
        return all(bus.is_calibrated for bus in self.buses.values())

    def calibrate(self) -> None:
        for bus in self.buses.values():
            bus.disable_torque()
        if self.calibration:
            answer = input(
                f"Press ENTER to use the calibration file of id '{self.id}' ({self.calibration_fpath}), "
                "or type 'c' and press ENTER to calibrate again: "
            )
            if answer.strip().lower() != "c":
                logger.info("Writing calibration file of id '%s' to the servos", self.id)
                self._write_calibration(self.calibration)
                return

        logger.info("Calibrating %s", self)
        for bus in self.buses.values():
            for motor in bus.motors:
                bus.write("Operating_Mode", motor, OperatingMode.EXTENDED_POSITION.value)
                bus.write("Drive_Mode", motor, int(motor in self.config.inverted_joints))
        input(
            "Hold both leader arms in the calibration pose (the X2 zero pose: arms straight down, wrists neutral) "
            "with both triggers released, and press ENTER..."
        )
        homings = {side: bus.set_half_turn_homings() for side, bus in self.buses.items()}

        calibration: dict[str, MotorCalibration] = {}
        for side, bus in self.buses.items():
            gripper = f"{side}_gripper"
            print(f"Squeeze the {side} trigger fully once or twice, release it, then press ENTER.")
            try:
                mins, maxes = bus.record_ranges_of_motion([gripper])
            except ValueError:  # LeRobot raises when min == max: the trigger did not move at all
                mins = maxes = {gripper: HALF_TURN}
            drive_mode = int(gripper in self.config.inverted_joints)
            homing = int(homings[side][gripper])
            lo, hi = int(mins[gripper]), int(maxes[gripper])
            up, down = hi - HALF_TURN, HALF_TURN - lo
            if max(up, down) < self.config.min_gripper_travel:
                raise ValueError(
                    f"The {side} trigger moved only {max(up, down)} ticks during calibration (at least "
                    f"{self.config.min_gripper_travel} needed). Squeeze it fully while the positions are recorded, "
                    "or lower --teleop.min_gripper_travel."
                )
            if down > up:
                # Squeezing lowers the reading: reverse the servo so that squeezing raises it, i.e. map every
                # present position p to 2 * HALF_TURN - p (new homing and reversed range).
                drive_mode = 1 - drive_mode
                homing = 2 * HALF_TURN - homing
                lo, hi = 2 * HALF_TURN - hi, 2 * HALF_TURN - lo
            for motor, m in bus.motors.items():
                if motor == gripper:
                    calibration[motor] = MotorCalibration(m.id, drive_mode, homing, lo, hi)
                else:
                    calibration[motor] = MotorCalibration(
                        m.id,
                        int(motor in self.config.inverted_joints),
                        int(homings[side][motor]),
                        *JOINT_RANGE,
                    )

        self._write_calibration(calibration)
        self.calibration = calibration
        self._save_calibration()
        logger.info("Calibration saved to %s", self.calibration_fpath)

    def _write_calibration(self, calibration: dict[str, MotorCalibration]) -> None:
        """Drive modes and homing/limits to the servos (torque must be off; LeRobot's write_calibration does not
        write Drive_Mode, which `is_calibrated` compares)."""
        for bus in self.buses.values():
            part = {m: c for m, c in calibration.items() if m in bus.motors}
            missing = sorted(set(bus.motors) - set(part))
            if missing:
                raise ValueError(
                    f"Calibration file {self.calibration_fpath} has no entry for {missing}; calibrate again "
                    "(type 'c' at the prompt) or delete the file."
                )
            for motor, cal in part.items():
                bus.write("Drive_Mode", motor, cal.drive_mode)
            bus.write_calibration(part)

    def configure(self) -> None:
        for bus in self.buses.values():
            bus.disable_torque()
            bus.configure_motors()
            for motor in bus.motors:
                if not motor.endswith("_gripper"):
                    bus.write("Operating_Mode", motor, OperatingMode.EXTENDED_POSITION.value)
        for side, bus in self.buses.items():
            gripper = f"{side}_gripper"
            # Current-based position mode with torque on: the trigger pushes back toward "open" with a
            # bounded force, and returns there when the finger lets go.
            bus.write("Operating_Mode", gripper, OperatingMode.CURRENT_POSITION.value)
            bus.enable_torque(gripper)
            if bus.calibration:
                bus.write("Goal_Position", gripper, self.config.gripper_open_pos)

    def setup_motors(self) -> None:
        for side, bus in self.buses.items():
            for motor in reversed(bus.motors):
                input(
                    f"Connect the {side} arm's controller board to the '{motor}' servo only and press ENTER."
                )
                bus.setup_motor(motor)
                print(f"'{motor}' servo id set to {bus.motors[motor].id}")

    # --- teleoperation ------------------------------------------------------------------------------------
    @check_if_not_connected
    def get_action(self) -> dict[str, float]:
        readings: dict[str, float] = {}
        for side, bus in self.buses.items():
            try:
                readings.update(bus.sync_read("Present_Position"))
            except (ConnectionError, OSError, serial.SerialException) as e:
                self._lost.add(side)
                raise LeaderArmDisconnectedError(
                    f"The {side} leader arm (port '{bus.port}') stopped answering while its joint positions were "
                    f"read: {e}\nCheck its USB cable and servo power, then record again; episodes saved before "
                    "this one are kept in the dataset."
                ) from e
        action: dict[str, float] = {}
        for joint in ARM_JOINTS:
            action[f"{joint}.pos"] = math.radians(readings[joint]) + self.config.calibration_pose.get(
                joint, 0.0
            )
        for gripper in GRIPPERS:
            action[f"{gripper}.pos"] = min(1.0, max(0.0, readings[gripper] / 100.0))
        return action

    def send_feedback(self, feedback: dict[str, float]) -> None:
        raise NotImplementedError("x2_leader has no force feedback")

    def disconnect(self) -> None:
        """Release the servos and close both ports; never raises on an arm that has already gone away (a
        disconnect error must not hide the error that stopped the recording)."""
        for side, bus in self.buses.items():
            if not bus.is_connected:
                continue
            try:
                if side in self._lost:
                    raise ConnectionError("it stopped answering earlier")
                bus.disconnect(disable_torque=True)
            except (ConnectionError, OSError, serial.SerialException, RuntimeError) as e:
                logger.warning("Closing the %s leader arm without releasing its servos: %s", side, e)
                self._close_port(bus)
        self._lost.clear()
        logger.info("%s disconnected.", self)

    def _close_all(self) -> None:
        for bus in self.buses.values():
            if bus.is_connected:
                self._close_port(bus)

    @staticmethod
    def _close_port(bus: UrlDynamixelMotorsBus) -> None:
        try:
            bus.port_handler.closePort()
        except Exception:  # the port object may already be unusable; it is closed either way
            bus.port_handler.is_open = False
