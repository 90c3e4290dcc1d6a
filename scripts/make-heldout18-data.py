#!/usr/bin/env python3
"""Writes the data sets of the eighteenth held-out fault zoo (bench/zoo-heldout18) under OUTDIR.

    python3 scripts/make-heldout18-data.py OUTDIR      # e.g. bench/zoo-heldout18/data

Python 3 standard library only, deterministic (fixed seeds: the same bytes on every machine and
every run) and idempotent: when OUTDIR/.done holds this script's version stamp it does nothing. A
lock file makes concurrent invocations wait for each other instead of writing the same files
twice; each set is written under a temporary name and renamed into place. All three sets are
procedural (no Fashion-MNIST source). Reused by path, not copied: the command line, lock, version
stamp and write-then-rename steps (generate(..., procedural=True) of scripts/make-heldout-data.py),
the RGB PNG writer and class-folder writer of scripts/make-heldout-data.py, the gzip IDX writer
and clamp8 of scripts/make-heldout2-data.py, the colour helpers (_rgb, _contrasting) of
scripts/make-heldout6-data.py, the label shuffler of scripts/make-heldout8-data.py, _clip01 of
scripts/make-heldout13-data.py and the CIFAR-10 batch writer and colour cast (write_cifar_batches,
cast_and_grain_rgb) of scripts/make-heldout15-data.py (all reached through
scripts/make-heldout17-data.py, loaded by path); their output is untouched.

  honeycomb37/    IDX, gzip-compressed, 1x27x31 grey (27 rows, 31 columns; wider than tall), 37
                  classes = which cell of a hexagonal patch of honeycomb (37 cells: the centre
                  cell and three rings around it) is capped (sealed with a pale wax lid); class
                  = the cell's place in reading order (row by row from the top, left to right).
                  Cell spacing 3.5-3.9 px, the patch turned +-3 degrees, its centre within +-2
                  px of the image centre across and +-1.6 px down (so a cell's absolute place
                  overlaps its neighbours'); open cells dark holes (radius 0.34-0.4 of the
                  spacing) in wax walls, 3-9 other cells holding honey (45-100% of the way from
                  the hole's shade to the wall's), the capped cell a full-cell disc 12-40 levels
                  brighter than the walls with a small highlight; random grey levels of the
                  frame around the patch, the wall (at least 60 above the holes) and the holes,
                  a brightness ramp, Gaussian pixel noise (sigma 8-18). train 3515 (95 a class),
                  t10k 740 (20).
  bowling45/      CIFAR-10 binary batches (data_batch_1.bin, test_batch.bin), 3x32x32 RGB, 45
                  classes = a bowling score-board pin diagram: which two of the ten pins are
                  still standing (a split or a leave); class k is the k-th pair (a, b), a < b, of
                  pins 1-10 in lexicographic order (pin 1 the head pin at the front, pins 7-10
                  the back row, left to right). Pins 5-6.4 px apart, the triangle turned +-10
                  degrees, its centre within +-3.5 px of the image centre; standing pins filled
                  discs (radius 1.6-2.1 px), knocked-down pins rings (radius 1.5-2 px,
                  half-width 0.35-0.6 px, 40-80% strength, in the standing pins' ink half of the
                  time); faint lane boards (vertical stripes, 5-15% strength); ink, ring and
                  background colours random (contrasting; the colours carry no class), a
                  brightness ramp, a colour cast (gains 0.9-1.1), Gaussian pixel noise (sigma
                  8-20, one value for the three channels). train 3600 (80 a class), test 900 (20).
  fretboard42/    folder of 8-bit RGB PNG files (train/<class>/, val/<class>/), 3x30x22 (30 rows,
                  22 columns; taller than wide), 42 classes = a guitar chord-diagram box with one
                  finger dot: which string (6, low E on the left) x which fret (1-7 below the
                  nut); class = 7 * string + fret - 1 (folder names 00-s1-f1 ... 41-s6-f7).
                  Strings 2.9-3.2 px apart, frets 2.9-3.3 px apart, the box within +-1.6 px of
                  the centre across and +-1.2 px down, a thick nut at the top; lines of
                  half-width 0.3-0.45 px at 60-95% of the ink's strength; the dot a filled disc
                  of radius 1.15-1.45 px; 0-2 faint hollow "optional note" rings (25-45%
                  strength) elsewhere in the box and 0-3 small open-string or muted-string marks
                  (a ring or a cross) above the nut as distractors; random paper and ink colours
                  (contrasting), Gaussian pixel noise (sigma 6-15, one value for the three
                  channels). train 3360 (80 a class), val 840 (20).
"""
import importlib.util
import math
import os
import random
import sys

