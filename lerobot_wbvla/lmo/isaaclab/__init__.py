"""The LMO as an Isaac Lab 3 task (gym id `WBVLA-LMO-X2-v0`), for the separate venv of scripts/setup_isaaclab.sh.

The task's modules (env_cfg, agents, mdp, events, actions, commands) import isaaclab and run only inside that venv
(isaaclab pins mujoco 3.x and transformers 5.10, outside the project's main environment); nothing in the main
package imports them. `export.py` (an Isaac Lab RSL-RL checkpoint -> the LMO export folder) and `clip_player.py`
(the arm clips' per-env cursors) import no isaaclab and run in either venv; `clip_library.py` (the training clip
library, with the LAM's z_t, saved for the task) runs in the main venv, where the LAM imports. Importing this package registers the gym id (a string entry point: isaaclab is imported only by gym.make).
"""

import gymnasium as gym

TASK_ID = "WBVLA-LMO-X2-v0"

if TASK_ID not in gym.registry:
    gym.register(
        id=TASK_ID,
        entry_point="isaaclab.envs:ManagerBasedRLEnv",
        disable_env_checker=True,
        kwargs={
            "env_cfg_entry_point": f"{__name__}.env_cfg:LMOEnvCfg",
            "rsl_rl_cfg_entry_point": f"{__name__}.agents:LMOPPORunnerCfg",
            "default_agent": "rsl_rl",
        },
    )
