"""The AimDK bridge without the LeRobot client: ROS <-> protocol translation on AimDK-shaped message objects,
service retries, and the server's behaviour on raw ZeroMQ (retried requests, refused commands, its own watchdog),
plus the robot-side script's standalone loading."""

from __future__ import annotations

import ast
import json
import math
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import zmq

from lerobot_wbvla.robots.agibot_x2 import aimdk_bridge_core as core
from lerobot_wbvla.robots.agibot_x2 import aimdk_protocol as proto
from lerobot_wbvla.robots.agibot_x2 import aimdk_translate as translate
from lerobot_wbvla.robots.agibot_x2.aimdk_fake_bridge import (
    FAKE_MSGS,
    FakeAimdk,
    FakeAimdkConfig,
    start_fake_bridge,
)

REPO = Path(__file__).resolve().parents[2]
M = FAKE_MSGS
ARM = [
    f"{side}_{j}_joint"
    for side in ("left", "right")
    for j in (
        "shoulder_pitch",
        "shoulder_roll",
        "shoulder_yaw",
        "elbow",
        "wrist_yaw",
        "wrist_pitch",
        "wrist_roll",
    )
]


# ---- translation -----------------------------------------------------------------------------------------------
def test_joint_command_array_keeps_order_and_every_field():
    entries = [
        {
            "name": n,
            "position": 0.1 * i,
            "velocity": -0.01 * i,
            "effort": 0.5,
            "stiffness": 40.0 + i,
            "damping": 2.0 + 0.1 * i,
        }
        for i, n in enumerate(reversed(ARM))
    ]
    msg = translate.build_joint_command_array(M, entries, M.Time(sec=7, nanosec=5), sequence=2**32 + 3)
    assert [j.name for j in msg.joints] == list(reversed(ARM))  # the translation never reorders
    assert [j.position for j in msg.joints] == pytest.approx([0.1 * i for i in range(14)])
    assert [j.stiffness for j in msg.joints] == pytest.approx([40.0 + i for i in range(14)])
    assert [j.damping for j in msg.joints] == pytest.approx([2.0 + 0.1 * i for i in range(14)])
    assert msg.joints[3].velocity == pytest.approx(-0.03) and msg.joints[3].effort == 0.5
    assert msg.header.stamp.sec == 7 and msg.header.sequence == 3  # uint32 wraps


def test_hand_and_velocity_messages():
    hand = {
        "left_hand_type": 2,
        "left_hands": [
            {
                "name": "left_hand",
                "position": 0.25,
                "velocity": 1.0,
                "acceleration": 0.5,
                "deceleration": 0.4,
                "effort": 0.3,
            }
        ],
        "right_hand_type": 0,
        "right_hands": [],
    }
    msg = translate.build_hand_command_array(M, hand, M.Time())
    assert msg.left_hand_type.value == 2 and msg.right_hand_type.value == 0 and msg.right_hands == []
    (left,) = msg.left_hands
    assert (left.name, left.position, left.acceleration, left.deceleration, left.effort) == (
        "left_hand",
        0.25,
        0.5,
        0.4,
        0.3,
    )
    vel = translate.build_locomotion_velocity(
        M, {"forward_velocity": 0.4, "lateral_velocity": -0.2, "angular_velocity": 0.3}, "me", M.Time()
    )
    assert (vel.source, vel.forward_velocity, vel.lateral_velocity, vel.angular_velocity) == (
        "me",
        0.4,
        -0.2,
        0.3,
    )


def test_service_requests_and_responses():
    request = translate.build_set_mc_action_request(M, "STAND_DEFAULT", "me", M.Time(sec=1))
    assert request.command.action.value == 200 and request.command.action_desc == "STAND_DEFAULT"
    assert request.header.stamp.sec == 1 and request.source == "me"
    with pytest.raises(proto.ProtocolError, match="unknown MC action 'WALK'"):
        translate.build_set_mc_action_request(M, "WALK", "me", M.Time())
    ok = M.SetMcAction.Response()
    ok.response.status.value = 1
    refused = M.SetMcAction.Response()
    refused.response.status.value, refused.response.message = 2, "not allowed"
    assert translate.parse_set_mc_action_response(ok) == (True, "")
    assert translate.parse_set_mc_action_response(refused) == (False, "not allowed")

    source = translate.build_set_input_source_request(M, "ADD", "me", 40, 1000, M.Time())
    assert (
        source.action.value,
        source.input_source.name,
        source.input_source.priority,
        source.input_source.timeout,
    ) == (1001, "me", 40, 1000)
    response = M.SetMcInputSource.Response()
    response.response.header.code, response.response.task_id = 3, 9
    assert translate.parse_set_input_source_response(response) == {"code": 3, "task_id": 9}

    info = M.GetMcAction.Response()
    info.info.current_action.value, info.info.status.value = 300, 100
    assert translate.parse_get_mc_action_response(info) == {
        "action": "LOCOMOTION_DEFAULT",
        "value": 300,
        "status": 100,
    }
    hand = M.GetHandType.Response()
    hand.left_hands_type.value, hand.right_hands_type.value = 2, 0
    assert translate.parse_get_hand_type_response(hand) == {"left": 2, "right": 0}


