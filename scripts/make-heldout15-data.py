#!/usr/bin/env python3
"""Writes the data sets of the fifteenth held-out fault zoo (bench/zoo-heldout15) under OUTDIR.

    python3 scripts/make-heldout15-data.py OUTDIR      # e.g. bench/zoo-heldout15/data

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

  scope24/        IDX, gzip-compressed, 1x24x40 grey (24 rows, 40 columns; wider than tall), 24
                  classes = an oscilloscope trace: its waveform (4: sine, square, triangle,
                  sawtooth) x the number of cycles across the screen (3: 1, 2, 3) x its polarity
                  (2: normal, inverted); class = 6 * waveform + 2 * (cycles - 1) + polarity. The
                  trace spans the screen from the left edge, phase 0 +- 0.06 cycles, cycle count
                  +- 7%, amplitude 4.5-8.5 px, its zero line within +-2 px of the image centre,
                  line half-width 0.45-0.85 px; a faint graticule (every 5-6 px), 2-5 faint
                  specks, random polarity and grey levels (>= 70 apart), Gaussian pixel noise
                  (sigma 14-30). train 3000 (125 a class), t10k 600 (25).
  signs30/        CIFAR-10 binary batches (data_batch_1.bin, test_batch.bin), 3x32x32 RGB, 30
                  classes = a road sign: its outline (6: circle, triangle pointing up, triangle
                  pointing down, diamond, hexagon, square) x the symbol on it (5: blank,
                  horizontal bar, vertical bar, cross, dot); class = 5 * outline + symbol. The
                  sign's radius 9.5-12.5 px, rotated +-12 degrees, centre within +-2.5 px of the
                  image centre, a border 1.6-2.6 px wide; border, face and symbol colours random
                  (the colours carry no class); a grey post below it, a random background with a
                  brightness ramp and 1-3 clutter discs, a random colour cast (per-channel gains
                  0.85-1.15), Gaussian pixel noise (sigma 8-24, one value for the three channels).
                  train 3000 (100 a class), test 600 (20).
  calendar35/     folder of 8-bit RGB PNG files (train/<class>/, val/<class>/), 3x32x44 (32
                  rows, 44 columns), 35 classes = which day of a month page is circled: its week
                  (5 rows) x its weekday (7 columns); class = 7 * week + weekday (sorted folder
                  names 00-w0-mon ... 34-w4-sun). The page (a header band above a 7 x 5 grid of
                  cells 4.4-5.2 px wide and 4.0-4.8 px tall) is tilted +-3 degrees, its grid centre
                  within +-2.5 px of the image centre; every cell holds a tiny day mark (1-2
                  short strokes), a pen ring around the chosen cell, 0-2 pen ticks (short
                  strokes) in other cells, random paper, ink and pen colours, Gaussian pixel
                  noise (sigma 6-18, one value for the three channels). train 3010 (86 a class),
                  val 595 (17).
"""
import importlib.util
import math
import os
import random
import sys

VERSION = "heldout15-data v1"  # bump whenever the output changes
HERE = os.path.dirname(os.path.abspath(__file__))

SCOPE_H, SCOPE_W = 24, 40
SCOPE_TRAIN, SCOPE_VAL = 125, 25  # per class, 24 classes
SIGN_SIZE = 32
SIGN_TRAIN, SIGN_VAL = 100, 20  # per class, 30 classes
CAL_H, CAL_W = 32, 44
CAL_TRAIN, CAL_VAL = 86, 17  # per class, 35 classes
WAVES = ["sine", "square", "triangle", "sawtooth"]
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
CAL_CLASSES = [f"{7 * w + d:02d}-w{w}-{WEEKDAYS[d]}" for w in range(5) for d in range(7)]


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


# --- scope24 ---------------------------------------------------------------------------------

