#!/usr/bin/env python3
"""Writes the data sets of the fourth held-out fault zoo (bench/zoo-heldout4) under OUTDIR.

    python3 scripts/make-heldout4-data.py OUTDIR       # e.g. bench/zoo-heldout4/data

Python 3 standard library only, deterministic (fixed seeds: the same bytes on every machine and
every run) and idempotent: when OUTDIR/.done holds this script's version stamp it does nothing. A
lock file makes concurrent invocations wait for each other instead of writing the same files
twice. The command line, lock and stamp (generate()) and the IDX reader/writer come from
scripts/make-heldout-data.py, the IDX file naming and clamp8 from scripts/make-heldout2-data.py
(both loaded by path; their output is untouched).

Source for p5: Fashion-MNIST from Debian's dataset-fashion-mnist
(/usr/share/datasets/fashion-mnist, IDX, gzip), or --source DIR. The other two are procedural.

  tops5-20/       IDX (gzip), 1x20x20 grey, 5 Fashion-MNIST classes (0 T-shirt/top, 2 Pullover,
                  4 Coat, 6 Shirt, 8 Bag -> 0..4: four easily confused upper-body garments and
                  one easy class), each image area-resampled 28x28 -> 20x20. train 5000 (1000 a
                  class), t10k 1000.
  gratings6/      CIFAR-10 binary batches (data_batch_1.bin, test_batch.bin), 3x32x32 RGB, 6
                  classes = 3 stripe orientations (0, 60, 120 degrees, each +-14 degrees) x 2
                  colour families of the stripes (warm: hue -35..35 degrees; cool: 165..235),
                  a sinusoidal grating of random period (3.5-8 px), phase and contrast inside a
                  soft disc of random size and place, over a background of random colour with
                  low-frequency blotches and Gaussian pixel noise. train 4800 (800 a class),
                  test 960.
  segments12/     IDX (uncompressed), 1x22x22 grey, 12 classes of seven-segment glyphs (the
                  digits 0-9, A and H) drawn as thick jittered strokes: random size, place,
                  slant, stroke width and end points, random polarity (light on dark or dark on
                  light), a distractor stroke and Gaussian pixel noise. train 4800 (400 a
                  class), t10k 960. Chance ln 12 = 2.485.
"""
import colorsys
import importlib.util
import math
import os
import random
import sys

VERSION = "heldout4-data v1"  # bump whenever the output changes
HERE = os.path.dirname(os.path.abspath(__file__))

TOPS5_CLASSES = [0, 2, 4, 6, 8]  # T-shirt/top, Pullover, Coat, Shirt, Bag -> 0..4
TOPS5_TRAIN, TOPS5_VAL = 5000, 1000
TOPS5_SIZE = 20
GRATING_ANGLES = [0.0, 60.0, 120.0]
GRATING_HUES = [(-35.0, 35.0), (165.0, 235.0)]  # warm, cool (degrees)
GRATING_TRAIN, GRATING_VAL = 800, 160  # per class
SEG_SIZE = 22
SEG_TRAIN, SEG_VAL = 400, 80  # per class
# seven segments a..g: a top, b upper right, c lower right, d bottom, e lower left, f upper left, g middle
SEGMENTS = {"a": ((0, 0), (1, 0)), "b": ((1, 0), (1, 1)), "c": ((1, 1), (1, 2)), "d": ((0, 2), (1, 2)),
            "e": ((0, 1), (0, 2)), "f": ((0, 0), (0, 1)), "g": ((0, 1), (1, 1))}
GLYPHS = ["abcdef", "bc", "abdeg", "abcdg", "bcfg", "acdfg", "acdefg", "abc", "abcdefg", "abcdfg",
          "abcefg", "bcefg"]  # 0-9, A, H


def _load(name, filename):
    """A sibling script (a hyphenated name, so loaded by path)."""
    spec = importlib.util.spec_from_file_location(name, os.path.join(HERE, filename))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


H1 = _load("make_heldout_data", "make-heldout-data.py")
H2 = _load("make_heldout2_data", "make-heldout2-data.py")
clamp8 = H2.clamp8


# --- tops5-20 --------------------------------------------------------------------------------

