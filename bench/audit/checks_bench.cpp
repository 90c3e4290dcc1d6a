// Data audit checks (run_checks) on Fashion-MNIST: throughput, injected-corruption recall and
// precision, and what the checks flag on the clean data.
//
//   audit_bench [--data DIR] [--threads N] [--rounds N] [--seeds N] [--hf-z Z] [--json FILE]
//
// (a) throughput: run_checks on all 70 000 images (train 60k + val 10k), median of --rounds
//     (default 5) after one warm-up round, in images/s, with the median time of each phase;
// (b) 2% injected corruption of each kind (zeros, noise, saturate, nan) on 12 000 train images
//     (val 2 000), --seeds seeds each: recall and precision of the corrupt_samples findings'
//     samples against data.inject's indices (Dataset::injected.corrupt);
// (c) clean 60k: every train image that corrupt_samples flags, with its statistics.
// --threads defaults to 1 (at::set_num_threads); --hf-z overrides AuditOptions::outlier_hf_z (to
// study the noise threshold). Prints a table; --json writes the figures.
#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "lossdoctor/audit/checks.hpp"
#include "lossdoctor/data/dataset.hpp"
#include "lossdoctor/util/atomic_file.hpp"

namespace ld = lossdoctor;
using Clock = std::chrono::steady_clock;
using Kind = ld::spec::InjectSpec::CorruptKind;

namespace {

double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n == 0 ? 0.0 : (n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]));
}

ld::spec::DataSpec fashion_spec(const std::string& dir, int64_t train_limit, int64_t val_limit) {
  ld::spec::DataSpec s;
  s.format = ld::spec::DataSpec::Format::Idx;
  s.path = dir;
  s.train.images = "train-images-idx3-ubyte.gz";
  s.train.labels = "train-labels-idx1-ubyte.gz";
  s.train.limit = train_limit;
  s.train.present = true;
  s.val.images = "t10k-images-idx3-ubyte.gz";
  s.val.labels = "t10k-labels-idx1-ubyte.gz";
  s.val.limit = val_limit;
  s.val.present = true;
  ld::spec::TransformSpec scale;
  scale.kind = ld::spec::TransformSpec::Kind::Scale;
  scale.factor = 1.0 / 255;
  ld::spec::TransformSpec norm;
  norm.kind = ld::spec::TransformSpec::Kind::Normalize;
  norm.mean = {0.286};
  norm.std = {0.353};
  s.train_transforms = {scale, norm};
  return s;
}