def _wave(kind, t):
    """One period of a waveform at phase t (cycles), values in [-1, 1], rising at t = 0."""
    f = t % 1.0
    if kind == 0:
        return math.sin(2 * math.pi * f)
    if kind == 1:
        return 1.0 if f < 0.5 else -1.0
    if kind == 2:
        return 4 * f if f < 0.25 else (2 - 4 * f if f < 0.75 else 4 * f - 4)
    return 2 * f - 1 if f < 0.98 else 1 - 100 * (f - 0.98)  # sawtooth with a steep fall


def scope_image(cls, rng):
    w, h = SCOPE_W, SCOPE_H
    kind, rest = divmod(cls, 6)
    cycles, pol = rest // 2 + 1, rest % 2
    cyc = cycles * rng.uniform(0.93, 1.07)
    phase = rng.uniform(-0.06, 0.06)
    amp = rng.uniform(4.5, 8.5) * (-1 if pol else 1)
    y0 = h / 2 + rng.uniform(-2, 2)
    half = rng.uniform(0.45, 0.85)
    trace = [0.0] * (w * h)
    gs = rng.uniform(5.0, 6.0)  # the graticule: lines every gs px, offset (gx, gy)
    gx, gy = rng.uniform(0, gs), rng.uniform(0, gs)
    gl = rng.uniform(0.15, 0.35)
    col = [gl * _clip01(0.8 - abs((x + 0.5 - gx + gs / 2) % gs - gs / 2)) for x in range(w)]
    row = [gl * _clip01(0.8 - abs((y + 0.5 - gy + gs / 2) % gs - gs / 2)) for y in range(h)]
    grid = [max(col[x], row[y]) for y in range(h) for x in range(w)]
    step = 0.5 if kind == 1 else 1.0  # the square wave's jumps need the finer steps
    prev = None
    xs = 0.0
    while xs <= w + step:
        v = y0 - amp * _wave(kind, phase + cyc * xs / w)
        if prev is not None:
            _grey_max(trace, _capsule(w, h, (prev[0], prev[1], xs, v), half))
        prev = (xs, v)
        xs += step
    for _ in range(rng.randint(2, 5)):  # faint specks
        sx, sy = rng.uniform(0, w), rng.uniform(0, h)
        _grey_max(trace, _capsule(w, h, (sx, sy, sx, sy), rng.uniform(0.4, 0.9)), rng.uniform(0.2, 0.45))
    ink, paper = H8._levels(rng, 70)
    noise = rng.uniform(14, 30)
    out = bytearray()
    for a, g in zip(trace, grid):
        base = paper + (ink - paper) * g
        out.append(clamp8(base + (ink - base) * a + rng.gauss(0, noise)))
    return bytes(out)


def make_scope24(out):
    rng = random.Random(20271201)
    os.makedirs(out)
    for prefix, per_class in (("train", SCOPE_TRAIN), ("t10k", SCOPE_VAL)):
        labels = H8._labels(24, per_class, rng)
        images = [scope_image(c, rng) for c in labels]
        H2.write_idx_pair(out, prefix, images, labels, SCOPE_H, SCOPE_W)


# --- signs30 ---------------------------------------------------------------------------------

def _polygon(n_sides, start_deg):
    """Unit-circumradius regular polygon: the (nx, ny, d) of its edges (inside: nx*x+ny*y <= d)."""
    edges = []
    for k in range(n_sides):
        a = math.radians(start_deg + 360.0 * (k + 0.5) / n_sides)  # the edge normals
        edges.append((math.cos(a), math.sin(a), math.cos(math.pi / n_sides)))
    return edges


# image y grows downwards: an edge normal at 90 degrees points down
OUTLINES = [None,                      # circle
            _polygon(3, -90),          # triangle pointing up (an edge normal points down)
            _polygon(3, 90),           # triangle pointing down
            _polygon(4, 0),            # diamond (vertices up, down, left, right)
            _polygon(6, 0),            # hexagon (flat top and bottom)
            _polygon(4, 45)]           # square
