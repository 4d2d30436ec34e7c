"""`wbvla-train-lmo`: train the LMO leg policy with RSL-RL PPO on the vectorized X2 twin.

    wbvla-train-lmo --lam=<LAM repo id or folder> --env.num_envs=64 --iterations=1500 --output_dir=outputs/lmo
    wbvla-train-lmo --env.conditioning=none ...      # the decoupled baseline (no arm intent)
    wbvla-train-lmo --output_dir=outputs/lmo --resume=true
    wbvla-train-lmo --backend=warp --env.num_envs=4096 ...  # MuJoCo Warp on the GPU (--warp.device=auto|cpu|cuda:i)
    wbvla-train-lmo --preset=walking_gpu --lam=<LAM>     # the two-stage walking curriculum on one GPU (presets.py)
    torchrun --nproc_per_node=<GPUs> -m lerobot_wbvla.lmo.train --preset=walking_gpu ...  # one process per GPU

1. The clip library (lmo/clips.py): procedural reach / carry / push clips with a locomotion command schedule, plus
   any recorded agibot_x2 datasets; with `conditioning=latent` every clip gets the frozen LAM's z_t (lmo/latents.py,
   cached on disk).
2. The env (lmo/env/: `--backend=cpu`, MuJoCo C, or `--backend=warp`, MuJoCo Warp on a GPU or CPU device; one MDP)
   and RSL-RL 5.5's OnPolicyRunner / PPO with the article's defaults (config_train.py). The
   iteration loop is ours, driving the runner's algorithm (act, process_env_step, compute_returns, update): it adds
   a tqdm bar, a time budget (`max_minutes`, counted across resumes), atomic checkpoints every `save_every`
   iterations (`checkpoints/model_XXXXXX.pt` in RSL-RL's format plus the training state), tensorboard scalars,
   `metrics.jsonl` and `curves.png`. A killed run continues with `--resume=true` from its last checkpoint and ends
   at the same iteration count.
3. At the end: the export (lmo/export.py: ONNX + TorchScript + layout.json, in `export/`), a model card, and with
   `--hub.push_to_hub=true` the export, card, config and curves on the Hub.

Curriculum stages (`curriculum.stages`, the walking preset's gait then loco-manipulation): before the first
iteration of a stage the env is switched to it (`set_stage`) and every env restarts. Under torchrun
(lmo/distributed.py) every rank trains its own envs and only rank 0 writes.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import shutil
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import draccus
import numpy as np
import torch

from lerobot_wbvla.lmo import distributed as D
from lerobot_wbvla.lmo.config_train import TrainLMOConfig, shrink_actor_output
from lerobot_wbvla.lmo.curriculum import Curriculum
from lerobot_wbvla.lmo.validation import ValidationHistory, ValidationRecord, Validator

logger = logging.getLogger(__name__)

CHECKPOINTS = "checkpoints"
LAST = "last.json"
EXPORT_DIR = "export"
METRICS = "metrics.jsonl"


@dataclass
class TrainLMOResult:
    output_dir: Path
    iterations: int
    train_minutes: float
    checkpoint: Path
    export_dir: Path | None
    last_metrics: dict
    # This process's torchrun rank (0 in a single process) and its RSL-RL runner (for in-process callers: tests of
    # the all-reduced update, benchmarks).
    rank: int = 0
    runner: object = None


# ---------------------------------------------------------------------------------------------- clips
def build_clip_library(cfg: TrainLMOConfig):
    """The arm clips of the run (procedural + recorded), with z_t attached for latent conditioning."""
    from lerobot_wbvla.lmo.clips import ClipLibrary, clips_from_dataset
    from lerobot_wbvla.lmo.procedural import procedural_clips

    library = ClipLibrary()
    if cfg.clips.procedural:
        library = procedural_clips(cfg.clips.procedural, seed=cfg.clips.seed, progress=cfg.progress)
    for repo_id in cfg.clips.datasets:
        library = library + clips_from_dataset(repo_id, root=cfg.clips.dataset_root, progress=cfg.progress)
    if cfg.clips.loco == "stand":
        library = library.standing()
    if cfg.env.conditioning == "latent":
        from lerobot_wbvla.lmo.latents import attach_latents

        kwargs = {"cache_dir": cfg.clips.latent_cache_dir} if cfg.clips.latent_cache_dir else {}
        library = attach_latents(
            library, cfg.lam, lam_revision=cfg.lam_revision, progress=cfg.progress, **kwargs
        )
    return library


# ---------------------------------------------------------------------------------------------- checkpoints
def _write_json_atomic(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


def last_checkpoint(output_dir: Path) -> Path | None:
    pointer = output_dir / CHECKPOINTS / LAST
    if not pointer.is_file():
        return None
    path = output_dir / CHECKPOINTS / json.loads(pointer.read_text())["file"]
    return path if path.is_file() else None


def save_checkpoint(
    runner, output_dir: Path, iteration: int, train_seconds: float, infos: dict | None = None
) -> Path:
    """RSL-RL's checkpoint dict (+ our training state), written to a temporary file and renamed: a kill at any
    moment leaves the previous checkpoint intact and `last.json` pointing at a complete file."""
    folder = output_dir / CHECKPOINTS
    folder.mkdir(parents=True, exist_ok=True)
    name = f"model_{iteration:06d}.pt"
    saved = runner.alg.save()
    saved["iter"] = iteration
    saved["infos"] = {"train_seconds": train_seconds, **(infos or {})}
    tmp = folder / (name + ".tmp")
    torch.save(saved, tmp)
    os.replace(tmp, folder / name)
    _write_json_atomic(folder / LAST, {"file": name, "iteration": iteration, "train_seconds": train_seconds})
    return folder / name


def _prepare_output_dir(cfg: TrainLMOConfig) -> Path | None:
    """The checkpoint to resume from, or None for a fresh run; refuses to overwrite a run without --resume."""
    resume_from = last_checkpoint(cfg.output_dir)
    if cfg.resume:
        if resume_from is None:
            logger.warning("--resume=true but no checkpoint in %s: starting from scratch", cfg.output_dir)
        return resume_from
    if resume_from is not None:
        raise FileExistsError(
            f"output_dir {cfg.output_dir} already holds an LMO training run. Pass --resume=true to continue it, "
            "or choose another --output_dir"
        )
    return None


# ---------------------------------------------------------------------------------------------- metrics
class EpisodeTracker:
    """Returns, lengths and falls of the episodes that end during an iteration, plus the env's term logs."""

    def __init__(self, num_envs: int, dt: float) -> None:
        self.dt = dt
        self.ret = torch.zeros(num_envs)
        self.length = torch.zeros(num_envs)
        self.clear()

    def clear(self) -> None:
        self.returns: list[float] = []
        self.lengths: list[float] = []
        self.falls: list[bool] = []
        self.logs: dict[str, list[float]] = {}

    def update(self, rewards: torch.Tensor, dones: torch.Tensor, extras: dict) -> None:
        self.ret += rewards.cpu()  # the warp backend's tensors live on its device
        self.length += 1
        done = dones.bool().cpu()
        if done.any():
            time_outs = extras.get("time_outs", torch.zeros_like(done)).bool().cpu()
            self.returns += self.ret[done].tolist()
            self.lengths += self.length[done].tolist()
            self.falls += (~time_outs[done]).tolist()
            self.ret[done] = 0.0
            self.length[done] = 0.0
        for key, value in extras.get("log", {}).items():
            self.logs.setdefault(key, []).append(float(value))

    def summary(self) -> dict[str, float]:
        out: dict[str, float] = {}
        if self.returns:
            out["episode_return"] = float(np.mean(self.returns))
            out["episode_length_s"] = float(np.mean(self.lengths)) * self.dt
            out["fall_rate"] = float(np.mean(self.falls))
            out["episodes"] = float(len(self.returns))
        for key, values in self.logs.items():
            out[key] = float(np.mean(values))
        return out


