#!/usr/bin/env python3
"""Writes the data sets of the tenth held-out fault zoo (bench/zoo-heldout10) under OUTDIR.

    python3 scripts/make-heldout10-data.py OUTDIR      # e.g. bench/zoo-heldout10/data

Python 3 standard library only, deterministic (fixed seeds: the same bytes on every machine and
every run) and idempotent: when OUTDIR/.done holds this script's version stamp it does nothing. A
lock file makes concurrent invocations wait for each other instead of writing the same files
twice; each set is written under a temporary name and renamed into place. All three sets are
procedural (no Fashion-MNIST source). Reused by path, not copied: the version stamp and the gzip
IDX writer (through write_idx_pair of scripts/make-heldout2-data.py), clamp8 of
scripts/make-heldout2-data.py, the grey PNG writer of scripts/make-heldout5-data.py, the colour
helpers and segment distance of scripts/make-heldout6-data.py and the grey levels and label
shuffler of scripts/make-heldout8-data.py; their output is untouched.

  spots16/        IDX, gzip-compressed, 1x20x20 grey, 16 classes = the cell of a 4x4 grid of
                  5-px cells that holds the one large blob (radius 1.7-2.1 px; class 4 * row +
                  column); 3-7 small blobs (radius 0.9-1.45 px) in other cells, every blob placed
                  within +-0.9 px of its cell centre, blobs of their own strength (0.6-1), random
                  polarity and grey levels, Gaussian pixel noise (sigma 15-40). train 3200 (200 a
                  class), t10k 640.
  rings13/        CIFAR-10 binary batches (data_batch_1.bin, test_batch.bin), 3x32x32 RGB, 13
                  classes = the hue of the one ring (a hollow disc, radius 4-6 px) in the
                  image: class c holds hues within +-9 degrees of c * 360/13; 2-3 filled discs
                  of any hue as distractors (no overlap), each shape of its own saturation and
                  value, a dark low-saturation background, Gaussian pixel noise. train 3380
                  (260 a class), test 650.
  lines15/        folder of 8-bit grey PNG files (train/<class>/, val/<class>/), 1x30x30, 15
                  classes = orientation x number of parallel strokes: class 3 * o + (n - 1) with
                  orientation o of 0, 36, 72, 108, 144 degrees (+-7) and n of 1, 2, 3 strokes
                  (sorted folder names 00-a000-n1 ... 14-a144-n3); strokes 10-18 px long, 3-4.6
                  px apart, 0.5-0.9 px half-width, within +-3 px of the centre, 2-5 faint
                  clutter dots and 1-2 faint distractor strokes at any angle, random polarity
                  and grey levels, Gaussian pixel noise (sigma 15-40). train 3000 (200 a
                  class), val 600.
"""
import importlib.util
import math
import os
import random
import sys

VERSION = "heldout10-data v1"  # bump whenever the output changes
HERE = os.path.dirname(os.path.abspath(__file__))

SPOT_SIZE, SPOT_CELL = 20, 5
SPOT_TRAIN, SPOT_VAL = 200, 40  # per class, 16 classes
RING_SIZE = 32
RING_TRAIN, RING_VAL = 260, 50  # per class, 13 classes
LINE_SIZE = 30
LINE_TRAIN, LINE_VAL = 200, 40  # per class, 15 classes
LINE_ANGLES = (0, 36, 72, 108, 144)
LINE_CLASSES = [f"{3 * o + n:02d}-a{a:03d}-n{n + 1}" for o, a in enumerate(LINE_ANGLES) for n in range(3)]


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
H8 = _load("make_heldout8_data", "make-heldout8-data.py")
clamp8 = H2.clamp8


# --- spots16 ---------------------------------------------------------------------------------

def spot_image(cls, rng):
    n, c = SPOT_SIZE, SPOT_CELL
    others = [k for k in range(16) if k != cls]
    rng.shuffle(others)
    blobs = []
    for k, r in [(cls, rng.uniform(1.7, 2.1))] + [(k, rng.uniform(0.9, 1.45)) for k in others[:rng.randint(3, 7)]]:
        row, col = divmod(k, 4)
        cx = col * c + c / 2 + rng.uniform(-0.9, 0.9)
        cy = row * c + c / 2 + rng.uniform(-0.9, 0.9)
        blobs.append((cx, cy, r, rng.uniform(0.6, 1.0)))
    ink, paper = H8._levels(rng)
    noise = rng.uniform(15, 40)
    out = bytearray()
    for y in range(n):
        for x in range(n):
            a = 0.0
            for cx, cy, r, s in blobs:
                a = max(a, s * max(0.0, min(1.0, r + 0.5 - math.hypot(x + 0.5 - cx, y + 0.5 - cy))))
            out.append(clamp8(paper + (ink - paper) * a + rng.gauss(0, noise)))
    return bytes(out)


def make_spots16(out):
    rng = random.Random(20270501)
    os.makedirs(out)
    for prefix, per_class in (("train", SPOT_TRAIN), ("t10k", SPOT_VAL)):
        labels = H8._labels(16, per_class, rng)
        images = [spot_image(c, rng) for c in labels]
        H2.write_idx_pair(out, prefix, images, labels, SPOT_SIZE, SPOT_SIZE)


