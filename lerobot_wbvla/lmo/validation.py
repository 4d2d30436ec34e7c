"""Validation during `wbvla-train-lmo`: every `every` iterations the current actor plays seeded perturbation episodes
(wbvla-eval-lmo's `perturbation` scenario, on episodes and clips of its own), and the run exports the checkpoint
that fell least rather than the last one.

Why: measured on 2 cores (issue 9), the fall rate of one 30-minute run's checkpoints in the 200-episode perturbation
test swung between 0.36 and 0.75 from iteration 400 on (it200 0.86, it400 0.53, it600 0.36, it800 0.74, it1000 0.53,
it1200 0.39, it1400 0.54, it1600 0.75, last 0.615): with 64 envs and an adaptive curriculum the policy does not
settle, and the last iteration is a draw from that swing. Keeping the best validated checkpoint is the usual
train / validation / test split: the validation episodes (seed `seed`, clips from `clip_seed`) are not those of
wbvla-eval-lmo (seed 0, clip seed 1000), so a test there stays a held-out measurement.

The validations' wall time counts towards the run's time budget (`--max_minutes`); building the validation clips
(and their z_t) happens before the clock starts, as for the training clips.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

LOCOS = ("clip", "stand")


@dataclass
class ValidationConfig:
    # Validate every this many PPO iterations (0 = never: the last iteration is exported). Each validation also
    # saves a checkpoint, so the selected one can always be exported and a resumed run keeps it. Cost, measured on
    # 2 cores: 50 episodes of 10 s take ~13 s, 150 iterations of 64 envs ~150 s: ~9% of a run's time.
    every: int = 150
    # Seeded perturbation episodes per validation (the same episodes each time) and their length (s).
    episodes: int = 50
    episode_s: float = 10.0
    # Procedural clips the arms replay (drawn from clip_seed, held out from training's clips.seed and from
    # wbvla-eval-lmo's clip_seed 1000), and the legs' command: "clip" (each clip's schedule) | "stand" (zero).
    clips: int = 32
    loco: str = "clip"
    seed: int = 17
    clip_seed: int = 2000
    # Export the validated checkpoint with the lowest fall rate (ties: the larger mean CoM margin, then the later
    # one) instead of the last iteration.
    select_best: bool = True

    def validate(self) -> None:
        if self.every < 0:
            raise ValueError(f"validation.every must be >= 0 (0 = off), got {self.every}")
        if self.every and (self.episodes < 1 or self.episode_s <= 0 or self.clips < 1):
            raise ValueError(
                "validation.episodes and validation.clips must be >= 1 and validation.episode_s > 0 "
                f"(got {self.episodes}, {self.clips}, {self.episode_s}); or turn it off with --validation.every=0"
            )
        if self.loco not in LOCOS:
            raise ValueError(f"validation.loco={self.loco!r}: choose one of {', '.join(LOCOS)}")

    def due(self, iteration: int) -> bool:
        return self.every > 0 and iteration % self.every == 0


@dataclass
class ValidationRecord:
    iteration: int
    fall_rate: float
    com_margin: float
    seconds: float


@dataclass
class ValidationHistory:
    """Every validation of a run (saved in each checkpoint, so a resumed run knows its best so far)."""

    records: list[ValidationRecord] = field(default_factory=list)

    def add(self, record: ValidationRecord) -> None:
        self.records = [r for r in self.records if r.iteration != record.iteration] + [record]

    def best(self) -> ValidationRecord | None:
        """Fewest falls, then the larger CoM margin, then the later iteration."""
        if not self.records:
            return None

        def key(r: ValidationRecord) -> tuple[float, float, int]:
            margin = r.com_margin if math.isfinite(r.com_margin) else -math.inf
            return (r.fall_rate, -margin, -r.iteration)

        return min(self.records, key=key)

    def until(self, iteration: int) -> ValidationHistory:
        """The records up to `iteration` (a resumed run redoes the iterations after its checkpoint)."""
        return ValidationHistory([r for r in self.records if r.iteration <= iteration])

    def state_dict(self) -> list[dict[str, float]]:
        return [vars(r).copy() for r in self.records]

    @classmethod
    def from_state(cls, state: list[dict[str, Any]] | None) -> ValidationHistory:
        return cls([ValidationRecord(**r) for r in state or []])


class Validator:
    """Runs the validation episodes for an in-memory actor. Built before the run's clock starts, as the training
    clip library is: the validation clips (and, for latent conditioning, their z_t from the frozen LAM, rendered and
    encoded once and cached on disk) are made here, so no validation pays for them."""

    def __init__(
        self, cfg: ValidationConfig, layout, action_scale: float, clip_actions: float, threads: int
    ) -> None:
        from lerobot_wbvla.lmo.evaluate import EvalLMOConfig, Evaluation, LegPolicy, scenario_library

        cfg.validate()
        self.cfg = cfg
        eval_cfg = EvalLMOConfig(
            policies=["validation"],
            output_dir=Path("unused"),  # no videos, nothing written
            scenarios=["perturbation"],
            seed=cfg.seed,
            clip_seed=cfg.clip_seed,
            videos=0,
            threads=threads,
            progress=False,
        )
        eval_cfg.env.num_envs = cfg.episodes
        pc = eval_cfg.perturbation
        pc.episodes, pc.episode_s, pc.clips, pc.loco = cfg.episodes, cfg.episode_s, cfg.clips, cfg.loco
        self.evaluation = Evaluation(eval_cfg)
        self._module = None  # the actor being validated (set by run)
        self.policy = LegPolicy(
            "validation", "export", "in-training", layout, self._act, float(action_scale), float(clip_actions)
        )
        base, _ = scenario_library("perturbation", eval_cfg)
        self.library = base
        self.evaluation.library_for("perturbation", base, self.policy)  # z_t now, not in the first validation

    def _act(self, x: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            return self._module(torch.from_numpy(np.asarray(x, dtype=np.float32))).numpy()

    def run(self, actor, iteration: int) -> ValidationRecord:
        """The fall rate and mean CoM margin of `actor` (an RSL-RL actor, as the runner holds it) in the episodes."""
        from lerobot_wbvla.lmo import eval_metrics as M
        from lerobot_wbvla.lmo.export import inference_module

        t0 = time.perf_counter()
        self._module = inference_module(actor, self.policy.layout)  # a CPU, eval-mode copy
        try:
            rec = self.evaluation.run("perturbation", self.policy, self.library, None)
        finally:
            self._module = None
        metrics, _ = M.perturbation_metrics(rec, self.cfg.episode_s)
        return ValidationRecord(
            iteration=iteration,
            fall_rate=float(metrics["fall_rate"]),
            com_margin=float(metrics["com_margin_mean"]),
            seconds=time.perf_counter() - t0,
        )
