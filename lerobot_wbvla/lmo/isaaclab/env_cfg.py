"""The LMO as an Isaac Lab 3 manager-based RL task (gym id `WBVLA-LMO-X2-v0`).

The observation groups, reward terms and termination terms carry the names and the order of the CPU env's
(`X2LMOVecEnv`): the policy group's terms are `ObservationLayout.blocks`, the critic group adds
`PRIVILEGED_BLOCKS`, the reward terms are `LMOEnvConfig.reward_weights` (the article's 8 terms and weights) and the
terminations are `TERMINATION_TERMS` plus the time-out. Names are imported, never retyped, so they cannot drift;
the term functions are the shared ones (`isaaclab/mdp.py`).

Differences from the CPU env (this task has the MDP's terms, not its whole training setup):
- the arm clips (`clips`: a ClipLibrary folder, commands.py): the arms play the CPU env's clips, the locomotion
  command is the clips' schedule and `latent` conditioning reads their z_t; without a library the arms, waist and
  head hold their start pose, the command is Isaac Lab's uniform velocity command (vx, vy, yaw rate, height 0) and
  the conditioning is `none` (default) or `command`;
- domain randomization (`domain_rand`, on by default as in the CPU env) as Isaac Lab event terms (events.py) at the
  ranges' full extent (no curriculum level), the action delay in the leg action term (actions.py) and the IMU delay
  as Isaac Lab's observation delay; no terrain: the ground is flat (a local static box);
- Isaac Lab's reward manager multiplies the weighted sum by the step dt (0.02 s): rewards are the CPU env's x 0.02.
"""

from __future__ import annotations

import isaaclab.envs.mdp as mdp
import isaaclab.sim as sim_utils
from isaaclab.assets import AssetBaseCfg
from isaaclab.envs import ManagerBasedRLEnvCfg
from isaaclab.managers import EventTermCfg as EventTerm
from isaaclab.managers import ObservationGroupCfg as ObsGroup
from isaaclab.managers import ObservationTermCfg as ObsTerm
from isaaclab.managers import RewardTermCfg as RewTerm
from isaaclab.managers import TerminationTermCfg as DoneTerm
from isaaclab.scene import InteractiveSceneCfg
from isaaclab.sim import SimulationCfg
from isaaclab.utils import configclass
from isaaclab_newton.physics import MJWarpSolverCfg, NewtonCfg

from lerobot_wbvla.lmo.env.config_env import LMOEnvConfig
from lerobot_wbvla.lmo.env.x2_vec_env import PRIVILEGED_BLOCKS
from lerobot_wbvla.lmo.isaaclab import events as lmo_events
from lerobot_wbvla.lmo.isaaclab import mdp as wmdp
from lerobot_wbvla.lmo.isaaclab.actions import DelayedJointPositionActionCfg
from lerobot_wbvla.lmo.isaaclab.asset import x2_articulation_cfg
from lerobot_wbvla.lmo.isaaclab.clip_player import load_library
from lerobot_wbvla.lmo.isaaclab.commands import ClipCommandCfg
from lerobot_wbvla.lmo.layout import PROPRIO_BLOCKS, ObservationLayout
from lerobot_wbvla.lmo.mdp.terminations import TERMINATION_TERMS
from lerobot_wbvla.robots.agibot_x2.joints import LEG_JOINTS, mjcf_joint_name
from lerobot_wbvla.robots.agibot_x2.mjcf import joint_range

# The CPU env's defaults: rates, action scale, episode length, reward weights and parameters, terminations.
CPU_ENV = LMOEnvConfig(conditioning="none")
TASK_ID = "WBVLA-LMO-X2-v0"
# IMU delay in control periods (Isaac Lab's observation delay counts recorded samples, one per control step): the
# CPU env draws 1-10 physics steps and rounds them to whole control periods.
IMU_DELAY = tuple(round(n / CPU_ENV.decimation) for n in CPU_ENV.domain_rand.imu_lag_steps)
IMU_BLOCKS = ("base_quat", "gyro", "accel")


def policy_terms(
    conditioning: str, imu_delay: tuple[int, int] = (0, 0), latent_dim: int = 0, noisy: bool = True
) -> dict[str, ObsTerm]:
    """The policy group's terms in `ObservationLayout(conditioning, latent_dim).blocks` order (no history); the IMU
    blocks delayed by `imu_delay` control periods (drawn per env and term at reset); z_t with the latent noise when
    `noisy` (the policy's; the critic's is clean)."""
    layout = ObservationLayout(conditioning=conditioning, latent_dim=latent_dim)
    terms = {name: ObsTerm(func=wmdp.proprio_term, params={"name": name}) for name, _ in PROPRIO_BLOCKS}
    if imu_delay[1] > 0:
        for name in IMU_BLOCKS:
            terms[name].delay_min_lag, terms[name].delay_max_lag = imu_delay
    name, _ = layout.conditioning_block
    params = {"conditioning": conditioning, "noisy": noisy}
    terms[name] = ObsTerm(func=wmdp.conditioning_term, params=params)
    assert list(terms) == [n for n, _ in layout.blocks]
    return terms


