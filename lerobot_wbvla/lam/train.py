"""`wbvla-train-lam`: train a latent action model on frame pairs, from a feature cache, with Accelerate.

    wbvla-train-lam --data.video_root=outputs/egovideo --lam.preset=cpu --steps=5000 --output_dir=outputs/lam

`--lam.preset=cpu|cpu_mlp|article|univla` (lam/presets.py) sets every --lam.* default; explicit --lam.* flags override it
(`--lam.preset=cpu --lam.model.latent_dim=64`). `--help` lists every field, the presets and each choice's fields.

The same command runs on many GPUs under `accelerate launch`. What happens:
1. every frame of the data is encoded once by the frozen encoder into a sharded feature cache (resumable);
2. the feature statistics are measured (normaliser), then training runs from the cache: batches are drawn as a
   pure function of (seed, step, rank), so a resumed run sees exactly the batches the killed one would have;
3. every `log_every` steps the forward loss, the copy-the-current-frame baseline, the codebook and commitment
   terms, codebook usage and perplexity go to metrics.jsonl/.csv and metrics.png;
4. every `save_every` steps a checkpoint (model, optimiser, RNG, step, training time) is written atomically to
   `checkpoints/step_XXXXXXX`; `--resume=true` continues from the last one;
5. at the end the LAM is saved to `<output_dir>/pretrained_model` (config.json, model.safetensors, README.md) and
   pushed to the Hub when `--hub.push_to_hub=true`.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import draccus

from lerobot_wbvla.hub.artifacts import HubPushConfig
from lerobot_wbvla.lam.cli import LazyModule, run_cli
from lerobot_wbvla.lam.configuration_lam import LAMConfig
from lerobot_wbvla.lam.data import LAMDataConfig
from lerobot_wbvla.lam.presets import LAM_PRESETS

if TYPE_CHECKING:
    from lerobot_wbvla.lam.modeling_lam import LatentActionModel

# Imported on first use, so that `--help` answers without importing torch.
torch = LazyModule("torch")

logger = logging.getLogger(__name__)

CHECKPOINTS = "checkpoints"
LAST_CHECKPOINT = "last"  # text file holding the folder name of the newest complete checkpoint
TRAIN_STATE = "train_state.json"
PRETRAINED_DIR = "pretrained_model"


@dataclass
class TrainLAMConfig:
    """Train a latent action model (LAM) on frame pairs of egocentric video and/or a LeRobot dataset."""

    data: LAMDataConfig = field(default_factory=LAMDataConfig)
    lam: LAMConfig = field(default_factory=LAMConfig)
    # Where checkpoints, curves and the final model go.
    output_dir: Path = Path("outputs/train_lam")
    # Continue from the last checkpoint in output_dir (same config); without it an existing run is refused.
    resume: bool = False
    # Optimisation steps in total (a resumed run ends at the same step count).
    steps: int = 5000
    # Stop after this many minutes of training (None = no limit); the model is saved as at the end of a run.
    max_minutes: float | None = None
    # Pairs per step and process.
    batch_size: int = 64
    # AdamW learning rate.
    lr: float = 1e-3
    # AdamW weight decay.
    weight_decay: float = 0.01
    # AdamW betas.
    betas: tuple[float, float] = (0.9, 0.99)
    # Linear learning-rate warm-up steps.
    warmup_steps: int = 200
    # Learning rate after warm-up: "constant", or "cosine" (down to a tenth of lr at the end of the run: at
    # `steps`, or at `max_minutes` when that comes first).
    scheduler: str = "constant"
    # Clip the gradient norm to this value (0 = off).
    grad_clip: float = 1.0
    # Mirror and recolour both frames of a pair alike (pixel encoder only; see lam/augment.py for why).
    augment: bool = False
    # Pairs used to measure the feature statistics (normaliser) before training.
    normalizer_pairs: int = 4096
    # Seed of the model initialisation, the batches and the code restarts.
    seed: int = 0
    # Log metrics (metrics.jsonl/.csv/.png) every this many steps.
    log_every: int = 50
    # Write a checkpoint every this many steps (and at the end).
    save_every: int = 1000
    # Keep the newest this many checkpoints.
    keep_checkpoints: int = 2
    # CPU threads for torch (None = torch's default). 2 on the project's 2-core machines.
    num_threads: int | None = None
    # Accelerate mixed precision: "no", "fp16" or "bf16" (GPU).
    mixed_precision: str = "no"
    # Force CPU even when a GPU is present.
    cpu: bool = False
    # Show progress bars (training, feature cache building, video probing, downloads); false = none at all.
    progress: bool = True
    # Push the final model (see HubPushConfig); the card lists the final metrics.
    hub: HubPushConfig = field(default_factory=HubPushConfig)

    def __post_init__(self) -> None:
        self.output_dir = Path(self.output_dir)  # Python callers may pass a str

    def validate(self) -> None:
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError(f"steps ({self.steps}) and batch_size ({self.batch_size}) must be >= 1")
        if self.scheduler not in ("constant", "cosine"):
            raise ValueError(f"--scheduler={self.scheduler!r}: use constant or cosine")
        if self.save_every < 1 or self.log_every < 1:
            raise ValueError("save_every and log_every must be >= 1")
        if self.lam.preset is not None and self.lam.preset not in LAM_PRESETS:
            raise ValueError(f"--lam.preset={self.lam.preset!r}: choose one of {', '.join(LAM_PRESETS)}")
        self.data.validate()
        # The LAM remembers how its pairs were made, so labelling and evaluation pair frames the same way.
        self.lam.frame_gap = self.data.frame_gap
        self.lam.target_offset_s = self.data.target_offset_s


@dataclass
class TrainResult:
    model: LatentActionModel
    output_dir: Path
    pretrained_dir: Path
    step: int
    train_seconds: float
    metrics: dict


class StepBatchSampler:
    """Index batches as a function of (seed, step, rank): resumable without any sampler state. (An iterable of
    index lists, what DataLoader's batch_sampler takes.)"""

    def __init__(
        self,
        n: int,
        batch_size: int,
        seed: int,
        start_step: int,
        end_step: int,
        rank: int = 0,
        world: int = 1,
    ) -> None:
        if n < 1:
            raise ValueError("no training pairs")
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.start_step, self.end_step, self.rank, self.world = start_step, end_step, rank, world

    def __len__(self) -> int:
        return max(0, self.end_step - self.start_step)

    def __iter__(self):
        for step in range(self.start_step, self.end_step):
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + step * self.world + self.rank)
            yield torch.randint(0, self.n, (self.batch_size,), generator=g).tolist()


