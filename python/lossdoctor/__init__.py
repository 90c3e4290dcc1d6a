"""lossdoctor for PyTorch training loops: why does my loss rise, stall or explode?

    import torch, lossdoctor
    mon = lossdoctor.Monitor(model, optimizer, num_classes=10)
    for x, y in loader:
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        mon.step(loss, inputs=x, targets=y)
        if mon.settled:
            break
    print(mon)              # the diagnosis, as `lossdoctor diagnose` prints it
    report = mon.report()   # the same as a dict (the shape of `diagnose --json`)
    mon.save("run.json")    # the RunRecord; `lossdoctor diagnose --record-in run.json` re-reads it

The engine is lossdoctor's C++ library (the same RunRecord, detectors, diagnoser and report as
the command line); this package only watches the loop. Forward hooks on the model's layers give
per-layer activation statistics (dead and saturated units) on probe steps; hooks on the
optimiser's step (a wrapper of `optimizer.step` on torch < 2.0, which has no step hooks) read
the gradients before the step and the weights after it. The Monitor only reads tensors.

At the first step it reads the optimiser's first param group (momentum, betas, eps, weight
decay) and the model's dropout rates and layer widths, and judges them with the spec path's lint
rules (docs/python.md). It also catches what a Python loop gets wrong and a spec cannot express: zero_grad never called, the optimiser built on other parameters, a negated loss,
model.eval() left on while training, softmax fed to CrossEntropyLoss, targets out of range.
"""

import functools
import json
import types

import torch  # first: the extension links the libtorch that torch has loaded
from torch import nn

from . import _lossdoctor

__all__ = ["Monitor"]

# Module types → layer kinds in the spec's spelling (what the detectors know).
_KINDS = [
    (nn.Conv2d, "conv2d"),
    (nn.Linear, "dense"),
    (nn.modules.batchnorm._BatchNorm, "batchnorm"),
    (nn.ReLU, "relu"),
    (nn.ReLU6, "relu"),
    (nn.LeakyReLU, "leaky_relu"),
    (nn.ELU, "elu"),
    (nn.SELU, "selu"),
    (nn.GELU, "gelu"),
    (nn.Sigmoid, "sigmoid"),
    (nn.Tanh, "tanh"),
    (nn.Softmax, "softmax"),
    (nn.LogSoftmax, "log_softmax"),
    (nn.modules.dropout._DropoutNd, "dropout"),
    (nn.MaxPool2d, "maxpool"),
    (nn.AvgPool2d, "avgpool"),
    (nn.AdaptiveAvgPool2d, "global_avgpool"),
    (nn.Flatten, "flatten"),
]

_OPTIMIZERS = {
    torch.optim.SGD: "sgd",
    torch.optim.Adam: "adam",
    torch.optim.AdamW: "adamw",
    torch.optim.RMSprop: "rmsprop",
    torch.optim.Adagrad: "adagrad",
    torch.optim.Adadelta: "adadelta",
}

_LOSSES = {
    nn.CrossEntropyLoss: ("cross_entropy", True),
    nn.NLLLoss: ("nll", True),  # log-probabilities: log_softmax leaves them as they are
    nn.MSELoss: ("mse", True),
    nn.BCEWithLogitsLoss: ("bce", True),
    nn.BCELoss: ("bce", False),
}


_ACTIVATION_KINDS = {"relu", "leaky_relu", "elu", "selu", "gelu", "sigmoid", "tanh"}


def _kind_of(module):
    for cls, kind in _KINDS:
        if isinstance(module, cls):
            return kind
    return None


def _scalar(value, what):
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(f"{what} must be a scalar, got a tensor of shape {tuple(value.shape)}")
        return float(value.detach())
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{what} must be a number or a scalar tensor, got {type(value).__name__}")


