#include "lossdoctor/report/report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "lossdoctor/util/number.hpp"

namespace lossdoctor::report {
namespace {

using nlohmann::json;

json num(double v) { return std::isfinite(v) ? json(v) : json(); }
double get_num(const json& j, const char* key) {
  const auto it = j.find(key);
  return it == j.end() || it->is_null() ? std::nan("") : it->get<double>();
}

/// A YAML scalar text as the JSON value it denotes (numbers, booleans, null, else string).
json yaml_scalar_to_json(const std::string& text) {
  if (text == "true") return true;
  if (text == "false") return false;
  if (text == "null" || text == "~") return nullptr;
  try {
    size_t used = 0;
    if (text.find_first_of(".eE") == std::string::npos) {
      const long long v = std::stoll(text, &used);
      if (used == text.size()) return v;
    }
  } catch (...) {
  }
  // Infinity and NaN stay text: JSON has no spelling for them (nlohmann writes null).
  if (const auto d = parse_number(text); d && std::isfinite(*d)) return *d;
  if (!text.empty() && (text.front() == '[' || text.front() == '{')) return text;  // flow YAML
  return text;
}

json stats_json(const TensorStats& s) {
  return {{"mean", num(s.mean)},
          {"std", num(s.std)},
          {"min", num(s.min)},
          {"max", num(s.max)},
          {"nonfinite_fraction", s.nonfinite_fraction}};
}
TensorStats stats_from(const json& j) {
  return {get_num(j, "mean"), get_num(j, "std"), get_num(j, "min"), get_num(j, "max"),
          get_num(j, "nonfinite_fraction")};
}

}  // namespace

json finding_to_json(const Finding& f) {
  json j{{"cause", f.cause},
         {"confidence", std::round(f.confidence * 1000) / 1000},
         {"status", f.status},
         {"layer", f.layer.empty() ? json() : json(f.layer)},
         {"symptoms", f.symptoms},
         {"evidence", f.evidence},
         {"explanation", f.explanation}};
  if (f.first_step) j["first_step"] = *f.first_step;
  json fix = json::object();
  for (const auto& [k, v] : f.fix) fix[k] = yaml_scalar_to_json(v);
  j["fix"] = fix;
  if (!f.severity.empty()) j["severity"] = f.severity;
  if (!f.samples.empty()) j["samples"] = f.samples;
  if (f.samples_omitted > 0) j["samples_omitted"] = f.samples_omitted;
  return j;
}

json symptom_to_json(const Symptom& s) {
  return {{"id", s.id},
          {"step", s.step >= 0 ? json(s.step) : json()},
          {"layer", s.layer.empty() ? json() : json(s.layer)},
          {"value", num(s.value)},
          {"severity", std::round(s.severity * 1000) / 1000},
          {"evidence", s.evidence}};
}

json confirmation_to_json(const Confirmation& c) {
  const auto r3 = [](double v) { return num(std::round(v * 1000) / 1000); };
  json arms = json::array();
  for (const auto& a : c.arms) {
    json measures = json::array();
    for (const auto& m : a.measures) {
      measures.push_back({{"name", m.name},
                          {"pairs", m.pairs},
                          {"t", r3(m.t)},
                          {"effect", r3(m.effect)},
                          {"base", {r3(m.base_start), r3(m.base_end)}},
                          {"arm", {r3(m.arm_start), r3(m.arm_end)}}});
    }
    json fix = json::object();
    for (const auto& [k, v] : a.fix) fix[k] = yaml_scalar_to_json(v);
    arms.push_back({{"causes", a.causes},
                    {"intervention", a.intervention},
                    {"fix", fix},
                    {"status", a.status},
                    {"reason", a.reason},
                    {"steps", a.steps},
                    {"window", a.window},
                    {"seconds", r3(a.seconds)},
                    {"yardstick", a.yardstick},
                    {"measures", measures}});
  }
  return {{"arms", arms},
          {"steps", c.steps},
          {"seconds", r3(c.seconds)},
          {"diagnosis_steps", c.diagnosis_steps},
          {"diagnosis_seconds", r3(c.diagnosis_seconds)},
          {"cost_ratio", r3(c.cost_ratio)},
          {"yardstick",
           {{"size", c.yardstick_size},
            {"eval_every", c.eval_every},
            {"seconds", r3(c.yardstick_seconds)}}},
          {"notes", c.notes}};
}

json to_json(const Report& r) {
  std::vector<Finding> sorted = r.findings;
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const Finding& a, const Finding& b) { return a.confidence > b.confidence; });
  json findings = json::array(), symptoms = json::array();
  for (const auto& f : sorted) findings.push_back(finding_to_json(f));
  for (const auto& s : r.symptoms) symptoms.push_back(symptom_to_json(s));
  json j{{"command", r.command},
         {"spec", r.spec},
         {"verdict", r.verdict},
         {"steps_run", r.steps_run},
         {"seconds", std::round(r.seconds * 10) / 10},
         {"device", r.device},
         {"findings", findings},
         {"symptoms", symptoms},
         {"notes", r.notes}};
  if (!r.injected.empty()) j["injected"] = r.injected;
  if (r.world_size > 1) {
    j["world_size"] = r.world_size;
    j["global_batch_size"] = r.global_batch_size;
  }
  if (!r.timeline.empty()) {
    json t = json::array();
    for (const auto& e : r.timeline) {
      t.push_back({{"step", e.step},
                   {"cause", e.cause},
                   {"confidence", std::round(e.confidence * 1000) / 1000}});
    }
    j["timeline"] = t;
  }
  if (r.confirmation) j["confirmation"] = confirmation_to_json(*r.confirmation);
  return j;
}

