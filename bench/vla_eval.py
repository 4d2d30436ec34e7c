"""wbvla against LeRobot's ACT and SmolVLA on scripted pick_place demos, and latent pretraining on egocentric video
(issue 8's acceptance), in one run of LeRobot's own CLIs as a user starts them.

1. Demos: `wbvla-record-sim` records `episodes` scripted pick_place demos (or `--demos_root` reuses a folder); the
   first `train_episodes` episodes train, the rest are held out.
2. Training: `lerobot-train` (one child process each, one after the other, same steps, batch, seed, threads and
   train episodes) trains `wbvla` (random SmolVLM backbone built by `wbvla-make-vlm`, the LAM of step 5 as
   teacher), ACT (no pretrained ResNet: none can be downloaded here) and SmolVLA (the same SmolVLM folder as its
   backbone, `load_vlm_weights=false`). The CPU time of each child (`getrusage(RUSAGE_CHILDREN)` deltas: the
   trainer, its data workers and its start-up) is recorded; the issue bounds wbvla's at 20 CPU-minutes.
3. Held-out arm-action error (offline): every `frame_stride`-th frame of the held-out episodes goes through the
   checkpoint's saved pre-processor, `policy.reset()` + `select_action` and the saved post-processor; the first 16
   action entries (14 arm joints + 2 grippers, joints.ACTION_KEYS) are compared with the recorded action, mean L1
   in raw units. Baseline: the train episodes' mean action on the same frames; ratio = policy / baseline. Frames
   are scored in batches after a reset (a batch row equals the batch of one: LeRobot's policy contract).
4. Sim success: `lerobot-eval --env.type=agibot_x2 --env.task=pick_place` over `eval_episodes` seeds at the
   recording's camera size; the eval folder (videos, eval_info.json) is kept and named in the result.
5. Latent pretraining: `wbvla-gen-egovideo` clips -> `wbvla-train-lam` (the CPU LAM preset, a few minutes: the
   teacher of every wbvla run here) -> `wbvla-egovideo-to-lerobot` -> `lerobot-train` latent-only on the video ->
   `lerobot-train --policy.path=<it>` on the first `finetune_episodes` train demos, against the same model
   trained from scratch on them, same steps, for each seed; held-out arm L1 of each.

Writes bench/results/vla_eval.json:
    {"wbvla": {"arm_l1", "arm_error_ratio_vs_mean", "sim_success", "cpu_minutes", ...}, "act": {...},
     "smolvla": {...}, "mean_action_baseline": {"arm_l1"}, "pretraining": {"with_video", "from_scratch", "seeds",
     "per_seed": {...}, ...}, "training": {...}, "dataset": {...}, ...}

Every stage writes `<work_dir>/<stage>/stage.json` when it completes; a re-run with the same settings reuses it
(`--reuse=false` starts over), so a long run interrupted half-way resumes where it stopped.

Usage: python bench/vla_eval.py [--demos_root=<recorded demos>] [--steps=N] [--work_dir=...] [--output=...]
Smoke (the test suite; the figures mean nothing): python bench/vla_eval.py --smoke=true --output=/tmp/x.json
"""

from __future__ import annotations

import json
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import draccus
from _results import REPO, RESULTS, machine_description, write_result  # bench/_results.py

BIN = Path(sys.executable).parent
FPS = 30
TASK = "pick_place"
REPO_ID = "local/vla_eval_pick_place"
EGO_REPO_ID = "local/vla_eval_egovideo"
ARM_DIMS = 16  # joints.ACTION_KEYS: 14 arm joints + 2 grippers come first, then loco.*
POLICIES = ("wbvla", "act", "smolvla")
REUSED: list[str] = []  # stages this invocation took from an earlier run (their time is not in wall_minutes)


