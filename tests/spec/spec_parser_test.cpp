// Tests for spec_parser: typed values, defaults, every error class with its exact message and
// position, --set overrides, did_you_mean, path resolution and the resolved_yaml round trip.

#include "lossdoctor/spec/spec_parser.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "lossdoctor/util/errors.hpp"

namespace lossdoctor::spec {
namespace {

namespace fs = std::filesystem;

const char* kLabel = "cfg/exp.yaml";

Spec parse(const std::string& text, const std::vector<std::string>& overrides = {}) {
  return parse_spec_text(text, kLabel, overrides);
}

/// The error message parse() throws, or "no error".
std::string error_of(const std::string& text, const std::vector<std::string>& overrides = {}) {
  try {
    parse(text, overrides);
  } catch (const SpecError& e) {
    return e.what();
  }
  return "no error";
}

const std::string kModel = "model: {layers: [relu]}\n";

// A readable dump of every field, for round-trip comparisons.
void dump_init(std::ostream& os, const InitSpec& i) {
  for (const auto* s : {&i.weight, &i.bias}) {
    if (*s)
      os << "(" << static_cast<int>((*s)->kind) << "," << (*s)->std << "," << (*s)->a << ","
         << (*s)->value << ")";
    else
      os << "(-)";
  }
}
void dump_layers(std::ostream& os, const std::vector<LayerSpec>& layers) {
  for (const auto& l : layers) {
    os << "[" << static_cast<int>(l.kind) << " " << l.key_path << " f" << l.filters << " k"
       << l.kernel << " s" << l.stride << " sp" << l.same_padding << " p" << l.padding << " b"
       << l.bias << " u" << l.units << " z" << l.size << " ps" << l.pool_stride << " r" << l.rate
       << " ns" << l.negative_slope << " a" << l.alpha << " m" << l.momentum << " e" << l.eps
       << " t" << l.times << " init";
    dump_init(os, l.init);
    dump_layers(os, l.layers);
    os << "]";
  }
}
void dump_transforms(std::ostream& os, const std::vector<TransformSpec>& ts) {
  for (const auto& t : ts) {
    os << "{" << static_cast<int>(t.kind) << " " << t.factor << " m";
    for (double v : t.mean) os << v << ",";
    os << " s";
    for (double v : t.std) os << v << ",";
    os << " " << t.height << "x" << t.width << " " << t.size << "/" << t.padding << " "
       << t.horizontal << "}";
  }
}
void dump_split(std::ostream& os, const SplitSpec& s) {
  os << "<" << s.images << " " << s.labels << " ";
  for (const auto& f : s.files) os << f << ",";
  os << " " << s.path << " " << (s.limit ? *s.limit : -1) << " " << s.exclude << " " << s.present
     << ">";
}
std::string dump(const Spec& s) {
  std::ostringstream os;
  os.precision(17);
  const auto& d = s.data;
  os << s.name << "|" << s.seed << "|" << s.device << "|" << static_cast<int>(d.format) << "|"
     << d.path << "|";
  dump_split(os, d.train);
  dump_split(os, d.val);
  os << d.split << "|" << d.shuffle << "|" << (d.num_classes ? *d.num_classes : -1) << "|"
     << (d.channels ? *d.channels : -1) << "|"
     << (d.image_size ? d.image_size->first * 100000 + d.image_size->second : -1) << "|"
     << d.skip_bad_images << "|";
  dump_transforms(os, d.train_transforms);
  os << "|";
  dump_transforms(os, d.val_transforms);
  os << "|" << d.val_transforms_given << "|" << d.inject.label_noise << "," << d.inject.corrupt
     << "," << static_cast<int>(d.inject.corrupt_kind) << "," << d.inject.sort_by_label << "|";
  dump_init(os, s.init);
  dump_layers(os, s.layers);
  const auto& l = s.loss;
  os << "|" << static_cast<int>(l.kind) << l.from_logits << l.label_smoothing << l.one_hot_targets;
  const auto& o = s.optimizer;
  os << "|" << static_cast<int>(o.kind) << " " << o.lr << " " << o.momentum << " " << o.nesterov
     << " " << o.beta1 << " " << o.beta2 << " " << o.eps << " " << o.weight_decay << " " << o.alpha
     << " " << o.rho;
  const auto& c = s.schedule;
  os << "|" << static_cast<int>(c.kind) << " " << c.step_size << " " << c.gamma << " " << c.per_step
     << " " << c.factor << " " << c.patience << " " << c.min_lr << " " << c.warmup_steps;
  os << "|" << (s.clip_grad_norm ? *s.clip_grad_norm : -1) << "|" << s.batch_size << "|" << s.epochs
     << "|" << (s.max_steps ? *s.max_steps : -1) << "|" << s.diagnose.budget_steps << " "
     << s.diagnose.probe_every << " " << s.diagnose.confirm;
  return os.str();
}

const std::string kFull = R"(name: full
seed: 7
device: cpu
data:
  format: idx
  path: data/fashion
  train: {images: tr-img.gz, labels: tr-lbl.gz, limit: 12000, exclude: bad.txt}
  val: {limit: 2000}
  shuffle: false
  num_classes: 10
  channels: 1
  transforms:
    train: [{random_crop: {size: 28, padding: 2}}, {random_flip: horizontal},
            {scale: 0.00392156862745098}, {normalize: {mean: [0.286], std: [0.353]}}]
    val: [{resize: [30, 28]}, {resize: 28}, {scale: 0.5}]
  inject:
    label_noise: {fraction: 0.4}
    corrupt: {fraction: 0.05, kind: nan}
    sort_by_label: true
model:
  init: {weight: he_normal, bias: zeros}
  layers:
    - conv2d: {filters: 32, kernel: 5, stride: 2, padding: same, bias: false}
    - batchnorm: {momentum: 0.2, eps: 0.001}
    - leaky_relu: {negative_slope: 0.2}
    - maxpool: {size: 3, stride: 1}
    - repeat:
        times: 3
        layers:
          - conv2d: {filters: 16, padding: 1}
          - elu: {alpha: 0.5}
    - residual: {layers: [{conv2d: {filters: 16, padding: valid}}, gelu]}
    - dropout: {rate: 0.25}
    - avgpool: {}
    - global_avgpool
    - flatten: null
    - dense: {units: 10, init: {weight: normal, std: 5.0}}
    - softmax
loss: {type: nll, from_logits: false, label_smoothing: 0.1, targets: one_hot}
optimizer: {type: sgd, lr: 10, momentum: 0.999, nesterov: true,
            weight_decay: 1.0}
schedule: {type: step, step_size: 5, gamma: 1.5, per: step, factor: 0.5, patience: 0,
           min_lr: 1e-6, warmup_steps: 100}
clip_grad_norm: 0.5
batch_size: 1
epochs: 3
max_steps: 200
diagnose: {budget_steps: 300, probe_every: 5, confirm: false}
)";

// ------------------------------------------------------------------------------------------
// Good specs.

TEST(SpecParser, FullSpecTopLevelAndData) {
  Spec s = parse(kFull);
  EXPECT_EQ(s.name, "full");
  EXPECT_EQ(s.file, kLabel);
  EXPECT_EQ(s.seed, 7u);
  EXPECT_EQ(s.device, "cpu");
  const DataSpec& d = s.data;
  EXPECT_EQ(d.format, DataSpec::Format::Idx);
  EXPECT_EQ(d.path, "cfg/data/fashion");
  EXPECT_EQ(d.train.images, "tr-img.gz");
  EXPECT_EQ(d.train.labels, "tr-lbl.gz");
  EXPECT_EQ(d.train.limit, 12000);
  EXPECT_EQ(d.train.exclude,
            fs::absolute("cfg/data/fashion/bad.txt").string());  // relative to data.path
  EXPECT_TRUE(d.train.present);
  EXPECT_EQ(d.val.images, "t10k-images-idx3-ubyte.gz");
  EXPECT_EQ(d.val.labels, "t10k-labels-idx1-ubyte.gz");
  EXPECT_EQ(d.val.limit, 2000);
  EXPECT_TRUE(d.val.present);
  EXPECT_FALSE(d.shuffle);
  EXPECT_EQ(d.num_classes, 10);
  EXPECT_EQ(d.channels, 1);
  EXPECT_DOUBLE_EQ(d.inject.label_noise, 0.4);
  EXPECT_DOUBLE_EQ(d.inject.corrupt, 0.05);
  EXPECT_EQ(d.inject.corrupt_kind, InjectSpec::CorruptKind::NaN);
  EXPECT_TRUE(d.inject.sort_by_label);
  EXPECT_TRUE(d.inject.any());
  EXPECT_DOUBLE_EQ(*s.clip_grad_norm, 0.5);
  EXPECT_EQ(s.batch_size, 1);
  EXPECT_EQ(s.epochs, 3);
  EXPECT_EQ(s.max_steps, 200);
  EXPECT_EQ(s.diagnose.budget_steps, 300);
  EXPECT_EQ(s.diagnose.probe_every, 5);
  EXPECT_FALSE(s.diagnose.confirm);
}

TEST(SpecParser, FullSpecTransforms) {
  Spec s = parse(kFull);
  const auto& tr = s.data.train_transforms;
  ASSERT_EQ(tr.size(), 4u);
  EXPECT_EQ(tr[0].kind, TransformSpec::Kind::RandomCrop);
  EXPECT_EQ(tr[0].size, 28);
  EXPECT_EQ(tr[0].padding, 2);
  EXPECT_EQ(tr[0].where.line, 13);
  EXPECT_EQ(tr[0].where.column, 14);
  EXPECT_TRUE(tr[0].is_augmentation());
  EXPECT_EQ(tr[1].kind, TransformSpec::Kind::RandomFlip);
  EXPECT_TRUE(tr[1].horizontal);
  EXPECT_EQ(tr[2].kind, TransformSpec::Kind::Scale);
  EXPECT_DOUBLE_EQ(tr[2].factor, 1.0 / 255.0);
  EXPECT_EQ(tr[2].where.line, 14);
  EXPECT_EQ(tr[2].where.column, 14);
  EXPECT_EQ(tr[3].kind, TransformSpec::Kind::Normalize);
  EXPECT_EQ(tr[3].mean, std::vector<double>{0.286});
  EXPECT_EQ(tr[3].std, std::vector<double>{0.353});
  EXPECT_TRUE(s.data.val_transforms_given);
  const auto& va = s.data.val_transforms;
  ASSERT_EQ(va.size(), 3u);
  EXPECT_EQ(va[0].kind, TransformSpec::Kind::Resize);
  EXPECT_EQ(va[0].height, 30);
  EXPECT_EQ(va[0].width, 28);
  EXPECT_EQ(va[1].height, 28);
  EXPECT_EQ(va[1].width, 28);
  EXPECT_DOUBLE_EQ(va[2].factor, 0.5);
}

TEST(SpecParser, FullSpecModel) {
  Spec s = parse(kFull);
  ASSERT_TRUE(s.init.weight && s.init.bias);
  EXPECT_EQ(s.init.weight->kind, InitScheme::Kind::HeNormal);
  EXPECT_EQ(s.init.bias->kind, InitScheme::Kind::Zeros);
  const auto& L = s.layers;
  ASSERT_EQ(L.size(), 12u);
  EXPECT_EQ(L[0].kind, LayerSpec::Kind::Conv2d);
  EXPECT_EQ(L[0].key_path, "model.layers[0].conv2d");
  EXPECT_EQ(L[0].where.line, 23);
  EXPECT_EQ(L[0].where.column, 7);
  EXPECT_EQ(L[0].filters, 32);
  EXPECT_EQ(L[0].kernel, 5);
  EXPECT_EQ(L[0].stride, 2);
  EXPECT_TRUE(L[0].same_padding);
  EXPECT_FALSE(L[0].bias);
  EXPECT_EQ(L[1].kind, LayerSpec::Kind::BatchNorm);
  EXPECT_DOUBLE_EQ(L[1].momentum, 0.2);
  EXPECT_DOUBLE_EQ(L[1].eps, 0.001);
  EXPECT_EQ(L[2].kind, LayerSpec::Kind::LeakyReLU);
  EXPECT_DOUBLE_EQ(L[2].negative_slope, 0.2);
  EXPECT_EQ(L[3].kind, LayerSpec::Kind::MaxPool);
  EXPECT_EQ(L[3].size, 3);
  EXPECT_EQ(L[3].pool_stride, 1);
  EXPECT_EQ(L[4].kind, LayerSpec::Kind::Repeat);
  EXPECT_EQ(L[4].times, 3);
  ASSERT_EQ(L[4].layers.size(), 2u);
  EXPECT_EQ(L[4].layers[0].key_path, "model.layers[4].repeat.layers[0].conv2d");
  EXPECT_EQ(L[4].layers[0].where.line, 30);
  EXPECT_EQ(L[4].layers[0].where.column, 13);
  EXPECT_FALSE(L[4].layers[0].same_padding);
  EXPECT_EQ(L[4].layers[0].padding, 1);
  EXPECT_EQ(L[4].layers[0].kernel, 3);
  EXPECT_EQ(L[4].layers[1].kind, LayerSpec::Kind::ELU);
  EXPECT_DOUBLE_EQ(L[4].layers[1].alpha, 0.5);
  EXPECT_EQ(L[5].kind, LayerSpec::Kind::Residual);
  ASSERT_EQ(L[5].layers.size(), 2u);
  EXPECT_EQ(L[5].layers[0].padding, 0);
  EXPECT_FALSE(L[5].layers[0].same_padding);
  EXPECT_EQ(L[5].layers[1].kind, LayerSpec::Kind::GELU);
  EXPECT_EQ(L[5].layers[1].key_path, "model.layers[5].residual.layers[1].gelu");
  EXPECT_EQ(L[6].kind, LayerSpec::Kind::Dropout);
  EXPECT_DOUBLE_EQ(L[6].rate, 0.25);
  EXPECT_EQ(L[7].kind, LayerSpec::Kind::AvgPool);
  EXPECT_EQ(L[7].size, 2);
  EXPECT_EQ(L[7].pool_stride, 0);
  EXPECT_EQ(L[8].kind, LayerSpec::Kind::GlobalAvgPool);
  EXPECT_EQ(L[8].key_path, "model.layers[8].global_avgpool");
  EXPECT_EQ(L[8].where.line, 35);
  EXPECT_EQ(L[8].where.column, 7);
  EXPECT_EQ(L[9].kind, LayerSpec::Kind::Flatten);
  EXPECT_EQ(L[10].kind, LayerSpec::Kind::Dense);
  EXPECT_EQ(L[10].units, 10);
  ASSERT_TRUE(L[10].init.weight);
  EXPECT_FALSE(L[10].init.bias);
  EXPECT_EQ(L[10].init.weight->kind, InitScheme::Kind::Normal);
  EXPECT_DOUBLE_EQ(L[10].init.weight->std, 5.0);
  EXPECT_EQ(L[11].kind, LayerSpec::Kind::Softmax);
}

TEST(SpecParser, FullSpecLossOptimizerSchedule) {
  // Deliberately bad-but-legal values (lr 10, eps 1, momentum 0.999, weight decay 1, gamma > 1)
  // parse: diagnosing them is the tool's job, not the parser's.
  Spec s = parse(kFull);
  EXPECT_EQ(s.loss.kind, LossSpec::Kind::Nll);
  EXPECT_FALSE(s.loss.from_logits);
  EXPECT_DOUBLE_EQ(s.loss.label_smoothing, 0.1);
  EXPECT_TRUE(s.loss.one_hot_targets);
  const auto& o = s.optimizer;
  EXPECT_EQ(o.kind, OptimizerSpec::Kind::Sgd);
  EXPECT_DOUBLE_EQ(o.lr, 10);
  EXPECT_DOUBLE_EQ(o.momentum, 0.999);
  EXPECT_TRUE(o.nesterov);
  EXPECT_DOUBLE_EQ(o.weight_decay, 1.0);
  const auto adam = parse(kModel + "optimizer: {type: adam, betas: [0.8, 0.9], eps: 1.0}\n");
  EXPECT_DOUBLE_EQ(adam.optimizer.beta1, 0.8);
  EXPECT_DOUBLE_EQ(adam.optimizer.beta2, 0.9);
  EXPECT_DOUBLE_EQ(adam.optimizer.eps, 1.0);
  EXPECT_DOUBLE_EQ(
      parse(kModel + "optimizer: {type: rmsprop, alpha: 0.5, momentum: 0.9}\n").optimizer.alpha,
      0.5);
  EXPECT_DOUBLE_EQ(parse(kModel + "optimizer: {type: adadelta, rho: 0.5}\n").optimizer.rho, 0.5);
  const auto& c = s.schedule;
  EXPECT_EQ(c.kind, ScheduleSpec::Kind::Step);
  EXPECT_EQ(c.step_size, 5);
  EXPECT_DOUBLE_EQ(c.gamma, 1.5);
  EXPECT_TRUE(c.per_step);
  EXPECT_DOUBLE_EQ(c.factor, 0.5);
  EXPECT_EQ(c.patience, 0);
  EXPECT_DOUBLE_EQ(c.min_lr, 1e-6);
  EXPECT_EQ(c.warmup_steps, 100);
}

TEST(SpecParser, Defaults) {
  Spec s = parse(kModel);
  EXPECT_EQ(s.name, "exp");  // the file's stem
  EXPECT_EQ(s.seed, 0u);
  EXPECT_EQ(s.device, "auto");
  EXPECT_EQ(s.data.format, DataSpec::Format::Idx);
  EXPECT_EQ(s.data.path, "/usr/share/datasets/fashion-mnist");
  EXPECT_EQ(s.data.train.images, "train-images-idx3-ubyte.gz");
  EXPECT_EQ(s.data.train.labels, "train-labels-idx1-ubyte.gz");
  EXPECT_FALSE(s.data.train.present);
  EXPECT_FALSE(s.data.val.present);
  EXPECT_FALSE(s.data.train.limit);
  EXPECT_TRUE(s.data.shuffle);
  EXPECT_FALSE(s.data.num_classes);
  EXPECT_TRUE(s.data.train_transforms.empty());
  EXPECT_FALSE(s.data.val_transforms_given);
  EXPECT_FALSE(s.data.inject.any());
  EXPECT_FALSE(s.init.weight);
  ASSERT_EQ(s.layers.size(), 1u);
  EXPECT_EQ(s.layers[0].kind, LayerSpec::Kind::ReLU);
  EXPECT_EQ(s.loss.kind, LossSpec::Kind::CrossEntropy);
  EXPECT_TRUE(s.loss.from_logits);
  EXPECT_FALSE(s.loss.one_hot_targets);
  EXPECT_EQ(s.optimizer.kind, OptimizerSpec::Kind::Adam);
  EXPECT_DOUBLE_EQ(s.optimizer.lr, 1e-3);
  EXPECT_EQ(s.schedule.kind, ScheduleSpec::Kind::Constant);
  EXPECT_FALSE(s.schedule.per_step);
  EXPECT_FALSE(s.clip_grad_norm);
  EXPECT_EQ(s.batch_size, 64);
  EXPECT_EQ(s.epochs, 1);
  EXPECT_FALSE(s.max_steps);
  EXPECT_EQ(s.diagnose.budget_steps, 400);
  EXPECT_EQ(s.diagnose.probe_every, 10);
  EXPECT_TRUE(s.diagnose.confirm);
}

TEST(SpecParser, NullMeansUnset) {
  Spec s = parse(kModel + "clip_grad_norm: null\nmax_steps: ~\ndiagnose:\n");
  EXPECT_FALSE(s.clip_grad_norm);
  EXPECT_FALSE(s.max_steps);
  EXPECT_EQ(s.diagnose.budget_steps, 400);
}

TEST(SpecParser, LayerForms) {
  Spec s = parse(
      "model:\n  layers:\n    - relu\n    - relu: {}\n    - relu: null\n    - sigmoid\n"
      "    - tanh\n    - selu\n    - log_softmax\n    - conv2d: {filters: 4, padding: 3}\n");
  ASSERT_EQ(s.layers.size(), 8u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(s.layers[i].kind, LayerSpec::Kind::ReLU);
  EXPECT_EQ(s.layers[0].key_path, "model.layers[0].relu");
  EXPECT_EQ(s.layers[0].where.line, 3);
  EXPECT_EQ(s.layers[0].where.column, 7);
  EXPECT_EQ(s.layers[1].where.line, 4);
  EXPECT_EQ(s.layers[3].kind, LayerSpec::Kind::Sigmoid);
  EXPECT_EQ(s.layers[4].kind, LayerSpec::Kind::Tanh);
  EXPECT_EQ(s.layers[5].kind, LayerSpec::Kind::SELU);
  EXPECT_EQ(s.layers[6].kind, LayerSpec::Kind::LogSoftmax);
  EXPECT_EQ(s.layers[7].padding, 3);
  EXPECT_EQ(s.layers[7].where.file, kLabel);
  EXPECT_EQ(s.layers[7].where.str(), "cfg/exp.yaml:10:7");
}

TEST(SpecParser, InitSchemes) {
  Spec s = parse(
      "model:\n"
      "  init: {weight: {uniform: {a: 0.2}}, bias: constant, value: 0.5}\n"
      "  layers:\n"
      "    - dense: {units: 3, init: {weight: {normal: {std: 0.3}}, bias: normal, std: 0.7}}\n"
      "    - conv2d: {filters: 2, init: {weight: glorot_uniform, bias: he_uniform}}\n"
      "    - dense: {units: 2, init: {weight: {normal: {}}, bias: default}}\n"
      "    - dense: {units: 2, init: {weight: glorot_normal, bias: uniform, a: 0.1}}\n");
  EXPECT_EQ(s.init.weight->kind, InitScheme::Kind::Uniform);
  EXPECT_DOUBLE_EQ(s.init.weight->a, 0.2);
  EXPECT_EQ(s.init.bias->kind, InitScheme::Kind::Constant);
  EXPECT_DOUBLE_EQ(s.init.bias->value, 0.5);
  // The scheme's own parameter wins over the shorthand; the shorthand fills the other scheme.
  EXPECT_DOUBLE_EQ(s.layers[0].init.weight->std, 0.3);
  EXPECT_DOUBLE_EQ(s.layers[0].init.bias->std, 0.7);
  EXPECT_EQ(s.layers[1].init.weight->kind, InitScheme::Kind::GlorotUniform);
  EXPECT_EQ(s.layers[1].init.bias->kind, InitScheme::Kind::HeUniform);
  EXPECT_DOUBLE_EQ(s.layers[2].init.weight->std, 0.01);  // default std
  EXPECT_EQ(s.layers[2].init.bias->kind, InitScheme::Kind::Default);
  EXPECT_EQ(s.layers[3].init.weight->kind, InitScheme::Kind::GlorotNormal);
  EXPECT_DOUBLE_EQ(s.layers[3].init.bias->a, 0.1);
}

TEST(SpecParser, TransformVariants) {
  Spec s = parse(kModel +
                 "data:\n  transforms:\n    train: [{random_flip: {}}, random_flip, "
                 "{random_flip: null}, {normalize: {mean: [1, 2, 3], std: [0.5, 0.5, 0.5]}}, "
                 "{random_crop: 24}]\n    val: []\n");
  const auto& t = s.data.train_transforms;
  ASSERT_EQ(t.size(), 5u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(t[i].kind, TransformSpec::Kind::RandomFlip);
    EXPECT_TRUE(t[i].horizontal);
  }
  EXPECT_EQ(t[3].mean.size(), 3u);
  EXPECT_EQ(t[4].size, 24);
  EXPECT_EQ(t[4].padding, 0);
  EXPECT_TRUE(s.data.val_transforms_given);
  EXPECT_TRUE(s.data.val_transforms.empty());
}

TEST(SpecParser, Cifar10Defaults) {
  Spec s = parse(kModel + "data: {format: cifar10, path: /data/cifar, val: {files: [a.bin]}}\n");
  EXPECT_EQ(s.data.format, DataSpec::Format::Cifar10);
  EXPECT_EQ(s.data.train.files.size(), 5u);
  EXPECT_EQ(s.data.train.files[0], "data_batch_1.bin");
  EXPECT_EQ(s.data.train.files[4], "data_batch_5.bin");
  EXPECT_EQ(s.data.val.files, std::vector<std::string>{"a.bin"});
  EXPECT_TRUE(s.data.train.images.empty());
}

TEST(SpecParser, FolderFormat) {
  Spec s = parse(kModel +
                 "data: {format: folder, path: imgs, split: 0.2, channels: 3, image_size: [64, 48],"
                 " skip_bad_images: true}\n");
  EXPECT_EQ(s.data.format, DataSpec::Format::Folder);
  EXPECT_EQ(s.data.path, "cfg/imgs");
  // Split paths are resolved once, to absolute paths (the loader must not join them again).
  EXPECT_EQ(s.data.train.path, fs::absolute("cfg/imgs").string());  // defaults to data.path
  EXPECT_DOUBLE_EQ(s.data.split, 0.2);
  EXPECT_EQ(s.data.channels, 3);
  EXPECT_EQ(s.data.image_size, (std::pair<int64_t, int64_t>{64, 48}));
  EXPECT_TRUE(s.data.skip_bad_images);

  Spec v = parse(kModel + "data: {format: folder, path: imgs, val: {path: /abs/val}}\n");
  EXPECT_EQ(v.data.val.path, "/abs/val");
  // split carves val out of train: given beside val it would be ignored, so it is an error.
  EXPECT_THROW(parse(kModel + "data: {format: folder, path: imgs, split: 0.2, val: {path: v}}\n"),
               SpecError);

  Spec t = parse(kModel + "data: {format: folder, train: {path: ../x/train}, image_size: 32}\n");
  EXPECT_EQ(t.data.train.path, fs::absolute("x/train").string());
  EXPECT_EQ(t.data.image_size, (std::pair<int64_t, int64_t>{32, 32}));
}

TEST(SpecParser, RelativePathsResolveAgainstSpecDirectoryAndDataPath) {
  EXPECT_EQ(parse_spec_text(kModel + "data: {path: d}\n", "a/b/s.yaml").data.path, "a/b/d");
  EXPECT_EQ(parse_spec_text(kModel + "data: {path: ../d}\n", "a/b/s.yaml").data.path, "a/d");
  EXPECT_EQ(parse_spec_text(kModel + "data: {path: d}\n", "s.yaml").data.path, "d");
  EXPECT_EQ(parse_spec_text(kModel + "data: {path: /x/d}\n", "a/s.yaml").data.path, "/x/d");

  fs::path dir = fs::temp_directory_path() / "lossdoctor_spec_test_dir";
  fs::create_directories(dir);
  fs::path file = dir / "run.yaml";
  { std::ofstream(file) << kModel << "data: {path: mnist, train: {exclude: skip.txt}}\n"; }
  Spec s = parse_spec_file(file.string());
  EXPECT_EQ(s.data.path, (dir / "mnist").string());
  EXPECT_EQ(s.data.train.exclude, (dir / "mnist" / "skip.txt").string());
  EXPECT_EQ(s.name, "run");
  // Without data.path, a split's paths are relative to the spec's directory.
  {
    std::ofstream(file) << kModel
                        << "data: {format: folder, train: {path: imgs, exclude: skip.txt}}\n";
  }
  Spec f = parse_spec_file(file.string());
  EXPECT_EQ(f.data.train.path, (dir / "imgs").string());
  EXPECT_EQ(f.data.train.exclude, (dir / "skip.txt").string());
  EXPECT_EQ(s.file, file.string());
  fs::remove_all(dir);
}

// ------------------------------------------------------------------------------------------
// Errors: exact message and position.

TEST(SpecParserErrors, UnknownKeyWithSuggestion) {
  EXPECT_EQ(error_of("model:\n  layers:\n    - conv2d: {filter: 32}\n"),
            "cfg/exp.yaml:3:16: model.layers[0].conv2d: unknown key 'filter' (did you mean "
            "'filters'?)");
  EXPECT_EQ(error_of(kModel + "optimiser: {lr: 0.1}\n"),
            "cfg/exp.yaml:2:1: spec: unknown key 'optimiser' (did you mean 'optimizer'?)");
  EXPECT_EQ(error_of(kModel + "optimizer: {type: adam, learning_rate: 0.1}\n"),
            "cfg/exp.yaml:2:25: optimizer: unknown key 'learning_rate'");
  EXPECT_EQ(error_of("model:\n  layers: [conv2d: {filters: 1}, {relu: {x: 1}}]\n"),
            "cfg/exp.yaml:2:42: model.layers[1].relu: unknown key 'x'");
  EXPECT_EQ(error_of(kModel + "data: {transforms: {train: [{scael: 2}]}}\n"),
            "cfg/exp.yaml:2:30: data.transforms.train[0]: unknown transform 'scael' (did you "
            "mean 'scale'?)");
  EXPECT_EQ(error_of("model: {layers: [conv: {filters: 1}]}\n"),
            "cfg/exp.yaml:1:18: model.layers[0]: unknown layer 'conv' (did you mean 'conv2d'?)");
}

TEST(SpecParserErrors, UnknownEnumValue) {
  EXPECT_EQ(error_of(kModel + "optimizer: {type: adamm}\n"),
            "cfg/exp.yaml:2:19: optimizer.type: expected one of sgd, adam, adamw, rmsprop, "
            "adagrad, adadelta, got 'adamm' (did you mean 'adam'?)");
  EXPECT_EQ(
      error_of(kModel + "device: gpu\n"),
      "cfg/exp.yaml:2:9: device: expected one of auto, cpu, cuda, got 'gpu' (did you mean 'cpu'?)");
}

TEST(SpecParserErrors, WrongTypes) {
  EXPECT_EQ(error_of(kModel + "optimizer:\n  lr: abc\n"),
            "cfg/exp.yaml:3:7: optimizer.lr: expected a number, got 'abc'");
  EXPECT_EQ(error_of(kModel + "data: {shuffle: maybe}\n"),
            "cfg/exp.yaml:2:17: data.shuffle: expected a boolean (true or false), got 'maybe'");
  EXPECT_EQ(error_of(kModel + "name: [a, b]\n"),
            "cfg/exp.yaml:2:7: name: expected a string, got a list");
  EXPECT_EQ(error_of(kModel + "loss: cross_entropy\n"),
            "cfg/exp.yaml:2:7: loss: expected a mapping, got 'cross_entropy'");
  EXPECT_EQ(error_of("model: {layers: {conv2d: {filters: 1}}}\n"),
            "cfg/exp.yaml:1:17: model.layers: expected a list, got a mapping");
  EXPECT_EQ(error_of(kModel + "batch_size: 2.5\n"),
            "cfg/exp.yaml:2:13: batch_size: expected an integer, got '2.5'");
  EXPECT_EQ(error_of(kModel + "optimizer: {betas: [0.9, x]}\n"),
            "cfg/exp.yaml:2:26: optimizer.betas[1]: expected a number, got 'x'");
}

TEST(SpecParserErrors, OutOfRange) {
  EXPECT_EQ(error_of(kModel + "optimizer: {lr: -0.1}\n"),
            "cfg/exp.yaml:2:17: optimizer.lr: must be > 0, got -0.1");
  EXPECT_EQ(error_of(kModel + "optimizer: {lr: .inf}\n"),
            "cfg/exp.yaml:2:17: optimizer.lr: must be a finite number, got .inf");
  EXPECT_EQ(error_of(kModel + "optimizer: {momentum: 1.0}\n"),
            "cfg/exp.yaml:2:23: optimizer.momentum: must be in [0, 1), got 1.0");
  EXPECT_EQ(error_of(kModel + "optimizer: {betas: [0.9, 1]}\n"),
            "cfg/exp.yaml:2:26: optimizer.betas[1]: must be in [0, 1), got 1");
  EXPECT_EQ(error_of(kModel + "batch_size: 0\n"),
            "cfg/exp.yaml:2:13: batch_size: must be >= 1, got 0");
  EXPECT_EQ(error_of(kModel + "batch_size: 2000000\n"),
            "cfg/exp.yaml:2:13: batch_size: must be <= 1000000, got 2000000");
  EXPECT_EQ(error_of("model: {layers: [conv2d: {filters: 5000000}]}\n"),
            "cfg/exp.yaml:1:36: model.layers[0].conv2d.filters: must be <= 1000000, got 5000000");
  EXPECT_EQ(error_of("model: {layers: [conv2d: {filters: 8, kernel: 2048}]}\n"),
            "cfg/exp.yaml:1:47: model.layers[0].conv2d.kernel: must be <= 1024, got 2048");
  EXPECT_EQ(error_of("model: {layers: [dense: {units: 0}]}\n"),
            "cfg/exp.yaml:1:33: model.layers[0].dense.units: must be >= 1, got 0");
  EXPECT_EQ(error_of(kModel + "data: {train: {limit: 200000000}}\n"),
            "cfg/exp.yaml:2:23: data.train.limit: must be <= 100000000, got 200000000");
  EXPECT_EQ(error_of("model: {layers: [dropout: {rate: 1}]}\n"),
            "cfg/exp.yaml:1:34: model.layers[0].dropout.rate: must be in [0, 1), got 1");
  EXPECT_EQ(error_of(kModel + "schedule: {type: plateau, factor: 1.5}\n"),
            "cfg/exp.yaml:2:35: schedule.factor: must be in (0, 1), got 1.5");
  EXPECT_EQ(error_of(kModel + "clip_grad_norm: 0\n"),
            "cfg/exp.yaml:2:17: clip_grad_norm: must be > 0 (or null for no clipping), got 0");
  EXPECT_EQ(error_of(kModel + "seed: -1\n"), "cfg/exp.yaml:2:7: seed: must be >= 0, got -1");
  EXPECT_EQ(error_of(kModel + "data: {channels: 2}\n"),
            "cfg/exp.yaml:2:18: data.channels: must be 1 or 3, got 2");
  EXPECT_EQ(error_of(kModel + "data: {num_classes: 1}\n"),
            "cfg/exp.yaml:2:21: data.num_classes: must be >= 2, got 1");
  EXPECT_EQ(error_of("model: {layers: [dense: {units: 2, init: {weight: normal, std: 0}}]}\n"),
            "cfg/exp.yaml:1:64: model.layers[0].dense.init.std: must be > 0, got 0");
  EXPECT_EQ(
      error_of(kModel + "data: {transforms: {train: [{normalize: {mean: [0], std: [0]}}]}}\n"),
      "cfg/exp.yaml:2:59: data.transforms.train[0].normalize.std[0]: must be > 0, got 0");
}

TEST(SpecParserErrors, ASecondYamlDocumentIsAnError) {
  EXPECT_EQ(error_of(kModel + "---\nseed: 3\n"),
            "cfg/exp.yaml:3:1: yaml: a spec is one YAML document, this file holds 2 ('---' starts "
            "another); merge them or remove the separator");
  EXPECT_EQ(error_of("---\n" + kModel), "no error");  // a leading marker is one document
}

TEST(SpecParserErrors, CrossFieldRules) {
  EXPECT_EQ(error_of(kModel + "optimizer: {type: sgd, nesterov: true}\n"),
            "cfg/exp.yaml:2:34: optimizer.nesterov: nesterov requires type: sgd with momentum > 0");
  // A key the optimiser does not use is an error, not a silent no-op (kinds.hpp has the table).
  EXPECT_EQ(error_of(kModel + "optimizer: {type: adam, momentum: 0.9}\n"),
            "cfg/exp.yaml:2:35: optimizer.momentum: adam has no 'momentum' (it would be ignored); "
            "adam takes: type, lr, betas, eps, weight_decay");
  EXPECT_EQ(error_of(kModel + "optimizer: {type: sgd, betas: [0.9, 0.99]}\n"),
            "cfg/exp.yaml:2:31: optimizer.betas: sgd has no 'betas' (it would be ignored); sgd "
            "takes: type, lr, momentum, nesterov, weight_decay");
  EXPECT_EQ(error_of(kModel + "optimizer: {type: adagrad, rho: 0.9}\n"),
            "cfg/exp.yaml:2:33: optimizer.rho: adagrad has no 'rho' (it would be ignored); adagrad "
            "takes: type, lr, eps, weight_decay");
  EXPECT_EQ(error_of(kModel + "optimizer: {type: sgd, momentum: 0.9, nesterov: true}\n"),
            "no error");
  EXPECT_EQ(
      error_of(kModel + "data: {transforms: {train: [{normalize: {mean: [0, 0], std: [1]}}]}}\n"),
      "cfg/exp.yaml:2:61: data.transforms.train[0].normalize.std: must have as many entries as "
      "mean (2), got 1");
  EXPECT_EQ(error_of(kModel + "data: {transforms: {train: [{random_flip: vertical}]}}\n"),
            "cfg/exp.yaml:2:43: data.transforms.train[0].random_flip: only horizontal flips are "
            "supported, got 'vertical'");
  EXPECT_EQ(error_of(kModel + "data: {split: 0.1}\n"),
            "cfg/exp.yaml:2:8: data: 'split' is only used with format: folder");
  EXPECT_EQ(error_of(kModel + "data: {train: {files: [a]}}\n"),
            "cfg/exp.yaml:2:16: data.train: 'files' is only used with format: cifar10");
  EXPECT_EQ(error_of("model: {layers: [dense: {units: 2, init: {weight: he_normal, std: 1}}]}\n"),
            "cfg/exp.yaml:1:62: model.layers[0].dense.init.std: 'std' is only used by the "
            "'normal' scheme, and neither weight nor bias uses it");
}

TEST(SpecParserErrors, MissingRequired) {
  EXPECT_EQ(error_of("model:\n  layers:\n    - conv2d: {kernel: 3}\n"),
            "cfg/exp.yaml:3:15: model.layers[0].conv2d: missing required key 'filters'");
  EXPECT_EQ(error_of("model:\n  layers:\n    - conv2d:\n        kernel: 3\n"),
            "cfg/exp.yaml:4:9: model.layers[0].conv2d: missing required key 'filters'");
  EXPECT_EQ(error_of("model:\n  layers:\n    - dense\n"),
            "cfg/exp.yaml:3:7: model.layers[0].dense: missing required key 'units'");
  EXPECT_EQ(error_of("seed: 1\n"), "cfg/exp.yaml:1:1: spec: missing required key 'model'");
  EXPECT_EQ(error_of("model:\n  init: {weight: zeros}\n"),
            "cfg/exp.yaml:2:3: model: missing required key 'layers'");
  EXPECT_EQ(error_of("model: {layers: []}\n"),
            "cfg/exp.yaml:1:17: model.layers: must list at least one layer");
  EXPECT_EQ(error_of("model: {layers: [repeat: {layers: [relu]}]}\n"),
            "cfg/exp.yaml:1:26: model.layers[0].repeat: missing required key 'times'");
  EXPECT_EQ(error_of(kModel + "data: {format: cifar10}\n"),
            "cfg/exp.yaml:2:7: data: missing required key 'path'");
}

TEST(SpecParserErrors, ShapeMistakes) {
  // Settings not indented under the layer kind: two keys in one list item.
  EXPECT_EQ(error_of("model:\n  layers:\n    - conv2d:\n      filters: 3\n"),
            "cfg/exp.yaml:4:7: model.layers[0]: a layer is a one-key mapping like {conv2d: "
            "{filters: 32}} or relu, got keys conv2d, filters (indent the settings under "
            "'conv2d')");
  EXPECT_EQ(error_of(kModel + "optimizer: {lr: 0.1, lr: 0.2}\n"),
            "cfg/exp.yaml:2:22: optimizer: duplicate key 'lr'");
  EXPECT_EQ(error_of(kModel + "data: {transforms: {train: [scale]}}\n"),
            "cfg/exp.yaml:2:29: data.transforms.train[0].scale: 'scale' needs a value, e.g. "
            "{scale: 0.00392156862745098}");
}

TEST(SpecParserErrors, MalformedYaml) {
  std::string e = error_of("model:\n  layers: [relu\nseed: 1\n");
  EXPECT_EQ(e.rfind("cfg/exp.yaml:", 0), 0u) << e;
  EXPECT_NE(e.find(": yaml: "), std::string::npos) << e;
  EXPECT_EQ(error_of("a: b\n c: d\n"), "cfg/exp.yaml:2:3: yaml: illegal map value");
}

TEST(SpecParserErrors, UnreadableFile) {
  try {
    parse_spec_file("/nonexistent/dir/spec.yaml");
    FAIL() << "no error";
  } catch (const SpecError& e) {
    EXPECT_STREQ(e.what(),
                 "/nonexistent/dir/spec.yaml: spec: cannot read file: No such file or directory");
    EXPECT_EQ(e.location(), "/nonexistent/dir/spec.yaml");
    EXPECT_EQ(e.key_path(), "spec");
  }
}

TEST(SpecParserErrors, ErrorFieldsAreSeparate) {
  try {
    parse(kModel + "optimizer: {lr: -2}\n");
    FAIL() << "no error";
  } catch (const SpecError& e) {
    EXPECT_EQ(e.location(), "cfg/exp.yaml:2:17");
    EXPECT_EQ(e.key_path(), "optimizer.lr");
    EXPECT_EQ(e.message(), "must be > 0, got -2");
  } catch (...) {
    FAIL() << "wrong exception type";
  }
}

// ------------------------------------------------------------------------------------------
// Overrides.

const std::string kBase =
    "optimizer: {type: sgd, lr: 0.1}\n"
    "model:\n"
    "  layers:\n"
    "    - conv2d: {filters: 8}\n"
    "    - relu\n"
    "    - conv2d: {filters: 16, kernel: 5}\n";

TEST(SpecOverrides, Scalars) {
  Spec s = parse(kBase, {"optimizer.lr=0.01", "batch_size=32", "optimizer.type=adam", "name=x"});
  EXPECT_DOUBLE_EQ(s.optimizer.lr, 0.01);
  EXPECT_EQ(s.optimizer.kind, OptimizerSpec::Kind::Adam);
  EXPECT_EQ(s.batch_size, 32);
  EXPECT_EQ(s.name, "x");
  // Later overrides win.
  EXPECT_DOUBLE_EQ(parse(kBase, {"optimizer.lr=1", "optimizer.lr=2"}).optimizer.lr, 2);
}

TEST(SpecOverrides, ListsMapsAndNestedIndices) {
  Spec s = parse(kBase, {"optimizer.type=adam", "optimizer.betas=[0.5, 0.6]",
                         "model.layers[2].conv2d.filters=64", "model.layers[1]={dense: {units: 7}}",
                         "data.inject.label_noise.fraction=0.3",
                         "data.transforms.train=[{scale: 2}]", "clip_grad_norm=null"});
  EXPECT_DOUBLE_EQ(s.optimizer.beta1, 0.5);
  EXPECT_DOUBLE_EQ(s.optimizer.beta2, 0.6);
  EXPECT_EQ(s.layers[2].filters, 64);
  EXPECT_EQ(s.layers[2].kernel, 5);  // untouched sibling
  EXPECT_EQ(s.layers[1].kind, LayerSpec::Kind::Dense);
  EXPECT_EQ(s.layers[1].units, 7);
  EXPECT_EQ(s.layers[1].where.override, "model.layers[1]={dense: {units: 7}}");
  EXPECT_EQ(s.layers[0].where.line, 4);
  EXPECT_DOUBLE_EQ(s.data.inject.label_noise, 0.3);
  ASSERT_EQ(s.data.train_transforms.size(), 1u);
  EXPECT_DOUBLE_EQ(s.data.train_transforms[0].factor, 2);
  EXPECT_FALSE(s.clip_grad_norm);
  // An empty value is null.
  EXPECT_FALSE(parse(kBase + "clip_grad_norm: 1\n", {"clip_grad_norm="}).clip_grad_norm);
  // A value containing '=' keeps it.
  EXPECT_EQ(parse(kBase, {"name=a=b"}).name, "a=b");
  // A layer written as null gets its settings from --set.
  Spec t = parse("model: {layers: [{dropout: null}]}\n", {"model.layers[0].dropout.rate=0.1"});
  EXPECT_DOUBLE_EQ(t.layers[0].rate, 0.1);
  // Into an empty document.
  Spec u = parse("", {"model.layers=[relu, flatten]"});
  EXPECT_EQ(u.layers.size(), 2u);
}

TEST(SpecOverrides, BadOverrides) {
  EXPECT_EQ(error_of(kBase, {"optimizer.lr"}),
            "--set optimizer.lr: override: expected key.path=value (e.g. optimizer.lr=0.01)");
  EXPECT_EQ(error_of(kBase, {"model.layers[9].conv2d.filters=1"}),
            "--set model.layers[9].conv2d.filters=1: model.layers[9]: index 9 out of range "
            "(model.layers has 3 items)");
  EXPECT_EQ(error_of(kBase, {"optimizer.lr.x=1"}),
            "--set optimizer.lr.x=1: optimizer.lr: cannot set 'x': optimizer.lr is '0.1', not a "
            "mapping");
  EXPECT_EQ(
      error_of(kBase, {"optimizer[0]=1"}),
      "--set optimizer[0]=1: optimizer: cannot index [0]: optimizer is a mapping, not a list");
  EXPECT_EQ(error_of(kBase, {"model..layers=1"}),
            "--set model..layers=1: override: malformed key path 'model..layers': empty key");
  EXPECT_EQ(error_of(kBase, {"=1"}), "--set =1: override: missing key path before '='");
  std::string e = error_of(kBase, {"optimizer.betas=[0.9, 0.99"});
  EXPECT_EQ(e.rfind("--set optimizer.betas=[0.9, 0.99: optimizer.betas: yaml: ", 0), 0u) << e;
}

TEST(SpecOverrides, LaterErrorsAreAttributedToTheOverride) {
  EXPECT_EQ(error_of(kBase, {"optimizer.lr=-1"}),
            "--set optimizer.lr=-1: optimizer.lr: must be > 0, got -1");
  EXPECT_EQ(error_of(kBase, {"optimizer.lrr=1"}),
            "--set optimizer.lrr=1: optimizer: unknown key 'lrr' (did you mean 'lr'?)");
  EXPECT_EQ(error_of(kBase, {"model.layers[0]={conv2d: {filter: 3}}"}),
            "--set model.layers[0]={conv2d: {filter: 3}}: model.layers[0].conv2d: unknown key "
            "'filter' (did you mean 'filters'?)");
  EXPECT_EQ(error_of(kBase, {"data.inject.corrupt.kind=zeros"}),
            "--set data.inject.corrupt.kind=zeros: data.inject.corrupt: missing required key "
            "'fraction'");
  EXPECT_EQ(error_of(kBase, {"optimizer.type=adam", "optimizer.betas=[0.9, 2]"}),
            "--set optimizer.betas=[0.9, 2]: optimizer.betas[1]: must be in [0, 1), got 2");
  // Values the override did not write keep their file position.
  EXPECT_EQ(error_of(kBase + "batch_size: 0\n", {"optimizer.lr=1"}),
            "cfg/exp.yaml:7:13: batch_size: must be >= 1, got 0");
}

TEST(SpecOverrides, ResolvedYamlHoldsTheMergedDocument) {
  Spec s = parse(kBase, {"optimizer.lr=0.5", "model.layers[0].conv2d.filters=3"});
  Spec again = parse(s.resolved_yaml);
  EXPECT_DOUBLE_EQ(again.optimizer.lr, 0.5);
  EXPECT_EQ(again.layers[0].filters, 3);
  EXPECT_NE(s.resolved_yaml.find("lr: 0.5"), std::string::npos) << s.resolved_yaml;
}

TEST(SpecOverrides, ResolvedYamlRoundTripsEveryValue) {
  Spec s = parse(kFull,
                 {"optimizer.lr=0.25", "model.layers[4].repeat.times=2", "data.transforms.val=[]"});
  Spec again = parse(s.resolved_yaml);
  EXPECT_EQ(dump(again), dump(s));
  EXPECT_EQ(again.layers[4].times, 2);
  EXPECT_TRUE(again.data.val_transforms.empty());
  EXPECT_TRUE(again.data.val_transforms_given);
  // And a spec without overrides.
  Spec plain = parse(kFull);
  EXPECT_EQ(dump(parse(plain.resolved_yaml)), dump(plain));
}

// ------------------------------------------------------------------------------------------

TEST(DidYouMean, PicksTheClosestCloseEnoughCandidate) {
  std::vector<std::string> keys = {"filters", "kernel", "stride", "padding", "bias", "init"};
  EXPECT_EQ(did_you_mean("filter", keys), "filters");
  EXPECT_EQ(did_you_mean("kernal", keys), "kernel");
  EXPECT_EQ(did_you_mean("strides", keys), "stride");
  EXPECT_EQ(did_you_mean("paddin", keys), "padding");
  EXPECT_EQ(did_you_mean("bias", keys), "bias");
  EXPECT_EQ(did_you_mean("activation", keys), "");
  EXPECT_EQ(did_you_mean("xyz", {}), "");
  // Longer words allow more edits: max(2, len/3).
  EXPECT_EQ(did_you_mean("lable_smothing", {"label_smoothing"}), "label_smoothing");
  EXPECT_EQ(did_you_mean("lr", {"weight_decay"}), "");
}

TEST(BrokenExample, ReportsTheTypoExactly) {
  fs::path root = LOSSDOCTOR_SOURCE_DIR;
  fs::path old = fs::current_path();
  fs::current_path(root);
  std::string what;
  try {
    parse_spec_file("examples/broken.yaml");
  } catch (const SpecError& e) {
    what = e.what();
  }
  fs::current_path(old);
  EXPECT_EQ(what,
            "examples/broken.yaml:12:7: model.layers[3].conv2d: unknown key 'filter' (did you "
            "mean 'filters'?)");
}

TEST(BrokenExample, TheTypoIsItsOnlyProblem) {
  std::ifstream in(fs::path(LOSSDOCTOR_SOURCE_DIR) / "examples/broken.yaml");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  size_t at = text.find("filter: 64");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 6, "filters");
  Spec s = parse_spec_text(text, "examples/broken.yaml");
  EXPECT_EQ(s.layers[3].filters, 64);
  EXPECT_EQ(s.data.path, "/usr/share/datasets/fashion-mnist");
  EXPECT_EQ(s.name, "fashion-cnn-broken");
}

}  // namespace
}  // namespace lossdoctor::spec