std::string fix_as_overrides(const std::map<std::string, std::string>& fix) {
  std::string out;
  for (const auto& [k, v] : fix) {
    const bool quote = v.find_first_of(" {}[],") != std::string::npos;
    out += fmt::format("{}--set {}={}", out.empty() ? "" : " ", k, quote ? "'" + v + "'" : v);
  }
  return out;
}

namespace {

/// "true"/"false" as Python spells them.
std::string python_bool(const std::string& v) {
  return v == "true" ? "True" : v == "false" ? "False" : v;
}

/// One fix entry in a loop's terms.
std::string loop_setting(const std::string& key, const std::string& value) {
  static const std::string optimizer = "optimizer.", model = "model.";
  if (key == "batch_size") return fmt::format("DataLoader(batch_size={})", value);
  if (key == "data.shuffle") return fmt::format("DataLoader(shuffle={})", python_bool(value));
  if (key == "optimizer.betas" && value.size() > 1 && value.front() == '[' && value.back() == ']')
    return fmt::format("optimizer betas=({})", value.substr(1, value.size() - 2));
  if (key.rfind(optimizer, 0) == 0)
    return fmt::format("optimizer {}={}", key.substr(optimizer.size()), value);
  if (key == "clip_grad_norm")
    return value == "null" || value.empty()
               ? "no clip_grad_norm_"
               : fmt::format("clip_grad_norm_(model.parameters(), max_norm={})", value);
  if (key == "schedule.type" && value == "constant") return "no lr scheduler (a constant rate)";
  if (key == "model.init" && value == "{weight: he_normal, bias: zeros}")
    return "weights nn.init.kaiming_normal_, biases nn.init.zeros_";
  if (key == "data.transforms.train" && value == "[{scale: 0.00392156862745098}]")
    return "training inputs scaled to [0, 1] (x / 255), then normalised";
  // A layer setting read from the model (the Python Monitor's module names, "model.<name>").
  if (key.rfind(model, 0) == 0) {
    const size_t dot = key.rfind('.');
    const std::string layer = key.substr(0, dot), what = key.substr(dot + 1);
    if (dot > model.size() - 1) {
      if (what == "rate") return fmt::format("{} p={}", layer, value);
      if (what == "units") return fmt::format("{} out_features={}", layer, value);
      if (what == "filters") return fmt::format("{} out_channels={}", layer, value);
    }
  }
  return key + "=" + value;
}

}  // namespace

std::string fix_as_loop_settings(const std::map<std::string, std::string>& fix) {
  std::string out;
  for (const auto& [k, v] : fix) out += (out.empty() ? "" : ", ") + loop_setting(k, v);
  return out;
}

