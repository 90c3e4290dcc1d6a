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

#include <optional>
#include <string>
#include <tuple>
#include <vector>

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
