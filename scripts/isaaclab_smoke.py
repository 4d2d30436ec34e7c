"""A few PPO iterations of the LMO's Isaac Lab task (WBVLA-LMO-X2-v0) on CPU with Newton physics.

Run in the Isaac Lab venv (scripts/setup_isaaclab.sh), never the project's main one:
    .venv-isaaclab/bin/python scripts/isaaclab_smoke.py --num_envs 16 --iterations 3 --out outputs/isaaclab_smoke.json
It writes a short JSON: iterations, env steps/s of the PPO loop (rollout and update), the policy / critic
observation term names and sizes, the reward and termination term names with their weights, and the timings of
the setup (MJCF -> USD conversion, scene and Warp kernel compilation).

With `--save_dir DIR` it also saves what a training run leaves for the LMO export (lmo/isaaclab/export.py):
`DIR/model_<iterations>.pt` (RSL-RL's checkpoint) and the task spec `DIR/wbvla_lmo_task.json`, and a reference
of the trained actor for checking an export against Isaac Lab, `DIR/reference.npz`: `obs` (the policy group's
observations over a few control steps), `actions` (the actor's deterministic actions on them, in the action term's
order), `raw` (random actions of +-15, beyond the raw clip and the joint ranges, one control step) and `targets`
(the joint position targets Isaac Lab then set, in joints.LEG_JOINTS order, read by name; `done` marks the envs
that step reset). Then:
    python -m lerobot_wbvla.lmo.isaaclab.export --checkpoint DIR/model_3.pt --out DIR/export

With `--clips LIB` (a clip library folder: `python -m lerobot_wbvla.lmo.isaaclab.clip_library --out LIB
[--lam=<LAM>]` in the main venv) the arms play the CPU env's clips and `--conditioning latent` is available; the
JSON's `clips` then reports 50 control steps of zero actions: the policy's z_t block against the library's z at
each env's clip and row, the arm joints' tracking error against the clip targets they were given, and whether the
cursors advanced one row per step.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path


def _count_falls(env) -> None:
    """Count the episodes ended by a fall (terminations other than the time-out) and the env steps."""
    manager = env.termination_manager
    compute = manager.compute
    env._wbvla_falls, env._wbvla_steps = 0, 0

    def counted(*args, **kwargs):
        out = compute(*args, **kwargs)
        env._wbvla_falls += int(manager.terminated.sum())
        env._wbvla_steps += env.num_envs
        return out

    manager.compute = counted


def _state_check(env) -> dict:
    """Means over the envs of what the terms see at the end (a standing X2 reads accel z ~ 9.8, 4 pads down, the
    pelvis at ~0.66 m) and of each reward term's unweighted value: the physics and the adapters are sane."""
    from lerobot_wbvla.lmo.isaaclab import mdp as wmdp
    from lerobot_wbvla.lmo.mdp.rewards import REWARD_TERMS, RewardParams

    s = wmdp.step_state(env)
    return {
        "base_height_m": round(float(s.base_pos[:, 2].mean()), 3),
        "accel_z": round(float(s.proprio.accel[:, 2].mean()), 3),
        "pads_in_contact": round(float(s.contacts.sum(dim=1).mean()), 3),
        "mean_episode_length": round(float(env.episode_length_buf.float().mean()), 1),
        "falls_per_env_step": round(env._wbvla_falls / max(env._wbvla_steps, 1), 4),
        "reward_terms": {n: round(float(f(s, RewardParams()).mean()), 4) for n, f in REWARD_TERMS.items()},
    }


