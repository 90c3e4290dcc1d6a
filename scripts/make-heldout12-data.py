#!/usr/bin/env python3
"""Writes the data sets of the twelfth held-out fault zoo (bench/zoo-heldout12) under OUTDIR.

    python3 scripts/make-heldout12-data.py OUTDIR      # e.g. bench/zoo-heldout12/data

Python 3 standard library only, deterministic (fixed seeds: the same bytes on every machine and
every run) and idempotent: when OUTDIR/.done holds this script's version stamp it does nothing. A
lock file makes concurrent invocations wait for each other instead of writing the same files
twice; each set is written under a temporary name and renamed into place. All three sets are
procedural (no Fashion-MNIST source). Reused by path, not copied: the command line, lock, version
stamp and write-then-rename steps (generate(..., procedural=True) of scripts/make-heldout-data.py),
the gzip IDX writer (write_idx_pair of scripts/make-heldout2-data.py), clamp8 of
scripts/make-heldout2-data.py, the RGB PNG writer of scripts/make-heldout-data.py, the colour
helper and segment distance of scripts/make-heldout6-data.py and the grey levels and label
shuffler of scripts/make-heldout8-data.py; their output is untouched.

  runes17/        IDX, gzip-compressed, 1x26x26 grey, 17 classes = which rune: each class is a
                  fixed set of three strokes between the points of a 3x3 lattice (any two runes
                  share at most one stroke); lattice spacing 5.5-7 px, rotated +-12 degrees,
                  each lattice point jittered +-0.6 px, centre within +-2 px of the image
                  centre, stroke half-width 0.7-1.2 px; 2-4 faint clutter dots and one faint
                  short stroke, random polarity and grey levels, Gaussian pixel noise (sigma
                  12-30). train 3060 (180 a class), t10k 612 (36).
  tetrominoes19/  CIFAR-10 binary batches (data_batch_1.bin, test_batch.bin), 3x32x32 RGB, 19
                  classes = which fixed tetromino (the seven pieces in every distinct rotation:
                  I 2, O 1, T 4, S 2, Z 2, J 4, L 4, in that order); cells 4-5.5 px with a thin
                  gap, the piece rotated +-6 degrees and placed anywhere it fits, one random hue
                  (saturation 0.5-1, value 0.6-1) on a dark low-saturation background, 1-3 small
                  discs of any colour (radius 1-1.8 px), Gaussian pixel noise (sigma 4-12).
                  train 3040 (160 a class), test 608 (32).
  necklaces21/    folder of 8-bit RGB PNG files (train/<class>/, val/<class>/), 3x30x30, 21
                  classes = which two of the seven beads of a necklace are filled: class k is
                  the k-th pair (a, b), a < b, of beads 0-6 in lexicographic order (bead 0 at
                  the top, counter-clockwise; sorted folder names 00-b01 ... 20-b56); the seven
                  beads (ring radius 2-2.6 px) on a circle of radius 9-11 px, the necklace
                  rotated +-10 degrees, centre within +-1.5 px of the image centre; empty beads
                  are outlines of a weak colour, the two filled ones share one saturated hue;
                  a random background, Gaussian pixel noise (sigma 6-16). train 3045 (145 a
                  class), val 630 (30).
"""
import importlib.util
import math
import os
import random
import sys

VERSION = "heldout12-data v1"  # bump whenever the output changes
HERE = os.path.dirname(os.path.abspath(__file__))

RUNE_SIZE = 26
RUNE_TRAIN, RUNE_VAL = 180, 36  # per class, 17 classes
TETRO_SIZE = 32
TETRO_TRAIN, TETRO_VAL = 160, 32  # per class, 19 classes
BEAD_SIZE = 30
BEAD_TRAIN, BEAD_VAL = 145, 30  # per class, 21 classes
BEAD_PAIRS = [(a, b) for a in range(7) for b in range(a + 1, 7)]
BEAD_CLASSES = [f"{k:02d}-b{a}{b}" for k, (a, b) in enumerate(BEAD_PAIRS)]


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


def _clip01(v):
    return max(0.0, min(1.0, v))


# --- runes17 ---------------------------------------------------------------------------------

def _rune_table():
    """17 fixed runes, each three strokes between the points of a 3x3 lattice (8-neighbours),
    any two sharing at most one stroke; drawn from a fixed seed."""
    pts = [(u, v) for v in (-1, 0, 1) for u in (-1, 0, 1)]
    edges = [(p, q) for i, p in enumerate(pts) for q in pts[i + 1:]
             if max(abs(p[0] - q[0]), abs(p[1] - q[1])) == 1]
    rng = random.Random(20270611)
    runes = []
    while len(runes) < 17:
        cand = frozenset(rng.sample(range(len(edges)), 3))
        if all(len(cand & r) <= 1 for r in runes):
            runes.append(cand)
    return [[edges[i] for i in sorted(r)] for r in runes]


