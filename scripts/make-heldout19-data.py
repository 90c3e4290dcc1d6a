#!/usr/bin/env python3
"""Writes the data sets of the nineteenth held-out fault zoo (bench/zoo-heldout19) under OUTDIR.

    python3 scripts/make-heldout19-data.py OUTDIR      # e.g. bench/zoo-heldout19/data

Python 3 standard library only, deterministic (fixed seeds: the same bytes on every machine and
every run) and idempotent: when OUTDIR/.done holds this script's version stamp it does nothing. A
lock file makes concurrent invocations wait for each other instead of writing the same files
twice; each set is written under a temporary name and renamed into place. All three sets are
procedural (no Fashion-MNIST source). Reused by path, not copied: the command line, lock, version
stamp and write-then-rename steps (generate(..., procedural=True) of scripts/make-heldout-data.py),
the RGB PNG writer and class-folder writer of scripts/make-heldout-data.py, the gzip IDX writer
and clamp8 of scripts/make-heldout2-data.py, the colour helpers (_rgb, _contrasting) of
scripts/make-heldout6-data.py, the label shuffler of scripts/make-heldout8-data.py, _clip01 of
scripts/make-heldout13-data.py, the CIFAR-10 batch writer and colour cast (write_cifar_batches,
cast_and_grain_rgb) of scripts/make-heldout15-data.py and the disc, ring and segment rasterisers
(_disc, _seg, _paint_rgb) of scripts/make-heldout18-data.py (all reached through
scripts/make-heldout18-data.py, loaded by path); their output is untouched.

  darts41/        IDX, gzip-compressed, 1x29x25 grey (29 rows, 25 columns; taller than wide), 41
                  classes = where the one dart sits on a dartboard: the bull (class 0) or one of
                  the 20 sectors (clockwise from the top) x its inner or outer single bed; class
                  = 1 + 2 * sector + bed (0 inner, 1 outer). The board (radius R 10-11.5 px)
                  turned +-5 degrees, its centre within +-1.5 px of the image centre; its 20
                  sectors alternate two random grey levels (the light one at most 165), thin
                  treble (0.63 R) and double rings, a bull disc; the dart a bright tip (radius
                  0.9-1.2 px) at most 7 degrees from its sector's middle, in the inner bed
                  (0.36-0.56 R), the outer bed (0.70-0.93 R) or within 0.09 R of the centre, with
                  a fainter shaft 2.5-4.5 px long pointing anywhere; 0-2 faint old holes
                  elsewhere on the board; a random surround level, a brightness ramp, Gaussian
                  pixel noise (sigma 6-15). train 3280 (80 a class), t10k 820 (20).
  roman39/        CIFAR-10 binary batches (data_batch_1.bin, test_batch.bin), 3x32x32 RGB, 39
                  classes = the Roman numeral I ... XXXIX painted on a plate (class k is the
                  number k + 1). Glyphs 7-9 px tall, strokes of half-width 0.45-0.7 px, I a bar,
                  V two strokes meeting at the foot, X two crossing strokes, 0.8-1.6 px apart, the
                  numeral slanted by a shear of +-0.15 and placed anywhere it fits (centre within
                  +-2.5 px across, +-4 px down); an optional bar above and below it (as on clock
                  faces); random plate and ink colours (contrasting; the colours carry no
                  class), a brightness ramp, a colour cast (gains 0.9-1.1), Gaussian pixel
                  noise (sigma 8-20, one value for the three channels). train 3510 (90 a
                  class), test 858 (22).
  soroban44/      folder of 8-bit RGB PNG files (train/<class>/, val/<class>/), 3x23x33 (23 rows,
                  33 columns; wider than tall), 44 classes = the number 0-43 shown on the two
                  right-hand rods (tens, ones) of a three-rod soroban (abacus); the left rod shows
                  a random digit and carries no class (folder names 00-v00 ... 43-v43). Each rod
                  one heaven bead (five when it touches the reckoning bar) and four earth beads
                  (one each when pushed up to the bar); beads diamonds 4.6-6 px wide at a pitch of
                  2.1-2.4 px (85% of it tall), each off its place by up to 0.3 px across and 0.2
                  px down; rods 8.6-9.6 px apart, the frame within +-1.5 px of the centre across
                  and +-0.5 px down; random frame, bead and background colours (contrasting),
                  Gaussian pixel noise (sigma 6-16, one value for the three channels). train 3300
                  (75 a class), val 792 (18).
"""
import importlib.util
import math
import os
import random
import sys

