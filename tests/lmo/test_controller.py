"""The robot's `lmo` lower-body controller (lmo/controller.py) in the real twin, the robot and the env, its bad
input handling and the config wiring (`lower_body_controller=lmo` + `lmo_path`)."""

from __future__ import annotations

import logging
import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(
    0, str(Path(__file__).resolve().parent)
)  # --import-mode=importlib: the helper module beside us

from lmo_export_helpers import article_layout, make_export  # noqa: E402

from lerobot_wbvla.lmo.controller import LMOController  # noqa: E402
from lerobot_wbvla.lmo.layout import ObservationLayout  # noqa: E402
from lerobot_wbvla.lmo.mdp.observations import STANCE  # noqa: E402
from lerobot_wbvla.lmo.policy import LMOPolicy  # noqa: E402
from lerobot_wbvla.robots.agibot_x2 import lower_body as lb  # noqa: E402
from lerobot_wbvla.robots.agibot_x2.backend import LocoCommand  # noqa: E402
from lerobot_wbvla.robots.agibot_x2.config_agibot_x2 import AgibotX2Config  # noqa: E402
from lerobot_wbvla.robots.agibot_x2.joints import LEG_JOINTS  # noqa: E402
from lerobot_wbvla.robots.agibot_x2.sim import X2Sim, X2SimConfig  # noqa: E402

DT = 0.02


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory) -> Path:
    return make_export(tmp_path_factory.mktemp("lmo") / "export", article_layout(), seed=2)


@pytest.fixture(scope="module")
def history_export_dir(tmp_path_factory) -> Path:
    return make_export(tmp_path_factory.mktemp("lmo_h") / "export", ObservationLayout("command", history=3))


@pytest.fixture(scope="module")
def twin_state() -> dict[str, float]:
    return X2Sim(X2SimConfig(base_mode="physical", lower_body_controller="pd_stance")).state()


class TickCounter:
    """Wraps a controller and records every target dict it returns (the twin calls compute through it)."""

    def __init__(self, inner: LMOController) -> None:
        self.inner, self.outputs, self.dts = inner, [], []

    def reset(self) -> None:
        self.inner.reset()

    def compute(self, state, loco, dt):
        out = self.inner.compute(state, loco, dt)
        self.outputs.append(out)
        self.dts.append(dt)
        return out


def test_lmo_drives_the_twin_for_one_second(export_dir):
    sim = X2Sim(
        X2SimConfig(
            base_mode="physical", lower_body_controller="lmo", lower_body_options={"path": str(export_dir)}
        )
    )
    assert isinstance(sim.lower_body, LMOController)
    counter = TickCounter(sim.lower_body)
    sim.lower_body = counter
    sim.set_command({"loco.vx": 0.2, "loco.height": 0.6})
    sim.advance(1.0)
    assert len(counter.outputs) == 50 and all(math.isclose(dt, DT) for dt in counter.dts)
    targets = np.array([[out[j] for j in LEG_JOINTS] for out in counter.outputs])
    assert np.isfinite(targets).all()
    assert np.isfinite(sim.data.qpos).all() and math.isclose(sim.sim_time, 1.0, abs_tol=1e-9)
    assert counter.inner.nonfinite_ticks == 0
    assert np.ptp(targets, axis=0).max() > 0  # the policy reacts to the changing state (not a frozen output)


def test_nan_state_holds_the_stance_with_one_warning(export_dir, twin_state, caplog):
    controller = LMOController(export_dir)
    good = controller.compute(twin_state, LocoCommand(), DT)
    bad = {**twin_state, "left_knee.vel": float("nan"), "imu.gyro_x": float("inf")}
    with caplog.at_level(logging.WARNING, logger="lerobot_wbvla.lmo.controller"):
        held = [controller.compute(bad, LocoCommand(), DT) for _ in range(5)]
    warnings = [r for r in caplog.records if r.name == "lerobot_wbvla.lmo.controller"]
    assert len(warnings) == 1 and "holding the stance" in warnings[0].getMessage()
    for out in held:
        np.testing.assert_array_equal([out[j] for j in LEG_JOINTS], STANCE)
    assert controller.nonfinite_ticks == 5
    assert controller.compute(twin_state, LocoCommand(), DT) == good  # finite again: the policy drives again
    caplog.clear()
    controller.reset()  # a new episode warns again (once)
    with caplog.at_level(logging.WARNING, logger="lerobot_wbvla.lmo.controller"):
        controller.compute(bad, LocoCommand(), DT)
        controller.compute(bad, LocoCommand(), DT)
    assert len([r for r in caplog.records if r.name == "lerobot_wbvla.lmo.controller"]) == 1


