#!/usr/bin/env python3
"""Writes the data sets of the seventh held-out fault zoo (bench/zoo-heldout7) under OUTDIR.

    python3 scripts/make-heldout7-data.py OUTDIR       # e.g. bench/zoo-heldout7/data

Python 3 standard library only, deterministic (fixed seeds: the same bytes on every machine and
every run) and idempotent: when OUTDIR/.done holds this script's version stamp it does nothing. A
lock file makes concurrent invocations wait for each other instead of writing the same files
twice; each set is written under a temporary name and renamed into place. All three sets are
procedural (no Fashion-MNIST source). Reused by path, not copied: the IDX writers (gzip and raw)
and the version stamp of scripts/make-heldout-data.py, the IDX file naming and clamp8 of
scripts/make-heldout2-data.py, and the colour helpers and RGB PNG writer of
scripts/make-heldout6-data.py; their output is untouched.

  bars7/          IDX (gzip), 1x16x22 grey (not square), 7 classes = the position (0 = left ...
                  6 = right) of the tallest of seven bars of a bar chart; the others are at
                  least 0.7 px shorter, the bar tops anti-aliased, a baseline (70%), dashed
                  horizontal grid lines (50%), a horizontal offset of up to 1 px, random
                  polarity and grey levels, Gaussian pixel noise. train 3500 (500 a class),
                  t10k 700.
  symmetry3/      IDX, uncompressed (train-images-idx3-ubyte ...), 1x18x18 grey, 3 classes of
                  random patterns of soft rectangles and dots (3-6 mirrored, or 6-12 over the
                  whole image): 0 mirror-symmetric left to right, 1 mirror-symmetric top to
                  bottom, 2 no symmetry; 0-2 small asymmetric specks, random polarity and
                  grey levels, Gaussian pixel noise (independent on each side, so the symmetry
                  is never exact). train 3600 (1200 a class), t10k 600.
  curves5/        folder of 8-bit RGB PNG files (train/<class>/, val/<class>/), 3x20x20, 5
                  classes of one drawn curve by its topology (sorted folder names: arc = an
                  open arc, eight = a figure eight (one crossing), line = an open S-shaped
                  stroke, loop = a closed oval, pretzel = a 3:2 Lissajous figure (several
                  crossings)), each rotated, stretched, sized and placed at random, 1-1.8 px
                  thick, a random colour on a two-colour gradient background, a short
                  distractor stroke (40%), Gaussian pixel noise. train 3500 (700 a class), val
                  750.
"""
import importlib.util
import math
import os
import random
import sys

VERSION = "heldout7-data v4"  # bump whenever the output changes
HERE = os.path.dirname(os.path.abspath(__file__))

BAR_H, BAR_W, BARS = 16, 22, 7
BAR_TRAIN, BAR_VAL = 500, 100  # per class
SYM_SIZE = 18
SYM_TRAIN, SYM_VAL = 1200, 200  # per class, 3 classes
CURVES = ["arc", "eight", "line", "loop", "pretzel"]  # sorted: class ids 0..4
CURVE_SIZE = 20
CURVE_TRAIN, CURVE_VAL = 700, 150  # per class


def _load(name, filename):
    """A sibling script (a hyphenated name, so loaded by path)."""
    spec = importlib.util.spec_from_file_location(name, os.path.join(HERE, filename))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


H1 = _load("make_heldout_data", "make-heldout-data.py")
H2 = _load("make_heldout2_data", "make-heldout2-data.py")
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


# --- bars7 -----------------------------------------------------------------------------------

