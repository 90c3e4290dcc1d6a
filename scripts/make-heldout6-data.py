#!/usr/bin/env python3
"""Writes the data sets of the sixth held-out fault zoo (bench/zoo-heldout6) under OUTDIR.

    python3 scripts/make-heldout6-data.py OUTDIR       # e.g. bench/zoo-heldout6/data

Python 3 standard library only, deterministic (fixed seeds: the same bytes on every machine and
every run) and idempotent: when OUTDIR/.done holds this script's version stamp it does nothing. A
lock file makes concurrent invocations wait for each other instead of writing the same files
twice. All three sets are procedural and need no Fashion-MNIST source; the command line, lock,
stamp and write-then-rename steps follow scripts/make-heldout5-data.py. The IDX writer and the
version stamp come from scripts/make-heldout-data.py, the IDX file naming and clamp8 from
scripts/make-heldout2-data.py (both loaded by path; their output is untouched); the RGB PNG writer
follows the grey one of scripts/make-heldout5-data.py (colour type 2 instead of 0).

  dice6/          CIFAR-10 binary batches (data_batch_1.bin, test_batch.bin), 3x32x32 RGB, 6
                  classes = the number of pips on one die face (class 0 = one pip ... class 5 =
                  six pips, the usual layouts): a rotated square face of random size, position
                  and colour on a random background, pips of random size and contrast, 0-3
                  pip-like distractor dots off the face, Gaussian pixel noise. train 4200 (700 a
                  class), test 840.
  clocks8/        IDX (gzip), 1x22x22 grey, 8 classes = the octant the short, thick hour hand of
                  an analogue clock points at (0 = 12 o'clock, clockwise, 45 degrees each, +-20
                  degrees of jitter); a long thin minute hand at a random angle, a thin second hand (40%), a rim (70%),
                  tick marks (50%), random centre offset, polarity, grey levels and Gaussian pixel
                  noise. train 4800 (600 a class), t10k 960.
  polygons4/      folder of 8-bit RGB PNG files (train/<class>/, val/<class>/; written with zlib +
                  struct), 3x20x28 (not square), 4 classes = filled polygons by vertex count
                  (sorted folder names: hexagon, pentagon, quad, triangle), irregular (each vertex
                  radius and angle jittered), upright (a vertex at the top, +-12 degrees), of random size, position and colour, with
                  2x2 supersampled edges, a second small distractor blob (50%), a colour gradient
                  background and Gaussian pixel noise. train 2800 (700 a class), val 600.
"""
import colorsys
import importlib.util
import math
import os
import random
import struct
import sys
import zlib

VERSION = "heldout6-data v5"  # bump whenever the output changes
HERE = os.path.dirname(os.path.abspath(__file__))

DICE_TRAIN, DICE_VAL = 700, 140  # per class, 6 classes
CLOCK_SIZE = 22
CLOCK_TRAIN, CLOCK_VAL = 600, 120  # per class, 8 classes
POLY = ["hexagon", "pentagon", "quad", "triangle"]  # sorted: class ids 0..3
POLY_SIDES = {"triangle": 3, "quad": 4, "pentagon": 5, "hexagon": 6}
POLY_H, POLY_W = 20, 28
POLY_TRAIN, POLY_VAL = 700, 150  # per class


def _load(name, filename):
    """A sibling script (a hyphenated name, so loaded by path)."""
    spec = importlib.util.spec_from_file_location(name, os.path.join(HERE, filename))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


H1 = _load("make_heldout_data", "make-heldout-data.py")
H2 = _load("make_heldout2_data", "make-heldout2-data.py")
clamp8 = H2.clamp8


def _rgb(h, s, v):
    return [255 * c for c in colorsys.hsv_to_rgb(h % 1.0, s, v)]


def _lum(c):
    return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]


def _contrasting(rng, other, gap, sat=(0.0, 1.0), val=(0.05, 1.0)):
    """A random colour whose luminance is at least `gap` levels from `other`'s."""
    while True:
        c = _rgb(rng.random(), rng.uniform(*sat), rng.uniform(*val))
        if abs(_lum(c) - _lum(other)) >= gap:
            return c


# --- dice6 -----------------------------------------------------------------------------------

# pip positions on a face of half-size 1 (u right, v down), the usual layouts of 1..6
_A = 0.52
PIPS = [
    [(0, 0)],
    [(-_A, -_A), (_A, _A)],
    [(-_A, -_A), (0, 0), (_A, _A)],
    [(-_A, -_A), (_A, -_A), (-_A, _A), (_A, _A)],
    [(-_A, -_A), (_A, -_A), (0, 0), (-_A, _A), (_A, _A)],
    [(-_A, -_A), (_A, -_A), (-_A, 0), (_A, 0), (-_A, _A), (_A, _A)],
]


