// The HTML report (report/html.hpp) without a browser: sections appear with their data, text is
// escaped, long runs are downsampled for drawing but the tables keep exact numbers, and a
// 10 000-step run stays under 2 MB. tests/cli/html_browser_test.cpp renders real reports in
// headless Chromium.
#include "lossdoctor/report/html.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

namespace lossdoctor::report {
namespace {

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t i = s.find(what); i != std::string::npos; i = s.find(what, i + what.size())) ++n;
  return n;
}

RunRecord run(int64_t steps, int64_t probe_every = 10, int64_t layers = 6) {
  RunRecord r;
  r.num_classes = 10;
  r.loss = "cross_entropy";
  for (int64_t l = 0; l < layers; ++l) {
    LayerDescription d;
    d.name = "layers[" + std::to_string(l) + "]." + (l % 2 ? "relu" : "conv2d");
    d.kind = l % 2 ? "relu" : "conv2d";
    d.has_weights = l % 2 == 0;
    r.layers.push_back(d);
  }
  for (int64_t s = 0; s < steps; ++s) {
    StepSample x;
    x.step = s;
    x.loss = 2.3 * std::exp(-static_cast<double>(s) / 2000.0) + 0.01 * std::sin(s);
    x.lr = 0.1 * (1 - static_cast<double>(s) / steps);
    r.steps.push_back(x);
    if (s % probe_every == 0) {
      LayerProbe p;
      p.step = s;
      p.layers.resize(static_cast<size_t>(layers));
      for (auto& l : p.layers) {
        l.grad_norm = 0.5;
        l.update_ratio = 1e-3;
        l.dead_fraction = 0.1;
        l.activation.std = 1.2;
      }
      r.probes.push_back(p);
    }
  }
  r.epochs.push_back({0, steps, 0.5, 0.8, 0.6, 0.78});
  return r;
}

Report diagnosis() {
  Report r;
  r.command = "diagnose";
  r.spec = "a <spec> & \"more\"";
  r.verdict = "unhealthy";
  Finding f;
  f.cause = "lr_too_high";
  f.confidence = 0.93;
  f.status = "confirmed";
  f.first_step = 14;
  f.layer = "layers[1].relu";
  f.evidence = {"loss 2.31 → 41.7 in 14 steps <b>"};
  f.fix = {{"optimizer.lr", "0.001"}};
  r.findings.push_back(f);
  return r;
}

TEST(Html, SectionsCarryTheirDataAndTextIsEscaped) {
  const Report r = diagnosis();
  const RunRecord rec = run(300);
  HtmlReport h;
  h.title = "lossdoctor diagnose: " + r.spec;
  h.command_line = "lossdoctor diagnose 'x y.yaml'";
  h.spec_yaml = "name: <x>\n";
  h.report = &r;
  h.record = &rec;
  const std::string html = render_html(h);
  EXPECT_EQ(html.rfind("<!doctype html>", 0), 0u);
  EXPECT_NE(html.find("a &lt;spec&gt; &amp; &quot;more&quot;"), std::string::npos);
  EXPECT_EQ(html.find("14 steps <b>"), std::string::npos) << "evidence must be escaped";
  EXPECT_NE(html.find("loss 2.31 → 41.7 in 14 steps &lt;b&gt;"), std::string::npos);
  EXPECT_NE(html.find("--set optimizer.lr=0.001"), std::string::npos);
  EXPECT_NE(html.find("id=\"chart-loss\""), std::string::npos);
  EXPECT_NE(html.find("\"label\":\"chance ln 10 = 2.303\""), std::string::npos);
  EXPECT_NE(html.find("\"label\":\"lr_too_high\""), std::string::npos) << "finding marker";
  EXPECT_NE(html.find("\"name\":\"learning rate\""), std::string::npos) << "a scheduled lr";
  EXPECT_NE(html.find("id=\"heat-grad_norm\""), std::string::npos);
  EXPECT_NE(html.find("id=\"heat-dead_fraction\""), std::string::npos);
  EXPECT_EQ(html.find("id=\"heat-saturated_fraction\""), std::string::npos) << "no tanh/sigmoid";
  EXPECT_NE(html.find("name: &lt;x&gt;"), std::string::npos);
  EXPECT_NE(html.find("lossdoctor diagnose &#39;x y.yaml&#39;"), std::string::npos);
  EXPECT_EQ(count(html, "<script>"), 1u) << "the chart script is inlined once";
  for (const char* link : {"src=\"http", "href=\"http", "url(http", "@import"}) {
    EXPECT_EQ(html.find(link), std::string::npos) << "nothing loads from the network: " << link;
  }
}

