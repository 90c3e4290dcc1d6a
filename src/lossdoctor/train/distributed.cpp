#include "lossdoctor/train/distributed.hpp"

#include <ATen/ATen.h>
#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "lossdoctor/util/errors.hpp"

// CMake defines LOSSDOCTOR_HAVE_GLOO=1 on this file when gloo's headers were found
// (LOSSDOCTOR_DISTRIBUTED); Debian's libtorch does not put USE_C10D_GLOO in TORCH_CXX_FLAGS,
// and ProcessGroupGloo.hpp declares nothing without it.
#ifndef LOSSDOCTOR_HAVE_GLOO
#define LOSSDOCTOR_HAVE_GLOO 0
#endif
#if LOSSDOCTOR_HAVE_GLOO
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO 1
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif
// LOSSDOCTOR_HAVE_NCCL=1 (CMake): this libtorch has CUDA with NCCL and nccl.h was found. Only
// with Gloo: the store and the CPU path are Gloo's.
#ifndef LOSSDOCTOR_HAVE_NCCL
#define LOSSDOCTOR_HAVE_NCCL 0
#endif
#if LOSSDOCTOR_HAVE_GLOO && LOSSDOCTOR_HAVE_NCCL
#ifndef USE_C10D_NCCL
#define USE_C10D_NCCL 1
#endif
#include <c10/cuda/CUDAFunctions.h>

#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#if LOSSDOCTOR_HAVE_GLOO
#define LOSSDOCTOR_COMPAT_C10D 1  // torch_compat.hpp: c10d's backend base class
#endif
#include "lossdoctor/util/torch_compat.hpp"

namespace lossdoctor::train {

bool distributed_available() { return LOSSDOCTOR_HAVE_GLOO != 0; }

bool nccl_available() { return LOSSDOCTOR_HAVE_GLOO != 0 && LOSSDOCTOR_HAVE_NCCL != 0; }

int pick_free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw DistributedError(fmt::format("cannot open a socket: {}", std::strerror(errno)));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const std::string why = std::strerror(errno);
    ::close(fd);
    throw DistributedError("cannot find a free port on 127.0.0.1: " + why);
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::pair<std::string, int> parse_master(const std::string& value, const std::string& what) {
  const size_t colon = value.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == value.size()) {
    throw InputError(fmt::format("{}: expected HOST:PORT, got '{}'", what, value));
  }
  const std::string port_text = value.substr(colon + 1);
  int port = 0;
  try {
    size_t used = 0;
    port = std::stoi(port_text, &used);
    if (used != port_text.size()) port = -1;
  } catch (const std::exception&) {
    port = -1;
  }
  if (port < 1 || port > 65535) {
    throw InputError(
        fmt::format("{}: the port must be a number in 1..65535, got '{}'", what, port_text));
  }
  return {value.substr(0, colon), port};
}

#if LOSSDOCTOR_HAVE_GLOO

struct ProcessGroup::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<compat::C10dBackend> group;  ///< ProcessGroupGloo or ProcessGroupNCCL
  std::string backend = "gloo";
  at::Device device{at::kCPU};
};

std::string ProcessGroup::backend() const { return impl_->backend; }
at::Device ProcessGroup::device() const { return impl_->device; }

namespace {

bool is_loopback(const std::string& host) {
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1";
}

}  // namespace

ProcessGroup::ProcessGroup(DistributedOptions options)
    : options_(std::move(options)), impl_(std::make_unique<Impl>()) {}

ProcessGroup::~ProcessGroup() = default;

