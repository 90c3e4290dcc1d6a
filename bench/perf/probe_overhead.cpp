// Monitoring overhead of the doctor's probes on the spec Trainer, measured side by side.
//
//   probe_overhead SPEC [--threads N] [--warmup W] [--steps N] [--rounds R] [--check-every K]
//                       [--set key=value]...
//
// Variants, each a fresh Trainer on the same spec (same seed, so the same batches and the same
// arithmetic), run in rounds that rotate their order so that machine noise hits all of them:
//   plain        Trainer::run() with nothing attached
//   probe        + probe::TrainerProbe (what `lossdoctor diagnose` attaches; probe_every from
//                the spec, default 10)
//   probe_check  + TrainerProbe + the early-stop check of doctor/doctor.cpp's SettleWatcher
//                (detect_symptoms + diagnose on the record every K steps, default 25); the
//                stop itself is disabled so that every variant runs the same number of steps
//   probe_timed  the TrainerProbe logic re-implemented here around a probe::Recorder with a
//                clock around each Recorder call (on_activation, on_batch, on_gradients,
//                on_update), split by probe / non-probe step; it shows where the overhead goes
//                (its total is also a cross-check of `probe`)
//
// Timing as in train_bench: the clock starts at the end of step W-1 and stops at the end of
// step W+N-1 (exactly N loop iterations, all observers included); epoch-end validation passes
// inside the window are timed and subtracted; data loading, Trainer/probe construction
// (split statistics) and the final validation pass are outside the window.
//
// Prints one JSON object on stdout: per-variant seconds of every round, medians, overhead
// ratios against `plain` (median-based, and per round), and the per-call profile.
#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <vector>

#include "lossdoctor/diagnose/detectors.hpp"
#include "lossdoctor/diagnose/diagnoser.hpp"
#include "lossdoctor/model/network.hpp"
#include "lossdoctor/probe/recorder.hpp"
#include "lossdoctor/probe/trainer_probe.hpp"
#include "lossdoctor/spec/spec_parser.hpp"
#include "lossdoctor/train/trainer.hpp"

namespace ld = lossdoctor;
using Clock = std::chrono::steady_clock;

namespace {

double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

/// CPU time of the whole process (all threads): less sensitive than wall time to other load.
double cpu_now() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n == 0 ? 0 : n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/// Same window as train_bench: exactly `steps` iterations after `warmup`, validation excluded.
class Window : public ld::train::TrainObserver {
 public:
  Window(int64_t warmup, int64_t steps) : warmup_(warmup), steps_(steps) {}
  void after_step(ld::train::Trainer&, const ld::train::StepView&) override {
    last_after_step_ = Clock::now();
  }
  void on_epoch_end(ld::train::Trainer&, const ld::train::EpochRecord&) override {
    // (the final pass after the window closes is not inside it)
    if (done_ >= warmup_ && done_ < warmup_ + steps_) excluded_ += since(last_after_step_);
  }
  bool should_stop(ld::train::Trainer&) override {
    ++done_;
    if (done_ == warmup_) start_ = Clock::now(), cpu_start_ = cpu_now();
    if (done_ == warmup_ + steps_) {
      seconds_ = since(start_) - excluded_;
      cpu_seconds_ = cpu_now() - cpu_start_;  // no epoch end in the window expected (see main)
      return true;
    }
    return false;
  }
  double seconds() const { return seconds_; }
  double excluded() const { return excluded_; }
  double cpu_seconds() const { return cpu_seconds_; }

 private:
  int64_t warmup_, steps_, done_ = 0;
  Clock::time_point start_ = Clock::now(), last_after_step_ = Clock::now();
  double seconds_ = 0, excluded_ = 0, cpu_start_ = 0, cpu_seconds_ = 0;
};

/// doctor/doctor.cpp's SettleWatcher (check part): re-diagnose every `check_every` steps.
class CheckWatcher : public ld::train::TrainObserver {
 public:
  CheckWatcher(const ld::probe::TrainerProbe& probe, int64_t check_every)
      : probe_(probe), every_(check_every) {}
  void after_step(ld::train::Trainer&, const ld::train::StepView& view) override {
    const int64_t done = view.step + 1;
    if (done % every_ != 0) return;
    const auto t = Clock::now();
    const ld::RunRecord& record = probe_.record();
    const auto symptoms = ld::diagnose::detect_symptoms(record);
    const auto d = ld::diagnose::diagnose(record, symptoms, lint_);
    const std::string top = d.findings.empty() ? "healthy" : d.findings.front().cause;
    streak_ = top == last_top_ ? streak_ + 1 : 1;
    last_top_ = top;
    seconds += since(t);
    ++checks;
  }
  double seconds = 0;
  int64_t checks = 0;