def dice_image(cls, rng):
    """3x32x32 RGB bytes (channel-major, as in CIFAR-10's records)."""
    n = 32
    half = rng.uniform(7.0, 11.5)
    cx, cy = rng.uniform(half + 1, n - 1 - half), rng.uniform(half + 1, n - 1 - half)
    ang = rng.uniform(0, math.pi / 2)
    ca, sa = math.cos(ang), math.sin(ang)
    bg = _rgb(rng.random(), rng.uniform(0, 0.7), rng.uniform(0.1, 0.9))
    face = _contrasting(rng, bg, 50)
    pip = _contrasting(rng, face, rng.uniform(60, 120))
    pr = rng.uniform(0.19, 0.26)  # pip radius in face units
    pips = [(u + rng.gauss(0, 0.04), v + rng.gauss(0, 0.04)) for u, v in PIPS[cls]]
    dots = []  # pip-like distractors off the face (image coordinates)
    for _ in range(rng.randint(0, 3)):
        x, y = rng.uniform(0, n - 1), rng.uniform(0, n - 1)
        if math.hypot(x - cx, y - cy) > half * 1.5:
            dots.append((x, y, pr * half * rng.uniform(0.7, 1.2)))
    noise = rng.uniform(6, 22)
    planes = [bytearray(), bytearray(), bytearray()]
    for y in range(n):
        for x in range(n):
            dx, dy = x + 0.5 - cx, y + 0.5 - cy
            u, v = (ca * dx + sa * dy) / half, (-sa * dx + ca * dy) / half
            if abs(u) <= 1 and abs(v) <= 1:
                c = face
                for pu, pv in pips:
                    if (u - pu) ** 2 + (v - pv) ** 2 <= pr * pr:
                        c = pip
                        break
            else:
                c = bg
                for qx, qy, qr in dots:
                    if (x + 0.5 - qx) ** 2 + (y + 0.5 - qy) ** 2 <= qr * qr:
                        c = pip
                        break
            for k in range(3):
                planes[k].append(clamp8(c[k] + rng.gauss(0, noise)))
    return bytes(planes[0] + planes[1] + planes[2])


def make_dice6(out):
    rng = random.Random(20270105)
    os.makedirs(out)
    for name, per_class in (("data_batch_1.bin", DICE_TRAIN), ("test_batch.bin", DICE_VAL)):
        labels = [c for c in range(len(PIPS)) for _ in range(per_class)]
        rng.shuffle(labels)  # records in random order, as CIFAR's batches are
        with open(os.path.join(out, name), "wb") as f:
            for c in labels:
                f.write(bytes([c]) + dice_image(c, rng))


# --- clocks8 ---------------------------------------------------------------------------------

def _seg_dist(px, py, x0, y0, x1, y1):
    vx, vy = x1 - x0, y1 - y0
    t = max(0.0, min(1.0, ((px - x0) * vx + (py - y0) * vy) / (vx * vx + vy * vy)))
    return math.hypot(px - x0 - t * vx, py - y0 - t * vy)


def clock_image(cls, rng):
    n = CLOCK_SIZE
    cx, cy = n / 2 + rng.uniform(-1.2, 1.2), n / 2 + rng.uniform(-1.2, 1.2)
    r = rng.uniform(8.0, 9.8)
    hour = math.radians(45 * cls + rng.uniform(-20, 20))  # clockwise from 12 o'clock
    minute = rng.uniform(0, 2 * math.pi)
    hands = [  # (end x, end y, half thickness, strength)
        (cx + math.sin(hour) * r * rng.uniform(0.5, 0.65), cy - math.cos(hour) * r * rng.uniform(0.5, 0.65),
         rng.uniform(0.7, 1.1), 1.0),
        (cx + math.sin(minute) * r * rng.uniform(0.8, 0.95), cy - math.cos(minute) * r * rng.uniform(0.8, 0.95),
         rng.uniform(0.4, 0.7), rng.uniform(0.7, 1.0)),
    ]
    if rng.random() < 0.4:  # a thin second hand
        sec = rng.uniform(0, 2 * math.pi)
        hands.append((cx + math.sin(sec) * r * 0.9, cy - math.cos(sec) * r * 0.9, 0.25, rng.uniform(0.5, 0.8)))
    rim = rng.random() < 0.7
    ticks = rng.random() < 0.5
    ink, paper = rng.uniform(150, 250), rng.uniform(5, 100)
    if rng.random() < 0.5:
        ink, paper = 255 - ink, 255 - paper
    noise = rng.uniform(10, 40)
    out = bytearray()
    for y in range(n):
        for x in range(n):
            px, py = x + 0.5, y + 0.5
            a = 0.0
            for ex, ey, w, s in hands:
                d = _seg_dist(px, py, cx, cy, ex, ey)
                a = max(a, s * max(0.0, min(1.0, w + 0.5 - d)))
            d0 = math.hypot(px - cx, py - cy)
            if rim:
                a = max(a, 0.8 * max(0.0, 1.0 - abs(d0 - r) * 1.5))
            if ticks and abs(d0 - r * 0.85) < 0.8:
                ang = math.degrees(math.atan2(px - cx, cy - py)) % 90
                if min(ang, 90 - ang) < 6:
                    a = max(a, 0.6)
            out.append(clamp8(paper + (ink - paper) * a + rng.gauss(0, noise)))
    return bytes(out)


