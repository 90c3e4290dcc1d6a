#include "lossdoctor/train/trainer.hpp"

#include <fmt/format.h>
#include <torch/cuda.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/serialize.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "lossdoctor/model/network.hpp"
#include "lossdoctor/train/loss.hpp"
#include "lossdoctor/train/progress.hpp"
#include "lossdoctor/util/atomic_file.hpp"
#include "lossdoctor/util/clock.hpp"
#include "lossdoctor/util/errors.hpp"
#include "lossdoctor/util/interrupt.hpp"
#include "lossdoctor/util/torch_compat.hpp"

namespace lossdoctor::train {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kEvalBatch = 512;

torch::Device resolve_device(const std::string& name) {
  if (name == "cpu") return torch::kCPU;
  if (name == "cuda") {
    if (!torch::cuda::is_available()) {
      throw InputError(
          "device: cuda was requested but no CUDA device is available (use device: auto or cpu)");
    }
    return torch::kCUDA;
  }
  return torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
}

/// Torch seed for one step: dropout masks depend only on (seed, step), so resume is exact.
uint64_t step_seed(uint64_t seed, int64_t step) {
  uint64_t z = seed * 0x9E3779B97F4A7C15ULL + static_cast<uint64_t>(step) + 1;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return (z ^ (z >> 31)) >> 1;  // torch seeds must fit in int64
}

std::vector<int64_t> image_shape(const torch::Tensor& images) {
  return {images.size(1), images.size(2), images.size(3)};
}

}  // namespace

double global_grad_norm(const std::vector<torch::Tensor>& params) {
  std::vector<torch::Tensor> norms;
  for (const auto& p : params) {
    if (p.grad().defined()) norms.push_back(p.grad().detach().norm().to(torch::kFloat64));
  }
  if (norms.empty()) return 0.0;
  return torch::stack(norms).norm().item<double>();
}

Trainer::Trainer(const spec::Spec& spec, TrainOptions options, data::WarningSink warn)
    : spec_(spec), options_(std::move(options)), device_(resolve_device(spec.device)) {
  dataset_ = options_.dataset != nullptr ? *options_.dataset
                                         : data::load_dataset(spec_.data, spec_.seed, warn);
  options_.dataset = nullptr;  // not needed past construction; the caller may free it
  if (dataset_.train.size() == 0) throw InputError("data: the training split is empty");

  data::Pipeline train_pipeline = data::make_train_pipeline(spec_.data);
  val_pipeline_ = data::make_val_pipeline(spec_.data);
  const auto in_shape = image_shape(dataset_.train.images);
  const data::Shape3 in3{in_shape[0], in_shape[1], in_shape[2]};
  const data::Shape3 train_out = train_pipeline.check(in3);
  if (dataset_.val.size() > 0) {
    const auto val_in = image_shape(dataset_.val.images);
    const data::Shape3 val_out = val_pipeline_.check({val_in[0], val_in[1], val_in[2]});
    if (val_out != train_out) {
      throw SpecError(spec_.file, "data.transforms",
                      fmt::format("training images come out as {}×{}×{} but validation images as "
                                  "{}×{}×{}; the model needs one input shape",
                                  train_out[0], train_out[1], train_out[2], val_out[0], val_out[1],
                                  val_out[2]));
    }
    val_images_ = val_pipeline_.prepare(dataset_.val.images);
  }
  train_loader_ = std::make_unique<data::Loader>(train_pipeline.prepare(dataset_.train.images),
                                                 dataset_.train.labels, train_pipeline,
                                                 spec_.batch_size, spec_.data.shuffle, spec_.seed);

  torch::manual_seed(spec_.seed);
  network_ = model::Network(spec_.layers, spec_.init,
                            std::vector<int64_t>{train_out[0], train_out[1], train_out[2]});
  const auto& out = network_->output_shape();
  if (out.size() != 1 || out[0] != dataset_.num_classes) {
    const auto& last = network_->layers().back();
    throw SpecError(last.where.str(), last.key_path,
                    fmt::format("the model outputs {} values per sample but the data has {} "
                                "classes; the last dense layer needs units: {}",
                                out.size() == 1 ? std::to_string(out[0]) : "a non-flat tensor of",
                                dataset_.num_classes, dataset_.num_classes));
  }
  network_->to(device_);
  optimizer_ = std::make_unique<Optimizer>(spec_.optimizer, network_->parameters());

  const int64_t per_epoch = train_loader_->batches_per_epoch();
  // The schedule is planned over the run the spec describes, whatever cap a diagnosis budget
  // puts on this run: a capped run is the first steps of exactly the user's run.
  planned_steps_ = spec_.max_steps ? *spec_.max_steps : spec_.epochs * per_epoch;
  total_steps_ = planned_steps_;
  if (options_.max_steps) total_steps_ = std::min(total_steps_, *options_.max_steps);
  schedule_ = std::make_unique<LrSchedule>(spec_.schedule, spec_.optimizer.lr, planned_steps_);

  if (!options_.run_dir.empty()) {
    std::error_code ec;
    fs::create_directories(options_.run_dir, ec);
    if (ec) throw InputError(options_.run_dir + ": cannot create run directory: " + ec.message());
    if (options_.resume) {
      load_checkpoint();
    } else {
      write_file_atomic((fs::path(options_.run_dir) / "spec.yaml").string(), spec_.resolved_yaml);
    }
  } else if (options_.resume) {
    throw InputError("--resume needs a run directory (--out DIR)");
  }
}