def write_curves(output_dir: Path) -> Path | None:
    """curves.png from metrics.jsonl: return, episode length, fall rate, per-term rewards, losses."""
    path = output_dir / METRICS
    if not path.is_file():
        return None
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [
        ("episode return", ["episode_return"]),
        ("episode length (s)", ["episode_length_s"]),
        ("falls per robot-minute", ["falls_per_min"]),
        ("curriculum difficulty", ["difficulty"]),
        ("reward terms (per step, weighted)", sorted(k for k in rows[-1] if k.startswith("Episode_Reward/"))),
        ("losses", [k for k in ("loss/value", "loss/surrogate", "loss/entropy") if k in rows[-1]]),
        ("action std", ["action_std"]),
        ("fall rate (training episodes that ended; validation)", ["fall_rate", "val/fall_rate"]),
        ("env steps/s", ["env_steps_per_s"]),
    ]
    fig, axes = plt.subplots(3, 3, figsize=(15, 11))
    for ax, (title, keys) in zip(axes.flat, panels, strict=True):
        for key in keys:
            xs = [r["iteration"] for r in rows if key in r]
            ys = [r[key] for r in rows if key in r]
            if xs:
                ax.plot(xs, ys, label=key.split("/")[-1])
        ax.set_title(title)
        ax.set_xlabel("iteration")
        if len(keys) > 1 and ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.tight_layout()
    out = output_dir / "curves.png"
    tmp = output_dir / "curves.tmp.png"
    fig.savefig(tmp, dpi=80)
    plt.close(fig)
    os.replace(tmp, out)
    return out