def test_state_messages_to_wire():
    joints = M.JointStateArray(
        header=M.MessageHeader(stamp=M.Time(sec=3, nanosec=500_000_000)),
        joints=[
            M.JointState(name="waist_yaw_joint", position=0.1, velocity=0.2, effort=3.0, error_code=7),
            M.JointState(name="waist_pitch_joint", position=-0.1),
        ],
    )
    wire = translate.joint_state_array_to_wire(joints)
    assert wire["stamp"] == pytest.approx(3.5)
    assert wire["joints"][0] == {
        "name": "waist_yaw_joint",
        "position": 0.1,
        "velocity": 0.2,
        "effort": 3.0,
        "error_code": 7,
    }
    assert [j["name"] for j in wire["joints"]] == ["waist_yaw_joint", "waist_pitch_joint"]

    # Plain ROS-like objects (not the fake dataclasses) work too: the translation is duck-typed.
    xyz = SimpleNamespace
    imu = SimpleNamespace(
        header=None,
        orientation=xyz(x=0.1, y=0.2, z=0.3, w=0.9),
        angular_velocity=xyz(x=1.0, y=2.0, z=3.0),
        linear_acceleration=xyz(x=0.0, y=0.0, z=9.8),
    )
    wire = translate.imu_to_wire(imu)
    assert wire["orientation"] == {"x": 0.1, "y": 0.2, "z": 0.3, "w": 0.9}
    assert wire["angular_velocity"]["z"] == 3.0 and wire["linear_acceleration"]["z"] == 9.8

    hand = M.HandStateArray(
        left_hand_type=M.HandType(value=2),
        left_hands=[M.HandState(name="left_hand", position=0.3, state=2, faultcode=1)],
    )
    wire = translate.hand_state_array_to_wire(hand)
    assert wire["left_hand_type"] == 2 and wire["right_hand_type"] == 0 and wire["right_hands"] == []
    assert wire["left_hands"][0]["position"] == 0.3 and wire["left_hands"][0]["state"] == 2


def test_image_conversion():
    rgb = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    padded = np.zeros((4, 16), np.uint8)  # row stride 16 > 15 bytes of pixels
    padded[:, :15] = rgb.reshape(4, 15)
    assert np.array_equal(
        translate.image_to_rgb(M.Image(height=4, width=5, encoding="rgb8", step=16, data=padded.tobytes())),
        rgb,
    )
    bgr = rgb[:, :, ::-1].copy()
    assert np.array_equal(
        translate.image_to_rgb(M.Image(height=4, width=5, encoding="bgr8", step=15, data=bgr.tobytes())), rgb
    )
    mono = translate.image_to_rgb(
        M.Image(height=4, width=5, encoding="mono8", step=5, data=rgb[:, :, 0].tobytes())
    )
    assert mono.shape == (4, 5, 3) and np.array_equal(mono[:, :, 2], rgb[:, :, 0])
    with pytest.raises(ValueError, match="'16UC1' is not supported"):
        translate.image_to_rgb(M.Image(height=4, width=5, encoding="16UC1", data=b""))
    header, data = translate.encode_rgb(rgb, None, jpeg_quality=0)
    assert header == {"encoding": "rgb8", "height": 4, "width": 5} and data == rgb.tobytes()


# ---- service retries ---------------------------------------------------------------------------------------------
class _Future:
    def __init__(self, answers_at: float | None):
        self.answers_at = answers_at

    def done(self) -> bool:
        return self.answers_at is not None and time.monotonic() >= self.answers_at

    def result(self) -> str:
        return "answer"