@dataclass
class VlaEvalConfig:
    # Recorded demos to reuse (a wbvla-record-sim / lerobot-record folder of pick_place demos); None = record them.
    demos_root: Path | None = None
    # Where demos, models, checkpoints, logs and eval videos go (kept after the run).
    work_dir: Path = REPO / "outputs" / "vla_eval"
    # Reuse the stages a previous run with the same settings completed in work_dir.
    reuse: bool = True
    # Demos recorded (when demos_root is None) and how many of them (the first ones) train; the rest are held out.
    episodes: int = 50
    train_episodes: int = 40
    # Head camera (height, width) of the recording and of the eval env; scene seed of the first demo.
    camera: list[int] = field(default_factory=lambda: [96, 128])
    record_seed: int = 0
    record_workers: int = 2
    # The random SmolVLM backbone of wbvla and SmolVLA (tiny_vlm.py sizes: tiny ~0.1M, small ~5M) and its input side.
    vlm_size: str = "small"
    vlm_image_size: int = 64
    # Training of the three policies: same steps, batch, seed, threads and data for each.
    steps: int = 1500
    batch_size: int = 8
    seed: int = 1
    # torch/OpenMP threads of each child (1: the CPU-time-cheapest on a shared 2-core machine).
    threads: int = 1
    num_workers: int = 0
    # Policies trained and compared (a subset skips the others; their entries are then null).
    policies: list[str] = field(default_factory=lambda: list(POLICIES))
    # Extra lerobot-train flags per policy (e.g. --policy.optimizer_lr_vlm=1e-4).
    wbvla_args: list[str] = field(default_factory=list)
    act_args: list[str] = field(default_factory=list)
    smolvla_args: list[str] = field(default_factory=list)
    # wbvla's CPU-time bound (issue 8): reported, and the run warns when it is exceeded.
    cpu_budget_minutes: float = 20.0
    # Offline scoring: every frame_stride-th frame of each held-out episode, score_batch frames per call.
    frame_stride: int = 3
    score_batch: int = 16
    # Sim success: lerobot-eval episodes, envs per batch, first seed.
    eval_episodes: int = 20
    eval_batch_size: int = 5
    eval_seed: int = 1000
    # Latent pretraining: egocentric clips (train split) of ego_seconds at the camera size, the LAM teacher's
    # training budget and frame gap, pretraining steps, fine-tuning demos/steps and seeds.
    pretraining: bool = True
    ego_clips: int = 200
    ego_seconds: float = 3.0
    lam_minutes: float = 5.0
    lam_steps: int = 20000
    lam_frame_gap: int = 10
    pretrain_steps: int = 1500
    finetune_episodes: int = 10
    finetune_steps: int = 800
    seeds: list[int] = field(default_factory=lambda: [1, 2, 3])
    # Tiny settings for the test suite (2 short demos, a 0.1M backbone, a few steps, no pretraining comparison):
    # the figures mean nothing.
    smoke: bool = False
    # Where the JSON goes.
    output: Path = RESULTS / "vla_eval.json"


def _smoke(cfg: VlaEvalConfig, work: Path) -> VlaEvalConfig:
    return replace(
        cfg,
        demos_root=None,
        work_dir=work,
        reuse=False,
        episodes=2,
        train_episodes=1,
        camera=[48, 64],
        record_workers=1,
        vlm_size="tiny",
        vlm_image_size=32,
        steps=2,
        batch_size=2,
        policies=["wbvla"],
        frame_stride=10,
        score_batch=4,
        eval_episodes=1,
        eval_batch_size=1,
        pretraining=False,
    )


# ---------------------------------------------------------------------------------------------- child processes
def _child_env(threads: int) -> dict:
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = str(threads)
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("SVT_LOG", "1")
    return env


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _run(args: list[str], log: Path, threads: int) -> dict:
    """Run one CLI (children run one at a time, so RUSAGE_CHILDREN deltas are theirs): wall and CPU seconds."""
    log.parent.mkdir(parents=True, exist_ok=True)
    print(f"[vla_eval] $ {' '.join(args)}\n[vla_eval]   log: {log}", flush=True)
    cpu0, t0 = _cpu_s(), time.monotonic()
    with open(log, "w") as f:
        f.write(" ".join(args) + "\n")
        f.flush()
        proc = subprocess.run(
            args, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=_child_env(threads)
        )
    out = {"wall_s": round(time.monotonic() - t0, 1), "cpu_s": round(_cpu_s() - cpu0, 1)}
    if proc.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
        raise SystemExit(f"{Path(args[0]).name} failed ({proc.returncode}); see {log}:\n{tail}")
    print(f"[vla_eval]   done: {out}", flush=True)
    return out


