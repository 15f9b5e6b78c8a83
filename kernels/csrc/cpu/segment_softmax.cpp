// The softmax of per-edge scores [E, H] over each CSR row, and its backward. Parallel over
// nnz-balanced row blocks; every edge is written once.
#include <ATen/OpMathType.h>
#include <torch/library.h>

#include <cmath>
#include <limits>

#include "common.h"

namespace graphkit {
namespace {

at::Tensor segment_softmax_cpu(const at::Tensor& rowptr, const at::Tensor& scores_in) {
  const at::Tensor scores = scores_in.contiguous();
  const int64_t M = rowptr.numel() - 1, H = scores.dim() == 2 ? scores.size(1) : 1;
  at::Tensor out = at::empty_like(scores);
  if (scores.numel() == 0) return out;
  const at::Tensor rp_t = rowptr.contiguous();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, scores.scalar_type(), "segment_softmax_cpu", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    GRAPHKIT_DISPATCH_INDEX(rowptr.scalar_type(), "segment_softmax_cpu", [&] {
      const index_t* rp = rp_t.data_ptr<index_t>();
      const scalar_t* sp = scores.data_ptr<scalar_t>();
      scalar_t* op = out.data_ptr<scalar_t>();
      parallel_rows_by_nnz(rp, M, [&](int64_t r0, int64_t r1) {
        std::vector<acc_t> mx(H), sum(H);
        for (int64_t i = r0; i < r1; ++i) {
          const int64_t b = rp[i], e = rp[i + 1];
          if (b == e) continue;
          std::fill(mx.begin(), mx.end(), -std::numeric_limits<acc_t>::infinity());
          std::fill(sum.begin(), sum.end(), acc_t(0));
          for (int64_t k = b; k < e; ++k)
            for (int64_t h = 0; h < H; ++h) mx[h] = std::max<acc_t>(mx[h], sp[k * H + h]);
          for (int64_t k = b; k < e; ++k)
            for (int64_t h = 0; h < H; ++h) {
              const acc_t v = std::exp(static_cast<acc_t>(sp[k * H + h]) - mx[h]);
              op[k * H + h] = static_cast<scalar_t>(v);
              sum[h] += v;
            }
          for (int64_t k = b; k < e; ++k)
            for (int64_t h = 0; h < H; ++h)
              op[k * H + h] = static_cast<scalar_t>(static_cast<acc_t>(op[k * H + h]) / sum[h]);
        }
      });
    });
  });
  return out;
}

// grad_scores = y * (g - sum_row(y * g)), per head.
at::Tensor segment_softmax_backward_cpu(const at::Tensor& rowptr, const at::Tensor& out_in,
                                        const at::Tensor& grad_in) {
  const at::Tensor y = out_in.contiguous(), g = grad_in.contiguous();
  const int64_t M = rowptr.numel() - 1, H = y.dim() == 2 ? y.size(1) : 1;
  at::Tensor res = at::empty_like(y);
  if (y.numel() == 0) return res;
  const at::Tensor rp_t = rowptr.contiguous();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, y.scalar_type(), "segment_softmax_backward_cpu", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    GRAPHKIT_DISPATCH_INDEX(rowptr.scalar_type(), "segment_softmax_backward_cpu", [&] {
      const index_t* rp = rp_t.data_ptr<index_t>();
      const scalar_t* yp = y.data_ptr<scalar_t>();
      const scalar_t* gp = g.data_ptr<scalar_t>();
      scalar_t* rp_out = res.data_ptr<scalar_t>();
      parallel_rows_by_nnz(rp, M, [&](int64_t r0, int64_t r1) {
        std::vector<acc_t> dot(H);
        for (int64_t i = r0; i < r1; ++i) {
          std::fill(dot.begin(), dot.end(), acc_t(0));
          for (int64_t k = rp[i]; k < rp[i + 1]; ++k)
            for (int64_t h = 0; h < H; ++h) dot[h] += static_cast<acc_t>(yp[k * H + h]) * gp[k * H + h];
          for (int64_t k = rp[i]; k < rp[i + 1]; ++k)
            for (int64_t h = 0; h < H; ++h)
              rp_out[k * H + h] = static_cast<scalar_t>(static_cast<acc_t>(yp[k * H + h]) * (gp[k * H + h] - dot[h]));
        }
      });
    });
  });
  return res;
}

}  // namespace

TORCH_LIBRARY_IMPL(graphkit, CPU, m) {
  m.impl("segment_softmax", &segment_softmax_cpu);
  m.impl("segment_softmax_backward", &segment_softmax_backward_cpu);
}

}  // namespace graphkit
