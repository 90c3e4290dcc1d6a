#!/usr/bin/env python3
"""Writes the data sets of the sixteenth held-out fault zoo (bench/zoo-heldout16) under OUTDIR.

    python3 scripts/make-heldout16-data.py OUTDIR      # e.g. bench/zoo-heldout16/data

Python 3 standard library only, deterministic (fixed seeds: the same bytes on every machine and
every run) and idempotent: when OUTDIR/.done holds this script's version stamp it does nothing. A
lock file makes concurrent invocations wait for each other instead of writing the same files
twice; each set is written under a temporary name and renamed into place. All three sets are
procedural (no Fashion-MNIST source). Reused by path, not copied: the command line, lock, version
stamp and write-then-rename steps (generate(..., procedural=True) of scripts/make-heldout-data.py),
the RGB PNG writer and class-folder writer of scripts/make-heldout-data.py, the gzip IDX writer
and clamp8 of scripts/make-heldout2-data.py, the colour helper of scripts/make-heldout6-data.py,
the grey levels and label shuffler of scripts/make-heldout8-data.py and the anti-aliased shape
helpers (_box, _capsule, _grey_max, _paint, _clip01) of scripts/make-heldout13-data.py (all
reached through scripts/make-heldout15-data.py, loaded by path); their output is untouched.

  tape32/         IDX, gzip-compressed, 1x28x36 grey (28 rows, 36 columns; wider than tall), 32
                  classes = the 5-bit code punched across a strip of paper tape (five data
                  tracks, a row of small sprocket holes between the second and third track);
                  class = sum of 2^track over the punched tracks. The code is punched in every
                  column of the strip (9-11 columns, pitch 3.3-3.7 px); the strip is 23-25 px
                  wide, tilted +-2.5 degrees, its centre line within +-1.5 px of the image
                  centre, column phase random, track spacing 3.5-3.8 px; holes of radius 0.8-1.1
                  px (sprockets 0.5-0.7 px) that show 35-80% of the background; 0-2 dust
                  specks; on half the strips a data hole is left unpunched now and then (4% of
                  them); random polarity and grey levels (>= 50 apart), Gaussian pixel noise
                  (sigma 16-34). train 3200 (100 a class), t10k 640 (20).
  battery36/      CIFAR-10 binary batches (data_batch_1.bin, test_batch.bin), 3x32x32 RGB, 36
                  classes = a battery status icon: its orientation (2: lying with the terminal
                  to the right, standing with the terminal up) x its status mark (3: none, a
                  plus, a lightning bolt) x its charge (6: 0-5 bars); class = 18 * orientation +
                  6 * mark + bars. The body 20-24 px long and 11-14 px across, rotated +-8
                  degrees, centre within +-2 px of the image centre, outline 1.1-1.7 px; bar,
                  mark, outline, inside and background colours random (the colours carry no
                  class), a background brightness ramp, Gaussian pixel noise (sigma 6-20, one
                  value for the three channels). train 3600 (100 a class), test 720 (20).
  keys29/         folder of 8-bit RGB PNG files (train/<class>/, val/<class>/), 3x24x64 (24 rows,
                  64 columns), 29 classes = which key of a 29-key piano keyboard (17 white, 12
                  black keys, C to the E two octaves up) is lit; class = the key's place in
                  pitch order (sorted folder names 00-c0 ... 28-e2). White keys 3.25-3.45 px
                  wide and 15-19 px long, black keys 0.6 of a white key's width and 0.58-0.66 of
                  its length, the keyboard centred within +-1.8 px across and +-1.5 px down, a
                  dark case rim above it; the lit key tinted by a random saturated colour (0.3-0.6
                  of the way), random case, background and key shades, Gaussian pixel noise
                  (sigma 10-26, one value for the three channels). train 2900 (100 a class), val
                  580 (20).
"""
import importlib.util
import math
import os
import random
import sys

VERSION = "heldout16-data v2"  # bump whenever the output changes
HERE = os.path.dirname(os.path.abspath(__file__))

TAPE_H, TAPE_W = 28, 36
TAPE_TRAIN, TAPE_VAL = 100, 20  # per class, 32 classes
BATT_SIZE = 32
BATT_TRAIN, BATT_VAL = 100, 20  # per class, 36 classes
KEYS_H, KEYS_W = 24, 64
KEYS_TRAIN, KEYS_VAL = 100, 20  # per class, 29 classes
NOTE_NAMES = ["c", "cs", "d", "ds", "e", "f", "fs", "g", "gs", "a", "as", "b"]
KEY_CLASSES = [f"{k:02d}-{NOTE_NAMES[k % 12]}{k // 12}" for k in range(29)]


