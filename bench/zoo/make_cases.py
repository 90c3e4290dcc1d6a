#!/usr/bin/env python3
"""Writes the fault zoo: bench/zoo/cases/<id>.yaml, one spec per case, from the table below.

Every case is the healthy base spec plus one deliberate fault. The header of each file carries
its ground truth (read by `lossdoctor-bench zoo`):
    # truth: <cause id>            the injected cause ("healthy" for controls)
    # accept: <id>, <id>           alternatives an expert would also accept
    # effect: ...                  measured: the fault really changes training
    # fixable: no (reason)         no spec change can remove the fault (left out of the repair
                                   success rate of `lossdoctor-bench zoo --repair`)
    # nproc: N                     a data-parallel case: diagnosed with --nproc N (issue 15)
    # twin: ID                     the healthy case its effect is measured against (ok-example
                                   unless named; the data-parallel cases name ddp-ok)
Run it again after editing the table. The effect lines come from bench/zoo/effects.json, written
by `build/bench/lossdoctor-bench zoo --effects bench/zoo/effects.json` (each case trained for 300
steps on seed 0 beside the healthy base case `ok-example`; a data-parallel case, with --nproc 2,
beside `ddp-ok`, its "# twin:"); regenerate both after a change.
"""
import copy
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
SCALE = 0.00392156862745098
NORM = {"normalize": {"mean": [0.286], "std": [0.353]}}

BASE = {
    "seed": 0,
    "data": {
        "format": "idx",
        "path": "/usr/share/datasets/fashion-mnist",
        "train": {"limit": 6000},
        "val": {"limit": 1000},
        "shuffle": True,
        "transforms": {"train": [{"scale": SCALE}, NORM]},
    },
    "model": {
        "init": {"weight": "he_normal", "bias": "zeros"},
        "layers": [
            {"conv2d": {"filters": 16, "kernel": 3, "padding": "same"}},
            {"batchnorm": {}},
            {"relu": {}},
            {"maxpool": {"size": 2}},
            {"conv2d": {"filters": 32, "kernel": 3, "padding": "same"}},
            {"batchnorm": {}},
            {"relu": {}},
            {"maxpool": {"size": 2}},
            {"flatten": {}},
            {"dense": {"units": 64}},
            {"relu": {}},
            {"dense": {"units": 10}},
        ],
    },
    "loss": {"type": "cross_entropy", "from_logits": True},
    "optimizer": {"type": "adam", "lr": 0.001},
    "batch_size": 64,
    "epochs": 20,
    "diagnose": {"budget_steps": 300, "probe_every": 10},
}


def conv_stack(n, act="relu", bn=False, filters=16):
    layers = []
    for _ in range(n):
        layers.append({"conv2d": {"filters": filters, "kernel": 3, "padding": "same"}})
        if bn:
            layers.append({"batchnorm": {}})
        layers.append({act: {}})
    return layers


def head(units=10):
    return [{"global_avgpool": {}}, {"dense": {"units": units}}]


def plain_layers():
    """The base network without batch norm."""
    return [l for l in BASE["model"]["layers"] if "batchnorm" not in l]


CASES = []


def with_changes(base, changes):
    """A deep copy of `base` with `changes` applied (keys joined by '__'; None removes a key)."""
    spec = copy.deepcopy(base)
    for path, value in changes.items():
        keys = path.split("__")
        node = spec
        for k in keys[:-1]:
            node = node.setdefault(k, {})
        if value is None:
            node.pop(keys[-1], None)
        else:
            node[keys[-1]] = value
    return spec


def case_adder(bases, cases):
    """The `case()` of a held-out zoo's table: a case is the base spec of data set `base` with
    `changes` (keys joined by '__'; None removes), appended to `cases`."""
    def case(cid, truth, base, accept=(), note="", unfixable=None, **changes):
        spec = with_changes(bases[base]["spec"], changes)
        cases.append((cid, truth, base, list(accept), note, spec, unfixable))
    return case


