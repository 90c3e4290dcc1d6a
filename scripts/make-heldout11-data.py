#!/usr/bin/env python3
"""Writes the data sets of the eleventh held-out fault zoo (bench/zoo-heldout11) under OUTDIR.

    python3 scripts/make-heldout11-data.py OUTDIR      # e.g. bench/zoo-heldout11/data

Python 3 standard library only, deterministic (fixed seeds: the same bytes on every machine and
every run) and idempotent: when OUTDIR/.done holds this script's version stamp it does nothing. A
lock file makes concurrent invocations wait for each other instead of writing the same files
twice; each set is written under a temporary name and renamed into place. All three sets are
procedural (no Fashion-MNIST source). Reused by path, not copied: the version stamp and the gzip
IDX writer (through write_idx_pair of scripts/make-heldout2-data.py), clamp8 of
scripts/make-heldout2-data.py, the RGB PNG writer of scripts/make-heldout-data.py, the colour
helper and segment distance of scripts/make-heldout6-data.py and the grey levels and label
shuffler of scripts/make-heldout8-data.py; their output is untouched.

  notches14/      IDX, gzip-compressed, 1x24x24 grey, 14 classes = the direction of the gap in
                  the one ring: class c has its gap (40-60 degrees wide) centred within +-5
                  degrees of c * 360/14 (0 = to the right, counter-clockwise); ring radius 5.5-8
                  px, half-width 0.7-1.2 px, centre within +-2.5 px of the image centre; 2-5 faint
                  clutter dots and one faint short stroke, random polarity and grey levels,
                  Gaussian pixel noise (sigma 15-35). train 3080 (220 a class), t10k 630 (45).
  tokens18/       CIFAR-10 binary batches (data_batch_1.bin, test_batch.bin), 3x32x32 RGB, 18
                  classes = shape x hue of the one large token: class 6 * s + h with shape s of
                  disc, square, triangle and hue h of 0, 60, ..., 300 degrees (+-10); the token
                  of radius 6-8.5 px among 1-3 small tokens (radius 2-3 px) of any shape and
                  hue, no overlap, each of its own saturation (0.6-1) and value (0.6-1), a dark
                  low-saturation background, Gaussian pixel noise (sigma 4-12). train 3600 (200
                  a class), test 630 (35).
  flags20/        folder of 8-bit RGB PNG files (train/<class>/, val/<class>/), 3x28x28, 20
                  classes = orientation of three bands x hue of the middle band: class 5 * o +
                  h with orientation o of 0, 45, 90, 135 degrees (+-8) and hue h of 0, 72, 144,
                  216, 288 degrees (+-12) (sorted folder names 00-o000-h000 ... 19-o135-h288);
                  middle band 4-7 px wide and saturated (0.65-1), within +-3 px of the centre,
                  the outer two of any hue and weaker saturation (0.1-0.55), 1-2 occluding
                  discs of any colour, Gaussian pixel noise (sigma 6-18). train 3200 (160 a
                  class), val 600 (30).
"""
import importlib.util
import math
import os
import random
import sys

VERSION = "heldout11-data v1"  # bump whenever the output changes
HERE = os.path.dirname(os.path.abspath(__file__))

NOTCH_SIZE = 24
NOTCH_TRAIN, NOTCH_VAL = 220, 45  # per class, 14 classes
TOKEN_SIZE = 32
TOKEN_TRAIN, TOKEN_VAL = 200, 35  # per class, 18 classes
TOKEN_SHAPES = ("disc", "square", "triangle")
FLAG_SIZE = 28
FLAG_TRAIN, FLAG_VAL = 160, 30  # per class, 20 classes
FLAG_ANGLES = (0, 45, 90, 135)
FLAG_HUES = (0, 72, 144, 216, 288)
FLAG_CLASSES = [f"{5 * o + h:02d}-o{a:03d}-h{u:03d}" for o, a in enumerate(FLAG_ANGLES) for h, u in enumerate(FLAG_HUES)]


def _load(name, filename):
    """A sibling script (a hyphenated name, so loaded by path)."""
    spec = importlib.util.spec_from_file_location(name, os.path.join(HERE, filename))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


H1 = _load("make_heldout_data", "make-heldout-data.py")
H2 = _load("make_heldout2_data", "make-heldout2-data.py")
H6 = _load("make_heldout6_data", "make-heldout6-data.py")
H8 = _load("make_heldout8_data", "make-heldout8-data.py")
clamp8 = H2.clamp8