def lr_factor(cfg: TrainLAMConfig, step: int, train_seconds: float) -> float:
    """Learning-rate multiplier at `step` after `train_seconds` of training: linear warm-up, then constant or a
    cosine to 0.1 whose progress is the step share or, with max_minutes, the time share when that is larger
    (a time-limited run still anneals before its budget ends)."""
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    if cfg.scheduler == "cosine":
        p = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
        if cfg.max_minutes:
            p = max(p, train_seconds / (cfg.max_minutes * 60))
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, p)))
    return 1.0


def _last_checkpoint(output_dir: Path) -> Path | None:
    pointer = output_dir / CHECKPOINTS / LAST_CHECKPOINT
    if not pointer.is_file():
        return None
    path = output_dir / CHECKPOINTS / pointer.read_text().strip()
    return path if (path / TRAIN_STATE).is_file() else None


def _write_text_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


def _save_checkpoint(accelerator, cfg: TrainLAMConfig, step: int, train_seconds: float) -> Path:
    """accelerate's full state into checkpoints/step_N, written aside and renamed, then the `last` pointer."""
    ckpt_root = cfg.output_dir / CHECKPOINTS
    name = f"step_{step:07d}"
    tmp = ckpt_root / f".tmp-{name}"
    final = ckpt_root / name
    if accelerator.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        (tmp / TRAIN_STATE).write_text(json.dumps({"step": step, "train_seconds": train_seconds}))
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        _write_text_atomic(ckpt_root / LAST_CHECKPOINT, name)
        kept = sorted(p for p in ckpt_root.glob("step_*") if p.is_dir())
        for old in kept[: max(0, len(kept) - cfg.keep_checkpoints)]:
            shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    return final


