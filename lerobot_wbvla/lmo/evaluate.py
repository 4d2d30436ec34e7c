"""`wbvla-eval-lmo`: leg policies side by side on the same seeded episodes of the LMO training env's physics.

    wbvla-eval-lmo --policies='[outputs/lmo_latent/export, outputs/lmo_none/export, pd_stand, untrained]' \\
        --output_dir=outputs/lmo_eval
    wbvla-eval-lmo --policies='[latent=outputs/lmo_latent/export, pd_stand]' --scenarios='[perturbation]' \\
        --perturbation.episodes=50

A policy is an LMO export (folder or Hub repo id, `lmo.policy.LMOPolicy`; `label=<path>` names its row), `pd_stand`
(action 0: the legs held at the stance by the PD actuators, the standing baseline) or `untrained` (PPO's initial
actor: rsl_rl's MLPModel built as `config_train.PPOConfig.runner_cfg()` describes, seeded with `--seed`, its
output layer shrunk as training starts it, its deterministic mean action; observation layout of the first export given, else `none`).

Scenarios (the issue's metrics), each run for every policy on the same episode seeds (`eval_env.SeededLMOVecEnv`:
same robot parameters, clips, payloads, pushes and latent noise whichever policy runs them):
- `perturbation` (the headline): the arms replay held-out procedural reach / carry / push clips (seed `clip_seed`,
  not the training library's) over their full range, 0-3 kg in each hand, 0-60 N pushes, 10 s episodes: fall rate
  (Wilson 95% CI), CoM margin (mean and per-episode minimum, normal CI), differences to the first policy;
- `locomotion`: constant forward / lateral / turn commands with the arms at the stance: velocity and yaw-rate
  tracking errors, position and heading error after the episode vs the commanded path (the paper's Table 3), falls;
- `sway`: CoM sway (RMS horizontal distance from its mean) standing and squatting.
Latent-conditioned policies get the clips' z_t from the LAM they were trained with (their layout's `lam`, or
`--lam`, checked against it) through `lmo.latents.attach_latents` (cached on disk).

Writes results.json, results.md, fall_rates.png, com_margin.png, velocity_tracking.png and videos/*.mp4.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Headless rendering for the videos: mujoco picks its GL backend when first imported (below, via the env).
os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np  # noqa: E402

from lerobot_wbvla.lmo import eval_metrics as M  # noqa: E402
from lerobot_wbvla.lmo.config_train import PPOConfig, shrink_actor_output  # noqa: E402
from lerobot_wbvla.lmo.env.config_env import DomainRandConfig, LMOEnvConfig  # noqa: E402
from lerobot_wbvla.lmo.eval_env import Actor, EpisodeRecord, SeededLMOVecEnv, run_episodes  # noqa: E402
from lerobot_wbvla.lmo.layout import LayoutMismatchError, ObservationLayout  # noqa: E402
from lerobot_wbvla.lmo.mdp.terminations import TerminationParams  # noqa: E402

logger = logging.getLogger(__name__)

BASELINES = ("pd_stand", "untrained")
SCENARIOS = ("perturbation", "locomotion", "sway")
# Salt of each scenario's episode seeds: the episodes of one scenario never repeat another's.
_SALT = {"perturbation": 1, "locomotion": 2, "sway": 3}


# The scenarios' randomization ranges are class defaults of DomainRandConfig subclasses, not a default_factory
# that edits a DomainRandConfig: draccus builds a nested config that gets any CLI flag from its declared class's
# defaults, so `--perturbation.domain_rand.friction=[1,1]` used to bring back the training's 0-5 kg and 0-50 N.
@dataclass
class PerturbationDomainRand(DomainRandConfig):
    """The training randomization of the robot with issue 9's test loads: 0-3 kg in the hands, 0-60 N pushes."""

    payload_kg: tuple[float, float] = (0.0, 3.0)
    push_force_n: tuple[float, float] = (0.0, 60.0)


