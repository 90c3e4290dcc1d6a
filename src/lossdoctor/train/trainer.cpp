#include "lossdoctor/train/trainer.hpp"

#include <fmt/format.h>
#include <torch/cuda.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/serialize.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "lossdoctor/model/network.hpp"
#include "lossdoctor/spec/spec_parser.hpp"
#include "lossdoctor/train/distributed.hpp"
#include "lossdoctor/train/loss.hpp"
#include "lossdoctor/train/progress.hpp"
#include "lossdoctor/train/runnable.hpp"
#include "lossdoctor/util/atomic_file.hpp"
#include "lossdoctor/util/clock.hpp"
#include "lossdoctor/util/errors.hpp"
#include "lossdoctor/util/interrupt.hpp"
#include "lossdoctor/util/jsonl_records.hpp"
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

/// A hash of a batch's sample positions that a double holds exactly (52 bits), never 0.
uint64_t batch_hash(const torch::Tensor& indices) {
  const torch::Tensor idx = indices.to(torch::kCPU).contiguous();
  const int64_t* p = idx.data_ptr<int64_t>();
  uint64_t h = 0xcbf29ce484222325ULL;
  for (int64_t i = 0; i < idx.numel(); ++i) {
    h ^= static_cast<uint64_t>(p[i]);
    h *= 0x100000001b3ULL;
  }
  return (h & ((uint64_t{1} << 52) - 1)) | 1;
}

/// Σp + 0.5772·Σp² over every parameter, in double: equal on replicas that agree bitwise.
double parameter_checksum(const std::vector<torch::Tensor>& params) {
  torch::NoGradGuard no_grad;
  double sum = 0, squares = 0;
  for (const auto& p : params) {
    const torch::Tensor d = p.detach().to(torch::kFloat64);
    sum += d.sum().item<double>();
    squares += d.square().sum().item<double>();
  }
  return sum + 0.5772 * squares;
}

/// A uniform number in [0, 1) from (seed, sample, salt): which samples a faulty rank spoils.
double sample_draw(uint64_t seed, int64_t sample, uint64_t salt) {
  uint64_t z =
      seed * 0x9E3779B97F4A7C15ULL + static_cast<uint64_t>(sample) * 0xD1B54A32D192ED03ULL + salt;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return static_cast<double>((z ^ (z >> 31)) >> 11) / 9007199254740992.0;
}

/// data.inject.distributed.corrupt_rank: this rank's reader gives a share of its samples a
/// wrong label and replaces another share by noise (the same samples whenever they come by).
void corrupt_rank_batch(data::Batch& batch, const spec::DistributedInjectSpec& inject,
                        int64_t num_classes, uint64_t seed) {
  const torch::Tensor idx = batch.indices.to(torch::kCPU).contiguous();
  const int64_t* p = idx.data_ptr<int64_t>();
  torch::Tensor labels = batch.labels.to(torch::kCPU).clone();
  auto* y = labels.data_ptr<int64_t>();
  std::vector<int64_t> noisy;
  for (int64_t i = 0; i < idx.numel(); ++i) {
    if (num_classes > 1 && sample_draw(seed, p[i], 1) < inject.corrupt_rank_labels) {
      const auto shift = 1 + static_cast<int64_t>(sample_draw(seed, p[i], 2) * (num_classes - 1));
      y[i] = (y[i] + shift) % num_classes;
    }
    if (sample_draw(seed, p[i], 3) < inject.corrupt_rank_images) noisy.push_back(i);
  }
  batch.labels = labels;
  if (!noisy.empty()) {
    torch::NoGradGuard no_grad;
    const torch::Tensor rows = torch::tensor(noisy, torch::kInt64);
    const torch::Tensor images = batch.images.clone();
    const double mean = images.mean().item<double>(), sd = images.std().item<double>();
    images.index_copy_(0, rows,
                       torch::randn_like(images.index_select(0, rows)) * (3 * sd + 1e-3) + mean);
    batch.images = images;
  }
}

std::string shape_str(c10::IntArrayRef sizes) {
  std::string out = "[";
  for (size_t i = 0; i < sizes.size(); ++i) out += (i ? ", " : "") + std::to_string(sizes[i]);
  return out + "]";
}

// ---- resume fingerprint ----

/// 64-bit hash of bytes, a word at a time (identity, not security: a changed byte changes it).
uint64_t hash_bytes(const void* data, size_t n, uint64_t h = 0xcbf29ce484222325ULL) {
  const auto* p = static_cast<const unsigned char*>(data);
  h ^= n;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    h = (h ^ w) * 0x100000001b3ULL;
    h ^= h >> 29;
  }
  for (; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ULL;
  return h;
}