VERSION = "heldout18-data v3"  # bump whenever the output changes
HERE = os.path.dirname(os.path.abspath(__file__))

HONEY_H, HONEY_W = 27, 31
HONEY_TRAIN, HONEY_VAL = 95, 20  # per class, 37 classes
PIN_SIZE = 32
PIN_TRAIN, PIN_VAL = 80, 20  # per class, 45 classes
FRET_H, FRET_W = 30, 22
FRET_TRAIN, FRET_VAL = 80, 20  # per class, 42 classes
FRET_CLASSES = [f"{7 * s + f:02d}-s{s + 1}-f{f + 1}" for s in range(6) for f in range(7)]


def _load(name, filename):
    """A sibling script (a hyphenated name, so loaded by path)."""
    spec = importlib.util.spec_from_file_location(name, os.path.join(HERE, filename))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


H17 = _load("make_heldout17_data", "make-heldout17-data.py")
H16 = H17.H16
H1, H2, H6, H8, H15 = H16.H1, H16.H2, H16.H6, H16.H8, H16.H15
clamp8 = H2.clamp8
_clip01 = H16._clip01


def _disc(w, h, cx, cy, r, half=None):
    """(index, alpha) of the pixels covered by a disc of radius r (or, with `half`, a ring of
    radius r and half-width `half`), anti-aliased by the distance to the edge."""
    pad = r + (half or 0) + 1
    out = []
    for y in range(max(0, int(cy - pad)), min(h, int(cy + pad) + 1)):
        for x in range(max(0, int(cx - pad)), min(w, int(cx + pad) + 1)):
            d = math.hypot(x + 0.5 - cx, y + 0.5 - cy)
            a = _clip01(r + 0.5 - d) if half is None else _clip01(half + 0.5 - abs(d - r))
            if a > 0:
                out.append((y * w + x, a))
    return out


def _seg(w, h, x0, y0, x1, y1, half):
    """(index, alpha) of the pixels covered by a segment of half-width `half`."""
    pad = half + 1
    dx, dy = x1 - x0, y1 - y0
    ll = dx * dx + dy * dy or 1.0
    out = []
    for y in range(max(0, int(min(y0, y1) - pad)), min(h, int(max(y0, y1) + pad) + 1)):
        for x in range(max(0, int(min(x0, x1) - pad)), min(w, int(max(x0, x1) + pad) + 1)):
            px, py = x + 0.5, y + 0.5
            t = max(0.0, min(1.0, ((px - x0) * dx + (py - y0) * dy) / ll))
            d = math.hypot(px - x0 - t * dx, py - y0 - t * dy)
            a = _clip01(half + 0.5 - d)
            if a > 0:
                out.append((y * w + x, a))
    return out


def _paint_grey(buf, cover, level):
    for i, a in cover:
        buf[i] += (level - buf[i]) * a


def _paint_rgb(planes, cover, colour, strength=1.0):
    for i, a in cover:
        a *= strength
        for k in range(3):
            planes[k][i] += (colour[k] - planes[k][i]) * a


# --- honeycomb37 -----------------------------------------------------------------------------

HEX_CELLS = sorted(((q, r) for q in range(-3, 4) for r in range(-3, 4) if abs(q + r) <= 3),
                   key=lambda c: (c[1], c[0]))  # reading order: row r from the top, then q


