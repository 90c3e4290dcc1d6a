// The orders of a data-parallel confirmation (experiment/rerun_order.hpp): a JSON round trip keeps
// every field, a foreign message is refused, and two ranks on loopback receive exactly what rank
// 0 sent, order after order, until the end order.
#include "lossdoctor/experiment/rerun_order.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

#include "train/two_ranks.hpp"

namespace lossdoctor::experiment {
namespace {

RerunOrder sample_order() {
  RerunOrder o;
  o.respec = true;
  o.sets = {"optimizer.lr=0.1", "model.init={weight: he_normal, bias: zeros}"};
  o.drop = {3, 17, 1023};
  o.oversample = true;
  o.reload = true;
  o.max_steps = 160;
  o.plan_train_size = 3040;
  return o;
}

void expect_same(const RerunOrder& a, const RerunOrder& b) {
  EXPECT_EQ(a.end, b.end);
  EXPECT_EQ(a.respec, b.respec);
  EXPECT_EQ(a.sets, b.sets);
  EXPECT_EQ(a.drop, b.drop);
  EXPECT_EQ(a.oversample, b.oversample);
  EXPECT_EQ(a.reload, b.reload);
  EXPECT_EQ(a.max_steps, b.max_steps);
  EXPECT_EQ(a.plan_train_size, b.plan_train_size);
}

TEST(RerunOrder, JsonRoundTripKeepsEveryField) {
  expect_same(rerun_order_from_json(to_json(sample_order())), sample_order());
  RerunOrder end;
  end.end = true;
  expect_same(rerun_order_from_json(to_json(end)), end);
}

TEST(RerunOrder, AForeignMessageIsRefused) {
  EXPECT_THROW(rerun_order_from_json(""), std::runtime_error);
  EXPECT_THROW(rerun_order_from_json("{\"kind\": \"something else\"}"), std::runtime_error);
  EXPECT_THROW(rerun_order_from_json("{\"kind\": \"lossdoctor-rerun-order\"}"), std::runtime_error);
}

TEST(RerunOrder, TheOtherRankReceivesEveryOrderRankZeroSends) {
  if (!train::distributed_available())
    GTEST_SKIP() << "built without c10d's Gloo backend (libgloo-dev): nothing to test";
  RerunOrder big = sample_order();
  for (int64_t i = 0; i < 50000; ++i) big.drop.push_back(2000 + i);  // a long message
  RerunOrder end;
  end.end = true;
  const std::vector<RerunOrder> sent = {sample_order(), RerunOrder{}, big, end};
  std::vector<RerunOrder> received;
  train::test::with_two_ranks([&](train::ProcessGroup& g) {
    if (g.rank() == 0) {
      for (const auto& o : sent) send_rerun_order(g, o);
    } else {
      for (;;) {
        received.push_back(receive_rerun_order(g));
        if (received.back().end) break;
      }
    }
  });
  ASSERT_EQ(received.size(), sent.size());
  for (size_t i = 0; i < sent.size(); ++i) expect_same(received[i], sent[i]);
}

}  // namespace
}  // namespace lossdoctor::experiment
