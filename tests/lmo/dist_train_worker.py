"""One torchrun rank of tests/lmo/test_distributed_train.py: runs `wbvla-train-lmo`'s own main() with the
command-line args, from its own folder (`<base>/rank<r>`, so a relative --output_dir shows which rank wrote), and
records what the test checks beside it: the rank's parameters after training and its env's seed."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import torch

import lerobot_wbvla.lmo.train as T


def main() -> None:
    base, rank = Path(sys.argv.pop(1)), int(os.environ["RANK"])
    own = base / f"rank{rank}"
    own.mkdir(parents=True, exist_ok=True)
    os.chdir(own)
    train = T.train

    def recorded(cfg):
        result = train(cfg)
        alg = result.runner.alg
        params = {f"actor.{k}": v for k, v in alg.actor.state_dict().items()}
        params |= {f"critic.{k}": v for k, v in alg.critic.state_dict().items()}
        torch.save(params, base / f"params_rank{rank}.pt")
        info = {
            "rank": rank,
            "world_size": int(os.environ["WORLD_SIZE"]),
            "iterations": result.iterations,
            "env_seed": result.runner.env.cfg.seed,
            "multi_gpu": result.runner.cfg["multi_gpu"],
            "first_commands": result.runner.env.current_loco().tolist(),
        }
        (base / f"ran_rank{rank}.json").write_text(json.dumps(info))
        return result

    T.train = recorded
    T.main()


if __name__ == "__main__":
    main()
