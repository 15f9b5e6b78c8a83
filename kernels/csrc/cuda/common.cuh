// Helpers shared by the CUDA kernels: launch geometry, warp reductions, the row softmax, vector loads.
#pragma once
#include <ATen/ATen.h>
#include <ATen/OpMathType.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>

#include <limits>

#include "../dispatch.h"
#include "../reduce.h"

namespace graphkit {
namespace cuda {

constexpr int kWarp = 32;
constexpr int kWarpsPerBlock = 8;  // 256 threads: one warp per row

template <typename T>
__device__ __forceinline__ T warp_sum(T v) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffff, v, offset);
  return v;
}

template <typename T>
__device__ __forceinline__ T warp_max(T v) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2) v = max(v, __shfl_xor_sync(0xffffffff, v, offset));
  return v;
}

// v[k, h] <- softmax of v[k, h] over the entries k in [b, e) of a row, for head h (the warp's lanes
// stride over the entries).
template <typename scalar_t>
__device__ void row_softmax_in_place(scalar_t* v, int64_t b, int64_t e, int64_t H, int64_t h, int lane) {
  using acc_t = at::opmath_type<scalar_t>;
  acc_t mx = -std::numeric_limits<acc_t>::infinity();
  for (int64_t k = b + lane; k < e; k += kWarp) mx = max(mx, static_cast<acc_t>(v[k * H + h]));
  mx = warp_max(mx);
  acc_t sum = 0;
  for (int64_t k = b + lane; k < e; k += kWarp) sum += exp(static_cast<acc_t>(v[k * H + h]) - mx);
  sum = warp_sum(sum);
  for (int64_t k = b + lane; k < e; k += kWarp)
    v[k * H + h] = static_cast<scalar_t>(exp(static_cast<acc_t>(v[k * H + h]) - mx) / sum);
}

// kVec consecutive elements, loaded or stored in one transaction when aligned.
template <typename scalar_t, int kVec>
struct alignas(sizeof(scalar_t) * kVec) Pack {
  scalar_t v[kVec];
};

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Elements per lane for F features: 4 (16-byte float loads) when the rows stay aligned.
template <typename scalar_t>
inline int vector_width(int64_t F, const void* p) {
  const int width = 16 / static_cast<int>(sizeof(scalar_t));
  const bool aligned = reinterpret_cast<uintptr_t>(p) % 16 == 0;
  return (width > 1 && F % width == 0 && aligned) ? width : 1;
}

// out[r] = reduce over entries k of ptr-row r of w(k) * x[idx ? idx[k] : k] (spmm.cu): the
// row-split kernel behind spmm, its transpose, segment_reduce and gather's backward.
std::tuple<at::Tensor, at::Tensor> row_reduce(const at::Tensor& ptr, const at::Tensor& idx, const at::Tensor& wperm,
                                              const at::Tensor& weight, const at::Tensor& x, Reduce reduce,
                                              int64_t num_entries);

}  // namespace cuda
}  // namespace graphkit

// Launch arguments of a kernel with one warp per row of M rows.
#define GRAPHKIT_LAUNCH_ROWS(M) dim3(ceil_div((M), kWarpsPerBlock)), kWarp * kWarpsPerBlock, 0, at::cuda::getCurrentCUDAStream()

#define GRAPHKIT_CUDA_DISPATCH_VEC(WIDTH, ...)                             \
  [&] {                                                                    \
    if ((WIDTH) == 8) { constexpr int kVec = 8; return __VA_ARGS__(); }    \
    if ((WIDTH) == 4) { constexpr int kVec = 4; return __VA_ARGS__(); }    \
    if ((WIDTH) == 2) { constexpr int kVec = 2; return __VA_ARGS__(); }    \
    constexpr int kVec = 1;                                                \
    return __VA_ARGS__();                                                  \
  }()
