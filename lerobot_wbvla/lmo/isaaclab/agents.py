"""RSL-RL runner config of the Isaac Lab task: the article's PPO defaults, taken from `PPOConfig` (config_train.py)."""

from __future__ import annotations

from isaaclab.utils import configclass
from isaaclab_rl.rsl_rl import RslRlMLPModelCfg, RslRlOnPolicyRunnerCfg, RslRlPpoAlgorithmCfg

from lerobot_wbvla.lmo.config_train import PPOConfig
from lerobot_wbvla.lmo.env.config_env import LMOEnvConfig

PPO = PPOConfig()


@configclass
class LMOPPORunnerCfg(RslRlOnPolicyRunnerCfg):
    num_steps_per_env = PPO.num_steps_per_env
    max_iterations = 1500  # wbvla-train-lmo's default
    save_interval = 50
    experiment_name = "wbvla_lmo_x2"
    obs_groups = {"actor": ["policy"], "critic": ["critic"]}
    # RSL-RL's env wrapper clips the raw actions to +-clip_actions before the action term scales them (the CPU
    # env's clip; the action term's own clip is on the targets: env_cfg.ActionsCfg).
    clip_actions = LMOEnvConfig().clip_actions
    actor = RslRlMLPModelCfg(
        hidden_dims=list(PPO.actor_hidden_dims),
        activation=PPO.activation,
        obs_normalization=PPO.obs_normalization,
        distribution_cfg=RslRlMLPModelCfg.GaussianDistributionCfg(init_std=PPO.init_noise_std),
    )
    critic = RslRlMLPModelCfg(
        hidden_dims=list(PPO.critic_hidden_dims),
        activation=PPO.activation,
        obs_normalization=PPO.obs_normalization,
    )
    algorithm = RslRlPpoAlgorithmCfg(
        value_loss_coef=PPO.value_loss_coef,
        use_clipped_value_loss=True,
        clip_param=PPO.clip_param,
        entropy_coef=PPO.entropy_coef,
        num_learning_epochs=PPO.num_learning_epochs,
        num_mini_batches=PPO.num_mini_batches,
        learning_rate=PPO.learning_rate,
        schedule=PPO.schedule,
        gamma=PPO.gamma,
        lam=PPO.lam,
        desired_kl=PPO.desired_kl,
        max_grad_norm=PPO.max_grad_norm,
    )
