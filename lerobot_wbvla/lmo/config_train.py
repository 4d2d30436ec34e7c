"""Configuration of `wbvla-train-lmo` (draccus): the env, RSL-RL PPO with the article's defaults, the clip library."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lerobot_wbvla.hub import HubPushConfig
from lerobot_wbvla.lmo.curriculum import CurriculumConfig
from lerobot_wbvla.lmo.env.config_env import LMOEnvConfig, WarpConfig
from lerobot_wbvla.lmo.validation import ValidationConfig

PPO_SCHEDULES = ("fixed", "adaptive")
BACKENDS = ("cpu", "warp")
CLIP_LOCO = ("schedule", "stand")


@dataclass
class PPOConfig:
    """The article's `ppo_config` (lr 3e-4, 24 steps per env, 5 epochs, gamma 0.99, lambda 0.95, clip 0.2, entropy
    0.01, value coefficient 0.5, max grad norm 1.0) and `policy_net` ([256, 256, 128], ELU) for actor and critic."""

    learning_rate: float = 3e-4
    num_steps_per_env: int = 24
    num_learning_epochs: int = 5
    num_mini_batches: int = 4
    gamma: float = 0.99
    lam: float = 0.95
    clip_param: float = 0.2
    entropy_coef: float = 0.01
    value_loss_coef: float = 0.5
    max_grad_norm: float = 1.0
    # "fixed" (the article's constant learning rate) or RSL-RL's "adaptive" (KL-targeted, desired_kl).
    schedule: str = "fixed"
    desired_kl: float = 0.01
    actor_hidden_dims: list[int] = field(default_factory=lambda: [256, 256, 128])
    critic_hidden_dims: list[int] = field(default_factory=lambda: [256, 256, 128])
    activation: str = "elu"
    # Initial std of the Gaussian action noise (actions are scaled by env.action_scale = 0.25 rad). Not in the
    # article; 0.1 rather than RSL-RL's usual 1.0. Measured on the X2 twin with the nominal robot and still arms,
    # i.i.d. noise alone around the PD stance: std 1.0 topples it in ~1.3 s (45 falls per robot-minute), 0.3: 15,
    # 0.2: 2.8, 0.1: none; noise that topples the robot leaves a 2-core budget nothing to learn from.
    init_noise_std: float = 0.1
    # The actor's output layer starts this many times smaller than torch's default init, so the untrained policy's
    # mean action is ~0: the legs at the stance, which stands on the nominal robot. Measured: with the default init
    # the initial mean actions (up to ~0.25 rad per joint) topple the robot within ~2 s, so early episodes teach
    # little. (Andrychowicz et al. 2021, "What Matters in On-Policy RL", recommend a 100x smaller last layer.)
    actor_output_init_scale: float = 0.01
    # RSL-RL's empirical observation normaliser (inside the actor, so exports include it).
    obs_normalization: bool = True

    def __post_init__(self) -> None:
        if self.schedule not in PPO_SCHEDULES:
            raise ValueError(f"ppo.schedule={self.schedule!r}: choose one of {', '.join(PPO_SCHEDULES)}")

    def runner_cfg(self) -> dict:
        """The train_cfg dict of RSL-RL 5.5's OnPolicyRunner."""

        def model(hidden: list[int]) -> dict:
            return {
                "class_name": "MLPModel",
                "hidden_dims": list(hidden),
                "activation": self.activation,
                "obs_normalization": self.obs_normalization,
            }

        actor = model(self.actor_hidden_dims)
        actor["distribution_cfg"] = {
            "class_name": "GaussianDistribution",
            "init_std": self.init_noise_std,
            "std_type": "scalar",
        }
        return {
            "num_steps_per_env": self.num_steps_per_env,
            "save_interval": 10**9,  # wbvla-train-lmo checkpoints itself (atomically)
            "obs_groups": {"actor": ["policy"], "critic": ["critic"]},
            "multi_gpu": None,
            "algorithm": {
                "class_name": "PPO",
                "num_learning_epochs": self.num_learning_epochs,
                "num_mini_batches": self.num_mini_batches,
                "clip_param": self.clip_param,
                "gamma": self.gamma,
                "lam": self.lam,
                "value_loss_coef": self.value_loss_coef,
                "entropy_coef": self.entropy_coef,
                "learning_rate": self.learning_rate,
                "max_grad_norm": self.max_grad_norm,
                "schedule": self.schedule,
                "desired_kl": self.desired_kl,
            },
            "actor": actor,
            "critic": model(self.critic_hidden_dims),
        }


@dataclass
class ClipsConfig:
    """Where the arms' motion clips come from (lmo/clips.py) and the LAM that gives them z_t (lmo/latents.py)."""

    # Procedural reach / carry / push clips over the arms' full range, with a locomotion command schedule.
    procedural: int = 64
    seed: int = 0
    # The locomotion command the legs get with the clips: "schedule" (each clip's own schedule of stand, squat,
    # step, walk and turn segments) or "stand" (zero throughout: a stander that keeps the robot up while the arms
    # move, the perturbation test's setting; the velocity-tracking reward then asks it to stay put).
    loco: str = "schedule"
    # LeRobot datasets recorded with `lerobot-record --robot.type=agibot_x2` (repo ids; `dataset_root` = a local
    # folder holding them, as LeRobot's --dataset.root).
    datasets: list[str] = field(default_factory=list)
    dataset_root: str | None = None
    # Where rendered-and-encoded clip latents are cached (None = the default cache folder).
    latent_cache_dir: Path | None = None