@dataclass
class QuietDomainRand(DomainRandConfig):
    """The training randomization of the robot (friction, motors, lags, CoM, terrain, latent noise) without
    payloads and pushes: the locomotion and sway scenarios measure the legs, not a disturbance."""

    payload_kg: tuple[float, float] = (0.0, 0.0)
    push_force_n: tuple[float, float] = (0.0, 0.0)


@dataclass
class EvalEnvConfig:
    # Envs stepped together; episodes run in waves of (at most) this many.
    num_envs: int = 50
    # Rough ground (the training default); its roughness is domain_rand.terrain_roughness_m of each scenario.
    terrain: bool = True
    physics_hz: int = 200
    control_hz: int = 50
    terminations: TerminationParams = field(default_factory=TerminationParams)


@dataclass
class PerturbationConfig:
    episodes: int = 200
    episode_s: float = 10.0
    # "clips": the arms replay procedural clips; "stance": the arms stay at the stance (pushes and payload only).
    arms: str = "clips"
    # Procedural clips in the evaluation library (seed: EvalLMOConfig.clip_seed) and their kind weights.
    clips: int = 64
    clip_kinds: dict[str, float] = field(default_factory=lambda: {"reach": 0.5, "carry": 0.25, "push": 0.25})
    # "clip": the clips' own locomotion command schedule (as in training); "stand": a zero command throughout.
    loco: str = "clip"
    domain_rand: PerturbationDomainRand = field(default_factory=PerturbationDomainRand)


@dataclass
class LocomotionConfig:
    # Episodes per command.
    episodes: int = 20
    episode_s: float = 5.0
    # Velocity errors are averaged after this (the robot accelerating from rest is not tracking error).
    settle_s: float = 1.0
    # name -> [vx m/s, vy m/s, yaw_rate rad/s], heading frame, held from t = 0.
    commands: dict[str, list[float]] = field(
        default_factory=lambda: {
            "forward_0.2": [0.2, 0.0, 0.0],
            "forward_0.3": [0.3, 0.0, 0.0],
            "forward_0.4": [0.4, 0.0, 0.0],
            "lateral_0.2": [0.0, 0.2, 0.0],
            "turn_0.5": [0.0, 0.0, 0.5],
        }
    )
    domain_rand: QuietDomainRand = field(default_factory=QuietDomainRand)


@dataclass
class SwayConfig:
    # Episodes per posture (stand, squat).
    episodes: int = 20
    episode_s: float = 10.0
    # The sway is measured after this (the squat ramp and the settling are over).
    settle_s: float = 2.0
    # Pelvis height commanded for the squat (m; nominal ~0.66, deepest 0.53), reached at 0.2 m/s.
    squat_height_m: float = 0.58
    domain_rand: QuietDomainRand = field(default_factory=QuietDomainRand)


