// Recorder: tensors of hand-made training steps → RunRecord numbers, checked against values
// computed here by hand. Also tensor_stats and split_stats.

#include "lossdoctor/probe/recorder.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <limits>

#include "lossdoctor/probe/trainer_probe.hpp"

namespace lossdoctor::probe {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

/// A [B, 1, 4, 4] → 3-class linear model with a ReLU "layer" after it, as the recorder sees it.
struct Rig {
  torch::nn::Linear fc{nullptr};
  std::unique_ptr<Recorder> rec;

  explicit Rig(int64_t probe_every = 3, int64_t train_size = 8, bool custom_loop = false) {
    torch::manual_seed(0);
    fc = torch::nn::Linear(16, 3);
    RunRecord setup;
    setup.spec_name = "rig";
    setup.num_classes = 3;
    setup.batch_size = 4;
    setup.train_size = train_size;
    setup.probe_every = probe_every;
    setup.custom_loop = custom_loop;
    LayerDescription dense{"layers[0].dense", "dense", {3}, 16, true};
    LayerDescription relu{"layers[1].relu", "relu", {3}, 0, false};
    setup.layers = {dense, relu};
    rec = std::make_unique<Recorder>(setup, std::vector<torch::Tensor>{fc->weight, torch::Tensor()},
                                     fc->parameters());
  }

  double global_grad_norm() const {
    double sq = 0;
    for (const auto& p : fc->parameters()) sq += p.grad().pow(2).sum().item<double>();
    return std::sqrt(sq);
  }
  torch::Tensor flat_params() const {
    std::vector<torch::Tensor> parts;
    for (const auto& p : fc->parameters()) parts.push_back(p.detach().reshape(-1).clone());
    return torch::cat(parts);
  }

