// The keep/drop decision of graphkit's dropout, shared by the CPU and CUDA kernels and mirrored
// by the pure-torch reference (graphkit/ops/reference.py), so all three drop the same elements.
// Elements come in groups of four: group g of a call with seed s draws z = splitmix64(s + (g + 1)
// * phi), and element 4g + l is kept when the 16-bit lane l of z is at least threshold =
// floor(p * 2^16). A counter-based draw: independent of the thread count and of the order in which
// elements are visited, and one hash per four elements.
#pragma once
#include <cstdint>

#include "host_device.h"

namespace graphkit {

GRAPHKIT_HOST_DEVICE inline uint64_t dropout_bits(uint64_t seed, uint64_t group) {
  uint64_t z = seed + (group + 1) * 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// The 16-bit draw of lane `lane` (0..3) of a group's bits.
GRAPHKIT_HOST_DEVICE inline uint32_t dropout_lane(uint64_t bits, int64_t lane) {
  return static_cast<uint32_t>((bits >> (16 * lane)) & 0xFFFFULL);
}

// Whether lane `lane` of a group's bits keeps its element.
GRAPHKIT_HOST_DEVICE inline bool dropout_lane_keeps(uint64_t bits, int64_t lane, uint64_t threshold) {
  return dropout_lane(bits, lane) >= threshold;
}

GRAPHKIT_HOST_DEVICE inline bool dropout_keep(uint64_t seed, uint64_t index, uint64_t threshold) {
  return dropout_lane_keeps(dropout_bits(seed, index >> 2), static_cast<int64_t>(index & 3), threshold);
}

// floor(p * 2^16), the same in C++ and Python (one float64 multiplication).
GRAPHKIT_HOST_DEVICE inline uint64_t dropout_threshold(double p) {
  return static_cast<uint64_t>(p * 65536.0);
}

}  // namespace graphkit
