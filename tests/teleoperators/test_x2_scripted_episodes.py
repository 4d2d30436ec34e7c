"""x2_scripted inside lerobot-record's episode loop: every recorded episode starts from a freshly reset, seeded
scene, the task gets done inside the episode, nothing is reset while recording, and what the operator records as
the action is what the robot executed.

Two drivers: an exact emulation of lerobot-record's loop on a fake clock (fast, full-length episodes, chosen
save pauses), and LeRobot's own `record_loop` on the wall clock (short episodes, boundaries only).
"""

from __future__ import annotations

import itertools

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


def _fresh_object_xy(scene: str, seed: int) -> np.ndarray:
    sim = X2Sim(X2SimConfig(scene=scene))
    sim.reset(seed)
    return sim.data.body("object").xpos[:2].copy()


@pytest.fixture
def rig():
    robot_id = f"x2_scripted_test_{next(_ids)}"
    robot = AgibotX2(
        AgibotX2Config(
            id=robot_id,
            scene="pick_place",
            seed=SEED,
            control_fps=FPS,
            head_camera=(48, 64),
            action_timeout_s=0,
        )
    )

    def make_teleop(episode_time_s: float, reset_time_s: float) -> X2Scripted:
        teleop = X2Scripted(
            X2ScriptedConfig(
                robot_id=robot_id, episode_time_s=episode_time_s, reset_time_s=reset_time_s, seed=SEED
            )
        )
        teleop.connect()  # lerobot-record connects the teleop first
        robot.connect()
        return teleop

    yield robot, make_teleop
    if robot.is_connected:
        robot.disconnect()


class Recorder:
    """What the test sees per loop iteration: which loop it was in, the observed twin state, the action."""

    def __init__(self, robot: AgibotX2) -> None:
        self.robot = robot
        self.rows: list[dict] = []
        self.loop = ("episode", 0)

    def observe(self) -> None:
        sim = sim_registry.lookup(self.robot.id)
        self.robot.get_observation()
        self.rows.append(
            {"loop": self.loop, "obj": sim.data.body("object").xpos.copy(), "t": sim.sim_time, "sim": sim}
        )

    def episode_rows(self, k: int) -> list[dict]:
        return [r for r in self.rows if r["loop"] == ("episode", k)]


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
        if k < n_episodes - 1:
            rec.loop = ("reset", k)
            loop(reset_s)
        clock += save_pauses[k]  # dataset.save_episode()


@pytest.mark.parametrize("save_pause", [0.4, 0.0])
def test_every_recorded_episode_is_fresh_and_solved(rig, save_pause):
    robot, make_teleop = rig
    episode_s, reset_s, n = 11.0, 2.0, 3
    teleop = make_teleop(episode_s, reset_s)
    rec = Recorder(robot)
    _emulated_record(robot, teleop, rec, n, episode_s, reset_s, [save_pause] * n)

    assert teleop.episode_seeds == [None, SEED + 1, SEED + 2]
    for k in range(n):
        rows = rec.episode_rows(k)
        assert abs(len(rows) - episode_s * FPS) <= 1
        # The first recorded frame already shows the fresh scene of this episode's seed.
        np.testing.assert_allclose(rows[0]["obj"][:2], _fresh_object_xy("pick_place", SEED + k), atol=1e-6)
        # No reset while recording: one twin, time only moves forward.
        assert all(r["sim"] is rows[0]["sim"] for r in rows)
        assert all(b["t"] > a["t"] for a, b in itertools.pairwise(rows))
        # What the operator recorded is exactly what the robot executed (no clamping).
        for r in rows:
            assert r["sent"] == pytest.approx(r["action"], abs=1e-9)
        # The task is done within the episode: the box rests on the target, released.
        sim = rows[0]["sim"]
        check = SuccessCheck(TASKS["pick_place"], sim.model)
        check.start_pos = rows[0]["obj"]
        assert check(sim.data) or _solved_at_end(rows, check), check.metrics(sim.data)


def _solved_at_end(rows, check) -> bool:
    return bool(check(rows[-1]["sim"].data))


def test_lerobot_record_loop_wall_clock_boundaries(rig):
    """LeRobot's own record_loop (wall clock) with short episodes: the scene is reset in each reset phase and
    the next episode starts from it. (The first get_observation creates the renderer, which makes the operator's
    clock start late by that much: the reset phase must absorb it.)"""
    import time

    from lerobot.processor import make_default_processors
    from lerobot.scripts.lerobot_record import record_loop

    robot, make_teleop = rig
    episode_s, reset_s, n = 0.8, 1.0, 3
    teleop = make_teleop(episode_s, reset_s)
    rec = Recorder(robot)
    original = robot.get_observation

    def observing():
        obs = original()
        sim = sim_registry.lookup(robot.id)
        rec.rows.append(
            {"loop": rec.loop, "obj": sim.data.body("object").xpos.copy(), "t": sim.sim_time, "sim": sim}
        )
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
    assert teleop.episode_seeds == [None, SEED + 1, SEED + 2]
    for k in range(n):
        rows = rec.episode_rows(k)
        assert len(rows) >= 5
        np.testing.assert_allclose(rows[0]["obj"][:2], _fresh_object_xy("pick_place", SEED + k), atol=1e-6)
        assert all(b["t"] > a["t"] for a, b in itertools.pairwise(rows))


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


def test_config_rejects_no_reset_phase():
    with pytest.raises(ValueError, match="reset_time_s"):
        X2ScriptedConfig(episode_time_s=10, reset_time_s=0)