def _dr_check(wrapped) -> dict:
    """The domain randomization of the task (events.py) as the sim holds it, per env: each value must match what
    the env drew (`dr_state`), lie in the CPU env's range and differ across envs. A push is forced in every env and
    one control step run, after which the torso's external force must be the drawn push."""
    import torch
    import warp as wp

    from lerobot_wbvla.lmo.isaaclab import events
    from lerobot_wbvla.lmo.isaaclab import mdp as wmdp

    base = wrapped.unwrapped
    robot, state = base.scene["robot"], events.dr_state(base)
    term = {
        n: base.event_manager.get_term_cfg(n).func for n in ("foot_friction", "payload", "motor_strength")
    }
    out = {}

    def block(name, sim, drawn, lo, hi):
        sim, drawn = sim.float().cpu(), drawn.float().cpu()
        out[name] = {
            "min": round(float(sim.min()), 4),
            "max": round(float(sim.max()), 4),
            "std_across_envs": round(float(sim.reshape(len(sim), -1).mean(dim=1).std()), 4),
            "matches_drawn": bool(torch.allclose(sim, drawn, atol=1e-4)),
            "in_range": bool(((sim >= lo - 1e-5) & (sim <= hi + 1e-5)).all()),
        }

    dr = events.DR
    f = term["foot_friction"]
    mu = wp.to_torch(f._mu)[:, f._shapes.to(base.device)]
    block("friction", mu, state.friction[:, None].expand_as(mu), *dr.friction)
    p = term["payload"]
    palms = robot.find_bodies(list(events.PALMS), preserve_order=True)[0]
    added = robot.data.body_mass.torch[:, palms] - p.default_mass.to(base.device)[:, palms]
    block("payload_kg", added, state.payload_kg, *dr.payload_kg)
    m = term["motor_strength"]
    block(
        "motor_strength",
        robot.data.joint_stiffness.torch[:, m.legs] / m.kp,
        state.motor_strength[:, None].expand(-1, 12),
        *dr.motor_strength,
    )
    block(
        "effort_limit_scale",
        robot.data.joint_effort_limits.torch[:, m.legs] / m.effort,
        state.motor_strength[:, None].expand(-1, 12),
        *dr.motor_strength,
    )
    c = base.event_manager.get_term_cfg("torso_com").func
    torso = robot.find_bodies(events.TORSO)[0]
    shift = (robot.data.body_com_pos_b.torch[:, torso, :2] - c.default[:, torso, :2])[:, 0]
    block("torso_com_offset_m", shift.norm(dim=1), state.com_offset.norm(dim=1), 0.0, dr.com_displacement_m)
    lag = torch.as_tensor(base.action_manager.get_term("legs").lag)
    block("action_lag_steps", lag, lag, *dr.action_lag_steps)
    delayed = base.observation_manager._group_obs_term_delay_buffer["policy"]
    out["imu_delay_terms"] = sorted(delayed)
    # A push now, in every env: after one control step the torso carries the drawn force.
    t = base.episode_length_buf.float() * base.step_dt
    state.push_start[:] = t
    state.push_end[:] = t + dr.push_duration_s
    state.push_force[:, 0] = torch.linspace(5.0, 45.0, base.num_envs, device=base.device)
    state.push_force[:, 1:] = 0.0
    done = wrapped.step(torch.zeros(base.num_envs, 12, device=base.device))[2].bool()
    # The composed force on the torso, in its body frame, rotated back to the world (the push is drawn there).
    force_b = robot.permanent_wrench_composer.out_force_b.torch[:, torso[0]]
    force = wmdp._rotate(wmdp._wxyz(robot.data.body_link_quat_w.torch[:, torso[0]]), force_b)
    keep = ~done
    out["push"] = {
        "envs": int(keep.sum()),
        "max_abs_error_n": round(float((force[keep] - state.push_force[keep]).abs().max()), 6),
        "max_force_n": round(float(force[keep].norm(dim=1).max()), 3),
    }
    critic = wrapped.get_observations()["critic"]
    layout = base.observation_manager.active_terms["critic"]
    dims = [int(d[0]) for d in base.observation_manager.group_obs_term_dim["critic"]]
    start = sum(dims[: layout.index("friction")])
    out["critic_friction_matches"] = bool(torch.allclose(critic[:, start], state.friction, atol=1e-5))
    return out


