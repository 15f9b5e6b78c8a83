// Per-edge kernels: sddmm (dot products of endpoint features) and the softmax over each CSR
// row with its backward. Parallel over nnz-balanced row blocks; every edge is written once.
#include <ATen/OpMathType.h>
#include <torch/library.h>

#include <cmath>
#include <limits>

#include "common.h"

namespace graphkit {
namespace {

at::Tensor sddmm_cpu(const at::Tensor& rowptr, const at::Tensor& col, const at::Tensor& a_in,
                     const at::Tensor& b_in, int64_t heads, const at::Tensor& /*colptr*/,
                     const at::Tensor& /*row_t*/, const at::Tensor& /*perm*/) {
  TORCH_CHECK(a_in.dim() == 2 && b_in.dim() == 2 && a_in.size(1) == b_in.size(1),
              "sddmm: a and b must be [M, F] and [N, F]");
  const at::Tensor a = a_in.contiguous(), b = b_in.contiguous();
  const int64_t M = rowptr.numel() - 1, F = a.size(1), E = col.numel();
  TORCH_CHECK(heads >= 1 && F % heads == 0, "sddmm: F must be a multiple of heads");
  const int64_t C = F / heads;
  at::Tensor out = at::zeros({E, heads}, a.options());
  if (E == 0) return out;
  const at::Tensor rp_t = rowptr.contiguous(), col_t = col.contiguous();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, a.scalar_type(), "sddmm_cpu", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    GRAPHKIT_DISPATCH_INDEX(col.scalar_type(), "sddmm_cpu", [&] {
      const index_t* rp = rp_t.data_ptr<index_t>();
      const index_t* cl = col_t.data_ptr<index_t>();
      const scalar_t* ap = a.data_ptr<scalar_t>();
      const scalar_t* bp = b.data_ptr<scalar_t>();
      scalar_t* op = out.data_ptr<scalar_t>();
      parallel_rows_by_nnz(rp, M, [&](int64_t r0, int64_t r1) {
        std::vector<acc_t> prod(F);
        const int64_t limit = rp[r1];
        for (int64_t i = r0; i < r1; ++i) {
          const scalar_t* arow = ap + i * F;
          for (int64_t k = rp[i]; k < rp[i + 1]; ++k) {
            if (k + kPrefetchDistance < limit)
              prefetch_bytes(bp + static_cast<int64_t>(cl[k + kPrefetchDistance]) * F, F * sizeof(scalar_t));
            const scalar_t* brow = bp + static_cast<int64_t>(cl[k]) * F;
            if (heads == 1) {
              acc_t s = 0;
              _Pragma("omp simd reduction(+ : s)")
              for (int64_t f = 0; f < F; ++f) s += static_cast<acc_t>(arow[f]) * static_cast<acc_t>(brow[f]);
              op[k] = static_cast<scalar_t>(s);
              continue;
            }
            // one long vector loop over all features, then short per-head sums
            for (int64_t f = 0; f < F; ++f) prod[f] = static_cast<acc_t>(arow[f]) * static_cast<acc_t>(brow[f]);
            for (int64_t h = 0; h < heads; ++h) {
              acc_t s = 0;
              for (int64_t c = h * C; c < (h + 1) * C; ++c) s += prod[c];
              op[k * heads + h] = static_cast<scalar_t>(s);
            }
          }
        }
      });
    });
  });
  return out;
}

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
  m.impl("sddmm", &sddmm_cpu);
  m.impl("segment_softmax", &segment_softmax_cpu);
  m.impl("segment_softmax_backward", &segment_softmax_backward_cpu);
}

}  // namespace graphkit