def _prepare_output_dir(cfg: TrainLAMConfig) -> Path | None:
    """The checkpoint to resume from, or None for a fresh run; refuses to overwrite a run without --resume."""
    resume_from = _last_checkpoint(cfg.output_dir)
    if cfg.resume:
        if resume_from is None:
            logger.warning("--resume=true but no checkpoint in %s: starting from scratch", cfg.output_dir)
        return resume_from
    if resume_from is not None or (cfg.output_dir / PRETRAINED_DIR).exists():
        raise FileExistsError(
            f"output_dir {cfg.output_dir} already holds a training run. Pass --resume=true to continue it, "
            f"or choose another --output_dir."
        )
    return None


def _fit_normalizer(model: LatentActionModel, dataset, n: int, seed: int, on_the_fly: bool) -> None:
    g = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(dataset), generator=g)[: min(n, len(dataset))].tolist()
    loader = torch.utils.data.DataLoader(torch.utils.data.Subset(dataset, idx), batch_size=256)
    a, b = [], []
    for batch in loader:
        if on_the_fly:
            a.append(model.encode_frames(batch["frame_t"]))
            b.append(model.encode_frames(batch["frame_tk"]))
        else:
            a.append(batch["feat_t"].float())
            b.append(batch["feat_tk"].float())
    model.fit_normalizer(torch.cat(a), torch.cat(b))


