#pragma once
// The smallest real run the CLI tests train: a 4-filter CNN on the first images of Debian's
// Fashion-MNIST, plain SGD, two epochs of batches of 32 (seconds on one core).

#include <cstdint>
#include <string>

namespace lossdoctor::test {

inline std::string tiny_spec(int64_t train_limit) {
  return R"(name: tiny
data:
  path: /usr/share/datasets/fashion-mnist
  train: {limit: )" +
         std::to_string(train_limit) + R"(}
  val: {limit: 128}
  transforms:
    train: [{scale: 0.00392156862745098}]
    val: [{scale: 0.00392156862745098}]
model:
  layers:
    - conv2d: {filters: 4, kernel: 3}
    - relu: {}
    - flatten: {}
    - dense: {units: 10}
optimizer: {type: sgd, lr: 0.05}
batch_size: 32
epochs: 2
)";
}

}  // namespace lossdoctor::test
