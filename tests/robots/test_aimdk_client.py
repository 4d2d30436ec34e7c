"""The `aimdk` backend of agibot_x2 against the real bridge server with a fake AimDK robot behind it (no ROS).

What reaches the "robot" is read from the fake's record of published ROS-shaped messages and service calls, so
these tests check AimDK's joint-group layout, gains, locomotion mapping, mode switching and the safe states."""

from __future__ import annotations

import logging
import random
import socket
import threading
import time

import numpy as np
import pytest
import zmq

from lerobot_wbvla.robots.agibot_x2 import aimdk_protocol as proto
from lerobot_wbvla.robots.agibot_x2.aimdk_bridge_core import BridgeConfig
from lerobot_wbvla.robots.agibot_x2.aimdk_client import (
    AimdkBackend,
    AimdkClient,
    AimdkVersionError,
    arm_gains,
    group_commands,
)
from lerobot_wbvla.robots.agibot_x2.aimdk_fake_bridge import (
    FakeAimdkConfig,
    server_from_args,
    start_fake_bridge,
)
from lerobot_wbvla.robots.agibot_x2.backend import LocoCommand, WholeBodyCommand
from lerobot_wbvla.robots.agibot_x2.config_agibot_x2 import AgibotX2Config
from lerobot_wbvla.robots.agibot_x2.config_aimdk import AimdkConfig
from lerobot_wbvla.robots.agibot_x2.joints import STATE_KEYS

# AimDK's documented layout, written out (not derived from joints.py) so that a wrong joints.py fails here.
LEG = [
    "left_hip_pitch",
    "left_hip_roll",
    "left_hip_yaw",
    "left_knee",
    "left_ankle_pitch",
    "left_ankle_roll",
    "right_hip_pitch",
    "right_hip_roll",
    "right_hip_yaw",
    "right_knee",
    "right_ankle_pitch",
    "right_ankle_roll",
]
WAIST = ["waist_yaw", "waist_pitch", "waist_roll"]
ARM = [
    "left_shoulder_pitch",
    "left_shoulder_roll",
    "left_shoulder_yaw",
    "left_elbow",
    "left_wrist_yaw",
    "left_wrist_pitch",
    "left_wrist_roll",
    "right_shoulder_pitch",
    "right_shoulder_roll",
    "right_shoulder_yaw",
    "right_elbow",
    "right_wrist_yaw",
    "right_wrist_pitch",
    "right_wrist_roll",
]
HEAD = ["head_yaw", "head_pitch"]
ARM_TOPIC = "/aima/hal/joint/arm/command"


@pytest.fixture
def bridge():
    started = []

    def start(fake: FakeAimdkConfig | None = None, protocol_version: int = proto.PROTOCOL_VERSION, **fields):
        config = dict(
            bind="127.0.0.1", command_port=0, state_port=0, camera_port=0, service_attempt_timeout_s=0.05
        )
        config.update(fields)
        server, robot = start_fake_bridge(BridgeConfig(**config), fake)
        server.protocol_version = protocol_version
        started.append(server)
        return server, robot

    yield start
    for server in started:
        server.stop()


def _port(endpoint: str) -> int:
    return int(endpoint.rsplit(":", 1)[1])


def make_backend(server, **robot_fields) -> AimdkBackend:
    aimdk = robot_fields.pop("aimdk", {})
    config = AgibotX2Config(backend="aimdk", **robot_fields)
    config.aimdk = AimdkConfig(
        host="127.0.0.1",
        command_port=_port(server.command_endpoint),
        state_port=_port(server.state_endpoint),
        camera_port=_port(server.camera_endpoint),
        connect_timeout_s=3.0,
        **aimdk,
    )
    return AimdkBackend(config)


@pytest.fixture
def backends():
    made = []

    def make(server, **fields) -> AimdkBackend:
        backend = make_backend(server, **fields)
        made.append(backend)
        return backend

    yield make
    for backend in made:
        backend.disconnect()


def _command(arm: dict[str, float] | None = None, left=0.0, right=0.0, loco=None) -> WholeBodyCommand:
    return WholeBodyCommand(
        arm_targets=arm or dict.fromkeys(ARM, 0.0),
        grippers={"left_gripper": left, "right_gripper": right},
        loco=loco or LocoCommand(),
    )