@dataclass
class EvalLMOConfig:
    # LMO exports (folder or Hub repo id, optionally "label=<path>"), "pd_stand", "untrained".
    policies: list[str] = field(default_factory=lambda: ["pd_stand", "untrained"])
    output_dir: Path = Path("outputs/lmo_eval")
    scenarios: list[str] = field(default_factory=lambda: list(SCENARIOS))
    env: EvalEnvConfig = field(default_factory=EvalEnvConfig)
    perturbation: PerturbationConfig = field(default_factory=PerturbationConfig)
    locomotion: LocomotionConfig = field(default_factory=LocomotionConfig)
    sway: SwayConfig = field(default_factory=SwayConfig)
    # The LAM whose latents latent-conditioned policies get; None = each policy's own (its layout.json). Given,
    # every latent policy must have been trained on it (else an error).
    lam: str | None = None
    lam_revision: str | None = None
    latent_cache_dir: Path | None = None
    # Episode seeds derive from `seed`; the evaluation clips from `clip_seed` (held out from training's seed 0).
    seed: int = 0
    clip_seed: int = 1000
    # Hub revision of the exports given as repo ids; onnx | torch.
    revision: str | None = None
    backend: str = "onnx"
    # Videos of the first `videos` episodes of each scenario in `video_scenarios`, per policy.
    videos: int = 2
    video_scenarios: list[str] = field(default_factory=lambda: ["perturbation"])
    video_size: tuple[int, int] = (360, 480)
    video_fps: int = 25
    # CPU threads: torch's (the untrained actor) and those stepping the envs' physics (env groups on threads; the
    # episodes and their figures are the same at any count).
    threads: int = 1
    progress: bool = True

    def validate(self) -> None:
        if not self.policies:
            raise ValueError("--policies is empty: name LMO exports, pd_stand or untrained")
        unknown = [s for s in self.scenarios if s not in SCENARIOS]
        if unknown or not self.scenarios:
            raise ValueError(f"scenarios {unknown or '[]'}: choose from {', '.join(SCENARIOS)}")
        unknown = [s for s in self.video_scenarios if s not in SCENARIOS]
        if unknown:
            raise ValueError(f"video_scenarios {unknown}: choose from {', '.join(SCENARIOS)}")
        if self.env.num_envs < 1:
            raise ValueError(f"env.num_envs must be >= 1, got {self.env.num_envs}")
        for name in self.scenarios:
            sc = getattr(self, name)
            if sc.episodes < 1 or sc.episode_s <= 0:
                raise ValueError(f"{name}.episodes must be >= 1 and {name}.episode_s > 0")
        if self.perturbation.arms not in ("clips", "stance"):
            raise ValueError(f"perturbation.arms={self.perturbation.arms!r}: choose clips or stance")
        if self.perturbation.loco not in ("clip", "stand"):
            raise ValueError(f"perturbation.loco={self.perturbation.loco!r}: choose clip or stand")
        if self.perturbation.arms == "clips" and self.perturbation.clips < 1:
            raise ValueError("perturbation.clips must be >= 1 with perturbation.arms=clips")
        for name, cmd in self.locomotion.commands.items():
            if len(cmd) != 3 or not any(cmd):
                raise ValueError(f"locomotion.commands[{name!r}] must be a non-zero [vx, vy, yaw_rate]")
        if self.videos < 0:
            raise ValueError(f"videos must be >= 0, got {self.videos}")


# ---------------------------------------------------------------------------------------------- policies
@dataclass
class LegPolicy:
    label: str
    kind: str  # "export" | "pd_stand" | "untrained"
    source: str
    layout: ObservationLayout | None  # None: any env (pd_stand ignores its observation)
    act: Actor
    action_scale: float = 0.25
    clip_actions: float = 10.0

    def describe(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "kind": self.kind,
            "source": self.source,
            "conditioning": self.layout.conditioning if self.layout else None,
            "layout": self.layout.to_dict() if self.layout else None,
            "action_scale": self.action_scale,
        }


def _split_label(spec: str) -> tuple[str | None, str]:
    spec = spec.strip()
    if "=" in spec and not Path(spec).exists():
        label, _, source = spec.partition("=")
        return label.strip() or None, source.strip()
    return None, spec


def _default_label(source: str) -> str:
    p = Path(source.rstrip("/"))
    return f"{p.parent.name}/{p.name}" if p.name == "export" and p.parent.name else (p.name or source)


def load_export(source: str, label: str, cfg: EvalLMOConfig) -> LegPolicy:
    from lerobot_wbvla.lmo.policy import LMOPolicy

    policy = LMOPolicy.from_pretrained(source, revision=cfg.revision, backend=cfg.backend)
    scale = np.asarray(policy.action_scale, dtype=np.float64)
    if not np.allclose(scale, scale[0]):
        raise ValueError(
            f"policy {source}: per-joint action scales {scale.tolist()}; the env takes one scale"
        )
    if policy.control_hz != cfg.env.control_hz:
        raise ValueError(
            f"policy {source} runs at {policy.control_hz} Hz, the env at {cfg.env.control_hz} Hz"
        )
    return LegPolicy(
        label=label,
        kind="export",
        source=str(source),
        layout=policy.layout,
        act=policy.act,
        action_scale=float(scale[0]),
        clip_actions=policy.clip_actions if policy.clip_actions is not None else 10.0,
    )


