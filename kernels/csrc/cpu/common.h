// Helpers shared by the CPU kernels: nnz-balanced row partitioning, prefetching, dtype dispatch
// and the register-blocked row accumulation that spmm, the GAT kernels and segment_reduce share.
#pragma once
#include <ATen/ATen.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>

#include "../dispatch.h"
#include "../walk_step.h"  // Stream

#include <algorithm>
#include <type_traits>
#include <vector>

namespace graphkit {

// Run fn(row_begin, row_end) over [0, num_rows) in parallel, splitting the rows so that every
// chunk holds about the same number of entries (power-law rows stay balanced).
template <typename index_t, typename F>
void parallel_rows_by_nnz(const index_t* rowptr, int64_t num_rows, F fn) {
  if (num_rows == 0) return;
  const int64_t nnz = static_cast<int64_t>(rowptr[num_rows]);
  const int64_t chunks = std::max<int64_t>(
      1, std::min<int64_t>(num_rows, at::get_num_threads() * 8));
  std::vector<int64_t> bounds(chunks + 1);
  bounds[0] = 0;
  bounds[chunks] = num_rows;
  for (int64_t c = 1; c < chunks; ++c) {
    const int64_t target = nnz * c / chunks + (num_rows * c / chunks);  // entries + rows: weigh both
    // first row r with rowptr[r] + r >= target (monotone in r)
    int64_t lo = bounds[c - 1], hi = num_rows;
    while (lo < hi) {
      const int64_t mid = (lo + hi) / 2;
      if (static_cast<int64_t>(rowptr[mid]) + mid < target) lo = mid + 1; else hi = mid;
    }
    bounds[c] = lo;
  }
  at::parallel_for(0, chunks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      if (bounds[c] < bounds[c + 1]) fn(bounds[c], bounds[c + 1]);
    }
  });
}

// Ask the memory system for bytes that will be read soon (64-byte cache lines).
inline void prefetch_bytes(const void* p, int64_t bytes) {
  const char* c = static_cast<const char*>(p);
  for (int64_t off = 0; off < bytes; off += 64) __builtin_prefetch(c + off);
}

// Entries ahead whose feature rows are prefetched: gathers from random rows are latency-bound.
constexpr int64_t kPrefetchDistance = 16;

// Features held in registers by the blocked kernels: 256 bytes of accumulators.
template <typename acc_t>
constexpr int64_t block_size() { return 256 / static_cast<int64_t>(sizeof(acc_t)); }

// How an entry's weight reaches the features of a block: none (1), one scalar per entry, one
// scalar per entry and head where the block lies in a single head, or one per head of a block
// spanning several heads (kC: the head width when it divides the block, else 0 and the head of
// feature t is head_of[t], relative to the block's first head).
enum class WeightMode { kNone, kScalar, kHeadScalar, kPerHead };

// Call fn(std::integral_constant<int64_t, kC>) with kC = C where C is a small power of two that
// divides the block kB, else kC = 0 (the generic per-feature path).
template <int64_t kB, typename Fn>
inline void dispatch_head_width(int64_t C, Fn fn) {
  if constexpr (kB % 32 == 0) { if (C == 32) return fn(std::integral_constant<int64_t, 32>()); }
  if constexpr (kB % 16 == 0) { if (C == 16) return fn(std::integral_constant<int64_t, 16>()); }
  if constexpr (kB % 8 == 0) { if (C == 8) return fn(std::integral_constant<int64_t, 8>()); }
  if constexpr (kB % 4 == 0) { if (C == 4) return fn(std::integral_constant<int64_t, 4>()); }
  if constexpr (kB % 2 == 0) { if (C == 2) return fn(std::integral_constant<int64_t, 2>()); }
  return fn(std::integral_constant<int64_t, 0>());
}

// acc[0:n] += sum over entries k in [b, e) of w(k) * x[idx[k], f0 : f0 + n], where entry k's
// weights sit at w[(wperm ? wperm[k] : k) * H + head ...] and n == kB unless kFull is false.
// Rows of x for entries up to `limit` are prefetched kPrefetchDistance entries ahead.
template <int64_t kB, bool kFull, WeightMode kMode, int64_t kC = 0, typename acc_t, typename scalar_t,
          typename index_t>
