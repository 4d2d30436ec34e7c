"""wbvla-record-sim's checkpoints (checkpoint.py) and its real-time thread demotion (realtime.py).

A SIGKILLed recording leaves files LeRobot wrote after the last checkpoint (parquet files without a footer, info.json
counting unsaved episodes): `roll_back` must delete exactly those and restore the metadata files LeRobot rewrites
in place. SVT-AV1 (LeRobot's AV1 encoder) run as root puts encoding threads on SCHED_FIFO 99: a recorder must move
them back, and the CPU burners of the loaded-machine tests must run at normal priority even when the test process
itself was made real-time (else they freeze the machine).
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from lerobot_wbvla.teleoperators.x2_scripted import checkpoint, record_sim
from lerobot_wbvla.teleoperators.x2_scripted.realtime import demote_realtime_threads

from .helpers import cpu_burners


def _write(root: Path, rel: str, text: str) -> None:
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_text(text)


def test_roll_back_returns_a_killed_dataset_to_its_last_checkpoint(tmp_path):
    root = tmp_path / "ds"
    _write(root, "meta/info.json", '{"total_episodes": 2}')
    _write(root, "meta/tasks.parquet", "tasks v1")
    _write(root, "data/chunk-000/file-000.parquet", "episodes 0-1")
    _write(root, "videos/observation.images.head/chunk-000/file-000.mp4", "video 0-1")
    _write(root, "meta/episodes/chunk-000/file-000.parquet", "rows 0-1")
    assert checkpoint.roll_back(root) is None  # no checkpoint record: not ours to touch
    checkpoint.mark(root)
    # What LeRobot writes after a resume: new files, and the rewritten metadata (stats.json for the first time).
    _write(root, "meta/info.json", '{"total_episodes": 3}')
    _write(root, "meta/stats.json", "stats 0-2")
    _write(root, "meta/tasks.parquet", "tasks v2")
    _write(root, "data/chunk-000/file-001.parquet", "episode 2 (no footer)")
    _write(root, "videos/observation.images.head/chunk-000/file-001.mp4", "video 2")
    removed = checkpoint.roll_back(root)
    assert sorted(removed) == [
        "data/chunk-000/file-001.parquet",
        "videos/observation.images.head/chunk-000/file-001.mp4",
    ]
    assert (root / "meta/info.json").read_text() == '{"total_episodes": 2}'
    assert (root / "meta/tasks.parquet").read_text() == "tasks v1"
    assert not (root / "meta/stats.json").exists()
    assert (root / "data/chunk-000/file-000.parquet").read_text() == "episodes 0-1"
    # A second checkpoint replaces the first; a file of the checkpoint changed since cannot be rolled back.
    _write(root, "meta/stats.json", "stats 0-1")
    checkpoint.mark(root)
    assert checkpoint.roll_back(root) == [] and (root / "meta/stats.json").read_text() == "stats 0-1"
    _write(root, "data/chunk-000/file-000.parquet", "episodes 0-1 rewritten")
    with pytest.raises(checkpoint.RollbackError, match="file-000.parquet"):
        checkpoint.roll_back(root)
    checkpoint.clear(root)
    assert checkpoint.roll_back(root) is None and not (root / checkpoint.STATE_DIR).exists()


def _encode_av1_here() -> None:
    """Encode a few frames with SVT-AV1 in this thread, as LeRobot's encoders do."""
    import av

    out = av.open(os.devnull, "w", format="mp4")
    stream = out.add_stream("libsvtav1", 30, options={"preset": "12", "g": "2", "crf": "30"})
    stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
    for i in range(4):
        frame = av.VideoFrame.from_ndarray(np.zeros((64, 64, 3), np.uint8), format="rgb24")
        frame.pts, frame.time_base = i, Fraction(1, 30)
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)
    out.close()


def _realtime_threads() -> list[int]:
    out = []
    for name in os.listdir("/proc/self/task"):
        try:
            if os.sched_getscheduler(int(name)) in (os.SCHED_FIFO, os.SCHED_RR):
                out.append(int(name))
        except OSError:
            continue
    return out


@pytest.fixture
def svt_takes_realtime():
    """Skip where SVT-AV1 does not make an encoding thread real-time (not root, not Linux); leaves none."""
    if not hasattr(os, "sched_getscheduler") or os.geteuid() != 0:
        pytest.skip("SVT-AV1 only takes real-time priority as root on Linux")
    _encode_av1_here()
    if not _realtime_threads():
        pytest.skip("this SVT-AV1 build does not take real-time priority")
    demote_realtime_threads()
    yield
    demote_realtime_threads()


def test_cpu_burners_run_at_normal_priority_after_an_av1_encode(svt_takes_realtime):
    _encode_av1_here()  # this test process is now real-time, as after any test that encoded a video in it
    with cpu_burners(1) as [burner]:
        assert os.sched_getscheduler(burner.pid) == os.SCHED_OTHER
        assert _realtime_threads() == []  # and so does every process the test starts from now on


def test_the_recorder_moves_av1_threads_back_to_the_normal_scheduler(
    svt_takes_realtime, tmp_path, monkeypatch
):
    demoted = []

    def demote() -> int:
        moved = demote_realtime_threads()
        demoted.append(moved)
        return moved

    monkeypatch.setattr(record_sim, "demote_realtime_threads", demote)
    cfg = record_sim.RecordSimConfig(
        tasks=["pick_place"],
        episodes=1,
        episode_time_s=1.0,
        rerecord_failed=False,
        root=tmp_path / "ds",
        repo_id="local/x2-realtime",
    )
    cfg.robot.head_camera = (48, 64)
    result = record_sim.run_single(record_sim.Recorder(cfg))
    assert len(result.saved) == 1
    assert sum(demoted) > 0  # the encoder's threads were real-time, and were moved back while recording
    assert _realtime_threads() == []


def test_a_part_killed_between_creation_and_first_checkpoint_begins_anew(tmp_path):
    """Seen on a loaded CI machine: a parallel run stopped while a worker was creating its part left a part with
    meta/info.json but no checkpoint record and no episode; --resume=true must record that part, not fail on it."""
    cfg = record_sim.RecordSimConfig(
        tasks=["pick_place"], episodes=1, episode_time_s=0.5, rerecord_failed=False, repo_id="local/x2-part"
    )
    cfg.robot.head_camera = (48, 64)
    part = tmp_path / "stage" / "part-000000"
    first = record_sim.Recorder(cfg, root=part, part=True)
    features = record_sim.dataset_features(
        record_sim.AgibotX2(record_sim.robot_config(cfg, cfg.tasks[0])), cfg.video
    )
    first._create(features)  # ... and killed before checkpoint.mark
    assert (part / "meta" / "info.json").is_file() and record_sim.episode_count(part) == 0
    assert record_sim.roll_back_dataset(part) is None  # no checkpoint record

    again = record_sim.Recorder(cfg, root=part, part=True)
    again.open_dataset()
    assert again.dataset is not None and record_sim.roll_back_dataset(part) == 0
    # A dataset of the user's (not a part) in the same state is still refused with one clear error.
    user = tmp_path / "user"
    record_sim.Recorder(cfg, root=user)._create(features)
    cfg.resume = True
    with pytest.raises(record_sim.RecordSimError, match="does not load"):
        record_sim.Recorder(cfg, root=user).open_dataset()
