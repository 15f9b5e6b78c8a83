// A position-sensitive 64-bit checksum of a tensor's bytes: the sum (mod 2^64) over its 8-byte
// words w_i (the last one zero-padded) of splitmix64(w_i + (i + 1) * phi), i.e. dropout_bits(w_i,
// i). The caches kept with a tensor (graphkit.adj.tensor_cache) compare it to notice a change that
// the version counter cannot see (a write through .numpy(), DLPack or a C extension). Any one
// changed word changes the sum; a wrapping sum, so the same for any thread count.
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <cstring>
#include <functional>

#include "../dropout_mask.h"

namespace graphkit {
namespace {

int64_t checksum_cpu(const at::Tensor& t_in) {
  const at::Tensor t = t_in.contiguous();
  const auto* bytes = static_cast<const unsigned char*>(t.data_ptr());
  const int64_t nbytes = t.numel() * static_cast<int64_t>(t.element_size());
  const int64_t words = nbytes / 8;
  uint64_t total = at::parallel_reduce(
      0, words, int64_t(1) << 16, uint64_t(0),
      [&](int64_t begin, int64_t end, uint64_t acc) {
        for (int64_t i = begin; i < end; ++i) {
          uint64_t w;
          std::memcpy(&w, bytes + 8 * i, 8);
          acc += dropout_bits(w, static_cast<uint64_t>(i));
        }
        return acc;
      },
      std::plus<uint64_t>());
  if (nbytes % 8) {
    uint64_t w = 0;
    std::memcpy(&w, bytes + 8 * words, nbytes % 8);
    total += dropout_bits(w, static_cast<uint64_t>(words));
  }
  return static_cast<int64_t>(total);
}

}  // namespace

TORCH_LIBRARY_IMPL(graphkit, CPU, m) { m.impl("checksum", &checksum_cpu); }

}  // namespace graphkit
