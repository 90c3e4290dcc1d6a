#!/usr/bin/env python3
"""Writes the data sets of the third held-out fault zoo (bench/zoo-heldout3) under OUTDIR.

    python3 scripts/make-heldout3-data.py OUTDIR       # e.g. bench/zoo-heldout3/data

Python 3 standard library only, deterministic (fixed seeds: the same bytes on every machine and
every run) and idempotent: when OUTDIR/.done holds this script's version stamp it does nothing. A
lock file makes concurrent invocations wait for each other instead of writing the same files
twice. The command line, lock and stamp (generate()), the IDX and PNG writers and three shape
tests come from scripts/make-heldout-data.py, the IDX file naming from
scripts/make-heldout2-data.py (both loaded by path; their output is untouched).

Source for f8: Fashion-MNIST from Debian's dataset-fashion-mnist
(/usr/share/datasets/fashion-mnist, IDX, gzip), or --source DIR. The other two are procedural.

  glyphs7/        image folder of 24x24 RGB PNG files: train/<class>/*.png (650 a class),
                  val/<class>/*.png (100 a class); 7 classes (bar, circle, cross, ring, square,
                  star, triangle) of roughly equal area, randomly sized, placed and rotated, in a
                  random colour on a random background (luminance differing by >= 60 levels,
                  either sign), over background clutter (thin line segments and specks in other
                  colours), 2x2 supersampled edges and pixel noise.
  fashion8-14/    IDX (gzip), 1x14x14 grey, 8 Fashion-MNIST classes (0 T-shirt/top, 1 Trouser,
                  2 Pullover, 3 Dress, 5 Sandal, 7 Sneaker, 8 Bag, 9 Ankle boot -> 0..7), each
                  2x2 block averaged (28x28 -> 14x14). train 4800 (600 a class), t10k 960.
  bands3-idx/     IDX (uncompressed), 1x24x24 grey, 3 classes by spatial frequency: 0 low
                  (period 5.5-10 px), 1 mid (3.9-6.4), 2 high (2.6-4.4): overlapping bands; each
                  image a sum of five plane waves of random orientation, phase and amplitude in
                  the class's band, a random brightness ramp and strong Gaussian pixel noise
                  (sigma 18-40). train 3000 (1000 a class),
                  t10k 600.
"""
import importlib.util
import math
import os
import random
import sys

VERSION = "heldout3-data v2"  # bump whenever the output changes (v1: easier bands3, never used by a case)
HERE = os.path.dirname(os.path.abspath(__file__))

GLYPHS = ["bar", "circle", "cross", "ring", "square", "star", "triangle"]  # sorted folder names
GLYPH_SIZE = 24
GLYPH_TRAIN, GLYPH_VAL = 650, 100  # per class
FASHION8_CLASSES = [0, 1, 2, 3, 5, 7, 8, 9]  # T-shirt, Trouser, Pullover, Dress, Sandal, Sneaker, Bag, Boot
FASHION8_TRAIN, FASHION8_VAL = 4800, 960
BAND_SIZE = 24
BANDS = [(5.5, 10.0), (3.9, 6.4), (2.6, 4.4)]  # period range (px) of each class (overlapping)
BAND_TRAIN, BAND_VAL = 1000, 200  # per class


def _load(name, filename):
    """A sibling script (a hyphenated name, so loaded by path)."""
    spec = importlib.util.spec_from_file_location(name, os.path.join(HERE, filename))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


H1 = _load("make_heldout_data", "make-heldout-data.py")
H2 = _load("make_heldout2_data", "make-heldout2-data.py")
clamp8 = H2.clamp8


# --- glyphs7 ---------------------------------------------------------------------------------

def inside_glyph(shape, u, v, r):
    """(u, v) in the shape's rotated frame inside a shape of size r (area about pi r^2)."""
    if shape in ("circle", "square", "triangle", "cross"):
        return H1.inside(shape, u, v, r)
    if shape == "ring":  # annulus 0.72r..1.2r: area 0.92 pi r^2
        d2 = u * u + v * v
        return (0.72 * r) ** 2 <= d2 <= (1.2 * r) ** 2
    if shape == "bar":  # 3.2r x 0.98r
        return abs(u) <= 1.6 * r and abs(v) <= 0.49 * r
    if shape == "star":  # five points, outer radius 1.5r, inner 0.6r, straight-ish edges
        rho = math.hypot(u, v)
        theta = math.atan2(v, u) % (2 * math.pi / 5)
        t = abs(theta - math.pi / 5) / (math.pi / 5)  # 1 at a point, 0 between two points
        return rho <= 0.6 * r + 0.9 * r * t ** 1.5
    raise ValueError(shape)


def glyph_colours(rng):
    """A foreground and background colour whose luminance differs by >= 60 levels (either sign)."""
    lum = lambda c: 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]
    while True:
        fg = [rng.randrange(256) for _ in range(3)]
        bg = [rng.randrange(256) for _ in range(3)]
        if abs(lum(fg) - lum(bg)) >= 60:
            return fg, bg


def clutter(canvas, bg, rng):
    """Thin line segments and specks in random colours, at most half-way from the background."""
    n = GLYPH_SIZE
    for _ in range(rng.randint(2, 4)):
        col = [b + (rng.randrange(256) - b) * rng.uniform(0.3, 0.6) for b in bg]
        x, y = rng.uniform(0, n), rng.uniform(0, n)
        a = rng.uniform(0, 2 * math.pi)
        length = rng.uniform(4, 10)
        for s in range(int(length * 2)):
            px, py = int(x + math.cos(a) * s / 2), int(y + math.sin(a) * s / 2)
            if 0 <= px < n and 0 <= py < n:
                canvas[py][px] = col
    for _ in range(rng.randint(3, 8)):
        col = [b + (rng.randrange(256) - b) * rng.uniform(0.3, 0.6) for b in bg]
        canvas[rng.randrange(n)][rng.randrange(n)] = col