Trainer::~Trainer() = default;

std::string Trainer::checkpoint_path() const {
  return options_.run_dir.empty() ? "" : (fs::path(options_.run_dir) / "checkpoint.pt").string();
}

std::pair<double, double> Trainer::evaluate() {
  if (!val_images_.defined() || val_images_.size(0) == 0) return {NAN, NAN};
  torch::NoGradGuard no_grad;
  network_->eval();
  double loss_sum = 0;
  int64_t correct = 0;
  const int64_t n = val_images_.size(0);
  for (int64_t start = 0; start < n; start += kEvalBatch) {
    const int64_t end = std::min(n, start + kEvalBatch);
    const torch::Tensor x = val_images_.slice(0, start, end).to(device_);
    const torch::Tensor y = dataset_.val.labels.slice(0, start, end).to(device_);
    const torch::Tensor output = network_->forward(x);
    loss_sum += per_sample_loss(spec_.loss, output, y).sum().item<double>();
    correct += output.argmax(1).eq(y).sum().item<int64_t>();
  }
  network_->train();
  return {loss_sum / n, static_cast<double>(correct) / n};
}

TrainResult Trainer::run() {
  TrainResult result;
  const int64_t per_epoch = train_loader_->batches_per_epoch();
  const int64_t planned_epochs = (total_steps_ + per_epoch - 1) / per_epoch;
  ProgressReporter progress(options_.progress, total_steps_, per_epoch, planned_epochs);
  const auto params = network_->parameters();
  const auto start = Clock::now();
  const int64_t first_step = step_;
  network_->train();

  // `reset` is false for the report of a run that ends mid-epoch: its totals stay in the
  // checkpoint so that a resumed run finishes the epoch with the same figures.
  const auto finish_epoch = [&](bool reset) {
    EpochRecord record;
    record.epoch = epoch_;
    record.step = step_;
    record.train_loss = totals_.steps > 0 ? totals_.loss_sum / totals_.steps : NAN;
    record.train_accuracy =
        totals_.seen > 0 ? static_cast<double>(totals_.correct) / totals_.seen : NAN;
    std::tie(record.val_loss, record.val_accuracy) = evaluate();
    record.lr = optimizer_->lr();
    record.seconds = seconds_since(start);
    epochs_.push_back(record);
    if (reset) schedule_->on_validation(record.val_loss);
    progress.epoch_end(fmt::format(
        "epoch {}/{}: train loss {:.4f} acc {:.1f}% · val loss {:.4f} acc {:.1f}% · {:.1f} s",
        epoch_ + 1, planned_epochs, record.train_loss, 100 * record.train_accuracy, record.val_loss,
        100 * record.val_accuracy, record.seconds));
    for (auto* o : observers_) o->on_epoch_end(*this, record);
    result.last_epoch = record;
    if (reset) totals_ = {};
  };

  while (step_ < total_steps_) {
    if (interrupt_requested()) {
      result.status = RunStatus::Interrupted;
      break;
    }
    torch::manual_seed(step_seed(spec_.seed, step_));
    for (auto* o : observers_) o->before_forward(*this, step_);
    data::Batch batch = train_loader_->batch(epoch_, batch_in_epoch_);
    batch.images = batch.images.to(device_);
    batch.labels = batch.labels.to(device_);

    double lr = schedule_->lr(step_, epoch_);
    if (options_.lr_override) lr = options_.lr_override(step_, lr);
    optimizer_->set_lr(lr);
    optimizer_->zero_grad();
    const torch::Tensor output = network_->forward(batch.images);
    const torch::Tensor sample_loss = per_sample_loss(spec_.loss, output, batch.labels);
    const torch::Tensor loss = sample_loss.mean();
    loss.backward();

    StepView view;
    view.step = step_;
    view.epoch = epoch_;
    view.batch_index = batch_in_epoch_;
    view.batch = &batch;
    view.output = &output;
    const torch::Tensor detached_loss = sample_loss.detach();
    view.sample_loss = &detached_loss;
    view.loss = loss.item<double>();
    view.lr = lr;
    view.grad_norm = global_grad_norm(params);
    for (auto* o : observers_) o->after_backward(*this, view);
    if (spec_.clip_grad_norm) torch::nn::utils::clip_grad_norm_(params, *spec_.clip_grad_norm);
    optimizer_->step();
    for (auto* o : observers_) o->after_step(*this, view);

    StepRecord record{step_, epoch_, view.loss, lr, view.grad_norm, seconds_since(start)};
    steps_.push_back(record);
    progress.step(step_, epoch_, view.loss, lr);
    totals_.loss_sum += view.loss;
    totals_.correct += output.detach().argmax(1).eq(batch.labels).sum().item<int64_t>();
    totals_.seen += batch.labels.size(0);
    ++totals_.steps;
    ++step_;
    ++batch_in_epoch_;

    if (!std::isfinite(view.loss) && options_.stop_on_nonfinite) {
      progress.message(
          fmt::format("loss became {} at step {}; stopping (the doctor can tell why: "
                      "lossdoctor diagnose)",
                      view.loss, record.step));
      result.status = RunStatus::NonFiniteLoss;
      break;
    }
    if (batch_in_epoch_ == per_epoch) {
      finish_epoch(/*reset=*/true);
      ++epoch_;
      batch_in_epoch_ = 0;
      ++result.epochs_completed;
      if (!options_.run_dir.empty()) save_checkpoint();
    } else if (options_.checkpoint_every > 0 && step_ % options_.checkpoint_every == 0 &&
               !options_.run_dir.empty()) {
      save_checkpoint();
    }
    bool stop = false;
    for (auto* o : observers_) stop = o->should_stop(*this) || stop;
    if (stop) {
      result.status = RunStatus::StoppedByObserver;
      break;
    }
  }
  // A run that ends mid-epoch (max_steps, budget) still reports validation figures.
  if ((result.status == RunStatus::Completed || result.status == RunStatus::StoppedByObserver) &&
      batch_in_epoch_ > 0) {
    finish_epoch(/*reset=*/false);
  }
  progress.finish();

  result.steps = step_;
  result.seconds = seconds_since(start);
  result.images_per_second =
      result.seconds > 0 ? (step_ - first_step) * spec_.batch_size / result.seconds : 0;
  if (!options_.run_dir.empty()) {
    save_checkpoint();
    write_summary(result);
    if (result.status == RunStatus::Interrupted) {
      progress.message(
          fmt::format("interrupted at step {}; checkpoint written to {} (continue with --resume)",
                      step_, checkpoint_path()));
    }
  }
  return result;
}

