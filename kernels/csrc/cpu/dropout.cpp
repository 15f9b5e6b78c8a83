// Dropout (optionally fused with a preceding ReLU) in one pass over memory, and its backward.
// The mask is never stored: the backward of plain dropout redraws it from (seed, index), that of
// ReLU + dropout reads it off the output (out > 0 exactly where x > 0 and the element was kept).
#include <torch/library.h>

#include "common.h"
#include "../dropout_mask.h"

namespace graphkit {
namespace {

constexpr int64_t kGrain = 1 << 14;

at::Tensor dropout_cpu(const at::Tensor& x_in, double p, int64_t seed, bool relu) {
  TORCH_CHECK(p >= 0.0 && p < 1.0, "dropout: p must be in [0, 1), got ", p);
  const at::Tensor x = x_in.contiguous();
  at::Tensor out = at::empty_like(x);
  const int64_t n = x.numel();
  if (n == 0) return out;
  const uint64_t threshold = dropout_threshold(p), s = static_cast<uint64_t>(seed);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "dropout_cpu", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const acc_t scale = static_cast<acc_t>(1.0 / (1.0 - p));
    const scalar_t* xp = x.data_ptr<scalar_t>();
    scalar_t* op = out.data_ptr<scalar_t>();
    auto run = [&](auto with_relu) {  // the ReLU as a compile-time choice
      at::parallel_for(0, (n + 3) / 4, kGrain / 4, [&](int64_t g0, int64_t g1) {
        for (int64_t g = g0; g < g1; ++g) {  // one hash per group of four elements
          const uint64_t bits = dropout_bits(s, static_cast<uint64_t>(g));
          for (int64_t l = 0, i = 4 * g; l < 4 && i < n; ++l, ++i) {
            acc_t v = static_cast<acc_t>(xp[i]);
            if constexpr (decltype(with_relu)::value) v = v > acc_t(0) ? v : acc_t(0);
            op[i] = static_cast<scalar_t>(dropout_lane_keeps(bits, l, threshold) ? v * scale : acc_t(0));
          }
        }
      });
    };
    if (relu) run(std::true_type()); else run(std::false_type());
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
  const uint64_t threshold = dropout_threshold(p), s = static_cast<uint64_t>(seed);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, grad.scalar_type(), "dropout_backward_cpu", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const acc_t scale = static_cast<acc_t>(1.0 / (1.0 - p));
    const scalar_t* gp = grad.data_ptr<scalar_t>();
    const scalar_t* op = out.data_ptr<scalar_t>();
    scalar_t* rp = result.data_ptr<scalar_t>();
    if (relu) {  // the gradient passes where the output is positive: no mask to redraw
      at::parallel_for(0, n, kGrain, [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i)
          rp[i] = static_cast<scalar_t>(static_cast<acc_t>(op[i]) > acc_t(0) ? static_cast<acc_t>(gp[i]) * scale
                                                                              : acc_t(0));
      });
    } else {
      at::parallel_for(0, (n + 3) / 4, kGrain / 4, [&](int64_t g0, int64_t g1) {
        for (int64_t g = g0; g < g1; ++g) {
          const uint64_t bits = dropout_bits(s, static_cast<uint64_t>(g));
          for (int64_t l = 0, i = 4 * g; l < 4 && i < n; ++l, ++i)
            rp[i] = static_cast<scalar_t>(dropout_lane_keeps(bits, l, threshold) ? static_cast<acc_t>(gp[i]) * scale
                                                                                 : acc_t(0));
        }
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