def draw_glyph(shape, rng):
    n = GLYPH_SIZE
    r = rng.uniform(3.2, 6.0)
    reach = 1.6 * r
    cx = rng.uniform(reach - 1.5, n - reach + 1.5)
    cy = rng.uniform(reach - 1.5, n - reach + 1.5)
    angle = rng.uniform(0, 2 * math.pi)
    ca, sa = math.cos(angle), math.sin(angle)
    fg, bg = glyph_colours(rng)
    canvas = [[bg for _ in range(n)] for _ in range(n)]
    clutter(canvas, bg, rng)
    noise = rng.uniform(6, 16)
    offsets = ((0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75))
    rows = []
    for y in range(n):
        row = bytearray()
        for x in range(n):
            cover = 0
            if abs(x + 0.5 - cx) <= reach + 1 and abs(y + 0.5 - cy) <= reach + 1:
                for ox, oy in offsets:
                    dx, dy = x + ox - cx, y + oy - cy
                    cover += inside_glyph(shape, ca * dx + sa * dy, -sa * dx + ca * dy, r)
            a = cover / 4
            under = canvas[y][x]
            for c in range(3):
                row.append(clamp8(under[c] + (fg[c] - under[c]) * a + rng.gauss(0, noise)))
        rows.append(bytes(row))
    return rows


def make_glyphs7(out):
    H1.write_png_class_folders(out, (("train", GLYPH_TRAIN), ("val", GLYPH_VAL)), GLYPHS,
                               lambda cls, shape, rng: draw_glyph(shape, rng),
                               lambda rows: H1.png_bytes(GLYPH_SIZE, GLYPH_SIZE, rows),
                               random.Random(20261206))


# --- fashion8-14 -----------------------------------------------------------------------------

def shrink14(img28):
    """28x28 grey bytes -> 14x14, each 2x2 block averaged."""
    out = bytearray()
    for r in range(14):
        a, b = 2 * r * 28, (2 * r + 1) * 28
        for c in range(14):
            s = img28[a + 2 * c] + img28[a + 2 * c + 1] + img28[b + 2 * c] + img28[b + 2 * c + 1]
            out.append((s + 2) // 4)
    return bytes(out)


def make_fashion8(src, out):
    rng = random.Random(20261207)
    os.makedirs(out)
    relabel = {c: k for k, c in enumerate(FASHION8_CLASSES)}
    for prefix, n in (("train", FASHION8_TRAIN), ("t10k", FASHION8_VAL)):
        images, h, w = H1.read_idx_images(os.path.join(src, f"{prefix}-images-idx3-ubyte.gz"))
        labels = H1.read_idx_labels(os.path.join(src, f"{prefix}-labels-idx1-ubyte.gz"))
        assert (h, w) == (28, 28)
        idx = H1.stratified(labels, n // len(FASHION8_CLASSES), FASHION8_CLASSES, rng)
        rng.shuffle(idx)
        H2.write_idx_pair(out, prefix, [shrink14(images[i]) for i in idx],
                          [relabel[labels[i]] for i in idx], 14, 14)


# --- bands3-idx ------------------------------------------------------------------------------

def band_image(cls, rng):
    """One 24x24 grey image: five plane waves with periods in the class's band."""
    n = BAND_SIZE
    lo, hi = BANDS[cls]
    waves = []
    for _ in range(5):
        k = 2 * math.pi / rng.uniform(lo, hi)
        a = rng.uniform(0, 2 * math.pi)
        waves.append((k * math.cos(a), k * math.sin(a), rng.uniform(0, 2 * math.pi), rng.uniform(5, 18)))
    base = rng.uniform(80, 175)
    ga = rng.uniform(0, 2 * math.pi)
    gx, gy = math.cos(ga) * rng.uniform(0, 3), math.sin(ga) * rng.uniform(0, 3)  # levels per px
    noise = rng.uniform(18, 40)
    out = bytearray()
    for y in range(n):
        for x in range(n):
            v = base + gx * (x - n / 2) + gy * (y - n / 2)
            for kx, ky, p, amp in waves:
                v += amp * math.cos(kx * x + ky * y + p)
            out.append(clamp8(v + rng.gauss(0, noise)))
    return bytes(out)


def make_bands3(out):
    rng = random.Random(20261208)
    os.makedirs(out)
    for prefix, per_class in (("train", BAND_TRAIN), ("t10k", BAND_VAL)):
        labels = [c for c in range(len(BANDS)) for _ in range(per_class)]
        rng.shuffle(labels)
        images = [band_image(c, rng) for c in labels]
        H1.write_idx_raw(out, prefix, images, labels, BAND_SIZE, BAND_SIZE)


# --- main ------------------------------------------------------------------------------------

def main():
    return H1.generate(__doc__.split("\n")[0], VERSION, "held-out-3",
                       [("glyphs7", lambda source, d: make_glyphs7(d)), ("fashion8-14", make_fashion8),
                        ("bands3-idx", lambda source, d: make_bands3(d))])


if __name__ == "__main__":
    sys.exit(main())
