"""pyserial URL handler for `dxlsim://<chain name>[?preset=<preset>&unplug_after=<n>]`.

pyserial's `serial.serial_for_url` imports `<package>.protocol_<scheme>` for every package listed in
`serial.protocol_handler_packages` and instantiates its `Serial` class; `dxl_sim/__init__.py` adds this package
to that list. The port talks to a `ServoChain` of simulated servos: bytes written are instruction packets, bytes
read are the servos' status packets.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import serial
from serial.serialutil import PortNotOpenError, SerialBase, SerialException, to_bytes

from .servo import ServoChain, ServoChainError, chain_for

SCHEME = "dxlsim"


def parse_url(url: str) -> tuple[str, str | None, int | None]:
    """(chain name, preset, unplug_after) of a `dxlsim://` URL; ValueError naming the problem otherwise."""
    parts = urlsplit(url)
    if parts.scheme.lower() != SCHEME or not parts.netloc:
        raise ValueError(f"Expected a URL like 'dxlsim://<chain name>[?preset=...]', got '{url}'")
    query = parse_qs(parts.query)
    unknown = set(query) - {"preset", "unplug_after"}
    if unknown:
        raise ValueError(f"Unknown option(s) {sorted(unknown)} in '{url}'; known: preset, unplug_after")
    preset = query.get("preset", [None])[0]
    unplug_after = query.get("unplug_after", [None])[0]
    return parts.netloc, preset, int(unplug_after) if unplug_after is not None else None


class Serial(SerialBase):
    """A serial port whose far end is a simulated Dynamixel chain."""

    chain: ServoChain | None = None

    def open(self) -> None:
        if self._port is None:
            raise SerialException("Port must be configured before it can be used.")
        if self.is_open:
            raise SerialException("Port is already open.")
        try:
            name, preset, unplug_after = parse_url(self._port)
            self.chain = chain_for(name, preset=preset, unplug_after=unplug_after)
        except (ValueError, ServoChainError) as e:
            raise SerialException(f"could not open port {self._port}: {e}") from e
        if self.chain.unplugged:
            raise SerialException(f"could not open port {self._port}: [Errno 2] No such file or directory")
        self._rx = bytearray()  # servo -> host
        self._tx = bytearray()  # host -> servo, until a packet is complete
        self.is_open = True

    def close(self) -> None:
        self.is_open = False

    def _reconfigure_port(self) -> None:  # baud rate changes need nothing more: `write` reads self.baudrate
        pass

    def _check_alive(self) -> None:
        if not self.is_open:
            raise PortNotOpenError()
        if self.chain is not None and self.chain.unplugged:
            raise SerialException(
                "device reports readiness to read but returned no data "
                "(device disconnected or multiple access on port?)"
            )

    @property
    def in_waiting(self) -> int:
        self._check_alive()
        return len(self._rx)

    def read(self, size: int = 1) -> bytes:
        self._check_alive()
        data = bytes(self._rx[:size])
        del self._rx[:size]
        return data

    def write(self, data) -> int:
        self._check_alive()
        payload = to_bytes(data)
        self._tx += payload
        self._rx += self.chain.handle(self._tx, self.baudrate)
        return len(payload)

    def flush(self) -> None:
        self._check_alive()

    def reset_input_buffer(self) -> None:
        self._check_alive()
        self._rx.clear()

    def reset_output_buffer(self) -> None:
        self._check_alive()
        self._tx.clear()


__all__ = ["Serial", "parse_url", "SCHEME", "serial"]
