#!/usr/bin/env python3
"""Writes the data sets of the thirteenth held-out fault zoo (bench/zoo-heldout13) under OUTDIR.

    python3 scripts/make-heldout13-data.py OUTDIR      # e.g. bench/zoo-heldout13/data

Python 3 standard library only, deterministic (fixed seeds: the same bytes on every machine and
every run) and idempotent: when OUTDIR/.done holds this script's version stamp it does nothing. A
lock file makes concurrent invocations wait for each other instead of writing the same files
twice; each set is written under a temporary name and renamed into place. All three sets are
procedural (no Fashion-MNIST source). Reused by path, not copied: the command line, lock, version
stamp and write-then-rename steps (generate(..., procedural=True) of scripts/make-heldout-data.py),
the gzip IDX writer (write_idx_pair of scripts/make-heldout2-data.py), clamp8 of
scripts/make-heldout2-data.py, the RGB PNG writer and class-folder writer of
scripts/make-heldout-data.py, the colour helper and segment distance of
scripts/make-heldout6-data.py and the grey levels and label shuffler of
scripts/make-heldout8-data.py; their output is untouched. Shapes are drawn into their bounding
boxes only (anti-aliased by a half-pixel ramp), which keeps the run under a minute on one core.

  morse22/        IDX, gzip-compressed, 1x20x32 grey (20 rows, 32 columns; not square), 22
                  classes = which Morse letter A-V: a row of dots and dashes (dash 3.6-4.6 px
                  longer than a dot, marks 1.6-2.6 px apart edge to edge, half-width 0.9-1.3
                  px), tilted +-5 degrees, its centre within +-2 px of the image centre; 2-4
                  faint clutter dots away from the row and one faint bar across the image;
                  random polarity and grey levels (>= 90 apart), Gaussian pixel noise (sigma
                  8-20). train 3014 (137 a class), t10k 594 (27).
  dominoes25/     CIFAR-10 binary batches (data_batch_1.bin, test_batch.bin), 3x32x32 RGB, 25
                  classes = the pip counts (top, bottom) of an upright domino, each 0-4: class =
                  5 * top + bottom; a light tile 12-14 px wide and 23-27 px tall with a
                  dividing line, rotated +-12 degrees, centre within +-2 px of the image centre;
                  pips (radius 1.2-1.7 px) in the die pattern of their count, of one dark hue;
                  a random background, 1-3 small discs of any colour beside the tile, Gaussian
                  pixel noise (sigma 14-32). train 3000 (120 a class), test 600 (24).
  semaphore26/    folder of 8-bit RGB PNG files (train/<class>/, val/<class>/), 3x34x34, 26
                  classes = which semaphore pose: the two arms point in two different ones of
                  eight directions 45 degrees apart (0 = down, counting clockwise as seen), class
                  k is the k-th such pair (a, b), a < b, in lexicographic order without the two
                  straight-line poses (0, 4) and (2, 6) (sorted folder names 00-a01 ... 25-a67);
                  a stick figure (head, torso) whose arms (length 9-11.5 px, half-width 0.6-0.9
                  px, each +-9 degrees off its direction) end in small square flags, the whole
                  pose rotated +-14 degrees and scaled 0.85-1.1, its shoulder within +-2 px of
                  the image centre; random colours (figure, flags, background), 1-3 faint
                  clutter discs, Gaussian pixel noise (sigma 14-34). train 3016 (116 a class),
                  val 598 (23).
"""
import importlib.util
import math
import os
import random
import sys

VERSION = "heldout13-data v4"  # bump whenever the output changes
HERE = os.path.dirname(os.path.abspath(__file__))