INRADIUS = [0.92, 0.5, 0.5, 0.707, 0.866, 0.707]  # of each outline, as a fraction of its radius


def _sdist(outline, u, v, r):
    """Signed distance (px, negative inside) of (u, v) from an outline of circumradius r."""
    if outline is None:
        return math.hypot(u, v) - r * 0.92
    return max(nx * u + ny * v - d * r for nx, ny, d in outline)


def sign_image(cls, rng):
    """3072 bytes, channel-major RGB (CIFAR-10 record layout without the label byte)."""
    n = SIGN_SIZE
    shape, symbol = divmod(cls, 5)
    outline = OUTLINES[shape]
    r = rng.uniform(9.5, 12.5)
    rot = math.radians(rng.uniform(-12, 12))
    cx, cy = n / 2 + rng.uniform(-2.5, 2.5), n / 2 + rng.uniform(-2.5, 2.5)
    cos_r, sin_r = math.cos(rot), math.sin(rot)
    border_w = rng.uniform(1.6, 2.6)
    bg = H6._rgb(rng.random(), rng.uniform(0.0, 0.6), rng.uniform(0.2, 0.9))
    ramp = rng.uniform(-0.35, 0.35)
    planes = [[bg[k] * (1 + ramp * (y / n - 0.5)) for y in range(n) for _ in range(n)] for k in range(3)]
    for _ in range(rng.randint(1, 3)):  # clutter discs near the corners
        ex = rng.choice((rng.uniform(0, 5), rng.uniform(27, 32)))
        ey = rng.choice((rng.uniform(0, 5), rng.uniform(27, 32)))
        _paint(planes, _capsule(n, n, (ex, ey, ex, ey), rng.uniform(0.8, 2.0)),
               H6._rgb(rng.random(), rng.uniform(0.2, 1.0), rng.uniform(0.2, 1.0)))
    _paint(planes, _capsule(n, n, (cx, cy, cx, n + 2), rng.uniform(0.9, 1.4)),
           H6._rgb(0.0, 0.0, rng.uniform(0.35, 0.7)))  # the post
    border = H6._rgb(rng.random(), rng.uniform(0.5, 1.0), rng.uniform(0.45, 0.95))
    face = H6._rgb(rng.random(), rng.uniform(0.0, 0.35), rng.uniform(0.75, 1.0))
    mark = H6._rgb(rng.random(), rng.uniform(0.0, 0.8), rng.uniform(0.0, 0.3))
    xs, ys = _box(n, n, cx - r - 1, cy - r - 1, cx + r + 1, cy + r + 1, 0)
    outer, inner = [], []
    for y in ys:
        for x in xs:
            dx, dy = x + 0.5 - cx, y + 0.5 - cy
            u, v = dx * cos_r + dy * sin_r, -dx * sin_r + dy * cos_r
            s = _sdist(outline, u, v, r)
            a = _clip01(0.5 - s)
            if a > 0:
                outer.append((y * n + x, a))
                b = _clip01(0.5 - (s + border_w))
                if b > 0:
                    inner.append((y * n + x, b))
    _paint(planes, outer, border)
    _paint(planes, inner, face)
    # the symbol, in the sign's frame, centred, its arms about 0.7 of the face's inradius
    sy = 0.0
    arm = (INRADIUS[shape] * r - border_w) * rng.uniform(0.62, 0.78)
    thick = rng.uniform(0.9, 1.3)

    def to_img(u, v):
        return cx + u * cos_r - v * sin_r, cy + u * sin_r + v * cos_r

    segs = {1: [(-arm, 0, arm, 0)], 2: [(0, -arm, 0, arm)], 3: [(-arm, 0, arm, 0), (0, -arm, 0, arm)],
            4: [(0, 0, 0, 0)]}.get(symbol, [])
    for u0, v0, u1, v1 in segs:
        half = thick * 1.9 if symbol == 4 else thick
        _paint(planes, _capsule(n, n, to_img(u0, v0 + sy) + to_img(u1, v1 + sy), half), mark)
    return cast_and_grain_rgb(planes, n * n, rng, gain=(0.85, 1.15), noise=(8, 24))


