// Fused GAT aggregation (Velickovic et al., eqs. 1-4) and its backward. The forward makes the
// scores, the row softmax and the weighted sum in one pass per row and keeps only alpha [E, H];
// the backward is two passes, one over rows (score gradients, softmax and LeakyReLU backward,
// grad of a_dst) and one over columns of the transpose (grad of x and of a_src), so neither
// direction builds an [E, F] tensor or uses atomics.
#include <torch/library.h>

#include <cmath>
#include <limits>

#include "common.h"

namespace graphkit {
namespace {

template <typename acc_t>
inline acc_t leaky(acc_t s, acc_t slope) { return s > 0 ? s : s * slope; }

// Feature blocks of one row: acc[0:n] = sum_k alpha[k, head(f)] * x[idx[k], f0:f0+n] for every
// block, handed to out_block(f0, n, acc).
template <typename acc_t, typename scalar_t, typename index_t, typename Out>
inline void attend_row(const index_t* idx, int64_t b, int64_t e, int64_t limit, const scalar_t* x, int64_t F,
                       const scalar_t* alpha, const index_t* wperm, int64_t H, Out out_block) {
  constexpr int64_t kB = block_size<acc_t>();
  alignas(64) acc_t acc[kB];
  int32_t head_of[kB];
  for (int64_t f0 = 0; f0 < F; f0 += kB) {
    const int64_t n = std::min(kB, F - f0);
    accumulate_block(acc, idx, b, e, limit, x, F, f0, n, alpha, wperm, H, head_of);
    out_block(f0, n, acc);
  }
}

// ga[h] += <g[h*C : (h+1)*C], x[h*C : (h+1)*C]> for every head h of a row of F = H * C features.
template <typename acc_t, typename scalar_t>
inline void head_dots(const scalar_t* g, const scalar_t* x, int64_t H, int64_t C, acc_t* ga) {
  constexpr int64_t kB = block_size<acc_t>();
  auto generic = [&] {
    for (int64_t h = 0; h < H; ++h) {
      acc_t s = 0;
#pragma omp simd reduction(+ : s)
      for (int64_t c = 0; c < C; ++c) s += static_cast<acc_t>(g[h * C + c]) * static_cast<acc_t>(x[h * C + c]);
      ga[h] += s;
    }
  };
  if (C >= kB || kB % C != 0) return generic();
  dispatch_head_width<kB>(C, [&](auto kc) {
    constexpr int64_t kC = decltype(kc)::value;
    if constexpr (kC == 0) {
      generic();
    } else {
      for (int64_t h = 0; h < H; ++h) {
        acc_t s = 0;
        for (int64_t c = 0; c < kC; ++c) s += static_cast<acc_t>(g[h * kC + c]) * static_cast<acc_t>(x[h * kC + c]);
        ga[h] += s;
      }
    }
  });
}

void check_gat_inputs(const at::Tensor& x, const at::Tensor& a_src, const at::Tensor& a_dst, int64_t M) {
  TORCH_CHECK(x.dim() == 2 && a_src.dim() == 2 && a_dst.dim() == 2,
              "gat_aggregate: x [N, H*C], a_src [N, H], a_dst [M, H]");
  TORCH_CHECK(a_src.size(0) == x.size(0) && a_dst.size(0) == M && a_src.size(1) == a_dst.size(1),
              "gat_aggregate: a_src must be [N, H] and a_dst [M, H]");
  TORCH_CHECK(a_src.size(1) >= 1 && x.size(1) % a_src.size(1) == 0,
              "gat_aggregate: feature size must be a multiple of the heads");
}

std::tuple<at::Tensor, at::Tensor> gat_aggregate_cpu(const at::Tensor& rowptr, const at::Tensor& col,
                                                     const at::Tensor& x_in, const at::Tensor& a_src_in,
                                                     const at::Tensor& a_dst_in, double negative_slope) {
  const at::Tensor x = x_in.contiguous(), a_src = a_src_in.contiguous(), a_dst = a_dst_in.contiguous();
  const int64_t M = rowptr.numel() - 1, F = x.size(1), E = col.numel();
  check_gat_inputs(x, a_src, a_dst, M);
  const int64_t H = a_src.size(1);
  at::Tensor out = at::zeros({M, F}, x.options());
  at::Tensor alpha = at::empty({E, H}, x.options());
  if (E == 0) return {out, alpha};
  const at::Tensor rp_t = rowptr.contiguous(), col_t = col.contiguous();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "gat_aggregate_cpu", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    GRAPHKIT_DISPATCH_INDEX(col.scalar_type(), "gat_aggregate_cpu", [&] {
      const index_t* rp = rp_t.data_ptr<index_t>();
      const index_t* cl = col_t.data_ptr<index_t>();
      const scalar_t* xp = x.data_ptr<scalar_t>();
      const scalar_t* sp = a_src.data_ptr<scalar_t>();
      const scalar_t* dp = a_dst.data_ptr<scalar_t>();
      scalar_t* op = out.data_ptr<scalar_t>();
      scalar_t* alp = alpha.data_ptr<scalar_t>();
      const acc_t slope = static_cast<acc_t>(negative_slope);
      parallel_rows_by_nnz(rp, M, [&](int64_t r0, int64_t r1) {
        std::vector<acc_t> mx(H), sum(H), raw;
        const int64_t limit = rp[r1];
        for (int64_t i = r0; i < r1; ++i) {
          const int64_t b = rp[i], e = rp[i + 1];
          if (b == e) continue;
          raw.resize((e - b) * H);
          std::fill(mx.begin(), mx.end(), -std::numeric_limits<acc_t>::infinity());
          for (int64_t k = b; k < e; ++k) {  // raw scores, row maxima
            const scalar_t* srow = sp + static_cast<int64_t>(cl[k]) * H;
            acc_t* r = raw.data() + (k - b) * H;
            for (int64_t h = 0; h < H; ++h) {
              r[h] = leaky(static_cast<acc_t>(dp[i * H + h]) + static_cast<acc_t>(srow[h]), slope);
              mx[h] = std::max(mx[h], r[h]);
            }
          }
          std::fill(sum.begin(), sum.end(), acc_t(0));
          for (int64_t k = 0; k < e - b; ++k)
            for (int64_t h = 0; h < H; ++h) {
              const acc_t v = std::exp(raw[k * H + h] - mx[h]);
              raw[k * H + h] = v;
              sum[h] += v;
            }
          for (int64_t h = 0; h < H; ++h) sum[h] = acc_t(1) / sum[h];
          for (int64_t k = 0; k < e - b; ++k)
            for (int64_t h = 0; h < H; ++h) alp[(b + k) * H + h] = static_cast<scalar_t>(raw[k * H + h] * sum[h]);
          attend_row<acc_t>(cl, b, e, limit, xp, F, alp, static_cast<const index_t*>(nullptr), H,
                            [&](int64_t f0, int64_t n, const acc_t* acc) {
            scalar_t* orow = op + i * F + f0;
            for (int64_t t = 0; t < n; ++t) orow[t] = static_cast<scalar_t>(acc[t]);
          });
        }
      });
    });
  });
  return {out, alpha};
}

