#!/usr/bin/env python3
"""Writes the data sets of the ninth held-out fault zoo (bench/zoo-heldout9) under OUTDIR.

    python3 scripts/make-heldout9-data.py OUTDIR       # e.g. bench/zoo-heldout9/data

Python 3 standard library only, deterministic (fixed seeds: the same bytes on every machine and
every run) and idempotent: when OUTDIR/.done holds this script's version stamp it does nothing. A
lock file makes concurrent invocations wait for each other instead of writing the same files
twice; each set is written under a temporary name and renamed into place. All three sets are
procedural (no Fashion-MNIST source). Reused by path, not copied: the version stamp and the raw
(uncompressed) IDX writer of scripts/make-heldout-data.py, clamp8 of scripts/make-heldout2-data.py,
the colour helper, RGB PNG writer and segment distance of scripts/make-heldout6-data.py and the
grey levels and label shuffler of scripts/make-heldout8-data.py; their output is untouched.

  oddquad5/       folder of 8-bit RGB PNG files (train/<class>/, val/<class>/), 3x24x24, 5
                  classes (sorted folder names 0-top-left, 1-top-right, 2-bottom-left,
                  3-bottom-right, 4-none): four soft discs, one in each quadrant; three share a
                  hue family (+-15 degrees) and the odd one's hue is 70-180 degrees away, and the
                  class is the quadrant that holds it (4-none: all four share the family). Each
                  disc has its own saturation and value, so only the hue marks the odd one; a
                  low-saturation background, Gaussian pixel noise. train 3000 (600 a class), val
                  600.
  marks11/        IDX, uncompressed, 1x36x36 grey, 11 classes = the shape of one large mark
                  (0 disc, 1 ring, 2 plus, 3 diagonal cross, 4 square outline, 5 filled square,
                  6 triangle outline, 7 two horizontal bars, 8 two vertical bars, 9 L corner,
                  10 T shape), half-size 6-11 px, within +-4 px of the centre, turned +-10
                  degrees, strokes 1.1-2.4 px thick, among 3-6 faint clutter dots and short
                  strokes; random polarity and grey levels, Gaussian pixel noise. train 3300
                  (300 a class), t10k 660.
  weaves12/       CIFAR-10 binary batches (data_batch_1.bin, test_batch.bin), 3x32x32 RGB, 12
                  classes = orientation x period of a colour grating: class 3 * o + p with
                  orientation o of 0, 45, 90, 135 degrees (+-7) and period p of 4, 5.6, 8 px
                  (+-8%); two random colours at least 60 grey levels apart, a weaker distractor
                  grating (0.3-0.55 of the contrast) at another orientation and period, Gaussian
                  pixel noise. train 3360 (280 a class), test 720.
"""
import importlib.util
import math
import os
import random
import sys

VERSION = "heldout9-data v1"  # bump whenever the output changes
HERE = os.path.dirname(os.path.abspath(__file__))

QUADS = ["0-top-left", "1-top-right", "2-bottom-left", "3-bottom-right", "4-none"]  # sorted: ids 0..4
QUAD_SIZE = 24
QUAD_TRAIN, QUAD_VAL = 600, 120  # per class
MARK_SIZE = 36
MARK_TRAIN, MARK_VAL = 300, 60  # per class, 11 classes
WEAVE_SIZE = 32
WEAVE_TRAIN, WEAVE_VAL = 280, 60  # per class, 12 classes
WEAVE_ANGLES = (0, 45, 90, 135)
WEAVE_PERIODS = (4.0, 5.6, 8.0)


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


# --- oddquad5 --------------------------------------------------------------------------------

