// lossdoctor command line. Exit status: 0 success / healthy, 1 faults found (or training ended on
// a non-finite loss), 2 bad input (spec, data, arguments), 3 internal error, 130 interrupted.

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <ATen/Parallel.h>

#include <algorithm>
#include <thread>

#include "lossdoctor/model/network.hpp"
#include "lossdoctor/spec/spec_parser.hpp"
#include "lossdoctor/train/loss.hpp"
#include "lossdoctor/train/optimizer.hpp"
#include "lossdoctor/train/schedule.hpp"
#include "lossdoctor/train/trainer.hpp"
#include "lossdoctor/util/errors.hpp"
#include "lossdoctor/util/torch_compat.hpp"
#include "lossdoctor/util/interrupt.hpp"

namespace {

using namespace lossdoctor;

constexpr int kExitFaults = 1;
constexpr int kExitBadInput = 2;
constexpr int kExitInternal = 3;
constexpr int kExitInterrupted = 130;

struct CommonArgs {
  std::string spec_path;
  std::vector<std::string> overrides;
};

void add_common(CLI::App* cmd, CommonArgs& args) {
  cmd->add_option("spec", args.spec_path, "experiment spec (YAML)")->required();
  cmd->add_option("--set", args.overrides,
                  "override a spec key, e.g. --set optimizer.lr=0.01 (repeatable)")
      ->type_name("KEY=VALUE")
      ->allow_extra_args(false);
}

void print_warning(const std::string& message) { fmt::print(stderr, "warning: {}\n", message); }

std::string describe_setup(train::Trainer& trainer) {
  const auto& spec = trainer.spec();
  const auto& ds = trainer.dataset();
  std::string out = fmt::format(
      "{}: {} training / {} validation images of {}×{}×{}, {} classes\n", spec.name, ds.train.size(),
      ds.val.size(), ds.train.images.size(1), ds.train.images.size(2), ds.train.images.size(3),
      ds.num_classes);
  out += fmt::format("model: {} layers, {} parameters; loss {}; optimizer {}; schedule {}\n",
                     trainer.network()->all_layers().size(), trainer.network()->parameter_count(),
                     train::loss_name(spec.loss), train::optimizer_name(spec.optimizer),
                     train::schedule_name(spec.schedule));
  out += fmt::format("batch size {}, {} steps ({} per epoch), device {}", spec.batch_size,
                     trainer.total_steps(), trainer.train_loader().batches_per_epoch(),
                     trainer.device().is_cuda() ? "cuda" : "cpu");
  return out;
}

int run_validate(const CommonArgs& args, bool show_model) {
  const spec::Spec spec = spec::parse_spec_file(args.spec_path, args.overrides);
  train::TrainOptions options;
  options.progress = train::Progress::Quiet;
  train::Trainer trainer(spec, options, print_warning);
  fmt::print("{}: ok\n{}\n", args.spec_path, describe_setup(trainer));
  if (show_model) fmt::print("{}", trainer.network()->summary());
  return 0;
}

struct TrainArgs {
  std::string out_dir;
  bool resume = false;
  bool quiet = false;
  std::string progress = "auto";
  int64_t max_steps = 0;
};

int run_train(const CommonArgs& args, const TrainArgs& targs) {
  const spec::Spec spec = spec::parse_spec_file(args.spec_path, args.overrides);
  train::TrainOptions options;
  options.run_dir = targs.out_dir;
  options.resume = targs.resume;
  if (targs.max_steps > 0) options.max_steps = targs.max_steps;
  options.progress = targs.quiet                   ? train::Progress::Quiet
                     : targs.progress == "bar"     ? train::Progress::Bar
                     : targs.progress == "lines"   ? train::Progress::Lines
                     : targs.progress == "none"    ? train::Progress::Quiet
                                                   : train::Progress::Auto;
  train::Trainer trainer(spec, options, print_warning);
  if (!targs.quiet) fmt::print(stderr, "{}\n", describe_setup(trainer));
  install_interrupt_handler();
  const train::TrainResult result = trainer.run();
  if (!targs.quiet) {
    std::string line = fmt::format("{} steps in {:.1f} s ({:.0f} images/s)", result.steps,
                                   result.seconds, result.images_per_second);
    if (result.last_epoch) {
      line += fmt::format("; final train loss {:.4f}, val loss {:.4f}, val accuracy {:.2f}%",
                          result.last_epoch->train_loss, result.last_epoch->val_loss,
                          100 * result.last_epoch->val_accuracy);
    }
    fmt::print("{}\n", line);
    if (!targs.out_dir.empty()) fmt::print("run directory: {}\n", targs.out_dir);
  }
  switch (result.status) {
    case train::RunStatus::Interrupted: return kExitInterrupted;
    case train::RunStatus::NonFiniteLoss: return kExitFaults;
    default: return 0;
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"lossdoctor: train CNNs from a YAML spec and find out why the training loss rises, "
               "stalls or explodes"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "lossdoctor 0.1.0");

  CommonArgs common;
  TrainArgs targs;
  // libtorch's OpenMP pool may start with one thread (it does on Debian's build): use every core.
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  app.add_option("--threads", threads, "CPU threads for tensor operations (default: all cores)")
      ->check(CLI::Range(1, 1024));
  bool show_model = false;

  auto* train_cmd = app.add_subcommand("train", "train a spec, writing metrics and checkpoints");
  add_common(train_cmd, common);
  train_cmd->add_option("--out,-o", targs.out_dir, "run directory (spec, metrics, checkpoints)");
  train_cmd->add_flag("--resume", targs.resume, "continue from the run directory's checkpoint");
  train_cmd->add_flag("--quiet,-q", targs.quiet, "print nothing but errors");
  train_cmd->add_option("--progress", targs.progress, "progress output")
      ->check(CLI::IsMember({"auto", "bar", "lines", "none"}));
  train_cmd->add_option("--max-steps", targs.max_steps, "stop after this many optimiser steps")
      ->check(CLI::PositiveNumber);

  auto* validate_cmd = app.add_subcommand(
      "validate", "check a spec and its data (types, ranges, shapes) without training");
  add_common(validate_cmd, common);
  validate_cmd->add_flag("--model", show_model, "print the model's layers and shapes");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : kExitBadInput;
  }

  at::set_num_threads(threads);
  try {
    if (*train_cmd) {
      if (targs.resume && targs.out_dir.empty()) {
        throw InputError("--resume needs --out DIR (the run directory to continue)");
      }
      return run_train(common, targs);
    }
    if (*validate_cmd) return run_validate(common, show_model);
  } catch (const InputError& e) {
    fmt::print(stderr, "{}\n", e.what());
    return kExitBadInput;
  } catch (const c10::Error& e) {
    fmt::print(stderr, "internal error: {}\n", compat::error_message(e));
    return kExitInternal;
  } catch (const std::exception& e) {
    fmt::print(stderr, "internal error: {}\n", e.what());
    return kExitInternal;
  }
  return kExitInternal;
}