VERSION = "heldout19-data v4"  # bump whenever the output changes
HERE = os.path.dirname(os.path.abspath(__file__))

DART_H, DART_W = 29, 25
DART_TRAIN, DART_VAL = 80, 20  # per class, 41 classes
ROMAN_SIZE = 32
ROMAN_TRAIN, ROMAN_VAL = 90, 22  # per class, 39 classes
ABACUS_H, ABACUS_W = 23, 33
ABACUS_TRAIN, ABACUS_VAL = 75, 18  # per class, 44 classes
ABACUS_CLASSES = [f"{v:02d}-v{v:02d}" for v in range(44)]


def _load(name, filename):
    """A sibling script (a hyphenated name, so loaded by path)."""
    spec = importlib.util.spec_from_file_location(name, os.path.join(HERE, filename))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


H18 = _load("make_heldout18_data", "make-heldout18-data.py")
H1, H2, H6, H8, H15 = H18.H1, H18.H2, H18.H6, H18.H8, H18.H15
clamp8 = H2.clamp8
_clip01 = H18._clip01
_disc, _seg, _paint_rgb = H18._disc, H18._seg, H18._paint_rgb


def _paint(buf, cover, level, strength=1.0):
    for i, a in cover:
        buf[i] += (level - buf[i]) * a * strength


# --- darts41 ---------------------------------------------------------------------------------

