// Helpers shared by the CUDA kernels: launch geometry, warp reductions, vector loads.
#pragma once
#include <ATen/ATen.h>
#include <ATen/OpMathType.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>

#include "../dispatch.h"

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
                                              const at::Tensor& weight, const at::Tensor& x, int64_t reduce,
                                              int64_t num_entries);

}  // namespace cuda
}  // namespace graphkit

#define GRAPHKIT_CUDA_DISPATCH_VEC(WIDTH, ...)                             \
  [&] {                                                                    \
    if ((WIDTH) == 8) { constexpr int kVec = 8; return __VA_ARGS__(); }    \
    if ((WIDTH) == 4) { constexpr int kVec = 4; return __VA_ARGS__(); }    \
    if ((WIDTH) == 2) { constexpr int kVec = 2; return __VA_ARGS__(); }    \
    constexpr int kVec = 1;                                                \
    return __VA_ARGS__();                                                  \
  }()