def honey_image(cls, rng):
    w, h = HONEY_W, HONEY_H
    s = rng.uniform(3.5, 3.9)
    rot = math.radians(rng.uniform(-3, 3))
    cos_r, sin_r = math.cos(rot), math.sin(rot)
    cx, cy = w / 2 + rng.uniform(-2, 2), h / 2 + rng.uniform(-1.6, 1.6)
    hole = rng.uniform(0, 90)
    wall = rng.uniform(hole + 60, 205)
    frame = rng.uniform(0, 255)
    cap = min(255.0, wall + rng.uniform(12, 40))
    r_hole = s * rng.uniform(0.34, 0.4)
    r_cap = s * 0.5
    capped = HEX_CELLS[cls]
    others = [c for c in HEX_CELLS if c != capped]
    honey = {c: rng.uniform(0.45, 1.0) for c in rng.sample(others, rng.randint(3, 9))}
    ramp = rng.uniform(-20, 20)
    noise = rng.uniform(8, 18)
    cells = set(HEX_CELLS)
    pix = []
    for y in range(h):
        for x in range(w):
            dx, dy = x + 0.5 - cx, y + 0.5 - cy
            u, v = dx * cos_r + dy * sin_r, -dx * sin_r + dy * cos_r  # the patch's own frame
            # fractional axial coordinates (rows of cells along u), then cube rounding
            fr = v / (s * math.sqrt(3) / 2)
            fq = u / s - fr / 2
            fs = -fq - fr
            rq, rr, rs = round(fq), round(fr), round(fs)
            eq, er, es = abs(rq - fq), abs(rr - fr), abs(rs - fs)
            if eq > er and eq > es:
                rq = -rr - rs
            elif er > es:
                rr = -rq - rs
            cell = (rq, rr)
            ccx, ccy = s * (rq + rr / 2), s * math.sqrt(3) / 2 * rr
            d = math.hypot(u - ccx, v - ccy)
            if cell not in cells:
                # outside the patch: the frame
                val = frame
            elif cell == capped:
                a = _clip01(r_cap + 0.5 - d)
                lid = cap + 15 * _clip01(1 - math.hypot(u - ccx + 0.6, v - ccy + 0.6) / 1.2)
                val = wall + (lid - wall) * a
            else:
                a = _clip01(r_hole + 0.5 - d)
                inside = hole + (wall - hole) * honey[cell] if cell in honey else hole
                val = wall + (inside - wall) * a
            pix.append(val + ramp * (y / h - 0.5))
    return bytes(bytearray(clamp8(p + rng.gauss(0, noise)) for p in pix))


def make_honeycomb37(out):
    rng = random.Random(20271231)
    os.makedirs(out)
    for prefix, per_class in (("train", HONEY_TRAIN), ("t10k", HONEY_VAL)):
        labels = H8._labels(37, per_class, rng)
        images = [honey_image(c, rng) for c in labels]
        H2.write_idx_pair(out, prefix, images, labels, HONEY_H, HONEY_W)


# --- bowling45 -------------------------------------------------------------------------------

PIN_PAIRS = [(a, b) for a in range(10) for b in range(a + 1, 10)]
# pin k (0 = pin 1) in the triangle: (row from the front, place in the row); rows 1, 2, 3, 4 pins
PIN_PLACES = [(0, 0), (1, 0), (1, 1), (2, 0), (2, 1), (2, 2), (3, 0), (3, 1), (3, 2), (3, 3)]


def pin_image(cls, rng):
    """3072 bytes, channel-major RGB (CIFAR-10 record layout without the label byte)."""
    n = PIN_SIZE
    standing = set(PIN_PAIRS[cls])
    sp = rng.uniform(5.0, 6.4)
    rot = math.radians(rng.uniform(-10, 10))
    cos_r, sin_r = math.cos(rot), math.sin(rot)
    cx, cy = n / 2 + rng.uniform(-3.5, 3.5), n / 2 + rng.uniform(-3.5, 3.5)
    bg = H6._rgb(rng.random(), rng.uniform(0.0, 0.5), rng.uniform(0.3, 0.95))
    ink = H6._contrasting(rng, bg, 80, sat=(0.0, 0.9), val=(0.0, 1.0))
    ring_ink = ink if rng.random() < 0.5 else H6._contrasting(rng, bg, 50, sat=(0.0, 0.9), val=(0.0, 1.0))
    ramp = rng.uniform(-0.3, 0.3)
    planes = [[bg[k] * (1 + ramp * (y / n - 0.5)) for y in range(n) for _ in range(n)] for k in range(3)]
    # faint lane boards: vertical stripes of a slightly different shade
    board_w, board_s = rng.uniform(2.0, 3.5), rng.uniform(0.05, 0.15)
    board_phase = rng.uniform(0, board_w * 2)
    board_c = [c * rng.uniform(0.6, 1.4) for c in bg]
    for x in range(n):
        if int((x + board_phase) / board_w) % 2:
            for y in range(n):
                i = y * n + x
                for k in range(3):
                    planes[k][i] += (board_c[k] - planes[k][i]) * board_s
    r_pin = rng.uniform(1.6, 2.1)
    r_ring, half_ring = rng.uniform(1.5, 2.0), rng.uniform(0.35, 0.6)
    ring_strength = rng.uniform(0.4, 0.8)
    for k, (row, place) in enumerate(PIN_PLACES):
        u = (place - row / 2) * sp
        v = (1.5 - row) * sp * math.sqrt(3) / 2  # the head pin at the front (bottom)
        x, y = cx + u * cos_r - v * sin_r, cy + u * sin_r + v * cos_r
        if k in standing:
            _paint_rgb(planes, _disc(n, n, x, y, r_pin), ink)
        else:
            _paint_rgb(planes, _disc(n, n, x, y, r_ring, half_ring), ring_ink, ring_strength)
    return H15.cast_and_grain_rgb(planes, n * n, rng, gain=(0.9, 1.1), noise=(8, 20))


