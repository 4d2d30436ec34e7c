#!/usr/bin/env python3
"""AimDK <-> LeRobot bridge. Runs ON THE ROBOT's development computer (AgiBot X2 PC2, 10.0.1.41, ROS 2 Humble).

It speaks AimDK's ROS 2 interface (topics `/aima/hal/joint/{leg,waist,arm,head}/{command,state}`,
`/aima/hal/joint/hand/{command,state}`, `/aima/mc/locomotion/velocity`, `/aima/hal/imu/{torso,chest}/state`, the
head RGB camera; services SetMcAction, GetMcAction, SetMcInputSource, GetHandType) and serves the ZeroMQ protocol
of `lerobot_wbvla/robots/agibot_x2/aimdk_protocol.py` to the `aimdk` backend of the LeRobot robot `agibot_x2`.
The protocol server and the safety logic live in `aimdk_bridge_core.py`, the ROS <-> JSON translation in
`aimdk_translate.py` (the same code the tests run against a fake robot); this file only adds the rclpy side.

Setup on PC2 (needs only Python 3.10, rclpy, aimdk_msgs, pyzmq, numpy; OpenCV optional for JPEG):
    source /opt/ros/humble/setup.bash && source <aimdk workspace>/install/setup.bash
    pip install pyzmq                     # if missing
    git clone <this repository> && cd <it>
    python3 scripts/aimdk_bridge.py       # --help lists the options; Ctrl-C holds the arms, zeroes velocity, exits
Then on the LeRobot machine: `--robot.type=agibot_x2 --robot.backend=aimdk --robot.aimdk.host=10.0.1.41`.

Safety: the robot must stand under MC (STAND_DEFAULT) before a client connects (or the client passes
`--robot.aimdk.auto_stand=true` with the feet on the ground). Joint commands are accepted for the arm group only
unless `--allowed_groups` says otherwise; leg/waist commands fight MC and need MC stopped (`aima em stop-app mc`).
AimDK's docs document arm/hand joint control with MC stopped; keeping MC's walking while commanding the arms at
HAL level may need AgiBot's system-side adaptation on some releases. Never run this on PC1 (motion control).
"""

from __future__ import annotations

import importlib.util
import logging
import sys
import threading
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

_LIBRARY_DIR = Path(__file__).resolve().parent.parent / "lerobot_wbvla" / "robots" / "agibot_x2"


