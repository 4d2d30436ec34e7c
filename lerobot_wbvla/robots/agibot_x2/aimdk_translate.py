"""The AimDK translation of the bridge: protocol JSON <-> AimDK / sensor_msgs objects.

Duck-typed on a `msgs` namespace of message classes (the real `aimdk_msgs` ones, or fakes with the same fields), so
each function is checked without ROS. `aimdk_bridge_core.BridgeServer` uses them on the robot and in the fake bridge.

Like `aimdk_protocol.py`, this module is Python 3.10 compatible and needs only the standard library and numpy
(OpenCV optional, for JPEG and resizing), because it runs on the robot without the rest of the package.
"""

from __future__ import annotations

from typing import Any

import numpy as np

try:  # inside the package
    from . import aimdk_protocol as proto
except ImportError:  # loaded as a top-level module by scripts/aimdk_bridge.py on the robot
    import aimdk_protocol as proto  # type: ignore[no-redef]


def stamp_to_float(stamp: Any) -> float:
    """Seconds of a builtin_interfaces/Time-like stamp (0.0 when absent)."""
    if stamp is None:
        return 0.0
    return float(getattr(stamp, "sec", 0)) + 1e-9 * float(getattr(stamp, "nanosec", 0))


def enum_value(value: Any) -> int:
    """Integer of an AimDK enum message (`HandType`, `CommonState`, ... carry `.value`) or of a plain int."""
    return int(getattr(value, "value", value))


def _set_if_present(obj: Any, name: str, value: Any) -> None:
    # ROS messages have fixed slots; tolerate fields that an AimDK release does not have.
    if hasattr(obj, name):
        setattr(obj, name, value)


def _message_header(msgs: Any, stamp: Any, sequence: int | None = None) -> Any:
    header = msgs.MessageHeader()
    header.stamp = stamp
    if sequence is not None:
        _set_if_present(header, "sequence", int(sequence) % (1 << 32))
    return header


def build_joint_command_array(msgs: Any, entries: list[dict[str, Any]], stamp: Any, sequence: int = 0) -> Any:
    """`JointCommandArray` of protocol joint entries, in the given (AimDK) order."""
    msg = msgs.JointCommandArray()
    msg.header = _message_header(msgs, stamp, sequence)
    joints = []
    for entry in entries:
        joint = msgs.JointCommand()
        joint.name = entry["name"]
        for key in proto.JOINT_COMMAND_FIELDS:
            setattr(joint, key, float(entry.get(key, 0.0)))
        joints.append(joint)
    msg.joints = joints
    return msg


def build_hand_command_array(msgs: Any, hand: dict[str, Any], stamp: Any) -> Any:
    """`HandCommandArray` of a protocol `hand` object (AimDK units: OmniPicker position 1.0 = fully open)."""
    msg = msgs.HandCommandArray()
    msg.header = _message_header(msgs, stamp)
    for side in ("left", "right"):
        setattr(msg, f"{side}_hand_type", msgs.HandType(value=int(hand.get(f"{side}_hand_type", 0))))
        commands = []
        for entry in hand.get(f"{side}_hands") or []:
            command = msgs.HandCommand()
            command.name = entry["name"]
            for key in proto.HAND_COMMAND_FIELDS:
                setattr(command, key, float(entry.get(key, 0.0)))
            commands.append(command)
        setattr(msg, f"{side}_hands", commands)
    return msg


def build_locomotion_velocity(msgs: Any, velocity: dict[str, Any], source: str, stamp: Any) -> Any:
    """`McLocomotionVelocity` (forward, lateral m/s; angular rad/s) sent as the registered input source."""
    msg = msgs.McLocomotionVelocity()
    msg.header = _message_header(msgs, stamp)
    msg.source = source
    for key in proto.LOCOMOTION_FIELDS:
        setattr(msg, key, float(velocity.get(key, 0.0)))
    return msg


