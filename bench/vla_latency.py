"""`wbvla` speed on CPU: `select_action` latency (tiny and ~250M Qwen2-VL backbones) and training samples/s against
LeRobot's SmolVLA on the same backbone, in one run (issue 8, "Benchmarks").

Latency: the policy as `lerobot-rollout` / `lerobot-eval` run it (batch 1, one 224x224 head camera, the 80-d X2
state, a task string, the default `vlm_image_size=224`), random Qwen2-VL backbones built offline
(`tiny_vlm.build_tiny_vlm`; no weights can be downloaded here). `p50_ms`/`p99_ms` are taken with `n_action_steps=1`,
so every call runs the model: the latency the runtime sees whenever it asks for a new chunk. The amortised per-call
figure with the default chunking (`n_action_steps=8`) and the time of the pre/post processors are extra keys.

Training: wbvla and SmolVLA on the *same* backbone folder (a ~5M random SmolVLM, `size="small"`), the same synthetic
batches (one small in-memory dataset, preloaded: model time only, no decoding), the same batch size, image size
(64x64 frames; SmolVLA with `resize_imgs_with_padding=(64, 64)`, so both see 16 image tokens), the same action
chunk length, threads and optimiser step as `lerobot-train` (preprocessor, forward, backward, grad clip, AdamW,
scheduler). Which parts of the backbone train decides most of the cost, so the policies are compared in matched
regimes, each pair interleaved (ABAB...) in every repetition so that the load of this shared machine hits all alike:
- backbone's language model trained, vision tower frozen: wbvla's default (`vlm_training=freeze_vision`, the
  article fine-tunes the VLM) vs SmolVLA with `train_expert_only=False` (its `freeze_vision_encoder` default);
- backbone frozen: wbvla `vlm_training=frozen` vs SmolVLA's default (`train_expert_only=True`).
`train_samples_per_s_ratio_vs_smolvla` is the lower of the two matched ratios (median samples/s); the ratio of the
two defaults (which train different parts) is reported too, as `defaults_ratio_vs_smolvla`.

Writes bench/results/vla_latency.json:
    {"<model>": {"params_m", "p50_ms", "p99_ms", ..}, "train_samples_per_s_ratio_vs_smolvla": .., "train": {..}}

Usage (~10 min on 2 loaded cores): python bench/vla_latency.py [--threads=2] [--latency_calls=30] [--reps=8]
Smoke (the test suite; the figures mean nothing): python bench/vla_latency.py --smoke=true --output=/tmp/x.json
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import draccus
import torch
from _results import RESULTS, machine_description, write_result  # bench/_results.py

IMG = "observation.images.head"
# The four training variants: (wbvla, smolvla_vlm_trained) both train the backbone's language model, (wbvla_frozen_vlm,
# smolvla) both keep the backbone frozen.
MATCHED_VARIANTS = ("wbvla", "smolvla_vlm_trained", "wbvla_frozen_vlm", "smolvla")
STATE = "observation.state"
# X2 instructions (the tiny tokenizers' corpus knows them): a realistic mix of short and long task strings.
TASKS = (
    "pick up the red box and place it on the green square",
    "pick up the red box, carry it to the other table and place it on the green square",
    "grab the cart's handles and push the cart forward",
    "walk forward then turn left and squat down",
)


@dataclass
class VLALatencyConfig:
    # torch CPU threads for everything (the project's machines have 2 cores).
    threads: int = 2
    # --- latency (select_action, batch 1)
    # Qwen2-VL backbone sizes of tiny_vlm.build_tiny_vlm to measure.
    latency_sizes: list[str] = field(default_factory=lambda: ["tiny", "250m"])
    # Head camera resolution; the policy's vlm_image_size is left at its default (224).
    camera_size: int = 224
    latency_warmup: int = 3
    # Timed calls with n_action_steps=1 (each runs the model).
    latency_calls: int = 30
    # Timed calls with the default chunking (a multiple of n_action_steps=8: whole chunks).
    chunked_calls: int = 32
    # --- training throughput (wbvla vs smolvla)
    train_backbone_size: str = "small"
    train_image_size: int = 64
    batch_size: int = 8
    # Frames of the synthetic dataset (one episode per 16 frames) and batches preloaded from it.
    dataset_frames: int = 64
    preloaded_batches: int = 8
    # Action chunk length of both policies (the same data: the same action horizon).
    chunk_size: int = 16
    warmup_steps: int = 2
    # Interleaved repetitions (each variant once per repetition) of steps_per_rep optimiser steps.
    reps: int = 8
    steps_per_rep: int = 6
    # Variants in the order of each repetition (all four are needed for the matched ratios).
    variants: list[str] = field(
        default_factory=lambda: ["wbvla", "smolvla_vlm_trained", "wbvla_frozen_vlm", "smolvla"]
    )
    # Keep the temporary folder (backbones) for a look.
    keep: bool = False
    output: Path = RESULTS / "vla_latency.json"
    # Tiny settings for the test suite (tiny backbones, a few calls and steps): the figures mean nothing.
    smoke: bool = False


def _smoke(cfg: VLALatencyConfig) -> VLALatencyConfig:
    return replace(
        cfg,
        latency_sizes=["tiny"],
        camera_size=56,
        latency_warmup=1,
        latency_calls=3,
        chunked_calls=8,
        train_backbone_size="tiny",
        batch_size=2,
        dataset_frames=16,
        preloaded_batches=2,
        chunk_size=4,
        warmup_steps=1,
        reps=1,
        steps_per_rep=1,
    )


def _loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _params(policy: torch.nn.Module) -> dict:
    total = sum(p.numel() for p in policy.parameters())
    trainable = sum(p.numel() for p in policy.parameters() if p.requires_grad)
    return {"params_m": total / 1e6, "trainable_params_m": trainable / 1e6}


def _percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default) of a non-empty list."""
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def _features(image_size: int) -> tuple[dict, dict]:
    from lerobot.configs.types import FeatureType, PolicyFeature

    from lerobot_wbvla.robots.agibot_x2.joints import ACTION_KEYS, STATE_KEYS

    inputs = {
        STATE: PolicyFeature(type=FeatureType.STATE, shape=(len(STATE_KEYS),)),
        IMG: PolicyFeature(type=FeatureType.VISUAL, shape=(3, image_size, image_size)),
    }
    outputs = {"action": PolicyFeature(type=FeatureType.ACTION, shape=(len(ACTION_KEYS),))}
    return inputs, outputs