def _clip_check(wrapped, library: Path, steps: int = 50) -> dict:
    """The arm clips (lmo/isaaclab/commands.py) over `steps` control steps of zero actions: the policy's z_t block
    against the library file's latent at each env's clip and row (read with ClipLibrary, not the player), the arm
    joints against the clip targets the step played (tracking error vs. the targets' distance from where the arms
    started), the articulation's arm targets against the player's, the locomotion command against the clip's
    schedule, and how the cursors moved."""
    import numpy as np
    import torch

    from lerobot_wbvla.lmo.clips import ClipLibrary
    from lerobot_wbvla.lmo.isaaclab import mdp as wmdp

    base = wrapped.unwrapped
    player, robot, arm = wmdp.clip_player(base), base.scene["robot"], wmdp._index(base).arm
    stacked = ClipLibrary.load(library).stack()
    names = list(base.observation_manager.active_terms["policy"])
    dims = [int(d[0]) for d in base.observation_manager.group_obs_term_dim["policy"]]
    out: dict = {"num_clips": player.num_clips, "latent_dim": player.latent_dim, "steps": steps}
    z_err, z_dev, z_abs, track, still, moved, target_err, loco_err = [], [], [], [], [], [], [], []
    q0 = wmdp._t(robot.data.joint_pos)[:, arm].clone()
    for _ in range(steps):
        t_before, id_before = player.clip_t.clone(), player.clip_id.clone()
        played = player.arm_targets()[:, :14].clone()
        obs, _, done, _ = wrapped.step(torch.zeros(base.num_envs, 12, device=base.device))
        keep = ~done.bool()
        q = wmdp._t(robot.data.joint_pos)[:, arm]
        track.append((q - played)[keep].abs().mean().item())
        still.append((q0 - played)[keep].abs().mean().item())
        q0 = torch.where(keep[:, None], q0, q)  # a reset env starts again from where it stands
        same = keep & (player.clip_id == id_before)
        moved.append(bool((player.clip_t[same] == t_before[same] + 1).all()))
        held = wmdp._t(robot.data.joint_pos_target)[:, arm]
        target_err.append((held - player.arm_targets()[:, :14]).abs().max().item())
        ids, t = player.clip_id.cpu().numpy(), player.clip_t.cpu().numpy()
        row = np.minimum(t, stacked["lengths"][ids] - 1)
        loco_err.append(
            float(np.abs(wmdp.loco_command(base).cpu().numpy() - stacked["loco"][ids, row]).max())
        )
        if "latent" in names:
            start = sum(dims[: names.index("latent")])
            z = obs["policy"][:, start : start + player.latent_dim].cpu().numpy()
            ref = stacked["latent"][ids, row]
            z_err.append(float(np.abs(z - ref).max()))
            z_dev.append(z - ref)
            z_abs.append(float(np.abs(z).mean()))
    out["arm_tracking_error_rad"] = round(float(np.mean(track[steps // 2 :])), 4)
    out["arm_target_distance_rad"] = round(float(np.mean(still[steps // 2 :])), 4)
    out["cursor_advances_by_one"] = all(moved)
    out["arm_target_max_error"] = max(target_err)
    out["loco_max_abs_error"] = max(loco_err)  # the command the terms read vs. the clip's schedule
    out["latent_noise_std"] = player.latent_noise_std
    if z_err:
        out["z_max_abs_error"] = max(z_err)
        out["z_mean_abs"] = round(float(np.mean(z_abs)), 4)
        out["z_noise_std"] = round(float(np.concatenate(z_dev).std()), 4)  # the policy's latent noise
    return out


def _save_run(runner, wrapped, agent_cfg, folder: Path, device: str, iterations: int, steps: int = 4) -> None:
    """The checkpoint, the task spec and the actor's reference (see the module docstring)."""
    import numpy as np
    import torch

    from lerobot_wbvla.lmo.isaaclab import mdp as wmdp
    from lerobot_wbvla.lmo.isaaclab.export import write_task_spec

    folder.mkdir(parents=True, exist_ok=True)
    runner.save(str(folder / f"model_{iterations}.pt"))
    write_task_spec(wrapped, agent_cfg, folder)
    policy = runner.get_inference_policy(device)
    obs, actions = [], []
    observation = wrapped.get_observations()
    for _ in range(steps):
        with torch.inference_mode():
            action = policy(observation)
        obs.append(observation["policy"].cpu().numpy())
        actions.append(action.cpu().numpy())
        observation = wrapped.step(action)[0]
    gen = torch.Generator(device="cpu").manual_seed(0)
    raw = torch.rand(wrapped.num_envs, wrapped.num_actions, generator=gen) * 30.0 - 15.0
    done = wrapped.step(raw.to(device))[2]  # a reset env may have its targets reset: the check skips it
    robot = wrapped.unwrapped.scene["robot"]
    targets = wmdp._t(robot.data.joint_pos_target)[:, wmdp._index(wrapped.unwrapped).leg]
    np.savez(
        folder / "reference.npz",
        obs=np.concatenate(obs),
        actions=np.concatenate(actions),
        raw=raw.numpy(),
        targets=targets.cpu().numpy(),
        done=done.cpu().numpy().astype(bool),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num_envs", type=int, default=16, help="parallel envs (Newton worlds)")
    parser.add_argument("--iterations", type=int, default=3, help="PPO iterations")
    parser.add_argument("--device", default="cpu", help="cpu | cuda:0")
    parser.add_argument(
        "--conditioning", default="none", choices=("none", "command", "latent"), help="observation block"
    )
    parser.add_argument(
        "--clips",
        type=Path,
        default=None,
        help="clip library folder the arms play (python -m lerobot_wbvla.lmo.isaaclab.clip_library); latent needs it",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("outputs/isaaclab_smoke.json"), help="JSON written here"
    )
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument(
        "--domain_rand",
        action="store_true",
        help="train with the task's domain randomization and lags (default: the nominal robot) and report them",
    )
    parser.add_argument(
        "--save_dir", type=Path, default=None, help="save the checkpoint, task spec and actor reference here"
    )
    args = parser.parse_args()

    t0 = time.perf_counter()
    import gymnasium as gym
    import torch
    from isaaclab.app.sim_launcher import launch_simulation

    import lerobot_wbvla.lmo.isaaclab as task
    from lerobot_wbvla.lmo.config_train import PPOConfig, shrink_actor_output
    from lerobot_wbvla.lmo.isaaclab.agents import LMOPPORunnerCfg
    from lerobot_wbvla.lmo.isaaclab.env_cfg import LMOEnvCfg

    torch.set_num_threads(args.threads)
    clips = None if args.clips is None else str(args.clips)
    env_cfg = LMOEnvCfg(conditioning=args.conditioning, domain_rand=args.domain_rand, clips=clips)
    env_cfg.scene.num_envs = args.num_envs
    env_cfg.sim.device = args.device
    agent_cfg = LMOPPORunnerCfg()
    agent_cfg.device = args.device
    agent_cfg.max_iterations = args.iterations
    t_import = time.perf_counter() - t0

    with launch_simulation(env_cfg, {}):
        from importlib.metadata import version

        from isaaclab_rl.rsl_rl import RslRlVecEnvWrapper, handle_deprecated_rsl_rl_cfg
        from rsl_rl.runners import OnPolicyRunner

        t1 = time.perf_counter()
        env = gym.make(task.TASK_ID, cfg=env_cfg)
        base = env.unwrapped
        obs_names = {g: list(base.observation_manager.active_terms[g]) for g in ("policy", "critic")}
        obs_dims = {
            g: [list(d) for d in base.observation_manager.group_obs_term_dim[g]] for g in ("policy", "critic")
        }
        reward_names = list(base.reward_manager.active_terms)
        weights = {n: base.reward_manager.get_term_cfg(n).weight for n in reward_names}
        termination_names = list(base.termination_manager.active_terms)
        agent_cfg = handle_deprecated_rsl_rl_cfg(agent_cfg, version("rsl-rl-lib"))
        _count_falls(base)
        wrapped = RslRlVecEnvWrapper(env, clip_actions=agent_cfg.clip_actions)
        runner = OnPolicyRunner(wrapped, agent_cfg.to_dict(), log_dir=None, device=args.device)
        shrink_actor_output(runner.alg.actor, PPOConfig().actor_output_init_scale)  # as wbvla-train-lmo does
        t_env = time.perf_counter() - t1

        t2 = time.perf_counter()
        # The first iteration is timed apart: Warp compiles its kernels there (cached afterwards).
        runner.learn(num_learning_iterations=1, init_at_random_ep_len=True)
        t_first = time.perf_counter() - t2
        t3 = time.perf_counter()
        if args.iterations > 1:
            runner.learn(num_learning_iterations=args.iterations - 1)
        t_rest = time.perf_counter() - t3
        steps = (args.iterations - 1) * args.num_envs * agent_cfg.num_steps_per_env
        state_check = _state_check(base)
        dr_check = _dr_check(wrapped) if args.domain_rand else None
        clip_check = _clip_check(wrapped, args.clips) if args.clips is not None else None
        if args.save_dir is not None:
            _save_run(runner, wrapped, agent_cfg, args.save_dir, args.device, args.iterations)
        env.close()

    result = {
        "task": task.TASK_ID,
        "device": args.device,
        "num_envs": args.num_envs,
        "iterations": args.iterations,
        "num_steps_per_env": agent_cfg.num_steps_per_env,
        "env_steps_per_s": (steps / t_rest) if steps else None,
        "first_iteration_s": round(t_first, 2),
        "setup_s": {"imports": round(t_import, 2), "env_and_runner": round(t_env, 2)},
        "observation_names": obs_names,
        "observation_dims": obs_dims,
        "reward_names": reward_names,
        "reward_weights": weights,
        "termination_names": termination_names,
        "state_check": state_check,
        "domain_rand": dr_check,
        "clips": clip_check,
        "threads": args.threads,
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
