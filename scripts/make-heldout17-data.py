#!/usr/bin/env python3
"""Writes the data sets of the seventeenth held-out fault zoo (bench/zoo-heldout17) under OUTDIR.

    python3 scripts/make-heldout17-data.py OUTDIR      # e.g. bench/zoo-heldout17/data

Python 3 standard library only, deterministic (fixed seeds: the same bytes on every machine and
every run) and idempotent: when OUTDIR/.done holds this script's version stamp it does nothing. A
lock file makes concurrent invocations wait for each other instead of writing the same files
twice; each set is written under a temporary name and renamed into place. All three sets are
procedural (no Fashion-MNIST source). Reused by path, not copied: the command line, lock, version
stamp and write-then-rename steps (generate(..., procedural=True) of scripts/make-heldout-data.py),
the RGB PNG writer and class-folder writer of scripts/make-heldout-data.py, the gzip IDX writer
and clamp8 of scripts/make-heldout2-data.py, the colour helpers (_rgb, _contrasting) of
scripts/make-heldout6-data.py, the label shuffler of scripts/make-heldout8-data.py and the
anti-aliased shape helpers (_capsule, _paint, _clip01) of scripts/make-heldout13-data.py (all
reached through scripts/make-heldout16-data.py, loaded by path); their output is untouched.

  moon34/         IDX, gzip-compressed, 1x26x30 grey (26 rows, 30 columns; wider than tall), 34
                  classes = the phase of the Moon: waxing (lit on the right) or waning (lit on
                  the left) x 17 places of the terminator (on every chord across the lit axis,
                  at 0.85, 0.74, ..., -0.85 of the half-chord: a crescent to nearly full; a
                  step of about 1 px on the middle chord); class = 17 * waning + place. The
                  disc of radius 9-10.5 px within +-2 px of the image centre across and +-1.5
                  px down, its axis tilted +-8 degrees; the unlit part faintly visible
                  (earthshine 5-25%), limb darkening, 2-5 dark maria (10-25% darker), 0-4 stars,
                  a sky brightness ramp, random grey levels (lit at least 70 above the sky),
                  Gaussian pixel noise (sigma 6-16). train 3400 (100 a class), t10k 680 (20).
  windbarb40/     CIFAR-10 binary batches (data_batch_1.bin, test_batch.bin), 3x32x32 RGB, 40
                  classes = a weather-map wind barb: the direction the wind blows from (8: N,
                  NE, ..., NW; the shaft points that way from the station circle) x the speed
                  symbol at the shaft's end (5: one half barb, one full barb, a full and a half,
                  two full barbs, a pennant); class = 5 * direction + symbol. The shaft 9.5-11.5
                  px long, turned +-7 degrees, the station ring of radius 1.8-2.4 px, the glyph
                  centred and then moved by up to +-2 px, line half-width 0.65-0.95 px, full
                  barbs 6-7.5 px long at 60-75 degrees to the shaft on its clockwise side, barb
                  spacing 2.6-3.2 px; one faint isobar (a gentle arc of another colour, 25-50%
                  strength) through the picture; ink and background colours random
                  (contrasting; the colours carry no class), a brightness ramp, a colour cast
                  (gains 0.9-1.1), Gaussian pixel noise (sigma 5-15, one value for the three
                  channels). train 3600 (90 a class), test 800 (20).
  shelf33/        folder of 8-bit RGB PNG files (train/<class>/, val/<class>/), 3x18x40 (18 rows,
                  40 columns), 33 classes = which of the 11 books on a shelf carries a paper
                  spine label (11) x where on the spine the label sits (3: top, middle, bottom);
                  class = 3 * book + place (folder names 00-b01-top ... 32-b11-bottom). Books
                  3.05-3.3 px wide and 10.5-14.5 px tall (each its own height and colour), the row
                  within +-1.6 px of the centre across, standing on a shelf board whose top edge is
                  1.5-3.5 px above the bottom; the label 2-3 px tall, at 0.2, 0.5 or 0.8 (+-0.06)
                  of the spine's height from its top, tinted 0.55-0.85 of the way to a pale paper
                  colour; each other book carries a thin gilt band (about 1 px, 30-60% strength,
                  anywhere on the spine) with probability 0.35; random wall, board and spine
                  colours, Gaussian pixel noise (sigma 8-20, one value for the three channels).
                  train 3300 (100 a class), val 660 (20).
"""
import importlib.util
import math
import os
import random
import sys

VERSION = "heldout17-data v5"  # bump whenever the output changes
HERE = os.path.dirname(os.path.abspath(__file__))