def cast_and_grain_rgb(planes, pixels, rng, gain, noise):
    """The three colour planes as RGB bytes (plane after plane) with a colour cast (a gain per
    channel drawn from the `gain` range) and Gaussian grain (σ drawn from the `noise` range, one
    value per pixel for the three channels), clamped to 0..255."""
    gains = [rng.uniform(*gain) for _ in range(3)]
    sigma = rng.uniform(*noise)
    grain = [rng.gauss(0, sigma) for _ in range(pixels)]
    return bytes(bytearray(clamp8(v * gains[k] + e) for k in range(3) for v, e in zip(planes[k], grain)))


def write_cifar_batches(out, rng, num_classes, per_class, image):
    """CIFAR-10 binary batches in `out`: data_batch_1.bin and test_batch.bin with per_class[0]
    and per_class[1] images of each class, in shuffled order; `image(cls, rng)` draws one."""
    os.makedirs(out)
    for name, count in zip(("data_batch_1.bin", "test_batch.bin"), per_class):
        labels = H8._labels(num_classes, count, rng)
        with open(os.path.join(out, name), "wb") as f:
            for cl in labels:
                f.write(bytes([cl]) + image(cl, rng))


def make_signs30(out):
    write_cifar_batches(out, random.Random(20271202), 30, (SIGN_TRAIN, SIGN_VAL), sign_image)


# --- calendar35 ------------------------------------------------------------------------------