def make_bowling45(out):
    H15.write_cifar_batches(out, random.Random(20271232), 45, (PIN_TRAIN, PIN_VAL), pin_image)


# --- fretboard42 -----------------------------------------------------------------------------

def fret_image(cls, rng):
    """30 rows of 22 * 3 bytes (RGB)."""
    w, h = FRET_W, FRET_H
    string, fret = divmod(cls, 7)
    ss, fs = rng.uniform(2.9, 3.2), rng.uniform(2.9, 3.3)
    x0 = (w - 5 * ss) / 2 + rng.uniform(-1.6, 1.6)  # the low E string
    nut = 4.0 + rng.uniform(-1.2, 1.2)  # the nut's row
    paper = H6._rgb(rng.random(), rng.uniform(0.0, 0.35), rng.uniform(0.6, 1.0))
    ink = H6._contrasting(rng, paper, 90, sat=(0.0, 0.8), val=(0.0, 0.6))
    line_k = rng.uniform(0.6, 0.95)
    line = [paper[c] + (ink[c] - paper[c]) * line_k for c in range(3)]
    half = rng.uniform(0.3, 0.45)
    planes = [[paper[k]] * (w * h) for k in range(3)]
    bottom = nut + 7 * fs
    for s_ in range(6):
        x = x0 + s_ * ss
        _paint_rgb(planes, _seg(w, h, x, nut, x, bottom, half), line)
    for f in range(1, 8):
        y = nut + f * fs
        _paint_rgb(planes, _seg(w, h, x0, y, x0 + 5 * ss, y, half), line)
    _paint_rgb(planes, _seg(w, h, x0, nut - 0.4, x0 + 5 * ss, nut - 0.4, 0.9), ink)  # the nut
    # open-string (ring) and muted-string (cross) marks above the nut: distractors
    for s_ in rng.sample(range(6), rng.randint(0, 3)):
        mx, my = x0 + s_ * ss, nut - 2.4
        if rng.random() < 0.5:
            _paint_rgb(planes, _disc(w, h, mx, my, 0.9, 0.3), line)
        else:
            _paint_rgb(planes, _seg(w, h, mx - 0.8, my - 0.8, mx + 0.8, my + 0.8, 0.3), line)
            _paint_rgb(planes, _seg(w, h, mx - 0.8, my + 0.8, mx + 0.8, my - 0.8, 0.3), line)
    # 0-2 hollow rings (optional notes) on other places of the box: distractors
    places = [(s_, f) for s_ in range(6) for f in range(7) if (s_, f) != (string, fret)]
    for s_, f in rng.sample(places, rng.randint(0, 2)):
        _paint_rgb(planes, _disc(w, h, x0 + s_ * ss, nut + (f + 0.5) * fs, 1.0, 0.25), ink, rng.uniform(0.25, 0.45))
    dot_r = rng.uniform(1.15, 1.45)
    _paint_rgb(planes, _disc(w, h, x0 + string * ss, nut + (fret + 0.5) * fs, dot_r), ink)
    noise = rng.uniform(6, 15)
    return noisy_rgb_rows(planes, w, h, noise, rng)


def noisy_rgb_rows(planes, w, h, noise, rng):
    """8-bit RGB rows of three float planes (row-major, w × h) with one Gaussian draw of standard
    deviation `noise` per pixel, added to all three channels (grey grain); zoo 19 uses it too."""
    rows = []
    for y in range(h):
        row = bytearray()
        for x in range(w):
            e = rng.gauss(0, noise)
            i = y * w + x
            for c in range(3):
                row.append(clamp8(planes[c][i] + e))
        rows.append(bytes(row))
    return rows


def make_fretboard42(out):
    H1.write_png_class_folders(out, (("train", FRET_TRAIN), ("val", FRET_VAL)), FRET_CLASSES,
                               lambda cls, name, rng: fret_image(cls, rng),
                               lambda rows: H1.png_bytes(FRET_W, FRET_H, rows),
                               random.Random(20271233))


# --- main ------------------------------------------------------------------------------------

MAKERS = [("honeycomb37", make_honeycomb37), ("bowling45", make_bowling45), ("fretboard42", make_fretboard42)]


def main(argv=None):
    return H1.generate(__doc__.split("\n")[0], VERSION, "held-out-18", MAKERS, argv,
                       procedural=True)


if __name__ == "__main__":
    sys.exit(main())