def case(cid, truth, accept=(), note="", unfixable=None, **changes):
    CASES.append((cid, truth, list(accept), note, with_changes(BASE, changes), unfixable))


# --- learning rate
case("lr-adam-1", "lr_too_high", note="Adam at lr 1.0", optimizer={"type": "adam", "lr": 1.0})
case("lr-sgd-10", "lr_too_high", note="SGD at lr 10: NaN within steps", optimizer={"type": "sgd", "lr": 10.0})
case("lr-adam-0.03", "lr_too_high", note="Adam at lr 0.03: oscillation",
     optimizer={"type": "adam", "lr": 0.03}, model__layers=plain_layers())
case("lr-adam-1e-7", "lr_too_low", note="Adam at lr 1e-7", optimizer={"type": "adam", "lr": 1e-7})
case("lr-sgd-1e-5", "lr_too_low", note="SGD at lr 1e-5", optimizer={"type": "sgd", "lr": 1e-5})
# --- batch
case("batch-1-sgd-momentum", "batch_too_small", ["lr_too_high"], "batch size 1, SGD momentum 0.9",
     batch_size=1, optimizer={"type": "sgd", "lr": 0.01, "momentum": 0.9})
case("batch-2-batchnorm", "batch_too_small", note="batch size 2 with batch norm", batch_size=2,
     optimizer={"type": "sgd", "lr": 0.05, "momentum": 0.9})
# --- schedule
case("sched-gamma-10", "bad_lr_schedule", ["lr_too_high"], "step schedule with gamma 10 every 40 steps",
     schedule={"type": "step", "step_size": 40, "gamma": 10.0, "per": "step"})
case("sched-halve-every-step", "bad_lr_schedule", ["lr_too_low"], "step size 1 per step, gamma 0.5",
     schedule={"type": "step", "step_size": 1, "gamma": 0.5, "per": "step"})
case("sched-exp-to-zero", "bad_lr_schedule", ["lr_too_low"], "exponential decay 0.9 per step",
     schedule={"type": "exponential", "gamma": 0.9, "per": "step"})
# --- optimiser
case("opt-adadelta-1e-3", "optimizer_misconfigured", ["lr_too_low"], "Adadelta at lr 1e-3 (its scale is 1.0)",
     optimizer={"type": "adadelta", "lr": 0.001})
case("opt-sgd-momentum-0.999", "optimizer_misconfigured", ["lr_too_high"], "SGD momentum 0.999",
     optimizer={"type": "sgd", "lr": 0.05, "momentum": 0.999})
case("opt-adam-eps-1", "optimizer_misconfigured", ["lr_too_low"], "Adam eps 1.0",
     optimizer={"type": "adam", "lr": 0.001, "eps": 1.0})
# --- loss / output
case("loss-softmax-into-logits", "loss_output_mismatch", note="softmax before a from-logits cross-entropy",
     model__layers=BASE["model"]["layers"] + [{"softmax": {}}])
case("loss-nll-on-logits", "loss_output_mismatch", note="NLL on raw logits", loss={"type": "nll"})
case("loss-mse-on-softmax", "loss_output_mismatch", ["lr_too_low"], "MSE on softmax scores",
     loss={"type": "mse"}, model__layers=BASE["model"]["layers"] + [{"softmax": {}}])
case("loss-relu-on-logits", "loss_output_mismatch", note="ReLU on the logits",
     model__layers=BASE["model"]["layers"] + [{"relu": {}}])
# --- init
case("init-zeros", "bad_init_scale", note="all weights zero", model__init={"weight": "zeros", "bias": "zeros"},
     model__layers=plain_layers())
case("init-normal-5", "bad_init_scale", ["lr_too_high"], "weights ~ N(0, 5²)",
     model__init={"weight": "normal", "std": 5.0, "bias": "zeros"}, model__layers=plain_layers())
