#!/usr/bin/env python3
"""Writes the data sets of the fourteenth held-out fault zoo (bench/zoo-heldout14) under OUTDIR.

    python3 scripts/make-heldout14-data.py OUTDIR      # e.g. bench/zoo-heldout14/data

Python 3 standard library only, deterministic (fixed seeds: the same bytes on every machine and
every run) and idempotent: when OUTDIR/.done holds this script's version stamp it does nothing. A
lock file makes concurrent invocations wait for each other instead of writing the same files
twice; each set is written under a temporary name and renamed into place. All three sets are
procedural (no Fashion-MNIST source). Reused by path, not copied: the command line, lock, version
stamp and write-then-rename steps (generate(..., procedural=True) of scripts/make-heldout-data.py),
the RGB PNG writer and class-folder writer of scripts/make-heldout-data.py, the gzip IDX writer
and clamp8 of scripts/make-heldout2-data.py, the colour helper of scripts/make-heldout6-data.py,
the grey levels and label shuffler of scripts/make-heldout8-data.py and the anti-aliased shape
helpers (_box, _capsule, _grey_max, _paint, _clip01) of scripts/make-heldout13-data.py; their
output is untouched. Shapes are drawn into their bounding boxes only.

  braille23/      IDX, gzip-compressed, 1x36x24 grey (36 rows, 24 columns; not square), 23
                  classes = which braille letter a-w (class k is letter k): the raised dots of
                  one six-dot cell (two columns of three), each dot drawn with a highlight and an
                  offset shadow (embossed), dot pitch 6.5-9 px across and 7-9.5 px down, dot
                  radius 1.4-2.1 px, the cell tilted +-9 degrees, its centre within +-3 px of the
                  image centre; 3-6 faint specks, random polarity and grey levels (>= 70 apart),
                  Gaussian pixel noise (sigma 16-34). train 3013 (131 a class), t10k 598 (26).
  resistors27/    CIFAR-10 binary batches (data_batch_1.bin, test_batch.bin), 3x32x32 RGB, 27
                  classes = the colours of the three value bands of a resistor, each red, green
                  or blue (class = 9 * first + 3 * second + third, red 0, green 1, blue 2, the
                  first band the one farthest from the gold tolerance band); a pale body (tan or
                  light blue) 20-24 px long and 7-9 px thick with grey leads to the image edges,
                  the tolerance band always at the right end, rotated +-20 degrees, centre within
                  +-2 px of the image centre; band hues +-0.04, saturation 0.55-1, value
                  0.45-0.95, width 1.7-2.4 px; a random colour cast (per-channel gains
                  0.8-1.15), 1-3 clutter discs, Gaussian pixel noise (sigma 12-30, one value for the
                  three channels). train 3024
                  (112 a class), test 594 (22).
  notes28/        folder of 8-bit RGB PNG files (train/<class>/, val/<class>/), 3x40x40, 28
                  classes = one note on a five-line staff: its position (7: the bottom line, the
                  first space, ... the fourth line) times its duration (4: whole = hollow head
                  without stem, half = hollow head with stem, quarter = filled head with stem,
                  eighth = filled head with stem and flag); class = 4 * position + duration
                  (sorted folder names 00-p0-whole ... 27-p6-eighth); the staff (line spacing
                  4.2-5 px) tilted +-4 degrees, its middle line within +-2 px of the image centre,
                  the head's column within +-4 px; stems up on the right below the middle line,
                  down on the left from it up; sometimes a bar line, 1-3 faint specks; random
                  paper and ink colours, Gaussian pixel noise (sigma 8-22, one value for the
                  three channels). train 3024 (108 a class), val 588 (21).
"""
import importlib.util
import math
import os
import random
import sys

VERSION = "heldout14-data v3"  # bump whenever the output changes
HERE = os.path.dirname(os.path.abspath(__file__))

BRAILLE_H, BRAILLE_W = 36, 24
BRAILLE_TRAIN, BRAILLE_VAL = 131, 26  # per class, 23 classes
RES_SIZE = 32
RES_TRAIN, RES_VAL = 112, 22  # per class, 27 classes
NOTE_SIZE = 40
NOTE_TRAIN, NOTE_VAL = 108, 21  # per class, 28 classes
# braille letters a-w: the raised dots (1-3 down the left column, 4-6 down the right)
BRAILLE = ["1", "12", "14", "145", "15", "124", "1245", "125", "24", "245", "13", "123", "134",
           "1345", "135", "1234", "12345", "1235", "234", "2345", "136", "1236", "2456"]