MORSE_H, MORSE_W = 20, 32
MORSE_TRAIN, MORSE_VAL = 137, 27  # per class, 22 classes
DOMINO_SIZE = 32
DOMINO_TRAIN, DOMINO_VAL = 120, 24  # per class, 25 classes
SEMA_SIZE = 34
SEMA_TRAIN, SEMA_VAL = 116, 23  # per class, 26 classes
SEMA_POSES = [(a, b) for a in range(8) for b in range(a + 1, 8) if (a, b) not in ((0, 4), (2, 6))]
SEMA_CLASSES = [f"{k:02d}-a{a}{b}" for k, (a, b) in enumerate(SEMA_POSES)]
MORSE = [".-", "-...", "-.-.", "-..", ".", "..-.", "--.", "....", "..", ".---", "-.-",
         ".-..", "--", "-.", "---", ".--.", "--.-", ".-.", "...", "-", "..-", "...-"]  # A-V


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
seg_dist = H6._seg_dist


def _clip01(v):
    return max(0.0, min(1.0, v))


def _box(w, h, x0, y0, x1, y1, pad):
    """The pixel ranges (columns, rows) that a shape spanning (x0, y0)-(x1, y1) plus pad touches."""
    return (range(max(0, int(min(x0, x1) - pad)), min(w, int(max(x0, x1) + pad) + 1)),
            range(max(0, int(min(y0, y1) - pad)), min(h, int(max(y0, y1) + pad) + 1)))


def _capsule(w, h, seg, half):
    """(index, alpha) of the pixels covered by a segment of half-width `half`."""
    x0, y0, x1, y1 = seg
    xs, ys = _box(w, h, x0, y0, x1, y1, half + 1)
    out = []
    for y in ys:
        for x in xs:
            if x0 == x1 and y0 == y1:
                d = math.hypot(x + 0.5 - x0, y + 0.5 - y0)
            else:
                d = seg_dist(x + 0.5, y + 0.5, x0, y0, x1, y1)
            a = _clip01(half + 0.5 - d)
            if a > 0:
                out.append((y * w + x, a))
    return out


def _grey_max(buf, cover, strength=1.0):
    for i, a in cover:
        buf[i] = max(buf[i], strength * a)


def _paint(planes, cover, colour):
    for i, a in cover:
        for k in range(3):
            planes[k][i] += (colour[k] - planes[k][i]) * a


# --- morse22 ---------------------------------------------------------------------------------

def morse_image(cls, rng):
    w, h = MORSE_W, MORSE_H
    code = MORSE[cls]
    half = rng.uniform(0.9, 1.3)
    dash = rng.uniform(3.6, 4.6)  # a dash's extra length over a dot
    gap = rng.uniform(1.6, 2.6) + 2 * half  # centre spacing between the ends of neighbouring marks
    lengths = [dash if s == "-" else 0.0 for s in code]
    total = sum(lengths) + gap * (len(code) - 1)
    tilt = math.radians(rng.uniform(-5, 5))
    cx, cy = w / 2 + rng.uniform(-2, 2), h / 2 + rng.uniform(-2, 2)
    cos_t, sin_t = math.cos(tilt), math.sin(tilt)
    buf = [0.0] * (w * h)
    u = -total / 2
    for ln in lengths:
        a0, a1 = u, u + ln
        seg = (cx + a0 * cos_t, cy + a0 * sin_t, cx + a1 * cos_t, cy + a1 * sin_t)
        _grey_max(buf, _capsule(w, h, seg, half))
        u = a1 + gap
    for _ in range(rng.randint(2, 4)):  # faint clutter dots, away from the row
        dx = rng.uniform(1, w - 1)
        dy = cy + rng.choice((-1, 1)) * rng.uniform(5, 9)
        _grey_max(buf, _capsule(w, h, (dx, dy, dx, dy), rng.uniform(0.5, 1.0)), rng.uniform(0.3, 0.5))
    by = cy + rng.choice((-1, 1)) * rng.uniform(6, 9)  # a faint bar across the image
    _grey_max(buf, _capsule(w, h, (0, by, w, by + rng.uniform(-2, 2)), rng.uniform(0.3, 0.6)), rng.uniform(0.2, 0.4))
    ink, paper = H8._levels(rng)
    noise = rng.uniform(8, 20)
    return bytes(clamp8(paper + (ink - paper) * a + rng.gauss(0, noise)) for a in buf)


