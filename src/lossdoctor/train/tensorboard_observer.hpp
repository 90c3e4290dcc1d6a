#pragma once
// `train --tensorboard DIR`: live TensorBoard scalars of a training run, written as it trains.
//
// Contract:
//   requires: attached to a Trainer before run() (Trainer::add_observer).
//   ensures:  DIR gets one event file (util/event_writer.hpp); after every optimiser step the
//             scalars train/loss (as it is, NaN included), train/lr and train/grad_norm at that
//             step; at every epoch end epoch/train_loss, epoch/train_accuracy, val/loss,
//             val/accuracy and epoch/lr at the step count of that epoch's end. Each event is
//             flushed when written, so a killed run keeps every step before the kill. A resumed
//             run writes a new file in the same folder, continuing the step numbers.
//   throws:   InputError naming the file when it cannot be created or written.

#include <string>

#include "lossdoctor/train/trainer.hpp"
#include "lossdoctor/util/event_writer.hpp"

namespace lossdoctor::train {

class TensorBoardObserver : public TrainObserver {
 public:
  explicit TensorBoardObserver(const std::string& dir) : writer_(dir) {}

  void after_step(Trainer&, const StepView& view) override;
  void on_epoch_end(Trainer&, const EpochRecord& epoch) override;

  const EventWriter& writer() const { return writer_; }

 private:
  EventWriter writer_;
};

}  // namespace lossdoctor::train