TEST(Html, FindingsStartingAtTheSameStepShareOneMarkerNamingThemAll) {
  Report r = diagnosis();
  Finding g = r.findings[0];
  g.cause = "batch_too_small";
  r.findings.push_back(g);
  const RunRecord rec = run(50);
  HtmlReport h;
  h.report = &r;
  h.record = &rec;
  const std::string html = render_html(h);
  EXPECT_NE(html.find("{\"label\":\"lr_too_high, batch_too_small\",\"x\":14}"), std::string::npos);
  EXPECT_EQ(count(html, "\"x\":14}"), 1u);
}

TEST(Html, ScriptDataCannotCloseItsElement) {
  Report r = diagnosis();
  r.findings[0].cause = "</script><script>alert(1)</script>";
  const RunRecord rec = run(50);
  HtmlReport h;
  h.report = &r;
  h.record = &rec;
  const std::string html = render_html(h);
  EXPECT_EQ(count(html, "</script>"), 2u) << "the data block and the chart script only";
}

TEST(Html, ATenThousandStepRunStaysUnderTwoMegabytes) {
  const Report r = diagnosis();
  const RunRecord rec = run(10000, 10, 24);
  HtmlReport h;
  h.report = &r;
  h.record = &rec;
  const std::string html = render_html(h);
  EXPECT_LT(html.size(), 2u * 1024 * 1024) << html.size();
  // 1000 probes drawn as at most kMaxHeatmapColumns columns.
  EXPECT_NE(html.find("\"cols\":[0,50,100"), std::string::npos);
}

TEST(Html, DownsamplingKeepsSpikesAndNonFiniteValues) {
  std::vector<std::pair<double, double>> xy;
  for (int i = 0; i < 10000; ++i) xy.emplace_back(i, 1.0);
  xy[4321].second = 500.0;
  xy[7000].second = NAN;
  const auto d = downsample(xy, 300);
  EXPECT_LE(d.size(), 310u);
  bool spike = false, nan = false;
  for (const auto& [x, y] : d) {
    spike |= x == 4321 && y == 500.0;
    nan |= x == 7000 && std::isnan(y);
  }
  EXPECT_TRUE(spike);
  EXPECT_TRUE(nan);
  EXPECT_EQ(downsample({{0, 1}, {1, 2}}, 300).size(), 2u) << "short series are left alone";
}

TEST(Html, OptionalSectionsAppearWithTheirData) {
  Report r;
  r.command = "audit";
  HtmlReport h;
  h.report = &r;
  EXPECT_EQ(render_html(h).find("id=\"audit\""), std::string::npos);
  AuditView a;
  a.flagged.push_back({17, "iVBORw0KGgo=", "Coat", "Shirt", "label_noise"});
  a.train_class_counts = {10, 20};
  a.val_class_counts = {3, 4};
  a.noise_matrix = {{0.9, 0.1}, {0.2, 0.8}};
  h.audit = a;
  LrSweepView lr;
  lr.lrs = {1e-5, 1e-4, 1e-3};
  lr.losses = {2.3, 2.0, 9.0};
  lr.suggestion = 1e-4;
  h.lr_find = lr;
  RunView before{"original", {2.3, 2.2}, {}, 2.1, 0.2};
  h.repair_runs = {before};
  const std::string html = render_html(h);
  EXPECT_NE(html.find("data:image/png;base64,iVBORw0KGgo="), std::string::npos);
  EXPECT_NE(html.find("#17 Coat → Shirt"), std::string::npos);
  EXPECT_NE(html.find("id=\"chart-balance\""), std::string::npos);
  EXPECT_NE(html.find("id=\"lr-suggestion\">0.0001<"), std::string::npos);
  EXPECT_NE(html.find("id=\"chart-repair\""), std::string::npos);
  EXPECT_NE(html.find(">0.9</td>"), std::string::npos) << "noise matrix";
}

TEST(Html, TheNoiseMatrixKeepsSmallMassesAndNamesItsClasses) {
  Report r;
  r.command = "audit";
  AuditView a;
  a.train_class_counts = {10, 20};
  a.class_names = {"cat", "dog & fox"};
  a.noise_matrix = {{0.48123456789, 0.0012345678}, {0.0004, 0.51752086331}};
  HtmlReport h;
  h.report = &r;
  h.audit = a;
  const std::string html = render_html(h);
  EXPECT_NE(html.find(">0.00123</td>"), std::string::npos) << "not 0.00";
  EXPECT_NE(html.find(">0.0004</td>"), std::string::npos);
  EXPECT_NE(html.find("title=\"0.0012345678\""), std::string::npos) << "the exact value";
  EXPECT_NE(html.find("title=\"0.48123456789\""), std::string::npos);
  EXPECT_NE(html.find("<th>dog &amp; fox</th>"), std::string::npos) << "class names, escaped";
  EXPECT_NE(html.find("\"labels\":[\"cat\",\"dog & fox\"]"), std::string::npos) << "balance";
}

}  // namespace
}  // namespace lossdoctor::report
