#pragma once
// Seeded randomness for the data stage. Only std::mt19937_64 (whose output sequence the C++
// standard fixes) plus our own helpers: std::*_distribution differs between standard libraries,
// and the data stage promises identical tensors for the same spec and seed everywhere.

#include <cstdint>
#include <numeric>
#include <random>
#include <utility>
#include <vector>

namespace lossdoctor::data::detail {

/// SplitMix64 finaliser: a well-mixed 64-bit hash of x.
inline uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

/// Seed of an independent stream for (seed, a, b, c): e.g. (seed, kTagLoader, epoch, batch).
inline uint64_t mix_seed(uint64_t seed, uint64_t a, uint64_t b = 0, uint64_t c = 0) {
  uint64_t h = splitmix64(seed);
  h = splitmix64(h ^ a);
  h = splitmix64(h ^ b);
  return splitmix64(h ^ c);
}

/// Stream tags, so that no two uses of the seed share a stream.
enum StreamTag : uint64_t {
  kTagLimitTrain = 1,
  kTagLimitVal = 2,
  kTagCarveVal = 3,
  kTagLabelNoise = 4,
  kTagCorrupt = 5,
  kTagEpochOrder = 6,
  kTagBatch = 7,
  kTagDropClasses = 8,
};

/// Uniform integer in [0, n), n ≥ 1, unbiased (rejection sampling).
inline uint64_t uniform_below(std::mt19937_64& rng, uint64_t n) {
  if (n <= 1) return 0;
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;  // largest multiple of n, exclusive
  uint64_t x;
  do {
    x = rng();
  } while (x >= limit);
  return x % n;
}

/// Uniform double in [0, 1) with 53 random bits.
inline double uniform01(std::mt19937_64& rng) {
  return static_cast<double>(rng() >> 11) * (1.0 / 9007199254740992.0);
}

/// Fisher–Yates shuffle (from the back), our own so that results do not depend on the library.
template <typename T>
void shuffle_in_place(std::vector<T>& v, std::mt19937_64& rng) {
  for (size_t i = v.size(); i > 1; --i) {
    const size_t j = uniform_below(rng, i);
    std::swap(v[i - 1], v[j]);
  }
}

/// k distinct values from [0, n), in draw order (partial Fisher–Yates). Requires k ≤ n.
inline std::vector<int64_t> sample_without_replacement(int64_t n, int64_t k, std::mt19937_64& rng) {
  std::vector<int64_t> pool(static_cast<size_t>(n));
  std::iota(pool.begin(), pool.end(), int64_t{0});
  for (int64_t i = 0; i < k; ++i) {
    const int64_t j = i + static_cast<int64_t>(uniform_below(rng, static_cast<uint64_t>(n - i)));
    std::swap(pool[i], pool[j]);
  }
  pool.resize(static_cast<size_t>(k));
  return pool;
}

}  // namespace lossdoctor::data::detail
