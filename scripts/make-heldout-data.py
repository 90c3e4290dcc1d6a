#!/usr/bin/env python3
"""Writes the data sets of the held-out fault zoo (bench/zoo-heldout) under OUTDIR.

    python3 scripts/make-heldout-data.py OUTDIR        # e.g. bench/zoo-heldout/data

Python 3 standard library only (the CI machine has Debian's python3 and nothing else),
deterministic (fixed seeds: the same bytes on every machine and every run) and idempotent: when
OUTDIR/.done holds this script's version stamp it does nothing. A lock file makes concurrent
invocations wait for each other instead of writing the same files twice.

Source: Fashion-MNIST from Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist,
IDX, gzip), or --source DIR.

  fashion-color32/   CIFAR-10 binary format (data_batch_1.bin 6000 records, test_batch.bin 1000;
                     1 label byte + 3072 bytes channel-major RGB 32x32): Fashion-MNIST images
                     zero-padded to 32x32 and colourised with a random foreground and background
                     colour per image, drawn independently of the label. 10 classes.
  shapes4/           image folder of 24x24 RGB PNG files: train/<class>/*.png (4000, 1000 a class),
                     val/<class>/*.png (400): a filled circle, cross, square or triangle of about
                     equal area, randomly sized, placed and rotated, a light foreground on a darker
                     background with random tints, 2x2 supersampled edges and light per-pixel
                     noise. 4 classes.
  fashion4-idx/      4 Fashion-MNIST classes (0 T-shirt/top, 2 Pullover, 7 Sneaker, 8 Bag),
                     relabelled 0..3, in IDX format (gzip): train-images-idx3-ubyte.gz /
                     train-labels-idx1-ubyte.gz (6000), t10k-*.gz (1200). Chance is ln 4.
"""
import argparse
import fcntl
import gzip
import math
import os
import random
import shutil
import struct
import sys
import time
import zlib

VERSION = "heldout-data v2"  # bump whenever the output changes
SOURCE = "/usr/share/datasets/fashion-mnist"

COLOR_TRAIN, COLOR_VAL = 6000, 1000
SHAPES = ["circle", "cross", "square", "triangle"]  # class ids are the sorted folder names
SHAPES_SIZE = 24
SHAPES_TRAIN, SHAPES_VAL = 1000, 100  # per class
FASHION4_CLASSES = [0, 2, 7, 8]  # T-shirt/top, Pullover, Sneaker, Bag -> 0..3
FASHION4_TRAIN, FASHION4_VAL = 6000, 1200


# --- IDX -------------------------------------------------------------------------------------

