#!/usr/bin/env python3
"""Writes the data sets of the eighth held-out fault zoo (bench/zoo-heldout8) under OUTDIR.

    python3 scripts/make-heldout8-data.py OUTDIR       # e.g. bench/zoo-heldout8/data

Python 3 standard library only, deterministic (fixed seeds: the same bytes on every machine and
every run) and idempotent: when OUTDIR/.done holds this script's version stamp it does nothing. A
lock file makes concurrent invocations wait for each other instead of writing the same files
twice; each set is written under a temporary name and renamed into place. All three sets are
procedural (no Fashion-MNIST source). Reused by path, not copied: the version stamp of
scripts/make-heldout-data.py, the gzip IDX pair writer and clamp8 of scripts/make-heldout2-data.py,
the grey PNG writer of scripts/make-heldout5-data.py and the colour helpers of
scripts/make-heldout6-data.py; their output is untouched.

  tally2/         IDX (gzip), 1x12x28 grey (not square), 2 classes: 0 = the left half of the
                  strip holds more dots than the right half, 1 = the right half holds more.
                  1-6 dots a side (the counts differ by 1-3), each a soft disc of radius
                  0.85-1.45 px (so the amount of ink is only a rough proxy for the count), a
                  faint divider (50%), random polarity and grey levels, Gaussian pixel noise.
                  train 4000 (2000 a class), t10k 800.
  hues6/          CIFAR-10 binary batches (data_batch_1.bin, test_batch.bin), 3x32x32 RGB, 6
                  classes = the hue family (0 red, 1 yellow, 2 green, 3 cyan, 4 blue, 5
                  magenta; +-17 degrees) of the largest of two or three soft ellipses; the
                  others are smaller (0.5-0.78 of its radii) and of other hue families; a
                  low-saturation gradient background, Gaussian pixel noise. train 3600 (600 a
                  class), test 720.
  arrows9/        folder of 8-bit grey PNG files (train/<class>/, val/<class>/), 1x20x20, 9
                  classes (sorted folder names 0-e, 1-ne, 2-n, 3-nw, 4-w, 5-sw, 6-s, 7-se,
                  8-both): the direction of one arrow (eight compass directions +-12 degrees)
                  or a double-headed arrow at any angle; shaft 9-14 px, heads 3-4.5 px,
                  strokes 1.1-2 px thick, placed within +-2 px of the centre, a short
                  distractor stroke (50%), random polarity and grey levels, Gaussian pixel
                  noise. train 3600 (400 a class), val 720.
"""
import importlib.util
import math
import os
import random
import sys

VERSION = "heldout8-data v1"  # bump whenever the output changes
HERE = os.path.dirname(os.path.abspath(__file__))

TALLY_H, TALLY_W = 12, 28
TALLY_TRAIN, TALLY_VAL = 2000, 400  # per class, 2 classes
HUE_SIZE = 32
HUE_TRAIN, HUE_VAL = 600, 120  # per class, 6 classes
ARROWS = ["0-e", "1-ne", "2-n", "3-nw", "4-w", "5-sw", "6-s", "7-se", "8-both"]  # sorted: ids 0..8
ARROW_SIZE = 20
ARROW_TRAIN, ARROW_VAL = 400, 80  # per class


def _load(name, filename):
    """A sibling script (a hyphenated name, so loaded by path)."""
    spec = importlib.util.spec_from_file_location(name, os.path.join(HERE, filename))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


H1 = _load("make_heldout_data", "make-heldout-data.py")
H2 = _load("make_heldout2_data", "make-heldout2-data.py")
H5 = _load("make_heldout5_data", "make-heldout5-data.py")
H6 = _load("make_heldout6_data", "make-heldout6-data.py")
clamp8 = H2.clamp8


def _levels(rng, lo_gap=90):
    """(ink, paper) grey levels at least `lo_gap` apart, either polarity."""
    ink, paper = rng.uniform(150, 250), rng.uniform(0, 255)
    while abs(ink - paper) < lo_gap:
        paper = rng.uniform(0, 255)
    if rng.random() < 0.5:
        ink, paper = 255 - ink, 255 - paper
    return ink, paper


