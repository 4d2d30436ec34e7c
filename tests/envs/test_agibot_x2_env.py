"""The agibot_x2 gym env: tasks solvable by the scripted operator, not by doing nothing or acting at random,
success checks that only count a real placement/push, and spaces that are the robot's own features."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from lerobot_wbvla.envs.agibot_x2 import AgibotX2EnvConfig, gym_id
from lerobot_wbvla.envs.agibot_x2.baselines import baseline_episode
from lerobot_wbvla.envs.agibot_x2.env import SUCCESS_HOLD_S, AgibotX2Env
from lerobot_wbvla.envs.agibot_x2.tasks import CART_MIN_MASS, CART_SUCCESS_DISTANCE, TASKS
from lerobot_wbvla.robots.agibot_x2 import scenes as S
from lerobot_wbvla.robots.agibot_x2.joints import ACTION_KEYS, STATE_KEYS
from lerobot_wbvla.teleoperators.x2_scripted.operator import ScriptedOperator, action_vector, scripted_episode

TASK_NAMES = list(TASKS)


def _steps(task: str) -> int:
    return AgibotX2EnvConfig(task=task).max_episode_steps


@pytest.fixture(scope="module")
def envs():
    made = {t: AgibotX2Env(task=t, obs_type="agent_pos") for t in TASK_NAMES}
    yield made
    for env in made.values():
        env.close()


@pytest.mark.parametrize("task", TASK_NAMES)
def test_scripted_operator_solves_task(envs, task):
    env = envs[task]
    for seed in (101, 102):
        success, steps = scripted_episode(env, seed, _steps(task))
        assert success, (
            f"{task} seed {seed}: scripted operator failed ({env.success_check.metrics(env.sim.data)})"
        )
        assert steps < _steps(task)  # terminated on success, before the time limit
        if TASKS[task].min_carry_distance:
            assert env.success_check.metrics(env.sim.data)["carry_distance"] >= 2.0


@pytest.mark.parametrize("task", TASK_NAMES)
def test_doing_nothing_or_random_actions_fail(envs, task):
    env = envs[task]
    assert not baseline_episode(env, 7, _steps(task), "nothing")
    assert not baseline_episode(env, 7, _steps(task), "random")


def test_static_task_in_physical_base_mode_with_standing_controller():
    env = AgibotX2Env(task="pick_place", obs_type="agent_pos", base_mode="physical")
    try:
        success, _ = scripted_episode(env, 103, _steps("pick_place"))
        assert success, env.success_check.metrics(env.sim.data)
        assert env.sim.tilt() < 0.1  # the legs (standing controller, through contact physics) kept it upright
    finally:
        env.close()


def _run_until(env: AgibotX2Env, op: ScriptedOperator, pred, limit: int = 2000) -> None:
    for _ in range(limit):
        if pred():
            return
        env.step(action_vector(op.act()))
    raise AssertionError("condition never reached")


def test_box_on_target_still_held_is_not_success(envs):
    """Stop the script when the box rests on the pad but the fingers are still closed: not a success; open the
    hand and finish the script: success."""
    env = envs["pick_place"]
    env.reset(seed=104)
    op = ScriptedOperator(env.sim)
    # The place sequence opens the gripper after lowering the box onto the pad.
    _run_until(env, op, lambda: op.controller.held_offset is not None and op.phase == "Grip")
    held = action_vector(op.controller.action())
    for _ in range(int(1.5 * env.fps)):
        _, _, terminated, _, info = env.step(held)
        assert not info["is_success"] and not terminated
    m = env.success_check.metrics(env.sim.data)
    assert m["in_region"] and m["on_support"] and m["touches_robot"], (
        m
    )  # on the pad, at rest, but in the hand
    for _ in range(int(8 * env.fps)):
        _, _, terminated, _, info = env.step(action_vector(op.act()))
        if terminated:
            break
    assert info["is_success"]


def _teleport_object(env: AgibotX2Env, pos) -> None:
    m, d = env.sim.model, env.sim.data
    adr = m.jnt_qposadr[m.joint("object_free").id]
    d.qpos[adr : adr + 3] = pos
    d.qpos[adr + 3 : adr + 7] = (1, 0, 0, 0)
    d.qvel[m.jnt_dofadr[m.joint("object_free").id] :][:6] = 0
    mujoco.mj_forward(m, d)


def _settle(env: AgibotX2Env, seconds: float) -> bool:
    from lerobot_wbvla.envs.agibot_x2.baselines import hold_action

    still = hold_action(env)
    info = {"is_success": False}
    for _ in range(int(seconds * env.fps)):
        _, _, terminated, _, info = env.step(still)
        if terminated:
            break
    return bool(info["is_success"])


def test_place_check_needs_region_support_and_rest(envs):
    env = envs["pick_place"]
    env.reset(seed=105)
    target = env.sim.data.site("target").xpos.copy()
    # Hovering 10 cm above the target centre (falls onto it) -> succeeds only once it has landed and settled.
    _teleport_object(env, target + [0, 0, S.OBJECT_HALF[2] + 0.10])
    assert not env.success_check(env.sim.data)  # in the air
    assert _settle(env, 1.0 + SUCCESS_HOLD_S)
    # Beside the region on the table top -> never.
    env.reset(seed=105)
    _teleport_object(env, target + [S.PAD_HALF + 0.03, 0, S.OBJECT_HALF[2] + 0.001])
    assert not _settle(env, 1.0)


def test_walk_carry_check_measures_distance_from_start(envs):
    env = envs["walk_carry"]
    env.reset(seed=106)
    target = env.sim.data.site("target").xpos.copy()
    _teleport_object(env, target + [0, 0, S.OBJECT_HALF[2] + 0.001])
    assert env.success_check.metrics(env.sim.data)["carry_distance"] >= 2.0
    assert _settle(env, 1.0)
    # Same final state, but counted from a start point on the target table: not a carry.
    env.reset(seed=106)
    _teleport_object(env, target + [0, 0, S.OBJECT_HALF[2] + 0.001])
    env.success_check.reset(env.sim.data)
    assert not _settle(env, 1.0)


def test_shelf_check_needs_the_target_board(envs):
    env = envs["shelf_place"]
    for board, expected in (("shelf_top", False), ("shelf_board", True)):
        env.reset(seed=107)
        g = env.sim.data.geom(board)
        top = g.xpos[2] + env.sim.model.geom(board).size[2]
        _teleport_object(env, [g.xpos[0], g.xpos[1], top + S.OBJECT_HALF[2] + 0.002])
        assert _settle(env, 1.0) is expected, board


def test_cart_is_heavy_and_must_be_pushed_by_its_handles(envs):
    """Moved far enough but not held (teleported, e.g. shoved by the body): no. Held by both handles and moved
    far enough (the scripted push): yes."""
    env = envs["cart_push"]
    env.reset(seed=108)  # a fresh twin each episode
    m, d = env.sim.model, env.sim.data
    assert m.body_subtreemass[m.body("cart").id] >= CART_MIN_MASS
    d.qpos[m.jnt_qposadr[m.joint("cart_track").id]] += CART_SUCCESS_DISTANCE + 0.2
    mujoco.mj_forward(m, d)
    assert not _settle(env, 0.5)
    success, _ = scripted_episode(env, 108, _steps("cart_push"))
    metrics = env.success_check.metrics(env.sim.data)
    assert success and metrics["cart_distance"] >= CART_SUCCESS_DISTANCE
    assert metrics["left_hand_on_handle"] and metrics["right_hand_on_handle"]


def test_spaces_are_the_robots_features():
    from lerobot.envs.utils import env_to_policy_features
    from lerobot.utils.feature_utils import hw_to_dataset_features

    from lerobot_wbvla.robots.agibot_x2.agibot_x2 import AgibotX2
    from lerobot_wbvla.robots.agibot_x2.config_agibot_x2 import AgibotX2Config

    robot = AgibotX2(AgibotX2Config(scene="pick_place"))
    ds_obs = hw_to_dataset_features(robot.observation_features, "observation")
    ds_act = hw_to_dataset_features(robot.action_features, "action")
    env = AgibotX2Env(task="pick_place")
    try:
        obs, _ = env.reset(seed=0)
        assert ds_obs["observation.state"]["names"] == list(STATE_KEYS)
        assert env.observation_space["agent_pos"].shape == ds_obs["observation.state"]["shape"]
        assert obs["agent_pos"].shape == ds_obs["observation.state"]["shape"]
        assert env.observation_space["pixels"]["head"].shape == ds_obs["observation.images.head"]["shape"]
        assert obs["pixels"]["head"].dtype == np.uint8
        assert ds_act["action"]["names"] == list(ACTION_KEYS)
        assert env.action_space.shape == ds_act["action"]["shape"]
        # The state vector is the robot's observation in the dataset order.
        state = env.sim.observation()
        np.testing.assert_allclose(obs["agent_pos"], [state[k] for k in STATE_KEYS], rtol=1e-6)
    finally:
        env.close()
    policy_features = env_to_policy_features(AgibotX2EnvConfig(task="pick_place"))
    assert policy_features["observation.state"].shape == (len(STATE_KEYS),)
    assert policy_features["observation.images.head"].shape == (3, 224, 224)
    assert policy_features["action"].shape == (len(ACTION_KEYS),)


def test_bad_actions_get_clear_errors(envs):
    env = envs["pick_place"]
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"shape \(19,\).*expected \(20,\).*loco\.vx"):
        env.step(np.zeros(19, dtype=np.float32))
    with pytest.raises(ValueError, match=r"shape \(1, 20\)"):
        env.step(np.zeros((1, 20), dtype=np.float32))
    bad = np.zeros(20, dtype=np.float32)
    bad[3] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        env.step(bad)


def test_lerobot_builds_the_env_from_the_config():
    from lerobot.envs.factory import make_env

    cfg = AgibotX2EnvConfig(task="cart_push", episode_length=5, obs_type="agent_pos")
    assert cfg.gym_id == gym_id("cart_push")
    vec = make_env(cfg, n_envs=1)["agibot_x2"][0]
    try:
        obs, _ = vec.reset(seed=[3])
        assert obs["agent_pos"].shape == (1, len(STATE_KEYS))
        assert vec.call("task_description")[0] == "grab the cart's handles and push the cart forward"
        assert vec.call("_max_episode_steps")[0] == 5
        for _ in range(5):
            *_, truncated, info = vec.step(np.zeros((1, len(ACTION_KEYS)), dtype=np.float32))
        assert truncated[0]
    finally:
        vec.close()
    with pytest.raises(ValueError, match="not an agibot_x2 task"):
        AgibotX2EnvConfig(task="fly")
