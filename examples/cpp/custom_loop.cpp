// A hand-written libtorch training loop watched by lossdoctor::Monitor.
//
//   custom_loop [--bug none|no-zero-grad|wrong-params|negated-loss] [--steps N] [--json FILE]
//               [--seed S] [--record FILE]
//
// Trains a small CNN on a Fashion-MNIST subset. Each --bug plants one of the loop mistakes a
// YAML spec cannot express; the Monitor's diagnosis names it. Exit status: 0 healthy,
// 1 a fault was found, 2 bad arguments.

#include <torch/torch.h>

#include <cstring>
#include <fstream>
#include <iostream>

#include "lossdoctor/data/dataset.hpp"
#include "lossdoctor/monitor.hpp"

namespace {

struct NetImpl : torch::nn::Module {
  NetImpl()
      : conv(register_module("conv",
                             torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 8, 3).padding(1)))),
        fc(register_module("fc", torch::nn::Linear(8 * 14 * 14, 10))) {}
  torch::Tensor forward(torch::Tensor x) {
    x = torch::max_pool2d(torch::relu(conv(x)), 2);
    return fc(x.flatten(1));
  }
  torch::nn::Conv2d conv;
  torch::nn::Linear fc;
};
TORCH_MODULE(Net);

}  // namespace

int main(int argc, char** argv) {
  std::string bug = "none", json_path, record_path;
  int64_t steps = 150, seed = 0;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--bug") && i + 1 < argc)
      bug = argv[++i];
    else if (!std::strcmp(argv[i], "--steps") && i + 1 < argc)
      steps = std::atoll(argv[++i]);
    else if (!std::strcmp(argv[i], "--json") && i + 1 < argc)
      json_path = argv[++i];
    else if (!std::strcmp(argv[i], "--record") && i + 1 < argc)
      record_path = argv[++i];
    else if (!std::strcmp(argv[i], "--seed") && i + 1 < argc)
      seed = std::atoll(argv[++i]);
    else {
      std::cerr << "usage: custom_loop [--bug none|no-zero-grad|wrong-params|negated-loss] "
                   "[--steps N] [--seed S] [--json FILE] [--record FILE]\n";
      return 2;
    }
  }
  if (bug != "none" && bug != "no-zero-grad" && bug != "wrong-params" && bug != "negated-loss") {
    std::cerr << "unknown --bug '" << bug << "'\n";
    return 2;
  }
  torch::manual_seed(seed);
  at::set_num_threads(1);

  // Any data source works; here lossdoctor's own IDX reader.
  lossdoctor::spec::DataSpec data;
  data.path = "/usr/share/datasets/fashion-mnist";
  data.train = {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", {}, "", 4096, "", true};
  data.val = {"t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", {}, "", 1000, "", true};
  const auto ds = lossdoctor::data::load_dataset(data, static_cast<uint64_t>(seed));
  const torch::Tensor images = (ds.train.images / 255.0 - 0.286) / 0.353;
  const torch::Tensor labels = ds.train.labels;

  Net model;
  std::vector<torch::Tensor> params = model->parameters();
  if (bug == "wrong-params") {
    // The mistake: the optimiser gets copies, so its steps never reach the model.
    for (auto& p : params) p = p.detach().clone().requires_grad_(true);
  }
  torch::optim::SGD optimizer(params, torch::optim::SGDOptions(0.05).momentum(0.9));
  lossdoctor::Monitor monitor(*model, lossdoctor::MonitorOptions()
                                          .num_classes(10)
                                          .optimizer("sgd")
                                          .lr(0.05)
                                          .train_size(images.size(0))
                                          .name("custom_loop --bug " + bug));

  const int64_t batch = 32, n = images.size(0);
  for (int64_t step = 0; step < steps; ++step) {
    const int64_t start = (step * batch) % (n - batch);
    const torch::Tensor x = images.slice(0, start, start + batch);
    const torch::Tensor y = labels.slice(0, start, start + batch);
    if (bug != "no-zero-grad") optimizer.zero_grad();
    const torch::Tensor output = model->forward(x);
    torch::Tensor loss = torch::nn::functional::cross_entropy(output, y);
    if (bug == "negated-loss") loss = -loss;
    monitor.after_forward(x, output, y, loss, torch::arange(start, start + batch));
    loss.backward();
    monitor.after_backward();
    optimizer.step();
    monitor.after_step();
  }

  const lossdoctor::report::Report report = monitor.diagnose();
  std::cout << lossdoctor::report::render_text(report, false);
  if (!json_path.empty())
    std::ofstream(json_path) << lossdoctor::report::to_json(report).dump(2) << "\n";
  if (!record_path.empty())
    std::ofstream(record_path) << lossdoctor::report::record_to_json(monitor.record()).dump()
                               << "\n";
  return report.verdict == "healthy" ? 0 : 1;
}