def _area_weights(n_in, n_out):
    """For each output index, [(input index, weight)] of a box filter (weights sum to 1)."""
    ratio = n_in / n_out
    table = []
    for o in range(n_out):
        lo, hi = o * ratio, (o + 1) * ratio
        row = []
        i = int(lo)
        while i < hi - 1e-9:
            w = min(hi, i + 1) - max(lo, i)
            if w > 1e-9:
                row.append((i, w / ratio))
            i += 1
        table.append(row)
    return table


WEIGHTS_28_20 = _area_weights(28, TOPS5_SIZE)


def shrink20(img28):
    """28x28 grey bytes -> 20x20 by area resampling."""
    rows = []
    for r in range(28):
        line = img28[r * 28:(r + 1) * 28]
        rows.append([sum(line[i] * w for i, w in WEIGHTS_28_20[c]) for c in range(TOPS5_SIZE)])
    out = bytearray()
    for r in range(TOPS5_SIZE):
        for c in range(TOPS5_SIZE):
            out.append(clamp8(sum(rows[i][c] * w for i, w in WEIGHTS_28_20[r])))
    return bytes(out)


def make_tops5(src, out):
    rng = random.Random(20261210)
    os.makedirs(out)
    relabel = {c: k for k, c in enumerate(TOPS5_CLASSES)}
    for prefix, n in (("train", TOPS5_TRAIN), ("t10k", TOPS5_VAL)):
        images, h, w = H1.read_idx_images(os.path.join(src, f"{prefix}-images-idx3-ubyte.gz"))
        labels = H1.read_idx_labels(os.path.join(src, f"{prefix}-labels-idx1-ubyte.gz"))
        assert (h, w) == (28, 28)
        idx = H1.stratified(labels, n // len(TOPS5_CLASSES), TOPS5_CLASSES, rng)
        rng.shuffle(idx)
        H2.write_idx_pair(out, prefix, [shrink20(images[i]) for i in idx],
                          [relabel[labels[i]] for i in idx], TOPS5_SIZE, TOPS5_SIZE)


# --- gratings6 -------------------------------------------------------------------------------

def _rgb(hue_deg, sat, val):
    return [255 * v for v in colorsys.hsv_to_rgb((hue_deg % 360) / 360, sat, val)]


def grating_image(cls, rng):
    """3x32x32 RGB bytes (channel-major, as in CIFAR-10's records)."""
    n = 32
    orient, family = divmod(cls, 2)
    angle = math.radians(GRATING_ANGLES[orient] + rng.uniform(-14, 14))
    k = 2 * math.pi / rng.uniform(3.5, 8.0)
    kx, ky = k * math.cos(angle), k * math.sin(angle)  # stripes run across the wave vector
    phase = rng.uniform(0, 2 * math.pi)
    stripe = _rgb(rng.uniform(*GRATING_HUES[family]), rng.uniform(0.45, 1.0), rng.uniform(0.55, 1.0))
    bg = _rgb(rng.uniform(0, 360), rng.uniform(0.0, 0.5), rng.uniform(0.2, 0.8))
    blot = [_rgb(rng.uniform(0, 360), rng.uniform(0.0, 0.5), rng.uniform(0.2, 0.8)) for _ in range(2)]
    blot_k = [(rng.uniform(-0.35, 0.35), rng.uniform(-0.35, 0.35), rng.uniform(0, 2 * math.pi)) for _ in range(2)]
    radius = rng.uniform(8, 15)
    cx, cy = rng.uniform(radius - 3, n - radius + 3), rng.uniform(radius - 3, n - radius + 3)
    contrast = rng.uniform(0.5, 1.0)
    noise = rng.uniform(8, 22)
    planes = [bytearray(), bytearray(), bytearray()]
    for y in range(n):
        for x in range(n):
            under = list(bg)
            for (bx, by, bp), col in zip(blot_k, blot):
                t = 0.25 * (1 + math.cos(bx * x + by * y + bp))  # 0..0.5
                under = [u + (c - u) * t for u, c in zip(under, col)]
            d = math.hypot(x + 0.5 - cx, y + 0.5 - cy)
            disc = min(1.0, max(0.0, radius - d))  # soft edge, 1 px wide
            a = disc * contrast * 0.5 * (1 + math.cos(kx * x + ky * y + phase))
            for c in range(3):
                planes[c].append(clamp8(under[c] + (stripe[c] - under[c]) * a + rng.gauss(0, noise)))
    return bytes(planes[0] + planes[1] + planes[2])


def make_gratings6(out):
    rng = random.Random(20261211)
    os.makedirs(out)
    for name, per_class in (("data_batch_1.bin", GRATING_TRAIN), ("test_batch.bin", GRATING_VAL)):
        labels = [c for c in range(6) for _ in range(per_class)]
        rng.shuffle(labels)  # records in random order, as CIFAR's batches are
        with open(os.path.join(out, name), "wb") as f:
            for c in labels:
                f.write(bytes([c]) + grating_image(c, rng))


# --- segments12 ------------------------------------------------------------------------------

def _stroke_cover(px, py, x0, y0, x1, y1, half):
    """Coverage 0..1 of point (px, py) by a stroke of half-width `half` (1 px soft edge)."""
    dx, dy = x1 - x0, y1 - y0
    L2 = dx * dx + dy * dy
    t = 0.0 if L2 == 0 else max(0.0, min(1.0, ((px - x0) * dx + (py - y0) * dy) / L2))
    d = math.hypot(px - (x0 + t * dx), py - (y0 + t * dy))
    return min(1.0, max(0.0, half + 0.5 - d))


def segment_image(cls, rng):
    n = SEG_SIZE
    h = rng.uniform(12, 17)  # glyph height
    w = h * rng.uniform(0.4, 0.6)
    slant = rng.uniform(-0.25, 0.25)
    x0 = rng.uniform(2 + abs(slant) * h / 2, n - 2 - w - abs(slant) * h / 2)
    y0 = rng.uniform(2, n - 2 - h)
    half = rng.uniform(0.6, 1.2)

    def point(u, v):  # (u, v) in segment units (0..1, 0..2) -> pixels, slanted, jittered
        px = x0 + u * w + slant * (h / 2 - v * h / 2) + rng.uniform(-0.7, 0.7)
        py = y0 + v * h / 2 + rng.uniform(-0.7, 0.7)
        return px, py

    strokes = []
    for s in GLYPHS[cls]:
        (u0, v0), (u1, v1) = SEGMENTS[s]
        strokes.append(point(u0, v0) + point(u1, v1))
    # a distractor: a short stroke somewhere, thinner and fainter
    ax, ay = rng.uniform(0, n), rng.uniform(0, n)
    a = rng.uniform(0, 2 * math.pi)
    length = rng.uniform(2, 5)
    distractor = (ax, ay, ax + length * math.cos(a), ay + length * math.sin(a))
    ink, paper = (rng.uniform(170, 250), rng.uniform(10, 90))
    if rng.random() < 0.5:
        ink, paper = 255 - ink, 255 - paper
    faint = rng.uniform(0.3, 0.6)
    noise = rng.uniform(8, 28)
    out = bytearray()
    for y in range(n):
        for x in range(n):
            px, py = x + 0.5, y + 0.5
            cover = 0.0
            for s in strokes:
                cover = max(cover, _stroke_cover(px, py, *s, half))
            cover = max(cover, faint * _stroke_cover(px, py, *distractor, 0.5))
            out.append(clamp8(paper + (ink - paper) * cover + rng.gauss(0, noise)))
    return bytes(out)


def make_segments12(out):
    rng = random.Random(20261212)
    os.makedirs(out)
    for prefix, per_class in (("train", SEG_TRAIN), ("t10k", SEG_VAL)):
        labels = [c for c in range(len(GLYPHS)) for _ in range(per_class)]
        rng.shuffle(labels)
        images = [segment_image(c, rng) for c in labels]
        H1.write_idx_raw(out, prefix, images, labels, SEG_SIZE, SEG_SIZE)


# --- main ------------------------------------------------------------------------------------

def main():
    return H1.generate(__doc__.split("\n")[0], VERSION, "held-out-4",
                       [("tops5-20", make_tops5), ("gratings6", lambda source, d: make_gratings6(d)),
                        ("segments12", lambda source, d: make_segments12(d))])


if __name__ == "__main__":
    sys.exit(main())
