#include "lossdoctor/report/html.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "lossdoctor/report/causes.hpp"
#include "lossdoctor/report/html_assets.hpp"
#include "lossdoctor/spec/kinds.hpp"

namespace lossdoctor::report {
namespace {

using nlohmann::json;

std::string escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

/// An id (cause, symptom): kept on one line, but on a narrow screen it may wrap after its
/// underscores, never inside a word: "lr_too_<wbr>high".
std::string breakable(const std::string& id) {
  std::string out = "<span class=\"id\">";
  for (const char c : escape(id)) {
    out += c;
    if (c == '_') out += "<wbr>";
  }
  return out + "</span>";
}

/// A number for a table cell: 4 significant digits, NaN/Inf spelled out.
std::string cell(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "∞" : "−∞";
  return fmt::format("{:.4g}", v);
}

json num(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

json points(const std::vector<std::pair<double, double>>& xy) {
  json out = json::array();
  for (const auto& [x, y] : downsample(xy, kMaxCurvePoints)) out.push_back({x, num(y)});
  return out;
}

json series(const std::string& name, const std::vector<std::pair<double, double>>& xy,
            const std::string& axis = "y") {
  return {{"name", name}, {"points", points(xy)}, {"axis", axis}};
}

/// Rolling median of `w` points (robust to the spikes it is drawn beside).
std::vector<double> smoothed(const std::vector<double>& v, size_t w) {
  std::vector<double> out(v.size(), NAN), window;
  for (size_t i = 0; i < v.size(); ++i) {
    window.clear();
    for (size_t j = i >= w / 2 ? i - w / 2 : 0; j < std::min(v.size(), i + w / 2 + 1); ++j) {
      if (std::isfinite(v[j])) window.push_back(v[j]);
    }
    if (window.empty()) continue;
    std::nth_element(window.begin(), window.begin() + static_cast<long>(window.size() / 2),
                     window.end());
    out[i] = window[window.size() / 2];
  }
  return out;
}

using Curve = std::vector<std::pair<double, double>>;

/// A series indexed by step (value i at step i): confirmation arms and repair runs.
Curve by_step(const std::vector<double>& values) {
  Curve xy;
  for (size_t i = 0; i < values.size(); ++i) xy.emplace_back(static_cast<double>(i), values[i]);
  return xy;
}

/// The yardstick's validation accuracy at its steps.
Curve accuracy_curve(const std::vector<ConfirmationArm::Point>& points) {
  Curve xy;
  for (const auto& pt : points) xy.emplace_back(static_cast<double>(pt.step), pt.accuracy);
  return xy;
}

struct Page {
  std::string body;
  json charts = json::array();

  void chart(const std::string& id, const std::string& cls, json spec) {
    body += fmt::format("<div class=\"{}\" id=\"{}\"></div>\n", cls, id);
    spec["id"] = id;
    charts.push_back(std::move(spec));
  }
};

void header(Page& p, const HtmlReport& h) {
  const Report& r = *h.report;
  p.body += fmt::format("<header><h1>{}</h1>\n", escape(h.title));
  p.body += fmt::format("<p><span class=\"verdict {0}\" id=\"verdict\">{0}</span></p>\n",
                        escape(r.verdict));
  std::string meta = fmt::format("{} · {} steps", escape(r.command), r.steps_run);
  if (r.seconds > 0) meta += fmt::format(" · {:.1f} s", r.seconds);
  meta += " · " + escape(r.device);
  p.body += fmt::format("<p class=\"meta\">{}</p></header>\n", meta);
  p.body += "<div id=\"errors\" hidden></div>\n";
}

void findings_table(Page& p, const Report& r) {
  p.body += "<section id=\"findings\"><h2>Findings</h2>\n<div class=\"scroll\"><table>\n";
  p.body +=
      "<tr><th>cause</th><th>confidence</th><th>status</th><th class=\"hide-narrow\">first "
      "step</th><th class=\"hide-narrow\">layer</th><th>fix</th></tr>\n";
  for (const auto& f : r.findings) {
    const std::string fix = fix_as_overrides(f.fix);
    p.body += fmt::format(
        "<tr class=\"finding\" data-cause=\"{0}\"><td><b>{6}</b></td><td class=\"num\">{1:.2f}</td>"
        "<td class=\"status-{2}\">{2}</td><td class=\"num hide-narrow\">{3}</td>"
        "<td class=\"hide-narrow\">{4}</td><td class=\"fix\">{5}</td></tr>\n",
        escape(f.cause), f.confidence, escape(f.status),
        f.first_step ? std::to_string(*f.first_step) : "", escape(f.layer),
        fix.empty() ? std::string()
                    : fmt::format("<code>{0}</code> <button type=\"button\" class=\"copy\" "
                                  "data-text=\"{0}\">copy</button>",
                                  escape(fix)),
        breakable(f.cause));
    std::string detail = "<details><summary>evidence";
    if (!f.symptoms.empty()) {
      std::string s;
      for (const auto& id : f.symptoms) s += (s.empty() ? "" : ", ") + id;
      detail += " · symptoms: " + escape(s);
    }
    detail += "</summary><ul>";
    for (const auto& e : f.evidence) detail += "<li>" + escape(e) + "</li>";
    detail += "</ul>";
    if (!f.explanation.empty()) detail += "<p><i>why:</i> " + escape(f.explanation) + "</p>";
    detail += "</details>";
    p.body += "<tr class=\"detail\"><td colspan=\"6\">" + detail + "</td></tr>\n";
  }
  p.body += "</table></div>\n";
  if (!r.notes.empty()) {
    p.body += "<h3>Notes</h3><ul class=\"notes\">";
    for (const auto& n : r.notes) p.body += "<li>" + escape(n) + "</li>";
    p.body += "</ul>\n";
  }
  p.body += "</section>\n";
}

void loss_chart(Page& p, const Report& r, const RunRecord& rec) {
  if (rec.steps.empty()) return;
  std::vector<double> losses;
  std::vector<std::pair<double, double>> raw, lr;
  for (const auto& s : rec.steps) {
    losses.push_back(s.loss);
    raw.emplace_back(static_cast<double>(s.step), s.loss);
    if (std::isfinite(s.lr) && s.lr > 0) lr.emplace_back(static_cast<double>(s.step), s.lr);
  }
  const std::vector<double> smooth = smoothed(losses, std::max<size_t>(5, losses.size() / 50));
  std::vector<std::pair<double, double>> sm;
  for (size_t i = 0; i < smooth.size(); ++i)
    sm.emplace_back(static_cast<double>(rec.steps[i].step), smooth[i]);
  json all = json::array({series("loss", raw), series("smoothed", sm)});
  all[1]["width"] = 2.5;
  std::vector<std::pair<double, double>> val, val_acc;
  for (const auto& e : rec.epochs) {
    if (std::isfinite(e.val_loss)) val.emplace_back(static_cast<double>(e.step), e.val_loss);
  }
  if (!val.empty()) {
    all.push_back(series("validation loss", val));
    all.back()["dots"] = true;
  }
  const bool constant_lr = !lr.empty() && std::all_of(lr.begin(), lr.end(), [&](const auto& x) {
    return std::abs(x.second - lr.front().second) <= 1e-12 * std::abs(lr.front().second);
  });
  if (!lr.empty() && !constant_lr) {
    all.push_back(series("learning rate", lr, "y2"));
    all.back()["dash"] = "4 3";
    all.back()["color"] = "#8250df";
  }
  // One marker per step, labelled with every cause that starts there.
  std::map<int64_t, std::string> starts;
  for (const auto& f : r.findings) {
    if (!f.first_step || f.cause == "healthy") continue;
    std::string& label = starts[*f.first_step];
    label += (label.empty() ? "" : ", ") + f.cause;
  }
  json vlines = json::array();
  for (const auto& [step, label] : starts) vlines.push_back({{"x", step}, {"label", label}});
  json hlines = json::array();
  if (rec.num_classes >= 2 && (rec.loss == "cross_entropy" || rec.loss == "nll")) {
    hlines.push_back({{"y", std::log(static_cast<double>(rec.num_classes))},
                      {"label", fmt::format("chance ln {} = {:.3f}", rec.num_classes,
                                            std::log(static_cast<double>(rec.num_classes)))}});
  }
  p.body += "<section id=\"loss\"><h2>Loss</h2>\n";
  if (constant_lr) {
    p.body +=
        fmt::format("<p class=\"meta\">learning rate {} throughout</p>\n", cell(lr.front().second));
  }
  p.chart("chart-loss", "chart",
          {{"type", "line"},
           {"series", all},
           {"vlines", vlines},
           {"hlines", hlines},
           {"xlabel", "step"},
           {"ylabel", "training loss"},
           {"y2label", !lr.empty() && !constant_lr ? "learning rate" : ""}});
  p.body += "</section>\n";
}

void layer_heatmaps(Page& p, const Report& r, const RunRecord& rec) {
  if (rec.probes.empty() || rec.layers.empty()) return;
  // Columns: at most kMaxHeatmapColumns probes, evenly spaced.
  const size_t n = rec.probes.size();
  const size_t stride = (n + kMaxHeatmapColumns - 1) / kMaxHeatmapColumns;
  std::vector<size_t> cols;
  for (size_t i = 0; i < n; i += stride) cols.push_back(i);
  std::set<std::string> named;
  for (const auto& f : r.findings) {
    if (!f.layer.empty()) named.insert(f.layer);
  }
  struct Metric {
    const char* id;
    const char* title;
    bool log;
    bool weights_only;
    double (*get)(const LayerSample&);
  };
  const Metric metrics[] = {
      {"grad_norm", "gradient norm", true, true, [](const LayerSample& s) { return s.grad_norm; }},
      {"update_ratio", "update / weight ratio", true, true,
       [](const LayerSample& s) { return s.update_ratio; }},
      {"dead_fraction", "dead units (fraction)", false, false,
       [](const LayerSample& s) { return s.dead_fraction; }},
      {"saturated_fraction", "saturated units (fraction)", false, false,
       [](const LayerSample& s) { return s.saturated_fraction; }},
      {"activation_std", "activation scale (std)", true, false,
       [](const LayerSample& s) { return s.activation.std; }},
  };
  p.body += "<section id=\"layers\"><h2>Layers over steps</h2>\n";
  for (const auto& m : metrics) {
    json rows = json::array(), values = json::array(), highlight = json::array(),
         steps = json::array();
    for (size_t c : cols) steps.push_back(rec.probes[c].step);
    bool any = false;
    for (size_t l = 0; l < rec.layers.size(); ++l) {
      const auto& kind = rec.layers[l].kind;
      if (m.weights_only && !rec.layers[l].has_weights) continue;
      // Dead units mean something for the ReLU family only, saturation for sigmoid/tanh only
      // (spec/kinds: the recorder measures them by the same families).
      if (std::string(m.id) == "dead_fraction" && !spec::is_relu_family(kind)) continue;
      if (std::string(m.id) == "saturated_fraction" && !spec::is_saturating(kind)) continue;
      json row = json::array();
      for (size_t c : cols) {
        const auto& layers = rec.probes[c].layers;
        row.push_back(l < layers.size() ? num(m.get(layers[l])) : json(nullptr));
      }
      if (named.count(rec.layers[l].name)) highlight.push_back(rows.size());
      const std::string& name = rec.layers[l].name;
      const bool named_by_kind = name.size() >= kind.size() &&
                                 name.compare(name.size() - kind.size(), kind.size(), kind) == 0;
      rows.push_back(named_by_kind ? name : name + " (" + kind + ")");
      values.push_back(std::move(row));
      any = true;
    }
    if (!any) continue;
    p.body += fmt::format("<h3>{}</h3>\n", m.title);
    p.chart(std::string("heat-") + m.id, "heatmap",
            {{"type", "heatmap"},
             {"rows", rows},
             {"cols", steps},
             {"values", values},
             {"log", m.log},
             {"highlight", highlight}});
  }
  p.body += "</section>\n";
}

void confirmation_section(Page& p, const Report& r, const RunRecord* rec) {
  if (!r.confirmation || r.confirmation->arms.empty()) return;
  const Confirmation& c = *r.confirmation;
  p.body += "<section id=\"confirmation\"><h2>Confirmation</h2>\n<div class=\"scroll\"><table>";
  p.body +=
      "<tr><th>intervention</th><th class=\"hide-narrow\">causes</th><th>decision</th><th>"
      "steps</th><th class=\"hide-narrow\">yardstick</th><th>numbers</th></tr>\n";
  for (const auto& a : c.arms) {
    std::string causes;
    for (const auto& x : a.causes) causes += (causes.empty() ? "" : ", ") + breakable(x);
    p.body += fmt::format(
        "<tr class=\"arm\"><td><code>{}</code></td><td class=\"hide-narrow\">{}</td>"
        "<td class=\"status-{}\">{}</td>"
        "<td class=\"num\">{}</td><td class=\"hide-narrow\">{}</td><td>{}</td></tr>\n",
        escape(a.intervention), causes, escape(a.status), escape(a.status), a.steps,
        escape(a.yardstick), escape(a.reason));
  }
  p.body += "</table></div>\n";
  json all = json::array();
  if (rec != nullptr) {
    std::vector<std::pair<double, double>> base;
    for (const auto& s : rec->steps) base.emplace_back(static_cast<double>(s.step), s.loss);
    all.push_back(series("diagnosis run", base));
    all.back()["width"] = 2.5;
    all.back()["color"] = "#57606a";
  }
  for (const auto& a : c.arms) {
    if (!a.train_loss.empty())
      all.push_back(series(a.intervention + " (" + a.status + ")", by_step(a.train_loss)));
  }
  if (all.size() > 1) {
    p.chart("chart-confirmation", "chart",
            {{"type", "line"},
             {"series", all},
             {"xlabel", "step"},
             {"ylabel", "training loss"},
             {"vlines", json::array()},
             {"hlines", json::array()}});
  }
  json acc = json::array();
  if (!c.baseline_val_points.empty()) {
    acc.push_back(series("diagnosis run", accuracy_curve(c.baseline_val_points)));
    acc.back()["color"] = "#57606a";
  }
  for (const auto& a : c.arms) {
    if (!a.val_points.empty()) acc.push_back(series(a.intervention, accuracy_curve(a.val_points)));
  }
  if (acc.size() > 1) {
    p.body += "<h3>Validation accuracy (yardstick)</h3>\n";
    p.chart("chart-confirmation-accuracy", "chart",
            {{"type", "line"},
             {"series", acc},
             {"xlabel", "step"},
             {"ylabel", "accuracy"},
             {"logToggle", false},
             {"vlines", json::array()},
             {"hlines", json::array()}});
  }
  p.body += fmt::format(
      "<p class=\"meta\">{} arm steps in {:.1f} s ({:.1f}× the diagnosis run)</p></section>\n",
      c.steps, c.seconds, c.cost_ratio);
}

void repair_section(Page& p, const std::vector<RunView>& runs) {
  if (runs.empty()) return;
  p.body += "<section id=\"repair\"><h2>Before and after</h2>\n<table>";
  p.body += "<tr><th>run</th><th>final validation loss</th><th>final validation accuracy</th></tr>";
  json all = json::array();
  for (const auto& r : runs) {
    p.body += fmt::format(
        "<tr class=\"run\"><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>\n",
        escape(r.label), cell(r.val_loss),
        std::isfinite(r.val_accuracy) ? fmt::format("{:.2f}%", 100 * r.val_accuracy) : "NaN");
    all.push_back(series(r.label, by_step(r.train_loss)));
  }
  p.body += "</table>\n";
  p.chart("chart-repair", "chart",
          {{"type", "line"},
           {"series", all},
           {"xlabel", "step"},
           {"ylabel", "training loss"},
           {"vlines", json::array()},
           {"hlines", json::array()}});
  p.body += "</section>\n";
}

void lr_find_section(Page& p, const LrSweepView& v) {
  p.body += "<section id=\"lrfind\"><h2>Learning-rate range test</h2>\n";
  std::vector<std::pair<double, double>> raw, trend;
  for (size_t i = 0; i < v.lrs.size() && i < v.losses.size(); ++i) {
    raw.emplace_back(v.lrs[i], v.losses[i]);
    if (i < v.trend.size()) trend.emplace_back(v.lrs[i], v.trend[i]);
  }
  json all = json::array({series("loss", raw)});
  if (!trend.empty()) {
    all.push_back(series("smoothed", trend));
    all.back()["width"] = 2.5;
  }
  json vlines = json::array();
  if (v.suggestion) vlines.push_back({{"x", *v.suggestion}, {"label", "suggested"}});
  if (v.divergence_lr) vlines.push_back({{"x", *v.divergence_lr}, {"label", "diverges"}});
  p.body += fmt::format(
      "<p>suggested learning rate: <b id=\"lr-suggestion\">{}</b>{}</p>\n",
      v.suggestion ? cell(*v.suggestion) : std::string("none"),
      v.divergence_lr ? fmt::format(" · diverges from {}", cell(*v.divergence_lr)) : std::string());
  if (!v.summary.empty()) p.body += "<p class=\"meta\">" + escape(v.summary) + "</p>\n";
  p.chart("chart-lrfind", "chart",
          {{"type", "line"},
           {"series", all},
           {"logx", true},
           {"xlabel", "learning rate (log)"},
           {"ylabel", "loss"},
           {"vlines", vlines},
           {"hlines", json::array()}});
  p.body += "</section>\n";
}

void audit_section(Page& p, const AuditView& a) {
  const auto name = [&](size_t c) {
    return c < a.class_names.size() && !a.class_names[c].empty() ? a.class_names[c]
                                                                 : std::to_string(c);
  };
  p.body += "<section id=\"audit\"><h2>The data</h2>\n";
  if (!a.flagged.empty()) {
    p.body +=
        fmt::format("<h3>Flagged images ({})</h3>\n<div class=\"gallery\">\n", a.flagged.size());
    for (const auto& g : a.flagged) {
      std::string caption = fmt::format("#{} ", g.index);
      if (!g.given.empty()) caption += escape(g.given);
      if (!g.suggested.empty()) caption += " → " + escape(g.suggested);
      if (!g.reason.empty()) caption += "<br>" + escape(g.reason);
      p.body += fmt::format(
          "<figure class=\"flagged\"><img alt=\"training image {}\" "
          "src=\"data:image/png;base64,{}\"><figcaption>{}</figcaption></figure>\n",
          g.index, g.png_base64, caption);
    }
    p.body += "</div>\n";
  }
  if (!a.train_class_counts.empty()) {
    json labels = json::array(), train = json::array(), val = json::array();
    for (size_t i = 0; i < a.train_class_counts.size(); ++i) {
      labels.push_back(name(i));
      train.push_back(a.train_class_counts[i]);
      val.push_back(i < a.val_class_counts.size() ? a.val_class_counts[i] : 0);
    }
    json s = json::array({{{"name", "train"}, {"values", train}}});
    if (!a.val_class_counts.empty()) s.push_back({{"name", "validation"}, {"values", val}});
    p.body += "<h3>Class balance</h3>\n";
    p.chart("chart-balance", "bars", {{"type", "bars"}, {"labels", labels}, {"series", s}});
  }
  if (a.train_stats && a.val_stats) {
    p.body +=
        "<h3>Train and validation as stored (before "
        "preprocessing)</h3>\n<table><tr><th>channel</th><th>"
        "train mean</th><th>train std</th><th>validation mean</th><th>validation std</th></tr>\n";
    const size_t n = std::min(a.train_stats->channel_mean.size(), a.val_stats->channel_mean.size());
    for (size_t c = 0; c < n; ++c) {
      p.body += fmt::format(
          "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td "
          "class=\"num\">{}</td><td class=\"num\">{}</td></tr>\n",
          c, cell(a.train_stats->channel_mean[c]), cell(a.train_stats->channel_std[c]),
          cell(a.val_stats->channel_mean[c]), cell(a.val_stats->channel_std[c]));
    }
    p.body += "</table>\n";
  }
  if (!a.noise_matrix.empty()) {
    double peak = 0;
    for (const auto& row : a.noise_matrix)
      for (double v : row) peak = std::max(peak, v);
    p.body +=
        "<h3>Label noise: estimated joint P(given = row, true = column)</h3>\n<p class=\"meta\">"
        "off the diagonal: labels the check believes wrong</p><div class=\"scroll\"><table>";
    p.body += "<tr><th>given \\ true</th>";
    for (size_t j = 0; j < a.noise_matrix.front().size(); ++j)
      p.body += fmt::format("<th>{}</th>", escape(name(j)));
    p.body += "</tr>\n";
    // Three significant digits in the cell (small off-diagonal masses stay visible, not
    // "0.00"); the exact value, as stored, in the cell's title.
    for (size_t i = 0; i < a.noise_matrix.size(); ++i) {
      p.body += fmt::format("<tr><th>{}</th>", escape(name(i)));
      for (double v : a.noise_matrix[i]) {
        p.body += fmt::format(
            "<td class=\"num\" title=\"{}\" style=\"background:rgba(209,36,47,{:.2f})\">{}"
            "</td>",
            std::isfinite(v) ? fmt::format("{}", v) : cell(v),
            peak > 0 && std::isfinite(v) ? 0.6 * v / peak : 0.0,
            std::isfinite(v) ? fmt::format("{:.3g}", v) : cell(v));
      }
      p.body += "</tr>\n";
    }
    p.body += "</table></div>\n";
  }
  p.body += "</section>\n";
}

void symptoms_and_spec(Page& p, const HtmlReport& h) {
  const Report& r = *h.report;
  if (!r.symptoms.empty()) {
    p.body += "<section id=\"symptoms\"><h2>Symptoms</h2>\n<div class=\"scroll\"><table>";
    p.body += "<tr><th>symptom</th><th>step</th><th>layer</th><th>value</th></tr>\n";
    for (const auto& s : r.symptoms) {
      p.body += fmt::format(
          "<tr class=\"symptom\"><td>{}</td><td class=\"num\">{}</td><td>{}</td><td "
          "class=\"num\">{}</td></tr>\n",
          breakable(s.id), s.step >= 0 ? std::to_string(s.step) : "", escape(s.layer),
          cell(s.value));
    }
    p.body += "</table></div></section>\n";
  }
  p.body += "<section id=\"reproduce\"><h2>Reproduce</h2>\n";
  if (!h.command_line.empty()) {
    p.body += "<pre id=\"command-line\">" + escape(h.command_line) + "</pre>\n";
  }
  if (!h.spec_yaml.empty()) {
    p.body += "<details open><summary>spec (resolved)</summary><pre id=\"spec\">" +
              escape(h.spec_yaml) + "</pre></details>\n";
  }
  p.body += "</section>\n";
}

}  // namespace

std::vector<std::pair<double, double>> downsample(const std::vector<std::pair<double, double>>& xy,
                                                  size_t max_points) {
  if (xy.size() <= max_points || max_points < 3) return xy;
  const size_t buckets = max_points / 3;
  std::vector<std::pair<double, double>> out;
  out.reserve(buckets * 3 + 1);
  for (size_t b = 0; b < buckets; ++b) {
    const size_t lo = b * xy.size() / buckets, hi = (b + 1) * xy.size() / buckets;
    if (lo >= hi) continue;
    size_t imin = lo, imax = lo;
    std::vector<size_t> keep = {lo};
    for (size_t i = lo; i < hi; ++i) {
      const double y = xy[i].second;
      if (!std::isfinite(y)) {
        keep.push_back(i);  // NaN and Inf are findings: never averaged away
        continue;
      }
      if (!std::isfinite(xy[imin].second) || y < xy[imin].second) imin = i;
      if (!std::isfinite(xy[imax].second) || y > xy[imax].second) imax = i;
    }
    keep.push_back(imin);
    keep.push_back(imax);
    std::sort(keep.begin(), keep.end());
    keep.erase(std::unique(keep.begin(), keep.end()), keep.end());
    for (size_t i : keep) out.push_back(xy[i]);
  }
  return out;
}

std::string render_html(const HtmlReport& h) {
  Page p;
  const Report& r = *h.report;
  header(p, h);
  if (r.command != "train" || !r.findings.empty()) findings_table(p, r);
  if (h.record != nullptr) loss_chart(p, r, *h.record);
  if (h.record != nullptr) layer_heatmaps(p, r, *h.record);
  confirmation_section(p, r, h.record);
  repair_section(p, h.repair_runs);
  if (h.lr_find) lr_find_section(p, *h.lr_find);
  if (h.audit) audit_section(p, *h.audit);
  symptoms_and_spec(p, h);

  std::string data = json{{"charts", p.charts}}.dump();
  // Inside <script>, "</" could close the element early.
  for (size_t i = data.find("</"); i != std::string::npos; i = data.find("</", i + 2))
    data.replace(i, 2, "<\\/");
  std::string out = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n";
  out += "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n";
  out += "<meta name=\"generator\" content=\"lossdoctor\">\n";
  out += "<title>" + escape(h.title) + "</title>\n<style>" + html_assets::kStyle +
         "</style></head>\n<body data-errors=\"0\">\n";
  out += p.body;
  out +=
      "<footer class=\"meta\">lossdoctor report · tables round numbers for reading (4 "
      "significant digits, confidences to 2 decimals; the JSON report keeps them whole); curves "
      "longer than " +
      std::to_string(kMaxCurvePoints) +
      " points are drawn downsampled (first, min and max per bucket)</footer>\n";
  out += "<script type=\"application/json\" id=\"lossdoctor-data\">" + data + "</script>\n";
  out += std::string("<script>") + html_assets::kScript + "</script>\n</body></html>\n";
  return out;
}

}  // namespace lossdoctor::report