std::string render_text(const Report& r, bool color) {
  const auto paint = [&](const char* code, const std::string& text) {
    return color ? fmt::format("\033[{}m{}\033[0m", code, text) : text;
  };
  std::string out;
  std::vector<Finding> sorted = r.findings;
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const Finding& a, const Finding& b) { return a.confidence > b.confidence; });
  if (r.verdict == "healthy") {
    out += paint("32;1", "verdict: healthy");
  } else {
    out += paint("31;1", "verdict: unhealthy");
  }
  out += fmt::format(" — {}{}{}\n", r.spec,
                     r.steps_run == 0 ? std::string()
                     : r.seconds > 0  ? fmt::format(" ({} steps, {:.1f} s)", r.steps_run, r.seconds)
                                      : fmt::format(" ({} steps)", r.steps_run),
                     r.world_size > 1 ? fmt::format(" on {} ranks, global batch {}", r.world_size,
                                                    r.global_batch_size)
                                      : std::string());
  int rank = 0;
  for (const auto& f : sorted) {
    ++rank;
    std::string head =
        fmt::format("{}. {}  confidence {:.2f}  {}", rank, f.cause, f.confidence, f.status);
    if (f.first_step) head += fmt::format("  from step {}", *f.first_step);
    if (!f.layer.empty()) head += fmt::format("  at {}", f.layer);
    if (r.command == "lint" && !f.severity.empty()) head += fmt::format("  [{}]", f.severity);
    out += "\n" + paint("1", head) + "\n";
    if (!f.symptoms.empty()) {
      std::string joined;
      for (const auto& s : f.symptoms) joined += (joined.empty() ? "" : ", ") + s;
      out += "   symptoms: " + joined + "\n";
    }
    for (const auto& e : f.evidence) out += "   - " + e + "\n";
    if (!f.explanation.empty()) out += "   why: " + f.explanation + "\n";
    if (!f.fix.empty()) {
      out += "   fix: " + (r.custom_loop ? fix_as_loop_settings(f.fix) : fix_as_overrides(f.fix)) +
             "\n";
    }
    if (!f.samples.empty()) {
      out += fmt::format(
          "   samples flagged: {}{}\n", static_cast<int64_t>(f.samples.size()) + f.samples_omitted,
          f.samples_omitted > 0 ? fmt::format(" ({} listed in the JSON)", f.samples.size()) : "");
    }
  }
  if (r.confirmation) {
    const Confirmation& c = *r.confirmation;
    out +=
        fmt::format("\nconfirmation: {} rerun{}, {} steps, {:.1f} s ({:.2f}× the diagnosis run)\n",
                    c.arms.size(), c.arms.size() == 1 ? "" : "s", c.steps, c.seconds, c.cost_ratio);
    for (const auto& a : c.arms) {
      std::string causes;
      for (const auto& x : a.causes) causes += (causes.empty() ? "" : " + ") + x;
      out += fmt::format("   {}: {} — {} ({} of {} steps, {:.1f} s): {}\n", causes, a.intervention,
                         a.status, a.steps, a.window, a.seconds, a.reason);
    }
    for (const auto& n : c.notes) out += "   " + n + "\n";
  }
  for (const auto& n : r.notes) out += "\nnote: " + n + "\n";
  return out;
}