def dart_image(cls, rng):
    w, h = DART_W, DART_H
    R = rng.uniform(10.0, 11.5)
    rot = rng.uniform(-5, 5)
    cx, cy = w / 2 + rng.uniform(-1.5, 1.5), h / 2 + rng.uniform(-1.5, 1.5)
    surround = rng.uniform(0, 255)
    a_lvl = rng.uniform(20, 110)
    b_lvl = min(165.0, a_lvl + rng.uniform(35, 90))
    ring_lvl = rng.uniform(60, 180)
    r_bull = 0.12 * R
    pix = [0.0] * (w * h)
    for y in range(h):
        for x in range(w):
            dx, dy = x + 0.5 - cx, y + 0.5 - cy
            d = math.hypot(dx, dy)
            if d > R + 0.5:
                val = surround
            else:
                ang = (math.degrees(math.atan2(dx, -dy)) - rot + 9) % 360  # clockwise from the top
                val = a_lvl if int(ang // 18) % 2 == 0 else b_lvl
                val = val + (ring_lvl - val) * (_clip01(0.55 - abs(d - 0.63 * R)) + _clip01(0.55 - abs(d - (R - 0.5))))
                val = val + (ring_lvl - val) * _clip01(r_bull + 0.5 - d)
                val = surround + (val - surround) * _clip01(R + 0.5 - d)
            pix[y * w + x] = val
    # 0-2 faint old holes anywhere on the board
    for _ in range(rng.randint(0, 2)):
        t, rr = math.radians(rng.uniform(0, 360)), R * math.sqrt(rng.random()) * 0.95
        _paint(pix, _disc(w, h, cx + rr * math.sin(t), cy - rr * math.cos(t), 0.6), 0.0, rng.uniform(0.3, 0.55))
    # the dart's tip: the class
    if cls == 0:
        t, rr = rng.uniform(0, 360), rng.uniform(0, 0.09 * R)
    else:
        sector, bed = divmod(cls - 1, 2)
        t = sector * 18 + rng.uniform(-7.0, 7.0)
        rr = R * (rng.uniform(0.36, 0.56) if bed == 0 else rng.uniform(0.7, 0.93))
    t = math.radians(t + rot)
    tx, ty = cx + rr * math.sin(t), cy - rr * math.cos(t)
    tip = rng.uniform(225, 255)
    shaft_dir = math.radians(rng.uniform(0, 360))
    shaft_len = rng.uniform(2.5, 4.5)
    _paint(pix, _seg(w, h, tx, ty, tx + shaft_len * math.cos(shaft_dir), ty + shaft_len * math.sin(shaft_dir), 0.35),
           tip, rng.uniform(0.35, 0.6))
    _paint(pix, _disc(w, h, tx, ty, rng.uniform(0.9, 1.2)), tip)
    ramp = rng.uniform(-20, 20)
    noise = rng.uniform(6, 15)
    return bytes(bytearray(clamp8(p + ramp * ((i // w) / h - 0.5) + rng.gauss(0, noise)) for i, p in enumerate(pix)))


def make_darts41(out):
    rng = random.Random(20271901)
    os.makedirs(out)
    for prefix, per_class in (("train", DART_TRAIN), ("t10k", DART_VAL)):
        labels = H8._labels(41, per_class, rng)
        images = [dart_image(c, rng) for c in labels]
        H2.write_idx_pair(out, prefix, images, labels, DART_H, DART_W)


# --- roman39 ---------------------------------------------------------------------------------

def _roman(n):
    out = ""
    for value, letters in ((10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")):
        while n >= value:
            out += letters
            n -= value
    return out


def roman_image(cls, rng):
    """3072 bytes, channel-major RGB (CIFAR-10 record layout without the label byte)."""
    n = ROMAN_SIZE
    text = _roman(cls + 1)
    gh = rng.uniform(7.0, 9.0)
    half = rng.uniform(0.45, 0.7)
    gap = rng.uniform(0.8, 1.6)
    widths = {"I": 2 * half, "V": gh * rng.uniform(0.5, 0.6), "X": gh * rng.uniform(0.5, 0.62)}
    total = sum(widths[c] for c in text) + gap * (len(text) - 1)
    scale = min(1.0, 28.0 / total)  # the longest numerals are squeezed to fit
    total *= scale
    room = max(0.0, (n - 2 - total) / 2)
    x0 = n / 2 - total / 2 + rng.uniform(-min(2.5, room), min(2.5, room))
    yc = n / 2 + rng.uniform(-4, 4)
    top, foot = yc - gh / 2, yc + gh / 2
    shear = rng.uniform(-0.15, 0.15)

    def pt(x, y):  # slant about the numeral's middle row
        return x + shear * (yc - y), y

    plate = H6._rgb(rng.random(), rng.uniform(0.0, 0.6), rng.uniform(0.3, 1.0))
    ink = H6._contrasting(rng, plate, 80, sat=(0.0, 0.9), val=(0.0, 1.0))
    ramp = rng.uniform(-0.3, 0.3)
    planes = [[plate[k] * (1 + ramp * (y / n - 0.5)) for y in range(n) for _ in range(n)] for k in range(3)]
    strokes = []
    x = x0
    for c in text:
        gw = widths[c] * scale
        if c == "I":
            strokes.append((x + gw / 2, top, x + gw / 2, foot))
        elif c == "V":
            strokes += [(x, top, x + gw / 2, foot), (x + gw, top, x + gw / 2, foot)]
        else:
            strokes += [(x, top, x + gw, foot), (x + gw, top, x, foot)]
        x += gw + gap * scale
    if rng.random() < 0.5:  # bars above and below the numeral, as on clock faces
        strokes += [(x0 - 0.8, top - 1.1, x0 + total + 0.8, top - 1.1), (x0 - 0.8, foot + 1.1, x0 + total + 0.8, foot + 1.1)]
    for x1, y1, x2, y2 in strokes:
        (a, b), (c_, d) = pt(x1, y1), pt(x2, y2)
        _paint_rgb(planes, _seg(n, n, a, b, c_, d, half), ink)
    return H15.cast_and_grain_rgb(planes, n * n, rng, gain=(0.9, 1.1), noise=(8, 20))


def make_roman39(out):
    H15.write_cifar_batches(out, random.Random(20271902), 39, (ROMAN_TRAIN, ROMAN_VAL), roman_image)


# --- soroban44 -------------------------------------------------------------------------------

def _diamond(w, h, cx, cy, bw, bh):
    """(index, alpha) of the pixels covered by a diamond (a soroban bead seen from the front)."""
    out = []
    for y in range(max(0, int(cy - bh)), min(h, int(cy + bh) + 1)):
        for x in range(max(0, int(cx - bw)), min(w, int(cx + bw) + 1)):
            d = abs(x + 0.5 - cx) / (bw / 2) + abs(y + 0.5 - cy) / (bh / 2)
            a = _clip01((1 - d) * min(bw, bh) / 2 + 0.5)
            if a > 0:
                out.append((y * w + x, a))
    return out


def abacus_image(cls, rng):
    """23 rows of 33 * 3 bytes (RGB)."""
    w, h = ABACUS_W, ABACUS_H
    digits = [rng.randint(0, 9), cls // 10, cls % 10]  # the left rod carries no class
    sp = rng.uniform(8.6, 9.6)
    bw, bh = rng.uniform(4.6, 6.0), rng.uniform(2.1, 2.4)  # bh: the beads' pitch on a rod
    xc = w / 2 + rng.uniform(-1.5, 1.5)
    y_top = 1.5 + rng.uniform(-0.5, 0.5)
    y_bar = y_top + 2.2 * bh + 0.6
    y_bot = y_bar + 5.7 * bh + 0.8
    bg = H6._rgb(rng.random(), rng.uniform(0.0, 0.5), rng.uniform(0.2, 1.0))
    frame = H6._contrasting(rng, bg, 50, sat=(0.2, 0.8), val=(0.15, 0.8))
    bead = H6._contrasting(rng, bg, 60, sat=(0.0, 1.0), val=(0.1, 1.0))
    rod = [frame[k] * 0.6 + bg[k] * 0.4 for k in range(3)]
    planes = [[bg[k]] * (w * h) for k in range(3)]
    left, right = xc - 1.5 * sp, xc + 1.5 * sp
    for r in range(3):
        x = xc + (r - 1) * sp
        _paint_rgb(planes, _seg(w, h, x, y_top, x, y_bot, 0.3), rod)
    for yy, half in ((y_top - 0.4, 0.6), (y_bar, 0.5), (y_bot + 0.4, 0.6)):  # frame and reckoning bar
        _paint_rgb(planes, _seg(w, h, left, yy, right, yy, half), frame)
    _paint_rgb(planes, _seg(w, h, left, y_top - 0.4, left, y_bot + 0.4, 0.6), frame)
    _paint_rgb(planes, _seg(w, h, right, y_top - 0.4, right, y_bot + 0.4, 0.6), frame)
    for r, dgt in enumerate(digits):
        x = xc + (r - 1) * sp
        five, ones = divmod(dgt, 5)
        ys = [y_bar - 0.5 - bh / 2 if five else y_top + 0.5 + bh / 2]  # the heaven bead
        ys += [y_bar + 0.5 + bh / 2 + i * bh for i in range(ones)]  # earth beads up at the bar
        ys += [y_bot - 0.5 - bh / 2 - i * bh for i in range(4 - ones)]  # earth beads down
        for yy in ys:
            _paint_rgb(planes, _diamond(w, h, x + rng.uniform(-0.3, 0.3), yy + rng.uniform(-0.2, 0.2), bw, 0.85 * bh), bead)
    noise = rng.uniform(6, 16)
    return H18.noisy_rgb_rows(planes, w, h, noise, rng)


def make_soroban44(out):
    H1.write_png_class_folders(out, (("train", ABACUS_TRAIN), ("val", ABACUS_VAL)), ABACUS_CLASSES,
                               lambda cls, name, rng: abacus_image(cls, rng),
                               lambda rows: H1.png_bytes(ABACUS_W, ABACUS_H, rows),
                               random.Random(20271903))


# --- main ------------------------------------------------------------------------------------

MAKERS = [("darts41", make_darts41), ("roman39", make_roman39), ("soroban44", make_soroban44)]


def main(argv=None):
    return H1.generate(__doc__.split("\n")[0], VERSION, "held-out-19", MAKERS, argv,
                       procedural=True)


if __name__ == "__main__":
    sys.exit(main())
