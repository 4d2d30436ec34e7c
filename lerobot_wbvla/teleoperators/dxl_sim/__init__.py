"""A Dynamixel Protocol 2.0 servo simulator behind a serial-port URL (`dxlsim://<name>`).

It lets the leader arms (`x2_leader`) run through LeRobot's real `DynamixelMotorsBus` and the real
`dynamixel_sdk` packet code with no hardware: tests, CI, and demos. Importing this package registers the
`dxlsim://` scheme with pyserial (`serial.serial_for_url`); `port.UrlPortHandler` is the `dynamixel_sdk`
PortHandler that opens ports through that function.
"""

import serial

from .servo import (
    ServoChain,
    ServoChainError,
    SimulatedServo,
    chain_for,
    register_chain,
    register_preset,
    unregister_chain,
)

if __name__ not in serial.protocol_handler_packages:
    serial.protocol_handler_packages.append(__name__)

__all__ = [
    "ServoChain",
    "ServoChainError",
    "SimulatedServo",
    "chain_for",
    "register_chain",
    "register_preset",
    "unregister_chain",
]
