// General messages: reduce [E, F] per-edge messages over each CSR row (sum/mean/max/min, with the
// arg entry for max/min). Parallel over nnz-balanced row blocks.
#include <torch/library.h>

#include "../reduce.h"
#include "common.h"

namespace graphkit {
namespace {

std::tuple<at::Tensor, at::Tensor> segment_reduce_cpu(const at::Tensor& rowptr, const at::Tensor& src_in,
                                                      c10::string_view reduce_name) {
  TORCH_CHECK(src_in.dim() == 2, "segment_reduce: src must be 2-D [E, F], got ", src_in.sizes());
  const Reduce reduce = parse_reduce(reduce_name, "segment_reduce");
  const at::Tensor src = src_in.contiguous();
  const int64_t M = rowptr.numel() - 1, E = src.size(0), F = src.size(1);
  const bool with_arg = has_arg(reduce);
  at::Tensor out = at::zeros({M, F}, src.options());
  at::Tensor arg = with_arg ? at::full({M, F}, E, src.options().dtype(at::kLong))
                           : at::empty({0}, src.options().dtype(at::kLong));
  if (E == 0 || F == 0) return {out, arg};
  const at::Tensor rp_t = rowptr.contiguous();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, src.scalar_type(), "segment_reduce_cpu", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    GRAPHKIT_DISPATCH_INDEX(rowptr.scalar_type(), "segment_reduce_cpu", [&] {
      const index_t* rp = rp_t.data_ptr<index_t>();
      const scalar_t* sp = src.data_ptr<scalar_t>();
      scalar_t* op = out.data_ptr<scalar_t>();
      int64_t* ap = with_arg ? arg.data_ptr<int64_t>() : nullptr;
      const bool is_max = reduce == kMax;
      parallel_rows_by_nnz(rp, M, [&](int64_t r0, int64_t r1) {
        std::vector<acc_t> acc(F);
        for (int64_t i = r0; i < r1; ++i) {
          const int64_t b = rp[i], e = rp[i + 1];
          if (b == e) continue;
          scalar_t* orow = op + i * F;
          if (!with_arg) {
            std::fill(acc.begin(), acc.end(), acc_t(0));
            for (int64_t k = b; k < e; ++k) {
              const scalar_t* s = sp + k * F;
_Pragma("omp simd")
              for (int64_t f = 0; f < F; ++f) acc[f] += static_cast<acc_t>(s[f]);
            }
            const acc_t scale = reduce == kMean ? acc_t(1) / acc_t(e - b) : acc_t(1);
            for (int64_t f = 0; f < F; ++f) orow[f] = static_cast<scalar_t>(acc[f] * scale);
          } else {
            int64_t* arow = ap + i * F;
            for (int64_t f = 0; f < F; ++f) {
              acc[f] = static_cast<acc_t>(sp[b * F + f]);
              arow[f] = b;
            }
            for (int64_t k = b + 1; k < e; ++k) {
              const scalar_t* s = sp + k * F;
_Pragma("omp simd")
              for (int64_t f = 0; f < F; ++f) {
                const acc_t v = static_cast<acc_t>(s[f]);
                const bool better = arg_better(v, acc[f], is_max);
                acc[f] = better ? v : acc[f];
                arow[f] = better ? k : arow[f];
              }
            }
            for (int64_t f = 0; f < F; ++f) orow[f] = static_cast<scalar_t>(acc[f]);
          }
        }
      });
    });
  });
  return {out, arg};
}

}  // namespace

TORCH_LIBRARY_IMPL(graphkit, CPU, m) {
  m.impl("segment_reduce", &segment_reduce_cpu);
}

}  // namespace graphkit