def calendar_image(cls, rng):
    """32 rows of 44 * 3 bytes (RGB)."""
    w, h = CAL_W, CAL_H
    week, day = divmod(cls, 7)
    cw, ch = rng.uniform(4.4, 5.2), rng.uniform(4.0, 4.8)
    tilt = math.radians(rng.uniform(-3, 3))
    cx, cy = w / 2 + rng.uniform(-2.5, 2.5), h / 2 + 2 + rng.uniform(-2.5, 2.5)  # the grid centre
    cos_t, sin_t = math.cos(tilt), math.sin(tilt)

    def to_img(u, v):  # the grid's frame (u across from its top-left corner, v down) to the image
        u, v = u - 3.5 * cw, v - 2.5 * ch
        return cx + u * cos_t - v * sin_t, cy + u * sin_t + v * cos_t

    pen = [0.0] * (w * h)
    gl = rng.uniform(0.3, 0.55)  # the grid lines' strength
    hb = rng.uniform(2.2, 3.2)  # the header band (month name) above the grid
    hl = rng.uniform(0.6, 0.9)
    # the page, grid lines and header band, computed per pixel in the grid's frame
    page, ink = [], []
    for y in range(h):
        for x in range(w):
            dx, dy = x + 0.5 - cx, y + 0.5 - cy
            u, v = dx * cos_t + dy * sin_t + 3.5 * cw, -dx * sin_t + dy * cos_t + 2.5 * ch
            du = max(-1.2 - u, u - 7 * cw - 1.2)
            dv = max(-hb - 2.2 - v, v - 5 * ch - 1.2)
            page.append(_clip01(0.5 - max(du, dv)))
            a = 0.0
            if -0.8 < u < 7 * cw + 0.8 and -0.8 < v < 5 * ch + 0.8:
                gu = abs((u + cw / 2) % cw - cw / 2) if -0.5 < v < 5 * ch + 0.5 else 9.0
                gv = abs((v + ch / 2) % ch - ch / 2) if -0.5 < u < 7 * cw + 0.5 else 9.0
                a = gl * _clip01(0.8 - min(gu, gv))
            hd = max(abs(u - 3.5 * cw) - (3.5 * cw - 0.8), abs(v + hb / 2 + 0.6) - hb / 2)
            if hd < 0.5:
                a = max(a, hl * _clip01(0.5 - hd))
            ink.append(a)
    for j in range(5):  # a tiny day mark in every cell (top left)
        for i in range(7):
            u, v = i * cw + rng.uniform(1.0, 2.2), j * ch + rng.uniform(1.0, 1.6)
            _grey_max(ink, _capsule(w, h, to_img(u, v) + to_img(u + rng.uniform(-0.4, 0.4), v + 1.2), 0.35),
                      rng.uniform(0.5, 0.85))
    ring_r = rng.uniform(0.5, 0.62)  # the ring around the chosen day, as a fraction of the cell
    rx, ry = cw * ring_r, ch * ring_r
    mx, my = to_img((day + 0.5) * cw + rng.uniform(-0.4, 0.4), (week + 0.5) * ch + rng.uniform(-0.4, 0.4))
    rw = rng.uniform(0.4, 0.6)
    xs, ys = _box(w, h, mx - rx - 2, my - rx - 2, mx + rx + 2, my + rx + 2, 0)
    cover = []
    for y in ys:
        for x in xs:
            dx, dy = x + 0.5 - mx, y + 0.5 - my
            u, v = dx * cos_t + dy * sin_t, -dx * sin_t + dy * cos_t
            rr = math.hypot(u / rx, v / ry)
            a = _clip01(rw + 0.5 - abs(rr - 1) * min(rx, ry))
            if a > 0:
                cover.append((y * w + x, a))
    _grey_max(pen, cover)
    for _ in range(rng.randint(0, 2)):  # pen ticks in other cells
        while True:
            tw, td = rng.randrange(5), rng.randrange(7)
            if (tw, td) != (week, day):
                break
        u, v = (td + 0.5) * cw, (tw + 0.5) * ch
        _grey_max(pen, _capsule(w, h, to_img(u - 1.2, v) + to_img(u - 0.3, v + 1.0), rw))
        _grey_max(pen, _capsule(w, h, to_img(u - 0.3, v + 1.0) + to_img(u + 1.5, v - 1.3), rw))
    paper = H6._rgb(rng.random(), rng.uniform(0.0, 0.25), rng.uniform(0.7, 1.0))
    surround = H6._rgb(rng.random(), rng.uniform(0.0, 0.6), rng.uniform(0.1, 0.6))
    inkc = H6._rgb(rng.random(), rng.uniform(0.0, 0.4), rng.uniform(0.0, 0.35))
    penc = H6._rgb(rng.choice((0.0, 0.62, 0.33)) + rng.uniform(-0.04, 0.04), rng.uniform(0.6, 1.0), rng.uniform(0.45, 0.85))
    noise = rng.uniform(6, 18)
    rows = []
    for y in range(h):
        row = bytearray()
        for x in range(w):
            i = y * w + x
            p, a, b = page[i], ink[i], pen[i]
            e = rng.gauss(0, noise)
            for k in range(3):
                base = surround[k] + (paper[k] - surround[k]) * p
                base = base + (inkc[k] - base) * a
                row.append(clamp8(base + (penc[k] - base) * b + e))
        rows.append(bytes(row))
    return rows


def make_calendar35(out):
    H1.write_png_class_folders(out, (("train", CAL_TRAIN), ("val", CAL_VAL)), CAL_CLASSES,
                               lambda cls, name, rng: calendar_image(cls, rng),
                               lambda rows: H1.png_bytes(CAL_W, CAL_H, rows),
                               random.Random(20271203))


# --- main ------------------------------------------------------------------------------------

MAKERS = [("scope24", make_scope24), ("signs30", make_signs30), ("calendar35", make_calendar35)]


def main(argv=None):
    return H1.generate(__doc__.split("\n")[0], VERSION, "held-out-15", MAKERS, argv,
                       procedural=True)


if __name__ == "__main__":
    sys.exit(main())
