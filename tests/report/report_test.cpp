// Report: the JSON shape of design.md, the terminal rendering, --set lines, and the RunRecord's
// JSON round trip. Pure, no torch.

#include "lossdoctor/report/report.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "diagnose/record_builder.hpp"

namespace lossdoctor::report {
namespace {

using nlohmann::json;

Finding make_finding(const std::string& cause, double confidence) {
  Finding f;
  f.cause = cause;
  f.confidence = confidence;
  f.status = "suspected";
  f.symptoms = {"diverging_loss"};
  f.evidence = {"loss 2.31 → 41.7 in 14 steps"};
  f.explanation = "Steps overshoot.";
  return f;
}

Report sample_report() {
  Report r;
  r.command = "diagnose";
  r.spec = "examples/seed-3-adam-lr1-batch1.yaml";
  r.verdict = "unhealthy";
  r.steps_run = 212;
  r.seconds = 31.44;
  r.device = "cpu";
  Finding low = make_finding("batch_too_small", 0.41);
  Finding high = make_finding("lr_too_high", 0.94);
  high.first_step = 14;
  high.layer = "layers[4].conv2d";
  high.fix = {{"optimizer.lr", "0.001"}};
  Finding mid = make_finding("unnormalized_input", 0.6);
  r.findings = {low, high, mid};  // deliberately unsorted
  Symptom s;
  s.id = "diverging_loss";
  s.step = 14;
  s.value = 41.7;
  s.severity = 0.8;
  s.evidence = {"loss 2.31 → 41.7"};
  r.symptoms = {s};
  return r;
}

TEST(ReportJson, TopLevelShapeFollowsDesign) {
  const json j = to_json(sample_report());
  for (const char* key :
       {"spec", "verdict", "steps_run", "seconds", "device", "findings", "symptoms", "notes"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(j["spec"], "examples/seed-3-adam-lr1-batch1.yaml");
  EXPECT_EQ(j["verdict"], "unhealthy");
  EXPECT_EQ(j["steps_run"], 212);
  EXPECT_TRUE(j["seconds"].is_number());
  EXPECT_NEAR(j["seconds"].get<double>(), 31.4, 1e-9);
  EXPECT_EQ(j["device"], "cpu");
  EXPECT_TRUE(j["findings"].is_array());
  EXPECT_TRUE(j["symptoms"].is_array());
  EXPECT_TRUE(j["notes"].is_array());
  EXPECT_FALSE(j.contains("injected")) << "no injection in the spec: no injected key";
  EXPECT_FALSE(j.contains("timeline"));
}

TEST(ReportJson, FindingsSortedByConfidenceHighestFirst) {
  const json j = to_json(sample_report());
  ASSERT_EQ(j["findings"].size(), 3u);
  EXPECT_EQ(j["findings"][0]["cause"], "lr_too_high");
  EXPECT_EQ(j["findings"][1]["cause"], "unnormalized_input");
  EXPECT_EQ(j["findings"][2]["cause"], "batch_too_small");
  double prev = 2;
  for (const auto& f : j["findings"]) {
    EXPECT_LE(f["confidence"].get<double>(), prev);
    prev = f["confidence"].get<double>();
  }
}

TEST(ReportJson, FindingKeysLayerNullAndFirstStepOmitted) {
  const json j = to_json(sample_report());
  const json& top = j["findings"][0];
  for (const char* key : {"cause", "confidence", "status", "first_step", "layer", "symptoms",
                          "evidence", "explanation", "fix"}) {
    EXPECT_TRUE(top.contains(key)) << key;
  }
  EXPECT_EQ(top["first_step"], 14);
  EXPECT_EQ(top["layer"], "layers[4].conv2d");
  EXPECT_EQ(top["status"], "suspected");
  EXPECT_NEAR(top["confidence"].get<double>(), 0.94, 1e-9);
  EXPECT_EQ(top["symptoms"], json::array({"diverging_loss"}));
  EXPECT_EQ(top["evidence"][0], "loss 2.31 → 41.7 in 14 steps");
  EXPECT_TRUE(top["fix"].is_object());

  const json& other = j["findings"][1];
  EXPECT_TRUE(other.contains("layer"));
  EXPECT_TRUE(other["layer"].is_null()) << "empty layer must be null";
  EXPECT_FALSE(other.contains("first_step")) << "unknown first_step must be omitted";
  EXPECT_TRUE(other["fix"].is_object());
  EXPECT_TRUE(other["fix"].empty());
}

TEST(ReportJson, FixValuesAreTyped) {
  Finding f = make_finding("lr_too_high", 0.9);
  f.fix = {{"optimizer.lr", "0.001"},
           {"batch_size", "32"},
           {"data.shuffle", "true"},
           {"model.bias", "false"},
           {"clip_grad_norm", "null"},
           {"optimizer.eps", "1e-8"},
           {"data.transforms.train", "[{scale: 0.00392156862745098}]"},
           {"model.init", "{weight: he_normal, bias: zeros}"},
           {"schedule.type", "constant"},
           {"clip_value", ".inf"},
           {"data.name", "1e-3x"}};
  const json fix = finding_to_json(f)["fix"];
  EXPECT_TRUE(fix["optimizer.lr"].is_number_float());
  EXPECT_DOUBLE_EQ(fix["optimizer.lr"].get<double>(), 0.001);
  EXPECT_TRUE(fix["batch_size"].is_number_integer());
  EXPECT_EQ(fix["batch_size"].get<int64_t>(), 32);
  EXPECT_TRUE(fix["data.shuffle"].is_boolean());
  EXPECT_TRUE(fix["data.shuffle"].get<bool>());
  EXPECT_TRUE(fix["model.bias"].is_boolean());
  EXPECT_FALSE(fix["model.bias"].get<bool>());
  EXPECT_TRUE(fix["clip_grad_norm"].is_null());
  ASSERT_TRUE(fix["optimizer.eps"].is_number());
  EXPECT_DOUBLE_EQ(fix["optimizer.eps"].get<double>(), 1e-8);
  EXPECT_TRUE(fix["data.transforms.train"].is_string()) << "flow YAML stays text";
  EXPECT_EQ(fix["data.transforms.train"], "[{scale: 0.00392156862745098}]");
  EXPECT_EQ(fix["model.init"], "{weight: he_normal, bias: zeros}");
  EXPECT_EQ(fix["schedule.type"], "constant");
  EXPECT_EQ(fix["clip_value"], ".inf") << "JSON has no infinity: it stays YAML text, not null";
  EXPECT_EQ(fix["data.name"], "1e-3x") << "a number only when all of it is one";
}

TEST(ReportJson, NonFiniteNumbersBecomeNull) {
  Symptom s;
  s.id = "nan_loss";
  s.step = 3;
  s.value = std::numeric_limits<double>::quiet_NaN();
  json j = symptom_to_json(s);
  EXPECT_TRUE(j["value"].is_null());
  s.value = std::numeric_limits<double>::infinity();
  j = symptom_to_json(s);
  EXPECT_TRUE(j["value"].is_null());

  Symptom untied;
  untied.id = "noisy_gradient";
  j = symptom_to_json(untied);
  EXPECT_TRUE(j["step"].is_null()) << "step -1 means not tied to a step";
  EXPECT_TRUE(j["layer"].is_null());

  // Whole report serialises to valid JSON text (NaN would be invalid JSON).
  Report r = sample_report();
  r.symptoms.push_back(s);
  const std::string text = to_json(r).dump();
  EXPECT_EQ(text.find("NaN"), std::string::npos);
  json parsed;
  ASSERT_NO_THROW(parsed = json::parse(text));
  EXPECT_TRUE(parsed["symptoms"].back()["value"].is_null());
}

TEST(ReportJson, SymptomShape) {
  const json j = to_json(sample_report());
  ASSERT_EQ(j["symptoms"].size(), 1u);
  const json& s = j["symptoms"][0];
  EXPECT_EQ(s["id"], "diverging_loss");
  EXPECT_EQ(s["step"], 14);
  EXPECT_TRUE(s["layer"].is_null());
  EXPECT_DOUBLE_EQ(s["value"].get<double>(), 41.7);
}

TEST(ReportJson, InjectedAuditSamplesAndTimeline) {
  Report r = sample_report();
  r.injected = {{"label_noise", {}}, {"corrupt", {3, 17, 42}}};
  r.findings[0].samples = {3, 17};
  r.timeline = {{25, "lr_too_high", 0.71234}, {50, "lr_too_high", 0.9}};
  const json j = to_json(r);
  ASSERT_TRUE(j.contains("injected"));
  EXPECT_EQ(j["injected"]["corrupt"], json::array({3, 17, 42}));
  EXPECT_TRUE(j["injected"]["label_noise"].is_array());
  EXPECT_TRUE(j["injected"]["label_noise"].empty());
  bool found = false;
  for (const auto& f : j["findings"]) {
    if (f["cause"] == "batch_too_small") {
      found = true;
      EXPECT_EQ(f["samples"], json::array({3, 17}));
    } else {
      EXPECT_FALSE(f.contains("samples"));
    }
  }
  EXPECT_TRUE(found);
  ASSERT_TRUE(j.contains("timeline"));
  ASSERT_EQ(j["timeline"].size(), 2u);
  EXPECT_EQ(j["timeline"][0]["step"], 25);
  EXPECT_EQ(j["timeline"][0]["cause"], "lr_too_high");
  EXPECT_NEAR(j["timeline"][0]["confidence"].get<double>(), 0.712, 1e-9);
}

TEST(ReportText, ContainsVerdictCauseEvidenceAndFix) {
  const std::string text = render_text(sample_report(), false);
  EXPECT_NE(text.find("verdict: unhealthy"), std::string::npos) << text;
  EXPECT_NE(text.find("lr_too_high"), std::string::npos) << text;
  EXPECT_NE(text.find("loss 2.31 → 41.7 in 14 steps"), std::string::npos) << text;
  EXPECT_NE(text.find("fix: --set optimizer.lr=0.001"), std::string::npos) << text;
  EXPECT_NE(text.find("from step 14"), std::string::npos) << text;
  EXPECT_NE(text.find("at layers[4].conv2d"), std::string::npos) << text;
  // Top cause first.
  EXPECT_LT(text.find("lr_too_high"), text.find("unnormalized_input"));
  EXPECT_LT(text.find("unnormalized_input"), text.find("batch_too_small"));
  EXPECT_EQ(text.find("\033["), std::string::npos) << "no color codes without color";
  EXPECT_NE(render_text(sample_report(), true).find("\033["), std::string::npos);
}

TEST(ReportText, HealthyVerdictAndNotes) {
  Report r;
  r.command = "diagnose";
  r.spec = "x.yaml";
  r.verdict = "healthy";
  Finding h;
  h.cause = "healthy";
  h.confidence = 0.9;
  h.evidence = {"loss 2.3 → 0.4 over 200 steps (-83%)"};
  r.findings = {h};
  r.notes = {"overfitting (not a training fault): val loss rises"};
  const std::string text = render_text(r, false);
  EXPECT_NE(text.find("verdict: healthy"), std::string::npos) << text;
  EXPECT_NE(text.find("loss 2.3 → 0.4 over 200 steps"), std::string::npos) << text;
  EXPECT_NE(text.find("note: overfitting"), std::string::npos) << text;
  EXPECT_EQ(text.find("fix:"), std::string::npos) << text;
}

TEST(ReportText, CustomLoopFixesAreLoopSettingsAndTheJsonKeepsItsShape) {
  Report r = sample_report();
  const nlohmann::json spec_json = to_json(r);
  r.custom_loop = true;  // a Monitor's report, or --record-in of its RunRecord
  const std::string text = render_text(r, false);
  EXPECT_NE(text.find("fix: optimizer lr=0.001"), std::string::npos) << text;
  EXPECT_EQ(text.find("--set"), std::string::npos) << text;
  EXPECT_EQ(to_json(r), spec_json) << "the JSON keeps the override keys and its shape";
  // Near miss: a spec run keeps the overrides.
  r.custom_loop = false;
  EXPECT_NE(render_text(r, false).find("fix: --set optimizer.lr=0.001"), std::string::npos);
}

TEST(FixAsLoopSettings, SpeaksOfTheLoop) {
  EXPECT_EQ(fix_as_loop_settings({}), "");
  EXPECT_EQ(fix_as_loop_settings({{"optimizer.lr", "0.001"}, {"batch_size", "32"}}),
            "DataLoader(batch_size=32), optimizer lr=0.001");
  EXPECT_EQ(fix_as_loop_settings({{"data.shuffle", "true"}}), "DataLoader(shuffle=True)");
  EXPECT_EQ(fix_as_loop_settings({{"optimizer.betas", "[0.9, 0.999]"}}),
            "optimizer betas=(0.9, 0.999)");
  EXPECT_EQ(fix_as_loop_settings({{"model.classifier.2.rate", "0.25"}}),
            "model.classifier.2 p=0.25");
  EXPECT_EQ(fix_as_loop_settings({{"model.3.units", "64"}}), "model.3 out_features=64");
  EXPECT_EQ(fix_as_loop_settings({{"clip_grad_norm", "5"}}),
            "clip_grad_norm_(model.parameters(), max_norm=5)");
  EXPECT_EQ(fix_as_loop_settings({{"schedule.type", "constant"}}),
            "no lr scheduler (a constant rate)");
  // Near miss: a key without a loop phrasing stays key=value.
  EXPECT_EQ(fix_as_loop_settings({{"schedule.gamma", "0.5"}}), "schedule.gamma=0.5");
  EXPECT_EQ(fix_as_loop_settings({{"model.init", "{weight: glorot_normal}"}}),
            "model.init={weight: glorot_normal}");
}

TEST(FixAsOverrides, QuotesFlowYamlOnly) {
  EXPECT_EQ(fix_as_overrides({}), "");
  EXPECT_EQ(fix_as_overrides({{"optimizer.lr", "0.001"}}), "--set optimizer.lr=0.001");
  EXPECT_EQ(fix_as_overrides({{"optimizer.lr", "0.001"}, {"batch_size", "32"}}),
            "--set batch_size=32 --set optimizer.lr=0.001");
  EXPECT_EQ(fix_as_overrides({{"model.init", "{weight: he_normal, bias: zeros}"}}),
            "--set model.init='{weight: he_normal, bias: zeros}'");
  EXPECT_EQ(fix_as_overrides({{"data.transforms.train", "[{scale: 0.00392156862745098}]"}}),
            "--set data.transforms.train='[{scale: 0.00392156862745098}]'");
  EXPECT_EQ(fix_as_overrides({{"clip_grad_norm", "null"}}), "--set clip_grad_norm=null");
}

// ---------------------------------------------------------------------------------------------
// RunRecord JSON round trip.

void expect_same_double(double a, double b, const std::string& what) {
  if (std::isnan(a)) {
    EXPECT_TRUE(std::isnan(b)) << what;
  } else {
    EXPECT_DOUBLE_EQ(a, b) << what;
  }
}

void expect_same_stats(const TensorStats& a, const TensorStats& b, const std::string& what) {
  expect_same_double(a.mean, b.mean, what + ".mean");
  expect_same_double(a.std, b.std, what + ".std");
  expect_same_double(a.min, b.min, what + ".min");
  expect_same_double(a.max, b.max, what + ".max");
  expect_same_double(a.nonfinite_fraction, b.nonfinite_fraction, what + ".nonfinite_fraction");
}

void expect_same_split(const std::optional<SplitStats>& a, const std::optional<SplitStats>& b,
                       const std::string& what) {
  ASSERT_EQ(a.has_value(), b.has_value()) << what;
  if (!a) return;
  EXPECT_EQ(a->channel_mean, b->channel_mean) << what;
  EXPECT_EQ(a->channel_std, b->channel_std) << what;
  expect_same_double(a->min, b->min, what + ".min");
  expect_same_double(a->max, b->max, what + ".max");
  EXPECT_EQ(a->samples, b->samples) << what;
}

void expect_same_record(const RunRecord& a, const RunRecord& b) {
  EXPECT_EQ(a.spec_name, b.spec_name);
  EXPECT_EQ(a.custom_loop, b.custom_loop);
  EXPECT_EQ(a.num_classes, b.num_classes);
  EXPECT_EQ(a.batch_size, b.batch_size);
  EXPECT_EQ(a.train_size, b.train_size);
  EXPECT_EQ(a.optimizer, b.optimizer);
  EXPECT_DOUBLE_EQ(a.base_lr, b.base_lr);
  EXPECT_EQ(a.loss, b.loss);
  EXPECT_EQ(a.from_logits, b.from_logits);
  EXPECT_EQ(a.probe_every, b.probe_every);
  EXPECT_DOUBLE_EQ(a.clip_grad_norm, b.clip_grad_norm);
  ASSERT_EQ(a.layers.size(), b.layers.size());
  for (size_t i = 0; i < a.layers.size(); ++i) {
    EXPECT_EQ(a.layers[i].name, b.layers[i].name);
    EXPECT_EQ(a.layers[i].kind, b.layers[i].kind);
    EXPECT_EQ(a.layers[i].output_shape, b.layers[i].output_shape);
    EXPECT_EQ(a.layers[i].fan_in, b.layers[i].fan_in);
    EXPECT_EQ(a.layers[i].has_weights, b.layers[i].has_weights);
  }
  ASSERT_EQ(a.steps.size(), b.steps.size());
  for (size_t i = 0; i < a.steps.size(); ++i) {
    const auto &x = a.steps[i], &y = b.steps[i];
    const std::string w = "steps[" + std::to_string(i) + "]";
    EXPECT_EQ(x.step, y.step) << w;
    EXPECT_EQ(x.epoch, y.epoch) << w;
    expect_same_double(x.loss, y.loss, w + ".loss");
    expect_same_double(x.lr, y.lr, w + ".lr");
    expect_same_double(x.grad_norm, y.grad_norm, w + ".grad_norm");
    expect_same_double(x.update_norm, y.update_norm, w + ".update_norm");
    expect_same_double(x.weight_norm, y.weight_norm, w + ".weight_norm");
    expect_same_double(x.batch_accuracy, y.batch_accuracy, w + ".batch_accuracy");
    EXPECT_EQ(x.label_histogram, y.label_histogram) << w;
    expect_same_stats(x.input, y.input, w + ".input");
    expect_same_double(x.grad_change_ratio, y.grad_change_ratio, w + ".grad_change_ratio");
    expect_same_double(x.reference_loss, y.reference_loss, w + ".reference_loss");
    expect_same_double(x.odd_input_fraction, y.odd_input_fraction, w + ".odd_input_fraction");
    expect_same_double(x.eval_batch_accuracy, y.eval_batch_accuracy, w + ".eval_batch_accuracy");
  }
  ASSERT_EQ(a.probes.size(), b.probes.size());
  for (size_t i = 0; i < a.probes.size(); ++i) {
    EXPECT_EQ(a.probes[i].step, b.probes[i].step);
    ASSERT_EQ(a.probes[i].layers.size(), b.probes[i].layers.size());
    for (size_t k = 0; k < a.probes[i].layers.size(); ++k) {
      const auto &x = a.probes[i].layers[k], &y = b.probes[i].layers[k];
      const std::string w = "probes[" + std::to_string(i) + "].layers[" + std::to_string(k) + "]";
      expect_same_stats(x.activation, y.activation, w + ".activation");
      expect_same_double(x.dead_fraction, y.dead_fraction, w + ".dead_fraction");
      expect_same_double(x.saturated_fraction, y.saturated_fraction, w + ".saturated_fraction");
      expect_same_double(x.grad_norm, y.grad_norm, w + ".grad_norm");
      expect_same_double(x.weight_norm, y.weight_norm, w + ".weight_norm");
      expect_same_double(x.update_ratio, y.update_ratio, w + ".update_ratio");
      EXPECT_EQ(x.has_weights, y.has_weights) << w;
    }
  }
  ASSERT_EQ(a.epochs.size(), b.epochs.size());
  for (size_t i = 0; i < a.epochs.size(); ++i) {
    EXPECT_EQ(a.epochs[i].epoch, b.epochs[i].epoch);
    EXPECT_EQ(a.epochs[i].step, b.epochs[i].step);
    expect_same_double(a.epochs[i].train_loss, b.epochs[i].train_loss, "train_loss");
    expect_same_double(a.epochs[i].train_accuracy, b.epochs[i].train_accuracy, "train_accuracy");
    expect_same_double(a.epochs[i].val_loss, b.epochs[i].val_loss, "val_loss");
    expect_same_double(a.epochs[i].val_accuracy, b.epochs[i].val_accuracy, "val_accuracy");
  }
  ASSERT_EQ(a.noise.size(), b.noise.size());
  for (size_t i = 0; i < a.noise.size(); ++i) {
    EXPECT_EQ(a.noise[i].step, b.noise[i].step);
    expect_same_double(a.noise[i].mean_sq_grad_norm, b.noise[i].mean_sq_grad_norm, "mean_sq");
    expect_same_double(a.noise[i].sq_mean_grad_norm, b.noise[i].sq_mean_grad_norm, "sq_mean");
  }
  ASSERT_EQ(a.first_nonfinite.has_value(), b.first_nonfinite.has_value());
  if (a.first_nonfinite) {
    EXPECT_EQ(a.first_nonfinite->step, b.first_nonfinite->step);
    EXPECT_EQ(a.first_nonfinite->layer, b.first_nonfinite->layer);
    EXPECT_EQ(a.first_nonfinite->in_backward, b.first_nonfinite->in_backward);
  }
  expect_same_split(a.train_stats, b.train_stats, "train_stats");
  expect_same_split(a.val_stats, b.val_stats, "val_stats");
  ASSERT_EQ(a.noise_like_shares.has_value(), b.noise_like_shares.has_value());
  if (a.noise_like_shares) {
    EXPECT_EQ(a.noise_like_shares->train, b.noise_like_shares->train);
    EXPECT_EQ(a.noise_like_shares->val, b.noise_like_shares->val);
    EXPECT_EQ(a.noise_like_shares->standard_error, b.noise_like_shares->standard_error);
  }
  ASSERT_EQ(a.samples.size(), b.samples.size());
  for (size_t i = 0; i < a.samples.size(); ++i) {
    EXPECT_EQ(a.samples[i].times_seen, b.samples[i].times_seen);
    expect_same_double(a.samples[i].last_loss, b.samples[i].last_loss, "last_loss");
    expect_same_double(a.samples[i].mean_margin, b.samples[i].mean_margin, "mean_margin");
    EXPECT_EQ(a.samples[i].first_learned_step, b.samples[i].first_learned_step);
    EXPECT_EQ(a.samples[i].look, b.samples[i].look);
    expect_same_double(a.samples[i].first_margin, b.samples[i].first_margin, "first_margin");
  }
}

/// A builder record with every optional and rarely-set field filled in.
RunRecord full_record() {
  test::RecordBuilder b;
  b.steps = 60;
  b.steps_per_epoch = 20;
  RunRecord r = b.build();
  r.spec_name = "round-trip";
  r.custom_loop = true;
  r.optimizer = "adam";
  r.from_logits = false;
  r.loss = "nll";
  r.clip_grad_norm = 0.5;
  r.layers[0].output_shape = {32, 28, 28};
  r.layers[7].output_shape = {10};
  r.steps[0].grad_change_ratio = std::numeric_limits<double>::quiet_NaN();  // as recorded at step 0
  r.steps[1].reference_loss = 2.25;
  r.steps[2].odd_input_fraction = 0.125;
  r.steps[10].eval_batch_accuracy = 0.875;  // a probe step of a network with dropout (NaN else)
  r.steps[3].input.nonfinite_fraction = 0.01;
  r.steps[59].loss = std::numeric_limits<double>::quiet_NaN();
  r.probes[1].layers[2].saturated_fraction = 0.25;
  r.first_nonfinite = NonFiniteOrigin{59, "layers[4].conv2d", true};
  r.samples.resize(4);
  r.samples[1] = {3, 0.75f, -0.5f, 12};
  r.samples[2] = {1, 2.0f, 0.25f, -1};
  r.samples[1].look = 2;  // noise-like, predicted wrong at first sight
  r.samples[1].first_margin = -0.5f;
  r.samples[2].look = 0;  // first_margin stays NaN: written as null
  r.val_stats.reset();
  r.noise_like_shares = NoiseLikeShares{0.375, 0.125, 0.03125};
  return r;
}

TEST(RecordJson, RoundTripKeepsEveryField) {
  const RunRecord r = full_record();
  const json j = record_to_json(r);
  const RunRecord back = record_from_json(j);
  expect_same_record(r, back);
  ASSERT_TRUE(back.noise_like_shares.has_value());
  // A record written before the split shares (or by a Monitor) has none.
  json old = j;
  old.erase("noise_like_shares");
  EXPECT_FALSE(record_from_json(old).noise_like_shares.has_value());
}

TEST(RecordJson, ARecordWrittenBeforeSampleLooksReadsThemAsUnknown) {
  json j = record_to_json(full_record());
  for (auto& s : j.at("samples")) s.erase(s.begin() + 4, s.end());  // four numbers a sample
  const RunRecord back = record_from_json(j);
  ASSERT_EQ(back.samples.size(), 4u);
  EXPECT_EQ(back.samples[1].times_seen, 3);
  EXPECT_EQ(back.samples[1].look, -1);
  EXPECT_TRUE(std::isnan(back.samples[1].first_margin));
}

TEST(RecordJson, RoundTripThroughText) {
  const RunRecord r = full_record();
  const std::string text = record_to_json(r).dump();
  EXPECT_EQ(text.find("NaN"), std::string::npos);
  const RunRecord back = record_from_json(json::parse(text));
  expect_same_record(r, back);
  // And the second trip is a fixed point.
  EXPECT_EQ(record_to_json(back).dump(), text);
}

TEST(RecordJson, HealthyBuilderRecordsRoundTrip) {
  for (const RunRecord& r : {test::healthy_falling(), test::healthy_overfitting()}) {
    expect_same_record(r, record_from_json(json::parse(record_to_json(r).dump())));
  }
}

// record_to_json writes `lr`, `batch_accuracy`, `dead_fraction`, `saturated_fraction` and
// `odd_input_fraction` without num(), so a non-finite value is dumped as null, and
// record_from_json then reads them with .at()/.get<double>() and throws json type_error 302
// ("type must be number, but is null"). report.hpp promises that record_from_json inverts
// record_to_json. Today's producers keep these finite (Monitor replaces an unknown lr by
// MonitorOptions::lr or 0), so this is a latent robustness bug: DISABLED until
// src/lossdoctor/report/report.cpp reads those fields with get_num().
TEST(RecordJson, RoundTripWithNonFiniteLearningRateAndFractions) {
  RunRecord r = full_record();
  r.steps[5].lr = std::numeric_limits<double>::quiet_NaN();
  r.steps[6].batch_accuracy = std::numeric_limits<double>::quiet_NaN();
  r.probes[0].layers[2].dead_fraction = std::numeric_limits<double>::quiet_NaN();
  const std::string text = record_to_json(r).dump();
  RunRecord back;
  ASSERT_NO_THROW(back = record_from_json(json::parse(text)));
  expect_same_record(r, back);
}

}  // namespace
}  // namespace lossdoctor::report

namespace lossdoctor::report {
namespace {

TEST(ReportConfirmation, JsonBlockAndTextLines) {
  Report r;
  r.command = "diagnose";
  r.verdict = "unhealthy";
  Finding f;
  f.cause = "lr_too_high";
  f.confidence = 0.97;
  f.status = "confirmed";
  f.evidence = {"confirmed rerun (--set optimizer.lr=0.1, 60 of 100 steps, same seed): ..."};
  r.findings = {f};
  EXPECT_FALSE(to_json(r).contains("confirmation")) << "no block without confirmation";
  Confirmation c;
  ConfirmationArm a;
  a.causes = {"lr_too_high"};
  a.intervention = "--set optimizer.lr=0.1";
  a.fix = {{"optimizer.lr", "0.1"}};
  a.status = "confirmed";
  a.reason = "train loss 2.3 → 0.6 vs 2.3 → 41.7 (paired t 8.1 over 6 blocks, -73%)";
  a.steps = 60;
  a.window = 100;
  a.seconds = 1.234;
  a.measures = {{"train_loss", 6, 8.1, 0.73, 2.3, 41.7, 2.3, 0.6}};
  c.arms = {a};
  c.steps = 60;
  c.seconds = 1.234;
  c.diagnosis_steps = 100;
  c.diagnosis_seconds = 2.0;
  c.cost_ratio = 0.617;
  c.yardstick_size = 512;
  c.eval_every = 10;
  c.notes = {"x and y act together"};
  r.confirmation = c;
  const json j = to_json(r);
  ASSERT_TRUE(j.contains("confirmation"));
  const json& cj = j["confirmation"];
  EXPECT_EQ(cj["steps"], 60);
  EXPECT_NEAR(cj["cost_ratio"].get<double>(), 0.617, 1e-9);
  EXPECT_EQ(cj["diagnosis_steps"], 100);
  EXPECT_EQ(cj["yardstick"]["size"], 512);
  ASSERT_EQ(cj["arms"].size(), 1u);
  EXPECT_EQ(cj["arms"][0]["status"], "confirmed");
  EXPECT_NEAR(cj["arms"][0]["fix"]["optimizer.lr"].get<double>(), 0.1, 1e-12);
  EXPECT_NEAR(cj["arms"][0]["measures"][0]["t"].get<double>(), 8.1, 1e-9);
  EXPECT_EQ(cj["arms"][0]["measures"][0]["name"], "train_loss");
  EXPECT_EQ(j["findings"][0]["status"], "confirmed");
  const std::string text = render_text(r, false);
  EXPECT_NE(text.find("confirmation: 1 rerun, 60 steps"), std::string::npos) << text;
  EXPECT_NE(text.find("lr_too_high: --set optimizer.lr=0.1 — confirmed (60 of 100 steps"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("act together"), std::string::npos) << text;
}

}  // namespace
}  // namespace lossdoctor::report

namespace lossdoctor::report {
namespace {

TEST(RecordJson, RoundTripKeepsTheRanksOfADataParallelRun) {
  RunRecord r = test::healthy_falling();
  DistributedRecord d;
  d.world_size = 2;
  d.global_batch_size = 128;
  d.steps_per_epoch = 40;
  d.lr_scale = 2;
  d.lr_scaling = "linear";
  d.warmup_steps = 5;
  d.steps.push_back(
      {7,
       0,
       7,
       {{2.25, 1.5, 0.0125, 0xFFFFFFFFFFFFFULL, {3, 0, 1}}, {NAN, 0.5, 0.02, 1, {0, 4, 0}}}});
  d.checksums.push_back({10, {123.45678901234567, -0.1}});
  r.distributed = d;
  const std::string text = record_to_json(r).dump();
  EXPECT_EQ(text.find("NaN"), std::string::npos);
  const RunRecord back = record_from_json(json::parse(text));
  ASSERT_TRUE(back.distributed);
  const DistributedRecord& b = *back.distributed;
  EXPECT_EQ(b.world_size, 2);
  EXPECT_EQ(b.global_batch_size, 128);
  EXPECT_EQ(b.lr_scaling, "linear");
  EXPECT_EQ(b.warmup_steps, 5);
  ASSERT_EQ(b.steps.size(), 1u);
  EXPECT_EQ(b.steps[0].batch_index, 7);
  EXPECT_EQ(b.steps[0].ranks[0].batch_hash, 0xFFFFFFFFFFFFFULL);
  EXPECT_EQ(b.steps[0].ranks[0].label_histogram, (std::vector<int64_t>{3, 0, 1}));
  EXPECT_TRUE(std::isnan(b.steps[0].ranks[1].loss));
  ASSERT_EQ(b.checksums.size(), 1u);
  EXPECT_EQ(b.checksums[0].ranks[0], 123.45678901234567);  // bitwise: replicas compare exactly
  EXPECT_EQ(record_to_json(back).dump(), text);
  // A single-process record has no block.
  EXPECT_FALSE(record_from_json(record_to_json(test::healthy_falling())).distributed);
}

}  // namespace
}  // namespace lossdoctor::report