 private:
  const ld::probe::TrainerProbe& probe_;
  int64_t every_;
  std::vector<ld::Finding> lint_;
  std::string last_top_;
  int streak_ = 0;
};

/// TrainerProbe's logic (trainer_probe.cpp) with a clock around each Recorder call.
class TimedProbe : public ld::train::TrainObserver {
 public:
  explicit TimedProbe(ld::train::Trainer& trainer) {
    ld::probe::TrainerProbe setup_probe(trainer);  // for the setup part of the record
    std::vector<torch::Tensor> weights;
    const auto layers = trainer.network()->all_layers();
    for (size_t i = 0; i < layers.size(); ++i) {
      weights.push_back(layers[i]->weight);
      layer_index_[layers[i]] = i;
    }
    recorder_ = std::make_unique<ld::probe::Recorder>(setup_probe.record(), std::move(weights),
                                                      trainer.network()->parameters());
  }
  void before_forward(ld::train::Trainer& trainer, int64_t step) override {
    current_step_ = step;
    if (!recorder_->is_probe_step(step)) return;
    trainer.network()->set_observer(
        [this](const ld::model::Layer& layer, const torch::Tensor& out) {
          const auto it = layer_index_.find(&layer);
          if (it == layer_index_.end()) return;
          const auto t = Clock::now();
          recorder_->on_activation(it->second, out, current_step_);
          add("on_activation", t);
        });
  }
  void after_backward(ld::train::Trainer& trainer, const ld::train::StepView& view) override {
    trainer.network()->set_observer(nullptr);
    auto t = Clock::now();
    recorder_->on_batch(view.step, view.epoch, view.batch->images, view.batch->labels, *view.output,
                        *view.sample_loss, view.batch->indices, view.loss, view.lr,
                        std::numeric_limits<double>::quiet_NaN());
    add("on_batch", t);
    t = Clock::now();
    recorder_->on_gradients(view.step);
    add("on_gradients", t);
  }
  void after_step(ld::train::Trainer&, const ld::train::StepView& view) override {
    const auto t = Clock::now();
    recorder_->on_update(view.step);
    add("on_update", t);
  }
  void on_epoch_end(ld::train::Trainer&, const ld::train::EpochRecord& e) override {
    recorder_->on_epoch(
        {e.epoch, e.step, e.train_loss, e.train_accuracy, e.val_loss, e.val_accuracy});
  }
  /// Only steps inside the timing window count.
  void start_counting() {
    seconds_.clear();
    probe_steps_ = other_steps_ = 0;
    counting_ = true;
  }
  void count_step(int64_t step) {
    if (!counting_) return;
    (recorder_->is_probe_step(step) ? probe_steps_ : other_steps_)++;
  }
  nlohmann::json profile() const {
    nlohmann::json j;
    for (const auto& [k, v] : seconds_) {
      const bool probe = k.rfind("@probe") != std::string::npos;
      const int64_t n = probe ? probe_steps_ : other_steps_;
      j[k] = {{"total_s", v}, {"ms_per_call_step", n ? v / n * 1e3 : 0.0}};
    }
    j["probe_steps"] = probe_steps_;
    j["other_steps"] = other_steps_;
    return j;
  }

 private:
  void add(const std::string& name, Clock::time_point t) {
    if (!counting_) return;
    const std::string key = name + (recorder_->is_probe_step(current_step_) ? "@probe" : "@other");
    seconds_[key] += since(t);
  }
  std::unique_ptr<ld::probe::Recorder> recorder_;
  std::unordered_map<const ld::model::Layer*, size_t> layer_index_;
  int64_t current_step_ = 0, probe_steps_ = 0, other_steps_ = 0;
  bool counting_ = false;
  std::map<std::string, double> seconds_;
};

/// Starts TimedProbe's counters with the window and counts probe / non-probe steps in it.
class TimedWindow : public Window {
 public:
  TimedWindow(int64_t warmup, int64_t steps, TimedProbe& p)
      : Window(warmup, steps), p_(p), warmup_(warmup) {}
  void after_step(ld::train::Trainer& t, const ld::train::StepView& v) override {
    p_.count_step(v.step);
    Window::after_step(t, v);
  }
  bool should_stop(ld::train::Trainer& t) override {
    const bool stop = Window::should_stop(t);
    if (++done_ == warmup_) p_.start_counting();
    return stop;
  }

 private:
  TimedProbe& p_;
  int64_t warmup_, done_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  std::string spec_path;
  std::vector<std::string> overrides;
  int threads = 0, rounds = 3;
  int64_t warmup = 20, steps = 200, check_every = 25;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--threads")
      threads = std::stoi(next());
    else if (a == "--warmup")
      warmup = std::stoll(next());
    else if (a == "--steps")
      steps = std::stoll(next());
    else if (a == "--rounds")
      rounds = std::stoi(next());
    else if (a == "--check-every")
      check_every = std::stoll(next());
    else if (a == "--set")
      overrides.push_back(next());
    else if (spec_path.empty())
      spec_path = a;
    else {
      std::cerr << "unexpected argument " << a << "\n";
      return 2;
    }
  }
  if (spec_path.empty() || warmup < 1 || steps < 1 || rounds < 1 || check_every < 1) {
    std::cerr
        << "usage: probe_overhead SPEC [--threads N] [--warmup W>=1] [--steps N] [--rounds R] "
           "[--check-every K] [--set key=value]...\n";
    return 2;
  }
  if (threads > 0) at::set_num_threads(threads);