# ---------------------------------------------------------------------------------------------- training
def make_env(cfg: TrainLMOConfig, library):
    """The env of `cfg.backend` (both take the same LMOEnvConfig and run the same MDP terms). Under torchrun the
    env of rank r draws its episodes from seed env.seed + r and (warp) runs on cuda:LOCAL_RANK."""
    info = D.dist_info()
    env_cfg = replace(cfg.env, seed=cfg.env.seed + info.rank) if info.enabled else cfg.env
    if env_cfg.physics_threads is None:  # the physics steps while torch waits: the same cores
        env_cfg = replace(env_cfg, physics_threads=cfg.threads)
    if cfg.backend == "warp":
        from lerobot_wbvla.lmo.env.warp_vec_env import WarpLMOVecEnv

        warp = replace(cfg.warp, device=D.warp_device_for(cfg.warp.device, info))
        return WarpLMOVecEnv(env_cfg, library.stack(), lam=cfg.lam, lam_revision=cfg.lam_revision, warp=warp)
    from lerobot_wbvla.lmo.env.x2_vec_env import X2LMOVecEnv

    return X2LMOVecEnv(env_cfg, library.stack(), lam=cfg.lam, lam_revision=cfg.lam_revision)


def make_env_and_runner(cfg: TrainLMOConfig, library):
    """The env and RSL-RL runner of this process; under torchrun it joins the process group first (nccl/gloo)."""
    info = D.dist_info()
    env = make_env(cfg, library)
    if info.enabled:
        D.init_process_group(info, env.device, cfg.dist_backend)
    runner = D.build_runner(env, cfg.ppo.runner_cfg(), str(env.device), info)
    shrink_actor_output(runner.alg.actor, cfg.ppo.actor_output_init_scale)  # a resumed run loads over it
    return env, runner


