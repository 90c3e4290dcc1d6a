#include "lossdoctor/cli/html_output.hpp"

#include "lossdoctor/spec/spec_writer.hpp"
#include "lossdoctor/util/atomic_file.hpp"
#include "lossdoctor/util/errors.hpp"

namespace lossdoctor::cli {

std::string command_line(int argc, char** argv) {
  std::string out;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    const bool plain = !a.empty() && a.find_first_not_of(
                                         "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN"
                                         "OPQRSTUVWXYZ0123456789-_=./:,+@%") == std::string::npos;
    if (!plain) {
      std::string q = "'";
      for (char c : a) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
      a = q + "'";
    }
    out += (i ? " " : "") + a;
  }
  return out;
}

std::string resolved_spec(const std::string& path, const std::vector<std::string>& overrides) {
  try {
    return spec::render_edited_spec(path, overrides, {}, path);
  } catch (const InputError&) {
    return "";  // the run itself already validated the spec; a report without it is still useful
  }
}

void write_html(const std::string& path, const report::HtmlReport& html) {
  write_file_atomic(path, report::render_html(html));
}

RunRecord record_of(const train::Trainer& trainer) {
  RunRecord r;
  r.spec_name = trainer.spec().name;
  r.num_classes = trainer.dataset().num_classes;
  r.batch_size = trainer.spec().batch_size;
  r.loss = "";  // the chance line is drawn only for a known cross-entropy (below)
  if (trainer.spec().loss.kind == spec::LossSpec::Kind::CrossEntropy) r.loss = "cross_entropy";
  for (const auto& s : trainer.steps()) {
    StepSample x;
    x.step = s.step;
    x.epoch = s.epoch;
    x.loss = s.loss;
    x.lr = s.lr;
    x.grad_norm = s.grad_norm;
    r.steps.push_back(x);
  }
  for (const auto& e : trainer.epochs()) {
    r.epochs.push_back(
        {e.epoch, e.step, e.train_loss, e.train_accuracy, e.val_loss, e.val_accuracy});
  }
  return r;
}

report::LrSweepView lr_sweep_view(const experiment::LrFindResult& result) {
  report::LrSweepView v;
  for (const auto& p : result.points) {
    v.lrs.push_back(p.lr);
    v.losses.push_back(p.loss);
    v.trend.push_back(p.trend);
  }
  v.suggestion = result.suggested_lr;
  v.divergence_lr = result.divergence_lr;
  v.summary = result.reason;
  return v;
}

std::vector<report::RunView> repair_views(const doctor::RepairResult& result) {
  std::vector<report::RunView> out;
  const auto add = [&](const char* label, const std::optional<doctor::TrainingOutcome>& o) {
    if (!o) return;
    report::RunView v;
    v.label = label;
    v.train_loss = o->loss_curve;
    v.val_loss = o->val_loss;
    v.val_accuracy = o->val_accuracy;
    out.push_back(std::move(v));
  };
  add("original", result.before);
  add("repaired", result.after);
  return out;
}

}  // namespace lossdoctor::cli
