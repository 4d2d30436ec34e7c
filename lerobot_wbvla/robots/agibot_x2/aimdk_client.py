"""The `aimdk` backend of `agibot_x2`: a ZeroMQ client of the AimDK bridge running on the X2's development computer.

Two layers:
- `AimdkClient` speaks the wire protocol of `aimdk_protocol` (handshake with version check, requests with ids,
  timeouts and retries, the streaming command channel, and background reception of state and camera frames);
- `AimdkBackend` implements `backend.X2Backend` on top of it: LeRobot names and units in, AimDK's joint groups
  and conventions out. Arms and grippers go to `/aima/hal/joint/arm/command` and `/aima/hal/joint/hand/command`
  with the robot config's per-joint stiffness/damping; the legs stay with AimDK's own motion control (MC): the
  locomotion command becomes `McLocomotionVelocity` (forward = vx, lateral = vy, angular = yaw rate) from an
  input source registered with `SetMcInputSource`. `loco.height` is ignored: AimDK has no base-height command.

Safety: a client-side watchdog asks the bridge to hold/damp when no command came for `action_timeout_s`; the
bridge has the same watchdog on its side (for a dead client or network), `BRIDGE_WATCHDOG_MARGIN_S` later. `disconnect()` holds (or damps) the arms,
zeroes the velocity, optionally switches MC mode, unregisters the input source, and closes.

Caveat from AimDK's docs: joint-level control of arms and hands is documented with MC stopped; keeping MC's
walking while commanding the arms at HAL level may need AgiBot's system-side adaptation on some releases.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import threading
import time
from typing import Any

import numpy as np
import zmq

from . import aimdk_protocol as proto
from .backend import WholeBodyCommand
from .config_aimdk import AimdkConfig
from .joints import (
    AIMDK_GROUPS,
    ALL_JOINTS,
    ARM_JOINTS,
    FOOT_CONTACT_KEYS,
    STATE_KEYS,
    mjcf_joint_name,
)

logger = logging.getLogger(__name__)


class AimdkVersionError(ConnectionError):
    """The bridge speaks another protocol version than this client."""


class AimdkRequestError(RuntimeError):
    """The bridge answered a request (or a streamed command) with an error."""


# ---------------------------------------------------------------------------------------------------------------
# Protocol client
# ---------------------------------------------------------------------------------------------------------------
class AimdkClient:
    """ZeroMQ client of the AimDK bridge (see `aimdk_protocol` for the messages). Thread-safe."""

    def __init__(
        self,
        host: str,
        command_port: int = proto.COMMAND_PORT,
        state_port: int = proto.STATE_PORT,
        camera_port: int = proto.CAMERA_PORT,
        request_timeout_s: float = 3.0,
        request_retries: int = 2,
    ):
        self.host = host
        self.command_endpoint = f"tcp://{host}:{command_port}"
        self.state_endpoint = f"tcp://{host}:{state_port}"
        self.camera_endpoint = f"tcp://{host}:{camera_port}"
        self.request_timeout_s = request_timeout_s
        self.request_retries = request_retries
        self.hello: dict[str, Any] | None = None
        self._ctx: zmq.Context | None = None
        self._dealer: zmq.Socket | None = None
        self._sock_lock = threading.Lock()
        self._ids = itertools.count(1)
        self._seq = itertools.count(1)
        self._async_errors: list[str] = []
        self._data_lock = threading.Lock()
        self._state: dict[str, Any] | None = None
        self._state_t = 0.0
        self._images: dict[str, tuple[np.ndarray, float]] = {}
        self._stream_error: str | None = None
        self._stop = threading.Event()
        self._receiver: threading.Thread | None = None

    @property
    def is_open(self) -> bool:
        return self._dealer is not None

    def connect(self, hello: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        """Handshake: send `hello`, check the protocol version, subscribe to state and cameras. Raises
        ConnectionError naming the address when no bridge answers within `timeout_s`."""
        if self.is_open:
            raise RuntimeError("AimdkClient is already connected")
        self._ctx = zmq.Context()
        self._dealer = self._ctx.socket(zmq.DEALER)
        self._dealer.setsockopt(zmq.LINGER, 0)
        self._dealer.setsockopt(zmq.SNDHWM, 20)
        self._dealer.connect(self.command_endpoint)
        try:
            attempts = max(1, self.request_retries + 1)
            self.hello = self.request(
                proto.MSG_HELLO, timeout_s=timeout_s / attempts, retries=attempts - 1, **hello
            )
        except Exception:
            self.close()
            raise
        state_sub = self._ctx.socket(zmq.SUB)
        state_sub.setsockopt(zmq.LINGER, 0)
        state_sub.setsockopt(zmq.CONFLATE, 1)  # only the newest state matters
        state_sub.setsockopt(zmq.SUBSCRIBE, b"")
        state_sub.connect(self.state_endpoint)
        camera_sub = self._ctx.socket(zmq.SUB)
        camera_sub.setsockopt(zmq.LINGER, 0)
        camera_sub.setsockopt(zmq.RCVHWM, 4)
        camera_sub.setsockopt(zmq.SUBSCRIBE, b"")
        camera_sub.connect(self.camera_endpoint)
        self._stop.clear()
        self._receiver = threading.Thread(
            target=self._receive_loop, args=(state_sub, camera_sub), name="aimdk-client-rx", daemon=True
        )
        self._receiver.start()
        return self.hello

    def close(self) -> None:
        """Close the sockets (sends nothing; `AimdkBackend.disconnect` makes the robot safe first)."""
        self._stop.set()
        if self._receiver is not None:
            self._receiver.join(timeout=2.0)
            self._receiver = None
        with self._sock_lock:
            if self._dealer is not None:
                self._dealer.close(0)
                self._dealer = None
        if self._ctx is not None:
            self._ctx.term()
            self._ctx = None

    # ---- requests and commands ---------------------------------------------------------------------------------
    def request(
        self, kind: str, timeout_s: float | None = None, retries: int | None = None, **fields: Any
    ) -> dict[str, Any]:
        """Send a request and return the reply's `result`. A try that gets no reply within `timeout_s` is sent
        again with the same id (the bridge answers a repeated id from its cache, so nothing runs twice)."""
        timeout_s = self.request_timeout_s if timeout_s is None else timeout_s
        retries = self.request_retries if retries is None else retries
        request_id = next(self._ids)
        frames = proto.encode({"type": kind, "id": request_id, **fields})
        with self._sock_lock:
            if self._dealer is None:
                raise ConnectionError(f"not connected to the AimDK bridge at {self.command_endpoint}")
            for _ in range(retries + 1):
                self._dealer.send_multipart(frames)
                deadline = time.monotonic() + timeout_s
                while (left := deadline - time.monotonic()) > 0:
                    if not self._dealer.poll(int(left * 1000) + 1):
                        break
                    message = self._receive_locked()
                    if (
                        message is None
                        or message.get("type") != proto.MSG_REPLY
                        or message.get("id") != request_id
                    ):
                        continue
                    if message["v"] != proto.PROTOCOL_VERSION:
                        raise AimdkVersionError(
                            f"the AimDK bridge at {self.command_endpoint} speaks protocol v{message['v']}, this "
                            f"client v{proto.PROTOCOL_VERSION}: run scripts/aimdk_bridge.py from the same "
                            f"lerobot_wbvla revision as this client (bridge says: {message.get('error', '')})"
                        )
                    if not message.get("ok"):
                        raise AimdkRequestError(
                            f"AimDK bridge at {self.command_endpoint}: {kind} failed: {message.get('error')}"
                        )
                    return message.get("result") or {}
        raise ConnectionError(
            f"no answer from an AimDK bridge at {self.command_endpoint} to '{kind}' within "
            f"{retries + 1} x {timeout_s:.2f} s. Is scripts/aimdk_bridge.py running on the robot's development "
            "computer, and are --robot.aimdk.host / --robot.aimdk.command_port and the network right?"
        )

    def _receive_locked(self) -> dict[str, Any] | None:
        assert self._dealer is not None
        try:
            message, _ = proto.decode(self._dealer.recv_multipart(zmq.NOBLOCK))
        except zmq.Again:
            return None
        except proto.ProtocolError as exc:
            logger.warning("malformed message from the AimDK bridge: %s", exc)
            return None
        if message.get("type") == proto.MSG_ERROR:
            self._async_errors.append(f"command seq {message.get('seq')}: {message.get('error')}")
        return message

    def send_command(
        self,
        joints: dict[str, list[dict[str, Any]]] | None = None,
        hand: dict[str, Any] | None = None,
        locomotion: dict[str, float] | None = None,
    ) -> int:
        """Stream one command (no reply). Raises AimdkRequestError if the bridge rejected an earlier one."""
        message: dict[str, Any] = {"type": proto.MSG_COMMAND, "seq": next(self._seq)}
        if joints:
            message["joints"] = joints
        if hand is not None:
            message["hand"] = hand
        if locomotion is not None:
            message["locomotion"] = locomotion
        proto.validate_command(message)
        with self._sock_lock:
            if self._dealer is None:
                raise ConnectionError(f"not connected to the AimDK bridge at {self.command_endpoint}")
            while self._receive_locked() is not None:
                pass
            if self._async_errors:
                errors, self._async_errors = self._async_errors, []
                raise AimdkRequestError(
                    f"AimDK bridge at {self.command_endpoint} rejected " + "; ".join(errors)
                )
            try:
                self._dealer.send_multipart(proto.encode(message), zmq.NOBLOCK)
            except zmq.Again as exc:
                raise ConnectionError(
                    f"the AimDK bridge at {self.command_endpoint} does not take commands "
                    "(send queue full): is it still running?"
                ) from exc
        return message["seq"]

    # ---- streams ---------------------------------------------------------------------------------------------
    def _receive_loop(self, state_sub: zmq.Socket, camera_sub: zmq.Socket) -> None:
        poller = zmq.Poller()
        poller.register(state_sub, zmq.POLLIN)
        poller.register(camera_sub, zmq.POLLIN)
        try:
            while not self._stop.is_set():
                for sock, _ in poller.poll(50):
                    try:
                        message, blob = proto.decode(sock.recv_multipart())
                        proto.check_version(message)
                    except proto.ProtocolError as exc:
                        with self._data_lock:
                            self._stream_error = str(exc)
                        continue
                    now = time.monotonic()
                    if message["type"] == proto.MSG_STATE:
                        with self._data_lock:
                            self._state, self._state_t = message, now
                    elif message["type"] == proto.MSG_IMAGE and blob is not None:
                        image = _decode_image(message, blob)
                        if image is not None:
                            with self._data_lock:
                                self._images[str(message["camera"])] = (image, now)
        finally:
            state_sub.close(0)
            camera_sub.close(0)

    def latest_state(self) -> tuple[dict[str, Any] | None, float]:
        """Newest state message and its age in seconds (inf when none yet)."""
        with self._data_lock:
            if self._stream_error:
                raise AimdkVersionError(f"state stream from {self.state_endpoint}: {self._stream_error}")
            if self._state is None:
                return None, float("inf")
            return self._state, time.monotonic() - self._state_t

    def latest_image(self, camera: str) -> tuple[np.ndarray | None, float]:
        with self._data_lock:
            if camera not in self._images:
                return None, float("inf")
            image, t = self._images[camera]
            return image, time.monotonic() - t

    def wait_for_state(self, timeout_s: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            state, _ = self.latest_state()
            if state is not None:
                return state
            time.sleep(0.01)
        announced = (self.hello or {}).get("state_port")
        raise ConnectionError(
            f"the AimDK bridge at {self.command_endpoint} answered, but no state arrived on {self.state_endpoint} "
            f"within {timeout_s:.1f} s (the bridge publishes state on port {announced}; check "
            "--robot.aimdk.state_port and that AimDK publishes /aima/hal/joint/*/state)"
        )

    def wait_for_images(self, cameras: tuple[str, ...], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while missing := [name for name in cameras if self.latest_image(name)[0] is None]:
            if time.monotonic() > deadline:
                raise ConnectionError(
                    f"no image of camera(s) {missing} arrived on {self.camera_endpoint} within {timeout_s:.1f} s "
                    f"(the bridge publishes cameras on port {(self.hello or {}).get('camera_port')}; check "
                    "--robot.aimdk.camera_port and the bridge's --cameras topics)"
                )
            time.sleep(0.01)


def _decode_image(header: dict[str, Any], blob: bytes) -> np.ndarray | None:
    height, width = int(header["height"]), int(header["width"])
    if header.get("encoding") == "rgb8":
        if len(blob) != height * width * 3:
            logger.warning(
                "camera %s: %d bytes for %dx%d rgb8", header.get("camera"), len(blob), height, width
            )
            return None
        return np.frombuffer(blob, dtype=np.uint8).reshape(height, width, 3).copy()
    if header.get("encoding") == "jpeg":
        import cv2

        bgr = cv2.imdecode(np.frombuffer(blob, dtype=np.uint8), cv2.IMREAD_COLOR)
        return None if bgr is None else np.ascontiguousarray(bgr[:, :, ::-1])
    logger.warning("camera %s: unknown encoding %r", header.get("camera"), header.get("encoding"))
    return None


# ---------------------------------------------------------------------------------------------------------------
# LeRobot backend
# ---------------------------------------------------------------------------------------------------------------
_GRIPPER_SIDES = {"left_gripper": "left", "right_gripper": "right"}
# The bridge's own watchdog is the backstop for a dead client or link; it waits this much longer than the client's
# watchdog (the primary one) so that the two do not race.
BRIDGE_WATCHDOG_MARGIN_S = 0.2


def as_aimdk_config(value: Any) -> AimdkConfig:
    """The `AimdkConfig` of `robot_config.aimdk`: itself, or built from the same-named fields of another config
    object (so an older robot config with fewer fields still works, with the defaults here for the rest)."""
    if isinstance(value, AimdkConfig):
        return value
    names = {f.name for f in dataclasses.fields(AimdkConfig)}
    return AimdkConfig(**{name: getattr(value, name) for name in names if hasattr(value, name)})


def arm_gains(robot_config: Any) -> dict[str, tuple[float, float]]:
    """(stiffness, damping) of each arm joint: the twin's gains (mjcf.default_gains) with the robot config's
    `kp` / `kd` overrides by joint name, the same numbers the sim backend uses."""
    from .mjcf import default_gains

    defaults = default_gains()
    kp, kd = dict(getattr(robot_config, "kp", {}) or {}), dict(getattr(robot_config, "kd", {}) or {})
    return {j: (float(kp.get(j, defaults[j][0])), float(kd.get(j, defaults[j][1]))) for j in ARM_JOINTS}


def group_commands(
    targets: dict[str, float], gains: dict[str, tuple[float, float]]
) -> dict[str, list[dict[str, Any]]]:
    """Protocol joint commands (`JointCommandArray.joints` per AimDK group, in AimDK's order) for position targets
    by LeRobot joint name with (stiffness, damping) per joint. AimDK commands whole groups, so every group touched
    must be complete."""
    unknown = set(targets) - {j for joints in AIMDK_GROUPS.values() for j in joints}
    if unknown:
        raise KeyError(f"not X2 body joints: {sorted(unknown)}")
    groups = {}
    for group, joints in AIMDK_GROUPS.items():
        present = [j for j in joints if j in targets]
        if not present:
            continue
        if len(present) != len(joints):
            raise KeyError(
                f"AimDK commands the {group} group whole; missing targets for "
                f"{[j for j in joints if j not in targets]}"
            )
        groups[group] = [
            {
                "name": mjcf_joint_name(j),
                "position": float(targets[j]),
                "velocity": 0.0,
                "effort": 0.0,
                "stiffness": float(gains[j][0]),
                "damping": float(gains[j][1]),
            }
            for j in joints
        ]
    return groups


class AimdkBackend:
    """`X2Backend` for the real X2 through the AimDK bridge (see the module docstring)."""

    def __init__(self, config: Any):
        self.config = config
        self.settings = as_aimdk_config(config.aimdk)
        self.gains = arm_gains(config)
        self.timeout_s = float(config.command_timeout_s)
        self.cameras = tuple(config.camera_names)
        self.camera_size = tuple(int(v) for v in config.head_camera)
        self.client: AimdkClient | None = None
        self._grippers_present = {side: False for side in _GRIPPER_SIDES.values()}
        self._gripper_prev: dict[str, tuple[float, float, float]] = {}  # side -> (time, closure, velocity)
        self._missing_warned: set[str] = set()
        self._height_warned = False
        self._input_source_registered = False
        self._last_command_t: float | None = None
        self._watchdog_tripped = False
        self._watchdog_stop = threading.Event()
        self._watchdog: threading.Thread | None = None

    @property
    def is_connected(self) -> bool:
        return self.client is not None and self.client.is_open

    # ---- connect / disconnect ----------------------------------------------------------------------------------
    def connect(self) -> None:
        if self.is_connected:
            return
        if self.timeout_s <= 0:
            raise ValueError(
                "--robot.action_timeout_s must be > 0 with --robot.backend=aimdk: the watchdog that "
                "stops the real robot when commands stop cannot be disabled"
            )
        s = self.settings
        client = AimdkClient(
            s.host, s.command_port, s.state_port, s.camera_port, s.request_timeout_s, s.request_retries
        )
        hello = {
            "client": "lerobot_wbvla.AimdkBackend",
            "command_timeout_s": self.timeout_s + BRIDGE_WATCHDOG_MARGIN_S,
            "safe_action": self.config.on_timeout,
            "safe_gains": {
                "arm": [
                    {"name": mjcf_joint_name(j), "stiffness": kp, "damping": kd}
                    for j, (kp, kd) in self.gains.items()
                ]
            },
            "input_source": s.input_source,
            "cameras": {name: list(self.camera_size) for name in self.cameras},
        }
        client.connect(hello, s.connect_timeout_s)
        self.client = client
        try:
            state = client.wait_for_state(s.connect_timeout_s)
            client.wait_for_images(self.cameras, s.connect_timeout_s)
            self._check_layout(state)
            self._ensure_standing()
            self._register_input_source()
            self.hold()
        except BaseException:
            self._close_client()
            raise
        self._watchdog_stop.clear()
        self._watchdog = threading.Thread(target=self._watchdog_loop, name="aimdk-watchdog", daemon=True)
        self._watchdog.start()
        logger.info("connected to the AimDK bridge at %s", client.command_endpoint)

    def _check_layout(self, state: dict[str, Any]) -> None:
        """The robot's joint groups must be AimDK's documented layout, or commands would go to wrong joints."""
        groups = state.get("groups") or {}
        for group, joints in AIMDK_GROUPS.items():
            expected = [mjcf_joint_name(j) for j in joints]
            if group not in groups:
                if group == "arm":
                    raise ConnectionError(
                        "the AimDK bridge reports no /aima/hal/joint/arm/state: cannot drive the "
                        "arms (is the HAL running on the robot?)"
                    )
                logger.warning("no /aima/hal/joint/%s/state from the robot: its joints read as 0", group)
                continue
            names = [j["name"] for j in groups[group]["joints"]]
            if names != expected:
                raise ConnectionError(
                    f"the robot's {group} joints are {names}, expected AimDK's layout {expected}; "
                    "this client does not know this X2 variant"
                )
        hand = state.get("hand") or {}
        for side in ("left", "right"):
            hand_type = int(hand.get(f"{side}_hand_type", proto.HAND_TYPES["NONE"]))
            if hand_type == proto.HAND_TYPES["DEXTEROUS"]:
                raise ConnectionError(
                    f"the {side} hand is an OmniHand (dexterous, 10 joints); agibot_x2 drives "
                    "1-DoF OmniPicker grippers only"
                )
            self._grippers_present[side] = hand_type == proto.HAND_TYPES["GRIPPER"]
            if not self._grippers_present[side]:
                logger.warning(
                    "no OmniPicker on the %s hand (HandType %d): %s_gripper reads 0 and its commands "
                    "are dropped",
                    side,
                    hand_type,
                    side,
                )

    def _ensure_standing(self) -> None:
        assert self.client is not None
        mode = self.client.request(proto.MSG_GET_MC_ACTION)["action"]
        if mode in proto.STANDING_MC_ACTIONS:
            return
        if not self.settings.auto_stand:
            raise ConnectionError(
                f"AimDK motion control is in {mode}, not standing: stand the robot up (remote: JOINT_DEFAULT then "
                "STAND_DEFAULT with both feet on the ground) or pass --robot.aimdk.auto_stand=true"
            )
        sequence = ["STAND_DEFAULT"] if mode == "JOINT_DEFAULT" else ["JOINT_DEFAULT", "STAND_DEFAULT"]
        for action in sequence:
            logger.warning("AimDK: switching MC to %s (auto_stand)", action)
            self.client.request(proto.MSG_SET_MC_ACTION, action=action)
            self._wait_mode(action, timeout_s=10.0)

    def _wait_mode(self, action: str, timeout_s: float) -> None:
        assert self.client is not None
        deadline = time.monotonic() + timeout_s
        while True:
            info = self.client.request(proto.MSG_GET_MC_ACTION)
            if info["action"] == action and info.get("status") != 200:  # 200 = TRANSITION
                return
            if time.monotonic() > deadline:
                raise ConnectionError(
                    f"AimDK MC did not reach {action} within {timeout_s:.0f} s (it reports "
                    f"{info['action']}, status {info.get('status')})"
                )
            time.sleep(0.2)

    def _register_input_source(self) -> None:
        assert self.client is not None
        s = self.settings
        fields = {
            "name": s.input_source,
            "priority": s.input_source_priority,
            "timeout_ms": s.input_source_timeout_ms,
        }
        try:
            self.client.request(proto.MSG_SET_INPUT_SOURCE, op="ADD", **fields)
        except (
            AimdkRequestError
        ):  # already registered (e.g. a previous session): update it and make sure it is on
            self.client.request(proto.MSG_SET_INPUT_SOURCE, op="MODIFY", **fields)
            try:
                self.client.request(proto.MSG_SET_INPUT_SOURCE, op="ENABLE", **fields)
            except AimdkRequestError as exc:
                logger.info("ENABLE of input source %r: %s", s.input_source, exc)
        self._input_source_registered = True

    def disconnect(self) -> None:
        if self.client is None:
            return
        self._watchdog_stop.set()
        if self._watchdog is not None:
            self._watchdog.join(timeout=2.0)
            self._watchdog = None
        client, s = self.client, self.settings
        try:
            # A live bridge answers `safe` at once; do not wait long for a dead one (its watchdog acts anyway).
            client.request(
                proto.MSG_SAFE,
                timeout_s=min(1.0, s.request_timeout_s),
                retries=1,
                action=self.config.on_disconnect,
            )
            if s.disconnect_mc_action:
                client.request(proto.MSG_SET_MC_ACTION, action=s.disconnect_mc_action)
            if self._input_source_registered:
                client.request(
                    proto.MSG_SET_INPUT_SOURCE,
                    op="DELETE",
                    name=s.input_source,
                    priority=s.input_source_priority,
                    timeout_ms=s.input_source_timeout_ms,
                )
            client.request(proto.MSG_BYE)
        except (ConnectionError, AimdkRequestError) as exc:
            logger.error("AimDK disconnect could not finish (%s); the bridge's watchdog holds the robot", exc)
        finally:
            self._close_client()

    def _close_client(self) -> None:
        if self.client is not None:
            self.client.close()
        self.client = None
        self._input_source_registered = False

    # ---- safety ----------------------------------------------------------------------------------------------
    def hold(self) -> None:
        self._request_safe("hold")

    def damp(self) -> None:
        self._request_safe("damp")

    def _request_safe(self, action: str) -> None:
        self._require_client().request(proto.MSG_SAFE, action=action)

    def _watchdog_loop(self) -> None:
        period = min(0.02, self.timeout_s / 5)
        while not self._watchdog_stop.wait(period):
            last = self._last_command_t
            if last is None or self._watchdog_tripped or time.monotonic() - last <= self.timeout_s:
                continue
            self._watchdog_tripped = True
            logger.warning(
                "no command for %.2f s: AimDK robot goes to %s",
                time.monotonic() - last,
                self.config.on_timeout,
            )
            try:
                self._request_safe(self.config.on_timeout)
            except (ConnectionError, AimdkRequestError) as exc:
                logger.error("watchdog could not reach the bridge (%s); the bridge's own watchdog acts", exc)

    # ---- commands ----------------------------------------------------------------------------------------------
    def send_command(self, command: WholeBodyCommand) -> None:
        client = self._require_client()
        s = self.settings
        if set(command.arm_targets) != set(ARM_JOINTS):
            raise KeyError(
                f"arm targets must name exactly the 14 arm joints, got {sorted(command.arm_targets)}"
            )
        joints = group_commands(command.arm_targets, self.gains)
        hand: dict[str, Any] | None = None
        if any(self._grippers_present.values()):
            hand = {}
            for gripper, side in _GRIPPER_SIDES.items():
                present = self._grippers_present[side] and gripper in command.grippers
                hand[f"{side}_hand_type"] = (
                    proto.HAND_TYPES["GRIPPER"] if present else proto.HAND_TYPES["NONE"]
                )
                hand[f"{side}_hands"] = (
                    [
                        {
                            "name": f"{side}_hand",
                            "position": 1.0
                            - min(1.0, max(0.0, float(command.grippers[gripper]))),  # AimDK: 1 = open
                            "velocity": s.gripper_speed,
                            "acceleration": s.gripper_speed,
                            "deceleration": s.gripper_speed,
                            "effort": s.gripper_effort,
                        }
                    ]
                    if present
                    else []
                )

        def deadband(v: float) -> float:
            return 0.0 if abs(v) < s.velocity_deadband else float(v)

        loco = command.loco
        locomotion = {
            "forward_velocity": deadband(loco.vx),
            "lateral_velocity": deadband(loco.vy),
            "angular_velocity": deadband(loco.yaw_rate),
        }
        if loco.height != 0.0 and not self._height_warned:
            self._height_warned = True
            logger.warning(
                "loco.height=%.3f is ignored on the real X2: AimDK's McLocomotionVelocity has no height",
                loco.height,
            )
        client.send_command(joints=joints, hand=hand, locomotion=locomotion)
        self._last_command_t = time.monotonic()
        self._watchdog_tripped = False

    # ---- observations ----------------------------------------------------------------------------------------
    def read_state(self) -> dict[str, float]:
        client = self._require_client()
        state, age = client.latest_state()
        if state is None or age > self.settings.state_timeout_s:
            raise ConnectionError(
                f"no fresh state from the AimDK bridge on {client.state_endpoint}: newest is {age:.2f} s old "
                f"(limit --robot.aimdk.state_timeout_s={self.settings.state_timeout_s}); is the bridge running?"
            )
        obs = dict.fromkeys(STATE_KEYS, 0.0)
        seen: set[str] = set()
        for group in (state.get("groups") or {}).values():
            for joint in group["joints"]:
                name = joint["name"].removesuffix("_joint")
                if f"{name}.pos" in obs:
                    obs[f"{name}.pos"] = float(joint["position"])
                    obs[f"{name}.vel"] = float(joint["velocity"])
                    seen.add(name)
        self._read_grippers(state, obs, seen)
        missing = set(ALL_JOINTS) - seen - self._missing_warned
        if missing:
            self._missing_warned |= missing
            logger.warning("the AimDK state lacks %s: reported as 0", sorted(missing))
        self._read_imu(state, obs)
        self._read_contacts(state, obs)
        return obs

    def _read_grippers(self, state: dict[str, Any], obs: dict[str, float], seen: set[str]) -> None:
        hand = state.get("hand") or {}
        now = float(state.get("time", time.time()))
        for gripper, side in _GRIPPER_SIDES.items():
            entries = hand.get(f"{side}_hands") or []
            if not self._grippers_present[side] or not entries:
                continue
            closure = 1.0 - min(
                1.0, max(0.0, float(entries[0]["position"]))
            )  # AimDK 1 = open; LeRobot 1 = closed
            t0, c0, v0 = self._gripper_prev.get(side, (now, closure, 0.0))
            velocity = (closure - c0) / (now - t0) if now > t0 else v0
            self._gripper_prev[side] = (now, closure, velocity)
            obs[f"{gripper}.pos"], obs[f"{gripper}.vel"] = closure, velocity
            seen.add(gripper)

    def _read_imu(self, state: dict[str, Any], obs: dict[str, float]) -> None:
        imu = (state.get("imu") or {}).get(self.settings.imu)
        if imu is None:
            if "imu" not in self._missing_warned:
                self._missing_warned.add("imu")
                logger.warning(
                    "no /aima/hal/imu/%s/state from the robot: imu.* reads identity", self.settings.imu
                )
            obs["imu.quat_w"] = 1.0
            return
        q, w, a = imu["orientation"], imu["angular_velocity"], imu["linear_acceleration"]
        obs.update(
            {
                "imu.quat_w": q["w"],
                "imu.quat_x": q["x"],
                "imu.quat_y": q["y"],
                "imu.quat_z": q["z"],
                "imu.gyro_x": w["x"],
                "imu.gyro_y": w["y"],
                "imu.gyro_z": w["z"],
                "imu.acc_x": a["x"],
                "imu.acc_y": a["y"],
                "imu.acc_z": a["z"],
            }
        )

    def _read_contacts(self, state: dict[str, Any], obs: dict[str, float]) -> None:
        measured = state.get("foot_contact")
        if measured:
            for key in FOOT_CONTACT_KEYS:
                obs[key] = float(bool(measured.get(key.removeprefix("foot_contact."), 0)))
            return
        # AimDK publishes no contact: a stance leg carries body weight through its knee.
        limit = self.settings.contact_knee_effort_nm
        efforts = {
            j["name"]: abs(float(j.get("effort", 0.0)))
            for j in ((state.get("groups") or {}).get("leg") or {}).get("joints", [])
        }
        for side in ("left", "right"):
            contact = float(efforts.get(f"{side}_knee_joint", 0.0) >= limit)
            obs[f"foot_contact.{side}_heel"] = obs[f"foot_contact.{side}_toe"] = contact

    def read_cameras(self) -> dict[str, np.ndarray]:
        client = self._require_client()
        images = {}
        for name in self.cameras:
            image, age = client.latest_image(name)
            if image is None or age > self.settings.camera_timeout_s:
                raise ConnectionError(
                    f"no fresh '{name}' image from the AimDK bridge on {client.camera_endpoint} (newest {age:.2f} s "
                    f"old, limit {self.settings.camera_timeout_s} s): does the robot publish that camera topic?"
                )
            if image.shape[:2] != self.camera_size:
                import cv2

                image = cv2.resize(
                    image, (self.camera_size[1], self.camera_size[0]), interpolation=cv2.INTER_AREA
                )
            images[name] = image
        return images

    def _require_client(self) -> AimdkClient:
        if self.client is None:
            raise ConnectionError("the aimdk backend is not connected: call connect() first")
        return self.client
