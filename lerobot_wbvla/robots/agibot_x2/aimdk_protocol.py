"""Wire protocol between the LeRobot-side AimDK client and the bridge on the X2's development computer.

Why a protocol of our own: ROS 2 (and therefore AimDK's `aimdk_msgs`) cannot be installed next to LeRobot on the
training/inference machine, so a small bridge process on the robot's development computer (PC2, 10.0.1.41)
speaks AimDK's ROS 2 topics and services, and talks to LeRobot over ZeroMQ with the messages defined here.

Rules of the protocol (version `PROTOCOL_VERSION`):

- Transport: ZeroMQ. The bridge binds a ROUTER socket on `COMMAND_PORT` (requests, replies and the streaming
  command channel), a PUB socket on `STATE_PORT` (state stream) and a PUB socket on `CAMERA_PORT` (camera frames).
  The client connects a DEALER and two SUB sockets.
- Encoding: every message is a JSON object (UTF-8) in the first ZeroMQ frame. A camera frame carries its pixels in
  a second frame (JPEG or raw rgb8 bytes). Never pickle: a message from the network must not be able to run code.
- Envelope: every message has `v` (protocol version), `type` (one of the `MSG_*` names below); requests carry an
  integer `id` that the reply repeats; streaming commands carry an increasing `seq`.
- Content: the payloads mirror AimDK's ROS messages field by field (`JointCommandArray.joints[]` as a list of
  `{name, position, velocity, effort, stiffness, damping}`, `HandCommandArray`, `McLocomotionVelocity`, ...),
  with AimDK's joint names (`left_knee_joint`) and AimDK's units and conventions (an OmniPicker position of 1.0 is
  *fully open*). The bridge only translates JSON <-> ROS objects; meaning (LeRobot names, gripper closure) is the
  client's job. See `docs` of each `MSG_*` constant for the fields.

This module is deliberately standard-library only and Python 3.10 compatible: `scripts/aimdk_bridge.py` loads it by
file path on the robot (ROS 2 Humble ships Python 3.10), without importing the rest of `lerobot_wbvla`.
"""

from __future__ import annotations

import json
import math
from typing import Any

PROTOCOL_VERSION = 1
"""Bump on any incompatible change of a message; client and bridge refuse to talk across versions."""

COMMAND_PORT = 6100
STATE_PORT = 6101
CAMERA_PORT = 6102

# ---- message types -------------------------------------------------------------------------------------------
MSG_HELLO = "hello"
"""client -> bridge request. Fields: `client` (str), `command_timeout_s` (float, watchdog), `safe_action`
("hold" | "damp"), `safe_gains` ({group: [{name, stiffness, damping}]}: gains used to hold before any command),
`input_source` (str, McLocomotionVelocity.source), `cameras` ({name: [height, width] | null}).
Reply result: `bridge` (str), `protocol` (int), `state_port`, `camera_port` (int, as bound), `groups` ({group: [joint names]} seen so far),
`hand_types` ({"left": int, "right": int} | null), `cameras` ([names]), `allowed_groups` ([groups]).
A hello whose timeout or safe gains are not finite (or negative) is refused (`validate_hello`)."""
MSG_PING = "ping"
"""client -> bridge request, no fields; reply result `{"time": bridge time}`."""
MSG_GET_MC_ACTION = "get_mc_action"
"""client -> bridge request (GetMcAction). Reply result: `action` (name or "UNKNOWN(<value>)"), `value` (int),
`status` (int: 0 IDLE, 100 RUNNING, 200 TRANSITION)."""
MSG_SET_MC_ACTION = "set_mc_action"
"""client -> bridge request (SetMcAction). Field `action`: a name of `MC_ACTIONS`."""
MSG_SET_INPUT_SOURCE = "set_input_source"
"""client -> bridge request (SetMcInputSource). Fields: `op` (name of `INPUT_SOURCE_OPS`), `name`, `priority`,
`timeout_ms`. Reply result: `code` (ResponseHeader.code, 0 = success), `task_id`."""
MSG_GET_HAND_TYPE = "get_hand_type"
"""client -> bridge request (GetHandType). Reply result `{"left": int, "right": int}` (see `HAND_TYPES`)."""
MSG_SAFE = "safe"
"""client -> bridge request: enter the safe state now. Field `action` ("hold" | "damp"). The bridge zeroes the
locomotion velocity and re-targets every joint group it commands to the *measured* positions, with the last
stiffness (hold) or stiffness 0 and the last damping (damp). The next `command` leaves the safe state."""
MSG_BYE = "bye"
"""client -> bridge request: end of session (the bridge keeps the safe state it is in)."""
MSG_COMMAND = "command"
"""client -> bridge streaming message, no reply. Fields (each optional): `seq` (int, increasing),
`joints` ({group: [{name, position, velocity, effort, stiffness, damping}]} in AimDK order),
`hand` ({left_hand_type, left_hands: [{name, position, velocity, acceleration, deceleration, effort}],
right_hand_type, right_hands: [...]}), `locomotion` ({forward_velocity, lateral_velocity, angular_velocity}).
An invalid command is answered by an `error` message carrying its `seq`."""
MSG_REPLY = "reply"
"""bridge -> client: `id` of the request, `ok` (bool), `result` (object) or `error` (str)."""
MSG_ERROR = "error"
"""bridge -> client, asynchronous: a streaming command was rejected. Fields `seq`, `error`."""
MSG_STATE = "state"
"""bridge -> clients (PUB). Fields: `seq`, `time` (bridge clock, s), `groups` ({group: {stamp, state,
joints: [{name, position, velocity, effort, error_code}]}}), `hand` (HandStateArray fields or null),
`imu` ({"torso"|"chest": {stamp, orientation: {x,y,z,w}, angular_velocity: {x,y,z},
linear_acceleration: {x,y,z}}}), `foot_contact` ({left_heel, left_toe, right_heel, right_toe} or null when the
robot does not measure it: AimDK publishes no contact topic), `safe` (null or the safe action in force)."""
MSG_IMAGE = "image"
"""bridge -> clients (camera PUB), two frames: header {`camera`, `seq`, `stamp`, `encoding` ("jpeg" | "rgb8"), `height`,
`width`} and the pixel bytes."""