def make_clocks8(out):
    rng = random.Random(20270106)
    os.makedirs(out)
    for prefix, per_class in (("train", CLOCK_TRAIN), ("t10k", CLOCK_VAL)):
        labels = [c for c in range(8) for _ in range(per_class)]
        rng.shuffle(labels)
        images = [clock_image(c, rng) for c in labels]
        H2.write_idx_pair(out, prefix, images, labels, CLOCK_SIZE, CLOCK_SIZE)


# --- polygons4 -------------------------------------------------------------------------------

def png_rgb_bytes(width, height, rows):
    """An 8-bit RGB PNG (colour type 2) from a list of rows of bytes (3 * width each)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    raw = b"".join(b"\0" + row for row in rows)  # filter type 0 (none) on every row
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def _inside(px, py, poly):
    """Point in a convex polygon given counter-clockwise (in image coordinates: any consistent
    order; the sign of every cross product must agree)."""
    sign = 0
    m = len(poly)
    for i in range(m):
        x0, y0 = poly[i]
        x1, y1 = poly[(i + 1) % m]
        c = (x1 - x0) * (py - y0) - (y1 - y0) * (px - x0)
        if c != 0:
            s = 1 if c > 0 else -1
            if sign == 0:
                sign = s
            elif s != sign:
                return False
    return True


def polygon_image(kind, rng):
    h, w = POLY_H, POLY_W
    k = POLY_SIDES[kind]
    rad = rng.uniform(7.0, 9.5)
    cx, cy = rng.uniform(rad + 0.5, w - rad - 0.5), rng.uniform(rad * 0.9, h - rad * 0.9)
    rot = -math.pi / 2 + math.radians(rng.uniform(-12, 12))  # a vertex at the top
    poly = []
    for i in range(k):
        a = rot + 2 * math.pi * (i + rng.uniform(-0.06, 0.06)) / k
        rr = rad * rng.uniform(0.93, 1.03)
        poly.append((cx + rr * math.cos(a), cy + rr * math.sin(a)))
    blob = None
    if rng.random() < 0.5:  # a small round distractor somewhere else
        bx, by = rng.uniform(0, w), rng.uniform(0, h)
        if math.hypot(bx - cx, by - cy) > rad + 3:
            blob = (bx, by, rng.uniform(1.5, 3.0))
    bg0 = _rgb(rng.random(), rng.uniform(0, 0.6), rng.uniform(0.15, 0.9))
    bg1 = [min(255, max(0, c + rng.uniform(-50, 50))) for c in bg0]
    fill = _contrasting(rng, bg0, rng.uniform(50, 110), sat=(0.2, 1.0))
    noise = rng.uniform(5, 18)
    sub = (0.25, 0.75)
    rows = []
    for y in range(h):
        row = bytearray()
        for x in range(w):
            t = x / (w - 1)
            back = [a + (b - a) * t for a, b in zip(bg0, bg1)]
            cov = sum(_inside(x + sx, y + sy, poly) for sx in sub for sy in sub) / 4.0
            if blob and (x + 0.5 - blob[0]) ** 2 + (y + 0.5 - blob[1]) ** 2 <= blob[2] ** 2:
                cov = 1.0
            for c in range(3):
                row.append(clamp8(back[c] + (fill[c] - back[c]) * cov + rng.gauss(0, noise)))
        rows.append(bytes(row))
    return rows


def make_polygons4(out):
    H1.write_png_class_folders(out, (("train", POLY_TRAIN), ("val", POLY_VAL)), POLY,
                               lambda cls, kind, rng: polygon_image(kind, rng),
                               lambda rows: png_rgb_bytes(POLY_W, POLY_H, rows),
                               random.Random(20270107))


# --- main ------------------------------------------------------------------------------------

MAKERS = [("dice6", make_dice6), ("clocks8", make_clocks8), ("polygons4", make_polygons4)]


def main(argv=None):
    return H1.generate(__doc__.split("\n")[0], VERSION, "held-out-6", MAKERS, argv,
                       procedural=True)


if __name__ == "__main__":
    sys.exit(main())