std::unique_ptr<ProcessGroup> ProcessGroup::connect(const DistributedOptions& options) {
  if (options.world_size < 1 || options.rank < 0 || options.rank >= options.world_size) {
    throw InputError(
        fmt::format("--rank {} is not in [0, --world-size {})", options.rank, options.world_size));
  }
  if (options.master_port < 1 || options.master_port > 65535) {
    throw InputError(fmt::format("--master port {} is not in 1..65535", options.master_port));
  }
  std::unique_ptr<ProcessGroup> pg(new ProcessGroup(options));
  const double seconds = options.timeout.count() / 1000.0;
  try {
    c10d::TCPStoreOptions store_options;
    store_options.port = static_cast<std::uint16_t>(options.master_port);
    store_options.isServer = options.rank == 0;
    store_options.numWorkers = static_cast<size_t>(options.world_size);
    store_options.waitWorkers = true;
    store_options.timeout = options.timeout;
    pg->impl_->store = c10::make_intrusive<c10d::TCPStore>(options.master_addr, store_options);
#if LOSSDOCTOR_HAVE_NCCL
    // A CUDA run: NCCL, each rank on its own device (ranks beyond the device count share).
    const c10::DeviceIndex devices = c10::cuda::device_count();
    if (devices > 0 && (options.device == "cuda" || options.device == "auto")) {
      const auto index = static_cast<c10::DeviceIndex>(options.rank % devices);
      c10::cuda::set_device(index);
      auto nccl_options = c10d::ProcessGroupNCCL::Options::create();
      nccl_options->timeout = options.timeout;
      pg->impl_->group = c10::make_intrusive<c10d::ProcessGroupNCCL>(
          pg->impl_->store, options.rank, options.world_size, nccl_options);
      pg->impl_->backend = "nccl";
      pg->impl_->device = at::Device(at::kCUDA, index);
      return pg;
    }
#endif
    auto gloo_options = c10d::ProcessGroupGloo::Options::create(options.timeout);
    gloo_options->devices.push_back(
        is_loopback(options.master_addr)
            ? c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")
            : c10d::ProcessGroupGloo::createDefaultDevice());
    gloo_options->threads = 2;
    pg->impl_->group = c10::make_intrusive<c10d::ProcessGroupGloo>(
        pg->impl_->store, options.rank, options.world_size, gloo_options);
  } catch (const std::exception& e) {
    const auto* c10 = dynamic_cast<const c10::Error*>(&e);
    throw DistributedError(fmt::format(
        "rank {}: cannot join the group of {} at {}:{} within {:.0f} s (is every rank started, "
        "and the port free?): {}",
        options.rank, options.world_size, options.master_addr, options.master_port, seconds,
        c10 ? compat::error_message(*c10) : std::string(e.what())));
  }
  return pg;
}

namespace {

template <typename F>
void run_collective(const DistributedOptions& o, const char* what, F&& f) {
  try {
    auto work = f();
    if (!work->wait(o.timeout)) {
      throw DistributedError("the collective did not complete");
    }
  } catch (const DistributedError& e) {
    throw DistributedError(fmt::format("rank {}: {} failed after at most {:.0f} s: {}", o.rank,
                                       what, o.timeout.count() / 1000.0, e.what()));
  } catch (const std::exception& e) {
    const auto* c10 = dynamic_cast<const c10::Error*>(&e);
    std::string why = c10 ? compat::error_message(*c10) : std::string(e.what());
    if (why.size() > 300) why = why.substr(0, 300) + "…";
    throw DistributedError(
        fmt::format("rank {}: {} failed (a peer exited or did not answer within {:.0f} s): {}",
                    o.rank, what, o.timeout.count() / 1000.0, why));
  }
}

}  // namespace

namespace {

/// `t` where the backend runs its collectives: itself, or a copy on `device` (NCCL takes CUDA
/// tensors only; the trainer's flags and figures are CPU tensors).
at::Tensor on_device(const at::Tensor& t, const at::Device& device) {
  return t.device() == device || device.is_cpu() ? t : t.to(device);
}

}  // namespace

void ProcessGroup::allreduce_sum(at::Tensor& tensor) {
  at::Tensor moved = on_device(tensor, impl_->device);
  std::vector<at::Tensor> tensors{moved};
  run_collective(options_, "allreduce", [&] { return impl_->group->allreduce(tensors); });
  if (!moved.is_same(tensor)) tensor.copy_(moved);
}

void ProcessGroup::broadcast(std::vector<at::Tensor>& tensors, int root) {
  c10d::BroadcastOptions opts;
  opts.rootRank = root;
  for (auto& t : tensors) {
    std::vector<at::Tensor> one{on_device(t, impl_->device)};
    run_collective(options_, "broadcast", [&] { return impl_->group->broadcast(one, opts); });
    if (!one.front().is_same(t)) t.copy_(one.front());
  }
}

void ProcessGroup::barrier() {
  run_collective(options_, "barrier", [&] { return impl_->group->barrier(); });
}

#else  // !LOSSDOCTOR_HAVE_GLOO

struct ProcessGroup::Impl {};

