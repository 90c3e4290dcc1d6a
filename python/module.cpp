// _lossdoctor: the C++ engine behind the Python package `lossdoctor` (python/lossdoctor/).
//
// Thin by design: it converts Python values to the engine's (torch.Tensor ↔ at::Tensor share one
// TensorImpl, so a parameter's .grad is read live, without copies) and calls lossdoctor::Monitor.
// Hooks, module walking and argument checks live in Python (python/lossdoctor/__init__.py).
//
// Contract:
//   requires: `import torch` before this module (it links the same libtorch as torch does);
//             tensors on any device; labels int64 [B]; outputs [B, K].
//   ensures:  the same RunRecord, detectors, diagnoser and report as `lossdoctor diagnose`;
//             engine errors reach Python as ValueError (bad input) or RuntimeError.
#include <pybind11/stl.h>
#include <torch/extension.h>

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "lossdoctor/lint/lint.hpp"
#include "lossdoctor/monitor.hpp"
#include "lossdoctor/report/html.hpp"
#include "lossdoctor/report/report.hpp"
#include "lossdoctor/util/atomic_file.hpp"
#include "lossdoctor/util/errors.hpp"

namespace py = pybind11;

namespace {

using lossdoctor::Monitor;
using Layer = std::tuple<std::string, std::string, std::optional<at::Tensor>>;

at::Tensor or_undefined(const std::optional<at::Tensor>& t) { return t ? *t : at::Tensor(); }

std::unique_ptr<Monitor> make_engine(const std::vector<Layer>& layers,
                                     const std::vector<at::Tensor>& params, int64_t num_classes,
                                     int64_t probe_every, const std::string& optimizer, double lr,
                                     const std::string& loss, bool from_logits, int64_t train_size,
                                     const std::string& name, bool measure_every_step) {
  std::vector<lossdoctor::MonitoredLayer> watched;
  for (const auto& [layer_name, kind, weight] : layers) {
    watched.push_back({layer_name, kind, or_undefined(weight)});
  }
  auto options = lossdoctor::MonitorOptions()
                     .num_classes(num_classes)
                     .probe_every(probe_every)
                     .optimizer(optimizer)
                     .lr(lr)
                     .loss(loss)
                     .from_logits(from_logits)
                     .train_size(train_size)
                     .name(name)
                     .measure_every_step(measure_every_step);
  return std::make_unique<Monitor>(std::move(watched), params, options);
}

/// One layer as the settings lint sees it: (name, kind in the spec's spelling, units or
/// filters, dropout rate).
using LayerSetting = std::tuple<std::string, std::string, int64_t, double>;

/// The lint rules that judge what a Python loop's settings say (the optimiser's param_groups,
/// dropout rates, layer widths) the same way they judge a spec's. The others need what a loop
/// does not declare (transforms, shuffling, schedule, init) or are already read from the run.
const std::vector<std::string> kSettingsRules = {"optimizer-hyperparameters", "heavy-weight-decay",
                                                 "heavy-dropout", "dense-bottleneck",
                                                 "narrow-convolution"};

/// Lints the loop's settings as a spec with only these keys (in forward order for `layers`).
std::vector<lossdoctor::Finding> lint_settings(const std::string& optimizer,
                                               const std::map<std::string, double>& settings,
                                               const std::vector<LayerSetting>& layers,
                                               int64_t num_classes) {
  using lossdoctor::spec::LayerSpec;
  using lossdoctor::spec::OptimizerSpec;
  lossdoctor::spec::Spec s;
  s.file = "torch.optim " + optimizer + " param_groups[0]";
  const std::map<std::string, OptimizerSpec::Kind> kinds = {
      {"sgd", OptimizerSpec::Kind::Sgd},         {"adam", OptimizerSpec::Kind::Adam},
      {"adamw", OptimizerSpec::Kind::AdamW},     {"rmsprop", OptimizerSpec::Kind::RmsProp},
      {"adagrad", OptimizerSpec::Kind::Adagrad}, {"adadelta", OptimizerSpec::Kind::Adadelta}};
  const auto kind = kinds.find(optimizer);
  const auto get = [&settings](const char* key, double fallback) {
    const auto it = settings.find(key);
    return it == settings.end() ? fallback : it->second;
  };
  OptimizerSpec& o = s.optimizer;
  if (kind != kinds.end()) o.kind = kind->second;
  o.lr = get("lr", o.lr);
  o.momentum = get("momentum", 0.0);
  o.nesterov = get("nesterov", 0.0) != 0;
  o.beta1 = get("beta1", o.beta1);
  o.beta2 = get("beta2", o.beta2);
  o.eps = get("eps", o.eps);
  o.weight_decay = get("weight_decay", 0.0);
  o.alpha = get("alpha", o.alpha);
  o.rho = get("rho", o.rho);
  s.data.num_classes = num_classes;
  const std::map<std::string, LayerSpec::Kind> layer_kinds = {
      {"conv2d", LayerSpec::Kind::Conv2d},       {"dense", LayerSpec::Kind::Dense},
      {"dropout", LayerSpec::Kind::Dropout},     {"relu", LayerSpec::Kind::ReLU},
      {"batchnorm", LayerSpec::Kind::BatchNorm}, {"flatten", LayerSpec::Kind::Flatten}};
  for (const auto& [name, layer_kind, width, rate] : layers) {
    const auto k = layer_kinds.find(layer_kind);
    if (k == layer_kinds.end()) continue;
    LayerSpec L;
    L.kind = k->second;
    L.key_path = "model." + name;
    L.where.file = L.kind == LayerSpec::Kind::Conv2d    ? "nn.Conv2d"
                   : L.kind == LayerSpec::Kind::Dense   ? "nn.Linear"
                   : L.kind == LayerSpec::Kind::Dropout ? "nn.Dropout"
                                                        : "the model";
    L.filters = L.units = width;
    L.rate = rate;
    s.layers.push_back(std::move(L));
  }
  lossdoctor::lint::LintContext ctx;
  ctx.num_classes = num_classes;
  lossdoctor::lint::LintResult result;
  for (const auto& rule : lossdoctor::lint::lint_rules()) {
    const bool optimizer_rule = rule.id != "heavy-dropout" && rule.id != "dense-bottleneck" &&
                                rule.id != "narrow-convolution";
    if (std::find(kSettingsRules.begin(), kSettingsRules.end(), rule.id) == kSettingsRules.end() ||
        (optimizer_rule && kind == kinds.end()))
      continue;
    rule.check(s, ctx, result);
  }
  return result.findings;
}

}  // namespace