# --- notches14 -------------------------------------------------------------------------------

def _angle_gap(a, b):
    """The absolute difference of two angles in degrees, in [0, 180]."""
    return abs((a - b + 180.0) % 360.0 - 180.0)


def notch_image(cls, rng):
    n = NOTCH_SIZE
    gap_dir = cls * 360.0 / 14 + rng.uniform(-5, 5)
    gap_half = rng.uniform(20, 30)
    r = rng.uniform(5.5, 8.0)
    half = rng.uniform(0.7, 1.2)
    cx, cy = n / 2 + rng.uniform(-2.5, 2.5), n / 2 + rng.uniform(-2.5, 2.5)
    dots = [(rng.uniform(0, n), rng.uniform(0, n), rng.uniform(0.5, 1.1), rng.uniform(0.3, 0.55))
            for _ in range(rng.randint(2, 5))]
    x0, y0, a, ln = rng.uniform(2, n - 2), rng.uniform(2, n - 2), rng.uniform(0, math.pi), rng.uniform(4, 8)
    stroke = (x0, y0, x0 + math.cos(a) * ln, y0 - math.sin(a) * ln, rng.uniform(0.4, 0.7), rng.uniform(0.3, 0.5))
    ink, paper = H8._levels(rng)
    noise = rng.uniform(15, 35)
    out = bytearray()
    for y in range(n):
        for x in range(n):
            px, py = x + 0.5 - cx, y + 0.5 - cy
            d = math.hypot(px, py)
            a = max(0.0, min(1.0, half + 0.5 - abs(d - r)))
            if a > 0:
                ang = math.degrees(math.atan2(-py, px))  # y grows downwards
                a *= max(0.0, min(1.0, (_angle_gap(ang, gap_dir) - gap_half) * d * math.pi / 180.0 + 0.5))
            for dx, dy, dr, s in dots:
                a = max(a, s * max(0.0, min(1.0, dr + 0.5 - math.hypot(x + 0.5 - dx, y + 0.5 - dy))))
            sx0, sy0, sx1, sy1, hw, s = stroke
            a = max(a, s * max(0.0, min(1.0, hw + 0.5 - H6._seg_dist(x + 0.5, y + 0.5, sx0, sy0, sx1, sy1))))
            out.append(clamp8(paper + (ink - paper) * a + rng.gauss(0, noise)))
    return bytes(out)


def make_notches14(out):
    rng = random.Random(20270601)
    os.makedirs(out)
    for prefix, per_class in (("train", NOTCH_TRAIN), ("t10k", NOTCH_VAL)):
        labels = H8._labels(14, per_class, rng)
        images = [notch_image(c, rng) for c in labels]
        H2.write_idx_pair(out, prefix, images, labels, NOTCH_SIZE, NOTCH_SIZE)


# --- tokens18 --------------------------------------------------------------------------------

def _token_cover(shape, px, py, cx, cy, r):
    """Anti-aliased coverage (0-1) of a token of the given shape and radius at pixel (px, py)."""
    u, v = px - cx, py - cy
    if shape == "disc":
        return max(0.0, min(1.0, r + 0.5 - math.hypot(u, v)))
    if shape == "square":
        s = r * 0.85
        return max(0.0, min(1.0, s + 0.5 - max(abs(u), abs(v))))
    # an upward triangle inscribed in the circle of radius r (y grows downwards): apex (0, -r),
    # base corners (+-0.866 r, r/2); the margin to the nearest side
    side = 0.5 * (v + r) - 0.866 * abs(u)
    base = 0.5 * r - v
    return max(0.0, min(1.0, min(side, base) + 0.5))


