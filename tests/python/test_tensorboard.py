"""--tensorboard event files checked independently of lossdoctor's own reader: every TFRecord's
two CRCs with a bit-by-bit CRC32C written here, and every record parsed as an Event by code that
protoc generates at test time from tests/python/proto/event.proto (TensorFlow's public field
numbers). Needs protoc and google.protobuf (Debian: protobuf-compiler, python3-protobuf)."""
import glob
import importlib
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest

SOURCE = os.environ.get("LOSSDOCTOR_SOURCE_DIR",
                        os.path.join(os.path.dirname(__file__), "..", ".."))
CLI = os.environ.get("LOSSDOCTOR_CLI", os.path.join(SOURCE, "build", "lossdoctor"))
PROTO_DIR = os.path.join(SOURCE, "tests", "python", "proto")
FASHION = "/usr/share/datasets/fashion-mnist"

SPEC = """name: tiny
data:
  path: /usr/share/datasets/fashion-mnist
  train: {limit: 256}
  val: {limit: 128}
  transforms:
    train: [{scale: 0.00392156862745098}]
    val: [{scale: 0.00392156862745098}]
model:
  layers:
    - conv2d: {filters: 4, kernel: 3}
    - relu: {}
    - flatten: {}
    - dense: {units: 10}
optimizer: {type: sgd, lr: LR}
batch_size: 32
epochs: 4
"""


