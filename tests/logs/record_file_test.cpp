#include "lossdoctor/logs/record_file.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "log_fixtures.hpp"
#include "lossdoctor/diagnose/detectors.hpp"
#include "lossdoctor/diagnose/diagnoser.hpp"
#include "lossdoctor/util/errors.hpp"

namespace lossdoctor::logs {
namespace {

using nlohmann::json;
using test::TempDir;

RunRecord diverging_record() {
  RunRecord r;
  r.spec_name = "synthetic";
  r.num_classes = 10;
  r.batch_size = 32;
  r.optimizer = "adam";
  r.base_lr = 1.0;
  r.loss = "cross_entropy";
  for (int t = 0; t < 120; ++t) {
    StepSample s;
    s.step = t;
    s.loss = t < 30 ? 2.3 - 0.02 * t : 1.7 * std::exp((t - 30) / 20.0);
    s.lr = 1.0;
    s.grad_norm = 1.0 + t;
    s.update_norm = NAN;
    s.weight_norm = NAN;
    s.batch_accuracy = 0.1;
    r.steps.push_back(s);
  }
  return r;
}

std::string error_of(const std::string& path) {
  try {
    read_record_file(path);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(RecordFile, RoundTripGivesTheSameDiagnosis) {
  TempDir dir;
  const RunRecord original = diverging_record();
  const std::string path =
      dir.write("run.record.json", report::record_to_json(original).dump() + "\n");
  const RunRecord back = read_record_file(path);
  const report::Report r = diagnose_record(back, path);
  const auto symptoms = diagnose::detect_symptoms(original);
  const auto d = diagnose::diagnose(original, symptoms, {}, {});
  EXPECT_EQ(r.verdict, d.verdict);
  EXPECT_EQ(r.verdict, "unhealthy");
  ASSERT_EQ(r.findings.size(), d.findings.size());
  for (size_t i = 0; i < d.findings.size(); ++i) {
    EXPECT_EQ(r.findings[i].cause, d.findings[i].cause);
    EXPECT_NEAR(r.findings[i].confidence, d.findings[i].confidence, 1e-9);
  }
  EXPECT_EQ(r.command, "diagnose");
  EXPECT_EQ(r.spec, "synthetic");
  EXPECT_EQ(r.steps_run, 120);
}

TEST(RecordFile, BadFilesAreInputErrorsNamingTheKey) {
  TempDir dir;
  EXPECT_NE(error_of(dir.write("a.json", "")).find("empty file"), std::string::npos);
  EXPECT_NE(error_of(dir.write("b.json", "{\"steps\": [")).find("b.json: not JSON"),
            std::string::npos);
  EXPECT_NE(error_of(dir.write("c.json", "[1, 2]")).find("top level is array"), std::string::npos);
  const std::string missing = error_of(dir.write("d.json", "{\"layers\": [], \"probes\": []}"));
  EXPECT_NE(missing.find("d.json: not a RunRecord: 'steps' is missing"), std::string::npos)
      << missing;
  const std::string step = error_of(dir.write(
      "e.json", R"({"layers":[],"probes":[],"epochs":[],"steps":[{"step":"x","epoch":0}]})"));
  EXPECT_NE(step.find("'steps[0].step' is not a number"), std::string::npos) << step;
  // Deeper damage is still an InputError naming the file.
  auto j = report::record_to_json(diverging_record());
  j["steps"][3]["label_histogram"] = "oops";
  const std::string deep = error_of(dir.write("f.json", j.dump()));
  EXPECT_NE(deep.find("f.json: not a RunRecord"), std::string::npos) << deep;
  EXPECT_NE(error_of((dir.path / "none.json").string()).find("cannot open"), std::string::npos);
  // A number too large for a double is a JSON error too (nlohmann's out_of_range; found by
  // fuzz/log_fuzz, it escaped as an internal error).
  const std::string huge = error_of(dir.write("g.json", "{\"steps\": [466e0675048828125]}"));
  EXPECT_NE(huge.find("g.json: not a valid JSON document"), std::string::npos) << huge;
  // A sample's look (session 12) is -1, 0, 1 or 2; a sample has 4 numbers (older) or 6.
  auto k = report::record_to_json(diverging_record());
  k["samples"] = json::array({json::array({2, 0.5, 0.1, 3, 7, 0.2})});
  const std::string look = error_of(dir.write("h.json", k.dump()));
  EXPECT_NE(look.find("h.json: not a RunRecord: 'samples[0][4]' (the image's look) is not -1"),
            std::string::npos)
      << look;
  k["samples"] = json::array({json::array({2, 0.5, 0.1})});
  const std::string short_sample = error_of(dir.write("i.json", k.dump()));
  EXPECT_NE(short_sample.find("'samples[0]' is not an array of 4 or 6 numbers"), std::string::npos)
      << short_sample;
  k["samples"] = json::array({json::array({2, 0.5, 0.1, 3})});  // an older record still reads
  EXPECT_EQ(read_record_file(dir.write("j.json", k.dump())).samples.at(0).look, -1);
}

}  // namespace
}  // namespace lossdoctor::logs

namespace lossdoctor::logs {
namespace {

TEST(RecordFile, ADataParallelRecordIsDiagnosedOverItsRanks) {
  TempDir dir;
  RunRecord r = diverging_record();
  for (auto& s : r.steps) s.loss = 2.3 * std::exp(-s.step / 60.0) + 0.2;  // a falling loss
  DistributedRecord d;
  d.world_size = 2;
  d.global_batch_size = 64;
  for (int t = 0; t < 120; t += 10) d.checksums.push_back({t, {1.5, t >= 50 ? 1.25 : 1.5}});
  r.distributed = d;
  const std::string path = dir.write("ddp.record.json", report::record_to_json(r).dump() + "\n");
  const report::Report rep = diagnose_record(read_record_file(path), path);
  ASSERT_FALSE(rep.findings.empty());
  EXPECT_EQ(rep.findings.front().cause, "replicas_diverged");
  EXPECT_EQ(rep.findings.front().first_step, 50);
  EXPECT_EQ(rep.world_size, 2);
  EXPECT_EQ(rep.global_batch_size, 64);
  // A damaged block is bad input naming the file, not an internal error.
  const std::string bad = dir.write(
      "bad.record.json",
      report::record_to_json(r).dump().replace(
          report::record_to_json(r).dump().find("\"checksums\":["), 13, "\"checksums\":[\"x\","));
  EXPECT_THROW(read_record_file(bad), InputError);
}

}  // namespace
}  // namespace lossdoctor::logs