def train(cfg: TrainLAMConfig) -> TrainResult:
    """Run (or resume) a LAM training as `cfg` says; returns the trained model and where it was saved."""
    from accelerate import Accelerator
    from accelerate.utils import set_seed
    from tqdm.auto import tqdm

    from lerobot_wbvla.lam.augment import augment_pixel_pairs
    from lerobot_wbvla.lam.data import (
        build_caches,
        encoder_transform,
        feature_pairs,
        frame_pairs,
        make_sources,
    )
    from lerobot_wbvla.lam.metrics_log import MetricsLog
    from lerobot_wbvla.lam.modeling_lam import LatentActionModel
    from lerobot_wbvla.lam.quantizer import perplexity_from_counts

    cfg.validate()
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    cfg.output_dir = Path(cfg.output_dir)
    accelerator = Accelerator(mixed_precision=cfg.mixed_precision, cpu=cfg.cpu)
    resume_from = (
        _prepare_output_dir(cfg) if accelerator.is_main_process else _last_checkpoint(cfg.output_dir)
    )
    accelerator.wait_for_everyone()
    set_seed(cfg.seed)
    # The encoder and the frame sources first: a wrong encoder or camera fails before output_dir is written to.
    model = LatentActionModel(cfg.lam)
    sources = make_sources(cfg.data, progress=cfg.progress)
    cfg.output_dir.mkdir(parents=True, exist_ok=True)
    if accelerator.is_main_process:
        _write_text_atomic(cfg.output_dir / "train_config.json", json.dumps(draccus.encode(cfg), indent=2))
    if cfg.data.on_the_fly:
        dataset = frame_pairs(cfg.data, sources, encoder_transform(cfg.lam.encoder), split=cfg.data.split)
    else:
        cache_root = cfg.data.cache_dir or cfg.output_dir / "feature_cache"
        with accelerator.main_process_first():
            caches = build_caches(
                cfg.data, model.encoder, cfg.lam.encoder, Path(cache_root), sources, progress=cfg.progress
            )
        dataset = feature_pairs(cfg.data, caches, split=cfg.data.split)
    if resume_from is None:
        _fit_normalizer(model, dataset, cfg.normalizer_pairs, cfg.seed, cfg.data.on_the_fly)

    optimizer = torch.optim.AdamW(
        model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, betas=tuple(cfg.betas)
    )
    model, optimizer = accelerator.prepare(model, optimizer)
    start_step, seconds_before = 0, 0.0
    metrics_log = MetricsLog(cfg.output_dir)
    if resume_from is not None:
        accelerator.load_state(str(resume_from))
        state = json.loads((resume_from / TRAIN_STATE).read_text())
        start_step, seconds_before = state["step"], state.get("train_seconds", 0.0)
        if accelerator.is_main_process:
            metrics_log.truncate_after(start_step)
        logger.info("resumed from %s at step %d", resume_from, start_step)
    raw = accelerator.unwrap_model(model)
    if cfg.data.on_the_fly:
        raw.encoder.to(accelerator.device)
    quantizer = raw.quantizer
    mcfg = cfg.lam.model

    loader = torch.utils.data.DataLoader(
        dataset,
        batch_sampler=StepBatchSampler(
            len(dataset),
            cfg.batch_size,
            cfg.seed,
            start_step,
            cfg.steps,
            accelerator.process_index,
            accelerator.num_processes,
        ),
        num_workers=cfg.data.num_workers,
    )
    sums: dict[str, float] = {}
    counts = torch.zeros(quantizer.codebook_size)
    n_logged, samples, t_log = 0, 0, time.perf_counter()
    # Training time counts across resumes, so max_minutes is a budget for the whole run.
    t_start = time.perf_counter() - seconds_before
    train_seconds = seconds_before
    step = start_step
    last_row: dict = {}
    bar = tqdm(
        total=cfg.steps,
        initial=start_step,
        desc="train LAM",
        disable=not (cfg.progress and accelerator.is_main_process),
    )
    model.train()
    for batch in loader:
        if cfg.data.on_the_fly:
            tok_t = raw.encode_frames(batch["frame_t"].to(accelerator.device))
            tok_tk = raw.encode_frames(batch["frame_tk"].to(accelerator.device))
        else:
            tok_t = batch["feat_t"].to(accelerator.device, torch.float32)
            tok_tk = batch["feat_tk"].to(accelerator.device, torch.float32)
        if cfg.augment:
            aug_gen = torch.Generator().manual_seed(
                cfg.seed * 1_000_003 + step * accelerator.num_processes + accelerator.process_index + 7
            )
            tok_t, tok_tk = augment_pixel_pairs(tok_t, tok_tk, cfg.lam.encoder, aug_gen)
        with accelerator.autocast():
            out = model(tok_t, tok_tk)
        for group in optimizer.param_groups:
            group["lr"] = cfg.lr * lr_factor(cfg, step, time.perf_counter() - t_start)
        optimizer.zero_grad(set_to_none=True)
        accelerator.backward(out["loss"])
        if cfg.grad_clip > 0:
            accelerator.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        step += 1

        batch_counts = accelerator.reduce(quantizer.code_counts(out["indices"]).to(accelerator.device), "sum")
        quantizer.update_usage(batch_counts)
        counts += batch_counts.cpu()
        if mcfg.restart_every and step % mcfg.restart_every == 0:
            # seeded by the step, so a resumed run restarts the same codes as an uninterrupted one
            restart_gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
            quantizer.restart_dead_codes(accelerator.gather(out["z"].detach()), restart_gen)
        for key in ("loss", "forward_loss", "copy_baseline_loss", "codebook_loss", "commitment_loss"):
            sums[key] = sums.get(key, 0.0) + float(out[key].detach())
        n_logged += 1
        samples += tok_t.shape[0] * accelerator.num_processes
        bar.update(1)

        train_seconds = time.perf_counter() - t_start
        out_of_time = cfg.max_minutes is not None and train_seconds >= cfg.max_minutes * 60
        last = step >= cfg.steps or out_of_time
        if step % cfg.log_every == 0 or last:
            sums = {
                k: float(accelerator.reduce(torch.tensor(v, device=accelerator.device), "mean"))
                for k, v in sums.items()
            }
            row = {k: v / n_logged for k, v in sums.items()}
            row["relative_forward_loss"] = row["forward_loss"] / max(row["copy_baseline_loss"], 1e-12)
            row["codebook_usage"] = float((counts > 0).float().mean())
            row["perplexity"] = perplexity_from_counts(counts)
            row["lr"] = optimizer.param_groups[0]["lr"]
            row["samples_per_s"] = samples / max(time.perf_counter() - t_log, 1e-9)
            row["step"] = step
            row["train_seconds"] = train_seconds
            last_row = row
            if accelerator.is_main_process:
                metrics_log.append(row)
                bar.set_postfix(fwd=f"{row['relative_forward_loss']:.3f}", ppl=f"{row['perplexity']:.1f}")
            sums, counts, n_logged, samples, t_log = {}, torch.zeros_like(counts), 0, 0, time.perf_counter()
        if step % cfg.save_every == 0 or last:
            _save_checkpoint(accelerator, cfg, step, train_seconds)
            if accelerator.is_main_process:
                metrics_log.plot()
        if last:
            break
    bar.close()

    pretrained_dir = cfg.output_dir / PRETRAINED_DIR
    if accelerator.is_main_process:
        raw.eval()
        raw.save_pretrained(pretrained_dir)
        metrics_log.plot()
        _write_card(pretrained_dir, cfg, last_row, step)
        from lerobot_wbvla.hub import push_with_config

        pushed = push_with_config(pretrained_dir, cfg.hub, card=_card(cfg, last_row, step))
        if pushed is not None:
            logger.info("pushed the LAM to %s at commit %s", pushed.repo_url, pushed.commit_oid)
    accelerator.wait_for_everyone()
    return TrainResult(
        model=raw,
        output_dir=cfg.output_dir,
        pretrained_dir=pretrained_dir,
        step=step,
        train_seconds=train_seconds,
        metrics=last_row,
    )


