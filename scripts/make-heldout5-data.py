#!/usr/bin/env python3
"""Writes the data sets of the fifth held-out fault zoo (bench/zoo-heldout5) under OUTDIR.

    python3 scripts/make-heldout5-data.py OUTDIR       # e.g. bench/zoo-heldout5/data

Python 3 standard library only, deterministic (fixed seeds: the same bytes on every machine and
every run) and idempotent: when OUTDIR/.done holds this script's version stamp it does nothing. A
lock file makes concurrent invocations wait for each other instead of writing the same files
twice (scripts/make-heldout-data.py's generate(), procedural: all three sets are drawn from
nothing, so there is no Fashion-MNIST source). The IDX
writer and the version stamp come from scripts/make-heldout-data.py, the IDX file naming and
clamp8 from scripts/make-heldout2-data.py (both loaded by path; their output is untouched).

  charts9/        CIFAR-10 binary batches (data_batch_1.bin, test_batch.bin), 3x32x32 RGB, 9
                  classes of line charts (sparklines) of a time series: 0 rising, 1 falling,
                  2 sine, 3 square wave, 4 sawtooth, 5 one spike, 6 one step (up or down),
                  7 one wide bump, 8 flat noise; random line colour and thickness (1-2 px) on a
                  random background with faint grid lines, random vertical margins, series
                  noise and Gaussian pixel noise. train 4500 (500 a class), test 900.
  automata7/      IDX (gzip), 1x24x24 grey, 7 classes = elementary cellular automaton rules
                  (18, 30, 45, 90, 110, 150, 184), time running down the image: a random first
                  row (density 0.2-0.8), 0-8 hidden warm-up generations, periodic boundary on a
                  48-cell ring cropped to 24 cells, random polarity and grey levels, 0-10% of the
                  cells flipped and Gaussian pixel noise. train 4200 (600 a class), t10k 840.
  spectro5/       folder of 8-bit grey PNG files (train/<class>/, val/<class>/), 1x24x32
                  (24 frequency rows, high at the top, x 32 time frames; not square), 5 classes
                  of synthetic spectrograms: chirp-down, chirp-up, clicks, tone (with a weaker
                  second harmonic when it fits), vibrato (class ids are the sorted folder
                  names) over a noise floor with a tilt, a weak distractor tone and an
                  occasional broadband burst. train 3000 (600 a class), val 600.
"""
import colorsys
import importlib.util
import math
import os
import random
import struct
import sys
import zlib

VERSION = "heldout5-data v2"  # bump whenever the output changes
HERE = os.path.dirname(os.path.abspath(__file__))

CHART_CLASSES = ["rise", "fall", "sine", "square", "sawtooth", "spike", "step", "bump", "noise"]
CHART_TRAIN, CHART_VAL = 500, 100  # per class
CA_RULES = [18, 30, 45, 90, 110, 150, 184]
CA_SIZE, CA_RING = 24, 48
CA_TRAIN, CA_VAL = 600, 120  # per class
SPECTRO = ["chirp-down", "chirp-up", "clicks", "tone", "vibrato"]  # sorted: class ids 0..4
SPECTRO_H, SPECTRO_W = 24, 32
SPECTRO_TRAIN, SPECTRO_VAL = 600, 120  # per class


def _load(name, filename):
    """A sibling script (a hyphenated name, so loaded by path)."""
    spec = importlib.util.spec_from_file_location(name, os.path.join(HERE, filename))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


H1 = _load("make_heldout_data", "make-heldout-data.py")
H2 = _load("make_heldout2_data", "make-heldout2-data.py")
clamp8 = H2.clamp8


# --- charts9 ---------------------------------------------------------------------------------

def _rgb(h, s, v):
    return [255 * c for c in colorsys.hsv_to_rgb(h % 1.0, s, v)]


def _lum(c):
    return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]