  const ld::spec::Spec spec = ld::spec::parse_spec_file(spec_path, overrides);
  ld::train::TrainOptions options;
  options.progress = ld::train::Progress::Quiet;
  options.max_steps = warmup + steps + 1;  // the window stops the run first

  const std::vector<std::string> variants{"plain", "probe", "probe_check", "probe_timed"};
  std::map<std::string, std::vector<double>> seconds, cpu_seconds;
  std::map<std::string, std::vector<std::string>> order_log;
  nlohmann::json rounds_json = nlohmann::json::array(), profiles = nlohmann::json::array();
  std::vector<double> check_ms;

  for (int r = 0; r < rounds; ++r) {
    nlohmann::json round;
    for (size_t k = 0; k < variants.size(); ++k) {
      const std::string& v = variants[(k + r) % variants.size()];  // rotate the order per round
      ld::train::Trainer trainer(spec, options);
      double s = 0, excluded = 0, cpu = 0;
      if (v == "plain") {
        Window w(warmup, steps);
        trainer.add_observer(&w);
        trainer.run();
        s = w.seconds(), excluded = w.excluded(), cpu = w.cpu_seconds();
      } else if (v == "probe") {
        ld::probe::TrainerProbe probe(trainer);
        Window w(warmup, steps);
        trainer.add_observer(&probe);
        trainer.add_observer(&w);
        trainer.run();
        s = w.seconds(), excluded = w.excluded(), cpu = w.cpu_seconds();
      } else if (v == "probe_check") {
        ld::probe::TrainerProbe probe(trainer);
        CheckWatcher check(probe, check_every);
        Window w(warmup, steps);
        trainer.add_observer(&probe);
        trainer.add_observer(&check);
        trainer.add_observer(&w);
        trainer.run();
        s = w.seconds(), excluded = w.excluded(), cpu = w.cpu_seconds();
        check_ms.push_back(check.checks ? check.seconds / check.checks * 1e3 : 0);
      } else {
        TimedProbe probe(trainer);
        TimedWindow w(warmup, steps, probe);
        trainer.add_observer(&probe);
        trainer.add_observer(&w);
        trainer.run();
        s = w.seconds(), excluded = w.excluded(), cpu = w.cpu_seconds();
        nlohmann::json p = probe.profile();
        p["round"] = r;
        p["seconds"] = s;
        profiles.push_back(p);
      }
      seconds[v].push_back(s);
      cpu_seconds[v].push_back(cpu);
      round[v] = {{"seconds", s},
                  {"cpu_seconds", cpu},
                  {"validation_seconds_excluded", excluded},
                  {"position", k}};
      std::cerr << "round " << r << " " << v << ": " << s << " s wall, " << cpu << " s cpu\n";
    }
    rounds_json.push_back(round);
  }

  nlohmann::json out{{"bench", "probe_overhead"},
                     {"spec", spec_path},
                     {"threads", at::get_num_threads()},
                     {"warmup", warmup},
                     {"steps", steps},
                     {"rounds", rounds},
                     {"probe_every", spec.diagnose.probe_every},
                     {"check_every", check_every},
                     {"rounds_detail", rounds_json}};
  for (const auto& v : variants) {
    const double m = median(cpu_seconds[v]), b = median(cpu_seconds["plain"]);
    out["cpu_median_seconds"][v] = m;
    if (v == "plain") continue;
    out["cpu_overhead_of_medians"][v] = (m - b) / b;
    std::vector<double> per_round;
    for (int r = 0; r < rounds; ++r)
      per_round.push_back((cpu_seconds[v][r] - cpu_seconds["plain"][r]) / cpu_seconds["plain"][r]);
    out["cpu_overhead_per_round"][v] = per_round;
    out["cpu_overhead_median_of_rounds"][v] = median(per_round);
  }
  const double base = median(seconds["plain"]);
  for (const auto& v : variants) {
    const double m = median(seconds[v]);
    out["median_seconds"][v] = m;
    out["median_ms_per_step"][v] = m / steps * 1e3;
    if (v != "plain") {
      out["overhead_of_medians"][v] = (m - base) / base;
      std::vector<double> per_round;
      for (int r = 0; r < rounds; ++r)
        per_round.push_back((seconds[v][r] - seconds["plain"][r]) / seconds["plain"][r]);
      out["overhead_per_round"][v] = per_round;
      out["overhead_median_of_rounds"][v] = median(per_round);
    }
  }
  out["diagnosis_check_ms_per_check"] = check_ms;
  out["probe_timed_profile"] = profiles;
  std::cout << out.dump() << std::endl;
  return 0;
}
