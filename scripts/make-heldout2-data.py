#!/usr/bin/env python3
"""Writes the data sets of the second held-out fault zoo (bench/zoo-heldout2) under OUTDIR.

    python3 scripts/make-heldout2-data.py OUTDIR       # e.g. bench/zoo-heldout2/data

Python 3 standard library only, deterministic (fixed seeds: the same bytes on every machine and
every run) and idempotent: when OUTDIR/.done holds this script's version stamp it does nothing. A
lock file makes concurrent invocations wait for each other instead of writing the same files
twice. The IDX and PNG writers come from scripts/make-heldout-data.py (loaded by path; that
script's own output is untouched).

Source for fm6: Fashion-MNIST from Debian's dataset-fashion-mnist
(/usr/share/datasets/fashion-mnist, IDX, gzip), or --source DIR. The other two are procedural.

  textures5-idx/  IDX (gzip), 1x20x20 grey, 5 classes: 0 horizontal stripes, 1 vertical stripes,
                  2 diagonal stripes (either diagonal), 3 checkerboard, 4 dots on a grid; random
                  period (3.5-8 px), phase, orientation jitter (+-15 degrees), contrast, brightness
                  and Gaussian pixel noise. train 5000 (1000 a class), t10k 1000.
  fashion6-16/    IDX (gzip), 1x16x16 grey, 6 Fashion-MNIST classes (1 Trouser, 3 Dress, 4 Coat,
                  5 Sandal, 6 Shirt, 9 Ankle boot -> 0..5), zero-padded to 32x32, 2x2
                  area-averaged to 16x16 and colour-inverted (dark garment on a white
                  background). train 6000 (1000 a class), t10k 1200.
  blobs3/         image folder of 16x16 RGB PNG files: train/<class>/*.png (1000 a class),
                  val/<class>/*.png (150 a class); classes blob (a soft filled disc), ramp (a
                  linear colour gradient in a random direction), ring (an annulus); random
                  position, size, colours and pixel noise.
"""
import importlib.util
import math
import os
import random
import sys

VERSION = "heldout2-data v1"  # bump whenever the output changes
SOURCE = "/usr/share/datasets/fashion-mnist"
HERE = os.path.dirname(os.path.abspath(__file__))

TEX_SIZE = 20
TEX_CLASSES = ["hstripes", "vstripes", "diagonal", "checker", "dots"]
TEX_TRAIN, TEX_VAL = 1000, 200  # per class
FASHION6_CLASSES = [1, 3, 4, 5, 6, 9]  # Trouser, Dress, Coat, Sandal, Shirt, Ankle boot -> 0..5
FASHION6_TRAIN, FASHION6_VAL = 6000, 1200
BLOBS = ["blob", "ramp", "ring"]  # class ids are the sorted folder names
BLOB_SIZE = 16
BLOB_TRAIN, BLOB_VAL = 1000, 150  # per class


