"""Wall-time overhead of lossdoctor.Monitor on a plain PyTorch loop, side by side in one process.

Two copies of the same CNN train on the same Fashion-MNIST batches, step by step in turn (the
order flips every step, so both loops see the same machine noise); the overhead is the median
over rounds of (watched time / plain time − 1). Target: ≤ 3 % at the default probe stride.

    PYTHONPATH=build/python OMP_NUM_THREADS=1 /usr/bin/python3 bench/python/monitor_overhead.py
"""
import argparse
import copy
import gzip
import os
import statistics
import time

import numpy as np
import torch
from torch import nn

import lossdoctor

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--rounds", type=int, default=8)
parser.add_argument("--steps", type=int, default=60, help="steps per round and loop")
parser.add_argument("--batch", type=int, default=64)
parser.add_argument("--probe-every", type=int, default=10)
args = parser.parse_args()
torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
torch.manual_seed(0)

root = "/usr/share/datasets/fashion-mnist"
with gzip.open(f"{root}/train-images-idx3-ubyte.gz") as f:
    images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)[:8192]
with gzip.open(f"{root}/train-labels-idx1-ubyte.gz") as f:
    labels = np.frombuffer(f.read(), np.uint8, offset=8)[:8192]
images = (torch.from_numpy(images.astype(np.float32)) / 255 - 0.286) / 0.353
labels = torch.from_numpy(labels.astype(np.int64))

base = nn.Sequential(
    nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))
loops = {}
for name in ("plain", "watched"):
    model = copy.deepcopy(base)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    mon = lossdoctor.Monitor(model, opt, num_classes=10, probe_every=args.probe_every) \
        if name == "watched" else None
    loops[name] = (model, opt, mon)
criterion = nn.CrossEntropyLoss()
batches = torch.randperm(len(images)).split(args.batch)


def one_step(name, i):
    model, opt, mon = loops[name]
    idx = batches[i % len(batches)]
    x, y = images[idx], labels[idx]
    start = time.perf_counter()
    opt.zero_grad()
    loss = criterion(model(x), y)
    loss.backward()
    opt.step()
    if mon is not None:
        mon.step(loss, inputs=x, targets=y)
    return time.perf_counter() - start


for i in range(20):  # warm-up
    one_step("plain", i), one_step("watched", i)
# Step by step, alternating which loop goes first: both see the same machine noise.
ratios = []
for r in range(args.rounds):
    times = {"plain": 0.0, "watched": 0.0}
    for i in range(args.steps):
        order = ("plain", "watched") if i % 2 == 0 else ("watched", "plain")
        for name in order:
            times[name] += one_step(name, r * args.steps + i)
    ratios.append(times["watched"] / times["plain"])
    print(f"round {r}: plain {times['plain']:.3f} s, watched {times['watched']:.3f} s, "
          f"ratio {ratios[-1]:.3f}", flush=True)
overhead = statistics.median(ratios) - 1
print(f"overhead: {100 * overhead:+.1f}% (median of {args.rounds} rounds of {args.steps} steps, "
      f"batch {args.batch}, probe every {args.probe_every}, {torch.get_num_threads()} thread(s))")
