#pragma once
// The one place where libtorch versions differ for lossdoctor: Debian's 1.13 here, pip torch 2.x
// elsewhere. Everything else calls these wrappers instead of the version-sensitive API.

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <torch/version.h>

#include <string>

namespace lossdoctor::compat {

/// "1.13.1" — the libtorch the binary was built against.
inline std::string torch_version() { return TORCH_VERSION; }

/// Bilinear resize of [N, C, H, W] to [N, C, height, width] (align_corners false).
/// at::upsample_bilinear2d gained SymInt and vector-of-scales overloads in 2.x that make a
/// braced size ambiguous; the explicit IntArrayRef + nullopt scales form compiles on both.
inline at::Tensor resize_bilinear(const at::Tensor& images, int64_t height, int64_t width) {
  const std::array<int64_t, 2> size{height, width};
  return at::upsample_bilinear2d(images, at::IntArrayRef(size), /*align_corners=*/false,
                                 c10::nullopt, c10::nullopt);
}

/// The message of a torch error without the C++ backtrace that 1.13 appends to what().
inline std::string error_message(const c10::Error& error) { return error.what_without_backtrace(); }

}  // namespace lossdoctor::compat

// c10d (train/distributed.cpp only, which defines LOSSDOCTOR_COMPAT_C10D): the class that
// ProcessGroupGloo and ProcessGroupNCCL derive from, whose allreduce/broadcast/barrier the
// process group calls. 2.x split it out of ProcessGroup as c10d::Backend; 1.13 has
// c10d::ProcessGroup itself.
#ifdef LOSSDOCTOR_COMPAT_C10D
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
namespace lossdoctor::compat {
#if TORCH_VERSION_MAJOR >= 2
using C10dBackend = c10d::Backend;
#else
using C10dBackend = c10d::ProcessGroup;
#endif
}  // namespace lossdoctor::compat
#endif