RUNES = _rune_table()


def rune_image(cls, rng):
    n = RUNE_SIZE
    s = rng.uniform(5.5, 7.0)
    rot = math.radians(rng.uniform(-12, 12))
    cx, cy = n / 2 + rng.uniform(-2, 2), n / 2 + rng.uniform(-2, 2)
    jit = {(u, v): (rng.uniform(-0.6, 0.6), rng.uniform(-0.6, 0.6)) for v in (-1, 0, 1) for u in (-1, 0, 1)}

    def pt(p):
        u, v = p
        x, y = u * s, v * s
        return (cx + x * math.cos(rot) - y * math.sin(rot) + jit[p][0],
                cy + x * math.sin(rot) + y * math.cos(rot) + jit[p][1])

    segs = [pt(p) + pt(q) for p, q in RUNES[cls]]
    half = rng.uniform(0.7, 1.2)
    dots = [(rng.uniform(0, n), rng.uniform(0, n), rng.uniform(0.5, 1.1), rng.uniform(0.3, 0.55))
            for _ in range(rng.randint(2, 4))]
    x0, y0, a, ln = rng.uniform(2, n - 2), rng.uniform(2, n - 2), rng.uniform(0, math.pi), rng.uniform(3, 6)
    stroke = (x0, y0, x0 + math.cos(a) * ln, y0 - math.sin(a) * ln, rng.uniform(0.4, 0.7), rng.uniform(0.3, 0.5))
    ink, paper = H8._levels(rng)
    noise = rng.uniform(12, 30)
    out = bytearray()
    for y in range(n):
        for x in range(n):
            px, py = x + 0.5, y + 0.5
            a = 0.0
            for sx0, sy0, sx1, sy1 in segs:
                a = max(a, _clip01(half + 0.5 - H6._seg_dist(px, py, sx0, sy0, sx1, sy1)))
            for dx, dy, dr, st in dots:
                a = max(a, st * _clip01(dr + 0.5 - math.hypot(px - dx, py - dy)))
            sx0, sy0, sx1, sy1, hw, st = stroke
            a = max(a, st * _clip01(hw + 0.5 - H6._seg_dist(px, py, sx0, sy0, sx1, sy1)))
            out.append(clamp8(paper + (ink - paper) * a + rng.gauss(0, noise)))
    return bytes(out)


def make_runes17(out):
    rng = random.Random(20270612)
    os.makedirs(out)
    for prefix, per_class in (("train", RUNE_TRAIN), ("t10k", RUNE_VAL)):
        labels = H8._labels(17, per_class, rng)
        images = [rune_image(c, rng) for c in labels]
        H2.write_idx_pair(out, prefix, images, labels, RUNE_SIZE, RUNE_SIZE)


# --- tetrominoes19 ---------------------------------------------------------------------------

def _tetromino_table():
    """The 19 fixed tetrominoes: I, O, T, S, Z, J, L in every distinct rotation (cells as
    (column, row), row growing downwards, normalised to start at 0)."""
    free = [
        [(0, 0), (1, 0), (2, 0), (3, 0)],  # I
        [(0, 0), (1, 0), (0, 1), (1, 1)],  # O
        [(0, 0), (1, 0), (2, 0), (1, 1)],  # T
        [(1, 0), (2, 0), (0, 1), (1, 1)],  # S
        [(0, 0), (1, 0), (1, 1), (2, 1)],  # Z
        [(0, 0), (0, 1), (1, 1), (2, 1)],  # J
        [(2, 0), (0, 1), (1, 1), (2, 1)],  # L
    ]
    table = []
    for cells in free:
        seen = []
        cur = cells
        for _ in range(4):
            mx, my = min(c for c, _ in cur), min(r for _, r in cur)
            norm = tuple(sorted((c - mx, r - my) for c, r in cur))
            if norm not in seen:
                seen.append(norm)
            cur = [(-r, c) for c, r in cur]  # a quarter turn
        table += seen
    assert len(table) == 19
    return table


TETROMINOES = _tetromino_table()


