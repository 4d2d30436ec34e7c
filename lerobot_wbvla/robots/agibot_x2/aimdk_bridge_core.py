"""The ROS-independent part of the AimDK bridge: protocol server, safety, retries, and the AimDK translation.

`scripts/aimdk_bridge.py` runs `BridgeServer` on the robot's development computer with a port that speaks real
ROS 2 (`rclpy` + `aimdk_msgs`); `aimdk_fake_bridge.py` runs the very same server with a simulated AimDK, so the
tests exercise the code that runs on the robot. Everything ROS-specific goes through the `AimdkPort` interface and
a `msgs` namespace of message classes (the real `aimdk_msgs` ones, or fakes with the same fields), so the
translation functions (`aimdk_translate.py`) can be checked without ROS.

What the server does:
- answers requests (hello, mode switch through `SetMcAction`, `SetMcInputSource`, ...) on a ROUTER socket,
  retrying AimDK services as AimDK's docs require (cross-board ROS services drop calls: 8 tries of 0.25 s);
- streams the latest joint/hand/IMU state and camera frames on a PUB socket;
- re-publishes the client's latest joint targets, hand command and locomotion velocity to AimDK at a fixed rate
  (MC forgets an input source that is silent for its timeout, 1 s by default);
- safety: when the client sends no command for longer than the timeout it announced (or asks for it, or says
  bye, or the bridge stops), it zeroes the velocity and holds (or damps) the commanded joints at their *measured*
  positions. Leg and waist commands are refused unless `allowed_groups` names them (they fight MC otherwise).

Like `aimdk_protocol.py`, this module is Python 3.10 compatible and needs only the standard library, pyzmq and
numpy (OpenCV optional, for JPEG and resizing), because it runs on the robot without the rest of the package.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import zmq

try:  # inside the package
    from . import aimdk_protocol as proto
    from . import aimdk_translate as translate
except ImportError:  # loaded as top-level modules by scripts/aimdk_bridge.py on the robot
    import aimdk_protocol as proto  # type: ignore[no-redef]
    import aimdk_translate as translate  # type: ignore[no-redef]

logger = logging.getLogger("aimdk_bridge")

BRIDGE_NAME = "lerobot_wbvla.aimdk_bridge"


# ---------------------------------------------------------------------------------------------------------------
# AimDK side: the port interface and service retries
# ---------------------------------------------------------------------------------------------------------------
class ServiceTimeout(RuntimeError):
    """An AimDK service did not answer within all attempts."""


class AimdkPort(Protocol):
    """What the server needs from the ROS side. `msgs` holds the message classes by name (`JointCommandArray`,
    `SetMcAction`, ...); `now_stamp()` gives a `builtin_interfaces/Time`-like stamp."""

    msgs: Any

    def now_stamp(self) -> Any: ...

    def publish(self, topic: str, msg: Any) -> None: ...

    def call_service(self, name: str, request: Any, attempts: int, attempt_timeout_s: float) -> Any: ...

    def start(self, subscriptions: dict[str, str], on_message: Callable[[str, Any], None]) -> None:
        """Subscribe to `{topic: kind}` (kind: "joint_state", "hand_state", "imu", "image") and deliver each
        message with `on_message(topic, msg)` from any thread."""

    def close(self) -> None: ...


def call_with_retries(
    call_async: Callable[[], Any],
    attempts: int,
    attempt_timeout_s: float,
    name: str,
    before_attempt: Callable[[], None] | None = None,
) -> Any:
    """Call a ROS-style service until one attempt completes: `call_async()` returns a future (`done()`,
    `result()`), which gets `attempt_timeout_s` to complete before the next attempt. AimDK's examples do the
    same (8 x 0.25 s) because ROS 2 services across boards lose calls. `before_attempt` restamps the request."""
    for attempt in range(max(1, attempts)):
        if before_attempt is not None:
            before_attempt()
        future = call_async()
        deadline = time.monotonic() + attempt_timeout_s
        while time.monotonic() < deadline:
            if future.done():
                return future.result()
            time.sleep(0.002)
        if future.done():
            return future.result()
        logger.info("AimDK service %s: no answer to attempt %d/%d", name, attempt + 1, attempts)
    raise ServiceTimeout(
        f"AimDK service {name} did not answer after {attempts} attempts of {attempt_timeout_s:.2f} s "
        "(is MC running on the motion-control computer, and is ROS_DOMAIN_ID the robot's?)"
    )


# ---------------------------------------------------------------------------------------------------------------
# Server
# ---------------------------------------------------------------------------------------------------------------
@dataclasses.dataclass
class BridgeConfig:
    """Settings of the bridge process (command line: `--name value`, see `parse_config`)."""

    bind: str = dataclasses.field(default="0.0.0.0", metadata={"help": "address to listen on"})
    command_port: int = dataclasses.field(
        default=proto.COMMAND_PORT, metadata={"help": "ROUTER port (requests)"}
    )
    state_port: int = dataclasses.field(
        default=proto.STATE_PORT, metadata={"help": "PUB port (state stream)"}
    )
    camera_port: int = dataclasses.field(
        default=proto.CAMERA_PORT, metadata={"help": "PUB port (camera frames)"}
    )
    state_hz: float = dataclasses.field(default=100.0, metadata={"help": "state stream rate"})
    command_hz: float = dataclasses.field(
        default=100.0,
        metadata={"help": "rate at which the latest targets and velocity are re-published to AimDK"},
    )
    camera_hz: float = dataclasses.field(default=30.0, metadata={"help": "camera stream rate (at most)"})
    jpeg_quality: int = dataclasses.field(default=90, metadata={"help": "JPEG quality; 0 sends raw rgb8"})
    cameras: str = dataclasses.field(
        default=f"head={proto.HEAD_RGB_TOPIC}",
        metadata={"help": "camera name=sensor_msgs/Image topic, comma list"},
    )
    allowed_groups: str = dataclasses.field(
        default="arm",
        metadata={
            "help": "joint groups the client may command (comma list of leg,waist,arm,head); leg and "
            "waist fight MC's balance controller: add them only with MC stopped (`aima em stop-app mc`)"
        },
    )
    service_attempts: int = dataclasses.field(default=8, metadata={"help": "tries per AimDK service call"})
    service_attempt_timeout_s: float = dataclasses.field(
        default=0.25, metadata={"help": "seconds each AimDK service try may take"}
    )
    default_command_timeout_s: float = dataclasses.field(
        default=0.5, metadata={"help": "watchdog timeout when the client does not announce one"}
    )
    zero_velocity_s: float = dataclasses.field(
        default=1.0, metadata={"help": "how long a zero velocity is published after entering the safe state"}
    )

    def camera_topics(self) -> dict[str, str]:
        cameras = {}
        for item in filter(None, (part.strip() for part in self.cameras.split(","))):
            name, sep, topic = item.partition("=")
            if not sep or not name or not topic:
                raise ValueError(f"--cameras entry {item!r} is not name=topic")
            cameras[name.strip()] = topic.strip()
        return cameras

    def allowed_group_set(self) -> set[str]:
        groups = {g.strip() for g in self.allowed_groups.split(",") if g.strip()}
        unknown = groups - set(proto.JOINT_GROUPS)
        if unknown:
            raise ValueError(
                f"--allowed_groups has unknown groups {sorted(unknown)}; use {proto.JOINT_GROUPS}"
            )
        return groups


def parse_config(cls: type, argv: list[str] | None, description: str) -> Any:
    """Command line for a dataclass config, one `--field value` per field with its help text. (argparse rather
    than draccus: the bridge runs on the robot's Python 3.10 ROS environment without LeRobot.)"""
    parser = argparse.ArgumentParser(description=description)
    for f in dataclasses.fields(cls):
        default = f.default
        kind = type(default)
        if kind is bool:
            parser.add_argument(
                f"--{f.name}",
                type=lambda s: s.lower() in ("1", "true", "yes"),
                default=default,
                help=f"{f.metadata.get('help', '')} (default: {default})",
            )
        else:
            parser.add_argument(
                f"--{f.name}",
                type=kind,
                default=default,
                help=f"{f.metadata.get('help', '')} (default: {default})",
            )
    return cls(**vars(parser.parse_args(argv)))


@dataclasses.dataclass
class _Session:
    identity: bytes
    client: str
    command_timeout_s: float
    safe_action: str
    safe_gains: dict[str, dict[str, tuple[float, float]]]
    input_source: str
    cameras: dict[str, tuple[int, int] | None]
    last_command_t: float | None = None
    last_seq: int = -1


class BridgeServer:
    """Serves the protocol of `aimdk_protocol` on ZeroMQ and drives AimDK through an `AimdkPort`."""

    def __init__(
        self,
        port: AimdkPort,
        config: BridgeConfig | None = None,
        protocol_version: int = proto.PROTOCOL_VERSION,
    ):
        self.port = port
        self.config = config or BridgeConfig()
        self.protocol_version = protocol_version
        self._camera_topics = self.config.camera_topics()
        self._allowed_groups = self.config.allowed_group_set()
        self._ctx = zmq.Context()
        self._router: zmq.Socket | None = None
        self._pub: zmq.Socket | None = None
        self._camera_pub: zmq.Socket | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._raw_lock = threading.Lock()
        self._raw: dict[str, Any] = {}  # topic -> latest ROS message
        self._raw_count: dict[str, int] = collections.Counter()
        self._lock = threading.RLock()
        self._session: _Session | None = None
        self._targets: dict[str, list[dict[str, Any]]] = {}  # group -> joint entries published to AimDK
        self._gains: dict[str, dict[str, tuple[float, float]]] = {}  # last client gains per group and joint
        self._hand: dict[str, Any] | None = None
        self._velocity: dict[str, float] | None = None
        self._velocity_until = math.inf
        self._safe: str | None = None
        self._replies: collections.OrderedDict[tuple[bytes, int], list[bytes]] = collections.OrderedDict()
        self._sequence = 0
        self.command_endpoint = ""
        self.state_endpoint = ""
        self.camera_endpoint = ""

    # ---- lifecycle -------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Bind the sockets, subscribe to AimDK, start the threads. Port 0 binds a free port (tests)."""
        self._router = self._ctx.socket(zmq.ROUTER)
        self._pub = self._ctx.socket(zmq.PUB)
        self._camera_pub = self._ctx.socket(zmq.PUB)
        for sock in (self._router, self._pub, self._camera_pub):
            sock.setsockopt(zmq.LINGER, 0)
        self._pub.setsockopt(zmq.SNDHWM, 50)
        self._camera_pub.setsockopt(zmq.SNDHWM, 4)
        try:
            self.command_endpoint = self._bind(self._router, self.config.command_port)
            self.state_endpoint = self._bind(self._pub, self.config.state_port)
            self.camera_endpoint = self._bind(self._camera_pub, self.config.camera_port)
        except zmq.ZMQError:
            self._close_sockets()
            raise
        subscriptions = {proto.JOINT_STATE_TOPIC.format(group=g): "joint_state" for g in proto.JOINT_GROUPS}
        subscriptions[proto.HAND_STATE_TOPIC] = "hand_state"
        subscriptions.update({proto.IMU_TOPIC.format(name=n): "imu" for n in proto.IMU_NAMES})
        subscriptions.update({topic: "image" for topic in self._camera_topics.values()})
        self.port.start(subscriptions, self._on_ros_message)
        for target in (self._request_loop, self._state_loop, self._command_loop, self._camera_loop):
            thread = threading.Thread(target=target, name=f"aimdk-bridge{target.__name__}", daemon=True)
            thread.start()
            self._threads.append(thread)
        logger.info(
            "AimDK bridge: requests on %s, state on %s, cameras on %s",
            self.command_endpoint,
            self.state_endpoint,
            self.camera_endpoint,
        )

    def _bind(self, sock: zmq.Socket, port: int) -> str:
        address = f"tcp://{self.config.bind}"
        try:
            if port == 0:
                sock.bind_to_random_port(address)
            else:
                sock.bind(f"{address}:{port}")
        except zmq.ZMQError as exc:
            raise RuntimeError(f"cannot listen on {address}:{port}: {exc} (another bridge running?)") from exc
        return sock.getsockopt(zmq.LAST_ENDPOINT).decode()

    def stop(self) -> None:
        """Leave the robot safe (hold what is commanded, zero velocity), then stop threads and close."""
        if self._stop.is_set():
            return
        with self._lock:
            if self._safe is None and (self._targets or self._velocity is not None):
                self._enter_safe(self._session.safe_action if self._session else "hold", "bridge stopping")
            self._publish_outputs(time.monotonic())
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=2.0)
        self._close_sockets()
        self.port.close()

    def _close_sockets(self) -> None:
        for sock in (self._router, self._pub, self._camera_pub):
            if sock is not None:
                sock.close(0)
        self._ctx.term()

    def serve_forever(self) -> None:
        self.start()
        try:
            while not self._stop.is_set():
                time.sleep(0.2)
        except KeyboardInterrupt:
            logger.info("interrupted")
        finally:
            self.stop()

    # ---- ROS input ----------------------------------------------------------------------------------------------
    def _on_ros_message(self, topic: str, msg: Any) -> None:
        # Called at up to 1 kHz per joint group: store only; translation happens at the state rate.
        with self._raw_lock:
            self._raw[topic] = msg
            self._raw_count[topic] += 1

    def _latest(self, topic: str) -> Any:
        with self._raw_lock:
            return self._raw.get(topic)

    def _group_names(self, group: str) -> list[str] | None:
        msg = self._latest(proto.JOINT_STATE_TOPIC.format(group=group))
        return None if msg is None else [str(j.name) for j in msg.joints]

    def _measured_positions(self) -> dict[str, float]:
        positions = {}
        for group in proto.JOINT_GROUPS:
            msg = self._latest(proto.JOINT_STATE_TOPIC.format(group=group))
            if msg is not None:
                positions.update({str(j.name): float(j.position) for j in msg.joints})
        return positions

    # ---- requests ----------------------------------------------------------------------------------------------
    def _request_loop(self) -> None:
        assert self._router is not None
        poller = zmq.Poller()
        poller.register(self._router, zmq.POLLIN)
        while not self._stop.is_set():
            if not poller.poll(50):
                continue
            frames = self._router.recv_multipart()
            identity, body = frames[0], frames[1:]
            try:
                self._handle(identity, body)
            except Exception:  # a bad message must never stop the bridge
                logger.exception("error while handling a client message")

    def _send(self, identity: bytes, message: dict[str, Any]) -> list[bytes]:
        frames = proto.encode({"v": self.protocol_version, **message})
        assert self._router is not None
        self._router.send_multipart([identity, *frames])
        return frames

    def _handle(self, identity: bytes, body: list[bytes]) -> None:
        try:
            message, _ = proto.decode(body)
        except proto.ProtocolError as exc:
            self._send(identity, {"type": proto.MSG_ERROR, "seq": None, "error": str(exc)})
            return
        kind, request_id = message["type"], message.get("id")
        if message["v"] != self.protocol_version:
            error = (
                f"AimDK bridge protocol version mismatch: bridge speaks v{self.protocol_version}, client "
                f"v{message['v']}. Run the same lerobot_wbvla revision on both sides."
            )
            self._send(
                identity,
                {
                    "type": proto.MSG_REPLY,
                    "id": request_id,
                    "ok": False,
                    "error": error,
                    "protocol": self.protocol_version,
                },
            )
            return
        if kind == proto.MSG_COMMAND:
            try:
                self._handle_command(identity, message)
            except proto.ProtocolError as exc:
                self._send(identity, {"type": proto.MSG_ERROR, "seq": message.get("seq"), "error": str(exc)})
            return
        if kind not in proto.REQUEST_TYPES or not isinstance(request_id, int):
            self._send(
                identity,
                {
                    "type": proto.MSG_ERROR,
                    "seq": None,
                    "error": f"unknown message type {kind!r} or request without integer 'id'",
                },
            )
            return
        key = (identity, request_id)
        if key in self._replies:  # a retried request: answer again, do not act twice
            assert self._router is not None
            self._router.send_multipart([identity, *self._replies[key]])
            return
        try:
            result = getattr(self, f"_on_{kind}")(identity, message)
            reply = {"type": proto.MSG_REPLY, "id": request_id, "ok": True, "result": result}
        except (proto.ProtocolError, ServiceTimeout, RuntimeError, KeyError, ValueError, TypeError) as exc:
            reply = {"type": proto.MSG_REPLY, "id": request_id, "ok": False, "error": str(exc)}
        self._replies[key] = self._send(identity, reply)
        while len(self._replies) > 128:
            self._replies.popitem(last=False)

    def _call(self, name: str, request: Any) -> Any:
        return self.port.call_service(
            proto.SERVICE_PREFIX + name,
            request,
            self.config.service_attempts,
            self.config.service_attempt_timeout_s,
        )

    def _on_hello(self, identity: bytes, message: dict[str, Any]) -> dict[str, Any]:
        proto.validate_hello(message)  # the safe gains reach the joints later, without the client
        safe_action = message.get("safe_action", "hold")
        if safe_action not in proto.SAFE_ACTIONS:
            raise proto.ProtocolError(f"safe_action must be one of {proto.SAFE_ACTIONS}, got {safe_action!r}")
        cameras = {}
        for name, size in (message.get("cameras") or {}).items():
            if name not in self._camera_topics:
                raise proto.ProtocolError(
                    f"camera {name!r} is not served by this bridge (it serves {sorted(self._camera_topics)}; "
                    "start the bridge with --cameras name=topic)"
                )
            cameras[name] = None if size is None else (int(size[0]), int(size[1]))
        safe_gains = {
            group: {e["name"]: (float(e["stiffness"]), float(e["damping"])) for e in entries}
            for group, entries in (message.get("safe_gains") or {}).items()
        }
        timeout = float(message.get("command_timeout_s") or self.config.default_command_timeout_s)
        with self._lock:
            if self._session is not None and self._session.identity != identity:
                logger.warning("new client %r replaces %r", message.get("client"), self._session.client)
            self._session = _Session(
                identity,
                str(message.get("client", "?")),
                timeout,
                safe_action,
                safe_gains,
                str(message.get("input_source", "lerobot_wbvla")),
                cameras,
            )
        hand = self._latest(proto.HAND_STATE_TOPIC)
        return {
            "bridge": BRIDGE_NAME,
            "protocol": self.protocol_version,
            "state_port": int(self.state_endpoint.rsplit(":", 1)[1]),
            "camera_port": int(self.camera_endpoint.rsplit(":", 1)[1]),
            "groups": {g: names for g in proto.JOINT_GROUPS if (names := self._group_names(g)) is not None},
            "hand_types": None
            if hand is None
            else {
                "left": translate.enum_value(hand.left_hand_type),
                "right": translate.enum_value(hand.right_hand_type),
            },
            "cameras": sorted(self._camera_topics),
            "allowed_groups": sorted(self._allowed_groups),
        }

    def _on_ping(self, identity: bytes, message: dict[str, Any]) -> dict[str, Any]:
        return {"time": time.time()}

    def _on_get_mc_action(self, identity: bytes, message: dict[str, Any]) -> dict[str, Any]:
        request = translate.build_get_mc_action_request(self.port.msgs, self.port.now_stamp())
        return translate.parse_get_mc_action_response(self._call("GetMcAction", request))

    def _on_set_mc_action(self, identity: bytes, message: dict[str, Any]) -> dict[str, Any]:
        action = message.get("action")
        source = self._session.input_source if self._session else "lerobot_wbvla"
        request = translate.build_set_mc_action_request(
            self.port.msgs, str(action), source, self.port.now_stamp()
        )
        ok, text = translate.parse_set_mc_action_response(self._call("SetMcAction", request))
        if not ok:
            raise RuntimeError(
                f"MC refused SetMcAction({action}): {text or 'no message'} (AimDK allows only the "
                "transitions of its mode diagram, e.g. PASSIVE -> JOINT_DEFAULT -> STAND_DEFAULT)"
            )
        return {"action": action}

    def _on_set_input_source(self, identity: bytes, message: dict[str, Any]) -> dict[str, Any]:
        op, name = str(message.get("op")), str(message.get("name"))
        request = translate.build_set_input_source_request(
            self.port.msgs,
            op,
            name,
            int(message.get("priority", 40)),
            int(message.get("timeout_ms", 1000)),
            self.port.now_stamp(),
        )
        result = translate.parse_set_input_source_response(self._call("SetMcInputSource", request))
        if result["code"] != 0:
            raise RuntimeError(
                f"SetMcInputSource {op} {name!r} failed with code {result['code']} (ADD of a source "
                "that exists, or MODIFY/ENABLE/DELETE of one that does not?)"
            )
        return result

    def _on_get_hand_type(self, identity: bytes, message: dict[str, Any]) -> dict[str, Any]:
        request = translate.build_get_hand_type_request(self.port.msgs, self.port.now_stamp())
        return translate.parse_get_hand_type_response(self._call("GetHandType", request))

    def _on_safe(self, identity: bytes, message: dict[str, Any]) -> dict[str, Any]:
        action = message.get("action", "hold")
        if action not in proto.SAFE_ACTIONS:
            raise proto.ProtocolError(f"safe action must be one of {proto.SAFE_ACTIONS}, got {action!r}")
        with self._lock:
            held = self._enter_safe(action, "client request")
            self._publish_outputs(time.monotonic())
        return {"action": action, "groups": held}

    def _on_bye(self, identity: bytes, message: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            if self._session is not None and self._session.identity == identity:
                if self._safe is None and (self._targets or self._velocity is not None):
                    self._enter_safe(self._session.safe_action, "client said bye")
                self._session = None
        return {}

    # ---- streaming commands -------------------------------------------------------------------------------------
    def _handle_command(self, identity: bytes, message: dict[str, Any]) -> None:
        proto.validate_command(message)
        with self._lock:
            session = self._session
            if session is None or session.identity != identity:
                raise proto.ProtocolError("command before hello: send a hello request first")
            seq = int(message.get("seq", session.last_seq + 1))
            if seq <= session.last_seq:
                return  # stale (reordered or retransmitted) command
            joints = message.get("joints") or {}
            for group, entries in joints.items():
                if group not in self._allowed_groups:
                    raise proto.ProtocolError(
                        f"commands for joint group {group!r} are refused: the bridge allows {sorted(self._allowed_groups)}"
                        " (leg/waist need MC stopped; start the bridge with --allowed_groups)"
                    )
                expected = self._group_names(group)
                if expected is None:
                    raise proto.ProtocolError(
                        f"no state received yet on {proto.JOINT_STATE_TOPIC.format(group=group)}"
                        "; cannot check the joint order"
                    )
                names = [e["name"] for e in entries]
                if names != expected:
                    raise proto.ProtocolError(
                        f"{group} command joints {names} differ from the robot's order {expected}"
                    )
            session.last_seq = seq
            for group, entries in joints.items():
                self._targets[group] = [dict(e) for e in entries]
                self._gains[group] = {
                    e["name"]: (float(e.get("stiffness", 0.0)), float(e.get("damping", 0.0))) for e in entries
                }
            if message.get("hand") is not None:
                self._hand = dict(message["hand"])
            if message.get("locomotion") is not None:
                self._velocity = {
                    k: float(message["locomotion"].get(k, 0.0)) for k in proto.LOCOMOTION_FIELDS
                }
                self._velocity_until = math.inf
            if self._safe is not None:
                logger.info("command received: leaving safe state %r", self._safe)
            self._safe = None
            session.last_command_t = time.monotonic()

    def _enter_safe(self, action: str, reason: str) -> list[str]:
        """Zero velocity; hold/damp every commanded group (and every group with safe gains) at the measured
        positions. Returns the groups re-targeted. Caller holds `self._lock`."""
        measured = self._measured_positions()
        session_gains = self._session.safe_gains if self._session else {}
        held = []
        for group in sorted(set(self._targets) | set(session_gains)):
            names = self._group_names(group)
            if names is None or any(n not in measured for n in names):
                logger.error("safe state: no measured state of group %s, cannot re-target it", group)
                continue
            gains = {**self._gains.get(group, {}), **session_gains.get(group, {})}
            if any(n not in gains for n in names):
                logger.error("safe state: no gains for every joint of group %s, cannot re-target it", group)
                continue
            self._targets[group] = [
                {
                    "name": n,
                    "position": measured[n],
                    "velocity": 0.0,
                    "effort": 0.0,
                    "stiffness": gains[n][0] if action == "hold" else 0.0,
                    "damping": gains[n][1],
                }
                for n in names
            ]
            held.append(group)
        self._velocity = dict.fromkeys(proto.LOCOMOTION_FIELDS, 0.0)
        self._velocity_until = time.monotonic() + self.config.zero_velocity_s
        if self._safe != action:
            logger.warning(
                "entering safe state %r (%s): groups %s held at measured positions", action, reason, held
            )
        self._safe = action
        return held

    def _publish_outputs(self, now: float) -> None:
        """Publish the current targets, hand command and velocity to AimDK. Caller holds `self._lock`."""
        msgs, stamp = self.port.msgs, self.port.now_stamp()
        self._sequence += 1
        for group, entries in self._targets.items():
            self.port.publish(
                proto.JOINT_COMMAND_TOPIC.format(group=group),
                translate.build_joint_command_array(msgs, entries, stamp, self._sequence),
            )
        if self._hand is not None:
            self.port.publish(
                proto.HAND_COMMAND_TOPIC, translate.build_hand_command_array(msgs, self._hand, stamp)
            )
        if self._velocity is not None and now <= self._velocity_until:
            source = self._session.input_source if self._session else "lerobot_wbvla"
            self.port.publish(
                proto.LOCOMOTION_TOPIC,
                translate.build_locomotion_velocity(msgs, self._velocity, source, stamp),
            )

    def _command_loop(self) -> None:
        period = 1.0 / self.config.command_hz
        next_t = time.monotonic()
        while not self._stop.is_set():
            now = time.monotonic()
            with self._lock:
                session = self._session
                if (
                    session is not None
                    and session.last_command_t is not None
                    and self._safe is None
                    and now - session.last_command_t > session.command_timeout_s
                ):
                    self._enter_safe(
                        session.safe_action, f"watchdog: no command for {now - session.last_command_t:.2f} s"
                    )
                try:
                    self._publish_outputs(now)
                except Exception:
                    logger.exception("publishing to AimDK failed")
            next_t = max(next_t + period, time.monotonic())
            self._stop.wait(max(0.0, next_t - time.monotonic()))

    # ---- state stream ----------------------------------------------------------------------------------------
    def state_message(self) -> dict[str, Any]:
        """The `state` message of the latest AimDK messages."""
        groups = {}
        for group in proto.JOINT_GROUPS:
            msg = self._latest(proto.JOINT_STATE_TOPIC.format(group=group))
            if msg is not None:
                groups[group] = translate.joint_state_array_to_wire(msg)
        hand = self._latest(proto.HAND_STATE_TOPIC)
        imus = {}
        for name in proto.IMU_NAMES:
            msg = self._latest(proto.IMU_TOPIC.format(name=name))
            if msg is not None:
                imus[name] = translate.imu_to_wire(msg)
        return {
            "type": proto.MSG_STATE,
            "time": time.time(),
            "groups": groups,
            "hand": None if hand is None else translate.hand_state_array_to_wire(hand),
            "imu": imus,
            "foot_contact": None,  # AimDK publishes no foot contact; the client derives it from leg efforts
            "safe": self._safe,
        }

    def _state_loop(self) -> None:
        assert self._pub is not None
        period = 1.0 / self.config.state_hz
        seq = 0
        next_t = time.monotonic()
        while not self._stop.is_set():
            seq += 1
            try:
                message = self.state_message()
                message["seq"] = seq
                self._pub.send_multipart(proto.encode({"v": self.protocol_version, **message}), zmq.NOBLOCK)
            except zmq.Again:
                pass
            except Exception:  # an odd AimDK message must not end the state stream
                logger.exception("cannot publish the state")
            next_t = max(next_t + period, time.monotonic())
            self._stop.wait(max(0.0, next_t - time.monotonic()))

    def _camera_loop(self) -> None:
        assert self._camera_pub is not None
        period = 1.0 / self.config.camera_hz
        sent: dict[str, int] = {}
        seq = 0
        while not self._stop.wait(period):
            with self._lock:
                cameras = dict(self._session.cameras) if self._session else {}
            for name, size in cameras.items():
                topic = self._camera_topics[name]
                with self._raw_lock:
                    msg, count = self._raw.get(topic), self._raw_count[topic]
                if msg is None or sent.get(name) == count:
                    continue
                sent[name] = count
                try:
                    header, data = translate.encode_rgb(
                        translate.image_to_rgb(msg), size, self.config.jpeg_quality
                    )
                except Exception:
                    logger.exception("camera %s: cannot convert the image", name)
                    continue
                seq += 1
                header.update(
                    {
                        "type": proto.MSG_IMAGE,
                        "camera": name,
                        "seq": seq,
                        "stamp": translate.stamp_to_float(
                            getattr(getattr(msg, "header", None), "stamp", None)
                        ),
                    }
                )
                try:
                    self._camera_pub.send_multipart(
                        proto.encode({"v": self.protocol_version, **header}, data), zmq.NOBLOCK
                    )
                except zmq.Again:
                    pass  # no room: drop this frame, a newer one follows