def train(cfg: TrainLMOConfig) -> TrainLMOResult:
    """Run (or resume) an LMO training as `cfg` says."""
    from tqdm.auto import tqdm

    cfg.validate()
    info = D.dist_info()
    main_rank = info.is_main  # only rank 0 writes anything
    torch.set_num_threads(cfg.threads)
    resume_from = _prepare_output_dir(cfg)
    if main_rank:
        cfg.output_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed + info.rank)
    np.random.seed(cfg.seed + info.rank)
    library = build_clip_library(cfg)
    env, runner = make_env_and_runner(cfg, library)
    if main_rank:
        _write_json_atomic(cfg.output_dir / "train_config.json", draccus.encode(cfg))
        env.layout.save(cfg.output_dir)

    start_it, train_seconds = 0, 0.0
    curriculum = Curriculum(cfg.curriculum)
    history = ValidationHistory()
    if resume_from is not None:
        infos = runner.load(str(resume_from)) or {}
        start_it = int(runner.current_learning_iteration)
        train_seconds = float(infos.get("train_seconds", 0.0))
        if "curriculum" in infos:
            curriculum.load_state_dict(infos["curriculum"])
        history = ValidationHistory.from_state(infos.get("validation")).until(start_it)
        logger.info("resumed from %s at iteration %d", resume_from, start_it)
        if main_rank:
            _truncate_metrics(cfg.output_dir, start_it)
    D.broadcast_parameters(runner, info)  # every rank starts from rank 0's parameters
    writer = None
    if main_rank:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(log_dir=str(cfg.output_dir / "tensorboard"), purge_step=start_it)
    validator = None  # built before the clock starts, when the run will validate at all
    if main_rank and cfg.validation.every and start_it + cfg.validation.every <= cfg.iterations:
        validator = Validator(
            cfg.validation, env.layout, cfg.env.action_scale, cfg.env.clip_actions, cfg.threads
        )
    alg = runner.alg
    alg.train_mode()
    # The env was built (and its episodes drawn) at full difficulty: start them again at the curriculum's level
    # (and stage).
    stage = curriculum.enter_stage(start_it)
    if stage is not None:
        env.set_stage(stage)
    env.set_difficulty(curriculum.level_at(start_it))
    obs = _start_episodes(env, cfg, start_it)
    dt = 1.0 / cfg.env.control_hz
    tracker = EpisodeTracker(env.num_envs, dt)
    steps_per_it = env.num_envs * cfg.ppo.num_steps_per_env
    budget = None if cfg.max_minutes is None else 60.0 * cfg.max_minutes
    it = start_it
    checkpoint = resume_from
    last_metrics: dict = {}
    bar = tqdm(
        total=cfg.iterations,
        initial=start_it,
        desc="LMO PPO",
        unit="it",
        disable=not (cfg.progress and main_rank),
    )
    with bar:
        while it < cfg.iterations and (budget is None or train_seconds < budget):
            stage = curriculum.enter_stage(it)
            if stage is not None:  # a new stage: switch the env and restart every episode in it
                logger.info("curriculum stage %r from iteration %d", stage.name, it)
                env.set_stage(stage)
                env.set_difficulty(curriculum.level_at(it))
                obs = _start_episodes(env, cfg, it)
                tracker.ret.zero_()
                tracker.length.zero_()
            env.set_difficulty(curriculum.level_at(it))
            t0 = time.perf_counter()
            with torch.inference_mode():
                for _ in range(cfg.ppo.num_steps_per_env):
                    actions = alg.act(obs)
                    obs, rewards, dones, extras = env.step(actions)
                    alg.process_env_step(obs, rewards, dones, extras)
                    tracker.update(rewards, dones, extras)
                alg.compute_returns(obs)
            t1 = time.perf_counter()
            losses = alg.update()
            it += 1
            runner.current_learning_iteration = it
            validated = None
            if validator is not None and cfg.validation.due(it):
                validated = validator.run(alg.get_policy(), it)
                history.add(validated)
            t2 = time.perf_counter()  # the validation is part of the iteration's time (and of the budget)
            # one level for all ranks: falls and simulated time summed over them
            falls, robot_s = D.all_reduce([float(sum(tracker.falls)), steps_per_it * dt], info)
            curriculum.update(int(falls), robot_s)
            # the slowest rank's time: every rank takes the same stop decision under a time budget
            train_seconds += D.all_reduce([t2 - t0], info, op="max")[0]
            metrics = {
                "iteration": it,
                "train_minutes": train_seconds / 60.0,
                "env_steps": it * steps_per_it,
                "env_steps_per_s": steps_per_it / (t1 - t0),
                "iteration_s": t2 - t0,
                "action_std": float(alg.get_policy().output_std.detach().mean()),
                "difficulty": env.difficulty,
                "falls_per_min": 60.0 * sum(tracker.falls) / (steps_per_it * dt),
                "learning_rate": float(alg.learning_rate),
                **_stage_metrics(curriculum),
                **{f"loss/{k}": float(v) for k, v in losses.items()},
                **tracker.summary(),
                **_validation_metrics(validated),
            }
            tracker.clear()
            last_metrics = metrics
            if main_rank:
                with open(cfg.output_dir / METRICS, "a") as f:
                    f.write(json.dumps(metrics) + "\n")
                for key, value in metrics.items():
                    if key != "iteration" and isinstance(value, float) and math.isfinite(value):
                        writer.add_scalar(key if "/" in key else f"train/{key}", value, it)
            bar.update(1)
            bar.set_postfix(
                ret=f"{metrics.get('episode_return', float('nan')):.2f}",
                fall=f"{metrics.get('fall_rate', float('nan')):.2f}",
                sps=f"{metrics['env_steps_per_s']:.0f}",
            )
            if (it % cfg.save_every == 0 or validated is not None) and main_rank:
                checkpoint = save_checkpoint(
                    runner, cfg.output_dir, it, train_seconds, _train_state(cfg, curriculum, history)
                )
                write_curves(cfg.output_dir)
    if not main_rank:
        env.close()
        D.leave_process_group(info)
        return TrainLMOResult(
            cfg.output_dir, it, train_seconds / 60.0, None, None, last_metrics, info.rank, runner
        )
    writer.close()
    if checkpoint is None or it != _checkpoint_iteration(checkpoint):
        checkpoint = save_checkpoint(
            runner, cfg.output_dir, it, train_seconds, _train_state(cfg, curriculum, history)
        )
    write_curves(cfg.output_dir)
    export_dir = None
    if cfg.export:
        selected, selection = _selected_weights(cfg, history, it)
        with _actor_weights(runner.alg.get_policy(), selected) as actor:
            export_dir = _export(cfg, actor, env, it, train_seconds, last_metrics, selection)
        _write_card(cfg, export_dir, env, last_metrics, it, selection)
        from lerobot_wbvla.hub import push_with_config

        push_with_config(export_dir, cfg.hub, card=_card(cfg, env, last_metrics, it, selection))
    env.close()
    D.leave_process_group(info)
    return TrainLMOResult(
        cfg.output_dir, it, train_seconds / 60.0, checkpoint, export_dir, last_metrics, info.rank, runner
    )