json record_to_json(const RunRecord& r) {
  json layers = json::array();
  for (const auto& l : r.layers) {
    layers.push_back({{"name", l.name},
                      {"kind", l.kind},
                      {"output_shape", l.output_shape},
                      {"fan_in", l.fan_in},
                      {"has_weights", l.has_weights}});
  }
  json steps = json::array();
  for (const auto& s : r.steps) {
    steps.push_back({{"step", s.step},
                     {"epoch", s.epoch},
                     {"loss", num(s.loss)},
                     {"lr", num(s.lr)},
                     {"grad_norm", num(s.grad_norm)},
                     {"update_norm", num(s.update_norm)},
                     {"weight_norm", num(s.weight_norm)},
                     {"batch_accuracy", num(s.batch_accuracy)},
                     {"eval_batch_accuracy", num(s.eval_batch_accuracy)},
                     {"label_histogram", s.label_histogram},
                     {"input", stats_json(s.input)},
                     {"grad_change_ratio", num(s.grad_change_ratio)},
                     {"reference_loss", num(s.reference_loss)},
                     {"odd_input_fraction", num(s.odd_input_fraction)}});
  }
  json probes = json::array();
  for (const auto& p : r.probes) {
    json ls = json::array();
    for (const auto& l : p.layers) {
      ls.push_back({{"activation", stats_json(l.activation)},
                    {"dead_fraction", num(l.dead_fraction)},
                    {"saturated_fraction", num(l.saturated_fraction)},
                    {"grad_norm", num(l.grad_norm)},
                    {"weight_norm", num(l.weight_norm)},
                    {"update_ratio", num(l.update_ratio)},
                    {"has_weights", l.has_weights}});
    }
    probes.push_back({{"step", p.step}, {"layers", ls}});
  }
  json epochs = json::array();
  for (const auto& e : r.epochs) {
    epochs.push_back({{"epoch", e.epoch},
                      {"step", e.step},
                      {"train_loss", num(e.train_loss)},
                      {"train_accuracy", num(e.train_accuracy)},
                      {"val_loss", num(e.val_loss)},
                      {"val_accuracy", num(e.val_accuracy)}});
  }
  json noise = json::array();
  for (const auto& n : r.noise) {
    noise.push_back({{"step", n.step},
                     {"mean_sq_grad_norm", num(n.mean_sq_grad_norm)},
                     {"sq_mean_grad_norm", num(n.sq_mean_grad_norm)}});
  }
  const auto split = [](const std::optional<SplitStats>& s) -> json {
    if (!s) return nullptr;
    return {{"channel_mean", s->channel_mean},
            {"channel_std", s->channel_std},
            {"min", num(s->min)},
            {"max", num(s->max)},
            {"samples", s->samples}};
  };
  json samples = json::array();
  for (const auto& s : r.samples) {
    samples.push_back({s.times_seen, num(s.last_loss), num(s.mean_margin), s.first_learned_step,
                       s.look, num(s.first_margin)});
  }
  json j{{"spec_name", r.spec_name},
         {"custom_loop", r.custom_loop},
         {"num_classes", r.num_classes},
         {"batch_size", r.batch_size},
         {"train_size", r.train_size},
         {"optimizer", r.optimizer},
         {"base_lr", r.base_lr},
         {"loss", r.loss},
         {"from_logits", r.from_logits},
         {"probe_every", r.probe_every},
         {"clip_grad_norm", r.clip_grad_norm},
         {"train_augmentation", r.train_augmentation},
         {"layers", layers},
         {"steps", steps},
         {"probes", probes},
         {"epochs", epochs},
         {"noise", noise},
         {"train_stats", split(r.train_stats)},
         {"val_stats", split(r.val_stats)},
         {"samples", samples}};
  if (r.noise_like_shares) {
    j["noise_like_shares"] = {{"train", r.noise_like_shares->train},
                              {"val", r.noise_like_shares->val},
                              {"standard_error", r.noise_like_shares->standard_error}};
  }
  if (r.label_agreement) {
    j["label_agreement"] = {{"gap_z", r.label_agreement->gap},
                            {"learned_z", r.label_agreement->learned}};
  }
  const LoopChecks& lc = r.loop;
  j["loop"] = {{"eval_mode_steps", lc.eval_mode_steps},
               {"grads_not_reset_steps", lc.grads_not_reset_steps},
               {"probability_output_steps", lc.probability_output_steps},
               {"output_checks", lc.output_checks},
               {"labels_out_of_range_steps", lc.labels_out_of_range_steps},
               {"largest_label", lc.largest_label},
               {"params_missing_from_optimizer", lc.params_missing_from_optimizer},
               {"optimizer_params_not_in_model", lc.optimizer_params_not_in_model},
               {"model_params", lc.model_params}};
  if (r.distributed) {  // data-parallel runs: [step, epoch, batch, [[loss, gnorm, s, hash, hist]]]
    const DistributedRecord& d = *r.distributed;
    json dsteps = json::array(), sums = json::array();
    for (const auto& s : d.steps) {
      json ranks = json::array();
      for (const auto& k : s.ranks) {
        ranks.push_back(
            {num(k.loss), num(k.grad_norm), num(k.seconds), k.batch_hash, k.label_histogram});
      }
      dsteps.push_back({s.step, s.epoch, s.batch_index, ranks});
    }
    for (const auto& c : d.checksums) {
      json values = json::array();
      for (double v : c.ranks) values.push_back(num(v));
      sums.push_back({c.step, values});
    }
    j["distributed"] = {{"world_size", d.world_size},
                        {"global_batch_size", d.global_batch_size},
                        {"steps_per_epoch", d.steps_per_epoch},
                        {"lr_scale", d.lr_scale},
                        {"lr_scaling", d.lr_scaling},
                        {"warmup_steps", d.warmup_steps},
                        {"steps", dsteps},
                        {"checksums", sums}};
  }
  if (r.first_nonfinite) {
    j["first_nonfinite"] = {{"step", r.first_nonfinite->step},
                            {"layer", r.first_nonfinite->layer},
                            {"in_backward", r.first_nonfinite->in_backward}};
  }
  return j;
}