// Gradients of gat_aggregate with respect to x, a_src and a_dst, given grad_out [M, F] and,
// optionally, a gradient flowing into alpha directly (grad_alpha [E, H], empty for none).
std::tuple<at::Tensor, at::Tensor, at::Tensor> gat_aggregate_backward_cpu(
    const at::Tensor& rowptr, const at::Tensor& col, const at::Tensor& x_in, const at::Tensor& a_src_in,
    const at::Tensor& a_dst_in, const at::Tensor& alpha_in, const at::Tensor& grad_out_in,
    const at::Tensor& grad_alpha_in, double negative_slope, const at::Tensor& colptr,
    const at::Tensor& row_t, const at::Tensor& perm) {
  const at::Tensor x = x_in.contiguous(), a_src = a_src_in.contiguous(), a_dst = a_dst_in.contiguous();
  const at::Tensor alpha = alpha_in.contiguous(), grad_out = grad_out_in.contiguous();
  const at::Tensor grad_alpha = grad_alpha_in.contiguous();
  const int64_t M = rowptr.numel() - 1, N = x.size(0), F = x.size(1), E = col.numel();
  check_gat_inputs(x, a_src, a_dst, M);
  const int64_t H = a_src.size(1), C = F / H;
  TORCH_CHECK(grad_out.sizes() == at::IntArrayRef({M, F}), "gat_aggregate_backward: grad_out must be [M, F]");
  TORCH_CHECK(grad_alpha.numel() == 0 || grad_alpha.numel() == E * H, "gat_aggregate_backward: grad_alpha must be [E, H]");
  TORCH_CHECK(colptr.scalar_type() == rowptr.scalar_type() && row_t.scalar_type() == rowptr.scalar_type() &&
              perm.scalar_type() == rowptr.scalar_type(), "gat_aggregate_backward: index arrays must share a dtype");
  at::Tensor grad_x = at::zeros_like(x), grad_src = at::zeros_like(a_src), grad_dst = at::zeros_like(a_dst);
  if (E == 0) return {grad_x, grad_src, grad_dst};
  at::Tensor g_raw = at::empty({E, H}, x.options());  // d loss / d (a_dst[i] + a_src[j]) per edge
  const at::Tensor rp_t = rowptr.contiguous(), col_t = col.contiguous();
  const at::Tensor cp_t = colptr.contiguous(), rt_t = row_t.contiguous(), pm_t = perm.contiguous();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "gat_aggregate_backward_cpu", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    GRAPHKIT_DISPATCH_INDEX(col.scalar_type(), "gat_aggregate_backward_cpu", [&] {
      const index_t* rp = rp_t.data_ptr<index_t>();
      const index_t* cl = col_t.data_ptr<index_t>();
      const scalar_t* xp = x.data_ptr<scalar_t>();
      const scalar_t* sp = a_src.data_ptr<scalar_t>();
      const scalar_t* dp = a_dst.data_ptr<scalar_t>();
      const scalar_t* alp = alpha.data_ptr<scalar_t>();
      const scalar_t* gop = grad_out.data_ptr<scalar_t>();
      const scalar_t* gap = grad_alpha.numel() ? grad_alpha.data_ptr<scalar_t>() : nullptr;
      scalar_t* grp = g_raw.data_ptr<scalar_t>();
      scalar_t* gdp = grad_dst.data_ptr<scalar_t>();
      const acc_t slope = static_cast<acc_t>(negative_slope);
      // Pass 1, rows: g_alpha = <grad_out[i], x[j]> per head, softmax and LeakyReLU backward.
      parallel_rows_by_nnz(rp, M, [&](int64_t r0, int64_t r1) {
        std::vector<acc_t> g_alpha, dot(H), g_dst(H);
        const int64_t limit = rp[r1];
        for (int64_t i = r0; i < r1; ++i) {
          const int64_t b = rp[i], e = rp[i + 1];
          if (b == e) continue;
          g_alpha.assign((e - b) * H, acc_t(0));
          const scalar_t* grow = gop + i * F;
          for (int64_t k = b; k < e; ++k) {
            if (k + kPrefetchDistance < limit)
              prefetch_bytes(xp + static_cast<int64_t>(cl[k + kPrefetchDistance]) * F, F * sizeof(scalar_t));
            const scalar_t* xr = xp + static_cast<int64_t>(cl[k]) * F;
            acc_t* ga = g_alpha.data() + (k - b) * H;
            head_dots(grow, xr, H, C, ga);
            if (gap)
              for (int64_t h = 0; h < H; ++h) ga[h] += static_cast<acc_t>(gap[k * H + h]);
          }
          std::fill(dot.begin(), dot.end(), acc_t(0));
          for (int64_t k = 0; k < e - b; ++k)
            for (int64_t h = 0; h < H; ++h) dot[h] += static_cast<acc_t>(alp[(b + k) * H + h]) * g_alpha[k * H + h];
          std::fill(g_dst.begin(), g_dst.end(), acc_t(0));
          for (int64_t k = b; k < e; ++k) {
            const scalar_t* srow = sp + static_cast<int64_t>(cl[k]) * H;
            for (int64_t h = 0; h < H; ++h) {
              const acc_t a = static_cast<acc_t>(alp[k * H + h]);
              const acc_t g_score = a * (g_alpha[(k - b) * H + h] - dot[h]);
              const acc_t raw = static_cast<acc_t>(dp[i * H + h]) + static_cast<acc_t>(srow[h]);
              const acc_t g = raw > 0 ? g_score : g_score * slope;
              grp[k * H + h] = static_cast<scalar_t>(g);
              g_dst[h] += g;
            }
          }
          for (int64_t h = 0; h < H; ++h) gdp[i * H + h] = static_cast<scalar_t>(g_dst[h]);
        }
      });
      // Pass 2, columns of the transpose: grad_x[j] = sum alpha * grad_out[i], grad_a_src[j] = sum g_raw.
      const index_t* cp = cp_t.data_ptr<index_t>();
      const index_t* rt = rt_t.data_ptr<index_t>();
      const index_t* pm = pm_t.data_ptr<index_t>();
      scalar_t* gxp = grad_x.data_ptr<scalar_t>();
      scalar_t* gsp = grad_src.data_ptr<scalar_t>();
      parallel_rows_by_nnz(cp, N, [&](int64_t j0, int64_t j1) {
        std::vector<acc_t> s(H);
        const int64_t limit = cp[j1];
        for (int64_t j = j0; j < j1; ++j) {
          const int64_t b = cp[j], e = cp[j + 1];
          if (b == e) continue;
          attend_row<acc_t>(rt, b, e, limit, gop, F, alp, pm, H, [&](int64_t f0, int64_t n, const acc_t* acc) {
            scalar_t* orow = gxp + j * F + f0;
            for (int64_t t = 0; t < n; ++t) orow[t] = static_cast<scalar_t>(acc[t]);
          });
          std::fill(s.begin(), s.end(), acc_t(0));
          for (int64_t k = b; k < e; ++k) {
            if (k + kPrefetchDistance < limit) __builtin_prefetch(grp + static_cast<int64_t>(pm[k + kPrefetchDistance]) * H);
            const scalar_t* g = grp + static_cast<int64_t>(pm[k]) * H;
            for (int64_t h = 0; h < H; ++h) s[h] += static_cast<acc_t>(g[h]);
          }
          for (int64_t h = 0; h < H; ++h) gsp[j * H + h] = static_cast<scalar_t>(s[h]);
        }
      });
    });
  });
  return {grad_x, grad_src, grad_dst};
}

}  // namespace

TORCH_LIBRARY_IMPL(graphkit, CPU, m) {
  m.impl("gat_aggregate", &gat_aggregate_cpu);
  m.impl("gat_aggregate_backward", &gat_aggregate_backward_cpu);
}

}  // namespace graphkit