MOON_H, MOON_W = 26, 30
MOON_TRAIN, MOON_VAL = 100, 20  # per class, 34 classes
BARB_SIZE = 32
BARB_TRAIN, BARB_VAL = 90, 20  # per class, 40 classes
SHELF_H, SHELF_W = 18, 40
SHELF_TRAIN, SHELF_VAL = 100, 20  # per class, 33 classes
SHELF_PLACES = ["top", "middle", "bottom"]
SHELF_CLASSES = [f"{3 * b + p:02d}-b{b + 1:02d}-{SHELF_PLACES[p]}" for b in range(11) for p in range(3)]


def _load(name, filename):
    """A sibling script (a hyphenated name, so loaded by path)."""
    spec = importlib.util.spec_from_file_location(name, os.path.join(HERE, filename))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


H16 = _load("make_heldout16_data", "make-heldout16-data.py")
H1, H2, H6, H8 = H16.H1, H16.H2, H16.H6, H16.H8
clamp8 = H2.clamp8
_capsule, _paint, _clip01 = H16._capsule, H16._paint, H16._clip01


# --- moon34 ----------------------------------------------------------------------------------

def moon_image(cls, rng):
    w, h = MOON_W, MOON_H
    waning, step = divmod(cls, 17)
    c_phi = 0.85 - 1.7 * step / 16  # the terminator's place across the disc: 0.85 (a crescent) .. -0.85 (nearly full)
    r = rng.uniform(9.0, 10.5)
    cx, cy = w / 2 + rng.uniform(-2, 2), h / 2 + rng.uniform(-1.5, 1.5)
    tilt = math.radians(rng.uniform(-8, 8))
    cos_t, sin_t = math.cos(tilt), math.sin(tilt)
    sky = rng.uniform(0, 90)
    lit = rng.uniform(sky + 70, 255)
    shine = rng.uniform(0.05, 0.25)  # earthshine: how much of the lit level the dark part shows
    ramp = rng.uniform(-25, 25)
    maria = [(rng.uniform(-0.6, 0.6) * r, rng.uniform(-0.6, 0.6) * r, rng.uniform(1.2, 2.6), rng.uniform(0.1, 0.25))
             for _ in range(rng.randint(2, 5))]
    stars = [(rng.randrange(w), rng.randrange(h), rng.uniform(30, 120)) for _ in range(rng.randint(0, 4))]
    noise = rng.uniform(6, 16)
    pix = [sky + ramp * (y / h - 0.5) for y in range(h) for x in range(w)]
    for sx, sy, b in stars:
        pix[sy * w + sx] += b
    for y in range(max(0, int(cy - r - 2)), min(h, int(cy + r + 3))):
        for x in range(max(0, int(cx - r - 2)), min(w, int(cx + r + 3))):
            dx, dy = x + 0.5 - cx, y + 0.5 - cy
            d = math.hypot(dx, dy)
            disc = _clip01(r + 0.5 - d)
            if disc <= 0:
                continue
            u, v = dx * cos_t + dy * sin_t, -dx * sin_t + dy * cos_t  # u across the axis, v along it
            if waning:
                u = -u
            half = math.sqrt(max(0.0, r * r - v * v))
            light = _clip01(0.5 + (u - half * c_phi))  # lit right of the terminator (u > s * c_phi)
            level = lit * (1 - 0.3 * (d / r) ** 2)  # limb darkening
            for mx, my, mr, md in maria:
                if math.hypot(dx - mx, dy - my) < mr:
                    level *= 1 - md
            surface = shine * level + (1 - shine) * sky
            val = surface + (level - surface) * light
            i = y * w + x
            pix[i] += (val - pix[i]) * disc
    return bytes(bytearray(clamp8(p + rng.gauss(0, noise)) for p in pix))


def make_moon34(out):
    rng = random.Random(20271221)
    os.makedirs(out)
    for prefix, per_class in (("train", MOON_TRAIN), ("t10k", MOON_VAL)):
        labels = H8._labels(34, per_class, rng)
        images = [moon_image(c, rng) for c in labels]
        H2.write_idx_pair(out, prefix, images, labels, MOON_H, MOON_W)


# --- windbarb40 ------------------------------------------------------------------------------