def _card(cfg: TrainLAMConfig, metrics: dict, step: int):
    from lerobot_wbvla.hub import ArtifactCard

    keep = ("forward_loss", "copy_baseline_loss", "relative_forward_loss", "codebook_usage", "perplexity")
    datasets = [cfg.data.dataset_repo_id] if cfg.data.dataset_repo_id else []
    base = getattr(cfg.lam.encoder, "pretrained", None)
    return ArtifactCard(
        kind="lam",
        summary=(
            (f"Preset `{cfg.lam.preset}`. " if cfg.lam.preset else "")
            + f"Encoder `{cfg.lam.encoder.type}`, model `{cfg.lam.model.type}` ({cfg.lam.model.num_codes} code(s) "
            f"from {cfg.lam.model.codebook_size}), frame gap {cfg.lam.frame_gap}, trained {step} steps."
        ),
        config=draccus.encode(cfg.lam),
        datasets=datasets,
        base_model=base if base and not Path(base).exists() else None,
        metrics={k: float(metrics[k]) for k in keep if k in metrics},
    )


def _write_card(folder: Path, cfg: TrainLAMConfig, metrics: dict, step: int) -> None:
    repo_id = cfg.hub.repo_id or f"local/{cfg.output_dir.name}"
    _write_text_atomic(folder / "README.md", _card(cfg, metrics, step).render(repo_id))


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    def _run(cfg: TrainLAMConfig) -> None:
        result = train(cfg)
        print(
            json.dumps({"step": result.step, "pretrained_dir": str(result.pretrained_dir), **result.metrics})
        )

    run_cli("wbvla-train-lam", TrainLAMConfig, _run, presets=True)


if __name__ == "__main__":
    main()
