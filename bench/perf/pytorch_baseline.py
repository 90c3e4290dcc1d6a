#!/usr/bin/python3
"""PyTorch eager baseline for examples/fashion-mnist.yaml (bench/perf, docs/BENCHMARKS.md).

Same model (conv32-bn-relu-maxpool, conv64-bn-relu-maxpool, flatten, dense128, relu,
dropout 0.3, dense10), same init (he_normal weights = normal(0, sqrt(2/fan_in)), zero biases),
same data (first --limit training images of Fashion-MNIST, IDX gz), same preprocessing done
once up front (x/255, then (x-0.286)/0.353), same shuffled batches of 64, Adam lr 1e-3,
cross entropy on logits. The loop is idiomatic eager PyTorch: index a shuffled permutation,
zero_grad, forward, loss, backward, step, loss.item() for logging.

Prints one JSON object: images_per_second over --steps steps after --warmup steps.
With --breakdown, times each part of the step separately (ms per step).
Runs under Debian's /usr/bin/python3 with python3-torch 1.13.1 (and numpy).
"""
import argparse
import gzip
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[0:4], "big")
    ndim = magic & 0xFF
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_fashion_mnist(data_dir, limit):
    """The first `limit` training images, scaled and normalised once up front as the spec does.

    Returns (images [N, 1, 28, 28] float32, labels [N] int64, load_seconds, prepare_seconds).
    """
    t0 = time.perf_counter()
    images = read_idx(os.path.join(data_dir, "train-images-idx3-ubyte.gz"))[:limit]
    labels = read_idx(os.path.join(data_dir, "train-labels-idx1-ubyte.gz"))[:limit]
    load_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    x_all = torch.from_numpy(images.astype(np.float32)).unsqueeze(1)  # [N, 1, 28, 28]
    x_all = (x_all * (1.0 / 255.0) - 0.286) / 0.353
    y_all = torch.from_numpy(labels.astype(np.int64))
    return x_all, y_all, load_seconds, time.perf_counter() - t0


def make_model():
    model = nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32, eps=1e-5, momentum=0.1), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64, eps=1e-5, momentum=0.1), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.3),
        nn.Linear(128, 10),
    )
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                fan_in = m.weight[0].numel()
                m.weight.normal_(0.0, math.sqrt(2.0 / fan_in))
                m.bias.zero_()
    return model


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--limit", type=int, default=20000)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--breakdown", action="store_true")
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)

    x_all, y_all, load_seconds, prepare_seconds = load_fashion_mnist(a.data, a.limit)

    model = make_model()
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    n = x_all.shape[0]
    per_epoch = n // a.batch_size
    gen = torch.Generator().manual_seed(a.seed)
    perm = None
    parts = {}

    def lap(name, t):
        now = time.perf_counter()
        parts[name] = parts.get(name, 0.0) + now - t
        return now

    start = None
    for step in range(a.warmup + a.steps):
        if step == a.warmup:
            parts.clear()
            start = time.perf_counter()
        t = time.perf_counter()
        i = step % per_epoch
        if i == 0:
            perm = torch.randperm(n, generator=gen)
        idx = perm[i * a.batch_size:(i + 1) * a.batch_size]
        xb = x_all.index_select(0, idx)
        yb = y_all.index_select(0, idx)
        if a.breakdown:
            t = lap("loader_batch", t)
        opt.zero_grad()
        if a.breakdown:
            t = lap("zero_grad", t)
        loss = F.cross_entropy(model(xb), yb)
        if a.breakdown:
            t = lap("forward_loss", t)
        loss.backward()
        if a.breakdown:
            t = lap("backward", t)
        opt.step()
        if a.breakdown:
            t = lap("optimizer_step", t)
        loss_value = loss.item()  # noqa: F841  (logging, as a real loop does)
        if a.breakdown:
            t = lap("loss_item", t)
    seconds = time.perf_counter() - start

    out = {
        "impl": "pytorch_eager",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "batch_size": a.batch_size,
        "warmup": a.warmup,
        "steps": a.steps,
        "load_seconds": load_seconds,
        "prepare_seconds": prepare_seconds,
        "seconds": seconds,
        "images_per_second": a.steps * a.batch_size / seconds,
    }
    if a.breakdown:
        out["mode"] = "breakdown"
        out["ms_per_step"] = {k: v / a.steps * 1e3 for k, v in sorted(parts.items())}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