DURATIONS = ["whole", "half", "quarter", "eighth"]
NOTE_CLASSES = [f"{4 * p + d:02d}-p{p}-{DURATIONS[d]}" for p in range(7) for d in range(4)]


def _load(name, filename):
    """A sibling script (a hyphenated name, so loaded by path)."""
    spec = importlib.util.spec_from_file_location(name, os.path.join(HERE, filename))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


H13 = _load("make_heldout13_data", "make-heldout13-data.py")
H1, H2, H6, H8 = H13.H1, H13.H2, H13.H6, H13.H8
clamp8 = H2.clamp8
_box, _capsule, _grey_max, _paint, _clip01 = H13._box, H13._capsule, H13._grey_max, H13._paint, H13._clip01


# --- braille23 -------------------------------------------------------------------------------

def braille_image(cls, rng):
    w, h = BRAILLE_W, BRAILLE_H
    px, py = rng.uniform(6.5, 9.0), rng.uniform(7.0, 9.5)  # dot pitch across and down
    r = rng.uniform(1.4, 2.1)
    tilt = math.radians(rng.uniform(-9, 9))
    cx, cy = w / 2 + rng.uniform(-3, 3), h / 2 + rng.uniform(-3, 3)
    cos_t, sin_t = math.cos(tilt), math.sin(tilt)
    dots = []
    for d in BRAILLE[cls]:
        k = int(d) - 1
        u, v = (-0.5 if k < 3 else 0.5) * px, (k % 3 - 1) * py
        u, v = u + rng.uniform(-0.4, 0.4), v + rng.uniform(-0.4, 0.4)
        dots.append((cx + u * cos_t - v * sin_t, cy + u * sin_t + v * cos_t))
    shade = [0.0] * (w * h)  # the shadows, offset down and right
    lift = [0.0] * (w * h)  # the dots
    off = rng.uniform(0.7, 1.2)
    for x, y in dots:
        _grey_max(shade, _capsule(w, h, (x + off, y + off, x + off, y + off), r))
        _grey_max(lift, _capsule(w, h, (x, y, x, y), r))
    for _ in range(rng.randint(3, 6)):  # faint specks
        sx, sy = rng.uniform(0, w), rng.uniform(0, h)
        _grey_max(lift, _capsule(w, h, (sx, sy, sx, sy), rng.uniform(0.4, 1.0)), rng.uniform(0.2, 0.5))
    ink, paper = H8._levels(rng, 70)
    dark = paper - rng.uniform(0.3, 0.6) * (ink - paper)
    noise = rng.uniform(16, 34)
    out = bytearray()
    for s, a in zip(shade, lift):
        base = paper + (dark - paper) * s * (1 - a)
        out.append(clamp8(base + (ink - base) * a + rng.gauss(0, noise)))
    return bytes(out)


def make_braille23(out):
    rng = random.Random(20270801)
    os.makedirs(out)
    for prefix, per_class in (("train", BRAILLE_TRAIN), ("t10k", BRAILLE_VAL)):
        labels = H8._labels(23, per_class, rng)
        images = [braille_image(c, rng) for c in labels]
        H2.write_idx_pair(out, prefix, images, labels, BRAILLE_H, BRAILLE_W)


# --- resistors27 -----------------------------------------------------------------------------

BAND_HUES = [0.0, 0.33, 0.64]  # red, green, blue