def _start_episodes(env, cfg: TrainLMOConfig, iteration: int) -> dict:
    """Reset every env and, with `random_episode_start`, move each episode's clock to a random step of its time
    limit (seeded by the run's seed and `iteration`), so the envs time out, and redraw their randomization, one
    by one rather than all at once. The arm clips keep their own clock, so no arm jumps mid-motion."""
    obs = env.reset()
    if cfg.random_episode_start:
        rng = torch.Generator().manual_seed(cfg.seed * 1_000_003 + iteration)
        start = torch.randint(
            0, int(env.max_episode_length), tuple(env.episode_length_buf.shape), generator=rng
        )
        env.episode_length_buf[:] = start.to(env.episode_length_buf.device)
    return obs


def _train_state(cfg: TrainLMOConfig, curriculum: Curriculum, history: ValidationHistory) -> dict:
    """What a checkpoint keeps besides RSL-RL's state: the curriculum, the preset and the validations so far."""
    return {"curriculum": curriculum.state_dict(), "preset": cfg.preset, "validation": history.state_dict()}


def _validation_metrics(record: ValidationRecord | None) -> dict:
    if record is None:
        return {}
    return {
        "val/fall_rate": record.fall_rate,
        "val/com_margin": record.com_margin,
        "val/seconds": record.seconds,
    }


def _selected_weights(cfg: TrainLMOConfig, history: ValidationHistory, it: int):
    """The actor weights to export and why: the best validated checkpoint's (validation.select_best), or None for
    the last iteration's actor. Returns (state dict or None, selection dict for the export's metadata and card)."""
    best = history.best() if cfg.validation.select_best else None
    selection = {"selected_by": "last", "exported_iteration": it, "validation": history.state_dict()}
    if best is None:
        return None, selection
    path = cfg.output_dir / CHECKPOINTS / f"model_{best.iteration:06d}.pt"
    if not path.is_file():
        raise FileNotFoundError(
            f"the best validated checkpoint {path} is missing: restore it, or export the last iteration with "
            "--validation.select_best=false"
        )
    state = torch.load(path, map_location="cpu", weights_only=False)["actor_state_dict"]
    selection |= {
        "selected_by": "validation",
        "exported_iteration": best.iteration,
        "validation_fall_rate": best.fall_rate,
        "validation_com_margin": best.com_margin,
    }
    logger.info(
        "exporting iteration %d (validation fall rate %.3f, the lowest of %d validations)",
        best.iteration,
        best.fall_rate,
        len(history.records),
    )
    return state, selection