def test_call_with_retries_survives_lost_calls_and_names_the_service_when_all_fail():
    attempts = []

    def flaky():  # the first two calls are lost, as ROS services across boards lose them
        attempts.append(time.monotonic())
        return _Future(time.monotonic() + 0.005 if len(attempts) >= 3 else None)

    stamps = []
    assert (
        core.call_with_retries(flaky, 8, 0.03, "SetMcAction", before_attempt=lambda: stamps.append(1))
        == "answer"
    )
    assert len(attempts) == 3 and len(stamps) == 3
    assert attempts[1] - attempts[0] >= 0.03  # each attempt waits its timeout

    with pytest.raises(
        core.ServiceTimeout, match=r"SetMcInputSource did not answer after 4 attempts of 0\.02 s"
    ):
        core.call_with_retries(lambda: _Future(None), 4, 0.02, "SetMcInputSource")


# ---- the server on raw ZeroMQ ---------------------------------------------------------------------------------
@pytest.fixture
def bridge():
    started = []

    def start(fake: FakeAimdkConfig | None = None, **bridge_fields):
        fields = dict(
            bind="127.0.0.1", command_port=0, state_port=0, camera_port=0, service_attempt_timeout_s=0.05
        )
        fields.update(bridge_fields)
        server, robot = start_fake_bridge(core.BridgeConfig(**fields), fake)
        started.append(server)
        deadline = time.monotonic() + 2.0
        while server._group_names("arm") is None and time.monotonic() < deadline:
            time.sleep(0.01)
        return server, robot

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def dealer():
    ctx = zmq.Context()
    sockets = []

    def connect(endpoint: str) -> zmq.Socket:
        sock = ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(endpoint)
        sockets.append(sock)
        return sock

    yield connect
    for sock in sockets:
        sock.close(0)
    ctx.term()


def _exchange(sock: zmq.Socket, message: dict, wait_s: float = 2.0) -> dict:
    sock.send_multipart(proto.encode(message))
    assert sock.poll(int(wait_s * 1000)), f"no answer to {message['type']}"
    return proto.decode(sock.recv_multipart())[0]


def _arm_entries(names=ARM, stiffness=50.0, damping=2.5, position=0.2):
    return [
        {
            "name": n,
            "position": position,
            "velocity": 0.0,
            "effort": 0.0,
            "stiffness": stiffness,
            "damping": damping,
        }
        for n in names
    ]


def test_retried_request_runs_once_and_bad_commands_are_refused(bridge, dealer):
    server, robot = bridge()
    sock = dealer(server.command_endpoint)
    assert _exchange(sock, {"type": "hello", "id": 1, "client": "t"})["ok"]
    add = {"type": "set_input_source", "id": 5, "op": "ADD", "name": "me", "priority": 40, "timeout_ms": 1000}
    first, again = _exchange(sock, add), _exchange(sock, add)  # same id: a client retry
    assert first["ok"] and again == first
    assert [name for name, _ in robot.services_called()] == ["SetMcInputSource"]  # registered once, not twice
    fresh = _exchange(sock, {**add, "id": 6})  # a *new* ADD of the same source is refused by MC
    assert not fresh["ok"] and "failed with code 1" in fresh["error"]

    wrong_order = {"type": "command", "seq": 1, "joints": {"arm": _arm_entries(ARM[7:] + ARM[:7])}}
    error = _exchange(sock, wrong_order)
    assert (
        error["type"] == "error" and error["seq"] == 1 and "differ from the robot's order" in error["error"]
    )
    legs = {"type": "command", "seq": 2, "joints": {"leg": _arm_entries(["left_hip_pitch_joint"])}}
    assert "group 'leg' are refused" in _exchange(sock, legs)["error"]
    nan = {"type": "command", "seq": 3, "joints": {"arm": _arm_entries(position=float("nan"))}}
    with pytest.raises(ValueError):  # JSON refuses NaN already on the sending side
        proto.encode(nan)
    old = _exchange(sock, {"type": "hello", "id": 7, "v": 0})
    assert not old["ok"] and "bridge speaks v1, client v0" in old["error"] and old["v"] == 1
    assert robot.messages_on("/aima/hal/joint/arm/command") == []  # nothing refused reached the robot


def _raw(message: dict) -> list[bytes]:
    """One JSON frame as any peer may send it, NOT through `proto.encode` (which refuses NaN/Infinity, so the
    client's own encoder would stop these before the bridge): Python's json writes the literals NaN, Infinity,
    -Infinity, as JavaScript/C++ encoders and hand-written clients do, and the bridge's JSON parser reads them."""
    frame = json.dumps({"v": proto.PROTOCOL_VERSION, **message}).encode()
    assert b"NaN" in frame or b"Infinity" in frame, "the frame must carry a non-finite number"
    return [frame]