PYBIND11_MODULE(_lossdoctor, m) {
  m.doc() = "lossdoctor's C++ engine; use the `lossdoctor` package, not this module";
  py::register_exception<lossdoctor::InputError>(m, "InputError", PyExc_ValueError);

  py::class_<Monitor>(m, "_Engine")
      .def(py::init(&make_engine), py::arg("layers"), py::arg("params"), py::arg("num_classes"),
           py::arg("probe_every"), py::arg("optimizer"), py::arg("lr"), py::arg("loss"),
           py::arg("from_logits"), py::arg("train_size"), py::arg("name"),
           py::arg("measure_every_step"))
      .def("probe_step", &Monitor::probe_step)
      .def("on_activation", &Monitor::on_activation)
      .def(
          "record_batch",
          [](Monitor& self, const std::optional<at::Tensor>& inputs,
             const std::optional<at::Tensor>& output, const std::optional<at::Tensor>& labels,
             double loss, const std::optional<at::Tensor>& indices) {
            self.record_batch(or_undefined(inputs), or_undefined(output), or_undefined(labels),
                              loss, or_undefined(indices));
          },
          py::arg("inputs"), py::arg("output"), py::arg("labels"), py::arg("loss"),
          py::arg("indices"))
      .def("observe_validation", &Monitor::observe_validation)
      .def("before_update", &Monitor::before_update)
      .def("after_update", &Monitor::after_update, py::arg("lr"))
      .def("end_epoch", &Monitor::end_epoch)
      .def("note_eval_mode_step", [](Monitor& self) { ++self.loop_checks().eval_mode_steps; })
      .def("note_grads_not_reset",
           [](Monitor& self) { ++self.loop_checks().grads_not_reset_steps; })
      .def("set_parameter_check",
           [](Monitor& self, int64_t missing, int64_t foreign) {
             self.loop_checks().params_missing_from_optimizer = missing;
             self.loop_checks().optimizer_params_not_in_model = foreign;
           })
      .def(
          "set_settings",
          [](Monitor& self, const std::string& optimizer,
             const std::map<std::string, double>& settings, const std::vector<LayerSetting>& layers,
             int64_t num_classes) {
            auto findings = lint_settings(optimizer, settings, layers, num_classes);
            std::vector<std::string> causes;
            for (const auto& f : findings) causes.push_back(f.cause);
            self.set_settings_findings(std::move(findings));
            return causes;
          },
          py::arg("optimizer"), py::arg("settings"), py::arg("layers"), py::arg("num_classes"))
      .def_property_readonly("steps", &Monitor::steps)
      .def_property_readonly("settled", [](Monitor& self) { return self.settled(); })
      .def("report_json",
           [](const Monitor& self) { return lossdoctor::report::to_json(self.diagnose()).dump(); })
      .def("report_text",
           [](const Monitor& self, bool color) {
             return lossdoctor::report::render_text(self.diagnose(), color);
           })
      .def("record_json",
           [](const Monitor& self) {
             return lossdoctor::report::record_to_json(self.record()).dump();
           })
      .def("save_html",
           [](const Monitor& self, const std::string& path, const std::string& command_line) {
             const lossdoctor::report::Report r = self.diagnose();
             lossdoctor::report::HtmlReport h;
             h.title = "lossdoctor: " + r.spec;
             h.command_line = command_line;
             h.report = &r;
             h.record = &self.record();
             lossdoctor::write_file_atomic(path, lossdoctor::report::render_html(h));
           })
      .def("save", [](const Monitor& self, const std::string& path) {
        lossdoctor::write_file_atomic(
            path, lossdoctor::report::record_to_json(self.record()).dump() + "\n");
      });
}