def _stage(work: Path, name: str, settings: dict, reuse: bool, fn) -> dict:
    """Run `fn(folder)` unless `<folder>/stage.json` holds a completed run with the same settings."""
    folder = work / name
    marker = folder / "stage.json"
    settings = json.loads(json.dumps(settings, default=str))
    if reuse and marker.is_file():
        done = json.loads(marker.read_text())
        if done.get("settings") == settings:
            print(f"[vla_eval] {name}: reusing {folder}", flush=True)
            REUSED.append(name)
            return done["result"]
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    result = fn(folder)
    marker.write_text(json.dumps({"settings": settings, "result": result}, indent=2, default=str) + "\n")
    return result


def _code_hash(folder: Path = REPO / "lerobot_wbvla" / "policies" / "wbvla") -> str:
    """Digest of the wbvla policy's source: its stages are reused only on the same code."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*.py")):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


# ---------------------------------------------------------------------------------------------- inputs
def _record(cfg: VlaEvalConfig, folder: Path) -> dict:
    root = folder / "demos"
    args = [
        str(BIN / "wbvla-record-sim"),
        f"--tasks=[{TASK}]",
        f"--episodes={cfg.episodes}",
        f"--seed={cfg.record_seed}",
        f"--fps={FPS}",
        f"--robot.head_camera=[{cfg.camera[0]},{cfg.camera[1]}]",
        f"--repo_id={REPO_ID}",
        f"--root={root}",
        f"--num_workers={cfg.record_workers}",
        *(["--episode_time_s=1.0", "--rerecord_failed=false"] if cfg.smoke else []),
    ]
    return {"root": str(root), **_run(args, folder / "record.log", cfg.threads)}


def _dataset_info(root: Path) -> dict:
    info = json.loads((root / "meta" / "info.json").read_text())
    return {
        "episodes": info["total_episodes"],
        "frames": info["total_frames"],
        "fps": info["fps"],
        "camera": list(info["features"]["observation.images.head"]["shape"][:2]),
        "action_names": info["features"]["action"]["names"],
    }


def _make_vlm(cfg: VlaEvalConfig, folder: Path) -> dict:
    """The random SmolVLM folder both VLAs load (what `wbvla-make-vlm` writes; built in-process, it is small)."""
    from lerobot_wbvla.policies.wbvla.tiny_vlm import build_tiny_vlm

    out = build_tiny_vlm(
        "smolvlm", folder / f"smolvlm_{cfg.vlm_size}_{cfg.vlm_image_size}", cfg.vlm_size, cfg.vlm_image_size
    )
    info = json.loads((out / "wbvla_tiny_vlm.json").read_text())
    return {
        "path": str(out),
        "family": "smolvlm",
        "size": cfg.vlm_size,
        "params_m": round(info["num_parameters"] / 1e6, 3),
    }


def _egovideo(cfg: VlaEvalConfig, folder: Path) -> dict:
    video = folder / "clips"
    args = [
        str(BIN / "wbvla-gen-egovideo"),
        f"--out_dir={video}",
        f"--num_clips={cfg.ego_clips}",
        f"--height={cfg.camera[0]}",
        f"--width={cfg.camera[1]}",
        f"--fps={FPS}",
        f"--clip_seconds={cfg.ego_seconds}",
        "--heldout_fraction=0.0",
        "--seed=0",
        "--contact_sheet=false",
        f"--num_workers={max(1, cfg.record_workers)}",
    ]
    gen = _run(args, folder / "gen_egovideo.log", cfg.threads)
    root = folder / "lerobot"
    conv = _run(
        [
            str(BIN / "wbvla-egovideo-to-lerobot"),
            f"--video_root={video}",
            f"--repo_id={EGO_REPO_ID}",
            f"--root={root}",
            "--split=train",
        ],
        folder / "to_lerobot.log",
        cfg.threads,
    )
    info = json.loads((root / "meta" / "info.json").read_text())
    return {
        "video_root": str(video),
        "root": str(root),
        "clips": info["total_episodes"],
        "frames": info["total_frames"],
        "generate": gen,
        "convert": conv,
    }


def _train_lam(cfg: VlaEvalConfig, video_root: Path | None, folder: Path) -> dict:
    """The LAM teacher: the project's CPU preset trained on the generated video for `lam_minutes` (smoke: a random
    one, as the tests use)."""
    if video_root is None:
        from lerobot_wbvla.lam.configuration_lam import LAMConfig, MLPLAMConfig, PixelEncoderConfig
        from lerobot_wbvla.lam.modeling_lam import LatentActionModel

        config = LAMConfig(
            encoder=PixelEncoderConfig(image_size=32, patch_size=8),
            model=MLPLAMConfig(latent_dim=16, codebook_size=32, token_dim=8, inverse_hidden=[64]),
            frame_gap=2,
        )
        path = LatentActionModel(config).save_pretrained(folder / "lam")
        return {"path": str(path), "trained": False}
    from lerobot_wbvla.lam.data import LAMDataConfig
    from lerobot_wbvla.lam.presets import cpu_lam_config
    from lerobot_wbvla.lam.train import TrainLAMConfig

    preset = TrainLAMConfig(
        lam=cpu_lam_config(), data=LAMDataConfig(video_root=video_root, frame_gap=cfg.lam_frame_gap)
    )
    config_path = folder / "train_lam.yaml"
    with open(config_path, "w") as f:
        draccus.dump(preset, f)
    out = folder / "train"
    run = _run(
        [
            str(BIN / "wbvla-train-lam"),
            f"--config_path={config_path}",
            f"--output_dir={out}",
            f"--steps={cfg.lam_steps}",
            f"--max_minutes={cfg.lam_minutes}",
            f"--num_threads={cfg.threads}",
            "--progress=false",
            "--seed=0",
        ],
        folder / "train_lam.log",
        cfg.threads,
    )
    state = json.loads((out / "pretrained_model" / "config.json").read_text())
    metrics = out / "metrics.jsonl"
    last = json.loads(metrics.read_text().splitlines()[-1]) if metrics.is_file() else {}
    return {
        "path": str(out / "pretrained_model"),
        "trained": True,
        "frame_gap": state.get("frame_gap"),
        "last_metrics": last,
        **run,
    }


# ---------------------------------------------------------------------------------------------- training
def _episodes_flag(episodes: list[int]) -> str:
    return "--dataset.episodes=[" + ",".join(str(e) for e in episodes) + "]"


def _policy_flags(name: str, cfg: VlaEvalConfig, vlm: str, lam: str) -> list[str]:
    if name == "wbvla":
        return [
            "--policy.type=wbvla",
            f"--policy.vlm_model_name={vlm}",
            "--policy.load_vlm_weights=false",
            f"--policy.vlm_image_size={cfg.vlm_image_size}",
            f"--policy.lam={lam}",
            "--policy.teacher_labels=on_the_fly",
            *cfg.wbvla_args,
        ]
    if name == "act":
        return ["--policy.type=act", "--policy.pretrained_backbone_weights=null", *cfg.act_args]
    if name == "smolvla":
        return [
            "--policy.type=smolvla",
            f"--policy.vlm_model_name={vlm}",
            "--policy.load_vlm_weights=false",
            "--policy.max_state_dim=80",  # the X2 state is 80-dim; SmolVLA pads but never truncates
            # the backbone's own input size (SmolVLA's default pads to 512x512)
            f"--policy.resize_imgs_with_padding=[{cfg.vlm_image_size},{cfg.vlm_image_size}]",
            *cfg.smolvla_args,
        ]
    raise ValueError(f"--policies names {name!r}; choose from {', '.join(POLICIES)}")


def _losses(log: Path) -> dict:
    import re

    found = [
        (int(s), float(v))
        for s, v in re.findall(r"step:(\d+) .*?\bloss:([0-9.eE+-]+)", log.read_text(errors="replace"))
    ]
    return {"first": found[0], "last": found[-1]} if found else {}


def _train(
    cfg: VlaEvalConfig,
    folder: Path,
    dataset: Path,
    repo_id: str,
    episodes: list[int] | None,
    policy_flags: list[str],
    steps: int,
    seed: int,
) -> dict:
    out = folder / "train"
    args = [
        str(BIN / "lerobot-train"),
        *policy_flags,
        "--policy.device=cpu",
        "--policy.push_to_hub=false",
        f"--dataset.repo_id={repo_id}",
        f"--dataset.root={dataset}",
        *([_episodes_flag(episodes)] if episodes is not None else []),
        "--dataset.video_backend=pyav",
        f"--batch_size={cfg.batch_size}",
        f"--steps={steps}",
        f"--save_freq={steps}",
        f"--log_freq={max(1, min(100, steps // 10))}",
        f"--num_workers={cfg.num_workers}",
        f"--output_dir={out}",
        "--wandb.enable=false",
        f"--seed={seed}",
    ]
    log = folder / "train.log"
    run = _run(args, log, cfg.threads)
    ckpt = out / "checkpoints" / "last" / "pretrained_model"
    from safetensors import safe_open

    with safe_open(str(ckpt / "model.safetensors"), "pt") as f:
        params = sum(math.prod(f.get_slice(k).get_shape()) for k in f.keys())
    return {
        "checkpoint": str(ckpt),
        "params_m": round(params / 1e6, 3),
        "steps": steps,
        "seed": seed,
        "cpu_minutes": round(run["cpu_s"] / 60.0, 2),
        "wall_minutes": round(run["wall_s"] / 60.0, 2),
        "loss": _losses(log),
        "log": str(log),
    }


# ---------------------------------------------------------------------------------------------- scoring
def _scored_frames(root: Path, episodes: list[int], stride: int) -> tuple[list[int], object]:
    """Global dataset indices of every stride-th frame of `episodes` and the recorded actions (N, A) there."""
    import numpy as np
    import pandas as pd

    df = pd.concat([pd.read_parquet(f) for f in sorted((root / "data").rglob("*.parquet"))])
    df = df[df["episode_index"].isin(episodes) & (df["frame_index"] % stride == 0)].sort_values("index")
    return df["index"].tolist(), np.stack(df["action"].to_numpy()).astype("float64")


def _mean_action(root: Path, episodes: list[int]):
    import numpy as np
    import pandas as pd

    df = pd.concat([pd.read_parquet(f) for f in sorted((root / "data").rglob("*.parquet"))])
    return np.stack(df[df["episode_index"].isin(episodes)]["action"].to_numpy()).astype("float64").mean(0)


def _predict(ckpt: Path, root: Path, indices: list[int], cfg: VlaEvalConfig):
    """Unnormalised actions (N, A) of the checkpoint on the dataset frames `indices`, through its saved
    pre/post-processors, a reset before every batch."""
    import numpy as np
    import torch
    from lerobot.configs.policies import PreTrainedConfig
    from lerobot.datasets.lerobot_dataset import LeRobotDataset
    from lerobot.policies.factory import get_policy_class, make_pre_post_processors

    import lerobot_policy_wbvla  # noqa: F401  (registers wbvla, as LeRobot's plugin discovery does)

    torch.set_num_threads(cfg.threads)
    pcfg = PreTrainedConfig.from_pretrained(ckpt)
    pcfg.device = "cpu"
    policy = get_policy_class(pcfg.type).from_pretrained(ckpt, config=pcfg)
    policy.eval()
    pre, post = make_pre_post_processors(
        pcfg, pretrained_path=str(ckpt), preprocessor_overrides={"device_processor": {"device": "cpu"}}
    )
    ds = LeRobotDataset(REPO_ID, root=root, video_backend="pyav")
    keys = [k for k in pcfg.input_features if k.startswith("observation.")]
    out = []
    for start in range(0, len(indices), cfg.score_batch):
        items = [ds[i] for i in indices[start : start + cfg.score_batch]]
        batch = {k: torch.stack([it[k] for it in items]) for k in keys}
        batch["task"] = [it["task"] for it in items]
        policy.reset()
        torch.manual_seed(cfg.seed)
        with torch.no_grad():
            action = post(policy.select_action(pre(batch)))
        out.append(action.double().numpy())
    return np.concatenate(out)


def _score(ckpt: Path, root: Path, heldout: list[int], baseline: dict, cfg: VlaEvalConfig) -> dict:
    import numpy as np

    indices, recorded = _scored_frames(root, heldout, cfg.frame_stride)
    t0 = time.monotonic()
    pred = _predict(ckpt, root, indices, cfg)
    err = np.abs(pred[:, :ARM_DIMS] - recorded[:, :ARM_DIMS])
    l1 = float(err.mean())
    return {
        "arm_l1": round(l1, 5),
        "arm_error_ratio_vs_mean": round(l1 / baseline["arm_l1"], 4),
        "per_dim_l1": [round(float(x), 5) for x in err.mean(0)],
        "frames_scored": len(indices),
        "score_wall_s": round(time.monotonic() - t0, 1),
    }


def _baseline(root: Path, train: list[int], heldout: list[int], stride: int) -> dict:
    import numpy as np

    _, recorded = _scored_frames(root, heldout, stride)
    mean = _mean_action(root, train)
    err = np.abs(recorded[:, :ARM_DIMS] - mean[:ARM_DIMS])
    return {
        "arm_l1": round(float(err.mean()), 5),
        "per_dim_l1": [round(float(x), 5) for x in err.mean(0)],
        "frames_scored": len(recorded),
    }


# ---------------------------------------------------------------------------------------------- sim success
def _sim_eval(cfg: VlaEvalConfig, ckpt: Path, folder: Path) -> dict:
    out = folder / "eval"
    args = [
        str(BIN / "lerobot-eval"),
        f"--policy.path={ckpt}",
        "--policy.device=cpu",
        "--env.type=agibot_x2",
        f"--env.task={TASK}",
        f"--env.observation_height={cfg.camera[0]}",
        f"--env.observation_width={cfg.camera[1]}",
        *(["--env.episode_length=10"] if cfg.smoke else []),
        f"--eval.n_episodes={cfg.eval_episodes}",
        f"--eval.batch_size={cfg.eval_batch_size}",
        # envs in this process: their CPU time is then the child's (async env workers escape RUSAGE_CHILDREN)
        "--eval.use_async_envs=false",
        f"--seed={cfg.eval_seed}",
        f"--output_dir={out}",
    ]
    run = _run(args, folder / "eval.log", cfg.threads)
    info = json.loads((out / "eval_info.json").read_text())
    overall = info["overall"]
    return {
        "sim_success": round(float(overall["pc_success"]) / 100.0, 4),
        "episodes": int(overall["n_episodes"]),
        "avg_sum_reward": overall.get("avg_sum_reward"),
        "eval_dir": str(out),
        "videos": sorted(str(p) for p in out.rglob("*.mp4"))[:3],
        "eval_cpu_minutes": round(run["cpu_s"] / 60.0, 2),
        "eval_wall_minutes": round(run["wall_s"] / 60.0, 2),
    }


# ---------------------------------------------------------------------------------------------- main
def _has_state(ckpt: Path) -> bool:
    """Whether a checkpoint's policy reads observation.state."""
    cfg = json.loads((Path(ckpt) / "config.json").read_text())
    return "observation.state" in (cfg.get("input_features") or {}) and cfg.get("use_state", True)