@contextlib.contextmanager
def _actor_weights(actor, state: dict | None):
    """`actor` with `state` loaded for the duration (None: as it is); its own weights are put back after, so the
    runner a caller gets back is the last iteration's."""
    if state is None:
        yield actor
        return
    own = {k: v.detach().clone() for k, v in actor.state_dict().items()}
    actor.load_state_dict(state)
    try:
        yield actor
    finally:
        actor.load_state_dict(own)


def _stage_metrics(curriculum: Curriculum) -> dict:
    """The running stage (name and index) for metrics.jsonl, when the curriculum has stages."""
    if curriculum.stage_index is None:
        return {}
    stage = curriculum.cfg.stages[curriculum.stage_index]
    return {"stage": stage.name, "stage_index": float(curriculum.stage_index)}


def _checkpoint_iteration(path: Path) -> int:
    return int(path.stem.split("_")[-1])


def _truncate_metrics(output_dir: Path, iteration: int) -> None:
    """On resume, drop metrics rows after the checkpoint (the killed run logged them, the resumed run redoes them)."""
    path = output_dir / METRICS
    if path.is_file():
        rows = [line for line in path.read_text().splitlines() if line.strip()]
        keep = [line for line in rows if json.loads(line)["iteration"] <= iteration]
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text("".join(line + "\n" for line in keep))
        os.replace(tmp, path)


def _export(
    cfg: TrainLMOConfig, actor, env, it: int, train_seconds: float, metrics: dict, selection: dict
) -> Path:
    from lerobot_wbvla.lmo.export import export_lmo

    meta = {
        "preset": cfg.preset,
        "curriculum_stages": [draccus.encode(s) for s in cfg.curriculum.stages],
        "backend": cfg.backend,
        "action_scale": cfg.env.action_scale,
        "clip_actions": cfg.env.clip_actions,
        "control_hz": cfg.env.control_hz,
        "iterations": it,
        "train_minutes": train_seconds / 60.0,
        "env_steps": it * env.num_envs * cfg.ppo.num_steps_per_env,
        "reward_weights": cfg.env.reward_weights,
        "domain_rand": draccus.encode(cfg.env.domain_rand),
        "final_metrics": {k: v for k, v in metrics.items() if isinstance(v, float)},
        **selection,
    }
    # export_lmo replaces an earlier export atomically (a failed export leaves the last good one).
    return export_lmo(actor, env.layout, cfg.output_dir / EXPORT_DIR, meta)


def _card(cfg: TrainLMOConfig, env, metrics: dict, it: int, selection: dict):
    from lerobot_wbvla.hub import ArtifactCard

    layout = env.layout
    blocks = ", ".join(f"{name} ({size})" for name, size in layout.blocks)
    dr = draccus.encode(cfg.env.domain_rand)
    sections = {
        "Observation layout": f"{layout.size} values: {blocks}. Conditioning: `{layout.conditioning}`.",
        "LAM": f"`{cfg.lam}` revision `{cfg.lam_revision}`" if cfg.lam else "none (no latent conditioning)",
        "Training": (
            f"Preset: `{cfg.preset or 'none'}`; backend `{cfg.backend}`, {env.num_envs} envs per process."
        ),
        "Curriculum stages": "\n".join(
            f"- {s.name} from iteration {s.start_iteration}: commands {s.commands}, arm motion x{s.arm_motion}, "
            f"payload x{s.payload}, pushes x{s.push}, z_t {'on' if s.latent else 'off'}"
            + (f", reward weights {s.reward_weights}" if s.reward_weights else "")
            for s in cfg.curriculum.stages
        )
        or "none (one stage: the clips' commands)",
        "Checkpoint": _selection_text(cfg, selection, it),
        "Reward weights": "\n".join(f"- {k}: {v}" for k, v in cfg.env.reward_weights.items()),
        "Domain randomization": "\n".join(f"- {k}: {v}" for k, v in dr.items()),
        "Use": (
            "`LMOPolicy.from_pretrained(<this repo>)` (lerobot_wbvla.lmo.policy) runs the ONNX export at 50 Hz; "
            "`--robot.lower_body_controller=lmo --robot.lmo_path=<this repo>` drives the X2's legs with it."
        ),
    }
    finals = {
        k: float(v) for k, v in metrics.items() if k in ("episode_return", "fall_rate", "episode_length_s")
    }
    if "validation_fall_rate" in selection:
        finals["validation_fall_rate"] = float(selection["validation_fall_rate"])
    return ArtifactCard(
        kind="generic",
        title="WholeBodyVLA LMO (loco-manipulation leg policy) for the AgiBot X2",
        summary=(
            f"PPO (RSL-RL) leg policy trained {it} iterations x {env.num_envs} envs x "
            f"{cfg.ppo.num_steps_per_env} steps on the X2 MuJoCo twin with wbvla-train-lmo."
        ),
        config=draccus.encode(cfg),
        base_model=cfg.lam if cfg.lam and "/" in cfg.lam and not os.path.exists(cfg.lam) else None,
        tags=["lmo", "reinforcement-learning", "rsl-rl", "agibot-x2"],
        metrics=finals,
        sections=sections,
    )