void Trainer::save_checkpoint() {
  torch::serialize::OutputArchive archive;
  torch::serialize::OutputArchive model_archive, optimizer_archive;
  network_->save(model_archive);
  optimizer_->save(optimizer_archive);
  archive.write("model", model_archive);
  archive.write("optimizer", optimizer_archive);
  archive.write("position", torch::tensor({step_, epoch_, batch_in_epoch_}, torch::kInt64));
  archive.write(
      "schedule",
      torch::tensor({static_cast<double>(schedule_->reductions()), schedule_->best_val_loss(),
                     static_cast<double>(schedule_->epochs_without_improvement())},
                    torch::kFloat64));
  archive.write(
      "epoch_totals",
      torch::tensor({totals_.loss_sum, static_cast<double>(totals_.correct),
                     static_cast<double>(totals_.seen), static_cast<double>(totals_.steps)},
                    torch::kFloat64));
  // Metrics first: a checkpoint never refers to steps the metric files lack.
  write_metrics();
  write_atomic_with(checkpoint_path(), [&](const std::string& tmp) { archive.save_to(tmp); });
}

void Trainer::load_checkpoint() {
  const std::string path = checkpoint_path();
  if (!fs::exists(path)) {
    throw InputError(path + ": no checkpoint to resume from (run without --resume first)");
  }
  try {
    torch::serialize::InputArchive archive, model_archive, optimizer_archive;
    archive.load_from(path);
    archive.read("model", model_archive);
    archive.read("optimizer", optimizer_archive);
    network_->load(model_archive);
    network_->to(device_);
    optimizer_->load(optimizer_archive);
    torch::Tensor position, schedule, totals;
    archive.read("position", position);
    archive.read("schedule", schedule);
    archive.read("epoch_totals", totals);
    totals_ = {totals[0].item<double>(), static_cast<int64_t>(totals[1].item<double>()),
               static_cast<int64_t>(totals[2].item<double>()),
               static_cast<int64_t>(totals[3].item<double>())};
    step_ = position[0].item<int64_t>();
    epoch_ = position[1].item<int64_t>();
    batch_in_epoch_ = position[2].item<int64_t>();
    schedule_->restore(static_cast<int64_t>(schedule[0].item<double>()), schedule[1].item<double>(),
                       static_cast<int64_t>(schedule[2].item<double>()));
  } catch (const c10::Error& e) {
    throw InputError(path + ": cannot resume: the checkpoint does not match this spec's model (" +
                     compat::error_message(e).substr(0, 200) + ")");
  }
  // Metrics up to the checkpoint.
  const auto read_jsonl = [&](const std::string& name, auto&& add) {
    std::ifstream in(fs::path(options_.run_dir) / name);
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty()) add(nlohmann::json::parse(line));
    }
  };
  read_jsonl("steps.jsonl", [&](const nlohmann::json& j) {
    if (j.at("step").get<int64_t>() < step_) {
      steps_.push_back({j.at("step"), j.at("epoch"), j.at("loss"), j.at("lr"), j.at("grad_norm"),
                        j.at("seconds")});
    }
  });
  read_jsonl("epochs.jsonl", [&](const nlohmann::json& j) {
    if (j.at("epoch").get<int64_t>() < epoch_) {
      epochs_.push_back({j.at("epoch"), j.at("step"), j.at("train_loss"), j.at("train_accuracy"),
                         j.at("val_loss"), j.at("val_accuracy"), j.at("lr"), j.at("seconds")});
    }
  });
}