def _all_finite(msg) -> bool:
    entries = [*getattr(msg, "joints", []), *getattr(msg, "left_hands", []), *getattr(msg, "right_hands", [])]
    numbers = [v for e in entries for v in vars(e).values() if isinstance(v, float)]
    numbers += [getattr(msg, k) for k in proto.LOCOMOTION_FIELDS if hasattr(msg, k)]
    return all(math.isfinite(v) for v in numbers)


def test_bridge_refuses_raw_frames_with_non_finite_numbers(bridge, dealer):
    """The bridge's own guard is the last check before the real joints: a peer that does not use our encoder
    (another language, a hand-written client, a corrupted frame) must not get a NaN or an infinity to AimDK."""
    server, robot = bridge()
    sock = dealer(server.command_endpoint)
    assert _exchange(sock, {"type": "hello", "id": 1, "client": "t"})["ok"]
    nan, inf = float("nan"), float("inf")
    arm = _arm_entries()
    bad_commands = {
        "joints['arm'][3] (left_elbow_joint).position must be a finite number, got nan": {
            "joints": {"arm": [*arm[:3], {**arm[3], "position": nan}, *arm[4:]]}
        },
        "joints['arm'][0] (left_shoulder_pitch_joint).stiffness must be a finite number, got inf": {
            "joints": {"arm": [{**arm[0], "stiffness": inf}, *arm[1:]]}
        },
        "hand.left_hands[0].position must be a finite number, got nan": {
            "hand": {"left_hand_type": 2, "left_hands": [{"name": "left_hand", "position": nan}]}
        },
        "locomotion.forward_velocity must be a finite number, got -inf": {
            "locomotion": {"forward_velocity": -inf}
        },
    }
    for seq, (why, fields) in enumerate(bad_commands.items(), start=1):
        sock.send_multipart(_raw({"type": "command", "seq": seq, **fields}))
        assert sock.poll(2000), f"the bridge did not refuse (it took) a command with {why}"
        error = proto.decode(sock.recv_multipart())[0]
        assert (error["type"], error["seq"], error["error"]) == ("error", seq, why)
    # The safe gains of a hello reach the joints later, on a watchdog trip or a safe request, without a client.
    for field, why in (
        (
            {"safe_gains": {"arm": [{"name": ARM[0], "stiffness": nan, "damping": 2.0}]}},
            "stiffness must be a",
        ),
        ({"safe_gains": {"arm": [{"name": ARM[0], "stiffness": 40.0, "damping": inf}]}}, "damping must be a"),
        ({"command_timeout_s": nan}, "command_timeout_s must be a finite number"),
    ):
        # From a second client: a refused hello must not replace the session either.
        other = dealer(server.command_endpoint)
        other.send_multipart(_raw({"type": "hello", "id": 1, "client": "raw", **field}))
        assert other.poll(2000)
        reply = proto.decode(other.recv_multipart())[0]
        assert not reply["ok"] and why in reply["error"], reply
    time.sleep(0.05)  # a few command-loop periods (100 Hz): what was taken would have been published by now
    for topic in ("/aima/hal/joint/arm/command", proto.HAND_COMMAND_TOPIC, proto.LOCOMOTION_TOPIC):
        assert robot.messages_on(topic) == [], topic

    # The same session is still served: a finite command goes through, and nothing non-finite ever went out.
    good = {"joints": {"arm": arm}, "locomotion": {"forward_velocity": 0.0}}
    sock.send_multipart(proto.encode({"type": "command", "seq": 10, **good}))
    deadline = time.monotonic() + 2.0
    while not robot.messages_on("/aima/hal/joint/arm/command") and time.monotonic() < deadline:
        time.sleep(0.005)
    assert _exchange(sock, {"type": "safe", "id": 2, "action": "hold"})["ok"]
    sent = [msg for _, _, msg in robot.published]
    assert any(getattr(m, "joints", None) for m in sent) and all(_all_finite(m) for m in sent)
    assert all(j.position == 0.2 for j in robot.messages_on("/aima/hal/joint/arm/command")[0].joints)


