"""The Dynamixel Protocol 2.0 servo simulator, driven through the real dynamixel_sdk and LeRobot's bus."""

from __future__ import annotations

import itertools

import dynamixel_sdk as dxl
import pytest
import serial
from lerobot.motors import Motor, MotorNormMode

from lerobot_wbvla.teleoperators.dxl_sim import ServoChain, SimulatedServo, register_chain, unregister_chain
from lerobot_wbvla.teleoperators.dxl_sim import protocol as p
from lerobot_wbvla.teleoperators.x2_leader.bus import UrlDynamixelMotorsBus, UrlPortHandler

_names = (f"dxltest{i}" for i in itertools.count())


@pytest.fixture
def chain_url():
    """Register a chain under a fresh name; yields (chain, url) and unregisters it afterwards."""
    made = []

    def make(servos, **kwargs):
        name = next(_names)
        chain = register_chain(name, ServoChain(servos, **kwargs))
        made.append(name)
        return chain, f"dxlsim://{name}"

    yield make
    for name in made:
        unregister_chain(name)


def open_sdk(url: str, baudrate: int = 1_000_000):
    port = UrlPortHandler(url)
    port.baudrate = baudrate
    assert port.openPort()
    return port, dxl.PacketHandler(2.0)


def test_crc_and_stuffing_match_the_sdk():
    sdk = dxl.PacketHandler(2.0)
    data = bytes(range(256)) * 2
    assert p.crc16(data) == sdk.updateCRC(0, list(data), len(data))
    # e-Manual example: ping to id 1 is FF FF FD 00 01 03 00 01 19 4E
    assert p.build_packet(1, p.INST_PING) == bytes.fromhex("FFFFFD0001030001194E")
    payload = bytes([0x03, 0x10, 0x00, 0xFF, 0xFF, 0xFD, 0x07])
    stuffed = p.stuff(payload)
    assert stuffed == bytes([0x03, 0x10, 0x00, 0xFF, 0xFF, 0xFD, 0xFD, 0x07])
    assert p.unstuff(stuffed) == payload


def test_ping_read_write_through_the_sdk(chain_url):
    chain, url = chain_url([SimulatedServo(3, "xl330-m288"), SimulatedServo(5, "xl330-m077")])
    port, ph = open_sdk(url)
    model, comm, err = ph.ping(port, 3)
    assert (model, comm, err) == (1200, dxl.COMM_SUCCESS, 0)
    model, comm, _ = ph.ping(port, 5)
    assert model == 1190 and comm == dxl.COMM_SUCCESS
    _, comm, _ = ph.ping(port, 9)
    assert comm == dxl.COMM_RX_TIMEOUT

    # A 4-byte write whose bytes contain FF FF FD: stuffed by the SDK on the way in, by the servo on the way out.
    value = 0xFDFFFF  # little endian: FF FF FD 00
    comm, err = ph.write4ByteTxRx(port, 3, 112, value)  # Profile_Velocity
    assert (comm, err) == (dxl.COMM_SUCCESS, 0)
    got, comm, err = ph.read4ByteTxRx(port, 3, 112)
    assert (got, comm, err) == (value, dxl.COMM_SUCCESS, 0)
    assert chain.servo(3).get("Profile_Velocity") == value
    assert ph.write4ByteTxRx(port, 3, 20, -1000 & 0xFFFFFFFF) == (
        dxl.COMM_SUCCESS,
        0,
    )  # Homing_Offset, signed
    assert chain.servo(3).get("Homing_Offset") == -1000
    assert ph.write4ByteTxRx(port, 3, 20, 2_000_000)[1] == p.ERR_DATA_LIMIT  # beyond +-1044479


def test_access_rules_and_errors(chain_url):
    chain, url = chain_url([SimulatedServo(1)])
    port, ph = open_sdk(url)
    assert ph.write1ByteTxRx(port, 1, 64, 1) == (dxl.COMM_SUCCESS, 0)  # torque on
    assert ph.write4ByteTxRx(port, 1, 20, 10)[1] == p.ERR_ACCESS  # EEPROM with torque on
    assert ph.write4ByteTxRx(port, 1, 132, 10)[1] == p.ERR_ACCESS  # Present_Position is read-only
    assert ph.write1ByteTxRx(port, 1, 11, 9)[1] == p.ERR_ACCESS  # EEPROM again
    assert ph.write1ByteTxRx(port, 1, 64, 0) == (dxl.COMM_SUCCESS, 0)
    assert ph.write1ByteTxRx(port, 1, 11, 9)[1] == p.ERR_DATA_LIMIT  # no operating mode 9
    assert ph.readTxRx(port, 1, 140, 20)[2] == p.ERR_DATA_RANGE  # past the end of the table
    # A corrupted CRC is answered with a CRC error status.
    bad = bytearray(p.build_packet(1, p.INST_READ, bytes([132, 0, 4, 0])))
    bad[-1] ^= 0xFF
    port.writePort(bad)
    port.setPacketTimeout(15)
    status, comm = ph.rxPacket(port, False)
    assert comm == dxl.COMM_SUCCESS and status[8] == p.ERR_CRC
    assert chain.crc_errors == 1