def test_latent_input_and_its_checks(export_dir, twin_state):
    controller = LMOController(policy=LMOPolicy.from_pretrained(export_dir))
    neutral = controller.compute(twin_state, LocoCommand(), DT)
    controller.set_latent(np.full(256, 0.5), timestamp=12.0)
    assert controller.latent_timestamp == 12.0
    assert controller.compute(twin_state, LocoCommand(), DT) != neutral
    with pytest.raises(ValueError, match="latent_dim=256"):
        controller.set_latent(np.zeros(128), timestamp=13.0)
    with pytest.raises(ValueError, match="NaN"):
        controller.set_latent(np.full(256, np.nan), timestamp=13.0)
    controller.reset()  # back to the neutral z
    assert controller.latent_timestamp is None
    assert controller.compute(twin_state, LocoCommand(), DT) == neutral
    controller.check_layout(article_layout())
    with pytest.raises(ValueError, match="50 Hz"):
        LMOController(export_dir).compute(twin_state, LocoCommand(), 0.01)


def test_history_layout_and_command_conditioning(history_export_dir, twin_state):
    controller = LMOController(history_export_dir)
    assert controller.layout.history == 3
    with pytest.raises(ValueError, match="conditioning='command'"):
        controller.set_latent(np.zeros(4), timestamp=0.0)
    outs = [controller.compute(twin_state, LocoCommand(vx=v), DT) for v in (0.0, 0.0, 0.3)]
    assert all(np.isfinite(list(o.values())).all() for o in outs)
    assert outs[2] != outs[1]  # the command is part of the observation


def test_lmo_without_a_policy_is_one_clear_error(export_dir):
    from lerobot_wbvla.envs.agibot_x2.config_agibot_x2 import AgibotX2EnvConfig

    with pytest.raises(
        ValueError, match=r"--robot.lower_body_controller=lmo needs the policy: pass --robot.lmo_path"
    ):
        AgibotX2Config(lower_body_controller="lmo")
    with pytest.raises(
        ValueError, match=r"--env.lower_body_controller=lmo needs the policy: pass --env.lmo_path"
    ):
        AgibotX2EnvConfig(lower_body_controller="lmo")
    with pytest.raises(ValueError, match="lmo_path"):
        AgibotX2Config(lmo_path=str(export_dir))  # a policy that would silently not run
    with pytest.raises(ValueError, match="needs a trained policy"):
        lb.make_lower_body_controller("lmo")
    with pytest.raises(ValueError, match=r"'stand' does not take the option\(s\) \['path'\]"):
        lb.make_lower_body_controller("stand", path=str(export_dir))
    with pytest.raises(FileNotFoundError):
        lb.make_lower_body_controller("lmo", path=str(export_dir.parent / "nothing"))
    # The real robot's legs run on its own motion controller: an LMO asked for there would silently not run.
    with pytest.raises(ValueError, match=r"not supported with --robot.backend=aimdk"):
        AgibotX2Config(backend="aimdk", lower_body_controller="lmo", lmo_path=str(export_dir))
    with pytest.raises(ValueError, match=r"not supported with --robot.backend=aimdk"):
        AgibotX2Config(backend="aimdk", lower_body_controller="pd_stance")


def test_robot_and_env_run_the_lmo(export_dir):
    """`--robot.lower_body_controller=lmo --robot.lmo_path=...` and the `--env.` fields reach the twin."""
    from lerobot_wbvla.envs.agibot_x2.config_agibot_x2 import AgibotX2EnvConfig
    from lerobot_wbvla.envs.agibot_x2.env import AgibotX2Env
    from lerobot_wbvla.robots.agibot_x2.agibot_x2 import AgibotX2

    robot = AgibotX2(
        AgibotX2Config(
            id="lmo_controller_test",
            base_mode="physical",
            lower_body_controller="lmo",
            lmo_path=str(export_dir),
            seed=0,
        )
    )
    robot.connect()
    try:
        sim = robot.backend.sim
        assert isinstance(sim.lower_body, LMOController)
        state = robot.backend.read_state()
        action = {k: state.get(k, 0.0) for k in robot.action_features}
        for _ in range(3):
            robot.send_action(action)
        assert np.isfinite(sim.data.qpos).all()
    finally:
        robot.disconnect()

    cfg = AgibotX2EnvConfig(
        base_mode="physical", obs_type="agent_pos", lower_body_controller="lmo", lmo_path=str(export_dir)
    )
    kwargs = cfg.gym_kwargs
    kwargs.pop("max_episode_steps")
    env = AgibotX2Env(task=cfg.task, **kwargs)
    try:
        obs, _ = env.reset(seed=1)
        assert isinstance(env.sim.lower_body, LMOController)
        obs, *_ = env.step(np.zeros(env.action_space.shape, dtype=np.float32))
        assert np.isfinite(obs["agent_pos"]).all()
    finally:
        env.close()


def test_plugin_registers_the_lmo_controller():
    from lerobot_wbvla.plugin import REGISTERING_MODULES, register_all

    assert ("lower_body_controller", "lmo", ("lerobot_wbvla.lmo.controller",)) in REGISTERING_MODULES
    assert "lmo" in register_all()["lower_body_controller"]
    assert lb._REGISTRY["lmo"] is LMOController