case("init-normal-1e-4-deep", "bad_init_scale", ["missing_normalization"], "weights ~ N(0, 1e-8) in 8 conv layers",
     model__init={"weight": "normal", "std": 1e-4, "bias": "zeros"},
     model__layers=conv_stack(8) + head())
case("init-bias-minus-5", "bad_init_scale", ["missing_normalization"], "biases −5 under ReLU",
     model__init={"weight": "he_normal", "bias": "constant", "value": -5.0}, model__layers=plain_layers())
# --- network
case("net-relu-20-no-bn", "missing_normalization", ["bad_init_scale"], "20 ReLU conv layers, no batch norm, default init",
     model__init={"weight": "default", "bias": "default"}, model__layers=conv_stack(20) + head(),
     optimizer={"type": "sgd", "lr": 0.01, "momentum": 0.9})
case("net-sigmoid-20", "saturating_activation", ["missing_normalization"], "20 sigmoid conv layers",
     model__init={"weight": "default", "bias": "default"}, model__layers=conv_stack(20, "sigmoid") + head())
case("net-bottleneck-2", "insufficient_capacity", note="a 2-unit dense bottleneck",
     model__layers=BASE["model"]["layers"][:9] + [{"dense": {"units": 2}}, {"relu": {}}, {"dense": {"units": 10}}])
case("net-pool-to-1x1", "insufficient_capacity", note="pooling down to 1×1 before a 4-channel classifier",
     model__layers=[{"conv2d": {"filters": 4, "kernel": 3, "padding": "same"}}, {"relu": {}},
                    {"maxpool": {"size": 28}}, {"flatten": {}}, {"dense": {"units": 10}}])
# --- data
case("data-label-noise-40", "label_noise", note="40% uniform label noise", data__inject={"label_noise": {"fraction": 0.4}})
case("data-label-noise-20", "label_noise", note="20% uniform label noise", data__inject={"label_noise": {"fraction": 0.2}})
case("data-corrupt-noise-30", "corrupt_samples", ["label_noise"], "30% of images replaced by noise",
     data__inject={"corrupt": {"fraction": 0.3, "kind": "noise"}})
case("data-corrupt-nan-5", "corrupt_samples", note="5% NaN images", data__inject={"corrupt": {"fraction": 0.05, "kind": "nan"}})
case("data-sorted-unshuffled", "unshuffled_data", note="class-sorted training data, shuffle off",
     data__shuffle=False, data__inject={"sort_by_label": True})
case("data-val-normalised-differently", "preprocessing_mismatch", note="validation scaled but not normalised",
     data__transforms={"train": [{"scale": SCALE}, NORM], "val": [{"scale": SCALE}]})
case("data-raw-pixels-sgd", "unnormalized_input", ["lr_too_high"], "raw 0–255 inputs with SGD",
     data__transforms={"train": []}, optimizer={"type": "sgd", "lr": 0.01, "momentum": 0.9},
     model__layers=plain_layers())
case("data-scaled-twice", "unnormalized_input", ["lr_too_low"], "inputs divided by 255 twice",
     data__transforms={"train": [{"scale": SCALE}, {"scale": SCALE}]}, model__layers=plain_layers(),
     optimizer={"type": "sgd", "lr": 0.01, "momentum": 0.9})
case("data-imbalance-95", "class_imbalance", note="95% of five classes removed",
     unfixable="the spec has no key for class weights or oversampling; the only spec change that "
               "removes the imbalance would delete the injection itself",
     data__inject={"drop_classes": {"classes": [0, 1, 2, 3, 4], "fraction": 0.95}})
# --- regularisation
case("reg-weight-decay-1", "excessive_regularization", note="weight decay 1.0 (SGD)",
     optimizer={"type": "sgd", "lr": 0.05, "momentum": 0.9, "weight_decay": 1.0})