def test_sync_read_write_broadcast_ping_and_baud_rate(chain_url):
    chain, url = chain_url([SimulatedServo(i) for i in (1, 2, 4)] + [SimulatedServo(7, baudrate=57_600)])
    port, ph = open_sdk(url)
    found, comm = ph.broadcastPing(port)
    assert comm == dxl.COMM_SUCCESS and sorted(found) == [1, 2, 4]  # id 7 talks at 57600 only

    writer = dxl.GroupSyncWrite(port, ph, 116, 4)  # Goal_Position
    reader = dxl.GroupSyncRead(port, ph, 132, 4)  # Present_Position
    assert ph.write1ByteTxOnly(port, p.BROADCAST_ID, 11, 4) == dxl.COMM_SUCCESS  # extended position, all
    for i in (1, 2, 4):
        assert ph.write1ByteTxRx(port, i, 64, 1) == (dxl.COMM_SUCCESS, 0)
        writer.addParam(i, list((1000 * i).to_bytes(4, "little")))
        reader.addParam(i)
    assert writer.txPacket() == dxl.COMM_SUCCESS
    assert reader.txRxPacket() == dxl.COMM_SUCCESS
    assert [reader.getData(i, 132, 4) for i in (1, 2, 4)] == [1000, 2000, 4000]
    assert [chain.servo(i).shaft for i in (1, 2, 4)] == [1000, 2000, 4000]

    slow, ph2 = open_sdk(url, baudrate=57_600)
    assert ph2.ping(slow, 7)[:2] == (1200, dxl.COMM_SUCCESS)


def test_lerobot_bus_connect_calibration_round_trip_and_faults(chain_url):
    chain, url = chain_url([SimulatedServo(1), SimulatedServo(2, "xl330-m077")])
    motors = {
        "a": Motor(1, "xl330-m288", MotorNormMode.DEGREES),
        "b": Motor(2, "xl330-m077", MotorNormMode.RANGE_0_100),
    }
    bus = UrlDynamixelMotorsBus(url, motors)
    bus.connect()  # handshake pings both ids and checks model numbers
    chain.servo(1).move_to(3000)
    homings = bus.set_half_turn_homings()
    assert homings["a"] == 2047 - 3000
    assert bus.sync_read("Present_Position", normalize=False) == {"a": 2047, "b": 2047}
    cal = bus.read_calibration()
    assert cal["a"].homing_offset == -953 and cal["a"].range_max == 4095

    chain.power_off()
    with pytest.raises(ConnectionError, match="Failed to sync read"):
        bus.sync_read("Present_Position")
    chain.power_on()
    assert bus.sync_read("Present_Position", normalize=False)["a"] == 2047
    chain.unplug()
    with pytest.raises(serial.SerialException, match="device disconnected"):
        bus.sync_read("Present_Position")
    bus.port_handler.closePort()

    # A bus expecting a motor the chain lacks fails its handshake with LeRobot's message.
    bad = UrlDynamixelMotorsBus(url, {"c": Motor(9, "xl330-m288", MotorNormMode.DEGREES)})
    chain.plug()
    with pytest.raises(RuntimeError, match="Missing motor IDs"):
        bad.connect()


def test_unknown_chain_and_preset_give_clear_errors():
    with pytest.raises(serial.SerialException, match="No simulated Dynamixel chain named 'nope'"):
        serial.serial_for_url("dxlsim://nope")
    with pytest.raises(serial.SerialException, match="Unknown simulated chain preset"):
        serial.serial_for_url("dxlsim://nope2?preset=unknown")
    with pytest.raises(serial.SerialException, match="Unknown option"):
        serial.serial_for_url("dxlsim://nope3?speed=1")