def read_idx_images(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, n, h, w = struct.unpack(">IIII", data[:16])
    if magic != 0x803:
        sys.exit(f"{path}: not an IDX image file (magic {magic:#010x})")
    size = h * w
    return [data[16 + i * size:16 + (i + 1) * size] for i in range(n)], h, w


def read_idx_labels(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, n = struct.unpack(">II", data[:8])
    if magic != 0x801:
        sys.exit(f"{path}: not an IDX label file (magic {magic:#010x})")
    return list(data[8:8 + n])


def write_idx(path, images, labels, h, w):
    # mtime=0: the same bytes on every run.
    with open(path + ".images", "wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0) as f:
            f.write(struct.pack(">IIII", 0x803, len(images), h, w))
            f.write(b"".join(images))
    with open(path + ".labels", "wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0) as f:
            f.write(struct.pack(">II", 0x801, len(labels)))
            f.write(bytes(labels))


def write_idx_raw(directory, prefix, images, labels, h, w):
    """Uncompressed IDX files (the reader takes raw files as well as gzip):
    <prefix>-images-idx3-ubyte and <prefix>-labels-idx1-ubyte in `directory`."""
    with open(os.path.join(directory, prefix + "-images-idx3-ubyte"), "wb") as f:
        f.write(struct.pack(">IIII", 0x803, len(images), h, w))
        f.write(b"".join(images))
    with open(os.path.join(directory, prefix + "-labels-idx1-ubyte"), "wb") as f:
        f.write(struct.pack(">II", 0x801, len(labels)))
        f.write(bytes(labels))


def stratified(labels, per_class, classes, rng):
    """per_class random indices of each class (sorted within the result: source order)."""
    chosen = []
    for c in classes:
        idx = [i for i, y in enumerate(labels) if y == c]
        chosen.extend(rng.sample(idx, per_class))
    return sorted(chosen)


# --- fashion-color32 -------------------------------------------------------------------------

def random_colour_pair(rng):
    """A foreground and a background colour that differ clearly (the garment stays visible)."""
    while True:
        fg = [rng.randrange(256) for _ in range(3)]
        bg = [rng.randrange(256) for _ in range(3)]
        if math.dist(fg, bg) >= 160:
            return fg, bg


def colourise(img28, rng):
    """1 x 28 x 28 grey bytes -> 3 x 32 x 32 RGB bytes (channel-major), zero-padded by 2."""
    pad_row = b"\0" * 32
    rows = [b"\0\0" + img28[r * 28:(r + 1) * 28] + b"\0\0" for r in range(28)]
    grey = pad_row * 2 + b"".join(rows) + pad_row * 2
    fg, bg = random_colour_pair(rng)
    planes = []
    for c in range(3):
        lut = bytes(round(bg[c] + (fg[c] - bg[c]) * p / 255) for p in range(256))
        planes.append(grey.translate(lut))
    return b"".join(planes)


def make_fashion_color32(src, out):
    rng = random.Random(20240601)
    os.makedirs(out)
    for split, (images_f, labels_f, n, name) in {
            "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", COLOR_TRAIN, "data_batch_1.bin"),
            "val": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", COLOR_VAL, "test_batch.bin")}.items():
        images, h, w = read_idx_images(os.path.join(src, images_f))
        labels = read_idx_labels(os.path.join(src, labels_f))
        assert (h, w) == (28, 28)
        idx = stratified(labels, n // 10, range(10), rng)
        rng.shuffle(idx)  # records in random order, as CIFAR's batches are
        with open(os.path.join(out, name), "wb") as f:
            for i in idx:
                f.write(bytes([labels[i]]) + colourise(images[i], rng))


# --- fashion4-idx ----------------------------------------------------------------------------

def make_fashion4(src, out):
    rng = random.Random(20240602)
    os.makedirs(out)
    relabel = {c: k for k, c in enumerate(FASHION4_CLASSES)}
    for prefix, n in (("train", FASHION4_TRAIN), ("t10k", FASHION4_VAL)):
        images, h, w = read_idx_images(os.path.join(src, f"{prefix}-images-idx3-ubyte.gz"))
        labels = read_idx_labels(os.path.join(src, f"{prefix}-labels-idx1-ubyte.gz"))
        idx = stratified(labels, n // len(FASHION4_CLASSES), FASHION4_CLASSES, rng)
        base = os.path.join(out, prefix)
        write_idx(base, [images[i] for i in idx], [relabel[labels[i]] for i in idx], h, w)
        os.rename(base + ".images", os.path.join(out, f"{prefix}-images-idx3-ubyte.gz"))
        os.rename(base + ".labels", os.path.join(out, f"{prefix}-labels-idx1-ubyte.gz"))


# --- shapes4 ---------------------------------------------------------------------------------

def png_bytes(width, height, rgb_rows):
    """An 8-bit RGB PNG from a list of rows of bytes (3 * width each)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    raw = b"".join(b"\0" + row for row in rgb_rows)  # filter type 0 (none) on every row
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def write_png_class_folders(out, splits, names, draw, encode, rng):
    """Writes out/<split>/<name>/<name>-NNNN.png for each (split, per_class) of `splits`:
    per_class images of each class, the class index being the position in `names`. Drawn in
    (split, class, index) order so a seed gives the same files; draw(cls, name, rng) returns an
    image's rows, encode(rows) its PNG bytes."""
    for split, per_class in splits:
        for cls, name in enumerate(names):
            d = os.path.join(out, split, name)
            os.makedirs(d)
            for i in range(per_class):
                with open(os.path.join(d, f"{name}-{i:04d}.png"), "wb") as f:
                    f.write(encode(draw(cls, name, rng)))


def inside(shape, u, v, r):
    """Whether the point (u, v), in the shape's own rotated frame, lies in the shape of size r.
    The sizes give every shape roughly the same area (pi r^2), so area says nothing."""
    if shape == "circle":
        return u * u + v * v <= r * r
    if shape == "square":
        s = 0.886 * r
        return abs(u) <= s and abs(v) <= s
    if shape == "triangle":  # equilateral, circumradius R = 1.555 r, centroid at the origin
        R = 1.555 * r
        return v <= 0.5 * R and math.sqrt(3) * abs(u) - v <= R
    if shape == "cross":  # plus sign, arm half-width w, half-length L: area 8wL - 4w^2
        L, w = 1.25 * r, 0.42 * r
        return (abs(u) <= w and abs(v) <= L) or (abs(v) <= w and abs(u) <= L)
    raise ValueError(shape)


def shape_colours(rng):
    """A light foreground on a darker background, each tinted by a random colour: the hue varies
    freely, the luminance contrast (>= 90 levels) keeps its sign, so the shape stays findable."""
    back = rng.uniform(20, 120)
    fore = rng.uniform(back + 90, 235)

    def tint(level):
        return [min(255, max(0, int(level + rng.uniform(-40, 40)))) for _ in range(3)]
    return tint(fore), tint(back)


def draw_shape(shape, rng):
    n = SHAPES_SIZE
    r = rng.uniform(3.5, 7.0)
    reach = 1.6 * r
    cx = rng.uniform(reach - 1, n - reach)
    cy = rng.uniform(reach - 1, n - reach)
    angle = rng.uniform(0, 2 * math.pi)
    ca, sa = math.cos(angle), math.sin(angle)
    fg, bg = shape_colours(rng)
    noise = 12
    rows = []
    offsets = ((0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75))
    for y in range(n):
        row = bytearray()
        for x in range(n):
            cover = 0
            if abs(x + 0.5 - cx) <= reach + 1 and abs(y + 0.5 - cy) <= reach + 1:
                for ox, oy in offsets:
                    dx, dy = x + ox - cx, y + oy - cy
                    u, v = ca * dx + sa * dy, -sa * dx + ca * dy
                    cover += inside(shape, u, v, r)
            a = cover / 4
            for c in range(3):
                val = bg[c] + (fg[c] - bg[c]) * a + rng.uniform(-noise, noise)
                row.append(min(255, max(0, int(round(val)))))
        rows.append(bytes(row))
    return rows


def make_shapes4(out):
    write_png_class_folders(out, (("train", SHAPES_TRAIN), ("val", SHAPES_VAL)), SHAPES,
                            lambda cls, shape, rng: draw_shape(shape, rng),
                            lambda rows: png_bytes(SHAPES_SIZE, SHAPES_SIZE, rows),
                            random.Random(20240603))


# --- main ------------------------------------------------------------------------------------

def stamp(version, source):
    return f"{version} source={source}\n"


def generate(description, version, label, makers, argv=None, procedural=False):
    """The command line shared by the held-out data scripts: OUTDIR [--source DIR] [--force];
    idempotent (OUTDIR/.done holds `version` and the source), serialised by a lock file, each
    data set written under a temporary name and renamed into place. `makers` lists
    (folder name, function(source, folder)); with `procedural` (sets drawn from nothing) there
    is no --source, the stamp's source is "procedural" and each maker is function(folder)."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("outdir")
    if not procedural:
        ap.add_argument("--source", default=SOURCE, help="Fashion-MNIST IDX folder (default %(default)s)")
    ap.add_argument("--force", action="store_true", help="regenerate even when up to date")
    args = ap.parse_args(argv)
    source = "procedural" if procedural else args.source
    out = os.path.abspath(args.outdir)
    os.makedirs(out, exist_ok=True)
    done = os.path.join(out, ".done")
    with open(os.path.join(out, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a concurrent run waits here, then finds .done
        if not args.force and os.path.exists(done) and open(done).read() == stamp(version, source):
            print(f"{args.outdir}: up to date ({version})")
            return 0
        for f in () if procedural else ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                                        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
            if not os.path.exists(os.path.join(args.source, f)):
                print(f"{os.path.join(args.source, f)}: file not found (install Debian's "
                      "dataset-fashion-mnist or pass --source)", file=sys.stderr)
                return 2
        if os.path.exists(done):
            os.remove(done)
        t0 = time.time()
        work = os.path.join(out, f".tmp-{os.getpid()}")
        shutil.rmtree(work, ignore_errors=True)
        os.makedirs(work)
        for name, make in makers:
            t = time.time()
            if procedural:
                make(os.path.join(work, name))
            else:
                make(args.source, os.path.join(work, name))
            final = os.path.join(out, name)
            shutil.rmtree(final, ignore_errors=True)
            os.rename(os.path.join(work, name), final)
            print(f"{os.path.join(args.outdir, name)}: written in {time.time() - t:.1f} s")
        shutil.rmtree(work)
        with open(done, "w") as f:
            f.write(stamp(version, source))
        print(f"{args.outdir}: {label} data written in {time.time() - t0:.1f} s ({version})")
    return 0


def main():
    return generate(__doc__.split("\n")[0], VERSION, "held-out",
                    [("fashion-color32", make_fashion_color32), ("fashion4-idx", make_fashion4),
                     ("shapes4", lambda source, d: make_shapes4(d))])


if __name__ == "__main__":
    sys.exit(main())
