// Training throughput of a spec through lossdoctor's own Trainer, steady state only.
//
//   train_bench SPEC [--threads N] [--warmup W] [--steps N] [--breakdown] [--set key=value]...
//
// Default mode: Trainer::run() with an observer that starts the clock at the end of step W-1
// and stops the run at the end of step W+N-1, so the figure covers exactly N full loop
// iterations (batch fetch, seeding, forward, loss, backward, grad norm, optimiser step,
// bookkeeping) and none of: data loading, validation passes at epoch ends (timed and
// subtracted), the end-of-run validation pass, file writing.
//
// --breakdown: the same objects (network, optimiser, loader of the Trainer) driven by a loop
// that times each part of the Trainer's step separately; this is for finding where time goes.
//
// Prints one JSON object on stdout.
#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lossdoctor/spec/spec_parser.hpp"
#include "lossdoctor/train/loss.hpp"
#include "lossdoctor/train/trainer.hpp"

namespace ld = lossdoctor;
using Clock = std::chrono::steady_clock;

namespace {

double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

class Window : public ld::train::TrainObserver {
 public:
  Window(int64_t warmup, int64_t steps) : warmup_(warmup), steps_(steps) {}
  void after_step(ld::train::Trainer&, const ld::train::StepView&) override {
    last_after_step_ = Clock::now();
  }
  // An epoch end inside the window runs a validation pass: not training, so not timed.
  void on_epoch_end(ld::train::Trainer&, const ld::train::EpochRecord&) override {
    if (done_ >= warmup_) excluded_ += since(last_after_step_);
  }
  bool should_stop(ld::train::Trainer& t) override {
    ++done_;
    if (done_ == warmup_) start_ = Clock::now();
    if (done_ == warmup_ + steps_) {
      seconds_ = since(start_) - excluded_;
      return true;
    }
    return false;
  }
  double seconds() const { return seconds_; }
  double excluded() const { return excluded_; }

 private:
  int64_t warmup_, steps_, done_ = 0;
  Clock::time_point start_ = Clock::now(), last_after_step_ = Clock::now();
  double seconds_ = 0, excluded_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  std::string spec_path;
  std::vector<std::string> overrides;
  int threads = 0;
  int64_t warmup = 20, steps = 300;
  bool breakdown = false;
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
    else if (a == "--set")
      overrides.push_back(next());
    else if (a == "--breakdown")
      breakdown = true;
    else if (spec_path.empty())
      spec_path = a;
    else {
      std::cerr << "unexpected argument " << a << "\n";
      return 2;
    }
  }
  if (spec_path.empty() || warmup < 1 || steps < 1) {
    std::cerr << "usage: train_bench SPEC [--threads N] [--warmup W>=1] [--steps N] [--breakdown] "
                 "[--set key=value]...\n";
    return 2;
  }
  if (threads > 0) at::set_num_threads(threads);

  ld::spec::Spec spec = ld::spec::parse_spec_file(spec_path, overrides);
  ld::train::TrainOptions options;
  options.progress = ld::train::Progress::Quiet;
  options.max_steps = warmup + steps + 1;  // the observer stops the run first
  const auto t_setup = Clock::now();
  ld::train::Trainer trainer(spec, options);
  const double setup_seconds = since(t_setup);

  nlohmann::json out{{"impl", "lossdoctor"},
                     {"threads", at::get_num_threads()},
                     {"batch_size", spec.batch_size},
                     {"warmup", warmup},
                     {"steps", steps},
                     {"setup_seconds", setup_seconds}};

  if (!breakdown) {
    Window window(warmup, steps);
    trainer.add_observer(&window);
    trainer.run();
    out["seconds"] = window.seconds();
    out["validation_seconds_excluded"] = window.excluded();
    out["images_per_second"] = steps * spec.batch_size / window.seconds();
    std::cout << out.dump() << std::endl;
    return 0;
  }

  // Breakdown: the Trainer's step, part by part (same calls, same order).
  auto& net = trainer.network();
  auto& opt = trainer.optimizer();
  const auto& loader = trainer.train_loader();
  const auto params = net->parameters();
  net->train();
  std::map<std::string, double> t;
  const int64_t per_epoch = loader.batches_per_epoch();
  const auto total = Clock::now();
  for (int64_t s = 0; s < warmup + steps; ++s) {
    if (s == warmup) {
      t.clear();
    }
    auto c = Clock::now();
    const auto lap = [&](const char* name) {
      t[name] += since(c);
      c = Clock::now();
    };
    torch::manual_seed(static_cast<uint64_t>(s) * 2654435761ULL + 1);
    lap("manual_seed");
    ld::data::Batch batch = loader.batch(s / per_epoch, s % per_epoch);
    lap("loader_batch");
    opt.zero_grad();
    lap("zero_grad");
    const torch::Tensor output = net->forward(batch.images);
    const torch::Tensor loss = ld::train::per_sample_loss(spec.loss, output, batch.labels).mean();
    lap("forward_loss");
    loss.backward();
    lap("backward");
    const double loss_value = loss.item<double>();
    (void)loss_value;
    lap("loss_item");
    {
      std::vector<torch::Tensor> norms;
      for (const auto& p : params)
        if (p.grad().defined()) norms.push_back(p.grad().norm().to(torch::kFloat64));
      (void)torch::stack(norms).norm().item<double>();
    }
    lap("grad_norm");
    opt.step();
    lap("optimizer_step");
    (void)output.detach().argmax(1).eq(batch.labels).sum().item<int64_t>();
    lap("accuracy_item");
  }
  (void)total;
  double sum = 0;
  nlohmann::json parts;
  for (auto& [k, v] : t) {
    parts[k] = v / steps * 1e3;
    sum += v;
  }
  out["mode"] = "breakdown";
  out["ms_per_step"] = parts;
  out["ms_per_step_total"] = sum / steps * 1e3;
  out["images_per_second"] = steps * spec.batch_size / sum;
  std::cout << out.dump() << std::endl;
  return 0;
}