def _load(name, filename):
    """A sibling script (a hyphenated name, so loaded by path)."""
    spec = importlib.util.spec_from_file_location(name, os.path.join(HERE, filename))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


H15 = _load("make_heldout15_data", "make-heldout15-data.py")
H1, H2, H6, H8 = H15.H1, H15.H2, H15.H6, H15.H8
clamp8 = H2.clamp8
_box, _capsule, _grey_max, _paint, _clip01 = H15._box, H15._capsule, H15._grey_max, H15._paint, H15._clip01


# --- tape32 ----------------------------------------------------------------------------------

def tape_image(cls, rng):
    w, h = TAPE_W, TAPE_H
    width = rng.uniform(23, 25)  # the strip, across
    cy = h / 2 + rng.uniform(-1.5, 1.5)
    tilt = math.radians(rng.uniform(-2.5, 2.5))
    cos_t, sin_t = math.cos(tilt), math.sin(tilt)
    sp = rng.uniform(3.5, 3.8)  # the track spacing (across)
    pitch = rng.uniform(3.3, 3.7)  # the column pitch (along)
    phase = rng.uniform(0, pitch)
    r_hole, r_sprocket = rng.uniform(0.8, 1.1), rng.uniform(0.5, 0.7)
    depth = rng.uniform(0.35, 0.8)  # how much of the background shows through a hole

    def to_img(u, v):  # u along the strip from the image centre, v across from its centre line
        return w / 2 + u * cos_t - v * sin_t, cy + u * sin_t + v * cos_t

    strip = []
    for y in range(h):
        for x in range(w):
            dy = -(x + 0.5 - w / 2) * sin_t + (y + 0.5 - cy) * cos_t
            strip.append(_clip01(0.5 - (abs(dy) - width / 2)))
    holes = [0.0] * (w * h)
    # the track rows across the strip: data tracks 0, 1, then the sprocket row, then tracks 2-4
    rows = {0: -2.5 * sp, 1: -1.5 * sp, "s": -0.5 * sp, 2: 0.5 * sp, 3: 1.5 * sp, 4: 2.5 * sp}
    torn = rng.random() < 0.5
    col = -w / 2 - pitch + phase
    while col < w / 2 + pitch:
        for track in range(5):
            if cls >> track & 1:
                if torn and rng.random() < 0.04:
                    continue  # a hole left unpunched
                x, y = to_img(col, rows[track])
                _grey_max(holes, _capsule(w, h, (x, y, x, y), r_hole), depth)
        x, y = to_img(col, rows["s"])
        _grey_max(holes, _capsule(w, h, (x, y, x, y), r_sprocket), depth)
        col += pitch
    for _ in range(rng.randint(0, 2)):  # dust specks
        sx, sy = rng.uniform(0, w), rng.uniform(0, h)
        _grey_max(holes, _capsule(w, h, (sx, sy, sx, sy), rng.uniform(0.3, 0.6)), rng.uniform(0.3, 0.6))
    tape, back = H8._levels(rng, 50)
    noise = rng.uniform(16, 34)
    out = bytearray()
    for s, a in zip(strip, holes):
        base = back + (tape - back) * s
        out.append(clamp8(base + (back - base) * a + rng.gauss(0, noise)))
    return bytes(out)


def make_tape32(out):
    rng = random.Random(20271211)
    os.makedirs(out)
    for prefix, per_class in (("train", TAPE_TRAIN), ("t10k", TAPE_VAL)):
        labels = H8._labels(32, per_class, rng)
        images = [tape_image(c, rng) for c in labels]
        H2.write_idx_pair(out, prefix, images, labels, TAPE_H, TAPE_W)


# --- battery36 -------------------------------------------------------------------------------

