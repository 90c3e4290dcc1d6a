#pragma once
// Two ranks of a process group in one test process, on loopback: each in its own thread with its
// own group (train/distributed.hpp). Used by the data-parallel tests of this folder.
#include <chrono>
#include <exception>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "lossdoctor/train/distributed.hpp"

namespace lossdoctor::train::test {

/// Runs `body(group)` on ranks 0 and 1, each in its own thread with its own group; rethrows the
/// first failure. `device`: the run's device (DistributedOptions::device; "cuda" picks NCCL
/// when built with it).
inline void with_two_ranks(const std::function<void(ProcessGroup&)>& body,
                           std::chrono::milliseconds timeout = std::chrono::seconds(60),
                           const std::string& device = "cpu") {
  const int port = pick_free_port();
  std::exception_ptr errors[2];
  std::vector<std::thread> threads;
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&, r] {
      try {
        DistributedOptions o;
        o.rank = r;
        o.world_size = 2;
        o.master_port = port;
        o.timeout = timeout;
        o.device = device;
        auto group = ProcessGroup::connect(o);
        body(*group);
      } catch (...) {
        errors[r] = std::current_exception();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace lossdoctor::train::test