def test_bridge_watchdog_damps_a_silent_client(bridge, dealer):
    server, robot = bridge(zero_velocity_s=0.2)
    sock = dealer(server.command_endpoint)
    hello = {
        "type": "hello",
        "id": 1,
        "client": "t",
        "command_timeout_s": 0.25,
        "safe_action": "damp",
        "input_source": "me",
    }
    assert _exchange(sock, hello)["ok"]
    assert _exchange(sock, {"type": "set_input_source", "id": 2, "op": "ADD", "name": "me"})["ok"]
    sock.send_multipart(
        proto.encode(
            {
                "type": "command",
                "seq": 1,
                "joints": {"arm": _arm_entries()},
                "locomotion": {"forward_velocity": 0.5},
            }
        )
    )
    sent = time.monotonic()
    time.sleep(0.15)
    arm = robot.messages_on("/aima/hal/joint/arm/command")
    assert (
        arm and arm[-1].joints[0].stiffness == 50.0 and server._safe is None
    )  # republished, not yet timed out
    while server._safe is None and time.monotonic() - sent < 2.0:
        time.sleep(0.005)
    tripped = time.monotonic() - sent
    assert server._safe == "damp" and 0.25 <= tripped < 0.45
    time.sleep(0.35)
    last = robot.messages_on("/aima/hal/joint/arm/command")[-1]
    assert [j.name for j in last.joints] == ARM
    assert all(j.stiffness == 0.0 and j.damping == 2.5 for j in last.joints)
    # damped at the measured pose (the fake sags slowly toward 0 once damped; targets were 0.2)
    assert all(abs(j.position - robot.q[j.name]) < 0.05 and j.position > 0.1 for j in last.joints)
    velocities = [(t, m) for t, topic, m in robot.published if topic == proto.LOCOMOTION_TOPIC]
    after = [m for t, m in velocities if t > sent + tripped + 0.02]
    assert after and all(m.forward_velocity == 0.0 for m in after)  # zero velocity after the trip ...
    assert velocities[-1][0] < time.monotonic() - 0.1  # ... for zero_velocity_s only, then MC is left alone


# ---- the fake robot ------------------------------------------------------------------------------------------
class _LateEvent(threading.Event):
    """A stop event whose timed waits return 4x late, as a thread's wake-ups do on a loaded machine."""

    def wait(self, timeout=None):
        return super().wait(None if timeout is None else 4 * timeout)


def test_fake_robot_moves_in_real_time_when_its_thread_wakes_late():
    # The fake stands for a robot, which does not slow down with this machine's load: a gripper stroke takes
    # 0.5 s of wall-clock time and a stiff joint settles in ~0.2 s even when the fake's loop runs 4x late.
    robot = FakeAimdk()
    robot._stop = _LateEvent()
    robot.start({}, lambda topic, msg: None)
    try:
        hand = M.HandCommandArray(left_hands=[M.HandCommand(name="left_hand", position=0.0)])
        arm = M.JointCommandArray(joints=[M.JointCommand(name=ARM[0], position=0.5, stiffness=50.0)])
        start = time.monotonic()
        robot.publish(proto.HAND_COMMAND_TOPIC, hand)  # fully open (1.0) -> closed (0.0): 0.5 s at 2/s
        robot.publish("/aima/hal/joint/arm/command", arm)
        while robot.hand_position["left"] > 0.0 and time.monotonic() - start < 5.0:
            time.sleep(0.005)
        stroke_s = time.monotonic() - start
        assert 0.45 <= stroke_s < 1.0, f"a 0.5 s gripper stroke took {stroke_s:.2f} s of wall-clock time"
        assert robot.q[ARM[0]] == pytest.approx(0.5, abs=1e-3)
    finally:
        robot.close()


# ---- the robot-side script ------------------------------------------------------------------------------------
def test_script_loads_without_lerobot_and_explains_missing_ros(tmp_path):
    code = (
        "import runpy, sys\n"
        f"ns = runpy.run_path({str(REPO / 'scripts' / 'aimdk_bridge.py')!r})\n"
        "assert not [m for m in sys.modules if m.startswith(('lerobot', 'torch', 'mujoco'))], 'heavy import'\n"
        "print(ns['core'].BRIDGE_NAME, ns['proto'].PROTOCOL_VERSION)\n"
        "ns['main'](['--command_port', '0'])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert result.stdout.split() == ["lerobot_wbvla.aimdk_bridge", str(proto.PROTOCOL_VERSION)]
    assert result.returncode == 1 and "needs ROS 2 Humble with rclpy and AimDK's aimdk_msgs" in result.stderr


def test_robot_side_modules_parse_as_python_3_10():
    # ROS 2 Humble ships Python 3.10: what the bridge loads on the robot must not use newer syntax.
    for path in (
        REPO / "scripts" / "aimdk_bridge.py",
        REPO / "lerobot_wbvla/robots/agibot_x2/aimdk_bridge_core.py",
        REPO / "lerobot_wbvla/robots/agibot_x2/aimdk_translate.py",
        REPO / "lerobot_wbvla/robots/agibot_x2/aimdk_protocol.py",
    ):
        ast.parse(path.read_text(), filename=str(path), feature_version=(3, 10))
