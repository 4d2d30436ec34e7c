"""A fake AimDK robot behind the real bridge server, to try the `aimdk` backend without a robot (and to test it).

`FakeAimdk` implements the bridge's `AimdkPort` without ROS: it has message classes with the fields of
`aimdk_msgs` / `sensor_msgs` (`FAKE_MSGS`), a crude robot (joints follow position targets with a first-order lag
when stiff, sag when damped; grippers follow their command; level IMUs; a synthetic head camera) and MC's mode
rules as AimDK documents them (modes change only along its diagram; velocity is obeyed only from a registered
input source while standing). It records every message the bridge publishes and every service call, so tests
can check what would have reached the robot.

Run it:  python -m lerobot_wbvla.robots.agibot_x2.aimdk_fake_bridge --command_port 7100 --state_port 7101
then:    lerobot-record --robot.type=agibot_x2 --robot.backend=aimdk --robot.aimdk.host=127.0.0.1 ...
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import numpy as np

from . import aimdk_protocol as proto
from .aimdk_bridge_core import BridgeConfig, BridgeServer, call_with_retries, parse_config
from .joints import AIMDK_GROUPS, mjcf_joint_name

logger = logging.getLogger(__name__)


# ---- message classes with the fields of aimdk_msgs (v1.0 reference) and sensor_msgs --------------------------
def _message_class(class_name: str, /, **fields: Any) -> type:
    """A dataclass named like the ROS message, fields default to the given values (callables: factories)."""
    spec = []
    for field_name, default in fields.items():
        if callable(default):
            spec.append((field_name, Any, dataclasses.field(default_factory=default)))
        else:
            spec.append((field_name, Any, dataclasses.field(default=default)))
    return dataclasses.make_dataclass(class_name, spec)


Time = _message_class("Time", sec=0, nanosec=0)
MessageHeader = _message_class("MessageHeader", stamp=Time, frame_id="", sequence=0, meas_stamp=Time)
RequestHeader = _message_class("RequestHeader", stamp=Time)
ResponseHeader = _message_class("ResponseHeader", stamp=Time, code=0)
CommonState = _message_class("CommonState", value=0)
CommonRequest = _message_class("CommonRequest", header=RequestHeader)
CommonResponse = _message_class("CommonResponse", header=ResponseHeader, status=CommonState, message="")
CommonTaskResponse = _message_class("CommonTaskResponse", header=ResponseHeader, task_id=0, state=CommonState)
JointCommand = _message_class(
    "JointCommand", name="", position=0.0, velocity=0.0, effort=0.0, stiffness=0.0, damping=0.0
)
JointCommandArray = _message_class("JointCommandArray", header=MessageHeader, joints=list)
JointState = _message_class("JointState", name="", position=0.0, velocity=0.0, effort=0.0, error_code=0)
JointStateArray = _message_class("JointStateArray", header=MessageHeader, state=0, joints=list)
HandType = _message_class("HandType", value=0)
HandCommand = _message_class(
    "HandCommand", name="", position=0.0, velocity=0.0, acceleration=0.0, deceleration=0.0, effort=0.0
)
HandCommandArray = _message_class(
    "HandCommandArray",
    header=MessageHeader,
    left_hand_type=HandType,
    left_hands=list,
    right_hand_type=HandType,
    right_hands=list,
)
HandState = _message_class("HandState", name="", position=0.0, velocity=0.0, effort=0.0, state=0, faultcode=0)
HandStateArray = _message_class(
    "HandStateArray",
    header=MessageHeader,
    left_hand_type=HandType,
    left_hands=list,
    right_hand_type=HandType,
    right_hands=list,
)
McLocomotionVelocity = _message_class(
    "McLocomotionVelocity",
    header=MessageHeader,
    source="",
    forward_velocity=0.0,
    lateral_velocity=0.0,
    angular_velocity=0.0,
)
McAction = _message_class("McAction", value=0)
McActionCommand = _message_class("McActionCommand", action=McAction, action_desc="")
McActionStatus = _message_class("McActionStatus", value=0)
McActionInfo = _message_class("McActionInfo", current_action=McAction, action_desc="", status=McActionStatus)
McInputAction = _message_class("McInputAction", value=0)
McInputSource = _message_class("McInputSource", name="", priority=0, timeout=0)
Vector3 = _message_class("Vector3", x=0.0, y=0.0, z=0.0)
Quaternion = _message_class("Quaternion", x=0.0, y=0.0, z=0.0, w=1.0)
StdHeader = _message_class("Header", stamp=Time, frame_id="")
Imu = _message_class(
    "Imu", header=StdHeader, orientation=Quaternion, angular_velocity=Vector3, linear_acceleration=Vector3
)
Image = _message_class(
    "Image", header=StdHeader, height=0, width=0, encoding="rgb8", is_bigendian=0, step=0, data=bytes
)


def _service(name: str, request: type, response: type) -> SimpleNamespace:
    return SimpleNamespace(__name__=name, Request=request, Response=response)


FAKE_MSGS = SimpleNamespace(
    Time=Time,
    MessageHeader=MessageHeader,
    RequestHeader=RequestHeader,
    ResponseHeader=ResponseHeader,
    CommonState=CommonState,
    CommonRequest=CommonRequest,
    CommonResponse=CommonResponse,
    CommonTaskResponse=CommonTaskResponse,
    JointCommand=JointCommand,
    JointCommandArray=JointCommandArray,
    JointState=JointState,
    JointStateArray=JointStateArray,
    HandType=HandType,
    HandCommand=HandCommand,
    HandCommandArray=HandCommandArray,
    HandState=HandState,
    HandStateArray=HandStateArray,
    McLocomotionVelocity=McLocomotionVelocity,
    McAction=McAction,
    McActionCommand=McActionCommand,
    McActionInfo=McActionInfo,
    McActionStatus=McActionStatus,
    McInputAction=McInputAction,
    McInputSource=McInputSource,
    Imu=Imu,
    Image=Image,
    Vector3=Vector3,
    Quaternion=Quaternion,
    SetMcAction=_service(
        "SetMcAction",
        _message_class("SetMcAction_Request", header=RequestHeader, source="", command=McActionCommand),
        _message_class("SetMcAction_Response", response=CommonResponse),
    ),
    GetMcAction=_service(
        "GetMcAction",
        _message_class("GetMcAction_Request", request=CommonRequest),
        _message_class("GetMcAction_Response", header=ResponseHeader, info=McActionInfo),
    ),
    SetMcInputSource=_service(
        "SetMcInputSource",
        _message_class(
            "SetMcInputSource_Request",
            request=CommonRequest,
            action=McInputAction,
            input_source=McInputSource,
        ),
        _message_class("SetMcInputSource_Response", response=CommonTaskResponse),
    ),
    GetHandType=_service(
        "GetHandType",
        _message_class("GetHandType_Request", request=CommonRequest),
        _message_class(
            "GetHandType_Response",
            reponse=CommonResponse,
            left_hands_type=HandType,
            right_hands_type=HandType,
        ),
    ),
)

# MC mode diagram as the fake models it [inference from AimDK 6.1.2: PASSIVE -> JOINT_DEFAULT -> STAND_DEFAULT,
# STAND <-> LOCOMOTION automatic, damping/passive reachable from anywhere].
_MC_TRANSITIONS: dict[str, set[str]] = {
    "PASSIVE_DEFAULT": {"JOINT_DEFAULT"},
    "DAMPING_DEFAULT": {"JOINT_DEFAULT"},
    "ZERO_TORQUE_DEFAULT": {"JOINT_DEFAULT"},
    "JOINT_DEFAULT": {"STAND_DEFAULT"},
    "STAND_DEFAULT": {"LOCOMOTION_DEFAULT", "JOINT_DEFAULT"},
    "LOCOMOTION_DEFAULT": {"STAND_DEFAULT", "JOINT_DEFAULT"},
}
_ALWAYS_REACHABLE = {"PASSIVE_DEFAULT", "DAMPING_DEFAULT", "SOFT_EMERGENCY_STOP"}

# Standing pose of the twin notes (shared/notes/agibot-x2.md, "Measured"): flat feet, bent knees, elbows.
_STANDING_POSE = {
    "left_hip_pitch": -0.2,
    "right_hip_pitch": -0.2,
    "left_knee": 0.4,
    "right_knee": 0.4,
    "left_ankle_pitch": -0.2,
    "right_ankle_pitch": -0.2,
    "left_elbow": -0.3,
    "right_elbow": -0.3,
}
_KNEE_STANCE_EFFORT = 13.0  # N*m per stance knee: ~22 kg * 9.81 * ~0.06 m lever [inference]


@dataclasses.dataclass
class FakeAimdkConfig:
    """Behaviour of the fake robot."""

    mc_action: str = dataclasses.field(default="STAND_DEFAULT", metadata={"help": "MC mode at start"})
    hand_type: int = dataclasses.field(
        default=2, metadata={"help": "HandType of both hands (2 OmniPicker, 0 none)"}
    )
    rate_hz: float = dataclasses.field(
        default=200.0, metadata={"help": "state publishing and simulation rate"}
    )
    camera_height: int = dataclasses.field(default=120, metadata={"help": "head camera image height"})
    camera_width: int = dataclasses.field(default=160, metadata={"help": "head camera image width"})
    camera_hz: float = dataclasses.field(default=30.0, metadata={"help": "head camera rate"})
    lost_service_calls: int = dataclasses.field(
        default=0,
        metadata={"help": "attempts of every service call that never answer (flaky cross-board ROS)"},
    )
    mute_services: str = dataclasses.field(
        default="", metadata={"help": "comma list of services that never answer"}
    )


class _Future:
    def __init__(self, result: Any = None, done: bool = True):
        self._result, self._done = result, done

    def done(self) -> bool:
        return self._done

    def result(self) -> Any:
        return self._result


class FakeAimdk:
    """Simulated AimDK endpoint for `BridgeServer` (see the module docstring)."""

    msgs = FAKE_MSGS

    def __init__(self, config: FakeAimdkConfig | None = None):
        self.config = config or FakeAimdkConfig()
        if self.config.mc_action not in proto.MC_ACTIONS:
            raise ValueError(
                f"unknown MC action {self.config.mc_action!r}; known: {', '.join(proto.MC_ACTIONS)}"
            )
        self.lock = threading.Lock()
        self.published: list[tuple[float, str, Any]] = []
        self.service_attempts: list[tuple[str, Any]] = []
        self.service_calls: list[tuple[str, Any, Any]] = []  # answered calls: name, request, response
        self.velocities_obeyed: list[Any] = []
        self.velocities_ignored: list[tuple[Any, str]] = []
        self.mc_action = self.config.mc_action
        self.input_sources: dict[str, tuple[int, int]] = {}
        names = [j for group in AIMDK_GROUPS.values() for j in group]
        self.q = {mjcf_joint_name(j): _STANDING_POSE.get(j, 0.0) for j in names}
        self.dq = dict.fromkeys(self.q, 0.0)
        self._targets: dict[str, tuple[float, float, float]] = {}  # joint -> (position, stiffness, damping)
        self.hand_position = {"left": 1.0, "right": 1.0}  # AimDK OmniPicker: 1.0 = fully open
        self._hand_target = dict(self.hand_position)
        self._lost: dict[int, int] = {}
        self._mute = {s.strip() for s in self.config.mute_services.split(",") if s.strip()}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._subscriptions: dict[str, str] = {}
        self._on_message: Callable[[str, Any], None] | None = None
        self._frame = 0

    # ---- AimdkPort ------------------------------------------------------------------------------------------
    def now_stamp(self) -> Any:
        t = time.time()
        return Time(sec=int(t), nanosec=int((t % 1.0) * 1e9))

    def publish(self, topic: str, msg: Any) -> None:
        with self.lock:
            self.published.append((time.monotonic(), topic, msg))
            if topic == proto.LOCOMOTION_TOPIC:
                if msg.source not in self.input_sources:
                    self.velocities_ignored.append((msg, f"input source {msg.source!r} is not registered"))
                elif self.mc_action not in proto.STANDING_MC_ACTIONS:
                    self.velocities_ignored.append((msg, f"MC is in {self.mc_action}"))
                else:
                    self.velocities_obeyed.append(msg)
            elif topic == proto.HAND_COMMAND_TOPIC:
                for side in ("left", "right"):
                    hands = getattr(msg, f"{side}_hands")
                    if hands:
                        self._hand_target[side] = min(1.0, max(0.0, float(hands[0].position)))
            elif topic.startswith("/aima/hal/joint/") and topic.endswith("/command"):
                for joint in msg.joints:
                    if joint.name in self.q:
                        self._targets[joint.name] = (joint.position, joint.stiffness, joint.damping)

    def call_service(self, name: str, request: Any, attempts: int, attempt_timeout_s: float) -> Any:
        short = name.rsplit("/", 1)[-1]
        return call_with_retries(lambda: self._call_async(short, request), attempts, attempt_timeout_s, short)

    def start(self, subscriptions: dict[str, str], on_message: Callable[[str, Any], None]) -> None:
        self._subscriptions, self._on_message = dict(subscriptions), on_message
        self._thread = threading.Thread(target=self._run, name="fake-aimdk", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)

    # ---- inspection helpers for tests -----------------------------------------------------------------------
    def messages_on(self, topic: str) -> list[Any]:
        with self.lock:
            return [msg for _, t, msg in self.published if t == topic]

    def services_called(self) -> list[tuple[str, Any]]:
        """(service, request) of the answered calls, in order."""
        with self.lock:
            return [(name, request) for name, request, _ in self.service_calls]

    # ---- services -------------------------------------------------------------------------------------------
    def _call_async(self, name: str, request: Any) -> _Future:
        with self.lock:
            self.service_attempts.append((name, request))
            if name in self._mute:
                return _Future(done=False)
            key = id(request)
            lost = self._lost.get(key, 0)
            if lost < self.config.lost_service_calls:
                self._lost[key] = lost + 1
                return _Future(done=False)
            response = getattr(self, f"_serve_{name}")(request)
            self.service_calls.append((name, request, response))
            return _Future(response)

    def _serve_SetMcAction(self, request: Any) -> Any:  # noqa: N802 (AimDK service name)
        response = FAKE_MSGS.SetMcAction.Response()
        wanted = proto.MC_ACTION_NAMES.get(request.command.action.value, request.command.action_desc)
        allowed = wanted in _ALWAYS_REACHABLE or wanted in _MC_TRANSITIONS.get(self.mc_action, set())
        if wanted == self.mc_action or allowed:
            self.mc_action = wanted
            response.response.status.value = proto.COMMON_STATE_SUCCESS
        else:
            response.response.status.value = 2  # FAILURE
            response.response.message = f"transition {self.mc_action} -> {wanted} not allowed"
        return response

    def _serve_GetMcAction(self, request: Any) -> Any:  # noqa: N802
        response = FAKE_MSGS.GetMcAction.Response()
        response.info.current_action.value = proto.MC_ACTIONS[self.mc_action]
        response.info.action_desc = self.mc_action
        return response

    def _serve_SetMcInputSource(self, request: Any) -> Any:  # noqa: N802
        response = FAKE_MSGS.SetMcInputSource.Response()
        op = {v: k for k, v in proto.INPUT_SOURCE_OPS.items()}.get(request.action.value)
        name = request.input_source.name
        exists = name in self.input_sources
        if (
            (op == "ADD" and exists)
            or (op in ("MODIFY", "DELETE", "ENABLE", "DISABLE") and not exists)
            or op is None
        ):
            response.response.header.code = 1
            return response
        if op in ("ADD", "MODIFY"):
            self.input_sources[name] = (request.input_source.priority, request.input_source.timeout)
        elif op in ("DELETE", "DISABLE"):
            self.input_sources.pop(name, None)
        response.response.task_id = len(self.service_calls) + 1
        return response

    def _serve_GetHandType(self, request: Any) -> Any:  # noqa: N802
        response = FAKE_MSGS.GetHandType.Response()
        response.left_hands_type.value = response.right_hands_type.value = self.config.hand_type
        return response

    # ---- simulation -----------------------------------------------------------------------------------------
    def _step(self, dt: float) -> None:
        with self.lock:
            for name, (target, stiffness, damping) in self._targets.items():
                before = self.q[name]
                # First-order lags, exact for any step (the step is the real time elapsed, long under load).
                if stiffness > 0:
                    alpha = 1.0 - math.exp(-dt / 0.05)  # tracks a stiff target within ~0.1 s
                elif damping > 0:
                    target, alpha = 0.0, 1.0 - math.exp(-dt / 2.0)  # a damped joint sags slowly
                else:
                    continue
                self.q[name] = before + alpha * (target - before)
                self.dq[name] = (self.q[name] - before) / dt
            for side in ("left", "right"):
                error = self._hand_target[side] - self.hand_position[side]
                self.hand_position[side] += max(-2.0 * dt, min(2.0 * dt, error))  # full stroke in 0.5 s

    def _joint_state(self, group: str, stamp: Any) -> Any:
        standing = self.mc_action not in ("PASSIVE_DEFAULT", "DAMPING_DEFAULT", "ZERO_TORQUE_DEFAULT")
        joints = []
        for joint in AIMDK_GROUPS[group]:
            name = mjcf_joint_name(joint)
            effort = _KNEE_STANCE_EFFORT if standing and joint.endswith("_knee") else 0.0
            joints.append(JointState(name=name, position=self.q[name], velocity=self.dq[name], effort=effort))
        return JointStateArray(header=MessageHeader(stamp=stamp), joints=joints)

    def _hand_state(self, stamp: Any) -> Any:
        msg = HandStateArray(header=MessageHeader(stamp=stamp))
        for side in ("left", "right"):
            setattr(msg, f"{side}_hand_type", HandType(value=self.config.hand_type))
            if self.config.hand_type == proto.HAND_TYPES["GRIPPER"]:
                setattr(
                    msg, f"{side}_hands", [HandState(name=f"{side}_hand", position=self.hand_position[side])]
                )
        return msg

    def _camera(self, stamp: Any) -> Any:
        h, w = self.config.camera_height, self.config.camera_width
        self._frame += 1
        rows = np.arange(h, dtype=np.uint8)[:, None].repeat(w, axis=1)
        cols = np.arange(w, dtype=np.uint8)[None, :].repeat(h, axis=0)
        pixels = np.stack([np.full((h, w), self._frame % 256, np.uint8), rows, cols], axis=2)
        return Image(
            header=StdHeader(stamp=stamp),
            height=h,
            width=w,
            encoding="rgb8",
            step=w * 3,
            data=pixels.tobytes(),
        )

    def _run(self) -> None:
        period = 1.0 / self.config.rate_hz
        camera_period = 1.0 / self.config.camera_hz
        next_camera = 0.0
        last = time.monotonic()
        while not self._stop.wait(period):
            # A robot moves in real time whatever this machine's load: step by the time that really passed (a
            # loaded machine wakes this thread late: stepping a fixed period ran the fake at ~0.6x real time).
            now = time.monotonic()
            if now > last:
                self._step(now - last)
                last = now
            stamp = self.now_stamp()
            outgoing: list[tuple[str, Any]] = []
            with self.lock:
                for topic, kind in self._subscriptions.items():
                    if kind == "joint_state":
                        group = topic.split("/")[4]
                        outgoing.append((topic, self._joint_state(group, stamp)))
                    elif kind == "hand_state":
                        outgoing.append((topic, self._hand_state(stamp)))
                    elif kind == "imu":
                        outgoing.append(
                            (topic, Imu(header=StdHeader(stamp=stamp), linear_acceleration=Vector3(z=9.81)))
                        )
                now = time.monotonic()
                if now >= next_camera:
                    next_camera = now + camera_period
                    outgoing += [
                        (t, self._camera(stamp)) for t, k in self._subscriptions.items() if k == "image"
                    ]
            assert self._on_message is not None
            for topic, msg in outgoing:
                self._on_message(topic, msg)


def start_fake_bridge(
    bridge: BridgeConfig | None = None, fake: FakeAimdkConfig | None = None
) -> tuple[BridgeServer, FakeAimdk]:
    """Start a bridge server with a fake robot (ports 0 = free ports, read `server.command_endpoint`)."""
    port = FakeAimdk(fake)
    server = BridgeServer(port, bridge or BridgeConfig(bind="127.0.0.1"))
    server.start()
    return server, port


@dataclasses.dataclass
class FakeBridgeConfig(BridgeConfig, FakeAimdkConfig):
    """Bridge settings plus the fake robot's behaviour."""


def server_from_args(argv: list[str] | None = None) -> BridgeServer:
    """The (not yet started) fake bridge that the command line describes."""
    config = parse_config(FakeBridgeConfig, argv, "AimDK bridge with a fake X2 (no ROS, no robot).")
    values = dataclasses.asdict(config)
    bridge = BridgeConfig(**{f.name: values[f.name] for f in dataclasses.fields(BridgeConfig)})
    fake = FakeAimdkConfig(**{f.name: values[f.name] for f in dataclasses.fields(FakeAimdkConfig)})
    return BridgeServer(FakeAimdk(fake), bridge)


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    server_from_args(argv).serve_forever()


if __name__ == "__main__":
    main()