def privileged_terms() -> dict[str, ObsTerm]:
    """The critic's extra blocks in PRIVILEGED_BLOCKS order (the randomized values each env drew: events.py; the
    nominal robot's without domain randomization)."""
    terms = {
        "arm_joint_pos": ObsTerm(func=wmdp.arm_joint_pos),
        "payload_kg": ObsTerm(func=wmdp.dr_block, params={"name": "payload_kg"}),
        "push_force": ObsTerm(func=wmdp.dr_block, params={"name": "push_force"}),
        "base_lin_vel": ObsTerm(func=wmdp.base_lin_vel),
        "friction": ObsTerm(func=wmdp.dr_block, params={"name": "friction"}),
        "motor_strength": ObsTerm(func=wmdp.dr_block, params={"name": "motor_strength"}),
    }
    assert list(terms) == [name for name, _ in PRIVILEGED_BLOCKS]
    return terms


def _group(terms: dict[str, ObsTerm]) -> ObsGroup:
    group = ObsGroup()
    group.concatenate_terms = True
    group.enable_corruption = False
    for name, term in terms.items():  # the managers read terms in attribute insertion order
        setattr(group, name, term)
    return group


@configclass
class LMOSceneCfg(InteractiveSceneCfg):
    """The X2 on flat ground, all assets local."""

    # A static box whose top face is the floor at z = 0. Not Isaac Lab's terrain importer: its stock ground plane
    # is a remote USD, and a generated flat mesh has no volume, which MuJoCo (Newton's MJWarp solver) refuses to
    # compile ("mesh volume is too small").
    ground = AssetBaseCfg(
        prim_path="/World/ground",
        spawn=sim_utils.CuboidCfg(
            size=(200.0, 200.0, 1.0),
            collision_props=sim_utils.CollisionPropertiesCfg(),
            physics_material=sim_utils.RigidBodyMaterialCfg(static_friction=1.0, dynamic_friction=1.0),
        ),
        init_state=AssetBaseCfg.InitialStateCfg(pos=(0.0, 0.0, -0.5)),
    )
    robot = x2_articulation_cfg(CPU_ENV.physics_hz)


@configclass
class ActionsCfg:
    # Leg PD targets = stance + action_scale * action (the stance is the articulation's default joint position),
    # clipped to each joint's range: the CPU env's leg_pd_targets. Isaac Lab's `clip` applies to the processed
    # action (the targets), so it holds the joint ranges; the raw action's +-clip_actions is clipped by RSL-RL's
    # env wrapper (agents.py `clip_actions`). preserve_order: the 12 actions are joints.LEG_JOINTS in order.
    legs = DelayedJointPositionActionCfg(
        asset_name="robot",
        joint_names=[mjcf_joint_name(j) for j in LEG_JOINTS],
        scale=CPU_ENV.action_scale,
        use_default_offset=True,
        preserve_order=True,
        clip={mjcf_joint_name(j): joint_range(j) for j in LEG_JOINTS},
    )


@configclass
class CommandsCfg:
    # The locomotion command (vx, vy in the base frame, yaw rate); 20 % of the envs are told to stand.
    loco = mdp.UniformVelocityCommandCfg(
        asset_name="robot",
        resampling_time_range=(5.0, 10.0),
        rel_standing_envs=0.2,
        heading_command=False,
        debug_vis=False,
        ranges=mdp.UniformVelocityCommandCfg.Ranges(
            lin_vel_x=(-0.5, 0.5), lin_vel_y=(-0.3, 0.3), ang_vel_z=(-0.5, 0.5)
        ),
    )


@configclass
class EventsCfg:
    reset_base = EventTerm(
        func=mdp.reset_root_state_uniform,
        mode="reset",
        params={"pose_range": {"yaw": (-3.14, 3.14)}, "velocity_range": {}},
    )
    reset_joints = EventTerm(
        func=mdp.reset_joints_by_offset,
        mode="reset",
        params={"position_range": (0.0, 0.0), "velocity_range": (0.0, 0.0)},
    )