def _first_script():
    """scripts/make-heldout-data.py (a hyphenated name, so loaded by path)."""
    spec = importlib.util.spec_from_file_location("make_heldout_data",
                                                  os.path.join(HERE, "make-heldout-data.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


H1 = _first_script()


def clamp8(v):
    return min(255, max(0, int(round(v))))


def write_idx_pair(out, prefix, images, labels, h, w):
    base = os.path.join(out, prefix)
    H1.write_idx(base, images, labels, h, w)
    os.rename(base + ".images", os.path.join(out, f"{prefix}-images-idx3-ubyte.gz"))
    os.rename(base + ".labels", os.path.join(out, f"{prefix}-labels-idx1-ubyte.gz"))


# --- textures5 -------------------------------------------------------------------------------

def texture(cls, rng):
    """One 20x20 grey texture of class `cls` (an index into TEX_CLASSES), as bytes."""
    n = TEX_SIZE
    period = rng.uniform(3.5, 8.0)
    k = 2 * math.pi / period
    jitter = math.radians(rng.uniform(-15, 15))
    if cls == 0:
        angle = math.pi / 2 + jitter  # intensity varies along y: horizontal stripes
    elif cls == 1:
        angle = jitter  # varies along x: vertical stripes
    elif cls == 2:
        angle = rng.choice((math.pi / 4, 3 * math.pi / 4)) + jitter
    else:
        angle = jitter
    ca, sa = math.cos(angle), math.sin(angle)
    px, py = rng.uniform(0, 2 * math.pi), rng.uniform(0, 2 * math.pi)
    contrast = rng.uniform(15, 70)
    brightness = rng.uniform(70, 185)
    noise = rng.uniform(25, 60)
    if rng.random() < 0.5:
        contrast = -contrast  # dark-on-light or light-on-dark
    out = bytearray()
    for y in range(n):
        for x in range(n):
            u = ca * x + sa * y
            v = -sa * x + ca * y
            if cls <= 2:
                s = math.sin(k * u + px)
            elif cls == 3:
                s = math.sin(k * u + px) * math.sin(k * v + py) * 1.6
                s = max(-1.0, min(1.0, s))
            else:  # dots: a bump at each grid point, flat in between
                s = (math.cos(k * u + px) + 1) * (math.cos(k * v + py) + 1) / 4  # 0..1
                s = 2 * s ** 3 - 1
            out.append(clamp8(brightness + contrast * s + rng.gauss(0, noise)))
    return bytes(out)


def make_textures5(out):
    rng = random.Random(20261203)
    os.makedirs(out)
    for prefix, per_class in (("train", TEX_TRAIN), ("t10k", TEX_VAL)):
        labels = [c for c in range(len(TEX_CLASSES)) for _ in range(per_class)]
        rng.shuffle(labels)
        images = [texture(c, rng) for c in labels]
        write_idx_pair(out, prefix, images, labels, TEX_SIZE, TEX_SIZE)


# --- fashion6-16 -----------------------------------------------------------------------------

def shrink_invert(img28):
    """28x28 grey bytes -> 16x16: zero-pad to 32x32, average each 2x2 block, invert."""
    padded = [[0] * 32 for _ in range(32)]
    for r in range(28):
        row = padded[r + 2]
        for c in range(28):
            row[c + 2] = img28[r * 28 + c]
    out = bytearray()
    for r in range(16):
        a, b = padded[2 * r], padded[2 * r + 1]
        for c in range(16):
            s = a[2 * c] + a[2 * c + 1] + b[2 * c] + b[2 * c + 1]
            out.append(255 - (s + 2) // 4)
    return bytes(out)


def make_fashion6(src, out):
    rng = random.Random(20261204)
    os.makedirs(out)
    relabel = {c: k for k, c in enumerate(FASHION6_CLASSES)}
    for prefix, n in (("train", FASHION6_TRAIN), ("t10k", FASHION6_VAL)):
        images, h, w = H1.read_idx_images(os.path.join(src, f"{prefix}-images-idx3-ubyte.gz"))
        labels = H1.read_idx_labels(os.path.join(src, f"{prefix}-labels-idx1-ubyte.gz"))
        assert (h, w) == (28, 28)
        idx = H1.stratified(labels, n // len(FASHION6_CLASSES), FASHION6_CLASSES, rng)
        rng.shuffle(idx)
        write_idx_pair(out, prefix, [shrink_invert(images[i]) for i in idx],
                       [relabel[labels[i]] for i in idx], 16, 16)


# --- blobs3 ----------------------------------------------------------------------------------

def blob_colours(rng):
    """Two random colours whose luminance differs by at least 70 levels (either sign)."""
    while True:
        fg = [rng.randrange(256) for _ in range(3)]
        bg = [rng.randrange(256) for _ in range(3)]
        lum = lambda c: 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]
        if abs(lum(fg) - lum(bg)) >= 70:
            return fg, bg


def draw_blob(shape, rng):
    n = BLOB_SIZE
    fg, bg = blob_colours(rng)
    noise = rng.uniform(8, 22)
    cx, cy = rng.uniform(4.5, n - 4.5), rng.uniform(4.5, n - 4.5)
    r = rng.uniform(2.8, 4.5)
    ring_in = r * rng.uniform(0.35, 0.55)
    ring_out = r + rng.uniform(0.8, 1.6)
    ramp_angle = rng.uniform(0, 2 * math.pi)
    ramp_ca, ramp_sa = math.cos(ramp_angle), math.sin(ramp_angle)
    rows = []
    for y in range(n):
        row = bytearray()
        for x in range(n):
            dx, dy = x + 0.5 - cx, y + 0.5 - cy
            d = math.hypot(dx, dy)
            if shape == "blob":
                a = min(1.0, max(0.0, r + 0.5 - d))  # a disc with a one-pixel soft edge
            elif shape == "ring":
                a = min(1.0, max(0.0, ring_out + 0.5 - d)) * min(1.0, max(0.0, d - ring_in + 0.5))
            else:  # ramp: a linear gradient across the image
                t = (ramp_ca * (x + 0.5 - n / 2) + ramp_sa * (y + 0.5 - n / 2)) / n + 0.5
                a = min(1.0, max(0.0, t))
            for c in range(3):
                row.append(clamp8(bg[c] + (fg[c] - bg[c]) * a + rng.gauss(0, noise)))
        rows.append(bytes(row))
    return rows


def make_blobs3(out):
    H1.write_png_class_folders(out, (("train", BLOB_TRAIN), ("val", BLOB_VAL)), BLOBS,
                               lambda cls, shape, rng: draw_blob(shape, rng),
                               lambda rows: H1.png_bytes(BLOB_SIZE, BLOB_SIZE, rows),
                               random.Random(20261205))


# --- main ------------------------------------------------------------------------------------

def main():
    return H1.generate(__doc__.split("\n")[0], VERSION, "held-out-2",
                       [("textures5-idx", lambda source, d: make_textures5(d)),
                        ("fashion6-16", make_fashion6), ("blobs3", lambda source, d: make_blobs3(d))])


if __name__ == "__main__":
    sys.exit(main())