def make_morse22(out):
    rng = random.Random(20270711)
    os.makedirs(out)
    for prefix, per_class in (("train", MORSE_TRAIN), ("t10k", MORSE_VAL)):
        labels = H8._labels(22, per_class, rng)
        images = [morse_image(c, rng) for c in labels]
        H2.write_idx_pair(out, prefix, images, labels, MORSE_H, MORSE_W)


# --- dominoes25 ------------------------------------------------------------------------------

PIPS = {0: [], 1: [(0, 0)], 2: [(-1, -1), (1, 1)], 3: [(-1, -1), (0, 0), (1, 1)],
        4: [(-1, -1), (1, -1), (-1, 1), (1, 1)]}  # die pattern, in units of the pip spacing


def domino_image(cls, rng):
    """3072 bytes, channel-major RGB (CIFAR-10 record layout without the label byte)."""
    n = DOMINO_SIZE
    top, bottom = divmod(cls, 5)
    tw, th = rng.uniform(12.0, 14.0), rng.uniform(23.0, 27.0)
    rot = math.radians(rng.uniform(-12, 12))
    cx, cy = n / 2 + rng.uniform(-2, 2), n / 2 + rng.uniform(-2, 2)
    cos_r, sin_r = math.cos(rot), math.sin(rot)

    def to_img(u, v):  # the tile's frame (u across, v down) to image coordinates
        return cx + u * cos_r - v * sin_r, cy + u * sin_r + v * cos_r

    bg = H6._rgb(rng.random(), rng.uniform(0.0, 0.6), rng.uniform(0.05, 0.55))
    tile = H6._rgb(rng.random(), rng.uniform(0.0, 0.35), rng.uniform(0.55, 0.95))
    pip = H6._rgb(rng.random(), rng.uniform(0.3, 1.0), rng.uniform(0.1, 0.5))
    planes = [[bg[k]] * (n * n) for k in range(3)]
    for _ in range(rng.randint(1, 3)):  # clutter discs, off the tile's centre line
        ex, ey = rng.choice((rng.uniform(0, 8), rng.uniform(24, 32))), rng.uniform(0, n)
        _paint(planes, _capsule(n, n, (ex, ey, ex, ey), rng.uniform(0.8, 1.6)),
               H6._rgb(rng.random(), rng.uniform(0.3, 1.0), rng.uniform(0.3, 1.0)))
    # the tile: a rotated rectangle, edges ramped over one pixel
    r = math.hypot(tw, th) / 2 + 1
    xs, ys = _box(n, n, cx - r, cy - r, cx + r, cy + r, 0)
    cover = []
    for y in ys:
        for x in xs:
            dx, dy = x + 0.5 - cx, y + 0.5 - cy
            u, v = dx * cos_r + dy * sin_r, -dx * sin_r + dy * cos_r
            a = _clip01(min(tw / 2 - abs(u), th / 2 - abs(v)) + 0.5)
            if a > 0:
                cover.append((y * n + x, a))
    _paint(planes, cover, tile)
    line = rng.uniform(0.35, 0.6)
    _paint(planes, _capsule(n, n, to_img(-tw / 2 + 1.2, 0) + to_img(tw / 2 - 1.2, 0), line), pip)
    pr = rng.uniform(1.2, 1.7)
    sp = min(tw, th / 2) * rng.uniform(0.26, 0.3)
    for count, v0 in ((top, -th / 4), (bottom, th / 4)):
        for i, j in PIPS[count]:
            px, py = to_img(i * sp + rng.uniform(-0.3, 0.3), v0 + j * sp + rng.uniform(-0.3, 0.3))
            _paint(planes, _capsule(n, n, (px, py, px, py), pr), pip)
    noise = rng.uniform(14, 32)
    return bytes(bytearray(clamp8(v + rng.gauss(0, noise)) for k in range(3) for v in planes[k]))


def make_dominoes25(out):
    rng = random.Random(20270712)
    os.makedirs(out)
    for name, per_class in (("data_batch_1.bin", DOMINO_TRAIN), ("test_batch.bin", DOMINO_VAL)):
        labels = H8._labels(25, per_class, rng)
        with open(os.path.join(out, name), "wb") as f:
            for cl in labels:
                f.write(bytes([cl]) + domino_image(cl, rng))


