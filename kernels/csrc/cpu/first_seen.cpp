// Relabelling for sampled blocks: the distinct ids of dst (distinct) then src in order of first
// appearance, and each src entry's position among them, through one open-addressing hash table
// (linear probing, a power-of-two size at least twice the entries): O(D + S), sequential, so the
// numbering is the same on every run.
#include <torch/library.h>

#include <tuple>
#include <vector>

#include "common.h"

namespace graphkit {
namespace {

std::tuple<at::Tensor, at::Tensor> first_seen_cpu(const at::Tensor& dst_in, const at::Tensor& src_in) {
  TORCH_CHECK(dst_in.scalar_type() == at::kLong && src_in.scalar_type() == at::kLong,
              "first_seen: dst and src must be int64");
  const at::Tensor dst = dst_in.contiguous(), src = src_in.contiguous();
  const int64_t D = dst.numel(), S = src.numel();
  int64_t size = 16;
  while (size < 2 * (D + S)) size <<= 1;
  const uint64_t mask = static_cast<uint64_t>(size - 1);
  std::vector<int64_t> keys(size), slots(size, -1);  // slots[h]: the local id of keys[h], -1 if empty
  std::vector<int64_t> ids;
  ids.reserve(D + S / 2);
  auto find = [&](int64_t key) -> int64_t& {
    uint64_t h = (static_cast<uint64_t>(key) * 0x9E3779B97F4A7C15ULL) >> 17 & mask;
    while (slots[h] >= 0 && keys[h] != key) h = (h + 1) & mask;
    keys[h] = key;
    return slots[h];
  };
  const int64_t* d = dst.data_ptr<int64_t>();
  for (int64_t i = 0; i < D; ++i) {
    int64_t& slot = find(d[i]);
    TORCH_CHECK(slot < 0, "first_seen: dst holds ", d[i], " twice");
    slot = static_cast<int64_t>(ids.size());
    ids.push_back(d[i]);
  }
  at::Tensor local = at::empty({S}, src.options());
  const int64_t* s = src.data_ptr<int64_t>();
  int64_t* l = local.data_ptr<int64_t>();
  for (int64_t i = 0; i < S; ++i) {
    int64_t& slot = find(s[i]);
    if (slot < 0) {
      slot = static_cast<int64_t>(ids.size());
      ids.push_back(s[i]);
    }
    l[i] = slot;
  }
  at::Tensor n_id = at::empty({static_cast<int64_t>(ids.size())}, dst.options());
  std::copy(ids.begin(), ids.end(), n_id.data_ptr<int64_t>());
  return {n_id, local};
}

}  // namespace

TORCH_LIBRARY_IMPL(graphkit, CPU, m) { m.impl("first_seen", &first_seen_cpu); }

}  // namespace graphkit