def test_commands_arrive_in_aimdk_group_layout_with_gains(bridge, backends):
    server, robot = bridge()
    backend = backends(server, kp={"left_elbow": 61.0}, kd={"right_wrist_roll": 0.7})
    backend.connect()
    targets = {j: 0.01 * (i + 1) for i, j in enumerate(ARM)}
    shuffled = dict(random.Random(0).sample(sorted(targets.items()), len(targets)))
    backend.send_command(_command(shuffled, left=0.8, right=0.0))
    time.sleep(0.05)
    msg = robot.messages_on(ARM_TOPIC)[-1]
    assert [j.name for j in msg.joints] == [f"{j}_joint" for j in ARM]
    assert [j.position for j in msg.joints] == pytest.approx([targets[j] for j in ARM])
    gains = arm_gains(backend.config)
    assert [(j.stiffness, j.damping) for j in msg.joints] == [gains[j] for j in ARM]
    assert msg.joints[ARM.index("left_elbow")].stiffness == 61.0
    assert msg.joints[ARM.index("right_wrist_roll")].damping == 0.7
    assert msg.joints[ARM.index("right_elbow")].stiffness != 61.0  # the override is per joint
    hand = robot.messages_on(proto.HAND_COMMAND_TOPIC)[-1]
    assert hand.left_hand_type.value == hand.right_hand_type.value == 2
    assert hand.left_hands[0].name == "left_hand"
    assert hand.left_hands[0].position == pytest.approx(0.2)  # closure 0.8 -> AimDK 0.2 (1.0 = fully open)
    assert hand.right_hands[0].position == pytest.approx(1.0)
    assert hand.left_hands[0].effort == AimdkConfig.gripper_effort
    assert not robot.messages_on("/aima/hal/joint/leg/command")  # MC keeps the legs

    # Every group, through the client's generic grouping (what a custom leg controller with MC stopped uses).
    all_joints = LEG + WAIST + ARM + HEAD
    values = {j: 0.001 * i for i, j in enumerate(all_joints)}
    groups = group_commands(
        dict(random.Random(1).sample(sorted(values.items()), len(values))),
        dict.fromkeys(all_joints, (20.0, 2.0)),
    )
    assert list(groups) == ["leg", "waist", "head", "arm"]
    server2, robot2 = bridge(allowed_groups="leg,waist,arm,head")
    client = AimdkClient(
        "127.0.0.1",
        _port(server2.command_endpoint),
        _port(server2.state_endpoint),
        _port(server2.camera_endpoint),
    )
    client.connect({"client": "t"}, timeout_s=2.0)
    try:
        client.wait_for_state(2.0)
        client.send_command(joints=groups)
        time.sleep(0.05)
        for group, names in {"leg": LEG, "waist": WAIST, "arm": ARM, "head": HEAD}.items():
            msg = robot2.messages_on(f"/aima/hal/joint/{group}/command")[-1]
            assert [j.name for j in msg.joints] == [f"{n}_joint" for n in names], group
            assert [j.position for j in msg.joints] == pytest.approx([values[n] for n in names])
    finally:
        client.close()
    with pytest.raises(KeyError, match="waist group whole; missing targets for \\['waist_roll'\\]"):
        group_commands({"waist_yaw": 0.0, "waist_pitch": 0.0}, dict.fromkeys(WAIST, (1.0, 1.0)))


