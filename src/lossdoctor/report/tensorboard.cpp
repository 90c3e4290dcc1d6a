#include "lossdoctor/report/tensorboard.hpp"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <set>

#include "lossdoctor/spec/kinds.hpp"
#include "lossdoctor/util/errors.hpp"
#include "lossdoctor/util/event_writer.hpp"

namespace lossdoctor::report {

namespace {

namespace fs = std::filesystem;

/// Monospaced in TensorBoard's Markdown text view.
std::string code_block(const std::string& text) { return "```\n" + text + "\n```"; }

void add_if_finite(EventWriter& w, const std::string& tag, int64_t step, double value) {
  if (std::isfinite(value)) w.add_scalar(tag, step, value);
}

void tally(EventFiles& out, const EventWriter& w) {
  out.files.push_back(w.path());
  out.events += w.events();
  out.bytes += w.bytes();
}

void write_diagnosis_run(const std::string& dir, const Report& report, const RunRecord& record,
                         EventFiles& out) {
  EventWriter w(dir);
  int64_t last = 0;
  for (const auto& s : record.steps) {
    w.add_scalar("train/loss", s.step, s.loss);  // a non-finite loss is data
    add_if_finite(w, "train/lr", s.step, s.lr);
    add_if_finite(w, "train/grad_norm", s.step, s.grad_norm);
    add_if_finite(w, "train/update_norm", s.step, s.update_norm);
    add_if_finite(w, "train/weight_norm", s.step, s.weight_norm);
    add_if_finite(w, "train/batch_accuracy", s.step, s.batch_accuracy);
    last = std::max(last, s.step);
  }
  for (const auto& e : record.epochs) {
    add_if_finite(w, "epoch/train_loss", e.step, e.train_loss);
    add_if_finite(w, "epoch/train_accuracy", e.step, e.train_accuracy);
    add_if_finite(w, "val/loss", e.step, e.val_loss);
    add_if_finite(w, "val/accuracy", e.step, e.val_accuracy);
  }
  if (report.confirmation) {
    for (const auto& p : report.confirmation->baseline_val_points) {
      w.add_scalar("yardstick/val_loss", p.step, p.loss);
      add_if_finite(w, "yardstick/val_accuracy", p.step, p.accuracy);
    }
  }
  for (const auto& probe : record.probes) {
    for (size_t i = 0; i < probe.layers.size() && i < record.layers.size(); ++i) {
      const LayerDescription& d = record.layers[i];
      const LayerSample& l = probe.layers[i];
      const std::string prefix = "layers/" + d.name + "/";
      add_if_finite(w, prefix + "activation_mean", probe.step, l.activation.mean);
      add_if_finite(w, prefix + "activation_std", probe.step, l.activation.std);
      if (l.activation.nonfinite_fraction > 0)
        w.add_scalar(prefix + "nonfinite_fraction", probe.step, l.activation.nonfinite_fraction);
      if (spec::is_relu_family(d.kind))
        add_if_finite(w, prefix + "dead_fraction", probe.step, l.dead_fraction);
      if (spec::is_saturating(d.kind))
        add_if_finite(w, prefix + "saturated_fraction", probe.step, l.saturated_fraction);
      if (l.has_weights || d.has_weights) {
        add_if_finite(w, prefix + "grad_norm", probe.step, l.grad_norm);
        add_if_finite(w, prefix + "weight_norm", probe.step, l.weight_norm);
        add_if_finite(w, prefix + "update_ratio", probe.step, l.update_ratio);
      }
    }
  }
  std::vector<double> losses, margins;
  for (const auto& s : record.samples) {
    if (s.times_seen <= 0) continue;
    losses.push_back(s.last_loss);
    margins.push_back(s.mean_margin);
  }
  w.add_histogram("samples/last_loss", last, losses);
  w.add_histogram("samples/mean_margin", last, margins);
  w.add_text("findings", last, findings_markdown(report));
  w.add_text("report", last, code_block(render_text(report, false)));
  tally(out, w);
}

void write_arm_run(const std::string& dir, const ConfirmationArm& arm, EventFiles& out) {
  EventWriter w(dir);
  for (size_t i = 0; i < arm.train_loss.size(); ++i)
    w.add_scalar("train/loss", static_cast<int64_t>(i), arm.train_loss[i]);
  for (const auto& p : arm.val_points) {
    w.add_scalar("yardstick/val_loss", p.step, p.loss);
    add_if_finite(w, "yardstick/val_accuracy", p.step, p.accuracy);
  }
  std::string causes;
  for (const auto& c : arm.causes) causes += (causes.empty() ? "" : ", ") + c;
  w.add_text("confirmation", arm.steps,
             fmt::format("**{}** — {} ({}; {} of {} steps)\n\n{}", arm.status, causes,
                         arm.intervention, arm.steps, arm.window, arm.reason));
  tally(out, w);
}

}  // namespace

std::string arm_run_name(const ConfirmationArm& arm) {
  std::string name;
  for (const auto& c : arm.causes) name += (name.empty() ? "" : "+") + c;
  if (name.empty()) name = "arm";
  for (char& ch : name) {
    const bool ok = std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '.' ||
                    ch == '+' || ch == '-';
    if (!ok) ch = '_';
  }
  if (name == "." || name == "..") name = "arm";
  return name;
}

std::string findings_markdown(const Report& report) {
  std::string out = fmt::format(
      "verdict: **{}**{}\n\n", report.verdict,
      report.steps_run > 0 ? fmt::format(" after {} steps", report.steps_run) : std::string());
  if (report.findings.empty()) return out + "no findings";
  out += "| cause | status | confidence | first step | layer | fix |\n|---|---|---|---|---|---|\n";
  for (const auto& f : report.findings) {
    out += fmt::format("| {} | {} | {:.2f} | {} | {} | {} |\n", f.cause, f.status, f.confidence,
                       f.first_step ? std::to_string(*f.first_step) : "", f.layer,
                       fix_as_overrides(f.fix));
  }
  return out;
}

EventFiles write_diagnose_events(const std::string& dir, const Report& report,
                                 const RunRecord& record) {
  EventFiles out;
  write_diagnosis_run((fs::path(dir) / "diagnosis").string(), report, record, out);
  if (!report.confirmation) return out;
  std::set<std::string> used{"diagnosis"};
  for (const auto& arm : report.confirmation->arms) {
    if (arm.train_loss.empty()) continue;  // not rerun (the spec already had the fix)
    std::string name = arm_run_name(arm);
    for (int n = 2; used.count(name) != 0; ++n) name = arm_run_name(arm) + "." + std::to_string(n);
    used.insert(name);
    write_arm_run((fs::path(dir) / name).string(), arm, out);
  }
  return out;
}

std::optional<PngSize> png_size(const std::string& png) {
  static const std::string kSignature("\x89PNG\r\n\x1a\n", 8);
  if (png.size() < 33 || png.compare(0, 8, kSignature) != 0 || png.compare(12, 4, "IHDR") != 0)
    return std::nullopt;
  const auto be32 = [&](size_t at) {
    uint32_t v = 0;
    for (size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(png[at + i]);
    return v;
  };
  PngSize size;
  size.width = static_cast<int>(be32(16));
  size.height = static_cast<int>(be32(20));
  switch (static_cast<uint8_t>(png[25])) {  // colour type
    case 0:
      size.channels = 1;
      break;
    case 4:
      size.channels = 2;
      break;
    case 6:
      size.channels = 4;
      break;
    default:  // 2 (RGB), 3 (palette)
      size.channels = 3;
  }
  return size;
}

EventFiles write_audit_events(const std::string& dir, const Report& report,
                              const std::string& contact_sheet_png) {
  EventFiles out;
  EventWriter w((fs::path(dir) / "audit").string());
  std::string table = "| cause | flagged samples | confidence |\n|---|---|---|\n";
  int64_t flagged_findings = 0;
  for (const auto& f : report.findings) {
    const int64_t n = static_cast<int64_t>(f.samples.size()) + f.samples_omitted;
    if (n == 0) continue;
    ++flagged_findings;
    w.add_scalar("audit/flagged/" + f.cause, 0, static_cast<double>(n));
    table += fmt::format("| {} | {} | {:.2f} |\n", f.cause, n, f.confidence);
  }
  w.add_text("audit/flagged", 0, flagged_findings > 0 ? table : "no flagged samples");
  if (!contact_sheet_png.empty()) {
    const auto size = png_size(contact_sheet_png);
    if (!size) throw InputError(w.path() + ": the contact sheet is not a PNG image");
    w.add_image("audit/contact_sheet", 0, contact_sheet_png, size->width, size->height,
                size->channels);
  }
  w.add_text("findings", 0, findings_markdown(report));
  w.add_text("report", 0, code_block(render_text(report, false)));
  tally(out, w);
  return out;
}

}  // namespace lossdoctor::report