ProcessGroup::ProcessGroup(DistributedOptions options) : options_(std::move(options)) {}
ProcessGroup::~ProcessGroup() = default;
std::string ProcessGroup::backend() const { return "none"; }
at::Device ProcessGroup::device() const { return at::kCPU; }

namespace {
[[noreturn]] void unavailable() {
  throw DistributedError(
      "this lossdoctor was built without c10d's Gloo backend (install libgloo-dev and "
      "rebuild): data-parallel training is not available");
}
}  // namespace

std::unique_ptr<ProcessGroup> ProcessGroup::connect(const DistributedOptions&) { unavailable(); }
void ProcessGroup::allreduce_sum(at::Tensor&) { unavailable(); }
void ProcessGroup::broadcast(std::vector<at::Tensor>&, int) { unavailable(); }
void ProcessGroup::barrier() { unavailable(); }

#endif

std::vector<double> average_gradients(ProcessGroup& group, const std::vector<at::Tensor>& params,
                                      const std::vector<double>& extras) {
  int64_t total = 0;
  for (const auto& p : params) total += p.numel();
  const auto device = params.empty() ? at::Device(at::kCPU) : params.front().device();
  const auto dtype = params.empty() ? at::kFloat : params.front().scalar_type();
  at::Tensor flat = at::empty({total}, at::TensorOptions().dtype(dtype).device(device));
  int64_t offset = 0;
  for (const auto& p : params) {
    at::Tensor slot = flat.narrow(0, offset, p.numel());
    if (p.grad().defined()) {
      slot.copy_(p.grad().reshape({-1}));
    } else {
      slot.zero_();
    }
    offset += p.numel();
  }
  // Extras in float64 in their own (tiny) tensor: counts stay exact.
  at::Tensor ex = at::tensor(extras, at::TensorOptions().dtype(at::kDouble)).to(device);
  group.allreduce_sum(flat);
  if (ex.numel() > 0) group.allreduce_sum(ex);
  flat.div_(group.world_size());
  offset = 0;
  for (const auto& p : params) {
    at::Tensor slot = flat.narrow(0, offset, p.numel()).view(p.sizes());
    if (p.grad().defined()) {
      p.grad().copy_(slot);
    } else {
      // A parameter unused here but used elsewhere gets the others' average.
      p.mutable_grad() = slot.clone();
    }
    offset += p.numel();
  }
  const at::Tensor summed = ex.cpu().contiguous();
  return std::vector<double>(summed.data_ptr<double>(), summed.data_ptr<double>() + summed.numel());
}

void broadcast_from_rank0(ProcessGroup& group, const std::vector<at::Tensor>& tensors) {
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> contiguous;
  for (const auto& t : tensors) contiguous.push_back(t.detach().contiguous());
  group.broadcast(contiguous, 0);
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (!contiguous[i].is_same(tensors[i])) tensors[i].detach().copy_(contiguous[i]);
  }
}

std::string broadcast_string(ProcessGroup& group, const std::string& bytes) {
  const bool root = group.rank() == 0;
  std::vector<at::Tensor> size{
      at::tensor({root ? static_cast<int64_t>(bytes.size()) : int64_t{0}}, at::kLong)};
  group.broadcast(size, 0);
  const int64_t n = size.front().item<int64_t>();
  if (n == 0) return {};
  std::vector<at::Tensor> data{at::empty({n}, at::kByte)};
  if (root) std::memcpy(data.front().data_ptr<uint8_t>(), bytes.data(), bytes.size());
  group.broadcast(data, 0);
  const auto* p = data.front().data_ptr<uint8_t>();
  return std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n));
}

bool replicas_identical(ProcessGroup& group, const std::vector<at::Tensor>& tensors) {
  std::vector<at::Tensor> mine, theirs;
  for (const auto& t : tensors) {
    mine.push_back(t.detach().contiguous());
    theirs.push_back(mine.back().clone());
  }
  group.broadcast(theirs, 0);
  double differ = 0;
  for (size_t i = 0; i < mine.size(); ++i) {
    if (!at::equal(mine[i], theirs[i])) differ = 1;
  }
  at::Tensor flag = at::tensor({differ}, at::TensorOptions().dtype(at::kDouble));
  group.allreduce_sum(flag);
  return flag.item<double>() == 0;
}

}  // namespace lossdoctor::train