/// "1600 × [1, 28, 28], content 9f0c…": a split's images and labels as loaded (after limits,
/// excludes and injected faults), so moving the data files keeps the fingerprint.
std::string split_fingerprint(const data::Split& split) {
  if (split.size() == 0) return "none";
  const torch::Tensor images = split.images.contiguous().cpu();
  const torch::Tensor labels = split.labels.contiguous().cpu();
  uint64_t h = hash_bytes(images.data_ptr(), images.nbytes());
  h = hash_bytes(labels.data_ptr(), labels.nbytes(), h);
  return fmt::format("{} × {}, content {:016x}", split.size(), shape_str(images.sizes().slice(1)),
                     h);
}

template <typename Enum, size_t N>
const char* name_of(Enum kind, const char* const (&names)[N]) {
  const auto i = static_cast<size_t>(kind);
  return i < N ? names[i] : "?";
}

std::string init_scheme_text(const std::optional<spec::InitScheme>& scheme) {
  if (!scheme) return "unset";
  static const char* const kNames[] = {"default",       "he_normal",      "he_uniform",
                                       "glorot_normal", "glorot_uniform", "normal",
                                       "uniform",       "zeros",          "constant"};
  return fmt::format("{} std={} a={} value={}", name_of(scheme->kind, kNames), scheme->std,
                     scheme->a, scheme->value);
}

std::string init_text(const spec::InitSpec& init) {
  return fmt::format("weight {}, bias {}", init_scheme_text(init.weight),
                     init_scheme_text(init.bias));
}

std::string doubles_text(const std::vector<double>& values) {
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i) out += fmt::format("{}{}", i ? ", " : "", values[i]);
  return out + "]";
}

void add_layers(std::string& out, const std::string& prefix,
                const std::vector<spec::LayerSpec>& layers) {
  for (size_t i = 0; i < layers.size(); ++i) {
    const auto& l = layers[i];
    const std::string key = fmt::format("{}[{}]", prefix, i);
    // Every setting whatever the kind (one a kind ignores is equal on both sides), one line
    // each, so that a mismatch names the setting.
    out += fmt::format("{}={}\n", key, spec::layer_kind_name(l.kind));
    const std::pair<const char*, std::string> settings[] = {
        {"filters", std::to_string(l.filters)},
        {"kernel", std::to_string(l.kernel)},
        {"stride", std::to_string(l.stride)},
        {"padding", l.same_padding ? "same" : std::to_string(l.padding)},
        {"bias", l.bias ? "true" : "false"},
        {"units", std::to_string(l.units)},
        {"size", std::to_string(l.size)},
        {"pool_stride", std::to_string(l.pool_stride)},
        {"rate", fmt::format("{}", l.rate)},
        {"negative_slope", fmt::format("{}", l.negative_slope)},
        {"alpha", fmt::format("{}", l.alpha)},
        {"momentum", fmt::format("{}", l.momentum)},
        {"eps", fmt::format("{}", l.eps)},
        {"times", std::to_string(l.times)},
        {"init", init_text(l.init)}};
    for (const auto& [name, value] : settings) out += fmt::format("{}.{}={}\n", key, name, value);
    add_layers(out, key + ".layers", l.layers);
  }
}

void add_transforms(std::string& out, const std::string& prefix,
                    const std::vector<spec::TransformSpec>& transforms) {
  static const char* const kNames[] = {"scale", "normalize", "resize", "random_crop",
                                       "random_flip"};
  for (size_t i = 0; i < transforms.size(); ++i) {
    const auto& t = transforms[i];
    out += fmt::format(
        "{}[{}]={} factor={} mean={} std={} height={} width={} size={} padding={} "
        "horizontal={}\n",
        prefix, i, name_of(t.kind, kNames), t.factor, doubles_text(t.mean), doubles_text(t.std),
        t.height, t.width, t.size, t.padding, t.horizontal);
  }
}

/// The first setting that differs between two fingerprints, as (key, value in `a`, value in
/// `b`) with "(absent)" for a missing key: `a`'s lines in order, then keys only `b` has. An empty
/// key when they agree.
std::tuple<std::string, std::string, std::string> first_difference(const std::string& a,
                                                                   const std::string& b) {
  const auto lines = [](const std::string& text) {
    std::vector<std::pair<std::string, std::string>> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
      const size_t eq = line.find('=');
      if (eq != std::string::npos) out.emplace_back(line.substr(0, eq), line.substr(eq + 1));
    }
    return out;
  };
  const auto la = lines(a), lb = lines(b);
  const std::map<std::string, std::string> ma(la.begin(), la.end()), mb(lb.begin(), lb.end());
  for (const auto& [key, value] : la) {
    const auto it = mb.find(key);
    if (it == mb.end()) return {key, value, "(absent)"};
    if (it->second != value) return {key, value, it->second};
  }
  for (const auto& [key, value] : lb) {
    if (!ma.count(key)) return {key, "(absent)", value};
  }
  return {};
}

torch::Tensor text_tensor(const std::string& text) {
  return torch::from_blob(const_cast<char*>(text.data()), {static_cast<int64_t>(text.size())},
                          torch::kUInt8)
      .clone();
}

