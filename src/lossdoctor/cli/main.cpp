// lossdoctor command line. Exit status: 0 success / healthy, 1 faults found (or training ended on
// a non-finite loss), 2 bad input (spec, data, arguments), 3 internal error, 130 interrupted.

#include <ATen/Parallel.h>
#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include "lossdoctor/audit/audit.hpp"
#include "lossdoctor/cli/html_output.hpp"
#include "lossdoctor/cli/launch.hpp"
#include "lossdoctor/doctor/doctor.hpp"
#include "lossdoctor/doctor/repair.hpp"
#include "lossdoctor/experiment/confirm.hpp"
#include "lossdoctor/experiment/lr_find.hpp"
#include "lossdoctor/logs/diagnose_log.hpp"
#include "lossdoctor/logs/read_log.hpp"
#include "lossdoctor/logs/record_file.hpp"
#include "lossdoctor/model/network.hpp"
#include "lossdoctor/report/report.hpp"
#include "lossdoctor/report/tensorboard.hpp"
#include "lossdoctor/spec/spec_parser.hpp"
#include "lossdoctor/train/distributed.hpp"
#include "lossdoctor/train/loss.hpp"
#include "lossdoctor/train/optimizer.hpp"
#include "lossdoctor/train/schedule.hpp"
#include "lossdoctor/train/tensorboard_observer.hpp"
#include "lossdoctor/train/trainer.hpp"
#include "lossdoctor/util/atomic_file.hpp"
#include "lossdoctor/util/errors.hpp"
#include "lossdoctor/util/interrupt.hpp"
#include "lossdoctor/util/memory.hpp"
#include "lossdoctor/util/number.hpp"
#include "lossdoctor/util/output_path.hpp"
#include "lossdoctor/util/torch_compat.hpp"