class Monitor:
    """Watches a PyTorch training loop and diagnoses it.

    Args:
        model: the torch.nn.Module being trained.
        optimizer: its torch.optim.Optimizer.
        num_classes: K, the number of classes (chance is 1/K and ln K).
        probe_every: per-layer statistics every this many steps (default 10).
        criterion: the loss module (CrossEntropyLoss, NLLLoss, MSELoss, BCE...), or None for
            cross-entropy on logits; `loss=` and `from_logits=` say the same by name.
        train_size: size of the training set when `mon.step(..., indices=idx)` is given, for
            per-sample dynamics (mislabelled samples); 0 to skip.
        name: shown in the report.
        measure_every_step: update sizes and consecutive-gradient changes on every step, not only
            around probe steps (slower; the loop bugs they would reveal are watched directly).
    """

    def __init__(self, model, optimizer, num_classes, probe_every=10, criterion=None,
                 loss=None, from_logits=None, train_size=0, name="python loop",
                 measure_every_step=False):
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(
                f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"num_classes must be an integer ≥ 2, got {num_classes!r}")
        if isinstance(probe_every, bool) or not isinstance(probe_every, int) or probe_every < 1:
            raise ValueError(f"probe_every must be an integer ≥ 1, got {probe_every!r}")
        loss_name, logits = "cross_entropy", True
        if criterion is not None:
            for cls, (n, l) in _LOSSES.items():
                if isinstance(criterion, cls):
                    loss_name, logits = n, l
                    break
            else:
                loss_name = "other"
        if loss is not None:
            loss_name = loss
        if from_logits is not None:
            logits = bool(from_logits)

        self._model = model
        self._optimizer = optimizer
        layers, self._layer_modules, self._layer_names = [], [], []
        found = [(n, m, _kind_of(m)) for n, m in model.named_modules()]
        found = [(n or "model", m, k) for n, m, k in found if k is not None]
        # No activation module at all, but weight layers: the forward calls F.relu (or another
        # functional activation) that no hook sees. A "relu" pseudo-layer after each conv,
        # dense and batch norm stands for it; probe steps feed it relu(that layer's output) when
        # the next weight layer's input shows a ReLU ran in between (_check_functional_relu).
        functional = not any(k in _ACTIVATION_KINDS for _, _, k in found) and \
            any(k in ("conv2d", "dense") for _, _, k in found)
        self._engine_index = []   # module index → the engine's layer index
        self._pseudo_relu = {}    # module index → the engine's index of its F.relu pseudo-layer
        for layer_name, module, kind in found:
            weight = getattr(module, "weight", None) if kind in ("conv2d", "dense") else None
            if weight is not None and not isinstance(weight, torch.Tensor):
                weight = None
            self._engine_index.append(len(layers))
            layers.append((layer_name, kind, weight))
            if functional and kind in ("conv2d", "dense", "batchnorm"):
                self._pseudo_relu[len(self._layer_modules)] = len(layers)
                layers.append((layer_name + " → F.relu", "relu", None))
            self._layer_modules.append(module)
            self._layer_names.append(layer_name)
        self._relu_source = None  # (module index, output) of the last conv/dense/bn this forward
        params = [p for p in model.parameters() if p.requires_grad]
        self._num_classes = num_classes
        self._settings_read = False
        self._forward_order = []  # layer indices in the order the first probe's forward ran them
        optimizer_name = "other"
        for cls, n in _OPTIMIZERS.items():
            if type(optimizer) is cls:
                optimizer_name = n
        self._optimizer_name = optimizer_name
        self._engine = _lossdoctor._Engine(
            layers, params, num_classes, probe_every, optimizer_name, self._lr(), loss_name,
            logits, int(train_size), str(name), bool(measure_every_step))

        # What a loop can get wrong before its first step: the optimiser on other parameters.
        model_ids = {id(p) for p in params}
        held = {id(p) for group in optimizer.param_groups for p in group["params"]}
        self._engine.set_parameter_check(len(model_ids - held), len(held - model_ids))
        self._mode_matters = any(
            isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.modules.dropout._DropoutNd))
            for m in model.modules())

        self._last_input = None
        self._last_output = None
        # Gradient resets: a zero_grad() call on the optimiser or the model, or gradients that
        # are None or zero when the forward pass ends (reset by hand).
        self._probe_param = params[0] if params else None
        self._reset_seen = False
        self._wrapped = []  # (object, attribute name, what its __dict__ held before)
        for owner in (optimizer, model):
            self._wrap(owner, "zero_grad", before=self._note_reset)
        self._handles = [model.register_forward_hook(self._on_model_output)]
        # Per-layer hooks only while a probe step runs: a module without hooks keeps torch's
        # fast call path on the other steps.
        self._layer_handles = []
        self._sync_layer_hooks()
        if hasattr(optimizer, "register_step_pre_hook"):  # torch ≥ 2.0
            self._handles.append(optimizer.register_step_pre_hook(
                lambda opt, args, kwargs: self._engine.before_update()))
            self._handles.append(optimizer.register_step_post_hook(
                lambda opt, args, kwargs: self._after_update()))
        else:
            self._wrap(optimizer, "step", before=self._engine.before_update,
                       after=self._after_update)

    # -- hooks --------------------------------------------------------------------------------

    def _wrap(self, owner, name, before=None, after=None):
        """Replaces owner.name by a bound method that calls `before`, the original, `after`.
        Bound, as torch's lr_scheduler expects of optimizer.step (it rebinds `step.__func__`
        to count steps); it keeps the `_with_counter` mark of a scheduler's earlier wrapper."""
        original = getattr(owner, name)

        def wrapper(_, *args, **kwargs):
            if before is not None:
                before()
            result = original(*args, **kwargs)
            if after is not None:
                after()
            return result

        if getattr(original, "_with_counter", False):
            wrapper._with_counter = True
        self._wrapped.append((owner, name, owner.__dict__.get(name)))
        object.__setattr__(owner, name, types.MethodType(wrapper, owner))

    def _after_update(self):
        self._engine.after_update(self._lr())
        self._sync_layer_hooks()

    def _sync_layer_hooks(self):
        """Layer hooks on while the current step is a probe step, off otherwise."""
        want = self._engine.probe_step() and not getattr(self, "_closed", False)
        if want and not self._layer_handles:
            self._layer_handles = [
                module.register_forward_hook(functools.partial(self._on_layer_output, index))
                for index, module in enumerate(self._layer_modules)]
        elif not want and self._layer_handles:
            for handle in self._layer_handles:
                handle.remove()
            self._layer_handles = []

    def _note_reset(self):
        self._reset_seen = True

    def _lr(self):
        groups = self._optimizer.param_groups
        return float(groups[0]["lr"]) if groups and "lr" in groups[0] else float("nan")

    def _on_model_output(self, module, args, output):
        self._relu_source = None  # the forward is over: the next one starts afresh
        if not torch.is_grad_enabled():
            return  # evaluation under no_grad: not a training step
        self._last_input = args[0] if args and isinstance(args[0], torch.Tensor) else None
        self._last_output = output if isinstance(output, torch.Tensor) else None
        p = self._probe_param
        if p is not None and (p.grad is None or not bool(p.grad.any())):
            self._reset_seen = True  # zero_grad(), or gradients set to None by hand

    def _on_layer_output(self, index, module, args, output):
        if not self._settings_read and index not in self._forward_order:
            self._forward_order.append(index)
        if isinstance(output, torch.Tensor) and torch.is_grad_enabled() \
                and self._engine.probe_step():
            output = output.detach()
            if self._pseudo_relu or self._relu_source is not None:
                self._check_functional_relu(index, args)
                if index in self._pseudo_relu:
                    self._relu_source = (index, output)
            self._engine.on_activation(self._engine_index[index], output)

    def _check_functional_relu(self, index, args):
        """Probe steps of a model without activation modules: when a weight layer's input is
        ≥ 0 with exact zeros while the last conv/dense/batch norm output before it had negative
        values, a ReLU ran in between (F.relu, possibly around pooling or a view): its pseudo-layer
        gets relu(that output), whose dead channels are those after the pooling too."""
        if self._relu_source is None or not isinstance(self._layer_modules[index],
                                                       (nn.Conv2d, nn.Linear)):
            return
        source, out = self._relu_source
        x = args[0] if args and isinstance(args[0], torch.Tensor) else None
        self._relu_source = None
        if x is None or x.numel() == 0 or out.numel() == 0:
            return
        x = x.detach()
        if bool(x.min() >= 0) and bool((x == 0).any()) and bool(out.min() < 0):
            self._engine.on_activation(self._pseudo_relu[source], out.clamp_min(0))

    # -- the loop's calls ---------------------------------------------------------------------

    def step(self, loss, inputs=None, targets=None, indices=None):
        """Once per training iteration, before or after optimizer.step().

        Args:
            loss: the loss the loop minimised (a scalar tensor or a float).
            inputs: the batch as fed to the model (default: the model's last input).
            targets: int64 class labels [B] (needed for accuracy, label runs, noisy labels).
            indices: positions of the batch's samples in the training set (optional).
        """
        value = _scalar(loss, "loss")
        output = self._last_output
        if inputs is None:
            inputs = self._last_input
        if output is not None and targets is not None and isinstance(targets, torch.Tensor) \
                and output.dim() >= 1 and targets.dim() >= 1 \
                and output.shape[0] != targets.shape[0]:
            output = None  # the last forward was not this batch's
        if targets is not None and not isinstance(targets, torch.Tensor):
            raise TypeError(f"targets must be a tensor, got {type(targets).__name__}")
        if inputs is not None and not isinstance(inputs, torch.Tensor):
            raise TypeError(f"inputs must be a tensor, got {type(inputs).__name__}")
        if not self._settings_read:
            self._read_settings()
        if self._mode_matters and not self._model.training:
            self._engine.note_eval_mode_step()
        if not self._reset_seen:
            self._engine.note_grads_not_reset()
        self._reset_seen = False
        with torch.no_grad():
            self._engine.record_batch(
                None if inputs is None else inputs.detach(),
                None if output is None else output.detach(),
                None if targets is None else targets.detach(), value,
                None if indices is None else torch.as_tensor(indices))
        self._last_input = self._last_output = None
        self._sync_layer_hooks()

    def _read_settings(self):
        """At the first step: the optimiser's settings (first param group) and the model's
        dropout rates and layer widths, in the order the first forward ran them, linted as the
        spec path lints a spec's (weight decay, momentum, betas, eps, dropout, bottlenecks)."""
        self._settings_read = True
        settings = {}
        groups = self._optimizer.param_groups
        group = groups[0] if groups else {}
        for key in ("lr", "momentum", "eps", "weight_decay", "alpha", "rho", "nesterov"):
            value = group.get(key)
            if isinstance(value, (int, float)):  # bool too (nesterov)
                settings[key] = float(value)
        betas = group.get("betas")
        if isinstance(betas, (tuple, list)) and len(betas) == 2:
            settings["beta1"], settings["beta2"] = float(betas[0]), float(betas[1])
        order = self._forward_order + [i for i in range(len(self._layer_modules))
                                       if i not in self._forward_order]
        layers = []
        for i in order:
            module = self._layer_modules[i]
            name = self._layer_names[i]
            if isinstance(module, nn.Conv2d):
                layers.append((name, "conv2d", int(module.out_channels), 0.0))
            elif isinstance(module, nn.Linear):
                layers.append((name, "dense", int(module.out_features), 0.0))
            elif isinstance(module, nn.modules.dropout._DropoutNd):
                layers.append((name, "dropout", 0, float(module.p)))
        self._forward_order = []
        self._engine.set_settings(self._optimizer_name, settings, layers, self._num_classes)

    def validation_batch(self, inputs):
        """Optional: a validation batch as the model sees it. Its per-channel statistics are
        compared with the training batches' (train and validation prepared differently)."""
        with torch.no_grad():
            self._engine.observe_validation(inputs.detach())

    def end_epoch(self, train_loss=float("nan"), train_accuracy=float("nan"),
                  val_loss=float("nan"), val_accuracy=float("nan")):
        """Optional, once per epoch: the epoch's figures (accuracies as fractions 0–1)."""
        self._engine.end_epoch(_scalar(train_loss, "train_loss"),
                               _scalar(train_accuracy, "train_accuracy"),
                               _scalar(val_loss, "val_loss"), _scalar(val_accuracy, "val_accuracy"))

    # -- results ------------------------------------------------------------------------------

    @property
    def steps(self):
        """Training steps seen so far."""
        return self._engine.steps

    @property
    def settled(self):
        """True once the diagnosis has stopped changing (as `lossdoctor diagnose` stops early):
        the loop may stop here."""
        return self._engine.settled

    def report(self):
        """The diagnosis so far, as a dict (the shape of `lossdoctor diagnose --json`)."""
        return json.loads(self._engine.report_json())

    @property
    def verdict(self):
        """"healthy" or "unhealthy"."""
        return self.report()["verdict"]

    def text(self, color=False):
        """The diagnosis as `lossdoctor diagnose` prints it."""
        return self._engine.report_text(color)

    def __str__(self):
        return self.text()

    def __repr__(self):
        return f"<lossdoctor.Monitor: {self.steps} steps>"

    def record(self):
        """The RunRecord (everything measured) as a dict."""
        return json.loads(self._engine.record_json())

    def save(self, path):
        """Writes the RunRecord as JSON (atomically); `lossdoctor diagnose --record-in PATH`
        diagnoses it again from the command line."""
        self._engine.save(str(path))

    def save_html(self, path):
        """Writes the diagnosis as one self-contained HTML page (atomically): findings, the loss
        curve with its markers, per-layer heatmaps; the same page as `lossdoctor diagnose
        --html`."""
        import sys
        self._engine.save_html(str(path), " ".join(sys.argv))

    def close(self):
        """Removes the hooks and restores optimizer.step. The results stay readable."""
        self._closed = True
        for handle in self._handles + self._layer_handles:
            handle.remove()
        self._handles, self._layer_handles = [], []
        for owner, name, held in reversed(self._wrapped):
            if held is None:
                object.__delattr__(owner, name)  # back to the class's method
            else:
                object.__setattr__(owner, name, held)
        self._wrapped = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
