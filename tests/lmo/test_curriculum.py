"""The LMO's training curriculum: the adaptive level follows the fall hazard (up while the robot stays up, down
when it falls, within [0, 1]); linear and off modes; its state round-trips for resumed runs; bad settings fail."""

from __future__ import annotations

import pytest

from lerobot_wbvla.lmo.curriculum import Curriculum, CurriculumConfig

ROBOT_S = 64 * 24 * 0.02  # one PPO iteration of 64 envs x 24 control steps at 50 Hz


def test_adaptive_level_rises_while_the_robot_stays_up_and_falls_back_when_it_falls():
    c = Curriculum(CurriculumConfig(step=0.1, smoothing=0.0))
    for _ in range(3):
        c.update(falls=0, robot_seconds=ROBOT_S)
    assert c.level == pytest.approx(0.3)
    c.update(falls=2, robot_seconds=ROBOT_S)  # 3.9 falls per robot-minute: between the thresholds, hold
    assert c.level == pytest.approx(0.3)
    c.update(falls=10, robot_seconds=ROBOT_S)  # 19.5 per minute: back one step
    assert c.level == pytest.approx(0.2) and c.hazard == pytest.approx(60 * 10 / ROBOT_S)
    for _ in range(20):
        c.update(falls=0, robot_seconds=ROBOT_S)
    assert c.level == 1.0  # clamped
    for _ in range(30):
        c.update(falls=50, robot_seconds=ROBOT_S)
    assert c.level == 0.0


def test_smoothing_keeps_one_bad_iteration_from_demoting():
    c = Curriculum(CurriculumConfig(step=0.1, smoothing=0.8, start=0.5))
    c.update(falls=0, robot_seconds=ROBOT_S)
    c.update(falls=3, robot_seconds=ROBOT_S)  # 5.9 / min alone would demote; smoothed it is 1.2: hold
    assert c.level == pytest.approx(0.6)


def test_linear_and_off_modes_and_state_round_trip():
    lin = Curriculum(CurriculumConfig(mode="linear", linear_iterations=200))
    assert [lin.level_at(i) for i in (0, 100, 400)] == [0.0, 0.5, 1.0]
    lin.update(falls=100, robot_seconds=ROBOT_S)  # falls do not move a linear ramp
    assert lin.level_at(100) == 0.5
    assert Curriculum(CurriculumConfig(mode="off")).level_at(0) == 1.0

    a = Curriculum(CurriculumConfig())
    for falls in (0, 0, 5, 0):
        a.update(falls=falls, robot_seconds=ROBOT_S)
    b = Curriculum(CurriculumConfig())
    b.load_state_dict(a.state_dict())
    for c in (a, b):
        c.update(falls=1, robot_seconds=ROBOT_S)
    assert a.state_dict() == b.state_dict()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "steps"}, "curriculum.mode='steps'"),
        ({"start": 1.5}, "curriculum.start=1.5"),
        ({"step": 0.0}, "curriculum.step=0.0"),
        ({"promote_falls_per_min": 5.0}, "must be below demote_falls_per_min"),
        ({"smoothing": 1.0}, "curriculum.smoothing=1.0"),
    ],
)
def test_bad_settings_are_one_clear_error(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        Curriculum(CurriculumConfig(**kwargs))


def _record_envs(train_mod, monkeypatch) -> list:
    """The envs `train_mod.train` builds, appended as it builds them (a spy on make_env_and_runner)."""
    envs = []
    make = train_mod.make_env_and_runner

    def spy(cfg, library):
        env, runner = make(cfg, library)
        envs.append(env)
        return env, runner

    monkeypatch.setattr(train_mod, "make_env_and_runner", spy)
    return envs


def test_training_draws_its_first_episodes_at_the_curriculum_level(tmp_path, monkeypatch):
    # The env is built (and its first episodes drawn) before training starts; those episodes must be drawn at the
    # curriculum's starting level, not at the full ranges (measured before the fix: 0-5 kg payloads, full lags and
    # CoM offsets in the first episode of every env, a burst of falls that set the curriculum back).
    import numpy as np

    from lerobot_wbvla.lmo import train as train_mod
    from lerobot_wbvla.lmo.config_train import TrainLMOConfig

    envs = _record_envs(train_mod, monkeypatch)
    cfg = TrainLMOConfig(output_dir=tmp_path / "run", iterations=1, progress=False, export=False, threads=1)
    cfg.env.num_envs, cfg.env.conditioning, cfg.env.episode_s = 8, "none", 5.0
    cfg.ppo.num_steps_per_env, cfg.ppo.num_mini_batches, cfg.clips.procedural = 4, 2, 2
    train_mod.train(cfg)
    env = envs[0]
    # Start level 0 = the nominal robot: no payload, nominal motor strength, no lag, no CoM offset.
    assert env.difficulty == 0.0
    assert np.all(env.payload == 0.0) and np.all(env.strength == 1.0) and np.all(env.action_lag == 0)


def test_training_staggers_the_first_episodes_so_the_envs_do_not_time_out_together(tmp_path, monkeypatch):
    # Measured before: every env started its first episode at step 0, so all of them timed out (and redrew their
    # randomization at the level reached meanwhile) in the same iteration: a burst of falls and a level back to 0.
    import numpy as np

    from lerobot_wbvla.lmo import train as train_mod
    from lerobot_wbvla.lmo.config_train import TrainLMOConfig

    envs = _record_envs(train_mod, monkeypatch)

    def run(name: str, stagger: bool) -> np.ndarray:
        cfg = TrainLMOConfig(
            output_dir=tmp_path / name, iterations=1, progress=False, export=False, threads=1, seed=3
        )
        cfg.random_episode_start = stagger
        cfg.env.num_envs, cfg.env.conditioning, cfg.env.episode_s = 16, "none", 5.0
        cfg.ppo.num_steps_per_env, cfg.ppo.num_mini_batches, cfg.clips.procedural = 4, 2, 2
        train_mod.train(cfg)
        env = envs[-1]
        return env.episode_length_buf.numpy().copy(), env.max_episode_length

    steps, limit = run("together", stagger=False)
    assert np.all(steps == 4)  # 4 steps into every env's first episode (the nominal robot does not fall)
    steps, limit = run("staggered", stagger=True)
    assert len(set(steps.tolist())) > 8 and steps.min() >= 0 and steps.max() < limit
    again, _ = run("staggered_again", stagger=True)
    np.testing.assert_array_equal(steps, again)  # seeded: the same run gives the same clocks