namespace {

/// JSON has no NaN: non-finite values become null.
nlohmann::json num(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); }

}  // namespace

void Trainer::write_metrics() const {
  const fs::path dir(options_.run_dir);
  std::string csv = "step,epoch,loss,lr,grad_norm,seconds\n", jsonl;
  for (const auto& s : steps_) {
    csv += fmt::format("{},{},{:.9g},{:.9g},{:.9g},{:.3f}\n", s.step, s.epoch, s.loss, s.lr,
                       s.grad_norm, s.seconds);
    jsonl += nlohmann::json{{"step", s.step},
                            {"epoch", s.epoch},
                            {"loss", num(s.loss)},
                            {"lr", s.lr},
                            {"grad_norm", num(s.grad_norm)},
                            {"seconds", s.seconds}}
                 .dump() +
             "\n";
  }
  write_file_atomic((dir / "steps.csv").string(), csv);
  write_file_atomic((dir / "steps.jsonl").string(), jsonl);
  csv = "epoch,step,train_loss,train_accuracy,val_loss,val_accuracy,lr,seconds\n";
  jsonl.clear();
  for (const auto& e : epochs_) {
    csv += fmt::format("{},{},{:.9g},{:.6f},{:.9g},{:.6f},{:.9g},{:.3f}\n", e.epoch, e.step,
                       e.train_loss, e.train_accuracy, e.val_loss, e.val_accuracy, e.lr, e.seconds);
    jsonl += nlohmann::json{{"epoch", e.epoch},
                            {"step", e.step},
                            {"train_loss", num(e.train_loss)},
                            {"train_accuracy", num(e.train_accuracy)},
                            {"val_loss", num(e.val_loss)},
                            {"val_accuracy", num(e.val_accuracy)},
                            {"lr", e.lr},
                            {"seconds", e.seconds}}
                 .dump() +
             "\n";
  }
  write_file_atomic((dir / "epochs.csv").string(), csv);
  write_file_atomic((dir / "epochs.jsonl").string(), jsonl);
}

void Trainer::write_summary(const TrainResult& result) const {
  const char* status[] = {"completed", "interrupted", "nonfinite_loss", "stopped"};
  nlohmann::json j{{"spec", spec_.file},
                   {"status", status[static_cast<int>(result.status)]},
                   {"steps", result.steps},
                   {"seconds", result.seconds},
                   {"images_per_second", result.images_per_second},
                   {"device", device_.is_cuda() ? "cuda" : "cpu"}};
  if (result.last_epoch) {
    j["val_loss"] = num(result.last_epoch->val_loss);
    j["val_accuracy"] = num(result.last_epoch->val_accuracy);
    j["train_loss"] = num(result.last_epoch->train_loss);
  }
  write_file_atomic((fs::path(options_.run_dir) / "summary.json").string(), j.dump(2) + "\n");
}

}  // namespace lossdoctor::train