namespace {

using namespace lossdoctor;

/// The command line that reproduces this run (shown in --html reports).
std::string g_command_line;
/// argv as given (train --nproc starts copies of it).
std::vector<std::string> g_args;

/// The HTML report of a command's result (report/html.hpp): its report, the run drawn, the
/// resolved spec and the command line.
report::HtmlReport html_of(const report::Report& r, const RunRecord* record,
                           const std::string& spec_path = "",
                           const std::vector<std::string>& overrides = {}) {
  report::HtmlReport h;
  h.title = fmt::format("lossdoctor {}: {}", r.command, r.spec);
  h.command_line = g_command_line;
  if (!spec_path.empty()) h.spec_yaml = cli::resolved_spec(spec_path, overrides);
  h.report = &r;
  h.record = record;
  return h;
}

void print_html_path(const std::string& path, bool quiet) {
  if (!quiet) fmt::print("html report: {}\n", path);
}
namespace fs = std::filesystem;

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

std::string describe_setup(train::Trainer& trainer, int world_size = 1) {
  const auto& spec = trainer.spec();
  const auto& ds = trainer.dataset();
  std::string out = fmt::format("{}: {} training / {} validation images of {}×{}×{}, {} classes\n",
                                spec.name, ds.train.size(), ds.val.size(), ds.train.images.size(1),
                                ds.train.images.size(2), ds.train.images.size(3), ds.num_classes);
  out += fmt::format("model: {} layers, {} parameters; loss {}; optimizer {}; schedule {}\n",
                     trainer.network()->all_layers().size(), trainer.network()->parameter_count(),
                     train::loss_name(spec.loss), train::optimizer_name(spec.optimizer),
                     train::schedule_name(spec.schedule));
  if (world_size > 1) {
    out += fmt::format("{} ranks × batch size {} = global batch {}, ", world_size, spec.batch_size,
                       spec.batch_size * world_size);
  } else {
    out += fmt::format("batch size {}, ", spec.batch_size);
  }
  out += fmt::format("{} steps ({} per epoch), device {}", trainer.total_steps(),
                     trainer.train_loader().batches_per_epoch(),
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

/// Data-parallel options of train and diagnose (docs/distributed.md).
struct DistArgs {
  int nproc = 1;  ///< --nproc: ranks to start on this machine
  int rank = -1;  ///< --rank (with --world-size and --master): run one rank
  int world_size = 0;
  std::string master;         ///< --master ADDR:PORT
  double dist_timeout = 120;  ///< --dist-timeout: seconds for rendezvous and collectives

  /// Running one rank of a group (--rank/--world-size/--master).
  bool rank_mode() const { return rank >= 0 || world_size > 0 || !master.empty(); }
  std::chrono::milliseconds timeout() const {
    return std::chrono::milliseconds(static_cast<int64_t>(dist_timeout * 1000));
  }
};

void add_dist_options(CLI::App* cmd, DistArgs& dist) {
  cmd->add_option("--nproc", dist.nproc,
                  "data-parallel: start N ranks on this machine (batch_size is per rank; "
                  "docs/distributed.md)")
      ->type_name("N");
  cmd->add_option("--rank", dist.rank, "data-parallel: run this rank (with --world-size, --master)")
      ->type_name("R");
  cmd->add_option("--world-size", dist.world_size, "data-parallel: number of ranks")
      ->type_name("W");
  cmd->add_option("--master", dist.master, "data-parallel: rank 0's store address")
      ->type_name("ADDR:PORT");
  cmd->add_option("--dist-timeout", dist.dist_timeout,
                  "data-parallel: seconds before a missing or silent rank ends the job (default "
                  "120)")
      ->type_name("S");
}

/// Checks the data-parallel options together (exit 2 with one message on a bad combination).
void check_dist_args(const DistArgs& d) {
  const bool rank_mode = d.rank_mode();
  if (d.nproc < 1) throw InputError(fmt::format("--nproc must be ≥ 1, got {}", d.nproc));
  if (rank_mode && d.nproc > 1) {
    throw InputError("--nproc starts the ranks itself: give it or --rank/--world-size/--master");
  }
  if (rank_mode && (d.rank < 0 || d.world_size < 1 || d.master.empty())) {
    throw InputError(
        "running one rank needs all of --rank R, --world-size W and --master ADDR:PORT");
  }
  if (rank_mode && d.rank >= d.world_size) {
    throw InputError(fmt::format("--rank {} is not in [0, --world-size {})", d.rank, d.world_size));
  }
  if (d.dist_timeout <= 0) {
    throw InputError(fmt::format("--dist-timeout must be > 0 seconds, got {}", d.dist_timeout));
  }
  if ((d.nproc > 1 || rank_mode) && !train::distributed_available()) {
    throw InputError(
        "--nproc/--rank: this lossdoctor was built without c10d's Gloo backend (install "
        "libgloo-dev and rebuild); data-parallel training is not available");
  }
}

/// Joins the group of a --rank process.
std::unique_ptr<train::ProcessGroup> connect_rank(const DistArgs& d, const std::string& device) {
  train::DistributedOptions dist;
  dist.device = device;  // a CUDA run uses NCCL when built with it (docs/distributed.md)
  dist.rank = d.rank;
  dist.world_size = d.world_size;
  std::tie(dist.master_addr, dist.master_port) = train::parse_master(d.master, "--master");
  dist.timeout = d.timeout();
  return train::ProcessGroup::connect(dist);
}

struct TrainArgs {
  std::string out_dir;
  bool resume = false;
  bool quiet = false;
  std::string progress = "auto";
  int64_t max_steps = 0;
  std::string tensorboard_dir;  ///< --tensorboard: live scalars (train/tensorboard_observer.hpp)
  std::string html_path;        ///< --html: the curves as a self-contained page
  DistArgs dist;                ///< data-parallel training (docs/distributed.md)
};

/// Test hook (never set by users): LOSSDOCTOR_TEST_EXIT_AT="RANK:STEP" makes that rank exit
/// with status 3 just before that step, as a crashed worker would.
class TestExitObserver : public train::TrainObserver {
 public:
  TestExitObserver(const char* name, int rank, int64_t step)
      : name_(name), rank_(rank), step_(step) {}
  void before_forward(train::Trainer&, int64_t step) override {
    if (step == step_) {
      fmt::print(stderr, "rank {}: {}: exiting with status 3 at step {}\n", rank_, name_, step);
      std::fflush(stderr);
      std::_Exit(3);
    }
  }

 private:
  const char* name_;
  int rank_;
  int64_t step_;
};

/// The TestExitObserver the variable `name` asks of this rank, if any:
/// LOSSDOCTOR_TEST_EXIT_AT (the run itself, the diagnosis run) or, for diagnose,
/// LOSSDOCTOR_TEST_EXIT_IN_RERUN (every confirmation rerun: the first to reach STEP).
std::optional<TestExitObserver> test_exit_for(int rank,
                                              const char* name = "LOSSDOCTOR_TEST_EXIT_AT") {
  if (const char* at = std::getenv(name)) {
    int r = -1;
    long long st = -1;
    if (std::sscanf(at, "%d:%lld", &r, &st) == 2 && r == std::max(rank, 0))
      return TestExitObserver(name, r, st);
  }
  return std::nullopt;
}

int run_train(const CommonArgs& args, TrainArgs targs) {
  const DistArgs& dist = targs.dist;
  check_dist_args(dist);
  const bool rank_mode = dist.rank_mode();
  if (dist.nproc > 1) {
    // Check what can be checked once, so a bad spec or path gives one message, not N.
    if (!targs.out_dir.empty()) require_writable_dir("--out", targs.out_dir);
    if (!targs.tensorboard_dir.empty())
      require_writable_dir("--tensorboard", targs.tensorboard_dir);
    if (!targs.html_path.empty()) require_writable_file("--html", targs.html_path);
    train::check_inject_ranks(spec::parse_spec_file(args.spec_path, args.overrides), dist.nproc);
    return cli::launch_ranks(g_args, dist.nproc, targs.out_dir,
                             std::min(dist.timeout(), std::chrono::milliseconds(30000)));
  }
  std::unique_ptr<train::ProcessGroup> group;
  if (rank_mode) {
    if (dist.rank > 0) {  // rank 0 reports; the others train quietly and write nothing
      targs.quiet = true;
      targs.tensorboard_dir.clear();
      targs.html_path.clear();
    }
  }

  if (!targs.out_dir.empty() && dist.rank <= 0) require_writable_dir("--out", targs.out_dir);
  if (!targs.tensorboard_dir.empty()) require_writable_dir("--tensorboard", targs.tensorboard_dir);
  if (!targs.html_path.empty()) require_writable_file("--html", targs.html_path);
  const spec::Spec spec = spec::parse_spec_file(args.spec_path, args.overrides);
  train::TrainOptions options;
  options.run_dir = targs.out_dir;
  options.resume = targs.resume;
  if (targs.max_steps > 0) options.max_steps = targs.max_steps;
  options.progress = targs.quiet                 ? train::Progress::Quiet
                     : targs.progress == "bar"   ? train::Progress::Bar
                     : targs.progress == "lines" ? train::Progress::Lines
                     : targs.progress == "none"  ? train::Progress::Quiet
                                                 : train::Progress::Auto;
  if (rank_mode) {
    group = connect_rank(dist, spec.device);
    options.group = group.get();
  }
  train::Trainer trainer(spec, options, print_warning);
  if (!targs.quiet)
    fmt::print(stderr, "{}\n", describe_setup(trainer, rank_mode ? dist.world_size : 1));
  std::optional<TestExitObserver> test_exit = test_exit_for(dist.rank);
  if (test_exit) trainer.add_observer(&*test_exit);
  std::optional<train::TensorBoardObserver> tensorboard;
  if (!targs.tensorboard_dir.empty())
    trainer.add_observer(&tensorboard.emplace(targs.tensorboard_dir));
  install_interrupt_handler();
  const train::TrainResult result = trainer.run();
  if (!targs.html_path.empty()) {
    const RunRecord record = cli::record_of(trainer);
    report::Report r;
    r.command = "train";
    r.spec = args.spec_path;
    r.verdict = result.status == train::RunStatus::NonFiniteLoss ? "unhealthy" : "healthy";
    r.steps_run = result.steps;
    r.seconds = result.seconds;
    r.device = trainer.device().is_cuda() ? "cuda" : "cpu";
    cli::write_html(targs.html_path, html_of(r, &record, args.spec_path, args.overrides));
  }
  if (!targs.quiet) {
    std::string line = fmt::format("{} steps in {:.1f} s ({:.0f} images/s)", result.steps,
                                   result.seconds, result.images_per_second);
    if (result.last_epoch) {
      line += fmt::format("; final train loss {:.4f}, val loss {:.4f}, val accuracy {:.2f}%",
                          result.last_epoch->train_loss, result.last_epoch->val_loss,
                          100 * result.last_epoch->val_accuracy);
    }
    if (result.world_size > 1) {
      line += fmt::format(
          "; {} ranks, global batch {}{}", result.world_size, spec.batch_size * result.world_size,
          result.replicas_identical ? ", replicas identical" : ", WARNING: replicas differ");
    }
    fmt::print("{}\n", line);
    if (!targs.out_dir.empty()) fmt::print("run directory: {}\n", targs.out_dir);
    if (tensorboard) fmt::print("tensorboard: {}\n", tensorboard->writer().path());
    if (!targs.html_path.empty()) fmt::print("html report: {}\n", targs.html_path);
  }
  switch (result.status) {
    case train::RunStatus::Interrupted:
      return kExitInterrupted;
    case train::RunStatus::NonFiniteLoss:
      return kExitFaults;
    default:
      return 0;
  }
}

struct DoctorArgs {
  std::string json_path;
  std::string record_path;
  std::string record_in;  ///< diagnose --record-in: a RunRecord JSON to diagnose without training
  int64_t budget_steps = 0;
  bool quiet = false;
  bool no_early_stop = false;
  bool no_confirm = false;
  bool no_label_agreement = false;  ///< diagnose, audit: skip the label agreement across the splits
  bool lr_bracket = false;  ///< diagnose: also rerun a healthy-looking run at 3× and ÷3 its rate
  std::string tensorboard_dir;      ///< --tensorboard (diagnose, audit): report/tensorboard.hpp
  std::string html_path;  ///< --html: the report as a self-contained page (report/html.hpp)
  DistArgs dist;          ///< diagnose: data-parallel (docs/distributed.md)
};

train::Progress progress_of(bool quiet, const std::string& progress) {
  return quiet                 ? train::Progress::Quiet
         : progress == "bar"   ? train::Progress::Bar
         : progress == "lines" ? train::Progress::Lines
         : progress == "none"  ? train::Progress::Quiet
                               : train::Progress::Auto;
}

void print_line(const std::string& line) { fmt::print(stderr, "{}\n", line); }

/// Fails fast on a --json or --record file that could not be written at the end.
void check_report_paths(const DoctorArgs& dargs) {
  if (!dargs.json_path.empty()) require_writable_file("--json", dargs.json_path);
  if (!dargs.record_path.empty()) require_writable_file("--record", dargs.record_path);
  if (!dargs.html_path.empty()) require_writable_file("--html", dargs.html_path);
  if (!dargs.tensorboard_dir.empty()) require_writable_dir("--tensorboard", dargs.tensorboard_dir);
}

/// Says where --tensorboard wrote (unless quiet).
void print_event_files(const report::EventFiles& files, const DoctorArgs& dargs) {
  if (dargs.quiet) return;
  fmt::print(stderr, "tensorboard: {} event files ({} events, {} bytes) under {}\n",
             files.files.size(), files.events, files.bytes, dargs.tensorboard_dir);
}

/// Prints the report and writes its JSON; returns the exit status (0 healthy, 1 faults).
int finish_report(const report::Report& r, const DoctorArgs& dargs) {
  if (!dargs.json_path.empty()) {
    write_file_atomic(dargs.json_path, report::to_json(r).dump(2) + "\n");
  }
  if (!dargs.quiet) {
    fmt::print("{}", report::render_text(r, ::isatty(STDOUT_FILENO) != 0));
    if (!dargs.json_path.empty()) fmt::print("\nreport: {}\n", dargs.json_path);
  }
  return r.verdict == "healthy" ? 0 : kExitFaults;
}

int run_lint(const CommonArgs& args, const DoctorArgs& dargs) {
  check_report_paths(dargs);
  const spec::Spec spec = spec::parse_spec_file(args.spec_path, args.overrides);
  return finish_report(doctor::lint(spec, print_warning), dargs);
}

int run_diagnose(const CommonArgs& args, DoctorArgs dargs, const std::string& progress) {
  const DistArgs& dist = dargs.dist;
  check_dist_args(dist);
  if (dist.nproc > 1) {
    // Check what can be checked once, so a bad spec or path gives one message, not N.
    check_report_paths(dargs);
    train::check_inject_ranks(spec::parse_spec_file(args.spec_path, args.overrides), dist.nproc);
    return cli::launch_ranks(g_args, dist.nproc, "",
                             std::min(dist.timeout(), std::chrono::milliseconds(30000)),
                             "diagnose");
  }
  if (dist.rank_mode() && dist.rank > 0) {  // rank 0 reports; the others train quietly
    dargs.quiet = true;
    dargs.json_path.clear();
    dargs.record_path.clear();
    dargs.html_path.clear();
    dargs.tensorboard_dir.clear();
  }
  check_report_paths(dargs);
  const spec::Spec spec = spec::parse_spec_file(args.spec_path, args.overrides);
  doctor::DiagnoseOptions options;
  if (dargs.budget_steps > 0) options.budget_steps = dargs.budget_steps;
  options.early_stop = !dargs.no_early_stop;
  options.label_agreement = !dargs.no_label_agreement;
  if (dargs.lr_bracket) options.lr_bracket = 3.0;
  options.progress = progress_of(dargs.quiet, progress);
  experiment::ConfirmOptions confirm;
  if (dargs.budget_steps > 0) confirm.budget_steps = dargs.budget_steps;
  if (!dargs.quiet) confirm.log = print_line;
  std::optional<bool> want_confirm;
  if (dargs.no_confirm) want_confirm = false;
  std::unique_ptr<train::ProcessGroup> group;
  doctor::DiagnoseAndConfirm outcome;
  std::optional<TestExitObserver> test_exit, test_exit_in_rerun;
  if (dist.rank_mode()) {
    // Data-parallel: every rank trains its shard with the probes on; rank 0 diagnoses over
    // all ranks, then decides and judges the confirmation reruns, which every rank trains in
    // lock-step (docs/distributed.md).
    group = connect_rank(dist, spec.device);
    options.group = group.get();
    test_exit = test_exit_for(dist.rank);
    if (test_exit) options.extra_observers.push_back(&*test_exit);
    test_exit_in_rerun = test_exit_for(dist.rank, "LOSSDOCTOR_TEST_EXIT_IN_RERUN");
    if (test_exit_in_rerun) confirm.rerun_observers.push_back(&*test_exit_in_rerun);
  }
  install_interrupt_handler();
  outcome = doctor::diagnose_and_confirm(spec, options, confirm, want_confirm, print_warning);
  if (!dargs.record_path.empty()) {
    write_file_atomic(dargs.record_path, report::record_to_json(outcome.record).dump() + "\n");
  }
  if (!dargs.tensorboard_dir.empty()) {
    print_event_files(
        report::write_diagnose_events(dargs.tensorboard_dir, outcome.report, outcome.record),
        dargs);
  }
  if (!dargs.html_path.empty()) {
    cli::write_html(dargs.html_path,
                    html_of(outcome.report, &outcome.record, args.spec_path, args.overrides));
  }
  int code = finish_report(outcome.report, dargs);
  print_html_path(dargs.html_path, dargs.quiet || dargs.html_path.empty());
  if (outcome.interrupted) code = kExitInterrupted;
  if (group != nullptr) {
    // Every rank ends with rank 0's status, so that the launcher sees them agree.
    torch::Tensor status = torch::tensor({static_cast<double>(code)}, torch::kFloat64);
    train::broadcast_from_rank0(*group, {status});
    code = static_cast<int>(status.item<double>());
  }
  return code;
}

/// diagnose --record-in FILE: the detectors, diagnoser and verdict on a recorded run.
int run_record_in(const CommonArgs& args, const DoctorArgs& dargs) {
  if (!args.spec_path.empty()) {
    throw InputError(fmt::format(
        "diagnose --record-in {} takes no SPEC ('{}'): the record is diagnosed as it is",
        dargs.record_in, args.spec_path));
  }
  if (dargs.dist.nproc > 1 || dargs.dist.rank_mode()) {
    throw InputError("diagnose --record-in trains nothing: --nproc and --rank do not apply");
  }
  if (!args.overrides.empty() || !dargs.record_path.empty() || dargs.budget_steps > 0) {
    throw InputError(
        "diagnose --record-in trains nothing: --set, --record and --budget-steps do not apply");
  }
  check_report_paths(dargs);
  const RunRecord record = logs::read_record_file(dargs.record_in);
  const report::Report r = logs::diagnose_record(record, dargs.record_in);
  if (!dargs.tensorboard_dir.empty())
    print_event_files(report::write_diagnose_events(dargs.tensorboard_dir, r, record), dargs);
  if (!dargs.html_path.empty()) cli::write_html(dargs.html_path, html_of(r, &record));
  const int code = finish_report(r, dargs);
  print_html_path(dargs.html_path, dargs.quiet || dargs.html_path.empty());
  return code;
}

struct LogArgs {
  std::string path;
  std::string format = "auto";
  int64_t num_classes = 0;
  std::string optimizer;
  logs::ColumnMap columns;
};

int run_diagnose_log(const LogArgs& largs, const DoctorArgs& dargs) {
  check_report_paths(dargs);
  const logs::LogData log =
      logs::read_log(largs.path, logs::parse_log_format(largs.format), largs.columns);
  logs::LogDiagnosisOptions options;
  options.num_classes = largs.num_classes;
  options.optimizer = largs.optimizer;
  const report::Report r = logs::diagnose_log(log, options);
  if (!dargs.html_path.empty()) {
    const RunRecord record = logs::to_record(log, options);
    cli::write_html(dargs.html_path, html_of(r, &record));
  }
  const int code = finish_report(r, dargs);
  print_html_path(dargs.html_path, dargs.quiet || dargs.html_path.empty());
  return code;
}

struct LrFindArgs {
  std::string json_path;
  std::string html_path;
  double min_lr = 1e-7, max_lr = 10;
  int64_t steps = 100;
  bool quiet = false;
};

int run_lr_find(const CommonArgs& args, const LrFindArgs& largs) {
  if (!largs.json_path.empty()) require_writable_file("--json", largs.json_path);
  if (!largs.html_path.empty()) require_writable_file("--html", largs.html_path);
  const spec::Spec spec = spec::parse_spec_file(args.spec_path, args.overrides);
  if (largs.min_lr >= largs.max_lr) {
    throw InputError(
        fmt::format("--min-lr {} must be below --max-lr {}", largs.min_lr, largs.max_lr));
  }
  experiment::LrFindOptions options;
  options.with_min_lr(largs.min_lr).with_max_lr(largs.max_lr).with_steps(largs.steps);
  options.progress = train::Progress::Quiet;  // a short sweep; its own summary follows
  options.warn = print_warning;
  if (!largs.quiet) {
    fmt::print(stderr, "sweeping the learning rate from {} to {} over {} steps...\n", largs.min_lr,
               largs.max_lr, largs.steps);
  }
  install_interrupt_handler();
  const experiment::LrFindResult result = experiment::lr_find(spec, options);
  if (!largs.json_path.empty()) {
    write_file_atomic(largs.json_path, experiment::to_json(result).dump(2) + "\n");
  }
  if (!largs.html_path.empty()) {
    report::Report r;
    r.command = "lr-find";
    r.spec = args.spec_path;
    r.verdict = result.suggested_lr ? "healthy" : "unhealthy";
    r.steps_run = result.steps_run;
    r.seconds = result.seconds;
    r.notes.push_back(result.reason);
    for (const auto& e : result.evidence) r.notes.push_back(e);
    report::HtmlReport h = html_of(r, nullptr, args.spec_path, args.overrides);
    h.lr_find = cli::lr_sweep_view(result);
    cli::write_html(largs.html_path, h);
  }
  if (!largs.quiet) {
    fmt::print("{}", experiment::render_text(result));
    if (!largs.json_path.empty()) fmt::print("\nplot data: {}\n", largs.json_path);
    if (!largs.html_path.empty()) fmt::print("html report: {}\n", largs.html_path);
  }
  if (result.interrupted) return kExitInterrupted;
  return result.suggested_lr ? 0 : kExitFaults;
}

struct RepairArgs {
  std::string out_path;
  std::string json_path;
  std::string html_path;
  int max_rounds = 4;
  int64_t max_steps = 0;
  bool no_final = false;
  bool no_lr_find = false;
  bool no_label_agreement = false;
  bool lr_bracket = false;
  bool quiet = false;
};

int run_repair(const CommonArgs& args, const RepairArgs& rargs) {
  if (!rargs.out_path.empty() && fs::exists(rargs.out_path) &&
      fs::equivalent(rargs.out_path, args.spec_path)) {
    throw InputError(
        fmt::format("-o {}: refusing to overwrite the spec being repaired", rargs.out_path));
  }
  if (!rargs.out_path.empty()) require_writable_file("-o", rargs.out_path);
  if (!rargs.json_path.empty()) require_writable_file("--json", rargs.json_path);
  if (!rargs.html_path.empty()) require_writable_file("--html", rargs.html_path);
  doctor::RepairOptions options;
  options.out_path = rargs.out_path;
  options.max_rounds = rargs.max_rounds;
  options.final_max_steps = rargs.max_steps;
  options.final_training = !rargs.no_final;
  options.lr_find = !rargs.no_lr_find;
  options.diagnose.label_agreement = !rargs.no_label_agreement;
  if (rargs.lr_bracket) options.diagnose.lr_bracket = 3.0;
  options.diagnose.progress = train::Progress::Quiet;
  options.warn = print_warning;
  if (!rargs.quiet) {
    options.log = print_line;
    options.confirm.log = print_line;
    options.progress = train::Progress::Auto;
  }
  install_interrupt_handler();
  const doctor::RepairResult result = doctor::repair(args.spec_path, args.overrides, options);
  if (!rargs.json_path.empty()) {
    write_file_atomic(rargs.json_path, doctor::to_json(result).dump(2) + "\n");
  }
  if (!rargs.html_path.empty() && !result.rounds.empty()) {
    // The first round's diagnosis (what was wrong: its curves, heatmaps and arms over its run),
    // then before/after.
    report::Report r = result.rounds.front().report;
    r.command = "repair";
    r.verdict = result.healthy ? "healthy" : "unhealthy";
    r.notes.insert(r.notes.begin(), result.stop_reason);
    const RunRecord& first = result.rounds.front().record;
    report::HtmlReport h =
        html_of(r, first.steps.empty() ? nullptr : &first, args.spec_path, args.overrides);
    h.repair_runs = cli::repair_views(result);
    cli::write_html(rargs.html_path, h);
  }
  if (!rargs.quiet) {
    fmt::print("{}", doctor::render_text(result, ::isatty(STDOUT_FILENO) != 0));
    if (!rargs.json_path.empty()) fmt::print("report: {}\n", rargs.json_path);
    if (!rargs.html_path.empty()) fmt::print("html report: {}\n", rargs.html_path);
  }
  if (result.interrupted) return kExitInterrupted;
  return result.healthy ? 0 : kExitFaults;
}

struct AuditArgs {
  std::string out_dir;
  bool no_labels = false;
  int folds = 4;
  int epochs = 2;
  int rounds = 2;
  double exclude_below = 0.05;
};

int run_audit_command(const CommonArgs& args, const DoctorArgs& dargs, const AuditArgs& aargs) {
  check_report_paths(dargs);
  if (!aargs.out_dir.empty()) require_writable_dir("--out", aargs.out_dir);
  const spec::Spec spec = spec::parse_spec_file(args.spec_path, args.overrides);
  audit::AuditRunOptions options;
  options.label_issues = !aargs.no_labels;
  options.label_agreement = !dargs.no_label_agreement;
  options.labels.folds = aargs.folds;
  options.labels.epochs = aargs.epochs;
  options.labels.rounds = aargs.rounds;
  options.exclude_below = aargs.exclude_below;
  options.labels.seed = spec.seed;
  options.out_dir = aargs.out_dir;
  if (!dargs.quiet)
    options.progress = [](const std::string& line) { fmt::print(stderr, "{}\n", line); };
  // --tensorboard wants the contact sheet: without --out, the audit's files go to a temporary
  // folder, removed afterwards.
  std::optional<fs::path> scratch;
  if (!dargs.tensorboard_dir.empty() && options.out_dir.empty()) {
    scratch = fs::temp_directory_path() / fmt::format("lossdoctor-audit-{}", ::getpid());
    options.out_dir = scratch->string();
  }
  const auto started = fs::file_time_type::clock::now();
  report::AuditView view;
  if (!dargs.html_path.empty()) options.view = &view;
  const report::Report r = audit::run_audit(spec, options, print_warning);
  if (!dargs.html_path.empty()) {
    report::HtmlReport h = html_of(r, nullptr, args.spec_path, args.overrides);
    h.audit = std::move(view);
    cli::write_html(dargs.html_path, h);
  }
  if (!dargs.tensorboard_dir.empty()) {
    const fs::path sheet = fs::path(options.out_dir) / "contact_sheet.png";
    std::error_code ec;
    std::string png;
    if (fs::exists(sheet, ec) && fs::last_write_time(sheet, ec) >= started) {  // not a stale one
      std::ifstream in(sheet, std::ios::binary);
      png.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    if (scratch) fs::remove_all(*scratch, ec);
    print_event_files(report::write_audit_events(dargs.tensorboard_dir, r, png), dargs);
  }
  const int code = finish_report(r, dargs);
  print_html_path(dargs.html_path, dargs.quiet || dargs.html_path.empty());
  if (!dargs.quiet && !aargs.out_dir.empty()) {
    const bool scores = fs::exists(fs::path(aargs.out_dir) / "label_scores.csv");
    fmt::print(
        "files: {0}/exclude.txt, {0}/contact_sheet.png{1}\n", aargs.out_dir,
        scores ? fmt::format(", {0}/label_scores.csv, {0}/label_noise_matrix.csv", aargs.out_dir)
               : "");
  }
  return code;
}

/// The one message of a refused allocation (std::bad_alloc, or torch's allocator saying so in
/// `detail`, whose "tried to allocate N bytes" is quoted as a size).
std::string out_of_memory_message(const std::string& detail) {
  std::string asked;
  const std::string marker = "tried to allocate ";
  if (const size_t at = detail.find(marker); at != std::string::npos) {
    try {
      asked = fmt::format(" (an allocation of {} was refused; {})",
                          format_bytes(std::stod(detail.substr(at + marker.size()))),
                          usable_memory_text());
    } catch (const std::exception&) {
    }
  }
  return "out of memory: the spec or its data asks for more memory than this machine can give" +
         asked + "; lower batch_size, image sizes, model width or data.train.limit";
}

}  // namespace

/// "> 0" in words (CLI11's PositiveNumber prints its range as a 309-digit number).
const CLI::Validator kPositive(
    [](std::string& value) -> std::string {
      const double v = parse_number(value).value_or(0.0);
      if (v > 0 && std::isfinite(v)) return "";
      return "must be a number > 0, got '" + value + "'";
    },
    "> 0");

int main(int argc, char** argv) {
  CLI::App app{
      "lossdoctor: train CNNs from a YAML spec and find out why the training loss rises, "
      "stalls or explodes"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "lossdoctor 0.1.0");
  g_command_line = cli::command_line(argc, argv);
  g_args.assign(argv, argv + argc);

  CommonArgs common;
  TrainArgs targs;
  // libtorch's OpenMP pool may start with one thread (it does on Debian's build): use every core.
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  app.add_option("--threads", threads,
                 "CPU threads for tensor operations (default: all cores; cores / N for each "
                 "rank of --nproc N)")
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
      ->check(kPositive);
  train_cmd
      ->add_option("--tensorboard", targs.tensorboard_dir,
                   "write live TensorBoard scalars (loss, lr, gradient norm, validation) here")
      ->type_name("DIR");
  train_cmd
      ->add_option("--html", targs.html_path,
                   "write the run's curves as a self-contained HTML page at the end")
      ->type_name("FILE");
  add_dist_options(train_cmd, targs.dist);

  auto* validate_cmd = app.add_subcommand(
      "validate", "check a spec and its data (types, ranges, shapes) without training");
  add_common(validate_cmd, common);
  validate_cmd->add_flag("--model", show_model, "print the model's layers and shapes");

  DoctorArgs dargs;
  std::string diag_progress = "auto";
  auto* lint_cmd = app.add_subcommand(
      "lint", "find faults visible in the spec alone (no training); exit 1 when any is found");
  add_common(lint_cmd, common);
  lint_cmd->add_option("--json", dargs.json_path, "write the report as JSON");
  lint_cmd->add_flag("--quiet,-q", dargs.quiet, "print nothing (use the exit status and --json)");

  auto* diagnose_cmd = app.add_subcommand(
      "diagnose",
      "train with probes and say why the loss rises, stalls or explodes; exit 0 healthy, "
      "1 faults found");
  add_common(diagnose_cmd, common);
  diagnose_cmd->add_option("--json", dargs.json_path, "write the report as JSON");
  diagnose_cmd
      ->add_option("--html", dargs.html_path,
                   "write the report as a self-contained HTML page (curves, heatmaps, tables)")
      ->type_name("FILE");
  diagnose_cmd
      ->add_option("--budget-steps", dargs.budget_steps,
                   "train at most this many steps (default: diagnose.budget_steps)")
      ->check(kPositive);
  diagnose_cmd->add_option("--record", dargs.record_path,
                           "also write the probes' RunRecord as JSON");
  diagnose_cmd->add_flag("--no-early-stop", dargs.no_early_stop,
                         "use the whole budget even once settled");
  diagnose_cmd->add_flag("--no-label-agreement", dargs.no_label_agreement,
                         "skip the label agreement across the splits (small models fitted to the "
                         "validation labels; a few seconds)");
  diagnose_cmd->add_flag("--lr-bracket", dargs.lr_bracket,
                         "also rerun a healthy-looking run at 3× and ÷3 its learning rate; a "
                         "rerun that trains meaningfully better within the budget is reported "
                         "as lr_too_low/lr_too_high (off by default: see docs/confirm.md)");
  diagnose_cmd->add_flag("--quiet,-q", dargs.quiet,
                         "print nothing (use the exit status and --json)");
  diagnose_cmd->add_option("--progress", diag_progress, "progress output")
      ->check(CLI::IsMember({"auto", "bar", "lines", "none"}));
  diagnose_cmd->add_flag("--no-confirm", dargs.no_confirm,
                         "skip the counterfactual reruns that confirm or refute each cause "
                         "(default: diagnose.confirm)");
  diagnose_cmd
      ->add_option("--record-in", dargs.record_in,
                   "diagnose a RunRecord JSON (as --record writes it) without training; no SPEC")
      ->type_name("FILE");
  diagnose_cmd->get_option("spec")->required(false);
  add_dist_options(diagnose_cmd, dargs.dist);
  diagnose_cmd
      ->add_option("--tensorboard", dargs.tensorboard_dir,
                   "write TensorBoard runs here: DIR/diagnosis (curves, per-layer probes, "
                   "findings) and one per confirmation arm")
      ->type_name("DIR");

  LogArgs log_args;
  auto* log_cmd = app.add_subcommand(
      "diagnose-log",
      "diagnose a training log (Keras CSVLogger, Lightning metrics.csv, TensorBoard events, "
      "lossdoctor steps.csv) from its curves alone; exit 0 healthy, 1 faults found");
  log_cmd
      ->add_option("log", log_args.path,
                   "log file, or a directory holding one (metrics.csv, events.out.tfevents.*, "
                   "steps.csv)")
      ->required();
  log_cmd->add_option("--json", dargs.json_path, "write the report as JSON");
  log_cmd
      ->add_option("--html", dargs.html_path,
                   "write the report as a self-contained HTML page (curves, heatmaps, tables)")
      ->type_name("FILE");
  log_cmd->add_flag("--quiet,-q", dargs.quiet, "print nothing (use the exit status and --json)");
  log_cmd
      ->add_option("--num-classes", log_args.num_classes,
                   "classes K of the classifier: judges the loss against ln K and the accuracy "
                   "against 1/K (default: chance not judged)")
      ->check(CLI::Range(int64_t{2}, int64_t{1000000}));
  log_cmd->add_option("--format", log_args.format, "log format (default: auto)")
      ->check(CLI::IsMember({"auto", "keras", "lightning", "tensorboard", "lossdoctor"}));
  log_cmd
      ->add_option("--optimizer", log_args.optimizer,
                   "the optimiser that trained it: judges the logged lr against its usual range")
      ->check(CLI::IsMember({"sgd", "adam", "adamw", "rmsprop", "adagrad", "adadelta"}));
  log_cmd->add_option("--loss-column", log_args.columns.loss, "column or tag of the training loss");
  log_cmd->add_option("--val-loss-column", log_args.columns.val_loss,
                      "column or tag of the validation loss");
  log_cmd->add_option("--lr-column", log_args.columns.lr, "column or tag of the learning rate");
  log_cmd->add_option("--step-column", log_args.columns.step, "column of the step");
  log_cmd->add_option("--epoch-column", log_args.columns.epoch, "column or tag of the epoch");
  log_cmd->add_option("--accuracy-column", log_args.columns.accuracy,
                      "column or tag of the training accuracy");
  log_cmd->add_option("--val-accuracy-column", log_args.columns.val_accuracy,
                      "column or tag of the validation accuracy");

  LrFindArgs largs;
  auto* lr_find_cmd = app.add_subcommand(
      "lr-find",
      "learning-rate range test: sweep the rate exponentially and suggest one from the steepest "
      "stable descent; exit 1 when there is no stable descent");
  add_common(lr_find_cmd, common);
  lr_find_cmd->add_option("--json", largs.json_path, "write the result and plot data as JSON");
  lr_find_cmd
      ->add_option("--html", largs.html_path, "write the sweep as a self-contained HTML page")
      ->type_name("FILE");
  lr_find_cmd->add_option("--min-lr", largs.min_lr, "first rate of the sweep (default 1e-7)")
      ->check(kPositive);
  lr_find_cmd->add_option("--max-lr", largs.max_lr, "last rate of the sweep (default 10)")
      ->check(kPositive);
  lr_find_cmd->add_option("--steps", largs.steps, "points in the sweep (default 100)")
      ->check(CLI::Range(int64_t{10}, int64_t{100000}));
  lr_find_cmd->add_flag("--quiet,-q", largs.quiet, "print nothing (use --json)");

  RepairArgs rargs;
  auto* repair_cmd = app.add_subcommand(
      "repair",
      "diagnose, confirm, apply the confirmed fixes and repeat until healthy; write the repaired "
      "spec and compare before/after training; exit 0 when the repaired run is healthy");
  add_common(repair_cmd, common);
  repair_cmd->add_option("-o,--out", rargs.out_path,
                         "write the repaired spec here (a comment on each changed key)");
  repair_cmd->add_option("--json", rargs.json_path, "write the repair report as JSON");
  repair_cmd
      ->add_option("--html", rargs.html_path,
                   "write the diagnosis and the before/after curves as a self-contained HTML page")
      ->type_name("FILE");
  repair_cmd->add_option("--max-rounds", rargs.max_rounds, "diagnose-confirm-fix rounds at most")
      ->check(CLI::Range(1, 20));
  repair_cmd
      ->add_option("--max-steps", rargs.max_steps,
                   "cap the before/after training budget at this many steps (default: the "
                   "spec's epochs)")
      ->check(kPositive);
  repair_cmd->add_flag("--no-final-training", rargs.no_final,
                       "skip training the original and repaired specs for the budget");
  repair_cmd->add_flag("--no-lr-find", rargs.no_lr_find,
                       "keep learning-rate fixes at ÷10/×10 instead of the range test's rate");
  repair_cmd->add_flag("--no-label-agreement", rargs.no_label_agreement,
                       "skip the label agreement across the splits in each round's diagnosis");
  repair_cmd->add_flag("--lr-bracket", rargs.lr_bracket,
                       "also rerun a healthy-looking run at 3× and ÷3 its learning rate");
  repair_cmd->add_flag("--quiet,-q", rargs.quiet, "print nothing (use the exit status and --json)");

  AuditArgs aargs;
  auto* audit_cmd = app.add_subcommand(
      "audit",
      "check the data itself (integrity, outliers, duplicates, order, preparation, balance, "
      "labels); exit 0 clean, 1 problems found");
  add_common(audit_cmd, common);
  audit_cmd->add_option("--json", dargs.json_path, "write the report as JSON");
  audit_cmd
      ->add_option(
          "--html", dargs.html_path,
          "write the report with a gallery of the flagged images as a self-contained HTML page")
      ->type_name("FILE");
  audit_cmd->add_option("--out", aargs.out_dir, "write exclude.txt and contact_sheet.png here");
  audit_cmd->add_flag("--no-labels", aargs.no_labels,
                      "skip the cross-validated label check (a model per fold)");
  audit_cmd->add_flag("--no-label-agreement", dargs.no_label_agreement,
                      "skip the label agreement across the splits (small models fitted to the "
                      "validation labels; a few seconds)");
  audit_cmd->add_option("--folds", aargs.folds, "cross-validation folds of the label check")
      ->check(CLI::Range(2, 20));
  audit_cmd->add_option("--epochs", aargs.epochs, "epochs per fold of the label check")
      ->check(CLI::Range(1, 100));
  audit_cmd
      ->add_option("--rounds", aargs.rounds,
                   "cross-validation rounds of the label check: round 2 refits every fold "
                   "without round 1's confident suspects (default 2; 1 is faster)")
      ->check(CLI::Range(1, 5));
  audit_cmd
      ->add_option("--exclude-below", aargs.exclude_below,
                   "exclude.txt takes label suspects whose out-of-sample P(given label) is below "
                   "this (default 0.05; 1 takes every suspect)")
      ->check(CLI::Range(0.0, 1.0));
  audit_cmd->add_flag("--quiet,-q", dargs.quiet, "print nothing (use the exit status and --json)");
  audit_cmd
      ->add_option("--tensorboard", dargs.tensorboard_dir,
                   "write a TensorBoard run to DIR/audit (contact sheet, flagged counts, findings)")
      ->type_name("DIR");

  // CLI11 says only "A subcommand is required" for `lossdoctor frobnicate`: name it.
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.empty() || a[0] == '-') {
      if (a == "--threads") ++i;  // the one global option that takes a value
      continue;
    }
    std::vector<std::string> names;
    for (const auto* sub : app.get_subcommands([](CLI::App*) { return true; }))
      names.push_back(sub->get_name());
    if (std::find(names.begin(), names.end(), a) == names.end()) {
      std::string list;
      for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
      const std::string guess = spec::did_you_mean(a, names);
      fmt::print(stderr, "unknown command '{}'{}; commands: {} (lossdoctor --help)\n", a,
                 guess.empty() ? "" : " (did you mean '" + guess + "'?)", list);
      return kExitBadInput;
    }
    break;
  }
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
    if (*lint_cmd) return run_lint(common, dargs);
    if (*diagnose_cmd) {
      if (!dargs.record_in.empty()) return run_record_in(common, dargs);
      if (common.spec_path.empty()) {
        throw InputError("diagnose needs a SPEC (or --record-in FILE: a recorded RunRecord)");
      }
      return run_diagnose(common, dargs, diag_progress);
    }
    if (*log_cmd) return run_diagnose_log(log_args, dargs);
    if (*audit_cmd) return run_audit_command(common, dargs, aargs);
    if (*lr_find_cmd) return run_lr_find(common, largs);
    if (*repair_cmd) return run_repair(common, rargs);
  } catch (const InputError& e) {
    fmt::print(stderr, "{}\n", e.what());
    return kExitBadInput;
  } catch (const train::DistributedError& e) {
    // A rank that lost its peers (died, hung past --dist-timeout) or could not join.
    fmt::print(stderr, "{}\n", e.what());
    return kExitFaults;
  } catch (const fs::filesystem_error& e) {
    // A path the user gave (or a folder under it) that cannot be read: a symlink loop, a
    // permission, a vanished file. Input, not a bug.
    fmt::print(stderr, "{}: {}\n", e.path1().string(), e.code().message());
    return kExitBadInput;
  } catch (const std::bad_alloc&) {
    fmt::print(stderr, "{}\n", out_of_memory_message(""));
    return kExitBadInput;
  } catch (const c10::Error& e) {
    // torch's allocators report a refused allocation as c10::Error ("DefaultCPUAllocator: can't
    // allocate memory", from an enforce) or as c10::OutOfMemoryError (CUDA): input too large for
    // this machine, like std::bad_alloc, not a bug.
    const std::string what = compat::error_message(e);
    if (dynamic_cast<const c10::OutOfMemoryError*>(&e) != nullptr ||
        what.find("can't allocate memory") != std::string::npos ||
        what.find("out of memory") != std::string::npos) {
      fmt::print(stderr, "{}\n", out_of_memory_message(what));
      return kExitBadInput;
    }
    fmt::print(stderr, "internal error: {}\n", what);
    return kExitInternal;
  } catch (const std::exception& e) {
    fmt::print(stderr, "internal error: {}\n", e.what());
    return kExitInternal;
  }
  return kExitInternal;
}
