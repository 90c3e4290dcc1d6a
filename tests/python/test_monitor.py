"""lossdoctor.Monitor on small synthetic PyTorch loops: one planted loop bug per test, its near
miss (the healthy loop), and the API's contracts. Run by ctest with /usr/bin/python3 and
PYTHONPATH=build/python (python/CMakeLists.txt)."""
import copy
import json
import os
import subprocess
import tempfile
import unittest
import warnings

import torch
from torch import nn

import lossdoctor

K = 4  # classes: chance is ln 4 ≈ 1.39, not ln 10


def synthetic(n=1024, seed=0, sort=False):
    """[n, 1, 8, 8] images whose class (0–3) lights one quadrant, plus noise; normalised."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, K, (n,), generator=g)
    images = torch.randn(n, 1, 8, 8, generator=g) * 0.15
    for c in range(K):
        r, q = divmod(c, 2)
        images[labels == c, :, r * 4:(r + 1) * 4, q * 4:(q + 1) * 4] += 1.5
    images = (images - images.mean()) / images.std()
    if sort:
        order = torch.argsort(labels, stable=True)
        images, labels = images[order], labels[order]
    return images, labels


def net(batchnorm=True, softmax=False, outputs=K):
    layers = [nn.Conv2d(1, 8, 3, padding=1)]
    if batchnorm:
        layers.append(nn.BatchNorm2d(8))
    layers += [nn.ReLU(), nn.Flatten(), nn.Linear(8 * 64, outputs)]
    if softmax:
        layers.append(nn.Softmax(dim=1))
    return nn.Sequential(*layers)


def train(steps=150, bug=None, batch=32, lr=0.01, seed=0, **monitor_args):
    """Trains a small CNN with one planted bug; returns the Monitor."""
    torch.manual_seed(seed)
    images, labels = synthetic(sort=bug == "unshuffled", seed=seed)
    if bug == "raw-inputs":
        images = (images * 40 + 120).clamp(0, 255)  # 0–255 pixels, never scaled
    model = net(batchnorm=bug != "raw-inputs", softmax=bug == "softmax",
                outputs=K + 1 if bug == "labels-out-of-range" else K)
    params = copy.deepcopy(model).parameters() if bug == "wrong-params" else model.parameters()
    optimizer = torch.optim.SGD(params, lr=lr, momentum=0.9)
    criterion = nn.CrossEntropyLoss()
    mon = lossdoctor.Monitor(model, optimizer, num_classes=K, criterion=criterion, **monitor_args)
    if bug == "labels-out-of-range":
        labels = labels + 1  # 1..4 for a 5-output model that the Monitor was told has 4 classes
    model.train()
    if bug == "eval-mode":
        model.eval()
    step = 0
    while step < steps:
        order = torch.arange(len(images)) if bug == "unshuffled" else torch.randperm(len(images))
        for idx in order.split(batch):
            x, y = images[idx], labels[idx]
            if bug != "no-zero-grad":
                optimizer.zero_grad()
            loss = criterion(model(x), y)
            if bug == "negated-loss":
                loss = -loss
            loss.backward()
            optimizer.step()
            mon.step(loss, inputs=x, targets=y)
            step += 1
            if step >= steps:
                break
    return mon


def causes(mon):
    return [f["cause"] for f in mon.report()["findings"]]


class LoopBugs(unittest.TestCase):
    def test_a_healthy_loop_is_healthy(self):
        mon = train()
        report = mon.report()
        self.assertEqual(report["verdict"], "healthy", str(mon))
        self.assertEqual(report["steps_run"], 150)

    def assert_top(self, bug, cause, **kwargs):
        mon = train(bug=bug, **kwargs)
        found = causes(mon)
        self.assertEqual(mon.verdict, "unhealthy", str(mon))
        self.assertIn(cause, found[:1], f"{bug}: {found}\n{mon}")
        return mon

    def test_zero_grad_never_called(self):
        self.assert_top("no-zero-grad", "gradients_not_reset")

    def test_optimizer_on_other_parameters(self):
        mon = self.assert_top("wrong-params", "params_not_updated")
        finding = mon.report()["findings"][0]
        self.assertTrue(any("holds 0 of the model's" in e for e in finding["evidence"]), finding)

    def test_negated_loss(self):
        self.assert_top("negated-loss", "loss_sign_flipped")

    def test_model_left_in_eval_mode(self):
        self.assert_top("eval-mode", "model_in_eval_mode")

    def test_softmax_into_cross_entropy(self):
        self.assert_top("softmax", "loss_output_mismatch")

    def test_unshuffled_loader(self):
        self.assert_top("unshuffled", "unshuffled_data")

    def test_inputs_not_normalised(self):
        self.assert_top("raw-inputs", "unnormalized_input")

    def test_labels_out_of_range(self):
        mon = self.assert_top("labels-out-of-range", "loss_output_mismatch")
        finding = mon.report()["findings"][0]
        self.assertTrue(any("largest target 4" in e for e in finding["evidence"]), finding)


def train_settings(make_optimizer, dropout=None, hidden=None, steps=150):
    """A plain loop on the synthetic task: optimiser from `make_optimizer(params)`, an optional
    nn.Dropout(dropout) before the head and an optional hidden Linear of `hidden` units."""
    torch.manual_seed(0)
    images, labels = synthetic()
    layers = [nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Flatten()]
    if dropout is not None:
        layers.append(nn.Dropout(dropout))
    layers += [nn.Linear(8 * 64, hidden), nn.ReLU(), nn.Linear(hidden, K)] if hidden \
        else [nn.Linear(8 * 64, K)]
    model = nn.Sequential(*layers)
    optimizer = make_optimizer(model.parameters())
    criterion = nn.CrossEntropyLoss()
    mon = lossdoctor.Monitor(model, optimizer, num_classes=K, criterion=criterion)
    for step, idx in enumerate(torch.randperm(len(images)).repeat(4).split(32)):
        if step >= steps:
            break
        optimizer.zero_grad()
        loss = criterion(model(images[idx]), labels[idx])
        loss.backward()
        optimizer.step()
        mon.step(loss, inputs=images[idx], targets=labels[idx])
    return mon


def settings_evidence(mon, cause):
    """The evidence a finding of `cause` takes from the loop's settings (lint's "spec: " lines)."""
    for f in mon.report()["findings"]:
        if f["cause"] == cause:
            return [e for e in f["evidence"] if e.startswith("spec: ")]
    return []


class Settings(unittest.TestCase):
    """What the spec path lints, read from the optimiser's param_groups and the model's layers:
    the same evidence for optimizer_misconfigured, excessive_regularization and
    insufficient_capacity. The runs stall (small rates) so that static evidence is reported."""

    def test_heavy_weight_decay(self):
        mon = train_settings(lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9, weight_decay=0.5))
        evidence = settings_evidence(mon, "excessive_regularization")
        self.assertTrue(any("optimizer.weight_decay = 0.5" in e for e in evidence), str(mon))
        # Near miss: 0.005, below lint's 0.01.
        mon = train_settings(lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9, weight_decay=5e-3))
        self.assertEqual(settings_evidence(mon, "excessive_regularization"), [], str(mon))

    def test_heavy_dropout(self):
        mon = train_settings(lambda p: torch.optim.SGD(p, lr=1e-4), dropout=0.9)
        self.assertEqual(causes(mon)[0], "excessive_regularization", str(mon))
        evidence = settings_evidence(mon, "excessive_regularization")
        self.assertTrue(any("dropout rate 0.9 at nn.Dropout (model.3)" in e for e in evidence),
                        str(mon))
        mon = train_settings(lambda p: torch.optim.SGD(p, lr=1e-4), dropout=0.3)  # near miss
        self.assertEqual(settings_evidence(mon, "excessive_regularization"), [], str(mon))

    def test_adam_betas_and_eps(self):
        mon = train_settings(lambda p: torch.optim.Adam(p, lr=1e-5, betas=(0.9, 0.5), eps=0.5))
        evidence = " ".join(settings_evidence(mon, "optimizer_misconfigured"))
        self.assertIn("optimizer.betas = [0.9, 0.5]", evidence, str(mon))
        self.assertIn("optimizer.eps = 0.5", evidence, str(mon))
        mon = train_settings(lambda p: torch.optim.Adam(p, lr=1e-5))  # near miss: the defaults
        self.assertEqual(settings_evidence(mon, "optimizer_misconfigured"), [], str(mon))

    def test_dense_bottleneck(self):
        mon = train_settings(lambda p: torch.optim.SGD(p, lr=1e-4), hidden=2)
        evidence = settings_evidence(mon, "insufficient_capacity")
        self.assertTrue(any("2 units, fewer than the 4 classes" in e for e in evidence), str(mon))
        mon = train_settings(lambda p: torch.optim.SGD(p, lr=1e-4), hidden=8)  # near miss
        self.assertEqual(settings_evidence(mon, "insufficient_capacity"), [], str(mon))

    def test_layers_are_judged_in_forward_order(self):
        class HeadFirst(nn.Module):  # defines its head before the bottleneck that feeds it
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(1, 8, 3, padding=1)
                self.head = nn.Linear(2, K)
                self.hidden = nn.Linear(8 * 64, 2)

            def forward(self, x):
                return self.head(torch.relu(self.hidden(torch.relu(self.conv(x)).flatten(1))))

        torch.manual_seed(0)
        images, labels = synthetic()
        model = HeadFirst()
        optimizer = torch.optim.SGD(model.parameters(), lr=1e-4)
        criterion = nn.CrossEntropyLoss()
        mon = lossdoctor.Monitor(model, optimizer, num_classes=K)
        for idx in torch.randperm(len(images)).repeat(4).split(32)[:150]:
            optimizer.zero_grad()
            loss = criterion(model(images[idx]), labels[idx])
            loss.backward()
            optimizer.step()
            mon.step(loss, inputs=images[idx], targets=labels[idx])
        evidence = settings_evidence(mon, "insufficient_capacity")
        self.assertTrue(any("(model.hidden): 2 units" in e for e in evidence), str(mon))


class FunctionalNet(nn.Module):
    """Activations called in forward (F.relu or torch.tanh), none as modules; `dead` gives fc1 a
    bias of -50, so every fc1 unit is negative (dead after a ReLU)."""

    def __init__(self, act="relu", dead=False):
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 3, padding=1)
        self.fc1 = nn.Linear(8 * 16, 32)
        self.fc2 = nn.Linear(32, K)
        self.act = torch.relu if act == "relu" else torch.tanh
        if dead:
            with torch.no_grad():
                self.fc1.bias.fill_(-50.0)

    def forward(self, x):
        x = self.act(nn.functional.max_pool2d(self.conv(x), 2))
        return self.fc2(self.act(self.fc1(x.flatten(1))))


class FunctionalActivations(unittest.TestCase):
    """No hook sees F.relu: a pseudo-layer after each conv/dense stands for it when the next
    weight layer's input shows that a ReLU ran (≥ 0 with exact zeros)."""

    def run_net(self, **kwargs):
        torch.manual_seed(0)
        images, labels = synthetic()
        model = FunctionalNet(**kwargs)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        criterion = nn.CrossEntropyLoss()
        mon = lossdoctor.Monitor(model, optimizer, num_classes=K)
        for idx in torch.randperm(len(images)).repeat(4).split(32)[:150]:
            optimizer.zero_grad()
            loss = criterion(model(images[idx]), labels[idx])
            loss.backward()
            optimizer.step()
            mon.step(loss, inputs=images[idx], targets=labels[idx])
        report = mon.report()
        return report, {(s["id"], s.get("layer")) for s in report["symptoms"]}

    def test_dead_units_behind_a_functional_relu(self):
        report, symptoms = self.run_net(dead=True)
        self.assertIn(("dead_units", "fc1 → F.relu"), symptoms, report)
        report, symptoms = self.run_net()  # near miss: a healthy init
        self.assertEqual(report["verdict"], "healthy", report)
        self.assertNotIn("dead_units", {s for s, _ in symptoms}, report)

    def test_no_relu_no_dead_units(self):
        # Near miss: the same dead bias behind tanh (outputs never exactly 0): no ReLU ran.
        report, symptoms = self.run_net(act="tanh", dead=True)
        self.assertNotIn("dead_units", {s for s, _ in symptoms}, report)


