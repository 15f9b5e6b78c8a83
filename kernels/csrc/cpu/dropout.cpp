// Dropout (optionally fused with a preceding ReLU) in one pass over memory, and its backward.
// The mask is never stored: the backward of plain dropout redraws it from (seed, index), that of
// ReLU + dropout reads it off the output (out > 0 exactly where x > 0 and the element was kept).
#include <torch/library.h>

#include "common.h"
#include "../dropout_mask.h"

namespace graphkit {
namespace {

constexpr int64_t kGrain = 1 << 14;
constexpr int64_t kGroups = 16;  // groups of four elements whose bits are drawn ahead of their loop

// The 16-bit draws of groups [g, g + m) (m <= kGroups), one per element, so that the element loop
// that compares them with the threshold vectorises.
inline void draw_lanes(uint64_t seed, int64_t g, int64_t m, uint32_t* lanes) {
  for (int64_t j = 0; j < m; ++j) {
    const uint64_t bits = dropout_bits(seed, static_cast<uint64_t>(g + j));
    for (int64_t l = 0; l < 4; ++l) lanes[4 * j + l] = dropout_lane(bits, l);
  }
}

// Elements [4 * g0, min(4 * g1, n)) of out = dropout(kRelu ? relu(x) : x), kept ones scaled (with
// x = grad and no ReLU, the backward of plain dropout). The loops live outside the dtype-dispatch
// macro, where the compiler vectorises them.
template <bool kRelu, typename scalar_t, typename acc_t>
void dropout_range(const scalar_t* __restrict x, scalar_t* __restrict out, int64_t n, int64_t g0, int64_t g1,
                   uint64_t seed, uint32_t threshold, acc_t scale) {
  alignas(64) uint32_t lanes[4 * kGroups];
  for (int64_t g = g0; g < g1; g += kGroups) {
    const int64_t i0 = 4 * g, len = std::min(4 * std::min(kGroups, g1 - g), n - i0);
    draw_lanes(seed, g, (len + 3) / 4, lanes);
    const scalar_t* xs = x + i0;
    scalar_t* os = out + i0;
#pragma omp simd
    for (int64_t t = 0; t < len; ++t) {
      acc_t v = static_cast<acc_t>(xs[t]);
      if constexpr (kRelu) v = v > acc_t(0) ? v : acc_t(0);
      os[t] = static_cast<scalar_t>(lanes[t] >= threshold ? v * scale : acc_t(0));
    }
  }
}

// out[i] = grad[i] * scale where the output was positive (the backward of ReLU + dropout).
template <typename scalar_t, typename acc_t>
void relu_dropout_backward_range(const scalar_t* __restrict grad, const scalar_t* __restrict y,
                                 scalar_t* __restrict out, int64_t i0, int64_t i1, acc_t scale) {
#pragma omp simd
  for (int64_t i = i0; i < i1; ++i)
    out[i] = static_cast<scalar_t>(static_cast<acc_t>(y[i]) > acc_t(0) ? static_cast<acc_t>(grad[i]) * scale : acc_t(0));
}

at::Tensor dropout_cpu(const at::Tensor& x_in, double p, int64_t seed, bool relu) {
  TORCH_CHECK(p >= 0.0 && p < 1.0, "dropout: p must be in [0, 1), got ", p);
  const at::Tensor x = x_in.contiguous();
  at::Tensor out = at::empty_like(x);
  const int64_t n = x.numel();
  if (n == 0) return out;
  const uint64_t s = static_cast<uint64_t>(seed);
  const uint32_t threshold = static_cast<uint32_t>(dropout_threshold(p));
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "dropout_cpu", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const acc_t scale = static_cast<acc_t>(1.0 / (1.0 - p));
    const scalar_t* xp = x.data_ptr<scalar_t>();
    scalar_t* op = out.data_ptr<scalar_t>();
    at::parallel_for(0, (n + 3) / 4, kGrain / 4, [&](int64_t g0, int64_t g1) {
      if (relu) dropout_range<true>(xp, op, n, g0, g1, s, threshold, scale);
      else dropout_range<false>(xp, op, n, g0, g1, s, threshold, scale);
    });
  });
  return out;
}

at::Tensor dropout_backward_cpu(const at::Tensor& grad_in, const at::Tensor& out_in, double p, int64_t seed,
                                bool relu) {
  // grad often arrives transposed (from einsum/bmm backwards); out is read only with the ReLU
  const at::Tensor grad = grad_in.contiguous(), out = relu ? out_in.contiguous() : grad;
  TORCH_CHECK(grad.sizes() == out.sizes(), "dropout_backward: grad and out must have one shape");
  at::Tensor result = at::empty_like(grad);
  const int64_t n = grad.numel();
  if (n == 0) return result;
  const uint64_t s = static_cast<uint64_t>(seed);
  const uint32_t threshold = static_cast<uint32_t>(dropout_threshold(p));
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, grad.scalar_type(), "dropout_backward_cpu", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const acc_t scale = static_cast<acc_t>(1.0 / (1.0 - p));
    const scalar_t* gp = grad.data_ptr<scalar_t>();
    const scalar_t* op = out.data_ptr<scalar_t>();
    scalar_t* rp = result.data_ptr<scalar_t>();
    if (relu) {  // the gradient passes where the output is positive: no mask to redraw
      at::parallel_for(0, n, kGrain, [&](int64_t i0, int64_t i1) {
        relu_dropout_backward_range(gp, op, rp, i0, i1, scale);
      });
    } else {  // the mask redrawn from (seed, index)
      at::parallel_for(0, (n + 3) / 4, kGrain / 4, [&](int64_t g0, int64_t g1) {
        dropout_range<false>(gp, rp, n, g0, g1, s, threshold, scale);
      });
    }
  });
  return result;
}

}  // namespace

TORCH_LIBRARY_IMPL(graphkit, CPU, m) {
  m.impl("dropout", &dropout_cpu);
  m.impl("dropout_backward", &dropout_backward_cpu);
}

}  // namespace graphkit