def _pretraining(cfg, work, demos, train_eps, heldout, baseline, vlm, lam, ego) -> dict:
    pre_flags = _policy_flags("wbvla", cfg, vlm, lam)
    pre = _stage(
        work,
        "pretrain_video",
        {"flags": pre_flags, "steps": cfg.pretrain_steps, "batch": cfg.batch_size, "code": _code_hash()},
        cfg.reuse,
        lambda f: _train(
            cfg, f, Path(ego["root"]), EGO_REPO_ID, None, pre_flags, cfg.pretrain_steps, cfg.seed
        ),
    )
    ft_eps = train_eps[: cfg.finetune_episodes]
    ft_flags = [f"--policy.path={pre['checkpoint']}"]
    scratch_flags, uses_state = None, None
    per_seed: dict[str, list] = {"with_video": [], "from_scratch": []}
    runs: dict[str, list] = {"with_video": [], "from_scratch": []}
    for seed in cfg.seeds:
        for arm in ("with_video", "from_scratch"):
            if arm == "from_scratch" and scratch_flags is None:
                # The same model from scratch: it reads the state only if the fine-tuned one does (LeRobot keeps a
                # checkpoint's input features when fine-tuning, and the video had no state).
                uses_state = _has_state(Path(runs["with_video"][0]["checkpoint"]))
                scratch_flags = pre_flags + ([] if uses_state else ["--policy.use_state=false"])
            flags = ft_flags if arm == "with_video" else scratch_flags
            settings = {
                "flags": flags,
                "steps": cfg.finetune_steps,
                "eps": ft_eps,
                "seed": seed,
                "code": _code_hash(),
            }

            def fn(f, flags=flags, seed=seed):
                r = _train(cfg, f, demos, REPO_ID, ft_eps, flags, cfg.finetune_steps, seed)
                return {**r, **_score(Path(r["checkpoint"]), demos, heldout, baseline, cfg)}

            r = _stage(work, f"finetune_{arm}_seed{seed}", settings, cfg.reuse, fn)
            per_seed[arm].append(r["arm_l1"])
            keys = ("seed", "arm_l1", "arm_error_ratio_vs_mean", "cpu_minutes", "loss", "checkpoint")
            runs[arm].append({k: r[k] for k in keys})
    with_video, scratch = statistics.mean(per_seed["with_video"]), statistics.mean(per_seed["from_scratch"])
    return {
        "with_video": round(with_video, 5),
        "from_scratch": round(scratch, 5),
        "seeds": list(cfg.seeds),
        "per_seed": per_seed,
        "runs": runs,
        "helps": with_video < scratch,
        "with_video_over_scratch": round(with_video / scratch, 4),
        "finetune_episodes": ft_eps,
        "finetune_steps": cfg.finetune_steps,
        "pretrain_steps": cfg.pretrain_steps,
        "pretrain_cpu_minutes": pre["cpu_minutes"],
        "pretrain_loss": pre["loss"],
        "pretrained_checkpoint": pre["checkpoint"],
        "fine_tuned_uses_state": uses_state,
        "egovideo": ego,
    }


