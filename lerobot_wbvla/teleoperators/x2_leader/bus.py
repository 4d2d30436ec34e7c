"""LeRobot's `DynamixelMotorsBus` opened through `serial.serial_for_url`, so a port may be a device path
(`/dev/ttyUSB0`) or a pyserial URL (`dxlsim://left` for the simulated servos of `teleoperators/dxl_sim`).

`dynamixel_sdk.PortHandler.setupPort` builds `serial.Serial(port=...)`, which only knows device paths;
`UrlPortHandler` differs only there. Everything else (packets, sync read/write, calibration, normalisation)
is the unmodified LeRobot bus.
"""

from __future__ import annotations

import dynamixel_sdk as dxl
import serial
from lerobot.motors import Motor, MotorCalibration
from lerobot.motors.dynamixel import DynamixelMotorsBus

from .. import dxl_sim  # noqa: F401  (registers the dxlsim:// scheme with pyserial)


class UrlPortHandler(dxl.PortHandler):
    """`dynamixel_sdk.PortHandler` that opens its port with `serial.serial_for_url`."""

    def setupPort(self, cflag_baud):  # noqa: N802  (dynamixel_sdk's name)
        if self.is_open:
            self.closePort()
        self.ser = serial.serial_for_url(
            self.port_name, baudrate=self.baudrate, bytesize=serial.EIGHTBITS, timeout=0
        )
        self.is_open = True
        self.ser.reset_input_buffer()
        self.tx_time_per_byte = (1000.0 / self.baudrate) * 10.0
        return True


class UrlDynamixelMotorsBus(DynamixelMotorsBus):
    """`DynamixelMotorsBus` whose port handler is `UrlPortHandler`."""

    def __init__(
        self, port: str, motors: dict[str, Motor], calibration: dict[str, MotorCalibration] | None = None
    ) -> None:
        super().__init__(port, motors, calibration)
        self.port_handler = UrlPortHandler(self.port)
        self.sync_reader = dxl.GroupSyncRead(self.port_handler, self.packet_handler, 0, 0)
        self.sync_writer = dxl.GroupSyncWrite(self.port_handler, self.packet_handler, 0, 0)
