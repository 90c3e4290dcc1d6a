#include "lossdoctor/train/tensorboard_observer.hpp"

#include <cmath>

namespace lossdoctor::train {

void TensorBoardObserver::after_step(Trainer&, const StepView& view) {
  writer_.add_scalar("train/loss", view.step, view.loss);
  writer_.add_scalar("train/lr", view.step, view.lr);
  if (std::isfinite(view.grad_norm))
    writer_.add_scalar("train/grad_norm", view.step, view.grad_norm);
}

void TensorBoardObserver::on_epoch_end(Trainer&, const EpochRecord& e) {
  const auto add = [&](const char* tag, double value) {
    if (std::isfinite(value)) writer_.add_scalar(tag, e.step, value);
  };
  add("epoch/train_loss", e.train_loss);
  add("epoch/train_accuracy", e.train_accuracy);
  add("val/loss", e.val_loss);
  add("val/accuracy", e.val_accuracy);
  add("epoch/lr", e.lr);
}

}  // namespace lossdoctor::train