def _triangle(n, pts):
    """(index, alpha) of the pixels inside a triangle (anti-aliased by the distance to its edges)."""
    xs = [p[0] for p in pts]
    ys = [p[1] for p in pts]
    area = (pts[1][0] - pts[0][0]) * (pts[2][1] - pts[0][1]) - (pts[1][1] - pts[0][1]) * (pts[2][0] - pts[0][0])
    sign = 1 if area > 0 else -1
    edges = []
    for k in range(3):
        (x0, y0), (x1, y1) = pts[k], pts[(k + 1) % 3]
        ln = math.hypot(x1 - x0, y1 - y0) or 1.0
        edges.append((x0, y0, (x1 - x0) / ln, (y1 - y0) / ln))
    out = []
    for y in range(max(0, int(min(ys)) - 1), min(n, int(max(ys)) + 2)):
        for x in range(max(0, int(min(xs)) - 1), min(n, int(max(xs)) + 2)):
            px, py = x + 0.5, y + 0.5
            d = min(sign * (ex * (py - y0) - ey * (px - x0)) for x0, y0, ex, ey in edges)
            a = _clip01(0.5 + d)
            if a > 0:
                out.append((y * n + x, a))
    return out


def barb_image(cls, rng):
    """3072 bytes, channel-major RGB (CIFAR-10 record layout without the label byte)."""
    n = BARB_SIZE
    direction, symbol = divmod(cls, 5)
    ang = math.radians(45 * direction + rng.uniform(-7, 7))  # 0 = north (up), clockwise
    ux, uy = math.sin(ang), -math.cos(ang)  # along the shaft, away from the station
    px_, py_ = -uy, ux  # the clockwise side of the shaft
    ring = rng.uniform(1.8, 2.4)
    length = rng.uniform(9.5, 11.5)
    # the glyph (ring, shaft and barbs) centred, then moved by up to 2 px
    cx = n / 2 - ux * (ring + length) / 2 + rng.uniform(-2, 2)
    cy = n / 2 - uy * (ring + length) / 2 + rng.uniform(-2, 2)
    half = rng.uniform(0.65, 0.95)
    barb = rng.uniform(6.0, 7.5)
    slant = math.radians(rng.uniform(60, 75))
    spacing = rng.uniform(2.6, 3.2)
    bg = H6._rgb(rng.random(), rng.uniform(0.0, 0.5), rng.uniform(0.3, 0.95))
    ink = H6._contrasting(rng, bg, 80, sat=(0.0, 0.9), val=(0.0, 1.0))
    iso = H6._contrasting(rng, bg, 25, sat=(0.2, 0.9), val=(0.2, 1.0))
    ramp = rng.uniform(-0.3, 0.3)
    planes = [[bg[k] * (1 + ramp * (y / n - 0.5)) for y in range(n) for _ in range(n)] for k in range(3)]
    # a faint isobar: a gentle arc through the picture
    a0, bend = rng.uniform(0, math.pi), rng.uniform(-0.04, 0.04)
    ox, oy = rng.uniform(6, 26), rng.uniform(6, 26)
    pts = []
    for t in range(-24, 25, 4):
        th = a0 + bend * t
        pts.append((ox + t * math.cos(th), oy + t * math.sin(th)))
    iso_strength = rng.uniform(0.25, 0.5)
    for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
        _paint(planes, [(i, a * iso_strength) for i, a in _capsule(n, n, (x0, y0, x1, y1), 0.45)], iso)
    # the station ring and the shaft
    for k in range(12):
        t0, t1 = 2 * math.pi * k / 12, 2 * math.pi * (k + 1) / 12
        _paint(planes, _capsule(n, n, (cx + ring * math.cos(t0), cy + ring * math.sin(t0),
                                       cx + ring * math.cos(t1), cy + ring * math.sin(t1)), half * 0.8), ink)
    sx, sy = cx + ux * ring, cy + uy * ring
    ex, ey = cx + ux * (ring + length), cy + uy * (ring + length)
    _paint(planes, _capsule(n, n, (sx, sy, ex, ey), half), ink)
    # barbs leave the shaft toward its clockwise side, leaning back toward the wind
    bx, by = px_ * math.sin(slant) + ux * math.cos(slant), py_ * math.sin(slant) + uy * math.cos(slant)

    def barb_at(dist, size):
        x0, y0 = ex - ux * dist, ey - uy * dist
        _paint(planes, _capsule(n, n, (x0, y0, x0 + bx * size, y0 + by * size), half), ink)

    if symbol == 0:
        barb_at(spacing, barb * 0.5)  # a lone half barb sits one spacing in from the end
    elif symbol == 1:
        barb_at(0, barb)
    elif symbol == 2:
        barb_at(0, barb)
        barb_at(spacing, barb * 0.5)
    elif symbol == 3:
        barb_at(0, barb)
        barb_at(spacing, barb)
    else:
        base = spacing * 1.2
        tip = (ex + bx * barb, ey + by * barb)
        _paint(planes, _triangle(n, [(ex, ey), (ex - ux * base, ey - uy * base), tip]), ink)
        barb_at(0, barb)  # the pennant's outer edge
    return H16.H15.cast_and_grain_rgb(planes, n * n, rng, gain=(0.9, 1.1), noise=(5, 15))


