#include "lossdoctor/util/crc32c.hpp"

#include <gtest/gtest.h>

#include <random>

#include "logs/log_fixtures.hpp"

namespace lossdoctor {
namespace {

uint32_t crc_of(const std::string& s) {
  return crc32c(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

TEST(Crc32c, StandardCheckValue) {
  EXPECT_EQ(crc_of("123456789"), 0xE3069283u);  // the CRC-32C check value (RFC 3720)
  EXPECT_EQ(crc_of(""), 0u);
}

TEST(Crc32c, AgreesWithABitwiseImplementation) {
  std::mt19937 rng(7);
  for (int n : {1, 3, 8, 17, 255, 1000}) {
    std::string s;
    for (int i = 0; i < n; ++i) s += static_cast<char>(rng() & 0xFF);
    EXPECT_EQ(crc_of(s), test::bitwise_crc32c(s)) << n;
    EXPECT_EQ(masked_crc32c(reinterpret_cast<const uint8_t*>(s.data()), s.size()),
              test::masked(test::bitwise_crc32c(s)));
  }
}

TEST(Crc32c, MaskIsTensorFlows) {
  EXPECT_EQ(mask_crc(0), 0xa282ead8u);
  EXPECT_EQ(mask_crc(0x8000u), 1u + 0xa282ead8u);  // rotated right by 15
}

}  // namespace
}  // namespace lossdoctor
