#!/usr/bin/python3
"""PyTorch DistributedDataParallel baseline for bench/perf/ddp-fashion-mnist.yaml (run_ddp.py).

--nproc processes on this machine (torch.multiprocessing.spawn), each with --threads intra-op
threads, joined in a Gloo process group over TCP on 127.0.0.1, like `torchrun --standalone`.
The model, init, data, preprocessing and optimiser are pytorch_baseline.py's (the same as the
lossdoctor spec); each rank wraps the model in DistributedDataParallel (default 25 MB buckets:
this 421 k-parameter model is one bucket, all-reduced while backward runs) and reads its shard
through a DistributedSampler (seeded, set_epoch every epoch, padded to equal shards), --batch-size
images per rank per step, by index_select on the preloaded tensors as pytorch_baseline.py does.

Batch norm buffers stay per rank (broadcast_buffers=False), as in lossdoctor's data-parallel
runs; --broadcast-buffers gives DDP's default (rank 0's buffers broadcast before every forward).

Rank 0 prints one JSON object: images_per_second of the global batch over --steps steps after
--warmup steps, and the per-step training loss averaged over the ranks (each rank keeps its own
losses; they are summed once at the end, so logging adds no collective to the loop).
Runs under Debian's /usr/bin/python3 with python3-torch 1.13.1.
"""
import argparse
import json
import os
import socket
import sys
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data.distributed import DistributedSampler

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch_baseline import load_fashion_mnist, make_model  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker(rank, a, port):
    torch.set_num_threads(a.threads)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=a.nproc)
    x_all, y_all, load_seconds, prepare_seconds = load_fashion_mnist(a.data, a.limit)
    torch.manual_seed(a.seed)
    model = make_model()
    model.train()
    ddp = DistributedDataParallel(model, broadcast_buffers=a.broadcast_buffers)
    opt = torch.optim.Adam(ddp.parameters(), lr=a.lr)
    torch.manual_seed(a.seed * 1000 + 1 + rank)  # dropout masks per rank
    sampler = DistributedSampler(range(x_all.shape[0]), num_replicas=a.nproc, rank=rank,
                                 shuffle=True, seed=a.seed)
    per_epoch = len(sampler) // a.batch_size

    losses = []
    start = None
    order = None
    for step in range(a.warmup + a.steps):
        if step == a.warmup:
            start = time.perf_counter()
        epoch, i = divmod(step, per_epoch)
        if i == 0:
            sampler.set_epoch(epoch)
            order = torch.tensor(list(sampler), dtype=torch.int64)
        idx = order[i * a.batch_size:(i + 1) * a.batch_size]
        xb = x_all.index_select(0, idx)
        yb = y_all.index_select(0, idx)
        opt.zero_grad()
        loss = F.cross_entropy(ddp(xb), yb)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    seconds = time.perf_counter() - start

    mean_losses = torch.tensor(losses, dtype=torch.float64)
    dist.all_reduce(mean_losses)
    mean_losses /= a.nproc
    if rank == 0:
        print(json.dumps({
            "impl": "pytorch_ddp",
            "torch": torch.__version__,
            "backend": dist.get_backend(),
            "world_size": a.nproc,
            "threads_per_rank": torch.get_num_threads(),
            "batch_size_per_rank": a.batch_size,
            "global_batch_size": a.batch_size * a.nproc,
            "broadcast_buffers": a.broadcast_buffers,
            "seed": a.seed,
            "warmup": a.warmup,
            "steps": a.steps,
            "load_seconds": load_seconds,
            "prepare_seconds": prepare_seconds,
            "seconds": seconds,
            "images_per_second": a.steps * a.batch_size * a.nproc / seconds,
            "loss": mean_losses.tolist(),
        }), flush=True)
    dist.destroy_process_group()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--limit", type=int, default=60000)
    p.add_argument("--nproc", type=int, default=2)
    p.add_argument("--threads", type=int, default=1, help="intra-op threads per rank")
    p.add_argument("--batch-size", type=int, default=32, help="per rank")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--broadcast-buffers", action="store_true")
    a = p.parse_args()
    mp.spawn(worker, args=(a, free_port()), nprocs=a.nproc, join=True)


if __name__ == "__main__":
    main()