def main(cfg: VlaEvalConfig) -> dict:
    t_start = time.monotonic()
    tmp = tempfile.TemporaryDirectory(prefix="vla-eval-smoke-") if cfg.smoke else None
    if tmp is not None:
        cfg = _smoke(cfg, Path(tmp.name))
    unknown = set(cfg.policies) - set(POLICIES)
    if unknown:
        raise SystemExit(f"--policies has {sorted(unknown)}; choose from {', '.join(POLICIES)}")
    work = Path(cfg.work_dir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    try:
        out = _main(cfg, work)
    finally:
        if tmp is not None:
            tmp.cleanup()
    out["wall_minutes"] = round((time.monotonic() - t_start) / 60.0, 1)
    out["reused_stages"] = list(REUSED)
    out["machine"] = machine_description(with_torch=True)
    out["load_average_1_5_15"] = [round(x, 2) for x in os.getloadavg()]
    write_result(
        cfg.output,
        out,
        measures=["lerobot_wbvla/policies/wbvla"],
        smoke=cfg.smoke,
    )
    _print_table(out)
    return out


def _main(cfg: VlaEvalConfig, work: Path) -> dict:
    if cfg.demos_root is not None:
        demos = Path(cfg.demos_root).resolve()
        record = {"root": str(demos), "reused": True}
    else:
        settings = {
            "episodes": cfg.episodes,
            "camera": cfg.camera,
            "seed": cfg.record_seed,
            "smoke": cfg.smoke,
        }
        record = _stage(work, "record", settings, cfg.reuse, lambda f: _record(cfg, f))
        demos = Path(record["root"])
    info = _dataset_info(demos)
    if info["episodes"] <= cfg.train_episodes:
        raise SystemExit(
            f"{demos} has {info['episodes']} episodes; --train_episodes={cfg.train_episodes} leaves none held out"
        )
    cfg = replace(cfg, camera=info["camera"])
    train_eps = list(range(cfg.train_episodes))
    heldout = list(range(cfg.train_episodes, info["episodes"]))
    vlm = _stage(
        work,
        "vlm",
        {"size": cfg.vlm_size, "image": cfg.vlm_image_size},
        cfg.reuse,
        lambda f: _make_vlm(cfg, f),
    )

    ego = None
    if cfg.pretraining:
        ego_settings = {"clips": cfg.ego_clips, "s": cfg.ego_seconds, "camera": cfg.camera}
        ego = _stage(work, "egovideo", ego_settings, cfg.reuse, lambda f: _egovideo(cfg, f))
    lam_settings = {"video": ego and ego["video_root"], "minutes": cfg.lam_minutes, "gap": cfg.lam_frame_gap}
    lam = _stage(
        work, "lam", lam_settings, cfg.reuse, lambda f: _train_lam(cfg, ego and Path(ego["video_root"]), f)
    )
    baseline = _baseline(demos, train_eps, heldout, cfg.frame_stride)

    out: dict = {}
    for name in POLICIES:
        if name not in cfg.policies:
            out[name] = None
            continue
        flags = _policy_flags(name, cfg, vlm["path"], lam["path"])
        settings = {
            "flags": flags,
            "steps": cfg.steps,
            "batch": cfg.batch_size,
            "eps": train_eps,
            "seed": cfg.seed,
            **({"code": _code_hash()} if name == "wbvla" else {}),
        }
        trained = _stage(
            work,
            f"train_{name}",
            settings,
            cfg.reuse,
            lambda f, flags=flags: _train(cfg, f, demos, REPO_ID, train_eps, flags, cfg.steps, cfg.seed),
        )
        ckpt = Path(trained["checkpoint"])
        score = _score(ckpt, demos, heldout, baseline, cfg)
        sim = _stage(
            work,
            f"eval_{name}",
            {
                "ckpt": str(ckpt),
                "weights_mtime_ns": (ckpt / "model.safetensors").stat().st_mtime_ns,
                "n": cfg.eval_episodes,
                "b": cfg.eval_batch_size,
                "async_envs": False,
                "seed": cfg.eval_seed,
            },
            cfg.reuse,
            lambda f, ckpt=ckpt: _sim_eval(cfg, ckpt, f),
        )
        out[name] = {**score, **sim, **trained, "flags": flags}
        if name == "wbvla" and trained["cpu_minutes"] > cfg.cpu_budget_minutes:
            print(
                f"[vla_eval] WARNING: wbvla used {trained['cpu_minutes']} CPU-minutes (> {cfg.cpu_budget_minutes})",
                flush=True,
            )

    out["mean_action_baseline"] = baseline
    out["pretraining"] = (
        _pretraining(cfg, work, demos, train_eps, heldout, baseline, vlm["path"], lam["path"], ego)
        if cfg.pretraining
        else None
    )
    out["training"] = {
        "steps": cfg.steps,
        "batch_size": cfg.batch_size,
        "seed": cfg.seed,
        "threads": cfg.threads,
        "num_workers": cfg.num_workers,
        "video_backend": "pyav",
        "wbvla_cpu_budget_minutes": cfg.cpu_budget_minutes,
    }
    out["dataset"] = {
        **{k: v for k, v in info.items() if k != "action_names"},
        "root": str(demos),
        "task": TASK,
        "train_episodes": train_eps,
        "heldout_episodes": heldout,
        "record": record,
        "scored_action_names": info["action_names"][:ARM_DIMS],
    }
    out["scoring"] = {"frame_stride": cfg.frame_stride, "batch": cfg.score_batch, "dims": ARM_DIMS}
    out["backbone"] = vlm
    out["lam"] = lam
    out["sim_eval"] = {
        "episodes": cfg.eval_episodes,
        "batch_size": cfg.eval_batch_size,
        "seed": cfg.eval_seed,
    }
    out["config"] = json.loads(json.dumps(asdict(cfg), default=str))
    return out


def _print_table(out: dict) -> None:
    base = out["mean_action_baseline"]["arm_l1"]
    print(f"\n{'policy':10s} {'arm L1':>9s} {'/ mean':>7s} {'sim success':>12s} {'CPU-min':>8s}")
    print(f"{'mean act.':10s} {base:9.4f} {1.0:7.2f} {'-':>12s} {'-':>8s}")
    for name in POLICIES:
        r = out.get(name)
        if r:
            print(
                f"{name:10s} {r['arm_l1']:9.4f} {r['arm_error_ratio_vs_mean']:7.2f} {r['sim_success']:12.2f} "
                f"{r['cpu_minutes']:8.1f}"
            )
    p = out.get("pretraining")
    if p:
        print(
            f"\nlatent pretraining ({len(p['seeds'])} seeds, {p['finetune_steps']} steps on "
            f"{len(p['finetune_episodes'])} demos): with video {p['with_video']:.4f}, from scratch "
            f"{p['from_scratch']:.4f} (per seed {p['per_seed']})"
        )


if __name__ == "__main__":
    main(draccus.parse(config_class=VlaEvalConfig))