std::string tensor_text(const torch::Tensor& t) {
  const torch::Tensor bytes = t.contiguous().to(torch::kUInt8);
  return std::string(static_cast<const char*>(bytes.data_ptr()), bytes.numel());
}

// ---- checkpoint archives ----

using torch::serialize::InputArchive;
using torch::serialize::OutputArchive;

/// Every tensor of a saved module archive as (dotted name, shape), in the archive's order.
void archive_tensors(InputArchive& archive, const std::string& prefix,
                     std::vector<std::pair<std::string, std::vector<int64_t>>>& out) {
  for (const auto& key : archive.keys()) {
    InputArchive child;
    if (archive.try_read(key, child)) {
      archive_tensors(child, prefix + key + ".", out);
      continue;
    }
    torch::Tensor t;
    if (archive.try_read(key, t)) out.emplace_back(prefix + key, t.sizes().vec());
  }
}

/// Copies `in` to `out`, renaming keys and string values found in `rename`; renamed keys are
/// written in the order of their new names' rank in `rank`.
void copy_archive(InputArchive& in, OutputArchive& out,
                  const std::map<std::string, std::string>& rename,
                  const std::map<std::string, size_t>& rank) {
  std::vector<std::string> keys = in.keys();
  std::stable_sort(keys.begin(), keys.end(), [&](const std::string& a, const std::string& b) {
    const auto ra = rank.find(a), rb = rank.find(b);
    const size_t ka = ra == rank.end() ? 0 : ra->second + 1;
    const size_t kb = rb == rank.end() ? 0 : rb->second + 1;
    return ka < kb;
  });
  for (const auto& key : keys) {
    const auto renamed = rename.find(key);
    const std::string new_key = renamed == rename.end() ? key : renamed->second;
    InputArchive child;
    if (in.try_read(key, child)) {
      OutputArchive child_out(out.compilation_unit());
      copy_archive(child, child_out, rename, rank);
      out.write(new_key, child_out);
      continue;
    }
    c10::IValue value;
    if (!in.try_read(key, value)) continue;
    if (value.isString()) {
      const auto it = rename.find(value.toStringRef());
      if (it != rename.end()) value = c10::IValue(it->second);
    }
    if (value.isTensor()) {
      out.write(new_key, value.toTensor());
    } else {
      out.write(new_key, value);
    }
  }
}

/// The optimiser's state as a pure function of the run. torch's optimisers key per-parameter
/// state by the parameter's address ("0x55e6f240cfd0", different in every process) and write it
/// in hash-map order; this rewrites those keys as "param_<index>" in index order. torch's load
/// matches state to parameters through whatever keys the param groups list, so it loads as
/// before. (Optimizer::save could write this directly; it lives in optimizer.cpp.)
void save_optimizer_canonical(const Optimizer& optimizer, OutputArchive& out) {
  OutputArchive raw;
  optimizer.save(raw);
  std::stringstream bytes;
  raw.save_to(bytes);
  InputArchive in;
  in.load_from(bytes);

  std::map<std::string, std::string> rename;
  std::map<std::string, size_t> rank;
  InputArchive torch_archive, groups;
  if (in.try_read("torch", torch_archive) && torch_archive.try_read("param_groups", groups)) {
    torch::Tensor count;
    groups.read("param_groups/size", count);
    for (int64_t g = 0; g < count.item<int64_t>(); ++g) {
      InputArchive group;
      groups.read(fmt::format("param_groups/{}", g), group);
      torch::Tensor size;
      group.read("params/size", size);
      for (int64_t i = 0; i < size.item<int64_t>(); ++i) {
        c10::IValue key;
        group.read(fmt::format("params/{}", i), key);
        const size_t index = rename.size();
        rank[key.toStringRef()] = index;
        rename[key.toStringRef()] = fmt::format("param_{}", index);
      }
    }
  }
  copy_archive(in, out, rename, rank);
}

}  // namespace

double global_grad_norm(const std::vector<torch::Tensor>& params) {
  std::vector<torch::Tensor> grads;
  for (const auto& p : params) {
    if (p.grad().defined()) grads.push_back(p.grad().detach());
  }
  if (grads.empty()) return 0.0;
  // One fused call for the per-tensor norms (the probe and the Monitor pay for this every step).
  return torch::stack(at::_foreach_norm(grads)).to(torch::kFloat64).norm().item<double>();
}

void check_inject_ranks(const spec::Spec& spec, int world_size) {
  const spec::DistributedInjectSpec& inject = spec.data.inject.distributed;
  for (const auto& [key, rank] :
       {std::pair<const char*, int64_t>{"skip_update_on_rank", inject.skip_update_on_rank},
        {"corrupt_rank", inject.corrupt_rank},
        {"slow_rank", inject.slow_rank}}) {
    if (rank >= world_size) {
      throw InputError(
          fmt::format("{}: data.inject.distributed.{}: {} is not a rank of this {}-rank run",
                      spec.file.empty() ? "spec" : spec.file, key, rank, world_size));
    }
  }
}

