#pragma once
// A tiny Fashion-MNIST spec for the experiment tests (2000 training images, 500 validation, a
// one-conv CNN, 100 steps): small enough that a diagnosis plus reruns take seconds at 1 thread.

#include <string>

namespace lossdoctor::experiment::test {

inline const char* kData = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz";

inline std::string tiny_spec(const std::string& optimizer, const std::string& extra_data = "",
                             bool shuffle = true) {
  return R"(name: tiny
seed: 0
data:
  format: idx
  path: /usr/share/datasets/fashion-mnist
  train: {images: train-images-idx3-ubyte.gz, labels: train-labels-idx1-ubyte.gz, limit: 2000}
  val: {images: t10k-images-idx3-ubyte.gz, labels: t10k-labels-idx1-ubyte.gz, limit: 500}
  shuffle: )" +
         std::string(shuffle ? "true" : "false") +
         R"(
  transforms:
    train: [{scale: 0.00392156862745098}, {normalize: {mean: [0.286], std: [0.353]}}]
)" + extra_data +
         R"(model:
  init: {weight: he_normal, bias: zeros}
  layers:
    - {conv2d: {filters: 8, kernel: 3, padding: same}}
    - {batchnorm: {}}
    - {relu: {}}
    - {maxpool: {size: 2}}
    - {flatten: {}}
    - {dense: {units: 32}}
    - {relu: {}}
    - {dense: {units: 10}}
loss: {type: cross_entropy, from_logits: true}
optimizer: )" +
         optimizer + R"(
batch_size: 32
max_steps: 100
diagnose: {budget_steps: 100, probe_every: 10}
)";
}

}  // namespace lossdoctor::experiment::test
