#include "lossdoctor/util/number.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace lossdoctor {
namespace {

TEST(ParseNumber, ReadsWholeDecimalAndScientificSpellings) {
  EXPECT_EQ(parse_number("32"), 32.0);
  EXPECT_EQ(parse_number("-0.25"), -0.25);
  EXPECT_EQ(parse_number("1e-3"), 1e-3);
  EXPECT_EQ(parse_number("+2.5E2"), 250.0);
}

TEST(ParseNumber, RejectsAnythingThatIsNotAllNumber) {
  EXPECT_FALSE(parse_number(""));
  EXPECT_FALSE(parse_number(" 1"));
  EXPECT_FALSE(parse_number("1 "));
  EXPECT_FALSE(parse_number("1e-3x"));
  EXPECT_FALSE(parse_number("0.1,"));
  EXPECT_FALSE(parse_number("adam"));
  EXPECT_FALSE(parse_number("."));
}

TEST(ParseNumber, KnowsYamlsInfinityAndNan) {
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(parse_number(".inf"), inf);
  EXPECT_EQ(parse_number("+.Inf"), inf);
  EXPECT_EQ(parse_number("-.INF"), -inf);
  const auto nan = parse_number(".NaN");
  ASSERT_TRUE(nan);
  EXPECT_TRUE(std::isnan(*nan));
  EXPECT_FALSE(parse_number(".Nan"));  // not one of YAML's three spellings
}

TEST(ParseNumber, OverflowIsInfinityNotAnError) {
  // What strtod gives and what the spec checks then reject with their own ranges.
  EXPECT_EQ(parse_number("1e999"), std::numeric_limits<double>::infinity());
}

}  // namespace
}  // namespace lossdoctor