# ---------------------------------------------------------------------------------------------- latency
def _latency_stats() -> dict:
    """Dataset statistics for the normaliser (their values do not change the cost of a call)."""
    from lerobot_wbvla.robots.agibot_x2.joints import ACTION_KEYS, STATE_KEYS

    g = torch.Generator().manual_seed(1)
    a = len(ACTION_KEYS)
    return {
        "action": {"mean": torch.randn(a, generator=g), "std": torch.rand(a, generator=g) + 0.5},
        STATE: {"mean": torch.zeros(len(STATE_KEYS)), "std": torch.ones(len(STATE_KEYS))},
    }


def _measure_latency(cfg: VLALatencyConfig, size: str, vlm_dir: Path) -> dict:
    """select_action latency of a wbvla policy on `vlm_dir` at batch 1 (pre/post processors timed apart)."""
    from lerobot_wbvla.policies.wbvla import WbvlaConfig, WbvlaPolicy
    from lerobot_wbvla.policies.wbvla.processor_wbvla import make_wbvla_pre_post_processors
    from lerobot_wbvla.robots.agibot_x2.joints import STATE_KEYS

    inputs, outputs = _features(cfg.camera_size)
    pcfg = WbvlaConfig(vlm_model_name=str(vlm_dir), n_action_steps=1, device="cpu", push_to_hub=False)
    pcfg.input_features, pcfg.output_features = inputs, outputs
    stats = _latency_stats()
    torch.manual_seed(0)
    policy = WbvlaPolicy(pcfg, dataset_stats=stats).eval()
    pre, post = make_wbvla_pre_post_processors(pcfg, stats)
    g = torch.Generator().manual_seed(2)
    # What the rollout loop hands the preprocessor: one unbatched observation and its task string.
    obs = {
        IMG: torch.rand(3, cfg.camera_size, cfg.camera_size, generator=g),
        STATE: torch.randn(len(STATE_KEYS), generator=g),
        "task": TASKS[0],
    }
    seq_len = policy.vlm.prepare([obs[IMG].unsqueeze(0)], [TASKS[0]])["input_ids"].shape[1]

    def call() -> tuple[float, float, float]:
        t0 = time.perf_counter()
        batch = pre(dict(obs))
        t1 = time.perf_counter()
        action = policy.select_action(batch)
        t2 = time.perf_counter()
        post(action)
        t3 = time.perf_counter()
        return t1 - t0, t2 - t1, t3 - t2

    policy.reset()
    for _ in range(cfg.latency_warmup):
        call()
    pre_s, select_s, post_s = zip(*(call() for _ in range(cfg.latency_calls)), strict=True)
    pipeline_ms = [1e3 * (a + b + c) for a, b, c in zip(pre_s, select_s, post_s, strict=True)]
    select_ms = [1e3 * s for s in select_s]

    # The default chunking: one model call per n_action_steps calls, the rest pop the queue.
    default_steps = WbvlaConfig.__dataclass_fields__["n_action_steps"].default
    policy.config.n_action_steps = default_steps
    policy.reset()
    chunked = [call()[1] for _ in range(cfg.chunked_calls)]
    return {
        "params_m": _params(policy)["params_m"],
        "backbone_params_m": policy.vlm.param_count() / 1e6,
        "p50_ms": statistics.median(select_ms),
        "p99_ms": _percentile(select_ms, 99),
        "mean_ms": statistics.fmean(select_ms),
        "min_ms": min(select_ms),
        "max_ms": max(select_ms),
        "timed_calls": cfg.latency_calls,
        "warmup_calls": cfg.latency_warmup,
        "n_action_steps": 1,
        "pipeline_p50_ms": statistics.median(pipeline_ms),
        "pipeline_p99_ms": _percentile(pipeline_ms, 99),
        "preprocessor_p50_ms": 1e3 * statistics.median(pre_s),
        "postprocessor_p50_ms": 1e3 * statistics.median(post_s),
        "chunked_n_action_steps": default_steps,
        "chunked_calls": cfg.chunked_calls,
        "chunked_amortised_ms_per_call": 1e3 * statistics.fmean(chunked),
        "chunked_max_ms": 1e3 * max(chunked),
        "vlm_sequence_length": int(seq_len),
        "vlm_image_size": pcfg.vlm_image_size,
        "camera": [3, cfg.camera_size, cfg.camera_size],
        "backbone": f"qwen2_vl size={size!r} (tiny_vlm.build_tiny_vlm, random weights)",
    }