def untrained_actor(layout: ObservationLayout, seed: int, ppo: PPOConfig | None = None) -> Actor:
    """PPO's initial actor for `layout`: rsl_rl's MLPModel as PPOConfig.runner_cfg() builds it (hidden sizes,
    activation, observation normaliser, Gaussian head), weights from torch's generator seeded with `seed`; the
    deterministic mean action."""
    import torch
    from rsl_rl.models import MLPModel
    from tensordict import TensorDict

    ppo = ppo or PPOConfig()
    actor_cfg = dict(ppo.runner_cfg()["actor"])
    actor_cfg.pop("class_name", None)
    torch.manual_seed(seed)
    obs = TensorDict({"policy": torch.zeros(2, layout.size)}, batch_size=[2])
    model = MLPModel(obs, {"actor": ["policy"]}, "actor", 12, **actor_cfg).eval()
    shrink_actor_output(model, ppo.actor_output_init_scale)

    def act(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            td = TensorDict(
                {"policy": torch.from_numpy(np.asarray(x, dtype=np.float32))}, batch_size=[len(x)]
            )
            return model(td).numpy()

    return act


def load_policies(cfg: EvalLMOConfig) -> list[LegPolicy]:
    """The policies of --policies, in order; every source is loaded (and checked) before any episode runs."""
    parsed = [_split_label(s) for s in cfg.policies]
    policies: list[LegPolicy] = []
    for label, source in parsed:
        if source in BASELINES:
            continue
        policies.append(load_export(source, label or _default_label(source), cfg))
    exports = iter(policies)  # in the order of `parsed`
    out: list[LegPolicy] = []
    for label, source in parsed:
        if source == "pd_stand":
            out.append(
                LegPolicy(label or "pd_stand", "pd_stand", "pd_stand", None, lambda x: np.zeros((len(x), 12)))
            )
        elif source == "untrained":
            first = policies[0] if policies else None
            layout = first.layout if first else ObservationLayout("none")
            assert layout is not None
            scale = first.action_scale if first else LMOEnvConfig.action_scale
            clip = first.clip_actions if first else LMOEnvConfig.clip_actions
            act = untrained_actor(layout, cfg.seed)
            out.append(LegPolicy(label or "untrained", "untrained", "untrained", layout, act, scale, clip))
        else:
            out.append(next(exports))
    labels = [p.label for p in out]
    dup = sorted({x for x in labels if labels.count(x) > 1})
    if dup:
        raise ValueError(f"policy labels {dup} appear twice: name them with label=<path>")
    return out


def lam_of(policy: LegPolicy, cfg: EvalLMOConfig) -> tuple[str, str | None] | None:
    """The LAM whose latents `policy` must see (None unless latent-conditioned)."""
    layout = policy.layout
    if layout is None or layout.conditioning != "latent":
        return None
    if cfg.lam:
        wanted = dataclasses.replace(layout, lam=cfg.lam, lam_revision=cfg.lam_revision)
        layout.check(wanted, what=f"latent (policy {policy.label}, --lam)")
        return cfg.lam, cfg.lam_revision or layout.lam_revision
    if not layout.lam:
        raise ValueError(
            f"policy {policy.label} is latent-conditioned but its layout names no LAM: pass --lam=<the LAM it was "
            "trained with>"
        )
    return layout.lam, layout.lam_revision


# ---------------------------------------------------------------------------------------------- clips
def _hold_clip(name: str, kind: str, loco: np.ndarray):
    from lerobot_wbvla.lmo.clips import ArmClip
    from lerobot_wbvla.lmo.procedural import stance_arm

    arm = np.tile(stance_arm(), (len(loco), 1))
    return ArmClip(name=name, kind=kind, source="wbvla-eval-lmo", arm=arm, loco=loco)


def scenario_library(name: str, cfg: EvalLMOConfig):
    """The scenario's clip library (lmo.clips.ClipLibrary) and, for scenarios that pin one clip per episode, the
    clip of each episode; episodes are listed command by command (posture by posture)."""
    from lerobot_wbvla.lmo.clips import ClipLibrary
    from lerobot_wbvla.lmo.mdp.observations import NOMINAL_HEIGHT
    from lerobot_wbvla.lmo.procedural import HEIGHT_RATE, procedural_clips

    hz = cfg.env.control_hz
    if name == "perturbation":
        pc = cfg.perturbation
        if pc.arms == "stance":
            steps = round(pc.episode_s * hz) + 1
            return ClipLibrary([_hold_clip("stance", "stand", np.zeros((steps, 4)))]), None
        lib = procedural_clips(pc.clips, seed=cfg.clip_seed, kinds=pc.clip_kinds)
        if pc.loco == "stand":
            lib = lib.standing()
        return lib, None
    sc = getattr(cfg, name)
    steps = round(sc.episode_s * hz) + 1  # longer than an episode: a pinned clip never restarts
    clips = []
    if name == "locomotion":
        for cmd_name, cmd in sc.commands.items():
            loco = np.zeros((steps, 4))
            loco[:, :3] = cmd
            clips.append(_hold_clip(cmd_name, "walk", loco))
    else:
        clips.append(_hold_clip("stand", "stand", np.zeros((steps, 4))))
        t = np.arange(steps) / hz
        height = np.maximum(NOMINAL_HEIGHT - t * HEIGHT_RATE, sc.squat_height_m)  # a ramp down, then held
        loco = np.zeros((steps, 4))
        loco[:, 3] = height
        clips.append(_hold_clip("squat", "squat", loco))
    forced = np.repeat(np.arange(len(clips)), sc.episodes)
    return ClipLibrary(clips), forced


# ---------------------------------------------------------------------------------------------- running
class Evaluation:
    """One run of wbvla-eval-lmo: builds an env per (policy, scenario), runs the seeded episodes, keeps metrics.

    `attach`: how latents are attached to a clip library (lmo.latents.attach_latents by default; tests pass a fake
    that needs no LAM)."""

    def __init__(self, cfg: EvalLMOConfig, attach: Callable | None = None) -> None:
        self.cfg = cfg
        self.attach = attach
        self._latent_libs: dict[tuple, Any] = {}
        self.videos: list[str] = []

    def library_for(self, scenario: str, base, policy: LegPolicy):
        """The clip library `policy` sees in `scenario` (with its LAM's z_t for latent conditioning, built once per
        scenario and LAM) and that LAM (id, revision), or (base, None, None)."""
        lam = lam_of(policy, self.cfg)
        if lam is None:
            return base, None, None
        key = (scenario, *lam)
        if key not in self._latent_libs:
            attach = self.attach
            if attach is None:
                from lerobot_wbvla.lmo.latents import attach_latents as attach
            kwargs = {"cache_dir": self.cfg.latent_cache_dir} if self.cfg.latent_cache_dir else {}
            self._latent_libs[key] = attach(
                base, lam[0], lam_revision=lam[1], progress=self.cfg.progress, **kwargs
            )
        return self._latent_libs[key], lam[0], lam[1]

    def make_env(self, scenario: str, policy: LegPolicy, library, lam, lam_revision, episodes: int):
        cfg = self.cfg
        sc = getattr(cfg, scenario)
        layout = policy.layout
        waves = math.ceil(episodes / cfg.env.num_envs)
        env_cfg = LMOEnvConfig(
            num_envs=math.ceil(episodes / waves),
            conditioning=layout.conditioning if layout else "none",
            history=layout.history if layout else 0,
            privileged_critic=False,
            episode_s=sc.episode_s,
            physics_hz=cfg.env.physics_hz,
            control_hz=cfg.env.control_hz,
            action_scale=policy.action_scale,
            clip_actions=policy.clip_actions,
            terminations=cfg.env.terminations,
            domain_rand=sc.domain_rand,
            terrain=cfg.env.terrain,
            seed=cfg.seed,
            physics_threads=cfg.threads,
        )
        env = SeededLMOVecEnv(env_cfg, library.stack(), lam=lam, lam_revision=lam_revision)
        if layout is not None:
            layout.check(env.layout, what=f"observation (policy {policy.label}, scenario {scenario})")
        return env

    def run(self, scenario: str, policy: LegPolicy, base, forced) -> EpisodeRecord:
        from tqdm.auto import tqdm

        from lerobot_wbvla.lmo.eval_report import EpisodeVideo

        cfg = self.cfg
        episodes = len(forced) if forced is not None else cfg.perturbation.episodes
        library, lam, rev = self.library_for(scenario, base, policy)
        env = self.make_env(scenario, policy, library, lam, rev, episodes)
        seeds = [[cfg.seed, _SALT[scenario], k] for k in range(episodes)]
        n_videos = min(cfg.videos, episodes, env.num_envs) if scenario in cfg.video_scenarios else 0
        videos = {
            k: EpisodeVideo(
                cfg.output_dir / "videos" / f"{_slug(policy.label)}_{scenario}_ep{k:03d}.mp4",
                cfg.video_size,
                cfg.video_fps,
                every=round(cfg.env.control_hz / cfg.video_fps),
            )
            for k in range(n_videos)
        }

        def frame(e: SeededLMOVecEnv, slot: int, step: int, up: bool) -> None:
            videos[slot].add(e.models[slot], e.datas[slot], e.pelvis, step, up)

        total = math.ceil(episodes / env.num_envs) * env.max_episode_length
        bar = tqdm(
            total=total, desc=f"{policy.label} {scenario}", unit="step", disable=not cfg.progress, leave=False
        )
        try:
            rec = run_episodes(
                env,
                policy.act,
                seeds,
                forced_clip=forced,
                on_step=frame if videos else None,
                record_slots=list(videos),
                progress=bar.update,
                pad_seed=lambda j: [cfg.seed, _SALT[scenario], episodes + j],
            )
        finally:
            bar.close()
            for v in videos.values():
                path = v.close()
                if path is not None:
                    self.videos.append(str(path))
            env.close()
        return rec


def _slug(label: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in label).strip("_") or "policy"


def _descriptions(cfg: EvalLMOConfig) -> dict[str, str]:
    pc, lc, sc = cfg.perturbation, cfg.locomotion, cfg.sway
    arms = (
        f"held-out procedural clips (kinds {pc.clip_kinds}, {pc.clips} clips, seed {cfg.clip_seed}), "
        f"{'their own locomotion schedule' if pc.loco == 'clip' else 'a zero locomotion command'}"
        if pc.arms == "clips"
        else "the arms held at the stance"
    )
    return {
        "perturbation": (
            f"{pc.episodes} episodes of {pc.episode_s:g} s: {arms}; payload {list(pc.domain_rand.payload_kg)} kg in the "
            f"hands ({pc.domain_rand.payload_split} split), pushes {list(pc.domain_rand.push_force_n)} N every {list(pc.domain_rand.push_interval_s)} s "
            f"for {pc.domain_rand.push_duration_s} s; the rest of the training randomization "
            f"{'on' if pc.domain_rand.enabled else 'off'}."
        ),
        "locomotion": (
            f"{lc.episodes} episodes of {lc.episode_s:g} s per command (arms at the stance, no payload or pushes); "
            f"velocity errors after {lc.settle_s:g} s while up; position / heading error at the end vs the "
            "commanded path from the start pose (episodes that did not fall)."
        ),
        "sway": (
            f"{sc.episodes} episodes of {sc.episode_s:g} s per posture; CoM sway = RMS horizontal distance of the "
            f"CoM from its mean after {sc.settle_s:g} s; squat to {sc.squat_height_m} m."
        ),
    }


def evaluate(cfg: EvalLMOConfig, attach: Callable | None = None) -> dict[str, Any]:
    """Run every scenario for every policy and write the outputs; returns the results dict (results.json)."""
    import torch

    cfg.validate()
    threads = torch.get_num_threads()
    torch.set_num_threads(cfg.threads)
    try:
        return _evaluate(cfg, attach)
    finally:
        torch.set_num_threads(threads)


def _evaluate(cfg: EvalLMOConfig, attach: Callable | None) -> dict[str, Any]:
    from lerobot_wbvla.lmo import eval_report as R

    t0 = time.perf_counter()
    policies = load_policies(cfg)
    for p in policies:  # a LAM mismatch or a missing LAM is bad input: before any episode runs
        lam_of(p, cfg)
    cfg.output_dir.mkdir(parents=True, exist_ok=True)
    ev = Evaluation(cfg, attach)
    desc = _descriptions(cfg)
    import draccus

    results: dict[str, Any] = {"config": draccus.encode(cfg), "policies": [p.describe() for p in policies]}
    margins: dict[str, dict[str, np.ndarray]] = {}
    for scenario in cfg.scenarios:
        base, forced = scenario_library(scenario, cfg)
        per_policy: dict[str, Any] = {}
        for p in policies:
            logger.info("%s: %s", scenario, p.label)
            rec = ev.run(scenario, p, base, forced)
            if scenario == "perturbation":
                per_policy[p.label], margins[p.label] = M.perturbation_metrics(
                    rec, cfg.perturbation.episode_s
                )
            elif scenario == "locomotion":
                lc = cfg.locomotion
                per_policy[p.label] = M.locomotion_metrics(rec, lc.commands, lc.episodes, lc.settle_s)
            else:
                sc = cfg.sway
                per_policy[p.label] = M.sway_metrics(rec, sc.episodes, sc.settle_s, sc.squat_height_m)
        section: dict[str, Any] = {"description": desc[scenario], "per_policy": per_policy}
        if scenario == "perturbation":
            section |= M.differences([p.label for p in policies], per_policy, margins)
            exports = {p.label: p.layout.conditioning for p in policies if p.kind == "export" and p.layout}
            section["pooled"] = M.pooled_by_group(exports, per_policy, margins)
            section["clips"] = [c.name for c in base]
        elif scenario == "locomotion":
            section["commands"] = {k: list(v) for k, v in cfg.locomotion.commands.items()}
        else:
            section["postures"] = ["stand", "squat"]
        results[scenario] = section

    out = cfg.output_dir
    files: dict[str, Any] = {"results": str(out / "results.json"), "table": str(out / R.MD_FILE)}
    files["fall_rates_png"] = str(R.plot_fall_rates(results, out / "fall_rates.png"))
    if "perturbation" in results:
        mins = {k: v["episode_min"] for k, v in margins.items()}
        steps = {k: v["step_margins"] for k, v in margins.items()}
        files["com_margin_png"] = str(R.plot_com_margins(steps, mins, out / "com_margin.png"))
    if "locomotion" in results:
        files["velocity_tracking_png"] = str(R.plot_velocity_tracking(results, out / "velocity_tracking.png"))
    files["videos"] = ev.videos
    results["files"] = files
    results["wall_s"] = round(time.perf_counter() - t0, 1)
    (out / R.MD_FILE).write_text(R.markdown(results))
    tmp = out / "results.json.tmp"
    tmp.write_text(json.dumps(results, indent=1, default=_json_default) + "\n")
    os.replace(tmp, out / "results.json")
    return results


def _json_default(x: Any) -> Any:
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, Path):
        return str(x)
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


def main() -> None:
    from lerobot.configs import parser

    from lerobot_wbvla.lam.data import USER_ERRORS, exit_with_user_error

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    def _run(cfg: EvalLMOConfig) -> None:
        results = evaluate(cfg)
        summary: dict[str, Any] = {"output_dir": str(cfg.output_dir)}
        if "perturbation" in results:
            summary["fall_rate"] = {
                k: v["fall_rate"] for k, v in results["perturbation"]["per_policy"].items()
            }
        print(json.dumps(summary))

    _run.__annotations__["cfg"] = EvalLMOConfig
    try:
        parser.wrap()(_run)()
    except (*USER_ERRORS, LayoutMismatchError) as err:  # bad input: one clear line, no traceback
        exit_with_user_error("wbvla-eval-lmo", err)


if __name__ == "__main__":
    main()