class Api(unittest.TestCase):
    def test_per_layer_statistics_from_forward_hooks(self):
        mon = train(steps=30, probe_every=10)
        record = mon.record()
        self.assertEqual([l["kind"] for l in record["layers"]],
                         ["conv2d", "batchnorm", "relu", "flatten", "dense"])
        self.assertEqual([p["step"] for p in record["probes"]], [0, 10, 20])
        relu = record["probes"][1]["layers"][2]
        self.assertGreater(relu["activation"]["max"], 0)
        self.assertGreaterEqual(relu["dead_fraction"], 0)
        self.assertTrue(record["custom_loop"])
        self.assertEqual(record["num_classes"], K)
        steps = record["steps"]
        self.assertEqual(len(steps), 30)
        self.assertGreater(steps[5]["grad_norm"], 0)
        # Update sizes on the first steps, probe steps and the steps before them (cheap), not
        # on every step: measure_every_step=False.
        self.assertGreater(steps[4]["update_norm"], 0)
        self.assertGreater(steps[10]["update_norm"], 0)
        self.assertIsNone(steps[6]["update_norm"])
        self.assertAlmostEqual(steps[5]["lr"], 0.01)
        self.assertEqual(sum(steps[5]["label_histogram"]), 32)

    def test_report_text_and_dict_agree(self):
        mon = train(steps=40, bug="negated-loss")
        text = str(mon)
        report = mon.report()
        self.assertIn(report["verdict"], text)
        for f in report["findings"]:
            self.assertIn(f["cause"], text)
        self.assertEqual(set(report) >= {"verdict", "findings", "symptoms", "notes"}, True)

    def test_save_writes_the_run_record(self):
        mon = train(steps=40)
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "run.json")
            mon.save(path)
            with open(path) as f:
                saved = json.load(f)
            self.assertEqual(len(saved["steps"]), 40)
            self.assertEqual(os.listdir(d), ["run.json"])  # atomic: no temp file left

    def test_save_html_writes_a_self_contained_page(self):
        mon = train(steps=40, bug="negated-loss")
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "report.html")
            mon.save_html(path)
            with open(path) as f:
                page = f.read()
            self.assertTrue(page.startswith("<!doctype html>"))
            self.assertIn('class="verdict unhealthy"', page)
            self.assertIn('data-cause="loss_sign_flipped"', page)
            self.assertIn('id="chart-loss"', page)
            self.assertIn('id="heat-dead_fraction"', page)  # per-layer statistics from the hooks
            self.assertNotIn('src="http', page)

    def test_bad_arguments_are_clear_errors(self):
        model = net()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        with self.assertRaisesRegex(ValueError, "num_classes must be an integer ≥ 2"):
            lossdoctor.Monitor(model, opt, num_classes=1)
        with self.assertRaisesRegex(TypeError, "model must be a torch.nn.Module"):
            lossdoctor.Monitor("model", opt, num_classes=4)
        with self.assertRaisesRegex(TypeError, "optimizer must be a torch.optim.Optimizer"):
            lossdoctor.Monitor(model, None, num_classes=4)
        mon = lossdoctor.Monitor(model, opt, num_classes=4)
        with self.assertRaisesRegex(ValueError, "loss must be a scalar"):
            mon.step(torch.ones(3))

    def test_schedulers_and_close(self):
        model = net()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        mon = lossdoctor.Monitor(model, opt, num_classes=K)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=5, gamma=0.5)  # after the Monitor
        images, labels = synthetic(n=64)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no "optimizer.step() overridden" warning
            for i in range(10):
                opt.zero_grad()
                loss = nn.functional.cross_entropy(model(images[:32]), labels[:32])
                loss.backward()
                opt.step()
                mon.step(loss, targets=labels[:32])  # inputs: the model's last input
                sched.step()
        lrs = [s["lr"] for s in mon.record()["steps"]]
        self.assertEqual(lrs[:5], [0.1] * 5)
        self.assertEqual(lrs[5:], [0.05] * 5)
        mon.close()
        self.assertNotIn("step", opt.__dict__ if not hasattr(opt, "register_step_pre_hook")
                         else {})
        steps = mon.steps
        opt.step()  # no longer watched
        self.assertEqual(mon.steps, steps)

    def test_validation_forwards_do_not_replace_the_training_output(self):
        model = net()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        mon = lossdoctor.Monitor(model, opt, num_classes=K)
        images, labels = synthetic(n=64)
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(images[:32]), labels[:32])
        loss.backward()
        opt.step()
        with torch.no_grad():
            model(images[32:48])  # a validation batch of another size, under no_grad
        mon.step(loss, inputs=images[:32], targets=labels[:32])
        self.assertEqual(sum(mon.record()["steps"][0]["label_histogram"]), 32)

    @unittest.skipUnless(os.environ.get("LOSSDOCTOR_CLI"), "needs the lossdoctor CLI")
    def test_the_cli_rediagnoses_a_saved_record(self):
        mon = train(bug="negated-loss")
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "run.json")
            mon.save(path)
            out = os.path.join(d, "report.json")
            run = subprocess.run([os.environ["LOSSDOCTOR_CLI"], "diagnose", "--record-in", path,
                                  "--json", out, "--quiet"], capture_output=True, text=True)
            self.assertEqual(run.returncode, 1, run.stderr)
            with open(out) as f:
                again = json.load(f)
            self.assertEqual([f["cause"] for f in again["findings"]], causes(mon))
            self.assertEqual(again["verdict"], mon.verdict)


if __name__ == "__main__":
    unittest.main()