def bar_image(cls, rng):
    h, w = BAR_H, BAR_W
    top = rng.uniform(9.5, 14.0)  # the tallest bar's height in px
    heights = [rng.uniform(1.5, top - 0.7) for _ in range(BARS)]
    heights[cls] = top
    base = h - 1 - rng.uniform(0, 0.8)  # y of the baseline
    x0 = 0.5 + rng.uniform(-1.0, 1.0)  # left edge of bar 0; bars 2 px wide, 3 px apart
    width = rng.uniform(1.6, 2.4)
    ink, paper = _levels(rng)
    shades = [rng.uniform(0.75, 1.0) for _ in range(BARS)]
    baseline = rng.random() < 0.7
    grid = [base - rng.uniform(3, 5) * k for k in (1, 2, 3)] if rng.random() < 0.5 else []
    noise = rng.uniform(10, 40)
    out = bytearray()
    for y in range(h):
        for x in range(w):
            a = 0.0
            i = int((x + 0.5 - x0) // 3)
            if 0 <= i < BARS:
                left = x0 + 3 * i
                cover_x = max(0.0, min(1.0, min(x + 1, left + width) - max(x, left)))
                cover_y = max(0.0, min(1.0, base - y)) * max(0.0, min(1.0, (y + 1) - (base - heights[i])))
                a = cover_x * cover_y * shades[i]
            if baseline and abs(y + 0.5 - base) < 0.6:
                a = max(a, 0.7)
            for g in grid:
                if abs(y + 0.5 - g) < 0.5 and x % 2 == 0:
                    a = max(a, 0.3)
            out.append(clamp8(paper + (ink - paper) * a + rng.gauss(0, noise)))
    return bytes(out)


def make_bars7(out):
    rng = random.Random(20270201)
    os.makedirs(out)
    for prefix, per_class in (("train", BAR_TRAIN), ("t10k", BAR_VAL)):
        labels = _labels(BARS, per_class, rng)
        images = [bar_image(c, rng) for c in labels]
        H2.write_idx_pair(out, prefix, images, labels, BAR_H, BAR_W)


# --- symmetry3 -------------------------------------------------------------------------------

def _pattern(rng, region):
    """3-6 soft rectangles and dots centred inside region (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = region
    items = []
    for _ in range(rng.randint(2, 5)):
        s = rng.uniform(0.7, 1.0)
        if rng.random() < 0.5:
            cx, cy = rng.uniform(x0, x1), rng.uniform(y0, y1)
            hw, hh = rng.uniform(1.2, 3.5), rng.uniform(1.2, 3.5)
            items.append(("rect", cx, cy, hw, hh, s))
        else:
            items.append(("dot", rng.uniform(x0, x1), rng.uniform(y0, y1), rng.uniform(1.0, 2.4), 0, s))
    return items


def _cover(items, px, py):
    a = 0.0
    for kind, cx, cy, p, q, s in items:
        if kind == "rect":
            c = max(0.0, min(1.0, p + 0.5 - abs(px - cx))) * max(0.0, min(1.0, q + 0.5 - abs(py - cy)))
        else:
            c = max(0.0, min(1.0, p + 0.5 - math.hypot(px - cx, py - cy)))
        a = max(a, s * c)
    return a


def symmetry_image(cls, rng):
    n = SYM_SIZE
    half = n / 2
    if cls == 0:  # left half drawn, mirrored left to right
        items = _pattern(rng, (1, 1, half, n - 1))
        fold = lambda px, py: (min(px, n - px), py)
    elif cls == 1:  # top half drawn, mirrored top to bottom
        items = _pattern(rng, (1, 1, n - 1, half))
        fold = lambda px, py: (px, min(py, n - py))
    else:  # the whole image drawn (as many items as a mirrored pattern shows): no mirror
        items = _pattern(rng, (1, 1, n - 1, n - 1)) + _pattern(rng, (1, 1, n - 1, n - 1))
        fold = lambda px, py: (px, py)
    specks = [(rng.uniform(1, n - 1), rng.uniform(1, n - 1)) for _ in range(rng.randint(0, 2))]
    ink, paper = _levels(rng, 90)
    noise = rng.uniform(3, 12)
    out = bytearray()
    for y in range(n):
        for x in range(n):
            a = _cover(items, *fold(x + 0.5, y + 0.5))
            for sx, sy in specks:
                if math.hypot(x + 0.5 - sx, y + 0.5 - sy) < 0.9:
                    a = max(a, 0.8)
            out.append(clamp8(paper + (ink - paper) * a + rng.gauss(0, noise)))
    return bytes(out)


def make_symmetry3(out):
    rng = random.Random(20270202)
    os.makedirs(out)
    for prefix, per_class in (("train", SYM_TRAIN), ("t10k", SYM_VAL)):
        labels = _labels(3, per_class, rng)
        images = [symmetry_image(c, rng) for c in labels]
        H1.write_idx_raw(out, prefix, images, labels, SYM_SIZE, SYM_SIZE)


# --- curves5 ---------------------------------------------------------------------------------

def _curve_points(kind, rng, m=90):
    """Points of a unit-scale curve of `kind` (about -1..1)."""
    pts = []
    if kind == "loop":
        for i in range(m):
            t = 2 * math.pi * i / m
            pts.append((math.cos(t), math.sin(t)))
    elif kind == "arc":
        span = math.radians(rng.uniform(180, 270))
        for i in range(m):
            t = span * i / (m - 1)
            pts.append((math.cos(t), math.sin(t)))
    elif kind == "eight":
        for i in range(m):
            t = 2 * math.pi * i / m
            pts.append((math.sin(t), math.sin(2 * t) * 0.8))
    elif kind == "pretzel":
        d = rng.uniform(0, 0.5)
        for i in range(2 * m):
            t = 2 * math.pi * i / (2 * m)
            pts.append((math.sin(3 * t + d), math.sin(2 * t)))
    else:  # line: an open S-shaped stroke
        amp = rng.uniform(0.25, 0.6)
        for i in range(m):
            u = -1 + 2 * i / (m - 1)
            pts.append((u, amp * math.sin(math.pi * u)))
    return pts


def curve_image(kind, rng):
    n = CURVE_SIZE
    rot = rng.uniform(0, 2 * math.pi)
    ca, sa = math.cos(rot), math.sin(rot)
    sx, sy = rng.uniform(5.0, 8.0), rng.uniform(3.5, 8.0)
    cx, cy = n / 2 + rng.uniform(-1.5, 1.5), n / 2 + rng.uniform(-1.5, 1.5)
    pts = []
    for u, v in _curve_points(kind, rng):
        u, v = u * sx, v * sy
        pts.append((cx + ca * u - sa * v, cy + sa * u + ca * v))
    strokes = [(pts, rng.uniform(0.5, 0.9))]
    if rng.random() < 0.4:  # a short straight distractor stroke
        x0, y0 = rng.uniform(0, n), rng.uniform(0, n)
        a = rng.uniform(0, 2 * math.pi)
        ln = rng.uniform(2.5, 4.5)
        strokes.append(([(x0 + math.cos(a) * ln * i / 8, y0 + math.sin(a) * ln * i / 8) for i in range(9)], 0.5))
    bg0 = H6._rgb(rng.random(), rng.uniform(0, 0.6), rng.uniform(0.15, 0.9))
    bg1 = [min(255, max(0, c + rng.uniform(-50, 50))) for c in bg0]
    ink = H6._contrasting(rng, bg0, rng.uniform(60, 120))
    noise = rng.uniform(5, 20)
    cover = [[0.0] * n for _ in range(n)]
    for line, half in strokes:
        for px, py in line:
            for y in range(max(0, int(py - 2)), min(n, int(py + 3))):
                for x in range(max(0, int(px - 2)), min(n, int(px + 3))):
                    c = max(0.0, min(1.0, half + 0.5 - math.hypot(x + 0.5 - px, y + 0.5 - py)))
                    if c > cover[y][x]:
                        cover[y][x] = c
    rows = []
    for y in range(n):
        row = bytearray()
        for x in range(n):
            t = (x + y) / (2 * n - 2)
            for c in range(3):
                back = bg0[c] + (bg1[c] - bg0[c]) * t
                row.append(clamp8(back + (ink[c] - back) * cover[y][x] + rng.gauss(0, noise)))
        rows.append(bytes(row))
    return rows


def make_curves5(out):
    H1.write_png_class_folders(out, (("train", CURVE_TRAIN), ("val", CURVE_VAL)), CURVES,
                               lambda cls, kind, rng: curve_image(kind, rng),
                               lambda rows: H6.png_rgb_bytes(CURVE_SIZE, CURVE_SIZE, rows),
                               random.Random(20270203))


# --- main ------------------------------------------------------------------------------------

MAKERS = [("bars7", make_bars7), ("symmetry3", make_symmetry3), ("curves5", make_curves5)]


def main(argv=None):
    return H1.generate(__doc__.split("\n")[0], VERSION, "held-out-7", MAKERS, argv,
                       procedural=True)


if __name__ == "__main__":
    sys.exit(main())
