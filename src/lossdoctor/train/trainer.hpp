#pragma once
// Trains a spec end to end: data → model → loss/optimiser/schedule → metrics and checkpoints.
//
// Contract:
//   requires: a validated spec.
//   ensures:  the run is a pure function of the spec on CPU (torch is reseeded from
//             (seed, step) before every step and batches are a pure function of
//             (seed, epoch, index)), so `resume` continues exactly where an uninterrupted run
//             would be. With a run directory, every file in it is written atomically:
//             spec.yaml, steps.csv/.jsonl, epochs.csv/.jsonl, checkpoint.pt, summary.json.
//             The checkpoint is a pure function of the run too (same spec, same bytes).
//             Opening a run directory removes the temporary files of killed writers in it
//             (remove_stale_temp_files).
//   resume:   checks, before loading anything, that the checkpoint was written by this spec:
//             every tensor of the spec's model by name and shape, then the resume fingerprint
//             (model, data content, transforms, loss, optimiser, schedule, clipping, batch size,
//             seed; not the run's length, name or device, so a run can be extended). Metric
//             files are read back up to the checkpoint's step and rewritten at once; a damaged
//             line with nothing valid after it, or after the records the checkpoint needs, is
//             the cut-short tail of a killed write and is dropped with a warning. JSON null
//             reads as NaN (how a NaN loss is written).
//   throws:   InputError (SpecError, DataError) for bad spec or data, before any training; on
//             resume, InputError naming the checkpoint and the first mismatching tensor (both
//             shapes) or setting (both values), or the metric file and line of a damaged
//             record that the checkpoint needs.
//   data-parallel (TrainOptions::group, train/distributed.hpp): every rank builds the same
//             model, rank 0's parameters and buffers are broadcast before the first step, each
//             rank trains on its shard of every epoch (Loader::set_shard) with spec.batch_size
//             images per step, and the gradients are averaged over the ranks after backward,
//             before the gradient norm, clipping and the optimiser step, so the replicas stay
//             identical (batch-norm running statistics stay per rank). The recorded loss and
//             training accuracy are the global ones; validation runs on rank 0 and its figures
//             are broadcast (the plateau schedule sees the same value everywhere). Only rank 0
//             writes to the run directory; on resume every rank reads the checkpoint. An
//             interrupt on any rank stops every rank after the same step. A dead or hung peer
//             throws DistributedError within the group's timeout. Without a group the run is
//             exactly the single-process one.

#include <torch/serialize/input-archive.h>
#include <torch/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lossdoctor/data/dataset.hpp"
#include "lossdoctor/data/loader.hpp"
#include "lossdoctor/model/network.hpp"
#include "lossdoctor/run_record.hpp"
#include "lossdoctor/spec/spec.hpp"
#include "lossdoctor/train/optimizer.hpp"
#include "lossdoctor/train/schedule.hpp"