namespace lossdoctor::spec {
namespace {

// Text yaml-cpp would mishandle, or report in words no user can act on, is refused first with
// the line and column.
TEST(SpecText, NulBytesAndNonUtf8AreRefusedWithTheirPosition) {
  EXPECT_EQ(error_of(kModel + std::string("name: a\0b\n", 10)),
            "cfg/exp.yaml:2:8: yaml: a NUL byte: a spec is a text file (is this a binary file?)");
  EXPECT_EQ(error_of(kModel + "name: caf\xe9\n"),
            "cfg/exp.yaml:2:10: yaml: not UTF-8 text (save the spec as UTF-8)");
  EXPECT_EQ(error_of(kModel + "name: café ✓\n"), "no error");  // real UTF-8 is fine
}

TEST(SpecText, AnUnterminatedQuoteIsNamedNotMistakenForAMissingModel) {
  EXPECT_EQ(error_of("name: \"run\nmodel: {layers: [relu]}\n"),
            "cfg/exp.yaml:1:7: yaml: unterminated quote: this \" is never closed");
  // Apostrophes inside plain words and '#' inside values are not quotes or comments.
  EXPECT_EQ(error_of(kModel + "name: don't#1 \"x\"\n"), "no error");
}

TEST(SpecText, DeepNestingIsRefusedBeforeTheYamlParserRecurses) {
  const std::string deep = "name: " + std::string(5000, '[') + std::string(5000, ']') + "\n";
  EXPECT_NE(error_of(deep).find("cfg/exp.yaml:1:71: yaml: nested more than 64 levels deep"),
            std::string::npos)
      << error_of(deep);
}

TEST(SpecText, AnAliasBombIsRefusedByTheNodesItWouldExpandTo) {
  std::string bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 9; ++i) {
    bomb += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int k = 0; k < 10; ++k) bomb += (k ? ", *a" : "*a") + std::to_string(i - 1);
    bomb += "]\n";
  }
  EXPECT_NE(error_of(bomb + kModel).find("more than 100000 YAML nodes"), std::string::npos);
  // Ordinary anchors and aliases (a block reused twice) are fine.
  EXPECT_EQ(error_of("blk: &b [relu]\n" + kModel).find("100000"), std::string::npos);
}

