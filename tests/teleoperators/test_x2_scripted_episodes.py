"""x2_scripted inside lerobot-record's episode loop.

Inside lerobot-record (the hook of record_hook.py around LeRobot's own `record_loop`): the operator resets the scene
at each episode's start, ends the episode itself in sim time (solved and settled, or budget spent), asks for a
re-record of an unsolved episode through lerobot-record's `events`, and judges an episode that the wall clock cut.

Without the hook (the wall-clock fallback, episode_clock.py): every recorded episode starts from a freshly reset,
seeded scene, each episode is judged at its own end, nothing is reset while recording, and what the operator
records as the action is what the robot executed. Driven by an exact emulation of lerobot-record's loop on a fake
clock (fast, full-length episodes, chosen save pauses) and by LeRobot's own `record_loop` on the wall clock.
"""

from __future__ import annotations

import itertools
import logging

import numpy as np
import pytest

from lerobot_wbvla.envs.agibot_x2.tasks import TASKS, SuccessCheck
from lerobot_wbvla.robots.agibot_x2 import sim_registry
from lerobot_wbvla.robots.agibot_x2.agibot_x2 import AgibotX2
from lerobot_wbvla.robots.agibot_x2.config_agibot_x2 import AgibotX2Config
from lerobot_wbvla.robots.agibot_x2.sim import X2Sim, X2SimConfig
from lerobot_wbvla.teleoperators.x2_scripted.config_x2_scripted import X2ScriptedConfig
from lerobot_wbvla.teleoperators.x2_scripted.episode_clock import EpisodeClock, RecordPhase
from lerobot_wbvla.teleoperators.x2_scripted.x2_scripted import X2Scripted

FPS = 30
SEED = 5
_ids = itertools.count()


def _fresh_qpos(scene: str, seed: int) -> np.ndarray:
    """Every joint and prop position of the twin right after reset(seed)."""
    sim = X2Sim(X2SimConfig(scene=scene))
    sim.reset(seed)
    return sim.data.qpos.copy()


@pytest.fixture
def rig():
    robot_id = f"x2_scripted_test_{next(_ids)}"
    robot = AgibotX2(
        AgibotX2Config(id=robot_id, scene="pick_place", seed=SEED, control_fps=FPS, head_camera=(48, 64))
    )
    teleops = []

    def make_teleop(**fields) -> X2Scripted:
        teleop = X2Scripted(X2ScriptedConfig(robot_id=robot_id, seed=SEED, **fields))
        teleop.connect()  # lerobot-record connects the teleop first
        robot.connect()
        teleops.append(teleop)
        return teleop

    yield robot, make_teleop
    for teleop in teleops:
        teleop.disconnect()
    if robot.is_connected:
        robot.disconnect()


class Recorder:
    """What the test sees per loop iteration: which loop it was in, the observed twin state, the action."""

    def __init__(self, robot: AgibotX2) -> None:
        self.robot = robot
        self.rows: list[dict] = []
        self.loop = ("episode", 0)
        self.end_success: dict[int, bool] = {}  # episode -> the task solved at the episode's own last frame

    def observe(self) -> None:
        sim = sim_registry.lookup(self.robot.id)
        self.robot.get_observation()
        self.rows.append(
            {
                "loop": self.loop,
                "obj": sim.data.body("object").xpos.copy(),
                "qpos": sim.data.qpos.copy(),
                "t": sim.sim_time,
                "sim": sim,
            }
        )

    def episode_rows(self, k: int) -> list[dict]:
        return [r for r in self.rows if r["loop"] == ("episode", k)]

    def judge_episode_end(self, k: int) -> None:
        """The task check on the live twin right after episode k's last recorded action (before any reset)."""
        rows = self.episode_rows(k)
        sim = rows[-1]["sim"]
        check = SuccessCheck(TASKS["pick_place"], sim.model)
        check.start_pos = rows[0]["obj"]
        self.end_success[k] = bool(check(sim.data))


def _emulated_record(robot, teleop, rec: Recorder, n_episodes, episode_s, reset_s, save_pauses, obs_s=0.006):
    """lerobot-record's loop (record_loop per episode, then per reset phase, then save_episode) on a fake clock:
    the loop checks its clock after each iteration and sleeps to the control period."""
    clock = 100.0

    def loop(control_time_s: float) -> None:
        nonlocal clock
        start = clock
        timestamp = 0.0
        while timestamp < control_time_s:
            it_start = clock
            rec.observe()
            clock += obs_s
            action = teleop.get_action(now=clock)
            sent = robot.send_action(action)
            rec.rows[-1]["action"], rec.rows[-1]["sent"] = action, sent
            clock = max(clock + 0.004, it_start + 1.0 / FPS)
            timestamp = clock - start

    for k in range(n_episodes):
        rec.loop = ("episode", k)
        loop(episode_s)
        rec.judge_episode_end(k)
        if k < n_episodes - 1:
            rec.loop = ("reset", k)
            loop(reset_s)
        clock += save_pauses[k]  # dataset.save_episode()