def test_robot_states_come_back_as_observations_by_name(bridge, backends):
    server, robot = bridge(jpeg_quality=0)
    backend = backends(server, head_camera=(120, 160), aimdk={"request_timeout_s": 0.3})
    backend.connect()
    # A distinct value per joint: legs/waist/head set in the fake robot, arms driven there by a command.
    expected = {j: 0.01 * (i + 1) for i, j in enumerate(sorted(LEG + WAIST + ARM + HEAD))}
    with robot.lock:
        for joint in LEG + WAIST + HEAD:
            robot.q[f"{joint}_joint"], robot.dq[f"{joint}_joint"] = expected[joint], -expected[joint]
    backend.send_command(_command({j: expected[j] for j in ARM}, left=0.75, right=0.0))
    # The fake's arms settle in ~0.3 s and the gripper strokes in ~0.4 s of real time; the state stream shows it a
    # little later, later still on a loaded machine: read until it does (a wrong mapping fails the checks below).
    deadline = time.monotonic() + 5.0
    while True:
        obs = backend.read_state()
        arms = [(obs[f"{j}.pos"] - expected[j], obs[f"{j}.vel"]) for j in ARM]
        settled = all(abs(p) < 1e-3 and abs(v) < 1e-2 for p, v in arms)
        if (settled and obs["left_gripper.pos"] == pytest.approx(0.75)) or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert list(obs) == list(STATE_KEYS) and all(isinstance(v, float) for v in obs.values())
    for joint, value in expected.items():
        assert obs[f"{joint}.pos"] == pytest.approx(value, abs=2e-3), joint
        assert obs[f"{joint}.vel"] == pytest.approx(0.0 if joint in ARM else -value, abs=2e-2), joint
    assert obs["left_gripper.pos"] == pytest.approx(0.75) and obs["right_gripper.pos"] == pytest.approx(0.0)
    assert obs["imu.quat_w"] == 1.0 and obs["imu.acc_z"] == pytest.approx(9.81)
    assert [obs[f"foot_contact.{k}"] for k in ("left_heel", "left_toe", "right_heel", "right_toe")] == [
        1.0
    ] * 4
    with robot.lock:
        robot.mc_action = "DAMPING_DEFAULT"  # no weight on the knees: feet off the ground
    time.sleep(0.05)
    assert backend.read_state()["foot_contact.left_heel"] == 0.0

    image = backend.read_cameras()["head"]
    assert image.shape == (120, 160, 3) and image.dtype == np.uint8
    assert np.array_equal(image[:, 7, 1], np.arange(120)) and np.array_equal(image[5, :, 2], np.arange(160))

    server.stop()  # the bridge goes away: stale state is an error, not old data
    time.sleep(0.35)
    with pytest.raises(
        ConnectionError,
        match="no fresh state from the AimDK bridge on tcp://127.0.0.1:.*is the bridge running",
    ):
        backend.read_state()


def test_locomotion_mapping_and_mode_switch_sequence(bridge, backends):
    server, robot = bridge(FakeAimdkConfig(mc_action="PASSIVE_DEFAULT", lost_service_calls=1))
    with pytest.raises(ConnectionError, match="motion control is in PASSIVE_DEFAULT.*auto_stand=true"):
        backends(server).connect()
    assert robot.mc_action == "PASSIVE_DEFAULT"  # nothing was switched without auto_stand

    backend = backends(server, aimdk={"auto_stand": True})
    backend.connect()
    calls = [(name, request) for name, request in robot.services_called() if name != "GetMcAction"]
    assert [(name, getattr(getattr(r, "command", None), "action_desc", None)) for name, r in calls[:2]] == [
        ("SetMcAction", "JOINT_DEFAULT"),
        ("SetMcAction", "STAND_DEFAULT"),
    ]
    assert [r.command.action.value for _, r in calls[:2]] == [100, 200]
    name, register = calls[2]
    assert name == "SetMcInputSource" and register.action.value == 1001
    assert (register.input_source.name, register.input_source.priority, register.input_source.timeout) == (
        "lerobot_wbvla",
        40,
        1000,
    )
    assert robot.mc_action == "STAND_DEFAULT" and "lerobot_wbvla" in robot.input_sources
    assert len(robot.service_attempts) > len(robot.service_calls)  # lost calls were retried

    backend.send_command(_command(loco=LocoCommand(vx=0.4, vy=-0.2, yaw_rate=0.3, height=0.6)))
    time.sleep(0.05)
    velocity = robot.messages_on(proto.LOCOMOTION_TOPIC)[-1]
    assert (
        velocity.source,
        velocity.forward_velocity,
        velocity.lateral_velocity,
        velocity.angular_velocity,
    ) == ("lerobot_wbvla", 0.4, -0.2, 0.3)
    assert not hasattr(velocity, "height")  # AimDK has no base height: loco.height is dropped
    backend.send_command(_command(loco=LocoCommand(vx=0.001, vy=0.0, yaw_rate=-0.002)))
    time.sleep(0.05)
    velocity = robot.messages_on(proto.LOCOMOTION_TOPIC)[-1]
    assert (velocity.forward_velocity, velocity.angular_velocity) == (0.0, 0.0)  # deadband
    assert robot.velocities_obeyed and not robot.velocities_ignored  # registered before the first velocity


