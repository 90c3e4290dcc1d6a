// Data pipeline cost of a spec: time to load + prepare the splits, and the rate of
// Loader::batch alone (shuffled order, index_select, per-batch transforms), in images/s.
//
//   loader_bench SPEC [--threads N] [--batches N] [--set key=value]...
//
// Prints one JSON object on stdout. Compare images_per_second with train_bench's: the loader
// is not the bottleneck when it is many times faster than training.
#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lossdoctor/data/dataset.hpp"
#include "lossdoctor/data/loader.hpp"
#include "lossdoctor/data/pipeline.hpp"
#include "lossdoctor/spec/spec_parser.hpp"

namespace ld = lossdoctor;
using Clock = std::chrono::steady_clock;

static double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

int main(int argc, char** argv) {
  std::string spec_path;
  std::vector<std::string> overrides;
  int threads = 0;
  int64_t batches = 2000;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--threads")
      threads = std::stoi(next());
    else if (a == "--batches")
      batches = std::stoll(next());
    else if (a == "--set")
      overrides.push_back(next());
    else if (spec_path.empty())
      spec_path = a;
    else {
      std::cerr << "unexpected argument " << a << "\n";
      return 2;
    }
  }
  if (spec_path.empty()) {
    std::cerr << "usage: loader_bench SPEC [--threads N] [--batches N] [--set key=value]...\n";
    return 2;
  }
  if (threads > 0) at::set_num_threads(threads);
  const ld::spec::Spec spec = ld::spec::parse_spec_file(spec_path, overrides);

  auto t = Clock::now();
  ld::data::Dataset ds = ld::data::load_dataset(spec.data, spec.seed);
  const double load_seconds = since(t);
  t = Clock::now();
  ld::data::Pipeline pipeline = ld::data::make_train_pipeline(spec.data);
  at::Tensor prepared = pipeline.prepare(ds.train.images);
  const double prepare_seconds = since(t);
  ld::data::Loader loader(prepared, ds.train.labels, pipeline, spec.batch_size, spec.data.shuffle,
                          spec.seed);

  const int64_t per_epoch = loader.batches_per_epoch();
  for (int64_t i = 0; i < 20; ++i) (void)loader.batch(0, i % per_epoch);  // warm-up
  int64_t images = 0;
  double checksum = 0;
  t = Clock::now();
  for (int64_t i = 0; i < batches; ++i) {
    const ld::data::Batch b = loader.batch(1 + i / per_epoch, i % per_epoch);
    images += b.images.size(0);
    checksum += b.images.data_ptr<float>()[0];  // keep the work observable
  }
  const double batch_seconds = since(t);

  nlohmann::json out{{"impl", "lossdoctor_loader"},
                     {"threads", at::get_num_threads()},
                     {"train_images", ds.train.size()},
                     {"val_images", ds.val.size()},
                     {"load_seconds", load_seconds},
                     {"prepare_seconds", prepare_seconds},
                     {"batches", batches},
                     {"batch_size", spec.batch_size},
                     {"batch_seconds", batch_seconds},
                     {"us_per_batch", batch_seconds / batches * 1e6},
                     {"images_per_second", images / batch_seconds},
                     {"checksum", checksum}};
  std::cout << out.dump() << std::endl;
  return 0;
}