@pytest.mark.parametrize("save_pause", [0.4, 0.0])
def test_every_recorded_episode_is_fresh_and_solved(rig, save_pause):
    robot, make_teleop = rig
    episode_s, reset_s, n = 11.0, 2.0, 3
    teleop = make_teleop(fallback_episode_time_s=episode_s, fallback_reset_time_s=reset_s)
    rec = Recorder(robot)
    _emulated_record(robot, teleop, rec, n, episode_s, reset_s, [save_pause] * n)

    assert teleop.episode_seeds == [SEED, SEED + 1, SEED + 2]
    for k in range(n):
        rows = rec.episode_rows(k)
        assert abs(len(rows) - episode_s * FPS) <= 1
        # The first recorded frame is exactly the fresh scene of this episode's seed (robot and props). The
        # fallback sees an episode's start up to a call or two late: those first frames are the same fresh state.
        fresh = _fresh_qpos("pick_place", SEED + k)
        late = next(i for i, r in enumerate(rows) if r["t"] > rows[0]["t"]) - 1
        assert late <= (2 if save_pause >= 0.3 else 8)  # as in test_episode_clock_is_never_early_under_jitter
        for r in rows[: late + 1]:
            np.testing.assert_array_equal(r["qpos"], fresh)
        # No reset while recording once the operator started: one twin, time only moves forward.
        assert all(r["sim"] is rows[0]["sim"] for r in rows)
        assert all(b["t"] > a["t"] for a, b in itertools.pairwise(rows[late:]))
        # What the operator recorded is exactly what the robot executed (no clamping).
        for r in rows:
            assert r["sent"] == pytest.approx(r["action"], abs=1e-9)
    # The task is done within each episode, judged at that episode's own end (the box rests on the target,
    # released), and the operator's own verdict agrees.
    assert rec.end_success == {k: True for k in range(n)}
    assert [(o.success, o.reason, o.scene_seed) for o in teleop.outcomes[:2]] == [
        (True, "solved", SEED),
        (True, "solved", SEED + 1),
    ]


def test_lerobot_record_loop_wall_clock_boundaries(rig):
    """LeRobot's own record_loop, called unhooked (so the operator uses its wall-clock fallback), with
    short episodes: the scene is reset in each reset phase and the next episode starts from it. (The first
    get_observation creates the renderer, which makes the operator's clock start late by that much: the reset
    phase must absorb it.)"""
    import time

    from lerobot.processor import make_default_processors
    from lerobot.scripts import lerobot_record

    from lerobot_wbvla.teleoperators.x2_scripted import record_hook

    # LeRobot's own loop, unhooked even when an earlier test in this process connected x2_scripted (connect() wraps
    # the module's record_loop for the rest of the process).
    record_loop = lerobot_record.record_loop
    while getattr(record_loop, record_hook._MARK, False):
        record_loop = record_loop.__wrapped__

    robot, make_teleop = rig
    episode_s, reset_s, n = 0.8, 1.0, 3
    teleop = make_teleop(fallback_episode_time_s=episode_s, fallback_reset_time_s=reset_s)
    rec = Recorder(robot)
    original = robot.get_observation

    def observing():
        obs = original()
        sim = sim_registry.lookup(robot.id)
        rec.rows.append({"loop": rec.loop, "qpos": sim.data.qpos.copy(), "t": sim.sim_time, "sim": sim})
        return obs

    robot.get_observation = observing
    t_proc, r_proc, o_proc = make_default_processors()
    events = {"exit_early": False, "stop_recording": False, "rerecord_episode": False}
    for k in range(n):
        rec.loop = ("episode", k)
        record_loop(robot, events, FPS, t_proc, r_proc, o_proc, teleop=teleop, control_time_s=episode_s)
        if k < n - 1:
            rec.loop = ("reset", k)
            record_loop(robot, events, FPS, t_proc, r_proc, o_proc, teleop=teleop, control_time_s=reset_s)
        time.sleep(0.2)  # dataset.save_episode() (video encoding) takes at least this long
    assert teleop.episode_seeds == [SEED, SEED + 1, SEED + 2]
    for k in range(n):
        rows = rec.episode_rows(k)
        assert len(rows) >= 5
        np.testing.assert_array_equal(rows[0]["qpos"], _fresh_qpos("pick_place", SEED + k))
        late = next(i for i, r in enumerate(rows) if r["t"] > rows[0]["t"]) - 1  # fresh state held, see above
        assert all(b["t"] > a["t"] for a, b in itertools.pairwise(rows[late:]))


