"""Multi-GPU (multi-process) LMO training under `torchrun`: one process per GPU, PPO's gradients all-reduced.

    torchrun --nproc_per_node=<GPUs> -m lerobot_wbvla.lmo.train --backend=warp --env.num_envs=4096 ...

torchrun sets WORLD_SIZE, RANK and LOCAL_RANK (and MASTER_ADDR/PORT). Each rank builds its env on
cuda:LOCAL_RANK (or the CPU), with its own seed (seed + rank: different episodes, the same clip library), and its
own RSL-RL runner; rank 0's parameters are broadcast at the start, and RSL-RL's PPO all-reduces the gradients of
every mini-batch (`PPO.reduce_parameters`) and the observation normaliser's statistics, so the ranks' parameters
stay identical. Only rank 0 writes (metrics, tensorboard, checkpoints, export, card, Hub push).

Why not RSL-RL's own set-up (`OnPolicyRunner._configure_multi_gpu`, taken when WORLD_SIZE > 1): it requires the
runner's device to be `cuda:LOCAL_RANK`, calls `init_process_group(backend="nccl")` and `torch.cuda.set_device`,
so it cannot run on a machine without GPUs. Here the process group is initialised by us (nccl on GPUs, gloo on
CPUs: `--dist_backend`), the runner is built as a single-process one, and PPO is then given the multi-GPU
settings RSL-RL would have given it (`multi_gpu` config, `is_multi_gpu`, ranks) and the broadcast. From there the
code is RSL-RL's, the same on CPU (gloo, the tests) and GPU (nccl).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class DistInfo:
    world_size: int = 1
    rank: int = 0
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def dist_info() -> DistInfo:
    """The process's place in a torchrun launch (WORLD_SIZE / RANK / LOCAL_RANK), or a single process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    rank, local = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    if not (0 <= rank < world and 0 <= local < world):
        raise ValueError(f"torchrun ranks out of range: RANK={rank}, LOCAL_RANK={local}, WORLD_SIZE={world}")
    return DistInfo(world, rank, local)


def warp_device_for(requested: str, info: DistInfo) -> str:
    """The warp device of this rank: cuda:LOCAL_RANK under torchrun when GPUs are asked for (auto with a GPU,
    cuda, or exactly cuda:LOCAL_RANK); cpu stays cpu (the tests); another GPU index is an error."""
    if not info.enabled:
        return requested
    mine = f"cuda:{info.local_rank}"
    if requested == "cpu":
        return "cpu"
    if requested == "auto":
        return mine if torch.cuda.is_available() else "cpu"
    if requested in ("cuda", mine):
        if torch.cuda.device_count() <= info.local_rank:
            raise ValueError(
                f"torchrun rank {info.rank} (LOCAL_RANK={info.local_rank}) needs {mine}, but torch sees "
                f"{torch.cuda.device_count()} GPU(s): start at most that many processes per node"
            )
        return mine
    raise ValueError(
        f"--warp.device={requested} under torchrun: each rank runs on cuda:LOCAL_RANK; pass --warp.device=auto "
        "(or cuda, or cpu)"
    )


def init_process_group(info: DistInfo, device: torch.device, backend: str = "auto") -> str:
    """Join torchrun's process group (env:// rendezvous); returns the backend used. nccl needs CUDA devices."""
    import torch.distributed as dist

    if backend == "auto":
        backend = "nccl" if device.type == "cuda" else "gloo"
    if backend == "nccl" and device.type != "cuda":
        raise ValueError("--dist_backend=nccl needs the env on a CUDA device; on CPUs use gloo (or auto)")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, rank=info.rank, world_size=info.world_size)
    return backend


@contextlib.contextmanager
def _single_process_view():
    """Hide WORLD_SIZE while RSL-RL's runner is built, so it does not run its CUDA-only set-up (module doc)."""
    saved = os.environ.get("WORLD_SIZE")
    os.environ["WORLD_SIZE"] = "1"
    try:
        yield
    finally:
        if saved is None:
            del os.environ["WORLD_SIZE"]
        else:
            os.environ["WORLD_SIZE"] = saved


def build_runner(env, train_cfg: dict, device: str, info: DistInfo):
    """RSL-RL's OnPolicyRunner for this process; under torchrun with PPO's multi-GPU settings and rank 0's
    parameters broadcast (call after init_process_group)."""
    from rsl_rl.runners import OnPolicyRunner

    if not info.enabled:
        return OnPolicyRunner(env, train_cfg, log_dir=None, device=device)
    with _single_process_view():
        runner = OnPolicyRunner(env, train_cfg, log_dir=None, device=device)
    multi = {"global_rank": info.rank, "local_rank": info.local_rank, "world_size": info.world_size}
    runner.cfg["multi_gpu"] = multi
    runner.is_distributed = True
    runner.gpu_world_size, runner.gpu_global_rank, runner.gpu_local_rank = (
        info.world_size,
        info.rank,
        info.local_rank,
    )
    alg = runner.alg
    alg.is_multi_gpu = True
    alg.gpu_global_rank, alg.gpu_world_size = info.rank, info.world_size
    return runner


def broadcast_parameters(runner, info: DistInfo) -> None:
    """Rank 0's actor and critic (and normaliser) to every rank: after init and after a resume."""
    if info.enabled:
        runner.alg.broadcast_parameters()


def all_reduce(values: list[float], info: DistInfo, op: str = "sum") -> list[float]:
    """A few numbers reduced over ranks ("sum" or "max"): the curriculum's falls and robot-seconds (one level for
    all ranks) and the training time (one stop decision for all ranks: a rank that stopped alone would leave the
    others waiting in the next all-reduce)."""
    if not info.enabled:
        return list(values)
    import torch.distributed as dist

    t = torch.tensor(values, dtype=torch.float64)
    if dist.get_backend() == "nccl":
        t = t.cuda()
    dist.all_reduce(t, op=dist.ReduceOp.SUM if op == "sum" else dist.ReduceOp.MAX)
    return t.cpu().tolist()


def leave_process_group(info: DistInfo) -> None:
    if info.enabled:
        import torch.distributed as dist

        if dist.is_initialized():  # no barrier: rank 0 may spend minutes on the export and the Hub push
            dist.destroy_process_group()