def _selection_text(cfg: TrainLMOConfig, selection: dict, it: int) -> str:
    v = cfg.validation
    if selection["selected_by"] != "validation":
        return f"The last iteration ({it}) of the run" + (
            "; no validation ran." if not selection["validation"] else "."
        )
    return (
        f"Iteration {selection['exported_iteration']} of {it}: of the {len(selection['validation'])} checkpoints "
        f"validated (every {v.every} iterations, {v.episodes} seeded perturbation episodes of {v.episode_s:g} s, "
        f"episode seed {v.seed}, clip seed {v.clip_seed}), the one that fell least: fall rate "
        f"{selection['validation_fall_rate']:.3f}. Validation episodes are not wbvla-eval-lmo's (seed 0, clip seed "
        "1000), so its figures stay held out."
    )


def _write_card(cfg: TrainLMOConfig, folder: Path, env, metrics: dict, it: int, selection: dict) -> None:
    repo_id = cfg.hub.repo_id or "local/lmo"
    text = _card(cfg, env, metrics, it, selection).render(repo_id)
    tmp = folder / "README.md.tmp"
    tmp.write_text(text)
    os.replace(tmp, folder / "README.md")
    for name in ("curves.png", "train_config.json", METRICS):
        if (cfg.output_dir / name).is_file():
            shutil.copy2(cfg.output_dir / name, folder / name)


def main() -> None:
    from lerobot.configs import parser

    from lerobot_wbvla.lam.data import USER_ERRORS, exit_with_user_error

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    def _run(cfg: TrainLMOConfig) -> None:
        result = train(cfg)
        summary = {k: v for k, v in result.last_metrics.items() if k in ("episode_return", "fall_rate")}
        print(
            json.dumps(
                {
                    "iterations": result.iterations,
                    "train_minutes": round(result.train_minutes, 3),
                    "checkpoint": str(result.checkpoint),
                    "export_dir": str(result.export_dir) if result.export_dir else None,
                    **summary,
                }
            )
        )

    # LeRobot's parser reads the config class from the annotation; with postponed annotations it is a string.
    _run.__annotations__["cfg"] = TrainLMOConfig
    preset_file = None
    try:
        from lerobot_wbvla.lmo.presets import preset_args

        sys.argv[1:], preset_file = preset_args(sys.argv[1:])  # --preset=NAME: its values become the defaults
        parser.wrap()(_run)()
    except USER_ERRORS as err:  # bad input: one clear line, no traceback
        exit_with_user_error("wbvla-train-lmo", err)
    except (
        draccus.utils.ParsingError
    ) as err:  # a config's own check (e.g. __post_init__) failed while parsing
        exit_with_user_error("wbvla-train-lmo", err.__cause__ or err)
    finally:
        if preset_file is not None:
            os.unlink(preset_file)


if __name__ == "__main__":
    main()