def tetromino_image(cls, rng):
    """3072 bytes, channel-major RGB (CIFAR-10 record layout without the label byte)."""
    n = TETRO_SIZE
    cells = set(TETROMINOES[cls])
    w, h = max(c for c, _ in cells) + 1, max(r for _, r in cells) + 1
    c = rng.uniform(4.0, 5.5)
    rot = math.radians(rng.uniform(-6, 6))
    cx, cy = n / 2 + rng.uniform(-3, 3), n / 2 + rng.uniform(-3, 3)
    gap = rng.uniform(0.06, 0.12)
    colour = H6._rgb(rng.random(), rng.uniform(0.5, 1.0), rng.uniform(0.6, 1.0))
    bg = H6._rgb(rng.random(), rng.uniform(0.0, 0.3), rng.uniform(0.05, 0.4))
    discs = [(rng.uniform(0, n), rng.uniform(0, n), rng.uniform(1.0, 1.8),
              H6._rgb(rng.random(), rng.uniform(0.3, 1.0), rng.uniform(0.4, 1.0))) for _ in range(rng.randint(1, 3))]
    noise = rng.uniform(4, 12)
    cos_r, sin_r = math.cos(rot), math.sin(rot)
    planes = [bytearray(), bytearray(), bytearray()]
    for y in range(n):
        for x in range(n):
            dx, dy = x + 0.5 - cx, y + 0.5 - cy
            u = (dx * cos_r + dy * sin_r) / c + w / 2  # the piece's frame, in cells
            v = (-dx * sin_r + dy * cos_r) / c + h / 2
            i, j = math.floor(u), math.floor(v)
            a = 0.0
            if (i, j) in cells:
                margin = min(u - i, i + 1 - u, v - j, j + 1 - v) - gap
                a = _clip01(margin * c + 0.5)
            p = [bg[k] + (colour[k] - bg[k]) * a for k in range(3)]
            for ex, ey, er, ecol in discs:
                b = _clip01(er + 0.5 - math.hypot(x + 0.5 - ex, y + 0.5 - ey))
                if b > 0:
                    p = [p[k] + (ecol[k] - p[k]) * b for k in range(3)]
            for k in range(3):
                planes[k].append(clamp8(p[k] + rng.gauss(0, noise)))
    return bytes(planes[0] + planes[1] + planes[2])


def make_tetrominoes19(out):
    rng = random.Random(20270613)
    os.makedirs(out)
    for name, per_class in (("data_batch_1.bin", TETRO_TRAIN), ("test_batch.bin", TETRO_VAL)):
        labels = H8._labels(19, per_class, rng)
        with open(os.path.join(out, name), "wb") as f:
            for cl in labels:
                f.write(bytes([cl]) + tetromino_image(cl, rng))


# --- necklaces21 -----------------------------------------------------------------------------

def necklace_image(cls, rng):
    """30 rows of 30 * 3 bytes (RGB)."""
    n = BEAD_SIZE
    filled = set(BEAD_PAIRS[cls])
    radius = rng.uniform(8.5, 11.0)
    turn = rng.uniform(-22, 22)
    cx, cy = n / 2 + rng.uniform(-1.5, 1.5), n / 2 + rng.uniform(-1.5, 1.5)
    bead_r = rng.uniform(1.8, 2.6)
    line = rng.uniform(0.5, 0.9)  # half-width of the empty beads' outline
    beads = []
    for b in range(7):
        ang = math.radians(90 + turn + b * 360 / 7)  # bead 0 at the top, counter-clockwise
        beads.append((cx + radius * math.cos(ang), cy - radius * math.sin(ang), b in filled))
    fill = H6._rgb(rng.random(), rng.uniform(0.45, 1.0), rng.uniform(0.6, 1.0))
    inner = rng.uniform(0.15, 0.5)  # the empty beads' faint filling
    outline = H6._rgb(rng.random(), rng.uniform(0.0, 0.4), rng.uniform(0.45, 0.85))
    bg = H6._rgb(rng.random(), rng.uniform(0.0, 0.5), rng.uniform(0.05, 0.45))
    noise = rng.uniform(10, 26)
    rows = []
    for y in range(n):
        row = bytearray()
        for x in range(n):
            p = list(bg)
            for bx, by, full in beads:
                d = math.hypot(x + 0.5 - bx, y + 0.5 - by)
                if full:
                    a = _clip01(bead_r + 0.5 - d)
                    col = fill
                else:
                    a = max(_clip01(line + 0.5 - abs(d - bead_r + line)), inner * _clip01(bead_r + 0.5 - d))
                    col = outline
                if a > 0:
                    p = [p[k] + (col[k] - p[k]) * a for k in range(3)]
            for k in range(3):
                row.append(clamp8(p[k] + rng.gauss(0, noise)))
        rows.append(bytes(row))
    return rows


def make_necklaces21(out):
    H1.write_png_class_folders(out, (("train", BEAD_TRAIN), ("val", BEAD_VAL)), BEAD_CLASSES,
                               lambda cls, name, rng: necklace_image(cls, rng),
                               lambda rows: H1.png_bytes(BEAD_SIZE, BEAD_SIZE, rows),
                               random.Random(20270614))


# --- main ------------------------------------------------------------------------------------

MAKERS = [("runes17", make_runes17), ("tetrominoes19", make_tetrominoes19), ("necklaces21", make_necklaces21)]


def main(argv=None):
    return H1.generate(__doc__.split("\n")[0], VERSION, "held-out-12", MAKERS, argv,
                       procedural=True)


if __name__ == "__main__":
    sys.exit(main())