REQUEST_TYPES = frozenset(
    {
        MSG_HELLO,
        MSG_PING,
        MSG_GET_MC_ACTION,
        MSG_SET_MC_ACTION,
        MSG_SET_INPUT_SOURCE,
        MSG_GET_HAND_TYPE,
        MSG_SAFE,
        MSG_BYE,
    }
)
SAFE_ACTIONS = ("hold", "damp")

# ---- AimDK constants (AimDK X2 docs, 5.1 "control_mod" and aimdk_msgs v1.0) ------------------------------------
JOINT_GROUPS = ("leg", "waist", "arm", "head")
"""Joint groups of `/aima/hal/joint/<group>/{command,state}`; the joint order inside each is the robot's."""
JOINT_COMMAND_TOPIC = "/aima/hal/joint/{group}/command"
JOINT_STATE_TOPIC = "/aima/hal/joint/{group}/state"
HAND_COMMAND_TOPIC = "/aima/hal/joint/hand/command"
HAND_STATE_TOPIC = "/aima/hal/joint/hand/state"
LOCOMOTION_TOPIC = "/aima/mc/locomotion/velocity"
IMU_TOPIC = "/aima/hal/imu/{name}/state"
IMU_NAMES = ("torso", "chest")
HEAD_RGB_TOPIC = "/aima/hal/sensor/rgbd_head_front/rgb_image"
SERVICE_PREFIX = "/aimdk_5Fmsgs/srv/"  # AimDK's mangled `aimdk_msgs` prefix, as in its examples

MC_ACTIONS: dict[str, int] = {
    "PASSIVE_DEFAULT": 1,
    "SOFT_EMERGENCY_STOP": 2,
    "DAMPING_DEFAULT": 3,
    "ZERO_TORQUE_DEFAULT": 4,
    "JOINT_DEFAULT": 100,
    "JOINT_FREEZE": 101,
    "STAND_DEFAULT": 200,
    "STAND_BODY_CONTROL": 201,
    "LOCOMOTION_DEFAULT": 300,
    "RUN_DEFAULT": 301,
    "LOCOMOTION_STEP": 302,
}
"""McAction values (AimDK `SetMcAction`). Velocity commands need STAND_DEFAULT or LOCOMOTION_DEFAULT (MC switches
between the two by itself); STAND_DEFAULT is reached from JOINT_DEFAULT with both feet on the ground."""
MC_ACTION_NAMES = {value: name for name, value in MC_ACTIONS.items()}
STANDING_MC_ACTIONS = ("STAND_DEFAULT", "LOCOMOTION_DEFAULT")

INPUT_SOURCE_OPS: dict[str, int] = {
    "ADD": 1001,
    "MODIFY": 1002,
    "DELETE": 1003,
    "ENABLE": 2001,
    "DISABLE": 2002,
}
"""McInputAction values of `SetMcInputSource`; a source must be added before MC accepts its velocity commands."""

HAND_TYPES: dict[str, int] = {"NONE": 0, "DEXTEROUS": 1, "GRIPPER": 2, "ERROR": 0xFF}
"""HandType values: 1 = OmniHand dexterous hand (10 joints), 2 = OmniPicker gripper (1 joint, 1.0 = fully open)."""

COMMON_STATE_SUCCESS = 1  # CommonState.SUCCESS


class ProtocolError(ValueError):
    """A message that does not follow this protocol (bad JSON, missing field, wrong version, bad value)."""


def encode(message: dict[str, Any], blob: bytes | None = None) -> list[bytes]:
    """Frames of one message: the JSON object (with `v` set) and, for camera frames, the pixel bytes."""
    body = dict(message)
    body.setdefault("v", PROTOCOL_VERSION)
    if "type" not in body:
        raise ProtocolError(f"message without 'type': {sorted(body)}")
    frames = [json.dumps(body, separators=(",", ":"), allow_nan=False).encode("utf-8")]
    if blob is not None:
        frames.append(bytes(blob))
    return frames