TEST(SpecText, AnEmptySpecSaysSo) {
  EXPECT_NE(error_of("").find("the spec is empty"), std::string::npos);
  EXPECT_NE(error_of("# only a comment\n").find("the spec is empty"), std::string::npos);
}

TEST(SpecText, AnOverrideIndexTooLargeForAnyListIsOutOfRange) {
  EXPECT_EQ(error_of(kModel, {"model.layers[99999999999999999999].relu=1"}),
            "--set model.layers[99999999999999999999].relu=1: override: index "
            "[99999999999999999999] in 'model.layers[99999999999999999999].relu' is out of range");
}

}  // namespace
}  // namespace lossdoctor::spec

namespace lossdoctor::spec {
namespace {

// yaml-cpp 0.7 loops forever on these (found by fuzz/spec_fuzz): refused first, in the file and
// in --set values alike.
TEST(SpecText, AStrayCommaWhereYamlCppWouldLoopForeverIsRefused) {
  for (const std::string text : {",\n", " ,\n", "# c\n,\n", "{a: 1},\n", "---\n,\n", "&a ,\n",
                                 "!!map ,\n", "!,\n", "\"x\",\n", "[1],\n"}) {
    EXPECT_NE(error_of(text).find("a ',' outside any [list] or {mapping}"), std::string::npos)
        << text << " → " << error_of(text);
  }
  EXPECT_NE(error_of(kModel, {"name=,"}).find("--set name=,"), std::string::npos);
  // A bracket inside a word opens no collection, so a line-leading ',' after it is still stray
  // (the second loop fuzz/spec_fuzz found); control characters are refused outright.
  EXPECT_NE(error_of("a: lay[1\n ,b: 2\n").find("a ',' outside any"), std::string::npos);
  EXPECT_EQ(error_of(kModel + "name: a\x02"
                              "b\n"),
            "cfg/exp.yaml:2:8: yaml: a control character (0x02): a spec is plain text");
  // Quotes and brackets in the middle of a plain scalar are text (the fourth loop had
  // "lay# ex @n [1:" before a line-leading ',').
  EXPECT_NE(error_of("a: lay# x [1:\n ,b: 2\n").find("a ',' outside any"), std::string::npos);
  EXPECT_EQ(error_of(kModel + "name: say \"hi\n"), "no error");
  // A bracket, "- ", "? " or anchor in the middle of a plain scalar does not make the next
  // bracket a collection either (the fifth loop: "  lay# ex @n [[1:" before a line-leading ',').
  for (const std::string text :
       {"  a [[1:\n ,b\n", "  foo - [1:\n ,b\n", "  foo ? [[1:\n ,b\n", "  a &x [[1:\n ,b\n"}) {
    EXPECT_NE(error_of(text).find("a ',' outside any"), std::string::npos) << text;
  }
  EXPECT_EQ(error_of(kModel + "name: a - [b, c]\n"), "no error");
  // An anchor right after a quoted scalar is a token too (the seventh loop).
  EXPECT_NE(error_of("'a'&b,\n").find("a ',' outside any"), std::string::npos);
  // ... also after a quoted scalar glued to another one (the eighth loop, session 10).
  for (const std::string text :
       {"\"\"\"n\"&\"\"\"\"\"\"oc$1$#,f", "''\"n\"&a,\n", "\"a\"'b'&c ,\n"}) {
    EXPECT_NE(error_of(text).find("a ',' outside any"), std::string::npos)
        << text << " → " << error_of(text);
  }
  // A single-quoted scalar may span lines: the ',' after it is stray (the third loop).
  EXPECT_NE(error_of("'\n', \n").find("a ',' outside any"), std::string::npos);
  EXPECT_NE(error_of(kModel + "name: 'it''s\n").find("unterminated quote: this ' is"),
            std::string::npos);
  EXPECT_EQ(error_of(kModel + "name: 'it''s, \"\\é\" fine'\n"), "no error");
  // Commas inside values, quotes and flow collections are fine.
  EXPECT_EQ(error_of(kModel + "name: a, b ,c\n"), "no error");
  EXPECT_EQ(error_of(kModel + "name: \"a, b\"\n"), "no error");
}

TEST(RunSpecYaml, DataLocationsBecomeAbsoluteAndEverythingElseStays) {
  // What a run directory keeps as spec.yaml: resumable from any working directory.
  const Spec s = parse(
      "data:\n  format: folder\n  path: ../imgs\n  train: {path: train, exclude: ex.txt}\n"
      "  val: {path: /abs/val}\nmodel: {layers: [flatten, {dense: {units: 3}}]}\n"
      "optimizer: {type: sgd, lr: 0.1}\n");
  const std::string yaml = resolved_yaml_with_absolute_paths(s);
  const fs::path imgs = (fs::current_path() / "imgs").lexically_normal();  // cfg/../imgs
  EXPECT_NE(yaml.find("path: " + imgs.string() + "\n"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find((imgs / "train").string()), std::string::npos) << yaml;
  EXPECT_NE(yaml.find((imgs / "ex.txt").string()), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("/abs/val"), std::string::npos) << yaml;
  // Read back from anywhere, it names the same data and the same everything else.
  const Spec back = parse_spec_text(yaml, "/elsewhere/run/spec.yaml");
  EXPECT_EQ(back.data.path, imgs.string());
  EXPECT_EQ(back.data.train.path, s.data.train.path);
  EXPECT_EQ(back.data.train.exclude, s.data.train.exclude);
  EXPECT_EQ(back.data.val.path, s.data.val.path);
  EXPECT_EQ(back.optimizer.lr, s.optimizer.lr);
  EXPECT_EQ(back.layers.size(), s.layers.size());
  // A spec without data locations is left as it is.
  const Spec plain = parse("model: {layers: [flatten, {dense: {units: 10}}]}\n");
  EXPECT_EQ(resolved_yaml_with_absolute_paths(plain), plain.resolved_yaml);
}

}  // namespace
}  // namespace lossdoctor::spec