def _labels(classes, per_class, rng):
    labels = [c for c in range(classes) for _ in range(per_class)]
    rng.shuffle(labels)  # records in random order
    return labels


# --- tally2 ----------------------------------------------------------------------------------

def _dots(n, x0, x1, y0, y1, rng):
    """n non-overlapping discs (cx, cy, r) inside the box."""
    while True:
        dots = []
        for _ in range(200):
            if len(dots) == n:
                return dots
            r = rng.uniform(0.85, 1.45)
            cx, cy = rng.uniform(x0 + r, x1 - r), rng.uniform(y0 + r, y1 - r)
            if all(math.hypot(cx - a, cy - b) > r + s + 0.6 for a, b, s in dots):
                dots.append((cx, cy, r))


def tally_image(cls, rng):
    h, w = TALLY_H, TALLY_W
    more = rng.randint(2, 6)
    less = max(1, more - rng.randint(1, 3))
    left, right = (more, less) if cls == 0 else (less, more)
    dots = _dots(left, 0.6, w / 2 - 1.0, 0.6, h - 0.6, rng) + _dots(right, w / 2 + 1.0, w - 0.6, 0.6, h - 0.6, rng)
    shades = [rng.uniform(0.7, 1.0) for _ in dots]
    divider = rng.random() < 0.5
    ink, paper = _levels(rng)
    noise = rng.uniform(8, 30)
    out = bytearray()
    for y in range(h):
        for x in range(w):
            a = 0.0
            for (cx, cy, r), s in zip(dots, shades):
                a = max(a, s * max(0.0, min(1.0, r + 0.5 - math.hypot(x + 0.5 - cx, y + 0.5 - cy))))
            if divider and x in (w // 2 - 1, w // 2) and y % 3 != 2:
                a = max(a, 0.25)
            out.append(clamp8(paper + (ink - paper) * a + rng.gauss(0, noise)))
    return bytes(out)


def make_tally2(out):
    rng = random.Random(20270301)
    os.makedirs(out)
    for prefix, per_class in (("train", TALLY_TRAIN), ("t10k", TALLY_VAL)):
        labels = _labels(2, per_class, rng)
        images = [tally_image(c, rng) for c in labels]
        H2.write_idx_pair(out, prefix, images, labels, TALLY_H, TALLY_W)


# --- hues6 -----------------------------------------------------------------------------------

def hue_image(cls, rng):
    """3072 bytes, channel-major RGB (CIFAR-10 record layout without the label byte)."""
    n = HUE_SIZE
    others = rng.sample([c for c in range(6) if c != cls], rng.randint(1, 2))
    big = (rng.uniform(5.0, 8.0), rng.uniform(5.0, 8.0))
    blobs = []
    for k, c in enumerate([cls] + others):
        f = 1.0 if k == 0 else rng.uniform(0.5, 0.78)
        rx, ry = big[0] * f, big[1] * f
        cx, cy = rng.uniform(rx, n - rx), rng.uniform(ry, n - ry)
        colour = H6._rgb((c * 60 + rng.uniform(-17, 17)) / 360.0, rng.uniform(0.5, 1.0), rng.uniform(0.55, 1.0))
        blobs.append((cx, cy, rx, ry, rng.uniform(0, math.pi), colour))
    rng.shuffle(blobs)  # the largest is not always on top
    bg0 = H6._rgb(rng.random(), rng.uniform(0.0, 0.25), rng.uniform(0.2, 0.9))
    bg1 = [min(255, max(0, c + rng.uniform(-40, 40))) for c in bg0]
    noise = rng.uniform(5, 15)
    planes = [bytearray(), bytearray(), bytearray()]
    for y in range(n):
        for x in range(n):
            t = (x + y) / (2 * n - 2)
            pix = [bg0[c] + (bg1[c] - bg0[c]) * t for c in range(3)]
            for cx, cy, rx, ry, rot, colour in blobs:
                u, v = x + 0.5 - cx, y + 0.5 - cy
                cu, cv = math.cos(rot) * u + math.sin(rot) * v, -math.sin(rot) * u + math.cos(rot) * v
                d = math.hypot(cu / rx, cv / ry)
                a = max(0.0, min(1.0, (1.0 - d) * min(rx, ry) + 0.5))
                if a > 0:
                    pix = [pix[c] + (colour[c] - pix[c]) * a for c in range(3)]
            for c in range(3):
                planes[c].append(clamp8(pix[c] + rng.gauss(0, noise)))
    return bytes(planes[0] + planes[1] + planes[2])


def make_hues6(out):
    rng = random.Random(20270302)
    os.makedirs(out)
    for name, per_class in (("data_batch_1.bin", HUE_TRAIN), ("test_batch.bin", HUE_VAL)):
        labels = _labels(6, per_class, rng)
        with open(os.path.join(out, name), "wb") as f:
            for c in labels:
                f.write(bytes([c]) + hue_image(c, rng))


# --- arrows9 ---------------------------------------------------------------------------------

def _seg_cover(px, py, seg, half):
    x0, y0, x1, y1 = seg
    return max(0.0, min(1.0, half + 0.5 - H6._seg_dist(px, py, x0, y0, x1, y1)))


def arrow_image(cls, rng):
    n = ARROW_SIZE
    if cls < 8:
        ang = math.radians(cls * 45 + rng.uniform(-12, 12))
    else:
        ang = rng.uniform(0, 2 * math.pi)
    length = rng.uniform(9, 14)
    cx, cy = n / 2 + rng.uniform(-2, 2), n / 2 + rng.uniform(-2, 2)
    dx, dy = math.cos(ang), -math.sin(ang)  # image y points down; angle counter-clockwise from east
    tip = (cx + dx * length / 2, cy + dy * length / 2)
    tail = (cx - dx * length / 2, cy - dy * length / 2)
    segs = [(tail[0], tail[1], tip[0], tip[1])]
    head, spread = rng.uniform(3.0, 4.5), math.radians(rng.uniform(25, 40))
    ends = [(tip, ang)] + ([(tail, ang + math.pi)] if cls == 8 else [])
    for (ex, ey), a in ends:
        for s in (-spread, spread):
            b = a + math.pi + s
            segs.append((ex, ey, ex + math.cos(b) * head, ey - math.sin(b) * head))
    half = rng.uniform(0.55, 1.0)
    strokes = [(seg, half, 1.0) for seg in segs]
    if rng.random() < 0.5:  # a short straight distractor stroke
        x0, y0 = rng.uniform(0, n), rng.uniform(0, n)
        a, ln = rng.uniform(0, 2 * math.pi), rng.uniform(2.5, 5.0)
        strokes.append(((x0, y0, x0 + math.cos(a) * ln, y0 + math.sin(a) * ln), 0.5, rng.uniform(0.5, 0.9)))
    ink, paper = _levels(rng)
    noise = rng.uniform(8, 25)
    rows = []
    for y in range(n):
        row = bytearray()
        for x in range(n):
            a = 0.0
            for seg, hw, s in strokes:
                a = max(a, s * _seg_cover(x + 0.5, y + 0.5, seg, hw))
            row.append(clamp8(paper + (ink - paper) * a + rng.gauss(0, noise)))
        rows.append(bytes(row))
    return rows


def make_arrows9(out):
    H1.write_png_class_folders(out, (("train", ARROW_TRAIN), ("val", ARROW_VAL)), ARROWS,
                               lambda cls, name, rng: arrow_image(cls, rng),
                               lambda rows: H5.png_grey_bytes(ARROW_SIZE, ARROW_SIZE, rows),
                               random.Random(20270303))


# --- main ------------------------------------------------------------------------------------

MAKERS = [("tally2", make_tally2), ("hues6", make_hues6), ("arrows9", make_arrows9)]


def main(argv=None):
    return H1.generate(__doc__.split("\n")[0], VERSION, "held-out-8", MAKERS, argv,
                       procedural=True)


if __name__ == "__main__":
    sys.exit(main())