# ---------------------------------------------------------------------------------------------- training
def _synthetic_dataset(cfg: VLALatencyConfig) -> dict:
    """One small dataset in memory: smooth random frames, states, actions, episodes of 16 frames, a task each."""
    from lerobot_wbvla.robots.agibot_x2.joints import ACTION_KEYS, STATE_KEYS

    g = torch.Generator().manual_seed(3)
    n, s = cfg.dataset_frames, cfg.train_image_size
    coarse = torch.rand(n, 3, max(s // 8, 2), max(s // 8, 2), generator=g)
    frames = torch.nn.functional.interpolate(coarse, size=(s, s), mode="bilinear", align_corners=False)
    frames = (frames + 0.05 * torch.rand(n, 3, s, s, generator=g)).clamp(0, 1)
    state = torch.randn(n, len(STATE_KEYS), generator=g).cumsum(0) * 0.1
    action = torch.randn(n, len(ACTION_KEYS), generator=g).cumsum(0) * 0.1
    episode = torch.arange(n) // 16
    return {"frames": frames, "state": state, "action": action, "episode": episode}


def _stats(data: dict) -> dict:
    def of(x: torch.Tensor, dims) -> dict:
        return {
            "mean": x.mean(dims),
            "std": x.std(dims),
            "min": x.amin(dims),
            "max": x.amax(dims),
        }

    img = of(data["frames"], (0, 2, 3))
    img = {k: v.view(3, 1, 1) for k, v in img.items()}
    return {IMG: img, STATE: of(data["state"], 0), "action": of(data["action"], 0)}


def _batches(cfg: VLALatencyConfig, data: dict) -> list[dict]:
    """Preloaded batches in lerobot-train's layout (action chunks padded at episode ends)."""
    g = torch.Generator().manual_seed(4)
    n = cfg.dataset_frames
    out = []
    for _ in range(cfg.preloaded_batches):
        idx = torch.randint(0, n, (cfg.batch_size,), generator=g)
        chunk_idx = idx[:, None] + torch.arange(cfg.chunk_size)[None]
        ep = data["episode"]
        pad = (chunk_idx >= n) | (ep[chunk_idx.clamp(max=n - 1)] != ep[idx][:, None])
        last = torch.where(pad, torch.zeros_like(chunk_idx), chunk_idx).amax(1, keepdim=True)
        chunk_idx = torch.where(pad, last, chunk_idx)
        out.append(
            {
                IMG: data["frames"][idx].clone(),
                STATE: data["state"][idx].clone(),
                "action": data["action"][chunk_idx].clone(),
                "action_is_pad": pad,
                "task": [TASKS[int(i) % len(TASKS)] for i in data["episode"][idx]],
                "index": idx,
                "episode_index": data["episode"][idx],
                "frame_index": idx % 16,
                "timestamp": (idx % 16).float() / 30.0,
            }
        )
    return out


class _Trainer:
    """One policy with its processors, optimiser and scheduler, stepped as lerobot-train's update_policy does."""

    def __init__(self, name: str, policy, preprocessor, pcfg, total_steps: int):
        self.name, self.policy, self.pre, self.cfg = name, policy, preprocessor, pcfg
        self.optimizer = pcfg.get_optimizer_preset().build(policy.get_optim_params())
        self.scheduler = pcfg.get_scheduler_preset().build(self.optimizer, total_steps)
        self.params = _params(policy)
        self.losses: list[float] = []

    def step(self, raw: dict) -> tuple[float, float]:
        """-> (preprocessor seconds, update seconds) of one optimiser step on a copy of `raw`."""
        t0 = time.perf_counter()
        batch = self.pre(dict(raw))
        t1 = time.perf_counter()
        self.policy.train()
        loss, _ = self.policy.forward(batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.policy.parameters(), self.cfg.optimizer_grad_clip_norm)
        self.optimizer.step()
        self.optimizer.zero_grad()
        self.scheduler.step()
        t2 = time.perf_counter()
        self.losses.append(float(loss.detach()))
        return t1 - t0, t2 - t1


def _make_trainer(name: str, cfg: VLALatencyConfig, vlm_dir: Path, stats: dict, total_steps: int) -> _Trainer:
    inputs, outputs = _features(cfg.train_image_size)
    torch.manual_seed(0)
    if name.startswith("wbvla"):
        from lerobot_wbvla.policies.wbvla import WbvlaConfig, WbvlaPolicy
        from lerobot_wbvla.policies.wbvla.processor_wbvla import make_wbvla_pre_post_processors

        extra = {"vlm_training": "frozen"} if name == "wbvla_frozen_vlm" else {}
        pcfg = WbvlaConfig(
            vlm_model_name=str(vlm_dir),
            vlm_image_size=cfg.train_image_size,
            chunk_size=cfg.chunk_size,
            n_action_steps=min(8, cfg.chunk_size),
            device="cpu",
            push_to_hub=False,
            **extra,
        )
        pcfg.input_features, pcfg.output_features = inputs, outputs
        policy = WbvlaPolicy(pcfg, dataset_stats=stats)
        pre, _ = make_wbvla_pre_post_processors(pcfg, stats)
    elif name in ("smolvla", "smolvla_vlm_trained"):
        from lerobot.policies.smolvla.configuration_smolvla import SmolVLAConfig
        from lerobot.policies.smolvla.modeling_smolvla import SmolVLAPolicy
        from lerobot.policies.smolvla.processor_smolvla import make_smolvla_pre_post_processors

        pcfg = SmolVLAConfig(
            vlm_model_name=str(vlm_dir),
            load_vlm_weights=False,
            max_state_dim=80,
            resize_imgs_with_padding=(cfg.train_image_size, cfg.train_image_size),
            chunk_size=cfg.chunk_size,
            n_action_steps=cfg.chunk_size,
            train_expert_only=name == "smolvla",
            device="cpu",
            push_to_hub=False,
        )
        pcfg.input_features, pcfg.output_features = inputs, outputs
        policy = SmolVLAPolicy(pcfg)
        pre, _ = make_smolvla_pre_post_processors(pcfg, stats)
    else:
        raise ValueError(f"--variants names {name!r}; choose from {', '.join(MATCHED_VARIANTS)}")
    return _Trainer(name, policy, pre, pcfg, total_steps)


def _measure_training(cfg: VLALatencyConfig, vlm_dir: Path) -> dict:
    if not set(MATCHED_VARIANTS) <= set(cfg.variants):
        raise ValueError(f"--variants={cfg.variants} must include {MATCHED_VARIANTS} (the matched ratios)")
    data = _synthetic_dataset(cfg)
    stats = _stats(data)
    batches = _batches(cfg, data)
    total_steps = cfg.warmup_steps + cfg.reps * cfg.steps_per_rep
    trainers = {name: _make_trainer(name, cfg, vlm_dir, stats, total_steps) for name in cfg.variants}
    for t in trainers.values():
        for i in range(cfg.warmup_steps):
            t.step(batches[i % len(batches)])
    per_rep: dict[str, list[dict]] = {name: [] for name in trainers}
    loads = []
    k = 0
    for rep in range(cfg.reps):
        loads.append(_loadavg())
        for name, t in trainers.items():  # ABAB...: every repetition runs each variant once, same batches
            pre_s = upd_s = 0.0
            for j in range(cfg.steps_per_rep):
                a, b = t.step(batches[(k + j) % len(batches)])
                pre_s, upd_s = pre_s + a, upd_s + b
            n = cfg.steps_per_rep * cfg.batch_size
            per_rep[name].append(
                {
                    "rep": rep,
                    "samples_per_s": n / (pre_s + upd_s),
                    "update_only_samples_per_s": n / upd_s,
                    "preprocessor_ms_per_step": 1e3 * pre_s / cfg.steps_per_rep,
                    "update_ms_per_step": 1e3 * upd_s / cfg.steps_per_rep,
                }
            )
        k += cfg.steps_per_rep
    loads.append(_loadavg())

    summary = {}
    for name, t in trainers.items():
        reps = per_rep[name]
        summary[name] = {
            **t.params,
            "median_samples_per_s": statistics.median(r["samples_per_s"] for r in reps),
            "median_update_only_samples_per_s": statistics.median(
                r["update_only_samples_per_s"] for r in reps
            ),
            "median_preprocessor_ms_per_step": statistics.median(r["preprocessor_ms_per_step"] for r in reps),
            "median_update_ms_per_step": statistics.median(r["update_ms_per_step"] for r in reps),
            "first_loss": t.losses[0],
            "last_loss": t.losses[-1],
            "per_rep": reps,
        }
    # Sequence lengths the backbones process (the cost of a VLM grows with them): both pad to the batch's longest.
    wb = trainers["wbvla"].policy.vlm.prepare([batches[0][IMG]], list(batches[0]["task"]))
    summary["wbvla"]["vlm_sequence_length"] = int(wb["input_ids"].shape[1])
    smol = trainers["smolvla"]
    tokens = smol.pre(dict(batches[0]))["observation.language.tokens"]
    with torch.no_grad():
        image = smol.policy.model.vlm_with_expert.embed_image(batches[0][IMG][:1] * 2 - 1)
    summary["smolvla"]["image_tokens"] = int(image.shape[1])
    summary["smolvla"]["language_tokens"] = int(tokens.shape[1])

    def ratio_of(a: str, b: str) -> float:
        return summary[a]["median_samples_per_s"] / summary[b]["median_samples_per_s"]

    matched = {
        "vlm_trained": ratio_of("wbvla", "smolvla_vlm_trained"),
        "vlm_frozen": ratio_of("wbvla_frozen_vlm", "smolvla"),
    }
    ratio = min(matched.values())
    extra = {
        "matched_ratios_vs_smolvla": matched,
        "matched_pairs": {
            "vlm_trained": ["wbvla", "smolvla_vlm_trained"],
            "vlm_frozen": ["wbvla_frozen_vlm", "smolvla"],
        },
        "defaults_ratio_vs_smolvla": ratio_of("wbvla", "smolvla"),
    }
    return {
        "ratio": ratio,
        "policies": summary,
        **extra,
        "order_in_each_rep": list(trainers),
        "reps": cfg.reps,
        "steps_per_rep": cfg.steps_per_rep,
        "warmup_steps_each": cfg.warmup_steps,
        "batch_size": cfg.batch_size,
        "image_size": [cfg.train_image_size, cfg.train_image_size],
        "chunk_size": cfg.chunk_size,
        "dataset": f"synthetic, {cfg.dataset_frames} frames in episodes of 16, {cfg.preloaded_batches} batches "
        "preloaded (model time only: preprocessor + forward + backward + grad clip + AdamW + scheduler)",
        "backbone": f"smolvlm size={cfg.train_backbone_size!r} (tiny_vlm.build_tiny_vlm, random weights), "
        "the same folder for every policy",
        "loadavg_1_5_15_before_each_rep": loads,
    }


# ---------------------------------------------------------------------------------------------- main
def main(cfg: VLALatencyConfig) -> dict:
    from lerobot_wbvla.policies.wbvla.tiny_vlm import build_tiny_vlm

    if cfg.smoke:
        cfg = _smoke(cfg)
    torch.set_num_threads(cfg.threads)
    tmp = Path(tempfile.mkdtemp(prefix="wbvla-vla-latency-"))
    t_start = time.perf_counter()
    load_start = _loadavg()
    try:
        result: dict = {}
        for size in cfg.latency_sizes:
            vlm_dir = build_tiny_vlm(
                "qwen2_vl", tmp / f"qwen2_vl_{size}", size=size, image_size=cfg.camera_size
            )
            result[f"wbvla_qwen2_vl_{size}"] = _measure_latency(cfg, size, vlm_dir)
            shutil.rmtree(vlm_dir, ignore_errors=True)  # the 250M folder is ~1 GB
        load_after_latency = _loadavg()
        smol_dir = build_tiny_vlm(
            "smolvlm", tmp / "smolvlm", size=cfg.train_backbone_size, image_size=cfg.train_image_size
        )
        train = _measure_training(cfg, smol_dir)
        result["train_samples_per_s_ratio_vs_smolvla"] = train.pop("ratio")
        result["train"] = train
        result["latency_models"] = [f"wbvla_qwen2_vl_{s}" for s in cfg.latency_sizes]
        result["threads"] = cfg.threads
        result["loadavg_1_5_15"] = {
            "start": load_start,
            "after_latency": load_after_latency,
            "end": _loadavg(),
        }
        result["run_seconds"] = time.perf_counter() - t_start
        result["machine"] = machine_description(with_torch=True)
        write_result(
            cfg.output,
            result,
            measures=["lerobot_wbvla/policies/wbvla"],
            smoke=cfg.smoke,
        )
        return result
    finally:
        if not cfg.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main(draccus.parse(VLALatencyConfig))
