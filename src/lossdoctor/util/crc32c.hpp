#pragma once
// CRC32C (Castagnoli), table-driven, and the masked form TFRecord files store
// (TensorFlow's crc32c::Mask). No torch.

#include <cstddef>
#include <cstdint>

namespace lossdoctor {

/// CRC32C of `size` bytes (reflected polynomial 0x82F63B78, init and final xor 0xFFFFFFFF).
uint32_t crc32c(const uint8_t* data, size_t size);

/// TensorFlow's mask: ((crc >> 15) | (crc << 17)) + 0xa282ead8.
uint32_t mask_crc(uint32_t crc);

/// mask_crc(crc32c(data, size)): what a TFRecord stores after its length and after its data.
inline uint32_t masked_crc32c(const uint8_t* data, size_t size) {
  return mask_crc(crc32c(data, size));
}

}  // namespace lossdoctor
