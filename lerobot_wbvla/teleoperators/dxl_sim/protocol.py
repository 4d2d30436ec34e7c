"""Dynamixel Protocol 2.0 framing: CRC-16, byte stuffing, instruction/status packets.

Written from the ROBOTIS e-Manual ("DYNAMIXEL Protocol 2.0": packet layout, CRC-16 with polynomial 0x8005, byte
stuffing of `FF FF FD` inside the payload), not from the SDK. The simulator (servo.py) uses it to parse what
`dynamixel_sdk` writes and to build the status packets it reads back, so a mistake in either side shows up as a
CRC or framing failure in the tests.
"""

from __future__ import annotations

from dataclasses import dataclass

HEADER = bytes((0xFF, 0xFF, 0xFD))
RESERVED = 0x00
BROADCAST_ID = 0xFE

# Instructions.
INST_PING = 0x01
INST_READ = 0x02
INST_WRITE = 0x03
INST_STATUS = 0x55
INST_SYNC_READ = 0x82
INST_SYNC_WRITE = 0x83

# Error numbers of the status packet's ERROR byte (bits 0-6).
ERR_NONE = 0x00
ERR_RESULT_FAIL = 0x01
ERR_INSTRUCTION = 0x02
ERR_CRC = 0x03
ERR_DATA_RANGE = 0x04
ERR_DATA_LENGTH = 0x05
ERR_DATA_LIMIT = 0x06
ERR_ACCESS = 0x07

# Minimum frame: header(3) reserved(1) id(1) length(2) instruction(1) crc(2).
_MIN_FRAME = 10


def crc16(data: bytes | bytearray) -> int:
    """CRC-16 of Protocol 2.0 (polynomial 0x8005, initial value 0, MSB first, no final XOR)."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x8005) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def stuff(payload: bytes) -> bytes:
    """Insert an extra 0xFD after every `FF FF FD` inside the payload (instruction + parameters)."""
    out = bytearray()
    for byte in payload:
        out.append(byte)
        if byte == 0xFD and len(out) >= 3 and out[-3] == 0xFF and out[-2] == 0xFF:
            out.append(0xFD)
    return bytes(out)


def unstuff(payload: bytes) -> bytes:
    """Undo `stuff`: drop the 0xFD that follows each `FF FF FD` in the payload."""
    out = bytearray()
    i = 0
    while i < len(payload):
        byte = payload[i]
        out.append(byte)
        if byte == 0xFD and len(out) >= 3 and out[-3] == 0xFF and out[-2] == 0xFF:
            if i + 1 < len(payload) and payload[i + 1] == 0xFD:
                i += 1  # skip the stuffed byte
        i += 1
    return bytes(out)


def build_packet(servo_id: int, instruction: int, params: bytes = b"") -> bytes:
    """A complete frame with header, stuffed payload and CRC."""
    payload = stuff(bytes((instruction,)) + bytes(params))
    length = len(payload) + 2  # + CRC
    frame = HEADER + bytes((RESERVED, servo_id, length & 0xFF, length >> 8)) + payload
    crc = crc16(frame)
    return frame + bytes((crc & 0xFF, crc >> 8))


def build_status(servo_id: int, error: int, params: bytes = b"") -> bytes:
    """A status packet (instruction 0x55) carrying `error` and `params`."""
    payload = bytes((INST_STATUS, error)) + bytes(params)
    body = stuff(payload)
    length = len(body) + 2
    frame = HEADER + bytes((RESERVED, servo_id, length & 0xFF, length >> 8)) + body
    crc = crc16(frame)
    return frame + bytes((crc & 0xFF, crc >> 8))


@dataclass(frozen=True)
class Packet:
    """One received instruction packet after unstuffing."""

    servo_id: int
    instruction: int
    params: bytes
    crc_ok: bool


def split_packets(buffer: bytearray) -> list[Packet]:
    """Take every complete frame out of `buffer` (in place); leading garbage is dropped, a partial frame stays."""
    packets: list[Packet] = []
    while True:
        start = buffer.find(HEADER)
        if start < 0:
            # keep a possible header prefix at the end
            del buffer[: max(0, len(buffer) - 2)]
            return packets
        del buffer[:start]
        if len(buffer) < _MIN_FRAME:
            return packets
        length = buffer[5] | (buffer[6] << 8)
        total = 7 + length
        if len(buffer) < total:
            return packets
        frame = bytes(buffer[:total])
        del buffer[:total]
        received_crc = frame[-2] | (frame[-1] << 8)
        payload = unstuff(frame[7:-2])
        packets.append(
            Packet(
                servo_id=frame[4],
                instruction=payload[0] if payload else 0,
                params=payload[1:],
                crc_ok=crc16(frame[:-2]) == received_crc,
            )
        )