case("reg-dropout-0.9", "excessive_regularization", note="dropout 0.9 after every block",
     model__layers=[{"conv2d": {"filters": 16, "kernel": 3, "padding": "same"}}, {"relu": {}}, {"dropout": {"rate": 0.9}},
                    {"maxpool": {"size": 2}}, {"conv2d": {"filters": 32, "kernel": 3, "padding": "same"}}, {"relu": {}},
                    {"dropout": {"rate": 0.9}}, {"maxpool": {"size": 2}}, {"flatten": {}}, {"dense": {"units": 64}},
                    {"relu": {}}, {"dropout": {"rate": 0.9}}, {"dense": {"units": 10}}])
case("reg-clip-1e-4", "grad_clip_too_tight", ["lr_too_low"], "gradient norm clipped to 1e-4",
     clip_grad_norm=1e-4, optimizer={"type": "sgd", "lr": 0.05, "momentum": 0.9})
# --- second severities of the hard ones
case("lr-sgd-2-plain", "lr_too_high", note="SGD at lr 2 without batch norm", optimizer={"type": "sgd", "lr": 2.0},
     model__layers=plain_layers())
case("lr-sgd-3e-4", "lr_too_low", note="SGD at lr 3e-4, no momentum", optimizer={"type": "sgd", "lr": 3e-4})

# --- hard variants (issue 11): effects 2-3x smaller than the cases above; tuning set like the rest
case("hard-label-noise-12", "label_noise", note="12% uniform label noise",
     data__inject={"label_noise": {"fraction": 0.12}})
case("hard-adam-lr-3e-5", "lr_too_low", note="Adam at lr 3e-5 (30x below its usual rate)",
     optimizer={"type": "adam", "lr": 3e-5})
case("hard-sgd-weight-decay-0.05", "excessive_regularization", note="weight decay 0.05 (SGD)",
     optimizer={"type": "sgd", "lr": 0.05, "momentum": 0.9, "weight_decay": 0.05})
case("hard-clip-0.02", "grad_clip_too_tight", ["lr_too_low"], "gradient norm clipped to 0.02",
     clip_grad_norm=0.02, optimizer={"type": "sgd", "lr": 0.05, "momentum": 0.9})
case("hard-adam-eps-0.1", "optimizer_misconfigured", ["lr_too_low"], "Adam eps 0.1",
     optimizer={"type": "adam", "lr": 0.001, "eps": 0.1})
case("hard-narrow-2-filters", "insufficient_capacity", note="2 and 4 filters, an 8-unit dense layer",
     model__layers=[{"conv2d": {"filters": 2, "kernel": 3, "padding": "same"}}, {"batchnorm": {}}, {"relu": {}},
                    {"maxpool": {"size": 2}}, {"conv2d": {"filters": 4, "kernel": 3, "padding": "same"}},
                    {"batchnorm": {}}, {"relu": {}}, {"maxpool": {"size": 2}}, {"flatten": {}},
                    {"dense": {"units": 8}}, {"relu": {}}, {"dense": {"units": 10}}])
case("batch-4-batchnorm", "batch_too_small", ["lr_too_high"], "batch size 4 with batch norm, SGD momentum (a lower rate also tames the step noise, as for batch-1)",
     batch_size=4, optimizer={"type": "sgd", "lr": 0.05, "momentum": 0.9})
case("hard-init-normal-0.3", "bad_init_scale", ["lr_too_high"], "weights ~ N(0, 0.3²), about 2.5x He, no batch norm",
     model__init={"weight": "normal", "std": 0.3, "bias": "zeros"}, model__layers=plain_layers())
case("hard-corrupt-noise-10", "corrupt_samples", ["label_noise"], "10% of images replaced by noise",
     data__inject={"corrupt": {"fraction": 0.1, "kind": "noise"}})
case("hard-exp-0.99-per-step", "bad_lr_schedule", ["lr_too_low"], "exponential decay 0.99 per step",
     schedule={"type": "exponential", "gamma": 0.99, "per": "step"})