def make_windbarb40(out):
    H16.H15.write_cifar_batches(out, random.Random(20271222), 40, (BARB_TRAIN, BARB_VAL), barb_image)


# --- shelf33 ---------------------------------------------------------------------------------

def shelf_image(cls, rng):
    """18 rows of 40 * 3 bytes (RGB)."""
    w, h = SHELF_W, SHELF_H
    book, place = divmod(cls, 3)
    pitch = rng.uniform(3.05, 3.3)
    x0 = (w - 11 * pitch) / 2 + rng.uniform(-1.6, 1.6)
    shelf_y = h - rng.uniform(2.0, 3.0) + rng.uniform(-1, 1) * 0.5  # the top of the board
    wall = H6._rgb(rng.random(), rng.uniform(0.0, 0.4), rng.uniform(0.5, 0.95))
    board = H6._rgb(rng.uniform(0.05, 0.12), rng.uniform(0.3, 0.7), rng.uniform(0.2, 0.5))
    heights = [rng.uniform(10.5, 14.5) for _ in range(11)]
    spines = [H6._rgb(rng.random(), rng.uniform(0.3, 0.9), rng.uniform(0.2, 0.75)) for _ in range(11)]
    paper = H6._rgb(rng.uniform(0.08, 0.16), rng.uniform(0.05, 0.2), rng.uniform(0.9, 1.0))
    tint = rng.uniform(0.55, 0.85)
    lab_h = rng.uniform(2.0, 3.0)
    hb = heights[book]
    frac = (0.2, 0.5, 0.8)[place] + rng.uniform(-0.06, 0.06)
    lab_c = shelf_y - hb * (1 - frac)  # the label's centre (rows grow downward)
    gilt = H6._rgb(rng.uniform(0.1, 0.15), rng.uniform(0.5, 0.8), rng.uniform(0.6, 0.9))
    bands = {}  # book -> (centre row, strength): thin distractor bands on some other books
    for b in range(11):
        if b != book and rng.random() < 0.35:
            bands[b] = (shelf_y - heights[b] * rng.uniform(0.1, 0.9), rng.uniform(0.3, 0.6))
    noise = rng.uniform(8, 20)
    rows = []
    for y in range(h):
        yc = y + 0.5
        row = bytearray()
        for x in range(w):
            u = x + 0.5 - x0
            if yc >= shelf_y:
                col = board
            else:
                col = wall
                b = int(u // pitch) if 0 <= u < 11 * pitch else -1
                if b >= 0:
                    top = shelf_y - heights[b]
                    cover = _clip01(yc - top + 0.5)
                    if cover > 0:
                        spine = spines[b]
                        if b == book:
                            a = _clip01(lab_h / 2 + 0.5 - abs(yc - lab_c)) * tint
                            spine = [spine[c] + (paper[c] - spine[c]) * a for c in range(3)]
                        elif b in bands:
                            bc, s = bands[b]
                            a = _clip01(0.9 - abs(yc - bc)) * s
                            spine = [spine[c] + (gilt[c] - spine[c]) * a for c in range(3)]
                        edge = min(u - b * pitch, (b + 1) * pitch - u)
                        if edge < 0.5:  # the dark gap between two books
                            shade = 0.5 * (1 - edge / 0.5)
                            spine = [spine[c] * (1 - shade) for c in range(3)]
                        col = [wall[c] + (spine[c] - wall[c]) * cover for c in range(3)]
            e = rng.gauss(0, noise)
            for c in range(3):
                row.append(clamp8(col[c] + e))
        rows.append(bytes(row))
    return rows


def make_shelf33(out):
    H1.write_png_class_folders(out, (("train", SHELF_TRAIN), ("val", SHELF_VAL)), SHELF_CLASSES,
                               lambda cls, name, rng: shelf_image(cls, rng),
                               lambda rows: H1.png_bytes(SHELF_W, SHELF_H, rows),
                               random.Random(20271223))


# --- main ------------------------------------------------------------------------------------

MAKERS = [("moon34", make_moon34), ("windbarb40", make_windbarb40), ("shelf33", make_shelf33)]


def main(argv=None):
    return H1.generate(__doc__.split("\n")[0], VERSION, "held-out-17", MAKERS, argv,
                       procedural=True)


if __name__ == "__main__":
    sys.exit(main())
