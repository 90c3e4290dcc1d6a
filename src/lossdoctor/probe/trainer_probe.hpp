#pragma once
// TrainerProbe: attaches a Recorder to the spec Trainer (a TrainObserver), capturing per-layer
// activations through the Network's observable forward.
//
// Contract:
//   requires: construct after the Trainer, then trainer.add_observer(&probe) before run().
//   ensures:  record() holds the setup, the per-step/probe/epoch series, per-sample dynamics,
//             and the statistics of both splits after preprocessing (computed once, here).

#include <memory>

#include "lossdoctor/probe/recorder.hpp"
#include "lossdoctor/train/trainer.hpp"

namespace lossdoctor::probe {

class TrainerProbe : public train::TrainObserver {
 public:
  explicit TrainerProbe(train::Trainer& trainer);

  void before_forward(train::Trainer&, int64_t step) override;
  void after_backward(train::Trainer&, const train::StepView& view) override;
  void after_step(train::Trainer&, const train::StepView& view) override;
  void on_epoch_end(train::Trainer&, const train::EpochRecord& epoch) override;

  const RunRecord& record() const { return recorder_->record(); }
  RunRecord& record() { return recorder_->record(); }

 private:
  std::unique_ptr<Recorder> recorder_;
  std::unordered_map<const model::Layer*, size_t> layer_index_;
  int64_t current_step_ = 0;
  bool has_dropout_ = false;  ///< the network has a dropout layer
};

/// Per-channel statistics of [N, C, H, W] images (finite values only).
SplitStats split_stats(const torch::Tensor& images);

}  // namespace lossdoctor::probe
