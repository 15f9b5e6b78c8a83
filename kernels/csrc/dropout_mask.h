// The keep/drop decision of graphkit's dropout, shared by the CPU and CUDA kernels and mirrored
// by the pure-torch reference (graphkit/ops/reference.py), so all three drop the same elements.
// Element i of a call with seed s is kept when the top 24 bits of splitmix64(s + (i + 1) * phi)
// are at least threshold = floor(p * 2^24): a counter-based draw, independent of the thread
// count and of the order elements are visited in.
#pragma once
#include <cstdint>

#include "host_device.h"

namespace graphkit {

GRAPHKIT_HOST_DEVICE inline bool dropout_keep(uint64_t seed, uint64_t index, uint64_t threshold) {
  uint64_t z = seed + (index + 1) * 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  return (z >> 40) >= threshold;
}

// floor(p * 2^24), the same in C++ and Python (one float64 multiplication).
GRAPHKIT_HOST_DEVICE inline uint64_t dropout_threshold(double p) {
  return static_cast<uint64_t>(p * 16777216.0);
}

}  // namespace graphkit