@dataclass
class TrainLMOConfig:
    # A named configuration (lmo/presets.py: walking_gpu) whose values become the defaults; other flags override.
    preset: str | None = None
    output_dir: Path = Path("outputs/lmo")
    # Physics backend of the env: cpu (MuJoCo C, one model per env: lmo/env/x2_vec_env.py) | warp (MuJoCo Warp,
    # N worlds batched on one device, the same MDP on torch tensors: lmo/env/warp_vec_env.py; for GPUs).
    backend: str = "cpu"
    # The warp backend's device and constraint buffers (used with backend=warp).
    warp: WarpConfig = field(default_factory=WarpConfig)
    env: LMOEnvConfig = field(default_factory=LMOEnvConfig)
    ppo: PPOConfig = field(default_factory=PPOConfig)
    clips: ClipsConfig = field(default_factory=ClipsConfig)
    # The frozen LAM whose latents condition the legs (repo id or folder; needed for env.conditioning=latent).
    lam: str | None = None
    lam_revision: str | None = None
    # PPO iterations in total (a resumed run ends at the same count); each is num_envs * num_steps_per_env steps.
    iterations: int = 1500
    # Stop after this much training time (min, counted across resumes); None = no time budget.
    max_minutes: float | None = None
    # Curriculum: how far the env's disturbances (payload, pushes, terrain, CoM offset, lags, arm motion amplitude)
    # widen from the nominal robot towards the configured ranges (lmo/curriculum.py).
    curriculum: CurriculumConfig = field(default_factory=CurriculumConfig)
    # Start each env's first episode at a random point of its time limit (RSL-RL's init_at_random_ep_len), after
    # the first reset and after each curriculum stage's reset. Why: with synchronised episodes all envs time out
    # together (iteration 41 with 20 s episodes) and redraw their randomization at once at the level the curriculum
    # reached meanwhile; measured on 2 cores, the falls then spiked to ~15 per robot-minute and the level fell back
    # to 0 in every run. Staggered episodes redraw a few envs each iteration.
    random_episode_start: bool = True
    # Validation (lmo/validation.py): every `validation.every` iterations the actor plays seeded perturbation
    # episodes of its own, and the export is the checkpoint that fell least (`validation.select_best`).
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    # Checkpoint every this many iterations (and at the end, and when the time budget ends).
    save_every: int = 25
    # Continue the run in output_dir from its last checkpoint.
    resume: bool = False
    seed: int = 0
    # torch CPU threads.
    threads: int = 2
    # torch.distributed backend under torchrun (WORLD_SIZE > 1): auto (nccl on GPUs, gloo on CPUs) | nccl | gloo.
    dist_backend: str = "auto"
    progress: bool = True
    # Write the TorchScript / ONNX export (lmo/export.py) next to the checkpoints at the end.
    export: bool = True
    hub: HubPushConfig = field(default_factory=HubPushConfig)

    def validate(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"backend={self.backend!r}: choose one of {', '.join(BACKENDS)}")
        if self.preset is not None:
            from lerobot_wbvla.lmo.presets import LMO_PRESETS  # presets import this module

            if self.preset not in LMO_PRESETS:
                raise ValueError(f"preset={self.preset!r}: choose one of {', '.join(LMO_PRESETS)}")
        if self.dist_backend not in ("auto", "nccl", "gloo"):
            raise ValueError(f"dist_backend={self.dist_backend!r}: choose auto, nccl or gloo")
        if self.iterations < 1:
            raise ValueError(f"iterations must be >= 1, got {self.iterations}")
        if self.env.conditioning == "latent" and not self.lam:
            raise ValueError(
                "env.conditioning=latent needs --lam=<LAM repo id or folder> (the frozen LAM that gives the clips "
                "their z_t); or train the baselines with --env.conditioning=command|none"
            )
        if self.max_minutes is not None and self.max_minutes <= 0:
            raise ValueError(f"max_minutes must be > 0, got {self.max_minutes}")
        self.curriculum.validate()
        self.validation.validate()
        if self.clips.loco not in CLIP_LOCO:
            raise ValueError(f"clips.loco={self.clips.loco!r}: choose one of {', '.join(CLIP_LOCO)}")
        if self.clips.procedural < 0:
            raise ValueError(f"clips.procedural must be >= 0, got {self.clips.procedural}")
        if self.clips.procedural == 0 and not self.clips.datasets:
            raise ValueError(
                "no arm motion clips: set clips.procedural > 0 or name recorded datasets with clips.datasets"
            )


def shrink_actor_output(actor, scale: float) -> None:
    """Scale the last linear layer of an rsl_rl MLPModel actor by `scale` and zero its bias (see
    PPOConfig.actor_output_init_scale); 1.0 leaves the model as built."""
    import torch

    if scale == 1.0:
        return
    last = [m for m in actor.mlp.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        last.weight.mul_(scale)
        if last.bias is not None:
            last.bias.zero_()