case("hard-inputs-0-to-1-sgd", "unnormalized_input", ["lr_too_low"], "inputs scaled to 0-1 but not centred, plain SGD",
     data__transforms={"train": [{"scale": SCALE}]}, model__layers=plain_layers(), optimizer={"type": "sgd", "lr": 0.01})
case("hard-imbalance-80", "class_imbalance", note="80% of three classes removed",
     unfixable="the spec has no key for class weights or oversampling",
     data__inject={"drop_classes": {"classes": [0, 2, 4], "fraction": 0.8}})

# --- healthy controls
case("ok-example", "healthy", note="the base model")
case("ok-sgd-cosine", "healthy", note="SGD + momentum, batch 32, cosine decay", batch_size=32,
     optimizer={"type": "sgd", "lr": 0.05, "momentum": 0.9}, schedule={"type": "cosine"})
case("ok-staircase", "healthy", note="staircase step schedule (×0.3 every 100 steps over a 5-epoch plan)",
     schedule={"type": "step", "step_size": 100, "gamma": 0.3, "per": "step"}, epochs=5)
case("ok-heavy-augmentation", "healthy", note="random crop + flip + dropout 0.5",
     data__transforms={"train": [{"random_crop": {"size": 28, "padding": 4}}, {"random_flip": "horizontal"},
                                 {"scale": SCALE}, NORM]},
     model__layers=BASE["model"]["layers"][:10] + [{"relu": {}}, {"dropout": {"rate": 0.5}}, {"dense": {"units": 10}}])
case("ok-label-smoothing", "healthy", note="label smoothing 0.1",
     loss={"type": "cross_entropy", "from_logits": True, "label_smoothing": 0.1})
case("ok-residual-20", "healthy", note="20-layer residual net with batch norm and he init",
     model__layers=[{"conv2d": {"filters": 16, "kernel": 3, "padding": "same"}}, {"batchnorm": {}}, {"relu": {}},
                    {"repeat": {"times": 9, "layers": [{"residual": {"layers": [
                        {"conv2d": {"filters": 16, "kernel": 3, "padding": "same"}}, {"batchnorm": {}}, {"relu": {}},
                        {"conv2d": {"filters": 16, "kernel": 3, "padding": "same"}}, {"batchnorm": {}}]}},
                        {"relu": {}}]}}] + head())
case("ok-long-overfit", "healthy", note="small data, long run: overfits (a note, not a fault)",
     data__train={"limit": 1000}, diagnose={"budget_steps": 600, "probe_every": 10})
case("ok-adam-3e-3", "healthy", note="Adam at 3e-3", optimizer={"type": "adam", "lr": 0.003})

# --- data-parallel runs (issue 15): 2 ranks on loopback, batch 32 per rank = the base's global
# batch 64; the faults are data.inject.distributed (docs/distributed.md)
NPROC = {}
DDP_TWIN = "ddp-ok"


def ddp_case(cid, truth, accept=(), note="", unfixable=None, inject=None, **changes):
    NPROC[cid] = 2
    if inject:
        changes["data__inject"] = {"distributed": inject}
    case(cid, truth, accept, note, unfixable, batch_size=32, **changes)


ddp_case("ddp-ok", "healthy", note="2 ranks, disjoint reshuffled shards")
ddp_case("ddp-slow-rank", "healthy", note="rank 1 a straggler (20 ms a step): a performance note, not a fault",
         inject={"slow_rank": 1, "slow_rank_ms": 20})
ddp_case("ddp-same-data", "same_data_on_every_rank", note="every rank reads the whole set in the same order",
         inject={"same_data_on_every_rank": True})
ddp_case("ddp-no-reshuffle", "shard_not_reshuffled", note="every epoch reuses epoch 0's shard order",
         inject={"no_reshuffle": True})
ddp_case("ddp-skip-update", "replicas_diverged", note="rank 1 skips its update at step 5",
         unfixable="a rank that skips an update is a bug in the training loop",
         inject={"skip_update_on_rank": 1, "skip_update_step": 5})
