"""lerobot-record's recording path under faults: a teleop that disconnects mid-episode, a camera that is missing.

These run LeRobot's `record()` (the function behind `lerobot-record`) in the test process, which saves the ~20 s
start-up of a child process per case; the CLI itself is exercised in test_record_tasks.py.
"""

from __future__ import annotations

import re

import pytest
from lerobot.configs.dataset import DatasetRecordConfig
from lerobot.datasets import LeRobotDataset
from lerobot.scripts.lerobot_record import RecordConfig, record

from lerobot_wbvla.robots.agibot_x2 import AgibotX2Config
from lerobot_wbvla.robots.agibot_x2.aimdk_client import AimdkRequestError
from lerobot_wbvla.robots.agibot_x2.config_aimdk import AimdkConfig
from lerobot_wbvla.teleoperators.dxl_sim import chain_for, unregister_chain
from lerobot_wbvla.teleoperators.x2_leader import LeaderArmDisconnectedError, X2Leader, X2LeaderConfig
from lerobot_wbvla.teleoperators.x2_leader.config_x2_leader import X2LeaderArmsConfig
from lerobot_wbvla.teleoperators.x2_whole_body import X2WholeBodyConfig

from .helpers import SMALL_CAMERA, write_leader_calibration

FPS = 30


def _dataset_cfg(tmp_path, repo_id, **kw) -> DatasetRecordConfig:
    return DatasetRecordConfig(
        repo_id=repo_id,
        single_task="wave both arms",
        root=tmp_path / "ds",
        fps=FPS,
        push_to_hub=False,
        no_stamp=True,
        num_image_writer_threads_per_camera=1,
        **kw,
    )


def test_teleop_disconnect_mid_episode_keeps_earlier_episodes(tmp_path, monkeypatch, capfd):
    cal_dir = tmp_path / "calibration"
    write_leader_calibration(cal_dir, "rig")
    monkeypatch.setattr("builtins.input", lambda *a, **k: "")  # "ENTER: use the calibration file"

    # How many bus packets the left arm sees while the leader connects (deterministic): measure it on an
    # identical simulated arm, so that the real one can be unplugged a known number of frames later.
    probe = X2Leader(
        X2LeaderConfig(
            left_port="dxlsim://probeL?preset=x2_leader_arm",
            right_port="dxlsim://probeR?preset=x2_leader_arm",
            id="rig",
            calibration_dir=cal_dir,
        )
    )
    probe.connect()
    connect_packets = chain_for("probeL").packets_handled
    probe.disconnect()
    for name in ("probeL", "probeR"):
        unregister_chain(name)

    # One bus packet per frame (a sync read). Unplug 50 frames after connecting: episode 0 (1 s = ~30 frames)
    # and its 0.5 s reset are done by then at any loop speed that keeps >= 34 Hz... and at slower speeds the
    # cut falls into a later episode; either way the episodes before it must survive.
    unplug_after = connect_packets + 50
    teleop = X2WholeBodyConfig(
        id="rig",
        calibration_dir=cal_dir,
        arms=X2LeaderArmsConfig(
            left_port=f"dxlsim://recL?preset=x2_leader_arm&unplug_after={unplug_after}",
            right_port="dxlsim://recR?preset=x2_leader_arm",
        ),
    )
    robot = AgibotX2Config(id="fault-twin", head_camera=SMALL_CAMERA)
    cfg = RecordConfig(
        robot=robot,
        teleop=teleop,
        play_sounds=False,
        dataset=_dataset_cfg(
            tmp_path, "wbvla-tests/disconnect", num_episodes=4, episode_time_s=1.0, reset_time_s=0.5
        ),
    )
    try:
        with pytest.raises(LeaderArmDisconnectedError, match=r"left leader arm .* stopped answering") as err:
            record(cfg)
    finally:
        for name in ("recL", "recR"):
            unregister_chain(name)
    assert "episodes saved before this one are kept" in str(err.value)

    log = capfd.readouterr().err  # lerobot's init_logging() logs to stderr
    started = [int(m) for m in re.findall(r"Recording episode (\d+)", log)]
    assert started and started[-1] >= 1, log[-2000:]
    ds = LeRobotDataset("wbvla-tests/disconnect", root=tmp_path / "ds")
    assert ds.num_episodes == started[-1]  # every episode before the interrupted one
    lengths = [int(ep["length"]) for ep in ds.meta.episodes]
    assert sum(lengths) == ds.num_frames and all(n >= 10 for n in lengths)
    last = ds[ds.num_frames - 1]  # the last saved frame decodes from the video
    assert tuple(last["observation.images.head"].shape) == (3, *SMALL_CAMERA)
    assert last["episode_index"].item() == ds.num_episodes - 1


def test_missing_camera_is_a_clear_error(tmp_path):
    """The robot is asked for wrist cameras that the robot does not stream (AimDK bridge with a head camera only)."""
    from lerobot_wbvla.robots.agibot_x2.aimdk_bridge_core import BridgeConfig
    from lerobot_wbvla.robots.agibot_x2.aimdk_fake_bridge import start_fake_bridge

    server, _ = start_fake_bridge(BridgeConfig(bind="127.0.0.1", command_port=0, state_port=0, camera_port=0))
    try:
        ports = {
            k: int(getattr(server, f"{k}_endpoint").rsplit(":", 1)[1]) for k in ("command", "state", "camera")
        }
        robot = AgibotX2Config(
            id="cam-x2",
            backend="aimdk",
            wrist_cameras=True,
            head_camera=SMALL_CAMERA,
            aimdk=AimdkConfig(
                host="127.0.0.1",
                command_port=ports["command"],
                state_port=ports["state"],
                camera_port=ports["camera"],
                connect_timeout_s=3.0,
            ),
        )
        teleop = X2WholeBodyConfig(
            id="rig",
            calibration_dir=tmp_path,
            arms=X2LeaderArmsConfig(
                left_port="dxlsim://camL?preset=x2_leader_arm",
                right_port="dxlsim://camR?preset=x2_leader_arm",
            ),
        )
        write_leader_calibration(tmp_path, "rig")
        cfg = RecordConfig(
            robot=robot,
            teleop=teleop,
            play_sounds=False,
            dataset=_dataset_cfg(
                tmp_path, "wbvla-tests/nocam", num_episodes=1, episode_time_s=1.0, reset_time_s=0.5
            ),
        )
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr("builtins.input", lambda *a, **k: "")
            # The robot refuses to connect, naming the camera, what the robot does serve, and the fix.
            with pytest.raises(
                AimdkRequestError, match=r"camera 'left_wrist' is not served .* serves \['head'\]"
            ):
                record(cfg)
    finally:
        server.stop()
        for name in ("camL", "camR"):
            unregister_chain(name)
    assert not (tmp_path / "ds" / "data").exists()  # nothing recorded