def build_set_mc_action_request(msgs: Any, action: str, source: str, stamp: Any) -> Any:
    """`SetMcAction.Request` for a mode name of `MC_ACTIONS` (value and description both set, as AimDK's
    examples use the description and its reference documents the value)."""
    if action not in proto.MC_ACTIONS:
        raise proto.ProtocolError(f"unknown MC action {action!r}; known: {', '.join(proto.MC_ACTIONS)}")
    request = msgs.SetMcAction.Request()
    request.header = msgs.RequestHeader()
    request.header.stamp = stamp
    _set_if_present(request, "source", source)
    command = msgs.McActionCommand()
    command.action = msgs.McAction(value=proto.MC_ACTIONS[action])
    command.action_desc = action
    request.command = command
    return request


def parse_set_mc_action_response(response: Any) -> tuple[bool, str]:
    """(accepted, message) of a `SetMcAction.Response` (CommonResponse.status SUCCESS = accepted)."""
    common = response.response
    return enum_value(common.status) == proto.COMMON_STATE_SUCCESS, str(getattr(common, "message", ""))


def build_get_mc_action_request(msgs: Any, stamp: Any) -> Any:
    request = msgs.GetMcAction.Request()
    request.request = msgs.CommonRequest()
    request.request.header.stamp = stamp
    return request


def parse_get_mc_action_response(response: Any) -> dict[str, Any]:
    """`{"action": name, "value": int, "status": int}` of a `GetMcAction.Response`."""
    info = response.info
    value = enum_value(info.current_action)
    name = proto.MC_ACTION_NAMES.get(value, str(getattr(info, "action_desc", "")) or f"UNKNOWN({value})")
    return {"action": name, "value": value, "status": enum_value(info.status)}


def build_set_input_source_request(
    msgs: Any, op: str, name: str, priority: int, timeout_ms: int, stamp: Any
) -> Any:
    """`SetMcInputSource.Request`: register (ADD), MODIFY, DELETE, ENABLE or DISABLE a velocity input source."""
    if op not in proto.INPUT_SOURCE_OPS:
        raise proto.ProtocolError(
            f"unknown input-source op {op!r}; known: {', '.join(proto.INPUT_SOURCE_OPS)}"
        )
    request = msgs.SetMcInputSource.Request()
    request.request = msgs.CommonRequest()
    request.request.header.stamp = stamp
    request.action = msgs.McInputAction(value=proto.INPUT_SOURCE_OPS[op])
    source = msgs.McInputSource()
    source.name = name
    source.priority = int(priority)
    source.timeout = int(timeout_ms)
    request.input_source = source
    return request


def parse_set_input_source_response(response: Any) -> dict[str, int]:
    task = response.response
    return {"code": int(task.header.code), "task_id": int(getattr(task, "task_id", 0))}


def build_get_hand_type_request(msgs: Any, stamp: Any) -> Any:
    request = msgs.GetHandType.Request()
    request.request = msgs.CommonRequest()
    request.request.header.stamp = stamp
    return request


def parse_get_hand_type_response(response: Any) -> dict[str, int]:
    return {"left": enum_value(response.left_hands_type), "right": enum_value(response.right_hands_type)}


def joint_state_array_to_wire(msg: Any) -> dict[str, Any]:
    """Protocol form of a `JointStateArray` (order kept: it is the robot's group order)."""
    header = getattr(msg, "header", None)
    return {
        "stamp": stamp_to_float(getattr(header, "stamp", None)),
        "state": enum_value(getattr(msg, "state", 0)),
        "joints": [
            {
                "name": str(j.name),
                "position": float(j.position),
                "velocity": float(j.velocity),
                "effort": float(getattr(j, "effort", 0.0)),
                "error_code": int(getattr(j, "error_code", 0)),
            }
            for j in msg.joints
        ],
    }