ddp_case("ddp-corrupt-rank-labels", "rank_specific_data_fault", note="half of rank 1's samples have wrong labels",
         inject={"corrupt_rank": 1, "corrupt_rank_labels": 0.5})
# lr_not_scaled_for_global_batch: a rate written for one process at batch 32, run on 2 ranks
# (global batch 64). Unscaled: plain SGD at 0.001 (inside SGD's usual range) keeps the step of a
# batch of 32, the updates stay tiny (2× the rate trains visibly further); scaled ×2 without a
# warmup: Adam's 0.008 becomes 0.016, and the first steps on random weights, without batch norm
# to absorb them, overshoot and kill ReLU units (the same spec with schedule.warmup_steps: 100,
# or unscaled, trains like ddp-ok).
ddp_case("ddp-lr-not-scaled", "lr_not_scaled_for_global_batch", ["lr_too_low"],
         "plain SGD at lr 0.001 kept for the global batch of 2 ranks (optimizer.lr_scaling: none)",
         optimizer={"type": "sgd", "lr": 0.001})
ddp_case("ddp-lr-scaled-no-warmup", "lr_not_scaled_for_global_batch", ["lr_too_high"],
         "Adam lr 0.008 scaled linearly to 0.016 for 2 ranks with no warmup, no batch norm",
         optimizer={"type": "adam", "lr": 0.008, "lr_scaling": "linear"}, model__layers=plain_layers())


def to_yaml(value, indent=0):
    """Small YAML writer: block mappings, flow lists of scalars/maps (readable, parseable)."""
    pad = "  " * indent
    if isinstance(value, dict):
        lines = []
        for k, v in value.items():
            if isinstance(v, dict) and v:
                lines.append(f"{pad}{k}:")
                lines.append(to_yaml(v, indent + 1))
            elif isinstance(v, list) and v and k == "layers":
                lines.append(f"{pad}{k}:")
                lines.extend(f"{pad}  - {flow(item)}" for item in v)
            else:
                lines.append(f"{pad}{k}: {flow(v)}")
        return "\n".join(lines)
    return pad + flow(value)