def decode(frames: list[bytes]) -> tuple[dict[str, Any], bytes | None]:
    """Message and optional pixel bytes from received frames. Raises ProtocolError on anything malformed; the
    version is *not* checked here (`check_version` does), so that a peer can answer a mismatch clearly."""
    if not frames or len(frames) > 2:
        raise ProtocolError(f"expected 1 or 2 frames, got {len(frames)}")
    try:
        message = json.loads(frames[0].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"message is not UTF-8 JSON: {exc}") from exc
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise ProtocolError("message is not a JSON object with a string 'type'")
    if not isinstance(message.get("v"), int):
        raise ProtocolError("message has no integer protocol version 'v'")
    return message, (frames[1] if len(frames) == 2 else None)


def check_version(message: dict[str, Any], expected: int = PROTOCOL_VERSION) -> None:
    """Raise ProtocolError naming both versions when a peer speaks another protocol version."""
    got = message.get("v")
    if got != expected:
        raise ProtocolError(
            f"AimDK bridge protocol version mismatch: peer speaks v{got}, this side v{expected}. Use the same "
            "lerobot_wbvla revision for scripts/aimdk_bridge.py on the robot and for the client."
        )


def _finite(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ProtocolError(f"{where} must be a finite number, got {value!r}")
    return float(value)


JOINT_COMMAND_FIELDS = ("position", "velocity", "effort", "stiffness", "damping")
HAND_COMMAND_FIELDS = ("position", "velocity", "acceleration", "deceleration", "effort")
LOCOMOTION_FIELDS = ("forward_velocity", "lateral_velocity", "angular_velocity")


def validate_hello(message: dict[str, Any]) -> None:
    """Check the numbers of a `hello` that the bridge acts on later without the client: the watchdog timeout and
    the safe gains it holds real joints with when the client goes silent. A NaN stiffness here would reach the
    joints on the first watchdog trip, a NaN timeout would never trip (every comparison with NaN is false)."""
    timeout = message.get("command_timeout_s")
    if timeout is not None and _finite(timeout, "command_timeout_s") < 0:
        raise ProtocolError(f"command_timeout_s must be >= 0 s (0: the bridge's default), got {timeout!r}")
    gains = message.get("safe_gains") or {}
    if not isinstance(gains, dict):
        raise ProtocolError("'safe_gains' must be an object {group: [{name, stiffness, damping}]}")
    for group, entries in gains.items():
        if group not in JOINT_GROUPS:
            raise ProtocolError(
                f"safe_gains: unknown joint group {group!r}; AimDK groups are {', '.join(JOINT_GROUPS)}"
            )
        if not isinstance(entries, list):
            raise ProtocolError(f"safe_gains[{group!r}] must be a list of {{name, stiffness, damping}}")
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                raise ProtocolError(f"safe_gains[{group!r}][{i}] needs a string 'name'")
            for key in ("stiffness", "damping"):
                where = f"safe_gains[{group!r}][{i}] ({entry['name']}).{key}"
                if _finite(entry.get(key), where) < 0:
                    raise ProtocolError(f"{where} must be >= 0, got {entry[key]!r}")


def validate_command(message: dict[str, Any]) -> None:
    """Check the shape and numbers of a `command` message (not the joint order, which only the robot knows)."""
    joints = message.get("joints") or {}
    if not isinstance(joints, dict):
        raise ProtocolError("'joints' must be an object {group: [joint commands]}")
    for group, entries in joints.items():
        if group not in JOINT_GROUPS:
            raise ProtocolError(f"unknown joint group {group!r}; AimDK groups are {', '.join(JOINT_GROUPS)}")
        if not isinstance(entries, list) or not entries:
            raise ProtocolError(f"joints[{group!r}] must be a non-empty list")
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                raise ProtocolError(f"joints[{group!r}][{i}] needs a string 'name'")
            for key in JOINT_COMMAND_FIELDS:
                _finite(entry.get(key, 0.0), f"joints[{group!r}][{i}] ({entry['name']}).{key}")
            if entry.get("stiffness", 0.0) < 0 or entry.get("damping", 0.0) < 0:
                raise ProtocolError(
                    f"joints[{group!r}][{i}] ({entry['name']}): stiffness/damping must be >= 0"
                )
    hand = message.get("hand")
    if hand is not None:
        if not isinstance(hand, dict):
            raise ProtocolError("'hand' must be an object with HandCommandArray fields")
        for side in ("left", "right"):
            for i, entry in enumerate(hand.get(f"{side}_hands") or []):
                if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                    raise ProtocolError(f"hand.{side}_hands[{i}] needs a string 'name'")
                for key in HAND_COMMAND_FIELDS:
                    _finite(entry.get(key, 0.0), f"hand.{side}_hands[{i}].{key}")
    loco = message.get("locomotion")
    if loco is not None:
        if not isinstance(loco, dict):
            raise ProtocolError("'locomotion' must be an object with McLocomotionVelocity fields")
        for key in LOCOMOTION_FIELDS:
            _finite(loco.get(key, 0.0), f"locomotion.{key}")
