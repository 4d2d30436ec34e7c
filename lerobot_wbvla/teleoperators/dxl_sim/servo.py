"""Simulated Dynamixel X-series servos on one half-duplex bus (Protocol 2.0).

What is simulated (from the ROBOTIS X-series e-Manual):
- the control table at the addresses LeRobot's `DynamixelMotorsBus` uses (`lerobot.motors.dynamixel.tables`),
  little-endian, two's complement for the signed items;
- PING, READ, WRITE, SYNC READ, SYNC WRITE, broadcast ping and broadcast write; status packets with CRC;
- access rules: the EEPROM area (addresses < 64) is writable only with torque off, read-only items reject
  writes (Access Error), out-of-table addresses give Data Range Error, out-of-range values Data Limit Error,
  a bad CRC gives CRC Error, an unknown instruction Instruction Error;
- Present_Position = (Drive_Mode reverse ? -1 : 1) * shaft + Homing_Offset; the shaft is the physical angle in
  encoder ticks (4096 per turn, multi-turn);
- with torque on in a position mode the shaft goes to Goal_Position unless a hand holds it (`hold`), so a
  leader's gripper in current-based position mode springs back when released (the "trigger");
- the Baud_Rate register: a servo answers only at its own baud rate;
- a lost device: `unplug()` (the serial port raises like a vanished USB adapter) and `power_off()` (no answers).

Simplifications: motion is instantaneous, Present_Velocity/Current are 0, no Indirect Address, no Bulk
instructions, position is not wrapped to one turn in Position Control Mode.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from lerobot.motors.dynamixel.tables import (
    MODEL_BAUDRATE_TABLE,
    MODEL_CONTROL_TABLE,
    MODEL_ENCODING_TABLE,
    MODEL_NUMBER_TABLE,
    MODEL_OPERATING_MODES,
)

from . import protocol as p

EEPROM_END = 64  # addresses below are EEPROM (writable only with torque off)
READ_ONLY = (
    "Model_Number",
    "Model_Information",
    "Firmware_Version",
    "Registered_Instruction",
    "Hardware_Error_Status",
    "Realtime_Tick",
    "Moving",
    "Moving_Status",
    "Present_PWM",
    "Present_Current",
    "Present_Velocity",
    "Present_Position",
    "Velocity_Trajectory",
    "Position_Trajectory",
    "Present_Input_Voltage",
    "Present_Temperature",
)
POSITION_MODES = (3, 4, 5)  # position, extended position, current-based position
HOMING_LIMIT = 1_044_479  # |Homing_Offset| per e-Manual
EXTENDED_GOAL_LIMIT = 1_048_575  # |Goal_Position| in extended / current-based position mode
TICKS_PER_TURN = 4096


class ServoChainError(RuntimeError):
    """A simulated chain was asked for something that does not exist (unknown name, id or model)."""


@dataclass
class SimulatedServo:
    """One X-series servo: its control table and its shaft."""

    servo_id: int
    model: str = "xl330-m288"
    shaft: int = TICKS_PER_TURN // 2 - 1  # physical angle, ticks
    baudrate: int = 1_000_000
    firmware: int = 52
    held: bool = False  # a hand holds the shaft (it does not follow the goal)
    table: bytearray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.model not in MODEL_NUMBER_TABLE:
            raise ServoChainError(
                f"Unknown Dynamixel model '{self.model}'. Known models: {', '.join(sorted(MODEL_NUMBER_TABLE))}"
            )
        self.ctrl = MODEL_CONTROL_TABLE[self.model]
        self.signed = MODEL_ENCODING_TABLE.get(self.model, {})
        size = max(addr + n for addr, n in self.ctrl.values())
        self.table = bytearray(size)
        baud_code = MODEL_BAUDRATE_TABLE[self.model].get(self.baudrate)
        if baud_code is None:
            raise ServoChainError(f"Baud rate {self.baudrate} is not one an X-series servo supports")
        defaults = {
            "Model_Number": MODEL_NUMBER_TABLE[self.model],
            "Firmware_Version": self.firmware,
            "ID": self.servo_id,
            "Baud_Rate": baud_code,
            "Return_Delay_Time": 250,
            "Operating_Mode": 3,
            "Protocol_Type": 2,
            "Temperature_Limit": 70,
            "Max_Voltage_Limit": 70,
            "Min_Voltage_Limit": 35,
            "PWM_Limit": 885,
            "Current_Limit": 1750,
            "Velocity_Limit": 445,
            "Max_Position_Limit": 4095,
            "Min_Position_Limit": 0,
            "Shutdown": 52,
            "Status_Return_Level": 2,
            "Present_Input_Voltage": 50,
            "Present_Temperature": 30,
        }
        for name, value in defaults.items():
            self._store(name, value)
        self._store("Goal_Position", self.present_position())

    # --- register helpers -------------------------------------------------------------------------------
    def _store(self, name: str, value: int) -> None:
        addr, n = self.ctrl[name]
        self.table[addr : addr + n] = int(value).to_bytes(n, "little", signed=name in self.signed)

    def get(self, name: str) -> int:
        """Current value of a control-table item (computed items are refreshed first)."""
        self._refresh()
        addr, n = self.ctrl[name]
        return int.from_bytes(self.table[addr : addr + n], "little", signed=name in self.signed)

    @property
    def torque_enabled(self) -> bool:
        return self.get("Torque_Enable") == 1

    @property
    def direction(self) -> int:
        return -1 if self.get_raw("Drive_Mode") & 0x01 else 1

    def get_raw(self, name: str) -> int:
        addr, n = self.ctrl[name]
        return int.from_bytes(self.table[addr : addr + n], "little", signed=name in self.signed)

    def present_position(self) -> int:
        return self.direction * self.shaft + self.get_raw("Homing_Offset")

    def _refresh(self) -> None:
        self._settle()
        self._store("Present_Position", self.present_position())

    def _settle(self) -> None:
        """With torque on in a position mode and no hand on it, the shaft reaches the goal."""
        if (
            self.held
            or self.get_raw("Torque_Enable") != 1
            or self.get_raw("Operating_Mode") not in POSITION_MODES
        ):
            return
        goal = self.get_raw("Goal_Position")
        self.shaft = self.direction * (goal - self.get_raw("Homing_Offset"))

    # --- what a human does to the physical servo ----------------------------------------------------------
    def move_to(self, shaft: int) -> None:
        """Turn the shaft by hand to `shaft` ticks (it stays there while held or with torque off)."""
        self.shaft = int(shaft)

    def hold(self, shaft: int | None = None) -> None:
        """Grab the shaft (optionally moving it): it no longer follows the goal position."""
        self.held = True
        if shaft is not None:
            self.shaft = int(shaft)

    def release(self) -> None:
        """Let go of the shaft: with torque on in a position mode it returns to the goal."""
        self.held = False
        self._settle()

    # --- instruction handling ---------------------------------------------------------------------------
    def read(self, addr: int, length: int) -> tuple[int, bytes]:
        if length <= 0 or addr < 0 or addr + length > len(self.table):
            return p.ERR_DATA_RANGE, b""
        self._refresh()
        return p.ERR_NONE, bytes(self.table[addr : addr + length])

    def write(self, addr: int, data: bytes) -> int:
        if not data or addr < 0 or addr + len(data) > len(self.table):
            return p.ERR_DATA_RANGE
        items = [(name, a, n) for name, (a, n) in self.ctrl.items() if a < addr + len(data) and addr < a + n]
        # Writes must cover whole items.
        for _, a, n in items:
            if a < addr or a + n > addr + len(data):
                return p.ERR_DATA_LENGTH
        torque_on = self.get_raw("Torque_Enable") == 1
        for name, a, _ in items:
            if name in READ_ONLY:
                return p.ERR_ACCESS
            if a < EEPROM_END and torque_on:
                return p.ERR_ACCESS
        decoded = {
            name: int.from_bytes(data[a - addr : a - addr + n], "little", signed=name in self.signed)
            for name, a, n in items
        }
        for name, value in decoded.items():
            error = self._check_limit(name, value, decoded)
            if error:
                return error
        for name, value in decoded.items():
            if name == "Torque_Enable" and value == 1 and not torque_on and "Goal_Position" not in decoded:
                # Turning torque on makes the servo hold where it is (goal := present), no jump.
                self._store("Goal_Position", self.present_position())
            self._store(name, value)
            if name == "ID":
                self.servo_id = value
            elif name == "Baud_Rate":
                self.baudrate = {code: rate for rate, code in MODEL_BAUDRATE_TABLE[self.model].items()}[value]
        self._settle()
        return p.ERR_NONE

    def _check_limit(self, name: str, value: int, batch: dict[str, int]) -> int:
        if name == "ID" and not 0 <= value <= 252:
            return p.ERR_DATA_LIMIT
        if name == "Baud_Rate" and value not in MODEL_BAUDRATE_TABLE[self.model].values():
            return p.ERR_DATA_LIMIT
        if name == "Operating_Mode" and value not in MODEL_OPERATING_MODES.get(self.model, POSITION_MODES):
            return p.ERR_DATA_LIMIT
        if name == "Homing_Offset" and abs(value) > HOMING_LIMIT:
            return p.ERR_DATA_LIMIT
        if name in ("Min_Position_Limit", "Max_Position_Limit") and not 0 <= value <= TICKS_PER_TURN - 1:
            return p.ERR_DATA_LIMIT
        if name in ("Torque_Enable", "LED") and value not in (0, 1):
            return p.ERR_DATA_LIMIT
        if name == "Goal_Position":
            mode = batch.get("Operating_Mode", self.get_raw("Operating_Mode"))
            if mode == 3:
                lo, hi = self.get_raw("Min_Position_Limit"), self.get_raw("Max_Position_Limit")
                if not lo <= value <= hi:
                    return p.ERR_DATA_LIMIT
            elif abs(value) > EXTENDED_GOAL_LIMIT:
                return p.ERR_DATA_LIMIT
        return p.ERR_NONE


class ServoChain:
    """Servos daisy-chained on one bus, as a USB-serial adapter sees them.

    `handle(data, baudrate)` takes the bytes a host wrote and returns the bytes the servos answer.
    """

    def __init__(self, servos: list[SimulatedServo] | None = None, unplug_after: int | None = None) -> None:
        self._servos: list[SimulatedServo] = list(servos or [])
        self.powered = True
        self.unplugged = False
        # Instruction packets handled before the adapter "vanishes" (None = never): a cable pulled mid-run.
        self.unplug_after = unplug_after
        self.packets_handled = 0
        self.crc_errors = 0
        self.lock = threading.RLock()
        ids = [s.servo_id for s in self._servos]
        if len(ids) != len(set(ids)):
            raise ServoChainError(f"Two simulated servos share an id: {sorted(ids)}")

    # --- inspection / human actions ---
    def servo(self, servo_id: int) -> SimulatedServo:
        for servo in self._servos:
            if servo.servo_id == servo_id:
                return servo
        raise ServoChainError(
            f"No simulated servo with id {servo_id}; ids: {[s.servo_id for s in self._servos]}"
        )

    @property
    def servos(self) -> list[SimulatedServo]:
        return list(self._servos)

    def unplug(self) -> None:
        """The USB adapter disappears: every later read/write on an open port raises SerialException."""
        self.unplugged = True

    def plug(self) -> None:
        self.unplugged = False

    def power_off(self) -> None:
        """The servo supply is cut: the adapter stays, but nothing answers (timeouts)."""
        self.powered = False

    def power_on(self) -> None:
        self.powered = True

    # --- bus traffic ---
    def handle(self, buffer: bytearray, baudrate: int) -> bytes:
        """Consume complete instruction packets from `buffer`; return the concatenated status packets."""
        out = bytearray()
        with self.lock:
            for packet in p.split_packets(buffer):
                self.packets_handled += 1
                if self.unplug_after is not None and self.packets_handled > self.unplug_after:
                    self.unplugged = True
                if not self.powered or self.unplugged:
                    continue
                out += self._answer(packet, baudrate)
        return bytes(out)

    def _listening(self, baudrate: int) -> list[SimulatedServo]:
        return sorted((s for s in self._servos if s.baudrate == baudrate), key=lambda s: s.servo_id)

    def _answer(self, pkt: p.Packet, baudrate: int) -> bytes:
        servos = self._listening(baudrate)
        if pkt.servo_id == p.BROADCAST_ID:
            targets = servos
        else:
            targets = [s for s in servos if s.servo_id == pkt.servo_id]
        if not targets:
            return b""
        if not pkt.crc_ok:
            self.crc_errors += 1
            if pkt.servo_id == p.BROADCAST_ID:
                return b""
            return p.build_status(pkt.servo_id, p.ERR_CRC)
        inst, prm = pkt.instruction, pkt.params
        if inst == p.INST_PING:
            return b"".join(
                p.build_status(
                    s.servo_id, p.ERR_NONE, s.get("Model_Number").to_bytes(2, "little") + bytes((s.firmware,))
                )
                for s in targets
            )
        if inst == p.INST_READ:
            if len(prm) != 4 or pkt.servo_id == p.BROADCAST_ID:
                return self._status(targets[0], p.ERR_DATA_LENGTH, read=True)
            addr, length = _u16(prm, 0), _u16(prm, 2)
            error, data = targets[0].read(addr, length)
            return self._status(targets[0], error, data, read=True)
        if inst == p.INST_WRITE:
            if len(prm) < 3:
                return b"".join(self._status(s, p.ERR_DATA_LENGTH) for s in targets)
            addr = _u16(prm, 0)
            answers = b"".join(self._status(s, s.write(addr, prm[2:])) for s in targets)
            return b"" if pkt.servo_id == p.BROADCAST_ID else answers
        if inst == p.INST_SYNC_READ:
            if len(prm) < 5:
                return b""
            addr, length = _u16(prm, 0), _u16(prm, 2)
            out = bytearray()
            for servo_id in prm[4:]:
                servo = next((s for s in servos if s.servo_id == servo_id), None)
                if servo is not None:
                    error, data = servo.read(addr, length)
                    out += self._status(servo, error, data, read=True)
            return bytes(out)
        if inst == p.INST_SYNC_WRITE:
            if len(prm) < 4:
                return b""
            addr, length = _u16(prm, 0), _u16(prm, 2)
            body = prm[4:]
            for i in range(0, len(body) - length, length + 1):
                servo = next((s for s in servos if s.servo_id == body[i]), None)
                if servo is not None:
                    servo.write(addr, body[i + 1 : i + 1 + length])
            return b""
        if pkt.servo_id == p.BROADCAST_ID:
            return b""
        return p.build_status(pkt.servo_id, p.ERR_INSTRUCTION)

    @staticmethod
    def _status(servo: SimulatedServo, error: int, data: bytes = b"", read: bool = False) -> bytes:
        level = servo.get_raw("Status_Return_Level")
        if level == 0 or (level == 1 and not read):
            return b""
        return p.build_status(servo.servo_id, error, data)


def _u16(buf: bytes, offset: int) -> int:
    return buf[offset] | (buf[offset + 1] << 8)


# --- registry of named chains (what `dxlsim://<name>` opens) -------------------------------------------------
_CHAINS: dict[str, ServoChain] = {}
_PRESETS: dict[str, object] = {}
_REGISTRY_LOCK = threading.Lock()


def register_chain(name: str, chain: ServoChain) -> ServoChain:
    """Make `chain` reachable as `dxlsim://<name>` in this process (replaces a chain of the same name)."""
    with _REGISTRY_LOCK:
        _CHAINS[name] = chain
    return chain


def unregister_chain(name: str) -> None:
    with _REGISTRY_LOCK:
        _CHAINS.pop(name, None)


def register_preset(name: str, factory) -> None:
    """A named chain layout, used when a URL names an unknown chain with `?preset=<name>`."""
    _PRESETS[name] = factory


def chain_for(name: str, preset: str | None = None, unplug_after: int | None = None) -> ServoChain:
    """The chain registered under `name`, or a new one built from `preset` (then registered under `name`)."""
    with _REGISTRY_LOCK:
        chain = _CHAINS.get(name)
        if chain is None:
            if preset is None:
                raise ServoChainError(
                    f"No simulated Dynamixel chain named '{name}'. Register one with "
                    f"lerobot_wbvla.teleoperators.dxl_sim.register_chain('{name}', chain), or build one from a "
                    f"preset with 'dxlsim://{name}?preset=<preset>' (presets: {', '.join(sorted(_PRESETS)) or 'none'})."
                )
            factory = _PRESETS.get(preset)
            if factory is None:
                raise ServoChainError(
                    f"Unknown simulated chain preset '{preset}'. Known presets: {', '.join(sorted(_PRESETS))}"
                )
            chain = factory()
            _CHAINS[name] = chain
        if unplug_after is not None:
            chain.unplug_after = unplug_after
        return chain