  /// One SGD step on (x, y) at rate lr, reporting to the recorder as the trainer does.
  void step(int64_t t, const torch::Tensor& x, const torch::Tensor& y, double lr,
            const torch::Tensor& indices = {}) {
    for (auto& p : fc->parameters()) {
      if (p.grad().defined()) p.mutable_grad().zero_();
    }
    const torch::Tensor out = fc->forward(x.flatten(1));
    if (rec->is_probe_step(t)) {
      rec->on_activation(0, out, t);
      rec->on_activation(1, torch::relu(out), t);
    }
    const torch::Tensor sample_loss = torch::nn::functional::cross_entropy(
        out, y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
    const torch::Tensor loss = sample_loss.mean();
    loss.backward();
    rec->on_batch(t, 0, x, y, out, sample_loss, indices, loss.item<double>(), lr, kNaN);
    rec->on_gradients(t);
    {
      torch::NoGradGuard g;
      for (auto& p : fc->parameters()) p.sub_(p.grad() * lr);
    }
    rec->on_update(t);
  }
};

torch::Tensor batch(int64_t seed, int64_t n = 4) {
  torch::manual_seed(seed);
  return torch::randn({n, 1, 4, 4});
}

TEST(Recorder, StepSampleMatchesHandComputedValues) {
  Rig rig;
  const torch::Tensor x = batch(1);
  const torch::Tensor y = torch::tensor({0, 2, 2, 1}, torch::kInt64);
  const torch::Tensor before = rig.flat_params();
  rig.step(0, x, y, 0.1);
  const double g = rig.global_grad_norm();
  const torch::Tensor after = rig.flat_params();

  const RunRecord& r = rig.rec->record();
  ASSERT_EQ(r.steps.size(), 1u);
  const StepSample& s = r.steps[0];
  EXPECT_EQ(s.step, 0);
  EXPECT_EQ(s.epoch, 0);
  EXPECT_DOUBLE_EQ(s.lr, 0.1);
  EXPECT_TRUE(std::isfinite(s.loss));
  EXPECT_GT(s.loss, 0);
  EXPECT_NEAR(s.grad_norm, g, 1e-6 * g);
  EXPECT_NEAR(s.update_norm, (after - before).norm().item<double>(), 1e-6);
  EXPECT_NEAR(s.update_norm, 0.1 * g, 1e-5 * g) << "SGD: |Δθ| = lr |g|";
  EXPECT_NEAR(s.weight_norm, after.norm().item<double>(), 1e-6);
  EXPECT_EQ(s.label_histogram, (std::vector<int64_t>{1, 1, 2}));
  EXPECT_NEAR(s.input.mean, x.mean().item<double>(), 1e-6);
  EXPECT_NEAR(s.input.std, x.std().item<double>(), 1e-6);
  EXPECT_NEAR(s.input.min, x.min().item<double>(), 1e-6);
  EXPECT_NEAR(s.input.max, x.max().item<double>(), 1e-6);
  EXPECT_EQ(s.input.nonfinite_fraction, 0.0);
  EXPECT_TRUE(std::isnan(s.grad_change_ratio)) << "no previous gradient at the first step";
  EXPECT_TRUE(std::isnan(s.reference_loss));
  EXPECT_FALSE(r.first_nonfinite.has_value());
}

TEST(Recorder, LossAndAccuracyFollowTheOutputs) {
  Rig rig;
  const torch::Tensor x = batch(2);
  const torch::Tensor y = torch::tensor({0, 1, 2, 0}, torch::kInt64);
  const torch::Tensor out = rig.fc->forward(x.flatten(1)).detach();
  const double expected_loss = torch::nn::functional::cross_entropy(out, y).item<double>();
  const double expected_acc = out.argmax(1).eq(y).to(torch::kFloat64).mean().item<double>();
  rig.step(0, x, y, 0.01);
  EXPECT_NEAR(rig.rec->record().steps[0].loss, expected_loss, 1e-6);
  EXPECT_DOUBLE_EQ(rig.rec->record().steps[0].batch_accuracy, expected_acc);
}

/// Smooth, natural-looking size×size images: low-frequency ramps and blobs.
torch::Tensor smooth_images(int64_t n, int64_t size = 8) {
  const torch::Tensor r = torch::arange(size, torch::kFloat32) * (8.0 / static_cast<double>(size));
  std::vector<torch::Tensor> images;
  for (int64_t i = 0; i < n; ++i) {
    const double phase = 0.3 * static_cast<double>(i);
    const torch::Tensor img =
        torch::sin(r.view({size, 1}) * 0.4 + phase) + torch::cos(r.view({1, size}) * 0.3 - phase);
    images.push_back(img.unsqueeze(0));
  }
  return torch::stack(images);
}

TEST(Recorder, NaNInputIsCountedAndNamedAsTheOrigin) {
  Rig rig(/*probe_every=*/1);  // odd-image counts are taken on probe steps
  rig.step(0, batch(3), torch::tensor({0, 1, 2, 0}, torch::kInt64), 0.01);
  torch::Tensor x = smooth_images(4, 4);  // natural-looking, so only the NaN image is odd
  x[1][0][2][3] = std::numeric_limits<float>::quiet_NaN();
  rig.step(1, x, torch::tensor({0, 1, 2, 0}, torch::kInt64), 0.01);
  const RunRecord& r = rig.rec->record();
  ASSERT_EQ(r.steps.size(), 2u);
  EXPECT_DOUBLE_EQ(r.steps[1].input.nonfinite_fraction, 1.0 / 64.0);
  EXPECT_TRUE(std::isfinite(r.steps[1].input.mean)) << "stats over the finite values";
  EXPECT_FALSE(std::isfinite(r.steps[1].loss));
  ASSERT_TRUE(r.first_nonfinite.has_value());
  EXPECT_EQ(r.first_nonfinite->step, 1);
  EXPECT_EQ(r.first_nonfinite->layer, "input");
  EXPECT_FALSE(r.first_nonfinite->in_backward);
  EXPECT_DOUBLE_EQ(r.steps[1].odd_input_fraction, 0.25) << "one image of four is non-finite";
}

TEST(Recorder, ProbesOnlyEveryProbeEvery) {
  Rig rig(/*probe_every=*/3);
  for (int64_t t = 0; t < 7; ++t)
    rig.step(t, batch(10 + t), torch::tensor({0, 1, 2, 0}, torch::kInt64), 0.05);
  const RunRecord& r = rig.rec->record();
  EXPECT_EQ(r.steps.size(), 7u);
  ASSERT_EQ(r.probes.size(), 3u);
  EXPECT_EQ(r.probes[0].step, 0);
  EXPECT_EQ(r.probes[1].step, 3);
  EXPECT_EQ(r.probes[2].step, 6);
  // A noise sample pairs a probe step's gradient with the step before it: none at step 0.
  ASSERT_EQ(r.noise.size(), 2u);
  EXPECT_EQ(r.noise[0].step, 3);
  EXPECT_EQ(r.noise[1].step, 6);
  for (const auto& n : r.noise) {
    EXPECT_GT(n.mean_sq_grad_norm, 0);
    EXPECT_TRUE(std::isfinite(n.sq_mean_grad_norm));
  }
  for (const auto& p : r.probes) {
    ASSERT_EQ(p.layers.size(), 2u);
    EXPECT_TRUE(p.layers[0].has_weights);
    EXPECT_FALSE(p.layers[1].has_weights);
    EXPECT_GT(p.layers[0].weight_norm, 0);
    EXPECT_GT(p.layers[0].grad_norm, 0);
    EXPECT_GT(p.layers[0].update_ratio, 0);
    EXPECT_GE(p.layers[1].dead_fraction, 0);
    EXPECT_LE(p.layers[1].dead_fraction, 1);
  }
}

TEST(Recorder, ProbeLayerFiguresMatchHandComputedValues) {
  Rig rig(/*probe_every=*/1);
  const torch::Tensor x = batch(5);
  const torch::Tensor y = torch::tensor({2, 1, 0, 0}, torch::kInt64);
  const torch::Tensor w_before = rig.fc->weight.detach().clone();
  const torch::Tensor out = rig.fc->forward(x.flatten(1)).detach();
  rig.step(0, x, y, 0.1);
  const torch::Tensor gw = rig.fc->weight.grad().detach();
  const LayerSample& l = rig.rec->record().probes.at(0).layers[0];
  EXPECT_NEAR(l.weight_norm, w_before.norm().item<double>(), 1e-6);
  EXPECT_NEAR(l.grad_norm, gw.norm().item<double>(), 1e-6);
  EXPECT_NEAR(l.update_ratio, 0.1 * gw.norm().item<double>() / w_before.norm().item<double>(),
              1e-6);
  EXPECT_NEAR(l.activation.mean, out.mean().item<double>(), 1e-5);
  EXPECT_NEAR(l.activation.max, out.max().item<double>(), 1e-5);
  const double expected_dead = 1.0 - out.gt(0).any(0).to(torch::kFloat64).mean().item<double>();
  EXPECT_DOUBLE_EQ(rig.rec->record().probes.at(0).layers[1].dead_fraction, expected_dead);
}

TEST(Recorder, DeadUnitsOfAReluLayer) {
  Rig rig(/*probe_every=*/1);
  // Unit 2 never positive, units 0 and 1 positive somewhere: one third dead.
  const torch::Tensor act =
      torch::tensor({{1.0f, 0.0f, 0.0f}, {0.0f, 2.0f, 0.0f}, {0.0f, 0.0f, 0.0f}});
  rig.rec->on_activation(1, act, 0);
  rig.rec->on_batch(0, 0, batch(6, 3), torch::tensor({0, 1, 2}, torch::kInt64),
                    torch::zeros({3, 3}), torch::zeros({3}), {}, 1.0, 0.1, kNaN);
  rig.rec->on_gradients(0);
  rig.rec->on_update(0);
  ASSERT_EQ(rig.rec->record().probes.size(), 1u);
  EXPECT_NEAR(rig.rec->record().probes[0].layers[1].dead_fraction, 1.0 / 3.0, 1e-12);
}

/// Feed hand-set gradients: the recorder only reads .grad().
void feed_gradient(Rig& rig, int64_t t, const std::vector<torch::Tensor>& grads) {
  auto params = rig.fc->parameters();
  for (size_t i = 0; i < params.size(); ++i) params[i].mutable_grad() = grads[i].clone();
  rig.rec->on_batch(t, 0, batch(20 + t), torch::tensor({0, 1, 2, 0}, torch::kInt64),
                    torch::zeros({4, 3}), torch::zeros({4}), {}, 1.0, 0.01, kNaN);
  rig.rec->on_gradients(t);
  rig.rec->on_update(t);
}

TEST(Recorder, GradChangeRatioSeparatesRepeatedFromFreshGradients) {
  Rig rig(/*probe_every=*/100, /*train_size=*/8,
          /*custom_loop=*/true);  // measured for Monitor loops
  torch::manual_seed(7);
  const std::vector<torch::Tensor> g1 = {torch::randn({3, 16}), torch::randn({3})};
  const std::vector<torch::Tensor> g2 = {torch::randn({3, 16}), torch::randn({3})};
  feed_gradient(rig, 0, g1);
  feed_gradient(rig, 1, g1);  // the same gradient again
  feed_gradient(rig, 2, g2);  // a fresh, independent one
  // Accumulated: g1 + g2 after g2 changes by |g1| relative to |g1 + g2|.
  const std::vector<torch::Tensor> acc = {g2[0] + g1[0] * 0.05, g2[1] + g1[1] * 0.05};
  feed_gradient(rig, 3, acc);
  const auto& s = rig.rec->record().steps;
  EXPECT_TRUE(std::isnan(s[0].grad_change_ratio));
  EXPECT_NEAR(s[1].grad_change_ratio, 0.0, 1e-12);
  EXPECT_GT(s[2].grad_change_ratio, 0.8) << "independent gradients differ by O(1) (≈ √2)";
  EXPECT_LT(s[2].grad_change_ratio, 3.0);
  EXPECT_LT(s[3].grad_change_ratio, 0.1);
  const double g1n =
      std::sqrt(g1[0].pow(2).sum().item<double>() + g1[1].pow(2).sum().item<double>());
  EXPECT_NEAR(s[1].grad_norm, g1n, 1e-6);
  EXPECT_EQ(s[1].update_norm, 0.0) << "no parameter change in these steps";
}

TEST(Recorder, PerSampleDynamics) {
  Rig rig(/*probe_every=*/100, /*train_size=*/6);
  const auto feed = [&](int64_t t, const torch::Tensor& out, const torch::Tensor& y,
                        const torch::Tensor& idx) {
    const torch::Tensor sl = torch::nn::functional::cross_entropy(
        out, y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
    rig.rec->on_batch(t, 0, batch(30 + t, out.size(0)), y, out, sl, idx, sl.mean().item<double>(),
                      0.01, kNaN);
    rig.rec->on_gradients(t);
    rig.rec->on_update(t);
  };
  const torch::Tensor y = torch::tensor({0, 0}, torch::kInt64);
  // Step 0: sample 2 learned (margin 2 − 1 = +1), sample 4 not (margin 0 − 2 = −2).
  feed(0, torch::tensor({{2.0f, 1.0f, 0.0f}, {0.0f, 1.0f, 2.0f}}), y,
       torch::tensor({2, 4}, torch::kInt64));
  // Step 1: sample 4 learned now (margin 3 − 1 = +2); sample 2 slips (margin 0 − 1 = −1).
  feed(1, torch::tensor({{3.0f, 1.0f, 0.0f}, {0.0f, 1.0f, 0.5f}}), y,
       torch::tensor({4, 2}, torch::kInt64));
  const auto& s = rig.rec->record().samples;
  ASSERT_EQ(s.size(), 6u);
  EXPECT_EQ(s[0].times_seen, 0);
  EXPECT_EQ(s[0].first_learned_step, -1);
  EXPECT_EQ(s[2].times_seen, 2);
  EXPECT_EQ(s[2].first_learned_step, 0);
  EXPECT_FLOAT_EQ(s[2].mean_margin, 0.0f);  // (+1 + −1) / 2
  EXPECT_EQ(s[4].times_seen, 2);
  EXPECT_EQ(s[4].first_learned_step, 1);
  EXPECT_FLOAT_EQ(s[4].mean_margin, 0.0f);  // (−2 + 2) / 2
  // The first sighting's margin stays, whatever came after.
  EXPECT_FLOAT_EQ(s[2].first_margin, 1.0f);
  EXPECT_FLOAT_EQ(s[4].first_margin, -2.0f);
  EXPECT_TRUE(std::isnan(s[0].first_margin)) << "never seen";
  const double expected_last =
      torch::nn::functional::cross_entropy(torch::tensor({{3.0f, 1.0f, 0.0f}}),
                                           torch::tensor({0}, torch::kInt64))
          .item<double>();
  EXPECT_NEAR(s[4].last_loss, expected_last, 1e-6);
  // Out-of-range indices are ignored, not written.
  EXPECT_NO_THROW(feed(2, torch::tensor({{1.0f, 0.0f, 0.0f}}), torch::tensor({0}, torch::kInt64),
                       torch::tensor({99}, torch::kInt64)));
}

double odd_fraction_of(const torch::Tensor& images) {
  Rig rig(/*probe_every=*/100);
  const int64_t n = images.size(0);
  rig.rec->on_batch(0, 0, images, torch::zeros({n}, torch::kInt64), torch::zeros({n, 3}),
                    torch::zeros({n}), {}, 1.0, 0.01, kNaN);
  return rig.rec->record().steps.back().odd_input_fraction;
}

TEST(Recorder, OddInputFractionFlagsConstantNoiseAndNaNImages) {
  EXPECT_DOUBLE_EQ(odd_fraction_of(smooth_images(8)), 0.0) << "natural-looking images are not odd";
  torch::manual_seed(3);
  torch::Tensor x = smooth_images(8);
  x[1] = torch::full({1, 8, 8}, 0.5f);                      // constant
  x[4] = torch::rand({1, 8, 8});                            // white noise
  x[6][0][3][3] = std::numeric_limits<float>::quiet_NaN();  // NaN pixel
  EXPECT_DOUBLE_EQ(odd_fraction_of(x), 3.0 / 8.0);
  x[7] = torch::zeros({1, 8, 8});  // an all-zero image is constant too
  EXPECT_DOUBLE_EQ(odd_fraction_of(x), 4.0 / 8.0);
  // Infinity counts as non-finite.
  torch::Tensor y = smooth_images(4);
  y[0][0][0][0] = std::numeric_limits<float>::infinity();
  EXPECT_DOUBLE_EQ(odd_fraction_of(y), 0.25);
}

TEST(Recorder, EachSampleRemembersHowItLookedOnAProbeStep) {
  torch::manual_seed(3);
  torch::Tensor x = smooth_images(8);
  x[1] = torch::full({1, 8, 8}, 0.5f);                      // constant: broken
  x[4] = torch::rand({1, 8, 8});                            // white noise: noise-like
  x[6][0][3][3] = std::numeric_limits<float>::quiet_NaN();  // NaN pixel: broken
  Rig rig(/*probe_every=*/2, /*train_size=*/20);
  const torch::Tensor y = torch::zeros({8}, torch::kInt64);
  const auto feed = [&](int64_t t, const torch::Tensor& idx) {
    rig.rec->on_batch(t, 0, x, y, torch::zeros({8, 3}), torch::zeros({8}), idx, 1.0, 0.01, kNaN);
    rig.rec->on_gradients(t);
    rig.rec->on_update(t);
  };
  feed(0, torch::arange(8, torch::kInt64));       // a probe step: looks recorded
  feed(1, torch::arange(8, 16, torch::kInt64));  // not a probe step: samples 8–15 unchecked
  const auto& s = rig.rec->record().samples;
  const std::vector<int> expected = {0, 1, 0, 0, 2, 0, 1, 0};
  for (size_t i = 0; i < 8; ++i) EXPECT_EQ(s[i].look, expected[i]) << "sample " << i;
  for (size_t i = 8; i < 16; ++i) EXPECT_EQ(s[i].look, -1) << "sample " << i;
  EXPECT_EQ(s[8].times_seen, 1) << "seen, just not looked at";
}

TEST(Recorder, OddInputFractionOnRealScaleImages) {
  // The same smooth images at raw pixel scale (0–255) and normalised: still not odd.
  const torch::Tensor x = smooth_images(6);
  EXPECT_DOUBLE_EQ(odd_fraction_of((x + 2) * 60), 0.0);
  EXPECT_DOUBLE_EQ(odd_fraction_of((x - x.mean()) / x.std()), 0.0);
  // Non-image inputs are not judged.
  Rig rig(/*probe_every=*/100);
  rig.rec->on_batch(0, 0, torch::randn({4, 16}), torch::zeros({4}, torch::kInt64),
                    torch::zeros({4, 3}), torch::zeros({4}), {}, 1.0, 0.01, kNaN);
  EXPECT_EQ(rig.rec->record().steps.back().odd_input_fraction, 0.0);
}

TEST(TensorStats, FiniteValuesAndNonFiniteFraction) {
  const TensorStats s = tensor_stats(torch::tensor({1.0, 2.0, 3.0, kNaN}));
  EXPECT_DOUBLE_EQ(s.mean, 2.0);
  EXPECT_DOUBLE_EQ(s.std, 1.0);  // unbiased std of {1, 2, 3}
  EXPECT_DOUBLE_EQ(s.min, 1.0);
  EXPECT_DOUBLE_EQ(s.max, 3.0);
  EXPECT_DOUBLE_EQ(s.nonfinite_fraction, 0.25);

  const TensorStats inf =
      tensor_stats(torch::tensor({-std::numeric_limits<double>::infinity(), 4.0}));
  EXPECT_DOUBLE_EQ(inf.nonfinite_fraction, 0.5);
  EXPECT_DOUBLE_EQ(inf.mean, 4.0);
  EXPECT_DOUBLE_EQ(inf.std, 0.0);

  const TensorStats all_nan = tensor_stats(torch::full({3}, kNaN));
  EXPECT_DOUBLE_EQ(all_nan.nonfinite_fraction, 1.0);
  EXPECT_TRUE(std::isnan(all_nan.mean));

  const TensorStats empty = tensor_stats(torch::Tensor());
  EXPECT_EQ(empty.mean, 0.0);
  EXPECT_EQ(empty.nonfinite_fraction, 0.0);
  EXPECT_EQ(tensor_stats(torch::zeros({0})).nonfinite_fraction, 0.0);

  const torch::Tensor f = torch::tensor({{0.5f, -1.5f}, {2.0f, 7.0f}});
  const TensorStats fs = tensor_stats(f);
  EXPECT_NEAR(fs.mean, 2.0, 1e-12);
  EXPECT_DOUBLE_EQ(fs.min, -1.5);
  EXPECT_DOUBLE_EQ(fs.max, 7.0);
}

TEST(SplitStats, PerChannelMeanStdRangeFiniteOnly) {
  // Channel 0: constant 1; channel 1: half 0, half 2 → mean 1, population std 1.
  torch::Tensor x = torch::zeros({4, 2, 2, 2});
  x.select(1, 0).fill_(1.0);
  x.select(1, 1).narrow(0, 0, 2).fill_(0.0);
  x.select(1, 1).narrow(0, 2, 2).fill_(2.0);
  SplitStats s = split_stats(x);
  EXPECT_EQ(s.samples, 4);
  ASSERT_EQ(s.channel_mean.size(), 2u);
  ASSERT_EQ(s.channel_std.size(), 2u);
  EXPECT_NEAR(s.channel_mean[0], 1.0, 1e-12);
  EXPECT_NEAR(s.channel_std[0], 0.0, 1e-12);
  EXPECT_NEAR(s.channel_mean[1], 1.0, 1e-12);
  EXPECT_NEAR(s.channel_std[1], 1.0, 1e-12);
  EXPECT_DOUBLE_EQ(s.min, 0.0);
  EXPECT_DOUBLE_EQ(s.max, 2.0);

  // A NaN pixel is ignored (the statistics describe the finite data).
  x[0][0][0][0] = std::numeric_limits<float>::quiet_NaN();
  s = split_stats(x);
  EXPECT_NEAR(s.channel_mean[0], 1.0, 1e-12);
  EXPECT_NEAR(s.channel_std[0], 0.0, 1e-12);
  EXPECT_DOUBLE_EQ(s.max, 2.0);

  // Raw 0–255 data vs normalised data: clearly different statistics.
  torch::manual_seed(1);
  const torch::Tensor raw = torch::rand({16, 1, 4, 4}) * 255;
  const SplitStats rs = split_stats(raw);
  EXPECT_NEAR(rs.channel_mean[0], raw.mean().item<double>(), 1e-3);
  EXPECT_GT(rs.max, 200);

  EXPECT_EQ(split_stats(torch::zeros({2, 8})).samples, 0) << "not images: empty stats";
  EXPECT_TRUE(split_stats(torch::Tensor()).channel_mean.empty());
}

}  // namespace
}  // namespace lossdoctor::probe

namespace lossdoctor::probe {
namespace {

TEST(Recorder, FullMeasurementsOnlyOnDenseSteps) {
  Rig rig(/*probe_every=*/10);
  for (int64_t t = 0; t < 12; ++t)
    rig.step(t, batch(40 + t), torch::tensor({0, 1, 2, 0}, torch::kInt64), 0.05);
  const auto& s = rig.rec->record().steps;
  ASSERT_EQ(s.size(), 12u);
  for (int64_t t : {0, 1, 2, 3, 4, 10}) {
    EXPECT_TRUE(std::isfinite(s[t].update_norm)) << "step " << t;
    EXPECT_GT(s[t].update_norm, 0) << "step " << t;
    EXPECT_TRUE(std::isfinite(s[t].weight_norm)) << "step " << t;
  }
  for (int64_t t : {5, 6, 8, 11}) {
    EXPECT_TRUE(std::isnan(s[t].update_norm)) << "step " << t;
    EXPECT_TRUE(std::isnan(s[t].odd_input_fraction)) << "step " << t;
    EXPECT_GT(s[t].grad_norm, 0) << "the gradient norm is recorded on every step";
  }
  // Spec runs cannot forget zero_grad: the consecutive-gradient change is not measured.
  for (const auto& st : s) EXPECT_TRUE(std::isnan(st.grad_change_ratio));
}

TEST(Recorder, NoiseSampleIsTheProductOfConsecutiveGradients) {
  Rig rig(/*probe_every=*/4);
  torch::manual_seed(3);
  const std::vector<torch::Tensor> a = {torch::randn({3, 16}), torch::randn({3})};
  const std::vector<torch::Tensor> b = {torch::randn({3, 16}), torch::randn({3})};
  for (int64_t t = 0; t < 3; ++t) feed_gradient(rig, t, a);
  feed_gradient(rig, 3, a);  // the step before the probe
  feed_gradient(rig, 4, b);  // the probe step
  const auto& noise = rig.rec->record().noise;
  ASSERT_EQ(noise.size(), 1u);
  EXPECT_EQ(noise[0].step, 4);
  const double dot = (a[0] * b[0]).sum().item<double>() + (a[1] * b[1]).sum().item<double>();
  const double sq = b[0].pow(2).sum().item<double>() + b[1].pow(2).sum().item<double>();
  EXPECT_NEAR(noise[0].sq_mean_grad_norm, dot, 1e-4 * std::abs(dot) + 1e-6);
  EXPECT_NEAR(noise[0].mean_sq_grad_norm, sq, 1e-4 * sq);
}

}  // namespace
}  // namespace lossdoctor::probe