def token_image(cls, rng):
    """3072 bytes, channel-major RGB (CIFAR-10 record layout without the label byte)."""
    n = TOKEN_SIZE
    shape_i, hue_i = divmod(cls, 6)
    tokens = []
    count = 1 + rng.randint(1, 3)
    while len(tokens) < count:
        if rng.random() < 0.02:  # crowded: start again
            tokens = []
        big = not tokens
        r = rng.uniform(6.0, 8.5) if big else rng.uniform(2.0, 3.0)
        cx, cy = rng.uniform(r + 1, n - r - 1), rng.uniform(r + 1, n - r - 1)
        if all(math.hypot(cx - x, cy - y) > r + q + 1.5 for x, y, q, _, _ in tokens):
            shape = TOKEN_SHAPES[shape_i] if big else rng.choice(TOKEN_SHAPES)
            hue = (hue_i / 6.0 + rng.uniform(-10, 10) / 360.0) if big else rng.random()
            tokens.append((cx, cy, r, shape, H6._rgb(hue, rng.uniform(0.6, 1.0), rng.uniform(0.6, 1.0))))
    bg = H6._rgb(rng.random(), rng.uniform(0.0, 0.25), rng.uniform(0.05, 0.45))
    noise = rng.uniform(4, 12)
    planes = [bytearray(), bytearray(), bytearray()]
    for y in range(n):
        for x in range(n):
            p = list(bg)
            for cx, cy, r, shape, colour in tokens:
                a = _token_cover(shape, x + 0.5, y + 0.5, cx, cy, r)
                if a > 0:
                    p = [p[k] + (colour[k] - p[k]) * a for k in range(3)]
            for k in range(3):
                planes[k].append(clamp8(p[k] + rng.gauss(0, noise)))
    return bytes(planes[0] + planes[1] + planes[2])


def make_tokens18(out):
    rng = random.Random(20270602)
    os.makedirs(out)
    for name, per_class in (("data_batch_1.bin", TOKEN_TRAIN), ("test_batch.bin", TOKEN_VAL)):
        labels = H8._labels(18, per_class, rng)
        with open(os.path.join(out, name), "wb") as f:
            for c in labels:
                f.write(bytes([c]) + token_image(c, rng))


# --- flags20 ---------------------------------------------------------------------------------

def flag_image(cls, rng):
    """28 rows of 28 * 3 bytes (RGB)."""
    n = FLAG_SIZE
    o, h = divmod(cls, 5)
    ang = math.radians(FLAG_ANGLES[o] + rng.uniform(-8, 8))
    nx, ny = -math.sin(ang), -math.cos(ang)  # across the bands (y grows downwards)
    width = rng.uniform(4.0, 7.0)
    offset = rng.uniform(-3, 3)
    cx, cy = n / 2, n / 2
    middle = H6._rgb(FLAG_HUES[h] / 360.0 + rng.uniform(-12, 12) / 360.0, rng.uniform(0.65, 1.0), rng.uniform(0.55, 1.0))
    outer = [H6._rgb(rng.random(), rng.uniform(0.1, 0.55), rng.uniform(0.2, 0.9)) for _ in range(2)]
    discs = [(rng.uniform(0, n), rng.uniform(0, n), rng.uniform(2.0, 4.0),
              H6._rgb(rng.random(), rng.uniform(0.0, 1.0), rng.uniform(0.1, 1.0))) for _ in range(rng.randint(1, 2))]
    noise = rng.uniform(6, 18)
    rows = []
    for y in range(n):
        row = bytearray()
        for x in range(n):
            t = (x + 0.5 - cx) * nx + (y + 0.5 - cy) * ny - offset
            p = list(outer[0] if t < 0 else outer[1])
            a = max(0.0, min(1.0, width / 2 + 0.5 - abs(t)))
            p = [p[k] + (middle[k] - p[k]) * a for k in range(3)]
            for dx, dy, dr, colour in discs:
                b = max(0.0, min(1.0, dr + 0.5 - math.hypot(x + 0.5 - dx, y + 0.5 - dy)))
                if b > 0:
                    p = [p[k] + (colour[k] - p[k]) * b for k in range(3)]
            for k in range(3):
                row.append(clamp8(p[k] + rng.gauss(0, noise)))
        rows.append(bytes(row))
    return rows


def make_flags20(out):
    H1.write_png_class_folders(out, (("train", FLAG_TRAIN), ("val", FLAG_VAL)), FLAG_CLASSES,
                               lambda cls, name, rng: flag_image(cls, rng),
                               lambda rows: H1.png_bytes(FLAG_SIZE, FLAG_SIZE, rows),
                               random.Random(20270603))


# --- main ------------------------------------------------------------------------------------

MAKERS = [("notches14", make_notches14), ("tokens18", make_tokens18), ("flags20", make_flags20)]


def main(argv=None):
    return H1.generate(__doc__.split("\n")[0], VERSION, "held-out-11", MAKERS, argv,
                       procedural=True)


if __name__ == "__main__":
    sys.exit(main())