# --- semaphore26 -----------------------------------------------------------------------------

def semaphore_image(cls, rng):
    """34 rows of 34 * 3 bytes (RGB)."""
    n = SEMA_SIZE
    arms = SEMA_POSES[cls]
    turn = math.radians(rng.uniform(-14, 14))
    s = rng.uniform(0.85, 1.1)
    sx, sy = n / 2 + rng.uniform(-2, 2), n / 2 + rng.uniform(-2, 2)  # the shoulder
    bg = H6._rgb(rng.random(), rng.uniform(0.0, 0.5), rng.uniform(0.05, 0.5))
    body = H6._rgb(rng.random(), rng.uniform(0.0, 0.5), rng.uniform(0.6, 1.0))
    flag = H6._rgb(rng.random(), rng.uniform(0.5, 1.0), rng.uniform(0.6, 1.0))
    planes = [[bg[k]] * (n * n) for k in range(3)]
    for _ in range(rng.randint(1, 3)):  # faint clutter discs
        ex, ey = rng.uniform(0, n), rng.uniform(0, n)
        col = H6._rgb(rng.random(), rng.uniform(0.3, 1.0), rng.uniform(0.3, 1.0))
        _paint(planes, [(i, 0.5 * a) for i, a in _capsule(n, n, (ex, ey, ex, ey), rng.uniform(1.0, 2.0))], col)

    def at(dist, ang):  # a point `dist` from the shoulder; ang in degrees, 0 = down, clockwise as seen
        t = math.radians(ang) + turn
        return sx - dist * s * math.sin(t), sy + dist * s * math.cos(t)

    half = rng.uniform(0.6, 0.9)
    hx, hy = at(3.5, 180)
    _paint(planes, _capsule(n, n, (hx, hy, hx, hy), 2.2 * s), body)  # head
    _paint(planes, _capsule(n, n, (sx, sy) + at(8, 0), half * 1.6), body)  # torso
    length = rng.uniform(9.0, 11.5)
    fs = rng.uniform(1.4, 2.0) * s  # half the flag's side
    for a in arms:
        ang = a * 45 + rng.uniform(-9, 9)
        ex, ey = at(length, ang)
        _paint(planes, _capsule(n, n, (sx, sy, ex, ey), half), body)
        fx, fy = at(length - 1.0, ang)
        xs, ys = _box(n, n, fx - fs - 1, fy - fs - 1, fx + fs + 1, fy + fs + 1, 0)
        cover = []
        for y in ys:
            for x in xs:
                dx, dy = x + 0.5 - fx, y + 0.5 - fy
                u = dx * math.cos(turn) + dy * math.sin(turn)
                v = -dx * math.sin(turn) + dy * math.cos(turn)
                c = _clip01(fs - max(abs(u), abs(v)) + 0.5)
                if c > 0:
                    cover.append((y * n + x, c))
        _paint(planes, cover, flag)
    noise = rng.uniform(14, 34)
    rows = []
    for y in range(n):
        row = bytearray()
        for x in range(n):
            i = y * n + x
            for k in range(3):
                row.append(clamp8(planes[k][i] + rng.gauss(0, noise)))
        rows.append(bytes(row))
    return rows


def make_semaphore26(out):
    H1.write_png_class_folders(out, (("train", SEMA_TRAIN), ("val", SEMA_VAL)), SEMA_CLASSES,
                               lambda cls, name, rng: semaphore_image(cls, rng),
                               lambda rows: H1.png_bytes(SEMA_SIZE, SEMA_SIZE, rows),
                               random.Random(20270713))


# --- main ------------------------------------------------------------------------------------

MAKERS = [("morse22", make_morse22), ("dominoes25", make_dominoes25), ("semaphore26", make_semaphore26)]


def main(argv=None):
    return H1.generate(__doc__.split("\n")[0], VERSION, "held-out-13", MAKERS, argv,
                       procedural=True)


if __name__ == "__main__":
    sys.exit(main())