RunRecord record_from_json(const json& j) {
  RunRecord r;
  r.spec_name = j.value("spec_name", "");
  r.custom_loop = j.value("custom_loop", false);
  r.num_classes = j.value("num_classes", 0);
  r.batch_size = j.value("batch_size", 0);
  r.train_size = j.value("train_size", 0);
  r.optimizer = j.value("optimizer", "");
  r.base_lr = j.value("base_lr", 0.0);
  r.loss = j.value("loss", "");
  r.from_logits = j.value("from_logits", true);
  r.probe_every = j.value("probe_every", 10);
  r.clip_grad_norm = j.value("clip_grad_norm", 0.0);
  r.train_augmentation = j.value("train_augmentation", false);
  for (const auto& l : j.at("layers")) {
    r.layers.push_back({l.at("name"), l.at("kind"),
                        l.at("output_shape").get<std::vector<int64_t>>(), l.at("fan_in"),
                        l.at("has_weights")});
  }
  for (const auto& s : j.at("steps")) {
    StepSample x;
    x.step = s.at("step");
    x.epoch = s.at("epoch");
    x.loss = get_num(s, "loss");
    x.lr = get_num(s, "lr");
    x.grad_norm = get_num(s, "grad_norm");
    x.update_norm = get_num(s, "update_norm");
    x.weight_norm = get_num(s, "weight_norm");
    x.batch_accuracy = get_num(s, "batch_accuracy");
    x.eval_batch_accuracy = get_num(s, "eval_batch_accuracy");
    x.label_histogram = s.at("label_histogram").get<std::vector<int64_t>>();
    x.input = stats_from(s.at("input"));
    x.grad_change_ratio = get_num(s, "grad_change_ratio");
    x.reference_loss = get_num(s, "reference_loss");
    x.odd_input_fraction = get_num(s, "odd_input_fraction");
    r.steps.push_back(std::move(x));
  }
  for (const auto& p : j.at("probes")) {
    LayerProbe probe;
    probe.step = p.at("step");
    for (const auto& l : p.at("layers")) {
      LayerSample s;
      s.activation = stats_from(l.at("activation"));
      s.dead_fraction = get_num(l, "dead_fraction");
      s.saturated_fraction = get_num(l, "saturated_fraction");
      s.grad_norm = get_num(l, "grad_norm");
      s.weight_norm = get_num(l, "weight_norm");
      s.update_ratio = get_num(l, "update_ratio");
      s.has_weights = l.at("has_weights");
      probe.layers.push_back(s);
    }
    r.probes.push_back(std::move(probe));
  }
  for (const auto& e : j.at("epochs")) {
    r.epochs.push_back({e.at("epoch"), e.at("step"), get_num(e, "train_loss"),
                        get_num(e, "train_accuracy"), get_num(e, "val_loss"),
                        get_num(e, "val_accuracy")});
  }
  for (const auto& n : j.at("noise")) {
    r.noise.push_back(
        {n.at("step"), get_num(n, "mean_sq_grad_norm"), get_num(n, "sq_mean_grad_norm")});
  }
  const auto split = [&](const char* key) -> std::optional<SplitStats> {
    const auto it = j.find(key);
    if (it == j.end() || it->is_null()) return std::nullopt;
    SplitStats s;
    s.channel_mean = it->at("channel_mean").get<std::vector<double>>();
    s.channel_std = it->at("channel_std").get<std::vector<double>>();
    s.min = get_num(*it, "min");
    s.max = get_num(*it, "max");
    s.samples = it->at("samples");
    return s;
  };
  r.train_stats = split("train_stats");
  r.val_stats = split("val_stats");
  if (const auto it = j.find("noise_like_shares"); it != j.end() && !it->is_null()) {
    r.noise_like_shares =
        NoiseLikeShares{get_num(*it, "train"), get_num(*it, "val"), get_num(*it, "standard_error")};
  }
  if (const auto it = j.find("label_agreement"); it != j.end() && !it->is_null()) {
    r.label_agreement = LabelAgreementZ{get_num(*it, "gap_z"), get_num(*it, "learned_z")};
  }
  for (const auto& s : j.at("samples")) {
    SampleDynamics d;
    d.times_seen = s.at(0);
    d.last_loss = s.at(1).is_null() ? NAN : s.at(1).get<float>();
    d.mean_margin = s.at(2).is_null() ? NAN : s.at(2).get<float>();
    d.first_learned_step = s.at(3);
    if (s.size() > 5) {  // absent from records written before session 12
      d.look = s.at(4).get<int8_t>();
      d.first_margin = s.at(5).is_null() ? NAN : s.at(5).get<float>();
    }
    r.samples.push_back(d);
  }
  if (j.contains("loop")) {  // absent from records written before the Python Monitor
    const auto& l = j.at("loop");
    LoopChecks& lc = r.loop;
    lc.eval_mode_steps = l.value("eval_mode_steps", int64_t{0});
    lc.grads_not_reset_steps = l.value("grads_not_reset_steps", int64_t{0});
    lc.probability_output_steps = l.value("probability_output_steps", int64_t{0});
    lc.output_checks = l.value("output_checks", int64_t{0});
    lc.labels_out_of_range_steps = l.value("labels_out_of_range_steps", int64_t{0});
    lc.largest_label = l.value("largest_label", int64_t{-1});
    lc.params_missing_from_optimizer = l.value("params_missing_from_optimizer", int64_t{-1});
    lc.optimizer_params_not_in_model = l.value("optimizer_params_not_in_model", int64_t{-1});
    lc.model_params = l.value("model_params", int64_t{0});
  }
  if (j.contains("distributed")) {
    const auto& dj = j.at("distributed");
    const auto value = [](const json& v) { return v.is_null() ? NAN : v.get<double>(); };
    DistributedRecord d;
    d.world_size = dj.at("world_size");
    d.global_batch_size = dj.at("global_batch_size");
    d.steps_per_epoch = dj.at("steps_per_epoch");
    d.lr_scale = dj.at("lr_scale");
    d.lr_scaling = dj.at("lr_scaling");
    d.warmup_steps = dj.at("warmup_steps");
    for (const auto& s : dj.at("steps")) {
      DistributedStep step{s.at(0), s.at(1), s.at(2), {}};
      for (const auto& k : s.at(3)) {
        step.ranks.push_back({value(k.at(0)), value(k.at(1)), value(k.at(2)),
                              k.at(3).get<uint64_t>(), k.at(4).get<std::vector<int64_t>>()});
      }
      d.steps.push_back(std::move(step));
    }
    for (const auto& c : dj.at("checksums")) {
      ChecksumSample sample{c.at(0), {}};
      for (const auto& v : c.at(1)) sample.ranks.push_back(value(v));
      d.checksums.push_back(std::move(sample));
    }
    r.distributed = std::move(d);
  }
  if (j.contains("first_nonfinite")) {
    const auto& f = j.at("first_nonfinite");
    r.first_nonfinite = NonFiniteOrigin{f.at("step"), f.at("layer"), f.at("in_backward")};
  }
  return r;
}

}  // namespace lossdoctor::report