def test_watchdog_damps_after_the_timeout(bridge, backends, caplog):
    server, robot = bridge()
    backend = backends(server, action_timeout_s=0.3, on_timeout="damp")
    backend.connect()
    caplog.set_level(logging.WARNING, logger="aimdk_bridge")
    for _ in range(10):
        time.sleep(0.02)
        backend.send_command(_command(dict.fromkeys(ARM, 0.3), loco=LocoCommand(vx=0.5)))
    last_command = time.monotonic()
    time.sleep(0.2)
    assert robot.messages_on(ARM_TOPIC)[-1].joints[0].stiffness > 0 and server._safe is None
    while server._safe is None and time.monotonic() - last_command < 2.0:
        time.sleep(0.005)
    assert server._safe == "damp" and 0.3 <= time.monotonic() - last_command < 0.5
    time.sleep(0.05)
    msg = robot.messages_on(ARM_TOPIC)[-1]
    gains = arm_gains(backend.config)
    assert all(j.stiffness == 0.0 for j in msg.joints)
    assert [j.damping for j in msg.joints] == [gains[j][1] for j in ARM]
    assert robot.messages_on(proto.LOCOMOTION_TOPIC)[-1].forward_velocity == 0.0
    assert "entering safe state 'damp' (client request)" in caplog.text  # the client's watchdog fired it
    backend.send_command(_command(dict.fromkeys(ARM, 0.3)))  # a new command ends the safe state
    time.sleep(0.05)
    assert server._safe is None and robot.messages_on(ARM_TOPIC)[-1].joints[0].stiffness > 0


def test_disconnect_leaves_the_robot_safe(bridge, backends):
    server, robot = bridge(zero_velocity_s=0.1)
    backend = backends(server, on_disconnect="hold", aimdk={"disconnect_mc_action": "DAMPING_DEFAULT"})
    backend.connect()
    backend.send_command(_command(dict.fromkeys(ARM, 0.2), loco=LocoCommand(vx=0.5)))
    time.sleep(0.2)
    before = len(robot.services_called())
    backend.disconnect()
    assert not backend.is_connected
    calls = robot.services_called()[before:]
    assert [name for name, _ in calls] == ["SetMcAction", "SetMcInputSource"]
    assert calls[0][1].command.action_desc == "DAMPING_DEFAULT" and calls[1][1].action.value == 1003  # DELETE
    assert server._safe == "hold" and "lerobot_wbvla" not in robot.input_sources
    held = robot.messages_on(ARM_TOPIC)[-1]
    assert all(j.stiffness > 0 for j in held.joints)
    assert all(abs(j.position - robot.q[j.name]) < 0.02 for j in held.joints)  # held where the arm is
    time.sleep(0.3)
    assert robot.messages_on(proto.LOCOMOTION_TOPIC)[-1].forward_velocity == 0.0
    assert len(robot.messages_on(ARM_TOPIC)) > len(robot.messages_on(proto.LOCOMOTION_TOPIC))  # hold goes on
    backend.disconnect()  # idempotent


def test_version_mismatch_and_unreachable_bridge_give_clear_errors(bridge, backends):
    server, _ = bridge(protocol_version=99)
    with pytest.raises(
        AimdkVersionError, match=r"tcp://127\.0\.0\.1:\d+ speaks protocol v99, this client v1"
    ):
        backends(server).connect()

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    backend = make_backend(server)
    backend.settings.command_port, backend.settings.connect_timeout_s = port, 0.6
    started = time.monotonic()
    with pytest.raises(
        ConnectionError,
        match=rf"no answer from an AimDK bridge at tcp://127\.0\.0\.1:{port} .*"
        "scripts/aimdk_bridge.py running",
    ):
        backend.connect()
    assert time.monotonic() - started < 1.5 and not backend.is_connected