def crc32c(data):
    """CRC32C (Castagnoli, reflected polynomial 0x82F63B78), one bit at a time."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def masked(crc):
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def tfrecords(path):
    """The payloads of a TFRecord file; asserts both CRCs of every record."""
    with open(path, "rb") as f:
        data = f.read()
    out, pos = [], 0
    while pos < len(data):
        assert len(data) - pos >= 16, f"{path}: truncated record at byte {pos}"
        header = data[pos:pos + 8]
        (length,) = struct.unpack("<Q", header)
        (length_crc,) = struct.unpack("<I", data[pos + 8:pos + 12])
        assert length_crc == masked(crc32c(header)), f"{path}: length CRC at byte {pos}"
        payload = data[pos + 12:pos + 12 + length]
        assert len(payload) == length, f"{path}: record at byte {pos} cut short"
        (data_crc,) = struct.unpack("<I", data[pos + 12 + length:pos + 16 + length])
        assert data_crc == masked(crc32c(payload)), f"{path}: data CRC at byte {pos}"
        out.append(payload)
        pos += 16 + length
    return out


def unknown_fields(message, path="Event"):
    """Paths of the fields the generated code did not recognise, in `message` and below."""
    out = [path] if len(message.UnknownFields()) else []
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        items = value if field.label == field.LABEL_REPEATED else [value]
        for item in items:
            out += unknown_fields(item, f"{path}.{field.name}")
    return out


def have_protobuf():
    if shutil.which("protoc") is None:
        return "protoc not found (Debian: protobuf-compiler)"
    try:
        import google.protobuf  # noqa: F401
    except ImportError:
        return "google.protobuf not importable (Debian: python3-protobuf)"
    return ""


MISSING = have_protobuf()


class Crc32c(unittest.TestCase):
    def test_check_value_and_mask(self):
        self.assertEqual(crc32c(b"123456789"), 0xE3069283)  # RFC 3720's check value
        self.assertEqual(masked(0), 0xA282EAD8)


@unittest.skipIf(MISSING, MISSING)
@unittest.skipUnless(os.path.exists(FASHION), "needs Debian's dataset-fashion-mnist")
@unittest.skipUnless(os.access(CLI, os.X_OK), f"no lossdoctor CLI at {CLI}")
class TensorBoardFiles(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="lossdoctor_tb_py_")
        gen = os.path.join(cls.tmp, "gen")
        os.makedirs(gen)
        subprocess.run(["protoc", f"--proto_path={PROTO_DIR}", f"--python_out={gen}",
                        os.path.join(PROTO_DIR, "event.proto")], check=True)
        sys.path.insert(0, gen)
        cls.pb = importlib.import_module("event_pb2")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def cli(self, *args, codes=(0, 1)):
        run = subprocess.run([CLI, "--threads", "1", *args], capture_output=True, text=True,
                             timeout=300)
        self.assertIn(run.returncode, codes, run.stdout + run.stderr)
        return run

    def spec(self, name, lr):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(SPEC.replace("LR", str(lr)))
        return path

    def events(self, folder):
        """Every Event of the one event file in `folder`, CRCs checked, parsed by protoc's code."""
        files = glob.glob(os.path.join(folder, "events.out.tfevents.*"))
        self.assertEqual(len(files), 1, files)
        name = os.path.basename(files[0])
        self.assertRegex(name, r"^events\.out\.tfevents\.\d{10}\.[^/]+$")
        out = []
        for payload in tfrecords(files[0]):
            e = self.pb.Event()
            e.ParseFromString(payload)
            self.assertEqual(unknown_fields(e), [], name)  # every field is where TF has it
            out.append(e)
        self.assertEqual(out[0].WhichOneof("what"), "file_version")
        self.assertEqual(out[0].file_version, "brain.Event:2")
        return out

    @staticmethod
    def scalars(events):
        out = {}
        for e in events:
            for v in e.summary.value:
                if v.WhichOneof("value") == "simple_value":
                    out.setdefault(v.tag, []).append((e.step, v.simple_value))
        return out

    @staticmethod
    def values(events, kind):
        return {v.tag: (e.step, v) for e in events for v in e.summary.value
                if v.WhichOneof("value") == kind}

    def test_train_scalars(self):
        tb = os.path.join(self.tmp, "train_tb")
        self.cli("train", self.spec("train.yaml", 0.05), "--quiet", "--tensorboard", tb, codes=(0,))
        events = self.events(tb)
        s = self.scalars(events)
        self.assertEqual([step for step, _ in s["train/loss"]], list(range(32)))  # 8 steps × 4
        self.assertAlmostEqual(s["train/lr"][0][1], 0.05, places=6)
        self.assertEqual(len(s["train/grad_norm"]), 32)
        self.assertEqual([step for step, _ in s["val/loss"]], [8, 16, 24, 32])
        self.assertTrue(all(0 <= a <= 1 for _, a in s["val/accuracy"]))
        self.assertLess(s["train/loss"][-1][1], s["train/loss"][0][1])  # it learns
        self.assertTrue(all(e.wall_time > 1.6e9 for e in events))

    def test_diagnose_with_confirmation_arms(self):
        tb = os.path.join(self.tmp, "diag_tb")
        run = self.cli("diagnose", self.spec("bad.yaml", 20.0), "--budget-steps", "32",
                       "--quiet", "--tensorboard", tb, codes=(1,))
        runs = sorted(os.listdir(tb))
        self.assertIn("diagnosis", runs)
        self.assertIn("lr_too_high", runs, run.stdout + run.stderr)
        diagnosis = self.events(os.path.join(tb, "diagnosis"))
        s = self.scalars(diagnosis)
        self.assertEqual(len(s["train/loss"]), 32)
        self.assertTrue(any(t.startswith("layers/") and t.endswith("/dead_fraction") for t in s))
        self.assertTrue(any(t.startswith("layers/") and t.endswith("/update_ratio") for t in s))
        self.assertIn("yardstick/val_loss", s)
        texts = self.values(diagnosis, "tensor")
        for tag in ("findings", "report"):
            _, v = texts[tag]
            self.assertEqual(v.metadata.plugin_data.plugin_name, "text")
            self.assertEqual(v.tensor.dtype, 7)  # DT_STRING
            self.assertEqual(len(v.tensor.string_val), 1)
        self.assertIn(b"| lr_too_high | confirmed |", texts["findings"][1].tensor.string_val[0])
        histos = self.values(diagnosis, "histo")
        _, h = histos["samples/last_loss"]
        self.assertEqual(len(h.histo.bucket), len(h.histo.bucket_limit))
        self.assertAlmostEqual(sum(h.histo.bucket), h.histo.num)
        self.assertLessEqual(h.histo.min, h.histo.max)
        for arm in runs:
            if arm == "diagnosis":
                continue
            a = self.events(os.path.join(tb, arm))
            sa = self.scalars(a)
            self.assertGreater(len(sa["train/loss"]), 0, arm)
            self.assertIn("yardstick/val_accuracy", sa, arm)
            self.assertIn("confirmation", self.values(a, "tensor"), arm)
        arm_loss = self.scalars(self.events(os.path.join(tb, "lr_too_high")))["train/loss"]
        self.assertLess(arm_loss[-1][1], s["train/loss"][-1][1])

    def test_audit_contact_sheet(self):
        spec = self.spec("corrupt.yaml", 0.05)
        with open(spec) as f:
            text = f.read().replace("  transforms:",
                                    "  inject: {corrupt: {fraction: 0.05, kind: nan}}\n  transforms:")
        with open(spec, "w") as f:
            f.write(text)
        tb = os.path.join(self.tmp, "audit_tb")
        self.cli("audit", spec, "--no-labels", "--quiet", "--tensorboard", tb, codes=(1,))
        events = self.events(os.path.join(tb, "audit"))
        images = self.values(events, "image")
        _, v = images["audit/contact_sheet"]
        png = v.image.encoded_image_string
        self.assertEqual(png[:8], b"\x89PNG\r\n\x1a\n")
        width, height = struct.unpack(">II", png[16:24])
        self.assertEqual((v.image.width, v.image.height, v.image.colorspace), (width, height, 3))
        self.assertGreaterEqual(self.scalars(events)["audit/flagged/corrupt_samples"][0][1], 1)


if __name__ == "__main__":
    unittest.main()