def chart_series(cls, rng, n=32):
    """n values in about [0, 1] (before the series noise)."""
    kind = CHART_CLASSES[cls]
    xs = range(n)
    if kind in ("rise", "fall"):
        a, s = rng.uniform(0.0, 0.3), rng.uniform(0.45, 0.9)
        v = [a + s * x / (n - 1) for x in xs]
        return v if kind == "rise" else v[::-1]
    if kind == "sine":
        p, ph, amp = rng.uniform(8, 20), rng.uniform(0, 2 * math.pi), rng.uniform(0.25, 0.45)
        return [0.5 + amp * math.sin(2 * math.pi * x / p + ph) for x in xs]
    if kind == "square":
        p, ph, amp = rng.uniform(10, 20), rng.uniform(0, 1), rng.uniform(0.25, 0.45)
        return [0.5 + (amp if (x / p + ph) % 1.0 < 0.5 else -amp) for x in xs]
    if kind == "sawtooth":
        p, ph, amp = rng.uniform(8, 16), rng.uniform(0, 1), rng.uniform(0.5, 0.9)
        return [0.5 + amp * (((x / p + ph) % 1.0) - 0.5) for x in xs]
    level = rng.uniform(0.2, 0.5)
    if kind == "spike":
        x0, h = rng.randint(4, n - 5), rng.uniform(0.4, 0.7)
        wide = rng.random() < 0.5
        return [level + (h if x == x0 else (0.5 * h if wide and x == x0 + 1 else 0.0)) for x in xs]
    if kind == "step":
        x0, h = rng.randint(8, n - 9), rng.uniform(0.35, 0.6)
        v = [level + (h if x >= x0 else 0.0) for x in xs]
        return v if rng.random() < 0.5 else [2 * level + h - y for y in v]
    if kind == "bump":
        x0, sd, h = rng.uniform(8, n - 9), rng.uniform(2.5, 5.5), rng.uniform(0.35, 0.65)
        return [level + h * math.exp(-0.5 * ((x - x0) / sd) ** 2) for x in xs]
    sd = rng.uniform(0.06, 0.12)  # noise
    return [0.5 + rng.gauss(0, sd) for _ in xs]


def chart_image(cls, rng):
    """3x32x32 RGB bytes (channel-major, as in CIFAR-10's records)."""
    n = 32
    v = [y + rng.gauss(0, rng.uniform(0.02, 0.06)) for y in chart_series(cls, rng)]
    top, bottom = rng.uniform(1, 7), rng.uniform(n - 8, n - 2)
    rows = [bottom - min(1.0, max(0.0, y)) * (bottom - top) for y in v]
    bg = _rgb(rng.random(), rng.uniform(0, 0.6), rng.uniform(0.1, 0.95))
    while True:
        line = _rgb(rng.random(), rng.uniform(0.3, 1.0), rng.uniform(0.2, 1.0))
        if abs(_lum(line) - _lum(bg)) >= 70:
            break
    grid = [b + (l - b) * rng.uniform(0.1, 0.3) for b, l in zip(bg, line)]
    canvas = [[list(bg) for _ in range(n)] for _ in range(n)]
    for _ in range(rng.randint(0, 3)):
        r = rng.randint(0, n - 1)
        for x in range(n):
            canvas[r][x] = list(grid)
    thick = rng.choice((0, 1))  # extra pixels below the line
    for x in range(n):
        r0 = rows[x]
        r1 = rows[x - 1] if x else r0
        lo, hi = int(round(min(r0, r1))), int(round(max(r0, r1)))
        for r in range(lo, hi + 1 + thick):
            if 0 <= r < n:
                canvas[r][x] = list(line)
    noise = rng.uniform(8, 24)
    planes = [bytearray(), bytearray(), bytearray()]
    for r in range(n):
        for x in range(n):
            for c in range(3):
                planes[c].append(clamp8(canvas[r][x][c] + rng.gauss(0, noise)))
    return bytes(planes[0] + planes[1] + planes[2])


def make_charts9(out):
    rng = random.Random(20261220)
    os.makedirs(out)
    for name, per_class in (("data_batch_1.bin", CHART_TRAIN), ("test_batch.bin", CHART_VAL)):
        labels = [c for c in range(len(CHART_CLASSES)) for _ in range(per_class)]
        rng.shuffle(labels)  # records in random order, as CIFAR's batches are
        with open(os.path.join(out, name), "wb") as f:
            for c in labels:
                f.write(bytes([c]) + chart_image(c, rng))


# --- automata7 -------------------------------------------------------------------------------

def automaton_image(cls, rng):
    rule = CA_RULES[cls]
    table = [(rule >> k) & 1 for k in range(8)]
    density = rng.uniform(0.2, 0.8)
    row = [1 if rng.random() < density else 0 for _ in range(CA_RING)]

    def step(r):
        m = len(r)
        return [table[(r[(i - 1) % m] << 2) | (r[i] << 1) | r[(i + 1) % m]] for i in range(m)]

    for _ in range(rng.randint(0, 8)):
        row = step(row)
    x0 = rng.randint(0, CA_RING - CA_SIZE)
    ink, paper = rng.uniform(160, 250), rng.uniform(10, 90)
    if rng.random() < 0.5:
        ink, paper = 255 - ink, 255 - paper
    flip = rng.uniform(0.0, 0.1)
    noise = rng.uniform(10, 40)
    out = bytearray()
    for _ in range(CA_SIZE):
        for x in range(x0, x0 + CA_SIZE):
            cell = row[x] ^ (1 if rng.random() < flip else 0)
            out.append(clamp8((ink if cell else paper) + rng.gauss(0, noise)))
        row = step(row)
    return bytes(out)


