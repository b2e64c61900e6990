"""Multi-process training under `torchrun`: process group from the environment, DDP, one writer (rank 0).

`torchrun --nproc-per-node N -m tui_trainer train CONFIG --headless` sets RANK/WORLD_SIZE/LOCAL_RANK; the
engine then joins a process group (NCCL on CUDA, gloo on CPU), wraps the model in
DistributedDataParallel and shards each epoch with DistributedSampler. Only rank 0 writes events and
checkpoints. Decisions that must be unanimous (stop, NaN) are all-reduced at fixed steps, so no rank is
left waiting in a collective that the others have abandoned.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def env_world_size() -> int:
    try:
        return int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        return 1


def init_from_env(use_cuda: bool) -> DistContext:
    """Join the process group torchrun describes; a single process gets a disabled context."""
    world = env_world_size()
    if world <= 1:
        return DistContext()
    import torch
    import torch.distributed as dist

    backend = "nccl" if use_cuda and dist.is_nccl_available() else "gloo"
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if backend == "nccl":
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return DistContext(
        rank=dist.get_rank(), world_size=dist.get_world_size(), local_rank=local_rank, backend=backend
    )


def agree(ctx: DistContext, flags: list[int], device) -> list[int]:
    """Element-wise max of integer flags over all ranks (a flag any rank raised is raised for all)."""
    if not ctx.enabled:
        return flags
    import torch
    import torch.distributed as dist

    tensor = torch.tensor(flags, dtype=torch.int64, device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return [int(v) for v in tensor.tolist()]


def all_pids(ctx: DistContext) -> set[int]:
    """Every rank's pid (so the GPU view can mark all training processes, not only rank 0's)."""
    if not ctx.enabled:
        return {os.getpid()}
    import torch.distributed as dist

    gathered: list[int | None] = [None] * ctx.world_size
    dist.all_gather_object(gathered, os.getpid())
    return {int(p) for p in gathered if p is not None}


def wrap_model(ctx: DistContext, model, device):
    if not ctx.enabled:
        return model
    from torch.nn.parallel import DistributedDataParallel

    if device.type == "cuda":
        return DistributedDataParallel(model, device_ids=[device.index])
    return DistributedDataParallel(model)


def barrier(ctx: DistContext) -> None:
    if ctx.enabled:
        import torch.distributed as dist

        dist.barrier()


def shutdown(ctx: DistContext) -> None:
    if ctx.enabled:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()
