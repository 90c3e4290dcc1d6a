#pragma once
// A CNN built from the spec's layer list, with shapes inferred from the input and a forward pass
// that can report every layer's output (libtorch C++ modules have no forward hooks, so the
// network calls its observer itself).
//
// Contract:
//   requires: layers validated by the spec parser; input_shape = {C, H, W} of one prepared image.
//   ensures:  every conv2d/dense is initialised per its own `init`, else the model's, else
//             libtorch's default; forward(x) for x [N, C, H, W] returns [N, output_shape...].
//             Same torch seed before construction → identical weights.
//   throws:   SpecError naming the layer (its spec line and key path) when a layer cannot apply
//             to its input: kernel or pool larger than the input, dense on an unflattened input,
//             a residual block that changes the shape, an empty repeat.

#include <torch/nn/module.h>
#include <torch/nn/modules/container/any.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lossdoctor/model/sync_batchnorm.hpp"
#include "lossdoctor/spec/spec.hpp"

namespace lossdoctor::model {

class ResidualImpl;

/// One layer of the network as built (repeat blocks are expanded).
struct Layer {
  std::string name;      ///< short unique path, e.g. "layers[4].repeat[2].conv2d"
  std::string key_path;  ///< spec key path, for messages
  spec::Location where;
  spec::LayerSpec::Kind kind = spec::LayerSpec::Kind::ReLU;
  std::vector<int64_t> input_shape;   ///< per sample
  std::vector<int64_t> output_shape;  ///< per sample
  torch::nn::AnyModule module;        ///< empty for residual blocks
  std::shared_ptr<ResidualImpl> residual;
  /// conv2d / dense weight and bias (undefined tensors otherwise)
  torch::Tensor weight, bias;
  int64_t parameter_count = 0;  ///< trainable values owned directly by this layer
};

/// Called after each layer's forward with its output (nested residual layers included).
using LayerObserver = std::function<void(const Layer&, const torch::Tensor&)>;

/// Ordered layers with an observable forward; shared by Network and residual blocks.
class LayerStack {
 public:
  /// `bn_allreduce` set: batchnorm layers in training mode normalise over the global batch
  /// (sync_batch_norm); empty: plain batch norm.
  torch::Tensor forward(torch::Tensor x, const LayerObserver* observer,
                        const std::shared_ptr<const AllreduceSum>& bn_allreduce);
  std::vector<Layer> layers;
};

class ResidualImpl : public torch::nn::Module {
 public:
  LayerStack stack;
};

using spec::layer_kind_name;

class NetworkImpl : public torch::nn::Module {
 public:
  NetworkImpl(const std::vector<spec::LayerSpec>& layers, const spec::InitSpec& model_init,
              std::vector<int64_t> input_shape);

  torch::Tensor forward(torch::Tensor x);

  /// Top-level layers in order (residual blocks hold their own).
  const std::vector<Layer>& layers() const { return stack_.layers; }
  /// Every layer, residual contents included, in forward order.
  std::vector<const Layer*> all_layers() const;
  const std::vector<int64_t>& input_shape() const { return input_shape_; }
  const std::vector<int64_t>& output_shape() const { return output_shape_; }
  int64_t parameter_count() const;
  /// One line per layer: name, output shape, parameter count.
  std::string summary() const;

  /// Observer for the next forward passes; nullptr to stop observing.
  void set_observer(LayerObserver observer) { observer_ = std::move(observer); }

  /// Synchronised batch norm (`model.sync_batchnorm` in a data-parallel run): from now on, every
  /// batchnorm layer in training mode normalises over the global batch, summing its statistics
  /// over the ranks with `allreduce` (model/sync_batchnorm.hpp). An empty function turns it off.
  /// Evaluation mode always uses the layer's running statistics, as plain batch norm does; the
  /// modules, their parameters and buffers (names included) are the same either way.
  void set_batchnorm_allreduce(AllreduceSum allreduce);
  bool syncs_batchnorm() const { return bn_allreduce_ != nullptr; }

 private:
  LayerStack stack_;
  std::vector<int64_t> input_shape_, output_shape_;
  LayerObserver observer_;
  std::shared_ptr<const AllreduceSum> bn_allreduce_;
};
TORCH_MODULE(Network);

/// Builds a Network (a plain function, so brace-initialised arguments work).
Network make_network(const std::vector<spec::LayerSpec>& layers, const spec::InitSpec& model_init,
                     std::vector<int64_t> input_shape);

}  // namespace lossdoctor::model