def make_automata7(out):
    rng = random.Random(20261221)
    os.makedirs(out)
    for prefix, per_class in (("train", CA_TRAIN), ("t10k", CA_VAL)):
        labels = [c for c in range(len(CA_RULES)) for _ in range(per_class)]
        rng.shuffle(labels)
        images = [automaton_image(c, rng) for c in labels]
        H2.write_idx_pair(out, prefix, images, labels, CA_SIZE, CA_SIZE)


# --- spectro5 --------------------------------------------------------------------------------

def png_grey_bytes(width, height, rows):
    """An 8-bit greyscale PNG (colour type 0) from a list of rows of bytes (width each)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    raw = b"".join(b"\0" + row for row in rows)  # filter type 0 (none) on every row
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def spectro_image(kind, rng):
    """SPECTRO_H rows (frequency bin SPECTRO_H-1-row) of SPECTRO_W bytes."""
    h, w = SPECTRO_H, SPECTRO_W
    floor, hiss, tilt = rng.uniform(15, 60), rng.uniform(10, 30), rng.uniform(0, 30)
    img = [[floor + tilt * r / h + rng.expovariate(1 / hiss) for _ in range(w)] for r in range(h)]
    amp = rng.uniform(35, 110)
    width = rng.uniform(0.6, 1.2)
    t0 = rng.randint(0, 6)
    t1 = rng.randint(w - 7, w)
    tracks = []  # (frequency row at each frame or None, relative amplitude)
    if kind == "tone":
        f0 = rng.uniform(2, h - 3)
        tracks.append(([f0] * w, 1.0))
        if f0 > h / 2 + 1:  # a second harmonic fits above it (rows counted from the bottom)
            tracks.append(([2 * f0 - h] * w, rng.uniform(0.3, 0.6)))
    elif kind in ("chirp-up", "chirp-down"):
        slope = rng.uniform(0.25, 0.7)
        span = slope * (t1 - t0)
        start = rng.uniform(1, max(1.5, h - 2 - span))
        f = [start + slope * (t - t0) for t in range(w)]
        tracks.append((f if kind == "chirp-up" else [start + span - (y - start) for y in f], 1.0))
    elif kind == "vibrato":
        depth, period, ph = rng.uniform(1.5, 4), rng.uniform(6, 14), rng.uniform(0, 2 * math.pi)
        f0 = rng.uniform(2 + depth, h - 3 - depth)
        tracks.append(([f0 + depth * math.sin(2 * math.pi * t / period + ph) for t in range(w)], 1.0))
    for f, rel in tracks:  # f counts from the bottom (row h-1)
        for t in range(t0, t1):
            for r in range(h):
                d = (h - 1 - r) - f[t]
                if abs(d) < 4:
                    img[r][t] += rel * amp * math.exp(-(d / width) ** 2)
    if kind == "clicks":
        period = rng.uniform(3, 7)
        lo = rng.randint(0, h // 3)
        hi = rng.randint(lo + h // 2, h)
        t = t0 + rng.uniform(0, period)
        while t < t1:
            for r in range(lo, hi):
                img[r][int(t)] += amp * rng.uniform(0.6, 1.0)
            t += period
    if rng.random() < 0.7:  # a weak distractor tone
        f, a = rng.randint(0, h - 1), amp * rng.uniform(0.2, 0.4)
        s = rng.randint(0, w - 8)
        for t in range(s, s + rng.randint(4, 8)):
            img[f][t] += a
    if rng.random() < 0.4:  # a broadband burst
        s, a = rng.randint(0, w - 4), rng.uniform(15, 40)
        for t in range(s, s + rng.randint(2, 4)):
            for r in range(h):
                img[r][t] += rng.expovariate(1 / a)
    return [bytes(clamp8(v) for v in row) for row in img]


def make_spectro5(out):
    H1.write_png_class_folders(out, (("train", SPECTRO_TRAIN), ("val", SPECTRO_VAL)), SPECTRO,
                               lambda cls, kind, rng: spectro_image(kind, rng),
                               lambda rows: png_grey_bytes(SPECTRO_W, SPECTRO_H, rows),
                               random.Random(20261222))


# --- main ------------------------------------------------------------------------------------

MAKERS = [("charts9", make_charts9), ("automata7", make_automata7), ("spectro5", make_spectro5)]


def main(argv=None):
    return H1.generate(__doc__.split("\n")[0], VERSION, "held-out-5", MAKERS, argv,
                       procedural=True)


if __name__ == "__main__":
    sys.exit(main())