# --- rings13 ---------------------------------------------------------------------------------

def ring_image(cls, rng):
    """3072 bytes, channel-major RGB (CIFAR-10 record layout without the label byte)."""
    n = RING_SIZE
    shapes = []
    count = 1 + rng.randint(2, 3)
    while len(shapes) < count:
        if rng.random() < 0.02:  # crowded: start again (placements are drawn at random)
            shapes = []
        r = rng.uniform(4.0, 6.0)
        cx, cy = rng.uniform(r + 1, n - r - 1), rng.uniform(r + 1, n - r - 1)
        if all(math.hypot(cx - x, cy - y) > r + q + 1.5 for x, y, q, _, _ in shapes):
            ring = not shapes
            hue = (cls / 13.0 + rng.uniform(-9, 9) / 360.0) if ring else rng.random()
            shapes.append((cx, cy, r, ring, H6._rgb(hue, rng.uniform(0.6, 1.0), rng.uniform(0.6, 1.0))))
    bg = H6._rgb(rng.random(), rng.uniform(0.0, 0.25), rng.uniform(0.05, 0.5))
    noise = rng.uniform(5, 18)
    planes = [bytearray(), bytearray(), bytearray()]
    for y in range(n):
        for x in range(n):
            p = list(bg)
            for cx, cy, r, ring, colour in shapes:
                d = math.hypot(x + 0.5 - cx, y + 0.5 - cy)
                a = max(0.0, min(1.0, (1.3 - abs(d - r + 1.2)) if ring else (r + 0.5 - d)))
                if a > 0:
                    p = [p[k] + (colour[k] - p[k]) * a for k in range(3)]
            for k in range(3):
                planes[k].append(clamp8(p[k] + rng.gauss(0, noise)))
    return bytes(planes[0] + planes[1] + planes[2])


def make_rings13(out):
    rng = random.Random(20270502)
    os.makedirs(out)
    for name, per_class in (("data_batch_1.bin", RING_TRAIN), ("test_batch.bin", RING_VAL)):
        labels = H8._labels(13, per_class, rng)
        with open(os.path.join(out, name), "wb") as f:
            for c in labels:
                f.write(bytes([c]) + ring_image(c, rng))


# --- lines15 ---------------------------------------------------------------------------------

def line_image(cls, rng):
    """30 rows of 30 bytes (grey)."""
    n = LINE_SIZE
    o, k = divmod(cls, 3)
    ang = math.radians(LINE_ANGLES[o] + rng.uniform(-7, 7))
    length = rng.uniform(10, 18)
    gap = rng.uniform(3.0, 4.6)
    half = rng.uniform(0.5, 0.9)
    cx, cy = n / 2 + rng.uniform(-3, 3), n / 2 + rng.uniform(-3, 3)
    dx, dy = math.cos(ang), -math.sin(ang)  # along the strokes (y grows downwards)
    px, py = -dy, dx  # across them
    segs = []
    for i in range(k + 1):
        off = (i - k / 2) * gap
        mx, my = cx + px * off, cy + py * off
        segs.append((mx - dx * length / 2, my - dy * length / 2, mx + dx * length / 2, my + dy * length / 2, half, 1.0))
    for _ in range(rng.randint(2, 5)):
        x0, y0 = rng.uniform(0, n), rng.uniform(0, n)
        segs.append((x0, y0, x0 + 0.01, y0, rng.uniform(0.6, 1.2), rng.uniform(0.3, 0.6)))
    for _ in range(rng.randint(1, 2)):  # faint distractor strokes at any angle
        x0, y0, a, ln = rng.uniform(3, n - 3), rng.uniform(3, n - 3), rng.uniform(0, math.pi), rng.uniform(6, 12)
        segs.append((x0, y0, x0 + math.cos(a) * ln, y0 - math.sin(a) * ln, rng.uniform(0.4, 0.8), rng.uniform(0.35, 0.6)))
    ink, paper = H8._levels(rng)
    noise = rng.uniform(15, 40)
    rows = []
    for y in range(n):
        row = bytearray()
        for x in range(n):
            a = 0.0
            for x0, y0, x1, y1, hw, s in segs:
                a = max(a, s * max(0.0, min(1.0, hw + 0.5 - H6._seg_dist(x + 0.5, y + 0.5, x0, y0, x1, y1))))
            row.append(clamp8(paper + (ink - paper) * a + rng.gauss(0, noise)))
        rows.append(bytes(row))
    return rows


def make_lines15(out):
    H1.write_png_class_folders(out, (("train", LINE_TRAIN), ("val", LINE_VAL)), LINE_CLASSES,
                               lambda cls, name, rng: line_image(cls, rng),
                               lambda rows: H5.png_grey_bytes(LINE_SIZE, LINE_SIZE, rows),
                               random.Random(20270503))


# --- main ------------------------------------------------------------------------------------

MAKERS = [("spots16", make_spots16), ("rings13", make_rings13), ("lines15", make_lines15)]


def main(argv=None):
    return H1.generate(__doc__.split("\n")[0], VERSION, "held-out-10", MAKERS, argv,
                       procedural=True)


if __name__ == "__main__":
    sys.exit(main())