def test_client_retries_a_lost_request_with_the_same_id():
    ctx = zmq.Context()
    router = ctx.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    seen = []

    def serve():  # loses the first request, answers the next
        for _ in range(2):
            if not router.poll(3000):
                return
            identity, *frames = router.recv_multipart()
            message, _ = proto.decode(frames)
            seen.append(message["id"])
            if len(seen) > 1:
                reply = {"type": "reply", "id": message["id"], "ok": True, "result": {"time": 1.0}}
                router.send_multipart([identity, *proto.encode(reply)])

    thread = threading.Thread(target=serve)
    thread.start()
    client = AimdkClient("127.0.0.1", port, request_timeout_s=0.2, request_retries=2)
    client._ctx = zmq.Context()
    client._dealer = client._ctx.socket(zmq.DEALER)
    client._dealer.setsockopt(zmq.LINGER, 0)
    client._dealer.connect(client.command_endpoint)
    try:
        assert client.request("ping") == {"time": 1.0}
        assert len(seen) == 2 and seen[0] == seen[1]
    finally:
        thread.join()
        client.close()
        router.close(0)
        ctx.term()


def test_fake_bridge_command_line():
    server = server_from_args(
        [
            "--bind",
            "127.0.0.1",
            "--command_port",
            "0",
            "--state_port",
            "0",
            "--camera_port",
            "0",
            "--mc_action",
            "JOINT_DEFAULT",
            "--allowed_groups",
            "arm,head",
        ]
    )
    server.start()
    client = AimdkClient(
        "127.0.0.1",
        _port(server.command_endpoint),
        _port(server.state_endpoint),
        _port(server.camera_endpoint),
        request_timeout_s=1.0,
    )
    try:
        hello = client.connect({"client": "t"}, timeout_s=3.0)
        assert hello["protocol"] == proto.PROTOCOL_VERSION and hello["allowed_groups"] == ["arm", "head"]
        assert hello["state_port"] == _port(server.state_endpoint)
        state = client.wait_for_state(3.0)
        assert [j["name"] for j in state["groups"]["arm"]["joints"]] == [f"{j}_joint" for j in ARM]
        assert client.request("get_mc_action")["action"] == "JOINT_DEFAULT"
    finally:
        client.close()
        server.stop()


def test_agibot_x2_robot_drives_the_fake_robot_through_the_aimdk_backend(bridge):
    from lerobot_wbvla.robots.agibot_x2.agibot_x2 import AgibotX2
    from lerobot_wbvla.robots.agibot_x2.joints import ACTION_KEYS

    server, robot = bridge()
    config = make_backend(server, head_camera=(96, 128)).config
    x2 = AgibotX2(config)
    x2.connect()
    try:
        obs = x2.get_observation()
        assert set(obs) == set(x2.observation_features) and obs["head"].shape == (96, 128, 3)
        assert obs["left_knee.pos"] == pytest.approx(0.4) and obs["left_elbow.pos"] == pytest.approx(-0.3)
        action = dict.fromkeys(ACTION_KEYS, 0.0)
        action.update({f"{j}.pos": obs[f"{j}.pos"] for j in ARM})
        action.update(
            {
                "left_shoulder_pitch.pos": obs["left_shoulder_pitch.pos"] + 0.1,
                "loco.vx": 0.3,
                "left_gripper.pos": 0.3,
            }
        )
        sent = x2.send_action(action)
        time.sleep(0.05)
        arm = robot.messages_on(ARM_TOPIC)[-1]
        assert [j.name for j in arm.joints] == [f"{j}_joint" for j in ARM]
        assert arm.joints[0].position == pytest.approx(sent["left_shoulder_pitch.pos"])
        assert robot.messages_on(proto.LOCOMOTION_TOPIC)[-1].forward_velocity == pytest.approx(0.3)
        assert robot.messages_on(proto.HAND_COMMAND_TOPIC)[-1].left_hands[0].position == pytest.approx(0.7)
    finally:
        x2.disconnect()
    assert server._safe == config.on_disconnect and not x2.is_connected