@configclass
class LMOEnvCfg(ManagerBasedRLEnvCfg):
    """The LMO task: the CPU env's MDP (names, order, weights) on Isaac Lab managers with Newton physics."""

    # none (the plain locomotion command) | command (the paper's flags) | latent (the clips' z_t: needs `clips` with
    # latents).
    conditioning: str = "none"
    # A clip library folder (ClipLibrary.save; python -m lerobot_wbvla.lmo.isaaclab.clip_library): the arms play its
    # clips and the locomotion command follows their schedule, as in the CPU env. None: still arms, random commands.
    clips: str | None = None
    # The CPU env's domain randomization (events.py: friction, payloads, motor strength, CoM, pushes) and its
    # action and IMU delays, with the ranges of LMOEnvConfig().domain_rand; False = the nominal robot.
    domain_rand: bool = True
    sim: SimulationCfg = SimulationCfg(
        dt=1.0 / CPU_ENV.physics_hz,
        physics=NewtonCfg(
            solver_cfg=MJWarpSolverCfg(
                njmax=256, nconmax=64, cone="elliptic", impratio=5.0, integrator="implicitfast"
            ),
            use_cuda_graph=False,
        ),
    )
    scene: LMOSceneCfg = LMOSceneCfg(num_envs=64, env_spacing=2.5)
    actions: ActionsCfg = ActionsCfg()
    commands: CommandsCfg = CommandsCfg()
    events: EventsCfg = EventsCfg()
    observations: object = None
    rewards: object = None
    terminations: object = None

    def __post_init__(self) -> None:
        self.decimation = CPU_ENV.decimation
        self.episode_length_s = CPU_ENV.episode_s
        self.sim.render_interval = self.decimation
        dr = self.domain_rand
        latent_dim = self._setup_clips()
        self.observations = lmo_observations(self.conditioning, IMU_DELAY if dr else (0, 0), latent_dim)
        self.actions.legs.lag_steps = CPU_ENV.domain_rand.action_lag_steps if dr else (0, 0)
        if dr:
            for name, term in lmo_events.event_terms().items():
                setattr(self.events, name, term)
            # Newton takes the larger of two shapes' friction: the shared ground gets the range's low end, the
            # feet the friction each env drew.
            material = self.scene.ground.spawn.physics_material
            material.static_friction = material.dynamic_friction = CPU_ENV.domain_rand.friction[0]
        self.rewards = lmo_rewards(CPU_ENV.reward_weights)
        self.terminations = lmo_terminations()

    def _setup_clips(self) -> int:
        """The clip command in place of the velocity command when `clips` is set; returns the layout's latent_dim."""
        if self.clips is None:
            if self.conditioning == "latent":
                raise ValueError(
                    "conditioning='latent' needs z_t: pass clips=<clip library folder with latents> (python -m "
                    "lerobot_wbvla.lmo.isaaclab.clip_library --lam=<LAM> --out=<folder>), or use none|command"
                )
            return 0
        library = load_library(str(self.clips))
        if self.conditioning != "latent":
            latent_dim = 0
        elif library.latent_dim is None:
            raise ValueError(
                f"conditioning='latent' needs z_t for every clip, and the library '{self.clips}' has none: build "
                "it with --lam=<LAM> (python -m lerobot_wbvla.lmo.isaaclab.clip_library)"
            )
        else:
            latent_dim = int(library.latent_dim)
        noise = CPU_ENV.domain_rand.latent_noise_std if self.domain_rand else 0.0
        self.commands.loco = ClipCommandCfg(library=str(self.clips), latent_noise_std=noise)
        return latent_dim


@configclass
class _Groups:
    """Observation groups (filled in insertion order by lmo_observations)."""


def lmo_observations(conditioning: str, imu_delay: tuple[int, int] = (0, 0), latent_dim: int = 0) -> _Groups:
    groups = _Groups()
    groups.policy = _group(policy_terms(conditioning, imu_delay, latent_dim, noisy=True))
    critic = policy_terms(conditioning, imu_delay, latent_dim, noisy=False)
    groups.critic = _group({**critic, **privileged_terms()})
    return groups


def lmo_rewards(weights: dict[str, float]) -> _Groups:
    """One RewTerm per weighted term, in the CPU env's RewardManager order, with its weight."""
    out = _Groups()
    for name, w in weights.items():
        if w != 0.0:
            setattr(
                out,
                name,
                RewTerm(func=wmdp.reward_term, weight=w, params={"name": name, "params": CPU_ENV.rewards}),
            )
    return out


def lmo_terminations() -> _Groups:
    """TERMINATION_TERMS (falls) in order, then the time-out (reported apart so PPO bootstraps it)."""
    out = _Groups()
    for name in TERMINATION_TERMS:
        setattr(
            out,
            name,
            DoneTerm(func=wmdp.termination_term, params={"name": name, "params": CPU_ENV.terminations}),
        )
    out.time_out = DoneTerm(func=mdp.time_out, time_out=True)
    return out