namespace lossdoctor::train {

class ProcessGroup;  // train/distributed.hpp

struct StepRecord {
  int64_t step = 0;  ///< 0-based optimiser step
  int64_t epoch = 0;
  double loss = 0;
  double lr = 0;
  double grad_norm = 0;  ///< global L2 norm of all gradients, before clipping
  double seconds = 0;    ///< wall time since the run (or resume) started
};

struct EpochRecord {
  int64_t epoch = 0;
  int64_t step = 0;  ///< steps done when the epoch ended
  double train_loss = 0, train_accuracy = 0;
  double val_loss = 0, val_accuracy = 0;
  double lr = 0;
  double seconds = 0;
};

/// What an observer sees at each step (references are valid during the callback only).
struct StepView {
  int64_t step = 0, epoch = 0, batch_index = 0;
  const data::Batch* batch = nullptr;
  const torch::Tensor* output = nullptr;       ///< network output [B, K]
  const torch::Tensor* sample_loss = nullptr;  ///< per-sample loss [B] (detached)
  double loss = 0, lr = 0, grad_norm = 0;
  /// Data-parallel runs with TrainOptions::gather_ranks: every rank's own figures of this step
  /// (indexed by rank); nullptr otherwise.
  const std::vector<RankStep>* ranks = nullptr;
  /// ... and, after the update of every TrainOptions::checksum_every-th step (after_step
  /// only), every rank's parameter checksum; nullptr otherwise.
  const std::vector<double>* checksums = nullptr;
};

class Trainer;

/// Hooks for probes (the doctor) and tests. Default implementations do nothing.
class TrainObserver {
 public:
  virtual ~TrainObserver() = default;
  virtual void before_forward(Trainer&, int64_t step) {}
  virtual void after_backward(Trainer&, const StepView&) {}
  virtual void after_step(Trainer&, const StepView&) {}
  virtual void on_epoch_end(Trainer&, const EpochRecord&) {}
  /// Return true to end the run early (status StoppedByObserver).
  virtual bool should_stop(Trainer&) { return false; }
};

enum class Progress { Auto, Bar, Lines, Quiet };

struct TrainOptions {
  std::string run_dir;  ///< empty: write nothing
  bool resume = false;
  Progress progress = Progress::Auto;
  /// Stops the run after this many steps (diagnosis budgets, arms). The learning-rate schedule
  /// is still planned over the spec's own length (epochs or max_steps).
  std::optional<int64_t> max_steps;
  /// The training split's size in the run this one stands in for (a confirmation rerun that
  /// drops or repeats training images): its epochs, its schedule and its length are planned as
  /// if the split still held this many samples, so the rerun is the user's run on other data, not
  /// a shorter or longer run. Unset: the split's own size.
  std::optional<int64_t> plan_train_size;
  bool stop_on_nonfinite = true;  ///< end the run when the loss becomes NaN/Inf
  int64_t checkpoint_every = 0;   ///< extra checkpoints every N steps (0: epoch ends only)
  /// Already loaded data for this spec's data section (reruns and experiments: decode nothing
  /// twice). Copied shallowly: its tensors are shared and never written. nullptr: load it.
  const data::Dataset* dataset = nullptr;
  /// Replaces the scheduled learning rate at each step (the learning-rate range test):
  /// (step, scheduled lr) → lr used. Empty: use the schedule.
  std::function<double(int64_t step, double scheduled_lr)> lr_override;
  /// Data-parallel training: this rank's group (not owned; must outlive the Trainer). nullptr:
  /// a single-process run.
  ProcessGroup* group = nullptr;
  /// Data-parallel diagnosis (docs/distributed.md): every step, gather each rank's own loss,
  /// gradient norm, label histogram, batch hash and compute time (in the gradients' allreduce)
  /// into StepView::ranks; every `checksum_every` steps, a parameter checksum per rank into
  /// StepView::checksums (one more small allreduce); and an observer's stop on any rank stops
  /// every rank after the same step (one more per step). Ignored without a group.
  bool gather_ranks = false;
  int64_t checksum_every = 10;  ///< ≥ 1
  /// Data-parallel reruns (experiment::confirm on a group): an observer's stop on any rank
  /// stops every rank after the same step (one allreduce of one flag per step), without
  /// gathering the ranks' figures; gather_ranks implies it. Ignored without a group.
  bool sync_stop = false;
};

enum class RunStatus { Completed, Interrupted, NonFiniteLoss, StoppedByObserver };

struct TrainResult {
  RunStatus status = RunStatus::Completed;
  int64_t steps = 0;
  int64_t epochs_completed = 0;
  std::optional<EpochRecord> last_epoch;
  double seconds = 0;
  double images_per_second = 0;  ///< all ranks together
  int world_size = 1;            ///< ranks that trained (1 without a group)
  /// Data-parallel runs: whether every rank's parameters equalled rank 0's, bitwise, at the end.
  bool replicas_identical = true;
};

/// Throws InputError naming the spec file and key when a rank of data.inject.distributed is not
/// a rank of a `world_size`-rank run (checked by the Trainer, and by a launcher before it starts
/// the ranks so that the message comes once).
void check_inject_ranks(const spec::Spec& spec, int world_size);

/// Global L2 norm of the gradients of `params` (those without a gradient are skipped; 0 when none
/// has one).
double global_grad_norm(const std::vector<torch::Tensor>& params);

class Trainer {
 public:
  Trainer(const spec::Spec& spec, TrainOptions options, data::WarningSink warn = {});
  ~Trainer();