inline void accumulate_rows(acc_t* __restrict acc, const index_t* idx, int64_t b, int64_t e, int64_t limit,
                            const scalar_t* x, int64_t F, int64_t f0, int64_t n,
                            const scalar_t* w, const index_t* wperm, int64_t H, int64_t head,
                            const int32_t* head_of) {
  const int64_t len = kFull ? kB : n;
  alignas(64) acc_t wexp[kB];
  for (int64_t k = b; k < e; ++k) {
    if (k + kPrefetchDistance < limit) {
      prefetch_bytes(x + static_cast<int64_t>(idx[k + kPrefetchDistance]) * F + f0, len * sizeof(scalar_t));
      if (kMode != WeightMode::kNone && wperm)  // weights read through a permutation: random too
        __builtin_prefetch(w + static_cast<int64_t>(wperm[k + kPrefetchDistance]) * H + head);
    }
    const scalar_t* xr = x + static_cast<int64_t>(idx[k]) * F + f0;
    const int64_t we = wperm ? static_cast<int64_t>(wperm[k]) : k;
    if constexpr (kMode == WeightMode::kNone) {
#pragma omp simd
      for (int64_t t = 0; t < len; ++t) acc[t] += static_cast<acc_t>(xr[t]);
    } else if constexpr (kMode == WeightMode::kScalar || kMode == WeightMode::kHeadScalar) {
      const acc_t wk = static_cast<acc_t>(w[we * H + head]);
#pragma omp simd
      for (int64_t t = 0; t < len; ++t) acc[t] += wk * static_cast<acc_t>(xr[t]);
    } else if constexpr (kC > 0 && kFull) {  // kB / kC whole heads: broadcast each head's weight
      const scalar_t* wr = w + we * H + head;
      for (int64_t h = 0; h < kB / kC; ++h) {
        const acc_t wk = static_cast<acc_t>(wr[h]);
#pragma omp simd
        for (int64_t c = 0; c < kC; ++c) acc[h * kC + c] += wk * static_cast<acc_t>(xr[h * kC + c]);
      }
    } else {
      const scalar_t* wr = w + we * H + head;
      for (int64_t t = 0; t < len; ++t) wexp[t] = static_cast<acc_t>(wr[head_of[t]]);
#pragma omp simd
      for (int64_t t = 0; t < len; ++t) acc[t] += wexp[t] * static_cast<acc_t>(xr[t]);
    }
  }
}

// One feature block of a row: acc[0:n] = sum over entries k in [b, e) of w(k) * x[idx[k], f0:f0+n]
// with w: nullptr, [E] (H == 1) or [E, H] (F = H * C), wperm an optional indirection of the
// weights. head_of is scratch of kB entries.
template <typename acc_t, typename scalar_t, typename index_t>
inline void accumulate_block(acc_t* acc, const index_t* idx, int64_t b, int64_t e, int64_t limit,
                             const scalar_t* x, int64_t F, int64_t f0, int64_t n, const scalar_t* w,
                             const index_t* wperm, int64_t H, int32_t* head_of) {
  constexpr int64_t kB = block_size<acc_t>();
  const int64_t C = F / H, head = f0 / C;
  const bool full = n == kB;
  std::fill(acc, acc + kB, acc_t(0));
#define GRAPHKIT_ACC(MODE, KC)                                                                            (full ? accumulate_rows<kB, true, MODE, KC>(acc, idx, b, e, limit, x, F, f0, n, w, wperm, H, head, head_of)         : accumulate_rows<kB, false, MODE, KC>(acc, idx, b, e, limit, x, F, f0, n, w, wperm, H, head, head_of))
  if (w == nullptr) {
    GRAPHKIT_ACC(WeightMode::kNone, 0);
  } else if (H == 1) {
    GRAPHKIT_ACC(WeightMode::kScalar, 0);
  } else if (head == (f0 + n - 1) / C) {
    GRAPHKIT_ACC(WeightMode::kHeadScalar, 0);
  } else if (full && kB % C == 0) {
    dispatch_head_width<kB>(C, [&](auto kc) {
      constexpr int64_t kC = decltype(kc)::value;
      if constexpr (kC > 0) {
        accumulate_rows<kB, true, WeightMode::kPerHead, kC>(acc, idx, b, e, limit, x, F, f0, n, w, wperm, H, head,
                                                            head_of);
      } else {
        for (int64_t t = 0; t < n; ++t) head_of[t] = static_cast<int32_t>((f0 + t) / C - head);
        accumulate_rows<kB, true, WeightMode::kPerHead, 0>(acc, idx, b, e, limit, x, F, f0, n, w, wperm, H, head,
                                                           head_of);
      }
    });
  } else {
    for (int64_t t = 0; t < n; ++t) head_of[t] = static_cast<int32_t>((f0 + t) / C - head);
    GRAPHKIT_ACC(WeightMode::kPerHead, 0);
  }
#undef GRAPHKIT_ACC
}

// Weighted row sums of x over each CSR row, feature block by feature block:
// out_block(i, f0, n, acc) receives acc[0:n] = sum_{k in row i} w(k) * x[idx[k], f0 : f0 + n].
template <typename acc_t, typename scalar_t, typename index_t, typename Out>
void weighted_row_sums(const index_t* ptr, const index_t* idx, int64_t num_rows, const scalar_t* x,
                       int64_t F, const scalar_t* w, const index_t* wperm, int64_t H, Out out_block) {
  constexpr int64_t kB = block_size<acc_t>();
  parallel_rows_by_nnz(ptr, num_rows, [&](int64_t r0, int64_t r1) {
    alignas(64) acc_t acc[kB];
    int32_t head_of[kB];
    const int64_t limit = ptr[r1];
    for (int64_t i = r0; i < r1; ++i) {  // a row's blocks back to back: its gathered rows stay in cache
      for (int64_t f0 = 0; f0 < F; f0 += kB) {
        const int64_t n = std::min(kB, F - f0);
        accumulate_block(acc, idx, ptr[i], ptr[i + 1], limit, x, F, f0, n, w, wperm, H, head_of);
        out_block(i, f0, n, acc);
      }
    }
  });
}

}  // namespace graphkit
