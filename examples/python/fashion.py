"""Shared by the examples: Fashion-MNIST from Debian's dataset-fashion-mnist, and a command line.

Nothing here is lossdoctor: it is the data loading and argument parsing any PyTorch script has.
"""
import argparse
import gzip
import os
import sys

import numpy as np
import torch

ROOT = os.environ.get("FASHION_MNIST", "/usr/share/datasets/fashion-mnist")
MEAN, STD = 0.286, 0.353  # Fashion-MNIST's pixel mean and std after scaling to [0, 1]


def _read_idx(name, offset):
    with gzip.open(os.path.join(ROOT, name)) as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


def load(split, limit):
    """(images as float [N, 1, 28, 28] in 0–255, labels int64 [N]): the first `limit` of a split."""
    prefix = "train" if split == "train" else "t10k"
    images = _read_idx(f"{prefix}-images-idx3-ubyte.gz", 16).reshape(-1, 1, 28, 28)[:limit]
    labels = _read_idx(f"{prefix}-labels-idx1-ubyte.gz", 8)[:limit]
    return torch.from_numpy(images.astype(np.float32)), torch.from_numpy(labels.astype(np.int64))


def normalize(images):
    return (images / 255.0 - MEAN) / STD


def arguments(description, steps):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--steps", type=int, default=steps, help="training steps (default %(default)s)")
    parser.add_argument("--limit", type=int, default=6000, help="training images (default %(default)s)")
    parser.add_argument("--json", help="write the report (lossdoctor diagnose --json shape) here")
    parser.add_argument("--record", help="write the RunRecord here (lossdoctor diagnose --record-in)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-early-stop", action="store_true",
                        help="train all --steps even when the diagnosis has settled")
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    return args


def finish(mon, args):
    """Prints the diagnosis, writes the files asked for; exit status 0 healthy, 1 faults."""
    print(mon)
    if args.json:
        import json
        with open(args.json, "w") as f:
            json.dump(mon.report(), f, indent=2)
    if args.record:
        mon.save(args.record)
    sys.exit(0 if mon.verdict == "healthy" else 1)