  TrainResult run();
  void add_observer(TrainObserver* observer) { observers_.push_back(observer); }

  /// Loss and accuracy of the current model on the validation split (eval mode, no grad).
  std::pair<double, double> evaluate();

  const spec::Spec& spec() const { return spec_; }
  const data::Dataset& dataset() const { return dataset_; }
  model::Network& network() { return network_; }
  Optimizer& optimizer() { return *optimizer_; }
  const data::Loader& train_loader() const { return *train_loader_; }
  const std::vector<StepRecord>& steps() const { return steps_; }
  const std::vector<EpochRecord>& epochs() const { return epochs_; }
  torch::Device device() const { return device_; }
  /// Validation images after the validation pipeline (undefined without a validation split).
  const torch::Tensor& prepared_val_images() const { return val_images_; }
  /// Steps this run will take: the spec's length capped by TrainOptions::max_steps.
  int64_t total_steps() const { return total_steps_; }
  /// Steps of the run the spec describes (the schedule's horizon), ignoring max_steps.
  int64_t planned_steps() const { return planned_steps_; }
  /// The run's learning-rate schedule as it stands (a plateau schedule's reductions so far
  /// included), planned over planned_steps(); its rates are before lr_override.
  const LrSchedule& schedule() const { return *schedule_; }
  /// The rate used / spec.optimizer.lr: optimizer.lr_scaling over the group's world size
  /// (1 without a group).
  double lr_scale() const { return lr_scale_; }
  /// Path of the checkpoint in the run directory ("" without one).
  std::string checkpoint_path() const;

 private:
  void save_checkpoint();
  void load_checkpoint(const data::WarningSink& warn);
  /// Throws unless the checkpoint's model tensors have this model's names and shapes.
  void check_checkpoint_model(torch::serialize::InputArchive& model_archive,
                              const std::string& path);
  /// Reads steps.jsonl and epochs.jsonl back up to the restored position.
  void read_metrics(const data::WarningSink& warn);
  /// The settings a checkpoint can only be resumed under, one "key=value" line each.
  std::string resume_fingerprint() const;
  void write_metrics() const;
  void write_summary(const TrainResult& result) const;

  spec::Spec spec_;
  TrainOptions options_;
  torch::Device device_;
  data::Dataset dataset_;
  torch::Tensor val_images_;  ///< prepared validation images
  std::unique_ptr<data::Loader> train_loader_;
  data::Pipeline val_pipeline_;
  model::Network network_{nullptr};
  std::unique_ptr<Optimizer> optimizer_;
  std::unique_ptr<LrSchedule> schedule_;
  std::vector<TrainObserver*> observers_;
  int64_t total_steps_ = 0;
  int64_t planned_steps_ = 0;
  std::string fingerprint_;  ///< resume_fingerprint(), with a run directory only
  /// Whether this process writes the run directory: it has one, and it is rank 0 (or alone).
  bool writer_ = false;
  /// The rate used / spec.optimizer.lr (optimizer.lr_scaling over the group's world size).
  double lr_scale_ = 1.0;

  // Position, restored by resume.
  int64_t step_ = 0, epoch_ = 0, batch_in_epoch_ = 0;
  /// Running training figures of the current epoch (checkpointed, so a resumed epoch reports
  /// the same train loss and accuracy as an uninterrupted one).
  struct EpochTotals {
    double loss_sum = 0;
    int64_t correct = 0, seen = 0, steps = 0;
  } totals_;
  std::vector<StepRecord> steps_;
  std::vector<EpochRecord> epochs_;
};

}  // namespace lossdoctor::train