def _rect(n, cx, cy, cos_r, sin_r, u0, v0, u1, v1):
    """(index, alpha) of the pixels inside the rectangle [u0, u1] x [v0, v1] of a frame centred
    at (cx, cy) and rotated by (cos_r, sin_r)."""
    uc, vc, hu, hv = (u0 + u1) / 2, (v0 + v1) / 2, abs(u1 - u0) / 2, abs(v1 - v0) / 2
    px, py = cx + uc * cos_r - vc * sin_r, cy + uc * sin_r + vc * cos_r
    rx, ry = hu * abs(cos_r) + hv * abs(sin_r) + 1, hu * abs(sin_r) + hv * abs(cos_r) + 1
    xs, ys = _box(n, n, px - rx, py - ry, px + rx, py + ry, 0)
    out = []
    for y in ys:
        for x in xs:
            dx, dy = x + 0.5 - cx, y + 0.5 - cy
            u, v = dx * cos_r + dy * sin_r, -dx * sin_r + dy * cos_r
            a = _clip01(0.5 - max(abs(u - uc) - hu, abs(v - vc) - hv))
            if a > 0:
                out.append((y * n + x, a))
    return out


def battery_image(cls, rng):
    """3072 bytes, channel-major RGB (CIFAR-10 record layout without the label byte)."""
    n = BATT_SIZE
    standing, rest = divmod(cls, 18)
    mark, bars = divmod(rest, 6)
    length, across = rng.uniform(20, 24), rng.uniform(11, 14)
    rot = math.radians(rng.uniform(-8, 8) + (-90 if standing else 0))  # standing: the terminal up
    cx, cy = n / 2 + rng.uniform(-2, 2), n / 2 + rng.uniform(-2, 2)
    cos_r, sin_r = math.cos(rot), math.sin(rot)
    line = rng.uniform(1.1, 1.7)
    bg = H6._rgb(rng.random(), rng.uniform(0.0, 0.6), rng.uniform(0.15, 0.9))
    ramp = rng.uniform(-0.35, 0.35)
    planes = [[bg[k] * (1 + ramp * (x / n - 0.5)) for _ in range(n) for x in range(n)] for k in range(3)]
    outline = H6._rgb(rng.random(), rng.uniform(0.0, 0.5), rng.uniform(0.0, 1.0))
    while abs(sum(outline) - sum(bg)) < 150:
        outline = H6._rgb(rng.random(), rng.uniform(0.0, 0.5), rng.uniform(0.0, 1.0))
    inside = H6._rgb(rng.random(), rng.uniform(0.0, 0.3), rng.uniform(0.0, 1.0))
    while abs(sum(outline) - sum(inside)) < 150:
        inside = H6._rgb(rng.random(), rng.uniform(0.0, 0.3), rng.uniform(0.0, 1.0))
    bar = H6._rgb(rng.random(), rng.uniform(0.6, 1.0), rng.uniform(0.5, 1.0))
    while abs(sum(bar) - sum(inside)) < 120:
        bar = H6._rgb(rng.random(), rng.uniform(0.6, 1.0), rng.uniform(0.5, 1.0))
    hl, ha = length / 2, across / 2

    def rect(u0, v0, u1, v1):
        return _rect(n, cx, cy, cos_r, sin_r, u0, v0, u1, v1)

    nub = rng.uniform(2.0, 2.6)
    _paint(planes, rect(hl - 0.5, -ha * 0.4, hl + nub, ha * 0.4), outline)  # the terminal
    _paint(planes, rect(-hl, -ha, hl, ha), outline)
    _paint(planes, rect(-hl + line, -ha + line, hl - line, ha - line), inside)
    gap = rng.uniform(0.5, 0.8)
    u_in, v_in = -hl + line + gap, ha - line - gap
    slot = (2 * (hl - line - gap) + gap) / 5
    for b in range(bars):
        _paint(planes, rect(u_in + b * slot, -v_in, u_in + (b + 1) * slot - gap, v_in), bar)
    if mark:
        ink = H6._rgb(rng.random(), rng.uniform(0.0, 0.4), rng.uniform(0.0, 1.0))
        while abs(sum(ink) - sum(inside)) < 150 or abs(sum(ink) - sum(bar)) < 150:
            ink = H6._rgb(rng.random(), rng.uniform(0.0, 0.4), rng.uniform(0.0, 1.0))
        s = ha * rng.uniform(0.6, 0.72)  # the mark's half-size, in the icon's frame
        half = rng.uniform(0.75, 1.0)
        # the mark stays upright in the image whatever the icon's orientation
        mx, my = cx + rng.uniform(-0.6, 0.6), cy + rng.uniform(-0.6, 0.6)
        if mark == 1:
            segs = [(mx - s, my, mx + s, my), (mx, my - s, mx, my + s)]
        else:
            segs = [(mx + 0.35 * s, my - s, mx - 0.45 * s, my + 0.1 * s), (mx - 0.45 * s, my + 0.1 * s, mx + 0.45 * s, my - 0.1 * s),
                    (mx + 0.45 * s, my - 0.1 * s, mx - 0.35 * s, my + s)]
        for seg in segs:
            _paint(planes, _capsule(n, n, seg, half), ink)
    return H15.cast_and_grain_rgb(planes, n * n, rng, gain=(0.88, 1.12), noise=(6, 20))


