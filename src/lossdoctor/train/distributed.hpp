#pragma once
// Data-parallel training over c10d (Gloo on TCP; NCCL for CUDA runs when built with it): a
// process group per rank, created from a TCPStore that rank 0 hosts at ADDR:PORT, like
// torchrun's "env://" rendezvous.
//
// Contract:
//   requires: every rank of a group makes the same collective calls in the same order, with
//             tensors of the same shape and dtype.
//   ensures:  a collective that does not finish within the group's timeout (a dead or hung
//             peer) throws DistributedError naming this rank and the operation; it never hangs
//             past the timeout. A peer that exits closes its connections, which the others see
//             as an error at once.
//   throws:   DistributedError (rendezvous or collective failure); InputError for bad options;
//             DistributedError "built without gloo" when the binary was built without it
//             (distributed_available() is false).
// The c10d headers stay inside distributed.cpp: this header is cheap to include.

#include <ATen/core/Tensor.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace lossdoctor::train {

/// A collective failed or timed out, or the rendezvous did not complete.
class DistributedError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct DistributedOptions {
  int rank = 0;        ///< 0 ≤ rank < world_size; rank 0 hosts the store
  int world_size = 1;  ///< number of ranks
  std::string master_addr = "127.0.0.1";
  int master_port = 0;  ///< 1..65535
  /// Rendezvous and every collective end with DistributedError after this long.
  std::chrono::milliseconds timeout{std::chrono::seconds(120)};
  /// The run's device as the spec names it (auto | cpu | cuda). A CUDA run (cuda, or auto with a
  /// CUDA device present) uses NCCL when this binary was built with it (nccl_available()), each
  /// rank on cuda:(rank % device count); any other run, or a binary without NCCL, uses Gloo.
  std::string device = "cpu";
};

/// Whether this binary was built with c10d's Gloo backend (libgloo-dev present at build time).
bool distributed_available();

/// Whether this binary was built with c10d's NCCL backend (a libtorch with CUDA and NCCL, and
/// nccl.h, at build time; CMake says at configure time why not).
bool nccl_available();

/// A free TCP port on 127.0.0.1 (bind port 0, read it back, close). Another process may take it
/// before it is used; good enough for a launcher on one machine.
int pick_free_port();

/// "HOST:PORT" → (host, port); throws InputError naming `what` on a malformed value.
std::pair<std::string, int> parse_master(const std::string& value, const std::string& what);

/// One rank's membership of a group.
class ProcessGroup {
 public:
  /// Joins the group described by `options` (rank 0 starts the store). Blocks until every rank
  /// has joined or the timeout passes (DistributedError).
  static std::unique_ptr<ProcessGroup> connect(const DistributedOptions& options);
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int rank() const { return options_.rank; }
  int world_size() const { return options_.world_size; }
  std::chrono::milliseconds timeout() const { return options_.timeout; }
  /// "gloo" or "nccl".
  std::string backend() const;
  /// Where the backend's collectives run: CPU for Gloo; for NCCL this rank's CUDA device
  /// (cuda:(rank % device count)), which is also where its Trainer trains. The collectives take
  /// tensors on any device: one elsewhere is copied to this device and back.
  at::Device device() const;

  /// Sums `tensor` (contiguous, CPU or the backend's device) over the ranks, in place.
  void allreduce_sum(at::Tensor& tensor);
  /// Copies root's `tensors` into every rank's (same shapes), in place.
  void broadcast(std::vector<at::Tensor>& tensors, int root = 0);
  void barrier();

 private:
  explicit ProcessGroup(DistributedOptions options);
  struct Impl;
  DistributedOptions options_;
  std::unique_ptr<Impl> impl_;
};

/// Averages the gradients of `params` over the group in one flattened bucket (one allreduce per
/// step; not overlapped with backward), and sums `extras` (per-rank scalars: loss, counts,
/// flags) in the same call. Parameters without a gradient on this rank count as zeros, so every
/// rank sends the same layout. Returns the summed extras.
std::vector<double> average_gradients(ProcessGroup& group, const std::vector<at::Tensor>& params,
                                      const std::vector<double>& extras);

/// Copies rank 0's `tensors` (parameters and buffers) to every rank, so replicas start
/// identical.
void broadcast_from_rank0(ProcessGroup& group, const std::vector<at::Tensor>& tensors);

/// Rank 0's `bytes` on every rank (the others' argument is ignored): its length, then the bytes
/// as a uint8 tensor, in two broadcasts. For small messages (a rerun's orders,
/// docs/distributed.md).
std::string broadcast_string(ProcessGroup& group, const std::string& bytes);

/// Whether every rank's `tensors` equal rank 0's exactly (bitwise), as seen by every rank.
bool replicas_identical(ProcessGroup& group, const std::vector<at::Tensor>& tensors);

}  // namespace lossdoctor::train
