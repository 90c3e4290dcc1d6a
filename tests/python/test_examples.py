"""The article's three runs and a healthy one, written as ordinary PyTorch loops on Fashion-MNIST
(examples/python/), end to end: each must get its diagnosis. Small budgets keep this fast."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

SOURCE = os.environ.get("LOSSDOCTOR_SOURCE_DIR",
                        os.path.join(os.path.dirname(__file__), "..", ".."))
EXAMPLES = os.path.join(SOURCE, "examples", "python")


def run_example(name, *args):
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "report.json")
        run = subprocess.run([sys.executable, os.path.join(EXAMPLES, name), "--json", out, *args],
                             capture_output=True, text=True, cwd=EXAMPLES, timeout=600)
        # A Python traceback also exits 1: without its report the run crashed, so show why.
        if run.returncode not in (0, 1) or not os.path.exists(out):
            raise AssertionError(f"{name} exited {run.returncode} without a report:\n"
                                 f"--- stdout\n{run.stdout}\n--- stderr\n{run.stderr}")
        with open(out) as f:
            return run.returncode, json.load(f), run.stdout


@unittest.skipUnless(os.path.exists("/usr/share/datasets/fashion-mnist"),
                     "needs Debian's dataset-fashion-mnist")
class ArticleExamples(unittest.TestCase):
    def causes(self, report):
        return [f["cause"] for f in report["findings"]]

    def test_healthy(self):
        code, report, text = run_example("healthy.py", "--limit", "3000")
        self.assertEqual((code, report["verdict"]), (0, "healthy"), text)

    def test_seed_1_unshuffled_and_validation_prepared_differently(self):
        code, report, text = run_example("seed_1_unshuffled_mismatched_val.py", "--limit", "3000")
        self.assertEqual(code, 1, text)
        causes = self.causes(report)
        self.assertEqual(causes[0], "unshuffled_data", text)
        self.assertIn("preprocessing_mismatch", causes[:3], text)

    def test_seed_2_no_batchnorm_and_softmax_into_logits_loss(self):
        code, report, text = run_example("seed_2_no_batchnorm_softmax_logits.py", "--limit", "3000")
        self.assertEqual(code, 1, text)
        self.assertEqual(self.causes(report)[0], "loss_output_mismatch", text)

    def test_seed_3_adam_lr1_batches_of_one(self):
        code, report, text = run_example("seed_3_adam_lr1_batch1.py", "--limit", "3000")
        self.assertEqual(code, 1, text)
        causes = self.causes(report)
        self.assertEqual(causes[0], "lr_too_high", text)
        self.assertIn("batch_too_small", causes[:3], text)


if __name__ == "__main__":
    unittest.main()