def _load_core() -> ModuleType:
    """Load aimdk_protocol, aimdk_translate and aimdk_bridge_core by path from this checkout, without importing
    lerobot_wbvla (whose other modules need LeRobot, MuJoCo and Python 3.12, none of which the robot has). Falls back
    to an installed lerobot_wbvla."""
    if (_LIBRARY_DIR / "aimdk_bridge_core.py").is_file():
        if str(_LIBRARY_DIR) not in sys.path:
            sys.path.insert(0, str(_LIBRARY_DIR))
        spec = importlib.util.spec_from_file_location(
            "aimdk_bridge_core", _LIBRARY_DIR / "aimdk_bridge_core.py"
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["aimdk_bridge_core"] = module
        spec.loader.exec_module(module)
        return module
    try:
        from lerobot_wbvla.robots.agibot_x2 import aimdk_bridge_core
    except ImportError as exc:
        raise SystemExit(
            f"cannot find aimdk_bridge_core.py next to this script ({_LIBRARY_DIR}) nor an installed lerobot_wbvla: "
            "copy the whole repository to the robot"
        ) from exc
    return aimdk_bridge_core


core = _load_core()
proto = core.proto
logger = logging.getLogger("aimdk_bridge")

_AIMDK_MSG_NAMES = (
    "MessageHeader",
    "RequestHeader",
    "CommonRequest",
    "CommonState",
    "JointCommand",
    "JointCommandArray",
    "JointStateArray",
    "HandType",
    "HandCommand",
    "HandCommandArray",
    "HandStateArray",
    "McLocomotionVelocity",
    "McAction",
    "McActionCommand",
    "McInputAction",
    "McInputSource",
)
_AIMDK_SRV_NAMES = ("SetMcAction", "GetMcAction", "SetMcInputSource", "GetHandType")


def _import_ros() -> SimpleNamespace:
    """rclpy, aimdk_msgs and sensor_msgs, with a clear message where they are missing."""
    try:
        import aimdk_msgs.msg as aimdk_msg
        import aimdk_msgs.srv as aimdk_srv
        import rclpy
        import rclpy.executors
        import rclpy.qos
        import sensor_msgs.msg
    except ImportError as exc:
        raise SystemExit(
            f"aimdk_bridge needs ROS 2 Humble with rclpy and AimDK's aimdk_msgs ({exc}). Run it on the robot's "
            "development computer after `source /opt/ros/humble/setup.bash` and sourcing the AimDK workspace "
            "(`source <aimdk>/install/setup.bash`). To try the client without a robot, run the fake bridge: "
            "`python -m lerobot_wbvla.robots.agibot_x2.aimdk_fake_bridge`."
        ) from exc
    msgs = SimpleNamespace(**{name: getattr(aimdk_msg, name) for name in _AIMDK_MSG_NAMES})
    msgs.__dict__.update({name: getattr(aimdk_srv, name) for name in _AIMDK_SRV_NAMES})
    return SimpleNamespace(
        rclpy=rclpy,
        qos=rclpy.qos,
        executors=rclpy.executors,
        msgs=msgs,
        Imu=sensor_msgs.msg.Imu,
        Image=sensor_msgs.msg.Image,
    )


class RosAimdk:
    """`AimdkPort` over rclpy: one node, a background executor, publishers/clients made on first use."""

    def __init__(self, node_name: str = "lerobot_wbvla_aimdk_bridge"):
        self.ros = _import_ros()
        self.msgs = self.ros.msgs
        self.ros.rclpy.init()
        self.node = self.ros.rclpy.create_node(node_name)
        qos = self.ros.qos
        # AimDK's examples: commands RELIABLE depth 10; states BEST_EFFORT (compatible with any publisher).
        self._command_qos = qos.QoSProfile(
            depth=10, reliability=qos.ReliabilityPolicy.RELIABLE, history=qos.HistoryPolicy.KEEP_LAST
        )
        self._state_qos = qos.QoSProfile(
            depth=1, reliability=qos.ReliabilityPolicy.BEST_EFFORT, history=qos.HistoryPolicy.KEEP_LAST
        )
        self._publishers: dict[str, Any] = {}
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._executor = self.ros.executors.MultiThreadedExecutor(num_threads=4)
        self._executor.add_node(self.node)
        self._spin_thread: threading.Thread | None = None

    def now_stamp(self) -> Any:
        return self.node.get_clock().now().to_msg()

    def _message_type(self, topic: str) -> Any:
        if topic == proto.LOCOMOTION_TOPIC:
            return self.msgs.McLocomotionVelocity
        if topic == proto.HAND_COMMAND_TOPIC:
            return self.msgs.HandCommandArray
        return self.msgs.JointCommandArray

    def publish(self, topic: str, msg: Any) -> None:
        with self._lock:
            if topic not in self._publishers:
                self._publishers[topic] = self.node.create_publisher(
                    self._message_type(topic), topic, self._command_qos
                )
            publisher = self._publishers[topic]
        publisher.publish(msg)

    def call_service(self, name: str, request: Any, attempts: int, attempt_timeout_s: float) -> Any:
        short = name.rsplit("/", 1)[-1]
        with self._lock:
            if name not in self._clients:
                self._clients[name] = self.node.create_client(getattr(self.msgs, short), name)
            client = self._clients[name]
        if not client.wait_for_service(timeout_sec=attempts * attempt_timeout_s):
            raise core.ServiceTimeout(f"AimDK service {name} is not available (is MC running?)")

        def restamp() -> None:  # AimDK examples restamp each retry
            header = getattr(request, "header", None) or getattr(
                getattr(request, "request", None), "header", None
            )
            if header is not None:
                header.stamp = self.now_stamp()

        return core.call_with_retries(
            lambda: client.call_async(request), attempts, attempt_timeout_s, short, before_attempt=restamp
        )

    def start(self, subscriptions: dict[str, str], on_message: Any) -> None:
        types = {
            "joint_state": self.msgs.JointStateArray,
            "hand_state": self.msgs.HandStateArray,
            "imu": self.ros.Imu,
            "image": self.ros.Image,
        }
        for topic, kind in subscriptions.items():
            qos = self.ros.qos.qos_profile_sensor_data if kind in ("imu", "image") else self._state_qos
            self.node.create_subscription(types[kind], topic, lambda msg, t=topic: on_message(t, msg), qos)
        self._spin_thread = threading.Thread(target=self._executor.spin, name="ros-executor", daemon=True)
        self._spin_thread.start()

    def close(self) -> None:
        self._executor.shutdown()
        self.node.destroy_node()
        if self.ros.rclpy.ok():
            self.ros.rclpy.shutdown()


def main(argv: list[str] | None = None) -> None:
    config = core.parse_config(core.BridgeConfig, argv, __doc__.split("\n\n")[0])
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    server = core.BridgeServer(RosAimdk(), config)
    server.serve_forever()


if __name__ == "__main__":
    main()