@pytest.fixture
def quiet_loop_rate():
    """Silence LeRobot's per-iteration 'Record loop is running slower' warning (the loops below run unpaced)."""

    def keep(record: logging.LogRecord) -> bool:
        return "Record loop is running slower" not in record.getMessage()

    root = logging.getLogger()
    root.addFilter(keep)
    yield
    root.removeFilter(keep)


class FakeDataset:
    """What LeRobot's record_loop and the hook use of a dataset: fps, features, add_frame, num_episodes."""

    def __init__(self, fps: int) -> None:
        self.fps, self.features, self.frames, self.num_episodes = fps, {}, 0, 0

    def add_frame(self, frame: dict) -> None:
        self.frames += 1


def _hooked_loops(robot, teleop, dataset, events, control_time_s, record_fps=1000):
    """lerobot-record's two loops, called the way record() calls them (the module attribute, i.e. hooked). A high
    loop rate only removes the sleeping: the twin advances 1/control_fps per action whatever the loop's rate."""
    import lerobot.scripts.lerobot_record as lr
    from lerobot.processor import make_default_processors

    t_proc, r_proc, o_proc = make_default_processors()
    dataset.fps = record_fps

    def run(data, seconds):
        lr.record_loop(
            robot=robot,
            events=events,
            fps=record_fps,
            teleop_action_processor=t_proc,
            robot_action_processor=r_proc,
            robot_observation_processor=o_proc,
            dataset=data,
            teleop=teleop,
            control_time_s=seconds,
        )

    return run


def test_inside_lerobot_record_the_operator_ends_episodes_in_sim_time(rig, caplog, quiet_loop_rate):
    import lerobot.scripts.lerobot_record  # noqa: F401 (loaded before connect, as in lerobot-record)

    robot, make_teleop = rig
    teleop = make_teleop(max_attempts=2)
    assert teleop.hooked
    dataset = FakeDataset(FPS)
    events = {"exit_early": False, "stop_recording": False, "rerecord_episode": False}
    run = _hooked_loops(robot, teleop, dataset, events, 60)
    sim = sim_registry.lookup(robot.id)
    with caplog.at_level(logging.INFO):
        run(dataset, 60.0)  # a wall-clock limit the operator never reaches
    # Ended by the operator once solved and settled: far before the wall clock, same frames on any machine.
    out = teleop.outcomes[-1]
    assert (out.success, out.reason, out.scene_seed, out.clamped_frames) == (True, "solved", SEED, 0)
    assert out.frames == dataset.frames and 7.0 < out.sim_s < 14.0
    assert not events["exit_early"] and not events["rerecord_episode"]
    assert "scene_seed=5 attempt=1: solved" in caplog.text
    # The reset phase ends at its first call.
    frames = dataset.frames
    t = sim.sim_time
    run(None, 60.0)
    assert sim.sim_time == pytest.approx(t + 1 / FPS, abs=0.006)  # one control period (whole physics steps)
    # The next episode starts on its own fresh scene, whatever the twin did before.
    dataset.num_episodes = 1
    teleop.config.episode_time_s = 1.0  # a budget too short to solve it: unsolved -> re-record requested
    first = {}
    original = robot.get_observation

    def observing():
        first.setdefault(teleop.episode_seeds[-1], sim.data.qpos.copy())
        return original()

    robot.get_observation = observing
    run(dataset, 60.0)
    out = teleop.outcomes[-1]
    assert (out.success, out.reason, out.scene_seed, out.attempt) == (False, "budget", SEED + 1, 1)
    assert out.frames == dataset.frames - frames == round(1.0 * FPS) + 1
    assert events["rerecord_episode"] and not events["exit_early"]
    assert "FLAGGED, discarded: re-recording" in caplog.text
    np.testing.assert_array_equal(first[SEED + 1], _fresh_qpos("pick_place", SEED + 1))
    # record() re-records: flags cleared, same episode index; the second (last) attempt is kept, flagged.
    events["rerecord_episode"] = False
    run(dataset, 60.0)
    out = teleop.outcomes[-1]
    assert (out.success, out.scene_seed, out.attempt) == (False, SEED + 2, 2)
    assert not events["rerecord_episode"]
    assert "FLAGGED and KEPT" in caplog.text
    np.testing.assert_array_equal(first[SEED + 2], _fresh_qpos("pick_place", SEED + 2))


