"""Configuration of the LMO's vectorized MuJoCo env (draccus dataclasses; the defaults are the article's)."""

from __future__ import annotations

from dataclasses import dataclass, field

from lerobot_wbvla.lmo.layout import CONDITIONINGS
from lerobot_wbvla.lmo.mdp.rewards import ARTICLE_WEIGHTS, RewardParams
from lerobot_wbvla.lmo.mdp.terminations import TerminationParams

PAYLOAD_SPLITS = ("random", "equal", "per_hand")


@dataclass
class DomainRandConfig:
    """The article's `domain_rand` plus the paper's lags. Ranges are [low, high]."""

    enabled: bool = True
    friction: tuple[float, float] = (0.3, 1.5)
    # Mass held in the hands (kg): the article's single `payload_mass_range` and issue 9's "0-3 kg in the hands",
    # one load per episode, split between the hands by `payload_split`.
    payload_kg: tuple[float, float] = (0.0, 5.0)
    # How the load is shared: random (a uniform fraction in the left hand, the rest in the right: a two-handed
    # carry down to a one-handed one) | equal (half each) | per_hand (each hand draws its own mass from the range:
    # up to twice the range in total; the behaviour before, measured to topple a 2-core-trained stander in 0.75 of
    # episodes at 0-3 kg per hand against 0.32 at 0-1.5 kg per hand; the X2 is rated 3 kg in a set pose, 1 kg over
    # its full workspace, agibot-x2 notes).
    payload_split: str = "random"
    # Scale of the leg motors' gains and torque limits.
    motor_strength: tuple[float, float] = (0.8, 1.2)
    # Horizontal pushes on the torso: force (N), how long (s), and the time between two pushes (s) [ours].
    push_force_n: tuple[float, float] = (0.0, 50.0)
    push_duration_s: float = 0.2
    push_interval_s: tuple[float, float] = (3.0, 6.0)
    # Gaussian noise on z_t (the VLA's latent arrives at 20 Hz, interpolated and noisy; the article's 0.05).
    latent_noise_std: float = 0.05
    # Bump height of the terrain heightfield (m).
    terrain_roughness_m: tuple[float, float] = (0.0, 0.05)
    # Horizontal displacement of the torso's centre of mass (m, up to).
    com_displacement_m: float = 0.05
    # Delay between the policy's action and the motors, and of the IMU readings, in physics steps (the paper's
    # 2-8 and 1-10). The IMU delay is applied in whole control periods (rounded), the action delay exactly.
    action_lag_steps: tuple[int, int] = (2, 8)
    imu_lag_steps: tuple[int, int] = (1, 10)

    def __post_init__(self) -> None:
        if self.payload_split not in PAYLOAD_SPLITS:
            raise ValueError(
                f"domain_rand.payload_split={self.payload_split!r}: choose one of {', '.join(PAYLOAD_SPLITS)}"
            )

    def off(self) -> DomainRandConfig:
        """The nominal robot: no randomization at all (evaluation of a fixed condition, tests)."""
        return DomainRandConfig(
            enabled=False,
            friction=(1.0, 1.0),
            payload_kg=(0.0, 0.0),
            motor_strength=(1.0, 1.0),
            push_force_n=(0.0, 0.0),
            latent_noise_std=0.0,
            terrain_roughness_m=(0.0, 0.0),
            com_displacement_m=0.0,
            action_lag_steps=(0, 0),
            imu_lag_steps=(0, 0),
        )


@dataclass
class WarpConfig:
    """The MuJoCo Warp backend (lmo/env/warp_vec_env.py): where it runs and its per-world constraint buffers."""

    # Warp device: auto (cuda:0 when torch sees a GPU, else cpu) | cpu | cuda | cuda:<i>.
    device: str = "auto"
    # Constraint rows per world (contacts x 3 with elliptic cones, joint limits). Too small overflows (mujoco_warp
    # warns "nefc overflow" and drops constraints): the X2 standing on the terrain uses ~80, a fallen one more.
    njmax: int = 512
    # Contacts per world (the total buffer is num_envs * nconmax, shared by all worlds; standing on the terrain:
    # 16).
    nconmax: int = 128

    def __post_init__(self) -> None:
        if self.njmax < 1 or self.nconmax < 1:
            raise ValueError(f"warp.njmax and warp.nconmax must be >= 1, got {self.njmax}, {self.nconmax}")


@dataclass
class LMOEnvConfig:
    num_envs: int = 64
    # Threads that step the envs' physics (MuJoCo C backend): the envs are split into this many contiguous groups,
    # each stepped on its own thread (mj_step releases the GIL). Each env is independent, so the results are the
    # same at any count. None: wbvla-train-lmo's --threads (torch and the physics never run at the same time);
    # 1 for an env built elsewhere.
    physics_threads: int | None = None
    # What the legs know about the rest of the body: latent (z_t, the article) | command (the paper's flags) |
    # none (the decoupled baseline: the plain locomotion command). See lmo/layout.py.
    conditioning: str = "latent"
    # Past proprioceptive frames in the observation.
    history: int = 0
    # The critic also sees privileged state (arm joint positions, payloads, push force, base velocity, friction,
    # motor strength): asymmetric actor-critic.
    privileged_critic: bool = True
    # Episode length (s): the article's 1000 steps at 50 Hz.
    episode_s: float = 20.0
    physics_hz: int = 200
    control_hz: int = 50
    # Leg PD targets = stance + action_scale * action (rad); actions are clipped to +-clip_actions first.
    action_scale: float = 0.25
    clip_actions: float = 10.0
    # Reward term weights (lmo/mdp/rewards.py); the defaults are the article's 8 terms. The paper's options:
    # direction (J_dir), stand_still (J_stand), gait.
    reward_weights: dict[str, float] = field(default_factory=lambda: dict(ARTICLE_WEIGHTS))
    rewards: RewardParams = field(default_factory=RewardParams)
    terminations: TerminationParams = field(default_factory=TerminationParams)
    domain_rand: DomainRandConfig = field(default_factory=DomainRandConfig)
    # Rough ground (the rough_floor scene's heightfield); off = the flat floor.
    terrain: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        if self.conditioning not in CONDITIONINGS:
            raise ValueError(f"conditioning={self.conditioning!r}: choose one of {', '.join(CONDITIONINGS)}")
        if self.num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {self.num_envs}")
        if self.physics_threads is not None and self.physics_threads < 1:
            raise ValueError(f"physics_threads must be >= 1, got {self.physics_threads}")
        if self.physics_hz % self.control_hz:
            raise ValueError(
                f"physics_hz ({self.physics_hz}) must be a multiple of control_hz ({self.control_hz})"
            )

    @property
    def decimation(self) -> int:
        return self.physics_hz // self.control_hz

    @property
    def max_episode_length(self) -> int:
        return round(self.episode_s * self.control_hz)