Trainer::Trainer(const spec::Spec& spec, TrainOptions options, data::WarningSink warn)
    : spec_(spec), options_(std::move(options)), device_(resolve_device(spec.device)) {
  // A data-parallel CUDA run: each rank on its own device, the NCCL group's (else rank % count).
  if (options_.group != nullptr && device_.is_cuda()) {
    const int64_t devices = std::max<int64_t>(1, torch::cuda::device_count());
    device_ = options_.group->device().is_cuda()
                  ? options_.group->device()
                  : torch::Device(torch::kCUDA,
                                  static_cast<c10::DeviceIndex>(options_.group->rank() % devices));
  }
  dataset_ = options_.dataset != nullptr ? *options_.dataset
                                         : data::load_dataset(spec_.data, spec_.seed, warn);
  options_.dataset = nullptr;  // not needed past construction; the caller may free it
  // Every shape and size check first (train/runnable.hpp): nothing is allocated for a spec that
  // cannot run, and validate, lint and audit give the same answer.
  const std::vector<int64_t> input = check_runnable(spec_, dataset_);

  data::Pipeline train_pipeline = data::make_train_pipeline(spec_.data);
  val_pipeline_ = data::make_val_pipeline(spec_.data);
  if (dataset_.val.size() > 0) val_images_ = val_pipeline_.prepare(dataset_.val.images);
  train_loader_ = std::make_unique<data::Loader>(train_pipeline.prepare(dataset_.train.images),
                                                 dataset_.train.labels, train_pipeline,
                                                 spec_.batch_size, spec_.data.shuffle, spec_.seed);
  if (options_.group != nullptr) {
    const int world = options_.group->world_size();
    if (world > train_loader_->size()) {
      throw InputError(fmt::format("{} ranks need at least {} training images, the spec has {}",
                                   world, world, train_loader_->size()));
    }
    const spec::DistributedInjectSpec& inject = spec_.data.inject.distributed;
    check_inject_ranks(spec_, world);
    // Injected faults: every rank reads the whole set (no shard), or the same order each epoch.
    if (!inject.same_data_on_every_rank) train_loader_->set_shard(options_.group->rank(), world);
    if (inject.no_reshuffle) train_loader_->set_reshuffle_every_epoch(false);
    switch (spec_.optimizer.lr_scaling) {
      case spec::OptimizerSpec::LrScaling::None:
        break;
      case spec::OptimizerSpec::LrScaling::Linear:
        lr_scale_ = world;
        break;
      case spec::OptimizerSpec::LrScaling::Sqrt:
        lr_scale_ = std::sqrt(static_cast<double>(world));
        break;
    }
  }
  writer_ = !options_.run_dir.empty() && (options_.group == nullptr || options_.group->rank() == 0);

  torch::manual_seed(spec_.seed);
  network_ = model::Network(spec_.layers, spec_.init, input);
  network_->to(device_);
  // model.sync_batchnorm: batch norm over the global batch in a data-parallel run; one process
  // (or one rank) keeps plain batch norm, so the key changes nothing there.
  if (spec_.sync_batchnorm && options_.group != nullptr && options_.group->world_size() > 1) {
    ProcessGroup* const group = options_.group;
    network_->set_batchnorm_allreduce([group](at::Tensor& t) { group->allreduce_sum(t); });
  }
  optimizer_ = std::make_unique<Optimizer>(spec_.optimizer, network_->parameters());

  const int64_t per_epoch = train_loader_->batches_per_epoch();
  // The schedule is planned over the run the spec describes, whatever cap a diagnosis budget
  // puts on this run: a capped run is the first steps of exactly the user's run.
  const int64_t planned_per_epoch =
      options_.plan_train_size ? train_loader_->batches_per_epoch_for(*options_.plan_train_size)
                               : per_epoch;
  planned_steps_ = spec_.max_steps ? *spec_.max_steps : spec_.epochs * planned_per_epoch;
  total_steps_ = planned_steps_;
  if (options_.max_steps) total_steps_ = std::min(total_steps_, *options_.max_steps);
  schedule_ =
      std::make_unique<LrSchedule>(spec_.schedule, spec_.optimizer.lr * lr_scale_, planned_steps_);

  if (!options_.run_dir.empty()) {
    if (writer_) {
      std::error_code ec;
      fs::create_directories(options_.run_dir, ec);
      if (ec) throw InputError(options_.run_dir + ": cannot create run directory: " + ec.message());
      // A kill between writing a temporary file and renaming it leaves the file behind.
      const auto stale = remove_stale_temp_files(options_.run_dir);
      if (!stale.empty() && warn) {
        warn(fmt::format("{}: removed {} temporary file(s) left by a killed run ({}{})",
                         options_.run_dir, stale.size(), stale.front(),
                         stale.size() > 1 ? ", ..." : ""));
      }
    }
    fingerprint_ = resume_fingerprint();
    if (options_.resume) {
      load_checkpoint(warn);
    } else if (writer_) {
      // Data paths absolute: the run's spec.yaml resumes it from any working directory.
      write_file_atomic((fs::path(options_.run_dir) / "spec.yaml").string(),
                        spec_.resolved_yaml.empty()
                            ? spec_.resolved_yaml
                            : spec::resolved_yaml_with_absolute_paths(spec_));
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
  ProcessGroup* const group = options_.group;
  const int world = group != nullptr ? group->world_size() : 1;
  // Replicas start identical: rank 0's parameters and buffers everywhere.
  if (group != nullptr) {
    std::vector<torch::Tensor> state = params;
    for (const auto& b : network_->buffers()) state.push_back(b);
    broadcast_from_rank0(*group, state);
  }
  // Data-parallel diagnosis: every rank's own figures ride in the gradients' allreduce, each in
  // its rank's slot of the extras (the others send zeros, so the sum is a gather).
  const bool gather = group != nullptr && options_.gather_ranks;
  const int rank = group != nullptr ? group->rank() : 0;
  const int64_t num_classes = dataset_.num_classes;
  const int64_t slot = 4 + num_classes;  // loss, gradient norm, seconds, batch hash, histogram
  const spec::DistributedInjectSpec& inject = spec_.data.inject.distributed;
  const bool inject_here = group != nullptr;
  std::vector<RankStep> rank_steps;
  std::vector<double> checksums;
  // Each rank draws its own dropout masks; rank 0 (and a single process) the run's own.
  const uint64_t step_seed_base =
      group == nullptr ? spec_.seed
                       : spec_.seed + static_cast<uint64_t>(group->rank()) * 0x632BE59BD9B4E019ULL;

  // `reset` is false for the report of a run that ends mid-epoch: its totals stay in the
  // checkpoint so that a resumed run finishes the epoch with the same figures.
  const auto finish_epoch = [&](bool reset) {
    EpochRecord record;
    record.epoch = epoch_;
    record.step = step_;
    record.train_loss = totals_.steps > 0 ? totals_.loss_sum / totals_.steps : NAN;
    record.train_accuracy =
        totals_.seen > 0 ? static_cast<double>(totals_.correct) / totals_.seen : NAN;
    if (group == nullptr) {
      std::tie(record.val_loss, record.val_accuracy) = evaluate();
    } else {
      // Rank 0 evaluates (its batch-norm statistics); everyone uses its figures.
      double val_loss = 0, val_accuracy = 0;
      if (group->rank() == 0) std::tie(val_loss, val_accuracy) = evaluate();
      torch::Tensor figures = torch::tensor({val_loss, val_accuracy}, torch::kFloat64);
      broadcast_from_rank0(*group, {figures});
      record.val_loss = figures[0].item<double>();
      record.val_accuracy = figures[1].item<double>();
    }
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
    // Data-parallel ranks learn of an interrupt through the step's allreduce (below), so that
    // every rank stops after the same step.
    if (group == nullptr && interrupt_requested()) {
      result.status = RunStatus::Interrupted;
      break;
    }
    torch::manual_seed(step_seed(step_seed_base, step_));
    for (auto* o : observers_) o->before_forward(*this, step_);
    const auto compute_start = Clock::now();
    data::Batch batch = train_loader_->batch(epoch_, batch_in_epoch_);
    if (inject_here && inject.corrupt_rank == rank)
      corrupt_rank_batch(batch, inject, num_classes, spec_.seed);
    if (inject_here && inject.slow_rank == rank)
      std::this_thread::sleep_for(std::chrono::milliseconds(inject.slow_rank_ms));
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

    // Data-parallel: average the gradients (before the norm, clipping and the step) and sum
    // the step's loss, correct predictions, images and interrupt flags in the same round.
    std::vector<double> global;
    if (group != nullptr) {
      const double correct =
          static_cast<double>(output.detach().argmax(1).eq(batch.labels).sum().item<int64_t>());
      std::vector<double> extras = {loss.item<double>(), correct,
                                    static_cast<double>(batch.labels.size(0)),
                                    interrupt_requested() ? 1.0 : 0.0};
      if (gather) {
        const double seconds = seconds_since(compute_start);
        extras.resize(4 + static_cast<size_t>(world * slot), 0.0);
        double* mine = extras.data() + 4 + rank * slot;
        mine[0] = loss.item<double>();
        mine[1] = global_grad_norm(params);  // this rank's own gradient, before averaging
        mine[2] = seconds;
        mine[3] = static_cast<double>(batch_hash(batch.indices));
        const torch::Tensor counts = torch::bincount(batch.labels.to(torch::kCPU), {}, num_classes);
        for (int64_t k = 0; k < num_classes; ++k) mine[4 + k] = counts[k].item<double>();
      }
      global = average_gradients(*group, params, extras);
      if (gather) {
        rank_steps.assign(static_cast<size_t>(world), RankStep{});
        for (int r = 0; r < world; ++r) {
          const double* v = global.data() + 4 + r * slot;
          RankStep& out = rank_steps[static_cast<size_t>(r)];
          out.loss = v[0];
          out.grad_norm = v[1];
          out.seconds = v[2];
          out.batch_hash = static_cast<uint64_t>(v[3]);
          for (int64_t k = 0; k < num_classes; ++k)
            out.label_histogram.push_back(static_cast<int64_t>(v[4 + k]));
        }
      }
    }

    StepView view;
    view.step = step_;
    view.epoch = epoch_;
    view.batch_index = batch_in_epoch_;
    view.batch = &batch;
    view.output = &output;
    const torch::Tensor detached_loss = sample_loss.detach();
    view.sample_loss = &detached_loss;
    view.loss = group != nullptr ? global[0] / world : loss.item<double>();
    view.lr = lr;
    view.grad_norm = global_grad_norm(params);
    if (gather) view.ranks = &rank_steps;
    for (auto* o : observers_) o->after_backward(*this, view);
    if (spec_.clip_grad_norm) torch::nn::utils::clip_grad_norm_(params, *spec_.clip_grad_norm);
    // data.inject.distributed.skip_update_on_rank: one rank misses one update (its replica
    // drifts from the others for good).
    if (!(inject_here && inject.skip_update_on_rank == rank && inject.skip_update_step == step_))
      optimizer_->step();
    if (gather && step_ % std::max<int64_t>(1, options_.checksum_every) == 0) {
      torch::Tensor sums = torch::zeros({world}, torch::kFloat64);
      sums[rank] = parameter_checksum(params);
      group->allreduce_sum(sums);
      checksums.assign(sums.data_ptr<double>(), sums.data_ptr<double>() + world);
      view.checksums = &checksums;
    }
    for (auto* o : observers_) o->after_step(*this, view);

    StepRecord record{step_, epoch_, view.loss, lr, view.grad_norm, seconds_since(start)};
    steps_.push_back(record);
    progress.step(step_, epoch_, view.loss, lr);
    totals_.loss_sum += view.loss;
    if (group != nullptr) {
      totals_.correct += static_cast<int64_t>(global[1]);
      totals_.seen += static_cast<int64_t>(global[2]);
    } else {
      totals_.correct += output.detach().argmax(1).eq(batch.labels).sum().item<int64_t>();
      totals_.seen += batch.labels.size(0);
    }
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
      if (writer_) save_checkpoint();
    } else if (options_.checkpoint_every > 0 && step_ % options_.checkpoint_every == 0 && writer_) {
      save_checkpoint();
    }
    if (group != nullptr && global[3] > 0) {
      result.status = RunStatus::Interrupted;
      break;
    }
    bool stop = false;
    for (auto* o : observers_) stop = o->should_stop(*this) || stop;
    if (gather || (group != nullptr && options_.sync_stop)) {
      // One rank's observer decides for all: every rank stops after this step.
      torch::Tensor flag = torch::tensor({stop ? 1.0 : 0.0}, torch::kFloat64);
      group->allreduce_sum(flag);
      stop = flag.item<double>() > 0;
    }
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
      result.seconds > 0 ? (step_ - first_step) * spec_.batch_size * world / result.seconds : 0;
  result.world_size = world;
  if (group != nullptr) {
    // Synchronised batch norm updates the running statistics from the global batch, so they
    // too must agree; per-rank batch norm keeps its own.
    std::vector<torch::Tensor> state = params;
    if (network_->syncs_batchnorm())
      for (const auto& b : network_->buffers()) state.push_back(b);
    result.replicas_identical = replicas_identical(*group, state);
  }
  if (writer_) {
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
  OutputArchive archive;
  OutputArchive model_archive, optimizer_archive;
  network_->save(model_archive);
  save_optimizer_canonical(*optimizer_, optimizer_archive);
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
  // What the run is, for resume's check; the hash is the quick test, the text names the change.
  archive.write(
      "spec_hash",
      torch::tensor(static_cast<int64_t>(hash_bytes(fingerprint_.data(), fingerprint_.size()) >> 1),
                    torch::kInt64));
  archive.write("spec_fingerprint", text_tensor(fingerprint_));
  // Metrics first: a checkpoint never refers to steps the metric files lack.
  write_metrics();
  write_atomic_with(checkpoint_path(), [&](const std::string& tmp) { archive.save_to(tmp); });
}

std::string Trainer::resume_fingerprint() const {
  static const char* const kFormats[] = {"idx", "cifar10", "folder"};
  static const char* const kLosses[] = {"cross_entropy", "nll", "mse", "bce"};
  static const char* const kSchedules[] = {"constant", "step", "exponential", "cosine", "plateau"};
  const auto& s = spec_;
  std::string out = fmt::format("seed={}\n", s.seed);
  // The data as loaded, not where it was loaded from: a moved data directory still resumes.
  out += fmt::format("data.format={}\n", name_of(s.data.format, kFormats));
  out += fmt::format("data.train={}\n", split_fingerprint(dataset_.train));
  out += fmt::format("data.val={}\n", split_fingerprint(dataset_.val));
  out += fmt::format("data.classes={}\n", dataset_.num_classes);
  out += fmt::format("data.shuffle={}\n", s.data.shuffle);
  add_transforms(out, "data.transforms.train", s.data.train_transforms);
  out += fmt::format("data.transforms.val.given={}\n", s.data.val_transforms_given);
  add_transforms(out, "data.transforms.val", s.data.val_transforms);
  out += fmt::format("model.init={}\n", init_text(s.init));
  add_layers(out, "model.layers", s.layers);
  out += fmt::format("loss.type={}\n", name_of(s.loss.kind, kLosses));
  out += fmt::format("loss.from_logits={}\n", s.loss.from_logits);
  out += fmt::format("loss.label_smoothing={}\n", s.loss.label_smoothing);
  out += fmt::format("loss.targets_one_hot={}\n", s.loss.one_hot_targets);
  const auto& o = s.optimizer;
  out += fmt::format("optimizer.type={}\n", optimizer_kind_name(o.kind));
  out += fmt::format("optimizer.lr={}\n", o.lr);
  out += fmt::format("optimizer.momentum={}\n", o.momentum);
  out += fmt::format("optimizer.nesterov={}\n", o.nesterov);
  out += fmt::format("optimizer.betas=[{}, {}]\n", o.beta1, o.beta2);
  out += fmt::format("optimizer.eps={}\n", o.eps);
  out += fmt::format("optimizer.weight_decay={}\n", o.weight_decay);
  out += fmt::format("optimizer.alpha={}\n", o.alpha);
  out += fmt::format("optimizer.rho={}\n", o.rho);
  if (o.lr_scaling != spec::OptimizerSpec::LrScaling::None)  // absent: older checkpoints match
    out += fmt::format("optimizer.lr_scale={}\n", lr_scale_);
  const auto& c = s.schedule;
  out += fmt::format("schedule.type={}\n", name_of(c.kind, kSchedules));
  out += fmt::format("schedule.step_size={}\n", c.step_size);
  out += fmt::format("schedule.gamma={}\n", c.gamma);
  out += fmt::format("schedule.per={}\n", c.per_step ? "step" : "epoch");
  out += fmt::format("schedule.factor={}\n", c.factor);
  out += fmt::format("schedule.patience={}\n", c.patience);
  out += fmt::format("schedule.min_lr={}\n", c.min_lr);
  out += fmt::format("schedule.warmup_steps={}\n", c.warmup_steps);
  out += fmt::format("clip_grad_norm={}\n",
                     s.clip_grad_norm ? fmt::format("{}", *s.clip_grad_norm) : "none");
  out += fmt::format("batch_size={}\n", s.batch_size);
  // Data-parallel settings only when used, so that older checkpoints still match.
  const int world = options_.group != nullptr ? options_.group->world_size() : 1;
  if (world > 1) out += fmt::format("world_size={}\n", world);
  if (s.sync_batchnorm) out += "model.sync_batchnorm=true\n";
  const auto& d = s.data.inject.distributed;
  if (d.any()) {
    out += fmt::format(
        "data.inject.distributed={{same_data_on_every_rank: {}, no_reshuffle: {}, "
        "skip_update_on_rank: {}, skip_update_step: {}, corrupt_rank: {}, corrupt_rank_labels: "
        "{}, corrupt_rank_images: {}, slow_rank: {}, slow_rank_ms: {}}}\n",
        d.same_data_on_every_rank, d.no_reshuffle, d.skip_update_on_rank, d.skip_update_step,
        d.corrupt_rank, d.corrupt_rank_labels, d.corrupt_rank_images, d.slow_rank, d.slow_rank_ms);
  }
  return out;
}

void Trainer::check_checkpoint_model(InputArchive& model_archive, const std::string& path) {
  std::vector<std::pair<std::string, std::vector<int64_t>>> saved;
  archive_tensors(model_archive, "", saved);
  const std::map<std::string, std::vector<int64_t>> saved_by_name(saved.begin(), saved.end());
  // The spec layer a tensor belongs to, so the message points into the spec.
  const auto layer_of = [&](const torch::Tensor& t) -> std::string {
    for (const auto* layer : network_->all_layers()) {
      if (layer->module.is_empty()) continue;
      for (const auto& p : layer->module.ptr()->parameters()) {
        if (p.is_same(t)) return " (" + layer->key_path + ")";
      }
      for (const auto& b : layer->module.ptr()->buffers()) {
        if (b.is_same(t)) return " (" + layer->key_path + ")";
      }
    }
    return "";
  };
  const std::string head =
      path + ": cannot resume: the checkpoint holds another model than this spec builds: ";
  std::vector<std::pair<std::string, torch::Tensor>> mine;
  for (const auto& p : network_->named_parameters(/*recurse=*/true)) {
    mine.emplace_back(p.key(), p.value());
  }
  for (const auto& b : network_->named_buffers(/*recurse=*/true)) {
    mine.emplace_back(b.key(), b.value());
  }
  std::set<std::string> known;
  for (const auto& [name, tensor] : mine) {
    known.insert(name);
    const auto it = saved_by_name.find(name);
    if (it == saved_by_name.end()) {
      throw InputError(fmt::format("{}{}{} {} is missing from the checkpoint", head, name,
                                   layer_of(tensor), shape_str(tensor.sizes())));
    }
    if (it->second != tensor.sizes().vec()) {
      throw InputError(fmt::format("{}{}{} is {} in the checkpoint but {} in this spec's model",
                                   head, name, layer_of(tensor), shape_str(it->second),
                                   shape_str(tensor.sizes())));
    }
  }
  for (const auto& [name, shape] : saved) {
    if (!known.count(name)) {
      throw InputError(
          fmt::format("{}the checkpoint's {} {} has no counterpart in this spec's "
                      "model",
                      head, name, shape_str(shape)));
    }
  }
}

void Trainer::load_checkpoint(const data::WarningSink& warn) {
  const std::string path = checkpoint_path();
  if (!fs::exists(path)) {
    throw InputError(path + ": no checkpoint to resume from (run without --resume first)");
  }
  // What failed decides the words: an archive that cannot be read is damaged; one that reads but
  // does not fit this spec's model or optimiser is a mismatch.
  bool readable = false;
  try {
    InputArchive archive, model_archive, optimizer_archive;
    archive.load_from(path, device_);  // a run saved on another device resumes on this one
    archive.read("model", model_archive);
    readable = true;
    // Every check before any load: torch's load replaces a tensor of another shape silently.
    check_checkpoint_model(model_archive, path);
    torch::Tensor saved_hash, saved_fingerprint;
    // Checkpoints written before the fingerprint existed are checked by their tensors alone.
    if (archive.try_read("spec_hash", saved_hash) &&
        archive.try_read("spec_fingerprint", saved_fingerprint) &&
        saved_hash.item<int64_t>() !=
            static_cast<int64_t>(hash_bytes(fingerprint_.data(), fingerprint_.size()) >> 1)) {
      const auto [key, now, then] = first_difference(fingerprint_, tensor_text(saved_fingerprint));
      const std::string what =
          key.empty() ? "settings differ from the run's"
                      : fmt::format("{} is {} but the run was started with {}", key, now, then);
      throw InputError(fmt::format(
          "{}: cannot resume: this spec's {}; resume with the run's own spec ({}; only epochs "
          "and max_steps may change) or start a new run in another directory",
          path, what, (fs::path(options_.run_dir) / "spec.yaml").string()));
    }
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
    const std::string detail = compat::error_message(e).substr(0, 200);
    if (!readable) {
      throw InputError(path + ": cannot resume: the checkpoint is damaged (" + detail +
                       "); restore it, or start a new run in another directory");
    }
    throw InputError(path + ": cannot resume: the checkpoint does not match this spec's model (" +
                     detail + ")");
  }
  if (!writer_) return;  // a data-parallel rank other than 0: rank 0 keeps the metrics
  read_metrics(warn);
  // The files now end where the checkpoint does, whatever a kill left after it.
  write_metrics();
}

void Trainer::read_metrics(const data::WarningSink& warn) {
  const fs::path dir(options_.run_dir);
  const int64_t step = step_, epoch = epoch_;
  steps_ = read_jsonl_records<StepRecord>(
      dir / "steps.jsonl", parse_step_record<StepRecord>,
      [&](const StepRecord& r) { return r.step < step; }, static_cast<size_t>(step_),
      fmt::format("step {}", step_), warn);
  epochs_ = read_jsonl_records<EpochRecord>(
      dir / "epochs.jsonl", parse_epoch_record<EpochRecord>,
      [&](const EpochRecord& r) { return r.epoch < epoch; }, static_cast<size_t>(epoch_),
      fmt::format("epoch {}", epoch_), warn);
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
  if (options_.group != nullptr) {
    j["world_size"] = result.world_size;
    j["batch_size_per_rank"] = spec_.batch_size;
    j["global_batch_size"] = spec_.batch_size * result.world_size;
    j["replicas_identical"] = result.replicas_identical;
  }
  if (result.last_epoch) {
    j["val_loss"] = num(result.last_epoch->val_loss);
    j["val_accuracy"] = num(result.last_epoch->val_accuracy);
    j["train_loss"] = num(result.last_epoch->train_loss);
  }
  write_file_atomic((fs::path(options_.run_dir) / "summary.json").string(), j.dump(2) + "\n");
}

}  // namespace lossdoctor::train