def test_an_episode_cut_by_the_wall_clock_is_flagged_and_rerecorded(rig, caplog, quiet_loop_rate):
    import lerobot.scripts.lerobot_record  # noqa: F401

    robot, make_teleop = rig
    teleop = make_teleop()
    dataset = FakeDataset(FPS)
    events = {"exit_early": False, "stop_recording": False, "rerecord_episode": False}
    run = _hooked_loops(robot, teleop, dataset, events, 0.3, record_fps=FPS)
    with caplog.at_level(logging.INFO):
        run(dataset, 0.3)  # lerobot-record's wall clock ends it after ~9 of its ~300 frames
    out = teleop.outcomes[-1]
    assert (out.success, out.reason) == (False, "wall_clock")
    assert events["rerecord_episode"]
    assert "--dataset.episode_time_s" in caplog.text and "FLAGGED" in caplog.text


def test_robot_restarts_its_step_limits_on_a_twin_reset(rig):
    """After a scene reset the robot's per-tick clamp starts from the reset pose, not from the last command: the
    operator's first action of the next episode is executed as sent."""
    robot, _ = rig
    robot.connect()
    backend = sim_registry.lookup_backend(robot.id)
    home = {k: float(v) for k, v in backend.sim.state().items() if k.endswith(".pos")}
    action = {k: home.get(k, 0.0) for k in robot.action_features}
    for _ in range(10):
        action["right_shoulder_pitch.pos"] -= 0.1
        robot.send_action(action)
    assert not backend.fresh
    backend.reset_scene(SEED + 3)
    assert backend.fresh and backend.scene_seed == SEED + 3
    start = {k: home.get(k, 0.0) for k in robot.action_features}
    sent = robot.send_action(start)
    assert sent == pytest.approx(start, abs=1e-9)


def test_episode_clock_is_never_early_under_jitter():
    """Randomised loop timings (observation time, slow iterations, save pauses incl. none): the clock never calls
    a recorded call 'reset' nor a reset-phase call 'episode start'. It is late by a call or two, and a save pause
    (video encoding, >= 2 control periods) brings it back to that after pauses too short to absorb the lag."""
    rng = np.random.default_rng(0)
    period, episode_s, reset_s = 1.0 / FPS, 3.0, 1.0
    clock = EpisodeClock(episode_s, reset_s)
    t = 0.0
    pauses = [0.5, 0.05, 0.0, 0.0, 0.5, 0.3, 0.0, 0.5, 0.1, 0.5, 0.0, 0.5]
    prev_pause = 0.5
    for pause in pauses:
        for phase_name, length in (("episode", episode_s), ("reset", reset_s)):
            start, ts, calls = t, 0.0, []
            while ts < length:
                it_start = t
                t += rng.uniform(0.002, 0.02)  # get_observation
                calls.append(clock.tick(t))
                t = max(t + rng.uniform(0.001, 0.03), it_start + period)  # send_action + sleep
                ts = t - start
            if phase_name == "episode":
                # never early: no reset inside a recorded episode; the start is seen within its first calls
                assert RecordPhase.RESET_START not in calls
                assert calls.count(RecordPhase.EPISODE_START) == 1
                late = calls.index(RecordPhase.EPISODE_START)
                assert late <= (2 if prev_pause >= 0.3 else 8), (late, prev_pause)
                assert RecordPhase.RESET not in calls[late:]
            else:
                assert RecordPhase.EPISODE_START not in calls
                assert calls.count(RecordPhase.RESET_START) == 1
                assert calls.index(RecordPhase.RESET_START) <= 10  # leaves time to go home and reset
        t += pause  # save_episode
        prev_pause = pause
    assert clock.episode_index == len(pauses) - 1


def test_config_errors_name_the_flag():
    with pytest.raises(ValueError, match="fallback_reset_time_s"):
        X2ScriptedConfig(fallback_reset_time_s=0)
    with pytest.raises(ValueError, match="--teleop.episode_time_s"):
        X2ScriptedConfig(episode_time_s=-1)
    with pytest.raises(ValueError, match="--teleop.max_attempts"):
        X2ScriptedConfig(max_attempts=0)