def hand_state_array_to_wire(msg: Any) -> dict[str, Any]:
    """Protocol form of a `HandStateArray` (AimDK units kept)."""
    wire: dict[str, Any] = {"stamp": stamp_to_float(getattr(getattr(msg, "header", None), "stamp", None))}
    for side in ("left", "right"):
        wire[f"{side}_hand_type"] = enum_value(getattr(msg, f"{side}_hand_type", 0))
        wire[f"{side}_hands"] = [
            {
                "name": str(h.name),
                "position": float(h.position),
                "velocity": float(getattr(h, "velocity", 0.0)),
                "effort": float(getattr(h, "effort", 0.0)),
                "state": int(getattr(h, "state", 0)),
                "faultcode": int(getattr(h, "faultcode", 0)),
            }
            for h in getattr(msg, f"{side}_hands", [])
        ]
    return wire


def _xyz(v: Any, with_w: bool = False) -> dict[str, float]:
    out = {"x": float(v.x), "y": float(v.y), "z": float(v.z)}
    if with_w:
        out["w"] = float(v.w)
    return out


def imu_to_wire(msg: Any) -> dict[str, Any]:
    """Protocol form of a `sensor_msgs/Imu` (ROS quaternion field names kept: x, y, z, w)."""
    return {
        "stamp": stamp_to_float(getattr(getattr(msg, "header", None), "stamp", None)),
        "orientation": _xyz(msg.orientation, with_w=True),
        "angular_velocity": _xyz(msg.angular_velocity),
        "linear_acceleration": _xyz(msg.linear_acceleration),
    }


_CHANNELS = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1, "8UC3": 3, "8UC1": 1}


def image_to_rgb(msg: Any) -> np.ndarray:
    """HxWx3 uint8 RGB of a `sensor_msgs/Image` in rgb8, bgr8, rgba8, bgra8 or mono8 (row stride `step`)."""
    encoding = str(msg.encoding)
    if encoding not in _CHANNELS:
        raise ValueError(
            f"camera image encoding {encoding!r} is not supported; use one of {sorted(_CHANNELS)}"
        )
    channels = _CHANNELS[encoding]
    height, width = int(msg.height), int(msg.width)
    step = int(getattr(msg, "step", 0)) or width * channels
    buffer = np.frombuffer(bytes(msg.data), dtype=np.uint8)
    if buffer.size < step * height:
        raise ValueError(
            f"camera image has {buffer.size} bytes, expected {step * height} ({height} rows x {step})"
        )
    pixels = (
        buffer[: step * height].reshape(height, step)[:, : width * channels].reshape(height, width, channels)
    )
    if channels == 1:
        return np.repeat(pixels, 3, axis=2)
    if encoding.startswith("bgr"):
        pixels = pixels[:, :, 2::-1]
    return np.ascontiguousarray(pixels[:, :, :3])


def encode_rgb(
    rgb: np.ndarray, size: tuple[int, int] | None, jpeg_quality: int
) -> tuple[dict[str, Any], bytes]:
    """Resize (when OpenCV is there) to `size` (height, width) and JPEG-encode (`jpeg_quality` > 0 and OpenCV)
    an RGB image; raw rgb8 otherwise. Returns the header fields and the bytes."""
    try:
        import cv2
    except ImportError:
        cv2 = None
    if size is not None and tuple(rgb.shape[:2]) != tuple(size) and cv2 is not None:
        rgb = cv2.resize(rgb, (int(size[1]), int(size[0])), interpolation=cv2.INTER_AREA)
    height, width = rgb.shape[:2]
    if jpeg_quality > 0 and cv2 is not None:
        ok, data = cv2.imencode(".jpg", rgb[:, :, ::-1], [int(cv2.IMWRITE_JPEG_QUALITY), int(jpeg_quality)])
        if ok:
            return {"encoding": "jpeg", "height": height, "width": width}, data.tobytes()
    return {"encoding": "rgb8", "height": height, "width": width}, np.ascontiguousarray(rgb).tobytes()