def resistor_image(cls, rng):
    """3072 bytes, channel-major RGB (CIFAR-10 record layout without the label byte)."""
    n = RES_SIZE
    bands = [cls // 9, cls // 3 % 3, cls % 3]
    length, thick = rng.uniform(20.0, 24.0), rng.uniform(7.0, 9.0)
    rot = math.radians(rng.uniform(-20, 20))
    cx, cy = n / 2 + rng.uniform(-2, 2), n / 2 + rng.uniform(-2, 2)
    cos_r, sin_r = math.cos(rot), math.sin(rot)

    def to_img(u, v):  # the body's frame (u along, v across) to image coordinates
        return cx + u * cos_r - v * sin_r, cy + u * sin_r + v * cos_r

    bg = H6._rgb(rng.random(), rng.uniform(0.0, 0.5), rng.uniform(0.1, 0.9))
    body = H6._rgb(rng.choice((rng.uniform(0.07, 0.13), rng.uniform(0.52, 0.58))),
                   rng.uniform(0.15, 0.45), rng.uniform(0.65, 0.95))
    lead = H6._rgb(0.0, 0.0, rng.uniform(0.45, 0.8))
    planes = [[bg[k]] * (n * n) for k in range(3)]
    for _ in range(rng.randint(1, 3)):  # clutter discs near the corners
        ex = rng.choice((rng.uniform(0, 6), rng.uniform(26, 32)))
        ey = rng.choice((rng.uniform(0, 6), rng.uniform(26, 32)))
        _paint(planes, _capsule(n, n, (ex, ey, ex, ey), rng.uniform(0.8, 1.8)),
               H6._rgb(rng.random(), rng.uniform(0.3, 1.0), rng.uniform(0.3, 1.0)))
    _paint(planes, _capsule(n, n, to_img(-30, 0) + to_img(30, 0), rng.uniform(0.5, 0.8)), lead)
    _paint(planes, _capsule(n, n, to_img(-length / 2 + thick / 2, 0) + to_img(length / 2 - thick / 2, 0),
                            thick / 2), body)

    def band(u0, width, colour):
        r = max(width, thick) + 1
        x0, y0 = to_img(u0, 0)
        xs, ys = _box(n, n, x0 - r, y0 - r, x0 + r, y0 + r, 0)
        cover = []
        for y in ys:
            for x in xs:
                dx, dy = x + 0.5 - cx, y + 0.5 - cy
                u, v = dx * cos_r + dy * sin_r, -dx * sin_r + dy * cos_r
                a = _clip01(min(width / 2 - abs(u - u0), thick / 2 - 0.3 - abs(v)) + 0.5)
                if a > 0:
                    cover.append((y * n + x, a))
        _paint(planes, cover, colour)

    step = length / 6.2
    width = rng.uniform(1.7, 2.4)
    for i, b in enumerate(bands):
        band(-length / 2 + step * (1.0 + 1.05 * i) + rng.uniform(-0.3, 0.3), width,
             H6._rgb(BAND_HUES[b] + rng.uniform(-0.04, 0.04), rng.uniform(0.55, 1.0), rng.uniform(0.45, 0.95)))
    band(length / 2 - step * 0.9, width, H6._rgb(rng.uniform(0.11, 0.14), rng.uniform(0.55, 0.8), rng.uniform(0.6, 0.8)))
    gains = [rng.uniform(0.8, 1.15) for _ in range(3)]
    noise = rng.uniform(12, 30)
    grain = [rng.gauss(0, noise) for _ in range(n * n)]  # one value for the three channels
    return bytes(bytearray(clamp8(v * gains[k] + e) for k in range(3) for v, e in zip(planes[k], grain)))


def make_resistors27(out):
    rng = random.Random(20270802)
    os.makedirs(out)
    for name, per_class in (("data_batch_1.bin", RES_TRAIN), ("test_batch.bin", RES_VAL)):
        labels = H8._labels(27, per_class, rng)
        with open(os.path.join(out, name), "wb") as f:
            for cl in labels:
                f.write(bytes([cl]) + resistor_image(cl, rng))


# --- notes28 ---------------------------------------------------------------------------------

def note_image(cls, rng):
    """40 rows of 40 * 3 bytes (RGB)."""
    n = NOTE_SIZE
    pos, dur = divmod(cls, 4)
    d = rng.uniform(4.2, 5.0)  # staff line spacing
    tilt = math.radians(rng.uniform(-4, 4))
    cx, cy = n / 2 + rng.uniform(-4, 4), n / 2 + rng.uniform(-2, 2)  # the head's column, the middle line
    cos_t, sin_t = math.cos(tilt), math.sin(tilt)

    def to_img(u, v):  # staff frame (u along, v down from the middle line) to image coordinates
        return cx + u * cos_t - v * sin_t, cy + u * sin_t + v * cos_t

    ink = [0.0] * (n * n)
    lw = rng.uniform(0.35, 0.55)
    for k in range(-2, 3):  # the five lines
        _grey_max(ink, _capsule(n, n, to_img(-40, k * d) + to_img(40, k * d), lw), rng.uniform(0.75, 1.0))
    if rng.random() < 0.5:  # a bar line away from the note
        bu = rng.choice((-1, 1)) * rng.uniform(11, 17)
        _grey_max(ink, _capsule(n, n, to_img(bu, -2 * d) + to_img(bu, 2 * d), lw * 1.2))
    v0 = 2 * d - pos * d / 2  # position 0 = the bottom line
    hx, hy = to_img(0, v0)
    rx, ry = d * rng.uniform(0.62, 0.72), d * 0.5
    ang = math.radians(-20) + tilt
    ca, sa = math.cos(ang), math.sin(ang)
    hollow = dur < 2
    xs, ys = _box(n, n, hx - rx - 1, hy - rx - 1, hx + rx + 1, hy + rx + 1, 0)
    cover = []
    for y in ys:
        for x in xs:
            dx, dy = x + 0.5 - hx, y + 0.5 - hy
            u, v = dx * ca + dy * sa, -dx * sa + dy * ca
            rr = math.hypot(u / rx, v / ry)
            a = _clip01((1 - rr) * ry + 0.5)
            if hollow:
                a = a * _clip01((rr - 0.55) * ry * 2.2 + 0.5)
            if a > 0:
                cover.append((y * n + x, a))
    _grey_max(ink, cover)
    if dur > 0:  # the stem
        up = pos < 4
        su = rx * 0.95 if up else -rx * 0.95
        length = d * rng.uniform(3.0, 3.5)
        tip = v0 - length if up else v0 + length
        _grey_max(ink, _capsule(n, n, to_img(su, v0) + to_img(su, tip), rng.uniform(0.4, 0.55)))
        if dur == 3:  # the flag: two strokes from the tip
            sgn = 1 if up else -1
            mid = (su + 1.4, tip + sgn * 1.2 * d)
            end = (su + 1.8, tip + sgn * 2.3 * d)
            fw = rng.uniform(0.55, 0.75)
            _grey_max(ink, _capsule(n, n, to_img(su, tip) + to_img(*mid), fw))
            _grey_max(ink, _capsule(n, n, to_img(*mid) + to_img(*end), fw))
    for _ in range(rng.randint(1, 3)):  # faint specks
        ex, ey = rng.uniform(0, n), rng.uniform(0, n)
        _grey_max(ink, _capsule(n, n, (ex, ey, ex, ey), rng.uniform(0.5, 1.1)), rng.uniform(0.2, 0.45))
    paper = H6._rgb(rng.random(), rng.uniform(0.0, 0.3), rng.uniform(0.65, 1.0))
    pen = H6._rgb(rng.random(), rng.uniform(0.0, 0.7), rng.uniform(0.0, 0.4))
    noise = rng.uniform(8, 22)
    rows = []
    for y in range(n):
        row = bytearray()
        for x in range(n):
            a = ink[y * n + x]
            e = rng.gauss(0, noise)
            for k in range(3):
                row.append(clamp8(paper[k] + (pen[k] - paper[k]) * a + e))
        rows.append(bytes(row))
    return rows


def make_notes28(out):
    H1.write_png_class_folders(out, (("train", NOTE_TRAIN), ("val", NOTE_VAL)), NOTE_CLASSES,
                               lambda cls, name, rng: note_image(cls, rng),
                               lambda rows: H1.png_bytes(NOTE_SIZE, NOTE_SIZE, rows),
                               random.Random(20270803))


# --- main ------------------------------------------------------------------------------------

MAKERS = [("braille23", make_braille23), ("resistors27", make_resistors27), ("notes28", make_notes28)]


def main(argv=None):
    return H1.generate(__doc__.split("\n")[0], VERSION, "held-out-14", MAKERS, argv,
                       procedural=True)


if __name__ == "__main__":
    sys.exit(main())