def quad_image(cls, rng):
    """24 rows of 72 bytes (RGB)."""
    n = QUAD_SIZE
    h0 = rng.random()
    odd_h = h0 + rng.choice((-1, 1)) * rng.uniform(70, 180) / 360.0
    discs = []
    for q in range(4):
        ox, oy = (q % 2) * n / 2, (q // 2) * n / 2
        r = rng.uniform(2.8, 4.3)
        cx, cy = ox + n / 4 + rng.uniform(-1.5, 1.5), oy + n / 4 + rng.uniform(-1.5, 1.5)
        h = odd_h if q == cls else h0 + rng.uniform(-15, 15) / 360.0
        discs.append((cx, cy, r, H6._rgb(h, rng.uniform(0.55, 1.0), rng.uniform(0.6, 1.0))))
    bg = H6._rgb(rng.random(), rng.uniform(0.0, 0.2), rng.uniform(0.1, 0.9))
    noise = rng.uniform(5, 15)
    img = [[list(bg) for _ in range(n)] for _ in range(n)]
    for cx, cy, r, colour in discs:
        for y in range(max(0, int(cy - r - 2)), min(n, int(cy + r + 2))):
            for x in range(max(0, int(cx - r - 2)), min(n, int(cx + r + 2))):
                a = max(0.0, min(1.0, r + 0.5 - math.hypot(x + 0.5 - cx, y + 0.5 - cy)))
                if a > 0:
                    p = img[y][x]
                    img[y][x] = [p[c] + (colour[c] - p[c]) * a for c in range(3)]
    return [bytes(clamp8(v + rng.gauss(0, noise)) for p in row for v in p) for row in img]


def make_oddquad5(out):
    H1.write_png_class_folders(out, (("train", QUAD_TRAIN), ("val", QUAD_VAL)), QUADS,
                               lambda cls, name, rng: quad_image(cls, rng),
                               lambda rows: H6.png_rgb_bytes(QUAD_SIZE, QUAD_SIZE, rows),
                               random.Random(20270401))


# --- marks11 ---------------------------------------------------------------------------------

def _stroke(cover, seg, half, strength):
    """Paint one segment's coverage (max) into `cover` within its bounding box."""
    n = MARK_SIZE
    x0, y0, x1, y1 = seg
    for y in range(max(0, int(min(y0, y1) - half - 2)), min(n, int(max(y0, y1) + half + 2))):
        for x in range(max(0, int(min(x0, x1) - half - 2)), min(n, int(max(x0, x1) + half + 2))):
            a = strength * max(0.0, min(1.0, half + 0.5 - H6._seg_dist(x + 0.5, y + 0.5, x0, y0, x1, y1)))
            if a > cover[y][x]:
                cover[y][x] = a


def _radial(cover, cx, cy, s, half, ring):
    n = MARK_SIZE
    for y in range(max(0, int(cy - s - half - 2)), min(n, int(cy + s + half + 2))):
        for x in range(max(0, int(cx - s - half - 2)), min(n, int(cx + s + half + 2))):
            d = math.hypot(x + 0.5 - cx, y + 0.5 - cy)
            a = max(0.0, min(1.0, (half + 0.5 - abs(d - s)) if ring else (s + 0.5 - d)))
            if a > cover[y][x]:
                cover[y][x] = a


def _filled_square(cover, cx, cy, s, rot):
    n = MARK_SIZE
    c, si = math.cos(rot), math.sin(rot)
    for y in range(max(0, int(cy - 1.5 * s - 2)), min(n, int(cy + 1.5 * s + 2))):
        for x in range(max(0, int(cx - 1.5 * s - 2)), min(n, int(cx + 1.5 * s + 2))):
            u, v = x + 0.5 - cx, y + 0.5 - cy
            a = max(0.0, min(1.0, s + 0.5 - max(abs(c * u + si * v), abs(-si * u + c * v))))
            if a > cover[y][x]:
                cover[y][x] = a


def mark_image(cls, rng):
    n = MARK_SIZE
    s = rng.uniform(6.0, 11.0)
    cx, cy = n / 2 + rng.uniform(-4, 4), n / 2 + rng.uniform(-4, 4)
    rot = math.radians(rng.uniform(-10, 10))
    half = rng.uniform(0.55, 1.2)
    cover = [[0.0] * n for _ in range(n)]

    def pt(u, v):  # shape coordinates (u right, v down, in units of s) to pixels
        return (cx + s * (math.cos(rot) * u - math.sin(rot) * v), cy + s * (math.sin(rot) * u + math.cos(rot) * v))

    def seg(u0, v0, u1, v1):
        return pt(u0, v0) + pt(u1, v1)

    segs = []
    if cls == 0:
        _radial(cover, cx, cy, s * 0.8, half, False)
    elif cls == 1:
        _radial(cover, cx, cy, s * 0.85, half, True)
    elif cls == 2:
        segs = [seg(-1, 0, 1, 0), seg(0, -1, 0, 1)]
    elif cls == 3:
        segs = [seg(-0.75, -0.75, 0.75, 0.75), seg(-0.75, 0.75, 0.75, -0.75)]
    elif cls == 4:
        k = 0.8
        segs = [seg(-k, -k, k, -k), seg(k, -k, k, k), seg(k, k, -k, k), seg(-k, k, -k, -k)]
    elif cls == 5:
        _filled_square(cover, cx, cy, s * 0.7, rot)
    elif cls == 6:
        a, b, c = (0, -0.9), (0.85, 0.65), (-0.85, 0.65)
        segs = [seg(*a, *b), seg(*b, *c), seg(*c, *a)]
    elif cls == 7:
        g = rng.uniform(0.3, 0.5)
        segs = [seg(-0.9, -g, 0.9, -g), seg(-0.9, g, 0.9, g)]
    elif cls == 8:
        g = rng.uniform(0.3, 0.5)
        segs = [seg(-g, -0.9, -g, 0.9), seg(g, -0.9, g, 0.9)]
    elif cls == 9:
        segs = [seg(-0.7, -0.9, -0.7, 0.8), seg(-0.7, 0.8, 0.8, 0.8)]
    else:
        segs = [seg(-0.9, -0.8, 0.9, -0.8), seg(0, -0.8, 0, 0.9)]
    for sg in segs:
        _stroke(cover, sg, half, 1.0)
    for _ in range(rng.randint(3, 6)):  # faint clutter: dots and short strokes
        x0, y0 = rng.uniform(0, n), rng.uniform(0, n)
        strength = rng.uniform(0.3, 0.65)
        if rng.random() < 0.5:
            _stroke(cover, (x0, y0, x0 + 0.01, y0), rng.uniform(0.6, 1.3), strength)
        else:
            a, ln = rng.uniform(0, 2 * math.pi), rng.uniform(2.0, 4.5)
            _stroke(cover, (x0, y0, x0 + math.cos(a) * ln, y0 + math.sin(a) * ln), 0.5, strength)
    ink, paper = H8._levels(rng)
    noise = rng.uniform(8, 25)
    return bytes(clamp8(paper + (ink - paper) * a + rng.gauss(0, noise)) for row in cover for a in row)


def make_marks11(out):
    rng = random.Random(20270402)
    os.makedirs(out)
    for prefix, per_class in (("train", MARK_TRAIN), ("t10k", MARK_VAL)):
        labels = H8._labels(11, per_class, rng)
        images = [mark_image(c, rng) for c in labels]
        H1.write_idx_raw(out, prefix, images, labels, MARK_SIZE, MARK_SIZE)


# --- weaves12 --------------------------------------------------------------------------------

def weave_image(cls, rng):
    """3072 bytes, channel-major RGB (CIFAR-10 record layout without the label byte)."""
    n = WEAVE_SIZE
    o, p = divmod(cls, 3)
    ang = math.radians(WEAVE_ANGLES[o] + rng.uniform(-7, 7))
    period = WEAVE_PERIODS[p] * rng.uniform(0.92, 1.08)
    o2 = rng.choice([k for k in range(4) if k != o])
    ang2 = math.radians(WEAVE_ANGLES[o2] + rng.uniform(-20, 20))
    period2 = rng.uniform(3.5, 9.0)
    weak = rng.uniform(0.3, 0.55)
    ph, ph2 = rng.uniform(0, 2 * math.pi), rng.uniform(0, 2 * math.pi)
    paper = H6._rgb(rng.random(), rng.uniform(0.0, 1.0), rng.uniform(0.05, 1.0))
    ink = H6._contrasting(rng, paper, 60)
    noise = rng.uniform(15, 35)
    k1x, k1y = math.cos(ang) * 2 * math.pi / period, math.sin(ang) * 2 * math.pi / period
    k2x, k2y = math.cos(ang2) * 2 * math.pi / period2, math.sin(ang2) * 2 * math.pi / period2
    planes = [bytearray(), bytearray(), bytearray()]
    for y in range(n):
        for x in range(n):
            t = 0.5 + 0.5 * ((1 - weak) * math.sin(k1x * x - k1y * y + ph) + weak * math.sin(k2x * x - k2y * y + ph2))
            for c in range(3):
                planes[c].append(clamp8(paper[c] + (ink[c] - paper[c]) * t + rng.gauss(0, noise)))
    return bytes(planes[0] + planes[1] + planes[2])


def make_weaves12(out):
    rng = random.Random(20270403)
    os.makedirs(out)
    for name, per_class in (("data_batch_1.bin", WEAVE_TRAIN), ("test_batch.bin", WEAVE_VAL)):
        labels = H8._labels(12, per_class, rng)
        with open(os.path.join(out, name), "wb") as f:
            for c in labels:
                f.write(bytes([c]) + weave_image(c, rng))


# --- main ------------------------------------------------------------------------------------

MAKERS = [("oddquad5", make_oddquad5), ("marks11", make_marks11), ("weaves12", make_weaves12)]


def main(argv=None):
    return H1.generate(__doc__.split("\n")[0], VERSION, "held-out-9", MAKERS, argv,
                       procedural=True)


if __name__ == "__main__":
    sys.exit(main())