std::set<int64_t> corrupt_flags(const ld::audit::AuditResult& r) {
  std::set<int64_t> out;
  for (const auto& f : r.findings) {
    if (f.cause == "corrupt_samples") out.insert(f.samples.begin(), f.samples.end());
  }
  return out;
}

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::Zeros:
      return "zeros";
    case Kind::Noise:
      return "noise";
    case Kind::Saturate:
      return "saturate";
    case Kind::NaN:
      return "nan";
  }
  return "?";
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = "/usr/share/datasets/fashion-mnist", json_path;
  int threads = 1, rounds = 5, seeds = 3;
  double hf_z = 0;  // 0: AuditOptions' default
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--data")
      dir = next();
    else if (a == "--threads")
      threads = std::stoi(next());
    else if (a == "--rounds")
      rounds = std::max(1, std::stoi(next()));
    else if (a == "--seeds")
      seeds = std::max(1, std::stoi(next()));
    else if (a == "--hf-z")
      hf_z = std::stod(next());
    else if (a == "--json")
      json_path = next();
    else {
      std::cerr << "usage: audit_bench [--data DIR] [--threads N] [--rounds N] [--seeds N] "
                   "[--hf-z Z] [--json FILE]\n";
      return 2;
    }
  }
  if (!std::filesystem::exists(dir)) {
    std::cerr << "audit_bench: no data at " << dir << "\n";
    return 2;
  }
  at::set_num_threads(threads);
  nlohmann::json out;
  out["threads"] = threads;
  out["rounds"] = rounds;

  // (a) throughput on 70k.
  const auto full_spec = fashion_spec(dir, 60000, 10000);
  auto t = Clock::now();
  const ld::data::Dataset full = ld::data::load_dataset(full_spec, 0);
  const double load_seconds = since(t);
  const int64_t images = full.train.size() + full.val.size();
  ld::audit::AuditOptions opt;
  opt.max_samples = 100000;
  if (hf_z > 0) opt.outlier_hf_z = hf_z;
  out["outlier_z"] = opt.outlier_z;
  out["outlier_hf_z"] = opt.outlier_hf_z;
  ld::audit::AuditResult clean = ld::audit::run_checks(full, full_spec, opt);  // warm-up
  std::vector<double> totals;
  std::map<std::string, std::vector<double>> phases;
  std::vector<std::string> phase_order;
  for (const auto& [name, secs] : clean.phase_seconds) phase_order.push_back(name);
  for (int r = 0; r < rounds; ++r) {
    t = Clock::now();
    clean = ld::audit::run_checks(full, full_spec, opt);
    totals.push_back(since(t));
    for (const auto& [name, secs] : clean.phase_seconds) phases[name].push_back(secs);
  }
  const double secs = median(totals);
  std::printf("audit_bench: %d thread(s), %d rounds (median), data loaded in %.2f s\n\n", threads,
              rounds, load_seconds);
  std::printf("(a) run_checks on %lld Fashion-MNIST images (train 60k + val 10k)\n",
              static_cast<long long>(images));
  std::printf("    %-12s %9s %7s\n", "phase", "seconds", "share");
  nlohmann::json jphases = nlohmann::json::array();
  for (const auto& name : phase_order) {
    const double p = median(phases[name]);
    std::printf("    %-12s %9.3f %6.1f%%\n", name.c_str(), p, 100.0 * p / secs);
    jphases.push_back({{"phase", name}, {"seconds", p}});
  }
  std::printf("    %-12s %9.3f  (min %.3f, max %.3f)  → %.0f images/s\n\n", "total", secs,
              *std::min_element(totals.begin(), totals.end()),
              *std::max_element(totals.begin(), totals.end()), images / secs);
  out["throughput"] = {{"images", images},
                       {"seconds_median", secs},
                       {"seconds_all", totals},
                       {"images_per_second", images / secs},
                       {"phases", jphases}};

  // (b) injected corruption, 2% of 12k, each kind.
  std::printf("(b) 2%% injected corruption on 12 000 train images, %d seed(s) per kind\n", seeds);
  std::printf("    %-9s %9s %8s %6s %8s %10s\n", "kind", "injected", "flagged", "hits", "recall",
              "precision");
  nlohmann::json jkinds = nlohmann::json::array();
  for (Kind kind : {Kind::Zeros, Kind::Noise, Kind::Saturate, Kind::NaN}) {
    int64_t injected = 0, flagged = 0, hits = 0;
    nlohmann::json jseeds = nlohmann::json::array();
    for (int seed = 0; seed < seeds; ++seed) {
      auto s = fashion_spec(dir, 12000, 2000);
      s.inject.corrupt = 0.02;
      s.inject.corrupt_kind = kind;
      const auto ds = ld::data::load_dataset(s, static_cast<uint64_t>(seed));
      const std::set<int64_t> truth(ds.injected.corrupt.begin(), ds.injected.corrupt.end());
      const auto got = corrupt_flags(ld::audit::run_checks(ds, s, opt));
      std::vector<int64_t> missed, extra;
      for (auto i : truth) {
        if (!got.count(i)) missed.push_back(i);
      }
      for (auto i : got) {
        if (!truth.count(i)) extra.push_back(i);
      }
      const auto seed_hits = static_cast<int64_t>(got.size() - extra.size());
      injected += static_cast<int64_t>(truth.size());
      flagged += static_cast<int64_t>(got.size());
      hits += seed_hits;
      jseeds.push_back({{"seed", seed},
                        {"injected", truth.size()},
                        {"flagged", got.size()},
                        {"hits", seed_hits},
                        {"missed", missed},
                        {"extra", extra}});
      for (size_t m = 0; m < missed.size() && m < 10; ++m) {
        const at::Tensor img = ds.train.images[missed[m]];
        std::printf("      missed #%lld (label %lld): mean %.1f, std %.1f, min %.0f, max %.0f\n",
                    static_cast<long long>(missed[m]),
                    static_cast<long long>(ds.train.labels[missed[m]].item<int64_t>()),
                    img.mean().item<double>(), img.std(false).item<double>(),
                    img.min().item<double>(), img.max().item<double>());
      }
      if (!missed.empty() || !extra.empty()) {
        std::printf(
            "    %-9s seed %d: %zu missed, %zu flagged but not injected (train positions "
            "%s)\n",
            kind_name(kind), seed, missed.size(), extra.size(),
            nlohmann::json(extra).dump().c_str());
      }
    }
    const double recall = injected ? static_cast<double>(hits) / injected : 0.0;
    const double precision = flagged ? static_cast<double>(hits) / flagged : 0.0;
    std::printf("    %-9s %9lld %8lld %6lld %8.4f %10.4f\n", kind_name(kind),
                static_cast<long long>(injected), static_cast<long long>(flagged),
                static_cast<long long>(hits), recall, precision);
    jkinds.push_back({{"kind", kind_name(kind)},
                      {"injected", injected},
                      {"flagged", flagged},
                      {"hits", hits},
                      {"recall", recall},
                      {"precision", precision},
                      {"per_seed", jseeds}});
  }
  out["injected"] = {
      {"train_images", 12000}, {"fraction", 0.02}, {"seeds", seeds}, {"kinds", jkinds}};

  // (c) clean 60k: what corrupt_samples flags.
  const auto flags = corrupt_flags(clean);
  std::printf("\n(c) clean Fashion-MNIST train (60 000): %zu image(s) flagged corrupt_samples\n",
              flags.size());
  nlohmann::json jflags = nlohmann::json::array();
  for (auto i : flags) {
    const at::Tensor img = full.train.images[i];
    const int64_t label = full.train.labels[i].item<int64_t>();
    const int64_t source = i < static_cast<int64_t>(full.train.source_index.size())
                               ? full.train.source_index[static_cast<size_t>(i)]
                               : i;
    const double mean = img.mean().item<double>(), sd = img.std(false).item<double>();
    const double zeros = img.eq(0).to(at::kFloat).mean().item<double>();
    std::printf(
        "    train #%lld (source record %lld, label %lld): mean %.1f, std %.1f, %.0f%% zero "
        "pixels\n",
        static_cast<long long>(i), static_cast<long long>(source), static_cast<long long>(label),
        mean, sd, 100.0 * zeros);
    jflags.push_back({{"index", i},
                      {"source_index", source},
                      {"label", label},
                      {"mean", mean},
                      {"std", sd},
                      {"zero_fraction", zeros}});
  }
  for (const auto& f : clean.findings) {
    if (f.cause != "corrupt_samples") continue;
    for (const auto& e : f.evidence) std::printf("    | %s\n", e.c_str());
  }
  out["clean"] = {{"train_images", full.train.size()},
                  {"corrupt_flagged", static_cast<int64_t>(flags.size())},
                  {"samples", jflags}};
  if (!json_path.empty()) {
    ld::write_file_atomic(json_path, out.dump(2) + "\n");
    std::printf("\nwrote %s\n", json_path.c_str());
  }
  return 0;
}