def make_battery36(out):
    H15.write_cifar_batches(out, random.Random(20271212), 36, (BATT_TRAIN, BATT_VAL), battery_image)


# --- keys29 ----------------------------------------------------------------------------------

WHITE_OF = [0, None, 1, None, 2, 3, None, 4, None, 5, None, 6]  # semitone -> white key in its octave
BLACK_LEFT = {1: 0, 3: 1, 6: 3, 8: 4, 10: 5}  # semitone of a black key -> the white key to its left


def key_image(cls, rng):
    """24 rows of 64 * 3 bytes (RGB)."""
    w, h = KEYS_W, KEYS_H
    ww = rng.uniform(3.25, 3.45)
    kl = rng.uniform(15, 19)
    bw, bl = 0.6 * ww, kl * rng.uniform(0.58, 0.66)
    x0 = (w - 17 * ww) / 2 + rng.uniform(-1.8, 1.8)
    y0 = (h - kl) / 2 + 1 + rng.uniform(-1.5, 1.5)
    rim = rng.uniform(1.5, 2.5)
    blacks = []  # (left edge, key index)
    for k in range(29):
        octave, semi = divmod(k, 12)
        if semi in BLACK_LEFT:
            blacks.append((x0 + (7 * octave + BLACK_LEFT[semi] + 1) * ww - bw / 2, k))
    white_keys = [k for k in range(29) if WHITE_OF[k % 12] is not None]
    back = H6._rgb(rng.random(), rng.uniform(0.0, 0.5), rng.uniform(0.3, 0.9))
    case = H6._rgb(rng.random(), rng.uniform(0.0, 0.6), rng.uniform(0.05, 0.35))
    ivory = H6._rgb(rng.random(), rng.uniform(0.0, 0.12), rng.uniform(0.85, 1.0))
    ebony = H6._rgb(rng.random(), rng.uniform(0.0, 0.3), rng.uniform(0.02, 0.2))
    light = H6._rgb(rng.random(), rng.uniform(0.75, 1.0), rng.uniform(0.7, 1.0))
    tint = rng.uniform(0.3, 0.6)
    lit = ([ivory[c] + (light[c] - ivory[c]) * tint for c in range(3)],
           [ebony[c] + (light[c] - ebony[c]) * tint for c in range(3)])
    noise = rng.uniform(10, 26)
    rows = []
    for y in range(h):
        v = y + 0.5 - y0
        row = bytearray()
        for x in range(w):
            u = x + 0.5 - x0
            if -rim <= v < 0 and -0.5 <= u <= 17 * ww + 0.5:
                col = case
            elif 0 <= v < kl and 0 <= u < 17 * ww:
                col = None
                if v < bl:
                    for left, k in blacks:
                        if left <= x + 0.5 < left + bw:
                            col = lit[1] if k == cls else ebony
                            break
                if col is None:
                    i = min(16, int(u / ww))
                    col = lit[0] if white_keys[i] == cls else ivory
                    edge = min(u - i * ww, (i + 1) * ww - u)
                    if edge < 0.6:  # the gap between two white keys
                        a = 0.6 * (1 - edge / 0.6)
                        col = [col[c] + (ebony[c] - col[c]) * a for c in range(3)]
            else:
                col = back
            e = rng.gauss(0, noise)
            for c in range(3):
                row.append(clamp8(col[c] + e))
        rows.append(bytes(row))
    return rows


def make_keys29(out):
    H1.write_png_class_folders(out, (("train", KEYS_TRAIN), ("val", KEYS_VAL)), KEY_CLASSES,
                               lambda cls, name, rng: key_image(cls, rng),
                               lambda rows: H1.png_bytes(KEYS_W, KEYS_H, rows),
                               random.Random(20271213))


# --- main ------------------------------------------------------------------------------------

MAKERS = [("tape32", make_tape32), ("battery36", make_battery36), ("keys29", make_keys29)]


def main(argv=None):
    return H1.generate(__doc__.split("\n")[0], VERSION, "held-out-16", MAKERS, argv,
                       procedural=True)


if __name__ == "__main__":
    sys.exit(main())