def flow(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {flow(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(flow(x) for x in v) + "]"
    if isinstance(v, float):
        return repr(v)
    return str(v) if not isinstance(v, str) else (json.dumps(v) if any(c in v for c in ":{}[],#") else v)


def effect_line(cid, effects, twin="ok-example", twin_words="the healthy base"):
    """The measured effect of a case against its healthy twin (the zoo's base case), or
    (None, True) when not measured yet; the second value is False when the effect is weak."""
    e, base = effects.get(cid), effects.get(twin)
    if not e or not base or e.get("error") or base.get("error"):
        return None, True
    if e.get("status") == "nonfinite_loss":
        return (f"effect (seed 0): the loss turned NaN/Inf at step {e['steps']}; {twin_words} trains "
                f"{base['steps']} steps to loss {base['train_loss']:.3f}"), True

    def f(v):
        return "n/a" if v is None else f"{v:.3f}"
    acc, base_acc = e.get("val_accuracy"), base.get("val_accuracy")
    line = (f"effect (seed 0, {e['steps']} steps): train loss {f(e.get('train_loss'))} vs {f(base.get('train_loss'))} "
            f"for {twin_words}")
    if acc is not None and base_acc is not None:
        line += f", val accuracy {100 * acc:.1f}% vs {100 * base_acc:.1f}%"
    strong = True
    if cid != twin and e.get("train_loss") is not None and base.get("train_loss"):
        dl = abs(e["train_loss"] - base["train_loss"]) / base["train_loss"]
        dacc = (base_acc - acc) if (acc is not None and base_acc is not None) else 0
        strong = dl > 0.2 or dacc > 0.03
    return line, strong


def load_effects(here):
    """The measured effects next to a case table (`effects.json`), or {} before they exist."""
    path = os.path.join(here, "effects.json")
    return json.load(open(path)) if os.path.exists(path) else {}


def fresh_cases_dir(here):
    """`here/cases`, emptied of the case files a previous run wrote."""
    out = os.path.join(here, "cases")
    os.makedirs(out, exist_ok=True)
    for f in os.listdir(out):
        if f.endswith(".yaml"):
            os.remove(os.path.join(out, f))
    return out


def case_header(cid, title, truth, accept, unfixable, effect, generator, after_truth=()):
    """The ground-truth header of a case file; warns when the measured effect is weak."""
    header = [title, f"# truth: {truth}", *after_truth]
    if accept:
        header.append("# accept: " + ", ".join(accept))
    if unfixable:
        header.append(f"# fixable: no ({unfixable})")
    line, strong = effect
    if line:
        header.append("# " + line)
        if truth != "healthy" and not strong:
            print(f"warning: {cid}: the fault barely changes training ({line})")
    header.append(f"# generated by {generator}; edit the table there")
    return header


def write_case(out, cid, header, spec):
    with open(os.path.join(out, cid + ".yaml"), "w") as fh:
        fh.write("\n".join(header) + "\n" + to_yaml({"name": cid, **spec}) + "\n")


def write_twin_cases(here, cases, bases, title, generator, data_script):
    """A held-out zoo's writer: `cases` rows (id, truth, data set, accept, note, spec, unfixable)
    each measured against its data set's twin (`bases[data set]["twin"]`), their files and the
    case directory's zoo.conf (which makes the data with `data_script` first)."""
    effects = load_effects(here)
    out = fresh_cases_dir(here)
    ids = [c[0] for c in cases]
    assert len(ids) == len(set(ids)), "duplicate case id"
    for cid, truth, base, accept, note, spec, unfixable in cases:
        twin = bases[base]["twin"]
        effect = effect_line(cid, effects, twin, f"the healthy twin {twin}")
        if not effect[0] and effects:
            print(f"warning: {cid}: no effect measured")
        header = case_header(cid, f"# {title} case {cid}: {note}", truth, accept, unfixable, effect,
                             generator, after_truth=[f"# twin: {twin}"])
        write_case(out, cid, header, spec)
    with open(os.path.join(out, "zoo.conf"), "w") as fh:
        fh.write("# lossdoctor-bench zoo settings for this case directory (written by ../make_cases.py)\n"
                 "# The cases read generated data: make it first (idempotent; under a minute the first time).\n"
                 f"make-data: python3 ../../../scripts/{data_script} ../data\n"
                 "# The Monitor loop bugs belong to bench/zoo.\n"
                 "loop-cases: no\n")
    faults = sum(1 for c in cases if c[1] != "healthy")
    hard = sum(1 for c in cases if c[0].startswith("hard-"))
    print(f"wrote {len(cases)} cases ({faults} faults of which {hard} hard, {len(cases) - faults} controls) to {out}")


def main():
    effects = load_effects(HERE)
    out = fresh_cases_dir(HERE)
    for cid, truth, accept, note, spec, unfixable in CASES:
        # A data-parallel case is measured beside the healthy 2-rank run (ddp-ok), its twin.
        effect = (effect_line(cid, effects, DDP_TWIN, f"the healthy twin {DDP_TWIN}") if cid in NPROC
                  else effect_line(cid, effects))
        header = case_header(cid, f"# zoo case {cid}: {note}", truth, accept, unfixable, effect,
                             "bench/zoo/make_cases.py",
                             after_truth=[f"# nproc: {NPROC[cid]}", f"# twin: {DDP_TWIN}"]
                             if cid in NPROC else ())
        write_case(out, cid, header, spec)
    faults = sum(1 for c in CASES if c[1] != "healthy")
    print(f"wrote {len(CASES)} cases ({faults} faults, {len(CASES) - faults} controls) to {out}")


if __name__ == "__main__":
    main()
